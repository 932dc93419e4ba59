"""numba kernel of the ring sums of the cell features (private; see :mod:`caslite.features`).

The ring-``k`` sum of active cell ``i`` is the sum of ``values[j]`` over the active cells
``j`` whose raster row and column differ from ``i``'s by at most ``k``, and by exactly ``k`` in
one of them (the border of the ``(2k + 1)``-square around ``i``). Each cell reads its
``8k`` neighbours through ``raster_to_cell`` (-1: inactive) in a fixed order, so the result
does not depend on the number of threads; sums of integers below 2**53 are exact.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from caslite._kernels import JIT_OPTIONS


@njit(**JIT_OPTIONS)
def _add_cell(out, i, values, raster_to_cell, n_cols, row, col):
    """Add the values of the cell at raster ``(row, col)``, if active, to ``out[i]``."""
    j = raster_to_cell[row * n_cols + col]
    if j >= 0:
        for q in range(values.shape[1]):
            out[i, q] += values[j, q]


@njit(parallel=True, **JIT_OPTIONS)
def ring_sums(values, raster_to_cell, n_rows, n_cols, cell_row, cell_col, k):
    """Ring-``k`` sums, shape ``(n_cells, m)``, of ``values`` (n_cells, m), for ``k >= 1``."""
    n_cells = values.shape[0]
    out = np.zeros(values.shape, dtype=np.float64)
    for i in prange(n_cells):
        r, c = cell_row[i], cell_col[i]
        for dr in range(-k, k + 1):
            row = r + dr
            if row < 0 or row >= n_rows:
                continue
            step = 1 if abs(dr) == k else 2 * k  # inner rows: only the two border columns
            for dc in range(-k, k + 1, step):
                col = c + dc
                if 0 <= col < n_cols:
                    _add_cell(out, i, values, raster_to_cell, n_cols, row, col)
    return out
