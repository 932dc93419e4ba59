"""The validation matrix: hostile inputs at every public entry point.

Each test is a row of the table in ``docs/validation.md`` (same names): the input case, the
entry points, and the behaviour (an error naming the problem and the fix, or a documented
result checked against an independent computation).
"""

import contextlib
import tracemalloc
import warnings

import geopandas
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from threadpoolctl import threadpool_limits

import caslite
from caslite import (
    BowersSpace,
    BowersTime,
    CasliteWarning,
    DataQualityWarning,
    Events,
    FeatureBuilder,
    Grid,
    GridETAS,
    NaiveCounts,
    ProspectiveHotSpot,
    RetrospectiveKDE,
    RiskModel,
    ShiftHistory,
    ShiftSchedule,
    TooLittleDataError,
    as_events,
    score_at,
    score_forecast,
    score_history,
)
from caslite.evaluation import (
    backtest,
    count_events,
    hit_rate,
    pai,
    pei_star,
    poisson_log_score,
    top_cells,
)
from caslite.knox import knox_counts, knox_test

TZ = "America/Toronto"
CRS = "EPSG:32617"  # WGS 84 / UTM zone 17N, metres
OTHER_CRS = "EPSG:32618"
X0, Y0 = 628_000.0, 4_835_000.0  # a corner in Toronto, on the 125 m grid lines
DAY = 86_400
AREA = shapely.box(X0, Y0, X0 + 1000, Y0 + 1000)  # 8 x 8 cells of 125 m
ORIGIN = "2019-07-01"  # after every incident of incidents()
BAD_FIT = pytest.mark.filterwarnings("ignore::caslite.CasliteWarning")


@pytest.fixture(autouse=True)
def one_openmp_thread():
    # Tiny models: OpenMP threads buy nothing and spin-wait on a busy machine.
    with threadpool_limits(limits=1, user_api="openmp"):
        yield


@contextlib.contextmanager
def traced():
    """Trace Python and numpy allocations; yields a list that receives (held, peak) bytes."""
    out = []
    tracemalloc.start()
    try:
        yield out
    finally:
        out.extend(tracemalloc.get_traced_memory())
        tracemalloc.stop()


def incidents(n=200, *, days=180, start="2019-01-01", seed=0, size=1000.0) -> pd.DataFrame:
    """Uniform incidents over a ``size`` metre square at (X0, Y0), UTC-aware times."""
    rng = np.random.default_rng(seed)
    seconds = np.sort(rng.integers(0, days * DAY, n))
    return pd.DataFrame(
        {
            "t": pd.Timestamp(start, tz="UTC") + pd.to_timedelta(seconds, unit="s"),
            "x": X0 + rng.uniform(0, size, n),
            "y": Y0 + rng.uniform(0, size, n),
        }
    )


def events_of(frame, **kwargs) -> Events:
    return Events.from_frame(frame, crs=CRS, tz=TZ, **kwargs)


def grid() -> Grid:
    return Grid.from_area(AREA, crs=CRS)


def horizon(origin=ORIGIN, length="1D"):
    return ShiftSchedule.every(4, tz=TZ).horizon(origin, length)


def tiny_model(**kwargs) -> RiskModel:
    """A RiskModel small enough to fit in well under a second on 200 events."""
    features = FeatureBuilder(
        windows_weeks=(1, 4),
        rings=(1,),
        kernels=None,
        shift_windows_weeks=(4,),
        relative_windows_weeks=(),
        smooth_bandwidths=(),
        shift_prior=None,
        darkness=False,
    )
    params = dict(
        features=features,
        horizon="7D",
        train_step="7D",
        train_span="56D",
        warmup="28D",
        max_iter=5,
        min_samples_leaf=5,
        random_state=0,
    )
    return RiskModel(**{**params, **kwargs})


BASELINES = {
    "NaiveCounts": lambda: NaiveCounts(window_weeks=52),
    "ShiftHistory": lambda: ShiftHistory(window_weeks=52),
    "RetrospectiveKDE": lambda: RetrospectiveKDE(bandwidth=125.0),
    "ProspectiveHotSpot": lambda: ProspectiveHotSpot(),
}


# ---------------------------------------------------------------------- entry points for tables
def via_from_frame(frame, tmp_path, **kwargs):
    return Events.from_frame(frame, **kwargs)


def via_as_events(frame, tmp_path, **kwargs):
    return as_events(frame, **kwargs)


def via_read(frame, tmp_path, **kwargs):
    path = tmp_path / "incidents.csv"
    frame.to_csv(path, index=False)
    return Events.read(path, **kwargs)


def via_predict(frame, tmp_path, **kwargs):
    return caslite.predict(frame, ORIGIN, horizon="7D", model=tiny_model(), **kwargs)


READERS = [via_from_frame, via_as_events, via_read]
TABLE_ENTRIES = [*READERS, via_predict]


# ====================================================================== empty data
@pytest.mark.parametrize("entry", READERS)
def test_empty_table_gives_empty_events(entry, tmp_path):
    frame = pd.DataFrame({"t": pd.Series([], dtype=str), "x": [], "y": []})
    events = entry(frame, tmp_path, crs=CRS, tz=TZ)
    assert len(events) == 0 and events.report["rows_read"] == 0
    assert repr(events) == "Events(0 events, EPSG:32617, tz='America/Toronto')"


def test_empty_file_is_refused(tmp_path):
    path = tmp_path / "incidents.csv"
    path.write_text("")
    with pytest.raises(ValueError, match=r"'incidents.csv' is empty: no header and no rows"):
        Events.read(path, crs=CRS, tz=TZ)


def empty_events() -> Events:
    return Events(np.array([], dtype=np.int64), [], [], crs=CRS, tz=TZ)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda e: Grid.from_events(e), ValueError, r"no events to derive a study area"),
        (lambda e: knox_test(e), ValueError, r"needs at least 2 events .*got 0"),
        (
            lambda e: tiny_model().fit(e, grid(), origin=ORIGIN),
            TooLittleDataError,
            r"no event is known before the origin; the model needs at least 28 days",
        ),
        (
            lambda e: GridETAS().fit(e, grid(), origin=ORIGIN),
            TooLittleDataError,
            r"no events to fit",
        ),
        (
            lambda e: caslite.predict(e, ORIGIN, area=AREA),
            TooLittleDataError,
            r"no incident is known before the origin .*at least 182 days of warm-up",
        ),
    ],
    ids=["Grid.from_events", "knox_test", "RiskModel.fit", "GridETAS.fit", "predict"],
)
def test_empty_events_are_refused_where_events_are_needed(call, error, message):
    with pytest.raises(error, match=message):
        call(empty_events())


