"""Audits of where a forecast sends patrols: how concentrated the flags are, and on whom.

A hot-spot forecast flags the top cells of every shift. Two questions matter before acting on
it, and neither CAS nor PredPol answered them in the open:

- **Exposure concentration** (:func:`exposure_concentration`): do the same few cells get
  flagged shift after shift? Reported as the share of all flags that fall on the most-flagged
  1 % of cells, the Gini coefficient of flags per cell, how many distinct cells are ever
  flagged, and how often a cell flagged in one shift is flagged again in the next.
- **Exposure by group** (:func:`exposure_by_group`): which neighbourhoods (or any polygons
  with an attribute the user gives) receive the flags, compared with their share of the area.

:func:`audit` runs both on a :class:`caslite.Forecast` in one call.

- **Feedback loops** (:func:`simulate_feedback`): what happens when patrols sent by the
  forecast find incidents that feed the next forecast, in the style of Ensign et al.
  (2018): how fast the flags lock onto the cells patrolled first, and how excluding or
  re-weighting discovered incidents, or exploration (:mod:`caslite.patrol`), counter it.

Flags are a boolean array ``flags[block, cell]`` (True where the cell is a hot spot in that
block), e.g. from :func:`flags_of`. Each flag counts once, whatever the cell's area.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd

from caslite._core import top_cells
from caslite._validation import check_same_crs
from caslite.grid import Grid

__all__ = [
    "AuditReport",
    "FeedbackResult",
    "audit",
    "exposure_by_group",
    "exposure_concentration",
    "flags_of",
    "simulate_feedback",
]


def flags_of(forecast, coverage=0.03, *, per="block") -> np.ndarray:
    """Return the hot-spot flags of a forecast as a boolean array ``(n_blocks, n_cells)``.

    Parameters
    ----------
    forecast : Forecast
        The forecast to audit.
    coverage : float, default 0.03
        Share of the area flagged, as in :meth:`caslite.Forecast.top`.
    per : {"block", "horizon"}, default "block"
        ``"block"``: the top cells of every block; ``"horizon"``: the horizon's top cells,
        flagged in every block.

    Returns
    -------
    ndarray of bool, shape (n_blocks, n_cells)

    Examples
    --------
    >>> import numpy as np
    >>> from shapely.geometry import box
    >>> from caslite import Forecast, Grid, ShiftSchedule
    >>> grid = Grid.from_area(box(0, 0, 500, 125), cell_size=125.0, crs="EPSG:28992")
    >>> blocks = ShiftSchedule.every(12, tz="Europe/Amsterdam").horizon("2024-03-11", "1D")
    >>> risk = np.array([[0.4, 0.1, 0.0, 0.2], [0.0, 0.3, 0.1, 0.2]])
    >>> flags_of(Forecast(risk, blocks, grid, origin=blocks.start[0]), 0.25).astype(int)
    array([[1, 0, 0, 0],
           [0, 1, 0, 0]])
    """
    from caslite.forecast import Forecast

    if not isinstance(forecast, Forecast):
        raise TypeError(f"forecast must be a caslite Forecast, got {type(forecast).__name__}.")
    if per not in ("block", "horizon"):
        raise ValueError(f"per must be 'block' or 'horizon', got {per!r}.")
    area = forecast.grid.area_fraction
    flags = np.zeros(forecast.risk.shape, dtype=bool)
    if per == "horizon":
        flags[:, top_cells(forecast.total(), coverage, area=area)] = True
        return flags
    for b, risk in enumerate(forecast.risk):
        flags[b, top_cells(risk, coverage, area=area)] = True
    return flags


def _flags_array(flags) -> np.ndarray:
    flags = np.asarray(flags)
    if flags.ndim != 2:
        raise ValueError(
            f"flags must be 2-d, (n_blocks, n_cells), got shape {flags.shape}; for one block "
            "pass flags[None, :]."
        )
    if flags.dtype != bool:
        if not np.isin(flags, (0, 1)).all():
            raise ValueError(
                "flags must be booleans (True where a cell is a hot spot in a block), or 0/1; "
                "got other values."
            )
        flags = flags.astype(bool)
    if flags.shape[1] == 0:
        raise ValueError("flags has no cells (shape[1] == 0).")
    return flags


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


def exposure_concentration(flags, *, top_share=0.01) -> pd.Series:
    """Summarise how concentrated the flags are over cells and how persistent over blocks.

    Parameters
    ----------
    flags : array-like of bool, shape (n_blocks, n_cells)
        True where a cell is a hot spot in a block (see :func:`flags_of`).
    top_share : float, default 0.01
        The share of cells counted as "the most-flagged cells": ``ceil(top_share * n_cells)``
        cells, those with the most flags (ties: lower cell id first).

    Returns
    -------
    pandas.Series
        - ``n_blocks``, ``n_cells``, ``n_flags``: sizes and the total number of flags;
        - ``cells_ever_flagged``: distinct cells flagged at least once, and
          ``share_of_cells_ever_flagged`` of all cells;
        - ``share_of_flags_on_top_cells``: the share of the flags that fall on the
          most-flagged ``top_share`` of cells (0.03 coverage spread evenly over all cells
          would put about ``top_share`` of the flags there);
        - ``gini``: the Gini coefficient of flags per cell over all cells (0: every cell
          flagged equally often; 1 - coverage when the same cells are flagged in every block);
        - ``mean_flags_per_flagged_cell``: over the cells flagged at least once;
        - ``repeat_share``: of the flags in blocks 2 .. n, the share on a cell also flagged in
          the block before (NaN with one block).

    Examples
    --------
    >>> flags = [[1, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0]]
    >>> s = exposure_concentration(flags, top_share=0.25)
    >>> s["share_of_flags_on_top_cells"], s["cells_ever_flagged"], s["repeat_share"]
    (0.6666666666666666, 2, 0.5)
    """
    flags = _flags_array(flags)
    if isinstance(top_share, bool) or not isinstance(top_share, numbers.Real):
        raise TypeError(f"top_share must be a number in (0, 1], got {top_share!r}.")
    if not 0 < top_share <= 1:
        raise ValueError(f"top_share must be in (0, 1], got {top_share!r}.")
    n_blocks, n_cells = flags.shape
    per_cell = flags.sum(axis=0).astype(np.float64)
    n_flags = int(per_cell.sum())
    if n_flags == 0:
        raise ValueError("flags has no True value: nothing was flagged, nothing to audit.")
    k = max(1, math.ceil(top_share * n_cells - 1e-9))
    most = np.argsort(-per_cell, kind="stable")[:k]
    ever = per_cell > 0
    if n_blocks > 1:
        later = flags[1:].sum()
        repeat = float((flags[1:] & flags[:-1]).sum() / later) if later else math.nan
    else:
        repeat = math.nan
    return pd.Series(
        {
            "n_blocks": n_blocks,
            "n_cells": n_cells,
            "n_flags": n_flags,
            "cells_ever_flagged": int(ever.sum()),
            "share_of_cells_ever_flagged": float(ever.mean()),
            "share_of_flags_on_top_cells": float(per_cell[most].sum() / n_flags),
            "gini": gini(per_cell),
            "mean_flags_per_flagged_cell": float(per_cell[ever].mean()),
            "repeat_share": repeat,
        },
        dtype=object,
    )


def _cell_group_overlap(grid: Grid, groups, by: str) -> tuple[pd.DataFrame, list]:
    """Area of every (cell, group) intersection, as a share of a full cell's area."""
    import geopandas

    if not isinstance(groups, geopandas.GeoDataFrame):
        raise TypeError(f"groups must be a GeoDataFrame of polygons, got {type(groups).__name__}.")
    if by not in groups.columns:
        raise ValueError(
            f"groups has no column {by!r}; its columns are {list(groups.columns)}. Pass by= "
            "the column that names each polygon's group."
        )
    if groups.crs is None:
        raise ValueError(
            "groups has no CRS; set it with groups.set_crs(...) (the grid's CRS is "
            f"{grid.crs.to_string()})."
        )
    check_same_crs(groups.crs, grid.crs, "groups", "the grid")
    kinds = set(groups.geom_type.dropna())
    if not kinds <= {"Polygon", "MultiPolygon"}:
        raise ValueError(
            f"groups must hold polygons, got geometry types {sorted(kinds)}; point or line "
            "layers have no area to weigh cells by."
        )
    cells = grid.to_geodataframe()[["cell_id", "area_fraction", "geometry"]]
    pieces = geopandas.overlay(
        cells, groups[[by, "geometry"]], how="intersection", keep_geom_type=True
    )
    pieces["share"] = pieces.geometry.area / grid.cell_size**2
    order = list(pd.unique(groups[by]))
    return pieces[["cell_id", by, "share"]], order


