"""The strongest baselines (caslite.models.strong) against hand-computed cases and numpy twins."""

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box
from sklearn.base import clone

from caslite import Events, Grid, ShiftSchedule
from caslite.datasets import simulate_city
from caslite.models import GridETAS, ProspectiveHotSpot, TooLittleDataError
from caslite.models.strong import LongRunCounts, LongRunETAS, LongRunNearRepeatBlend

TZ = "Europe/Amsterdam"
CRS = "EPSG:28992"
DAY = 86_400


def _events(rows):
    frame = pd.DataFrame(rows, columns=["t", "x", "y"])
    return Events.from_frame(frame, crs=CRS, tz=TZ)


@pytest.fixture(scope="module")
def toy():
    grid = Grid.from_area(box(0, 0, 500, 500), cell_size=125.0, crs=CRS)
    events = _events(
        [
            ("2020-05-01 10:00", 60.0, 60.0),  # cell 0, four years before: all history counts
            ("2023-06-01 10:00", 60.0, 60.0),  # cell 0
            ("2023-12-01 22:00", 60.0, 60.0),  # cell 0
            ("2024-02-01 03:00", 300.0, 180.0),  # cell 6
            ("2024-03-05 12:00", 300.0, 180.0),  # after the origin
        ]
    )
    return events, grid


@pytest.fixture(scope="module")
def city():
    sim = simulate_city(
        start="2022-01-01", end="2023-08-01", size=3000.0, background_rate=5.0, random_state=3
    )
    events = Events.from_frame(sim.events[["t", "x", "y"]], crs=sim.crs, tz=sim.tz)
    grid = Grid.from_area(box(*sim.bounds), cell_size=125.0, crs=sim.crs)
    return events, grid, sim.tz


def _changed_after(events, origin):
    """The same events before ``origin``, plus copies of those at or after it, moved."""
    frame = pd.DataFrame({"t": events.t, "t_end": events.t_end, "x": events.x, "y": events.y})
    late = frame[frame["t_end"] >= origin].copy()
    late["x"] = late["x"][::-1].to_numpy()
    late["t"] = late["t_end"] = late["t"] + 3600
    frame = pd.concat([frame, late])
    for column in ("t", "t_end"):
        frame[column] = pd.to_datetime(frame[column], unit="s", utc=True)
    return Events.from_frame(frame, time_end="t_end", crs=events.crs, tz=events.tz)


# ---------------------------------------------------------------------- LongRunCounts
def test_long_run_counts_hand_computed(toy):
    events, grid = toy
    model = LongRunCounts(floor_share=0.1).fit(events, grid, origin="2024-03-01")
    # all history: 3 events in cell 0, 1 in cell 6 (the one after the origin is unknown)
    assert model.counts_[0] == 3 and model.counts_[6] == 1 and model.counts_.sum() == 4
    # level: 3 events known in the last 52 weeks (the 2020 one is older)
    rate_per_day = 3 / (52 * 7)
    shares = np.full(16, 0.1 / 16)
    shares[0] += 0.9 * 3 / 4
    shares[6] += 0.9 * 1 / 4
    blocks = ShiftSchedule.every(4, tz=TZ).horizon("2024-03-01", "14D")
    risk = model.predict(blocks)
    expected = np.outer(np.full(84, 4 / 24), shares * rate_per_day)
    np.testing.assert_allclose(risk, expected, rtol=1e-12)
    assert risk[:, 0].sum() / risk[:, 6].sum() > 1  # the ranking is that of all history


def test_long_run_counts_short_history_sets_level_from_its_own_length(toy):
    events, grid = toy
    model = LongRunCounts(floor_share=0.0, history_start="2023-11-01").fit(
        events, grid, origin="2024-03-01"
    )
    # two events known since 2023-11-01; the history is as long as the oldest lag
    lag = model.origin_ - int(pd.Timestamp("2023-12-01 22:00", tz=TZ).timestamp())
    np.testing.assert_allclose(model.rate_.sum(), 2 / lag)
    assert model.counts_.tolist()[0] == 1


