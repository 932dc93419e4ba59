"""Tests of the forecast maps: static shift maps, small multiples and the interactive map."""

import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from caslite import Forecast, Grid, ShiftSchedule
from caslite.maps import explore, plot_day, plot_horizon, plot_shift

CHROMIUM = Path("/usr/bin/chromium")


# ---------------------------------------------------------------------- fixtures
def _forecast(tz="Europe/Amsterdam", origin="2024-03-11", horizon="2D", hours=4, seed=0):
    """A forecast on an L-shaped area with partial boundary cells and a few zero-risk cells."""
    area = shapely.Polygon([(0, 0), (2000, 0), (2000, 900), (900, 900), (900, 1500), (0, 1500)])
    area = shapely.affinity.translate(area, 120_030.0, 480_010.0)  # cells cut by the boundary
    grid = Grid.from_area(area, cell_size=125.0, crs="EPSG:28992")
    blocks = ShiftSchedule.every(hours, tz=tz).horizon(origin, horizon)
    rng = np.random.default_rng(seed)
    risk = rng.gamma(0.4, 0.01, size=(len(blocks), grid.n_cells))
    risk[:, rng.choice(grid.n_cells, 10, replace=False)] = 0.0
    risk[0, :4] = risk[0, 4]  # ties, broken by the lower cell id
    return Forecast(risk, blocks, grid, origin=blocks.start[0])


@pytest.fixture(scope="module")
def forecast():
    return _forecast()


def _reference_top(risk, area, coverage):
    """Cells by decreasing risk (ties: lower id first) while their area fits the budget."""
    ids = np.arange(risk.size)
    order = np.array(sorted(ids, key=lambda c: (-risk[c], c)))
    budget = coverage * area.sum()
    picked, used = [], 0.0
    for cell in order:
        if used + area[cell] > budget * (1 + 1e-9):
            break
        picked.append(cell)
        used += area[cell]
    return np.array(picked, dtype=np.int64)


def _by_gid(ax, gid):
    found = ax.findobj(match=lambda artist: artist.get_gid() == gid)
    assert len(found) == 1, f"expected one artist with gid {gid!r}, found {len(found)}"
    return found[0]


def _cells_of_paths(collection, grid):
    """Cell id of each square drawn in a collection, from the paths' vertices."""
    cells = []
    for path in collection.get_paths():
        vertices = path.vertices[:4]
        width = np.ptp(vertices, axis=0)
        np.testing.assert_allclose(width, [grid.cell_size, grid.cell_size])
        centre = vertices.min(axis=0) + grid.cell_size / 2
        cells.append(int(grid.cell_of(centre[0], centre[1])))
    return np.array(cells, dtype=np.int64)


def _panels(figure):
    return [ax for ax in figure.axes if ax.get_label().startswith("block")]


# ---------------------------------------------------------------------- plot_shift
@pytest.mark.parametrize("coverage", [0.03, 0.1, 0.5, 1.0])
@pytest.mark.parametrize("block", [0, 5, 11])
def test_hot_cells_drawn_are_the_top_cells(forecast, block, coverage):
    ax = plot_shift(forecast, block, coverage=coverage)
    drawn = _cells_of_paths(_by_gid(ax, "hot-cells"), forecast.grid)
    expected = _reference_top(forecast.risk[block], forecast.grid.area_fraction, coverage)
    np.testing.assert_array_equal(drawn, expected)
    top = forecast.top(coverage)
    start = forecast.blocks.to_frame()["block_start"].iloc[block]
    np.testing.assert_array_equal(drawn, top.loc[top["shift_start"] == start, "cell_id"])


def test_raster_holds_the_blocks_risk(forecast):
    grid = forecast.grid
    ax = plot_shift(forecast, 3)
    image = _by_gid(ax, "risk")
    raster = np.ma.getdata(image.get_array())
    assert raster.shape == grid.shape
    np.testing.assert_array_equal(raster[grid.cell_row, grid.cell_col], forecast.risk[3])
    inactive = np.ones(grid.shape, dtype=bool)
    inactive[grid.cell_row, grid.cell_col] = False
    assert inactive.any() and np.isnan(raster[inactive]).all()
    zero = np.ma.getdata(_by_gid(ax, "zero-risk").get_array())
    grey = np.zeros(grid.shape, dtype=bool)
    grey[grid.cell_row, grid.cell_col] = forecast.risk[3] == 0
    np.testing.assert_array_equal(~np.isnan(zero), grey)
    assert grey.sum() == 10
    assert (grid.area_fraction < 1).any()  # boundary cells count their share of the area
    xmin, ymin, xmax, ymax = grid.bounds
    assert image.get_extent() == [xmin, xmax, ymin, ymax]
    assert image.norm.vmax == forecast.risk[3].max()
    assert image.norm.vmin == pytest.approx(forecast.risk[3].max() / 1000)


def test_linear_scale_runs_from_zero(forecast):
    ax = plot_shift(forecast, 2, scale="linear")
    image = _by_gid(ax, "risk")
    assert (image.norm.vmin, image.norm.vmax) == (0.0, forecast.risk[2].max())
    assert not ax.findobj(match=lambda a: a.get_gid() == "zero-risk")  # 0 is on the scale
    assert len(ax.get_legend().get_texts()) == 1