def exposure_by_group(flags, grid, groups, *, by) -> pd.DataFrame:
    """Return the share of the area and of the flags that falls in each group of polygons.

    A cell split between polygons gives each the share of its area inside it; a flag on that
    cell is split the same way. The area of cells outside every polygon (and their flags) is
    reported in a row ``"(outside the groups)"``, so that the shares add up to 1.

    Parameters
    ----------
    flags : array-like of bool, shape (n_blocks, grid.n_cells)
        True where a cell is a hot spot in a block (see :func:`flags_of`).
    grid : Grid
        The cells the flags refer to.
    groups : geopandas.GeoDataFrame
        Polygons in the grid's CRS (a mismatch raises), e.g. neighbourhoods with a column of
        names or of a category. Overlapping polygons would count an area twice: pass a
        partition.
    by : str
        Column of ``groups`` whose values name the groups; polygons with the same value are
        one group.

    Returns
    -------
    pandas.DataFrame
        Indexed by group: ``area`` (in full cells of the grid, within the study area),
        ``area_share``, ``flags`` (flags, split by area), ``flag_share``, and ``ratio`` =
        flag_share / area_share (1: flagged in proportion to its area; NaN for no area).

    Examples
    --------
    >>> import geopandas
    >>> from shapely.geometry import box
    >>> grid = Grid.from_area(box(0, 0, 500, 125), cell_size=125.0, crs="EPSG:28992")
    >>> groups = geopandas.GeoDataFrame(
    ...     {"name": ["west", "east"]},
    ...     geometry=[box(0, 0, 250, 125), box(250, 0, 500, 125)], crs="EPSG:28992")
    >>> flags = [[1, 0, 0, 0], [1, 0, 1, 0]]
    >>> exposure_by_group(flags, grid, groups, by="name")[["area_share", "flag_share", "ratio"]]
          area_share  flag_share     ratio
    west         0.5    0.666667  1.333333
    east         0.5    0.333333  0.666667
    """
    if not isinstance(grid, Grid):
        raise TypeError(f"grid must be a caslite Grid, got {type(grid).__name__}.")
    flags = _flags_array(flags)
    if flags.shape[1] != grid.n_cells:
        raise ValueError(
            f"flags has {flags.shape[1]} cells, but the grid has {grid.n_cells}; pass the "
            "grid the forecast was made on."
        )
    pieces, order = _cell_group_overlap(grid, groups, by)
    # A piece is the part of a full cell square inside a group. For a boundary cell (only
    # part of it in the study area) its in-area part is taken as proportional to the cell's
    # area fraction: exact for whole cells, an approximation on the boundary.
    cell_of_piece = pieces["cell_id"].to_numpy()
    share = pieces["share"].to_numpy()
    per_cell_flags = flags.sum(axis=0).astype(np.float64)
    area = share * grid.area_fraction[cell_of_piece]
    flag_part = share * per_cell_flags[cell_of_piece]  # a flag is split by surface share
    frame = pd.DataFrame({by: pieces[by].to_numpy(), "area": area, "flags": flag_part})
    table = frame.groupby(by, sort=False)[["area", "flags"]].sum().reindex(order, fill_value=0)
    outside_area = float(grid.area_fraction.sum() - table["area"].sum())
    outside_flags = float(per_cell_flags.sum() - table["flags"].sum())
    if outside_area > 1e-9 * grid.n_cells or outside_flags > 1e-9 * max(per_cell_flags.sum(), 1):
        table.loc["(outside the groups)"] = [max(outside_area, 0.0), max(outside_flags, 0.0)]
    table.index.name = None
    table["area_share"] = table["area"] / grid.area_fraction.sum()
    table["flag_share"] = table["flags"] / per_cell_flags.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        table["ratio"] = np.where(
            table["area_share"] > 0, table["flag_share"] / table["area_share"], np.nan
        )
    return table[["area", "area_share", "flags", "flag_share", "ratio"]]


