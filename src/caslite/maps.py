"""Maps of a :class:`~caslite.Forecast`: one shift, one day of shifts, and an interactive map.

- :func:`plot_shift` draws the risk surface of one block (shift) as a raster, marks its hot
  cells and adds a colour bar, a legend, a scale bar and latitude/longitude ticks;
- :func:`plot_day` draws the blocks that start on one local date as small multiples on one
  shared colour scale;
- :func:`plot_horizon` draws the expected incidents summed over the whole horizon, on a log
  scale, with the horizon's hot cells;
- :func:`explore` makes an interactive Leaflet map (with folium) with tooltips, optionally
  self-contained so that it renders offline.

All of them draw context layers the user supplies (``context=``: streets, neighbourhoods,
water; any file geopandas reads, or GeoDataFrames) under the risk, reprojected to the grid's
CRS, so that a map can be read without a network connection. The static maps can also put web
tiles under the risk (``tiles=``, with the optional package contextily, online only).

Hot cells are outlined (the risk colour shows through) when a map shows at most
``OUTLINE_MAX_CELLS`` (100) of them per shift, and filled in a solid colour when there are
more: at city scale (a few thousand hot cells of 125 m on a map a few inches wide) outlines
merge into dark blobs that hide both the cells and the risk.

The static maps use :class:`matplotlib.figure.Figure` directly, so nothing is registered with
pyplot. The hot cells are those of :meth:`Forecast.top` for the block (the same ranking,
:func:`caslite.evaluation.top_cells`, computed for the drawn blocks only).
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import numbers
import os
import re
from importlib import resources

import numpy as np
import pandas as pd

from caslite._atomic import atomic_path
from caslite._core import top_cells
from caslite._time import to_utc_seconds
from caslite._validation import check_int, check_share
from caslite.forecast import Forecast

__all__ = ["OUTLINE_MAX_CELLS", "explore", "plot_day", "plot_horizon", "plot_shift"]

_SCALES = ("log", "linear")
_DECADES = 3  # a log colour scale spans vmax / 10**3 .. vmax
_ZERO_COLOR = "0.85"
_AREA_COLOR = "0.35"
_NAT = np.iinfo(np.int64).min
_LEAFLET = ("leaflet", "1.9.4")  # vendored under caslite/_static/leaflet (BSD-2-Clause)
_HOT_STYLES = ("auto", "outline", "fill")
_TICKS = ("latlon", None)
OUTLINE_MAX_CELLS = 100
"""Most hot cells per map (per shift) drawn as outlines by ``hot_style="auto"``; more are filled."""
_OUTLINE_COLOR = "black"
_FILL_COLOR = "#2166ac"  # a blue that stands out from the reds of the risk
_CMAP_LOW = 0.12  # the default colour map starts here: "Reds" without its near-white end
_CONTEXT_COLOR = "0.35"
_RISK_ALPHA_OVER_CONTEXT = 0.72  # the risk raster lets the context layers under it show
# drawing order: tiles, context, risk (imshow's default 0, so that what a user adds to the
# returned axes, e.g. GeoDataFrame.plot at zorder 1, lands on top), study area, hot cells
_Z_TILES, _Z_CONTEXT, _Z_RISK = -2.0, -1.0, 0.0


# ---------------------------------------------------------------------- static maps
def plot_shift(
    forecast,
    block=0,
    *,
    coverage=0.03,
    ax=None,
    title=None,
    cmap=None,
    scale="log",
    hot_color=None,
    hot_style="auto",
    context=None,
    tiles=None,
    ticks="latlon",
):
    """Map the expected incidents of one shift with its hot cells marked.

    Parameters
    ----------
    forecast : Forecast
        The forecast to map.
    block : int, str or datetime, default 0
        The block (shift): its position in the horizon (``0 .. len(forecast.blocks) - 1``) or
        its start time (naive values are local wall-clock time of the schedule's time zone).
    coverage : float, default 0.03
        Share of the area marked as hot cells, ``0 < coverage <= 1``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure (not registered with pyplot) is made when omitted.
    title : str, optional
        Axes title; default the local start and end of the shift (``""``: no title).
    cmap : str or matplotlib.colors.Colormap, optional
        Colour map of the expected incidents; default "Reds" without its lightest 12 % (whose
        near-white would look like an empty map).
    scale : {"log", "linear"}, default "log"
        Colour scale. ``"log"`` spans three decades below the block's maximum (lower values get
        the lowest colour, cells with zero risk are grey), which shows the structure of the
        usual heavy-tailed risk; ``"linear"`` runs from 0 to the maximum.
    hot_color : color, optional
        Colour of the hot cells; default black for outlines, blue for filled cells.
    hot_style : {"auto", "outline", "fill"}, default "auto"
        ``"outline"``: squares outlined over the risk; ``"fill"``: solid squares;
        ``"auto"``: outlines for at most :data:`OUTLINE_MAX_CELLS` (100) hot cells, filled
        beyond (many small outlines merge into blobs).
    context : GeoDataFrame, GeoSeries, path, or a list or dict of them, optional
        Layers drawn under the risk to show where the cells are: streets, neighbourhoods,
        water, ... (a path is read with :func:`geopandas.read_file`; a dict names the layers).
        Each is reprojected to the grid's CRS (a layer without a CRS is refused) and clipped
        to the map. Lines and polygon outlines are drawn in grey, points as small dots; the
        risk is then drawn partly transparent. For other styles, draw the layers on your own
        axes and pass them as ``ax``.
    tiles : bool, str or xyzservices.TileProvider, optional
        Web map tiles under the risk, fetched with the optional package contextily (``True``:
        its default OpenStreetMap tiles; a provider or its name, e.g.
        ``"CartoDB.Positron"``). They need a network connection: when they cannot be fetched
        the map is drawn without them and a warning says why. Default None: no tiles.
    ticks : {"latlon", None}, default "latlon"
        ``"latlon"``: axis ticks at round longitudes (bottom edge) and latitudes (left edge),
        where the meridians and parallels cross the map's edges; None: no ticks.

    Returns
    -------
    matplotlib.axes.Axes
        The map. Its artists have gids: ``"risk"`` (the raster image, NaN outside the study
        area), ``"zero-risk"`` (grey cells with no expected incidents, on a log scale),
        ``"hot-cells"`` (a collection of the hot squares, highest risk first),
        ``"study-area"`` (the outline of the active cells), ``"scale-bar"`` and
        ``"context-<i>"`` (the context layers, in the order given).

    See Also
    --------
    plot_day : the shifts of one day as small multiples.
    plot_horizon : the whole horizon.
    caslite.plot_cells : any per-cell values.

    Examples
    --------
    >>> import numpy as np
    >>> from shapely.geometry import box
    >>> from caslite import Forecast, Grid, ShiftSchedule
    >>> grid = Grid.from_area(box(0, 0, 1000, 1000), cell_size=125.0, crs="EPSG:28992")
    >>> blocks = ShiftSchedule.every(8, tz="Europe/Amsterdam").horizon("2024-03-11", "1D")
    >>> risk = np.random.default_rng(0).gamma(0.5, 0.01, size=(len(blocks), grid.n_cells))
    >>> forecast = Forecast(risk, blocks, grid, origin=blocks.start[0])
    >>> ax = plot_shift(forecast, "2024-03-11 08:00", coverage=0.05)
    >>> ax.get_title()
    'Mon 2024-03-11 08:00–16:00 CET'
    >>> len(ax.findobj(match=lambda a: a.get_gid() == "hot-cells")[0].get_paths())  # 5 % of 64
    3
    >>> [t.get_text() for t in ax.get_xticklabels()][:2]
    ['3.315°E', '3.320°E']
    """
    _check_forecast(forecast)
    b = _block_index(forecast, block)
    cells = _hot_cells(forecast, b, _check_coverage(coverage))
    return _single_map(
        forecast,
        forecast.risk[b],
        cells,
        coverage=coverage,
        ax=ax,
        title=_shift_title(forecast, b) if title is None else title,
        cmap=cmap,
        scale=scale,
        hot_color=hot_color,
        hot_style=hot_style,
        context=context,
        tiles=tiles,
        ticks=ticks,
        label=f"expected incidents per {_cell_size(forecast)} cell in the shift",
        hot_label="hot cells",
    )


def plot_horizon(
    forecast,
    *,
    coverage=0.03,
    ax=None,
    title=None,
    cmap=None,
    scale="log",
    hot_color=None,
    hot_style="auto",
    context=None,
    tiles=None,
    ticks="latlon",
):
    """Map the expected incidents summed over the whole horizon, with its hot cells.

    The colour scale is logarithmic by default, so that a few cells with much more risk than
    the rest do not leave the map nearly blank.

    Parameters
    ----------
    forecast : Forecast
        The forecast to map.
    coverage : float, default 0.03
        Share of the area marked as hot cells, ``0 < coverage <= 1``: the cells with the most
        expected incidents over the horizon (:meth:`Forecast.top` with ``per="horizon"``).
    ax, title, cmap, scale, hot_color, hot_style, context, tiles, ticks
        As for :func:`plot_shift`; the default title is the horizon's local start and end.

    Returns
    -------
    matplotlib.axes.Axes
        The map, with the artists of :func:`plot_shift`.

    See Also
    --------
    plot_shift : one shift.

    Examples
    --------
    >>> import numpy as np
    >>> from shapely.geometry import box
    >>> from caslite import Forecast, Grid, ShiftSchedule
    >>> grid = Grid.from_area(box(0, 0, 1000, 1000), cell_size=125.0, crs="EPSG:28992")
    >>> blocks = ShiftSchedule.every(8, tz="Europe/Amsterdam").horizon("2024-03-11", "2D")
    >>> risk = np.random.default_rng(0).gamma(0.5, 0.01, size=(len(blocks), grid.n_cells))
    >>> forecast = Forecast(risk, blocks, grid, origin=blocks.start[0])
    >>> ax = plot_horizon(forecast, coverage=0.05)
    >>> ax.get_title()
    'horizon Mon 2024-03-11 00:00 – Wed 2024-03-13 00:00 CET'
    >>> type(ax.findobj(match=lambda a: a.get_gid() == "risk")[0].norm).__name__
    'LogNorm'
    """
    _check_forecast(forecast)
    coverage = _check_coverage(coverage)
    values = forecast.total()
    cells = top_cells(values, coverage, area=forecast.grid.area_fraction)
    return _single_map(
        forecast,
        values,
        cells,
        coverage=coverage,
        ax=ax,
        title=_horizon_title(forecast) if title is None else title,
        cmap=cmap,
        scale=scale,
        hot_color=hot_color,
        hot_style=hot_style,
        context=context,
        tiles=tiles,
        ticks=ticks,
        label=f"expected incidents per {_cell_size(forecast)} cell over the horizon",
        hot_label="hot cells of the horizon",
    )


def _single_map(forecast, values, cells, *, coverage, ax, title, cmap, scale, hot_color,
                hot_style, context, tiles, ticks, label, hot_label):  # fmt: skip
    """Draw one map of ``values`` with the hot ``cells`` marked (plot_shift, plot_horizon)."""
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    coverage = _check_coverage(coverage)
    scale = _check_scale(scale)
    style, hot_color = _hot_style(hot_style, hot_color, cells.size)
    if ticks not in _TICKS:
        raise ValueError(f"ticks must be 'latlon' or None, got {ticks!r}.")
    layers = _context_layers(context, forecast.grid)
    if ax is None:
        xmin, ymin, xmax, ymax = forecast.grid.bounds
        height = min(max(5.8 * (ymax - ymin) / (xmax - xmin) + 1.1, 3.5), 10.0)
        ax = Figure(figsize=(7.5, height), layout="constrained").add_subplot()
    elif not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes, got {type(ax).__name__}.")
    norm = _norm(scale, values.max())
    image = _draw_values(
        ax, forecast.grid, values, cells, norm, cmap, hot_color, style, layers, tiles
    )
    bar = ax.figure.colorbar(
        image, ax=ax, shrink=0.8, extend="min" if scale == "log" else "neither"
    )
    bar.set_label(label)
    legend_corner, bar_corner = _emptiest_corners(forecast.grid, first="upper right")[:2]
    handles = _legend_handles(values, scale, coverage, hot_color, style, hot_label)
    ax.legend(handles=handles, loc=legend_corner, framealpha=0.85).set_zorder(6)
    _add_scale_bar(ax, forecast.grid, bar_corner)
    if ticks == "latlon":
        _latlon_ticks(ax, forecast.grid)
    else:
        ax.set_xticks([])
        ax.set_yticks([])
    ax.set_title(title)
    return ax


def plot_day(
    forecast,
    day=None,
    *,
    coverage=0.03,
    ncols=3,
    cmap=None,
    scale="log",
    hot_color=None,
    hot_style="auto",
    context=None,
    tiles=None,
):
    """Map the shifts that start on one local date as small multiples on one colour scale.

    Parameters
    ----------
    forecast : Forecast
        The forecast to map.
    day : str, datetime.date or datetime, optional
        The local date (a time of day is ignored; a time-zone-aware value is first converted
        to the schedule's time zone); default the date of the first block of the horizon.
    coverage : float, default 0.03
        Share of the area marked as hot cells in each shift, ``0 < coverage <= 1``.
    ncols : int, default 3
        Panels per row.
    cmap : str or matplotlib.colors.Colormap, optional
        Colour map of the expected incidents, as for :func:`plot_shift`.
    scale : {"log", "linear"}, default "log"
        Colour scale, as for :func:`plot_shift`; its maximum is the largest expected count of
        any cell in any of the day's shifts, the same on every panel.
    hot_color : color, optional
        Colour of the hot cells, as for :func:`plot_shift`.
    hot_style : {"auto", "outline", "fill"}, default "auto"
        As for :func:`plot_shift`; ``"auto"`` decides on the largest number of hot cells of
        any panel, so that all panels look alike.
    context : GeoDataFrame, GeoSeries, path, or a list or dict of them, optional
        Layers drawn under the risk of every panel, as for :func:`plot_shift`.
    tiles : bool, str or xyzservices.TileProvider, optional
        Web map tiles under every panel, as for :func:`plot_shift`.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per block starting on ``day`` (in time order, axes labels ``"block <i>"``
        with ``i`` the block's position in the horizon), one colour bar, a legend of the hot
        cells and a scale bar in the first panel. A day with a daylight-saving change has the
        same number of shifts; the changed shift's panel title gives its length in hours.

    See Also
    --------
    plot_shift : one shift in detail.

    Examples
    --------
    >>> import numpy as np
    >>> from shapely.geometry import box
    >>> from caslite import Forecast, Grid, ShiftSchedule
    >>> grid = Grid.from_area(box(0, 0, 1000, 750), cell_size=125.0, crs="EPSG:32617")
    >>> blocks = ShiftSchedule.every(4, tz="America/Toronto").horizon("2019-03-10", "2D")
    >>> risk = np.random.default_rng(0).gamma(0.5, 0.01, size=(len(blocks), grid.n_cells))
    >>> forecast = Forecast(risk, blocks, grid, origin=blocks.start[0])
    >>> figure = plot_day(forecast, "2019-03-10")
    >>> [ax.get_title() for ax in figure.axes if ax.get_label().startswith("block")][:2]
    ['00:00 EST–04:00 EDT (3 h)', '04:00–08:00 EDT']
    """
    from matplotlib.figure import Figure

    _check_forecast(forecast)
    coverage = _check_coverage(coverage)
    scale = _check_scale(scale)
    check_int(ncols, "ncols", example=3)
    date, which = _day_blocks(forecast, day)
    hot = [_hot_cells(forecast, int(b), coverage) for b in which]
    style, hot_color = _hot_style(hot_style, hot_color, max(cells.size for cells in hot))
    layers = _context_layers(context, forecast.grid)
    n = which.size
    ncols = min(int(ncols), n)
    nrows = -(-n // ncols)
    xmin, ymin, xmax, ymax = forecast.grid.bounds
    aspect = min(max((ymax - ymin) / (xmax - xmin), 0.3), 3.0)
    panel = 3.3
    figure = Figure(
        figsize=(ncols * panel + 1.3, nrows * (panel * aspect + 0.45) + 0.9), layout="constrained"
    )
    axes = figure.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False).ravel()
    norm = _norm(scale, forecast.risk[which].max())
    image = None
    for ax, b, cells in zip(axes, which, hot, strict=False):
        image = _draw_values(
            ax, forecast.grid, forecast.risk[b], cells, norm, cmap, hot_color, style, layers,
            tiles,
        )  # fmt: skip
        ax.set_label(f"block {int(b)}")
        ax.set_title(_panel_title(forecast, int(b)), fontsize="medium")
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes[n:]:
        ax.remove()
    _add_scale_bar(axes[0], forecast.grid, _emptiest_corners(forecast.grid)[0])
    bar = figure.colorbar(
        image,
        ax=list(axes[:n]),
        shrink=0.8,
        extend="min" if scale == "log" else "neither",
    )
    bar.set_label(f"expected incidents per {_cell_size(forecast)} cell and shift")
    handles = _legend_handles(forecast.risk[which], scale, coverage, hot_color, style)
    figure.legend(handles=handles, loc="outside lower center", ncols=len(handles))
    figure.suptitle(f"{date:%a %Y-%m-%d} ({forecast.blocks.schedule.tz})")
    return figure


def _draw_values(ax, grid, values, cells, norm, cmap, hot_color, style, layers, tiles):
    """Draw a raster of ``values``, the study-area outline, the hot ``cells`` and context."""
    from matplotlib.collections import LineCollection, PolyCollection
    from matplotlib.colors import ListedColormap, LogNorm

    n_rows, n_cols = grid.shape
    raster = np.full((n_rows, n_cols), np.nan)
    raster[grid.cell_row, grid.cell_col] = values
    xmin, ymin, xmax, ymax = grid.bounds
    extent = (xmin, xmax, ymin, ymax)
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(ymin, ymax)
    ax.set_aspect("equal")
    _add_tiles(ax, tiles, grid.crs)
    _draw_context(ax, layers)
    under = bool(layers) or tiles is not None
    alpha = _RISK_ALPHA_OVER_CONTEXT if under else None
    colormap = _colormap(cmap).with_extremes(bad=(0.0, 0.0, 0.0, 0.0))
    if isinstance(norm, LogNorm):  # zero is off a log scale: grey, as in plot_cells
        zeros = np.where(raster == 0, 1.0, np.nan)
        grey = ax.imshow(
            zeros, origin="lower", extent=extent, cmap=ListedColormap([_ZERO_COLOR]),
            alpha=0.5 if under else None, zorder=_Z_RISK,
        )  # fmt: skip
        grey.set_gid("zero-risk")
    image = ax.imshow(
        raster, origin="lower", extent=extent, cmap=colormap, norm=norm,
        interpolation="nearest", alpha=alpha, zorder=_Z_RISK,
    )  # fmt: skip
    image.set_gid("risk")
    area = LineCollection(_outline_segments(grid), colors=_AREA_COLOR, linewidths=0.6)
    area.set_gid("study-area")
    ax.add_collection(area)
    s = grid.cell_size
    left = grid.x0 + grid.cell_col[cells] * s
    bottom = grid.y0 + grid.cell_row[cells] * s
    corners = np.stack(
        [
            np.column_stack([left, bottom]),
            np.column_stack([left + s, bottom]),
            np.column_stack([left + s, bottom + s]),
            np.column_stack([left, bottom + s]),
        ],
        axis=1,
    )
    if style == "outline":
        hot = PolyCollection(
            corners, facecolors="none", edgecolors=hot_color, linewidths=0.9, zorder=3
        )
    else:
        hot = PolyCollection(corners, facecolors=hot_color, edgecolors="none", zorder=3)
    hot.set_gid("hot-cells")
    ax.add_collection(hot)
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(ymin, ymax)
    return image


def _hot_style(hot_style, hot_color, n_cells):
    """Return how to draw the hot cells ("outline" or "fill") and their colour."""
    from matplotlib.colors import to_hex

    if hot_style not in _HOT_STYLES:
        raise ValueError(f"hot_style must be one of {list(_HOT_STYLES)}, got {hot_style!r}.")
    style = hot_style
    if style == "auto":
        style = "outline" if n_cells <= OUTLINE_MAX_CELLS else "fill"
    if hot_color is None:
        hot_color = _OUTLINE_COLOR if style == "outline" else _FILL_COLOR
    try:
        hot_color = to_hex(hot_color)
    except ValueError:
        raise ValueError(
            f"hot_color={hot_color!r} is not a colour; pass a name such as 'black' or a hex "
            "code such as '#2166ac'."
        ) from None
    return style, hot_color


def _context_layers(context, grid) -> list:
    """Return the context layers as (name, GeoDataFrame in the grid CRS, clipped to it)."""
    import geopandas

    if context is None:
        return []
    if isinstance(context, dict):
        items = [(str(name), layer) for name, layer in context.items()]
    elif isinstance(context, list | tuple):
        items = [(None, layer) for layer in context]
    else:
        items = [(None, context)]
    layers = []
    for i, (name, layer) in enumerate(items):
        if isinstance(layer, str | os.PathLike):
            path = os.fspath(layer)
            if not os.path.isfile(path):
                raise FileNotFoundError(
                    f"context layer {path!r} does not exist; give a file geopandas reads "
                    "(GeoPackage, GeoJSON, shapefile, ...)."
                )
            name = name or os.path.splitext(os.path.basename(path))[0]
            layer = geopandas.read_file(path)
        elif isinstance(layer, geopandas.GeoSeries):
            layer = geopandas.GeoDataFrame(geometry=layer)
        elif not isinstance(layer, geopandas.GeoDataFrame):
            raise TypeError(
                f"context layer {i + 1} is a {type(layer).__name__}; pass a GeoDataFrame, a "
                "GeoSeries or a file path (or a list or dict of them)."
            )
        name = name or f"context {i + 1}"
        if layer.crs is None:
            raise ValueError(
                f"context layer {name!r} has no CRS, so it cannot be placed on the grid "
                f"({grid.crs.to_string()}); set it with layer.set_crs('EPSG:....') (or in a "
                "GIS) to the CRS its coordinates are in."
            )
        xmin, ymin, xmax, ymax = grid.bounds
        margin = 0.05 * max(xmax - xmin, ymax - ymin)
        geometry = layer.geometry.to_crs(grid.crs)
        geometry = geometry[~(geometry.is_empty | geometry.isna())]
        clipped = geometry.clip_by_rect(xmin - margin, ymin - margin, xmax + margin, ymax + margin)
        clipped = clipped[~clipped.is_empty]
        layers.append((name, geopandas.GeoDataFrame(geometry=clipped.reset_index(drop=True))))
    return layers


def _draw_context(ax, layers) -> None:
    """Draw the context layers: polygon outlines and lines in grey, points as dots."""
    import shapely
    from matplotlib.collections import LineCollection

    for i, (name, layer) in enumerate(layers):
        boundaries = layer.geometry.boundary.where(
            layer.geom_type.isin(["Polygon", "MultiPolygon"]), layer.geometry
        )
        parts = shapely.get_parts(shapely.get_parts(boundaries.to_numpy()))  # collections too
        kind = shapely.get_type_id(parts)
        lines = parts[
            (kind == shapely.GeometryType.LINESTRING) | (kind == shapely.GeometryType.LINEARRING)
        ]
        points = parts[kind == shapely.GeometryType.POINT]
        segments = [shapely.get_coordinates(line) for line in lines]
        collection = LineCollection(
            [s for s in segments if len(s) > 1],
            colors=_CONTEXT_COLOR,
            linewidths=0.5,
            zorder=_Z_CONTEXT,
        )
        collection.set_gid(f"context-{i}")
        collection.set_label(name)
        ax.add_collection(collection)
        if points.size:
            xy = shapely.get_coordinates(points)
            dots = ax.scatter(
                xy[:, 0], xy[:, 1], s=2, color=_CONTEXT_COLOR, zorder=_Z_CONTEXT, lw=0
            )
            dots.set_gid(f"context-{i}-points")


def _add_tiles(ax, tiles, crs) -> None:
    """Put web map tiles (contextily) under the map; warn and go on when they cannot be had."""
    import warnings

    if tiles is None or tiles is False:
        return
    try:
        import contextily
    except ImportError:
        raise ImportError(
            f"tiles={tiles!r} needs the optional package contextily, which is not installed; "
            "install it with `pip install contextily`, or leave tiles=None and pass context= "
            "layers (streets, neighbourhoods) for a map that needs no network."
        ) from None
    source = None if tiles is True else tiles
    try:
        contextily.add_basemap(ax, crs=crs.to_string(), source=source, zorder=_Z_TILES)
    except OSError as exc:  # no network, a server error (requests' errors are OSErrors)
        warnings.warn(
            f"the web tiles tiles={tiles!r} could not be fetched ({exc}); the map is drawn "
            "without them.",
            stacklevel=4,
        )


def _latlon_ticks(ax, grid) -> None:
    """Ticks at round longitudes on the bottom edge and round latitudes on the left edge."""
    import pyproj
    from matplotlib.ticker import MaxNLocator

    to_degrees = pyproj.Transformer.from_crs(grid.crs, 4326, always_xy=True)
    xmin, ymin, xmax, ymax = grid.bounds
    along = np.linspace(0.0, 1.0, 401)
    xs = xmin + along * (xmax - xmin)
    ys = ymin + along * (ymax - ymin)
    lon, _ = to_degrees.transform(xs, np.full_like(xs, ymin))
    _, lat = to_degrees.transform(np.full_like(ys, xmin), ys)
    for values, positions, axis, signs in (
        (lon, xs, ax.xaxis, ("E", "W")),
        (lat, ys, ax.yaxis, ("N", "S")),
    ):
        if not np.all(np.diff(values) > 0):  # not monotonic along the edge: no honest ticks
            axis.set_ticks([])
            continue
        locator = MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10])
        ticks = locator.tick_values(values[0], values[-1])
        ticks = ticks[(ticks >= values[0]) & (ticks <= values[-1])]
        step = np.diff(ticks).min() if ticks.size > 1 else 1.0
        decimals = next(  # the fewest decimals that write the step exactly: 0.025 needs 3
            d for d in range(10) if abs(step * 10**d - round(step * 10**d)) < 1e-6
        )
        labels = [f"{abs(t):.{decimals}f}°{signs[0] if t >= 0 else signs[1]}" for t in ticks]
        axis.set_ticks(np.interp(ticks, values, positions), labels=labels)
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")


def _outline_segments(grid) -> np.ndarray:
    """Segments of the boundary between active and inactive raster cells, shape (n, 2, 2)."""
    n_rows, n_cols = grid.shape
    active = np.zeros((n_rows + 2, n_cols + 2), dtype=bool)
    active[grid.cell_row + 1, grid.cell_col + 1] = True
    s = grid.cell_size
    # vertical edges: between columns c-1 and c of the padded mask
    rows, cols = np.nonzero(active[1:-1, 1:] != active[1:-1, :-1])
    x = grid.x0 + cols * s
    y = grid.y0 + rows * s
    vertical = np.stack([np.column_stack([x, y]), np.column_stack([x, y + s])], axis=1)
    rows, cols = np.nonzero(active[1:, 1:-1] != active[:-1, 1:-1])
    x = grid.x0 + cols * s
    y = grid.y0 + rows * s
    horizontal = np.stack([np.column_stack([x, y]), np.column_stack([x + s, y])], axis=1)
    return np.concatenate([vertical, horizontal]).astype(float)


def _norm(scale, vmax):
    from matplotlib.colors import LogNorm, Normalize

    vmax = float(vmax)
    if vmax <= 0:  # nothing expected anywhere: any scale will do
        return Normalize(vmin=0.0, vmax=1.0)
    if scale == "log":
        return LogNorm(vmin=vmax / 10**_DECADES, vmax=vmax)
    return Normalize(vmin=0.0, vmax=vmax)


def _legend_handles(values, scale, coverage, hot_color, style, label="hot cells") -> list:
    """Legend entries: the hot cells, and the grey of zero risk when a log scale shows it."""
    from matplotlib.patches import Patch

    text = f"{label} ({_percent(coverage)})"
    if style == "outline":
        handles = [Patch(facecolor="none", edgecolor=hot_color, label=text)]
    else:
        handles = [Patch(facecolor=hot_color, edgecolor="none", label=text)]
    if scale == "log" and values.max() > 0 and (values == 0).any():
        handles.append(Patch(facecolor=_ZERO_COLOR, label="no incidents expected"))
    return handles


def _percent(coverage) -> str:
    return f"{np.format_float_positional(coverage * 100, precision=3, trim='-')} % of area"


def _emptiest_corners(grid, first="lower left") -> list[str]:
    """Corners of the map, mostly empty ones (outside the study area) first.

    A corner is mostly empty when less than half of a legend-sized box there is study area;
    otherwise the order is ``first``, the opposite corner, then the other two.
    """
    active = np.zeros(grid.shape, dtype=bool)
    active[grid.cell_row, grid.cell_col] = True
    n_rows, n_cols = grid.shape
    wide, high = max(1, round(0.3 * n_cols)), max(1, round(0.15 * n_rows))
    boxes = {
        "lower left": active[:high, :wide],
        "upper right": active[-high:, -wide:],
        "lower right": active[:high, -wide:],
        "upper left": active[-high:, :wide],
    }
    opposite = {
        "lower left": "upper right",
        "upper right": "lower left",
        "lower right": "upper left",
        "upper left": "lower right",
    }
    order = [first, opposite[first]]
    order += [corner for corner in boxes if corner not in order]
    return sorted(order, key=lambda corner: bool(boxes[corner].mean() >= 0.5))


def _add_scale_bar(ax, grid, corner="lower left") -> None:
    from matplotlib.font_manager import FontProperties
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    xmin, ymin, xmax, ymax = grid.bounds
    length = _round_length((xmax - xmin) / 4)
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    bar = AnchoredSizeBar(
        ax.transData,
        length,
        label,
        loc=corner,
        pad=0.3,
        borderpad=0.4,
        sep=3,
        frameon=True,
        size_vertical=(ymax - ymin) / 120,
        fontproperties=FontProperties(size="small"),
    )
    bar.patch.set_alpha(0.8)
    bar.set_gid("scale-bar")
    bar.set_zorder(6)
    ax.add_artist(bar)


def _round_length(limit: float) -> float:
    """Largest length 1, 2 or 5 times a power of ten that is at most ``limit`` (metres)."""
    exponent = np.floor(np.log10(limit))
    for step in (5.0, 2.0, 1.0):
        length = step * 10**exponent
        if length <= limit:
            return float(length)
    return float(10**exponent)  # pragma: no cover - 1 * 10**floor(log10(limit)) <= limit


def _cell_size(forecast) -> str:
    return f"{np.format_float_positional(forecast.grid.cell_size, trim='-')} m"


# ---------------------------------------------------------------------- interactive map
def explore(
    forecast,
    *,
    block=None,
    coverage=0.03,
    path=None,
    tiles="OpenStreetMap",
    self_contained=False,
    cmap=None,
    scale="log",
    hot_color=None,
    hot_style="auto",
    context=None,
):
    """Make an interactive map of a forecast: risk surface, hot cells and tooltips.

    Parameters
    ----------
    forecast : Forecast
        The forecast to map.
    block : int, str or datetime, optional
        A block (shift), as for :func:`plot_shift`: the map shows that block's expected
        incidents and its hot cells. Default (None): the expected incidents summed over the
        whole horizon, with one layer of hot cells per shift of the horizon's first local day
        (the first shown, the others in the layer control).
    coverage : float, default 0.03
        Share of the area flagged as hot cells in each shift, ``0 < coverage <= 1``.
    path : str or os.PathLike, optional
        Write the map to this HTML file (with :meth:`folium.Map.save`).
    tiles : str, folium.TileLayer or None, default "OpenStreetMap"
        Background tiles (any name folium accepts); None for none. Tiles come from a tile
        server, so they only show online: pass ``context=`` layers for a map that shows
        where the cells are without a network.
    self_contained : bool, default False
        Inline Leaflet's JavaScript, CSS and images (a copy ships with caslite) instead of
        linking them from a content delivery network, so that the map renders without a
        network connection (about 170 kB more per file). folium's other default assets
        (jQuery, Bootstrap, icon fonts) serve markers and popups, which these maps do not
        have, and are left out: add such elements only to a map made without this option.
    cmap : str or matplotlib.colors.Colormap, optional
        Colour map of the expected incidents, as for :func:`plot_shift`.
    scale : {"log", "linear"}, default "log"
        Colour scale, as for :func:`plot_shift`.
    hot_color : color, optional
        Colour of the hot cells, as for :func:`plot_shift`.
    hot_style : {"auto", "outline", "fill"}, default "auto"
        As for :func:`plot_shift`, decided on the largest number of hot cells of any shift
        shown; filled cells keep a thin outline of their colour, which separates them when
        zoomed in.
    context : GeoDataFrame, GeoSeries, path, or a list or dict of them, optional
        Layers drawn under the risk (streets, neighbourhoods, water), as for
        :func:`plot_shift`: reprojected (a layer without a CRS is refused), clipped to the
        grid's bounds and embedded as GeoJSON, grey lines and outlines that take no mouse
        events; each is a layer of the layer control, named by its dict key or file name.

    Returns
    -------
    folium.Map
        In EPSG:4326, fitted to the grid. The risk layer holds the cells with risk > 0, each
        hot-cell layer the hot cells of one shift; tooltips give ``cell_id``, ``risk``
        (expected incidents, to 4 significant digits), ``rank`` (1 = highest in the layer's
        shift or horizon; ties by the lower cell id) and ``shift``. Coordinates are rounded
        to 1e-6 degrees (about 0.1 m). The layer control is collapsed to its button (top
        right); the legend sits at the bottom right. When the page opens, the map is fitted
        to the grid inside the space the controls and the legend leave free (measured in
        the browser), so that they cover no cell; the risk cells' SVG paths have the class
        ``caslite-risk``, the hot cells' ``caslite-hot``, the context layers'
        ``caslite-context``.

    Notes
    -----
    The cells are embedded as GeoJSON, about 0.4 kB per cell and layer: a city of 25,000
    cells gives a file of about 10 MB, which browsers draw, but slowly. For larger areas,
    export the hot cells of :meth:`Forecast.top` to a GIS instead. Context layers add their
    own GeoJSON (clipped to the grid): simplify a city's street network first
    (``streets.simplify(5)``) or keep its main roads.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> from shapely.geometry import box
    >>> from caslite import Forecast, Grid, ShiftSchedule
    >>> grid = Grid.from_area(box(0, 0, 500, 500), cell_size=125.0, crs="EPSG:28992")
    >>> blocks = ShiftSchedule.every(8, tz="Europe/Amsterdam").horizon("2024-03-11", "1D")
    >>> risk = np.random.default_rng(0).gamma(0.5, 0.01, size=(len(blocks), grid.n_cells))
    >>> forecast = Forecast(risk, blocks, grid, origin=blocks.start[0])
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = pathlib.Path(tmp) / "forecast.html"
    ...     m = explore(forecast, block=0, coverage=0.125, path=path, tiles=None,
    ...                 self_contained=True)
    ...     text = path.read_text(encoding="utf-8")
    >>> text.count('"type": "Feature"')  # 16 cells with risk > 0, 2 hot cells
    18
    >>> "cdn.jsdelivr.net" in text
    False
    """
    import folium
    import shapely

    _check_forecast(forecast)
    coverage = _check_coverage(coverage)
    scale = _check_scale(scale)
    if not isinstance(self_contained, bool):
        raise TypeError(f"self_contained must be True or False, got {self_contained!r}.")
    if path is not None and not isinstance(path, str | os.PathLike):
        raise TypeError(f"path must be a file path (str or os.PathLike), got {path!r}.")
    if tiles is not None and not isinstance(tiles, str | folium.TileLayer):
        raise TypeError(f"tiles must be a tile name, a folium.TileLayer or None, got {tiles!r}.")
    layers = _context_layers(context, forecast.grid)
    tz = forecast.blocks.schedule.tz
    if block is None:
        values = forecast.total()
        first = pd.Timestamp(int(forecast.blocks.start[0]), unit="s", tz="UTC").tz_convert(tz)
        last = pd.Timestamp(int(forecast.blocks.end[-1]), unit="s", tz="UTC").tz_convert(tz)
        surface_shift = f"horizon {first:%Y-%m-%d %H:%M}–{last:%Y-%m-%d %H:%M}"
        surface_name = f"expected incidents over the {surface_shift}"
        hot_blocks = _day_blocks(forecast, None)[1]
    else:
        b = _block_index(forecast, block)
        values = forecast.risk[b]
        surface_shift = _shift_title(forecast, b)
        surface_name = f"expected incidents, {surface_shift}"
        hot_blocks = np.array([b])
    picked_cells = [_hot_cells(forecast, int(b), coverage) for b in hot_blocks]
    style, hot_color = _hot_style(hot_style, hot_color, max(p.size for p in picked_cells))
    if style == "outline":
        hot_look = {"fill": False, "color": hot_color, "weight": 2, "opacity": 0.9}
    else:
        hot_look = {"fillColor": hot_color, "fillOpacity": 0.85, "color": hot_color}
        hot_look.update(weight=1, opacity=0.9)

    cells = forecast.grid.to_geodataframe()[["cell_id", "geometry"]].to_crs(4326)
    cells["geometry"] = shapely.transform(cells.geometry.to_numpy(), lambda c: np.round(c, 6))
    west, south, east, north = cells.total_bounds
    m = folium.Map(
        location=[(south + north) / 2, (west + east) / 2],
        tiles=tiles,
        control_scale=True,
        zoom_start=13,
        zoom_snap=0.25,  # fit the grid closely into the space the overlays leave
    )
    m.get_root().title = f"caslite forecast: {surface_name}"
    for name, layer in layers:
        shapes = layer.to_crs(4326)
        shapes["geometry"] = shapely.transform(shapes.geometry.to_numpy(), lambda c: np.round(c, 6))
        folium.GeoJson(
            shapes.to_geo_dict(show_bbox=False),
            name=name,
            style_function=lambda feature: {
                "color": "#595959",
                "weight": 1,
                "opacity": 0.8,
                "fill": False,
                "className": "caslite-context",
            },
            interactive=False,
            smooth_factor=0,
        ).add_to(m)

    norm = _norm(scale, values.max())
    colormap = _colormap(cmap)
    order = np.argsort(-values, kind="stable")
    rank = np.empty(values.size, dtype=np.int64)
    rank[order] = np.arange(1, values.size + 1)
    positive = np.flatnonzero(values > 0)
    if positive.size:
        surface = cells.iloc[positive].copy()
        surface["risk"] = _significant(values[positive])
        surface["rank"] = rank[positive]
        surface["shift"] = surface_shift
        surface["fill"] = _hex_colors(colormap, norm, values[positive])
        _geojson_layer(
            surface,
            name=surface_name,
            style=lambda feature: {
                "stroke": False,
                "fillColor": feature["properties"]["fill"],
                "fillOpacity": 0.7,
                "className": "caslite-risk",
            },
            highlight={"fillOpacity": 0.95},
        ).add_to(m)
    for i, (b, picked) in enumerate(zip(hot_blocks, picked_cells, strict=True)):
        b = int(b)
        if not picked.size:
            continue
        hot = cells.iloc[picked].copy()
        hot["risk"] = _significant(forecast.risk[b, picked])
        hot["rank"] = np.arange(1, picked.size + 1)
        hot["shift"] = _shift_title(forecast, b)
        _geojson_layer(
            hot,
            name=f"hot cells ({_percent(coverage)}), {_shift_title(forecast, b)}",
            style=lambda feature: {**hot_look, "className": "caslite-hot"},
            show=i == 0,
        ).add_to(m)
    folium.LayerControl(collapsed=True).add_to(m)
    legend = _legend_html(surface_name, colormap, norm, scale, coverage, hot_color, style)
    m.get_root().html.add_child(_raw(legend), name="caslite_legend")
    _fit_clear([[south, west], [north, east]]).add_to(m)
    if self_contained:
        _inline_leaflet(m)
    if path is not None:
        with atomic_path(path) as temporary:
            m.save(os.fspath(temporary))
    return m


def _geojson_layer(frame, *, name, style, highlight=None, show=True):
    """Return a folium GeoJson layer of ``frame`` with a tooltip of cell, risk, rank, shift."""
    import folium

    tooltip = folium.GeoJsonTooltip(
        fields=["cell_id", "risk", "rank", "shift"],
        aliases=["cell", "expected incidents", "rank", "shift"],
        sticky=True,
    )
    return folium.GeoJson(
        frame.to_geo_dict(show_bbox=False),
        name=name,
        style_function=style,
        highlight_function=None if highlight is None else (lambda feature: highlight),
        tooltip=tooltip,
        show=show,
        smooth_factor=0,  # no simplification: a cell is a few pixels wide
    )


def _colormap(cmap):
    from matplotlib import colormaps
    from matplotlib.colors import Colormap, ListedColormap

    if cmap is None:  # "Reds" without its near-white end, which looks like an empty map
        reds = colormaps["Reds"]
        return ListedColormap(reds(np.linspace(_CMAP_LOW, 1.0, 256)), name="Reds_visible")
    if isinstance(cmap, Colormap):
        return cmap
    try:
        return colormaps[cmap]
    except (KeyError, TypeError):
        raise ValueError(
            f"cmap={cmap!r} is not a matplotlib colour map; pass a name such as 'Reds' or "
            "'viridis', or a matplotlib.colors.Colormap."
        ) from None


def _hex_colors(colormap, norm, values) -> np.ndarray:
    from matplotlib.colors import to_hex

    rgba = colormap(norm(np.asarray(values, dtype=float)))
    return np.array([to_hex(c) for c in rgba], dtype=object)


def _significant(values) -> np.ndarray:
    return np.array([float(f"{v:.4g}") for v in values])


def _legend_html(caption, colormap, norm, scale, coverage, hot_color, style) -> str:
    from matplotlib.colors import to_hex

    stops = ", ".join(to_hex(colormap(t)) for t in np.linspace(0, 1, 11))
    if scale == "log" and norm.vmin > 0:
        ticks = [norm.vmin, np.sqrt(norm.vmin * norm.vmax), norm.vmax]
        below = "&le;"
    else:
        ticks = [norm.vmin, (norm.vmin + norm.vmax) / 2, norm.vmax]
        below = ""
    labels = "".join(f"<span>{below if i == 0 else ''}{t:.3g}</span>" for i, t in enumerate(ticks))
    return (
        '<div class="caslite-legend" style="position: fixed; bottom: 26px; right: 10px; '
        "z-index: 1000; max-width: 260px; background: rgba(255, 255, 255, 0.9); padding: 6px 9px; "
        "font: 12px/1.4 sans-serif; border-radius: 4px; box-shadow: 0 1px 4px "
        'rgba(0, 0, 0, 0.3);">'
        f"<div>{html.escape(caption)} ({scale} scale)</div>"
        f'<div style="width: 220px; height: 12px; margin: 3px 0; '
        f'background: linear-gradient(to right, {stops});"></div>'
        '<div style="width: 220px; display: flex; justify-content: space-between;">'
        f"{labels}</div>"
        '<div style="margin-top: 4px;"><span style="display: inline-block; width: 10px; '
        f"height: 10px; border: 2px solid {html.escape(hot_color)}; "
        f"background: {html.escape(hot_color) if style == 'fill' else 'none'}; "
        'vertical-align: middle;"></span> '
        f"hot cells ({html.escape(_percent(coverage))})</div></div>"
    )


def _fit_clear_class():
    """Return the branca element class that fits the map to the space the overlays leave."""
    from branca.element import MacroElement
    from jinja2 import Template

    class FitClear(MacroElement):
        """Fit the map to ``bounds`` in the part of it no control or legend covers.

        After the controls and the legend exist, the script measures their boxes: those in
        the top half of the map reserve a band at the top, those in the bottom half a band at
        the bottom (the map keeps its full width), and Leaflet's ``fitBounds`` pads by them.
        """

        _template = Template(
            """
            {% macro script(this, kwargs) %}
            (function () {
                var map = {{ this._parent.get_name() }};
                var frame = map.getContainer().getBoundingClientRect();
                var middle = frame.top + frame.height / 2;
                var top = 0, bottom = 0;
                var overlays = document.querySelectorAll(".leaflet-control, .caslite-legend");
                overlays.forEach(function (element) {
                    var box = element.getBoundingClientRect();
                    if (!box.width || !box.height) { return; }
                    if (box.top + box.height / 2 < middle) {
                        top = Math.max(top, box.bottom - frame.top);
                    } else {
                        bottom = Math.max(bottom, frame.bottom - box.top);
                    }
                });
                map.fitBounds({{ this.bounds|tojson }}, {
                    paddingTopLeft: [8, top + 8],
                    paddingBottomRight: [8, bottom + 8]
                });
            })();
            {% endmacro %}
            """
        )

        def __init__(self, bounds):
            super().__init__()
            self._name = "FitClear"
            self.bounds = bounds

    return FitClear


def _fit_clear(bounds):
    return _fit_clear_class()(bounds)


def _raw(text: str):
    """Return a branca element that renders ``text`` as it is (not read as a template)."""
    from branca.element import Element

    class Raw(Element):
        def render(self, **kwargs) -> str:
            return text

    element = Raw()
    element._name = "Raw"
    return element


def _inline_leaflet(m) -> None:
    """Replace the map's links to CDN assets by Leaflet's code and style, inlined."""
    root = resources.files("caslite") / "_static" / "leaflet"
    code = (root / "leaflet.js").read_text(encoding="utf-8")
    code = re.sub(r"^//# sourceMappingURL=.*$", "", code, flags=re.MULTILINE)
    style = (root / "leaflet.css").read_text(encoding="utf-8")

    def data_uri(match):
        image = (root / "images" / match.group(1)).read_bytes()
        return f"url(data:image/png;base64,{base64.b64encode(image).decode('ascii')})"

    style = re.sub(r"url\(images/([\w.-]+\.png)\)", data_uri, style)
    # Leaflet alone draws the map; folium's other defaults (jQuery, Bootstrap, icon fonts)
    # serve markers and popups, which these maps do not use.
    m.default_js = []
    m.default_css = []
    header = m.get_root().header
    name, version = _LEAFLET
    header.add_child(_raw(f"<style>/* {name} {version} */\n{style}</style>"), name="leaflet_css")
    header.add_child(_raw(f"<script>\n{code}\n</script>"), name="leaflet")


# ---------------------------------------------------------------------- arguments
def _check_forecast(forecast) -> None:
    if not isinstance(forecast, Forecast):
        raise TypeError(
            f"forecast must be a caslite Forecast, got {type(forecast).__name__}; make one "
            "with caslite.predict(..., return_forecast=True) or a model's forecast()."
        )


def _check_coverage(coverage) -> float:
    return check_share(
        coverage, "coverage", "(0, 1]", what="a share of the area", example="0.03 for 3 %"
    )


def _check_scale(scale) -> str:
    if scale not in _SCALES:
        raise ValueError(f"scale must be one of {list(_SCALES)}, got {scale!r}.")
    return scale


def _block_index(forecast, block) -> int:
    """Position in the horizon of ``block`` (a position or a block start time)."""
    n = len(forecast.blocks)
    if isinstance(block, bool):
        raise TypeError(f"block must be a position or a block start time, got {block!r}.")
    if isinstance(block, numbers.Integral):
        if not 0 <= block < n:
            raise ValueError(
                f"block={block} is out of range: the forecast has {n} blocks, positions "
                f"0 .. {n - 1}; or pass the start time of a block."
            )
        return int(block)
    tz = forecast.blocks.schedule.tz
    if isinstance(block, np.datetime64 | dt.datetime | str):
        stamp = pd.Timestamp(block) if isinstance(block, np.datetime64) else block
        try:
            seconds = int(to_utc_seconds(stamp, tz, "block"))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"block={block!r} is not a usable time: {exc}") from None
        if seconds == _NAT:
            raise ValueError(
                f"block={block!r} is not a readable time; pass a block start such as "
                "'2019-03-01 08:00' (local time) or its position in the horizon."
            )
        hits = np.flatnonzero(forecast.blocks.start == seconds)
        if hits.size:
            return int(hits[0])
        when = pd.Timestamp(seconds, unit="s", tz="UTC").tz_convert(tz)
        starts = pd.to_datetime(forecast.blocks.start, unit="s", utc=True).tz_convert(tz)
        nearest = starts[np.argsort(np.abs(forecast.blocks.start - seconds), kind="stable")[:2]]
        raise ValueError(
            f"block={block!r} ({when}) is not the start of a block of the forecast (horizon "
            f"{starts[0]} .. {starts[-1]}); nearest block starts: "
            f"{', '.join(str(s) for s in sorted(nearest))}."
        )
    raise TypeError(
        f"block must be a position (int) or a block start time (str or datetime), got "
        f"{block!r} ({type(block).__name__})."
    )


def _day_blocks(forecast, day):
    """Local date and positions of the blocks that start on it (``day=None``: the first)."""
    tz = forecast.blocks.schedule.tz
    starts = pd.to_datetime(forecast.blocks.start, unit="s", utc=True).tz_convert(tz)
    dates = np.asarray(starts.date)
    if day is None:
        date = dates[0]
    else:
        try:
            stamp = pd.Timestamp(day)
        except (ValueError, TypeError):
            raise ValueError(
                f"day={day!r} is not a date; pass e.g. '2019-03-10' or a datetime.date."
            ) from None
        if stamp is pd.NaT:
            raise ValueError(f"day={day!r} is not a date; pass e.g. '2019-03-10'.")
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert(tz)
        date = stamp.date()
    which = np.flatnonzero(dates == date)
    if not which.size:
        raise ValueError(
            f"no block of the forecast starts on {date} ({tz}); the horizon's blocks start "
            f"on the local dates {dates[0]} .. {dates[-1]}."
        )
    return date, which


def _hot_cells(forecast, b, coverage) -> np.ndarray:
    """Hot cells of block ``b`` in rank order, as :meth:`Forecast.top` chooses them."""
    return top_cells(forecast.risk[b], coverage, area=forecast.grid.area_fraction)


# ---------------------------------------------------------------------- labels
def _bounds(forecast, b):
    tz = forecast.blocks.schedule.tz
    start = pd.Timestamp(int(forecast.blocks.start[b]), unit="s", tz="UTC").tz_convert(tz)
    end = pd.Timestamp(int(forecast.blocks.end[b]), unit="s", tz="UTC").tz_convert(tz)
    return start, end


def _times(start, end) -> str:
    """``"08:00–16:00 CET"``; both zone names and the hours when the offset changes."""
    to = f"{end:%a} {end:%H:%M}" if end.date() != start.date() and end.hour + end.minute else None
    to = to or f"{end:%H:%M}"
    if start.utcoffset() == end.utcoffset():
        return f"{start:%H:%M}–{to} {start.tzname()}"
    hours = (end - start) / pd.Timedelta(hours=1)
    return f"{start:%H:%M} {start.tzname()}–{to} {end.tzname()} ({hours:g} h)"


def _shift_title(forecast, b) -> str:
    start, end = _bounds(forecast, b)
    return f"{start:%a %Y-%m-%d} {_times(start, end)}"


def _horizon_title(forecast) -> str:
    start, _ = _bounds(forecast, 0)
    _, end = _bounds(forecast, len(forecast.blocks) - 1)
    zone = "" if start.utcoffset() == end.utcoffset() else f" {start.tzname()}"
    return f"horizon {start:%a %Y-%m-%d %H:%M}{zone} – {end:%a %Y-%m-%d %H:%M} {end.tzname()}"


def _panel_title(forecast, b) -> str:
    start, end = _bounds(forecast, b)
    label = str(forecast.blocks.schedule.labels[forecast.blocks.shift[b]])
    times = _times(start, end)
    if re.fullmatch(r"\d{2}(:\d{2})?-\d{2}(:\d{2})?", label):  # a default "07-15" label
        return times
    return f"{label}: {times}"