@pytest.mark.parametrize("name", list(BASELINES))
def test_empty_events_give_zero_scores(name):
    model = BASELINES[name]().fit(empty_events(), grid(), origin=ORIGIN)
    np.testing.assert_array_equal(model.predict(horizon()), np.zeros((6, 64)))
    np.testing.assert_array_equal(count_events(empty_events(), grid(), horizon()), 0.0)
    scores = score_forecast(
        empty_events(), grid(), horizon(), space=BowersSpace(), time=BowersTime()
    )
    np.testing.assert_array_equal(scores, 0.0)


def test_backtest_of_a_period_without_events_scores_nan():
    result = backtest(
        {"naive": NaiveCounts()},
        empty_events(),
        grid(),
        start="2019-06-01",
        end="2019-06-29",
        progress=False,
    )
    assert (result.scores["events"] == 0).all()
    assert result.scores["hit_rate"].isna().all()


# ====================================================================== one event / one place
def test_one_event_gets_a_grid_of_its_neighbourhood():
    # The event is at the centre of a cell; the default buffer of one cell makes a disc of
    # radius 125 m, which overlaps the event's cell and its 8 neighbours (the nearest corner
    # of a diagonal neighbour is 88 m away) and no other cell.
    one = Events(np.array([0]), [X0 + 62.5], [Y0 + 62.5], crs=CRS, tz=TZ)
    grid_ = Grid.from_events(one)
    assert grid_.shape == (3, 3) and grid_.n_cells == 9
    assert grid_.bounds == (X0 - 125, Y0 - 125, X0 + 250, Y0 + 250)
    assert int(grid_.cell_of(X0 + 62.5, Y0 + 62.5)) == 4  # the centre of the 3 x 3 block
    # bbox rule: the square of side 250 m around the event, a quarter of each corner cell
    boxed = Grid.from_events(one, rule="bbox")
    np.testing.assert_allclose(
        boxed.area_fraction, [0.25, 0.5, 0.25, 0.5, 1.0, 0.5, 0.25, 0.5, 0.25]
    )
    with pytest.raises(ValueError, match=r"span no area \(they lie on a line or at one point\)"):
        Grid.from_events(one, buffer=0)


def test_all_events_at_one_place_get_the_same_grid_as_one_event():
    rng = np.random.default_rng(0)
    t = np.sort(rng.integers(0, 100 * DAY, 30))
    same = Events(t, np.full(30, X0 + 62.5), np.full(30, Y0 + 62.5), crs=CRS, tz=TZ)
    grid_ = Grid.from_events(same)
    assert grid_.shape == (3, 3) and grid_.n_cells == 9
    line = Events(t, X0 + np.arange(30.0), np.full(30, Y0), crs=CRS, tz=TZ)
    with pytest.raises(ValueError, match=r"span no area"):
        Grid.from_events(line, buffer=0)


def test_knox_test_refuses_a_single_event():
    one = Events(np.array([0]), [X0], [Y0], crs=CRS, tz=TZ)
    with pytest.raises(ValueError, match=r"needs at least 2 events \(pairs of events\), got 1"):
        knox_test(one)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("place", r"all 30 events are at one place"),
        ("instant", r"all 30 events are at one instant"),
        ("far apart", r"no two of the 30 events lie within 500 m of each other"),
    ],
)
def test_knox_test_without_power_warns_and_gives_p_one(case, message):
    rng = np.random.default_rng(1)
    t = np.sort(rng.integers(0, 60 * DAY, 30))
    x, y = X0 + rng.uniform(0, 300, 30), Y0 + rng.uniform(0, 300, 30)
    if case == "place":
        x, y = np.full(30, X0), np.full(30, Y0)
    elif case == "instant":
        t = np.zeros(30, dtype=np.int64)
    else:
        x = X0 + 1000.0 * np.arange(30)
    events = Events(t, x, y, crs=CRS, tz=TZ)
    with pytest.warns(CasliteWarning, match=message + r".*every p-value is 1"):
        result = knox_test(events, n_permutations=19, random_state=0)
    np.testing.assert_array_equal(result.p_value, 1.0)


@BAD_FIT
def test_one_event_is_too_little_for_the_risk_model():
    frame = incidents(1, days=1, start="2019-03-01")  # 4 months before the origin
    with pytest.raises(TooLittleDataError, match=r"\b1 event"):
        tiny_model().fit(events_of(frame), grid(), origin=ORIGIN)


def test_baselines_fit_one_event():
    one = Events(np.array([0]), [X0 + 10.0], [Y0 + 10.0], crs=CRS, tz=TZ)
    model = NaiveCounts().fit(one, grid(), origin=DAY)
    expected = np.zeros(64)
    expected[0] = 1.0  # the event's cell, the lower-left one
    np.testing.assert_array_equal(model.counts_, expected)
    shifts = ShiftHistory().fit(one, grid(), origin=DAY)
    blocks = ShiftSchedule.every(4, tz=TZ).horizon(DAY, "1D")
    # 1970-01-01 00:00 UTC is 19:00 local (EST): the 16-20 shift, the fifth of the day
    risk = shifts.predict(blocks)
    assert risk.sum() == 1.0 and risk[blocks.shift == 4, 0].sum() == 1.0


def test_all_events_at_one_instant_are_too_little_history():
    frame = incidents(50)
    frame["t"] = pd.Timestamp("2019-06-28 10:00", tz="UTC")
    # 3 days between the one instant and the origin
    with pytest.raises(
        TooLittleDataError,
        match=r"span 3 days; the model needs at least 28 days of warm-up plus one 7D horizon",
    ):
        tiny_model().fit(events_of(frame), grid(), origin=ORIGIN)


# ====================================================================== NaN, inf, None, strings
def small_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "t": [f"2019-03-0{d} 10:00+00:00" for d in range(1, 6)],
            "x": X0 + np.arange(5) * 100.0,
            "y": Y0 + np.arange(5) * 100.0,
        }
    ).astype({"t": object, "x": object, "y": object})


BAD_VALUES = [
    ("x", np.nan, r"column 'x' has 1 missing or non-finite value \(row 1\)"),
    ("x", np.inf, r"column 'x' has 1 missing or non-finite value \(row 1: inf\)"),
    ("y", -np.inf, r"column 'y' has 1 missing or non-finite value \(row 1: -inf\)"),
    ("x", None, r"column 'x' has 1 missing or non-finite value \(row 1\)"),
    ("x", "abc", r"column 'x' must hold numbers \(metres\); found row 1 with values such as 'abc'"),
    ("t", None, r"column 't' has 1 missing time \(row 1\)"),
    ("t", pd.NaT, r"column 't' has 1 missing time \(row 1\)"),
    ("t", "garbage", r"column 't' has 1 value that cannot be read as a time \(row 1: 'garbage'\)"),
]