def test_scale_bar_is_round_and_shorter_than_the_map(forecast):
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    ax = plot_shift(forecast, 0)
    bar = _by_gid(ax, "scale-bar")
    assert isinstance(bar, AnchoredSizeBar)
    (rectangle,) = bar.size_bar.get_children()
    length = rectangle.get_width()
    xmin, _, xmax, _ = forecast.grid.bounds
    assert (xmax - xmin) / 10 <= length < xmax - xmin
    mantissa = length / 10 ** np.floor(np.log10(length))
    assert mantissa in (1.0, 2.0, 5.0)
    text = bar.txt_label.get_text()
    assert text == (f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m")


def test_scale_bar_of_a_large_grid_is_in_km():
    grid = Grid.from_area(shapely.box(0, 0, 40_000, 10_000), cell_size=500.0, crs="EPSG:28992")
    blocks = ShiftSchedule.every(24, tz="Europe/Amsterdam").horizon("2024-03-11", "1D")
    risk = np.random.default_rng(1).random((1, grid.n_cells))
    ax = plot_shift(Forecast(risk, blocks, grid, origin=blocks.start[0]))
    assert _by_gid(ax, "scale-bar").txt_label.get_text() == "10 km"  # 40 km / 4


def test_legend_colour_bar_and_title(forecast):
    ax = plot_shift(forecast, 2, coverage=0.03)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "hot cells (3 % of area)",
        "no incidents expected",  # the grey of the 10 zero-risk cells
    ]
    colorbar = ax.figure.axes[-1]
    assert "expected incidents per 125 m cell" in colorbar.get_ylabel()
    # block 2 of a 4-hour schedule from 2024-03-11 00:00 is 08:00-12:00 local (CET)
    assert ax.get_title() == "Mon 2024-03-11 08:00–12:00 CET"
    assert plot_shift(forecast, 2, title="mine").get_title() == "mine"
    ax = plot_shift(forecast, 2, coverage=0.025)
    assert ax.get_legend().get_texts()[0].get_text() == "hot cells (2.5 % of area)"


def test_block_by_start_time_is_the_same_block(forecast):
    by_position = plot_shift(forecast, 7)
    for when in (
        "2024-03-12 04:00",
        pd.Timestamp("2024-03-12 04:00", tz="Europe/Amsterdam"),
        pd.Timestamp("2024-03-12 03:00", tz="UTC"),
        dt.datetime(2024, 3, 12, 4, 0),
        np.datetime64("2024-03-12T04:00"),
    ):
        ax = plot_shift(forecast, when)
        assert ax.get_title() == by_position.get_title()
        np.testing.assert_array_equal(
            np.ma.getdata(_by_gid(ax, "risk").get_array()),
            np.ma.getdata(_by_gid(by_position, "risk").get_array()),
        )


def test_draws_into_a_given_axes(forecast):
    from matplotlib.figure import Figure

    figure = Figure()
    left, right = figure.subplots(1, 2)
    assert plot_shift(forecast, 1, ax=right) is right
    assert not left.images and right.images


def test_crossing_midnight_and_dst_titles():
    # 8-hour police shifts 07-15, 15-23, 23-07 around the spring-forward night in Toronto
    schedule = ShiftSchedule(["07:00", "15:00", "23:00"], tz="America/Toronto")
    blocks = schedule.horizon("2019-03-09 07:00", "2D")
    grid = Grid.from_area(shapely.box(0, 0, 500, 500), crs="EPSG:32617")
    risk = np.random.default_rng(2).random((len(blocks), grid.n_cells))
    forecast = Forecast(risk, blocks, grid, origin=blocks.start[0])
    # 23:00 EST on Saturday to 07:00 EDT on Sunday: 7 hours
    assert plot_shift(forecast, 2).get_title() == "Sat 2019-03-09 23:00 EST–Sun 07:00 EDT (7 h)"
    assert plot_shift(forecast, 3).get_title() == "Sun 2019-03-10 07:00–15:00 EDT"


# ---------------------------------------------------------------------- plot_day
def test_small_multiples_of_a_dst_day():
    # 2024-03-31 Europe/Amsterdam: clocks jump 02:00 -> 03:00, the 00-04 block has 3 hours
    forecast = _forecast(origin="2024-03-30", horizon="3D")
    figure = plot_day(forecast, "2024-03-31")
    panels = _panels(figure)
    assert len(panels) == 6  # six 4-hour blocks start on that date, whatever their length
    positions = [int(ax.get_label().split()[1]) for ax in panels]
    assert positions == list(range(6, 12))
    assert panels[0].get_title() == "00:00 CET–04:00 CEST (3 h)"
    assert panels[1].get_title() == "04:00–08:00 CEST"
    day_max = forecast.risk[6:12].max()
    grid = forecast.grid
    for ax, b in zip(panels, positions, strict=True):
        image = _by_gid(ax, "risk")
        assert image.norm.vmax == day_max  # one shared colour scale
        raster = np.ma.getdata(image.get_array())
        np.testing.assert_array_equal(raster[grid.cell_row, grid.cell_col], forecast.risk[b])
        drawn = _cells_of_paths(_by_gid(ax, "hot-cells"), grid)
        np.testing.assert_array_equal(
            drawn, _reference_top(forecast.risk[b], grid.area_fraction, 0.03)
        )
    assert sum(1 for ax in figure.axes if ax.get_label() == "<colorbar>") == 1
    bars = [ax for ax in panels if ax.findobj(match=lambda a: a.get_gid() == "scale-bar")]
    assert bars == panels[:1]
    assert [t.get_text() for t in figure.legends[0].get_texts()] == [
        "hot cells (3 % of area)",
        "no incidents expected",
    ]


