"""Tests of caslite.grid: raster indexing, exact area fractions, CRS checks and event areas.

References are either hand-computed (cells of a few metres-exact squares and points on
edges) or a brute-force loop that intersects every raster cell's square with the study
polygon in plain shapely, one cell at a time.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from caslite import DataQualityWarning
from caslite.grid import Grid

UTM = "EPSG:32617"

# An L whose edges all lie on 125 m grid lines: neighbours across an edge must stay inactive.
ALIGNED_L = shapely.Polygon([(0, 0), (500, 0), (500, 250), (250, 250), (250, 500), (0, 500)])
L_SHAPE = shapely.Polygon([(0, 0), (730, 0), (730, 260), (310, 260), (310, 610), (0, 610)])
CIRCLE = shapely.Point(1037.3, -512.9).buffer(420.0, quad_segs=32)
SQUARE_WITH_HOLE = shapely.Polygon(
    [(0, 0), (900, 0), (900, 900), (0, 900)], holes=[[(300, 300), (600, 300), (600, 620)]]
)
TWO_PARTS = shapely.MultiPolygon(
    [shapely.box(0, 0, 240, 240), shapely.Point(900, 900).buffer(150.0, quad_segs=16)]
)


def brute_force_fractions(grid: Grid, area) -> np.ndarray:
    """Share of every raster cell inside ``area``, one plain shapely intersection per cell."""
    n_rows, n_cols = grid.shape
    s = grid.cell_size
    fractions = np.zeros((n_rows, n_cols))
    for row in range(n_rows):
        for col in range(n_cols):
            x, y = grid.x0 + col * s, grid.y0 + row * s
            cell = shapely.box(x, y, x + s, y + s)
            fractions[row, col] = cell.intersection(area).area / s**2
    return fractions


def expected_corner(value: float, origin: float, s: float) -> float:
    return origin + math.floor((value - origin) / s) * s


def events_like(x, y, labels=None, crs=UTM):
    x = np.asarray(x, dtype=np.float64)
    labels = range(len(x)) if labels is None else labels
    return SimpleNamespace(
        x=x, y=np.asarray(y, dtype=np.float64), crs=pyproj.CRS(crs), data=pd.DataFrame(index=labels)
    )


# ---------------------------------------------------------------------- constructor and cell_of
def small_grid() -> Grid:
    # 3 columns x 2 rows of 100 m from (1000, 2000); the top-right cell is inactive.
    active = np.array([[True, True, True], [True, True, False]])
    return Grid(x0=1000.0, y0=2000.0, cell_size=100.0, n_cols=3, n_rows=2, crs=UTM, active=active)


def test_constructor_indexes_active_cells_in_row_major_order():
    grid = small_grid()
    assert grid.n_cells == 5
    assert grid.shape == (2, 3)
    assert grid.cell_row.tolist() == [0, 0, 0, 1, 1]
    assert grid.cell_col.tolist() == [0, 1, 2, 0, 1]
    assert grid.x.tolist() == [1050.0, 1150.0, 1250.0, 1050.0, 1150.0]
    assert grid.y.tolist() == [2050.0, 2050.0, 2050.0, 2150.0, 2150.0]
    assert grid.area_fraction.tolist() == [1.0] * 5
    assert grid.bounds == (1000.0, 2000.0, 1300.0, 2200.0)
    assert grid._raster_to_cell.tolist() == [0, 1, 2, 3, 4, -1]
    assert grid.crs == pyproj.CRS(UTM)


def test_cell_of_hand_placed_points_and_edges():
    grid = small_grid()
    points = {
        (1000.0, 2000.0): 0,  # lower-left corner of the raster
        (1099.999, 2000.0): 0,
        (1100.0, 2000.0): 1,  # shared vertical edge -> the cell to the right
        (1000.0, 2100.0): 3,  # shared horizontal edge -> the cell above
        (1299.999, 2099.999): 2,
        (1150.0, 2199.999): 4,
        (1250.0, 2150.0): -1,  # inactive cell
        (1300.0, 2050.0): -1,  # far right edge is outside
        (1050.0, 2200.0): -1,  # top edge is outside
        (999.999, 2050.0): -1,
        (1050.0, 1999.999): -1,
        (float("nan"), 2050.0): -1,
        (1050.0, float("nan")): -1,
        (float("inf"), 2050.0): -1,
    }
    x, y = np.array(list(points)).T
    assert grid.cell_of(x, y).tolist() == list(points.values())
    assert grid.cell_of(x, y).dtype == np.int64


def test_cell_of_scalars_and_broadcasting():
    grid = small_grid()
    scalar = grid.cell_of(1150.0, 2150.0)
    assert scalar.shape == ()
    assert int(scalar) == 4
    assert grid.cell_of([1050.0, 1150.0, 1250.0], 2050.0).tolist() == [0, 1, 2]
    assert grid.cell_of(np.array([[1050.0], [1150.0]]), np.array([2050.0, 2150.0])).tolist() == [
        [0, 3],
        [1, 4],
    ]


def test_constructor_area_fraction_and_repr():
    fraction = np.array([[0.5, 1.0], [0.0, 0.25]])
    grid = Grid(
        x0=0,
        y0=0,
        cell_size=125,
        n_cols=2,
        n_rows=2,
        crs=UTM,
        active=fraction > 0,
        area_fraction=fraction,
    )
    assert grid.area_fraction.tolist() == [0.5, 1.0, 0.25]
    assert grid.area_fraction.dtype == np.float64
    assert repr(grid) == "Grid(125 m, 3 of 4 cells active, EPSG:32617)"
    big = Grid(x0=0, y0=0, cell_size=62.5, n_cols=200, n_rows=130, crs=UTM)
    assert repr(big) == "Grid(62.5 m, 26,000 of 26,000 cells active, EPSG:32617)"


@pytest.mark.parametrize(
    ("changes", "error", "match"),
    [
        ({"cell_size": 0.0}, ValueError, r"cell_size must be a positive .*, got 0\.0"),
        ({"cell_size": -5}, ValueError, "cell_size must be a positive .*, got -5"),
        (
            {"cell_size": float("nan")},
            ValueError,
            "cell_size must be a positive finite .*, got nan",
        ),
        ({"cell_size": "125"}, TypeError, "cell_size must be a number"),
        ({"n_cols": 2.5}, TypeError, "n_cols must be an integer, got float 2.5"),
        ({"n_rows": 0}, ValueError, "n_rows must be a positive integer, got 0"),
        ({"active": np.ones((3, 2), dtype=bool)}, ValueError, r"active has shape \(3, 2\)"),
        ({"active": np.ones((2, 3))}, TypeError, "active must be a boolean array"),
        ({"active": np.zeros((2, 3), dtype=bool)}, ValueError, "no active cells"),
        ({"area_fraction": np.zeros((2, 3))}, ValueError, r"area_fraction must be in \(0, 1\]"),
        ({"area_fraction": np.full((2, 3), 1.5)}, ValueError, "6 active cells"),
        ({"crs": "EPSG:4326"}, ValueError, "geographic CRS"),
    ],
)
def test_constructor_refuses_bad_arguments(changes, error, match):
    arguments = dict(x0=0.0, y0=0.0, cell_size=100.0, n_cols=3, n_rows=2, crs=UTM)
    arguments.update(changes)
    with pytest.raises(error, match=match):
        Grid(**arguments)


def test_arrays_are_read_only():
    grid = small_grid()
    with pytest.raises(ValueError, match="read-only"):
        grid.area_fraction[0] = 0.5


# ---------------------------------------------------------------------- from_area
def test_aligned_rectangle_has_full_cells_and_exact_count():
    grid = Grid.from_area(shapely.box(1000, 2000, 2000, 2500), cell_size=125.0, crs=UTM)
    assert (grid.x0, grid.y0, grid.shape, grid.n_cells) == (1000.0, 2000.0, (4, 8), 32)
    assert grid.bounds == (1000.0, 2000.0, 2000.0, 2500.0)
    assert np.all(grid.area_fraction == 1.0)


def test_unaligned_rectangle_hand_computed_fractions():
    # x edges 10, 125, 250, 260 and y edges 20, 125, 250, 270 on a grid snapped to 0.
    grid = Grid.from_area(shapely.box(10, 20, 260, 270), cell_size=125.0, crs=UTM)
    assert (grid.x0, grid.y0, grid.shape) == (0.0, 0.0, (3, 3))
    widths = np.array([115.0, 125.0, 10.0])
    heights = np.array([105.0, 125.0, 20.0])
    expected = (heights[:, None] * widths[None, :]).ravel() / 125.0**2
    np.testing.assert_allclose(grid.area_fraction, expected, rtol=1e-12)

    strict = Grid.from_area(
        shapely.box(10, 20, 260, 270), cell_size=125.0, crs=UTM, min_overlap=0.1
    )
    keep = expected > 0.1  # drops the cells of the 10 m column and the 20 m row corner
    assert strict.n_cells == keep.sum() == 6
    np.testing.assert_allclose(strict.area_fraction, expected[keep], rtol=1e-12)


@pytest.mark.parametrize(
    "area",
    [L_SHAPE, ALIGNED_L, CIRCLE, SQUARE_WITH_HOLE, TWO_PARTS],
    ids=["L", "aligned-L", "circle", "hole", "multi"],
)
@pytest.mark.parametrize("cell_size", [125.0, 47.0])
@pytest.mark.parametrize("origin", [None, (62.5, 62.5), (-13.0, 101.7)])
def test_from_area_matches_brute_force(area, cell_size, origin):
    grid = Grid.from_area(area, cell_size=cell_size, crs=UTM, origin=origin)
    ox, oy = origin or (0.0, 0.0)
    xmin, ymin, xmax, ymax = area.bounds
    assert grid.x0 == pytest.approx(expected_corner(xmin, ox, cell_size), abs=1e-9)
    assert grid.y0 == pytest.approx(expected_corner(ymin, oy, cell_size), abs=1e-9)
    assert grid.bounds[2] >= xmax and grid.bounds[2] - cell_size < xmax
    assert grid.bounds[3] >= ymax and grid.bounds[3] - cell_size < ymax

    reference = brute_force_fractions(grid, area)
    rows, cols = np.nonzero(reference > 0)  # row-major order, like the cell ids
    np.testing.assert_array_equal(grid.cell_row, rows)
    np.testing.assert_array_equal(grid.cell_col, cols)
    np.testing.assert_allclose(grid.area_fraction, reference[rows, cols], rtol=0, atol=1e-9)
    assert grid.area_fraction.sum() * cell_size**2 == pytest.approx(area.area, rel=1e-9)


@pytest.mark.parametrize("min_overlap", [0.0, 0.25, 0.5, 0.9])
def test_min_overlap_matches_brute_force(min_overlap):
    grid = Grid.from_area(CIRCLE, cell_size=100.0, crs=UTM, min_overlap=min_overlap)
    reference = brute_force_fractions(grid, CIRCLE)
    rows, cols = np.nonzero(reference > min_overlap)
    np.testing.assert_array_equal(grid.cell_row, rows)
    np.testing.assert_array_equal(grid.cell_col, cols)
    np.testing.assert_allclose(grid.area_fraction, reference[rows, cols], atol=1e-9)
    assert np.all(grid.area_fraction > min_overlap)


def test_aligned_l_hand_computed():
    grid = Grid.from_area(ALIGNED_L, cell_size=125.0, crs=UTM)
    assert (grid.x0, grid.y0, grid.shape, grid.n_cells) == (0.0, 0.0, (4, 4), 12)
    assert np.all(grid.area_fraction == 1.0)
    # rows 0 and 1 hold ids 0..7 (4 cells each), so raster cell (1, 1) is id 5.
    assert grid.cell_of([260.0, 250.0, 249.9], [260.0, 250.0, 249.9]).tolist() == [-1, -1, 5]


def test_multipolygon_leaves_the_gap_inactive():
    grid = Grid.from_area(TWO_PARTS, cell_size=125.0, crs=UTM)
    # The gap between the parts (x, y in 250..750) holds no active cell.
    gap = grid.cell_of(np.arange(260.0, 740.0, 50.0), np.arange(260.0, 740.0, 50.0))
    assert np.all(gap == -1)
    assert grid.cell_of(100.0, 100.0) >= 0 and grid.cell_of(900.0, 900.0) >= 0


def test_origin_shift_by_half_a_cell_hand_computed():
    grid = Grid.from_area(
        shapely.box(0, 0, 500, 500), cell_size=125.0, crs=UTM, origin=(62.5, 62.5)
    )
    assert (grid.x0, grid.y0, grid.shape, grid.n_cells) == (-62.5, -62.5, (5, 5), 25)
    edge = np.array([0.5, 1.0, 1.0, 1.0, 0.5])
    np.testing.assert_allclose(grid.area_fraction, np.outer(edge, edge).ravel())


def test_default_grids_align():
    a = Grid.from_area(shapely.box(1013.0, 2071.0, 1900.0, 2600.0), crs=UTM)
    b = Grid.from_area(shapely.box(-313.0, 5.5, 100.0, 99.0), crs=UTM)
    for grid in (a, b):
        assert grid.x0 % 125.0 == 0.0 and grid.y0 % 125.0 == 0.0
    assert (a.x0, a.y0, b.x0, b.y0) == (1000.0, 2000.0, -375.0, 0.0)


def test_geodataframe_and_geoseries_areas_are_unioned():
    frame = gpd.GeoDataFrame(
        {"name": ["west", "east"]},
        geometry=[shapely.box(0, 0, 250, 250), shapely.box(250, 0, 500, 125)],
        crs=UTM,
    )
    expected = Grid.from_area(shapely.box(0, 0, 500, 250), crs=UTM).n_cells - 2
    for area in (frame, frame.geometry):
        grid = Grid.from_area(area)
        assert grid.n_cells == expected == 6
        assert grid.crs == pyproj.CRS(UTM)
    assert Grid.from_area(frame, crs=pyproj.CRS(UTM)).n_cells == 6


def test_geographic_crs_is_refused():
    with pytest.raises(ValueError, match=r"geographic CRS .*projected CRS in metres.*to_crs"):
        Grid.from_area(shapely.box(4.8, 52.3, 4.9, 52.4), crs="EPSG:4326")
    frame = gpd.GeoDataFrame(geometry=[shapely.box(4.8, 52.3, 4.9, 52.4)], crs="EPSG:4326")
    with pytest.raises(ValueError, match="geographic CRS"):
        Grid.from_area(frame)


def test_crs_mismatch_and_missing_crs_are_refused():
    frame = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 500, 500)], crs=UTM)
    with pytest.raises(ValueError, match=r"CRS mismatch: the area is in EPSG:32617 .*EPSG:32618"):
        Grid.from_area(frame, crs="EPSG:32618")
    with pytest.raises(ValueError, match=r"no CRS.*crs='EPSG:\.\.\.\.'"):
        Grid.from_area(shapely.box(0, 0, 500, 500))


@pytest.mark.parametrize(
    ("area", "match"),
    [
        (shapely.Point(0, 0), "must be polygons, but it is Point"),
        (shapely.LineString([(0, 0), (1, 1)]), "is LineString.*buffer"),
        (shapely.Polygon(), "the study area is empty"),
        (shapely.Polygon([(0, 0), (100, 100), (100, 0), (0, 100)]), "not a valid polygon"),
    ],
)
def test_bad_geometries_are_refused(area, match):
    with pytest.raises(ValueError, match=match):
        Grid.from_area(area, crs=UTM)


def test_non_polygon_rows_of_a_geodataframe_are_named():
    frame = gpd.GeoDataFrame(
        geometry=[shapely.box(0, 0, 100, 100), shapely.Point(5, 5)], index=["ok", "pt"], crs=UTM
    )
    with pytest.raises(ValueError, match="row 'pt' is Point"):
        Grid.from_area(frame)
    with pytest.raises(TypeError, match="area must be a shapely Polygon"):
        Grid.from_area([shapely.box(0, 0, 1, 1)], crs=UTM)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"min_overlap": 1.0}, ValueError, r"min_overlap must be .* in \[0, 1\), got 1\.0"),
        ({"min_overlap": -0.1}, ValueError, "min_overlap"),
        ({"cell_size": 0}, ValueError, r"cell_size must be a positive .*, got 0 \(e.g. cell_size"),
        ({"origin": 5.0}, TypeError, "origin must be a pair"),
    ],
)
def test_from_area_refuses_bad_options(kwargs, error, match):
    with pytest.raises(error, match=match):
        Grid.from_area(shapely.box(0, 0, 500, 500), crs=UTM, **kwargs)


def test_large_disc_is_built_from_arrays_only():
    radius, s = 125_000.0, 125.0
    disc = shapely.Point(0, 0).buffer(radius, quad_segs=64)
    grid = Grid.from_area(disc, cell_size=s, crs="EPSG:32631")

    assert grid.shape == (2000, 2000)
    assert grid._raster_to_cell.dtype in (np.int32, np.int64)
    assert grid._raster_to_cell.shape == (2000 * 2000,)
    assert grid.cell_row.dtype == grid.cell_col.dtype == np.int32
    assert grid.area_fraction.dtype == np.float64
    for value in vars(grid).values():  # no per-cell Python objects anywhere
        assert not (isinstance(value, np.ndarray) and value.dtype == object)
        assert not isinstance(value, (list, dict, tuple))

    full_cells = disc.area / s**2  # ~3.14 million
    boundary_cells = 4 * (2 * math.pi * radius / s)  # generous bound on cells the rim crosses
    assert full_cells <= grid.n_cells <= full_cells + boundary_cells
    assert grid.area_fraction.sum() == pytest.approx(full_cells, rel=1e-9)
    assert np.all((grid.area_fraction > 0) & (grid.area_fraction <= 1))
    # The cell holding the centre is inside and full; a corner of the raster is not active.
    assert grid.area_fraction[grid.cell_of(0.0, 0.0)] == 1.0
    assert grid.cell_of(-radius + 1.0, -radius + 1.0) == -1


# ---------------------------------------------------------------------- from_events
def test_from_events_bbox_rule_hand_computed():
    events = events_like([0.0, 1000.0, 0.0], [0.0, 0.0, 1000.0])
    grid = Grid.from_events(events, rule="bbox")  # buffer defaults to one cell (125 m)
    assert (grid.x0, grid.y0, grid.shape, grid.n_cells) == (-125.0, -125.0, (10, 10), 100)
    assert np.all(grid.area_fraction == 1.0)
    grid = Grid.from_events(events, rule="bbox", buffer=0.0, cell_size=250.0)
    assert (grid.x0, grid.y0, grid.shape, grid.n_cells) == (0.0, 0.0, (4, 4), 16)


def test_from_events_hull_rule_matches_brute_force():
    rng = np.random.default_rng(7)
    x = rng.uniform(0.0, 900.0, 40)
    y = rng.uniform(0.0, 600.0, 40) + 0.5 * x
    grid = Grid.from_events(events_like(x, y), rule="hull", buffer=60.0, cell_size=100.0)
    hull = shapely.MultiPoint(np.column_stack([x, y])).convex_hull.buffer(60.0)
    reference = brute_force_fractions(grid, hull)
    rows, cols = np.nonzero(reference > 0)
    np.testing.assert_array_equal(grid.cell_row, rows)
    np.testing.assert_array_equal(grid.cell_col, cols)
    np.testing.assert_allclose(grid.area_fraction, reference[rows, cols], atol=1e-9)
    assert np.all(grid.cell_of(x, y) >= 0)
    assert grid.crs == pyproj.CRS(UTM)


@pytest.mark.parametrize("n_events", [1, 5])
def test_events_at_one_spot_give_a_small_grid(n_events):
    events = events_like(np.full(n_events, 1000.5), np.full(n_events, 2000.5))
    grid = Grid.from_events(events)  # hull of one point, buffered by 125 m
    disc = shapely.Point(1000.5, 2000.5).buffer(125.0)
    reference = brute_force_fractions(grid, disc)
    assert (grid.x0, grid.y0, grid.shape) == (875.0, 1875.0, (3, 3))
    # The far corner (1125, 2125) of the top-right cell is 176 m from the event: 8 cells.
    rows, cols = np.nonzero(reference)
    assert grid.n_cells == len(rows) == 8
    np.testing.assert_array_equal(grid.cell_row, rows)
    np.testing.assert_array_equal(grid.cell_col, cols)
    np.testing.assert_allclose(grid.area_fraction, reference[rows, cols], atol=1e-9)
    assert int(grid.cell_of(1000.5, 2000.5)) == 4


def test_from_events_accepts_objects_without_data():
    events = SimpleNamespace(x=np.array([0.0, 300.0]), y=np.array([0.0, 300.0]), crs=UTM)
    assert Grid.from_events(events, rule="bbox").shape == (5, 5)  # -125 .. 500


def clustered_events_with_stray(stray_x: float, stray_y: float):
    rng = np.random.default_rng(3)
    x = np.append(rng.uniform(0.0, 2000.0, 300), stray_x)
    y = np.append(rng.uniform(0.0, 2000.0, 300), stray_y)
    labels = [f"r{i}" for i in range(300)] + ["bad-17"]
    return events_like(x, y, labels=labels)


def test_stray_point_triggers_max_cells_error_naming_it():
    events = clustered_events_with_stray(5.0e6, 5.0e6)
    with pytest.raises(ValueError, match="max_cells=2,000,000") as info:
        Grid.from_events(events)
    message = str(info.value)
    n_cols = n_rows = math.ceil((5.0e6 + 125.0 - -125.0) / 125.0)  # the raster it refused
    assert f"{n_cols * n_rows:,} cells" in message
    assert "1 event lies far from the rest: row 'bad-17' at (x, y) = (5000000.0, 5000000.0)" in (
        message
    )
    assert "Grid.from_area" in message and "raise max_cells=" in message
    assert "r1'" not in message


def test_raising_max_cells_admits_the_stray_point():
    events = clustered_events_with_stray(60_000.0, 1000.0)
    with pytest.raises(ValueError, match="row 'bad-17' at"):
        Grid.from_events(events, max_cells=5_000, rule="bbox")
    grid = Grid.from_events(events, max_cells=10_000, rule="bbox")
    assert grid.shape == (18, 482)  # 8,676 cells: (-125 .. 2125) x (-125 .. 60125) at 125 m
    assert grid.cell_of(60_000.0, 1000.0) >= 0


def test_wide_spread_without_strays_suggests_a_larger_cell_size():
    events = events_like(np.linspace(0, 400_000, 1000), np.linspace(0, 400_000, 1000))
    with pytest.raises(ValueError, match="span 400.0 km x 400.0 km. Use a larger cell_size"):
        Grid.from_events(events)


@pytest.mark.parametrize(
    ("events", "kwargs", "error", "match"),
    [
        (events_like([], []), {}, ValueError, "no events"),
        (events_like([0.0], [0.0], crs="EPSG:4326"), {}, ValueError, "geographic CRS"),
        (events_like([0.0, np.nan], [0.0, 1.0], labels=["a", "b"]), {}, ValueError, "row 'b'"),
        (events_like([0.0], [0.0]), {"rule": "circle"}, ValueError, "rule='circle'"),
        (events_like([0.0], [0.0]), {"buffer": -1.0}, ValueError, "buffer=-1.0 is negative"),
        (events_like([0.0], [0.0]), {"buffer": 0.0}, ValueError, "pass buffer > 0"),
        (SimpleNamespace(x=[0.0], y=[0.0]), {}, TypeError, "lacks crs"),
    ],
)
def test_from_events_refuses_bad_input(events, kwargs, error, match):
    with pytest.raises(error, match=match):
        Grid.from_events(events, **kwargs)


# ---------------------------------------------------------------------- locate
def l_grid() -> Grid:
    return Grid.from_area(L_SHAPE, cell_size=125.0, crs=UTM)


def test_locate_keeps_points_in_active_cells():
    grid = l_grid()
    x = np.array([10.0, 700.0, 305.0, 320.0])  # 320, 600 is outside the L but in an active cell
    y = np.array([10.0, 250.0, 600.0, 600.0])
    cells, keep = grid.locate(x, y)
    assert keep.tolist() == [True, True, True, True]
    np.testing.assert_array_equal(cells, grid.cell_of(x, y))
    assert cells.dtype == np.int64


def test_locate_raises_naming_points_outside():
    grid = l_grid()
    x = [10.0, 700.0, np.nan, 900.0]  # 700, 600 is in the notch of the L (inactive cell)
    y = [10.0, 600.0, 5.0, 5.0]
    with pytest.raises(
        ValueError, match=r"3 of 4 points fall outside the grid's area \(rows 'b', 'c', 'd'\)"
    ) as info:
        grid.locate(x, y, labels=["a", "b", "c", "d"])
    assert "outside='drop'" in str(info.value)


def test_locate_drop_warns_and_returns_the_mask():
    grid = l_grid()
    x = np.array([10.0, 700.0, np.nan, 900.0, 200.0])
    y = np.array([10.0, 600.0, 5.0, 5.0, 500.0])
    with pytest.warns(DataQualityWarning, match=r"dropped 3 of 5 points .*rows 1, 2, 3"):
        cells, keep = grid.locate(x, y, outside="drop")
    assert keep.tolist() == [True, False, False, False, True]
    assert cells.tolist() == [0, int(grid.cell_of(200.0, 500.0))]


def test_locate_refuses_bad_arguments():
    grid = l_grid()
    with pytest.raises(ValueError, match="outside='ignore' is not one of"):
        grid.locate([1.0], [1.0], outside="ignore")
    with pytest.raises(ValueError, match="labels has shape"):
        grid.locate([1.0], [1.0], labels=["a", "b"])
    with pytest.raises(ValueError, match="equal length"):
        grid.locate([1.0, 2.0], [1.0])


# ---------------------------------------------------------------------- to_geodataframe
def test_to_geodataframe_has_one_square_per_active_cell():
    grid = Grid.from_area(L_SHAPE, cell_size=125.0, crs=UTM, origin=(62.5, 0.0))
    frame = grid.to_geodataframe()
    assert isinstance(frame, gpd.GeoDataFrame)
    assert frame.crs == pyproj.CRS(UTM)
    assert len(frame) == grid.n_cells
    assert frame["cell_id"].tolist() == list(range(grid.n_cells))
    assert list(frame.columns) == ["cell_id", "row", "col", "x", "y", "area_fraction", "geometry"]
    left = -62.5 + 125.0 * frame["col"].to_numpy()
    bottom = 125.0 * frame["row"].to_numpy()
    expected = np.column_stack([left, bottom, left + 125.0, bottom + 125.0])
    np.testing.assert_array_equal(frame.geometry.bounds.to_numpy(), expected)
    np.testing.assert_allclose(frame.geometry.area, 125.0**2)
    np.testing.assert_array_equal(frame["x"], left + 62.5)
    np.testing.assert_array_equal(frame["y"], bottom + 62.5)
    overlap = frame.geometry.intersection(L_SHAPE).area / 125.0**2
    np.testing.assert_allclose(frame["area_fraction"], overlap, atol=1e-9)
