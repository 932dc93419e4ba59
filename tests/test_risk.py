"""Tests of the gradient-boosted RiskModel, the Forecast and caslite.predict.

Expected values come from independent computations, never from pasted output: forecasts are
compared with scoring every (block, cell) row of the feature builder's design matrix through
the fitted scikit-learn estimator; training targets are counted event by event with plain
numpy; hot cells are chosen with ``top_cells`` block by block; accuracy is measured against
the synthetic city's true expected counts. Leakage tests change events at and after the
origin and assert that nothing changes.

Fits are the slow part (scikit-learn's weighted binning dominates), so the models are small
(7-day horizons, 28-day training steps, 20 trees) and built once per module.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import shapely
from scipy.stats import spearmanr
from shapely.geometry import box
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.exceptions import NotFittedError
from threadpoolctl import threadpool_limits

import caslite
from caslite import (
    CasliteWarning,
    DataQualityWarning,
    Events,
    FeatureBuilder,
    Forecast,
    Grid,
    NaiveCounts,
    RiskModel,
    ShiftSchedule,
    TooLittleDataError,
)
from caslite.datasets import simulate_city
from caslite.evaluation import count_events, top_cells
from caslite.models import risk as risk_module
from caslite.models.risk import (
    _Activity,
    _block_term,
    _compact_priors,
    _horizon_counts,
    _importance_scale,
    _kept,
    _kept_below,
    _LevelCounter,
    _shift_reference,
    _sum_by_shift,
    _tree_progress,
)

DAY = 86_400
CELL = 250.0
ORIGIN = "2023-10-25"  # its 7-day horizon crosses the 29 October clock change (a 5-hour block)
FAST = {"horizon": "7D", "train_step": "28D", "max_iter": 20, "random_state": 0}
COUNT_PREFIXES = ("n_cell_", "n_ring")
# Without kernel scores there are fewer continuous columns to bin: a quicker fit. The
# default features are used by the base and truth-recovery models.
LIGHT = {"features": FeatureBuilder(kernels=None)}


# ---------------------------------------------------------------------- helpers
def fit_recording(model, events, grid, origin):
    """Fit ``model`` and record what each of its scikit-learn estimators was trained on."""
    calls = []
    original = risk_module.fit_weighted  # every ensemble of the fit is fitted through it

    def fit_weighted(estimator, X, y, sample_weight):
        calls.append(
            {
                "X": np.asarray(X, dtype=np.float64).copy(),
                "columns": list(X.columns),
                "y": np.asarray(y, dtype=np.float64).copy(),
                "w": None if sample_weight is None else np.asarray(sample_weight).copy(),
            }
        )
        return original(estimator, X, y, sample_weight)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(risk_module, "fit_weighted", fit_weighted)
        model.fit(events, grid, origin=origin)
    assert len(calls) == model.n_bags
    return model, calls


def utc_seconds(local: str, tz: str) -> int:
    return int(pd.Timestamp(local, tz=tz).timestamp())


def brute_force(model, blocks, *, shrink=True) -> np.ndarray:
    """Risk of every (block, cell): every design-matrix row through each ensemble, averaged.

    Then each cell's split over the shifts, as in the model's own horizon, pulled toward the
    area's by ``shift_shrinkage`` (a number in these fixtures).
    """
    X, names, b, c = model.features_.design_matrix(
        model.events_, model.grid_, blocks, model.origin_
    )
    assert names == model.feature_names_
    frame = pd.DataFrame(X, columns=names)
    if model.loss == "log_loss":
        ps = [e.predict_proba(frame)[:, 1] for e in model.estimators_]
        risk = np.mean([-np.log1p(-p) for p in ps], axis=0)
    else:
        risk = np.mean([e.predict(frame) for e in model.estimators_], axis=0)
    if model.block_model_ is not None:  # two-stage fit: times the area's profile per block
        level = _LevelCounter(model.events_, model.grid_).at(model.origin_)
        block_frame = frame[model.features_.block_feature_names_]
        risk = risk * np.exp(_block_term(model.block_model_, block_frame, level))
    out = np.full((len(blocks), model.grid_.n_cells), np.nan)
    out[b, c] = risk
    assert not np.isnan(out).any()
    strength = model.shift_shrinkage
    if shrink and strength:  # each cell's shift totals mixed with the area's split of its total
        reference = model.schedule_.horizon(model.origin_, model.horizon)
        own = brute_force(model, reference, shrink=False)
        n_shifts = model.schedule_.n_shifts
        per_shift = np.stack([own[reference.shift == s].sum(axis=0) for s in range(n_shifts)])
        area = per_shift.sum(axis=1) / per_shift.sum()
        wanted = (1 - strength) * per_shift + strength * np.outer(area, per_shift.sum(axis=0))
        out = out * (wanted / per_shift)[blocks.shift]
    return out


def cell_ids(grid) -> dict:
    return {
        (int(r), int(c)): i
        for i, (r, c) in enumerate(zip(grid.cell_row, grid.cell_col, strict=True))
    }


def hand_counts(t, x, y, grid, blocks) -> np.ndarray:
    """Events per (block, cell) by a plain loop: block by its edges, cell by floor division."""
    ids = cell_ids(grid)
    edges = blocks.edges
    out = np.zeros((len(blocks), grid.n_cells))
    for ti, xi, yi in zip(t, x, y, strict=True):
        if not edges[0] <= ti < edges[-1]:
            continue
        b = int(np.searchsorted(edges, ti, side="right")) - 1
        key = (int(np.floor((yi - grid.y0) / CELL)), int(np.floor((xi - grid.x0) / CELL)))
        if key in ids:
            out[b, ids[key]] += 1
    return out


def sorted_rows(a: np.ndarray) -> np.ndarray:
    return a[np.lexsort(a.T[::-1])]


def cell_squares(grid, ids) -> list:
    h = grid.cell_size / 2
    return [box(grid.x[i] - h, grid.y[i] - h, grid.x[i] + h, grid.y[i] + h) for i in ids]


# ---------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module", autouse=True)
def one_openmp_thread():
    # The models are tiny: OpenMP threads buy nothing, and on a busy 2-core machine their
    # spin-waiting made scikit-learn's fits several times slower.
    with threadpool_limits(limits=1, user_api="openmp"):
        yield


@pytest.fixture(scope="module")
def city():
    return simulate_city(
        start="2023-01-01", end="2024-01-01", size=2000.0, background_rate=6.0, random_state=1
    )


@pytest.fixture(scope="module")
def events(city):
    return Events.from_frame(city.events, crs=city.crs, tz=city.tz)


@pytest.fixture(scope="module")
def grid(city):
    # Five columns of cells east of the city: the farthest ones have no history at all, so the
    # additive forecast's shared row for quiet cells is exercised.
    xmin, ymin, xmax, ymax = city.bounds
    return Grid.from_area(box(xmin, ymin, xmax + 5 * CELL, ymax), cell_size=CELL, crs=city.crs)


@pytest.fixture(scope="module")
def base(events, grid):
    """Additive Poisson model trained on every row; returns (model, what each bag saw)."""
    return fit_recording(RiskModel(negative_rate=1.0, n_bags=2, **FAST), events, grid, ORIGIN)


@pytest.fixture(scope="module")
def full(events, grid):
    return RiskModel(interactions="full", negative_rate=0.3, **LIGHT, **FAST).fit(
        events, grid, origin=ORIGIN
    )


@pytest.fixture(scope="module")
def logloss(events, grid):
    return RiskModel(loss="log_loss", negative_rate=0.3, **LIGHT, **FAST).fit(
        events, grid, origin=ORIGIN
    )


@pytest.fixture(scope="module")
def single(events, grid):
    """One ensemble (no bagging)."""
    model = RiskModel(n_bags=1, negative_rate=0.3, **LIGHT, **FAST).fit(events, grid, origin=ORIGIN)
    assert len(model.estimators_) == 1 and model.estimator_ is model.estimators_[0]
    return model


SUB = {
    "horizon": "14D",
    "train_step": "28D",
    "max_iter": 20,
    "max_negatives": 500,
    "negative_sampling": "uniform",
    "n_bags": 2,
    **LIGHT,
}
SUB_ORIGIN = "2023-11-05"  # the latest training horizon crosses the 29 October clock change


@pytest.fixture(scope="module")
def subsampled(events, grid):
    """Uniform negative subsampling with negative_rate="auto"; (model, what each bag saw)."""
    return fit_recording(RiskModel(random_state=0, **SUB), events, grid, SUB_ORIGIN)


# ---------------------------------------------------------------------- 1. no leakage
def test_fit_and_predict_ignore_everything_at_or_after_the_origin(city, events, grid, base):
    model, _ = base
    o = model.origin_
    late = city.t_utc >= o
    assert late.any() and (~late).any()
    frame = city.events[["t", "x", "y"]].copy()
    frame["t_end"] = pd.Series(pd.NaT, index=frame.index, dtype=frame["t"].dtype)
    # Move every late event to the south-west corner, three hours later.
    frame.loc[late, "x"] = city.x0 + 10.0
    frame.loc[late, "y"] = city.y0 + 10.0
    frame.loc[late, "t"] = frame.loc[late, "t"] + pd.Timedelta("3h")
    at_origin = pd.Timestamp(o, unit="s", tz="UTC").tz_convert(city.tz)
    extra = pd.DataFrame(
        {
            # a burst exactly at the origin, and one event whose time window starts a day
            # before the origin but ends after it (not known at the origin)
            "t": [at_origin] * 10 + [at_origin - pd.Timedelta("1D")],
            "t_end": [pd.NaT] * 10 + [at_origin + pd.Timedelta("1h")],
            "x": city.x0 + 500.0 + np.arange(11.0),
            "y": np.full(11, city.y0 + 500.0),
        }
    )
    extra["t_end"] = extra["t_end"].astype(frame["t"].dtype)
    changed = Events.from_frame(
        pd.concat([frame, extra], ignore_index=True), crs=city.crs, tz=city.tz, time_end="t_end"
    )
    assert len(changed.before(o)) == len(events.before(o))

    other = RiskModel(negative_rate=1.0, n_bags=2, **FAST).fit(changed, grid, origin=ORIGIN)
    blocks = model.schedule_.horizon(o, "7D")
    np.testing.assert_array_equal(model.predict(blocks), other.predict(blocks))
    np.testing.assert_array_equal(model.training_["origins"], other.training_["origins"])
    for key in ("n_rows", "n_positive", "events", "first_event", "last_event"):
        assert model.training_[key] == other.training_[key]
    assert model.training_["last_event"] < o


# ---------------------------------------------------------------------- 2. determinism
def test_same_random_state_gives_the_same_model(events, grid, subsampled):
    model, _ = subsampled
    assert model.training_["negative_rate"] < 0.5  # the seed matters: rows are subsampled
    blocks = model.schedule_.horizon(model.origin_, "14D")
    again = RiskModel(random_state=0, **SUB).fit(events, grid, origin=SUB_ORIGIN)
    np.testing.assert_array_equal(model.predict(blocks), again.predict(blocks))
    assert model.training_["n_rows"] == again.training_["n_rows"]
    # (another seed keeps another subsample; it may differ, and is not checked to save a fit)


@pytest.fixture(scope="module")
def area_features(events, grid):
    """Additive model with the features that depend on the whole area (smoothed, shares)."""
    builder = FeatureBuilder(
        windows_weeks=(4, 26),
        relative_windows_weeks=(26,),
        smooth_bandwidths=(150.0,),
        smooth_window_weeks=26,
        shift_prior=5.0,
        kernels=None,
    )
    return RiskModel(features=builder, negative_rate=0.3, **FAST).fit(events, grid, origin=ORIGIN)


@pytest.fixture(scope="module")
def event_layer(events, grid):
    """Additive model with an event layer that also covers cells without incidents."""
    xmin, ymin, xmax, ymax = grid.bounds
    rng = np.random.default_rng(5)
    n = 400
    t = np.sort(rng.integers(int(events.t.min()), int(events.t.max()), n))
    x = rng.uniform(xmax - 6 * CELL, xmax, n)  # the history-free east columns and next to them
    y = rng.uniform(ymin, ymax, n)
    layer = Events(t, x, y, crs=grid.crs, tz=events.tz)
    builder = FeatureBuilder(
        windows_weeks=(4, 26), kernels=None, event_layers={"shops": layer},
        event_windows_weeks=(8, 52),
    )  # fmt: skip
    return RiskModel(features=builder, **FAST).fit(events, grid, origin=ORIGIN)


def test_event_layer_cells_are_not_quiet(event_layer, base):
    model = event_layer
    cell_feats, shift_feats, _ = model._design_parts(model.schedule_.horizon(model.origin_, "1D"))
    quiet = model._quiet_cells(cell_feats, shift_feats)
    names = model.features_.cell_feature_names_
    layered = cell_feats[:, [n.startswith("ev_") for n in names]].any(axis=1)
    assert layered.any() and not quiet[layered].any()
    base_model, _ = base
    plain = base_model._quiet_cells(*base_model._design_parts(model.schedule_.horizon(
        model.origin_, "1D"))[:2])  # fmt: skip
    assert quiet.sum() < plain.sum()  # the layer's cells left the shared row
    assert "ev_shops_cell_52w" in model.feature_names_


def test_cells_without_history_share_a_row_with_area_features(area_features):
    model = area_features
    cell_feats, shift_feats, _ = model._design_parts(model.schedule_.horizon(model.origin_, "1D"))
    quiet = model._quiet_cells(cell_feats, shift_feats)
    assert 0 < quiet.sum() < quiet.size  # the far east columns, not the city
    assert np.all(cell_feats[quiet] == cell_feats[quiet][0])
    assert np.all(shift_feats[:, quiet] == shift_feats[:, quiet][:, :1])


# ---------------------------------------------------------------------- 3. fast path
@pytest.mark.parametrize(
    "name", ["base", "single", "full", "logloss", "area_features", "event_layer"]
)
@pytest.mark.parametrize("horizon", ["7D", "15D"])
def test_predict_equals_scoring_every_row(request, name, horizon):
    model = request.getfixturevalue(name)
    model = model[0] if isinstance(model, tuple) else model
    blocks = model.schedule_.horizon(model.origin_, horizon)
    assert np.any(blocks.end - blocks.start == 5 * 3600)  # the clock change is in the horizon
    expected = brute_force(model, blocks)
    risk = model.predict(blocks)
    assert risk.shape == (len(blocks), model.grid_.n_cells)
    np.testing.assert_allclose(risk, expected, rtol=1e-10, atol=0)
    np.testing.assert_allclose(model.predict_log_rate(blocks), np.log(expected), rtol=0, atol=1e-10)


def test_predict_on_later_and_sparse_blocks(base):
    model, _ = base
    later = model.schedule_.horizon(model.origin_ + 20 * DAY, "3D")
    sparse = caslite.Blocks(model.schedule_, later.ids[::5])
    for blocks in (later, sparse):
        np.testing.assert_allclose(model.predict(blocks), brute_force(model, blocks), rtol=1e-10)
    empty = caslite.Blocks(model.schedule_, np.array([], dtype=np.int64))
    assert model.predict(empty).shape == (0, model.grid_.n_cells)


def test_grid_has_cells_without_any_history(base):
    # Precondition of the tests above: some cells have nothing to count and no kernel score.
    model, _ = base
    blocks = model.schedule_.horizon(model.origin_, "1D")
    X, names, b, _ = model.features_.design_matrix(
        model.events_, model.grid_, blocks, model.origin_
    )
    history = [j for j, n in enumerate(names) if n.startswith(COUNT_PREFIXES + ("nr_",))]
    nothing = np.all(X[b == 0][:, history] == 0, axis=1)
    assert 2 <= nothing.sum() < model.grid_.n_cells


# ---------------------------------------------------------------------- 4. additivity
def test_additive_trees_separate_cell_and_block_features(base):
    model, _ = base
    blocks = model.schedule_.horizon(model.origin_, "7D")
    log_risk = np.log(brute_force(model, blocks))  # the estimator itself, not the fast path
    pairs = 0
    for shift in np.unique(blocks.shift):
        same = np.flatnonzero(blocks.shift == shift)
        for b in same[1:]:
            difference = log_risk[b] - log_risk[same[0]]  # one value for every cell
            np.testing.assert_allclose(difference, difference[0], rtol=0, atol=1e-9)
            pairs += 1
    assert pairs == len(blocks) - 6
    # The model is not trivially constant over cells.
    assert np.ptp(log_risk[0]) > 0.5


# ---------------------------------------------------------------------- 5. truth recovery
@pytest.mark.slow
def test_recovers_the_true_risk_better_than_naive_counts():
    city = simulate_city(
        start="2023-01-01", end="2025-01-01", size=4000.0, background_rate=6.0, random_state=2
    )
    events = Events.from_frame(city.events, crs=city.crs, tz=city.tz)
    grid = Grid.from_area(box(*city.bounds), cell_size=CELL, crs=city.crs)
    origin = "2024-11-15"
    model = RiskModel(
        max_iter=20, train_step="28D", train_span="365D", max_negatives=20_000, random_state=0
    ).fit(events, grid, origin=origin)
    forecast = model.forecast()
    blocks = forecast.blocks
    assert len(blocks) == 84
    truth = city.expected_counts(
        grid.x - CELL / 2, grid.y - CELL / 2, CELL, blocks.start, blocks.end
    ).sum(axis=0)
    naive = NaiveCounts(window_weeks=52).fit(events, grid, origin=origin).predict(blocks)
    rho_model = spearmanr(forecast.total(), truth).statistic
    rho_naive = spearmanr(naive.sum(axis=0), truth).statistic
    # Measured: 0.965 vs 0.918 (city seeds 1-6: margins 0.014 to 0.059).
    assert rho_model > rho_naive
    assert rho_model > 0.85


# ---------------------------------------------------------------------- 6. training rows
def test_training_origins_see_only_the_past(events, base, subsampled):
    for model, origin, horizon in ((base[0], ORIGIN, "7D"), (subsampled[0], SUB_ORIGIN, "14D")):
        o = utc_seconds(origin, events.tz)
        assert model.origin_ == o
        origins = model.training_["origins"]
        assert origins.size >= 3
        np.testing.assert_array_equal(np.diff(origins), -28 * DAY)  # latest first, 28 days apart
        for ok in origins:
            blocks = model.schedule_.horizon(int(ok), horizon)
            assert blocks.end.max() <= o
            assert blocks.start.min() >= ok
        # the latest origin is as late as a whole horizon allows (a block less over DST) ...
        assert o - origins[0] <= pd.Timedelta(horizon).total_seconds() + 4 * 3600
        # ... and the earliest one keeps the 182-day warm-up after the first event
        first = int(events.t.min())
        assert origins[-1] >= first + 182 * DAY > origins[-1] - 28 * DAY
        assert model.training_["first_event"] == first
        assert model.training_["events"] == int((events.t < o).sum())


def hand_shift_counts(events, model, ok):
    """Events per (shift, cell) in the training horizon of ``ok``, counted event by event."""
    known = events.t < model.origin_
    blocks = model.schedule_.horizon(int(ok), model.horizon)
    target = hand_counts(events.t[known], events.x[known], events.y[known], model.grid_, blocks)
    by_shift = np.zeros((model.schedule_.n_shifts, model.grid_.n_cells))
    for b in range(len(blocks)):
        by_shift[blocks.shift[b]] += target[b]
    return blocks, target, by_shift


def shift_exposure(model, events, ok, blocks):
    """Expected events of the area per shift of a training horizon, under the block profile."""
    level = _LevelCounter(events.before(model.origin_), model.grid_).at(int(ok))
    frame = model.features_.block_features(blocks, int(ok), model.grid_)
    expected = np.exp(_block_term(model.block_model_, frame, level))
    return np.array([expected[blocks.shift == s].sum() for s in range(model.schedule_.n_shifts)])


def test_training_rows_are_every_cell_and_shift_of_every_training_horizon(events, grid, base):
    # The two-stage fit: one row per (training origin, shift, cell); target the events of that
    # shift over the horizon over the area's expected events in it (the exposure e), weight e.
    model, seen = base
    assert model.training_["rows"] == "origin, shift, cell"
    n_shifts = model.schedule_.n_shifts
    reference = _shift_reference(model.features_, n_shifts)
    expected_X, expected_counts, expected_w, n_positive = [], [], [], 0
    for ok in model.training_["origins"]:
        blocks, target, by_shift = hand_shift_counts(events, model, ok)
        np.testing.assert_array_equal(
            target, count_events(events.before(model.origin_), grid, blocks)
        )
        n_positive += int(np.count_nonzero(by_shift))
        cell_feats = model.features_.cell_features(model.events_, grid, int(ok))
        shift_feats, _ = model.features_.shift_features(
            model.events_, grid, model.schedule_, int(ok)
        )
        s, c = np.divmod(np.arange(n_shifts * grid.n_cells), grid.n_cells)
        expected_X.append(model.features_.rows(cell_feats, shift_feats, reference, s, c))
        expected_counts.append(by_shift[s, c])
        expected_w.append(shift_exposure(model, events, ok, blocks)[s])
    assert model.training_["n_positive"] == n_positive > 100
    assert model.training_["negative_rate"] == 1.0
    n_rows = grid.n_cells * n_shifts * model.training_["origins"].size
    assert model.training_["n_rows"] == n_rows
    expected = np.column_stack(
        [np.concatenate(expected_X), np.concatenate(expected_counts), np.concatenate(expected_w)]
    )
    assert len(seen) == model.n_bags == 2  # two bags, each of every row here
    for bag in seen:
        assert bag["y"].size == n_rows and bag["columns"] == model.feature_names_
        actual = np.column_stack([bag["X"], bag["y"] * bag["w"], bag["w"]])
        np.testing.assert_allclose(sorted_rows(actual), sorted_rows(expected), rtol=1e-12)


def test_block_profile_matches_the_areas_totals(events, grid, base):
    # A Poisson GLM with an intercept and shift indicators reproduces the observed total and
    # the total of every shift over its training blocks (its score equations), up to the
    # tiny ridge penalty.
    model, _ = base
    observed, fitted = np.zeros(model.schedule_.n_shifts), np.zeros(model.schedule_.n_shifts)
    for ok in model.training_["origins"]:
        blocks, _, by_shift = hand_shift_counts(events, model, ok)
        observed += by_shift.sum(axis=1)
        fitted += shift_exposure(model, events, ok, blocks)
    np.testing.assert_allclose(fitted, observed, rtol=0.02)
    assert observed.min() > 10


def test_negative_subsampling_keeps_every_event_and_reweights_the_rest(events, grid, subsampled):
    model, seen = subsampled
    n_total, n_positive, exposure = 0, 0, []
    for ok in model.training_["origins"]:
        blocks, _, by_shift = hand_shift_counts(events, model, ok)
        n_total += by_shift.size
        n_positive += int(np.count_nonzero(by_shift))
        exposure.append(shift_exposure(model, events, ok, blocks))
    n_negative = n_total - n_positive
    # negative_rate="auto" keeps about max_negatives event-free rows, split over the bags
    rate = 500 / model.n_bags / n_negative
    assert model.training_["negative_rate"] == pytest.approx(rate, rel=1e-12)
    assert model.training_["n_positive"] == n_positive
    lowest, highest = min(e.min() for e in exposure), max(e.max() for e in exposure)
    negatives = []
    for bag, n_rows in zip(seen, model.training_["bag_rows"], strict=True):
        y, w = bag["y"], bag["w"]
        assert y.size == n_rows
        assert np.count_nonzero(y) == n_positive  # every row with an event is kept ...
        # ... with weight e (its exposure); an event-free row weighs e / rate
        assert np.all((w[y > 0] >= lowest * (1 - 1e-12)) & (w[y > 0] <= highest * (1 + 1e-12)))
        assert np.all(w[y == 0] * rate >= lowest * (1 - 1e-12))
        assert np.all(w[y == 0] * rate <= highest * (1 + 1e-12))
        kept = int(np.sum(y == 0))  # Binomial(n_negative, rate)
        sd = np.sqrt(n_negative * rate * (1 - rate))
        assert abs(kept - n_negative * rate) < 5 * sd
        negatives.append({tuple(row) for row in np.column_stack([bag["X"], w])[y == 0]})
    # each bag draws its own event-free rows; the rows drawn by both are stored once
    first, second = negatives
    assert first != second
    n_kept = len(first) + len(second) - len(first & second)
    assert model.training_["n_rows"] == n_positive + n_kept


def hand_activity(events, grid, ok) -> np.ndarray:
    """Events of the last 104 weeks before ``ok`` per cell, plus an eighth of those of its
    eight neighbours, plus 0.5: by a plain loop over events and neighbour offsets."""
    ids = cell_ids(grid)
    known = (events.t_end < ok) & (events.t_end >= ok - 104 * 7 * DAY)
    own = np.zeros(grid.n_cells)
    ring = np.zeros(grid.n_cells)
    for xi, yi in zip(events.x[known], events.y[known], strict=True):
        r, c = int(np.floor((yi - grid.y0) / CELL)), int(np.floor((xi - grid.x0) / CELL))
        if (r, c) in ids:
            own[ids[(r, c)]] += 1
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                if (dr or dc) and (r + dr, c + dc) in ids:
                    ring[ids[(r + dr, c + dc)]] += 1
    return own + ring / 8 + 0.5


def test_activity_counts_the_cell_and_an_eighth_of_its_neighbours(events, grid):
    ok = utc_seconds("2023-09-01", events.tz)
    expected = hand_activity(events, grid, ok)
    np.testing.assert_allclose(_Activity(events, grid).at(ok), expected, rtol=1e-7)


IMPORTANCE = {**SUB, "negative_sampling": "importance", "n_bags": 1, "max_negatives": 800}


@pytest.fixture(scope="module")
def importance(events, grid):
    """Importance-weighted negatives; returns (model, what its one ensemble saw)."""
    return fit_recording(RiskModel(random_state=0, **IMPORTANCE), events, grid, SUB_ORIGIN)


def test_importance_negatives_weigh_their_inverse_probability(events, grid, importance):
    # Each event-free row (origin k, shift s, cell c) is kept with probability
    # p = min(1, scale * e_ks * a_kc) (e: the area's expected events in the shift, a: the
    # cell's activity) and then weighs e / p; the scale makes the expected number kept equal
    # max_negatives. Everything is recomputed here by hand, the scale by a root finder.
    from scipy.optimize import brentq

    model, seen = importance
    (bag,) = seen
    e_rows, a_rows, negative = [], [], []
    for ok in model.training_["origins"]:
        blocks, _, by_shift = hand_shift_counts(events, model, ok)
        e = shift_exposure(model, events, ok, blocks)
        a = hand_activity(events.before(model.origin_), grid, int(ok))
        e_rows.append(np.repeat(e, grid.n_cells))
        a_rows.append(np.tile(a, e.size))
        negative.append(by_shift.ravel() == 0)
    e_all, a_all = np.concatenate(e_rows), np.concatenate(a_rows)
    negative = np.concatenate(negative)
    prior = (e_all * a_all)[negative]

    def kept(log_scale):
        return np.minimum(1.0, np.exp(log_scale) * prior).sum() - 800

    scale = np.exp(brentq(kept, -60.0, 60.0, xtol=1e-12))
    p = np.minimum(1.0, scale * prior)
    assert p.min() > 0.0 and np.mean(p < 1.0) > 0.5  # every row has a chance; most not sure
    assert model.training_["negative_sampling"] == "importance"
    assert model.training_["negative_rate"] == pytest.approx(800 / negative.sum(), rel=1e-4)
    y, w = bag["y"], bag["w"]
    assert np.count_nonzero(y) == model.training_["n_positive"] == np.count_nonzero(~negative)
    n_kept = int(np.sum(y == 0))
    assert abs(n_kept - 800) < 5 * np.sqrt(np.sum(p * (1 - p)))
    # every kept weight is one of the hand-made e / p, and busy cells are drawn more often
    candidates = np.unique(e_all[negative] / p)
    position = np.clip(np.searchsorted(candidates, w[y == 0]), 1, candidates.size - 1)
    nearest = np.minimum(
        np.abs(candidates[position] - w[y == 0]), np.abs(candidates[position - 1] - w[y == 0])
    )
    assert np.all(nearest <= 1e-6 * w[y == 0])
    # Horvitz-Thompson: the kept weights sum to the exposure of every event-free row, on
    # average, so the weighted Poisson loss is that of all rows (unbiased rates)
    total, spread = e_all[negative].sum(), np.sqrt(np.sum(e_all[negative] ** 2 * (1 - p) / p))
    assert abs(w[y == 0].sum() - total) < 4 * spread
    assert spread < 0.2 * total


def test_importance_negatives_keep_the_forecast_total(events, grid, importance):
    # the subsampled fit forecasts about the events of the fit on every row
    model, _ = importance
    every = RiskModel(negative_rate=1.0, **{**SUB, "n_bags": 1}).fit(
        events, grid, origin=SUB_ORIGIN
    )
    blocks = model.schedule_.horizon(model.origin_, "14D")
    ratio = model.predict(blocks).sum() / every.predict(blocks).sum()
    assert 0.9 < ratio < 1.1


def test_importance_fit_is_deterministic(events, grid, importance):
    model, _ = importance
    again = RiskModel(random_state=0, **IMPORTANCE).fit(events, grid, origin=SUB_ORIGIN)
    blocks = model.schedule_.horizon(model.origin_, "14D")
    np.testing.assert_array_equal(model.predict(blocks), again.predict(blocks))


def test_tree_fitting_shows_progress(events, grid, capsys):
    model = RiskModel(progress=True, **{**SUB, "max_iter": 7, "early_stopping": False})
    model.fit(events, grid, origin=SUB_ORIGIN)
    err = capsys.readouterr().err
    assert "fitting trees" in err
    assert "14/14" in err  # both bags, every iteration
    assert "[1/7]" not in err + capsys.readouterr().out  # scikit-learn's own lines hidden


@pytest.mark.parametrize("irregular", [False, True])
def test_sum_by_shift_equals_the_rows_of_each_shift_added_in_order(irregular):
    rng = np.random.default_rng(4)
    shift = np.tile(np.arange(6), 5)
    if irregular:  # a horizon from 08:00: the days start at shift 2
        shift = np.roll(shift, -2)
    counts = rng.random((shift.size, 37)) * rng.integers(0, 3, (shift.size, 37))
    expected = np.zeros((6, 37))
    for b, s in enumerate(shift):  # plain loop: each block added to its shift, in order
        expected[s] += counts[b]
    np.testing.assert_array_equal(_sum_by_shift(counts, shift, 6), expected)


@pytest.mark.parametrize("run_values", [1 << 22, 3 * 84 * 16])
@pytest.mark.parametrize("rates", [None, [0.05, 0.05, 0.1, 0.2, 0.3, 0.3]])
def test_horizon_counts_equal_counting_each_horizon(run_values, rates, monkeypatch):
    # Overlapping weekly 14-day horizons across both clock changes, then a gap, then one
    # horizon alone; windows of up to three days spread over the blocks (by shift rates or
    # plainly): every horizon's counts equal count_events of that horizon alone, bit for bit,
    # whether the runs hold them all or a few (run_values: at most 3 horizons of 16 cells).
    monkeypatch.setattr(risk_module, "_RUN_VALUES", run_values)
    tz = "America/Toronto"
    grid = Grid.from_area(box(0, 0, 500, 500), cell_size=125.0, crs="EPSG:32617")
    rng = np.random.default_rng(11)
    start = utc_seconds("2019-01-01", tz)
    t = rng.integers(start, start + 330 * DAY, size=600)
    t_end = np.where(rng.random(t.size) < 0.4, t + rng.integers(1, 3 * DAY, t.size), t)
    x, y = rng.uniform(-50, 550, t.size), rng.uniform(-50, 550, t.size)  # some off the grid
    events = Events(t, x, y, t_end=t_end, crs="EPSG:32617", tz=tz)
    schedule = ShiftSchedule.every(4, tz=tz)
    origins = [utc_seconds("2019-02-20", tz) + 7 * k * DAY for k in range(40)]
    origins += [utc_seconds("2019-12-01", tz)]
    horizons = [schedule.horizon(o, "14D") for o in origins[::-1]]  # latest first, as the fit
    got = list(_horizon_counts(events, grid, horizons, None if rates is None else np.array(rates)))
    assert len(got) == len(horizons)
    for counts, h in zip(got, horizons, strict=True):
        alone = count_events(events, grid, h, shift_rates=rates)
        np.testing.assert_array_equal(counts, alone)
    assert sum(c.sum() for c in got) > 100  # the horizons hold events and windows


def bisection_with_blas(compact, budget):
    """The importance scale's bisection, every step deciding with _kept (BLAS sums)."""
    lo = budget / (float(np.dot(compact[1], compact[0])) - float(compact[2].sum()))
    hi = lo
    while _kept(*compact, hi) < budget and hi < lo * 2.0**60:
        hi *= 2.0
    while hi > lo * (1.0 + 1e-6):
        mid = np.sqrt(lo * hi)
        lo, hi = (mid, hi) if _kept(*compact, mid) < budget else (lo, mid)
    return hi


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_importance_scale_takes_the_steps_of_blas_sums(seed):
    # priors of 30 origins x 6 shifts over 3,000 cells (long sums: BLAS splits them over
    # threads), budgets from a tenth to nearly all of the rows
    rng = np.random.default_rng(seed)
    priors, targets = [], []
    for _ in range(30):
        activity = (rng.poisson(0.3, 3000) + rng.poisson(0.2, 3000) / 8 + 0.5).astype(np.float32)
        priors.append((rng.gamma(2.0, 0.05, 6), activity))
        index = np.sort(rng.choice(6 * 3000, size=40, replace=False))
        targets.append((index, np.ones(index.size)))
    compact = _compact_priors(priors, targets)
    n_negative = 30 * 6 * 3000 - 30 * 40
    for share in (0.1, 0.5, 0.99):
        budget = share * n_negative
        assert _importance_scale(compact, budget) == bisection_with_blas(compact, budget)
    # a budget equal to the BLAS sum itself, or one ulp above: the cheap sum cannot tell,
    # and the BLAS sum decides
    buffer = np.empty_like(compact[0])
    for scale in (1e-3, 0.02, 0.7):
        exact = _kept(*compact, scale)
        assert not _kept_below(*compact, scale, exact, buffer)
        assert _kept_below(*compact, scale, np.nextafter(exact, np.inf), buffer)
        assert _kept_below(*compact, scale, exact * 1.001, buffer)
        assert not _kept_below(*compact, scale, exact * 0.999, buffer)


