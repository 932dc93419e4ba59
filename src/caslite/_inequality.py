"""Inequality of a distribution over cells (private): the Gini coefficient.

Shared by the exposure audits (:mod:`caslite.audits`) and the feedback simulation
(:mod:`caslite._feedback`), which reports it round by round; ``caslite.audits.gini`` is its
public name.
"""

from __future__ import annotations

import numpy as np

__all__ = ["gini"]


def gini(values) -> float:
    """Return the Gini coefficient of non-negative values (0: all equal; near 1: one has all).

    ``G = sum_i sum_j |x_i - x_j| / (2 n^2 mean(x))``, computed from the sorted values.

    Parameters
    ----------
    values : array-like of float, shape (n,)
        Non-negative, with a positive sum.

    Returns
    -------
    float

    Examples
    --------
    >>> gini([1, 1, 1, 1])
    0.0
    >>> gini([0, 0, 0, 4])  # one of four holds everything: (n - 1) / n
    0.75
    """
    x = np.sort(np.asarray(values, dtype=np.float64).ravel())
    if x.size == 0 or not np.all(np.isfinite(x)) or x[0] < 0 or x.sum() <= 0:
        raise ValueError("gini needs finite, non-negative values with a positive sum.")
    n = x.size
    rank = np.arange(1, n + 1)
    return float(2.0 * np.sum(rank * x) / (n * x.sum()) - (n + 1) / n)