def test_shift_starting_in_the_skipped_hour():
    # shifts 02:30, 10:30, 18:30: on 2024-03-31 the 02:30 start does not exist and begins at
    # 03:00 CEST; the 18:30 shift of 30 March ends then. Three shifts start on the 31st.
    schedule = ShiftSchedule(["02:30", "10:30", "18:30"], tz="Europe/Amsterdam")
    blocks = schedule.horizon("2024-03-30 02:30", "3D")
    grid = Grid.from_area(shapely.box(0, 0, 500, 500), crs="EPSG:28992")
    risk = np.random.default_rng(3).random((len(blocks), grid.n_cells))
    forecast = Forecast(risk, blocks, grid, origin=blocks.start[0])
    panels = _panels(plot_day(forecast, dt.date(2024, 3, 31)))
    assert [ax.get_title() for ax in panels] == [
        "03:00–10:30 CEST",
        "10:30–18:30 CEST",
        "18:30–Mon 02:30 CEST",
    ]


def test_default_day_is_the_first_possibly_partial_day():
    forecast = _forecast(tz="America/Toronto", origin="2019-03-10 12:00", horizon="2D")
    figure = plot_day(forecast, ncols=2)
    assert len(_panels(figure)) == 3  # 12-16, 16-20, 20-24 of 10 March
    assert figure.get_suptitle() == "Sun 2019-03-10 (America/Toronto)"
    assert len(figure.axes) == 3 + 1  # the unused fourth slot is removed; one colour bar
    tz_aware = pd.Timestamp("2019-03-11 03:00", tz="UTC")  # 23:00 on the 10th in Toronto
    assert len(_panels(plot_day(forecast, tz_aware))) == 3


# ---------------------------------------------------------------------- input checks
def test_bad_inputs_are_refused(forecast):
    with pytest.raises(TypeError, match="caslite Forecast"):
        plot_shift(forecast.risk)
    with pytest.raises(TypeError, match="caslite Forecast"):
        plot_day("forecast")
    with pytest.raises(TypeError, match="caslite Forecast"):
        explore(None)
    n = len(forecast.blocks)
    for block in (-1, n):
        with pytest.raises(ValueError, match=rf"block={block} is out of range.*{n} blocks"):
            plot_shift(forecast, block)
    with pytest.raises(ValueError, match="not the start of a block.*nearest block starts"):
        plot_shift(forecast, "2024-03-11 01:00")
    with pytest.raises(ValueError, match="block='soon' is not a usable time.*cannot read 'soon'"):
        plot_shift(forecast, "soon")
    with pytest.raises(ValueError, match="not a readable time"):
        plot_shift(forecast, np.datetime64("NaT"))
    with pytest.raises(TypeError, match="block must be a position"):
        plot_shift(forecast, 1.0)
    with pytest.raises(TypeError, match="block must be a position"):
        explore(forecast, block=True)
    for coverage in (0, -0.1, 1.5, float("nan")):
        with pytest.raises(
            ValueError, match=r"coverage must be a share of the area in \(0, 1\], got"
        ):
            plot_shift(forecast, coverage=coverage)
    with pytest.raises(TypeError, match="coverage must be a number"):
        plot_day(forecast, coverage="3%")
    with pytest.raises(ValueError, match=r"coverage must be .*, got 2 \(e.g. coverage=0.03"):
        explore(forecast, coverage=2)
    with pytest.raises(ValueError, match=r"no block of the forecast starts on 2024-04-01"):
        plot_day(forecast, "2024-04-01")
    with pytest.raises(ValueError, match="not a date"):
        plot_day(forecast, "someday")
    with pytest.raises(ValueError, match="ncols"):
        plot_day(forecast, ncols=0)
    with pytest.raises(ValueError, match="scale must be one of"):
        plot_shift(forecast, scale="sqrt")
    with pytest.raises(ValueError, match="not a matplotlib colour map"):
        plot_day(forecast, cmap="Redz")
    with pytest.raises(ValueError, match="not a matplotlib colour map"):
        explore(forecast, cmap="Redz")
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes"):
        plot_shift(forecast, ax="left")
    with pytest.raises(TypeError, match="self_contained"):
        explore(forecast, self_contained="yes")
    with pytest.raises(TypeError, match="path must be a file path"):
        explore(forecast, path=3)


# ---------------------------------------------------------------------- explore
def _layers(m):
    import folium

    return [child for child in m._children.values() if isinstance(child, folium.GeoJson)]


def _feature_cells(layer):
    return np.array([f["properties"]["cell_id"] for f in layer.data["features"]])