class _CountingBar:
    """A stand-in for a tqdm bar that records each update."""

    disable = False

    def __init__(self, total):
        self.n, self.total, self.steps = 0, total, []

    def update(self, k):
        self.steps.append(k)
        self.n += k


def test_tree_progress_moves_once_per_iteration(capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = rng.poisson(np.exp(X[:, 0]))
    estimator = HistGradientBoostingRegressor(loss="poisson", max_iter=6, early_stopping=False)
    bar = _CountingBar(total=6)
    with _tree_progress(estimator, bar):
        estimator.fit(X, y)
    assert bar.steps[:6] == [1] * 6 and bar.n == 6  # one step per tree, while it fits
    assert estimator.verbose == 0 and capsys.readouterr().out == ""


# ---------------------------------------------------------------------- 7. Forecast
@pytest.fixture(scope="module")
def forecast(base):
    return base[0].forecast()


def test_forecast_holds_the_models_risk(base, forecast):
    model, _ = base
    blocks = model.schedule_.horizon(model.origin_, "7D")
    assert len(forecast.blocks) == len(blocks) == 42
    np.testing.assert_array_equal(forecast.blocks.ids, blocks.ids)
    np.testing.assert_array_equal(forecast.risk, model.predict(blocks))
    assert forecast.origin == model.origin_ and forecast.grid is model.grid_
    np.testing.assert_allclose(forecast.probability, 1.0 - np.exp(-forecast.risk), rtol=1e-12)
    np.testing.assert_allclose(forecast.total(), forecast.risk.sum(axis=0))
    assert "42 blocks x 104 cells" in repr(forecast)
    shorter = model.forecast(horizon="2D")
    assert shorter.risk.shape == (12, model.grid_.n_cells)
    np.testing.assert_allclose(shorter.risk, forecast.risk[:12], rtol=1e-12)


def test_to_frame(forecast, grid):
    frame = forecast.to_frame()
    assert list(frame.columns) == [
        "cell_id", "x", "y", "block_id", "shift", "label", "block_start", "block_end",
        "risk", "probability",
    ]  # fmt: skip
    n_blocks, n_cells = forecast.risk.shape
    assert len(frame) == n_blocks * n_cells
    np.testing.assert_array_equal(frame["cell_id"], np.tile(np.arange(n_cells), n_blocks))
    np.testing.assert_array_equal(frame["x"], np.tile(grid.x, n_blocks))
    np.testing.assert_array_equal(frame["block_id"], np.repeat(forecast.blocks.ids, n_cells))
    np.testing.assert_array_equal(frame["risk"], forecast.risk.ravel())
    np.testing.assert_allclose(frame["probability"], 1 - np.exp(-frame["risk"]), rtol=1e-12)
    starts = pd.to_datetime(np.repeat(forecast.blocks.start, n_cells), unit="s", utc=True)
    assert str(frame["block_start"].dt.tz) == grid_tz(forecast)
    np.testing.assert_array_equal(
        frame["block_start"].dt.tz_convert("UTC").to_numpy(), starts.to_numpy()
    )
    hours = (frame["block_end"] - frame["block_start"]).dt.total_seconds() / 3600
    assert set(hours) == {4.0, 5.0}  # the 25-hour day has one 5-hour block
    first = frame["block_start"].iloc[0]
    assert (first.hour, first.minute) == (0, 0)


def grid_tz(forecast) -> str:
    return forecast.blocks.schedule.tz


def test_to_geodataframe_has_the_cell_squares(forecast, grid):
    gdf = forecast.to_geodataframe()
    assert gdf.crs.equals(grid.crs)
    assert len(gdf) == forecast.risk.size
    one_block = gdf.iloc[: grid.n_cells]
    expected = cell_squares(grid, one_block["cell_id"].to_numpy())
    assert all(shapely.equals(a, b) for a, b in zip(one_block.geometry, expected, strict=True))


@pytest.mark.parametrize("coverage", [0.05, 0.1, 0.5])
def test_top_per_block_picks_top_cells_of_each_block(forecast, grid, coverage):
    hot = forecast.top(coverage=coverage)
    for column in ("shift_start", "shift_end", "label", "cell_id", "x", "y", "risk", "rank"):
        assert column in hot.columns
    frame = forecast.blocks.to_frame()
    groups = dict(list(hot.groupby("shift_start", sort=True)))
    assert len(groups) == len(forecast.blocks)
    for b in range(len(forecast.blocks)):
        rows = groups[frame["block_start"].iloc[b]]
        expected = top_cells(forecast.risk[b], coverage, area=grid.area_fraction)
        assert expected.size == int(coverage * grid.n_cells)  # whole cells of equal area
        np.testing.assert_array_equal(rows["cell_id"], expected)
        np.testing.assert_array_equal(rows["rank"], np.arange(1, expected.size + 1))
        np.testing.assert_array_equal(rows["risk"], forecast.risk[b, expected])
        assert (rows["shift_end"] == frame["block_end"].iloc[b]).all()
        assert (rows["label"] == frame["label"].iloc[b]).all()
    np.testing.assert_allclose(hot["probability"], 1 - np.exp(-hot["risk"]), rtol=1e-12)
    expected_squares = cell_squares(grid, hot["cell_id"].to_numpy())
    assert all(shapely.equals(a, b) for a, b in zip(hot.geometry, expected_squares, strict=True))
    assert hot.crs.equals(grid.crs)


def test_top_with_full_coverage_ranks_every_cell(forecast, grid):
    hot = forecast.top(coverage=1.0)
    assert len(hot) == forecast.risk.size
    for _, rows in hot.groupby("shift_start"):
        assert sorted(rows["cell_id"]) == list(range(grid.n_cells))
        assert np.all(np.diff(rows["risk"].to_numpy()) <= 0)
        assert rows["rank"].tolist() == list(range(1, grid.n_cells + 1))
    # quiet cells tie: the lower cell id ranks first
    first = hot[hot["shift_start"] == hot["shift_start"].iloc[0]]
    for _, ties in first.groupby("risk"):
        assert np.all(np.diff(ties["cell_id"].to_numpy()) > 0)
        assert np.all(np.diff(ties["rank"].to_numpy()) == 1)


def test_top_k_and_per_horizon(forecast, grid):
    hot = forecast.top(k=3)
    assert len(hot) == 3 * len(forecast.blocks)
    for b, (_, rows) in enumerate(hot.groupby("shift_start", sort=True)):
        np.testing.assert_array_equal(rows["cell_id"], top_cells(forecast.risk[b], k=3))
    assert len(forecast.top(k=10_000)) == forecast.risk.size  # k larger than the grid: all

    total = forecast.risk.sum(axis=0)
    horizon = forecast.top(coverage=0.1, per="horizon")
    expected = top_cells(total, 0.1, area=grid.area_fraction)
    np.testing.assert_array_equal(horizon["cell_id"], expected)
    np.testing.assert_allclose(horizon["risk"], total[expected], rtol=1e-12)
    np.testing.assert_array_equal(horizon["rank"], np.arange(1, expected.size + 1))
    assert (horizon["label"] == "horizon").all()
    frame = forecast.blocks.to_frame()
    assert (horizon["shift_start"] == frame["block_start"].iloc[0]).all()
    assert (horizon["shift_end"] == frame["block_end"].iloc[-1]).all()


def test_top_refuses_bad_arguments(forecast):
    with pytest.raises(ValueError, match="exactly one of"):
        forecast.top()
    with pytest.raises(ValueError, match="exactly one of"):
        forecast.top(0.1, k=3)
    with pytest.raises(ValueError, match="k must be a positive"):
        forecast.top(k=0)
    with pytest.raises(ValueError, match="per must be"):
        forecast.top(0.1, per="day")
    with pytest.raises(ValueError, match="coverage"):
        forecast.top(coverage=1.5)


def test_forecast_refuses_bad_risk(forecast):
    blocks, grid = forecast.blocks, forecast.grid
    with pytest.raises(ValueError, match="shape"):
        Forecast(forecast.risk[:, :-1], blocks, grid, origin=forecast.origin)
    bad = forecast.risk.copy()
    bad[0, 0] = -1.0
    with pytest.raises(ValueError, match="non-negative"):
        Forecast(bad, blocks, grid, origin=forecast.origin)
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        Forecast(bad, blocks, grid, origin=forecast.origin)
    plain = Forecast(forecast.risk, blocks, grid, origin=forecast.origin)
    with pytest.raises(TypeError, match="no model"):
        plain.explain(0)


def test_explain(base, forecast):
    model, _ = base
    names = model.feature_names_
    blocks = forecast.blocks
    X, _, b, c = model.features_.design_matrix(model.events_, model.grid_, blocks, model.origin_)
    first = X[b == 0]  # block 0, cells in order
    busiest = int(np.argmax(first[:, names.index("n_cell_52w")]))
    quiet = model.grid_.n_cells - 1  # north-east corner, far from every event
    table = forecast.explain([busiest, quiet], block=0)
    assert list(table.columns) == ["cell_id", "feature", "value", "reference", "contribution"]
    assert len(table) == 2 * len(names)
    reference = np.median(first, axis=0)
    for cell in (busiest, quiet):
        rows = table[table["cell_id"] == cell].set_index("feature")
        assert sorted(rows.index) == sorted(names)
        assert np.all(np.diff(rows["contribution"].to_numpy()) <= 0)  # sorted, largest first
        np.testing.assert_array_equal(rows.loc[names, "value"], first[cell])
        np.testing.assert_array_equal(rows.loc[names, "reference"], reference)
        # replacing a feature by itself changes nothing
        same = rows["value"] == rows["reference"]
        assert same.any()
        np.testing.assert_array_equal(rows.loc[same, "contribution"], 0.0)
        # one contribution by hand: the cell's row with n_cell_52w set to the grid's median
        j = names.index("n_cell_52w")
        changed = first[cell].copy()
        changed[j] = reference[j]
        pair = pd.DataFrame(np.vstack([first[cell], changed]), columns=names)
        # (the block profile's term is the same in both rows and cancels)
        log_rate = np.log(np.mean([e.predict(pair) for e in model.estimators_], axis=0))
        assert rows.loc["n_cell_52w", "contribution"] == pytest.approx(
            log_rate[0] - log_rate[1], abs=1e-10
        )
    busy = table[(table["cell_id"] == busiest) & table["feature"].str.startswith(COUNT_PREFIXES)]
    assert busy["contribution"].max() > 0  # its many past events raise the busiest cell's risk
    zero = model.explain(busiest, 3, blocks=blocks, reference="zero")
    assert len(zero) == len(names) and np.isfinite(zero["contribution"]).all()
    hours = zero["feature"] == "block_hours"  # a block of no length is never the reference
    assert (zero.loc[~hours, "reference"] == 0).all()
    assert (zero.loc[hours, "reference"] == zero.loc[hours, "value"]).all()
    np.testing.assert_array_equal(zero.loc[hours, "contribution"], 0.0)
    with pytest.raises(ValueError, match="reference"):
        model.explain(busiest, reference="mean")
    with pytest.raises(ValueError, match="block must lie"):
        model.explain(busiest, block=len(blocks), blocks=blocks)
    with pytest.raises(ValueError, match="cells must be"):
        model.explain([model.grid_.n_cells])


# ---------------------------------------------------------------------- 8. caslite.predict
PREDICT = {"horizon": "7D", "cell_size": CELL, "coverage": 0.05}


def small_model(**params):
    return RiskModel(max_iter=10, train_step="28D", random_state=0, **LIGHT, **params)


@pytest.fixture(scope="module")
def frame(city):
    return city.events[["t", "x", "y"]].copy()


@pytest.fixture(scope="module")
def predicted(city, frame):
    late = int((city.t_utc >= utc_seconds(ORIGIN, city.tz)).sum())
    with pytest.warns(DataQualityWarning, match=rf"\b{late} of {len(frame)} incidents") as record:
        hot, forecast = caslite.predict(
            frame, ORIGIN, crs=city.crs, tz=city.tz, model=small_model(), return_forecast=True,
            **PREDICT,
        )  # fmt: skip
    return hot, forecast, record


def test_predict_returns_the_hot_cells_per_shift(city, predicted):
    hot, forecast, record = predicted
    message = str(record[0].message)
    assert ORIGIN in message and record[0].filename == __file__
    for column in ("shift_start", "shift_end", "cell_id", "risk", "rank", "geometry"):
        assert column in hot.columns
    assert hot.crs.equals(forecast.grid.crs)
    assert len(forecast.blocks) == 42
    area = forecast.grid.area_fraction
    assert area.min() < 1.0  # a hull-shaped area: boundary cells count their share
    n_hot = 0
    for b, (_, rows) in enumerate(hot.groupby("shift_start", sort=True)):
        expected = top_cells(forecast.risk[b], 0.05, area=area)
        assert expected.size >= 1 and area[expected].sum() <= 0.05 * area.sum() * (1 + 1e-9)
        n_hot += expected.size
        np.testing.assert_array_equal(rows["cell_id"], expected)
        np.testing.assert_array_equal(rows["rank"], np.arange(1, expected.size + 1))
        assert (
            (rows["shift_end"] - rows["shift_start"]).dt.total_seconds().isin([14400, 18000]).all()
        )
    assert b == 41 and len(hot) == n_hot
    # the grid comes from the incidents known before the origin, in 250 m cells
    assert forecast.grid.cell_size == CELL
    known = city.t_utc < forecast.origin
    cells = forecast.grid.cell_of(city.events["x"][known], city.events["y"][known])
    assert np.all(cells >= 0)
    # the caller's model stays unfitted; the forecast's model is a fitted copy
    assert isinstance(forecast.model, RiskModel) and forecast.model.horizon == "7D"
    assert forecast.model.schedule_ == ShiftSchedule.every(4, tz=city.tz)


def test_predict_ignores_incidents_at_or_after_the_origin(city, frame, predicted):
    hot, forecast, _ = predicted
    o = forecast.origin
    late = city.t_utc >= o
    changed = frame.copy()
    # far to the north-east: if they leaked into the study area, the grid would grow
    changed.loc[late, "x"] = city.x0 + 5000.0
    changed.loc[late, "y"] = city.y0 + 5000.0
    at_origin = pd.Timestamp(o, unit="s", tz="UTC").tz_convert(city.tz)
    burst = pd.DataFrame(
        {"t": [at_origin] * 5, "x": city.x0 + 100.0 + np.arange(5.0), "y": [city.y0 + 100.0] * 5}
    )
    changed = pd.concat([changed, burst], ignore_index=True)
    n_late = int(late.sum()) + 5
    with pytest.warns(DataQualityWarning, match=rf"\b{n_late} of {len(changed)} incidents"):
        other, other_forecast = caslite.predict(
            changed, ORIGIN, crs=city.crs, tz=city.tz, model=small_model(),
            return_forecast=True, **PREDICT,
        )  # fmt: skip
    assert other_forecast.grid.n_cells == forecast.grid.n_cells
    np.testing.assert_array_equal(other_forecast.risk, forecast.risk)
    pd.testing.assert_frame_equal(other, hot)


def test_predict_with_an_area_polygon_and_only_past_incidents(city, frame):
    known = frame[city.t_utc < utc_seconds(ORIGIN, city.tz)]
    area = box(*city.bounds)
    model = small_model()
    with warnings.catch_warnings():
        warnings.simplefilter("error", CasliteWarning)  # nothing after the origin: no warning
        hot = caslite.predict(known, ORIGIN, crs=city.crs, tz=city.tz, area=area, model=model,
                              **PREDICT)  # fmt: skip
    assert not hasattr(model, "estimator_")  # the caller's model stays unfitted
    assert hot["cell_id"].max() < 64  # the 2 km square in 250 m cells
    assert len(hot) == 42 * int(0.05 * 64)
    assert all(area.contains(g) for g in hot.geometry)


@pytest.mark.parametrize("coverage", [0.0, 1.5])
def test_predict_refuses_a_bad_coverage(city, frame, coverage):
    model = small_model(train_span="30D")  # a single training origin: quick
    with pytest.raises(ValueError, match="coverage"), warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        caslite.predict(frame, ORIGIN, crs=city.crs, tz=city.tz, model=model, horizon="1D",
                        cell_size=CELL, coverage=coverage)  # fmt: skip


def test_predict_refuses_bad_inputs(city, frame):
    kwargs = {"crs": city.crs, "tz": city.tz, "model": small_model()}
    with pytest.raises(ValueError, match="column 't' not found"):
        caslite.predict(frame.rename(columns={"t": "when"}), ORIGIN, **kwargs)
    with pytest.raises(ValueError, match="column 'x' not found"):
        caslite.predict(frame.rename(columns={"x": "east"}), ORIGIN, **kwargs)
    past = frame[city.t_utc < utc_seconds(ORIGIN, city.tz)]
    for size in (0, -125.0, float("nan")):
        with pytest.raises(ValueError, match="cell_size must be a positive"):
            caslite.predict(past, ORIGIN, cell_size=size, **kwargs)
    with pytest.raises(TypeError, match="model must be a caslite RiskModel"):
        caslite.predict(past, ORIGIN, crs=city.crs, tz=city.tz, model=NaiveCounts())
    events = Events.from_frame(past, crs=city.crs, tz=city.tz)
    with pytest.raises(TypeError, match="already caslite Events"):
        caslite.predict(events, ORIGIN, crs=city.crs)


def test_predict_with_too_little_history_says_how_much_is_needed(city, frame):
    first = city.events["t"].min()
    origin = (first + pd.Timedelta("100D")).strftime("%Y-%m-%d")
    early = frame[frame["t"] < first + pd.Timedelta("100D")]
    for horizon, needed in (("14D", 182 + 14), ("7D", 182 + 7)):
        with pytest.raises(TooLittleDataError, match=rf"at least 182 days .*\({needed} days\)"):
            caslite.predict(early, origin, horizon, CELL, crs=city.crs, tz=city.tz)


def test_predict_with_no_incident_before_the_origin_is_too_little_data(city, frame):
    # Every incident is at or after the origin: there is no history at all. This is the
    # extreme case of too little data and should say so (not complain about a study area).
    with pytest.raises(TooLittleDataError, match="182 days"), warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        caslite.predict(frame, "2022-12-01", "7D", CELL, crs=city.crs, tz=city.tz)


def test_fit_with_no_event_before_the_origin(events, grid):
    with pytest.raises(TooLittleDataError, match="no event is known before the origin"):
        RiskModel(**FAST).fit(events, grid, origin="2022-12-01")
    with pytest.raises(TooLittleDataError, match=r"span 100 days.*\(189 days\)"):
        RiskModel(**FAST).fit(events, grid, origin=int(events.t.min()) + 100 * DAY)


# ---------------------------------------------------------------------- 9. parameters
@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"loss": "gamma"}, "loss must be 'poisson' or 'log_loss', got 'gamma'"),
        ({"loss": "poison"}, "loss must be"),
        ({"interactions": "pairwise"}, "interactions must be 'additive' or 'full'"),
        ({"interactions": None}, "interactions must be"),
        ({"negative_rate": 0}, r"negative_rate must be 'auto' or a share in \(0, 1\], got 0"),
        ({"negative_rate": 0.0}, "negative_rate must be"),
        ({"negative_rate": 1.5}, "negative_rate must be"),
        ({"negative_rate": -0.1}, "negative_rate must be"),
        ({"negative_rate": float("nan")}, "negative_rate must be"),
        ({"negative_rate": "half"}, "negative_rate must be"),
        ({"negative_rate": "AUTO"}, "negative_rate must be"),
        ({"negative_rate": None}, "negative_rate must be"),
        ({"max_negatives": 0}, "max_negatives must be a positive integer"),
        ({"max_negatives": 10.5}, "max_negatives must be"),
        ({"n_bags": 0}, "n_bags must be a positive integer"),
        ({"n_bags": 2.0}, "n_bags must be an integer, got float 2.0"),
        ({"n_bags": True}, "n_bags must be"),
        ({"negative_sampling": "stratified"}, "negative_sampling must be 'importance' or"),
        ({"n_threads": 0}, r"n_threads must be a positive integer, got 0 \(e.g. n_threads=None"),
        ({"horizon": "fortnight"}, "horizon='fortnight' is not a duration; give a number with"),
        ({"horizon": "-14D"}, "horizon='-14D' is not a positive duration"),
        ({"horizon": "0D"}, "horizon='0D' is not a positive duration"),
        ({"horizon": "12h"}, "horizon='12h' is shorter than the shortest allowed, '1D'"),
        ({"horizon": 14}, "horizon=14 has no unit"),
        ({"train_step": "weekly"}, "train_step='weekly' is not a duration"),
        ({"train_step": "0h"}, "train_step='0h' is not a positive duration"),
        ({"train_step": "7"}, "train_step='7' has no unit"),
        ({"warmup": "-1D"}, "warmup='-1D' is not a positive duration"),
        ({"train_span": "forever"}, "train_span='forever' is not a duration"),
        ({"train_span": "0D"}, "train_span='0D' is not a positive duration"),
    ],
)
def test_bad_parameters_are_refused_with_clear_messages(events, grid, params, match):
    with pytest.raises(ValueError, match=match):
        RiskModel(**params).fit(events, grid, origin=ORIGIN)


