"""Rolling-origin (walk-forward) backtest of forecasters, serial, on joblib workers or on Dask.

:func:`backtest` moves a forecast origin through a period, ``start, start + step, ...`` while
the origin's horizon ends by ``end``. At every origin each forecaster is fitted on the events
known before the origin (the backtest passes it nothing else), forecasts the blocks of the
horizon, and is scored on the events of the horizon with the metrics of
:mod:`caslite.evaluation.metrics`. The work is split into tasks, one per method and group of
origins that share a fit, and run through :class:`joblib.Parallel`; every task computes the
same numbers wherever it runs, so the scores do not depend on ``n_jobs`` or the backend (only
the measured seconds do).
"""

from __future__ import annotations

import contextlib
import logging
import numbers
import time

import numpy as np
import pandas as pd
from sklearn.base import clone

from caslite._provenance import events_fingerprint, library_versions
from caslite._time import to_utc_seconds
from caslite._validation import as_duration, check_int, check_same_crs
from caslite.evaluation.metrics import count_events, hit_rate_curve
from caslite.events import Events
from caslite.grid import Grid
from caslite.shifts import ShiftSchedule

__all__ = ["DEFAULT_CALIBRATION_EDGES", "BacktestResult", "backtest"]

logger = logging.getLogger("caslite")

#: Default probability bin edges of the calibration: 0, then half-decades from 1e-6 to 1. The
#: probability of at least one event in one cell and one 4-hour block is mostly far below 1 %,
#: so equal-width bins would put nearly every cell-block in the first bin.
DEFAULT_CALIBRATION_EDGES = np.concatenate([[0.0], np.geomspace(1e-6, 1.0, 13)])

_BACKENDS = (None, "loky", "threading", "dask")
_TIMING = ("fit_seconds", "predict_seconds")


