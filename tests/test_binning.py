"""The weighted binning done once per column fits the same trees as scikit-learn's own."""

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from caslite.models import _binning
from caslite.models._binning import fit_weighted


def _data(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "smooth": rng.normal(size=n),  # continuous: weighted percentiles
            "heavy": rng.exponential(size=n).round(2),  # many ties, > 255 distinct values
            "count": rng.poisson(3.0, size=n).astype(np.float64),  # few distinct: midpoints
            "float32": rng.gamma(2.0, size=n).astype(np.float32),
        }
    )
    rate = np.exp(0.4 * frame["smooth"] - 0.3 * frame["heavy"] + 0.1 * frame["count"])
    y = rng.poisson(rate).astype(np.float64)
    # importance weights as the risk model draws them: a few rows stand for many
    w = np.where(rng.random(n) < 0.3, 1.0, rng.choice([2.5, 7.0, 40.0], size=n))
    w[rng.random(n) < 0.01] = 0.0  # zero weights are left out of scikit-learn's edges
    return frame, y, w


def _trees(estimator):
    return [per_iteration[0].nodes for per_iteration in estimator._predictors]


def _assert_same_fit(ours, theirs, frame):
    assert ours.n_iter_ == theirs.n_iter_
    for a, b in zip(_trees(ours), _trees(theirs), strict=True):
        for field in ("feature_idx", "num_threshold", "is_leaf", "left", "right", "value"):
            np.testing.assert_array_equal(a[field], b[field], err_msg=field)
    np.testing.assert_array_equal(ours.predict(frame), theirs.predict(frame))
    for a, b in zip(
        ours._bin_mapper.bin_thresholds_, theirs._bin_mapper.bin_thresholds_, strict=True
    ):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("seed", [0, 1])
def test_poisson_trees_equal_scikit_learns_own_binning(seed):
    frame, y, w = _data(seed=seed)
    params = dict(loss="poisson", max_iter=30, early_stopping=True, random_state=seed + 7)
    theirs = HistGradientBoostingRegressor(**params).fit(frame, y, sample_weight=w)
    ours = fit_weighted(HistGradientBoostingRegressor(**params), frame, y, w)
    _assert_same_fit(ours, theirs, frame)


def test_no_weighted_percentile_search_left_to_scikit_learn(monkeypatch):
    """The fast path is taken: scikit-learn bins only columns of few distinct values itself."""
    from sklearn.ensemble._hist_gradient_boosting import binning

    searched = []
    original = binning._find_binning_thresholds

    def recording(col_data, max_bins, sample_weight=None):
        if sample_weight is not None and np.unique(col_data).size > max_bins:
            searched.append(col_data.size)
        return original(col_data, max_bins, sample_weight)

    monkeypatch.setattr(binning, "_find_binning_thresholds", recording)
    frame, y, w = _data(seed=0)
    params = dict(loss="poisson", max_iter=5, early_stopping=True, random_state=7)
    HistGradientBoostingRegressor(**params).fit(frame, y, sample_weight=w)
    assert len(searched) == 3  # the plain fit searches the three continuous columns
    searched.clear()
    fit_weighted(HistGradientBoostingRegressor(**params), frame, y, w)
    assert searched == []


def test_classifier_trees_equal_scikit_learns_own_binning():
    frame, y, w = _data(seed=2)
    labels = (y > 0).astype(np.int64)
    params = dict(max_iter=20, early_stopping=True, random_state=3, max_leaf_nodes=15)
    theirs = HistGradientBoostingClassifier(**params).fit(frame, labels, sample_weight=w)
    ours = fit_weighted(HistGradientBoostingClassifier(**params), frame, labels, w)
    _assert_same_fit(ours, theirs, frame)
    np.testing.assert_array_equal(ours.predict_proba(frame), theirs.predict_proba(frame))


def test_column_with_missing_values_keeps_scikit_learns_path():
    frame, y, w = _data(seed=3)
    frame.loc[frame.index[::50], "smooth"] = np.nan
    params = dict(loss="poisson", max_iter=15, early_stopping=True, random_state=1)
    theirs = HistGradientBoostingRegressor(**params).fit(frame, y, sample_weight=w)
    ours = fit_weighted(HistGradientBoostingRegressor(**params), frame, y, w)
    _assert_same_fit(ours, theirs, frame)


