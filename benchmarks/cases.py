"""What a benchmark case provides, and the targets it is held to."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Target:
    """A limit on one measured quantity of a case (checked in the ``full`` profile).

    ``quantity`` is one of ``"best_s"`` (seconds), ``"best_cpu_s"`` (CPU seconds of the
    process, every thread, least over the timed calls), ``"floor_ratio"`` (best / floor),
    ``"peak_beyond_output_bytes"`` (bytes), ``"peak_rss_bytes"`` (bytes: the process's whole
    peak resident set during the call) or ``"twin_speedup"`` (at least ``limit``).
    """

    quantity: str
    limit: float
    label: str

    def check(self, row: dict) -> dict:
        value = _lookup(row, self.quantity)
        if value is None:
            passed = None
        elif self.quantity == "twin_speedup":
            passed = bool(value >= self.limit)
        else:
            passed = bool(value <= self.limit)
        return {
            "label": self.label,
            "quantity": self.quantity,
            "limit": self.limit,
            "value": value,
            "passed": passed,
        }


def _lookup(row: dict, quantity: str):
    if quantity == "best_s":
        return row["timing"]["best_s"]
    if quantity == "best_cpu_s":
        return row["timing"].get("best_cpu_s")
    if quantity == "floor_ratio":
        return (row.get("floor") or {}).get("ratio")
    if quantity == "peak_beyond_output_bytes":
        return (row.get("memory") or {}).get("peak_beyond_output_bytes")
    if quantity == "peak_rss_bytes":
        return (row.get("memory") or {}).get("peak_rss_bytes")
    if quantity == "twin_speedup":
        return (row.get("twin") or {}).get("speedup")
    raise KeyError(quantity)


@dataclass
class Prepared:
    """A case made concrete for one profile: its workload built, ready to run.

    Attributes
    ----------
    workload : dict
        What is computed (sizes, kernels, method, dtype), for the JSON and the table.
    run : callable
        The timed call; returns the output.
    output_bytes : callable
        Bytes of the output returned by ``run``.
    work : callable
        Units of work of one call (from its output), with ``unit`` naming them.
    unit : str
        E.g. ``"cell-blocks/s"``.
    floor_shape, floor_dtype : tuple, dtype or None
        The output array that defines the floor, or None when there is no meaningful floor.
    twin : callable
        Runs the fast code and the plain-numpy twin on a small workload; returns the ``twin``
        fields (times, speed-up, agreement).
    checks : callable
        Correctness checks of the output of ``run``: a list of ``{name, passed, detail}``.
    repeats : int
        Timed repeats after the warm-up.
    twin_loaded : callable, optional
        What the second pass, with a competing load, runs instead of ``twin``: the same
        timings, without re-checking what does not depend on the load (e.g. every other
        method's agreement, checked in the quiet pass). Default ``twin``.
    peak_on_first_call : bool
        Measure the peak memory in the fresh interpreter on the cold first call itself
        rather than on a second, warm one (for a call of minutes: an upper bound, as the
        cold call also loads the compiled kernels).
    warm_up : bool
        Call ``run`` once untimed before the timed repeats. False for a call of minutes
        whose cold first call was taken by the fresh interpreter of the memory measurement
        (its kernels are compiled and cached): the first call here is then timed.
    fingerprint : callable, optional
        A digest of a result (``run``'s output) that equal results share; the fresh
        interpreter reports the digest of its own result as ``reference_fingerprint``, set
        here before ``checks`` runs, so that a check can compare two processes' results.
    """

    workload: dict
    run: Callable[[], object]
    output_bytes: Callable[[object], int]
    work: Callable[[object], float]
    unit: str
    floor_shape: tuple | None
    floor_dtype: object
    twin: Callable[[], dict]
    checks: Callable[[object], list]
    repeats: int
    twin_loaded: Callable[[], dict] | None = None
    peak_on_first_call: bool = False
    warm_up: bool = True
    fingerprint: Callable[[object], str] | None = None
    reference_fingerprint: str | None = None


@dataclass(frozen=True)
class Case:
    """A named benchmark: ``prepare(profile)`` builds its workload and returns ``Prepared``."""

    name: str
    group: str
    description: str
    prepare: Callable[[object], Prepared]
    targets: tuple[Target, ...] = field(default=())