# ---------------------------------------------------------------------- public function
def backtest(
    forecasters,
    events,
    grid,
    *,
    start,
    end,
    step="14D",
    horizon="14D",
    schedule=None,
    retrain_every=1,
    coverages=(0.01, 0.03, 0.05),
    near_rings=1,
    calibration_bins=None,
    n_jobs=1,
    backend=None,
    progress=True,
    max_origins=1_000,
) -> BacktestResult:
    """Score forecasters by rolling origin over a period.

    Parameters
    ----------
    forecasters : estimator or dict of str to estimator
        Objects with ``fit(events, grid, *, origin)`` and ``predict(blocks)`` (the caslite
        models); one, or several by name. They are cloned (:func:`sklearn.base.clone`), never
        changed. A forecaster with a ``schedule`` parameter gets the backtest's schedule.
    events : Events
        All incidents: those known before each origin are given to the fit, those in the
        horizon are scored.
    grid : Grid
        The cells; same CRS as the events.
    start, end : str, datetime or int
        The period; naive values are local time of ``events.tz``. Origins are ``start``,
        ``start + step``, ... as long as ``origin + horizon <= end``.
    step, horizon : str or timedelta, default "14D"
        Spacing of the origins and length of each forecast. Whole days count local calendar
        days (as :meth:`ShiftSchedule.horizon` does), so origins keep their wall-clock time
        across daylight-saving changes.
    schedule : ShiftSchedule, optional
        The blocks; default 4-hour blocks from midnight in ``events.tz``.
    retrain_every : int, default 1
        A forecaster with an ``update`` method (e.g. :class:`caslite.RiskModel`) is fitted at
        every ``retrain_every``-th origin and moved forward with ``update`` in between; one
        without ``update`` is fitted at every origin.
    coverages : sequence of float, default (0.01, 0.03, 0.05)
        Shares of the area at which hot spots are scored.
    near_rings : int, default 1
        Rings of neighbouring cells counted by the near hit rate.
    calibration_bins : int or array-like of float, optional
        Probability bin edges of the pooled reliability curve; an int ``n`` gives 0 followed by
        ``n`` log-spaced edges from 1e-6 to 1; default :data:`DEFAULT_CALIBRATION_EDGES`.
    n_jobs : int, default 1
        Parallel tasks (joblib's meaning: -1 for all cores). With ``backend="dask"``, 1 means
        all the workers of the cluster.
    backend : {None, "loky", "threading", "dask"}, default None
        None: joblib's default (loky processes, or the backend of an enclosing
        :func:`joblib.parallel_config`); "dask": the active :class:`dask.distributed.Client`.
    progress : bool, default True
        Show a tqdm progress bar over the completed tasks.
    max_origins : int, default 1000
        Most origins accepted: more raise before any fit, naming the count (a daily step
        over three years is 1,095 origins; raise this to allow it).

    Returns
    -------
    BacktestResult

    Notes
    -----
    Per method, origin and coverage the scores are: ``events`` (``N``, the events in the
    horizon's cells); ``hit_rate``, ``pai`` and ``pei_star`` on the cells ranked by their risk
    summed over the horizon; ``shift_hit_rate`` (hot spots chosen per block,
    ``per_block=True``); ``near_hit_rate`` (events in or within ``near_rings`` of the hot
    spots). Per method and origin: ``log_score`` (Poisson, on the risk as expected events per
    block and cell), ``brier`` (on ``1 - exp(-risk)``), ``fit_seconds`` (fit or update) and
    ``predict_seconds``. Cells are weighted by :attr:`Grid.area_fraction`. The log score and
    the Brier score only mean something for forecasters whose ``predict`` returns expected
    counts (the risk model); the baselines return rankings on another scale.

    Examples
    --------
    >>> from caslite import Grid, NaiveCounts
    >>> from caslite.datasets import load_sample
    >>> from shapely.geometry import box
    >>> events = load_sample("synthetic").to_events()
    >>> grid = Grid.from_area(box(115000, 480000, 125000, 490000), cell_size=1000.0,
    ...                       crs=events.crs)
    >>> result = backtest({"naive": NaiveCounts()}, events, grid, start="2023-06-01",
    ...                   end="2023-08-01", progress=False)
    >>> len(result.params["origins"]), result.scores.shape[0]  # 4 origins x 3 coverages
    (4, 12)
    """
    named = _check_forecasters(forecasters)
    if not isinstance(events, Events):
        raise TypeError(
            f"events must be a caslite Events, got {type(events).__name__}; build one with "
            "caslite.Events.from_frame or caslite.as_events."
        )
    if not isinstance(grid, Grid):
        raise TypeError(
            f"grid must be a caslite Grid, got {type(grid).__name__}; build one with "
            "caslite.Grid.from_area or caslite.Grid.from_events."
        )
    check_same_crs(events.crs, grid.crs, "events", "the grid")
    schedule = _check_schedule(schedule, events.tz)
    max_origins = check_int(max_origins, "max_origins")
    origins = _origins(start, end, step, horizon, events.tz, max_origins)
    retrain_every = check_int(retrain_every, "retrain_every")
    coverages = _check_coverages(coverages)
    near_rings = check_int(near_rings, "near_rings", 0)
    edges = _calibration_edges(calibration_bins)
    n_jobs = _check_n_jobs(n_jobs)
    if backend not in _BACKENDS:
        raise ValueError(
            f"backend={backend!r} is not one of {list(_BACKENDS)}; use None (joblib's default, "
            "local processes) or 'dask' (the active dask.distributed Client)."
        )
    models = {name: _with_schedule(name, est, schedule) for name, est in named.items()}
    origin_seconds = [int(o.timestamp()) for o in origins]
    tasks = []
    for m, (name, model) in enumerate(models.items()):
        k = retrain_every if callable(getattr(model, "update", None)) else 1
        for first in range(0, len(origins), k):
            tasks.append((m, name, model, list(range(first, min(first + k, len(origins))))))
    logger.info(
        "backtest: %d origins x %d methods in %d tasks", len(origins), len(models), len(tasks)
    )

    jobs = (
        _run_task_delayed(
            (m, tuple(idx)),
            name,
            model,
            events,
            grid,
            schedule,
            [origin_seconds[i] for i in idx],
            horizon,
            coverages,
            near_rings,
            edges,
        )
        for m, name, model, idx in tasks
    )
    done = {}
    with _parallel(n_jobs, backend) as parallel:
        if progress:  # a notebook widget where one can be drawn
            from tqdm.auto import tqdm
        else:  # no notebook machinery (and no warning about missing widgets) when silent
            from tqdm import tqdm

        with tqdm(total=len(tasks), disable=not progress, desc="backtest", unit="task") as bar:
            for key, records in parallel(jobs):
                done[key] = records
                bar.update(1)
                logger.debug("backtest: %s, %d origin(s) done", records[0]["method"], len(records))

    per_origin = [None] * (len(models) * len(origins))
    for (m, idx), records in done.items():
        for i, record in zip(idx, records, strict=True):
            per_origin[m * len(origins) + i] = record
    return _assemble(
        per_origin,
        origins,
        models,
        named,
        grid,
        schedule,
        _settings(
            start=start,
            end=end,
            step=step,
            horizon=horizon,
            retrain_every=retrain_every,
            coverages=coverages,
            near_rings=near_rings,
            edges=edges,
            n_jobs=n_jobs,
            backend=backend,
            n_events=len(events),
            data=events_fingerprint(events),
            tz=events.tz,
        ),
    )


def _settings(**kwargs) -> dict:
    """Return the keyword arguments as a dict (the backtest's settings)."""
    return kwargs


# ---------------------------------------------------------------------- tasks
def _run_task_delayed(*args):
    from joblib import delayed

    return delayed(_run_task)(*args)


def _run_task(key, name, model, events, grid, schedule, origins, horizon, coverages, rings, edges):
    """Fit (then update) one forecaster over a group of origins and score each origin."""
    model = clone(model)
    records = []
    fitted_at = None
    for j, origin in enumerate(origins):
        known = events.before(origin)
        tic = time.perf_counter()
        try:
            if j == 0:
                model.fit(known, grid, origin=origin)
                fitted_at = origin
            else:
                model.update(known, origin=origin)
        except Exception as error:
            stamp = pd.Timestamp(origin, unit="s", tz="UTC").tz_convert(events.tz)
            if hasattr(error, "add_note"):  # Python >= 3.11
                error.add_note(f"while fitting forecaster {name!r} at origin {stamp}")
            raise
        fit_seconds = time.perf_counter() - tic
        blocks = schedule.horizon(origin, horizon)
        tic = time.perf_counter()
        risk = np.asarray(model.predict(blocks), dtype=np.float64)
        predict_seconds = time.perf_counter() - tic
        if risk.shape != (len(blocks), grid.n_cells):
            raise ValueError(
                f"forecaster {name!r} predicted an array of shape {risk.shape}; expected "
                f"(n_blocks, n_cells) = {(len(blocks), grid.n_cells)}."
            )
        counts = count_events(events, grid, blocks)
        record = _score(risk, counts, grid, coverages, rings, edges)
        exact = count_events(events.select(events.t_end == events.t), grid, blocks)
        record["by_shift"] = _score_shifts(risk, counts, exact, blocks, grid, coverages)
        record.update(
            method=name,
            origin=origin,
            refit=j == 0,
            fitted_at=fitted_at,
            fit_seconds=fit_seconds,
            predict_seconds=predict_seconds,
        )
        records.append(record)
    return key, records


