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

:class:`StoredEnsemble` is the same scorer over arrays read from a model file
(:func:`caslite.load_model`), checked so that scoring cannot read outside them or loop, with
``predict`` (and ``predict_proba``) for the loaded model's ``estimators_``.
"""

from __future__ import annotations

import numpy as np

from caslite._forms import CasliteFileError
from caslite._kernels import threads_for
from caslite._kernels.trees import ensemble_raw

__all__ = ["CompiledEnsemble", "StoredEnsemble"]


class CompiledEnsemble:
    """Flattened trees of a fitted single-output HistGradientBoosting estimator.

    Parameters
    ----------
    estimator : HistGradientBoostingRegressor or binary HistGradientBoostingClassifier
        Fitted, without categorical features.

    Attributes
    ----------
    ARRAY_DTYPES : dict of str to numpy dtype
        The arrays of the flattened trees and their dtypes: one entry per node of all trees
        (child indices global), and ``roots`` the first node of each tree.

    Raises
    ------
    ValueError
        If the estimator has several trees per iteration (multi-class), categorical splits or
        no accessible tree structure.
    """

    ARRAY_DTYPES = {
        "feature": np.int64,
        "threshold": np.float64,
        "missing_left": np.bool_,
        "left": np.int64,
        "right": np.int64,
        "is_leaf": np.bool_,
        "value": np.float64,
        "roots": np.int64,
    }

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

    def arrays(self) -> dict:
        """Return the flattened trees, the arrays of :attr:`ARRAY_DTYPES` by name."""
        return {name: np.asarray(getattr(self, name)) for name in self.ARRAY_DTYPES}


class StoredEnsemble(CompiledEnsemble):
    """Flattened trees of a saved risk model, scored with caslite's compiled kernel.

    The arrays follow :class:`CompiledEnsemble`: one entry per node of all trees, child
    indices global, ``roots`` the first node of each tree. :meth:`raw` sums the leaf values of
    every tree in order and adds ``baseline``, as scikit-learn does.

    Parameters
    ----------
    arrays : dict of str to ndarray
        ``feature``, ``threshold``, ``missing_left``, ``left``, ``right``, ``is_leaf``,
        ``value``, ``roots``.
    baseline : float
        The ensemble's baseline raw score.
    feature_names : list of str
        Column names, in order.
    loss : {"poisson", "log_loss"}
        The model's loss.
    params : dict, optional
        Parameters of the scikit-learn estimator that was fitted (for the record).

    Attributes
    ----------
    feature_names_in_ : ndarray of str
    n_features_in_ : int
    n_iter_ : int
        Number of trees.
    classes_ : ndarray of int64
        ``[0, 1]`` for ``loss="log_loss"`` only.

    Raises
    ------
    CasliteFileError
        If the arrays do not describe trees that the kernel can walk safely: wrong dtypes or
        lengths, split features out of range, or children that are not later nodes of the
        same tree.
    """

    def __init__(self, arrays, *, baseline, feature_names, loss, params=None):
        n_nodes = None
        for name, dtype in self.ARRAY_DTYPES.items():
            array = np.ascontiguousarray(arrays[name])
            if array.dtype != dtype or array.ndim != 1:
                raise CasliteFileError(
                    f"tree array {name!r} has dtype {array.dtype} and {array.ndim} dimensions; "
                    f"expected 1-dimensional {np.dtype(dtype)}."
                )
            if name != "roots":
                if n_nodes is not None and array.size != n_nodes:
                    raise CasliteFileError(
                        f"tree array {name!r} has {array.size} nodes; the others have {n_nodes}."
                    )
                n_nodes = array.size
            setattr(self, name, array)
        self.baseline = float(baseline)
        self.feature_names_in_ = np.asarray([str(n) for n in feature_names], dtype=object)
        self.n_features = self.n_features_in_ = int(self.feature_names_in_.size)
        if loss not in ("poisson", "log_loss"):
            raise CasliteFileError(f"loss must be 'poisson' or 'log_loss', got {loss!r}.")
        self.loss = loss
        self.params = dict(params or {})
        self.n_iter_ = int(self.roots.size)
        if loss == "log_loss":
            self.classes_ = np.array([0, 1], dtype=np.int64)
        self._check_trees()

    def _check_trees(self) -> None:
        n_nodes, roots = self.value.size, self.roots
        if roots.size == 0 or roots[0] != 0 or np.any(np.diff(roots) <= 0) or roots[-1] >= n_nodes:
            raise CasliteFileError(
                "tree roots must start at node 0 and increase strictly within the "
                f"{n_nodes} nodes; got {roots[:5].tolist()}..."
            )
        if not np.isfinite(self.baseline) or not np.all(np.isfinite(self.value[self.is_leaf])):
            raise CasliteFileError("the baseline and leaf values must be finite.")
        tree_end = np.append(roots[1:], n_nodes)[
            np.searchsorted(roots, np.arange(n_nodes), "right") - 1
        ]
        split = np.flatnonzero(~self.is_leaf)
        node = split.astype(np.int64)
        for side in (self.left, self.right):
            child = side[split]
            if np.any((child <= node) | (child >= tree_end[split])):
                raise CasliteFileError(
                    "the tree arrays are damaged: a child node is not a later node of its own "
                    "tree (scoring could loop or read outside the trees)."
                )
        feature = self.feature[split]
        if feature.size and (feature.min() < 0 or feature.max() >= self.n_features):
            raise CasliteFileError(
                f"a split uses feature {int(feature.max())} (or {int(feature.min())}); the "
                f"model has {self.n_features} features."
            )

    def __repr__(self) -> str:
        return f"StoredEnsemble({self.n_iter_} trees, {self.n_features} features, {self.loss})"

    def _rows(self, X) -> np.ndarray:
        columns = getattr(X, "columns", None)
        if columns is not None and list(columns) != list(self.feature_names_in_):
            raise ValueError(
                f"X has columns {list(columns)}; expected {list(self.feature_names_in_)}."
            )
        return np.asarray(X, dtype=np.float64)

    def predict(self, X) -> np.ndarray:
        """Return expected counts (``poisson``) or predicted classes 0/1 (``log_loss``)."""
        raw = self.raw(self._rows(X))
        if self.loss == "poisson":
            return np.exp(raw)
        return (raw > 0).astype(np.int64)

    def predict_proba(self, X) -> np.ndarray:
        """Probabilities of class 0 and 1, shape (n_rows, 2); ``loss="log_loss"`` only."""
        if self.loss != "log_loss":
            raise AttributeError("predict_proba is only available for loss='log_loss'.")
        p = 1.0 / (1.0 + np.exp(-self.raw(self._rows(X))))
        return np.column_stack([1.0 - p, p])
