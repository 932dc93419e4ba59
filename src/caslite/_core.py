"""Core selection and counting per grid cell and block, below models, forecasts and evaluation.

The hot-spot selection (:func:`top_cells`), the observed events per block and cell
(:func:`count_events`, aoristic for uncertain times) and the incident rate of each shift
(:func:`exact_shift_rates`) are used by the models (targets of the fit), the forecast (its hot
cells), the patrol plan, the audits, the maps and the evaluation (its scores). They live here,
in the layer of :mod:`caslite.events`, :mod:`caslite.grid` and :mod:`caslite.shifts`, so that
every layer above can use them without importing the one that evaluates it. Their public home
stays :mod:`caslite.evaluation` (and :mod:`caslite.evaluation.metrics`), which re-exports them;
the definitions of the selection are in :mod:`caslite.evaluation.metrics`.

Sums over the rings of neighbouring cells (:func:`ring_sums`) count the events around each
cell for the features and the risk model's row sampling. The checking helpers
(:func:`check_events_grid`, ``as_risk_array``, ``as_area_array``, ``check_coverage`` ...) are
shared with the metrics, the features and the models; this module is private to caslite.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse

from caslite._time import DAY, HOUR
from caslite._validation import check_int, check_same_crs, check_share
from caslite.events import Events
from caslite.grid import Grid
from caslite.shifts import Blocks

__all__ = [
    "AREA_RTOL",
    "area_budget",
    "as_area_array",
    "as_float_array",
    "as_risk_array",
    "check_coverage",
    "check_events_grid",
    "count_events",
    "cumulative_area",
    "exact_shift_rates",
    "ring_sums",
    "top_cells",
]

#: Relative tolerance on the area budget, so that float error in cumulative areas does not drop
#: a cell that fits exactly (e.g. 10% of 20 unit cells is 2.0000000000000004 or less).
AREA_RTOL = 1e-9
#: Events counted at a time by :func:`count_events`, so that its temporaries stay bounded.
_COUNT_CHUNK = 1 << 20


# ---------------------------------------------------------------------- observed counts
def count_events(events, grid, blocks, *, shift_rates=None) -> np.ndarray:
    """Count the events in every block and grid cell.

    An event with an exact time counts 1 in the block that contains it. An event with an
    uncertain time (a window, ``t_end > t``) is split over the blocks in proportion to the
    window's overlap with each (aoristic weights, :meth:`Events.aoristic_weights`), so counts
    can be fractional. With ``shift_rates`` the overlap with a block is weighted by the rate of
    the block's shift: a window then spreads like an incident drawn from that time-of-day
    profile, conditioned on lying in the window (a whole-day window puts into each shift its
    share of the day's incidents, rather than its share of the day's hours).

    Parameters
    ----------
    events : Events
        The observed incidents.
    grid : Grid
        The grid; must have the same CRS as the events.
    blocks : Blocks
        Consecutive time blocks, e.g. from :meth:`ShiftSchedule.horizon`.
    shift_rates : array-like of float, shape (blocks.schedule.n_shifts,), optional
        Relative rate of incidents per hour in each shift of the blocks' schedule (e.g. the
        exact-time incidents of each shift divided by its hours, see :func:`exact_shift_rates`);
        default equal rates (plain aoristic weights). A window that overlaps only shifts of
        rate 0 falls back to plain aoristic weights.

    Returns
    -------
    ndarray of float64, shape (len(blocks), grid.n_cells)
        Event counts per block (row) and cell (column).

    Raises
    ------
    TypeError
        If an argument is not an :class:`Events`, :class:`Grid` or :class:`Blocks`.
    ValueError
        If the events and the grid have different CRSs, the blocks are not consecutive, or
        ``shift_rates`` is not one finite, non-negative rate per shift.

    Notes
    -----
    Events that are not in an active cell of the grid (see :meth:`Grid.cell_of`), and the part
    of an event's time window outside all blocks, are not counted and are dropped without a
    warning: scoring a forecast on a sub-area or a sub-period is the normal use. An event
    at the very end of the last block belongs to the next block and is not counted.

    Examples
    --------
    >>> import pandas as pd
    >>> import shapely
    >>> from caslite import Events, Grid, ShiftSchedule
    >>> frame = pd.DataFrame({"t": ["2024-03-11 01:00", "2024-03-11 05:00", "2024-03-11 06:00"],
    ...                       "x": [60.0, 200.0, 900.0], "y": [60.0, 60.0, 60.0]})
    >>> events = Events.from_frame(frame, crs="EPSG:28992", tz="Europe/Amsterdam")
    >>> grid = Grid.from_area(shapely.box(0, 0, 250, 125), crs="EPSG:28992")
    >>> blocks = ShiftSchedule.every(4, tz="Europe/Amsterdam").horizon("2024-03-11", "1D")
    >>> count_events(events, grid, blocks)[:3].tolist()  # the third event is off the grid
    [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]
    """
    if not isinstance(events, Events):
        raise TypeError(
            f"events must be a caslite Events, got {type(events).__name__}; build one with "
            "caslite.Events.from_frame or caslite.as_events."
        )
    if not isinstance(grid, Grid):
        raise TypeError(f"grid must be a caslite Grid, got {type(grid).__name__}.")
    if not isinstance(blocks, Blocks):
        raise TypeError(
            f"blocks must be a caslite Blocks, got {type(blocks).__name__}; get them from "
            "ShiftSchedule.horizon or ShiftSchedule.blocks."
        )
    check_same_crs(events.crs, grid.crs, "events", "the grid")
    n_blocks, n_cells = len(blocks), grid.n_cells
    if n_blocks and np.any(blocks.start[1:] != blocks.end[:-1]):
        raise ValueError("blocks must be consecutive (each starting where the last ends).")
    if shift_rates is not None:
        shift_rates = _check_shift_rates(shift_rates, blocks.schedule.n_shifts)
    counts = np.zeros(n_blocks * n_cells, dtype=np.float64)
    if not n_blocks or not len(events):
        return counts.reshape(n_blocks, n_cells)
    edges = blocks.edges
    # Exact times, a chunk of events at a time (memory bounded by the chunk and the output):
    # 1 in the cell and the block with start <= t < end.
    windows = []
    for lo in range(0, len(events), _COUNT_CHUNK):
        part = slice(lo, lo + _COUNT_CHUNK)
        cells = grid.cell_of(events.x[part], events.y[part])
        t, t_end = events.t[part], events.t_end[part]
        exact = (cells >= 0) & (t_end == t)
        block = np.searchsorted(edges, t[exact], side="right") - 1
        ok = (block >= 0) & (block < n_blocks)
        np.add.at(counts, block[ok] * n_cells + cells[exact][ok], 1.0)
        windows.append(lo + np.flatnonzero((cells >= 0) & (t_end > t)))
    # Uncertain times: aoristic weights of the windows over the blocks.
    window = np.concatenate(windows)
    if window.size:
        spread = events.select(window)
        if shift_rates is None:
            weights = spread.aoristic_weights(blocks)  # (n_windows, n_blocks)
        else:
            weights = _profile_weights(spread, blocks, shift_rates)
        cells = grid.cell_of(spread.x, spread.y)
        in_cell = scipy.sparse.csr_array(
            (np.ones(window.size), (np.arange(window.size), cells)), shape=(window.size, n_cells)
        )
        counts = counts.reshape(n_blocks, n_cells)
        counts += (weights.T @ in_cell).toarray()  # (column-major: added in place, not raveled)
    return counts.reshape(n_blocks, n_cells)


def _check_shift_rates(rates, n_shifts: int) -> np.ndarray:
    rates = np.asarray(rates, dtype=np.float64).ravel()
    if rates.shape != (n_shifts,) or not np.all(np.isfinite(rates)) or np.any(rates < 0):
        raise ValueError(
            f"shift_rates must hold one finite, non-negative rate per shift of the blocks' "
            f"schedule ({n_shifts}), got {rates.tolist()}."
        )
    return rates


def _profile_weights(events, blocks, rates) -> scipy.sparse.csr_array:
    """Aoristic weights of windows with each block's overlap weighted by its shift's rate.

    Each window is normalised over its whole length (also the part outside ``blocks``), so a
    window reaching past the blocks keeps only the share that falls in them, as in
    :meth:`Events.aoristic_weights`.
    """
    n_events, n_blocks = len(events), len(blocks)
    out = scipy.sparse.csr_array((n_events, n_blocks))
    edges = blocks.edges
    overlaps = (events.t < edges[-1]) & (events.t_end > edges[0])
    if not n_blocks or not overlaps.any():
        return out
    rows = np.flatnonzero(overlaps)
    part = events.select(overlaps)
    schedule = blocks.schedule
    first = int(schedule.block_of(np.array([part.t.min()]))[0])
    last = int(schedule.block_of(np.array([part.t_end.max() - 1]))[0])
    cover = Blocks(schedule, np.arange(first, last + 1, dtype=np.int64))
    plain = part.aoristic_weights(cover).tocoo()  # rows sum to 1
    value = plain.data * rates[cover.shift[plain.col]]
    total = np.bincount(plain.row, weights=value, minlength=len(part))
    fallback = total[plain.row] <= 0  # only shifts of rate 0: keep the plain weights
    value = np.where(fallback, plain.data, value / np.where(fallback, 1.0, total[plain.row]))
    column = cover.ids[plain.col]
    position = np.searchsorted(blocks.ids, column)
    inside = (position < n_blocks) & (blocks.ids[np.minimum(position, n_blocks - 1)] == column)
    return scipy.sparse.csr_array(
        (value[inside], (rows[plain.row[inside]], position[inside])), shape=(n_events, n_blocks)
    )


def exact_shift_rates(events, grid, schedule, *, start=None, end=None) -> tuple[np.ndarray, int]:
    """Relative incident rate per hour of each shift, from the incidents with an exact time.

    Parameters
    ----------
    events : Events
        The incidents; only those with an exact time (``t_end == t``), in an active cell of
        the grid and with ``start <= t < end`` are used.
    grid : Grid
        The grid.
    schedule : ShiftSchedule
        The shifts.
    start, end : int, optional
        UTC seconds bounding the incidents used; default all.

    Returns
    -------
    rates : ndarray of float64, shape (schedule.n_shifts,)
        Exact-time incidents of each shift divided by the shift's nominal length in hours,
        scaled to sum to 1 (all equal when there is no exact time).
    n_exact : int
        The number of exact-time incidents used.

    Examples
    --------
    >>> import pandas as pd
    >>> import shapely
    >>> from caslite import Events, Grid, ShiftSchedule
    >>> frame = pd.DataFrame({"t": ["2024-03-11 01:00", "2024-03-11 02:00", "2024-03-12 09:00",
    ...                             "2024-03-13 00:00"],
    ...                       "t_end": ["2024-03-11 01:00", "2024-03-11 02:00",
    ...                                 "2024-03-12 09:00", "2024-03-14 00:00"],
    ...                       "x": [60.0] * 4, "y": [60.0] * 4})
    >>> events = Events.from_frame(frame, time_end="t_end", crs="EPSG:28992",
    ...                            tz="Europe/Amsterdam")
    >>> grid = Grid.from_area(shapely.box(0, 0, 125, 125), crs="EPSG:28992")
    >>> schedule = ShiftSchedule(["00:00", "08:00"], tz="Europe/Amsterdam")  # 8 h and 16 h
    >>> rates, n_exact = exact_shift_rates(events, grid, schedule)
    >>> n_exact, rates.round(3).tolist()  # 2 incidents in 8 h against 1 in 16 h
    (3, [0.8, 0.2])
    """
    t = events.t
    use = (events.t_end == t) & (grid.cell_of(events.x, events.y) >= 0)
    if start is not None:
        use &= t >= int(start)
    if end is not None:
        use &= t < int(end)
    n_shifts = schedule.n_shifts
    shift = schedule.shift_of(schedule.block_of(t[use]))
    counts = np.bincount(shift, minlength=n_shifts).astype(np.float64)
    starts = schedule.start_seconds
    hours = np.diff(np.append(starts, starts[0] + DAY)) / float(HOUR)
    n_exact = int(use.sum())
    if n_exact == 0:
        return np.full(n_shifts, 1.0 / n_shifts), 0
    rates = counts / hours
    return rates / rates.sum(), n_exact


# ---------------------------------------------------------------------- neighbourhoods
def ring_sums(values: np.ndarray, grid, rings) -> list[np.ndarray]:
    """Sum ``values`` (m, n_cells) over each Chebyshev ring: one (m, n_cells) array per ring.

    A cell's ring ``k`` is the border of the ``(2k + 1)``-square of raster cells around it;
    inactive cells add nothing (numba kernel :func:`caslite._kernels.rings.ring_sums`, each
    cell reading its neighbours in a fixed order: sums of integers are exact, and the result
    does not depend on the number of threads).

    Examples
    --------
    >>> import numpy as np
    >>> from shapely.geometry import box
    >>> grid = Grid.from_area(box(0, 0, 375, 375), cell_size=125.0, crs="EPSG:28992")
    >>> centre = np.zeros((1, grid.n_cells))
    >>> centre[0, 4] = 1.0  # the middle cell of the 3 x 3 raster
    >>> ring1 = ring_sums(centre, grid, (1,))[0]
    >>> ring1[0].tolist()  # every other cell has the middle one in its first ring
    [1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0]
    """
    if not rings:
        return []
    from caslite._kernels import threads_for
    from caslite._kernels.rings import ring_sums as ring_kernel

    per_cell = np.ascontiguousarray(np.asarray(values, dtype=np.float64).T)  # (n_cells, m)
    lookup = (grid._raster_to_cell, *grid.shape, grid.cell_row, grid.cell_col)
    out = []
    for k in rings:
        with threads_for(per_cell.size * 8.0 * k):  # 8k neighbours per cell and column
            out.append(np.ascontiguousarray(ring_kernel(per_cell, *lookup, int(k)).T))
    return out


# ---------------------------------------------------------------------- selection
def top_cells(risk, coverage=None, *, k=None, area=None) -> np.ndarray:
    """Return the ids of the hot-spot cells, highest risk first.

    Parameters
    ----------
    risk : array-like of float, shape (n_cells,)
        Risk of each cell; higher is hotter. ``-inf`` ranks last; NaN is refused.
    coverage : float, optional
        Share of the total area to select, in (0, 1].
    k : int, optional
        Number of cells to select, in ``1 .. n_cells``. Give exactly one of ``coverage`` and
        ``k``.
    area : array-like of float, shape (n_cells,), optional
        Area of each cell in any unit (e.g. :attr:`Grid.area_fraction`, the share of each cell
        inside the study area); default 1 for every cell. Only used with ``coverage``.

    Returns
    -------
    ndarray of int64
        Cell ids in rank order.

    Notes
    -----
    Cells are sorted by decreasing risk with a stable sort, so **cells of equal risk are
    ranked by increasing cell id**: the result is deterministic, and ties are never broken at
    random.

    With ``coverage``, the selection is the longest prefix of the ranking whose cumulative area
    is at most ``coverage * area.sum()`` (up to a relative tolerance of 1e-9 for float
    error). The prefix stops at the first cell that does not fit, even if a smaller cell further
    down would; it may therefore cover somewhat less than the budget, and be empty when the
    first cell alone is larger than the budget.

    Examples
    --------
    >>> risk = [0.2, 0.9, 0.2, 0.5]
    >>> top_cells(risk, k=3).tolist()  # cells 0 and 2 tie: the lower id ranks first
    [1, 3, 0]
    >>> top_cells(risk, 0.5).tolist()
    [1, 3]
    >>> top_cells(risk, 0.5, area=[1.0, 1.0, 1.0, 0.25]).tolist()  # total 3.25, budget 1.625
    [1, 3]
    >>> top_cells(risk, 0.5, area=[1.0, 1.0, 1.0, 1.5]).tolist()  # cell 3 does not fit
    [1]
    """
    risk = as_risk_array(risk)
    if risk.ndim != 1:
        raise ValueError(
            f"risk must be 1-d (one value per cell), got shape {risk.shape}; pass one row "
            "(risk[block]) or the risk summed over blocks (risk.sum(axis=0))."
        )
    n_cells = risk.size
    if (coverage is None) == (k is None):
        raise TypeError("give exactly one of coverage (a share of the area) and k (a count).")
    order = np.argsort(-risk, kind="stable")
    if k is not None:
        if area is not None:
            raise TypeError("area is only used with coverage; with k, drop area=.")
        check_int(k, "k", example=min(10, n_cells))
        if k > n_cells:
            raise ValueError(f"k={k} must be between 1 and the number of cells, {n_cells}.")
        return order[: int(k)]
    coverage = check_coverage(coverage)
    weights = as_area_array(area, n_cells)
    cum_area = cumulative_area(weights, order)
    n_selected = np.searchsorted(cum_area, area_budget(coverage * cum_area[-1]), side="right")
    return order[:n_selected]


# ---------------------------------------------------------------------- shared checks
def check_events_grid(events, grid) -> None:
    """Check that ``events`` are caslite Events and ``grid`` a Grid, in the same CRS.

    Raises
    ------
    TypeError
        If either is of another type.
    ValueError
        If their CRSs differ.
    """
    if not isinstance(events, Events):
        raise TypeError(f"events must be caslite Events, got {type(events).__name__}.")
    if not isinstance(grid, Grid):
        raise TypeError(f"grid must be a caslite Grid, got {type(grid).__name__}.")
    check_same_crs(events.crs, grid.crs, "events", "the grid")


def cumulative_area(weights, order) -> np.ndarray:
    """Return the area of the first 1, 2, ... cells of ``order`` (None: unit areas)."""
    if weights is None:
        return np.arange(1, order.size + 1, dtype=np.float64)
    return np.cumsum(weights[order])


def area_budget(area):
    """Widen an area budget by :data:`AREA_RTOL`, so that a cell that fits exactly is kept."""
    return np.asarray(area, dtype=np.float64) * (1 + AREA_RTOL)


def as_float_array(values, name: str) -> np.ndarray:
    """Return ``values`` as float64, or raise a TypeError naming ``name``."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} must be an array of numbers, got {type(values).__name__}."
        ) from None
    return array


