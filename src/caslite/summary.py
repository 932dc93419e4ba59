"""A first look at incident data on the grid and the shifts: counts, a table and a map."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from caslite._atomic import atomic_path, save_figure
from caslite._time import DAY
from caslite._validation import warn_user
from caslite.events import Events
from caslite.grid import Grid
from caslite.shifts import ShiftSchedule

__all__ = ["IncidentSummary", "summarize_incidents"]


@dataclass(frozen=True)
class IncidentSummary:
    """What :func:`summarize_incidents` found and wrote.

    Attributes
    ----------
    text : str
        Human-readable summary.
    table : pandas.DataFrame
        One row per cell with at least one incident: ``cell_id``, ``x``, ``y`` (centre),
        ``incidents`` (whole period), ``recent`` (last ``days`` days), and recent counts per
        shift, sorted by ``recent`` then ``incidents`` (descending) then ``cell_id``.
    grid : Grid
    schedule : ShiftSchedule
    files : list of pathlib.Path
        Files written (empty when no output folder was given).
    """

    text: str
    table: pd.DataFrame
    grid: Grid
    schedule: ShiftSchedule
    files: list = field(default_factory=list)


def summarize_incidents(
    events: Events, *, cell_size=125.0, days=90, schedule=None, area=None, out=None, title=None
) -> IncidentSummary:
    """Count incidents per cell and shift, and optionally write a CSV table and a PNG map.

    The grid covers ``area``, or is derived from the events (:meth:`Grid.from_events`,
    default rule); the recent window is the ``days`` days up to the last incident.

    Parameters
    ----------
    events : Events
        The incidents.
    cell_size : float, default 125
        Cell side in metres.
    days : int, default 90
        Length of the recent window.
    schedule : ShiftSchedule, optional
        Default: six 4-hour blocks in the events' time zone.
    area : GeoDataFrame, GeoSeries or shapely geometry, optional
        The study area (as for :meth:`Grid.from_area`, in the events' CRS); incidents
        outside it count in no cell.
    out : str or pathlib.Path, optional
        Folder for ``incidents_per_cell.csv`` and ``recent_incidents.png``.
    title : str, optional
        Name of the data in the text and the map.

    Returns
    -------
    IncidentSummary

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"t": ["2019-03-01 10:00", "2019-03-02 22:00"],
    ...                       "x": [628000.0, 628010.0], "y": [4835000.0, 4835000.0]})
    >>> events = Events.from_frame(frame, crs="EPSG:32617", tz="America/Toronto")
    >>> summary = summarize_incidents(events, days=7)
    >>> summary.table[["incidents", "recent"]].values.tolist()
    [[2, 2]]
    """
    if not len(events):
        raise ValueError("no incidents to summarise: the events are empty.")
    if days <= 0:
        raise ValueError(f"days={days!r} must be a positive number of days.")
    schedule = schedule or ShiftSchedule(tz=events.tz)
    if area is None:
        grid = Grid.from_events(events, cell_size=cell_size)
        cells = grid.cell_of(events.x, events.y)
    else:
        grid = Grid.from_area(area, cell_size=cell_size, crs=events.crs)
        cells = grid.cell_of(events.x, events.y)
        outside = cells < 0
        if outside.all():
            raise ValueError(
                f"none of the {len(events):,} incidents lies in the study area; check that the "
                "area is in the incidents' CRS and covers them."
            )
        if outside.any():
            warn_user(
                f"{int(outside.sum()):,} of {len(events):,} incidents lie outside the study area "
                "and count in no cell."
            )
        events = events.select(~outside)
        cells = cells[~outside]
    recent = events.t >= events.t[-1] - days * DAY
    shift = schedule.shift_of(schedule.block_of(events.t))

    table = pd.DataFrame({"cell_id": np.arange(grid.n_cells), "x": grid.x, "y": grid.y})
    table["incidents"] = np.bincount(cells, minlength=grid.n_cells)
    table["recent"] = np.bincount(cells[recent], minlength=grid.n_cells)
    for number, label in enumerate(schedule.labels):
        chosen = recent & (shift == number)
        table[f"recent_{label}"] = np.bincount(cells[chosen], minlength=grid.n_cells)
    table = table[table["incidents"] > 0].sort_values(
        ["recent", "incidents", "cell_id"], ascending=[False, False, True], kind="stable"
    )
    text = _describe(events, grid, schedule, table, recent, shift, days, title)

    files = []
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        table_path = out / "incidents_per_cell.csv"
        with atomic_path(table_path) as temporary:
            table.to_csv(temporary, index=False)
        map_path = out / "recent_incidents.png"
        _write_map(grid, table, map_path, f"{title or 'incidents'}: last {days} days")
        files = [table_path, map_path]
    return IncidentSummary(text=text, table=table.reset_index(drop=True), grid=grid,
                           schedule=schedule, files=files)  # fmt: skip


def _describe(events, grid, schedule, table, recent, shift, days, title) -> str:
    first, last = events.times[[0, -1]]
    n_recent = int(recent.sum())
    per_shift = ", ".join(
        f"{label}: {int((recent & (shift == k)).sum())}" for k, label in enumerate(schedule.labels)
    )
    ranked = np.sort(table["recent"].to_numpy())[::-1]
    top = max(1, int(np.ceil(0.03 * grid.n_cells)))
    share = ranked[:top].sum() / n_recent if n_recent else float("nan")
    report = events.report
    lines = [
        f"{title or 'incidents'}: {len(events):,} incidents, {first:%Y-%m-%d %H:%M} .. "
        f"{last:%Y-%m-%d %H:%M} ({events.tz})",
        f"  duplicates found: {report.get('duplicates', 0):,}; times moved out of a DST gap: "
        f"{report.get('nonexistent_times', 0)}; ambiguous DST times: "
        f"{report.get('ambiguous_times', 0)}",
    ]
    if "filter" in report:
        kept = report["filter"]
        lines.append(
            f"  filter {kept['expression']!r}: kept {kept['rows_kept']:,} of "
            f"{kept['rows_read']:,} rows read (removed {kept['rows_removed']:,}) before the "
            "rows were checked"
        )
    lines += [
        f"grid: {grid!r}",
        f"shifts: {len(schedule.labels)} per day ({', '.join(schedule.labels)})",
        f"last {days} days: {n_recent:,} incidents in {int((table['recent'] > 0).sum()):,} cells",
        f"  per shift: {per_shift}",
        f"  the busiest 3% of cells ({top:,}) hold {share:.1%} of them",
    ]
    return "\n".join(lines)


def _write_map(grid, table, path, title) -> None:
    from caslite.plot import plot_cells

    values = np.zeros(grid.n_cells)
    values[table["cell_id"].to_numpy()] = table["recent"].to_numpy()
    ax = plot_cells(grid, values, label="incidents per cell", title=title)
    save_figure(ax.figure, path, dpi=120)
