import math

import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Polygon, box
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

import caslite
from caslite import Blocks, Events, Grid, ShiftSchedule
from caslite.models import NaiveCounts, ProspectiveHotSpot, RetrospectiveKDE, ShiftHistory

CRS = "EPSG:28992"
TZ = "Europe/Amsterdam"
WEEK = 7 * 86_400
ORIGIN = "2024-03-11"
MODELS = [NaiveCounts, RetrospectiveKDE, ShiftHistory]


def make_events(times, xs, ys, ends=None):
    frame = pd.DataFrame({"t": times, "x": xs, "y": ys})
    if ends is not None:
        frame["t_end"] = ends
    return caslite.Events.from_frame(
        frame, crs=CRS, tz=TZ, time_end="t_end" if ends is not None else None
    )


def utc(local):
    return int(pd.Timestamp(local, tz=TZ).timestamp())


def cell(row, col):
    return row * 4 + col  # row-major ids on the full 4 x 4 grid, row 0 at the bottom


@pytest.fixture
def grid():
    return caslite.Grid.from_area(box(0, 0, 500, 500), cell_size=125.0, crs=CRS)


@pytest.fixture
def blocks():
    return caslite.ShiftSchedule.every(4, tz=TZ).horizon(ORIGIN, "14D")


def random_events(seed, n=300, windows=False, start="2023-01-01", days=500, margin=0.0):
    rng = np.random.default_rng(seed)
    seconds = np.sort(rng.integers(0, days * 86_400, n))
    t = utc(start) + seconds
    x = rng.uniform(-margin, 500 + margin, n)
    y = rng.uniform(-margin, 500 + margin, n)
    t_end = t + rng.integers(0, 30 * 3600, n) * rng.integers(0, 2, n) if windows else None
    return Events(t, x, y, crs=CRS, tz=TZ, t_end=t_end)


# ---------------------------------------------------------------------- NaiveCounts
def test_naive_counts_by_hand(grid, blocks):
    events = make_events(
        [
            "2024-03-01 10:00",  # cell (0, 0)
            "2024-03-05 23:00",  # cell (0, 0)
            "2024-02-20 12:00",  # cell (1, 2)
            "2024-01-16 12:00",  # cell (3, 3), 54 days before the origin
            "2024-03-02 12:00",  # outside the grid: ignored
            "2023-01-01 12:00",  # before the 8-week window
            "2024-03-11 00:00",  # at the origin
            "2024-03-12 00:00",  # after the origin
        ],
        [60.0, 100.0, 300.0, 480.0, 620.0, 60.0, 60.0, 60.0],
        [60.0, 10.0, 200.0, 480.0, 60.0, 60.0, 60.0, 60.0],
    )
    model = NaiveCounts(window_weeks=8).fit(events, grid, origin=ORIGIN)
    expected = np.zeros(16)
    expected[cell(0, 0)] = 2
    expected[cell(1, 2)] = 1
    expected[cell(3, 3)] = 1
    risk = model.predict(blocks)
    assert risk.shape == (84, 16)
    assert risk.dtype == np.float64
    np.testing.assert_array_equal(risk, np.tile(expected, (84, 1)))
    np.testing.assert_array_equal(model.counts_, expected)
    assert len(model.events_) == 5  # the one outside the grid is kept but not counted


def test_naive_counts_ignore_inactive_cells():
    # An L-shaped area: the top-right cell of the 2 x 2 raster is not active.
    area = Polygon([(0, 0), (250, 0), (250, 125), (125, 125), (125, 250), (0, 250)])
    grid = Grid.from_area(area, cell_size=125.0, crs=CRS)
    assert grid.n_cells == 3
    events = make_events(["2024-03-01 10:00"] * 3, [60.0, 200.0, 200.0], [60.0, 60.0, 200.0])
    blocks = ShiftSchedule.every(4, tz=TZ).horizon(ORIGIN, "1D")
    risk = NaiveCounts().fit(events, grid, origin=ORIGIN).predict(blocks)
    np.testing.assert_array_equal(risk[0], [1.0, 1.0, 0.0])