def test_html_map_of_one_block(forecast, tmp_path):
    path = tmp_path / "block.html"
    m = explore(forecast, block=4, path=path, tiles=None)
    text = path.read_text(encoding="utf-8")
    risk = forecast.risk[4]
    hot = _reference_top(risk, forecast.grid.area_fraction, 0.03)
    positive = np.flatnonzero(risk > 0)
    assert positive.size == forecast.grid.n_cells - 10
    assert text.count('"type": "Feature"') == positive.size + hot.size
    surface, hot_layer = _layers(m)
    np.testing.assert_array_equal(_feature_cells(surface), positive)
    np.testing.assert_array_equal(_feature_cells(hot_layer), hot)
    assert surface.show and hot_layer.show
    # tooltips: cell_id, risk (4 significant digits), rank (1 = highest), shift
    order = sorted(range(risk.size), key=lambda c: (-risk[c], c))
    rank = {cell: i + 1 for i, cell in enumerate(order)}
    for feature in surface.data["features"][:50]:
        props = feature["properties"]
        assert props["risk"] == pytest.approx(risk[props["cell_id"]], rel=5e-4)
        assert props["rank"] == rank[props["cell_id"]]
        assert props["shift"] == "Mon 2024-03-11 16:00–20:00 CET"
    assert [f["properties"]["rank"] for f in hot_layer.data["features"]] == list(
        range(1, hot.size + 1)
    )
    assert 'fields = ["cell_id", "risk", "rank", "shift"];' in text


def test_html_map_is_in_wgs84(forecast):
    m = explore(forecast, block=0, tiles=None)
    surface = _layers(m)[0]
    to_wgs84 = pyproj.Transformer.from_crs(forecast.grid.crs, 4326, always_xy=True)
    for feature in surface.data["features"][:20]:
        cell = feature["properties"]["cell_id"]
        ring = np.array(feature["geometry"]["coordinates"][0])
        lon, lat = to_wgs84.transform(forecast.grid.x[cell], forecast.grid.y[cell])
        centre = ring[:4].mean(axis=0)
        assert centre == pytest.approx([lon, lat], abs=2e-5)  # a few metres at most
        assert 3 < lon < 8 and 50 < lat < 54  # the Netherlands


def test_html_map_of_the_horizon(forecast, tmp_path):
    path = tmp_path / "horizon.html"
    m = explore(forecast, path=path, tiles=None, coverage=0.05)
    layers = _layers(m)
    total = forecast.total()
    first_day = [0, 1, 2, 3, 4, 5]  # six 4-hour blocks start on 2024-03-11
    assert len(layers) == 1 + len(first_day)
    np.testing.assert_array_equal(_feature_cells(layers[0]), np.flatnonzero(total > 0))
    for layer, b in zip(layers[1:], first_day, strict=True):
        expected = _reference_top(forecast.risk[b], forecast.grid.area_fraction, 0.05)
        np.testing.assert_array_equal(_feature_cells(layer), expected)
    assert [layer.show for layer in layers] == [True, True] + [False] * 5
    n_features = sum(len(layer.data["features"]) for layer in layers)
    assert path.read_text(encoding="utf-8").count('"type": "Feature"') == n_features


def test_self_contained_html_links_nothing(forecast, tmp_path):
    linked = explore(forecast, block=0, tiles=None)
    assert "cdn.jsdelivr.net/npm/leaflet" in linked.get_root().render()
    path = tmp_path / "offline.html"
    explore(forecast, block=0, tiles=None, self_contained=True, path=path)
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]+src=", text)
    assert not re.search(r"<link[^>]+href=", text)
    assert "url(images/" not in text and "url(data:image/png;base64," in text
    assert 'version="1.9.4"' in text  # the vendored Leaflet
    licence = Path(__import__("caslite").__file__).parent / "_static" / "leaflet" / "LICENSE"
    assert "BSD 2-Clause License" in licence.read_text(encoding="utf-8")


# ---------------------------------------------------------------------- a real browser
def _chromium():
    if CHROMIUM.exists():
        return str(CHROMIUM)
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing; CI installs Debian's chromium for this test.")
    pytest.skip(f"{CHROMIUM} is not installed")


def _run_chromium(tmp_path, *args):
    command = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=5000",
        "--window-size=900,700",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=True)


def test_html_map_renders_in_headless_chromium(tmp_path):
    from matplotlib.image import imread

    forecast = _forecast()
    path = tmp_path / "map.html"
    m = explore(forecast, path=path, tiles=None, self_contained=True)
    layers = _layers(m)
    shown = sum(len(layer.data["features"]) for layer in layers if layer.show)
    url = path.resolve().as_uri()

    dom = _run_chromium(tmp_path, "--dump-dom", url).stdout
    paths = re.findall(r'<path[^>]*class="[^"]*leaflet-interactive', dom)
    assert len(paths) == shown  # every feature of the shown layers became an SVG path
    assert dom.count('<input type="checkbox" class="leaflet-control-layers-selector"') == len(
        layers
    )
    assert "caslite-legend" in dom

    screenshot = tmp_path / "map.png"
    _run_chromium(tmp_path, f"--screenshot={screenshot}", url)
    pixels = imread(screenshot)[..., :3]
    assert pixels.shape[:2] == (700, 900)
    red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    reddish = (red > 0.6) & (red - green > 0.15) & (red - blue > 0.15)
    assert reddish.mean() > 0.01  # the risk surface is drawn
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50  # not a blank page


def test_chromium_policy_in_ci(monkeypatch):
    """Without chromium the browser test is skipped locally and fails in CI."""
    monkeypatch.setattr(sys.modules[__name__], "CHROMIUM", Path("/nonexistent/chromium"))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        _chromium()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI installs"):
        _chromium()


