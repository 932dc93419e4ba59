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
from dataclasses import dataclass

import numpy as np
import pandas as pd

from caslite._core import top_cells
from caslite._feedback import FeedbackResult, simulate_feedback
from caslite._inequality import gini
from caslite._validation import check_same_crs, check_share
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
    check_share(top_share, "top_share", "(0, 1]", what="a share of the cells", example=0.01)
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
