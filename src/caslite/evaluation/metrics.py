"""Hit rate, PAI and PEI* of risk forecasts per grid cell, and observed event counts.

All metrics compare a ``risk`` array with an array of observed event ``counts`` of the same
shape: either one value per cell, shape ``(n_cells,)``, or one per block and cell, shape
``(n_blocks, n_cells)`` (as returned by :func:`count_events` and by the models' ``predict``).

Definitions, for a coverage ``c`` in (0, 1]:

- **selection**: cells are ranked by risk, highest first, with ties broken by the lower cell id
  first; the hot spots are the longest prefix of this ranking whose cumulative area is at most
  ``c`` times the total area (see :func:`top_cells`). With unit areas this is the top
  ``floor(c * n_cells)`` cells.
- **hit rate** ``n / N``: the share of the ``N`` events that fall in the selected cells.
- **PAI** (predictive accuracy index) ``(n / N) / (a / A)``: the hit rate divided by the share
  of the total area ``A`` that the selection ``a`` actually covers.
- **PEI*** (predictive efficiency index) ``n / n*``, where ``n*`` is the events in the best
  set of cells of the same area ``a``: the cells chosen by the same rule when ranking on the
  counts themselves (a forecast with perfect hindsight).

With 2-D input, ``per_block=False`` (the default) scores the whole horizon: cells are ranked
on the risk summed over blocks and scored on the counts summed over blocks. ``per_block=True``
chooses the hot spots of every block (row) from that block's risk and scores them on that
block's events, and pools the blocks: ``n``, ``N``, ``a``, ``A`` and ``n*`` are sums over
blocks, so busy blocks weigh more than quiet ones.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
import scipy.sparse

from caslite._validation import check_same_crs
from caslite.events import Events
from caslite.grid import Grid
from caslite.shifts import Blocks

__all__ = ["count_events", "hit_rate", "hit_rate_curve", "pai", "pei_star", "top_cells"]

#: Relative tolerance on the area budget, so that float error in cumulative areas does not drop
#: a cell that fits exactly (e.g. 10% of 20 unit cells is 2.0000000000000004 or less).
_AREA_RTOL = 1e-9


# ---------------------------------------------------------------------- observed counts
def count_events(events, grid, blocks) -> np.ndarray:
    """Count the events in every block and grid cell.

    An event with an exact time counts 1 in the block that contains it. An event with an
    uncertain time (a window, ``t_end > t``) is split over the blocks in proportion to the
    window's overlap with each (aoristic weights, :meth:`Events.aoristic_weights`), so counts
    can be fractional.

    Parameters
    ----------
    events : Events
        The observed incidents.
    grid : Grid
        The grid; must have the same CRS as the events.
    blocks : Blocks
        Consecutive time blocks, e.g. from :meth:`ShiftSchedule.horizon`.

    Returns
    -------
    ndarray of float64, shape (len(blocks), grid.n_cells)
        Event counts per block (row) and cell (column).

    Raises
    ------
    TypeError
        If an argument is not an :class:`Events`, :class:`Grid` or :class:`Blocks`.
    ValueError
        If the events and the grid have different CRSs, or the blocks are not consecutive.

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
    weights = events.aoristic_weights(blocks)  # (n_events, n_blocks)
    cells = grid.cell_of(events.x, events.y)
    inside = np.flatnonzero(cells >= 0)
    in_cell = scipy.sparse.csr_array(
        (np.ones(inside.size), (inside, cells[inside])), shape=(len(events), grid.n_cells)
    )
    counts = (weights.T @ in_cell).toarray()
    return np.asarray(counts, dtype=np.float64).reshape(len(blocks), grid.n_cells)


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
    risk = _risk_array(risk)
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
        if isinstance(k, bool) or not isinstance(k, numbers.Integral):
            raise TypeError(f"k must be an integer number of cells, got {k!r}.")
        if not 1 <= k <= n_cells:
            raise ValueError(f"k={k} must be between 1 and the number of cells, {n_cells}.")
        return order[: int(k)]
    coverage = _coverage(coverage)
    weights = _area_array(area, n_cells)
    cum_area = _cumulative_area(weights, order)
    n_selected = np.searchsorted(cum_area, _budget(coverage * cum_area[-1]), side="right")
    return order[:n_selected]