@pytest.mark.parametrize("entry", TABLE_ENTRIES)
@pytest.mark.parametrize(("column", "value", "message"), BAD_VALUES)
def test_bad_values_name_the_column_count_and_row(entry, column, value, message, tmp_path):
    frame = small_frame()
    frame.loc[1, column] = value
    with pytest.raises(ValueError, match=message):
        entry(frame, tmp_path, crs=CRS, tz=TZ)


@pytest.mark.parametrize("entry", READERS)
def test_invalid_drop_drops_and_reports(entry, tmp_path):
    frame = small_frame()
    frame.loc[1, "x"] = np.nan
    frame.loc[3, "t"] = "garbage"
    with pytest.warns(DataQualityWarning, match=r"dropped 2 of 5 rows with invalid times"):
        events = entry(frame, tmp_path, crs=CRS, tz=TZ, invalid="drop")
    assert len(events) == 3 and events.report["invalid_dropped"] == 2
    np.testing.assert_array_equal(events.x, X0 + np.array([0.0, 200.0, 400.0]))


def test_several_problems_are_counted_and_the_first_is_described():
    frame = small_frame()
    frame.index = ["a", "b", "c", "d", "e"]
    frame.loc["b", "x"] = np.nan
    frame.loc["d", "t"] = None
    with pytest.raises(
        ValueError,
        match=r"column 't' has 1 missing time \(row 'd'\) \(and 1 other problems\); .*"
        r"drop the 2 invalid rows",
    ):
        events_of(frame)


def test_constructor_refuses_non_finite_coordinates_and_float_times():
    with pytest.raises(ValueError, match=r"1 events have NaN or infinite coordinates \(row 1\)"):
        Events(np.array([0, 1, 2]), [X0, np.nan, X0], [Y0, Y0, Y0], crs=CRS, tz=TZ)
    with pytest.raises(TypeError, match=r"t must hold int64 UTC seconds, got dtype float64"):
        Events(np.array([0.0, 1.0]), [X0, X0], [Y0, Y0], crs=CRS, tz=TZ)


def test_boolean_coordinates_are_refused():
    frame = small_frame().assign(x=[True, False, True, False, True])
    with pytest.raises(ValueError, match=r"column 'x' holds True/False values, not coordinates"):
        events_of(frame)


def test_kernel_and_knox_arrays_refuse_non_finite_coordinates():
    t = np.array([0, DAY])
    with pytest.raises(ValueError, match=r"x and y must be finite \(no NaN or Inf\)"):
        score_at(
            t, [X0, np.inf], [Y0, Y0], grid(), [2 * DAY], space=BowersSpace(), time=BowersTime()
        )
    with pytest.raises(ValueError, match=r"x and y must be finite \(no NaN or Inf\)"):
        knox_counts(t, [X0, np.nan], [Y0, Y0])


@pytest.mark.parametrize("metric", [hit_rate, pai, pei_star])
def test_metrics_refuse_nan_risk_and_bad_counts(metric):
    risk, counts = np.array([0.5, 0.1, 0.4, 0.2]), np.array([1.0, 0.0, 2.0, 0.0])
    with pytest.raises(ValueError, match=r"risk has 1 NaN value \(of 4\); NaN cannot be ranked"):
        metric(np.r_[np.nan, risk[1:]], counts, 0.5)
    with pytest.raises(ValueError, match=r"counts has 1 NaN or infinite values"):
        metric(risk, np.r_[np.nan, counts[1:]], 0.5)
    with pytest.raises(ValueError, match=r"counts has 1 negative values \(smallest -1\)"):
        metric(risk, np.r_[-1.0, counts[1:]], 0.5)
    with pytest.raises(ValueError, match=r"coverage must be a share of the area in .*, got 0\.0"):
        metric(risk, counts, 0.0)
    with pytest.raises(ValueError, match=r"risk has shape \(4,\) but counts has shape \(3,\)"):
        metric(risk, counts[:3], 0.5)
    with pytest.raises(ValueError, match=r"with at least one cell, got \(0,\)"):
        metric(np.zeros(0), np.zeros(0), 0.5)


def test_infinite_risk_is_ranked_but_refused_by_the_log_score():
    counts = np.array([1.0, 0.0, 3.0, 0.0])
    # +inf ranks first, -inf last: the top half is cells 0 (inf) and 2 (0.4): 4 of 4 events
    assert hit_rate([np.inf, 0.1, 0.4, -np.inf], counts, 0.5) == 1.0
    np.testing.assert_array_equal(top_cells([np.inf, 0.1, 0.4, -np.inf], 0.5), [0, 2])
    with pytest.raises(ValueError, match=r"risk has 1 infinite values"):
        poisson_log_score([np.inf, 0.1, 0.4, 0.2], counts)


@pytest.mark.parametrize("metric", [hit_rate, pai, pei_star])
def test_metrics_of_a_period_without_events_are_nan(metric):
    assert np.isnan(metric([0.5, 0.1, 0.4, 0.2], [0.0, 0.0, 0.0, 0.0], 0.5))


# ====================================================================== huge coordinates
@pytest.mark.parametrize("entry", TABLE_ENTRIES)
def test_coordinates_beyond_the_earth_are_refused(entry, tmp_path):
    frame = small_frame()
    frame.loc[1, "x"] = 1e12
    with pytest.raises(
        ValueError,
        match=r"column 'x' has 1 value beyond 1e\+09 m, farther than any place on Earth "
        r"\(row 1: 1000000000000\.0\)",
    ):
        entry(frame, tmp_path, crs=CRS, tz=TZ)
    with pytest.raises(ValueError, match=r"1 events have a coordinate beyond 1e\+09 m \(row 1"):
        Events(np.arange(3), [X0, 1e12, X0], [Y0, Y0, Y0], crs=CRS, tz=TZ)


def test_a_stray_event_far_away_is_named_before_building_a_huge_grid():
    frame = incidents(50)
    frame.index = [f"r{i}" for i in range(50)]
    frame.loc["r7", ["x", "y"]] = [X0 + 5e6, Y0 + 5e6]  # 7,000 km away: a typo, not a burglary
    events = events_of(frame)
    with (
        traced() as memory,
        pytest.raises(
            ValueError,
            match=r"would have 1,600,\d{3},\d{3} cells of 125 m, more than max_cells=2,000,000\. "
            r"1 event lies far from the rest: row 'r7' at \(x, y\) = \(5628000\.0, 9835000\.0\)",
        ),
    ):
        Grid.from_events(events)
    assert memory[1] < 5e6  # refused before allocating the raster (it would need 80 GB)