def test_geojson_in_html_parses(forecast, tmp_path):
    """The features embedded in the page are valid GeoJSON with the tooltip properties."""
    path = tmp_path / "parse.html"
    explore(forecast, block=1, path=path, tiles=None)
    text = path.read_text(encoding="utf-8")
    blobs = re.findall(r"geo_json_\w+_add\((\{.*?\})\);\n", text)
    data = [json.loads(blob) for blob in blobs]
    assert [d["type"] for d in data] == ["FeatureCollection"] * 2  # risk and hot cells
    risk = forecast.risk[1]
    hot = _reference_top(risk, forecast.grid.area_fraction, 0.03)
    assert [len(d["features"]) for d in data] == [int((risk > 0).sum()), hot.size]
    for feature in data[1]["features"]:
        assert set(feature["properties"]) == {"cell_id", "risk", "rank", "shift"}
        assert feature["geometry"]["type"] == "Polygon"


# ---------------------------------------------------------------------- context, ticks, styles
def _context(forecast, crs=4326):
    """A street (line) across the grid and a neighbourhood (polygon), in ``crs``."""
    import geopandas

    xmin, ymin, xmax, ymax = forecast.grid.bounds
    street = shapely.LineString([(xmin - 300, ymin + 400), (xmax + 300, ymin + 700)])
    hood = shapely.box(xmin + 200, ymin + 200, xmin + 800, ymin + 600)
    layer = geopandas.GeoDataFrame(geometry=[street, hood], crs=forecast.grid.crs)
    return layer.to_crs(crs)


def test_context_layers_are_reprojected_and_drawn_under_the_risk(forecast):
    ax = plot_shift(forecast, 0, context={"streets": _context(forecast)})
    lines = _by_gid(ax, "context-0")
    assert lines.get_label() == "streets"
    drawn = lines.get_segments()
    assert len(drawn) == 2  # the street and the neighbourhood's outline
    # back in the grid's CRS (independently with pyproj), clipped to the map plus 5 %
    xmin, ymin, xmax, ymax = forecast.grid.bounds
    margin = 0.05 * max(xmax - xmin, ymax - ymin)
    street = drawn[0]
    assert street[:, 0].min() == pytest.approx(xmin - margin, abs=1e-3)
    assert street[:, 0].max() == pytest.approx(xmax + margin, abs=1e-3)
    slope = 300 / (xmax - xmin + 600)
    np.testing.assert_allclose(street[:, 1], ymin + 400 + slope * (street[:, 0] - xmin + 300))
    ring = drawn[1]
    np.testing.assert_allclose(
        [ring[:, 0].min(), ring[:, 1].min(), ring[:, 0].max(), ring[:, 1].max()],
        [xmin + 200, ymin + 200, xmin + 800, ymin + 600],
        atol=1e-3,
    )
    risk = _by_gid(ax, "risk")
    assert lines.get_zorder() < risk.get_zorder() < _by_gid(ax, "hot-cells").get_zorder()
    # what a user adds to the map afterwards (here with geopandas) is drawn over the risk
    added = _context(forecast, forecast.grid.crs).plot(ax=ax, facecolor="none").collections[-1]
    assert added.get_zorder() > risk.get_zorder()
    assert 0 < risk.get_alpha() < 1  # the context shows through the risk
    assert plot_shift(forecast, 0).findobj(lambda a: a.get_gid() == "risk")[0].get_alpha() is None


def test_context_from_files_lists_and_series(forecast, tmp_path):
    path = tmp_path / "streets.gpkg"
    _context(forecast).to_file(path)
    figure = plot_day(forecast, context=[path, _context(forecast).geometry])
    for ax in _panels(figure):
        assert _by_gid(ax, "context-0").get_label() == "streets"
        assert _by_gid(ax, "context-1").get_label() == "context 2"
    expected = _context(forecast, forecast.grid.crs).geometry.centroid
    ax = plot_horizon(forecast, context=expected.to_crs(4326).to_frame("geometry"))
    offsets = _by_gid(ax, "context-0-points").get_offsets()
    np.testing.assert_allclose(offsets, np.column_stack([expected.x, expected.y]), atol=1e-3)


def test_context_errors_name_the_layer_and_the_fix(forecast, tmp_path):
    import geopandas

    naive = geopandas.GeoDataFrame(geometry=[shapely.Point(0, 0)])
    with pytest.raises(ValueError, match=r"context layer 'streets' has no CRS.*set_crs"):
        plot_shift(forecast, context={"streets": naive})
    with pytest.raises(ValueError, match=r"context layer 'context 1' has no CRS"):
        explore(forecast, context=naive, tiles=None)
    with pytest.raises(FileNotFoundError, match=r"context layer .*nowhere.gpkg.* does not exist"):
        plot_day(forecast, context=tmp_path / "nowhere.gpkg")
    with pytest.raises(TypeError, match="context layer 1 is a DataFrame"):
        plot_horizon(forecast, context=pd.DataFrame({"x": [1]}))