def test_long_run_counts_does_not_see_the_future(city):
    events, grid, tz = city
    origin = int(pd.Timestamp("2023-04-03", tz=tz).timestamp())
    blocks = ShiftSchedule.every(4, tz=tz).horizon(origin, "14D")
    for model in (LongRunCounts(), LongRunNearRepeatBlend(n_past=3)):
        a = clone(model).fit(events, grid, origin=origin).predict(blocks)
        b = clone(model).fit(_changed_after(events, origin), grid, origin=origin).predict(blocks)
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------- LongRunETAS
def test_long_run_etas_is_grid_etas_on_all_history_plus_a_floor(city):
    events, grid, tz = city
    origin = int(pd.Timestamp("2023-05-01", tz=tz).timestamp())
    model = LongRunETAS(floor_share=0.05).fit(events, grid, origin=origin)
    known = events.t_end < origin
    window = (origin - events.t_end[known].min() + 1) / DAY
    twin = GridETAS(window_days=window).fit(events, grid, origin=origin)
    assert (
        model.n_events_
        == twin.n_events_
        == np.count_nonzero(known & (grid.cell_of(events.x, events.y) >= 0))
    )
    assert model.theta_ == twin.theta_ and model.omega_ == twin.omega_
    mu = twin.background_
    np.testing.assert_allclose(model.background_, 0.95 * mu + 0.05 * mu.mean(), rtol=1e-12)
    np.testing.assert_allclose(model.background_.sum(), mu.sum(), rtol=1e-12)  # conserved
    assert (mu == 0).any() and (model.background_ > 0).all()  # the floor lifts the zeros
    # the ranking of the backgrounds is kept
    assert np.array_equal(
        np.argsort(mu, kind="stable"), np.argsort(model.background_, kind="stable")
    )


def test_long_run_etas_window_and_history_start(toy):
    events, grid = toy
    old = LongRunETAS(history_start="2023-01-01").fit(events, grid, origin="2024-03-01")
    without = events.select(events.t >= int(pd.Timestamp("2023-01-01", tz=TZ).timestamp()))
    twin = LongRunETAS().fit(without, grid, origin="2024-03-01")
    assert old.n_events_ == twin.n_events_ == 3
    np.testing.assert_array_equal(old.background_, twin.background_)
    fixed = LongRunETAS(window_days=365, floor_share=0.0).fit(events, grid, origin="2024-03-01")
    plain = GridETAS().fit(events, grid, origin="2024-03-01")
    np.testing.assert_array_equal(fixed.background_, plain.background_)
    with pytest.raises(ValueError, match="history_start.*window_days=None"):
        LongRunETAS(window_days=365, history_start="2023-01-01").fit(
            events, grid, origin="2024-03-01"
        )


# ---------------------------------------------------------------------- the blend
def _twin_blend(events, grid, origin, n_past, horizon_days):
    """Plain-numpy components, targets and weights (a grid search of the likelihood)."""
    horizon = horizon_days * DAY
    instants = [origin - k * horizon for k in range(n_past, -1, -1)]
    known = events.select(events.t_end < origin)
    cells = grid.cell_of(known.x, known.y)
    long_run, kernel = [], []
    for instant in instants:
        before = cells[(known.t_end < instant) & (cells >= 0)]
        counts = np.bincount(before, minlength=grid.n_cells)
        lags = instant - known.t_end[(known.t_end < instant) & (cells >= 0)]
        span = min(52 * 7 * DAY, lags.max())
        rate = (0.98 * counts / counts.sum() + 0.02 / grid.n_cells) * (
            np.count_nonzero(lags <= 52 * 7 * DAY) / span
        )
        long_run.append(rate * horizon)
        blocks = ShiftSchedule.every(4, tz=events.tz).horizon(int(instant), "1D")
        kernel.append(
            ProspectiveHotSpot().fit(events, grid, origin=int(instant)).predict(blocks)[0]
        )
    targets = np.zeros((n_past, grid.n_cells))
    middle = (known.t + known.t_end) / 2
    for k in range(n_past):
        inside = (middle >= instants[k]) & (middle < instants[k + 1]) & (cells >= 0)
        targets[k] = np.bincount(cells[inside], minlength=grid.n_cells)
    return np.array(long_run), np.array(kernel), targets