@pytest.mark.parametrize("side", [1e7, 1e12])
def test_a_huge_study_area_is_refused_before_allocating(side):
    with (
        traced() as memory,
        pytest.raises(ValueError, match=r"the study area's bounding raster would have .* cells"),
    ):
        Grid.from_area(shapely.box(0, 0, side, side), crs=CRS)
    assert memory[1] < 5e6
    # max_cells is a hard bound on the raster: 8 x 8 cells pass 64 and fail 63
    assert Grid.from_area(shapely.box(0, 0, 1000, 1000), crs=CRS, max_cells=64).n_cells == 64
    with pytest.raises(ValueError, match=r"more than max_cells=63"):
        Grid.from_area(shapely.box(0, 0, 1000, 1000), crs=CRS, max_cells=63)


# ====================================================================== lat/lon passed as metres
def lonlat_frame() -> pd.DataFrame:
    rng = np.random.default_rng(2)
    return pd.DataFrame(
        {
            "t": pd.Timestamp("2019-03-01", tz="UTC") + pd.to_timedelta(np.arange(20), unit="D"),
            "x": -79.40 + rng.uniform(0, 0.02, 20),
            "y": 43.70 + rng.uniform(0, 0.02, 20),
        }
    )


@pytest.mark.parametrize("entry", TABLE_ENTRIES)
def test_degrees_passed_as_metres_are_refused(entry, tmp_path):
    with pytest.raises(
        ValueError,
        match=r"events: x in \[-79\.\d+, -79\.\d+\] and y in \[43\.\d+, 43\.\d+\] look like "
        r"longitude/latitude in degrees, not metres in EPSG:32617 .*"
        r"pass crs='EPSG:4326' with to_crs='utm'",
    ):
        entry(lonlat_frame(), tmp_path, crs=CRS, tz=TZ)


def test_swapped_degrees_and_degree_areas_are_refused():
    frame = lonlat_frame().rename(columns={"x": "y", "y": "x"})
    with pytest.raises(ValueError, match=r"latitude and longitude swapped"):
        events_of(frame)
    with pytest.raises(ValueError, match=r"look like longitude/latitude"):
        Events(np.arange(20), frame["x"], frame["y"], crs=CRS, tz=TZ)
    with pytest.raises(
        ValueError, match=r"the study area: x in \[-79\.4, -79\.3\] .* look like longitude/lat"
    ):
        Grid.from_area(shapely.box(-79.4, 43.6, -79.3, 43.7), crs=CRS)


def test_geographic_input_is_refused_or_reprojected_on_request():
    frame = lonlat_frame()
    with pytest.raises(ValueError, match=r"geographic CRS .*Pass to_crs='utm'"):
        Events.from_frame(frame, crs="EPSG:4326", tz=TZ)
    events = Events.from_frame(frame, crs="EPSG:4326", tz=TZ, to_crs="utm")
    assert events.crs.to_epsg() == 32617
    ex, ey = pyproj.Transformer.from_crs("EPSG:4326", CRS, always_xy=True).transform(
        frame["x"].to_numpy(), frame["y"].to_numpy()
    )
    np.testing.assert_allclose(events.x, ex, rtol=0, atol=1e-6)
    np.testing.assert_allclose(events.y, ey, rtol=0, atol=1e-6)
    area = geopandas.GeoSeries([shapely.box(-79.4, 43.6, -79.3, 43.7)], crs="EPSG:4326")
    with pytest.raises(ValueError, match=r"geographic CRS .*area\.to_crs\("):
        Grid.from_area(area)
    assert Grid.from_area(area.to_crs(CRS)).n_cells > 0


def test_small_coordinates_that_cannot_be_degrees_are_accepted():
    # (60, 60) read as degrees is in Russia, outside the Netherlands' RD New: metres, then.
    rd = Events(np.arange(2), [60.0, 300.0], [60.0, 180.0], crs="EPSG:28992", tz=TZ)
    assert len(rd) == 2
    # documented limitation: a CRS whose area of use is the whole world cannot be checked
    world = Events(np.arange(2), [-79.4, -79.3], [43.6, 43.7], crs="EPSG:3857", tz=TZ)
    assert len(world) == 2


# ====================================================================== unsorted, duplicates
def test_events_are_sorted_by_time_stably():
    frame = pd.DataFrame(
        {
            "t": ["2019-03-03 10:00", "2019-03-01 10:00", "2019-03-02 10:00", "2019-03-01 10:00"],
            "x": [X0 + 1, X0 + 2, X0 + 3, X0 + 4],
            "y": [Y0] * 4,
        },
        index=["a", "b", "c", "d"],
    )
    events = events_of(frame, naive_times="utc")
    assert list(events.data.index) == ["b", "d", "c", "a"]  # b and d tie: input order kept
    np.testing.assert_array_equal(events.x, [X0 + 2, X0 + 4, X0 + 3, X0 + 1])
    assert (np.diff(events.t) >= 0).all()


@BAD_FIT
def test_results_do_not_depend_on_row_order():
    frame = incidents(200)
    shuffled = frame.sample(frac=1.0, random_state=3)
    a, b = events_of(frame), events_of(shuffled)
    blocks = horizon(ORIGIN, "7D")
    for name in ("NaiveCounts", "ShiftHistory", "RetrospectiveKDE"):
        np.testing.assert_allclose(
            BASELINES[name]().fit(a, grid(), origin=ORIGIN).predict(blocks),
            BASELINES[name]().fit(b, grid(), origin=ORIGIN).predict(blocks),
            rtol=1e-12,
        )
    np.testing.assert_array_equal(
        count_events(a, grid(), horizon("2019-03-01", "7D")),
        count_events(b, grid(), horizon("2019-03-01", "7D")),
    )
    np.testing.assert_allclose(
        tiny_model().fit(a, grid(), origin=ORIGIN).predict(blocks),
        tiny_model().fit(b, grid(), origin=ORIGIN).predict(blocks),
        rtol=1e-12,
    )
    knox_a = knox_test(a, n_permutations=9, random_state=0)
    knox_b = knox_test(b, n_permutations=9, random_state=0)
    np.testing.assert_array_equal(knox_a.observed, knox_b.observed)


def test_raw_kernel_arrays_must_be_sorted():
    with pytest.raises(ValueError, match=r"event times t must be in ascending order; value 1"):
        score_at(
            [DAY, 0], [X0, X0], [Y0, Y0], grid(), [2 * DAY], space=BowersSpace(), time=BowersTime()
        )