def _score(risk, counts, grid, coverages, rings, edges) -> dict:
    """All scores of one forecast against the observed counts."""
    from caslite.evaluation import metrics

    area = np.asarray(grid.area_fraction)
    total_risk, total_counts = risk.sum(axis=0), counts.sum(axis=0)
    curve = hit_rate_curve(total_risk, total_counts, coverages, area=area)
    per_block = hit_rate_curve(risk, counts, coverages, area=area, per_block=True)
    near = [
        metrics.near_hit_rate(total_risk, total_counts, c, grid, rings=rings, area=area)
        for c in coverages
    ]
    record = {
        "events": float(counts.sum()),
        "hit_rate": curve["hit_rate"].to_numpy(),
        "pai": curve["pai"].to_numpy(),
        "pei_star": curve["pei_star"].to_numpy(),
        "shift_hit_rate": per_block["hit_rate"].to_numpy(),
        "near_hit_rate": np.asarray(near, dtype=np.float64),
    }
    if np.all(risk >= 0) and np.all(np.isfinite(risk)):
        probability = -np.expm1(-risk)
        record["log_score"] = float(metrics.poisson_log_score(risk, counts))
        record["brier"] = float(metrics.brier_score(probability, counts))
        curve = metrics.reliability_curve(probability, counts, bins=edges)
        record["calibration"] = curve[
            ["bin_low", "bin_high", "n", "sum_predicted", "sum_observed"]
        ].reset_index(drop=True)
    else:
        logger.warning(
            "a forecast has negative or non-finite risk; its log score, Brier score and "
            "calibration are NaN (they need expected counts >= 0)."
        )
        record["log_score"] = record["brier"] = np.nan
        record["calibration"] = None
    return record


def _score_shifts(risk, counts, exact, blocks, grid, coverages) -> dict:
    """Per shift of day: forecast and observed events, per-shift and shift-blind hit rates.

    For each shift ``s`` of the schedule and each way of counting the observed events
    (``"exact"``: incidents with an exact time only; ``"aoristic"``: every incident, a window
    spread over its blocks), the events observed in the blocks of shift ``s``; the hit rate of
    the hot spots chosen block by block, pooled over the blocks of shift ``s``
    (``per_block=True``); and that of the hot spots of the whole horizon (cells ranked on the
    risk summed over all blocks, the shift-blind ranking) on the same events.
    """
    area = np.asarray(grid.area_fraction)
    n_shifts = blocks.schedule.n_shifts
    total_risk = risk.sum(axis=0)
    forecast = np.array([risk[blocks.shift == s].sum() for s in range(n_shifts)])
    out = {"forecast": forecast}
    for kind, observed in (("exact", exact), ("aoristic", counts)):
        events = np.zeros(n_shifts)
        per_shift = np.full((n_shifts, len(coverages)), np.nan)
        blind = np.full((n_shifts, len(coverages)), np.nan)
        for s in range(n_shifts):
            chosen = blocks.shift == s
            events[s] = observed[chosen].sum()
            if not chosen.any() or events[s] == 0:
                continue
            part = observed[chosen]
            per_shift[s] = hit_rate_curve(risk[chosen], part, coverages, area=area, per_block=True)[
                "hit_rate"
            ].to_numpy()
            blind[s] = hit_rate_curve(total_risk, part.sum(axis=0), coverages, area=area)[
                "hit_rate"
            ].to_numpy()
        out[kind] = {"events": events, "shift_hit_rate": per_shift, "blind_hit_rate": blind}
    return out


@contextlib.contextmanager
def _parallel(n_jobs, backend):
    from joblib import Parallel, parallel_config

    if backend == "dask":
        try:
            from distributed import get_client
        except ImportError:
            raise ImportError(
                "backend='dask' needs dask.distributed; install it with "
                "pip install 'caslite[dask]'."
            ) from None
        try:
            get_client()
        except ValueError:
            raise ValueError(
                "backend='dask' runs on the active dask.distributed Client, and there is none. "
                "Start one first: from dask.distributed import Client; client = Client() "
                "(or Client('scheduler-address:8786'))."
            ) from None
        with parallel_config(backend="dask"):
            yield Parallel(n_jobs=-1 if n_jobs == 1 else n_jobs, return_as="generator_unordered")
        return
    yield Parallel(n_jobs=n_jobs, backend=backend, return_as="generator_unordered")


#: Forecasters whose risk is the expected number of incidents per cell and block.
_EXPECTED_COUNT_FORECASTERS = ("RiskModel", "GridETAS")


def _shown_score(value) -> str:
    """Format a log score or Brier score for the markdown table; "-" where not shown."""
    return "-" if np.isnan(value) else f"{value:.4g}"