@dataclass(frozen=True)
class AuditReport:
    """What :func:`audit` found.

    Attributes
    ----------
    coverage : float
        Share of the area flagged per block.
    per : str
        ``"block"`` or ``"horizon"``, as in :meth:`caslite.Forecast.top`.
    concentration : pandas.Series
        :func:`exposure_concentration` of the flags.
    by_group : pandas.DataFrame or None
        :func:`exposure_by_group` of the flags, when groups were given.
    """

    coverage: float
    per: str
    concentration: pd.Series
    by_group: pd.DataFrame | None = None

    def to_markdown(self) -> str:
        """Return the report as markdown text."""
        c = self.concentration
        lines = [
            f"Hot cells: {self.coverage:.1%} of the area per {self.per}, {c['n_blocks']} "
            f"blocks, {c['n_cells']:,} cells, {c['n_flags']:,} flags.",
            "",
            "| measure | value |",
            "|---|---|",
        ]
        for key, value in c.items():
            text = f"{value:.3f}" if isinstance(value, float) else f"{value:,}"
            lines.append(f"| {key} | {text} |")
        if self.by_group is not None:
            lines += ["", "| group | area share | flag share | ratio |", "|---|---|---|---|"]
            for name, row in self.by_group.iterrows():
                lines.append(
                    f"| {name} | {row['area_share']:.3f} | {row['flag_share']:.3f} "
                    f"| {row['ratio']:.2f} |"
                )
        return "\n".join(lines)