def duplicate_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "t": ["2019-03-01 10:00+00:00"] * 3 + ["2019-03-02 10:00+00:00"],
            "x": [X0 + 10.0] * 3 + [X0 + 500.0],
            "y": [Y0 + 10.0] * 4,
            "kind": ["House", "House", "Shop", "House"],
        }
    )


@pytest.mark.parametrize("entry", READERS)
def test_duplicates_are_kept_with_a_warning_or_dropped_on_request(entry, tmp_path):
    frame = duplicate_frame()
    with pytest.warns(
        DataQualityWarning,
        match=r"found 1 row that repeats an earlier row \(same time, place and columns "
        r"\['kind'\]; row 1\); kept\. Pass duplicates='drop'",
    ):
        kept = entry(frame, tmp_path, crs=CRS, tz=TZ)
    assert len(kept) == 4 and kept.report["duplicates"] == 1
    with pytest.warns(DataQualityWarning, match=r"dropped 1 row that repeats an earlier row"):
        dropped = entry(frame, tmp_path, crs=CRS, tz=TZ, duplicates="drop")
    assert len(dropped) == 3 and dropped.report["duplicates_dropped"] == 1
    assert sorted(dropped.data["kind"]) == ["House", "House", "Shop"]
    with pytest.warns(DataQualityWarning, match=r"dropped 2 rows .*no other column compared"):
        place_only = entry(frame, tmp_path, crs=CRS, tz=TZ, duplicates="drop", duplicate_columns=[])
    assert len(place_only) == 2
    with pytest.raises(ValueError, match=r"found 1 row that repeats .*Pass duplicates='drop'"):
        entry(frame, tmp_path, crs=CRS, tz=TZ, duplicates="raise")


def test_same_time_at_another_place_is_not_a_duplicate():
    frame = duplicate_frame().iloc[[0, 3]].assign(t="2019-03-01 10:00+00:00")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        events = events_of(frame)
    assert len(events) == 2 and events.report["duplicates"] == 0


# ====================================================================== events after the origin
@pytest.mark.filterwarnings("ignore:.*not known before the origin")
def test_predict_warns_about_later_incidents_and_ignores_them():
    frame = incidents(200)
    origin = "2019-06-01"
    late = frame["t"] >= pd.Timestamp(origin, tz=TZ)
    n_late = int(late.sum())
    assert 0 < n_late < 200
    options = dict(crs=CRS, tz=TZ, area=AREA, horizon="7D", model=tiny_model())
    with pytest.warns(
        DataQualityWarning,
        match=rf"{n_late} of 200 incidents are not known before the origin \({origin}\) and "
        "are ignored",
    ):
        _, with_late = caslite.predict(frame, origin, return_forecast=True, **options)
    _, without = caslite.predict(frame[~late], origin, return_forecast=True, **options)
    np.testing.assert_array_equal(with_late.risk, without.risk)


def test_features_and_kernel_scores_ignore_later_events():
    frame = incidents(200)
    origin = pd.Timestamp("2019-06-01", tz=TZ)
    a, b = events_of(frame[frame["t"] < origin]), events_of(frame)
    builder = tiny_model().features
    pd.testing.assert_frame_equal(
        builder.cell_features(a, grid(), origin), builder.cell_features(b, grid(), origin)
    )
    kernel = dict(space=BowersSpace(), time=BowersTime())
    np.testing.assert_array_equal(
        score_forecast(a, grid(), horizon(origin), **kernel),
        score_forecast(b, grid(), horizon(origin), **kernel),
    )


# ====================================================================== DST gap and overlap
def dst_frame() -> pd.DataFrame:
    # Toronto: clocks jump 02:00 -> 03:00 on 10 March 2019 and 02:00 -> 01:00 on 3 November.
    return pd.DataFrame(
        {
            "t": ["2019-03-09 12:00", "2019-03-10 02:30", "2019-11-03 01:30", "2019-11-04 12:00"],
            "x": X0 + np.array([10.0, 20.0, 30.0, 40.0]),
            "y": [Y0 + 10.0] * 4,
        }
    )


@pytest.mark.parametrize("entry", TABLE_ENTRIES)
def test_local_times_in_a_dst_gap_or_overlap_are_refused_by_default(entry, tmp_path):
    frame = dst_frame()
    with pytest.raises(
        ValueError,
        match=r"column 't' has 1 local time inside the hour skipped when clocks go forward in "
        r"America/Toronto \(row 1, e\.g\. 2019-03-10 02:30:00\)\. Pass "
        r"nonexistent='shift_forward' \(or 'shift_backward'\)",
    ):
        entry(frame, tmp_path, crs=CRS, tz=TZ)
    with pytest.raises(
        ValueError,
        match=r"1 local time inside the hour repeated when clocks go back in America/Toronto "
        r"\(row 2, e\.g\. 2019-11-03 01:30:00\)\. Pass ambiguous='earliest' or 'latest'",
    ):
        entry(frame, tmp_path, crs=CRS, tz=TZ, nonexistent="shift_forward")


def utc(text: str) -> int:
    return int(pd.Timestamp(text).timestamp())


@pytest.mark.parametrize(
    ("nonexistent", "ambiguous", "gap", "overlap"),
    [
        # the gap moves to 03:00 EDT (07:00 UTC) or 01:59:59 EST (06:59:59 UTC); the repeated
        # 01:30 is the first (EDT, 05:30 UTC) or the second (EST, 06:30 UTC) occurrence
        ("shift_forward", "earliest", "2019-03-10 07:00Z", "2019-11-03 05:30Z"),
        ("shift_backward", "latest", "2019-03-10 06:59:59Z", "2019-11-03 06:30Z"),
    ],
)
@pytest.mark.parametrize("entry", READERS)
def test_dst_options_resolve_gap_and_overlap(entry, nonexistent, ambiguous, gap, overlap, tmp_path):
    events = entry(
        dst_frame(), tmp_path, crs=CRS, tz=TZ, nonexistent=nonexistent, ambiguous=ambiguous
    )
    assert events.t.tolist() == [
        utc("2019-03-09 17:00Z"),
        utc(gap),
        utc(overlap),
        utc("2019-11-04 17:00Z"),
    ]
    assert events.report["nonexistent_times"] == 1 and events.report["ambiguous_times"] == 1


def test_naive_times_can_be_read_as_utc():
    events = events_of(dst_frame(), naive_times="utc")
    assert events.t[1] == utc("2019-03-10 02:30Z")


