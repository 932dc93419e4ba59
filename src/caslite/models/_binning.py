"""Weighted binning for scikit-learn's HistGradientBoosting, one sort per column (private).

HistGradientBoosting bins every feature into at most ``max_bins`` quantile bins before it grows
trees. With sample weights and fewer than 200,000 training rows, scikit-learn (1.8 and later)
finds each column's bin edges by calling its weighted percentile once per edge: 254 sorts of
every continuous column, which was more than half of the risk model's fit on a small city.

:func:`fit_weighted` fits the estimator on the same bins found with one call per column:

1. It splits off the validation rows as the estimator itself would (the same seed drawn from
   ``random_state``, the same ``train_test_split``), and hands them over as ``X_val``.
2. For the columns whose bins come from weighted percentiles, it computes the same edges
   with scikit-learn's own weighted percentile, all columns and all 254 levels in one call,
   and gives the estimator each value's bin rank (0, 1, 2, ...) instead of the value. The
   estimator's binning of so few distinct values is the identity, so it grows the same trees.
3. It writes the column's edges back into the fitted trees, so that they split raw values
   exactly where scikit-learn's own binning would have.

Columns with missing values, unweighted fits, more than 200,000 training rows (where
scikit-learn subsamples and drops the weights) and scikit-learn versions whose own edges differ
from these on a test column (checked once per process) take scikit-learn's own path. The tests
check that the fitted trees equal scikit-learn's own.
"""

from __future__ import annotations

import functools
import inspect

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state

__all__ = ["fit_weighted"]

#: rows above which scikit-learn bins a weighted subsample without weights (already fast)
_BINNING_SUBSAMPLE = 200_000
#: weighted columns whose percentiles are found in one call
_PERCENTILE_COLUMNS = 4


def fit_weighted(estimator, frame: pd.DataFrame, y, sample_weight):
    """Fit a HistGradientBoosting ``estimator`` on ``frame`` with the weighted bins found fast.

    The same as ``estimator.fit(frame, y, sample_weight=sample_weight)``; see the module.

    Parameters
    ----------
    estimator : HistGradientBoostingRegressor or HistGradientBoostingClassifier
        Unfitted, without categorical features and with an integer ``random_state``.
    frame : pandas.DataFrame
        The training features (float columns, named).
    y, sample_weight : numpy.ndarray
        Targets and weights, one per row of ``frame``.

    Returns
    -------
    estimator
        The fitted estimator.
    """
    binning = _binning_tools()
    if binning is None or not _takes_fast_path(estimator, frame, sample_weight):
        return estimator.fit(frame, y, sample_weight=sample_weight)
    weighted_percentile, almost_inf = binning
    y = np.asarray(y)
    w = np.asarray(sample_weight, dtype=np.float64)
    train, val = _validation_split(estimator, y)
    if train.size > _BINNING_SUBSAMPLE:
        return estimator.fit(frame, y, sample_weight=sample_weight)
    X = frame.to_numpy(dtype=np.float64)
    # The parts are column-major, so that each column's rows are written and read contiguously.
    X_train = np.empty((train.size, X.shape[1]), order="F")
    X_val = np.empty((val.size, X.shape[1]), order="F")
    w_train = w[train]
    kept = w_train != 0  # scikit-learn leaves zero weights out of the edges
    levels = np.linspace(0, 100, num=int(estimator.max_bins) + 1)[1:-1]
    edges, pending = {}, {}
    for j in range(X.shape[1]):
        X[:, j].take(train, out=X_train[:, j])
        X[:, j].take(val, out=X_val[:, j])
        column = _sorted_for_percentiles(
            X_train[:, j], w_train, kept, X_val[:, j], int(estimator.max_bins)
        )
        if column is not None:
            pending[j] = column
        if pending and (len(pending) == _PERCENTILE_COLUMNS or j == X.shape[1] - 1):
            # a few columns per percentile call: its loop over the levels is shared, and
            # its temporaries stay small
            percentiles = weighted_percentile(
                np.column_stack([data for data, _ in pending.values()]),
                np.column_stack([data_weights for _, data_weights in pending.values()]),
                levels,
                average=True,
            )  # (columns, levels)
            for (k, (data, _)), column_percentiles in zip(
                pending.items(), percentiles, strict=True
            ):
                thresholds, present = _edges(column_percentiles, data, almost_inf)
                X_train[:, k] = _ranks(X_train[:, k], thresholds, present)
                X_val[:, k] = _ranks(X_val[:, k], thresholds, present)
                edges[k] = thresholds[present[:-1]]
            pending = {}
    names = frame.columns
    estimator.fit(
        pd.DataFrame(X_train, columns=names, copy=False),
        y[train],
        sample_weight=w_train,
        X_val=pd.DataFrame(X_val, columns=names, copy=False),
        y_val=y[val],
        sample_weight_val=w[val],
    )
    _restore_thresholds(estimator, edges)
    return estimator