def test_negative_rate_true_is_not_a_rate(events, grid):
    # Booleans are numbers to Python; elsewhere caslite refuses them for numeric parameters.
    with pytest.raises((TypeError, ValueError), match="negative_rate"):
        RiskModel(negative_rate=True, train_span="30D", **LIGHT, **FAST).fit(
            events, grid, origin=ORIGIN
        )


def test_wrong_types_and_unfitted_use(events, grid, base):
    model, _ = base
    with pytest.raises(TypeError, match="events must be caslite Events"):
        RiskModel().fit(events.to_frame(), grid, origin=ORIGIN)
    with pytest.raises(TypeError, match="grid must be a caslite Grid"):
        RiskModel().fit(events, "grid", origin=ORIGIN)
    with pytest.raises(TypeError, match="features must be a FeatureBuilder"):
        RiskModel(features="default").fit(events, grid, origin=ORIGIN)
    with pytest.raises(TypeError, match="schedule must be a ShiftSchedule"):
        RiskModel(schedule="4h").fit(events, grid, origin=ORIGIN)
    blocks = model.schedule_.horizon(model.origin_, "1D")
    with pytest.raises(NotFittedError):
        RiskModel().predict(blocks)
    with pytest.raises(NotFittedError):
        RiskModel().forecast()
    with pytest.raises(TypeError, match="blocks must be caslite Blocks"):
        model.predict(blocks.start)
    other = ShiftSchedule.every(8, tz=events.tz).horizon(model.origin_, "1D")
    with pytest.raises(ValueError, match="fitted with"):
        model.predict(other)
    early = model.schedule_.horizon(model.origin_ - DAY, "1D")
    with pytest.raises(ValueError, match="before the origin"):
        model.predict(early)


