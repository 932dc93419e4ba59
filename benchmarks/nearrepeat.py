"""Near-repeat scoring cases: city and country forecasts, a city-year of history features.

Every case times the public functions (:func:`caslite.nearrepeat.score_forecast`,
:func:`caslite.nearrepeat.score_history`) on a seeded workload, and checks them against the
plain-numpy twin ``tests/naive.py`` (loaded by path from the repository) on a small
sub-sample of the same workload: every ``stride``-th event, a few evenly spaced blocks.
"""

from __future__ import annotations

import importlib.util
import time

import numpy as np

from benchmarks import workloads
from benchmarks.cases import Case, Prepared, Target
from benchmarks.harness import ROOT, agreement
from caslite.nearrepeat import (
    BowersSpace,
    BowersTime,
    ExponentialSpace,
    ExponentialTime,
    score_forecast,
    score_history,
)
from caslite.nearrepeat import _recursive_ok as _recursive_ok  # every method is checked

GiB = 1 << 30
KERNELS = {
    # the classic prospective hot-spot weights (Bowers, Johnson & Pease 2004)
    "bowers": (BowersSpace(form="grid"), BowersTime()),
    # a continuous exponential pair: 150 m decay within 500 m, 14-day decay within 8 weeks
    "exp": (
        ExponentialSpace(scale=150.0, radius=500.0),
        ExponentialTime(scale_days=14.0, window_days=56.0),
    ),
}
TOLERANCES = {np.dtype(np.float64): (1e-9, 1e-12), np.dtype(np.float32): (1e-6, 1e-9)}