def test_an_origin_inside_a_dst_gap_is_refused():
    message = r"origin: \['2019-03-10 02:30'\] includes a local time that does not exist or occurs"
    events = events_of(incidents(50))
    with pytest.raises(ValueError, match=message):
        events.before("2019-03-10 02:30")
    with pytest.raises(ValueError, match=message):
        ShiftSchedule.every(4, tz=TZ).horizon("2019-03-10 02:30", "1D")
    with pytest.raises(ValueError, match=message):
        tiny_model().fit(events, grid(), origin="2019-03-10 02:30")
    # an aware origin is fine
    expected = int((incidents(50)["t"] < pd.Timestamp("2019-03-10 07:30Z")).sum())
    assert len(events.before("2019-03-10 02:30-05:00")) == expected


def test_shifts_keep_their_wall_clock_span_across_dst():
    schedule = ShiftSchedule.every(4, tz=TZ)
    spring = schedule.horizon("2019-03-10", "1D").to_frame()["hours"].tolist()
    autumn = schedule.horizon("2019-11-03", "1D").to_frame()["hours"].tolist()
    assert spring == [3.0, 4.0, 4.0, 4.0, 4.0, 4.0]  # 23-hour day
    assert autumn == [5.0, 4.0, 4.0, 4.0, 4.0, 4.0]  # 25-hour day


# ====================================================================== CRS mismatch
def other_crs_grid() -> Grid:
    return Grid.from_area(geopandas.GeoSeries([AREA], crs=CRS).to_crs(OTHER_CRS))


CRS_CONSUMERS = {
    "count_events": lambda e, g: count_events(e, g, horizon()),
    "FeatureBuilder.cell_features": lambda e, g: FeatureBuilder().cell_features(e, g, ORIGIN),
    "score_forecast": lambda e, g: score_forecast(
        e, g, horizon(), space=BowersSpace(), time=BowersTime()
    ),
    "score_history": lambda e, g: score_history(
        e, g, horizon(), space=BowersSpace(), time=BowersTime()
    ),
    "RiskModel.fit": lambda e, g: tiny_model().fit(e, g, origin=ORIGIN),
    "GridETAS.fit": lambda e, g: GridETAS().fit(e, g, origin=ORIGIN),
    "backtest": lambda e, g: backtest(
        {"naive": NaiveCounts()}, e, g, start="2019-05-01", end="2019-06-01", progress=False
    ),
    **{
        f"{name}.fit": (lambda e, g, m=m: m().fit(e, g, origin=ORIGIN))
        for name, m in BASELINES.items()
    },
}


@pytest.mark.parametrize("consumer", list(CRS_CONSUMERS))
def test_events_and_grid_in_different_crs_are_refused(consumer):
    with pytest.raises(
        ValueError,
        match=r"CRS mismatch: events is in EPSG:32617 but the grid is in EPSG:32618\. "
        r"Reproject events to the CRS of the grid",
    ):
        CRS_CONSUMERS[consumer](events_of(incidents(50)), other_crs_grid())


def test_area_in_another_crs_or_without_one_is_refused():
    area = geopandas.GeoSeries([AREA], crs=CRS)
    with pytest.raises(
        ValueError,
        match=r"CRS mismatch: the area is in EPSG:32618 but the incident data is in EPSG:32617\. "
        r"Reproject the area to the CRS of the incident data \(e\.g\. gdf\.to_crs\('EPSG:32617'",
    ):
        caslite.predict(incidents(50), ORIGIN, crs=CRS, tz=TZ, area=area.to_crs(OTHER_CRS))
    with pytest.raises(ValueError, match=r"CRS mismatch: the area is in EPSG:32617 but crs= is"):
        Grid.from_area(area, crs=OTHER_CRS)
    with pytest.raises(ValueError, match=r"a shapely geometry carries no CRS; pass crs="):
        Grid.from_area(AREA)
    with pytest.raises(ValueError, match=r"the area has no CRS\. Pass crs='EPSG:\.\.\.\.'"):
        Grid.from_area(geopandas.GeoSeries([AREA]))


def test_layers_in_another_crs_or_without_one_are_refused():
    ramps = geopandas.GeoDataFrame(geometry=[shapely.Point(X0 + 500, Y0 + 500)], crs=CRS)
    blocks = geopandas.GeoDataFrame({"income": [1.0]}, geometry=[AREA], crs=CRS)
    cases = [
        ({"point_layers": {"ramps": ramps.to_crs(4326)}}, r"point layer 'ramps' is in EPSG:4326"),
        (
            {"polygon_layers": {"cbs": (blocks.to_crs(OTHER_CRS), ["income"])}},
            r"polygon layer 'cbs' is in EPSG:32618",
        ),
    ]
    for params, where in cases:
        with pytest.raises(ValueError, match=r"CRS mismatch: " + where + " but the grid is in"):
            FeatureBuilder(**params).static_features(grid())
    with pytest.raises(ValueError, match=r"point layer 'ramps' has no CRS; set it"):
        FeatureBuilder(
            point_layers={"ramps": ramps.set_crs(None, allow_override=True)}
        ).static_features(grid())
    model = tiny_model(features=FeatureBuilder(point_layers={"ramps": ramps.to_crs(OTHER_CRS)}))
    with pytest.raises(ValueError, match=r"CRS mismatch: point layer 'ramps'"):
        model.fit(events_of(incidents(200)), grid(), origin=ORIGIN)


def test_events_crs_must_be_given_and_agree():
    frame = small_frame()
    with pytest.raises(ValueError, match=r"events has no CRS\. Pass crs='EPSG:\.\.\.\.'"):
        Events.from_frame(frame, tz=TZ)
    gdf = geopandas.GeoDataFrame(
        frame[["t"]], geometry=geopandas.points_from_xy(frame["x"], frame["y"]), crs=CRS
    )
    with pytest.raises(ValueError, match=r"crs=EPSG:32618 contradicts the GeoDataFrame's own CRS"):
        Events.from_frame(gdf, crs=OTHER_CRS, tz=TZ)
    with pytest.raises(ValueError, match=r"the GeoDataFrame has no CRS; set it"):
        Events.from_frame(gdf.set_crs(None, allow_override=True), tz=TZ)


# ====================================================================== area not covering events
@pytest.mark.filterwarnings("ignore:.*not known before the origin")
def test_predict_warns_about_incidents_outside_the_area():
    frame = incidents(200)
    west = shapely.box(X0, Y0, X0 + 500, Y0 + 1000)  # the western half: 4 x 8 cells
    outside = int((frame["x"] >= X0 + 500).sum())
    assert 0 < outside < 200
    with pytest.warns(
        DataQualityWarning,
        match=rf"{outside} of 200 incidents known before the origin lie outside the study area "
        r"and count in no cell",
    ):
        hot = caslite.predict(
            frame, ORIGIN, crs=CRS, tz=TZ, area=west, coverage=0.1, horizon="7D", model=tiny_model()
        )
    assert (hot["x"] < X0 + 500).all() and len(hot) == 3 * 42  # 3 of 32 cells per shift