def audit(forecast, coverage=0.03, *, per="block", groups=None, by=None, top_share=0.01):
    """Audit where a forecast's hot cells send patrols, in one call.

    Parameters
    ----------
    forecast : Forecast
        The forecast.
    coverage : float, default 0.03
        Share of the area flagged, as in :meth:`caslite.Forecast.top`.
    per : {"block", "horizon"}, default "block"
        Flag the top cells of every block, or the horizon's top cells in every block.
    groups : geopandas.GeoDataFrame, optional
        Polygons to compare exposure across (see :func:`exposure_by_group`); needs ``by``.
    by : str, optional
        The column of ``groups`` that names the groups.
    top_share : float, default 0.01
        See :func:`exposure_concentration`.

    Returns
    -------
    AuditReport

    Examples
    --------
    >>> import numpy as np
    >>> from shapely.geometry import box
    >>> from caslite import Forecast, Grid, ShiftSchedule
    >>> grid = Grid.from_area(box(0, 0, 500, 125), cell_size=125.0, crs="EPSG:28992")
    >>> blocks = ShiftSchedule.every(12, tz="Europe/Amsterdam").horizon("2024-03-11", "1D")
    >>> risk = np.array([[0.4, 0.1, 0.0, 0.2], [0.3, 0.1, 0.1, 0.2]])
    >>> report = audit(Forecast(risk, blocks, grid, origin=blocks.start[0]), 0.25)
    >>> float(report.concentration["gini"]), float(report.concentration["repeat_share"])
    (0.75, 1.0)
    """
    if (groups is None) != (by is None):
        raise TypeError("give groups= and by= together (polygons and the column naming them).")
    flags = flags_of(forecast, coverage, per=per)
    by_group = None
    if groups is not None:
        by_group = exposure_by_group(flags, forecast.grid, groups, by=by)
    return AuditReport(
        coverage=float(coverage),
        per=per,
        concentration=exposure_concentration(flags, top_share=top_share),
        by_group=by_group,
    )


# ---------------------------------------------------------------------- feedback loops
_MITIGATIONS = (None, "exclude_discovered", "downweight")


def _share(value, name: str, low_open: bool = False) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a probability in [0, 1], got {value!r}.")
    value = float(value)
    if not (0 < value <= 1 if low_open else 0 <= value <= 1):
        interval = "(0, 1]" if low_open else "[0, 1]"
        raise ValueError(f"{name}={value!r} must be a probability in {interval}.")
    return value


