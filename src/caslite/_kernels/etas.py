"""numba kernel of the grid self-exciting point process (private; see :mod:`caslite.models.etas`).

One pass over the events, sorted by cell and, within a cell, by time, computes what one
expectation-maximisation step of :class:`caslite.models.etas.GridETAS` needs, in O(N) by the
recursion of the exponential kernel. For event ``j`` of a cell, over the earlier events ``i``
of the same cell with ``t_i < t_j`` (strictly: events at the same instant do not trigger each
other)::

    A_j = sum_i exp(-omega (t_j - t_i))
    B_j = sum_i (t_j - t_i) exp(-omega (t_j - t_i))

are updated from the previous distinct instant ``s`` of the cell, with ``d = t_j - s`` and
``a``, ``b`` the sums at ``s`` including the events at ``s`` (lag 0, weight 1)::

    A_j = exp(-omega d) a,    B_j = exp(-omega d) (b + d a).

The intensity is ``lambda_j = mu_cell + theta omega A_j``. No fastmath.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from caslite._kernels import JIT_OPTIONS


@njit(**JIT_OPTIONS)
def em_pass(t, ptr, mu, theta, omega):
    """Compute the sums of one E-step.

    Parameters
    ----------
    t : float64 array
        Event times in days, sorted by group (cell) and by time within a group.
    ptr : int64 array
        Group ``g`` holds ``t[ptr[g]:ptr[g + 1]]``.
    mu : float64 array
        Background rate of each group (events per day), > 0 for non-empty groups.
    theta, omega : float
        Branching ratio and decay rate (per day).

    Returns
    -------
    background : float64 array
        Sum over each group's events of ``mu / lambda_j`` (expected background events).
    triggered : float
        Sum over all events of ``theta omega A_j / lambda_j`` (expected offspring).
    lag_sum : float
        Sum over all events of ``theta omega B_j / lambda_j`` (offspring-weighted lags).
    log_sum : float
        Sum over all events of ``log lambda_j``.
    """
    n_groups = len(ptr) - 1
    background = np.zeros(n_groups)
    triggered = 0.0
    lag_sum = 0.0
    log_sum = 0.0
    scale = theta * omega
    for g in range(n_groups):
        lo = ptr[g]
        hi = ptr[g + 1]
        if hi <= lo:
            continue
        m = mu[g]
        cur = t[lo]
        a_before = 0.0  # sums over events strictly before cur
        b_before = 0.0
        count = 0  # events at cur seen so far
        acc = 0.0
        for j in range(lo, hi):
            tj = t[j]
            if tj > cur:
                d = tj - cur
                a_all = a_before + count
                decay = math.exp(-omega * d)
                b_before = decay * (b_before + d * a_all)
                a_before = decay * a_all
                cur = tj
                count = 0
            lam = m + scale * a_before
            acc += m / lam
            triggered += scale * a_before / lam
            lag_sum += scale * b_before / lam
            log_sum += math.log(lam)
            count += 1
        background[g] = acc
    return background, triggered, lag_sum, log_sum
