r"""The neighbourhood report: burglaries per neighbourhood for a recent period.

Police teams publish a fortnightly overview of burglaries per neighbourhood and brief
neighbourhood-watch coordinators with current figures. :func:`neighbourhood_report` counts the
incidents per neighbourhood in a period (default the last 14 days) against the same period a
year earlier and the mean of the 52 weeks before, and makes

- a table (:attr:`NeighbourhoodReport.table`, :meth:`NeighbourhoodReport.to_csv`);
- a figure: a bar chart per neighbourhood and a map of the neighbourhoods
  (:meth:`NeighbourhoodReport.figure`);
- a one-page HTML file, self-contained (inline style, images embedded) and readable on a phone
  (:meth:`NeighbourhoodReport.to_html`), in English or Dutch.

**Small counts.** So that no single incident can be identified, a count from 1 to
``min_count - 1`` (default 1 to 4) is published as the band ``"1-4"``, never as its value; 0 and
counts of ``min_count`` or more are published as they are. A 52-week mean is published only when
the 52 weeks hold at least ``min_count`` incidents (otherwise ``"low"``), and the change against
last year only when both counts are published exactly. No total is published (a total less the
exact rows would give away a banded one). The unbanded counts stay in
:attr:`NeighbourhoodReport.counts`, for the police. ``min_count=2`` is refused (its band would
be the exact value 1).

**The map.** Without polygons (``area_column=``) the map does not trace the incidents: it draws
each neighbourhood as the coarse grid squares (``outline_cell_m``, default 1 km) where it has
most incidents over all the incidents given, leaving out squares with fewer than ``min_count``.

**Periods.** The period is ``[end - days, end)`` in local calendar days; "a year earlier" is the
same period 52 weeks (364 days) back, so it holds the same weekdays; the 52-week mean is the
incidents of the 364 days before the period start times ``days / 364``.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import numbers
from pathlib import Path

import numpy as np
import pandas as pd

from caslite._atomic import atomic_path, write_text
from caslite._validation import check_same_crs

__all__ = ["NeighbourhoodReport", "neighbourhood_report"]

_OUTSIDE = {"en": "(outside the areas)", "nl": "(buiten de buurten)"}
_UNKNOWN = {"en": "(no neighbourhood)", "nl": "(geen buurt)"}
_WORDS = {
    "en": {
        "title": "Burglaries per neighbourhood",
        "area": "Neighbourhood",
        "count": "This period",
        "last_year": "Same period last year",
        "mean": "52-week mean",
        "change": "Change vs last year",
        "low": "low",
        "period": "Period",
        "to": "to",
        "note": (
            "Counts from 1 to {low} are shown as {band} so that no single incident can be "
            "identified; the 52-week mean is the number per {days} days over the 52 weeks "
            "before the period, shown only when those weeks hold at least {min} incidents. "
            '"Same period last year" is 52 weeks earlier (the same weekdays).'
        ),
        "bars": "Incidents per neighbourhood",
        "map": "This period, per neighbourhood",
        "made": "Made with caslite from police-recorded incidents.",
    },
    "nl": {
        "title": "Inbraken per buurt",
        "area": "Buurt",
        "count": "Deze periode",
        "last_year": "Zelfde periode vorig jaar",
        "mean": "Gemiddelde 52 weken",
        "change": "Verschil met vorig jaar",
        "low": "laag",
        "period": "Periode",
        "to": "tot",
        "note": (
            "Aantallen van 1 tot en met {low} staan er als {band}, zodat geen enkele inbraak "
            "herkenbaar is; het gemiddelde is het aantal per {days} dagen over de 52 weken voor "
            'de periode, alleen getoond als die weken minstens {min} inbraken tellen. "Zelfde '
            'periode vorig jaar" ligt 52 weken eerder (dezelfde weekdagen).'
        ),
        "bars": "Inbraken per buurt",
        "map": "Deze periode, per buurt",
        "made": "Gemaakt met caslite uit door de politie geregistreerde inbraken.",
    },
}
_MONTHS = {
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    "nl": ("jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec"),
}


def _band(count: int, min_count: int) -> str:
    if count == 0 or count >= min_count:
        return str(int(count))
    return f"1-{min_count - 1}"


def _date(stamp: pd.Timestamp, language: str) -> str:
    return f"{stamp.day} {_MONTHS[language][stamp.month - 1]} {stamp.year}"


@dataclasses.dataclass(frozen=True, eq=False)
class NeighbourhoodReport:
    """The result of :func:`neighbourhood_report`.

    Attributes
    ----------
    counts : pandas.DataFrame
        Unbanded, for the police: one row per neighbourhood (index) with ``count`` (this
        period), ``last_year`` (the same period 52 weeks earlier), ``count_52w`` (the 364 days
        before the period) and ``mean_52w`` (``count_52w * days / 364``).
    table : pandas.DataFrame
        The published table: the same rows with the banded text columns ``count``,
        ``last_year``, ``mean_52w`` and ``change`` (see the module notes), sorted by the
        published count (banded rows together, so the order does not give their values
        away), then by name.
    start, end : pandas.Timestamp
        The period ``[start, end)``, local time.
    days : int
    min_count : int
    language : str
    areas : geopandas.GeoDataFrame or None
        The neighbourhood polygons drawn on the map: the ones given, or (with
        ``area_column``) coarse outlines made of grid squares (see
        :func:`neighbourhood_report`, ``outline_cell_m``); None when there are none.
    """

    counts: pd.DataFrame
    table: pd.DataFrame
    start: pd.Timestamp
    end: pd.Timestamp
    days: int
    min_count: int
    language: str
    areas: object = None

    def __repr__(self) -> str:
        return (
            f"NeighbourhoodReport({len(self.counts)} neighbourhoods, {self.start:%Y-%m-%d} .. "
            f"{self.end:%Y-%m-%d}, {int(self.counts['count'].sum())} incidents)"
        )

    @property
    def words(self) -> dict:
        """The labels of the report in its language."""
        return _WORDS[self.language]

    @property
    def note(self) -> str:
        """How small counts are shown, in the report's language."""
        return self.words["note"].format(
            low=self.min_count - 1, band=_band(1, self.min_count), days=self.days,
            min=self.min_count,
        )  # fmt: skip

    def to_csv(self, path) -> Path:
        """Write the published (banded) table to a CSV file; return its path.

        The file is written beside ``path`` first and moved into place when complete
        (:mod:`caslite._atomic`): a failed write leaves an existing file as it was.

        Examples
        --------
        >>> import os, tempfile
        >>> from caslite.datasets import load_sample
        >>> events = load_sample("toronto").to_events(duplicates="drop")
        >>> report = neighbourhood_report(events, area_column="neighbourhood", end="2019-06-01")
        >>> folder = tempfile.mkdtemp()
        >>> report.to_csv(os.path.join(folder, "report.csv")).name
        'report.csv'
        >>> page = report.to_html(os.path.join(folder, "report.html"))
        >>> page.startswith("<!DOCTYPE html>"), sorted(os.listdir(folder))
        (True, ['report.csv', 'report.html'])
        """
        path = Path(path)
        with atomic_path(path) as temporary:
            self.table.to_csv(temporary, index=False)
        return path

    def figure(self, width: float = 7.0):
        """Return a matplotlib Figure: a bar chart per neighbourhood and a map.

        Parameters
        ----------
        width : float, default 7.0
            Width in inches (the HTML page uses 5, for phones).

        Bars show the published values: a banded count is drawn as a hatched bar up to the
        band's top, labelled with the band. The map colours each neighbourhood by this
        period's published count (banded counts in one light colour).
        """
        from matplotlib.figure import Figure

        words = self.words
        n = len(self.table)
        has_map = self.areas is not None and len(self.areas)
        height = 0.32 * n + 1.8 + (width * 0.8 if has_map else 0)
        fig = Figure(figsize=(width, height), layout="constrained")
        if has_map:
            bars, where = fig.subplots(2, 1, height_ratios=[0.32 * n + 1.5, width * 0.8])
        else:
            bars, where = fig.subplots(1, 1), None
        order = self.counts.loc[self.table[words["area"]]]
        y = np.arange(n)[::-1]
        top = self.min_count - 1
        shown = order["count"].where(~order["count"].between(1, top), top)
        banded = order["count"].between(1, top).to_numpy()
        last = order["last_year"].where(~order["last_year"].between(1, top), top)
        bars.barh(y + 0.2, shown, height=0.4, color="#c0392b", label=words["count"])
        bars.barh(y[banded] + 0.2, shown[banded], height=0.4, color="#f5b7b1", hatch="//")
        last_banded = order["last_year"].between(1, top).to_numpy()
        bars.barh(y - 0.2, last, height=0.4, color="#95a5a6", label=words["last_year"])
        bars.barh(y[last_banded] - 0.2, last[last_banded], height=0.4, color="#d5dbdb", hatch="//")
        mean_ok = order["count_52w"] >= self.min_count
        bars.scatter(order["mean_52w"][mean_ok], y[mean_ok.to_numpy()], marker="|", s=200,
                     color="black", zorder=3, label=words["mean"])  # fmt: skip
        for yy, text in zip(y, self.table[words["count"]], strict=True):
            bars.annotate(text, (0, yy + 0.2), xytext=(2, 0), textcoords="offset points",
                          va="center", fontsize=7, color="black")  # fmt: skip
        bars.set_yticks(y, self.table[words["area"]], fontsize=8)
        bars.set_title(f"{words['bars']}\n{self._period_words()}", fontsize=10)
        bars.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.04), ncols=2,
                    frameon=False)  # fmt: skip
        bars.set_ylim(-0.7, n - 0.3)
        if has_map:
            areas = self.areas.copy()
            value = self.counts["count"].reindex(areas["area"]).to_numpy()
            value = np.where((value >= 1) & (value <= top), np.nan, value)
            areas["value"] = value
            areas.plot(column="value", ax=where, cmap="Reds", edgecolor="white", linewidth=0.6,
                       legend=True, missing_kwds={"color": "#f5b7b1", "hatch": "//",
                       "label": _band(1, self.min_count)})  # fmt: skip
            for _, row in areas.iterrows():
                point = row.geometry.representative_point()
                where.annotate(str(row["area"]), (point.x, point.y), fontsize=5, ha="center",
                               color="#333333")  # fmt: skip
            where.set_title(words["map"], fontsize=10)
            where.set_axis_off()
        return fig

    def _period_words(self) -> str:
        last_day = self.end - pd.Timedelta(seconds=1)
        return f"{_date(self.start, self.language)} - {_date(last_day, self.language)}"

    def to_html(self, path=None) -> str:
        """Return the one-page report as HTML; write it to ``path`` when given.

        The page is self-contained (inline style, the figure embedded as a base64 PNG, no
        scripts, no external links) and readable on a phone (viewport meta, a maximum width,
        the table scrolls sideways). The file is written as :meth:`to_csv` writes (whole or
        not at all); see there for an example.
        """
        words = self.words
        buffer = io.BytesIO()
        self.figure(width=5.0).savefig(buffer, format="png", dpi=130)
        image = base64.b64encode(buffer.getvalue()).decode("ascii")
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in self.table.columns)
        rows = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
            for row in self.table.itertuples(index=False)
        )
        title = html.escape(words["title"])
        page = f"""<!DOCTYPE html>
<html lang="{self.language}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 0 auto; padding: 0.8em; max-width: 720px;
        color: #222; line-height: 1.4; }}
h1 {{ font-size: 1.4em; margin-bottom: 0.2em; }}
img {{ max-width: 100%; height: auto; }}
.scroll {{ overflow-x: auto; }}
table {{ border-collapse: collapse; width: 100%; font-size: 0.9em; }}
th, td {{ padding: 0.3em 0.5em; border-bottom: 1px solid #ddd; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
.note {{ font-size: 0.85em; color: #555; }}
</style>
</head>
<body>
<h1>{title}</h1>
<p><strong>{html.escape(words["period"])}:</strong> {html.escape(self._period_words())}.</p>
<img alt="{html.escape(words["bars"])}" src="data:image/png;base64,{image}">
<div class="scroll"><table id="neighbourhoods">
<thead><tr>{head}</tr></thead>
<tbody>{rows}</tbody>
</table></div>
<p class="note">{html.escape(self.note)}</p>
<p class="note">{html.escape(words["made"])}</p>
</body>
</html>
"""
        if path is not None:
            write_text(path, page)
        return page