# ---------------------------------------------------------------------- assembly
def _assemble(per_origin, origins, models, named, grid, schedule, settings) -> BacktestResult:
    tz = settings["tz"]
    coverages = settings["coverages"]
    rows, calibration, shift_rows = [], [], []
    for record in per_origin:
        origin = pd.Timestamp(record["origin"], unit="s", tz="UTC").tz_convert(tz)
        fitted = pd.Timestamp(record["fitted_at"], unit="s", tz="UTC").tz_convert(tz)
        by_shift = record["by_shift"]
        for kind in ("exact", "aoristic"):
            for s, label in enumerate(schedule.labels):
                for c, coverage in enumerate(coverages):
                    shift_rows.append(
                        {
                            "method": record["method"],
                            "origin": origin,
                            "observed": kind,
                            "shift": label,
                            "coverage": coverage,
                            "forecast": float(by_shift["forecast"][s]),
                            "events": float(by_shift[kind]["events"][s]),
                            "shift_hit_rate": float(by_shift[kind]["shift_hit_rate"][s, c]),
                            "blind_hit_rate": float(by_shift[kind]["blind_hit_rate"][s, c]),
                        }
                    )
        for c, coverage in enumerate(coverages):
            rows.append(
                {
                    "method": record["method"],
                    "origin": origin,
                    "coverage": coverage,
                    "events": record["events"],
                    **{
                        k: float(record[k][c])
                        for k in ("hit_rate", "pai", "pei_star", "shift_hit_rate", "near_hit_rate")
                    },
                    "log_score": record["log_score"],
                    "brier": record["brier"],
                    "refit": record["refit"],
                    "fitted_at": fitted,
                    "fit_seconds": record["fit_seconds"],
                    "predict_seconds": record["predict_seconds"],
                }
            )
        if record["calibration"] is not None:
            frame = record["calibration"].copy()
            frame.insert(0, "origin", origin)
            frame.insert(0, "method", record["method"])
            calibration.append(frame)
    scores = pd.DataFrame(rows)
    by_origin = (
        pd.concat(calibration, ignore_index=True)
        if calibration
        else pd.DataFrame(
            columns=[
                "method",
                "origin",
                "bin_low",
                "bin_high",
                "n",
                "sum_predicted",
                "sum_observed",
            ]
        )
    )
    versions = library_versions()
    params = {
        "start": _local(settings["start"], tz, "start"),
        "end": _local(settings["end"], tz, "end"),
        "step": str(settings["step"]),
        "horizon": str(settings["horizon"]),
        "origins": list(origins),
        "retrain_every": settings["retrain_every"],
        "coverages": tuple(coverages),
        "near_rings": settings["near_rings"],
        "calibration_edges": settings["edges"].tolist(),
        "n_events": settings["n_events"],
        "data": settings["data"],
        "tz": tz,
        "grid": {
            "n_cells": grid.n_cells,
            "shape": grid.shape,
            "cell_size": grid.cell_size,
            "bounds": grid.bounds,
            "crs": grid.crs.to_string(),
        },
        "schedule": repr(schedule),
        "forecasters": {
            name: {"class": type(est).__name__, "params": models[name].get_params(deep=False)}
            for name, est in named.items()
        },
        "n_jobs": settings["n_jobs"],
        "backend": settings["backend"],
        "caslite_version": versions["caslite"],
        "versions": versions,
    }
    shift_scores = pd.DataFrame(
        shift_rows,
        columns=[
            "method",
            "origin",
            "observed",
            "shift",
            "coverage",
            "forecast",
            "events",
            "shift_hit_rate",
            "blind_hit_rate",
        ],
    )
    return BacktestResult(scores, by_origin, params, shift_scores=shift_scores)


def _local(value, tz, what) -> pd.Timestamp:
    seconds = int(to_utc_seconds(value, tz, what))
    return pd.Timestamp(seconds, unit="s", tz="UTC").tz_convert(tz)