# ---------------------------------------------------------------------- metrics
def hit_rate(risk, counts, coverage, *, area=None, per_block=False) -> float:
    """Return the share of the events in the hot-spot cells at a coverage.

    Parameters
    ----------
    risk : array-like of float, shape (n_cells,) or (n_blocks, n_cells)
        Forecast risk. Ranked as in :func:`top_cells` (ties: lower cell id first); NaN is
        refused.
    counts : array-like of float, same shape as ``risk``
        Observed events, e.g. from :func:`count_events`; non-negative, may be fractional.
    coverage : float
        Share of the total area to select, in (0, 1].
    area : array-like of float, shape (n_cells,), optional
        Area of each cell (e.g. :attr:`Grid.area_fraction`); default 1 for every cell.
    per_block : bool, default False
        With 2-D input: if True, choose the hot spots of every block from its own risk and
        pool the hits over blocks, ``sum(hits) / sum(events)``; if False, rank the cells on the
        risk summed over blocks and score them on the counts summed over blocks. Has no effect
        on 1-D input.

    Returns
    -------
    float
        ``n / N``, in [0, 1]; NaN when there are no events (``N == 0``).

    See Also
    --------
    pai, pei_star, hit_rate_curve

    Examples
    --------
    >>> risk = [0.9, 0.1, 0.5, 0.3, 0.7]
    >>> counts = [3, 0, 1, 4, 2]
    >>> hit_rate(risk, counts, 0.4)  # cells 0 and 4 hold 5 of the 10 events
    0.5

    Per block, the hot spots follow the risk of each block:

    >>> risk = [[1.0, 0.0], [0.0, 1.0]]
    >>> counts = [[1, 0], [0, 3]]
    >>> hit_rate(risk, counts, 0.5, per_block=True)
    1.0
    >>> hit_rate(risk, counts, 0.5)  # horizon-wide: the tie goes to cell 0
    0.25
    """
    scores = _scores(risk, counts, [coverage], area, per_block, best=False)
    return float(scores.hit_rate[0])


def pai(risk, counts, coverage, *, area=None, per_block=False) -> float:
    """Return the predictive accuracy index ``(n / N) / (a / A)`` at a coverage.

    Parameters
    ----------
    risk, counts, coverage, area, per_block
        As in :func:`hit_rate`.

    Returns
    -------
    float
        The hit rate divided by the share of the total area ``A`` that the selected cells
        actually cover (``a``, summed over blocks with ``per_block=True``; ``A`` then is the
        total area times the number of blocks). NaN when there are no events or no cell fits
        in the area budget.

    Examples
    --------
    >>> risk = [0.9, 0.1, 0.5, 0.3, 0.7]
    >>> counts = [3, 0, 1, 4, 2]
    >>> pai(risk, counts, 0.4)  # 50% of the events in 40% of the area
    1.25
    """
    scores = _scores(risk, counts, [coverage], area, per_block, best=False)
    return float(scores.pai[0])


def pei_star(risk, counts, coverage, *, area=None, per_block=False) -> float:
    """Return the predictive efficiency index ``n / n*`` at a coverage.

    ``n*`` is the number of events in the best set of cells of the same area as the selected
    ones: the cells chosen by the rule of :func:`top_cells` when ranking on the counts
    themselves, with the area actually selected as the budget (per block with
    ``per_block=True``, then summed).

    Parameters
    ----------
    risk, counts, coverage, area, per_block
        As in :func:`hit_rate`.

    Returns
    -------
    float
        ``n / n*`` in [0, 1]; 1 means no set of cells of that area would have caught more
        events. NaN when ``n* == 0`` (no events in any set of that area, or no cell fits in
        the area budget).

    Notes
    -----
    With equal cell areas, ranking on the counts gives the true best set. With unequal areas
    (``area=``) the best set is a knapsack problem and the counts-ranked prefix can miss it
    (its next cell may be too large while a smaller one would fit). ``n*`` is then the most
    of: the counts-ranked prefix, the forecast's own selection (a set of the same area, which
    keeps PEI* at most 1) and the fullest single cell that fits (so PEI* is 0, not NaN, when
    the forecast misses events that a cell of that area could have caught). It is a lower
    bound on the true best, so PEI* can overstate the efficiency slightly in that case.

    Examples
    --------
    >>> risk = [0.9, 0.1, 0.5, 0.3, 0.7]
    >>> counts = [3, 0, 1, 4, 2]
    >>> round(pei_star(risk, counts, 0.4), 4)  # caught 5; cells 3 and 0 would catch 7
    0.7143
    """
    scores = _scores(risk, counts, [coverage], area, per_block, best=True)
    return float(scores.pei_star[0])