@functools.lru_cache(maxsize=1)
def _binning_tools():
    """scikit-learn's weighted percentile and its largest finite edge, or None.

    None (scikit-learn's own binning throughout) unless the installed scikit-learn takes
    ``X_val`` in ``fit`` and its own edge search gives, on a test column, exactly the edges
    found here: a version whose binning differs keeps its own.
    """
    try:
        from sklearn.ensemble import HistGradientBoostingRegressor
        from sklearn.ensemble._hist_gradient_boosting.binning import _find_binning_thresholds
        from sklearn.ensemble._hist_gradient_boosting.common import ALMOST_INF
        from sklearn.utils.stats import _weighted_percentile
    except ImportError:  # another scikit-learn: its own binning
        return None
    if "X_val" not in inspect.signature(HistGradientBoostingRegressor.fit).parameters:
        return None
    rng = np.random.default_rng(0)
    columns = (rng.gamma(2.0, size=1000).round(2), rng.normal(size=1000).round(3))  # ties
    weights = rng.choice([0.0, 1.0, 2.5, 40.0], size=1000)
    levels = np.linspace(0, 100, num=256)[1:-1]
    kept = weights != 0
    try:
        theirs = [_find_binning_thresholds(v, 255, sample_weight=weights) for v in columns]
        ours = [_sorted_for_percentiles(v, weights, kept, v[:0], 255) for v in columns]
        percentiles = _weighted_percentile(
            np.column_stack([data for data, _ in ours]),
            np.column_stack([data_weights for _, data_weights in ours]),
            levels,
            average=True,
        )
    except (TypeError, ValueError, IndexError):  # weights or several columns not taken
        return None
    for (data, _), column_percentiles, their_edges in zip(ours, percentiles, theirs, strict=True):
        if not np.array_equal(_edges(column_percentiles, data, ALMOST_INF)[0], their_edges):
            return None
    return _weighted_percentile, ALMOST_INF


def _takes_fast_path(estimator, frame, sample_weight) -> bool:
    """Whether the fit can bin here: weighted, a validation share, no categories."""
    return (
        sample_weight is not None
        and estimator.early_stopping is True
        and estimator.validation_fraction is not None
        and isinstance(estimator.random_state, (int, np.integer))
        and estimator.categorical_features in (None, "from_dtype")
        and all(pd.api.types.is_float_dtype(dtype) for dtype in frame.dtypes)
        and not estimator.warm_start
    )


def _validation_split(estimator, y):
    """Row indices of the training and validation parts, as ``estimator.fit`` draws them."""
    from sklearn.model_selection import train_test_split

    rng = check_random_state(estimator.random_state)
    seed = rng.randint(np.iinfo(np.uint32).max, dtype="u8")  # the estimator's first draw
    stratify = y if hasattr(estimator, "predict_proba") else None
    train, val = train_test_split(
        np.arange(len(y)),
        test_size=estimator.validation_fraction,
        stratify=stratify,
        random_state=seed,
    )
    return train, val


def _sorted_for_percentiles(train_values, weights, kept, val_values, max_bins: int):
    """Sort the column's weighted values as scikit-learn does before its percentiles.

    Returns ``(values, weights)`` of the rows with a nonzero weight, in that order, or None
    when scikit-learn's own binning of the column is cheap (at most ``max_bins`` distinct
    values: midpoints) or must stay its own (missing values).
    """
    if np.isnan(train_values).any() or np.isnan(val_values).any():
        return None
    data, data_weights = train_values[kept], weights[kept]
    if pd.unique(data).size <= max_bins:  # counts at least the distinct values below
        return None
    order = np.argsort(data)  # as scikit-learn sorts before its percentiles
    data, data_weights = data[order], data_weights[order]
    if np.count_nonzero(np.diff(data)) + 1 <= max_bins:  # distinct values: midpoints
        return None
    return data, data_weights


def _edges(percentiles, sorted_values, almost_inf):
    """Return the column's bin edges from its weighted percentiles, and the bins its rows fill."""
    thresholds = np.unique(percentiles)
    np.clip(thresholds, a_min=None, a_max=almost_inf, out=thresholds)
    bins = np.searchsorted(thresholds, sorted_values, side="left")  # ascending, as the values
    present = bins[np.concatenate(([True], np.diff(bins) != 0))]
    return thresholds, present


def _ranks(values, thresholds, present) -> np.ndarray:
    """Each value's bin (the number of edges below it) as its rank among the filled bins."""
    rank_of_bin = np.searchsorted(present, np.arange(thresholds.size + 1), side="left")
    return rank_of_bin[np.searchsorted(thresholds, values, side="left")].astype(np.float64)


def _restore_thresholds(estimator, edges: dict) -> None:
    """Put the raw bin edges back into the fitted trees and the estimator's bin mapper."""
    if not edges:
        return
    for per_iteration in estimator._predictors:
        for predictor in per_iteration:
            nodes = predictor.nodes
            split = ~nodes["is_leaf"].astype(bool)
            for j, column_edges in edges.items():
                at = split & (nodes["feature_idx"] == j)
                nodes["num_threshold"][at] = column_edges[nodes["bin_threshold"][at]]
    mapper = estimator._bin_mapper
    for j, column_edges in edges.items():
        mapper.bin_thresholds_[j] = column_edges.copy()
