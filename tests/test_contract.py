"""The forecaster contract, checked for every forecaster of :mod:`caslite.models.registry`.

Each test is parametrised over the registered names (the command line's ``--methods``) plus a
toy forecaster that this file registers for the length of its tests, to show that a new
forecaster needs only its class and one registry line to be run and checked like the others.
Model-specific behaviour stays in each model's own test file.
"""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest
import shapely
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from threadpoolctl import threadpool_limits

from caslite import Events, FeatureBuilder, Grid, ShiftSchedule
from caslite.models import Forecaster, registry
from caslite.models.registry import available_forecasters, make_forecaster

TZ = "America/Toronto"
CRS = "EPSG:32617"
X0, Y0 = 628_000.0, 4_835_000.0
DAY = 86_400
AREA = shapely.box(X0, Y0, X0 + 1000, Y0 + 1000)  # 8 x 8 cells of 125 m
ORIGIN = pd.Timestamp("2019-06-01", tz=TZ)
SCHEDULE = ShiftSchedule.every(4, tz=TZ)
BLOCKS = SCHEDULE.horizon(ORIGIN, "7D")
TOY = "toy_last_week"

#: Parameters that make the slow forecasters quick on the tiny data (a smaller risk model).
QUICK = {
    "risk": {
        "features": FeatureBuilder(
            windows_weeks=(1, 4),
            rings=(1,),
            kernels=None,
            shift_windows_weeks=(4,),
            relative_windows_weeks=(),
            smooth_bandwidths=(),
            shift_prior=None,
            darkness=False,
        ),
        "train_step": "7D",
        "train_span": "56D",
        "warmup": "28D",
        "max_iter": 5,
        "min_samples_leaf": 5,
        "negative_rate": 0.5,  # subsampled rows: the seed matters (determinism test)
    },
}


class LastWeekCounts(Forecaster):
    """A toy forecaster: each cell's events in the ``days`` before the origin, every block.

    Written against the base class only, as a contributor would write a new baseline.
    """

    def __init__(self, *, days=7):
        self.days = days

    def fit(self, events, grid, *, origin):
        self._check_fit_input(events, grid)
        self.origin_ = self._origin_seconds(origin, events)
        lag = self.origin_ - events.t_end
        recent = events.select((lag > 0) & (lag <= self.days * DAY))
        cells = grid.cell_of(recent.x, recent.y)
        self.counts_ = np.bincount(cells[cells >= 0], minlength=grid.n_cells).astype(float)
        self.grid_ = grid
        return self

    def predict(self, blocks):
        self._check_fitted()
        self._check_blocks(blocks)
        return self._checked_output(np.tile(self.counts_, (len(blocks), 1)), blocks)


NAMES = [*available_forecasters(), TOY]


@pytest.fixture(autouse=True)
def one_openmp_thread():
    # Tiny models: OpenMP threads buy nothing and spin-wait on a busy machine.
    with threadpool_limits(limits=1, user_api="openmp"):
        yield


@pytest.fixture
def make(request):
    """A function making a new forecaster of the test's name (the toy registered meanwhile)."""
    name = request.node.callspec.params["name"]
    if name == TOY:
        registry.register(TOY, LastWeekCounts, description="events per cell, the last week")
        request.addfinalizer(lambda: registry.unregister(TOY))

    def new(random_state=0):
        return make_forecaster(
            name, random_state=random_state, schedule=SCHEDULE, horizon="7D", **QUICK.get(name, {})
        )

    return new


def incidents(n=200, *, days=180, seed=0) -> pd.DataFrame:
    """Uniform incidents over the 1 km square, January to June 2019 (UTC-aware times)."""
    rng = np.random.default_rng(seed)
    seconds = np.sort(rng.integers(0, days * DAY, n))
    return pd.DataFrame(
        {
            "t": pd.Timestamp("2019-01-01", tz="UTC") + pd.to_timedelta(seconds, unit="s"),
            "x": X0 + rng.uniform(0, 1000.0, n),
            "y": Y0 + rng.uniform(0, 1000.0, n),
        }
    )


def grid() -> Grid:
    return Grid.from_area(AREA, crs=CRS)


def past_and_everything() -> tuple[Events, Events]:
    """The events before the origin, and the same with later ones added.

    Later: a burst exactly at the origin, a time window that starts before the origin but ends
    after it (not known at the origin), and every incident after the origin.
    """
    frame = incidents()
    past = frame[frame["t"] < ORIGIN]
    at = ORIGIN.tz_convert("UTC")
    burst = pd.DataFrame({"t": [at] * 5, "x": [X0 + 300.0] * 5, "y": [Y0 + 300.0] * 5})
    window = pd.DataFrame({"t": [at - pd.Timedelta("2h")], "x": [X0 + 600.0], "y": [Y0 + 600.0]})
    everything = pd.concat([past, burst, window, frame[frame["t"] >= ORIGIN]], ignore_index=True)
    everything["t_end"] = pd.Series(pd.NaT, index=everything.index, dtype=everything["t"].dtype)
    everything.loc[len(past) + 5, "t_end"] = at + pd.Timedelta("2h")
    a = Events.from_frame(past, crs=CRS, tz=TZ)
    b = Events.from_frame(everything, crs=CRS, tz=TZ, time_end="t_end")
    assert b.has_windows and len(b) == len(frame) + 6 and len(frame) > len(past)
    return a, b