def _areas_from_incidents(x, y, names, crs, cell_m: float, min_count: int):
    """Coarse neighbourhood outlines: squares of a grid, each given to its most common name.

    The squares have side ``cell_m`` and are aligned on multiples of ``cell_m`` in the CRS
    (like the tiles of :func:`caslite.outlook.district_names`), so every outline vertex lies
    on that lattice and no outline is shaped by where single incidents happened. A square
    goes to the name with most incidents in it (ties to the first name in sort order);
    squares with fewer than ``min_count`` incidents are dropped; the squares of each name are
    then dissolved. Return None when no square is left.
    """
    import geopandas
    import shapely

    column = np.floor(np.asarray(x, dtype=float) / cell_m).astype(np.int64)
    row = np.floor(np.asarray(y, dtype=float) / cell_m).astype(np.int64)
    tally = (
        pd.DataFrame({"column": column, "row": row, "area": np.asarray(names, dtype=object)})
        .value_counts()
        .rename("n")
        .reset_index()
    )
    totals = tally.groupby(["column", "row"])["n"].transform("sum")
    tally = tally[totals >= min_count]
    if tally.empty:
        return None
    # most incidents first, then names in sort order: the first row of each square wins
    tally = tally.sort_values(["column", "row", "n", "area"], ascending=[True, True, False, True])
    winners = tally.drop_duplicates(["column", "row"], keep="first")
    left = winners["column"].to_numpy() * cell_m
    bottom = winners["row"].to_numpy() * cell_m
    squares = shapely.box(left, bottom, left + cell_m, bottom + cell_m)
    frame = geopandas.GeoDataFrame(
        {"area": winners["area"].astype(str).to_numpy()}, geometry=squares, crs=crs
    )
    return frame.dissolve(by="area", as_index=False)[["area", "geometry"]]