def _nll(a, b, long_run, kernel, targets):
    mean = a * long_run + b * kernel
    return float(np.sum(mean - targets * np.log(np.maximum(mean, 1e-300))))


def test_blend_against_a_numpy_twin(city):
    events, grid, tz = city
    origin = int(pd.Timestamp("2023-06-05", tz=tz).timestamp())
    model = LongRunNearRepeatBlend(n_past=6).fit(events, grid, origin=origin)
    long_run, kernel, targets = _twin_blend(events, grid, origin, 6, 14)
    np.testing.assert_allclose(model.long_run_, long_run[-1], rtol=1e-9)
    np.testing.assert_allclose(model.near_repeat_, kernel[-1], rtol=1e-9)
    assert model.n_fit_events_ == targets.sum() > 0
    a, b = model.weights_
    fitted = _nll(a, b, long_run[:-1], kernel[:-1], targets)
    # no point of a fine grid around the optimum is better
    grid_a = a * np.linspace(0.5, 1.5, 41) + 1e-9
    grid_b = np.concatenate([[0.0], b * np.linspace(0.5, 1.5, 41), np.geomspace(1e-6, 1.0, 20)])
    best = min(
        _nll(x, y, long_run[:-1], kernel[:-1], targets)
        for x, y in itertools.product(grid_a, grid_b)
    )
    assert fitted <= best + 1e-6 * abs(best)
    blocks = ShiftSchedule.every(4, tz=tz).horizon(origin, "14D")
    risk = model.predict(blocks)
    np.testing.assert_allclose(risk.sum(axis=0), a * long_run[-1] + b * kernel[-1], rtol=1e-9)
    again = clone(model).fit(events, grid, origin=origin)  # deterministic
    np.testing.assert_array_equal(again.predict(blocks), risk)


def test_blend_recovers_known_weights():
    """Targets drawn from a * L + b * K with the components fixed: the fit finds a and b."""
    from caslite.models.strong import _poisson_weights

    rng = np.random.default_rng(0)
    components = np.stack([rng.gamma(0.5, 0.2, 200_000), rng.gamma(0.2, 0.5, 200_000)], axis=1)
    truth = np.array([0.7, 0.3])
    counts = rng.poisson(components @ truth).astype(float)
    np.testing.assert_allclose(_poisson_weights(components, counts), truth, rtol=0.05)
    # a component that explains nothing gets (close to) no weight
    noise = np.stack([components[:, 0], rng.gamma(0.2, 0.5, 200_000)], axis=1)
    counts = rng.poisson(components[:, 0]).astype(float)
    weights = _poisson_weights(noise, counts)
    assert weights[1] < 0.02 and abs(weights[0] - 1.0) < 0.05


@pytest.mark.parametrize(
    ("model", "match"),
    [
        (LongRunCounts(floor_share=1.0), "floor_share must be below 1"),
        (LongRunCounts(level_weeks=0), "level_weeks must be a positive"),
        (LongRunNearRepeatBlend(n_past=0), "n_past must be a positive integer"),
        (LongRunNearRepeatBlend(horizon_days=-1), "horizon_days must be a positive"),
        (LongRunETAS(floor_share=-0.1), r"floor_share must be a number in \[0, 1\], got -0.1"),
    ],
)
def test_bad_parameters_are_named(toy, model, match):
    events, grid = toy
    with pytest.raises(ValueError, match=match):
        model.fit(events, grid, origin="2024-03-01")


def test_too_little_data_says_what_to_do(toy):
    events, grid = toy
    for model in (LongRunCounts(), LongRunETAS(), LongRunNearRepeatBlend()):
        with pytest.raises(TooLittleDataError, match="later origin"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(events, grid, origin="2019-01-01")
