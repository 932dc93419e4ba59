"""The gradient-boosted risk model: expected events per cell and block over a horizon.

Training mimics forecasting. For a fit origin ``o``, the model looks back over *training
origins* ``o_k`` spaced ``train_step`` apart, each with a whole horizon of blocks that ends
before ``o``. A training row is (``o_k``, block ``b`` of ``o_k``'s horizon, cell ``c``): its
features come from the events known before ``o_k`` (:class:`caslite.features.FeatureBuilder`),
its target is the events in cell ``c`` during block ``b``. Every event used, as feature or
target, is known before ``o``, so nothing at or after the fit origin can leak into the model.

Years of a city hold hundreds of millions of such rows, nearly all zero. Every row with an
event is kept; a row without one is kept with probability ``p`` (negative subsampling) and
then weighs ``1 / p``, so the weighted loss is an unbiased estimate of the full one and
memory stays bounded.

With ``interactions="additive"`` (the default) the predicted log-rate is exactly
``F(cell, shift) + G(block)``: the cell and its shift on one side, the block (day of week,
season, darkness, lead time) on the other. A horizon of ``B`` blocks over ``C`` cells then
needs the ensemble on ``n_shifts * C + B`` rows instead of ``B * C`` (and cells without any
history share one row); the ranking of cells within a block is the cell-and-shift part alone.

With the default Poisson loss the additive model is fitted in two stages. First the *block
profile* ``G``: a Poisson GLM of the whole area's events per training block on shift, day of
week, weekend-by-shift, darkness, block length, lead time, the area's recent level (events per
day over the last 4 and 52 weeks) and, when the training horizons span two years or more, the
season. Then the trees ``F`` on one row per (training origin, shift, cell), whose target is the
cell's events in that shift over the horizon, with the area's expected events in that shift
(the sum of ``exp(G)`` over its blocks) as exposure: Poisson with offset ``log e`` is Poisson
on ``y / e`` with weight ``e``. The rows are 14 times fewer than (origin, block, cell) rows
for a 14-day horizon of 4-hour shifts, so at the same memory each kept event-free row weighs
about 14 times less: on Toronto the joint fit forecast twice the events that happened (a
leaf that drew no heavy negative row over-forecasts), the two-stage fit 6-11 % more.
``loss="log_loss"`` keeps one ensemble over (origin, block, cell) rows whose trees split
either on cell and shift features or on block features, never both (interaction constraints).
``interactions="full"`` lets every feature interact and scores every (block, cell) row.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import io
import logging
import numbers
import re

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.utils.validation import check_is_fitted

from caslite._core import count_events, exact_shift_rates
from caslite._forms import CasliteFileError, record, stored_instant
from caslite._time import DAY, HOUR, WEEK, to_utc_seconds
from caslite._validation import (
    ArgumentTypeError,
    as_duration,
    check_bool,
    check_instant,
    check_int,
    check_random_state,
    check_same_crs,
    check_share,
    warn_user,
)
from caslite.events import Events
from caslite.features import FeatureBuilder
from caslite.grid import Grid
from caslite.models._base import Forecaster
from caslite.models._binning import fit_weighted
from caslite.models._trees import CompiledEnsemble, StoredEnsemble
from caslite.shifts import Blocks, ShiftSchedule

__all__ = ["RiskModel", "TooLittleDataError"]

logger = logging.getLogger("caslite")

#: The shortest horizon the model trains on: a day, so that every training horizon holds
#: every shift of the day (the additive fit learns each shift's share from them).
MIN_HORIZON = "1D"
#: Why a horizon shorter than :data:`MIN_HORIZON` is refused, and what to do instead: the
#: ``reason`` of the horizon check, shared by :class:`RiskModel` and :func:`caslite.predict`.
SHORT_HORIZON = (
    " (every training horizon must hold every shift of the day): forecast horizon='1D' and "
    "use its first shifts (Forecast.top(per='block') ranks the cells of each shift)"
)
_CHUNK_ROWS = 262_144


class TooLittleDataError(ValueError):
    """Raised when the events before the origin are too few or too short to train on."""


class RiskModel(Forecaster):
    """Gradient-boosted trees that forecast the events per cell and block of a horizon.

    Parameters
    ----------
    features : FeatureBuilder, optional
        The features; default ``FeatureBuilder()`` (see :mod:`caslite.features`).
    schedule : ShiftSchedule, optional
        The blocks; default 4-hour shifts from midnight in the events' time zone.
    horizon : str, default "14D"
        Length of each training horizon, and of the default forecast (:meth:`forecast`),
        with its unit (``"14D"``, ``"36h"``); at least a day (``"1D"``), so that every
        training horizon holds every shift of the day.
    train_step : str, default "auto"
        Spacing of the training origins. ``"auto"``: the horizon, between 1 and 7 days, so that
        the training horizons cover the history without gaps (with a 1-day horizon every 7
        days, six days in seven would go unused and a short history would be learnt from a
        few dozen incidents).
    train_span : str or None, default "1095D"
        How far before the fit origin training origins may lie (None: as far as the data
        allow, after ``warmup``).
    warmup : str, default "182D"
        Training origins lie at least this long after the first event known, so that their
        features see some history.
    loss : {"poisson", "log_loss"}, default "poisson"
        ``"poisson"`` fits the expected count of events; ``"log_loss"`` the probability of at
        least one event (the target is then ``count > 0``).
    interactions : {"additive", "full"}, default "additive"
        ``"additive"``: log-rate = F(cell, shift) + G(block), fitted in two stages under the
        Poisson loss (fast, exact forecasts; see the module docstring). ``"full"``: the trees
        see every feature of every (block, cell) row.
    negative_rate : float or "auto", default "auto"
        Share of the training rows without events to keep (on average); "auto" keeps about
        ``max_negatives`` of them over all training origins. At 1 every row is kept, unweighted
        by sampling.
    negative_sampling : {"importance", "uniform"}, default "importance"
        How the event-free rows are drawn. ``"importance"``: row ``i`` is kept with
        probability ``p_i = min(1, s * prior_i)``, its prior the area's expected events in
        the row's shift (the block profile; 1 per block for the other fits) times the cell's
        recent activity (its events in the last 104 weeks, plus an eighth of its eight
        neighbours', plus 0.5), the scale ``s`` set so that the expected number kept is the
        budget; a kept row weighs ``1 / p_i``. Quiet cells far from any incident, where a
        row tells the trees little, are drawn less often and weigh more; busy cells, where
        the ranking is decided, more often. ``"uniform"``: every event-free row is kept with
        the same probability and weighs its inverse (the former default). Either
        way the weighted Poisson loss is an unbiased estimate of the loss on every row
        (Horvitz-Thompson), so the expected counts stay unbiased; importance sampling has
        the smaller variance where it matters.
    max_negatives : int, default 200_000
        Target number of event-free rows under ``negative_rate="auto"``. More rows cost fit
        time and memory: on five years of Toronto (42,000 cells of 125 m, 232 training
        origins) the default's 237,000 rows took 15 s of CPU besides the features and 0.73 GB
        peak memory, the former default of 500,000 (537,000 rows) 25 s and 1.09 GB, at about
        the same hit rates (paired comparisons on three data sets in the model
        documentation). With several bags (``n_bags``) each draws about
        ``max_negatives / n_bags``.
    n_bags : int, default 1
        Number of tree ensembles whose forecasts are averaged (bagging over the event-free
        rows). Each is fitted on every training row with an event and its own independent
        draw of the event-free ones (and its own early-stopping split); the features are
        computed once for all. The forecast is the mean of their expected counts. With more
        event-free rows than ``max_negatives`` (any city-sized history) the fit costs about
        as much as one ensemble on all the drawn rows, and forecasting a little more; with
        fewer, every bag keeps them all and the bags differ only in their early-stopping
        split. Averaging evens out which quiet rows each ensemble happened to see; with
        importance-weighted negatives one ensemble did as well (the former default was 2;
        the paired comparison is in ``docs/performance.md``).
    max_iter, learning_rate, max_leaf_nodes, min_samples_leaf, l2_regularization
        Passed to scikit-learn's HistGradientBoosting estimator.
    max_bins : int, default 255
        Quantile bins per feature (2 to 255), passed to the same estimator: the trees split
        only between bins. Fewer bins make every split search cheaper.
    early_stopping : bool, default True
        Stop adding trees when the loss on a held-out tenth of the training rows (drawn with
        ``random_state``) has not improved for 10 trees; ``max_iter`` is then an upper bound.
        On Toronto it stopped well before 200 trees, and forecast no worse.
    n_threads : int or None, default 1
        OpenMP threads of scikit-learn's tree fitting (set with threadpoolctl during
        :meth:`fit` only); None leaves scikit-learn's default, every core. One thread is the
        default because on a busy machine the waiting threads of OpenMP cost CPU time for
        nothing: fitting a small city's trees took 52 s of CPU on two threads and 5 s on one
        on a loaded 2-core machine (and 8 times less wall time). On an idle machine with many
        cores, ``None`` fits a large city faster in wall time.
    min_events : int, default 50
        Fewest events known before the fit origin, inside the grid's cells, that the model
        trains on; fewer raise :class:`TooLittleDataError` rather than presenting a map of
        noise as a forecast. Lower it knowingly, or use a baseline such as
        :class:`caslite.NaiveCounts`.
    min_exact_times : int, default 100
        Fewest incidents with an exact time (``t_end == t``; not a window such as a date-only
        record or a defaulted 00:00) in the grid's cells during the training span (from the
        earliest training origin to the fit origin) from which the model learns how risk falls
        over the shifts of the day. The time-of-day profile is learnt from those incidents
        only: an incident with a time window is spread over the blocks of its window in
        proportion to the exact-time incidents per hour of each shift
        (:func:`caslite.evaluation.exact_shift_rates`), so a heap of whole-day windows adds
        to every shift its share of the day and moves no risk into the shift of its recorded
        time. With fewer, the forecast is *shift-flat*: each cell's expected incidents over
        the blocks forecast are spread over the shifts in proportion to their hours, and
        :meth:`fit` warns (:class:`caslite.DataQualityWarning`) with the count and this
        threshold. At 100, a shift holding a sixth of the incidents has about 17 of them: its
        share is known to within about a fifth (one standard error, ``sqrt(5 / 100)``); fewer
        would put noise into the shift ranking.
    shift_shrinkage : float in [0, 1] or "auto", default 1.0
        How far each cell's split of risk over the shifts of the day is pulled toward the
        area's, when forecasting. With ``R[s, c]`` the cell's expected incidents in the
        forecast blocks of shift ``s``, ``T[c]`` its total and ``q[s]`` the area's share of
        the shift (cells weighted by their ``w``), the cell's shift gets
        ``(1 - w) R[s, c] + w q[s] T[c]`` (each block of the shift scaled alike): every cell
        keeps its total and every shift its share of the forecast. ``1`` (the default): the
        shift is a factor common to the area, and the hot cells of every block are those of
        the whole horizon, so choosing cells per shift is never worse than the shift-blind
        ranking; ``0``: each cell's own profile as the trees
        learnt it; ``"auto"``: per cell ``w = a / (n_c + a)`` (empirical Bayes), with ``n_c``
        the cell's incidents with an exact time over the training span's length before the
        origin and ``a`` the concentration of the cells' shift profiles around the area's,
        estimated from the same counts (infinite, ``w = 1``, when they vary no more than
        chance). A cell's own split is mostly noise (a busy cell has a dozen exact times in
        three years); the strengths measured on real and simulated data
        (``python -m benchmarks.shift_profile``) are in the model documentation. Applied when
        forecasting: ``set_params(shift_shrinkage=...)`` on a fitted model changes its next
        forecast without a refit.
    discovered : {"keep", "exclude"} or float in [0, 1], default "keep"
        How to treat incidents that patrols found themselves rather than had reported, flagged
        by a boolean column ``discovered`` of the events (:attr:`Events.data`). Counting them
        like reported incidents lets the model's own patrols raise the risk of the cells it
        sent them to: a runaway feedback loop (Ensign et al., 2018;
        :func:`caslite.simulate_feedback`). ``"keep"``: no special treatment (the column is
        not needed); ``"exclude"``: the model learns and forecasts from reported incidents
        only; a number ``p``: each discovered incident is kept with probability ``p`` and
        dropped otherwise, in features and targets alike (thinning, the correction of Ensign
        et al.; e.g. the share of discoveries a patrol-free cell would have had). Which ones
        are kept is a fixed function of the incident and ``random_state``, so :meth:`update`
        keeps the same ones.
    progress : bool, default False
        Show tqdm progress bars while :meth:`fit` runs: over the training origins as it
        builds the training rows, then over the trees (one step per boosting iteration of
        each bag; trees that early stopping leaves out are taken off the total); and log a
        summary of the training set to the ``caslite`` logger at INFO level.
    random_state : int, numpy Generator or None, default None
        Seeds the negative subsampling, the thinning of discovered incidents and the tree
        ensemble. Same seed, same data: the same model and forecasts.

    Attributes
    ----------
    estimators_ : list of HistGradientBoostingRegressor or HistGradientBoostingClassifier
        The ``n_bags`` fitted ensembles; their ``feature_names_in_`` are the feature names.
    estimator_ : HistGradientBoostingRegressor or HistGradientBoostingClassifier
        The first of ``estimators_`` (the only one when ``n_bags=1``).
    feature_names_ : list of str
        Names of the features, in column order.
    features_ : FeatureBuilder
        The builder used.
    schedule_ : ShiftSchedule
        The shifts.
    fit_origin_ : int
        Fit origin, UTC seconds: the trees have seen only events known before it.
    origin_ : int
        Forecast origin, UTC seconds: the fit origin, or a later one set by :meth:`update`.
    events_ : Events
        The events known before ``origin_``, from which forecasts compute their features.
    grid_ : Grid
        The grid.
    block_model_ : dict or None
        The block profile of the two-stage fit (``interactions="additive"``,
        ``loss="poisson"``): ``intercept`` and ``coef`` of the area's log expected events per
        block, ``n_shifts``, and ``season`` (whether the day-of-year terms are in); None for
        the other fits.
    training_ : dict
        How the model was trained: ``origins`` (UTC seconds), ``n_rows``, ``n_positive``
        (training rows with an event), ``negative_rate``, ``events`` (used), ``first_event``,
        ``last_event``, ``n_bags``, ``bag_rows`` (the training rows of each ensemble; rows
        drawn by several share one copy of their features), ``discovered_dropped``
        (discovered incidents left out under ``discovered``), ``rows`` (``"origin, shift,
        cell"`` for the two-stage fit, ``"origin, block, cell"`` otherwise), ``exact_times``
        (incidents with an exact time in the training span, see ``min_exact_times``),
        ``shift_rates`` (their rate per hour of each shift, summing to 1: the time-of-day
        profile windows are spread by) and ``shift_flat`` (whether the forecast is shift-flat).

    Examples
    --------
    >>> from shapely.geometry import box
    >>> from caslite import Events, Grid
    >>> from caslite.datasets import simulate_city
    >>> city = simulate_city(start="2023-01-01", end="2024-01-01", size=2000.0,
    ...                      background_rate=6.0, random_state=1)
    >>> events = Events.from_frame(city.events, crs=city.crs, tz=city.tz)
    >>> grid = Grid.from_area(box(*city.bounds), cell_size=250.0, crs=city.crs)
    >>> model = RiskModel(max_iter=20, random_state=0).fit(events, grid, origin="2023-12-01")
    >>> forecast = model.forecast()
    >>> forecast.risk.shape  # 84 four-hour blocks x 64 cells
    (84, 64)
    """

    def __init__(
        self,
        *,
        features=None,
        schedule=None,
        horizon="14D",
        train_step="auto",
        train_span="1095D",
        warmup="182D",
        loss="poisson",
        interactions="additive",
        negative_rate="auto",
        negative_sampling="importance",
        max_negatives=200_000,
        n_bags=1,
        max_iter=200,
        learning_rate=0.05,
        max_leaf_nodes=31,
        max_bins=255,
        min_samples_leaf=40,
        l2_regularization=1.0,
        early_stopping=True,
        n_threads=1,
        min_events=50,
        min_exact_times=100,
        shift_shrinkage=1.0,
        discovered="keep",
        progress=False,
        random_state=None,
    ):
        self.features = features
        self.schedule = schedule
        self.horizon = horizon
        self.train_step = train_step
        self.train_span = train_span
        self.warmup = warmup
        self.loss = loss
        self.interactions = interactions
        self.negative_rate = negative_rate
        self.negative_sampling = negative_sampling
        self.max_negatives = max_negatives
        self.n_bags = n_bags
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.max_bins = max_bins
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.early_stopping = early_stopping
        self.n_threads = n_threads
        self.min_events = min_events
        self.min_exact_times = min_exact_times
        self.shift_shrinkage = shift_shrinkage
        self.discovered = discovered
        self.progress = progress
        self.random_state = random_state

    # ------------------------------------------------------------------ fit
    def fit(self, events, grid, *, origin):
        """Train on the events known before ``origin``.

        Parameters
        ----------
        events : Events
            All incidents; those not known before the origin are ignored.
        grid : Grid
            The cells; its CRS must equal the events'.
        origin : str, datetime or int
            Fit origin, the first moment the model may not know about; naive values are
            local time of the events.

        Returns
        -------
        self

        Raises
        ------
        TooLittleDataError
            If no training origin fits between ``warmup`` after the first event and the
            origin, or the training horizons hold no event.
        """
        self._check_params()
        check_instant(origin, "origin")
        self._check_fit_input(events, grid)
        builder = self.features if self.features is not None else FeatureBuilder()
        if not isinstance(builder, FeatureBuilder):
            raise TypeError(f"features must be a FeatureBuilder, got {type(builder).__name__}.")
        schedule = self._schedule_for(events)
        o = self._origin_seconds(origin, events)
        rng = np.random.default_rng(self.random_state)
        thinning_seed = int(rng.integers(2**63)) if not isinstance(self.discovered, str) else None
        known, dropped = _reported(events.before(o), self.discovered, thinning_seed)
        origins = self._training_origins(known, schedule, o)
        horizons = [schedule.horizon(int(ok), self.horizon) for ok in origins]
        rates, n_exact = self._time_of_day(known, grid, schedule, int(origins.min()), o)
        shift_flat = n_exact < self.min_exact_times
        exposure = self._uses_exposure()
        spread = None if shift_flat else rates  # how windows are spread over the blocks
        targets = _count_targets(known, grid, horizons, spread, by_shift=exposure)
        self._check_enough(targets, known, grid, len(origins))
        block_model, shift_exposure = None, None
        if exposure:
            block_model, shift_exposure = _block_profile(
                builder, known, grid, schedule, origins, horizons, targets.block_totals
            )
        draw = self._negative_draw(targets, known, grid, origins, horizons, shift_exposure)
        rows = _sample_rows(targets, draw, shift_exposure, grid.n_cells, int(self.n_bags), rng)
        X = self._training_matrix(builder, known, grid, schedule, origins, horizons, rows.picked)
        if self.progress:
            logger.info(
                "RiskModel: %d training rows (%d with events) from %d origins, %d events; "
                "fitting %d trees",
                rows.y.size,
                targets.n_positive,
                len(origins),
                len(known),
                self.max_iter,
            )
        # Unit weights are passed as None: scikit-learn bins weighted data much more slowly.
        unweighted = draw.rate == 1.0 and not exposure and not draw.importance
        estimators, scorers = self._fit_ensembles(builder, X, rows, unweighted, rng)

        self.estimators_ = estimators
        self.estimator_ = estimators[0]
        self._scorers = scorers
        self.feature_names_ = list(builder.feature_names_)
        self.features_ = builder
        self.schedule_ = schedule
        self.fit_origin_ = o
        self.origin_ = o
        self.events_ = known
        self.grid_ = grid
        self.thinning_seed_ = thinning_seed
        self.block_model_ = block_model
        self.training_ = {
            "origins": np.asarray(origins, dtype=np.int64),
            "n_rows": int(rows.y.size),
            "n_positive": targets.n_positive,
            "negative_rate": float(draw.rate),
            "negative_sampling": "importance" if draw.importance else "uniform",
            "n_bags": len(rows.bag_rows),
            "bag_rows": np.array(
                [sum(r.size for r in rows_b) for rows_b in rows.bag_rows], dtype=np.int64
            ),
            "events": len(known),
            "first_event": int(known.t.min()),
            "last_event": int(known.t.max()),
            "scorer": "sklearn" if scorers[0] is None else "compiled",
            "discovered_dropped": dropped,
            "rows": "origin, shift, cell" if exposure else "origin, block, cell",
            "exact_times": n_exact,
            "shift_rates": rates,
            "shift_flat": bool(shift_flat),
        }
        return self

    def _time_of_day(self, known, grid, schedule, start: int, o: int):
        """Return the exact-time incidents' rate per hour of each shift, and their number.

        Warns when they are fewer than ``min_exact_times`` (the forecast is then shift-flat).
        """
        rates, n_exact = exact_shift_rates(known, grid, schedule, start=start, end=o)
        if n_exact < self.min_exact_times:
            warn_user(
                f"only {n_exact} of the incidents in the grid's cells during the training span "
                f"(from {_local(start, known.tz)} to the origin) have an exact "
                f"time; the model needs min_exact_times={self.min_exact_times} of them to learn "
                "how risk falls over the shifts of the day, so the forecast is shift-flat: each "
                "cell's risk is spread over the shifts in proportion to their hours. Give "
                "incidents with their times of day, or lower min_exact_times= knowingly."
            )
        return rates, n_exact

    def _check_enough(self, targets, known, grid, n_origins: int) -> None:
        """Raise TooLittleDataError if the targets hold no event or the events are too few."""
        if targets.n_positive == 0:
            raise TooLittleDataError(
                f"none of the {len(known)} events known before the origin falls in a cell of the "
                f"grid during the {n_origins} training horizons; there is nothing to learn. "
                "Check that the grid covers the events, or give more history."
            )
        n_inside = int(np.count_nonzero(grid.cell_of(known.x, known.y) >= 0))
        if n_inside < self.min_events:
            raise TooLittleDataError(
                f"found {n_inside} events known before the origin in the grid's cells "
                f"({len(known)} in all); the model needs at least {self.min_events} events "
                f"(min_events={self.min_events}) to learn more than noise. Give more history or "
                "a larger area, pool quiet categories, lower min_events=, or use a baseline "
                "such as caslite.NaiveCounts."
            )

    def _negative_draw(self, targets, known, grid, origins, horizons, shift_exposure):
        """How the event-free rows are drawn: the rate, and each row's prior if by importance.

        ``shift_exposure`` is the two-stage fit's expected events per shift of each training
        horizon (None for the other fits: every block then has the prior 1).
        """
        n_negative = int(targets.sizes.sum()) - targets.n_positive
        rate = self._negative_rate(n_negative)
        if self.negative_sampling != "importance" or rate >= 1.0:
            return _NegativeDraw(rate)
        activity = _Activity(known, grid)  # each row's prior expected events, up to a factor
        priors = []
        for k, (ok, h) in enumerate(zip(origins, horizons, strict=True)):
            per_row = shift_exposure[k] if shift_exposure is not None else np.ones(len(h))
            priors.append((per_row, activity.at(int(ok))))
        compact = _compact_priors(priors, targets.nonzero)  # once, for every bisection step
        scale = _importance_scale(compact, rate * n_negative)
        rate = min(1.0, _kept(*compact, scale) / max(n_negative, 1))
        return _NegativeDraw(rate, priors, scale)

    def _training_matrix(self, builder, known, grid, schedule, origins, horizons, picked):
        """Return the drawn rows' features: one matrix, filled origin by origin (no copy).

        ``picked`` holds each training origin's rows: ``block * n_cells + cell`` (``shift``
        instead of ``block`` in the two-stage fit, whose rows see no other block feature).
        """
        X = np.empty((sum(r.size for r in picked), len(builder.feature_names_)), dtype=np.float64)
        exposure = self._uses_exposure()
        reference = _shift_reference(builder, schedule.n_shifts) if exposure else None
        bar = _tqdm(self.progress)(
            zip(origins, horizons, picked, strict=True),
            total=len(origins),
            disable=not self.progress,
            desc="training rows",
            unit="origin",
        )
        # features of the drawn rows' cells only, computed for all origins in one pass
        chosen = [np.unique(rows % grid.n_cells) for rows in picked]
        features = builder.origin_features(known, grid, schedule, origins, cells=chosen)
        start = 0
        for (ok, blocks, rows), ids, (cell_feats, shift_feats) in zip(
            bar, chosen, features, strict=True
        ):
            block_index, cell_index = np.divmod(rows, grid.n_cells)
            block_feats = reference if exposure else builder.block_features(blocks, int(ok), grid)
            builder._rows(  # written in place: no copy of the rows
                cell_feats,
                shift_feats,
                block_feats,
                block_index,
                np.searchsorted(ids, cell_index),
                out=X[start : start + rows.size],
            )
            start += rows.size
        return X

    def _fit_ensembles(self, builder, X, rows, unweighted: bool, rng):
        """Fit one tree ensemble per bag; return them and their compiled scorers (or Nones)."""
        names = builder.feature_names_
        y, w = rows.y, rows.w
        if self.loss == "log_loss":
            y = (y > 0).astype(np.int64)
        n_bags = len(rows.bag_rows)
        estimators, scorers = [], []
        trees = _tqdm(self.progress)(
            total=n_bags * int(self.max_iter),
            disable=not self.progress,
            desc="fitting trees",
            unit="tree",
        )
        for rows_b in rows.bag_rows:
            estimator = self._make_estimator(builder, rng)
            if n_bags == 1:  # every row, without a copy
                frame, y_b, w_b = pd.DataFrame(X, columns=names, copy=False), y, w
            else:
                chosen = np.concatenate(rows_b)
                frame = pd.DataFrame(X[chosen], columns=names, copy=False)
                y_b, w_b = y[chosen], w[chosen]
            with _tree_progress(estimator, trees), _openmp_threads(self.n_threads):
                fit_weighted(estimator, frame, y_b, None if unweighted else w_b)
            estimators.append(estimator)
            with _openmp_threads(self.n_threads):
                sample = frame.iloc[:: max(1, len(frame) // 2000)]
                scorers.append(_compile(estimator, sample, self.loss))
            del frame
        trees.close()
        if any(scorer is None for scorer in scorers):  # one scorer for all bags
            scorers = [None] * n_bags
        return estimators, scorers

    def _check_params(self) -> None:
        check_random_state(self.random_state)
        if self.loss not in ("poisson", "log_loss"):
            raise ValueError(f"loss must be 'poisson' or 'log_loss', got {self.loss!r}.")
        if self.interactions not in ("additive", "full"):
            raise ValueError(
                f"interactions must be 'additive' or 'full', got {self.interactions!r}."
            )
        _choice_or_share(self.negative_rate, "negative_rate", ("auto",), "(0, 1]", example=None)
        check_int(self.max_negatives, "max_negatives")
        if self.negative_sampling not in ("importance", "uniform"):
            raise ValueError(
                "negative_sampling must be 'importance' or 'uniform', got "
                f"{self.negative_sampling!r}."
            )
        check_int(self.n_bags, "n_bags", example="1 for a single ensemble")
        as_duration(self.horizon, "horizon", minimum=MIN_HORIZON, reason=SHORT_HORIZON)
        as_duration(self.warmup, "warmup")
        self._train_step()
        if self.train_span is not None:
            as_duration(self.train_span, "train_span")
        check_bool(self.early_stopping, "early_stopping")
        if self.n_threads is not None:
            check_int(self.n_threads, "n_threads", example="None for every core")
        check_bool(self.progress, "progress")
        check_int(self.min_events, "min_events")
        check_int(self.min_exact_times, "min_exact_times", minimum=0)
        _choice_or_share(
            self.shift_shrinkage,
            "shift_shrinkage",
            ("auto",),
            "[0, 1]",
            what="a number",
            example="0.5, halfway from each cell's own shift profile (0) to the area's (1)",
        )
        _choice_or_share(
            self.discovered,
            "discovered",
            ("keep", "exclude"),
            "[0, 1]",
            example="0.8 to keep 80% of the discovered incidents",
        )

    def _uses_exposure(self) -> bool:
        """Whether the fit is the two-stage one: block profile, then cells with exposure."""
        return self.interactions == "additive" and self.loss == "poisson"

    def _train_step(self) -> pd.Timedelta:
        if isinstance(self.train_step, str) and self.train_step == "auto":
            horizon = as_duration(self.horizon, "horizon")
            return min(max(horizon, pd.Timedelta(days=1)), pd.Timedelta(days=7))
        return as_duration(self.train_step, "train_step")

    def _schedule_for(self, events) -> ShiftSchedule:
        if self.schedule is None:
            return ShiftSchedule.every(4, tz=events.tz)
        if not isinstance(self.schedule, ShiftSchedule):
            raise TypeError(
                f"schedule must be a ShiftSchedule, got {type(self.schedule).__name__}."
            )
        return self.schedule

    def _training_origins(self, known, schedule, o) -> np.ndarray:
        """Training origins, latest first: each horizon ends by ``o``."""
        horizon = as_duration(self.horizon, "horizon")
        step = int(self._train_step().total_seconds())
        warmup = int(as_duration(self.warmup, "warmup").total_seconds())
        if len(known) == 0:
            raise TooLittleDataError(
                "no event is known before the origin; the model needs at least "
                f"{_days(warmup)} of history plus one {self.horizon} horizon."
            )
        earliest = int(known.t.min()) + warmup
        if self.train_span is not None:
            span = int(as_duration(self.train_span, "train_span").total_seconds())
            earliest = max(earliest, o - span)
        latest = o - int(horizon.total_seconds())
        excess = int(schedule.horizon(latest, self.horizon).end.max()) - o
        if excess > 0:  # a horizon across a clock change can be an hour longer
            latest -= excess
        if latest < earliest:
            have = (o - int(known.t.min())) / DAY
            raise TooLittleDataError(
                f"the events known before the origin span {have:.0f} days; the model needs "
                f"at least {_days(warmup)} of warm-up plus one {self.horizon} horizon "
                f"({_days(warmup + int(horizon.total_seconds()))}). Give more history, or "
                "lower warmup= / horizon=."
            )
        candidates = np.arange(latest, earliest - 1, -step, dtype=np.int64)
        return _on_wall_clock(candidates, o, horizon, step, schedule)

    def _negative_rate(self, n_negative: int) -> float:
        if isinstance(self.negative_rate, str):
            per_bag = self.max_negatives / self.n_bags
            return float(min(1.0, per_bag / max(n_negative, 1)))
        return float(self.negative_rate)

    def _make_estimator(self, builder, rng):
        names = builder.feature_names_
        constraints = None
        if self.interactions == "additive" and not self._uses_exposure():
            block = [i for i, n in enumerate(names) if n in _block_group(builder)]
            cell = [i for i in range(len(names)) if i not in block]
            constraints = [cell, block]
        seed = int(rng.integers(2**31 - 1))
        common = {
            "max_iter": self.max_iter,
            "learning_rate": self.learning_rate,
            "max_leaf_nodes": self.max_leaf_nodes,
            "max_bins": self.max_bins,
            "min_samples_leaf": self.min_samples_leaf,
            "l2_regularization": self.l2_regularization,
            "interaction_cst": constraints,
            "early_stopping": bool(self.early_stopping),
            "random_state": seed,
        }
        if self.loss == "log_loss":
            return HistGradientBoostingClassifier(loss="log_loss", **common)
        return HistGradientBoostingRegressor(loss="poisson", **common)

    # ------------------------------------------------------------------ predict
    def predict(self, blocks) -> np.ndarray:
        """Return the expected events per block and cell.

        Parameters
        ----------
        blocks : Blocks
            Blocks starting at or after the fit origin, from the model's schedule
            (e.g. ``model.schedule_.horizon(origin, "14D")``).

        Returns
        -------
        ndarray of shape (len(blocks), grid.n_cells)
            The expected count (``loss="poisson"``), or ``-log(1 - p)`` for the probability
            ``p`` of at least one event (``loss="log_loss"``), so that risk is always an
            expected count under a Poisson model.
        """
        return np.exp(self.predict_log_rate(blocks))

    def predict_log_rate(self, blocks) -> np.ndarray:
        """Return the log expected count per block and cell: the log of :meth:`predict`.

        With one ensemble (``n_bags=1``) and ``loss="poisson"`` this is the ensemble's raw
        score; for ``loss="log_loss"`` the probability ``p`` is turned into ``log(-log(1 -
        p))``. With several, it is the log of the mean of their expected counts.

        Parameters
        ----------
        blocks : Blocks
            As for :meth:`predict`.

        Returns
        -------
        ndarray of shape (len(blocks), grid.n_cells)
        """
        check_is_fitted(self, "estimator_")
        n_cells = self.grid_.n_cells
        if len(blocks) == 0:
            self._design_parts(blocks)  # validates the blocks
            return np.empty((0, n_cells))
        out = self._log_rate_of(blocks)
        if self.training_.get("shift_flat", False):
            out = _shift_flat(out, blocks)
        else:
            strength = self._shift_strength()
            if np.any(strength > 0):
                # the split over the shifts is that of the model's own horizon from the
                # origin, so a block's forecast does not depend on the other blocks asked for
                reference = self.schedule_.horizon(self.origin_, self.horizon)
                same = len(reference) == len(blocks) and np.array_equal(reference.ids, blocks.ids)
                base = out if same else self._log_rate_of(reference)
                out = out + _shift_profile_factor(base, reference, strength)[blocks.shift]
        return out

    def _log_rate_of(self, blocks) -> np.ndarray:
        """Return the ensembles' log expected count per block and cell, before shift rescaling."""
        cell_feats, shift_feats, block_feats = self._design_parts(blocks)
        if self.interactions == "full":
            return self._log_rate_full(cell_feats, shift_feats, block_feats)
        return self._log_rate_additive(cell_feats, shift_feats, block_feats)

    def _shift_strength(self) -> np.ndarray:
        """How far each cell's shift profile is pulled toward the area's (``shift_shrinkage``).

        For ``"auto"``: ``a / (n_c + a)``, with ``n_c`` the cell's incidents with an exact time
        over the training span's length before the origin and ``a`` the concentration of the
        cells' shift profiles (:func:`_profile_concentration`) estimated from the same counts.
        """
        n_cells = self.grid_.n_cells
        if not (isinstance(self.shift_shrinkage, str) and self.shift_shrinkage == "auto"):
            return np.full(n_cells, float(self.shift_shrinkage))
        span = self.fit_origin_ - int(self.training_["origins"].min())
        counts = _exact_shift_counts(
            self.events_, self.grid_, self.schedule_, self.origin_ - span, self.origin_
        )
        a = _profile_concentration(counts)
        if np.isinf(a):
            return np.ones(n_cells)
        return a / (counts.sum(axis=0) + a)

    def _design_parts(self, blocks):
        if not isinstance(blocks, Blocks):
            raise TypeError(f"blocks must be caslite Blocks, got {type(blocks).__name__}.")
        if blocks.schedule != self.schedule_:
            raise ValueError(
                f"blocks come from {blocks.schedule!r} but the model was fitted with "
                f"{self.schedule_!r}; use model.schedule_.horizon(origin)."
            )
        builder, grid, o = self.features_, self.grid_, self.origin_
        block_feats = builder.block_features(blocks, o, grid)  # refuses blocks before o
        cell_feats = builder.cell_features(self.events_, grid, o).to_numpy()
        shift_feats, _ = builder.shift_features(self.events_, grid, self.schedule_, o)
        return cell_feats, shift_feats, block_feats

    def _area_level(self) -> np.ndarray | None:
        """Return the area's level at the origin, for the block profile of a two-stage fit."""
        if getattr(self, "block_model_", None) is None:
            return None
        return _LevelCounter(self.events_, self.grid_).at(self.origin_)

    def _members(self) -> list:
        """Return the ensembles, each as (estimator, compiled scorer or None)."""
        return list(zip(self.estimators_, self._scorers, strict=True))

    def _raw(self, member, X: np.ndarray, profile) -> np.ndarray:
        """One ensemble's raw score of rows, plus ``profile`` (:meth:`_profile`, or 0)."""
        estimator, compiled = member
        if compiled is not None:
            out = compiled.raw(X)
        else:
            out = np.empty(X.shape[0])
            frame_columns = self.feature_names_
            for lo in range(0, X.shape[0], _CHUNK_ROWS):
                chunk = pd.DataFrame(X[lo : lo + _CHUNK_ROWS], columns=frame_columns)
                out[lo : lo + _CHUNK_ROWS] = _sklearn_raw(estimator, chunk, self.loss)
        return out + profile

    def _profile(self, X: np.ndarray, level: np.ndarray | None):
        """Return the block profile's term of rows in a two-stage fit (0 otherwise).

        ``level`` is :meth:`_area_level`, computed once by the caller.
        """
        model = getattr(self, "block_model_", None)
        if model is None:
            return 0.0
        names = self.features_.block_feature_names_
        at = [self.feature_names_.index(n) for n in names]
        return _block_term(model, pd.DataFrame(X[:, at], columns=names), level)

    def _to_log_rate(self, raw: np.ndarray) -> np.ndarray:
        """Return an ensemble's raw score as a log expected count."""
        if self.loss != "log_loss":
            return raw
        p = 1.0 / (1.0 + np.exp(-raw))
        return np.log(-np.log1p(-np.minimum(p, 1.0 - 1e-12)))

    def _log_rate_rows(self, X: np.ndarray, level: np.ndarray | None) -> np.ndarray:
        """Log of the ensembles' mean expected count, per row."""
        profile = self._profile(X, level)
        rates = [self._to_log_rate(self._raw(m, X, profile)) for m in self._members()]
        return _log_mean_exp(rates)

    def _log_rate_full(self, cell_feats, shift_feats, block_feats) -> np.ndarray:
        builder = self.features_
        n_blocks, n_cells = len(block_feats), cell_feats.shape[0]
        out = np.empty((n_blocks, n_cells))
        level = self._area_level()
        per_chunk = max(1, _CHUNK_ROWS // max(n_cells, 1))
        cells = np.arange(n_cells)
        for lo in range(0, n_blocks, per_chunk):
            b = np.arange(lo, min(lo + per_chunk, n_blocks))
            X = builder.rows(
                cell_feats, shift_feats, block_feats, np.repeat(b, n_cells), np.tile(cells, b.size)
            )
            out[b] = self._log_rate_rows(X, level).reshape(b.size, n_cells)
        return out

    def _log_rate_additive(self, cell_feats, shift_feats, block_feats) -> np.ndarray:
        """``F(cell, shift) + G(block)`` per ensemble, exact under the interaction constraints.

        For each shift ``s`` a reference block ``r_s`` of that shift gives
        ``A[s, c] = F(c, s) + G(r_s)``; cell 0 in every block gives
        ``F(0, s(b)) + G(b)``; their difference from ``A[s(b), 0]`` is ``G(b) - G(r_s)``.
        Cells whose features equal those of a cell without any history share one row.

        In the two-stage fit ``G`` is the block profile, shared by all ensembles, so their
        mean expected count is ``exp(G(b) - G(r_s))`` times the mean of ``exp(A)``: one table
        of shifts by cells is averaged. Otherwise each ensemble's whole horizon is.
        """
        builder = self.features_
        n_cells = cell_feats.shape[0]
        shift_of_block = block_feats["shift"].to_numpy().astype(np.int64)
        shifts, reference = np.unique(shift_of_block, return_index=True)
        position = np.searchsorted(shifts, shift_of_block)
        quiet = self._quiet_cells(cell_feats, shift_feats)
        busy = np.flatnonzero(~quiet)
        first_quiet = np.flatnonzero(quiet)[:1]
        scored = np.concatenate([busy, first_quiet])
        level = self._area_level()
        X0 = builder.rows(
            cell_feats,
            shift_feats,
            block_feats,
            np.arange(len(block_feats)),
            np.zeros(len(block_feats), dtype=np.int64),
        )
        members = self._members()
        tables = [np.empty((shifts.size, n_cells)) for _ in members]
        for i, r in enumerate(reference):  # each shift's rows built once, for every ensemble
            X = builder.rows(cell_feats, shift_feats, block_feats, np.full(scored.size, r), scored)
            profile = self._profile(X, level)
            for member, table in zip(members, tables, strict=True):
                raw = self._raw(member, X, profile)
                table[i, busy] = raw[: busy.size]
                if first_quiet.size:
                    table[i, quiet] = raw[-1]
            del X
        profile = self._profile(X0, level)
        block_terms = [
            self._raw(member, X0, profile) - table[position, 0]
            for member, table in zip(members, tables, strict=True)
        ]
        if self._uses_exposure():  # the block term is the shared profile's
            return _log_mean_exp(tables)[position] + block_terms[0][:, np.newaxis]
        return _log_mean_exp(
            [
                self._to_log_rate(table[position] + term[:, np.newaxis])
                for table, term in zip(tables, block_terms, strict=True)
            ]
        )

    def _quiet_cells(self, cell_feats, shift_feats) -> np.ndarray:
        """Cells whose cell and shift features equal those of a cell with no history."""
        builder = self.features_
        if builder.point_layers or builder.polygon_layers:
            return np.zeros(cell_feats.shape[0], dtype=bool)
        grid = self.grid_
        lone = Grid(
            x0=grid.x0, y0=grid.y0, cell_size=grid.cell_size, n_cols=1, n_rows=1, crs=grid.crs
        )
        nothing = self.events_.select(np.zeros(len(self.events_), dtype=bool))
        empty_cell = builder.cell_features(nothing, lone, self.origin_).to_numpy()[0].copy()
        # a cell without history has no incident of an event layer either
        layer_cell = np.array([n.startswith("ev_") for n in builder.cell_feature_names_])
        empty_cell[layer_cell] = 0.0
        empty_shift, _ = builder.shift_features(nothing, lone, self.schedule_, self.origin_)
        # Smoothed counts and shrunk shift shares of a cell without history depend on the
        # rest of the area: such a cell is a candidate, and the cells sharing every feature
        # value with the first candidate share its row.
        area_cell = np.array([n.startswith("kde_") for n in builder.cell_feature_names_])
        area_shift = np.array(
            [
                n.startswith(("shift_share_", "shift_ratio_kde_"))
                for n in builder.shift_feature_names_
            ],
            dtype=bool,
        )
        candidate = np.all((cell_feats == empty_cell) | area_cell, axis=1)
        candidate &= np.all((shift_feats == empty_shift[:, :1]) | area_shift, axis=(0, 2))
        first = np.flatnonzero(candidate)[:1]
        if not first.size or not (area_cell.any() or area_shift.any()):
            return candidate
        r = int(first[0])
        quiet = candidate & np.all(cell_feats == cell_feats[r], axis=1)
        quiet &= np.all(shift_feats == shift_feats[:, r : r + 1], axis=(0, 2))
        return quiet

    def update(self, events, *, origin):
        """Move the forecast origin forward, keeping the trees: fit rarely, forecast often.

        The features of later forecasts are computed from ``events`` known before the new
        ``origin``; the trees stay those fitted at ``fit_origin_``, so they still use nothing
        at or after it. A planner can refit monthly and forecast every day.

        Parameters
        ----------
        events : Events
            All incidents (same CRS as the grid); those not known before ``origin`` are
            ignored.
        origin : str, datetime or int
            The new forecast origin, at or after ``fit_origin_``.

        Returns
        -------
        self
        """
        check_is_fitted(self, "estimator_")
        if not isinstance(events, Events):
            raise TypeError(f"events must be caslite Events, got {type(events).__name__}.")
        check_same_crs(events.crs, self.grid_.crs, "events", "the model's grid")
        o = int(to_utc_seconds(origin, events.tz, "origin"))
        if o < self.fit_origin_:
            raise ValueError(
                f"origin {origin} is before the fit origin of the model; its trees have seen "
                "events after it, so its forecast would leak. Fit a model at or before that "
                "origin instead."
            )
        self.origin_ = o
        self.events_, _ = _reported(events.before(o), self.discovered, self.thinning_seed_)
        return self

    # ------------------------------------------------------------------ forecast
    def forecast(self, blocks=None, *, horizon=None):
        """Forecast every cell and block of a horizon from the fit origin.

        Parameters
        ----------
        blocks : Blocks, optional
            The blocks; default the horizon of the fit origin.
        horizon : str, optional
            Length of the default horizon; default the model's ``horizon``.

        Returns
        -------
        caslite.Forecast
        """
        from caslite.forecast import Forecast

        check_is_fitted(self, "estimator_")
        if blocks is None:
            blocks = self.schedule_.horizon(self.origin_, horizon or self.horizon)
        risk = self.predict(blocks)
        return Forecast(risk, blocks, self.grid_, origin=self.origin_, model=self)

    # ------------------------------------------------------------------ explain
    def explain(self, cells, block=0, *, blocks=None, reference="median") -> pd.DataFrame:
        """Which features raise (or lower) a cell's risk, by replacing one feature at a time.

        For each chosen cell and each feature, the feature's value is replaced by the
        reference value (the median over the grid's cells, or zero) and the change in the
        log-rate is recorded: ``contribution = log_rate(actual) - log_rate(replaced)``. A
        positive contribution means the feature's value raised the risk. This is a one-at-a-time
        sensitivity, not an additive decomposition: contributions need not sum to the total.

        Parameters
        ----------
        cells : int or array-like of int
            Cell ids to explain.
        block : int, default 0
            Position of the block in ``blocks``.
        blocks : Blocks, optional
            Default the horizon of the fit origin.
        reference : {"median", "zero"}, default "median"
            The value each feature is replaced by. With ``"zero"``, ``block_hours`` keeps its
            own value (a block of no length has no risk at all).

        Returns
        -------
        pandas.DataFrame
            One row per (cell, feature), columns ``cell_id``, ``feature``, ``value``,
            ``reference``, ``contribution``; sorted by cell and descending contribution.
        """
        check_is_fitted(self, "estimator_")
        if reference not in ("median", "zero"):
            raise ValueError(f"reference must be 'median' or 'zero', got {reference!r}.")
        if blocks is None:
            blocks = self.schedule_.horizon(self.origin_, self.horizon)
        cell_feats, shift_feats, block_feats = self._design_parts(blocks)
        if not 0 <= int(block) < len(blocks):
            raise ValueError(f"block must lie in 0 .. {len(blocks) - 1}, got {block!r}.")
        chosen = np.atleast_1d(np.asarray(cells)).astype(np.int64)
        if chosen.size and (chosen.min() < 0 or chosen.max() >= self.grid_.n_cells):
            raise ValueError(f"cells must be cell ids in 0 .. {self.grid_.n_cells - 1}.")
        builder = self.features_
        X = builder.rows(
            cell_feats, shift_feats, block_feats, np.full(chosen.size, int(block)), chosen
        )
        everything = builder.rows(
            cell_feats,
            shift_feats,
            block_feats,
            np.full(self.grid_.n_cells, int(block)),
            np.arange(self.grid_.n_cells),
        )
        if reference == "median":
            ref = np.median(everything, axis=0)
        else:
            ref = np.zeros(X.shape[1])
            hours = self.feature_names_.index("block_hours")
            ref[hours] = everything[0, hours]
        k = X.shape[1]
        replaced = np.repeat(X, k, axis=0)
        j = np.tile(np.arange(k), chosen.size)
        replaced[np.arange(replaced.shape[0]), j] = ref[j]
        level = self._area_level()
        base = self._log_rate_rows(X, level)
        changed = self._log_rate_rows(replaced, level).reshape(chosen.size, k)
        frame = pd.DataFrame(
            {
                "cell_id": np.repeat(chosen, k),
                "feature": np.tile(np.array(self.feature_names_, dtype=object), chosen.size),
                "value": X.ravel(),
                "reference": np.tile(ref, chosen.size),
                "contribution": (base[:, np.newaxis] - changed).ravel(),
            }
        )
        frame["_order"] = np.repeat(np.arange(chosen.size), k)
        frame = frame.sort_values(
            ["_order", "contribution"], ascending=[True, False], kind="stable"
        )
        return frame.drop(columns="_order").reset_index(drop=True)

    # ------------------------------------------------------------------ stored form
    #: Fitted attributes of the stored form; a model with any other is not stored, so that
    #: nothing its forecasts depend on is left out of a file silently.
    _STORED_ATTRIBUTES = frozenset(
        {
            "estimator_",
            "estimators_",
            "_scorers",
            "feature_names_",
            "features_",
            "schedule_",
            "fit_origin_",
            "origin_",
            "events_",
            "grid_",
            "training_",
            "thinning_seed_",
            "block_model_",
        }
    )
    #: The longest horizon a stored model may have (forecasts are for days to weeks).
    _MAX_STORED_HORIZON = pd.Timedelta(days=366)

    def to_dict(self) -> dict:
        """Return the fitted model's state, the form that :meth:`from_dict` rebuilds it from.

        :func:`caslite.save_model` writes it to a file: plain values as JSON, arrays as
        arrays, and the feature builder, schedule, events and grid each in its own form.

        Returns
        -------
        dict
            ``params`` (``get_params(deep=False)``), ``features`` (``features_``),
            ``feature_names``, ``schedule`` (``schedule_``), ``fit_origin``, ``origin``,
            ``thinning_seed``, ``block_model`` (plain numbers or None), ``training`` (a copy of
            ``training_``), ``trees`` (per ensemble of ``estimators_``: the flattened tree
            ``arrays``, ``baseline``, ``n_trees``, ``estimator`` (class name) and
            ``estimator_params`` (a JSON-ready record)), ``events`` (``events_``) and
            ``grid`` (``grid_``).

        Raises
        ------
        TypeError
            If the model is not fitted, or has fitted attributes the stored form does not hold.
        ValueError
            If the model is not scored by the compiled scorer (its trees could not be stored
            as plain arrays that reproduce its forecasts exactly).
        """
        if not hasattr(self, "estimator_"):
            raise TypeError("the model is not fitted; call fit(events, grid, origin=...) first.")
        unknown = sorted(
            set(vars(self)) - self._STORED_ATTRIBUTES - set(self.get_params(deep=False))
        )
        if unknown:
            raise TypeError(
                f"the model has fitted attributes {unknown} that save_model does not know how "
                "to store; its forecasts might depend on them, so it is not saved."
            )
        scorers = getattr(self, "_scorers", None) or [None]
        if (
            any(c is None for c in scorers)
            or self.training_.get("scorer", "compiled") != "compiled"
        ):
            raise ValueError(
                "this model is scored by scikit-learn, not by caslite's compiled scorer, so its "
                "trees cannot be stored as plain arrays that reproduce its forecasts exactly."
            )
        trees = []
        for compiled, estimator in zip(scorers, self.estimators_, strict=True):
            if isinstance(estimator, StoredEnsemble):
                estimator_params = estimator.params
            else:
                estimator_params = {
                    k: record(v) for k, v in estimator.get_params(deep=False).items()
                }
                estimator_params["class"] = type(estimator).__name__
            trees.append(
                {
                    "arrays": compiled.arrays(),
                    "baseline": float(compiled.baseline),
                    "n_trees": int(np.asarray(compiled.roots).size),
                    "estimator": estimator_params.get("class"),
                    "estimator_params": estimator_params,
                }
            )
        return {
            "params": self.get_params(deep=False),
            "features": self.features_,
            "feature_names": list(self.feature_names_),
            "schedule": self.schedule_,
            "fit_origin": int(self.fit_origin_),
            "origin": int(self.origin_),
            "thinning_seed": getattr(self, "thinning_seed_", None),
            "block_model": getattr(self, "block_model_", None),  # plain numbers already
            "training": dict(self.training_),
            "trees": trees,
            "events": self.events_,
            "grid": self.grid_,
        }

    @classmethod
    def from_dict(cls, state: dict) -> RiskModel:
        """Rebuild a fitted model from the state of :meth:`to_dict`, checked.

        Its parameters are validated as a new model's are (and a horizon may be at most 366
        days); each ensemble's trees become a :class:`~caslite.persist.StoredEnsemble`, which
        scores with the same compiled kernel, so the rebuilt model's forecasts equal the
        original's exactly. ``forecast``, ``predict``, ``explain`` and ``update`` work on it.

        Parameters
        ----------
        state : dict
            As returned by :meth:`to_dict` (``estimator`` may be left out of ``trees``; a
            state without ``negative_sampling`` among its parameters was fitted with uniform
            negatives).

        Returns
        -------
        RiskModel

        Raises
        ------
        CasliteFileError
            If the state is inconsistent: parameters the model refuses, a number of ensembles
            other than ``n_bags``, feature names its feature builder does not make, damaged
            tree arrays, origins pandas cannot hold, or a block profile of the wrong shape.
        """
        params = dict(state["params"])
        # states written before importance-weighted negatives were fitted with uniform ones
        params.setdefault("negative_sampling", "uniform")
        members = list(state["trees"])
        if not members or len(members) != params.get("n_bags", len(members)):
            raise CasliteFileError(
                f"the file holds {len(members)} tree ensembles but its model has "
                f"n_bags={params.get('n_bags')!r}."
            )
        model = cls(**params)
        try:
            model._check_params()
        except (TypeError, ValueError) as error:
            raise CasliteFileError(f"the file's model parameters are refused: {error}") from error
        horizon = pd.Timedelta(model.horizon)
        if horizon > cls._MAX_STORED_HORIZON:
            raise CasliteFileError(
                f"the file's model has horizon={model.horizon!r:.40}; a stored horizon may be "
                f"at most {cls._MAX_STORED_HORIZON.days} days (forecasts are for days to "
                "weeks), so the file is damaged or was edited. Refit the model with the "
                "horizon you need."
            )
        features, schedule = state["features"], state["schedule"]
        names = [str(n) for n in state["feature_names"]]
        if not isinstance(features, FeatureBuilder) or not isinstance(schedule, ShiftSchedule):
            raise CasliteFileError("the file's features or schedule have the wrong type.")
        if features.feature_names_ != names:
            raise CasliteFileError(
                f"the file names the features {names}, but its feature builder makes "
                f"{features.feature_names_}."
            )
        ensembles = [
            StoredEnsemble(
                member["arrays"],
                baseline=member["baseline"],
                feature_names=names,
                loss=model.loss,
                params=member.get("estimator_params"),
            )
            for member in members
        ]
        if not isinstance(state["grid"], Grid) or not isinstance(state["events"], Events):
            raise CasliteFileError("the file's grid or events have the wrong type.")
        model.estimators_ = ensembles
        model.estimator_ = ensembles[0]
        model._scorers = list(ensembles)
        model.feature_names_ = names
        model.features_ = features
        model.schedule_ = schedule
        model.fit_origin_ = stored_instant(state["fit_origin"], "fit origin")
        model.origin_ = stored_instant(state["origin"], "origin")
        model.events_ = state["events"]
        model.grid_ = state["grid"]
        model.training_ = dict(state["training"])
        seed = state.get("thinning_seed")
        if seed is not None and not isinstance(seed, int):
            raise CasliteFileError("the file's thinning seed is not an integer.")
        model.thinning_seed_ = seed
        model.block_model_ = cls._stored_block_model(state.get("block_model"), schedule, features)
        return model

    @staticmethod
    def _stored_block_model(value, schedule, features) -> dict | None:
        """Return a stored block profile, checked: plain numbers, the right shape."""
        if value is None:
            return None
        if not isinstance(value, dict) or set(value) != {"intercept", "coef", "n_shifts", "season"}:
            raise CasliteFileError("the file's block profile is not a dict of the expected keys.")
        coef = value["coef"]
        if not isinstance(coef, list) or not all(
            isinstance(c, int | float) and not isinstance(c, bool) for c in coef
        ):
            raise CasliteFileError("the file's block profile coefficients are not numbers.")
        if value["n_shifts"] != schedule.n_shifts or not isinstance(value["season"], bool):
            raise CasliteFileError("the file's block profile does not match its shift schedule.")
        one_block = _shift_reference(features, 1)
        width = _block_design(
            one_block, np.zeros(len(_LEVEL_WEEKS)), value["n_shifts"], value["season"]
        ).shape[1]
        if len(coef) != width:
            raise CasliteFileError(
                f"the file's block profile has {len(coef)} coefficients; its features need {width}."
            )
        values = [float(value["intercept"])] + [float(c) for c in coef]
        if not np.all(np.isfinite(values)):
            raise CasliteFileError("the file's block profile holds a non-finite number.")
        return {
            "intercept": values[0],
            "coef": values[1:],
            "n_shifts": int(value["n_shifts"]),
            "season": value["season"],
        }


def _shift_flat(log_rate: np.ndarray, blocks) -> np.ndarray:
    """Rescale each cell's shifts so that their totals are in proportion to their hours.

    Each cell keeps its total over the blocks, and each shift keeps its variation from block
    to block (day of week, season); only the share of each shift changes.
    """
    rate = np.exp(log_rate)
    n_shifts = blocks.schedule.n_shifts
    per_shift = np.zeros((n_shifts, rate.shape[1]))
    for s in range(n_shifts):
        per_shift[s] = rate[blocks.shift == s].sum(axis=0)
    hours = np.bincount(blocks.shift, (blocks.end - blocks.start) / float(HOUR), minlength=n_shifts)
    wanted = per_shift.sum(axis=0) * (hours / hours.sum())[:, np.newaxis]
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(per_shift > 0, wanted / per_shift, 1.0)
    return log_rate + np.log(factor)[blocks.shift]


def _shrink_shift_profile(log_rate: np.ndarray, blocks, strength) -> np.ndarray:
    """``log_rate`` with each cell's split over the shifts pulled toward the area's."""
    return log_rate + _shift_profile_factor(log_rate, blocks, strength)[blocks.shift]


def _shift_profile_factor(log_rate: np.ndarray, blocks, strength) -> np.ndarray:
    """Log factor (n_shifts, n_cells) pulling each cell's split over the shifts toward the area's.

    With ``R[s, c]`` the cell's expected events in the blocks of shift ``s``, ``T[c]`` its
    total and ``q[s]`` the area's share of shift ``s`` (``sum_c w_c R[s, c] / sum_c w_c
    T[c]``), the cell's shifts get ``(1 - w) R[s, c] + w q[s] T[c]``, ``w`` the strength (one
    number, or one per cell); each block of the shift is scaled alike. Every cell keeps its
    total and every shift its total (so the forecast's shares of the shifts do not change); at
    ``w = 1`` each block ranks the cells as their totals do, when, as in the additive model,
    the blocks of a shift differ by a factor common to all cells.
    """
    rate = np.exp(log_rate)
    n_shifts = blocks.schedule.n_shifts
    per_shift = np.zeros((n_shifts, rate.shape[1]))
    for s in range(n_shifts):
        per_shift[s] = rate[blocks.shift == s].sum(axis=0)
    total = per_shift.sum(axis=0)
    strength = np.broadcast_to(np.asarray(strength, dtype=np.float64), total.shape)
    area = per_shift @ strength  # the area's split, each cell weighted by its strength
    if area.sum() <= 0:
        return np.zeros_like(per_shift)
    wanted = (1.0 - strength) * per_shift + strength * np.outer(area / area.sum(), total)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(per_shift > 0, wanted / per_shift, 1.0)
    return np.log(factor)


def _exact_shift_counts(events, grid, schedule, start: int, end: int) -> np.ndarray:
    """Incidents with an exact time in ``[start, end)`` per shift and cell, (n_shifts, n_cells)."""
    cell = grid.cell_of(events.x, events.y)
    use = (events.t_end == events.t) & (cell >= 0) & (events.t >= start) & (events.t < end)
    shift = schedule.shift_of(schedule.block_of(events.t[use]))
    flat = shift.astype(np.int64) * grid.n_cells + cell[use]
    counts = np.bincount(flat, minlength=schedule.n_shifts * grid.n_cells)
    return counts.reshape(schedule.n_shifts, grid.n_cells).astype(np.float64)


def _profile_concentration(counts: np.ndarray) -> float:
    """Concentration ``a`` of the cells' shift profiles around the area's (method of moments).

    ``counts`` is (n_shifts, n_cells). Under a Dirichlet-multinomial model (each cell's
    profile drawn from a Dirichlet of mean ``q``, the area's shares, and concentration ``a``;
    its ``n_c`` incidents then split over the shifts by that profile) Pearson's statistic of
    a cell, ``sum_s (n_cs - n_c q_s)^2 / (n_c q_s)``, has mean ``(S - 1)(1 + (n_c - 1) rho)``
    with ``rho = 1 / (1 + a)``. Summed over the cells with at least two incidents this gives
    ``rho``, and ``a = (1 - rho) / rho``: inf when the cells vary no more than multinomial
    noise (no cell-specific profile), 0 when every cell keeps to one shift. The posterior
    mean of a cell's profile is then its own shares with weight ``n_c / (n_c + a)``.
    """
    n = counts.sum(axis=0)
    used = counts[:, n >= 2]
    n = n[n >= 2]
    if n.size < 2:
        return np.inf
    q = used.sum(axis=1) / used.sum()
    used, q = used[q > 0], q[q > 0]
    df = q.size - 1
    if df < 1:
        return np.inf
    expected = np.outer(q, n)
    statistic = float(np.sum((used - expected) ** 2 / expected))
    excess = statistic - df * n.size
    if excess <= 0:
        return np.inf
    rho = excess / (df * float(np.sum(n - 1)))
    return 0.0 if rho >= 1 else (1.0 - rho) / rho


def _local(seconds: int, tz) -> str:
    return f"{pd.Timestamp(seconds, unit='s', tz='UTC').tz_convert(tz):%Y-%m-%d}"


def _nonzero(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat positions (ascending) and values of the non-zero entries of ``counts``."""
    flat = counts.ravel()
    index = np.flatnonzero(flat)
    return index, flat[index]


@dataclasses.dataclass
class _Targets:
    """The training rows' targets, sparse, per training origin (latest first)."""

    sizes: np.ndarray  #: rows of each origin: (shifts or blocks) * cells
    nonzero: list  #: each origin's rows with events: flat positions (ascending), counts
    block_totals: list | None  #: the area's events per block (two-stage fit), else None

    @property
    def n_positive(self) -> int:
        return int(sum(index.size for index, _ in self.nonzero))


def _count_targets(known, grid, horizons, spread, *, by_shift: bool) -> _Targets:
    """Count the events of each training horizon per row (``spread``: :func:`count_events`).

    ``by_shift``: rows (shift, cell), each the sum of the shift's blocks, and the area's total
    per block kept for the block profile (the two-stage fit); else rows (block, cell).
    """
    n_cells = grid.n_cells
    if not by_shift:
        sizes = np.array([len(h) * n_cells for h in horizons], dtype=np.int64)
        nonzero = [_nonzero(counts) for counts in _horizon_counts(known, grid, horizons, spread)]
        return _Targets(sizes, nonzero, None)
    n_shifts = horizons[0].schedule.n_shifts
    sizes = np.full(len(horizons), n_shifts * n_cells, dtype=np.int64)
    nonzero, block_totals = [], []
    for h, counts in zip(horizons, _horizon_counts(known, grid, horizons, spread), strict=True):
        block_totals.append(counts.sum(axis=1))
        nonzero.append(_nonzero(_sum_by_shift(counts, h.shift, n_shifts)))
    return _Targets(sizes, nonzero, block_totals)


#: Most values (blocks x cells) of the counts that :func:`_horizon_counts` makes at once (8 MB:
#: on the sample job 2^20 counted fastest, 2^22 and 2^18 took 50 % and 100 % longer).
_RUN_VALUES = 1 << 20


def _horizon_counts(known, grid, horizons, spread):
    """Yield ``count_events(known, grid, h, shift_rates=spread)`` of each horizon ``h``.

    Overlapping training horizons (weekly origins, 14-day horizons: each block in two) are
    counted together: a run of them whose blocks span at most :data:`_RUN_VALUES` counts is
    counted once over its consecutive blocks, and each horizon gets its rows of those
    counts. A block's counts do not depend on the other blocks counted with it (each
    window's weights are normalised over the window's own blocks), so they are the same.
    """
    runs = []  # (first horizon, one past the last, first block id, last block id)
    for i, h in enumerate(horizons):
        ids = h.ids
        if not len(ids) or np.any(np.diff(ids) != 1):
            runs.append((i, i + 1, None, None))  # counted alone
            continue
        lo, hi = int(ids[0]), int(ids[-1])
        if runs and runs[-1][2] is not None:
            first, _, run_lo, run_hi = runs[-1]
            joins = lo <= run_hi + 1 and hi >= run_lo - 1  # overlaps or touches the run
            new_lo, new_hi = min(lo, run_lo), max(hi, run_hi)
            if joins and (new_hi - new_lo + 1) * grid.n_cells <= _RUN_VALUES:
                runs[-1] = (first, i + 1, new_lo, new_hi)
                continue
        runs.append((i, i + 1, lo, hi))
    for first, last, lo, hi in runs:
        if lo is None or last - first == 1:
            for h in horizons[first:last]:
                yield count_events(known, grid, h, shift_rates=spread)
            continue
        run = Blocks(horizons[first].schedule, np.arange(lo, hi + 1, dtype=np.int64))
        counts = count_events(known, grid, run, shift_rates=spread)
        for h in horizons[first:last]:
            yield counts[int(h.ids[0]) - lo : int(h.ids[-1]) - lo + 1]


def _sum_by_shift(counts: np.ndarray, shift: np.ndarray, n_shifts: int) -> np.ndarray:
    """Sum the rows of ``counts`` (blocks, cells) by the shift of each block: (shifts, cells).

    Each shift's blocks are added in their order. When the blocks run through the shifts
    in turn from shift 0 (a horizon from midnight, no clock change), that is a sum over the
    first axis of ``counts`` seen as (days, shifts, cells), without copying rows out.
    """
    days = len(shift) // n_shifts
    if days * n_shifts == len(shift) and np.array_equal(shift, np.tile(np.arange(n_shifts), days)):
        return counts.reshape(days, n_shifts, -1).sum(axis=0)
    out = np.zeros((n_shifts, counts.shape[1]))
    for s in range(n_shifts):  # (a row-wise np.add.at is ~100x slower)
        out[s] = counts[shift == s].sum(axis=0)
    return out


def _block_profile(builder, known, grid, schedule, origins, horizons, block_totals):
    """Fit the block profile of the two-stage fit; return it and the exposures.

    The exposure of a horizon's cell rows is its expected events per shift under the profile.
    """
    level = _LevelCounter(known, grid)
    frames = builder._horizons_block_features(horizons, [int(ok) for ok in origins], grid)
    levels = [level.at(int(ok)) for ok in origins]
    covered = int(horizons[0].end.max()) - int(horizons[-1].start.min())
    season = covered >= 2 * 365 * DAY  # origins are latest first
    designs = [
        _block_design(f, lv, schedule.n_shifts, season)
        for f, lv in zip(frames, levels, strict=True)
    ]  # built once: for the fit, then for the exposures
    block_model = _fit_block_profile(designs, block_totals, schedule.n_shifts, season)
    shift_exposure = []
    for design, h in zip(designs, horizons, strict=True):
        expected = np.exp(_designed_term(block_model, design))
        shift_exposure.append(np.bincount(h.shift, expected, minlength=schedule.n_shifts))
    return block_model, shift_exposure


@dataclasses.dataclass
class _NegativeDraw:
    """How event-free rows are kept: uniformly at ``rate``, or by importance.

    By importance (``priors`` given) row ``i`` of origin ``k`` is kept with probability
    :func:`_keep_probability` of ``priors[k]`` at ``scale``; ``rate`` is then the expected
    share kept.
    """

    rate: float
    priors: list | None = None
    scale: float | None = None

    @property
    def importance(self) -> bool:
        return self.priors is not None

    def keep(self, k: int) -> np.ndarray:
        return _keep_probability(*self.priors[k], self.scale)


@dataclasses.dataclass
class _TrainingRows:
    """The drawn training rows: per origin their positions, then targets and weights of all."""

    picked: list  #: per origin, flat row positions: its rows with events, then the drawn rest
    y: np.ndarray
    w: np.ndarray
    bag_rows: list  #: per bag, per origin, the bag's rows of the training matrix


def _sample_rows(targets, draw, shift_exposure, n_cells, n_bags, rng) -> _TrainingRows:
    """Keep every row with an event and draw event-free ones; weigh the drawn by 1 / p.

    Each bag draws its own event-free rows; rows drawn by several bags are kept once.
    ``shift_exposure`` (two-stage fit): Poisson with exposure ``e`` is fitted as target
    ``y / e`` with weight ``e``.
    """
    bag_rows = [[] for _ in range(n_bags)]  # each bag's rows of X
    picked, ys, ws = [], [], []
    offset = 0
    rate = draw.rate
    for k, (size, (positive, values)) in enumerate(
        zip(targets.sizes, targets.nonzero, strict=True)
    ):
        drawn_by_bag = []
        if draw.importance:  # row i kept with probability p_i, then weighs 1 / p_i
            keep = draw.keep(k)
        for _ in range(n_bags):  # each bag draws its own event-free rows
            if draw.importance:
                drawn = np.flatnonzero(rng.random(size) < keep)
            else:
                n_draw = rng.binomial(size, rate) if rate < 1.0 else size
                drawn = np.sort(rng.choice(size, size=n_draw, replace=False))
            drawn_by_bag.append(drawn[~np.isin(drawn, positive, assume_unique=True)])
        negative = drawn_by_bag[0] if n_bags == 1 else np.unique(np.concatenate(drawn_by_bag))
        for rows_b, drawn in zip(bag_rows, drawn_by_bag, strict=True):
            own = positive.size + np.searchsorted(negative, drawn)
            rows_b.append(offset + np.concatenate([np.arange(positive.size), own]))
        offset += positive.size + negative.size
        rows = np.concatenate([positive, negative])
        picked.append(rows)
        target = np.concatenate([values, np.zeros(negative.size)])
        inverse = 1.0 / keep[negative] if draw.importance else np.full(negative.size, 1 / rate)
        weight = np.concatenate([np.ones(positive.size), inverse])
        if shift_exposure is not None:  # Poisson with exposure e: target y / e, weight e
            e = shift_exposure[k][rows // n_cells]
            target, weight = target / e, weight * e
        ys.append(target)
        ws.append(weight)
    return _TrainingRows(picked, np.concatenate(ys), np.concatenate(ws), bag_rows)


def _tqdm(progress: bool):
    """Return tqdm's notebook-aware bar when progress is shown, else the plain one (disabled)."""
    if progress:
        from tqdm.auto import tqdm
    else:
        from tqdm import tqdm
    return tqdm


def _on_wall_clock(candidates, o, horizon, step, schedule) -> np.ndarray:
    """Put training origins on the fit origin's local time of day when steps are whole days.

    Elapsed-time steps drift by an hour across a clock change, so the training rows would
    start an hour off the block starts (and never have ``lead_days == 0``); whole-day
    horizons and steps are therefore counted in local calendar days, as the schedule does.
    """
    whole_days = horizon % pd.Timedelta(days=1) == pd.Timedelta(0) and step % DAY == 0
    if not whole_days or candidates.size == 0:
        return candidates
    tz = schedule.tz
    local = pd.Timestamp(o, unit="s", tz="UTC").tz_convert(tz).tz_localize(None)
    k = np.arange(candidates.size)
    naive = local - horizon - pd.to_timedelta(k * (step // DAY), unit="D")
    placed = pd.DatetimeIndex(naive).tz_localize(
        tz, ambiguous=np.zeros(k.size, dtype=bool), nonexistent="shift_forward"
    )
    seconds = placed.tz_convert("UTC").as_unit("s").asi8.astype(np.int64)
    return seconds[seconds >= candidates[-1]]


def _log_mean_exp(logs: list) -> np.ndarray:
    """``log(mean(exp(a)))`` over a list of same-shape arrays (the first one if alone)."""
    if len(logs) == 1:
        return logs[0]
    top = functools.reduce(np.maximum, logs)  # (np.maximum.reduce would stack a copy)
    total = np.zeros_like(top)
    for a in logs:
        total += np.exp(a - top)
    return top + np.log(total / len(logs))


@contextlib.contextmanager
def _openmp_threads(n_threads):
    """Limit the OpenMP threads of the calls inside to ``n_threads`` (None: no limit)."""
    if n_threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=int(n_threads), user_api="openmp"):
        yield


class _IterationLines(io.TextIOBase):
    """A text stream that moves a progress bar by one per line ``[i/n] ...``.

    scikit-learn's gradient boosting, with ``verbose=2``, prints one such line per iteration
    to standard output (older versions did at ``verbose=1``, 1.9 does only at 2); other
    lines (binning, the fit time) are dropped.
    """

    _ITERATION = re.compile(r"\s*\[\d+/\d+\]")

    def __init__(self, bar):
        self.bar = bar
        self._pending = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        *lines, self._pending = (self._pending + text).split("\n")
        done = sum(1 for line in lines if self._ITERATION.match(line))
        if done:
            self.bar.update(done)
        return len(text)


@contextlib.contextmanager
def _tree_progress(estimator, bar):
    """Move ``bar`` by one per tree while ``estimator`` fits (nothing if it is disabled).

    Once the fit ends, trees that early stopping left out are taken off the bar's total.
    """
    if bar.disable:
        yield
        return
    estimator.set_params(verbose=2)
    before = bar.n
    try:
        with contextlib.redirect_stdout(_IterationLines(bar)):
            yield
    finally:
        estimator.set_params(verbose=0)
    fitted = getattr(estimator, "n_iter_", bar.n - before)
    bar.total -= int(estimator.max_iter) - fitted
    bar.update(before + fitted - bar.n)


def _sklearn_raw(estimator, frame, loss) -> np.ndarray:
    if loss == "log_loss":
        p = np.clip(estimator.predict_proba(frame)[:, 1], 1e-300, 1.0 - 1e-16)
        return np.log(p) - np.log1p(-p)
    return np.log(estimator.predict(frame))


def _compile(estimator, sample, loss):
    """Return the compiled scorer if it reproduces scikit-learn on ``sample`` rows, else None."""
    try:
        compiled = CompiledEnsemble(estimator)
        got = compiled.raw(sample.to_numpy())
    except (ValueError, AttributeError, KeyError, TypeError):
        return None
    expected = _sklearn_raw(estimator, sample, loss)
    if not np.allclose(got, expected, rtol=1e-9, atol=1e-9):
        return None
    return compiled


#: The window (weeks) and floor of the activity that importance-weighted negatives follow.
_ACTIVITY_WEEKS = 104
_ACTIVITY_FLOOR = 0.5


class _Activity:
    """A cell's recent activity at an origin: a rough prior of its expected events.

    The events known in the cell during the last :data:`_ACTIVITY_WEEKS` weeks, plus an
    eighth of those in its eight neighbours, plus :data:`_ACTIVITY_FLOOR` (so that a cell
    without history keeps a share of the draws). Only the ratios between cells matter.
    """

    def __init__(self, events, grid):
        known = events.t_end  # known when they end, as for the features
        cells = grid.cell_of(events.x, events.y)
        order = np.argsort(known, kind="stable")
        inside = cells[order] >= 0
        self.known = known[order][inside]
        self.cells = cells[order][inside]
        self.grid = grid

    def at(self, origin: int) -> np.ndarray:
        from caslite._core import ring_sums as _ring_sums

        lo, hi = np.searchsorted(self.known, [origin - _ACTIVITY_WEEKS * WEEK, origin])
        counts = np.bincount(self.cells[lo:hi], minlength=self.grid.n_cells).astype(np.float64)
        ring = _ring_sums(counts[np.newaxis], self.grid, (1,))[0][0]
        return (counts + ring / 8.0 + _ACTIVITY_FLOOR).astype(np.float32)


def _keep_probability(per_group, activity, scale: float) -> np.ndarray:
    """Probability of keeping each row ``g * n_cells + c``: ``min(1, scale * prior)``.

    The prior of a row is ``per_group[g] * activity[c]`` (the area's expected events in the
    row's shift or block, times the cell's activity: :class:`_Activity`).
    """
    prior = np.outer(per_group, activity.astype(np.float64)).ravel()
    return np.minimum(1.0, scale * prior)


def _compact_priors(priors, targets):
    """Distinct priors with their numbers of rows, and the priors of the rows with events.

    The numbers of rows are floats (whole numbers), as the dot products of :func:`_kept`
    take them.
    """
    values, counts, positive = [], [], []
    for (per_group, activity), (index, _) in zip(priors, targets, strict=True):
        distinct, n = np.unique(activity.astype(np.float64), return_counts=True)
        values.append(np.outer(per_group, distinct).ravel())
        counts.append(np.tile(n, len(per_group)))
        group, cell = np.divmod(index, activity.size)
        positive.append(per_group[group] * activity[cell].astype(np.float64))
    counts = np.concatenate(counts).astype(np.float64)
    return np.concatenate(values), counts, np.concatenate(positive)


def _kept(values, counts, positive, scale, buffer=None) -> float:
    """Return the expected event-free rows kept at ``scale`` (``buffer``: scratch space)."""
    kept = np.multiply(scale, values, out=buffer)
    np.minimum(1.0, kept, out=kept)
    every = float(np.dot(counts, kept))
    return every - float(np.minimum(1.0, scale * positive).sum())


def _kept_below(values, counts, positive, scale, budget: float, buffer) -> bool:
    """Return ``_kept(values, counts, positive, scale) < budget``, the same answer, cheaply.

    :func:`_kept` sums with BLAS (``np.dot``), which splits a long sum over threads; on a busy
    machine waking them cost 8 ms a call, 20 times the sum itself. Here the sum is first taken
    on one thread (``np.einsum``). Both are sums of the same ``n`` non-negative products, each
    within ``n`` units in the last place of the exact sum, so they differ by less than
    ``4 n eps`` of it: farther than that from the budget, the cheap sum gives the answer BLAS
    would; nearer, BLAS decides. The bisection then takes exactly the steps it took with BLAS.
    """
    kept = np.multiply(scale, values, out=buffer)
    np.minimum(1.0, kept, out=kept)
    positive_kept = float(np.minimum(1.0, scale * positive).sum())
    rough = float(np.einsum("i,i->", counts, kept))
    slack = 4.0 * counts.size * np.finfo(np.float64).eps * rough
    if abs(rough - positive_kept - budget) > slack:
        return rough - positive_kept < budget
    return _kept(values, counts, positive, scale, buffer) < budget


def _importance_scale(compact, budget: float) -> float:
    """Return the ``scale`` at which about ``budget`` event-free rows are expected to be kept.

    ``compact`` is :func:`_compact_priors`. Without clipping at 1 the expected number is
    linear in the scale; with it, it is increasing and continuous, so the scale is found by
    bisection (on its logarithm), each step deciding as :func:`_kept` would
    (:func:`_kept_below`).
    """
    values, counts, positive = compact
    buffer = np.empty_like(values)  # one scratch array for every step
    linear = float(np.dot(counts, values)) - float(positive.sum())
    lo = budget / linear  # clipping only lowers the count: kept(lo) <= budget
    hi = lo
    while _kept_below(values, counts, positive, hi, budget, buffer) and hi < lo * 2.0**60:
        hi *= 2.0
    while hi > lo * (1.0 + 1e-6):
        mid = np.sqrt(lo * hi)
        if _kept_below(values, counts, positive, mid, budget, buffer):
            lo = mid
        else:
            hi = mid
    return float(hi)


_LEVEL_WEEKS = (4, 52)


class _LevelCounter:
    """The area's recent level at an origin: log events per day in the grid's cells.

    One value per window of :data:`_LEVEL_WEEKS` weeks, ``log((n + 0.5) / days)`` with ``n`` the
    events known in the window and ``days`` the window's length, cut to the time since the
    first event known (so that a short history is not read as a quiet one).
    """

    def __init__(self, events, grid):
        inside = grid.cell_of(events.x, events.y) >= 0
        self.known = np.sort(events.t_end[inside])

    def at(self, origin: int) -> np.ndarray:
        known = self.known[self.known < origin]
        first = known[0] if known.size else origin
        out = []
        for weeks in _LEVEL_WEEKS:
            start = origin - weeks * WEEK
            n = known.size - int(np.searchsorted(known, start, side="left"))
            days = max((origin - max(start, first)) / DAY, 1.0)
            out.append(np.log((n + 0.5) / days))
        return np.array(out)


def _block_design(
    frame: pd.DataFrame, level: np.ndarray, n_shifts: int, season: bool = True
) -> np.ndarray:
    """Columns of the block profile (a log-linear model of the area's events per block).

    Shift, day of week and weekend-by-shift indicators, then every other block feature as it
    is (``block_hours`` as its log, ``lead_days`` in weeks), then the area's level
    (:class:`_LevelCounter`). Without ``season`` the day-of-year columns are left out.
    """
    table = frame.to_numpy(dtype=np.float64)  # one array: columns by position, not by name
    names = list(frame.columns)
    shift = table[:, names.index("shift")].astype(np.int64)
    day = table[:, names.index("day_of_week")].astype(np.int64)
    columns = [(shift == k).astype(float) for k in range(1, n_shifts)]
    columns += [(day == d).astype(float) for d in range(1, 7)]
    weekend = day >= 5
    columns += [(weekend & (shift == k)).astype(float) for k in range(n_shifts)]
    for j, name in enumerate(names):
        values = table[:, j]
        if name == "block_hours":
            columns.append(np.log(values))
        elif name == "lead_days":
            columns.append(values / 7.0)
        elif name in ("doy_sin", "doy_cos"):
            if season:
                columns.append(values)
        elif name not in ("shift", "day_of_week"):
            columns.append(values)
    columns += [np.full(len(frame), v) for v in level]
    return np.column_stack(columns)


def _fit_block_profile(designs, totals, n_shifts, season) -> dict:
    """Fit the block profile on the area's events per training block (Poisson GLM).

    ``designs`` are the training horizons' :func:`_block_design` matrices. Returns the
    plain-number model that :func:`_block_term` evaluates: ``intercept`` and ``coef`` of the
    log expected events of the whole area in a block, and whether it has the season columns
    (only when the training horizons span two years or more: within one year a season cannot
    be told from a trend, and a trend read as a season would be carried into the next year).
    """
    from sklearn.linear_model import PoissonRegressor

    X = np.concatenate(designs)
    y = np.concatenate(totals)
    glm = PoissonRegressor(alpha=1e-4, solver="newton-cholesky", max_iter=200).fit(X, y)
    return {
        "intercept": float(glm.intercept_),
        "coef": [float(c) for c in glm.coef_],
        "n_shifts": int(n_shifts),
        "season": bool(season),
    }


def _block_term(model: dict, frame: pd.DataFrame, level: np.ndarray) -> np.ndarray:
    """Log expected events of the area in each block of ``frame`` under the block profile."""
    return _designed_term(model, _block_design(frame, level, model["n_shifts"], model["season"]))


def _designed_term(model: dict, X: np.ndarray) -> np.ndarray:
    """:func:`_block_term` of blocks whose :func:`_block_design` is ``X``."""
    return model["intercept"] + X @ np.asarray(model["coef"], dtype=np.float64)


def _shift_reference(builder, n_shifts: int) -> pd.DataFrame:
    """Block-feature rows for the two-stage fit's cell rows: shift, one hour, the rest 0.

    The trees of the two-stage fit see the shift but no other block feature (those are the
    block profile's), so these columns are constant in training and never split on.
    """
    frame = pd.DataFrame(0.0, index=range(n_shifts), columns=builder.block_feature_names_)
    frame["shift"] = np.arange(n_shifts, dtype=np.float64)
    frame["block_hours"] = 1.0  # its log, in the block profile, is 0
    return frame


def _block_group(builder) -> set:
    """Block features that the additive model keeps apart from the cell features."""
    return set(builder.block_feature_names_) - {"shift"}


def _days(seconds: int) -> str:
    return f"{seconds / DAY:.0f} days"


def _choice_or_share(value, name: str, choices: tuple, interval: str, *, example, what="a share"):
    """Return ``value`` if it is one of the strings ``choices``, else check it is a share.

    Raises
    ------
    ArgumentTypeError
        If ``value`` is neither one of ``choices`` nor a real number.
    ValueError
        If ``value`` is a number outside ``interval``.
    """
    if isinstance(value, str) and value in choices:
        return value
    expected = ", ".join(repr(choice) for choice in choices) + f" or {what}"
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise ArgumentTypeError(f"{name} must be {expected} in {interval}, got {value!r}.")
    return check_share(value, name, interval, what=expected, example=example)


def _reported(events, rule, seed):
    """Return the events the model uses under ``discovered=rule``, and how many it left out."""
    if isinstance(rule, str) and rule == "keep":
        return events, 0
    if "discovered" not in events.data.columns:
        raise ValueError(
            f"discovered={rule!r} needs a boolean column 'discovered' in the events (True for "
            "incidents found by patrols, False for reported ones); the events have columns "
            f"{list(events.data.columns)}. Add it, or use discovered='keep'."
        )
    flag = events.data["discovered"]
    if flag.isna().any() or not (
        pd.api.types.is_bool_dtype(flag) or set(pd.unique(flag)) <= {0, 1}
    ):
        bad = flag[flag.isna() | ~flag.isin([True, False])]
        raise ValueError(
            f"the 'discovered' column must be True or False on every row; {len(bad)} rows are "
            f"not (first: {bad.index[:3].tolist()} = {bad.head(3).tolist()})."
        )
    flag = flag.to_numpy(dtype=bool)
    if isinstance(rule, str):  # "exclude"
        keep = ~flag
    else:
        keep = ~flag | (_event_uniforms(events, seed) < float(rule))
    return events.select(keep), int(keep.size - keep.sum())


def _event_uniforms(events, seed: int) -> np.ndarray:
    """One uniform in [0, 1) per event, a fixed function of its time, place and ``seed``.

    A splitmix64 hash of the event's start, end and coordinates: the same event gets the same
    number whatever else is in the set, so a model moved forward with ``update`` thins the
    events it saw at fit time exactly as it did then.
    """
    with np.errstate(over="ignore"):
        key = np.full(len(events), np.uint64(seed), dtype=np.uint64)
        for values in (events.t, events.t_end, events.x, events.y):
            bits = np.ascontiguousarray(values).view(np.uint64)
            key = _splitmix64(key ^ bits)
    return (key >> np.uint64(11)).astype(np.float64) / float(2**53)


def _splitmix64(z: np.ndarray) -> np.ndarray:
    z = z + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))
