"""numba kernel that sums a tree ensemble's leaf values per row (private).

Used by :mod:`caslite.models._trees` for scikit-learn's HistGradientBoosting ensembles: the
nodes of all trees are flattened into parallel arrays (``feature``, ``threshold``,
``missing_left``, ``left``, ``right``, ``is_leaf``, ``value``) with child indices made global,
and ``roots`` gives each tree's first node. A row goes left when its value is ``<=`` the
node's threshold, and a NaN goes where ``missing_left`` says, as in scikit-learn's predictor.
Rows are independent (parallel over rows); each row walks every tree while it is in cache.
The plain twin is scikit-learn's own ``predict``.
"""

from __future__ import annotations

import math

from numba import njit, prange

from caslite._kernels import JIT_OPTIONS


@njit(**JIT_OPTIONS)
def _row_raw(row, feature, threshold, missing_left, left, right, is_leaf, value, roots):
    """Sum of the leaf values reached by one row, tree by tree in order."""
    total = 0.0
    for t in range(roots.size):
        node = roots[t]
        while not is_leaf[node]:
            x = row[feature[node]]
            if math.isnan(x):
                node = left[node] if missing_left[node] else right[node]
            elif x <= threshold[node]:
                node = left[node]
            else:
                node = right[node]
        total += value[node]
    return total


@njit(parallel=True, **JIT_OPTIONS)
def ensemble_raw(X, feature, threshold, missing_left, left, right, is_leaf, value, roots, out):
    """Write each row's summed leaf values into ``out`` (parallel over rows)."""
    for i in prange(X.shape[0]):
        out[i] = _row_raw(
            X[i], feature, threshold, missing_left, left, right, is_leaf, value, roots
        )