def test_edges_equal_one_percentile_call_per_edge():
    """The one-call edges of a column equal scikit-learn's edge-by-edge search (its function)."""
    from sklearn.ensemble._hist_gradient_boosting.binning import _find_binning_thresholds

    frame, _, w = _data(n=3000, seed=4)
    tools = _binning._binning_tools()
    levels = np.linspace(0, 100, num=256)[1:-1]
    names = ("smooth", "heavy", "float32")
    columns = [frame[name].to_numpy(dtype=np.float64) for name in names]
    weighted_percentile, almost_inf = tools
    kept = w != 0
    sorted_columns = [
        _binning._sorted_for_percentiles(values, w, kept, values[:10], 255) for values in columns
    ]
    percentiles = weighted_percentile(  # every column and level in one call
        np.column_stack([data for data, _ in sorted_columns]),
        np.column_stack([data_weights for _, data_weights in sorted_columns]),
        levels,
        average=True,
    )
    for values, (data, _), column_percentiles in zip(
        columns, sorted_columns, percentiles, strict=True
    ):
        thresholds, present = _binning._edges(column_percentiles, data, almost_inf)
        np.testing.assert_array_equal(thresholds, _find_binning_thresholds(values, 255, w))
        # the ranks keep the rows' order, and a rank's rows all lie in one bin of the edges
        ranks = _binning._ranks(values, thresholds, present)
        order = np.argsort(values, kind="stable")
        assert np.all(np.diff(ranks[order]) >= 0)
        bins = np.searchsorted(thresholds, values, side="left")
        for rank in np.unique(ranks):
            assert np.unique(bins[ranks == rank]).size == 1
        assert np.unique(ranks).size == np.unique(bins).size


def test_unweighted_and_unsupported_fits_are_scikit_learns_own():
    frame, y, _ = _data(n=2000, seed=5)
    params = dict(loss="poisson", max_iter=10, early_stopping=False, random_state=0)
    theirs = HistGradientBoostingRegressor(**params).fit(frame, y)
    ours = fit_weighted(HistGradientBoostingRegressor(**params), frame, y, None)
    _assert_same_fit(ours, theirs, frame)


def test_risk_model_forecast_equals_the_one_with_scikit_learns_own_binning(monkeypatch):
    """A whole fit through the risk model: the same forecast, bit for bit."""
    from threadpoolctl import threadpool_limits

    from caslite import Events, Grid, RiskModel
    from caslite.datasets import simulate_city
    from caslite.models import risk

    city = simulate_city(
        start="2023-01-01", end="2024-01-01", size=2000.0, background_rate=6.0, random_state=1
    )
    events = Events.from_frame(city.events, crs=city.crs, tz=city.tz)
    grid = Grid.from_events(events, cell_size=125.0)
    params = dict(max_iter=15, train_step="14D", max_negatives=5_000, random_state=0)

    def forecast():
        model = RiskModel(**params).fit(events, grid, origin="2023-12-01")
        assert model.training_["negative_sampling"] == "importance"
        return model.predict(model.schedule_.horizon("2023-12-01", "7D"))

    with threadpool_limits(limits=1, user_api="openmp"):
        fast = forecast()
        monkeypatch.setattr(
            risk, "fit_weighted", lambda est, frame, y, w: est.fit(frame, y, sample_weight=w)
        )
        plain = forecast()
    np.testing.assert_array_equal(fast, plain)


def test_a_scikit_learn_with_other_edges_keeps_its_own_binning(monkeypatch):
    """When the installed scikit-learn's own edges differ, the fit is scikit-learn's own."""
    from sklearn.ensemble._hist_gradient_boosting import binning

    assert _binning._binning_tools() is not None  # the scikit-learn the tests run on
    original = binning._find_binning_thresholds
    monkeypatch.setattr(
        binning,
        "_find_binning_thresholds",
        lambda col, max_bins, sample_weight=None: original(col, max_bins, None),  # unweighted
    )
    _binning._binning_tools.cache_clear()
    try:
        assert _binning._binning_tools() is None
        frame, y, w = _data(seed=6)
        params = dict(loss="poisson", max_iter=5, early_stopping=True, random_state=2)
        theirs = HistGradientBoostingRegressor(**params).fit(frame, y, sample_weight=w)
        ours = fit_weighted(HistGradientBoostingRegressor(**params), frame, y, w)
        _assert_same_fit(ours, theirs, frame)
    finally:
        monkeypatch.undo()
        _binning._binning_tools.cache_clear()
