import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from caslite import Events, Grid, ShiftSchedule
from caslite.datasets import simulate_city
from caslite.models import ProspectiveHotSpot
from caslite.nearrepeat import ExponentialSpace, ExponentialTime

CRS = "EPSG:28992"
TZ = "Europe/Amsterdam"
DAY = 86_400


def make_events(times, xs, ys, ends=None):
    frame = pd.DataFrame({"t": times, "x": xs, "y": ys})
    if ends is not None:
        frame["t_end"] = ends
    return Events.from_frame(frame, crs=CRS, tz=TZ, time_end="t_end" if ends is not None else None)


@pytest.fixture
def grid():
    return Grid.from_area(box(0, 0, 625, 625), cell_size=125.0, crs=CRS)


def test_classic_weights_by_hand(grid):
    # Event in cell (0, 0) nine days before the origin (1 whole week); a second in cell (2, 3)
    # twenty days before (2 whole weeks).
    events = make_events(["2024-03-02 00:00", "2024-02-20 00:00"], [60.0, 400.0], [60.0, 300.0])
    model = ProspectiveHotSpot().fit(events, grid, origin="2024-03-11")
    blocks = ShiftSchedule.every(4, tz=TZ).horizon("2024-03-11", "1D")
    risk = model.predict(blocks)[0].reshape(5, 5)
    expected = np.zeros((5, 5))
    for (row, col), weeks in (((0, 0), 1), ((2, 3), 2)):
        for r in range(5):
            for c in range(5):
                cells = max(abs(r - row), abs(c - col))  # Chebyshev distance in cells
                if cells * 125.0 <= 400.0:
                    expected[r, c] += 1 / (1 + 2 * cells) / (1 + weeks)
    np.testing.assert_allclose(risk, expected, rtol=1e-12)


def test_uncertain_time_counts_only_once_its_window_has_ended(grid):
    # Window starts before the origin but ends after it: not yet known at the origin.
    events = make_events(
        ["2024-03-09 08:00", "2024-03-10 08:00"],
        [60.0, 300.0],
        [60.0, 300.0],
        ends=["2024-03-09 18:00", "2024-03-11 09:00"],
    )
    model = ProspectiveHotSpot().fit(events, grid, origin="2024-03-11")
    assert len(model.events_) == 1
    blocks = ShiftSchedule.every(4, tz=TZ).horizon("2024-03-11", "1D")
    risk = model.predict(blocks)
    only_first = ProspectiveHotSpot().fit(events.select([0]), grid, origin="2024-03-11")
    np.testing.assert_array_equal(risk, only_first.predict(blocks))


def test_estimator_contract(grid):
    model = ProspectiveHotSpot(space=ExponentialSpace(scale=100.0, radius=300.0))
    assert model.get_params()["space"] == ExponentialSpace(scale=100.0, radius=300.0)
    copy = clone(model)
    assert copy.get_params() == model.get_params() and copy is not model
    blocks = ShiftSchedule.every(4, tz=TZ).horizon("2024-03-11", "1D")
    with pytest.raises(NotFittedError):
        model.predict(blocks)
    events = make_events(["2024-03-02 00:00"], [60.0], [60.0])
    with pytest.raises(TypeError, match="events must be caslite Events"):
        model.fit(events.to_frame(), grid, origin="2024-03-11")
    with pytest.raises(TypeError, match="grid must be a caslite Grid"):
        model.fit(events, "grid", origin="2024-03-11")
    model.fit(events, grid, origin="2024-03-11")
    late = ShiftSchedule.every(4, tz=TZ).horizon("2024-03-10", "1D")
    with pytest.raises(ValueError, match="is after the start of the first block"):
        model.predict(late)


def test_finds_simulated_near_repeats_better_than_chance():
    city = simulate_city(
        start="2023-01-01", end="2023-07-01", size=5000.0, background_rate=6.0,
        branching_ratio=0.5, spatial_range=80.0, temporal_range_days=5.0, random_state=11,
    )  # fmt: skip
    events = Events.from_frame(city.events, crs=city.crs, tz=city.tz)
    area = box(*city.bounds)
    grid = Grid.from_area(area, cell_size=125.0, crs=city.crs)
    schedule = ShiftSchedule.every(4, tz=city.tz)
    captured, expected = [], []
    for origin in pd.date_range("2023-03-01", "2023-06-01", freq="14D"):
        origin = origin.strftime("%Y-%m-%d")
        blocks = schedule.horizon(origin, "14D")
        model = ProspectiveHotSpot(time=ExponentialTime(scale_days=7.0, window_days=28.0))
        risk = model.fit(events, grid, origin=origin).predict(blocks).sum(axis=0)
        top = np.argsort(-risk, kind="stable")[: int(0.05 * grid.n_cells)]
        future = (events.t >= blocks.start[0]) & (events.t < blocks.end[-1])
        cells = grid.cell_of(events.x[future], events.y[future])
        captured.append(np.isin(cells, top).sum())
        expected.append(future.sum() * len(top) / grid.n_cells)
    # Top 5% of cells by near-repeat score hold well over 5% of the next fortnight's events.
    assert sum(captured) > 3 * sum(expected)
