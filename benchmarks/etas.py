"""The self-exciting point process case: :meth:`caslite.models.etas.GridETAS.fit`.

- ``etas-fit``: EM fit of the grid model (Mohler et al. 2015) on the burglary-like events of
  the simulated city (``workloads.city``: 20,000 events in the year before the origin over
  25,600 cells of 125 m in the full profile), ``window_days=365``, other parameters default.

The twin is one EM step by the dense O(N^2) branching matrix (``tests/naive.py``,
``etas_em_step``) on every ``stride``-th event of the fit, at the fitted parameters; the O(N)
step (:func:`caslite.models.etas._em_step`) must give the same background rates, branching
ratio, decay rate and log-likelihood to ``rtol`` 1e-9. The checks on the whole fit: it
converged, ``0 <= theta < 1``, finite parameters, every event in the window fitted, and the
compensator (expected events of the fitted model over the period) equals the number of
events to 1e-4 relative, a property of the maximum-likelihood point.

When :mod:`caslite.models.etas` cannot be imported, the case is skipped with a message.
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks import workloads
from benchmarks.cases import Case, Prepared, Target
from benchmarks.harness import agreement
from benchmarks.nearrepeat import load_naive
from benchmarks.profiles import ETAS

RTOL = 1e-9
WINDOW_DAYS = 365.0
CITY_SEED = 20150101


def unavailable() -> str | None:
    """Why the ETAS case cannot run (``caslite.models.etas`` not importable), or None."""
    try:
        from caslite.models.etas import GridETAS  # noqa: F401
    except ImportError as exc:
        return f"caslite.models.etas is not importable yet ({exc}); ETAS case skipped."
    return None


def _prepare(profile) -> Prepared:
    from caslite.models.etas import GridETAS, _em_step, _sorted_times

    sizes = ETAS[profile.name]
    scene = workloads.city(sizes.city_side, sizes.n_events, 1, seed=CITY_SEED)
    grid, events, origin = scene.grid, scene.events, scene.origin

    def run():
        return GridETAS(window_days=WINDOW_DAYS).fit(events, grid, origin=origin)

    t, cells, ptr, span, _ = _sorted_times(events, grid, origin, WINDOW_DAYS)

    def twin() -> dict:
        model = run()
        keep = np.arange(0, len(t), sizes.twin_stride)
        small_t, small_cells = t[keep], cells[keep]
        small_ptr = np.searchsorted(small_cells, np.arange(grid.n_cells + 1)).astype(np.int64)
        args = (model.background_, model.theta_, model.omega_, span)
        naive = load_naive()
        t0 = time.perf_counter()
        want = naive.etas_em_step(small_t, small_cells, *args)
        twin_s = time.perf_counter() - t0
        _em_step(small_t, small_ptr, *args)  # warm-up
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            got = _em_step(small_t, small_ptr, *args)
            times.append(time.perf_counter() - t0)
        fast_s = min(times)
        flat_got = np.concatenate([got[0], got[1:]])
        flat_want = np.concatenate([want[0], want[1:]])
        check = agreement(flat_got, flat_want, RTOL, 0.0)
        return {
            "workload": {
                "n_events": int(len(keep)),
                "stride": sizes.twin_stride,
                "n_pairs": int(np.sum(np.diff(small_ptr) ** 2)),
            },
            "twin_s": twin_s,
            "fast_s": fast_s,
            "speedup": twin_s / fast_s,
            **check,
        }

    def checks(model) -> list:
        params = np.array([model.theta_, model.omega_, model.log_likelihood_])
        edge = float(-np.expm1(model.omega_ * t).sum())
        compensator = float(model.background_.sum() * span + model.theta_ * edge)
        return [
            {
                "name": "converged",
                "passed": bool(model.converged_),
                "detail": f"{model.n_iter_} EM steps",
            },
            {
                "name": "0 <= theta < 1, finite",
                "passed": bool(
                    0.0 <= model.theta_ < 1.0
                    and np.isfinite(params).all()
                    and np.isfinite(model.background_).all()
                ),
                "detail": f"theta {model.theta_:.4f}, decay {model.decay_days_:.3g} days, "
                f"background {model.background_.sum():.4g}/day",
            },
            {
                "name": "every event in the window fitted",
                "passed": model.n_events_ == len(t) and model.n_outside_ == 0,
                "detail": f"{model.n_events_:,} events, {model.n_outside_} outside",
            },
            {
                "name": "compensator = number of events",
                "passed": abs(compensator - len(t)) <= 1e-4 * len(t),
                "detail": f"{compensator:.2f} expected vs {len(t):,}",
            },
        ]

    return Prepared(
        workload={
            "n_events": len(t),
            "n_cells": grid.n_cells,
            "window_days": WINDOW_DAYS,
            "summary": f"{len(t):,} events, {grid.n_cells:,} cells, EM to tol 1e-6",
        },
        run=run,
        output_bytes=lambda model: int(model.background_.nbytes + model.excitation_.nbytes),
        work=lambda model: float(model.n_events_ * model.n_iter_),
        unit="event-steps/s",
        floor_shape=None,
        floor_dtype=None,
        twin=twin,
        checks=checks,
        repeats=sizes.repeats,
    )


CASES = [
    Case(
        "etas-fit",
        "etas",
        "GridETAS EM fit (background per cell + exponential self-excitation) on the city.",
        _prepare,
        (Target("best_s", 30.0, "≤ 30 s"),),
    )
]
