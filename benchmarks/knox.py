"""The Knox test case: 50,000 events, 999 permutations (``caslite.knox.knox_test``).

The twin is a brute-force numpy Knox test written here: every pair ``i < j`` of events, the
band rules of :mod:`caslite.knox` (first band closed, the others ``(e_k, e_k+1]``, a
"same location" row for distance 0), and the same permutations (drawn one after the other
with ``np.random.default_rng(seed).permutation(n)``, as ``knox_test`` documents). It must
give the same observed counts and number of pairs exactly, and the same expected counts.

When :mod:`caslite.knox` cannot be imported, the case is skipped with a message.
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks import workloads
from benchmarks.cases import Case, Prepared, Target
from benchmarks.harness import agreement

DISTANCE_BANDS = (0, 100, 200, 300, 400, 500)
TIME_BANDS_DAYS = (0, 7, 14, 21, 28)
SEED = 20040101


def unavailable() -> str | None:
    """Why the Knox case cannot run (``caslite.knox`` not importable), or None."""
    try:
        from caslite.knox import knox_test  # noqa: F401
    except ImportError as exc:
        return f"caslite.knox is not importable yet ({exc}); Knox case skipped."
    return None


def _band(values, edges) -> np.ndarray:
    """Band of each value: ``[e0, e1]``, then ``(e_k, e_k+1]``; -1 outside."""
    edges = np.asarray(edges, dtype=np.float64)
    k = np.searchsorted(edges, values, side="left") - 1
    k[values == edges[0]] = 0
    k[(values < edges[0]) | (values > edges[-1])] = -1
    return k


def brute_force_knox(t, x, y, n_permutations, seed, same_location=True):
    """Knox table of all pairs in plain numpy: ``observed``, ``expected``, ``n_pairs``."""
    n = len(t)
    i, j = np.triu_indices(n, 1)
    d = np.hypot(x[j] - x[i], y[j] - y[i])
    row = _band(d, DISTANCE_BANDS)
    if same_location:
        row = np.where(d == 0.0, 0, np.where(row >= 0, row + 1, -1))
    keep = row >= 0
    i, j, row = i[keep], j[keep], row[keep]
    n_rows = len(DISTANCE_BANDS) - 1 + bool(same_location)
    n_cols = len(TIME_BANDS_DAYS) - 1
    time_edges = np.asarray(TIME_BANDS_DAYS, dtype=np.float64) * workloads.DAY

    def count(times):
        lag = np.abs(times[i] - times[j]).astype(np.float64)
        col = _band(lag, time_edges)
        ok = col >= 0
        flat = np.bincount(row[ok] * n_cols + col[ok], minlength=n_rows * n_cols)
        return flat.reshape(n_rows, n_cols)

    observed = count(t)
    rng = np.random.default_rng(seed)
    total = np.zeros((n_rows, n_cols))
    for _ in range(n_permutations):
        total += count(t[rng.permutation(n)])
    expected = total / n_permutations if n_permutations else None
    return {"observed": observed, "expected": expected, "n_pairs": int(len(i))}


def _knox(events, n_permutations):
    from caslite.knox import knox_test

    return knox_test(
        events, distance_bands=DISTANCE_BANDS, time_bands_days=TIME_BANDS_DAYS,
        same_location=True, n_permutations=n_permutations, random_state=SEED,
    )  # fmt: skip


def _compare(result, brute, n_permutations) -> dict:
    check = agreement(result.expected, brute["expected"], 1e-9, 1e-12)
    observed_ok = bool(np.array_equal(np.asarray(result.observed), brute["observed"]))
    pairs_ok = int(result.n_pairs) == brute["n_pairs"]
    check["agree"] = check["agree"] and observed_ok and pairs_ok
    check["observed_equal"] = observed_ok
    check["n_pairs_equal"] = pairs_ok
    if not (observed_ok and pairs_ok):
        check["detail"] = (
            f"observed {np.asarray(result.observed).tolist()} vs brute force "
            f"{brute['observed'].tolist()}; n_pairs {result.n_pairs} vs {brute['n_pairs']}"
        )
    return check


def _prepare(profile) -> Prepared:
    events = workloads.knox_events(profile.knox_events, profile.knox_side)
    n_perm = profile.knox_permutations
    stride = profile.twin_knox_stride
    small = workloads.Events(
        events.t[::stride], events.x[::stride], events.y[::stride],
        crs=workloads.CRS, tz=workloads.TZ,
    )  # fmt: skip
    small_perm = profile.twin_knox_permutations

    def twin() -> dict:
        t0 = time.perf_counter()
        brute = brute_force_knox(small.t, small.x, small.y, small_perm, SEED)
        twin_s = time.perf_counter() - t0
        _knox(small, small_perm)  # warm-up
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            got = _knox(small, small_perm)
            times.append(time.perf_counter() - t0)
        fast_s = min(times)
        return {
            "workload": {
                "n_events": len(small),
                "n_permutations": small_perm,
                "n_pairs": brute["n_pairs"],
            },
            "twin_s": twin_s,
            "fast_s": fast_s,
            "speedup": twin_s / fast_s,
            **_compare(got, brute, small_perm),
        }

    def checks(result) -> list:
        out = [
            {
                "name": "table shape",
                "passed": np.asarray(result.observed).shape == (6, 4)
                and np.asarray(result.expected).shape == (6, 4),
                "detail": str(np.asarray(result.observed).shape),
            },
            {
                "name": "pair counts add up",
                "passed": int(np.asarray(result.observed).sum()) <= int(result.n_pairs),
                "detail": f"{int(np.asarray(result.observed).sum()):,} counted of "
                f"{int(result.n_pairs):,} close pairs",
            },
        ]
        if len(events) <= 5_000:  # small enough for all pairs: count them by brute force
            brute = brute_force_knox(events.t, events.x, events.y, 0, SEED)
            ok = bool(np.array_equal(np.asarray(result.observed), brute["observed"]))
            out.append(
                {
                    "name": "observed = brute force (whole workload)",
                    "passed": ok and int(result.n_pairs) == brute["n_pairs"],
                    "detail": f"n_pairs {int(result.n_pairs):,} vs {brute['n_pairs']:,}",
                }
            )
        return out

    return Prepared(
        workload={
            "n_events": len(events),
            "n_permutations": n_perm,
            "distance_bands": list(DISTANCE_BANDS),
            "time_bands_days": list(TIME_BANDS_DAYS),
            "summary": f"{len(events):,} events × {n_perm} permutations",
        },
        run=lambda: _knox(events, n_perm),
        output_bytes=lambda result: int(np.asarray(result.expected).nbytes * 4),
        work=lambda result: float(result.n_pairs) * n_perm,
        unit="pair-perms/s",
        floor_shape=None,
        floor_dtype=None,
        twin=twin,
        checks=checks,
        repeats=profile.repeats_knox,
        # seconds a call: with the cold call taken by the fresh interpreter of the memory
        # measurement (kernels compiled and cached there), the first call here is timed
        warm_up=False,
        peak_on_first_call=True,  # its peak is small; a second call there would add seconds
    )


CASES = [
    Case(
        "knox",
        "knox",
        "Knox test, 6 distance rows × 4 time bands, Monte Carlo permutations of the times.",
        _prepare,
        (Target("best_s", 30.0, "≤ 30 s"),),
    )
]