def neighbourhood_report(
    events,
    *,
    areas=None,
    name_column: str = "name",
    area_column: str | None = None,
    end=None,
    days: int = 14,
    min_count: int = 5,
    language: str = "en",
    outline_cell_m: float = 1000.0,
) -> NeighbourhoodReport:
    """Count incidents per neighbourhood for a period against last year and the 52-week mean.

    Parameters
    ----------
    events : caslite.Events
        The incidents (the 52 weeks before the period and the same period a year earlier must
        be in them for those columns to mean anything).
    areas : geopandas.GeoDataFrame, optional
        Neighbourhood polygons in the incidents' CRS, named in ``name_column``. Incidents in
        no polygon are counted in a row "(outside the areas)", not dropped. An incident on the
        border of two neighbourhoods counts in the first of them in name order.
    name_column : str, default "name"
        Column of ``areas`` with the names.
    area_column : str, optional
        Instead of ``areas``: a column of the incidents naming the neighbourhood (e.g. the
        Toronto sample's ``neighbourhood``); missing names are counted in a row "(no
        neighbourhood)". The map then shows coarse outlines made from a grid, not from the
        incident locations (see ``outline_cell_m``).
    end : str, datetime or None
        End of the period (exclusive), local time; default the midnight after the last
        incident.
    days : int, default 14
        Length of the period in local calendar days.
    min_count : int, default 5
        Counts from 1 to ``min_count - 1`` are published as a band (see the module notes);
        ``min_count=1`` publishes every count as it is. ``min_count=2`` is refused: its band
        would hold the single count 1 and publish it exactly.
    language : {"en", "nl"}, default "en"
    outline_cell_m : float, default 1000.0
        With ``area_column`` only: side in metres of the squares the map's outlines are made
        of. The squares are aligned on multiples of ``outline_cell_m`` in the CRS; each goes
        to the neighbourhood with most incidents in it over **all** the incidents given (not
        only the period; ties to the first name in sort order), squares with fewer than
        ``min_count`` incidents are left out, and the squares of each neighbourhood are merged.
        Outlines traced from the incident locations would show where incidents happened; these
        follow the grid, so a neighbourhood's outline is only as precise as the squares and a
        neighbourhood with few incidents may have none.

    Returns
    -------
    NeighbourhoodReport

    Raises
    ------
    TypeError
        If ``events`` is not Events or ``areas`` not a GeoDataFrame.
    ValueError
        Without ``areas`` or ``area_column`` (or with both), a missing column, a CRS mismatch,
        ``days`` or ``min_count`` below 1, ``min_count=2`` or ``outline_cell_m`` not a
        positive number.

    Examples
    --------
    >>> from caslite.datasets import load_sample
    >>> events = load_sample("toronto").to_events(duplicates="drop")
    >>> report = neighbourhood_report(events, area_column="neighbourhood", end="2019-06-01")
    >>> report.start.isoformat(), report.end.isoformat()
    ('2019-05-18T00:00:00-04:00', '2019-06-01T00:00:00-04:00')
    >>> report.table.columns.tolist()
    ['Neighbourhood', 'This period', 'Same period last year', '52-week mean', 'Change vs last year']
    """
    from caslite._time import to_utc_seconds
    from caslite.events import Events

    if not isinstance(events, Events):
        raise TypeError(
            f"events must be caslite Events (see caslite.as_events), got {type(events).__name__}."
        )
    if language not in _WORDS:
        raise ValueError(f"language must be one of {tuple(_WORDS)}, got {language!r}.")
    for name, value in (("days", days), ("min_count", min_count)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    if min_count == 2:
        raise ValueError(
            "min_count=2 (--min-count 2) would publish the band of counts 1 to 1, that is the "
            "exact count 1; use min_count=3 or more (--min-count 3) so that every band holds at "
            "least two counts, or min_count=1 to publish every count as it is."
        )
    if isinstance(outline_cell_m, bool) or not (
        isinstance(outline_cell_m, numbers.Real) and np.isfinite(outline_cell_m)
        and outline_cell_m > 0
    ):  # fmt: skip
        raise ValueError(
            "outline_cell_m (--outline-cell) must be a positive number of metres, got "
            f"{outline_cell_m!r}."
        )
    if (areas is None) == (area_column is None):
        raise ValueError(
            "give the neighbourhoods either as polygons (areas=GeoDataFrame, named in "
            "name_column) or as a column of the incidents (area_column='neighbourhood'), "
            "not " + ("both." if areas is not None else "neither.")
        )
    if not len(events):
        raise ValueError("events is empty: there is nothing to report.")
    tz = events.tz
    if end is None:
        last = pd.Timestamp(int(events.t.max()), unit="s", tz="UTC").tz_convert(tz)
        end_stamp = (last.tz_localize(None).normalize() + pd.Timedelta(days=1)).tz_localize(
            tz, ambiguous=True, nonexistent="shift_forward"
        )
    else:
        seconds = int(to_utc_seconds(end, tz, "end"))
        end_stamp = pd.Timestamp(seconds, unit="s", tz="UTC").tz_convert(tz)

    def local(stamp, back_days):
        naive = stamp.tz_localize(None) - pd.Timedelta(days=back_days)
        return naive.tz_localize(tz, ambiguous=True, nonexistent="shift_forward")

    start_stamp = local(end_stamp, days)
    bounds = {
        "count": (start_stamp, end_stamp),
        "last_year": (local(start_stamp, 364), local(end_stamp, 364)),
        "count_52w": (local(start_stamp, 364), start_stamp),
    }
    names, polygons = _names(events, areas, name_column, area_column, language)
    counts = {}
    for column, (lo, hi) in bounds.items():
        inside = (events.t >= lo.timestamp()) & (events.t < hi.timestamp())
        counts[column] = pd.Series(names[inside]).value_counts()
    everyone = pd.Index(sorted(set(pd.unique(names))))
    if polygons is not None:
        everyone = everyone.union(pd.Index(polygons["area"]))
    frame = pd.DataFrame({k: v.reindex(everyone, fill_value=0) for k, v in counts.items()})
    frame = frame.astype(np.int64)
    frame["mean_52w"] = frame["count_52w"] * days / 364.0
    frame.index.name = "neighbourhood"
    # The published order must not give away banded counts: rows are sorted by the published
    # count (every banded row at the band's level), then by name.
    banded = frame["count"].between(1, min_count - 1)
    published = frame["count"].where(~banded, min_count - 1)
    frame = frame.iloc[np.argsort(-published.to_numpy(), kind="stable")]
    if polygons is None:
        known = names != _UNKNOWN[language]
        polygons = _areas_from_incidents(events.x[known], events.y[known], names[known],
                                         events.crs, float(outline_cell_m),
                                         int(min_count))  # fmt: skip

    words = _WORDS[language]
    exact = (frame["count"].eq(0) | frame["count"].ge(min_count)) & (
        frame["last_year"].eq(0) | frame["last_year"].ge(min_count)
    )
    change = (frame["count"] - frame["last_year"]).map(lambda v: f"{v:+d}")
    table = pd.DataFrame(
        {
            words["area"]: frame.index,
            words["count"]: [_band(v, min_count) for v in frame["count"]],
            words["last_year"]: [_band(v, min_count) for v in frame["last_year"]],
            words["mean"]: [
                f"{m:.1f}" if n >= min_count else words["low"]
                for m, n in zip(frame["mean_52w"], frame["count_52w"], strict=True)
            ],
            words["change"]: np.where(exact, change, ""),
        }
    )
    if language == "nl":
        table[words["mean"]] = table[words["mean"]].str.replace(".", ",", regex=False)
    return NeighbourhoodReport(
        counts=frame, table=table.reset_index(drop=True), start=start_stamp, end=end_stamp,
        days=int(days), min_count=int(min_count), language=language, areas=polygons,
    )  # fmt: skip


def _column_names(events, area_column: str, missing: str) -> np.ndarray:
    """Return the area name of every incident from its column ``area_column``."""
    if area_column not in events.data.columns:
        raise ValueError(
            f"the incidents have no column {area_column!r}; their columns are "
            f"{list(events.data.columns)}."
        )
    column = events.data[area_column]
    return column.astype(object).where(column.notna(), missing).astype(str).to_numpy()


def _names(events, areas, name_column, area_column, language):
    """Return the neighbourhood name of every incident and the polygons (or None)."""
    import geopandas

    if area_column is not None:
        return _column_names(events, area_column, _UNKNOWN[language]), None
    if not isinstance(areas, geopandas.GeoDataFrame):
        raise TypeError(f"areas must be a GeoDataFrame of polygons, got {type(areas).__name__}.")
    if name_column not in areas.columns:
        raise ValueError(
            f"areas has no column {name_column!r} with the neighbourhood names; its columns "
            f"are {list(areas.columns)}: pass name_column=..."
        )
    if areas.crs is None:
        raise ValueError("areas has no CRS; set it with areas.set_crs('EPSG:....').")
    check_same_crs(areas.crs, events.crs, "areas", "the incidents")
    polygons = geopandas.GeoDataFrame(
        {"area": areas[name_column].astype(str).to_numpy()},
        geometry=areas.geometry.values,
        crs=areas.crs,
    ).dissolve(by="area", as_index=False)
    names = _polygon_names(events.x, events.y, polygons, "area", events.crs)
    return np.where(pd.isna(names), _OUTSIDE[language], names).astype(str), polygons


def _polygon_names(x, y, polygons, column: str, crs) -> np.ndarray:
    """Return per point the ``column`` value of the polygon it lies in (None if in none).

    A point on a polygon's edge lies in it (snapped incidents often lie on a street that is
    the border of two areas); a point in several polygons gets the first of them in the
    order of the rows of ``polygons``.
    """
    import geopandas

    points = geopandas.GeoDataFrame(geometry=geopandas.points_from_xy(x, y), crs=crs)
    frame = polygons[[column, "geometry"]].reset_index(drop=True)
    joined = geopandas.sjoin(points, frame, predicate="intersects", how="left")
    joined = joined.rename_axis("point").sort_values(["point", "index_right"], kind="stable")
    first = joined[~joined.index.duplicated(keep="first")].reindex(points.index)
    return first[column].astype(object).where(first[column].notna(), None).to_numpy()