def load_naive():
    """The plain-numpy twins, ``tests/naive.py`` of this repository, imported by path."""
    path = ROOT / "tests" / "naive.py"
    spec = importlib.util.spec_from_file_location("caslite_benchmarks_naive", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the numpy twins from {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _kernel_text(kernel: str) -> str:
    space, time_ = KERNELS[kernel]
    return f"{space!r} × {time_!r}"


def _auto_choice(scene, starts, space, time_, before) -> str | None:
    """The method ``method="auto"`` picks for this workload (informational; None if unknown)."""
    try:
        from caslite import nearrepeat as nr
        from caslite._kernels import nearrepeat as kernels

        t, x, y, grid = scene.events.t, scene.events.x, scene.events.y, scene.grid
        cut = np.iinfo(np.int64).max if before is None else int(before)
        _, _, window = time_._codes()
        n_rows, n_cols = grid.shape
        geometry = (grid.x0, grid.y0, grid.cell_size, n_rows, n_cols, grid._raster_to_cell)
        last = min(cut, int(starts[-1]))
        first = int(np.searchsorted(t, np.floor(starts[0] - window) - 1))
        stop = int(np.searchsorted(t, last, side="left"))
        sizes = kernels._footprint_sizes(
            x[first:stop], y[first:stop], *geometry, grid.x, grid.y, *space._codes(grid.cell_size)
        )
        return nr._choose_method(t[first:stop], sizes, starts, cut, window, grid.n_cells, time_)
    except Exception:  # private helpers may change; this is only a note in the table
        return None


def _result_checks(out, n_blocks, n_cells, dtype) -> list:
    return [
        {
            "name": "shape and dtype",
            "passed": out.shape == (n_blocks, n_cells) and out.dtype == dtype,
            "detail": f"{out.shape} {out.dtype}",
        },
        {
            "name": "finite and non-negative",
            "passed": bool(np.isfinite(out).all() and (out >= 0).all()),
            "detail": f"min {float(out.min()):.3g}, max {float(out.max()):.3g}",
        },
        {
            "name": "some cells scored",
            "passed": bool(np.count_nonzero(out) > 0),
            "detail": f"{np.count_nonzero(out) / out.size:.1%} of cell-blocks > 0",
        },
    ]


def _twin_runner(naive, scene, events_small, starts_small, space, time_, mode, dtype, method):
    """Build the closure that times the fast code and the twin on the small workload."""
    rtol, atol = TOLERANCES[np.dtype(dtype)]
    origin = scene.origin if mode == "forecast" else None

    def fast(which_method):
        if mode == "forecast":
            return score_forecast(
                events_small, scene.grid, starts_small, space=space, time=time_,
                origin=origin, method=which_method, dtype=dtype,
            )  # fmt: skip
        return score_history(
            events_small, scene.grid, starts_small, space=space, time=time_,
            method=which_method, dtype=dtype,
        )  # fmt: skip

    def run_twin(every_method=True) -> dict:
        ev = events_small
        t0 = time.perf_counter()
        expected = naive.score(ev.t, ev.x, ev.y, scene.grid, starts_small, space, time_, origin)
        twin_s = time.perf_counter() - t0
        fast(method)  # warm-up (compiles when needed)
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            got = fast(method)
            times.append(time.perf_counter() - t0)
        fast_s = min(times)
        result = {
            "workload": {
                "n_events": len(ev),
                "n_blocks": len(starts_small),
                "n_cells": scene.grid.n_cells,
                "method": method,
            },
            "twin_s": twin_s,
            "fast_s": fast_s,
            "speedup": twin_s / fast_s,
            **agreement(got, expected, rtol, atol),
        }
        # every method the case can use must agree, not only the one that was timed (once:
        # the second pass, with a competing load, only times)
        others = ["direct", "recursive"] if _recursive_ok(time_) else ["direct"]
        result["methods_checked"] = {}
        if not every_method:
            others = []
        for other in others:
            check = agreement(fast(other), expected, rtol, atol)
            result["methods_checked"][other] = check["agree"]
            result["agree"] = result["agree"] and check["agree"]
        return result

    return run_twin


def _prepare(group, kernel, dtype, profile) -> Prepared:
    space, time_ = KERNELS[kernel]
    dtype = np.dtype(dtype)
    if group == "country":
        scene = workloads.country(
            profile.country_cells, profile.country_events, profile.horizon_days
        )
        stride, repeats = profile.twin_stride_country, profile.repeats_big
    elif group == "dense":
        scene = workloads.city(profile.city_side, profile.dense_events, profile.horizon_days)
        # calls of a few milliseconds whose first repeats still settle (caches, page
        # faults of the output): four times the repeats, a fraction of a second more
        stride, repeats = profile.twin_stride_dense, 4 * profile.repeats
    else:
        scene = workloads.city(profile.city_side, profile.city_events, profile.horizon_days)
        stride = profile.twin_stride_city
        repeats = profile.repeats if group == "city" else profile.repeats_big
    grid, events = scene.grid, scene.events
    if group == "history":
        mode, blocks = "history", workloads.history_blocks(profile.history_days)
    else:
        mode, blocks = "forecast", scene.blocks
    starts = np.asarray(blocks.start, dtype=np.int64)
    n_blocks, n_cells = len(starts), grid.n_cells
    before = scene.origin if mode == "forecast" else None

    def run():
        if mode == "forecast":
            return score_forecast(
                events, grid, blocks, space=space, time=time_, origin=scene.origin, dtype=dtype
            )
        return score_history(events, grid, blocks, space=space, time=time_, dtype=dtype)

    pick = np.unique(np.linspace(0, n_blocks - 1, profile.twin_blocks).round().astype(int))
    starts_small = starts[pick]
    auto = _auto_choice(scene, starts, space, time_, before)
    twin = _twin_runner(
        load_naive(), scene, scene.subsample(stride), starts_small, space, time_, mode, dtype,
        "auto",
    )  # fmt: skip
    workload = {
        "mode": mode,
        "n_cells": n_cells,
        "n_blocks": n_blocks,
        "n_events": len(events),
        "kernel": _kernel_text(kernel),
        "method": "auto" + (f" → {auto}" if auto else ""),
        "dtype": str(dtype),
        "summary": (
            f"{n_cells:,} cells × {n_blocks:,} blocks, {len(events):,} events, {kernel}, {dtype}"
        ),
    }
    return Prepared(
        workload=workload,
        run=run,
        output_bytes=lambda out: int(out.nbytes),
        work=lambda out: float(out.size),
        unit="cell-blocks/s",
        floor_shape=(n_blocks, n_cells),
        floor_dtype=dtype,
        twin=twin,
        checks=lambda out: _result_checks(out, n_blocks, n_cells, dtype),
        repeats=repeats,
        twin_loaded=lambda: twin(every_method=False),
    )


def _case(name, group, kernel, dtype, description, targets) -> Case:
    def prepare(profile):
        return _prepare(group, kernel, dtype, profile)

    return Case(name, group, description, prepare, tuple(targets))


TWIN = Target("twin_speedup", 100.0, "≥ 100× twin")
CITY = (Target("best_s", 0.020, "≤ 20 ms"), TWIN)
COUNTRY = (
    Target("best_s", 2.0, "≤ 2 s"),
    Target("floor_ratio", 5.0, "≤ 5× floor"),
    Target("peak_beyond_output_bytes", 2 * GiB, "≤ 2 GiB beyond output"),
    TWIN,
)
HISTORY = (Target("best_s", 3.0, "≤ 3 s"), TWIN)
# the Bowers weights change a bounded number of times per event: incremental, near the floor
HISTORY_BOWERS = (*HISTORY, Target("floor_ratio", 5.0, "≤ 5× floor"))
DENSE = (Target("floor_ratio", 5.0, "≤ 5× floor"), TWIN)

CASES = [
    _case("city-bowers", "city", "bowers", np.float64,
          "City forecast, 84 blocks from events before the origin; Bowers grid weights.", CITY),
    _case("city-exp", "city", "exp", np.float64,
          "City forecast, 84 blocks; exponential space and time kernels.", CITY),
    _case("country-bowers", "country", "bowers", np.float64,
          "Country forecast (~2.2 M cells), 84 blocks; Bowers grid weights.", COUNTRY),
    _case("country-exp", "country", "exp", np.float64,
          "Country forecast (~2.2 M cells), 84 blocks; exponential kernels.", COUNTRY),
    _case("dense-bowers", "dense", "bowers", np.float64,
          "City forecast from 500,000 events in the year before the origin, 84 blocks; "
          "Bowers grid weights.", DENSE),
    _case("history-bowers-f64", "history", "bowers", np.float64,
          "City year of 4-hour blocks, each from the events before it; float64.",
          HISTORY_BOWERS),
    _case("history-bowers-f32", "history", "bowers", np.float32,
          "City year of 4-hour blocks, each from the events before it; float32.",
          HISTORY_BOWERS),
    _case("history-exp-f64", "history", "exp", np.float64,
          "City year of 4-hour blocks, exponential kernels; float64.", HISTORY),
    _case("history-exp-f32", "history", "exp", np.float32,
          "City year of 4-hour blocks, exponential kernels; float32.", HISTORY),
]  # fmt: skip