def _tvd(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Total variation distance between rows of distributions ``p`` and a distribution ``q``."""
    return 0.5 * np.abs(p - q).sum(axis=-1)


@dataclass(frozen=True, eq=False)
class FeedbackResult:
    """What :func:`simulate_feedback` recorded, round by round.

    Attributes
    ----------
    true_rate : ndarray of float, shape (n_cells,)
        Expected true incidents per cell and round.
    flags : ndarray of bool, shape (n_rounds, n_cells)
        The cells patrolled in each round.
    explore : ndarray of bool, shape (n_rounds, n_cells)
        The patrolled cells that were drawn at random (exploration).
    incidents, reported, discovered : ndarray of int, shape (n_rounds, n_cells)
        True incidents; those reported (seen whether patrolled or not); those found by a
        patrol only (not reported). The forecaster only sees ``reported`` and
        ``discovered``.
    score : ndarray of float, shape (n_rounds, n_cells)
        The forecaster's score of each cell when it chose the round's flags (from the
        rounds before only).
    params : dict
        The parameters of the simulation.
    """

    true_rate: np.ndarray
    flags: np.ndarray
    explore: np.ndarray
    incidents: np.ndarray
    reported: np.ndarray
    discovered: np.ndarray
    score: np.ndarray
    params: dict

    @property
    def flag_share(self) -> np.ndarray:
        """Share of the flags so far on each cell, after every round, ``(n_rounds, n_cells)``."""
        cumulative = np.cumsum(self.flags, axis=0, dtype=np.float64)
        return cumulative / cumulative.sum(axis=1, keepdims=True)

    @property
    def true_share(self) -> np.ndarray:
        """Share of the true rate in each cell, ``true_rate / true_rate.sum()``."""
        return self.true_rate / self.true_rate.sum()

    @property
    def estimate_share(self) -> np.ndarray:
        """The forecaster's score as shares of its total, before each round (NaN if all 0)."""
        total = self.score.sum(axis=1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(total > 0, self.score / total, np.nan)

    def to_frame(self) -> pd.DataFrame:
        """One row per round.

        Returns
        -------
        pandas.DataFrame
            Indexed by ``round`` (1 ..): ``n_flagged`` and ``n_explore`` (cells patrolled,
            of which at random); ``flag_area_share`` (share of the cells patrolled) and
            ``flagged_true_share`` (their share of the true rate: equal to
            ``flag_area_share`` when the patrols are no better than random, 1 when they
            hold all the true incidents); ``tvd``, the total variation distance between the
            cumulative flag shares and the true-rate shares (0: patrols so far in proportion
            to the true rates; near 1: all on cells of little true rate); ``gini`` of the
            cumulative flags per cell; ``estimate_tvd``, the same distance for the
            forecaster's score (its belief of where incidents happen); ``observed`` and
            ``discovered``, the incidents it saw in the round, of which found by patrols.
        """
        flags = self.flags
        n_flagged = flags.sum(axis=1)
        cumulative = np.cumsum(flags, axis=0, dtype=np.float64)
        gini_per_round = np.array([gini(row) for row in cumulative])
        return pd.DataFrame(
            {
                "n_flagged": n_flagged,
                "n_explore": self.explore.sum(axis=1),
                "flag_area_share": n_flagged / flags.shape[1],
                "flagged_true_share": (flags * self.true_share).sum(axis=1),
                "tvd": _tvd(self.flag_share, self.true_share),
                "gini": gini_per_round,
                "estimate_tvd": _tvd(self.estimate_share, self.true_share),
                "observed": (self.reported + self.discovered).sum(axis=1),
                "discovered": self.discovered.sum(axis=1),
            },
            index=pd.RangeIndex(1, flags.shape[0] + 1, name="round"),
        )

    def plot(self, *, ax=None, cells=None):
        """Draw the cumulative flag share of cells over the rounds, with their true shares.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Where to draw; a new figure (not registered with pyplot) when omitted.
        cells : array-like of int, optional
            The cells to draw; default all cells when there are at most 10, else the 10
            most flagged.

        Returns
        -------
        matplotlib.axes.Axes
        """
        from matplotlib.figure import Figure

        if ax is None:
            ax = Figure(figsize=(7, 4), layout="constrained").add_subplot()
        share = self.flag_share
        if cells is None:
            cells = np.argsort(-share[-1], kind="stable")[:10]
        cells = np.asarray(cells, dtype=np.int64)
        rounds = np.arange(1, share.shape[0] + 1)
        for cell in cells:
            (line,) = ax.plot(rounds, share[:, cell], label=f"cell {cell}")
            ax.axhline(self.true_share[cell], color=line.get_color(), linestyle=":", lw=1)
        mitigation = self.params["mitigation"]
        ax.set_title(
            f"mitigation={mitigation}, exploration={self.params['exploration']:g} "
            "(dotted: true share)"
        )
        ax.set_xlabel("round")
        ax.set_ylabel("share of the flags so far")
        ax.set_ylim(0, 1)
        ax.legend(loc="best", fontsize="small")
        return ax


def simulate_feedback(
    true_rate,
    *,
    n_rounds=200,
    coverage=0.1,
    discovery=0.5,
    reported=0.3,
    exploration=0.0,
    mitigation=None,
    half_life=None,
    random_state=None,
) -> FeedbackResult:
    """Simulate the feedback loop of a count-based hot-spot forecaster and its patrols.

    In the style of Ensign et al. (2018). Every round, each cell ``c`` has
    ``Poisson(true_rate[c])`` true incidents. Each is reported with probability
    ``reported``, whether the cell is patrolled or not; an unreported incident in a
    patrolled cell is discovered by the patrol with probability ``discovery``. The
    forecaster scores each cell by its observed incidents so far and patrols the top
    ``coverage`` of the cells in the next round (:func:`caslite.patrol.select_hot_cells`,
    with ``exploration``; ties: the lower cell id, so round 1 patrols the first cells).

    Parameters
    ----------
    true_rate : array-like of float, shape (n_cells,)
        Expected true incidents per cell and round; non-negative, with a positive sum, at
        least two cells.
    n_rounds : int, default 200
        Rounds to simulate.
    coverage : float, default 0.1
        Share of the cells patrolled per round, in (0, 1]; at least one cell.
    discovery : float, default 0.5
        Probability that a patrol finds an unreported incident in its cell.
    reported : float, default 0.3
        Probability that an incident is reported (seen everywhere).
    exploration : float, default 0.0
        Share of the patrolled cells drawn at random, in [0, 1) (see
        :func:`caslite.patrol.select_hot_cells`; cells here have equal areas, so the draw
        is uniform).
    mitigation : {None, "exclude_discovered", "downweight"}, default None
        How the forecaster counts discovered incidents: ``None`` like reported ones;
        ``"exclude_discovered"`` not at all (it learns from reported incidents only);
        ``"downweight"`` each weighted by the inverse of the probability that its cell was
        patrolled in that round (Horvitz-Thompson), which is 1 for the top cells and
        ``n_random / n_candidates`` for the cells exploration could draw; it needs
        ``exploration > 0``, as without it every patrolled cell had probability 1.
    half_life : float, optional
        Memory of the forecaster, in rounds: ``None`` sums all observed incidents; a number
        discounts a round's incidents by ``2 ** (-age / half_life)``.
    random_state : int, numpy.random.Generator or None
        Seed (:func:`numpy.random.default_rng`).

    Returns
    -------
    FeedbackResult

    Notes
    -----
    Expected observations per round: a patrolled cell ``c`` shows
    ``true_rate[c] * (reported + (1 - reported) * discovery)``, an unpatrolled one only
    ``true_rate[c] * reported``. Without mitigation a patrolled cell's score grows faster
    *because* it is patrolled: with equal true rates, the cells patrolled first pull ahead
    by ``true_rate * (1 - reported) * discovery`` per round on average, a lead that grows
    linearly while the noise grows as a square root, so the patrols lock onto them for
    good; the forecaster's score shares tend to
    ``(reported + (1 - reported) * discovery) / (k * (reported + (1 - reported) * discovery)
    + (n - k) * reported)`` for the ``k`` locked cells. A cell of lower true rate can even
    win: it keeps the patrols when
    ``rate_low * (reported + (1 - reported) * discovery) > rate_high * reported``.

    With ``"exclude_discovered"`` every cell's score grows at ``true_rate * reported``
    whoever is patrolled, so the score shares tend to the true shares; with
    ``"downweight"`` and exploration the weighted observations have expectation
    ``true_rate * (reported + (1 - reported) * discovery)`` in every cell, so they do too.
    Patrols that always go to the top cells still follow the leader of noisy, equal
    scores: with cumulative scores (``half_life=None``) the lead between cells of equal
    rate is a driftless random walk, which changes sign rarely (the arcsine law), so a
    single run can patrol one of two equal cells most of the time even with unbiased
    scores. A finite ``half_life`` makes the leader change often enough for the flag
    shares to approach the true split.

    References
    ----------
    Ensign, D., Friedler, S. A., Neville, S., Scheidegger, C., Venkatasubramanian, S. (2018).
    Runaway feedback loops in predictive policing. *Proceedings of Machine Learning
    Research* 81 (FAT* 2018), 160-171.

    Examples
    --------
    >>> result = simulate_feedback([1.0, 1.0], n_rounds=100, coverage=0.5, random_state=0)
    >>> result.flags[-50:].mean(axis=0).tolist()  # locked onto the cell patrolled first
    [1.0, 0.0]
    >>> result = simulate_feedback([1.0, 1.0], n_rounds=100, coverage=0.5,
    ...                            mitigation="exclude_discovered", random_state=0)
    >>> bool(abs(result.estimate_share[-1, 0] - 0.5) < 0.15)  # scores learn the 50/50 split
    True
    """
    from caslite.patrol import _exploration, _select

    rate = np.asarray(true_rate, dtype=np.float64)
    if rate.ndim != 1 or rate.size < 2:
        raise ValueError(
            f"true_rate must be 1-d with one rate per cell and at least 2 cells, got shape "
            f"{rate.shape}."
        )
    if not np.all(np.isfinite(rate)) or rate.min() < 0 or rate.sum() <= 0:
        raise ValueError(
            f"true_rate must be finite and non-negative with a positive sum (expected incidents "
            f"per round), got min {rate.min():g} and sum {rate.sum():g}."
        )
    if isinstance(n_rounds, bool) or not isinstance(n_rounds, numbers.Integral) or n_rounds < 1:
        raise ValueError(f"n_rounds must be a positive whole number, got {n_rounds!r}.")
    coverage = _share(coverage, "coverage", low_open=True)
    n_cells = rate.size
    if coverage * n_cells < 1 - 1e-9:
        raise ValueError(
            f"coverage={coverage:g} of {n_cells} cells is less than one cell; give coverage "
            f">= {1 / n_cells:g}."
        )
    discovery = _share(discovery, "discovery")
    reported = _share(reported, "reported")
    exploration = _exploration(exploration)
    if mitigation not in _MITIGATIONS:
        raise ValueError(
            f"mitigation must be None, 'exclude_discovered' or 'downweight', got {mitigation!r}."
        )
    if mitigation == "downweight" and exploration == 0:
        raise ValueError(
            "mitigation='downweight' weighs discovered incidents by 1 / P(cell patrolled); "
            "with exploration=0 every patrolled cell had probability 1, so it changes "
            "nothing. Give exploration > 0 (e.g. 0.2)."
        )
    if half_life is None:
        decay = 1.0
    else:
        if isinstance(half_life, bool) or not isinstance(half_life, numbers.Real):
            raise TypeError(f"half_life must be a number of rounds or None, got {half_life!r}.")
        if not (np.isfinite(half_life) and half_life > 0):
            raise ValueError(f"half_life must be a positive number of rounds, got {half_life!r}.")
        decay = 2.0 ** (-1.0 / float(half_life))
    rng = np.random.default_rng(random_state)
    shape = (int(n_rounds), n_cells)
    flags = np.zeros(shape, dtype=bool)
    explore = np.zeros(shape, dtype=bool)
    scores = np.zeros(shape)
    incidents = rng.poisson(rate, size=shape)
    seen = rng.binomial(incidents, reported)
    found = rng.binomial(incidents - seen, discovery)  # found only where patrolled, below
    score = np.zeros(n_cells)
    for t in range(shape[0]):
        scores[t] = score
        cells, n_top = _select(score, coverage, None, exploration, rng)
        flags[t, cells] = True
        explore[t, cells[n_top:]] = True
        found[t] *= flags[t]
        if mitigation is None:
            new = seen[t] + found[t]
        elif mitigation == "exclude_discovered":
            new = seen[t].astype(np.float64)
        else:
            n_random = cells.size - n_top
            propensity = np.full(n_cells, n_random / (n_cells - n_top))
            propensity[cells[:n_top]] = 1.0
            new = seen[t] + np.divide(
                found[t], propensity, out=np.zeros(n_cells), where=found[t] > 0
            )
        score = decay * score + new
    return FeedbackResult(
        true_rate=rate,
        flags=flags,
        explore=explore,
        incidents=incidents,
        reported=seen,
        discovered=found,
        score=scores,
        params={
            "n_rounds": int(n_rounds),
            "coverage": coverage,
            "discovery": discovery,
            "reported": reported,
            "exploration": exploration,
            "mitigation": mitigation,
            "half_life": half_life,
            "random_state": random_state,
        },
    )