def test_custom_features_and_schedule(events, grid):
    builder = FeatureBuilder(windows_weeks=(4, 26), rings=(1,), kernels=None,
                             shift_windows_weeks=(26,), darkness=False)  # fmt: skip
    schedule = ShiftSchedule(["07:00", "15:00", "23:00"], tz=events.tz)
    model = RiskModel(features=builder, schedule=schedule, **FAST).fit(events, grid, origin=ORIGIN)
    assert model.feature_names_ == builder.feature_names_
    assert list(model.estimator_.feature_names_in_) == builder.feature_names_
    blocks = schedule.horizon(model.origin_, "7D")
    assert len(blocks) == 21
    np.testing.assert_allclose(model.predict(blocks), brute_force(model, blocks), rtol=1e-10)


# ---------------------------------------------------------------------- short horizons
@pytest.mark.slow
def test_auto_train_step_tiles_the_history_for_short_horizons():
    # A homogeneous Poisson process of 3 incidents a day over a 1 km square: the expected count
    # of a day is 3. With 1-day horizons every 7 days, six days in seven went unused and the
    # forecast total was 0.86 a day; "auto" steps by the horizon and uses every day.
    rng = np.random.default_rng(0)
    rate, days = 3.0, 365
    n = rng.poisson(rate * days)
    t0 = int(pd.Timestamp("2019-01-01", tz="UTC").timestamp())
    t = np.sort(t0 + rng.uniform(0, days * DAY, n)).astype(np.int64)
    x0, y0 = 500_000.0, 5_000_000.0
    events = Events(
        t, x0 + rng.uniform(0, 1000, n), y0 + rng.uniform(0, 1000, n), crs="EPSG:32631", tz="UTC"
    )
    grid = Grid.from_area(box(x0, y0, x0 + 1000, y0 + 1000), cell_size=125.0, crs="EPSG:32631")
    with threadpool_limits(limits=1, user_api="openmp"):
        model = RiskModel(horizon="1D", max_iter=50, random_state=0)
        model.fit(events, grid, origin="2019-12-01")
    origins = model.training_["origins"]
    np.testing.assert_array_equal(np.diff(origins), -DAY)  # every day, latest first
    assert RiskModel(horizon="14D")._train_step() == pd.Timedelta(days=7)
    assert RiskModel(horizon="4h")._train_step() == pd.Timedelta(days=1)  # origins stay bounded
    total = model.forecast().risk.sum()
    assert abs(total / rate - 1) < 0.3, total