@pytest.mark.parametrize("draw", ["plot_shift", "plot_horizon", "plot_cells"])
def test_latlon_ticks_sit_where_the_meridians_cross_the_edges(forecast, draw):
    from caslite import plot_cells

    if draw == "plot_cells":
        ax = plot_cells(forecast.grid, forecast.total())
    else:
        ax = {"plot_shift": plot_shift, "plot_horizon": plot_horizon}[draw](forecast)
    to_wgs84 = pyproj.Transformer.from_crs(forecast.grid.crs, 4326, always_xy=True)
    xmin, ymin, xmax, ymax = forecast.grid.bounds
    xticks, xlabels = ax.get_xticks(), [t.get_text() for t in ax.get_xticklabels()]
    yticks, ylabels = ax.get_yticks(), [t.get_text() for t in ax.get_yticklabels()]
    assert len(xticks) >= 2 and len(yticks) >= 2
    for x, label in zip(xticks, xlabels, strict=True):
        assert xmin <= x <= xmax and label.endswith("°E")
        lon, _ = to_wgs84.transform(x, ymin)
        assert lon == pytest.approx(float(label[:-2]), abs=1e-6)
    for y, label in zip(yticks, ylabels, strict=True):
        assert ymin <= y <= ymax and label.endswith("°N")
        _, lat = to_wgs84.transform(xmin, y)
        assert lat == pytest.approx(float(label[:-2]), abs=1e-6)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("longitude", "latitude")
    bare = plot_shift(forecast, 0, ticks=None)
    assert len(bare.get_xticks()) == 0 and len(bare.get_yticks()) == 0
    bare = plot_cells(forecast.grid, forecast.total(), ticks=None)
    assert len(bare.get_xticks()) == 0 and len(bare.get_yticks()) == 0
    with pytest.raises(ValueError, match="ticks must be 'latlon' or None"):
        plot_shift(forecast, ticks="metres")
    with pytest.raises(ValueError, match="ticks must be 'latlon' or None"):
        plot_cells(forecast.grid, forecast.total(), ticks="metres")


def test_western_hemisphere_ticks_read_west():
    grid = Grid.from_area(shapely.box(628_000, 4_833_000, 632_000, 4_836_000), crs="EPSG:32617")
    blocks = ShiftSchedule.every(24, tz="America/Toronto").horizon("2019-03-11", "1D")
    risk = np.random.default_rng(4).random((1, grid.n_cells))
    ax = plot_shift(Forecast(risk, blocks, grid, origin=blocks.start[0]))
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels and all(label.endswith("°W") for label in labels)
    lon, _ = pyproj.Transformer.from_crs(grid.crs, 4326, always_xy=True).transform(
        ax.get_xticks()[0], grid.bounds[1]
    )
    assert -lon == pytest.approx(float(labels[0][:-2]), abs=1e-6)


@pytest.mark.parametrize(("n_hot", "style"), [(100, "outline"), (101, "fill")])
def test_many_hot_cells_are_filled_with_a_legend(n_hot, style):
    from matplotlib.colors import to_rgba

    from caslite.maps import OUTLINE_MAX_CELLS

    assert OUTLINE_MAX_CELLS == 100
    grid = Grid.from_area(shapely.box(0, 0, 5000, 2500), cell_size=125.0, crs="EPSG:28992")
    assert grid.n_cells == 800 and (grid.area_fraction == 1).all()
    blocks = ShiftSchedule.every(24, tz="Europe/Amsterdam").horizon("2024-03-11", "1D")
    risk = np.random.default_rng(5).random((1, grid.n_cells))
    forecast = Forecast(risk, blocks, grid, origin=blocks.start[0])
    ax = plot_shift(forecast, coverage=n_hot / 800)
    hot = _by_gid(ax, "hot-cells")
    assert len(hot.get_paths()) == n_hot
    handle = ax.get_legend().legend_handles[0]
    if style == "outline":
        assert hot.get_facecolor().size == 0 or hot.get_facecolor()[0][3] == 0
        assert tuple(hot.get_edgecolor()[0]) == to_rgba("black")
        assert handle.get_facecolor()[3] == 0
    else:
        assert tuple(hot.get_facecolor()[0]) == to_rgba("#2166ac")
        assert tuple(handle.get_facecolor()) == to_rgba("#2166ac")
    m = explore(forecast, block=0, coverage=n_hot / 800, tiles=None)
    look = _layers(m)[1].style_function({"properties": {}})
    legend = m.get_root().html.render()
    if style == "outline":
        assert look["fill"] is False and look["color"] == "#000000"
        assert "border: 2px solid #000000; background: none;" in legend
    else:
        assert look["fillColor"] == look["color"] == "#2166ac" and look["fillOpacity"] > 0.5
        assert "border: 2px solid #2166ac; background: #2166ac;" in legend
    forced = plot_shift(forecast, coverage=n_hot / 800, hot_style="fill", hot_color="purple")
    assert tuple(_by_gid(forced, "hot-cells").get_facecolor()[0]) == to_rgba("purple")
    with pytest.raises(ValueError, match="hot_style must be one of"):
        plot_shift(forecast, hot_style="dots")
    with pytest.raises(ValueError, match="hot_color='nocolour' is not a colour"):
        plot_shift(forecast, hot_color="nocolour")


def _pixels(ax):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(ax.figure)
    canvas.draw()
    image = np.asarray(canvas.buffer_rgba())[..., :3] / 255.0
    x0, y0, x1, y1 = ax.get_window_extent().extents
    height = image.shape[0]
    return image[int(height - y1) + 2 : int(height - y0) - 2, int(x0) + 2 : int(x1) - 2]