def hit_rate_curve(risk, counts, coverages, *, area=None, per_block=False) -> pd.DataFrame:
    """Return hit rate, PAI and PEI* at several coverages.

    The cells are ranked once, so this is much faster than calling the metrics one coverage at
    a time.

    Parameters
    ----------
    risk, counts, area, per_block
        As in :func:`hit_rate`.
    coverages : float or array-like of float
        Shares of the total area, each in (0, 1].

    Returns
    -------
    pandas.DataFrame
        One row per coverage, in the given order, with columns ``coverage``, ``area_share``
        (``a / A``, the share of the area actually selected), ``hit_rate``, ``pai`` and
        ``pei_star``.

    Examples
    --------
    >>> risk = [0.9, 0.1, 0.5, 0.3, 0.7]
    >>> counts = [3, 0, 1, 4, 2]
    >>> hit_rate_curve(risk, counts, [0.2, 0.4, 1.0]).round(4)
       coverage  area_share  hit_rate   pai  pei_star
    0       0.2         0.2       0.3  1.50    0.7500
    1       0.4         0.4       0.5  1.25    0.7143
    2       1.0         1.0       1.0  1.00    1.0000
    """
    scores = _scores(risk, counts, coverages, area, per_block, best=True)
    return pd.DataFrame(
        {
            "coverage": scores.coverage,
            "area_share": scores.area_share,
            "hit_rate": scores.hit_rate,
            "pai": scores.pai,
            "pei_star": scores.pei_star,
        }
    )


# ---------------------------------------------------------------------- internals
class _Scores:
    """Pooled hits, areas and best-set hits at each coverage."""

    def __init__(self, coverage, hits, n_events, selected_area, total_area, best):
        self.coverage = coverage
        with np.errstate(invalid="ignore", divide="ignore"):
            self.hit_rate = hits / n_events if n_events > 0 else np.full(hits.shape, np.nan)
            self.area_share = selected_area / total_area
            self.pai = np.where(selected_area > 0, self.hit_rate / self.area_share, np.nan)
            self.pei_star = None if best is None else np.where(best > 0, hits / best, np.nan)


def _scores(risk, counts, coverages, area, per_block, *, best) -> _Scores:
    """Rank and score every row of ``risk`` at every coverage, pooled over rows."""
    risk = _risk_array(risk)
    counts = _counts_array(counts)
    if risk.shape != counts.shape:
        raise ValueError(
            f"risk has shape {risk.shape} but counts has shape {counts.shape}; they must be "
            "equal: (n_cells,) or (n_blocks, n_cells)."
        )
    if risk.ndim not in (1, 2) or risk.shape[-1] == 0:
        raise ValueError(
            f"risk and counts must have shape (n_cells,) or (n_blocks, n_cells) with at least "
            f"one cell, got {risk.shape}."
        )
    if not isinstance(per_block, (bool, np.bool_)):
        raise TypeError(f"per_block must be True or False, got {per_block!r}.")
    if np.ndim(coverages) > 1:
        raise ValueError(f"coverages must be a number or a 1-d sequence, got {coverages!r}.")
    coverage = np.array(
        [_coverage(c) for c in np.atleast_1d(np.asarray(coverages, dtype=object))], dtype=float
    )
    weights = _area_array(area, risk.shape[-1])
    if risk.ndim == 1:
        risk, counts = risk[np.newaxis], counts[np.newaxis]
    elif not per_block:
        with np.errstate(invalid="ignore"):
            risk = risk.sum(axis=0, keepdims=True)
        if np.isnan(risk).any():
            raise ValueError(
                "the risk summed over blocks is NaN for some cells (+inf and -inf in one "
                "column); pass finite risks or per_block=True."
            )
        counts = counts.sum(axis=0, keepdims=True)
    hits = np.zeros(coverage.size)
    selected = np.zeros(coverage.size)
    best_hits = np.zeros(coverage.size) if best else None
    cell_area = np.ones(risk.shape[-1]) if weights is None else weights
    total = cell_area.sum()
    by_area = None if weights is None else np.argsort(weights, kind="stable")
    for row_risk, row_counts in zip(risk, counts, strict=True):
        row_hits, row_area = _prefix_scores(row_risk, row_counts, weights, coverage * total)
        hits += row_hits
        selected += row_area
        if best:
            # n*: the counts-ranked prefix of the same area; with unequal areas also at least
            # the forecast's own set and the best single cell that fits (see pei_star).
            row_best, _ = _prefix_scores(row_counts, row_counts, weights, row_area)
            if weights is not None:
                row_best = np.maximum(row_best, row_hits)
                row_best = np.maximum(row_best, _best_cell(row_counts, weights, by_area, row_area))
            best_hits += row_best
    n_rows = risk.shape[0]
    return _Scores(coverage, hits, counts.sum(), selected, n_rows * total, best_hits)