def as_risk_array(risk) -> np.ndarray:
    """Return risk as float64, refusing NaN (it cannot be ranked)."""
    risk = as_float_array(risk, "risk")
    n_nan = int(np.isnan(risk).sum())
    if n_nan:
        raise ValueError(
            f"risk has {n_nan} NaN value{'s' if n_nan > 1 else ''} (of {risk.size}); NaN "
            "cannot be ranked. Fill them (e.g. np.nan_to_num(risk, nan=0.0)) or fix the model."
        )
    return risk


def as_area_array(area, n_cells: int) -> np.ndarray | None:
    """Return cell areas as float64, one finite positive value per cell (None: unit areas)."""
    if area is None:
        return None
    weights = as_float_array(area, "area")
    if weights.shape != (n_cells,):
        raise ValueError(
            f"area has shape {weights.shape}; expected one value per cell, ({n_cells},)."
        )
    bad = ~(np.isfinite(weights) & (weights > 0))
    if bad.any():
        raise ValueError(
            f"area has {int(bad.sum())} values that are not finite and positive (cells "
            f"{np.flatnonzero(bad)[:5].tolist()}); every cell needs an area > 0."
        )
    return weights


def check_coverage(coverage) -> float:
    """Return a coverage (share of the area) as a float in (0, 1], or raise."""
    return check_share(
        coverage, "coverage", "(0, 1]", what="a share of the area", example="0.05 for 5%"
    )