def test_horizon_map_is_not_blank_when_a_few_cells_dominate():
    # 1,600 cells with a little risk, 4 with 10,000 times more
    grid = Grid.from_area(shapely.box(0, 0, 5000, 5000), cell_size=125.0, crs="EPSG:28992")
    blocks = ShiftSchedule.every(8, tz="Europe/Amsterdam").horizon("2024-03-11", "2D")
    rng = np.random.default_rng(6)
    risk = rng.uniform(1e-4, 5e-4, size=(len(blocks), grid.n_cells))
    risk[:, [10, 500, 900, 1300]] = 2.0
    forecast = Forecast(risk, blocks, grid, origin=blocks.start[0])
    ax = plot_horizon(forecast, coverage=0.05, ticks=None)
    image = _by_gid(ax, "risk")
    assert image.norm.vmax == pytest.approx(forecast.total().max())
    expected = _reference_top(forecast.total(), grid.area_fraction, 0.05)
    np.testing.assert_array_equal(_cells_of_paths(_by_gid(ax, "hot-cells"), grid), expected)
    assert ax.get_title() == "horizon Mon 2024-03-11 00:00 – Wed 2024-03-13 00:00 CET"

    def near_white(ax):
        pixels = _pixels(ax)
        return float((pixels.min(axis=2) > 0.94).mean())

    # the same values on a linear scale of the full "Reds" leave the map nearly blank ...
    assert near_white(plot_horizon(forecast, scale="linear", cmap="Reds", ticks=None)) > 0.8
    # ... the default log scale and colour map do not
    assert near_white(plot_horizon(forecast, ticks=None)) < 0.05


def test_tiles_need_contextily_and_never_stop_the_map(forecast, monkeypatch):
    import types

    monkeypatch.setitem(sys.modules, "contextily", None)  # not installed
    with pytest.raises(ImportError, match=r"pip install contextily.*context="):
        plot_shift(forecast, tiles=True)
    calls = []
    fake = types.ModuleType("contextily")
    fake.add_basemap = lambda ax, **kwargs: calls.append(kwargs)
    monkeypatch.setitem(sys.modules, "contextily", fake)
    plot_day(forecast, tiles="CartoDB.Positron")
    assert len(calls) == 6  # a basemap under each of the day's panels
    assert calls[0] == {"crs": "EPSG:28992", "source": "CartoDB.Positron", "zorder": -2.0}

    def offline(ax, **kwargs):
        raise ConnectionError("no network")  # what requests raises offline (an OSError)

    fake.add_basemap = offline
    with pytest.warns(UserWarning, match=r"could not be fetched \(no network\).*without them"):
        ax = plot_shift(forecast, 0, tiles=True)
    assert _by_gid(ax, "risk").get_alpha() < 1 and _by_gid(ax, "hot-cells")


_PROBE = """<script>
setTimeout(function () {
  function box(selector) {
    var boxes = Array.from(document.querySelectorAll(selector))
      .map(function (e) { return e.getBoundingClientRect(); })
      .filter(function (b) { return b.width > 0 && b.height > 0; });
    if (!boxes.length) { return null; }
    return [Math.min.apply(null, boxes.map(function (b) { return b.left; })),
            Math.min.apply(null, boxes.map(function (b) { return b.top; })),
            Math.max.apply(null, boxes.map(function (b) { return b.right; })),
            Math.max.apply(null, boxes.map(function (b) { return b.bottom; }))];
  }
  var panel = document.querySelector(".leaflet-control-layers");
  var found = {
    data: box("path.caslite-risk, path.caslite-hot"), hot: box("path.caslite-hot"),
    context: box("path.caslite-context"), legend: box(".caslite-legend"),
    panel: box(".leaflet-control-layers"), zoom: box(".leaflet-control-zoom"),
    scale: box(".leaflet-control-scale"),
    expanded: panel.classList.contains("leaflet-control-layers-expanded"),
    view: [window.innerWidth, window.innerHeight]
  };
  var out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify(found);
  document.body.appendChild(out);
}, 1500);
</script>"""


def _boxes_in_chromium(tmp_path, page):
    """Pixel boxes (left, top, right, bottom) of the map's data and overlays in chromium."""
    probed = page.with_name(page.stem + "-probe.html")
    probed.write_text(
        page.read_text(encoding="utf-8").replace("</body>", _PROBE + "</body>"), encoding="utf-8"
    )
    dom = _run_chromium(tmp_path, "--dump-dom", probed.resolve().as_uri()).stdout
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom)
    assert found, "the probe did not run"
    return json.loads(found.group(1).replace("&quot;", '"'))


def _overlap(a, b):
    return min(a[2], b[2]) - max(a[0], b[0]) > 0 and min(a[3], b[3]) - max(a[1], b[1]) > 0