def test_predict_refuses_an_area_without_any_incident():
    far = shapely.box(X0 + 50_000, Y0, X0 + 51_000, Y0 + 1000)
    with pytest.raises(
        ValueError,
        match=r"none of the 200 incidents known before the origin lies in the study area: the "
        r"incidents span x 628,\d{3} \.\. 628,\d{3}.*Check that the area is in the incidents' CRS",
    ):
        caslite.predict(incidents(200), ORIGIN, crs=CRS, tz=TZ, area=far)


def test_predict_refuses_a_coverage_smaller_than_one_cell():
    with pytest.raises(
        ValueError,
        match=r"coverage=0\.01 of a study area of 64\.00 cells is 0\.64 cells, less than one "
        r"cell: no shift would get a hot cell\. Pass coverage >= 0\.0156",
    ):
        caslite.predict(incidents(200), ORIGIN, crs=CRS, tz=TZ, area=AREA, coverage=0.01)


def test_forecast_top_with_no_cell_in_the_budget_is_an_empty_table():
    small = Grid.from_area(shapely.box(X0, Y0, X0 + 250, Y0 + 250), crs=CRS)  # 4 cells
    blocks = horizon()
    forecast = caslite.Forecast(np.ones((6, 4)), blocks, small, origin=int(blocks.start[0]))
    hot = forecast.top(coverage=0.1)  # 0.4 cells: no cell fits
    assert len(hot) == 0
    assert list(hot.columns) == list(forecast.top(coverage=1.0).columns)


@pytest.mark.parametrize("name", list(BASELINES))
def test_baselines_refuse_a_grid_far_from_every_event(name):
    far = Grid.from_area(shapely.box(X0 + 50_000, Y0, X0 + 51_000, Y0 + 1000), crs=CRS)
    with pytest.raises(
        ValueError, match=r"none of the 200 events lies on or near the grid: the events span"
    ):
        BASELINES[name]().fit(events_of(incidents(200)), far, origin=ORIGIN)


def test_events_just_outside_the_grid_still_reach_kernel_cells():
    # 100 m east of the grid: outside every cell, within the KDE's reach (3 x 125 m)
    near = Events(np.array([0]), [X0 + 1100.0], [Y0 + 500.0], crs=CRS, tz=TZ)
    kde = RetrospectiveKDE(bandwidth=125.0).fit(near, grid(), origin=DAY)
    # the nearest cell centre, (X0 + 937.5, Y0 + 562.5), is 174.2 m away
    d = np.hypot(1100.0 - 937.5, 62.5)
    assert kde.density_.max() == pytest.approx(np.exp(-(d**2) / (2 * 125.0**2)) / (2 * np.pi))
    with pytest.raises(ValueError, match=r"none of the 1 events lies on or near the grid"):
        NaiveCounts().fit(near, grid(), origin=DAY)


def test_risk_model_and_etas_refuse_a_grid_without_events():
    far = Grid.from_area(shapely.box(X0 + 50_000, Y0, X0 + 51_000, Y0 + 1000), crs=CRS)
    events = events_of(incidents(200))
    with pytest.raises(TooLittleDataError, match=r"Check that the grid covers the events"):
        tiny_model().fit(events, far, origin=ORIGIN)
    with pytest.raises(TooLittleDataError, match=r"lies in an active cell of the grid"):
        GridETAS().fit(events, far, origin=ORIGIN)


def test_counts_and_locate_on_a_part_of_the_area():
    frame = incidents(200)
    events = events_of(frame)
    west = Grid.from_area(shapely.box(X0, Y0, X0 + 500, Y0 + 1000), crs=CRS)
    inside = (events.x < X0 + 500).sum()
    blocks = ShiftSchedule.every(4, tz=TZ).blocks("2018-12-31", "2019-07-01")
    assert count_events(events, west, blocks).sum() == inside  # the others are not counted
    with pytest.raises(ValueError, match=rf"{200 - inside} of 200 points fall outside"):
        west.locate(events.x, events.y)
    with pytest.warns(DataQualityWarning, match=rf"dropped {200 - inside} of 200 points"):
        cells, keep = west.locate(events.x, events.y, outside="drop")
    assert keep.sum() == inside == cells.size


