"""numba kernels of the Knox test (private; see :mod:`caslite.knox`).

Two stages:

1. **pairs** (parallel over events): the close pairs ``i < j`` and the distance row of each,
   as a CSR table (``ptr``, ``nbr``, ``rows``; event ``i``'s partners are
   ``nbr[ptr[i]:ptr[i+1]]``, ascending). Candidates come from square buckets of side at
   least the largest distance edge: the events must be sorted by bucket key ``keys``, so that
   the events of a bucket are one slice, found by binary search. Spatially close events then
   have close indices, which keeps the time look-ups of stage 2 in cache.
2. **counts** (parallel over permutations, each its own output slice): with ``order`` the
   original index of each (bucket-sorted) event, event ``i`` gets the time
   ``t[perm[order[i]]]``, and every stored pair adds one to the cell of its distance row and
   the time band of the absolute difference of the two times.

Band rules, shared by both stages. Edges ``e_0 < e_1 < ... < e_m``: band ``k`` is
``(e_k, e_k+1]``, except that the first band is closed, ``[e_0, e_1]``. Values below ``e_0``
or above ``e_m`` belong to no band (``-1``). With ``same_location`` the distance row 0 holds
the pairs at distance exactly 0 and the bands follow from row 1; distance 0 is then never in
a band. Distances are ``math.hypot(dx, dy)`` in metres, time differences int64 seconds
compared with the edges in (float64) seconds. No fastmath.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from caslite._kernels import JIT_OPTIONS


@njit(**JIT_OPTIONS)
def _band(value, edges):
    """Index of the band of ``value`` in ``edges`` (first band closed), or -1 outside."""
    m = len(edges)
    if value < edges[0] or value > edges[m - 1]:
        return -1
    k = 1
    while value > edges[k]:
        k += 1
    return k - 1


@njit(**JIT_OPTIONS)
def _distance_row(d, edges, same_location):
    """Distance row of a pair ``d`` metres apart, or -1 when it is in no row."""
    if same_location:
        if d == 0.0:
            return 0
        band = _band(d, edges)
        return band + 1 if band >= 0 else -1
    return _band(d, edges)


@njit(**JIT_OPTIONS)
def _event_pairs(i, x, y, bx, by, n_bx, n_by, keys, edges, same_location, nbr, rows, start, write):
    """Visit the partners ``j > i`` of event ``i`` that fall in a distance row; count them.

    With ``write`` the partners go to ``nbr[start:]`` and their rows to ``rows[start:]``, in
    ascending order of ``j``.
    """
    count = 0
    xi = x[i]
    yi = y[i]
    for cx in range(max(bx[i] - 1, 0), min(bx[i] + 1, n_bx - 1) + 1):
        for cy in range(max(by[i] - 1, 0), min(by[i] + 1, n_by - 1) + 1):
            key = cx * n_by + cy
            lo = max(np.searchsorted(keys, key, side="left"), i + 1)
            hi = np.searchsorted(keys, key, side="right")
            for j in range(lo, hi):
                row = _distance_row(math.hypot(x[j] - xi, y[j] - yi), edges, same_location)
                if row < 0:
                    continue
                if write:
                    nbr[start + count] = j
                    rows[start + count] = row
                count += 1
    return count


@njit(parallel=True, **JIT_OPTIONS)
def _pair_sizes(x, y, bx, by, n_bx, n_by, keys, edges, same_location):
    """Count the stored partners of every event; parallel over events."""
    n = len(x)
    sizes = np.zeros(n, dtype=np.int64)
    no_nbr = np.empty(0, dtype=np.int32)
    no_rows = np.empty(0, dtype=np.int16)
    for i in prange(n):
        sizes[i] = _event_pairs(
            i, x, y, bx, by, n_bx, n_by, keys, edges, same_location, no_nbr, no_rows, 0, False
        )
    return sizes


@njit(parallel=True, **JIT_OPTIONS)
def _pair_table(x, y, ptr, bx, by, n_bx, n_by, keys, edges, same_location):
    """Build the CSR pair table ``nbr`` (int32), ``rows`` (int16); parallel over events.

    ``ptr`` is the cumulative sum of :func:`_pair_sizes`, starting at 0; each event writes
    its own slice.
    """
    n = len(x)
    nbr = np.empty(ptr[n], dtype=np.int32)
    rows = np.empty(ptr[n], dtype=np.int16)
    for i in prange(n):
        _event_pairs(
            i, x, y, bx, by, n_bx, n_by, keys, edges, same_location, nbr, rows, ptr[i], True
        )
    return nbr, rows


@njit(**JIT_OPTIONS)
def _count_pairs(tp, ptr, nbr, rows, time_edges, out):
    """Add every stored pair to ``out[row, time band]`` with event times ``tp``.

    Per event, a first branch-free pass keeps the partners within the time edges (most
    pairs are not, and an unpredictable branch per pair costs more than the copy); a second
    pass bins only those.
    """
    n = len(ptr) - 1
    lo = time_edges[0]
    hi = time_edges[len(time_edges) - 1]
    longest = 0
    for i in range(n):
        longest = max(longest, ptr[i + 1] - ptr[i])
    kept_k = np.empty(longest + 1, dtype=np.int64)
    kept_dt = np.empty(longest + 1, dtype=np.float64)
    for i in range(n):
        ti = tp[i]
        kept = 0
        for k in range(ptr[i], ptr[i + 1]):
            dt = float(abs(ti - tp[nbr[k]]))
            kept_k[kept] = k
            kept_dt[kept] = dt
            kept += (dt >= lo) & (dt <= hi)
        for q in range(kept):
            out[rows[kept_k[q]], _band(kept_dt[q], time_edges)] += 1


@njit(parallel=True, **JIT_OPTIONS)
def _permutation_counts(t, perms, order, ptr, nbr, rows, time_edges, n_rows):
    """Pair counts for each permutation: shape (n_perms, n_rows, n_time_bands), int64.

    Row ``p`` of ``perms`` gives the event with original index ``e`` the time
    ``t[perms[p, e]]``; the pair table is over events in the order ``order``. Parallel over
    permutations; each writes its own slice ``out[p]``.
    """
    n_perms = perms.shape[0]
    n = len(order)
    out = np.zeros((n_perms, n_rows, len(time_edges) - 1), dtype=np.int64)
    for p in prange(n_perms):
        tp = np.empty(n, dtype=np.int64)
        for i in range(n):
            tp[i] = t[perms[p, order[i]]]
        _count_pairs(tp, ptr, nbr, rows, time_edges, out[p])
    return out
