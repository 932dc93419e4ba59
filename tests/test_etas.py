"""Tests of the grid self-exciting point process (:class:`caslite.models.etas.GridETAS`)."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.integrate
import shapely
from sklearn.base import clone

from caslite import Events, Grid, ShiftSchedule
from caslite.models.etas import GridETAS, _em_step
from caslite.models.risk import TooLittleDataError

_spec = importlib.util.spec_from_file_location("naive", Path(__file__).with_name("naive.py"))
naive = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(naive)

CRS = "EPSG:28992"
TZ = "Europe/Amsterdam"
DAY = 86_400
ORIGIN = 1_704_067_200  # 2024-01-01 00:00 UTC
SCHEDULE = ShiftSchedule.every(4, tz=TZ)


def make_grid(n_side=4):
    return Grid.from_area(shapely.box(0, 0, 125.0 * n_side, 125.0 * n_side), crs=CRS)


def simulate(mu, theta, omega, days, seed):
    """A gridded Hawkes process by the branching construction: times (days, < 0) and cells.

    Background events of cell ``n``: Poisson(mu_n * days), uniform on ``[-days, 0)``; every
    event has Poisson(theta) children in its cell, delays Exponential(mean 1 / omega); those
    at or after 0 are not observed.
    """
    rng = np.random.default_rng(seed)
    times, cells = [], []
    for cell, rate in enumerate(mu):
        generation = rng.uniform(-days, 0.0, rng.poisson(rate * days))
        while generation.size:
            times.append(generation)
            cells.append(np.full(generation.size, cell))
            n_children = rng.poisson(theta, generation.size)
            parents = np.repeat(generation, n_children)
            children = parents + rng.exponential(1.0 / omega, parents.size)
            generation = children[children < 0.0]
    return np.concatenate(times), np.concatenate(cells)


def to_events(t_days, cells, grid, origin=ORIGIN):
    t = origin + np.floor(t_days * DAY).astype(np.int64)
    return Events(t, grid.x[cells], grid.y[cells], crs=CRS, tz=TZ)


TRUE_MU = np.linspace(0.1, 0.8, 16)  # events per day in each of 16 cells
TRUE_THETA, TRUE_OMEGA = 0.5, 0.2  # half an offspring per event, a mean delay of 5 days


@pytest.fixture(scope="module")
def simulated():
    grid = make_grid()
    t, cells = simulate(TRUE_MU, TRUE_THETA, TRUE_OMEGA, 365.0, seed=7)
    return grid, to_events(t, cells, grid), len(t)


@pytest.fixture(scope="module")
def fitted(simulated):
    grid, events, _ = simulated
    return GridETAS(window_days=365).fit(events, grid, origin=ORIGIN)


# ---------------------------------------------------------------------- (a) recovery
def test_recovers_known_parameters(simulated, fitted):
    _, _, n = simulated
    assert n > 2_000
    assert fitted.converged_
    assert fitted.n_events_ == n and fitted.n_outside_ == 0
    assert abs(fitted.theta_ - TRUE_THETA) < 0.05
    assert abs(fitted.omega_ - TRUE_OMEGA) / TRUE_OMEGA < 0.2
    assert abs(fitted.background_.sum() - TRUE_MU.sum()) / TRUE_MU.sum() < 0.1
    assert fitted.decay_days_ == pytest.approx(1.0 / fitted.omega_)
    # the ranking of the cells by background follows the true one closely
    assert np.corrcoef(fitted.background_, TRUE_MU)[0, 1] > 0.9


def test_likelihood_is_higher_than_at_the_start(simulated, fitted):
    grid, events, _ = simulated
    start = GridETAS(window_days=365, max_iter=1, tol=1.0).fit(events, grid, origin=ORIGIN)
    assert fitted.log_likelihood_ > start.log_likelihood_


# ---------------------------------------------------------------------- (b) O(N) = O(N^2)
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("theta", "omega"), [(0.3, 0.5), (0.8, 0.05), (0.05, 3.0)])
def test_em_step_equals_dense_twin(seed, theta, omega):
    rng = np.random.default_rng(seed)
    n, n_cells, span = 300, 5, 60.0
    # whole and half days: many exact ties within a cell
    t = -rng.integers(1, 120, n) / 2.0
    cells = rng.integers(0, n_cells, n)
    cells[:20] = 3  # a busy cell
    mu = rng.uniform(0.05, 1.0, n_cells)
    order = np.lexsort((t, cells))
    ptr = np.searchsorted(cells[order], np.arange(n_cells + 1)).astype(np.int64)
    got = _em_step(np.ascontiguousarray(t[order]), ptr, mu, theta, omega, span)
    want = naive.etas_em_step(t, cells, mu, theta, omega, span)
    assert want[1] < 1.0  # the cap of theta just below 1 is not reached here
    np.testing.assert_allclose(got[0], want[0], rtol=1e-10)
    assert got[1] == pytest.approx(want[1], rel=1e-10)  # theta
    assert got[2] == pytest.approx(want[2], rel=1e-10)  # omega
    assert got[3] == pytest.approx(want[3], rel=1e-10)  # log-likelihood


# ---------------------------------------------------------------------- (c) duplicates
def test_exact_duplicates_do_not_break_the_fit(simulated):
    grid, _, _ = simulated
    t, cells = simulate(TRUE_MU, TRUE_THETA, TRUE_OMEGA, 365.0, seed=11)
    t = np.round(t * 24.0) / 24.0  # hour precision, as police data
    rng = np.random.default_rng(3)
    copies = rng.integers(0, 4, t.size)  # up to 3 extra copies of an event
    t, cells = np.repeat(t, copies + 1), np.repeat(cells, copies + 1)
    events = to_events(t, cells, grid)
    model = GridETAS(window_days=365).fit(events, grid, origin=ORIGIN)
    assert model.n_events_ == t.size
    assert np.isfinite([model.theta_, model.omega_, model.log_likelihood_]).all()
    assert 0.0 <= model.theta_ < 1.0
    assert model.decay_days_ > 0.5  # the zero delays of the copies do not count
    assert np.isfinite(model.background_).all() and (model.background_ > 0).all()


def test_all_events_in_one_cell():
    grid = make_grid()
    t, _ = simulate([0.5], 0.4, 0.3, 200.0, seed=5)
    events = to_events(t, np.full(t.size, 6), grid)
    model = GridETAS(window_days=200).fit(events, grid, origin=ORIGIN)
    assert 0.0 <= model.theta_ < 1.0 and np.isfinite(model.omega_)
    assert np.flatnonzero(model.background_).tolist() == [6]
    assert abs(model.theta_ - 0.4) < 0.15


def test_events_outside_the_grid_are_counted_and_left_out(simulated):
    grid, events, n = simulated
    outside = Events(
        np.full(5, ORIGIN - 10 * DAY), np.full(5, -1_000.0), np.full(5, 50.0), crs=CRS, tz=TZ
    )
    both = Events(
        np.concatenate([events.t, outside.t]),
        np.concatenate([events.x, outside.x]),
        np.concatenate([events.y, outside.y]),
        crs=CRS,
        tz=TZ,
    )
    model = GridETAS(window_days=365, max_iter=3, tol=1.0).fit(both, grid, origin=ORIGIN)
    assert model.n_outside_ == 5 and model.n_events_ == n


# ---------------------------------------------------------------------- (d) no leakage
def test_fitted_parameters_ignore_events_at_or_after_the_origin(simulated, fitted):
    # (the forecasts' causality is the contract test's, tests/test_contract.py)
    grid, events, _ = simulated
    rng = np.random.default_rng(0)
    late_t = ORIGIN + rng.integers(0, 30 * DAY, 200)
    late_t[:10] = ORIGIN  # exactly at the origin
    late_cells = rng.integers(0, grid.n_cells, 200)
    more = Events(
        np.concatenate([events.t, late_t]),
        np.concatenate([events.x, grid.x[late_cells]]),
        np.concatenate([events.y, grid.y[late_cells]]),
        crs=CRS,
        tz=TZ,
    )
    other = GridETAS(window_days=365).fit(more, grid, origin=ORIGIN)
    assert (other.theta_, other.omega_) == (fitted.theta_, fitted.omega_)
    np.testing.assert_array_equal(other.background_, fitted.background_)
    np.testing.assert_array_equal(other.excitation_, fitted.excitation_)


def test_window_drops_old_events(simulated):
    grid, events, n = simulated
    model = GridETAS(window_days=100, max_iter=2, tol=1.0).fit(events, grid, origin=ORIGIN)
    lag = ORIGIN - events.t
    assert model.n_events_ == int(((lag > 0) & (lag <= 100 * DAY)).sum()) < n


# ---------------------------------------------------------------------- (e) determinism
def test_deterministic_and_clonable(simulated, fitted):
    grid, events, _ = simulated
    again = clone(fitted).fit(events, grid, origin=ORIGIN)
    assert (again.theta_, again.omega_, again.n_iter_) == (
        fitted.theta_,
        fitted.omega_,
        fitted.n_iter_,
    )
    np.testing.assert_array_equal(again.background_, fitted.background_)
    assert again.get_params() == fitted.get_params()


# ---------------------------------------------------------------------- (f) predict
def test_predict_equals_integral_of_the_intensity():
    grid = make_grid(2)
    # cell 0: events 3 and 1 days before the origin; cell 3: one event 10 days before;
    # cell 1: a background event long ago
    t_days = np.array([-3.0, -1.0, -10.0, -50.0])
    cells = np.array([0, 0, 3, 1])
    events = to_events(t_days, cells, grid)
    model = GridETAS(window_days=60, max_iter=5, tol=1.0).fit(events, grid, origin=ORIGIN)
    blocks = SCHEDULE.horizon(ORIGIN, "2D")
    risk = model.predict(blocks)
    mu, theta, omega = model.background_, model.theta_, model.omega_

    def rate(s, cell):
        earlier = t_days[(cells == cell) & (t_days < s)]
        return mu[cell] + np.sum(theta * omega * np.exp(-omega * (s - earlier)))

    for k in range(len(blocks)):
        a = (blocks.start[k] - ORIGIN) / DAY
        b = (blocks.end[k] - ORIGIN) / DAY
        for cell in range(grid.n_cells):
            want, _ = scipy.integrate.quad(rate, a, b, args=(cell,), epsabs=1e-14)
            assert risk[k, cell] == pytest.approx(want, rel=1e-9, abs=1e-14)
    assert risk.shape == (len(blocks), grid.n_cells)
    assert (risk[:, 2] == 0).all()  # no events, no background


# ---------------------------------------------------------------------- (g) errors
def test_no_events_raises():
    grid = make_grid()
    empty = Events(np.array([ORIGIN + DAY]), [60.0], [60.0], crs=CRS, tz=TZ)
    with pytest.raises(TooLittleDataError, match="no events to fit"):
        GridETAS().fit(empty, grid, origin=ORIGIN)
    outside = Events(np.array([ORIGIN - DAY]), [-60.0], [60.0], crs=CRS, tz=TZ)
    with pytest.raises(TooLittleDataError, match=r"\(1 lie outside it\)"):
        GridETAS().fit(outside, grid, origin=ORIGIN)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"init_theta": 1.0}, r"init_theta must be a number in \(0, 1\), got 1.0"),
        ({"init_theta": 0.0}, "init_theta"),
        ({"window_days": -1}, "window_days must be a positive"),
        ({"max_iter": 0}, "max_iter must be a positive integer"),
        ({"tol": float("nan")}, "tol must be a positive"),
        ({"init_omega_days": 0}, "init_omega_days must be a positive"),
    ],
)
def test_bad_parameters(simulated, params, message):
    grid, events, _ = simulated
    with pytest.raises(ValueError, match=message):
        GridETAS(**params).fit(events, grid, origin=ORIGIN)


def test_not_converged_warns(simulated):
    grid, events, _ = simulated
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = GridETAS(max_iter=2, tol=1e-12).fit(events, grid, origin=ORIGIN)
    assert not model.converged_ and model.n_iter_ == 2
    assert any("did not converge" in str(w.message) for w in caught)
