"""Plain-numpy twins of the numba kernels, obviously correct and slow.

Each twin computes the same quantity as a kernel in ``caslite._kernels`` by a dense sum over
everything, with no windows, index ranges, chunks or recursion. The formulas are written out
here again on purpose, independent of the code under test.
"""

from __future__ import annotations

import numpy as np

DAY = 86_400.0


def space_weight(space, d: np.ndarray, cell_size: float) -> np.ndarray:
    """Spatial weight of distances ``d`` (metres) for a kernel spec, truncated at its radius."""
    name = type(space).__name__
    d = np.asarray(d, dtype=np.float64)
    if name == "ExponentialSpace":
        w = np.exp(-d / space.scale)
    elif name == "GaussianSpace":
        w = np.exp(-(d**2) / (2.0 * space.sigma**2))
    elif name == "BowersSpace":
        unit = cell_size / 2.0 if space.unit is None else space.unit
        w = 1.0 / (1.0 + d / unit)
    else:
        raise TypeError(name)
    return np.where(d <= space.radius, w, 0.0)


def time_weight(time, lag: np.ndarray) -> np.ndarray:
    """Temporal weight of lags in seconds (int), zero unless ``0 < lag <= window``."""
    name = type(time).__name__
    lag = np.asarray(lag).astype(np.float64)
    with np.errstate(divide="ignore", over="ignore"):  # negative lags, masked below
        if name == "ExponentialTime":
            w = np.exp(-lag / (time.scale_days * DAY))
        elif name == "BowersTime":
            w = 1.0 / (1.0 + np.floor(lag / (time.step_days * DAY)))
        else:
            raise TypeError(name)
    return np.where((lag > 0) & (lag <= time.window_days * DAY), w, 0.0)


def distances(x, y, grid, form: str) -> np.ndarray:
    """Distance (metres) from every event to every active cell: shape (n_events, n_cells)."""
    x = np.asarray(x, dtype=np.float64)[:, None]
    y = np.asarray(y, dtype=np.float64)[:, None]
    if form == "continuous":
        return np.hypot(grid.x[None, :] - x, grid.y[None, :] - y)
    s = float(grid.cell_size)
    event_col = np.floor((x - grid.x0) / s)
    event_row = np.floor((y - grid.y0) / s)
    cells = np.maximum(
        np.abs(grid.cell_row[None, :] - event_row), np.abs(grid.cell_col[None, :] - event_col)
    )
    return cells * s


def footprint_matrix(x, y, grid, space) -> np.ndarray:
    """Twin of ``_footprints``: dense spatial weights, shape (n_events, n_cells)."""
    d = distances(x, y, grid, space.form)
    return space_weight(space, d, float(grid.cell_size))


def score(t, x, y, grid, times, space, time, before=None) -> np.ndarray:
    """Twin of ``_score_direct`` / ``_score_recursive`` (and of ``score_at``).

    ``out[b, c] = sum_i k_space(d_ic) k_time(times[b] - t_i)`` over events with
    ``t_i < times[b]`` and ``t_i < before``; the time weight is zero outside the window.
    """
    t = np.asarray(t, dtype=np.int64)
    times = np.asarray(times, dtype=np.int64)
    ks = footprint_matrix(x, y, grid, space)  # (n_events, n_cells)
    out = np.zeros((len(times), grid.n_cells))
    for b, s in enumerate(times):
        lag = s - t
        kt = time_weight(time, lag)
        counts = t < s
        if before is not None:
            counts &= t < before
        kt = np.where(counts, kt, 0.0)
        out[b] = (kt[:, None] * ks).sum(axis=0)
    return out