# ====================================================================== 10 million events
@pytest.mark.slow
def test_ten_million_events_index_and_count_in_bounded_memory():
    n = 10_000_000
    rng = np.random.default_rng(0)
    t = 1_546_300_800 + np.sort(rng.integers(0, 365 * DAY, n))
    swap = rng.integers(0, n, (2, n // 100))  # 1% late reports: out of order
    t[swap[0]], t[swap[1]] = t[swap[1]], t[swap[0]]
    x = X0 + rng.uniform(0, 10_000, n)
    y = Y0 + rng.uniform(0, 10_000, n)
    size = t.nbytes + x.nbytes + y.nbytes  # 240 MB
    with traced() as building:
        events = Events(t, x, y, crs=CRS, tz=TZ)
    held, peak = building
    # The events hold sorted copies of t, t_end, x, y and the row labels (5/3 of the input);
    # sorting adds the permutation and one array at a time.
    assert held < 1.8 * size and peak < 2.5 * size
    with traced() as counting:
        grid_ = Grid.from_area(shapely.box(X0, Y0, X0 + 10_000, Y0 + 10_000), crs=CRS)
        cells = grid_.cell_of(events.x, events.y)  # 80 x 80 cells
        per_cell = np.bincount(cells, minlength=grid_.n_cells)
        blocks = ShiftSchedule.every(4, tz=TZ).horizon("2019-06-01", "14D")
        counts = count_events(events, grid_, blocks)
    # Indexing and counting add the cell ids (1/3 of the input) and chunk-sized temporaries.
    assert counting[1] < 0.75 * size
    # independent checks: cells from floor division, counts from a histogram
    col = np.floor((x - X0) / 125.0).astype(np.int64)
    row = np.floor((y - Y0) / 125.0).astype(np.int64)
    np.testing.assert_array_equal(per_cell, np.bincount(row * 80 + col, minlength=6400))
    in_horizon = (t >= blocks.start[0]) & (t < blocks.end[-1])
    assert counts.sum() == in_horizon.sum()
    block = np.searchsorted(blocks.edges, t[in_horizon], side="right") - 1
    np.testing.assert_array_equal(counts.sum(axis=1), np.bincount(block, minlength=len(blocks)))


# ====================================================================== too little data
def test_too_short_a_history_says_how_much_is_needed():
    frame = incidents(5, days=21, start="2019-06-01")
    origin = pd.Timestamp("2019-06-25", tz=TZ)
    days = (origin - frame["t"].min()).total_seconds() / DAY
    message = (
        rf"the events known before the origin span {days:.0f} days; the model needs at least "
        r"182 days of warm-up plus one 14D horizon \(196 days\)\. Give more history"
    )
    with pytest.raises(TooLittleDataError, match=message):
        RiskModel().fit(events_of(frame), grid(), origin=origin)
    with pytest.raises(TooLittleDataError, match=message):
        caslite.predict(frame, origin, crs=CRS, tz=TZ, area=AREA)


QUIET = dict(n=5, days=170, start="2019-01-01")  # a quiet category: 5 incidents in 6 months


@BAD_FIT
def test_too_few_events_say_how_many_are_needed():
    with pytest.raises(TooLittleDataError, match=r"found 5 events.*needs at least \d+ events"):
        tiny_model(train_span=None).fit(events_of(incidents(**QUIET)), grid(), origin=ORIGIN)


@BAD_FIT
def test_predict_passes_the_too_few_events_message_through():
    with pytest.raises(TooLittleDataError, match=r"found 5 events.*needs at least \d+ events"):
        caslite.predict(
            incidents(**QUIET),
            ORIGIN,
            crs=CRS,
            tz=TZ,
            area=AREA,
            horizon="7D",
            model=tiny_model(train_span=None),
        )


def test_baselines_have_no_minimum():
    frame = incidents(**QUIET)
    events = events_of(frame)
    model = NaiveCounts().fit(events, grid(), origin=ORIGIN)
    cells = np.floor((frame["y"] - Y0) / 125).astype(int) * 8 + np.floor((frame["x"] - X0) / 125)
    np.testing.assert_array_equal(
        model.counts_, np.bincount(cells.astype(int), minlength=64).astype(float)
    )


def test_backtest_period_shorter_than_the_horizon_is_refused():
    with pytest.raises(ValueError, match=r"no forecast origin fits: the horizon '14D' from start"):
        backtest(
            {"naive": NaiveCounts()},
            events_of(incidents(50)),
            grid(),
            start="2019-06-01",
            end="2019-06-05",
            progress=False,
        )


# ---------------------------------------------------------------------- dates and lengths
@pytest.mark.parametrize("origin", ["2019-13-45", "2019-02-30", "next tuesday"])
def test_unreadable_origin_is_refused_not_read_as_no_date(origin):
    # An impossible date once became NaT and then "no incident is known before the origin".
    with pytest.raises(ValueError, match=rf"origin: cannot read '{origin}' as a date or time"):
        caslite.predict(incidents(200), origin, crs=CRS, tz=TZ, area=AREA)
    with pytest.raises(ValueError, match=rf"origin: cannot read '{origin}'"):
        NaiveCounts().fit(events_of(incidents(200)), grid(), origin=origin)


@pytest.mark.parametrize("horizon", ["14X", "two weeks"])
def test_unreadable_horizon_names_the_horizon(horizon):
    schedule = caslite.ShiftSchedule.every(4, tz=TZ)
    with pytest.raises(ValueError, match=rf"horizon='{horizon}' is not a duration; give a"):
        schedule.horizon(ORIGIN, horizon)


def grid_with(**changes) -> Grid:
    arguments = dict(x0=X0, y0=Y0, cell_size=125.0, n_cols=3, n_rows=2, crs=CRS)
    return Grid(**{**arguments, **changes})


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        # a bool is not a number, even where 1 would be accepted; 3.0 is not an integer
        (lambda: grid_with(cell_size=True), TypeError, "cell_size must be a number, got bool"),
        (lambda: grid_with(n_cols=3.0), TypeError, "n_cols must be an integer, got float 3.0"),
        # NaN and infinity are in no range
        (lambda: grid_with(y0=np.nan), ValueError, "y0 must be a finite number of metres, got nan"),
        (
            lambda: grid_with(cell_size=np.inf),
            ValueError,
            r"cell_size must be a positive finite number of metres, got inf \(e.g. cell_size=",
        ),
        (
            lambda: caslite.select_hot_cells([1.0, 2.0], 0.5, exploration=np.nan),
            ValueError,
            r"exploration must be a share of the area budget in \[0, 1\), got nan",
        ),
        # a bound that is excluded is refused (the included one is accepted: next test)
        (
            lambda: caslite.simulate_feedback([1.0, 1.0], coverage=0.0),
            ValueError,
            r"coverage must be a share of the cells in \(0, 1\], got 0.0",
        ),
        (
            lambda: knox_test(events_of(incidents()), n_permutations=0),
            ValueError,
            "n_permutations must be a positive integer, got 0",
        ),
        (
            lambda: NaiveCounts(window_weeks="8").fit(
                events_of(incidents()), grid(), origin=ORIGIN
            ),
            TypeError,
            "window_weeks must be a number, got str '8'",
        ),
    ],
)
def test_numbers_of_the_wrong_kind_or_range_are_refused(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_numeric_checks_accept_numpy_scalars_and_included_bounds():
    from caslite._validation import ArgumentTypeError, check_int, check_number, check_share

    assert check_int(np.int32(3), "n") == 3 and type(check_int(np.int32(3), "n")) is int
    assert check_number(np.float32(0.5), "x", positive=True) == 0.5
    assert check_share(1, "coverage", "(0, 1]") == 1.0  # the included bound
    assert check_share(0.0, "exploration", "[0, 1)") == 0.0
    with pytest.raises(ValueError, match="got 1.0"):
        check_share(1.0, "exploration", "[0, 1)")  # the excluded bound
    # a wrong kind is a TypeError, and a ValueError for code that caught that before
    with pytest.raises(TypeError) as info:
        check_number("1", "x")
    assert isinstance(info.value, ValueError) and isinstance(info.value, ArgumentTypeError)
    # the time constants: whole seconds, as instants are
    from caslite._time import DAY, DAYS_PER_WEEK, HOUR, MINUTE, MINUTES_PER_DAY, WEEK

    assert (MINUTE, HOUR, DAY, WEEK) == (60, 3600, 86400, 604800)
    assert (MINUTES_PER_DAY, DAYS_PER_WEEK) == (1440, 7)
    assert all(type(c) is int for c in (MINUTE, HOUR, DAY, WEEK))
