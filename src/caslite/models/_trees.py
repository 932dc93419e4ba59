"""A compiled scorer for scikit-learn's HistGradientBoosting ensembles (private).

scikit-learn predicts one tree at a time over all rows; a horizon of a country is millions
of rows and hundreds of trees, so that every tree streams the whole design matrix through
memory again. :class:`CompiledEnsemble` flattens the fitted trees into arrays once and walks
every tree for one row before moving to the next (numba, parallel over rows). It returns the
raw score (log-rate for Poisson, logit for the binary classifier) with the same arithmetic as
scikit-learn: leaf values summed in tree order, then the baseline added.

It reads the estimator's private ``_predictors`` and ``_baseline_prediction``; the model checks
the scorer against ``estimator.predict`` on sample rows after every fit and falls back to
scikit-learn when they disagree or the private structure is missing.
"""

from __future__ import annotations

import numpy as np

from caslite._kernels import threads_for
from caslite._kernels.trees import ensemble_raw

__all__ = ["CompiledEnsemble"]


class CompiledEnsemble:
    """Flattened trees of a fitted single-output HistGradientBoosting estimator.

    Parameters
    ----------
    estimator : HistGradientBoostingRegressor or binary HistGradientBoostingClassifier
        Fitted, without categorical features.

    Raises
    ------
    ValueError
        If the estimator has several trees per iteration (multi-class), categorical splits or
        no accessible tree structure.
    """

    def __init__(self, estimator):
        predictors = getattr(estimator, "_predictors", None)
        baseline = getattr(estimator, "_baseline_prediction", None)
        if predictors is None or baseline is None:
            raise ValueError("the estimator has no accessible trees (is it fitted?).")
        if any(len(per_iteration) != 1 for per_iteration in predictors):
            raise ValueError("only single-output ensembles (one tree per iteration) compile.")
        baseline = np.asarray(baseline, dtype=np.float64).ravel()
        if baseline.size != 1:
            raise ValueError("only single-output ensembles compile.")
        nodes = [per_iteration[0].nodes for per_iteration in predictors]
        if not nodes:
            raise ValueError("the estimator has no trees.")
        if any(np.any(n["is_categorical"]) for n in nodes):
            raise ValueError("categorical splits are not supported by the compiled scorer.")
        sizes = np.array([n.size for n in nodes], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        allnodes = np.concatenate(nodes)
        shift = np.repeat(offsets, sizes)
        self.feature = allnodes["feature_idx"].astype(np.int64)
        self.threshold = allnodes["num_threshold"].astype(np.float64)
        self.missing_left = allnodes["missing_go_to_left"].astype(np.bool_)
        self.left = allnodes["left"].astype(np.int64) + shift
        self.right = allnodes["right"].astype(np.int64) + shift
        self.is_leaf = allnodes["is_leaf"].astype(np.bool_)
        self.value = allnodes["value"].astype(np.float64)
        self.roots = offsets
        self.baseline = float(baseline[0])
        self.n_features = int(estimator.n_features_in_)

    def raw(self, X) -> np.ndarray:
        """Raw scores of the rows of ``X`` (n_rows, n_features), float64."""
        X = np.ascontiguousarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"X must have shape (n_rows, {self.n_features}); got {X.shape}.")
        out = np.empty(X.shape[0], dtype=np.float64)
        if X.shape[0]:
            # node visits: rows x trees x depth (about log2 of the nodes per tree)
            n_trees = max(len(self.roots), 1)
            visits = X.shape[0] * n_trees * np.log2(len(self.feature) / n_trees + 2.0)
            with threads_for(visits):
                ensemble_raw(
                    X, self.feature, self.threshold, self.missing_left, self.left, self.right,
                    self.is_leaf, self.value, self.roots, out,
                )  # fmt: skip
        out += self.baseline
        return out
