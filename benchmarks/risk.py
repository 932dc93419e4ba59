"""Risk-model cases: the gradient model's forecast of a city and of a country, and its fit.

- ``risk-city-forecast``: :meth:`caslite.models.RiskModel.forecast` (features included) for a
  horizon of 4-hour blocks over the simulated 20 km city (25,600 cells of 125 m), the model
  fitted (untimed) on two years of burglary-like events before the origin;
- ``risk-country-forecast``: the same over the country-shaped polygon of ~2.2 M cells, the
  model fitted (untimed) with a short training span on a year of 30,000 events;
- ``risk-toronto-fit``: :meth:`RiskModel.fit` itself, on five years (2014-2018) of Toronto
  residential break-and-enters, every training origin the data allow (``train_span=None``).

The twin of a forecast is the brute force the additive model avoids: every (block, cell) row of
:meth:`caslite.features.FeatureBuilder.design_matrix` through the fitted ``estimator_.predict``
(times the block profile of the two-stage fit), on a few blocks of the horizon (and, in the
country, a subset of the cells). The fast forecast must equal it to ``rtol`` 1e-9 on the risk.
Its speed-up is per cell-block over the whole horizon: the twin's time on the whole horizon is
estimated from its small run as the feature time (paid once) plus the measured prediction time
per row times every row of the horizon (the row assembly is not scaled up, so the estimate
favours the twin), and divided by the fast forecast's best time. The fit case checks the model
it fitted the same way.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import pickle
import time
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from benchmarks import harness, workloads
from benchmarks.cases import Case, Prepared, Target
from benchmarks.harness import ROOT, agreement
from caslite._time import to_utc_seconds
from caslite.events import Events
from caslite.grid import Grid
from caslite.models import RiskModel
from caslite.models.risk import _block_term, _LevelCounter
from caslite.shifts import Blocks

GiB = 1 << 30
DAY = workloads.DAY
RTOL = 1e-9  # relative, on the risk (expected events): exact up to rounding
SEED = 0  # random_state of every model
CITY_SEED = 20240305
CALIBRATION_BAND = (0.25, 4.0)  # horizon total / the last year's rate over the horizon


# ---------------------------------------------------------------------- workloads
@dataclass(frozen=True)
class RiskScene:
    """A grid, the events of its history and the forecast origin (UTC seconds)."""

    name: str
    grid: Grid
    events: Events
    origin: int
    note: str = ""


@functools.lru_cache(maxsize=2)
def city_scene(side_m: float, events_per_year: int, years: float) -> RiskScene:
    """The benchmark city (:func:`workloads.square`) with ``years`` of events before the origin.

    The same generator as the near-repeat cases, over a longer span so that the model has
    ``warmup`` plus a year of training origins.
    """
    area = workloads.square(side_m)
    grid = Grid.from_area(area, cell_size=workloads.CELL, crs=workloads.CRS)
    origin = workloads.origin_seconds()
    n_hot = max(3, int(round((side_m / 20_000.0) ** 2 * 40)))
    n = int(round(events_per_year * years))
    t, x, y = workloads.burglary_events(
        area, n, origin, CITY_SEED, n_hotspots=n_hot, span_s=int(years * workloads.YEAR)
    )
    events = Events(t, x, y, crs=workloads.CRS, tz=workloads.TZ)
    return RiskScene("city", grid, events, origin)


def country_scene(profile) -> RiskScene:
    """The near-repeat country workload (same polygon, grid and year of events)."""
    scene = workloads.country(profile.country_cells, profile.country_events, profile.horizon_days)
    return RiskScene("country", scene.grid, scene.events, scene.origin)


def toronto_path(profile):
    """The Toronto CSV of a profile (``toronto_data`` is relative to the repository root)."""
    return (ROOT / profile.toronto_data).resolve()


def unavailable(name: str, profile) -> str | None:
    """Why a risk case cannot run in ``profile`` (the Toronto file is missing), or None."""
    if name != "risk-toronto-fit":
        return None
    path = toronto_path(profile)
    if path.exists():
        return None
    return (
        f"no Toronto data at {path} (profile {profile.name!r}: toronto_data="
        f"{profile.toronto_data!r}); risk-toronto-fit skipped. Put the Toronto Police Service "
        "break-and-enter CSV (the file benchmarks/accuracy.py reads) there to run it."
    )


def toronto_scene(profile) -> RiskScene:
    """Residential Toronto incidents from ``toronto_start`` on, and the grid over those known
    before ``toronto_origin`` (``Grid.from_events``, 125 m, convex hull)."""
    from benchmarks.accuracy import load_residential

    path = toronto_path(profile)
    printed = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(printed):
        warnings.simplefilter("always")
        events = load_residential(path)  # drops exact duplicates, says how many
    note = "; ".join([printed.getvalue().strip()] + [str(w.message) for w in caught])
    start = int(to_utc_seconds(profile.toronto_start, events.tz, "toronto_start"))
    origin = int(to_utc_seconds(profile.toronto_origin, events.tz, "toronto_origin"))
    events = events.select(events.t >= start)
    grid = Grid.from_events(events.before(origin), cell_size=workloads.CELL)
    return RiskScene("toronto", grid, events, origin, note)


def _fit(scene: RiskScene, horizon_days, params: dict) -> RiskModel:
    # shift_shrinkage=0: the forecast cases time and check the scoring of every (block, cell);
    # the shrinkage toward the area's shift split is a step after it, over the whole horizon,
    # which the twin below (a few blocks of a subset of cells) cannot reproduce; its own twin
    # is in tests/test_shift_profile.py.
    params = {"shift_shrinkage": 0.0, **params}

    def fit():
        model = RiskModel(horizon=f"{horizon_days:g}D", random_state=SEED, **params)
        return model.fit(scene.events, scene.grid, origin=scene.origin)

    # fitted once per suite run: the memory measurement's fresh interpreter loads it
    key = f"risk-fit {scene.name} {len(scene.events)} {scene.origin} {horizon_days!r} {params!r}"
    return harness.made_once(key, fit)


# ---------------------------------------------------------------------- the twin
def brute_force(model: RiskModel, events, blocks: Blocks, cells=None) -> dict:
    """Every (block, cell) row of ``design_matrix`` through each of ``estimators_``, averaged.

    Returns the risk ``(len(blocks), n_chosen_cells)`` and the time of the two steps. A
    shift-flat model (too few exact times) and a model with ``shift_shrinkage`` other than 0 are
    refused: their rescaling over the whole horizon is not part of this twin.
    """
    if model.training_.get("shift_flat", False):
        raise ValueError(
            "the twin does not model shift-flat forecasts; fit with enough exact times or "
            "min_exact_times=0."
        )
    if model.shift_shrinkage != 0:
        raise ValueError(
            "the twin does not model the shift shrinkage (a step over the whole horizon); "
            f"fit with shift_shrinkage=0, got {model.shift_shrinkage!r}."
        )
    t0 = time.perf_counter()
    X, names, _, _ = model.features_.design_matrix(
        events, model.grid_, blocks, model.origin_, cells=cells
    )
    t1 = time.perf_counter()
    frame = pd.DataFrame(X, columns=names)
    risk = np.mean([e.predict(frame) for e in model.estimators_], axis=0)
    if model.block_model_ is not None:  # two-stage fit: times the area's profile per block
        level = _LevelCounter(model.events_, model.grid_).at(model.origin_)
        block_frame = frame[model.features_.block_feature_names_]
        risk = risk * np.exp(_block_term(model.block_model_, block_frame, level))
    t2 = time.perf_counter()
    return {
        "risk": np.asarray(risk, dtype=np.float64).reshape(len(blocks), -1),
        "features_s": t1 - t0,
        "predict_s": t2 - t1,
        "rows": int(X.shape[0]),
    }


def twin_cells(model: RiskModel, n: int):
    """``n`` cells for the twin (None: all): half among the cells with events, half spread."""
    n_cells = model.grid_.n_cells
    if not n or n >= n_cells:
        return None
    seen = model.grid_.cell_of(model.events_.x, model.events_.y)
    seen = np.unique(seen[seen >= 0])
    busy = seen[
        np.unique(np.linspace(0, seen.size - 1, min(n // 2, seen.size)).round().astype(int))
    ]
    spread = np.unique(np.linspace(0, n_cells - 1, n - busy.size).round().astype(np.int64))
    return np.union1d(busy, spread)


def _forecast_twin(model, events, blocks, pick, cells, state, fast_repeats: int):
    """The closure that compares the fast forecast with the brute force on a few blocks."""

    def run_twin() -> dict:
        small = Blocks(blocks.schedule, blocks.ids[pick])
        twin = brute_force(model, events, small, cells)
        columns = slice(None) if cells is None else cells
        got = state.get("subset")
        if got is None:  # no timed forecast was checked (e.g. the twin run alone)
            got = model.forecast(blocks).risk[pick][:, columns]
        fast_times = list(state.get("times", []))
        if not fast_times:
            for _ in range(fast_repeats):
                t0 = time.perf_counter()
                model.forecast(blocks)
                fast_times.append(time.perf_counter() - t0)
        fast_s = min(fast_times)
        full_rows = len(blocks) * model.grid_.n_cells
        measured_s = twin["features_s"] + twin["predict_s"]
        twin_s = twin["features_s"] + twin["predict_s"] * full_rows / twin["rows"]
        return {
            "workload": {
                "n_blocks": len(small),
                "n_cells": model.grid_.n_cells if cells is None else int(cells.size),
                "rows": twin["rows"],
                "what": "design_matrix rows -> mean of estimators_ predict",
            },
            "twin_s": twin_s,
            "twin_s_is": "estimated for the whole horizon: features_s + predict_s per row x "
            f"{full_rows:,} rows",
            "twin_measured": {
                "features_s": twin["features_s"],
                "predict_s": twin["predict_s"],
                "total_s": measured_s,
            },
            "fast_s": fast_s,
            "fast_s_is": f"best forecast() of the whole horizon ({len(blocks)} blocks x "
            f"{model.grid_.n_cells:,} cells)",
            "speedup": twin_s / fast_s,
            "speedup_small_per_cell_block": (measured_s / twin["rows"]) / (fast_s / full_rows),
            **agreement(got, twin["risk"], RTOL, 0.0),
        }

    return run_twin


def _pick_blocks(n_blocks: int, k: int) -> np.ndarray:
    return np.unique(np.linspace(0, n_blocks - 1, k).round().astype(np.int64))


# ---------------------------------------------------------------------- checks
def _recent_rate(model: RiskModel, horizon_days: float) -> float:
    """Events in the grid in the year before the origin (or since the first event), per
    ``horizon_days``."""
    ev = model.events_
    span = min(365 * DAY, model.origin_ - int(ev.t.min()))
    recent = ev.t >= model.origin_ - span
    inside = model.grid_.cell_of(ev.x[recent], ev.y[recent]) >= 0
    return float(np.count_nonzero(inside)) * horizon_days * DAY / span


def forecast_checks(forecast, model: RiskModel, horizon_days: float) -> list:
    """Shape, finiteness, calibration against the recent rate, and the additive structure."""
    risk = forecast.risk
    n_blocks, n_cells = len(forecast.blocks), model.grid_.n_cells
    out = [
        {
            "name": "shape and dtype",
            "passed": risk.shape == (n_blocks, n_cells) and risk.dtype == np.float64,
            "detail": f"{risk.shape} {risk.dtype}",
        },
        {
            "name": "finite and positive",
            "passed": bool(np.isfinite(risk).all() and (risk > 0).all()),
            "detail": f"min {float(risk.min()):.3g}, max {float(risk.max()):.3g}",
        },
    ]
    expected = _recent_rate(model, horizon_days)
    ratio = float(risk.sum()) / expected if expected > 0 else float("nan")
    lo, hi = CALIBRATION_BAND
    out.append(
        {
            "name": "horizon total near the last year's rate",
            "passed": bool(lo <= ratio <= hi),
            "detail": f"{float(risk.sum()):.1f} expected vs {expected:.1f} at the last year's "
            f"rate (ratio {ratio:.2f}, allowed {lo:g}-{hi:g})",
        }
    )
    spread = float(np.log(risk[0]).std())
    out.append(
        {
            "name": "cells are told apart",
            "passed": spread > 0,
            "detail": f"std of log risk over cells in block 0: {spread:.3g}",
        }
    )
    n_shifts = model.schedule_.n_shifts
    if model.interactions == "additive" and n_blocks > n_shifts:
        shifts = forecast.blocks.shift
        later = int(np.flatnonzero(shifts == shifts[0])[1])
        diff = np.log(risk[later]) - np.log(risk[0])
        width = float(diff.max() - diff.min())
        out.append(
            {
                "name": "additive: blocks of one shift differ by one factor",
                "passed": width <= 1e-9 * max(1.0, float(np.abs(diff).max())),
                "detail": f"log(risk[{later}] / risk[0]) varies by {width:.2g} over cells",
            }
        )
    return out


# ---------------------------------------------------------------------- forecast cases
def _prepare_forecast(which: str, profile) -> Prepared:
    if which == "city":
        scene = city_scene(profile.city_side, profile.city_events, profile.risk_city_years)
        params, repeats, n_twin_cells = profile.risk_city_model, profile.repeats, 0
    else:
        scene = country_scene(profile)
        # tens of seconds a call: timed once here (and once with the competing load); the
        # fresh interpreter of the memory measurement adds the cold call
        params, repeats = profile.risk_country_model, profile.repeats_fit
        n_twin_cells = profile.twin_risk_cells
    horizon_days = profile.horizon_days
    t0 = time.perf_counter()
    model = _fit(scene, horizon_days, params)
    fit_s = time.perf_counter() - t0
    blocks = model.schedule_.horizon(model.origin_, model.horizon)
    n_blocks, n_cells = len(blocks), scene.grid.n_cells
    pick = _pick_blocks(n_blocks, profile.twin_blocks)
    cells = twin_cells(model, n_twin_cells)
    state = {"times": []}

    def run():
        t0 = time.perf_counter()
        forecast = model.forecast()
        state["times"].append(time.perf_counter() - t0)
        return forecast

    def checks(forecast) -> list:
        columns = slice(None) if cells is None else cells
        state["subset"] = forecast.risk[pick][:, columns].copy()  # for the twin
        return forecast_checks(forecast, model, horizon_days)

    training = model.training_
    workload = {
        "n_cells": n_cells,
        "n_blocks": n_blocks,
        "n_events": len(scene.events),
        "history_days": round((scene.origin - int(scene.events.t.min())) / DAY, 1),
        "model": {**params, "horizon": model.horizon, "random_state": SEED},
        "n_features": len(model.feature_names_),
        "fit_s": fit_s,
        "training": {
            "origins": int(training["origins"].size),
            "n_rows": training["n_rows"],
            "n_positive": training["n_positive"],
            "negative_rate": training["negative_rate"],
        },
        "dtype": "float64",
        "summary": f"{n_cells:,} cells × {n_blocks:,} blocks, {len(scene.events):,} events, "
        f"forecast() of a model fitted on {training['origins'].size} origins",
    }
    return Prepared(
        workload=workload,
        run=run,
        output_bytes=lambda forecast: int(forecast.risk.nbytes),
        work=lambda forecast: float(forecast.risk.size),
        unit="cell-blocks/s",
        floor_shape=(n_blocks, n_cells),
        floor_dtype=np.dtype(np.float64),
        twin=_forecast_twin(model, scene.events, blocks, pick, cells, state, repeats),
        checks=checks,
        repeats=repeats,
        # the fit in prepare compiled and warmed what the forecast runs: in the full profile
        # the country's one timed call is also its first here
        warm_up=which == "city",
        # a country forecast takes a minute: its fresh interpreter measures the cold call only
        peak_on_first_call=which == "country",
    )


# ---------------------------------------------------------------------- the fit case
def _model_bytes(model: RiskModel) -> int:
    """Bytes a fitted model holds of its own: the pickled ensembles and the known events."""
    ev = model.events_
    arrays = sum(a.nbytes for a in (ev.t, ev.t_end, ev.x, ev.y))
    frame = int(ev.data.memory_usage(deep=True).sum()) if ev.data is not None else 0
    return len(pickle.dumps(model.estimators_)) + arrays + frame


def _prepare_fit(profile) -> Prepared:
    scene = toronto_scene(profile)
    params = dict(profile.toronto_model)
    horizon = params.pop("horizon", "14D")
    horizon_days = pd.Timedelta(horizon) / pd.Timedelta(days=1)
    schedule = RiskModel()._schedule_for(scene.events)
    n_blocks = len(schedule.horizon(scene.origin, horizon))
    probe = RiskModel(horizon=horizon, **params)  # how many origins the fit will train on
    n_origins = len(probe._training_origins(scene.events.before(scene.origin), schedule,
                                            scene.origin))  # fmt: skip
    state = {"first": None, "model": None}

    def run():
        # shift_shrinkage (a forecast-time step) left out of the check: see _fit
        model = RiskModel(horizon=horizon, random_state=SEED, **{"shift_shrinkage": 0.0, **params})
        model.fit(scene.events, scene.grid, origin=scene.origin)
        if state["first"] is None:
            state["first"] = model.estimators_  # same seed, same data: the same model
        return model

    def check_frame(model) -> pd.DataFrame:
        blocks = model.schedule_.horizon(model.origin_, model.horizon)
        sample = _pick_blocks(len(blocks), profile.twin_blocks)
        cells = np.arange(min(2_000, model.grid_.n_cells))
        X, names, _, _ = model.features_.design_matrix(
            scene.events, model.grid_, Blocks(blocks.schedule, blocks.ids[sample]),
            model.origin_, cells=cells,
        )  # fmt: skip
        return pd.DataFrame(X, columns=names)

    def fingerprint(model) -> str:
        """Digest of every estimator's predictions on the check rows: equal for equal fits."""
        frame = check_frame(model)
        digest = hashlib.sha256()
        for estimator in model.estimators_:
            digest.update(np.ascontiguousarray(estimator.predict(frame), np.float64).tobytes())
        return digest.hexdigest()

    def checks(model) -> list:
        state["model"] = model
        # the fit must at least write its training matrix once: that is its floor
        prepared.floor_shape = (model.training_["n_rows"], len(model.feature_names_))
        training = model.training_
        frame = check_frame(model)
        if prepared.reference_fingerprint is not None:  # the fresh interpreter's fit
            same = fingerprint(model) == prepared.reference_fingerprint
            against = "the fit in the fresh interpreter and this one"
        else:
            same = all(
                np.array_equal(first.predict(frame), again.predict(frame))
                for first, again in zip(state["first"], model.estimators_, strict=True)
            )
            against = "first and last fit"
        origins = training["origins"]
        last_end = int(model.schedule_.horizon(int(origins.max()), model.horizon).end.max())
        earliest = training["first_event"] + int(pd.Timedelta(model.warmup).total_seconds())
        out = [
            {
                "name": "training horizons end before the origin",
                "passed": last_end <= model.origin_ and int(origins.min()) >= earliest,
                "detail": f"{origins.size} origins every {model.train_step}; the last horizon "
                f"ends {(model.origin_ - last_end) / 3600:g} h before the origin",
            },
            {
                "name": "training rows with events",
                "passed": training["n_positive"] > 0 and training["n_rows"] > 0,
                "detail": f"{training['n_positive']:,} with events of {training['n_rows']:,} "
                f"rows (negatives kept at rate {training['negative_rate']:.3g})",
            },
            {
                "name": "same seed, same model",
                "passed": same,
                "detail": f"{against} predict {'the same' if same else 'differently'} "
                f"on {frame.shape[0]:,} rows",
            },
        ]
        return out + forecast_checks(model.forecast(), model, horizon_days)

    def run_twin() -> dict:
        model = state["model"] or run()
        blocks = model.schedule_.horizon(model.origin_, model.horizon)
        pick = _pick_blocks(len(blocks), profile.twin_blocks)
        twin = _forecast_twin(model, scene.events, blocks, pick, None, {}, 3)
        return {**twin(), "note": "the fitted model's forecast() against the brute force"}

    n_cells = scene.grid.n_cells
    first = pd.Timestamp(int(scene.events.t.min()), unit="s", tz="UTC").tz_convert(scene.events.tz)
    workload = {
        "data": str(toronto_path(profile)),
        "load_note": scene.note,
        "n_events": len(scene.events),
        "n_events_before_origin": len(scene.events.before(scene.origin)),
        "first_event": str(first),
        "origin": profile.toronto_origin,
        "n_cells": n_cells,
        "n_training_origins": n_origins,
        "n_blocks_per_horizon": n_blocks,
        "model": {**params, "horizon": horizon, "random_state": SEED},
        "summary": f"fit: {len(scene.events.before(scene.origin)):,} events since "
        f"{profile.toronto_start}, {n_cells:,} cells, {n_origins} origins × {n_blocks} blocks",
    }
    prepared = Prepared(
        workload=workload,
        run=run,
        output_bytes=_model_bytes,
        work=lambda model: float(model.training_["origins"].size * n_blocks * n_cells),
        unit="cell-blocks/s",
        floor_shape=None,  # set from the first fit (its training matrix), see checks
        floor_dtype=np.dtype(np.float64),
        twin=run_twin,
        checks=checks,
        repeats=profile.repeats_fit,
        peak_on_first_call=True,  # minutes a fit: the cold one is measured, not repeated
        warm_up=False,  # nor a warm-up here: the fresh interpreter took the cold call
        fingerprint=fingerprint,  # same seed in two processes: the same model
    )
    return prepared


# ---------------------------------------------------------------------- registry
CASES = [
    Case(
        "risk-city-forecast",
        "risk",
        "RiskModel.forecast() (features included), 84 blocks over the 25,600-cell city.",
        functools.partial(_prepare_forecast, "city"),
        (Target("best_s", 2.0, "≤ 2 s"),),
    ),
    Case(
        "risk-country-forecast",
        "risk",
        "RiskModel.forecast() (features included), 84 blocks over ~2.2 M country cells.",
        functools.partial(_prepare_forecast, "country"),
        (
            Target("best_s", 60.0, "≤ 60 s"),
            Target("peak_beyond_output_bytes", 8 * GiB, "≤ 8 GiB beyond output"),
        ),
    ),
    Case(
        "risk-toronto-fit",
        "risk",
        "RiskModel(train_span=None).fit on Toronto residential burglary 2014-2018.",
        _prepare_fit,
        (
            Target("best_cpu_s", 20.0, "≤ 20 s CPU"),
            Target("peak_rss_bytes", 1e9, "peak RSS ≤ 1 GB"),
        ),
    ),
]