def test_predict_with_an_event_layer_uses_only_its_past(city, frame):
    # Other incidents (say, commercial break-ins) as an event layer, passed through model=.
    # The layer's incidents at or after the origin change nothing; its past ones change the map.
    o = utc_seconds(ORIGIN, city.tz)
    rng = np.random.default_rng(11)
    n = 300
    t = np.sort(rng.integers(int(city.t_utc.min()), o + 20 * 86_400, n))
    x = rng.uniform(city.x0, city.x0 + 1000.0, n)
    y = rng.uniform(city.y0, city.y0 + 1000.0, n)
    layer = Events(t, x, y, crs=city.crs, tz=city.tz)
    late = t >= o
    moved = Events(t, np.where(late, x + 700.0, x), np.where(late, y + 900.0, y),
                   crs=city.crs, tz=city.tz)  # fmt: skip
    past = frame[city.t_utc < o]

    def hot_cells(event_layers):
        features = FeatureBuilder(kernels=None, windows_weeks=(4, 26), event_layers=event_layers,
                                  event_windows_weeks=(8, 26))  # fmt: skip
        return caslite.predict(past, ORIGIN, crs=city.crs, tz=city.tz,
                               model=RiskModel(features=features, max_iter=10, train_step="28D",
                                               random_state=0), **PREDICT)  # fmt: skip

    with_layer = hot_cells({"other": layer})
    assert late.any()
    pd.testing.assert_frame_equal(hot_cells({"other": moved}), with_layer)
    without = hot_cells(None)
    assert not np.array_equal(with_layer["risk"].to_numpy(), without["risk"].to_numpy())
