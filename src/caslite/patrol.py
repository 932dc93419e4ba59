"""Patrol plans: the hot cells of every shift, with an optional share chosen at random.

A plan that only ever sends patrols to the cells the model ranks highest only ever looks
there, and what patrols find there feeds the next forecast: a self-confirming loop (Ensign et
al., 2018; see :func:`caslite.audits.simulate_feedback`). :func:`select_hot_cells` keeps a
share of the area budget for **exploration**: cells drawn at random, with a probability that
does not depend on the model's risk.

- :func:`select_hot_cells` — the cells of one block: the top cells, plus random ones;
- :func:`patrol_plan` — the same for every block of a :class:`caslite.Forecast`, as the table
  of :meth:`caslite.Forecast.top` with a column ``explore``.

References
----------
Ensign, D., Friedler, S. A., Neville, S., Scheidegger, C., Venkatasubramanian, S. (2018).
Runaway feedback loops in predictive policing. *Proceedings of Machine Learning Research* 81
(FAT* 2018), 160-171.

Efraimidis, P. S., Spirakis, P. G. (2006). Weighted random sampling with a reservoir.
*Information Processing Letters* 97(5), 181-185.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from caslite._core import area_budget, cumulative_area, top_cells
from caslite._validation import check_share

__all__ = ["patrol_plan", "select_hot_cells"]


def _exploration(exploration) -> float:
    return check_share(
        exploration,
        "exploration",
        "[0, 1)",
        what="a share of the area budget",
        example="0.1 to patrol 10% of the hot-spot area at random; 0 for none",
    )


def _select(risk, coverage, area, exploration, rng) -> tuple[np.ndarray, int]:
    """Return the selected cells (top cells first, then random ones) and how many are top."""
    top = top_cells(risk, coverage, area=area)  # validates risk, coverage and area
    exploration = _exploration(exploration)
    if exploration == 0:
        return top, top.size
    risk = np.asarray(risk, dtype=np.float64)
    weights = np.ones(risk.size) if area is None else np.asarray(area, dtype=np.float64)
    order = np.argsort(-risk, kind="stable")
    cum_area = cumulative_area(None if area is None else weights, order)
    budget = float(coverage) * cum_area[-1]
    # The top part: the prefix of the ranking (within the top_cells selection) whose area is
    # nearest to (1 - exploration) of the budget; on a tie the shorter one.
    prefix_area = np.concatenate([[0.0], cum_area[: top.size]])
    n_top = int(np.argmin(np.abs(prefix_area - (1 - exploration) * budget)))
    # The random part: the other cells in a random order where each next cell is drawn with a
    # probability proportional to its area (exponential clocks of rate = area ring in that
    # order; Efraimidis & Spirakis, 2006), cut at the longest prefix within what is left of
    # the budget, as top_cells cuts the ranking.
    rest = order[n_top:]
    clocks = rng.exponential(size=rest.size) / weights[rest]
    drawn = rest[np.argsort(clocks, kind="stable")]
    left = area_budget(budget) - prefix_area[n_top]
    n_drawn = int(np.searchsorted(np.cumsum(weights[drawn]), left, side="right"))
    return np.concatenate([order[:n_top], drawn[:n_drawn]]).astype(np.int64), n_top


def select_hot_cells(risk, coverage, *, area=None, exploration=0.0, random_state=None):
    """Return the hot cells of one block: the top cells, and a share of the area at random.

    Parameters
    ----------
    risk : array-like of float, shape (n_cells,)
        Risk of each cell in the block; ranked as in :func:`caslite.evaluation.top_cells`
        (highest first, ties by the lower cell id).
    coverage : float
        Share of the total area to select, in (0, 1].
    area : array-like of float, shape (n_cells,), optional
        Area of each cell (e.g. :attr:`caslite.Grid.area_fraction`); default 1 each.
    exploration : float, default 0.0
        Share of the area budget, in [0, 1), given to cells drawn at random. ``0`` returns
        exactly ``top_cells(risk, coverage, area=area)``.
    random_state : int, numpy.random.Generator or None
        Seed of the random draw (:func:`numpy.random.default_rng`).

    Returns
    -------
    ndarray of int64
        Cell ids: the top cells in rank order, then the random cells in the order drawn.

    Notes
    -----
    The budget is ``B = coverage * area.sum()``. The top part is the prefix of the
    :func:`~caslite.evaluation.top_cells` selection whose area is nearest to
    ``(1 - exploration) * B`` (on a tie, the shorter prefix). The rest of the budget, ``B``
    minus the top part's area, goes to cells drawn at random without replacement from the
    cells not already chosen, each draw **proportional to the cell's area** (every unit of
    area equally likely), until the next drawn cell does not fit. With unit areas that is a
    uniform draw of ``floor(B) - n_top`` cells. The random share of the area is therefore
    ``exploration`` up to rounding to whole cells, and the whole selection stays within
    ``B``.

    The draw ignores the risk on purpose. Exploration is there to observe cells the model
    does not point to, with a chance of being patrolled that the model's own (possibly
    self-confirmed) risk does not steer; a draw proportional to risk would spend the
    exploration where the model already looks, and is what the feedback loops of Ensign et
    al. (2018) feed on. A known, risk-free draw also gives each cell a known probability of
    being patrolled, the inverse-probability weights that correct discovered incidents
    (``mitigation="downweight"`` in :func:`caslite.audits.simulate_feedback`).

    Examples
    --------
    >>> risk = [0.9, 0.1, 0.5, 0.0, 0.7, 0.3, 0.2, 0.05, 0.6, 0.4]
    >>> select_hot_cells(risk, 0.4).tolist()  # the top 4 cells, as top_cells
    [0, 4, 8, 2]
    >>> cells = select_hot_cells(risk, 0.4, exploration=0.25, random_state=1)
    >>> cells[:3].tolist(), len(cells)  # 3 top cells and 1 of the other 7 at random
    ([0, 4, 8], 4)
    """
    rng = np.random.default_rng(random_state)
    return _select(risk, coverage, area, exploration, rng)[0]


def patrol_plan(forecast, coverage=0.03, *, exploration=0.0, random_state=None):
    """Return the hot cells of every block of a forecast, with a share chosen at random.

    Parameters
    ----------
    forecast : Forecast
        The forecast.
    coverage : float, default 0.03
        Share of the grid's area to patrol in every block, in (0, 1].
    exploration : float, default 0.0
        Share of that area given to cells drawn at random (see :func:`select_hot_cells`).
    random_state : int, numpy.random.Generator or None
        Seed: the same seed gives the same plan; every block gets its own draw.

    Returns
    -------
    geopandas.GeoDataFrame
        The columns of :meth:`caslite.Forecast.top` with ``per="block"`` (``shift_start``,
        ``shift_end``, ``label``, ``cell_id``, ``x``, ``y``, ``risk``, ``probability``,
        ``rank``, geometry), and ``explore``: True for the cells drawn at random. ``rank`` is
        the cell's rank by risk among all cells of the block (1 = highest, ties by the lower
        cell id), so for the top cells it is their position, as in ``Forecast.top``, and for
        the random cells it shows how far down the ranking they were. Within a block the top
        cells come first, then the random ones in the order drawn. With ``exploration=0``
        the table is ``forecast.top(coverage)`` with ``explore`` all False.

    Examples
    --------
    >>> import numpy as np
    >>> from shapely.geometry import box
    >>> from caslite import Forecast, Grid, ShiftSchedule
    >>> grid = Grid.from_area(box(0, 0, 1250, 125), cell_size=125.0, crs="EPSG:28992")
    >>> blocks = ShiftSchedule.every(12, tz="Europe/Amsterdam").horizon("2024-03-11", "1D")
    >>> risk = np.linspace(1.0, 0.1, 20).reshape(2, 10)
    >>> forecast = Forecast(risk, blocks, grid, origin=blocks.start[0])
    >>> plan = patrol_plan(forecast, 0.4, exploration=0.25, random_state=0)
    >>> plan.groupby("label")["explore"].sum().tolist()  # 1 of 4 cells per block at random
    [1, 1]
    """
    import geopandas

    from caslite.forecast import Forecast

    if not isinstance(forecast, Forecast):
        raise TypeError(f"forecast must be a caslite Forecast, got {type(forecast).__name__}.")
    rng = np.random.default_rng(random_state)
    area = forecast.grid.area_fraction
    n_cells = forecast.grid.n_cells
    picked_block, picked_cell, ranks, explore = [], [], [], []
    for b, risk in enumerate(forecast.risk):
        cells, n_top = _select(risk, coverage, area, exploration, rng)
        rank = np.empty(n_cells, dtype=np.int64)
        rank[np.argsort(-risk, kind="stable")] = np.arange(1, n_cells + 1)
        picked_block.append(np.full(cells.size, b))
        picked_cell.append(cells)
        ranks.append(rank[cells])
        explore.append(np.arange(cells.size) >= n_top)
    frame = forecast.blocks.to_frame()
    tz = forecast.blocks.schedule.tz
    block = np.concatenate(picked_block).astype(np.int64)
    cell = np.concatenate(picked_cell).astype(np.int64)
    risk = forecast.risk[block, cell]
    out = pd.DataFrame(
        {
            "shift_start": pd.DatetimeIndex(frame["block_start"].to_numpy()[block]).tz_convert(tz),
            "shift_end": pd.DatetimeIndex(frame["block_end"].to_numpy()[block]).tz_convert(tz),
            "label": frame["label"].to_numpy()[block],
            "cell_id": cell,
            "x": forecast.grid.x[cell],
            "y": forecast.grid.y[cell],
            "risk": risk,
            "probability": -np.expm1(-risk),
            "rank": np.concatenate(ranks).astype(np.int64),
            "explore": np.concatenate(explore).astype(bool),
        }
    )
    squares = forecast.grid.to_geodataframe().geometry.to_numpy()
    return geopandas.GeoDataFrame(out, geometry=squares[cell], crs=forecast.grid.crs)