def test_html_overlays_cover_no_data_in_headless_chromium(tmp_path):
    """The hot cells crowd the corner of the legend; the fitted view keeps them clear of it."""
    grid = Grid.from_area(
        shapely.affinity.translate(shapely.box(0, 0, 3000, 2000), 120_000, 480_000),
        cell_size=125.0,
        crs="EPSG:28992",
    )
    blocks = ShiftSchedule.every(8, tz="Europe/Amsterdam").horizon("2024-03-11", "1D")
    risk = np.random.default_rng(7).uniform(0.001, 0.01, size=(len(blocks), grid.n_cells))
    xmin, ymin, xmax, ymax = grid.bounds
    corner = (grid.x > xmax - 800) & (grid.y < ymin + 500)  # the bottom right: the legend's
    risk[:, corner] += 1.0
    forecast = Forecast(risk, blocks, grid, origin=blocks.start[0])
    path = tmp_path / "map.html"
    explore(forecast, path=path, tiles=None, self_contained=True, context=_context(forecast))
    boxes = _boxes_in_chromium(tmp_path, path)
    assert boxes["expanded"] is False  # the layer panel is collapsed to its button
    data, hot = boxes["data"], boxes["hot"]
    width, height = boxes["view"]
    assert 0 <= data[0] and 0 <= data[1] and data[2] <= width and data[3] <= height  # in view
    assert data[2] - data[0] > 0.6 * width or data[3] - data[1] > 0.4 * height  # not tiny
    for overlay in ("legend", "panel", "zoom", "scale"):
        assert boxes[overlay] is not None, overlay
        assert not _overlap(data, boxes[overlay]), (overlay, data, boxes[overlay])
    # the test is not empty: the hot cells reach the data's bottom-right corner, the legend's
    assert hot[2] == pytest.approx(data[2], abs=2) and hot[3] == pytest.approx(data[3], abs=2)
    assert boxes["legend"][0] < hot[2] and boxes["legend"][3] > hot[1]  # it would overlap below
    assert boxes["context"] is not None  # the context layer is drawn


# ---------------------------------------------------------------------- command line
def test_cli_forecast_draws_context_layers(tmp_path, capsys, monkeypatch):
    import importlib

    import geopandas

    from caslite.cli import main

    rng = np.random.default_rng(9)
    n = 600
    hours = np.sort(rng.integers(0, 24 * 300, n))
    frame = pd.DataFrame(
        {
            "t": (pd.Timestamp("2018-06-01") + pd.to_timedelta(hours, unit="h")).strftime(
                "%Y-%m-%dT%H:%M"
            ),
            "x": 628_500 + rng.normal(0, 250, n),
            "y": 4_835_000 + rng.normal(0, 250, n),
        }
    )
    incidents = tmp_path / "incidents.csv"
    frame.to_csv(incidents, index=False)
    street = shapely.LineString([(627_000, 4_834_900), (630_000, 4_835_100)])
    streets = tmp_path / "streets.gpkg"
    geopandas.GeoDataFrame(geometry=[street], crs="EPSG:32617").to_crs(4326).to_file(streets)
    hoods = tmp_path / "hoods.geojson"
    hood = shapely.box(628_000, 4_834_500, 629_000, 4_835_500)
    geopandas.GeoDataFrame(geometry=[hood], crs="EPSG:32617").to_file(hoods)
    naive = tmp_path / "naive.gpkg"
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        geopandas.GeoDataFrame(geometry=[street]).to_file(naive)  # no CRS
    base = [str(incidents), "--crs", "EPSG:32617", "--tz", "America/Toronto"]
    base += ["--origin", "2019-03-20", "--horizon", "1D"]

    module = importlib.import_module("caslite.predict")

    def no_fit(*args, **kwargs):
        raise AssertionError("the model was fitted before the --context files were checked")

    with monkeypatch.context() as patch:
        patch.setattr(module, "predict", no_fit)
        assert main(["forecast", *base, "--context", str(naive), "--out", str(tmp_path)]) == 2
        assert "--context file 'naive.gpkg' has no CRS" in capsys.readouterr().err
        missing = str(tmp_path / "nowhere.gpkg")
        assert main(["forecast", *base, "--context", missing, "--out", str(tmp_path)]) == 2
        assert "nowhere.gpkg" in capsys.readouterr().err

    # the maps, not the model, are under test here: a small forecast stands in for the fit
    grid = Grid.from_area(shapely.box(627_500, 4_834_000, 629_500, 4_836_000), crs="EPSG:32617")
    blocks = ShiftSchedule.every(8, tz="America/Toronto").horizon("2019-03-20", "1D")
    risk = np.random.default_rng(10).gamma(0.5, 0.01, size=(len(blocks), grid.n_cells))
    stand_in = Forecast(risk, blocks, grid, origin=blocks.start[0])
    monkeypatch.setattr(
        module, "predict", lambda *a, coverage, **k: (stand_in.top(coverage), stand_in)
    )
    out = tmp_path / "out"
    args = [*base, "--context", str(streets), "--context", str(hoods), "--out", str(out)]
    assert main(["forecast", *args]) == 0
    page = (out / "hot_cells.html").read_text(encoding="utf-8")
    assert page.count('"className": "caslite-context"') == 2
    for name in ("streets", "hoods"):
        assert f'"{name}"' in page  # a named layer of the layer control
    for png in ("hot_cells.png", "risk_horizon.png"):
        assert (out / png).stat().st_size > 10_000
    assert main(["forecast", *base, "--out", str(tmp_path / "plain")]) == 0  # no --context
    assert "caslite-context" not in (tmp_path / "plain" / "hot_cells.html").read_text("utf-8")