def knox_bands(values: np.ndarray, edges) -> np.ndarray:
    """Band index of each value for ascending ``edges``: ``(e_k, e_k+1]``, first band closed.

    -1 for values below the first or above the last edge.
    """
    edges = np.asarray(edges, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    band = np.searchsorted(edges, values, side="left") - 1  # edges[b] < v <= edges[b + 1]
    band = np.where(values == edges[0], 0, band)
    return np.where((values < edges[0]) | (values > edges[-1]), -1, band)


def knox_counts(t, x, y, distance_bands, time_bands_days, same_location) -> np.ndarray:
    """Twin of the Knox observed table: every unordered pair ``i < j`` of a dense O(n^2) list.

    Rows: with ``same_location`` first the pairs at distance exactly 0, then the distance
    bands (from which distance 0 is then excluded); columns: bands of ``|t_i - t_j|`` in days.
    """
    t = np.asarray(t, dtype=np.int64)
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    i, j = np.triu_indices(len(t), k=1)
    d = np.hypot(x[j] - x[i], y[j] - y[i])
    dt = np.abs(t[j] - t[i]).astype(np.float64)
    row = knox_bands(d, distance_bands)
    if same_location:
        row = np.where(d == 0, 0, np.where(row >= 0, row + 1, -1))
    col = knox_bands(dt, np.asarray(time_bands_days, dtype=np.float64) * DAY)
    keep = (row >= 0) & (col >= 0)
    out = np.zeros((len(distance_bands) - 1 + same_location, len(time_bands_days) - 1), np.int64)
    np.add.at(out, (row[keep], col[keep]), 1)
    return out


def knox_permutation_counts(t, x, y, perms, distance_bands, time_bands_days, same_location):
    """Twin of the Knox permutation kernel: event ``e`` gets ``t[perm[e]]`` in each permutation."""
    t = np.asarray(t, dtype=np.int64)
    return np.stack(
        [
            knox_counts(t[perm], x, y, distance_bands, time_bands_days, same_location)
            for perm in np.asarray(perms)
        ]
    )


def etas_em_step(t, cells, mu, theta, omega, span):
    """One EM step of the grid self-exciting process by the full O(N^2) branching matrix.

    ``t`` are event times in days (all ``<= 0``, the period ends at 0), ``cells`` their cell
    ids (any order), ``mu`` the background rate per cell. Events trigger later events of
    their own cell only, with a strictly positive delay (ties trigger nothing). Returns the
    new ``(mu, theta, omega)`` and the log-likelihood of the parameters given.
    """
    t = np.asarray(t, dtype=np.float64)
    cells = np.asarray(cells)
    lag = t[:, None] - t[None, :]  # [j, i] = t_j - t_i
    parent = (cells[:, None] == cells[None, :]) & (lag > 0)
    kernel = np.where(parent, theta * omega * np.exp(-omega * np.where(parent, lag, 0.0)), 0.0)
    lam = mu[cells] + kernel.sum(axis=1)
    p_offspring = kernel / lam[:, None]
    p_background = mu[cells] / lam
    edge = np.sum(1.0 - np.exp(omega * t))
    log_likelihood = np.log(lam).sum() - mu.sum() * span - theta * edge
    new_mu = np.bincount(cells, weights=p_background, minlength=len(mu)) / span
    new_theta = p_offspring.sum() / edge
    # omega: offspring over their delays plus the edge term of the compensator at new theta
    cut = new_theta * np.sum(-t * np.exp(omega * t))
    new_omega = p_offspring.sum() / ((p_offspring * np.where(parent, lag, 0.0)).sum() + cut)
    return new_mu, new_theta, new_omega, log_likelihood


def ring_sums(values: np.ndarray, cell_row, cell_col, k: int) -> np.ndarray:
    """Ring-``k`` sums (m, n_cells) of ``values`` (m, n_cells): for every pair of active
    cells, add when their larger row or column difference is exactly ``k``."""
    dr = np.abs(cell_row[:, None].astype(np.int64) - cell_row[None, :])
    dc = np.abs(cell_col[:, None].astype(np.int64) - cell_col[None, :])
    member = np.maximum(dr, dc) == k  # (n_cells, n_cells): row cell i, column neighbour j
    return values @ member.T.astype(np.float64)