# ---------------------------------------------------------------------- shared window logic
@pytest.mark.parametrize("model_class", MODELS)
@pytest.mark.parametrize("window_weeks", [1, 2.5, 52])
def test_window_boundary(model_class, window_weeks, grid):
    origin = utc(ORIGIN)
    window = int(round(window_weeks * WEEK))
    # Known exactly the window before the origin (kept), one second earlier (dropped),
    # one second before the origin (kept), at the origin (dropped).
    t = np.array([origin - window - 1, origin - window, origin - 1, origin])
    events = Events(t, [60.0, 190.0, 310.0, 440.0], [60.0] * 4, crs=CRS, tz=TZ)
    model = model_class(window_weeks=window_weeks).fit(events, grid, origin=origin)
    np.testing.assert_array_equal(model.events_.t, t[[1, 2]])
    assert model.origin_ == origin


@pytest.mark.parametrize("model_class", MODELS)
def test_uncertain_times_are_known_at_the_end_of_their_window(model_class, grid):
    origin = utc(ORIGIN)
    start = origin - 4 * WEEK
    events = Events(
        [start - 86_400, start + 86_400, origin - 3600],
        [60.0, 190.0, 310.0],
        [60.0] * 3,
        t_end=[start + 3600, start + 2 * 86_400, origin],
        crs=CRS,
        tz=TZ,
    )
    model = model_class(window_weeks=4).fit(events, grid, origin=origin)
    # First: starts before the window but ends inside it (kept). Second: inside (kept).
    # Third: its window ends at the origin, so it is not yet known (dropped).
    np.testing.assert_array_equal(model.events_.t, events.t[:2])
    assert len(events.before(origin)) == 2


@pytest.mark.parametrize("model_class", [NaiveCounts, RetrospectiveKDE])
def test_constant_over_blocks(model_class, grid, blocks):
    events = random_events(1, margin=100.0)
    risk = model_class().fit(events, grid, origin=ORIGIN).predict(blocks)
    assert risk[0].any()
    np.testing.assert_array_equal(risk, np.broadcast_to(risk[0], risk.shape))


@pytest.mark.parametrize("model_class", MODELS)
def test_no_events_in_window_gives_zeros(model_class, grid, blocks):
    events = make_events(["2020-01-01 10:00", "2024-03-12 10:00"], [60.0, 60.0], [60.0, 60.0])
    risk = model_class().fit(events, grid, origin=ORIGIN).predict(blocks)
    np.testing.assert_array_equal(risk, np.zeros((84, 16)))


@pytest.mark.parametrize("model_class", MODELS)
def test_empty_blocks(model_class, grid):
    events = make_events(["2024-03-01 10:00"], [60.0], [60.0])
    model = model_class().fit(events, grid, origin=ORIGIN)
    empty = Blocks(ShiftSchedule.every(4, tz=TZ), [])
    assert model.predict(empty).shape == (0, 16)


# ---------------------------------------------------------------------- RetrospectiveKDE
def kde_reference(events, grid, origin, bandwidth, window_weeks, cutoff):
    """Dense, obviously correct kernel sum over every (event, cell) pair."""
    lag = origin - events.t_end
    keep = (lag > 0) & (lag <= window_weeks * WEEK)
    x, y = events.x[keep][:, None], events.y[keep][:, None]
    d = np.hypot(grid.x[None, :] - x, grid.y[None, :] - y)
    w = np.where(d <= cutoff * bandwidth, np.exp(-(d**2) / (2.0 * bandwidth**2)), 0.0)
    return w.sum(axis=0) * grid.cell_size**2 / (2.0 * np.pi * bandwidth**2)


L_AREA = Polygon([(0, 0), (1000, 0), (1000, 400), (400, 400), (400, 1000), (0, 1000)])