def _prefix_scores(risk, counts, weights, budgets) -> tuple[np.ndarray, np.ndarray]:
    """Hits and area of the longest risk-ranked prefix within each area budget."""
    order = np.argsort(-risk, kind="stable")
    cum_area = _cumulative_area(weights, order)
    cum_hits = np.cumsum(counts[order])
    n_selected = np.searchsorted(cum_area, _budget(budgets), side="right")
    last = np.maximum(n_selected - 1, 0)
    some = n_selected > 0
    return np.where(some, cum_hits[last], 0.0), np.where(some, cum_area[last], 0.0)


def _best_cell(counts, weights, by_area, budgets) -> np.ndarray:
    """Most events in one cell of area within each budget (0 if no cell fits)."""
    most = np.maximum.accumulate(counts[by_area])
    n_fit = np.searchsorted(weights[by_area], _budget(budgets), side="right")
    return np.where(n_fit > 0, most[np.maximum(n_fit - 1, 0)], 0.0)


def _cumulative_area(weights, order) -> np.ndarray:
    if weights is None:
        return np.arange(1, order.size + 1, dtype=np.float64)
    return np.cumsum(weights[order])


def _budget(area):
    return np.asarray(area, dtype=np.float64) * (1 + _AREA_RTOL)


def _float_array(values, name: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} must be an array of numbers, got {type(values).__name__}."
        ) from None
    return array


def _risk_array(risk) -> np.ndarray:
    risk = _float_array(risk, "risk")
    n_nan = int(np.isnan(risk).sum())
    if n_nan:
        raise ValueError(
            f"risk has {n_nan} NaN value{'s' if n_nan > 1 else ''} (of {risk.size}); NaN "
            "cannot be ranked. Fill them (e.g. np.nan_to_num(risk, nan=0.0)) or fix the model."
        )
    return risk


def _counts_array(counts) -> np.ndarray:
    counts = _float_array(counts, "counts")
    bad = ~np.isfinite(counts)
    if bad.any():
        raise ValueError(f"counts has {int(bad.sum())} NaN or infinite values; counts are events.")
    negative = counts < 0
    if negative.any():
        raise ValueError(
            f"counts has {int(negative.sum())} negative values (smallest {counts.min():g}); "
            "counts of events must be >= 0."
        )
    return counts


def _area_array(area, n_cells: int) -> np.ndarray | None:
    if area is None:
        return None
    weights = _float_array(area, "area")
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


def _coverage(coverage) -> float:
    if isinstance(coverage, (bool, np.bool_)) or not isinstance(coverage, numbers.Real):
        raise TypeError(f"coverage must be a number in (0, 1], got {coverage!r}.")
    coverage = float(coverage)
    if not 0 < coverage <= 1:
        raise ValueError(
            f"coverage={coverage!r} must be a share of the area in (0, 1], e.g. 0.05 for 5%."
        )
    return coverage
