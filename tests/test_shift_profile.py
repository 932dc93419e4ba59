"""The shift profile is learnt from trustworthy times, not from defaulted ones.

A synthetic city with a known time-of-day profile records a share of its burglaries at a
default 00:00, as police systems do when the time is unknown (``simulate_city(heaped_share=,
heap_times=)``). Given as whole-day windows (``t`` the local midnight, ``t_end`` the next), the
records must not move risk into 00-04: the forecast's share of each shift must match the
truth, the simulator's exact expected counts over the horizon
(:meth:`SyntheticCity.expected_counts`). The same records given as exact 00:00 times must
move it (so the test can fail). A date-only export (every record a window) gives a
shift-flat forecast and a warning.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box
from threadpoolctl import threadpool_limits

import caslite
from caslite import DataQualityWarning, Events, FeatureBuilder, Grid, RiskModel
from caslite.datasets import simulate_city
from caslite.evaluation import count_events, exact_shift_rates

ORIGIN = "2023-11-06"
# Small, quick models: 7-day horizons, no kernel scores, 20 trees, one ensemble.
FAST = {
    "horizon": "7D",
    "train_step": "14D",
    "train_span": "365D",
    "max_iter": 20,
    "n_bags": 1,
    "max_negatives": 20_000,
    "features": FeatureBuilder(kernels=None),
    "random_state": 0,
}
#: Share of the burglaries recorded at 00:00 (the true time is lost).
HEAPED = 0.3
#: Relative tolerance on each shift's forecast share. The profile is learnt from the
#: exact-time burglaries of the training year, about 0.7 x 20 x 365 = 5,100; the quietest
#: shift (00-04) holds about 6 % of them, ~300, so its share has a relative standard error of
#: about 1 / sqrt(300) = 6 %: 20 % is over three standard errors, for the quietest shift.
TOLERANCE = 0.2


@pytest.fixture(scope="module", autouse=True)
def one_openmp_thread():
    with threadpool_limits(limits=1, user_api="openmp"):
        yield


def as_events(frame, city, *, windows=True) -> Events:
    """The recorded burglaries; those not recorded exactly as whole local days if ``windows``.

    The windows are built here from the simulator's record of which times are defaults, so
    the readers' own time-quality policy is switched off (``default_times="keep"``).
    """
    out = frame.copy()
    uncertain = (out["recording"] != "exact").to_numpy()
    day = out["t"].dt.tz_localize(None).dt.normalize()
    fold = np.ones(len(out), dtype=bool)

    def local(naive):
        return naive.dt.tz_localize(city.tz, ambiguous=fold, nonexistent="shift_forward")

    out["t_end"] = out["t"]
    if windows:
        out["t"] = out["t"].where(~uncertain, local(day))
        out["t_end"] = out["t"].where(~uncertain, local(day + pd.Timedelta(days=1)))
    return Events.from_frame(
        out[["t", "t_end", "x", "y"]],
        time_end="t_end",
        crs=city.crs,
        tz=city.tz,
        default_times="keep",
        date_only="keep",
    )


def shift_shares(risk, blocks) -> np.ndarray:
    per_shift = np.bincount(blocks.shift, risk.sum(axis=1), minlength=blocks.schedule.n_shifts)
    return per_shift / per_shift.sum()


@pytest.fixture(scope="module")
def city():
    return simulate_city(
        start="2022-09-01",
        end="2023-11-20",
        size=3000.0,
        background_rate=20.0,
        heaped_share=HEAPED,
        heap_times=("00:00",),
        random_state=7,
    )


@pytest.fixture(scope="module")
def grid(city):
    return Grid.from_area(box(*city.bounds), cell_size=500.0, crs=city.crs)


@pytest.fixture(scope="module")
def truth(city, grid):
    """The true share of each shift in the forecast horizon (the simulator's compensator)."""
    blocks = caslite.ShiftSchedule.every(4, tz=city.tz).horizon(ORIGIN, FAST["horizon"])
    half = grid.cell_size / 2
    expected = city.expected_counts(
        grid.x - half, grid.y - half, grid.cell_size, blocks.start, blocks.end
    )
    return shift_shares(expected, blocks)


def test_simulated_heap_is_at_midnight_and_keeps_the_truth(city):
    events = city.events
    heaped = events["recording"] == "heaped"
    assert abs(heaped.mean() - HEAPED) < 0.02  # ~ 8,000 records: 4 sd is 0.02
    assert (events.loc[heaped, "t"].dt.strftime("%H:%M:%S") == "00:00:00").all()
    assert (events.loc[heaped, "t"].dt.date == events.loc[heaped, "t_true"].dt.date).all()
    exact = ~heaped
    assert (events.loc[exact, "t"] == events.loc[exact, "t_true"]).all()


def test_windowed_heap_leaves_the_shift_profile_true(city, grid, truth):
    events = as_events(city.events, city)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataQualityWarning)  # enough exact times: no warning
        model = RiskModel(**FAST).fit(events, grid, origin=ORIGIN)
    forecast = model.forecast()
    got = shift_shares(forecast.risk, forecast.blocks)
    np.testing.assert_allclose(got, truth, rtol=TOLERANCE)
    assert not model.training_["shift_flat"]
    # the profile windows are spread by is the exact times' own, counted here by hand
    exact = city.events[city.events["recording"] == "exact"]
    assert model.training_["exact_times"] < len(exact)  # only the training span's
    hours = exact["t"].dt.hour.to_numpy()
    start = pd.Timestamp(int(model.training_["origins"].min()), unit="s", tz="UTC")
    inside = (exact["t"] >= start) & (exact["t"] < pd.Timestamp(ORIGIN, tz=city.tz))
    by_shift = np.bincount(hours[inside.to_numpy()] // 4, minlength=6)
    assert by_shift.sum() == model.training_["exact_times"]
    np.testing.assert_allclose(model.training_["shift_rates"], by_shift / by_shift.sum())


def test_the_same_heap_as_exact_times_moves_risk_to_midnight(city, grid, truth):
    events = as_events(city.events, city, windows=False)
    model = RiskModel(**FAST).fit(events, grid, origin=ORIGIN)
    forecast = model.forecast()
    got = shift_shares(forecast.risk, forecast.blocks)
    # 00-04 gets the heap: about 0.3 + 0.7 x 6 % of the burglaries, against 6 % in truth
    assert got[0] > 3 * truth[0]
    assert not np.allclose(got, truth, rtol=TOLERANCE)


def test_date_only_export_gives_a_shift_flat_forecast_and_says_so(city, grid):
    frame = city.events.assign(recording="date_only")
    events = as_events(frame, city)
    with pytest.warns(DataQualityWarning, match=r"only 0 of .* min_exact_times=100"):
        model = RiskModel(**FAST).fit(events, grid, origin=ORIGIN)
    assert model.training_["shift_flat"]
    forecast = model.forecast()
    per_shift = np.bincount(forecast.blocks.shift, forecast.risk.sum(axis=1), minlength=6)
    np.testing.assert_allclose(per_shift, np.full(6, per_shift.mean()), rtol=1e-12)
    # and cell by cell: every shift holds a sixth of the cell's risk over the horizon
    by_cell = np.stack([forecast.risk[forecast.blocks.shift == s].sum(axis=0) for s in range(6)])
    np.testing.assert_allclose(by_cell, np.broadcast_to(by_cell.mean(axis=0), by_cell.shape))


def test_predict_passes_the_shift_flat_warning_on(city):
    known = city.events[city.events["t"] < pd.Timestamp(ORIGIN, tz=city.tz)]
    frame = known.assign(recording="date_only")
    events = as_events(frame, city)
    with pytest.warns(DataQualityWarning, match="shift-flat"):
        caslite.predict(
            events,
            origin=ORIGIN,
            horizon=FAST["horizon"],
            cell_size=500.0,
            model=RiskModel(**FAST),
        )


def test_min_exact_times_is_validated():
    for bad in (-1, 2.5, True, "100"):
        # a wrong type names its type (ArgumentTypeError is a ValueError too)
        match = "min_exact_times must be (a non-negative integer|an integer), got"
        with pytest.raises(ValueError, match=match):
            RiskModel(min_exact_times=bad)._check_params()


def test_count_events_spreads_windows_by_the_shift_rates():
    """Hand-computed: a window 06:00-18:00 over two 12-hour shifts of rates 3 : 1."""
    frame = pd.DataFrame(
        {
            "t": ["2024-03-11 06:00", "2024-03-11 20:00"],
            "t_end": ["2024-03-11 18:00", "2024-03-11 20:00"],
            "x": [60.0, 60.0],
            "y": [60.0, 60.0],
        }
    )
    events = Events.from_frame(frame, time_end="t_end", crs="EPSG:28992", tz="Europe/Amsterdam")
    grid = Grid.from_area(box(0, 0, 125, 125), crs="EPSG:28992")
    schedule = caslite.ShiftSchedule(["00:00", "12:00"], tz="Europe/Amsterdam")
    blocks = schedule.horizon("2024-03-11", "1D")
    plain = count_events(events, grid, blocks)[:, 0]
    np.testing.assert_allclose(plain, [0.5, 1.5])  # 6 h in each shift; 20:00 exact
    weighted = count_events(events, grid, blocks, shift_rates=[3.0, 1.0])[:, 0]
    # 6 h at rate 3 against 6 h at rate 1: 3/4 and 1/4 of the window
    np.testing.assert_allclose(weighted, [0.75, 1.25])
    # only the part of the window inside the blocks counts: from 12:00, 1/4 of it
    later = caslite.ShiftSchedule(["00:00", "12:00"], tz="Europe/Amsterdam").blocks(
        "2024-03-11 12:00", "2024-03-12"
    )
    np.testing.assert_allclose(
        count_events(events, grid, later, shift_rates=[3.0, 1.0])[:, 0], [1.25]
    )
    rates, n_exact = exact_shift_rates(events, grid, schedule)
    assert n_exact == 1
    np.testing.assert_allclose(rates, [0.0, 1.0])
    with pytest.raises(ValueError, match="one finite, non-negative rate per shift"):
        count_events(events, grid, blocks, shift_rates=[1.0])


def test_shift_shrinkage_hand_computed():
    """Two cells, two 12-hour shifts: risk 3 and 1 in one cell, 1 and 3 in the other."""
    from caslite.models.risk import _shrink_shift_profile

    schedule = caslite.ShiftSchedule(["00:00", "12:00"], tz="Europe/Amsterdam")
    blocks = schedule.horizon("2024-03-11", "1D")
    risk = np.array([[3.0, 1.0], [1.0, 3.0]])  # (block, cell)
    # each shift holds half the area's risk, each cell 4: at 0.5 a cell's shift gets
    # 0.5 x its own + 0.5 x (1/2 x 4), i.e. 2.5 and 1.5; at 1 every shift of a cell gets 2
    half = np.exp(_shrink_shift_profile(np.log(risk), blocks, 0.5))
    np.testing.assert_allclose(half, [[2.5, 1.5], [1.5, 2.5]])
    full = np.exp(_shrink_shift_profile(np.log(risk), blocks, 1.0))
    np.testing.assert_allclose(full, [[2.0, 2.0], [2.0, 2.0]])
    np.testing.assert_allclose(_shrink_shift_profile(np.log(risk), blocks, 0.0), np.log(risk))


@pytest.fixture(scope="module")
def fitted(city, grid):
    model = RiskModel(**FAST, shift_shrinkage=0.0)  # the trees' own shift profile
    return model.fit(as_events(city.events, city), grid, origin=ORIGIN)


def test_shift_shrinkage_keeps_totals_and_at_one_ranks_every_block_as_the_horizon(fitted):
    own = fitted.forecast()
    blocks = own.blocks
    n_shifts = blocks.schedule.n_shifts
    per_shift = np.stack([own.risk[blocks.shift == s].sum(axis=0) for s in range(n_shifts)])
    area = per_shift.sum(axis=1) / per_shift.sum()
    try:
        for strength in (0.3, 1.0):
            fitted.set_params(shift_shrinkage=strength)  # applied when forecasting
            risk = fitted.forecast().risk
            # a plain-numpy twin: the cell's shift totals mixed with the area's split of its
            # total, each block of a shift scaled alike
            wanted = (1 - strength) * per_shift + strength * np.outer(area, per_shift.sum(0))
            expected = own.risk * (wanted / per_shift)[blocks.shift]
            np.testing.assert_allclose(risk, expected, rtol=1e-10)
            np.testing.assert_allclose(risk.sum(axis=0), own.risk.sum(axis=0), rtol=1e-10)
            np.testing.assert_allclose(shift_shares(risk, blocks), area, rtol=1e-10)
        # at 1, every block orders the cells as their totals over the horizon do
        total = risk.sum(axis=0)
        for b in range(len(blocks)):
            np.testing.assert_allclose(risk[b] / risk[b].sum(), total / total.sum(), rtol=1e-9)
        assert not np.allclose(own.risk[0] / own.risk[0].sum(), total / total.sum(), rtol=1e-3)
    finally:
        fitted.set_params(shift_shrinkage=0.0)


def test_shift_shrinkage_is_validated():
    for bad in (-0.1, 1.5, True, "Auto", np.nan):
        with pytest.raises(ValueError, match=r"shift_shrinkage must be 'auto' or a number in"):
            RiskModel(shift_shrinkage=bad)._check_params()


@pytest.mark.parametrize("concentration", [5.0, 30.0, np.inf])
def test_profile_concentration_recovers_a_simulated_one(concentration):
    """Cells' shift profiles drawn from a Dirichlet of known concentration (or all equal)."""
    from caslite.models.risk import _profile_concentration

    rng = np.random.default_rng(int(min(concentration, 99)))
    area = np.array([0.08, 0.1, 0.2, 0.22, 0.23, 0.17])
    n_cells = 4000
    if np.isinf(concentration):
        profiles = np.tile(area, (n_cells, 1))
    else:
        profiles = rng.dirichlet(concentration * area, size=n_cells)
    sizes = rng.poisson(12, size=n_cells)
    counts = np.stack([rng.multinomial(n, p) for n, p in zip(sizes, profiles, strict=True)]).T
    got = _profile_concentration(counts.astype(float))
    if np.isinf(concentration):
        # no cell-specific profile: inf, or a concentration so large that a cell of 100
        # incidents would keep less than a tenth of its own
        assert got > 1000
    else:  # about 44,000 incidents: a relative error of a few percent (20 % is > 3 sd)
        assert abs(got / concentration - 1) < 0.2
    assert _profile_concentration(np.zeros((6, 10))) == np.inf
    # every cell keeps to one shift: concentration 0, every cell its own profile
    one_shift = np.zeros((6, 40))
    one_shift[np.arange(40) % 6, np.arange(40)] = 5
    assert _profile_concentration(one_shift) == 0.0


def test_auto_shift_shrinkage_trusts_a_cell_as_far_as_its_exact_times_go(fitted, city):
    own = fitted.forecast()
    blocks = own.blocks
    try:
        fitted.set_params(shift_shrinkage="auto")
        risk = fitted.forecast().risk
    finally:
        fitted.set_params(shift_shrinkage=0.0)
    # the exact-time incidents per shift and cell over the training span, counted here
    from caslite.models.risk import _profile_concentration

    exact = city.events[city.events["recording"] == "exact"]
    start = pd.Timestamp(int(fitted.training_["origins"].min()), unit="s", tz="UTC")
    exact = exact[(exact["t"] >= start) & (exact["t"] < pd.Timestamp(ORIGIN, tz=city.tz))]
    grid = fitted.grid_
    cell = grid.cell_of(exact["x"].to_numpy(), exact["y"].to_numpy())
    shift = exact["t"].dt.tz_convert(city.tz).dt.hour.to_numpy() // 4
    counts = np.zeros((6, grid.n_cells))
    np.add.at(counts, (shift[cell >= 0], cell[cell >= 0]), 1.0)
    a = _profile_concentration(counts)
    assert 0 < a < np.inf
    strength = a / (counts.sum(axis=0) + a)
    per_shift = np.stack([own.risk[blocks.shift == s].sum(axis=0) for s in range(6)])
    # the area's split with each cell weighted by its strength: every shift keeps its total
    area = (per_shift * strength).sum(axis=1) / (per_shift * strength).sum()
    wanted = (1 - strength) * per_shift + strength * np.outer(area, per_shift.sum(axis=0))
    np.testing.assert_allclose(risk, own.risk * (wanted / per_shift)[blocks.shift], rtol=1e-10)
    np.testing.assert_allclose(shift_shares(risk, blocks), shift_shares(own.risk, blocks))
    assert np.ptp(strength) > 0.01  # cells differ: the weighting matters