# ---------------------------------------------------------------------- result
class BacktestResult:
    """Scores of a rolling-origin backtest (made by :func:`backtest`).

    Attributes
    ----------
    scores : pandas.DataFrame
        One row per method, origin and coverage (in that order): ``method``, ``origin``
        (local time), ``coverage``, ``events``, ``hit_rate``, ``pai``, ``pei_star``,
        ``shift_hit_rate``, ``near_hit_rate``, ``log_score``, ``brier``, ``refit`` (fitted at
        this origin, not updated), ``fitted_at``, ``fit_seconds``, ``predict_seconds``.
    calibration_by_origin : pandas.DataFrame
        Per method, origin and probability bin: ``n`` cell-blocks, ``sum_predicted`` and
        ``sum_observed``, the sums that pool exactly over origins.
    calibration : pandas.DataFrame
        The reliability curve per method pooled over origins: ``method``, ``bin_low``,
        ``bin_high``, ``n``, ``sum_predicted``, ``sum_observed``, ``mean_predicted`` and
        ``observed_frequency`` (NaN in empty bins).
    params : dict
        Provenance: period, step, horizon, origins, grid, schedule, each forecaster's
        parameters, the data (``data``: count, span, CRS and SHA-256 fingerprint of the
        events, as :attr:`caslite.Forecast.provenance`), the caslite version and
        ``versions`` of the libraries.
    shift_scores : pandas.DataFrame
        One row per method, origin, way of counting the observed events, shift of day and
        coverage: ``method``, ``origin``, ``observed`` (``"exact"``: the incidents with an
        exact time only, ``t_end == t``; ``"aoristic"``: every incident, one with a time
        window spread over the blocks it overlaps), ``shift`` (the schedule's label),
        ``coverage``, ``forecast`` (the risk summed over the shift's blocks and all cells: its
        expected events, for forecasters that return expected counts), ``events`` (observed
        in the shift's blocks), ``shift_hit_rate`` (hot spots chosen in each block of the
        shift, pooled over its blocks) and ``blind_hit_rate`` (the hot spots of the whole
        horizon, ranked on the risk summed over all blocks, on the same events); hit rates
        are NaN when the shift had no events. Summarised by :meth:`shift_table`.
    """

    def __init__(self, scores, calibration_by_origin, params, *, shift_scores=None):
        self.scores = scores
        self.shift_scores = shift_scores
        self.calibration_by_origin = calibration_by_origin
        self.params = params
        pooled = (
            calibration_by_origin.groupby(["method", "bin_low", "bin_high"], sort=False)[
                ["n", "sum_predicted", "sum_observed"]
            ]
            .sum()
            .reset_index()
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            n = pooled["n"].to_numpy(dtype=float)
            pooled["mean_predicted"] = np.where(n > 0, pooled["sum_predicted"] / n, np.nan)
            pooled["observed_frequency"] = np.where(n > 0, pooled["sum_observed"] / n, np.nan)
        self.calibration = pooled

    def __repr__(self) -> str:
        methods = list(self.params["forecasters"])
        return (
            f"BacktestResult({len(methods)} methods, {len(self.params['origins'])} origins, "
            f"coverages {list(self.params['coverages'])})"
        )

    @property
    def methods(self) -> list:
        """Names of the methods, in the order given."""
        return list(self.params["forecasters"])

    def _at(self, coverage) -> pd.DataFrame:
        known = np.asarray(self.params["coverages"], dtype=float)
        match = np.flatnonzero(np.isclose(known, float(coverage)))
        if not match.size:
            raise ValueError(
                f"coverage={coverage!r} was not scored; the backtest has coverages "
                f"{known.tolist()}. Pass one of them, or rerun with coverages=."
            )
        return self.scores[np.isclose(self.scores["coverage"], known[match[0]])]

    def summary(self, coverage=0.03, *, confidence=0.9) -> pd.DataFrame:
        """Return one row per method: means over origins at one coverage.

        Parameters
        ----------
        coverage : float, default 0.03
            One of the backtest's coverages.
        confidence : float, default 0.9
            Level of the bootstrap interval (over origins) of the mean hit rate.

        Returns
        -------
        pandas.DataFrame
            Indexed by method: ``n_origins``, ``hit_rate``, ``hit_rate_low``,
            ``hit_rate_high``, ``pai``, ``pei_star``, ``shift_hit_rate``, ``near_hit_rate``,
            ``log_score``, ``brier``, ``fit_seconds``, ``predict_seconds``. Origins without
            events (NaN hit rate) are left out of the means; with fewer than two origins the
            interval is NaN.
        """
        from caslite.evaluation.metrics import bootstrap_interval

        at = self._at(coverage)
        rows = {}
        for method in self.methods:
            group = at[at["method"] == method]
            hits = group["hit_rate"].dropna().to_numpy()
            low, high = (  # one origin says nothing of the spread between origins: no interval
                bootstrap_interval(hits, confidence=confidence)
                if hits.size >= 2
                else (np.nan, np.nan)
            )
            rows[method] = {
                "n_origins": len(group),
                "hit_rate": float(hits.mean()) if hits.size else np.nan,
                "hit_rate_low": float(low),
                "hit_rate_high": float(high),
                **{
                    k: float(group[k].mean())
                    for k in (
                        "pai",
                        "pei_star",
                        "shift_hit_rate",
                        "near_hit_rate",
                        "log_score",
                        "brier",
                        *_TIMING,
                    )
                },
            }
        frame = pd.DataFrame.from_dict(rows, orient="index")
        frame.index.name = "method"
        return frame

    def shift_table(self, coverage=0.03, *, observed="exact", confidence=0.9) -> pd.DataFrame:
        """Return, per method and shift of day, how much risk it got and how well it ranked.

        Parameters
        ----------
        coverage : float, default 0.03
            One of the backtest's coverages.
        observed : {"exact", "aoristic"}, default "exact"
            Which observed events score the forecast: ``"exact"``, only the incidents with an
            exact time (a defaulted or date-only time, given as a window, says nothing of the
            shift); ``"aoristic"``, every incident, one with a time window spread over the
            blocks it overlaps in proportion to the overlap.
        confidence : float, default 0.9
            Level of the bootstrap intervals over origins.

        Returns
        -------
        pandas.DataFrame
            One row per method and shift (the schedule's labels, in order), indexed by both:
            ``n_origins``; ``forecast_share``, the shift's share of the forecast expected
            events over all origins (sum over origins of the shift's risk over the sum of all
            risk); ``observed_share``, the shift's share of the observed events over all
            origins; ``share_ratio``, their ratio (1 is a right profile);
            ``shift_hit_rate`` (hot spots chosen per block of the shift) and
            ``blind_hit_rate`` (hot spots of the whole horizon), each the mean over the
            origins with events in the shift, with ``_low`` / ``_high`` bootstrap bounds;
            ``gain``, the mean over those origins of ``shift_hit_rate - blind_hit_rate``, with
            ``gain_low`` / ``gain_high`` (an interval that straddles 0: no evidence that
            choosing cells per shift pays). With fewer than two such origins the intervals
            are NaN.

        Examples
        --------
        >>> from shapely.geometry import box
        >>> from caslite import Grid, NaiveCounts
        >>> from caslite.datasets import load_sample
        >>> events = load_sample("synthetic").to_events()
        >>> grid = Grid.from_area(box(115000, 480000, 125000, 490000), cell_size=1000.0,
        ...                       crs=events.crs)
        >>> result = backtest({"naive": NaiveCounts()}, events, grid, start="2023-06-01",
        ...                   end="2023-08-01", progress=False)
        >>> table = result.shift_table(0.03)
        >>> table.index.get_level_values("shift").tolist()
        ['00-04', '04-08', '08-12', '12-16', '16-20', '20-00']
        >>> bool(abs(table["observed_share"].sum() - 1.0) < 1e-12)
        True
        """
        from caslite.evaluation.metrics import bootstrap_interval

        if observed not in ("exact", "aoristic"):
            raise ValueError(f"observed must be 'exact' or 'aoristic', got {observed!r}.")
        if self.shift_scores is None:
            raise ValueError(
                "this result has no per-shift scores (it was made by an older caslite); rerun "
                "the backtest."
            )
        at = self._at(coverage)  # validates the coverage
        value = float(at["coverage"].iloc[0]) if len(at) else float(coverage)
        frame = self.shift_scores
        frame = frame[(frame["observed"] == observed) & np.isclose(frame["coverage"], value)]

        def interval(values):
            if values.size < 2:
                return np.nan, np.nan
            return bootstrap_interval(values, confidence=confidence)

        rows = []
        for method in self.methods:
            part = frame[frame["method"] == method]
            forecast_total, events_total = part["forecast"].sum(), part["events"].sum()
            labels = list(dict.fromkeys(part["shift"]))
            for label in labels:
                one = part[part["shift"] == label]
                row = {"method": method, "shift": label, "n_origins": len(one)}
                with np.errstate(invalid="ignore", divide="ignore"):
                    row["forecast_share"] = one["forecast"].sum() / forecast_total
                    row["observed_share"] = one["events"].sum() / events_total
                    row["share_ratio"] = row["forecast_share"] / row["observed_share"]
                scored = one.dropna(subset=["shift_hit_rate", "blind_hit_rate"])
                for name, values in (
                    ("shift_hit_rate", scored["shift_hit_rate"].to_numpy()),
                    ("blind_hit_rate", scored["blind_hit_rate"].to_numpy()),
                    ("gain", (scored["shift_hit_rate"] - scored["blind_hit_rate"]).to_numpy()),
                ):
                    low, high = interval(values)
                    row[name] = float(values.mean()) if values.size else np.nan
                    row[f"{name}_low"], row[f"{name}_high"] = float(low), float(high)
                rows.append(row)
        return pd.DataFrame(rows).set_index(["method", "shift"])

    def to_markdown(self, coverages=None, *, confidence=0.9, shifts=True) -> str:
        """Return a markdown table: one row per method and coverage.

        Parameters
        ----------
        coverages : sequence of float, optional
            Coverages to show; default all of the backtest's.
        confidence : float, default 0.9
            Level of the bootstrap interval of the hit rate.
        shifts : bool, default True
            Add a second table, per method, coverage and shift of day (:meth:`shift_table`,
            scored on the incidents with an exact time), after a blank line.

        Returns
        -------
        str

        Notes
        -----
        The log score and the Brier score are shown only for forecasters of expected counts
        (:class:`caslite.RiskModel`, :class:`caslite.GridETAS`); for the others, whose
        risk ranks cells on another scale, the table shows "-" and a footnote says why
        (:attr:`scores` keeps every value).
        """
        coverages = self.params["coverages"] if coverages is None else coverages
        pct = int(round(confidence * 100))
        lines = [
            f"| method | coverage | hit rate ({pct}% CI) | PAI | PEI* | per-shift hit rate "
            "| near hit rate | log score | Brier | fit + predict s |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        hidden = []
        for coverage in np.atleast_1d(coverages):
            table = self.summary(float(coverage), confidence=confidence)
            for method, row in table.iterrows():
                name = str(method).replace("|", "\\|")
                seconds = row["fit_seconds"] + row["predict_seconds"]
                if not self._forecasts_counts(method):
                    row = row.copy()
                    row[["log_score", "brier"]] = np.nan
                    hidden += [name] if name not in hidden else []
                lines.append(
                    f"| {name} | {float(coverage):.0%} | {row['hit_rate']:.3f} "
                    f"({row['hit_rate_low']:.3f}-{row['hit_rate_high']:.3f}) | {row['pai']:.1f} "
                    f"| {row['pei_star']:.3f} | {row['shift_hit_rate']:.3f} "
                    f"| {row['near_hit_rate']:.3f} | {_shown_score(row['log_score'])} "
                    f"| {_shown_score(row['brier'])} | {seconds:.2f} |"
                )
        if hidden:
            lines += [
                "",
                f"- log score and Brier of {', '.join(hidden)}: not shown, because these "
                "methods rank cells on a scale of their own, not as expected incidents; the "
                "two scores need expected counts (the risk model and ETAS forecast them).",
            ]
        if shifts and self.shift_scores is not None and len(self.shift_scores):
            lines += ["", self._shift_markdown(coverages, confidence)]
        return "\n".join(lines)

    def _forecasts_counts(self, method) -> bool:
        """Whether a method's risk is expected incidents (its log score and Brier mean it)."""
        forecasters = self.params.get("forecasters") or {}
        if method not in forecasters:
            return True  # not recorded: show what was scored
        return forecasters[method].get("class") in _EXPECTED_COUNT_FORECASTERS

    def _shift_markdown(self, coverages, confidence) -> str:
        """Return the per-shift-of-day table of :meth:`to_markdown` (exact-time incidents)."""
        pct = int(round(confidence * 100))
        lines = [
            "Per shift of day, scored on the incidents with an exact time: the shift's share "
            "of the forecast and of the observed incidents, and the hit rate of the hot spots "
            f"chosen per block against those of the whole horizon ({pct}% CI over origins).",
            "",
            "| method | coverage | shift | forecast share | observed share | ratio "
            f"| per-shift hit rate ({pct}% CI) | shift-blind hit rate ({pct}% CI) "
            f"| gain ({pct}% CI) |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for coverage in np.atleast_1d(coverages):
            table = self.shift_table(float(coverage), confidence=confidence)
            for (method, shift), row in table.iterrows():
                name = str(method).replace("|", "\\|")
                lines.append(
                    f"| {name} | {float(coverage):.0%} | {shift} | {row['forecast_share']:.3f} "
                    f"| {row['observed_share']:.3f} | {row['share_ratio']:.2f} "
                    f"| {_with_interval(row, 'shift_hit_rate')} "
                    f"| {_with_interval(row, 'blind_hit_rate')} "
                    f"| {_with_interval(row, 'gain', signed=True)} |"
                )
        return "\n".join(lines)

    # ------------------------------------------------------------------ figures
    def _by_coverage(self, column, ax, ylabel, confidence):
        """Plot the mean of ``column`` over origins by coverage, with bootstrap bands."""
        import matplotlib.pyplot as plt

        from caslite.evaluation.metrics import bootstrap_interval

        if ax is None:
            _, ax = plt.subplots()
        for i, method in enumerate(self.methods):
            part = self.scores[self.scores["method"] == method]
            coverages, means, lows, highs = [], [], [], []
            for coverage, group in part.groupby("coverage", sort=True):
                values = group[column].dropna().to_numpy()  # origins without events: NaN
                low, high = (  # as summary(): no interval from fewer than two origins
                    bootstrap_interval(values, confidence=confidence)
                    if values.size >= 2
                    else (np.nan, np.nan)
                )
                coverages.append(100 * float(coverage))
                means.append(float(values.mean()) if values.size else np.nan)
                lows.append(low)
                highs.append(high)
            (line,) = ax.plot(
                coverages,
                means,
                marker=_MARKERS[i % len(_MARKERS)],
                linestyle=_LINESTYLES[i % len(_LINESTYLES)],
                markerfacecolor="none",
                label=method,
                zorder=3,
            )
            line.set_gid(f"mean-{method}")
            band = ax.fill_between(
                coverages, lows, highs, color=line.get_color(), alpha=0.15, linewidth=0
            )
            band.set_gid(f"interval-{method}")
        ax.set_xlabel("coverage (% of the area)")
        ax.set_ylabel(ylabel)
        ax.set_ylim(bottom=0)
        return ax

    def _legend(self, ax, confidence) -> None:
        pct = np.format_float_positional(100 * confidence, trim="-")
        ax.legend(title=f"bands: {pct} % bootstrap interval over origins", fontsize="small")

    def plot_hit_rate(self, ax=None, *, confidence=0.9):
        """Plot the mean hit rate by coverage, one line per method; return the Axes.

        Each method has its own marker and line style (lines that coincide stay visible) and a
        band of the bootstrap interval of the mean over origins (the ``hit_rate_low`` ..
        ``hit_rate_high`` of :meth:`summary`); the y axis starts at 0.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Where to draw; default a new pyplot figure.
        confidence : float, default 0.9
            Level of the bootstrap bands.
        """
        ax = self._by_coverage("hit_rate", ax, "hit rate (mean over origins)", confidence)
        coverages = 100 * np.sort(np.asarray(self.params["coverages"], dtype=float))
        ax.plot(coverages, coverages / 100, color="grey", linestyle=":", label="random")
        self._legend(ax, confidence)
        return ax

    def plot_pai(self, ax=None, *, confidence=0.9):
        """Plot the mean PAI by coverage, one line per method; return the Axes.

        As :meth:`plot_hit_rate`: a marker and line style per method, bootstrap bands of the
        mean over origins, the y axis from 0, and a dotted line at PAI 1 (random).
        """
        ax = self._by_coverage("pai", ax, "PAI (mean over origins)", confidence)
        ax.axhline(1.0, color="grey", linestyle=":", label="random (PAI 1)")
        self._legend(ax, confidence)
        return ax

    def plot_calibration(self, ax=None):
        """Plot the pooled reliability curve on log-log axes with the diagonal; return the Axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots()
        frame = self.calibration
        for i, method in enumerate(self.methods):
            part = frame[frame["method"] == method]
            x = part["mean_predicted"].to_numpy(dtype=float)
            y = part["observed_frequency"].to_numpy(dtype=float)
            keep = (x > 0) & (y > 0)
            ax.plot(
                x[keep],
                y[keep],
                marker=_MARKERS[i % len(_MARKERS)],
                linestyle=_LINESTYLES[i % len(_LINESTYLES)],
                markerfacecolor="none",
                label=method,
            )
        positive = frame["mean_predicted"].to_numpy(dtype=float)
        positive = positive[positive > 0]
        lo = positive.min() if positive.size else 1e-6
        ax.plot([lo, 1.0], [lo, 1.0], color="grey", linestyle=":", label="perfect")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("predicted probability of at least one event")
        ax.set_ylabel("observed frequency")
        ax.legend()
        return ax


_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*")
_LINESTYLES = ("-", "--", "-.", ":")


def _with_interval(row, name, *, signed=False) -> str:
    form = "+.3f" if signed else ".3f"
    return f"{row[name]:{form}} ({row[f'{name}_low']:{form}} to {row[f'{name}_high']:{form}})"


# ---------------------------------------------------------------------- validation
def _check_forecasters(forecasters) -> dict:
    named = forecasters if isinstance(forecasters, dict) else None
    if named is None:
        named = {type(forecasters).__name__: forecasters}
    if not named:
        raise ValueError("forecasters is empty; pass an estimator or a dict name -> estimator.")
    for name, est in named.items():
        if not isinstance(name, str):
            raise TypeError(f"forecaster names must be strings, got {name!r}.")
        missing = [m for m in ("fit", "predict") if not callable(getattr(est, m, None))]
        if missing:
            raise TypeError(
                f"forecaster {name!r} ({type(est).__name__}) has no {' or '.join(missing)} "
                "method; a forecaster needs fit(events, grid, *, origin) and predict(blocks), "
                "like caslite.NaiveCounts or caslite.RiskModel."
            )
        if not callable(getattr(est, "get_params", None)):
            raise TypeError(
                f"forecaster {name!r} ({type(est).__name__}) cannot be cloned: it has no "
                "get_params. Derive it from sklearn.base.BaseEstimator."
            )
    return dict(named)


def _with_schedule(name, est, schedule):
    model = clone(est)
    params = model.get_params(deep=False)
    if "schedule" in params:
        own = params["schedule"]
        if own is not None and own != schedule:
            raise ValueError(
                f"forecaster {name!r} has schedule={own!r} but the backtest uses {schedule!r}; "
                "pass schedule= to backtest, or drop the forecaster's own schedule."
            )
        model.set_params(schedule=schedule)
    return model


def _check_schedule(schedule, tz):
    if schedule is None:
        return ShiftSchedule.every(4, tz=tz)
    if not isinstance(schedule, ShiftSchedule):
        raise TypeError(
            f"schedule must be a ShiftSchedule, got {type(schedule).__name__}; e.g. "
            f"ShiftSchedule.every(4, tz={tz!r})."
        )
    if schedule.tz != tz:
        raise ValueError(
            f"the schedule is in {schedule.tz} but the events are in {tz}; build the schedule "
            f"with tz={tz!r}."
        )
    return schedule


def _duration(value, name) -> pd.Timedelta:
    return as_duration(value, name)


def _advance(local: pd.Timestamp, delta: pd.Timedelta) -> pd.Timestamp:
    """``local + delta``; whole days in local calendar days, as ShiftSchedule.horizon."""
    if delta % pd.Timedelta(days=1) == pd.Timedelta(0):
        wall = local.tz_localize(None) + delta
        return wall.tz_localize(local.tz, ambiguous=True, nonexistent="shift_forward")
    return local + delta


def _origins(start, end, step, horizon, tz, max_origins=1_000) -> list:
    step_delta = _duration(step, "step")
    horizon_delta = _duration(horizon, "horizon")
    lo = int(to_utc_seconds(start, tz, "start"))
    hi = int(to_utc_seconds(end, tz, "end"))
    first = pd.Timestamp(lo, unit="s", tz="UTC").tz_convert(tz)
    last = pd.Timestamp(hi, unit="s", tz="UTC").tz_convert(tz)
    if lo >= hi:
        raise ValueError(f"start {first} is not before end {last}; give start < end.")
    origins = []
    while True:
        origin = _advance(first, step_delta * len(origins))
        if _advance(origin, horizon_delta) > last:
            break
        origins.append(origin)
        if len(origins) > max_origins:  # stop counting: the loop stays bounded
            span = hi - lo - horizon_delta.total_seconds()
            count = int(span // step_delta.total_seconds()) + 1
            raise ValueError(
                f"step={step!r} from start {first} to end {last} gives about {count:,} "
                f"forecast origins, more than max_origins={max_origins:,}; use a longer step "
                "(e.g. step='14D'), a shorter period, or raise max_origins."
            )
    if not origins:
        raise ValueError(
            f"no forecast origin fits: the horizon {horizon!r} from start {first} ends after "
            f"end {last}. Use a later end, an earlier start or a shorter horizon."
        )
    return origins


def _check_n_jobs(value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value == 0:
        raise ValueError(
            f"n_jobs must be a non-zero integer (1: serial, -1: all cores), got {value!r}."
        )
    return int(value)


def _check_coverages(coverages) -> tuple:
    values = np.atleast_1d(np.asarray(coverages, dtype=object))
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"coverages must be a non-empty sequence of shares, got {coverages!r}.")
    out = []
    for c in values:
        if isinstance(c, (bool, np.bool_)) or not isinstance(c, numbers.Real) or not 0 < c <= 1:
            raise ValueError(
                f"coverage {c!r} must be a share of the area in (0, 1], e.g. 0.03 for 3%."
            )
        out.append(float(c))
    return tuple(out)


def _calibration_edges(bins) -> np.ndarray:
    if bins is None:
        return DEFAULT_CALIBRATION_EDGES.copy()
    if isinstance(bins, numbers.Integral) and not isinstance(bins, bool):
        if bins < 2:
            raise ValueError(f"calibration_bins={bins!r} must be at least 2.")
        return np.concatenate([[0.0], np.geomspace(1e-6, 1.0, int(bins))])
    edges = np.asarray(bins, dtype=np.float64)
    if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0):
        raise ValueError(
            "calibration_bins must be an int or an increasing 1-d array of at least 2 edges, "
            f"got {bins!r}."
        )
    return edges