@pytest.mark.parametrize("bandwidth", [40.0, 125.0, 250.0, 600.0])
@pytest.mark.parametrize("cutoff", [0.5, 1.0, 3.0])
@pytest.mark.parametrize("window_weeks", [4, 52])
@pytest.mark.parametrize("area", [box(0, 0, 500, 500), L_AREA], ids=["square", "L"])
def test_kde_matches_numpy_reference(bandwidth, cutoff, window_weeks, area):
    grid = Grid.from_area(area, cell_size=125.0, crs=CRS)
    scattered = random_events(7, n=400, windows=True, margin=400.0)
    # Plus events on and near cell centres in the last 3 weeks, so small kernels touch cells.
    rng = np.random.default_rng(8)
    near = rng.integers(0, grid.n_cells, 30)
    origin = utc(ORIGIN)
    near_t = origin - rng.integers(86_400, 3 * WEEK, 30)
    events = Events(
        np.r_[scattered.t, near_t],
        np.r_[scattered.x, grid.x[near] + np.r_[np.zeros(10), rng.normal(0, 30, 20)]],
        np.r_[scattered.y, grid.y[near] + np.r_[np.zeros(10), rng.normal(0, 30, 20)]],
        t_end=np.r_[scattered.t_end, near_t + rng.integers(0, 86_400, 30)],
        crs=CRS,
        tz=TZ,
    )
    model = RetrospectiveKDE(bandwidth=bandwidth, window_weeks=window_weeks, cutoff=cutoff)
    model.fit(events, grid, origin=origin)
    expected = kde_reference(events, grid, origin, bandwidth, window_weeks, cutoff)
    assert expected.any()
    np.testing.assert_allclose(model.density_, expected, rtol=1e-12, atol=0)
    np.testing.assert_allclose(
        model.predict(ShiftSchedule.every(4, tz=TZ).horizon(ORIGIN, "1D"))[-1],
        expected,
        rtol=1e-12,
        atol=0,
    )


def test_kde_counts_events_outside_the_grid(grid):
    # One event 100 m left of the grid, level with the centre of cell (1, 0).
    events = make_events(["2024-03-01 10:00"], [-100.0], [187.5])
    model = RetrospectiveKDE(bandwidth=100.0, cutoff=3.0).fit(events, grid, origin=ORIGIN)
    d = 100.0 + 62.5
    expected = 125.0**2 / (2 * math.pi * 100.0**2) * math.exp(-(d**2) / (2 * 100.0**2))
    assert model.density_[cell(1, 0)] == pytest.approx(expected, rel=1e-12)
    assert model.density_[cell(1, 3)] == 0.0  # 437.5 + 100 m away: beyond 300 m


def test_kde_truncation_by_hand(grid):
    # An event at the centre of cell (0, 0); with cutoff * bandwidth = 125 m the cells next to
    # it (centres exactly 125 m away) count, the diagonal one (177 m) does not.
    events = make_events(["2024-03-01 10:00"], [62.5], [62.5])
    model = RetrospectiveKDE(bandwidth=125.0, cutoff=1.0).fit(events, grid, origin=ORIGIN)
    scale = 1.0 / (2.0 * math.pi)  # cell area / (2 pi h^2) with h = cell size
    expected = np.zeros(16)
    expected[cell(0, 0)] = scale
    expected[cell(0, 1)] = expected[cell(1, 0)] = scale * math.exp(-0.5)
    np.testing.assert_allclose(model.density_, expected, rtol=1e-12, atol=0)


def test_kde_total_is_about_the_number_of_events():
    # On a grid much larger than the kernel, the smoothed counts add up to the events.
    grid = Grid.from_area(box(0, 0, 4000, 4000), cell_size=50.0, crs=CRS)
    events = make_events(["2024-03-01 10:00", "2024-03-02 10:00"], [2000.0, 1500.0], [2000.0] * 2)
    model = RetrospectiveKDE(bandwidth=150.0, cutoff=4.0).fit(events, grid, origin=ORIGIN)
    assert model.density_.sum() == pytest.approx(2.0, rel=1e-3)


# ---------------------------------------------------------------------- ShiftHistory
def test_shift_history_by_hand(grid, blocks):
    events = make_events(
        [
            "2024-02-01 02:00",  # cell (0, 0), shift 00-04
            "2024-03-31 03:30",  # after the origin: ignored
            "2024-02-10 03:59",  # cell (0, 0), shift 00-04
            "2024-02-10 04:00",  # cell (0, 0), shift 04-08
            "2024-02-20 21:00",  # cell (1, 2), shift 20-24
            "2024-02-21 13:00",  # outside the grid: ignored
        ],
        [60.0, 60.0, 60.0, 60.0, 300.0, -10.0],
        [60.0, 60.0, 60.0, 60.0, 200.0, 60.0],
    )
    model = ShiftHistory(window_weeks=8).fit(events, grid, origin=ORIGIN)
    risk = model.predict(blocks)
    expected = np.zeros((6, 16))
    expected[0, cell(0, 0)] = 2
    expected[1, cell(0, 0)] = 1
    expected[5, cell(1, 2)] = 1
    np.testing.assert_array_equal(risk, expected[blocks.shift])
    assert not np.array_equal(risk[0], risk[1])  # the forecast differs by shift
    np.testing.assert_array_equal(risk[:6], risk[6:12])  # and repeats every day