def same_params(a: dict, b: dict) -> bool:
    """Parameters equal, nested estimators (e.g. a FeatureBuilder) compared by their own."""
    if a.keys() != b.keys():
        return False
    for key, value in a.items():
        other = b[key]
        if hasattr(value, "get_params"):
            if type(value) is not type(other) or not same_params(
                value.get_params(deep=False), other.get_params(deep=False)
            ):
                return False
        elif value != other:
            return False
    return True


# ---------------------------------------------------------------------- the contract
@pytest.mark.parametrize("name", NAMES)
def test_clone_and_get_params_round_trip(name, make):
    model = make()
    assert isinstance(model, Forecaster)
    init = inspect.signature(type(model).__init__).parameters
    assert all(p.kind is p.KEYWORD_ONLY for key, p in init.items() if key != "self")
    params = model.get_params(deep=False)
    copy = clone(model)
    assert copy is not model and same_params(copy.get_params(deep=False), params)
    rebuilt = type(model)(**params)  # __init__ stores the parameters as given
    assert same_params(rebuilt.get_params(deep=False), params)


@pytest.mark.parametrize("name", NAMES)
def test_predict_before_fit_raises_not_fitted(name, make):
    with pytest.raises(NotFittedError):
        make().predict(BLOCKS)


@pytest.mark.filterwarnings("ignore::caslite.CasliteWarning")
@pytest.mark.parametrize("name", NAMES)
def test_models_ignore_events_at_or_after_the_origin(name, make):
    past, everything = past_and_everything()
    before = make().fit(past, grid(), origin=ORIGIN).predict(BLOCKS)
    after = make().fit(everything, grid(), origin=ORIGIN).predict(BLOCKS)
    np.testing.assert_array_equal(before, after)
    # one row per block, a column per cell, every score finite
    assert before.shape == (len(BLOCKS), grid().n_cells)
    assert np.isfinite(before).all() and before.any()


@pytest.mark.filterwarnings("ignore::caslite.CasliteWarning")
@pytest.mark.parametrize("name", NAMES)
def test_same_random_state_same_forecast_and_clone_refits_alike(name, make):
    events = Events.from_frame(incidents(), crs=CRS, tz=TZ)
    model = make(random_state=3).fit(events, grid(), origin=ORIGIN)
    again = make(random_state=3).fit(events, grid(), origin=ORIGIN)
    refit = clone(model).fit(events, grid(), origin=ORIGIN)
    expected = model.predict(BLOCKS)
    np.testing.assert_array_equal(again.predict(BLOCKS), expected)
    np.testing.assert_array_equal(refit.predict(BLOCKS), expected)


@pytest.mark.filterwarnings("ignore::caslite.CasliteWarning")
@pytest.mark.parametrize("name", NAMES)
def test_bad_inputs_are_refused_naming_them(name, make):
    events = Events.from_frame(incidents(), crs=CRS, tz=TZ)
    with pytest.raises(TypeError, match="events must be caslite Events, got DataFrame"):
        make().fit(incidents(), grid(), origin=ORIGIN)
    with pytest.raises(TypeError, match="grid must be a caslite Grid, got str"):
        make().fit(events, "grid", origin=ORIGIN)
    other = Grid.from_area(shapely.box(0, 0, 1000, 1000), crs="EPSG:32618")
    with pytest.raises(ValueError, match="CRS mismatch"):
        make().fit(events, other, origin=ORIGIN)
    model = make().fit(events, grid(), origin=ORIGIN)
    with pytest.raises(TypeError, match="blocks must be caslite Blocks, got ndarray"):
        model.predict(BLOCKS.start)
    early = SCHEDULE.horizon(ORIGIN - pd.Timedelta("1D"), "1D")
    with pytest.raises(ValueError, match="origin"):  # a block that starts before the origin
        model.predict(early)


def test_the_toy_is_registered_only_during_its_tests():
    assert TOY not in available_forecasters()
    entry = registry.register(TOY, LastWeekCounts, description="toy", params={"days": 2})
    try:
        assert available_forecasters()[-1] == TOY and entry.baseline and not entry.default
        assert make_forecaster(TOY).get_params() == {"days": 2}
        with pytest.raises(ValueError, match="'toy_last_week' is taken"):
            registry.register(TOY, LastWeekCounts, description="again")
    finally:
        registry.unregister(TOY)
    with pytest.raises(ValueError, match="no forecaster is registered as 'toy_last_week'"):
        make_forecaster(TOY)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Naive", "forecaster name 'Naive' is not a lower-case identifier"),
        ("naive-52", "forecaster name 'naive-52' is not a lower-case identifier"),
        ("all", "forecaster name 'all' is taken; choose a name other than 'all', 'baselines'"),
        ("naive52", r"'naive52' is taken; .* or unregister\('naive52'\) first"),
    ],
)
def test_registry_names_are_checked(name, message):
    with pytest.raises(ValueError, match=message):
        registry.register(name, LastWeekCounts, description="bad")
    with pytest.raises(
        ValueError, match=r"no forecaster is registered as 'nope'; choose from risk,"
    ):
        make_forecaster("nope")
    assert TOY not in available_forecasters() and "Naive" not in available_forecasters()