def test_shift_history_splits_windows_aoristically(grid):
    # 07:00-17:00: 1 h in 04-08, 4 h in 08-12 and 12-16, 1 h in 16-20.
    events = make_events(["2024-03-01 07:00"], [60.0], [60.0], ends=["2024-03-01 17:00"])
    blocks = ShiftSchedule.every(4, tz=TZ).horizon(ORIGIN, "1D")
    risk = ShiftHistory().fit(events, grid, origin=ORIGIN).predict(blocks)
    np.testing.assert_allclose(risk[:, cell(0, 0)], [0.0, 0.1, 0.4, 0.4, 0.1, 0.0], rtol=1e-12)
    assert not risk[:, cell(0, 1)].any()


def test_shift_history_uses_the_schedule_of_the_blocks(grid):
    events = make_events(
        ["2024-03-01 23:30", "2024-03-02 03:00", "2024-03-02 10:00"], [60.0] * 3, [60.0] * 3
    )
    schedule = ShiftSchedule(["07:00", "15:00", "23:00"], tz=TZ)
    blocks = schedule.horizon(ORIGIN, "2D")
    model = ShiftHistory().fit(events, grid, origin=ORIGIN)
    risk = model.predict(blocks)[:, cell(0, 0)]
    by_label = dict(zip(np.asarray(schedule.labels)[blocks.shift], risk, strict=True))
    assert by_label == {"07-15": 1.0, "15-23": 0.0, "23-07": 2.0}
    # The same fitted model scores six 4-hour shifts when given those blocks.
    four_hours = ShiftSchedule.every(4, tz=TZ).horizon(ORIGIN, "1D")
    np.testing.assert_array_equal(model.predict(four_hours)[:, cell(0, 0)], [1, 0, 1, 0, 0, 1])


def test_shift_history_across_a_dst_change(grid):
    # 31 March 2024: clocks go from 02:00 to 03:00; 03:30 is in the (3-hour) 00-04 block.
    events = make_events(["2024-03-31 03:30", "2024-03-31 04:30"], [60.0] * 2, [60.0] * 2)
    blocks = ShiftSchedule.every(4, tz=TZ).horizon("2024-04-01", "1D")
    risk = ShiftHistory().fit(events, grid, origin="2024-04-01").predict(blocks)
    np.testing.assert_array_equal(risk[:, cell(0, 0)], [1, 1, 0, 0, 0, 0])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_shift_history_adds_up_to_naive_counts(seed, grid):
    events = random_events(seed, n=400, windows=True, margin=100.0)
    blocks = ShiftSchedule.every(4, tz=TZ).horizon(ORIGIN, "1D")
    shifts = ShiftHistory(window_weeks=20).fit(events, grid, origin=ORIGIN).predict(blocks)
    naive = NaiveCounts(window_weeks=20).fit(events, grid, origin=ORIGIN).predict(blocks)
    assert events.select(events.t_end > events.t).t.size > 0
    assert not np.allclose(shifts, shifts[0])
    np.testing.assert_allclose(shifts.sum(axis=0), naive[0], rtol=1e-12, atol=1e-12)


def test_shift_history_smoothing(grid):
    events = make_events(["2024-03-01 02:00", "2024-03-02 22:00"], [60.0, 60.0], [60.0, 60.0])
    blocks = ShiftSchedule.every(4, tz=TZ).horizon(ORIGIN, "1D")
    plain = ShiftHistory().fit(events, grid, origin=ORIGIN).predict(blocks)
    smooth = ShiftHistory(smoothing=0.3).fit(events, grid, origin=ORIGIN).predict(blocks)
    day = 2.0 / 6
    expected = 0.7 * plain[:, cell(0, 0)] + 0.3 * day
    np.testing.assert_allclose(smooth[:, cell(0, 0)], expected, rtol=1e-12)
    assert smooth[:, cell(0, 0)].min() > 0  # no more ties at zero in this cell
    np.testing.assert_allclose(smooth.sum(axis=0), plain.sum(axis=0), rtol=1e-12)
    assert not smooth[:, cell(0, 1)].any()  # cells without events stay at zero


# ---------------------------------------------------------------------- contract and checks
@pytest.mark.parametrize(
    ("model", "params"),
    [
        (NaiveCounts(window_weeks=8), {"window_weeks": 8}),
        (
            RetrospectiveKDE(bandwidth=100.0, window_weeks=8, cutoff=2.0),
            {"bandwidth": 100.0, "window_weeks": 8, "cutoff": 2.0},
        ),
        (ShiftHistory(window_weeks=8, smoothing=0.1), {"window_weeks": 8, "smoothing": 0.1}),
    ],
)
def test_estimator_contract(model, params, grid, blocks):
    assert model.get_params() == params
    copy = clone(model)
    assert copy is not model and copy.get_params() == params
    with pytest.raises(NotFittedError):
        model.predict(blocks)
    events = make_events(["2024-03-01 10:00"], [60.0], [60.0])
    fitted = model.fit(events, grid, origin=ORIGIN)
    assert fitted is model
    assert not hasattr(clone(fitted), "origin_")
    copy.set_params(window_weeks=1)
    assert copy.get_params()["window_weeks"] == 1
    assert not copy.fit(events, grid, origin=ORIGIN).predict(blocks).any()  # 10 days back
    with pytest.raises(TypeError):
        type(model)(8)  # keyword-only parameters


@pytest.mark.parametrize("model_class", MODELS)
@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (0, ValueError, "window_weeks must be a positive finite number of weeks, got 0"),
        (-2.0, ValueError, r"got -2\.0"),
        (math.inf, ValueError, "got inf"),
        (math.nan, ValueError, "got nan"),
        ("52", TypeError, "window_weeks must be a number, got str '52'"),
        (True, TypeError, "got bool"),
        (None, TypeError, "got NoneType"),
    ],
)
def test_window_weeks_is_checked(model_class, value, error, message, grid):
    events = make_events(["2024-03-01 10:00"], [60.0], [60.0])
    with pytest.raises(error, match=message):
        model_class(window_weeks=value).fit(events, grid, origin=ORIGIN)


@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        ({"bandwidth": 0.0}, ValueError, "bandwidth must be a positive finite number .*got 0.0"),
        ({"bandwidth": "wide"}, TypeError, "bandwidth must be a number, got str"),
        ({"cutoff": -1}, ValueError, "cutoff must be a positive finite number .*got -1"),
        ({"cutoff": math.inf}, ValueError, "cutoff .* got inf"),
    ],
)
def test_kde_parameters_are_checked(params, error, message, grid):
    events = make_events(["2024-03-01 10:00"], [60.0], [60.0])
    with pytest.raises(error, match=message):
        RetrospectiveKDE(**params).fit(events, grid, origin=ORIGIN)


@pytest.mark.parametrize(
    ("value", "error"),
    [(-0.1, ValueError), (1.5, ValueError), (math.nan, ValueError), ("a", TypeError)],
)
def test_smoothing_is_checked(value, error, grid):
    events = make_events(["2024-03-01 10:00"], [60.0], [60.0])
    with pytest.raises(error, match="smoothing must be a number"):
        ShiftHistory(smoothing=value).fit(events, grid, origin=ORIGIN)


@pytest.mark.parametrize("model_class", [*MODELS, ProspectiveHotSpot])
def test_blocks_before_the_origin_are_refused(model_class, grid):
    events = make_events(["2024-03-01 10:00"], [60.0], [60.0])
    model = model_class().fit(events, grid, origin=ORIGIN)
    early = ShiftSchedule.every(4, tz=TZ).horizon("2024-03-10 20:00", "1D")
    with pytest.raises(ValueError, match="is after the start of the first block"):
        model.predict(early)
    # A later horizon (a gap after the origin) is fine.
    later = ShiftSchedule.every(4, tz=TZ).horizon("2024-03-12", "1D")
    assert model.predict(later).shape == (6, 16)
