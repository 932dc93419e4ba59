"""Provenance of forecasts, predict() and backtests, and the ``discovered`` flag of RiskModel.

Provenance is checked against what the run was given (the model's parameters, the events it
knew, the grid and the blocks), recomputed independently; the discovered-incident rules are
checked against fitting on the incidents removed by hand, and the thinning share against the
binomial law.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box
from threadpoolctl import threadpool_limits

import caslite
from caslite import Events, FeatureBuilder, Forecast, Grid, NaiveCounts, RiskModel
from caslite.datasets import simulate_city
from caslite.evaluation import backtest

CELL = 250.0
ORIGIN = "2023-10-25"
FAST = {
    "features": FeatureBuilder(kernels=None),
    "horizon": "7D",
    "train_step": "28D",
    "max_iter": 10,
    "negative_rate": 1.0,
    "random_state": 0,
}


@pytest.fixture(scope="module", autouse=True)
def one_openmp_thread():
    with threadpool_limits(limits=1, user_api="openmp"):
        yield


@pytest.fixture(scope="module")
def city():
    return simulate_city(
        start="2023-01-01", end="2024-01-01", size=2000.0, background_rate=6.0, random_state=1
    )


@pytest.fixture(scope="module")
def flagged(city):
    """The city's events with every third one flagged as discovered by a patrol."""
    frame = city.events.copy()
    frame["discovered"] = np.arange(len(frame)) % 3 == 0
    return Events.from_frame(frame, crs=city.crs, tz=city.tz)


@pytest.fixture(scope="module")
def grid(city):
    return Grid.from_area(box(*city.bounds), cell_size=CELL, crs=city.crs)


@pytest.fixture(scope="module")
def fitted(flagged, grid):
    return RiskModel(**FAST).fit(flagged, grid, origin=ORIGIN)


def sha256_of(t, t_end, x, y) -> str:
    digest = hashlib.sha256()
    for values in (t, t_end, x, y):
        digest.update(np.asarray(values).tobytes())
    return digest.hexdigest()


# ---------------------------------------------------------------------- provenance
def test_forecast_provenance_records_model_data_grid_and_horizon(fitted, flagged, grid):
    forecast = fitted.forecast()
    record = forecast.provenance
    json.dumps(record)  # JSON-ready as it is
    origin = pd.Timestamp(ORIGIN, tz=flagged.tz)
    assert record["origin"] == origin.isoformat()
    assert record["horizon"]["n_blocks"] == len(forecast.blocks) == 42
    # 7 local days: the 29 October clock change makes them 169 hours.
    assert record["horizon"]["last_end"] == pd.Timestamp("2023-11-01", tz=flagged.tz).isoformat()
    assert record["grid"] == {
        "cell_size": CELL,
        "crs": grid.crs.to_string(),
        "x0": grid.x0,
        "y0": grid.y0,
        "shape": list(grid.shape),
        "n_cells": grid.n_cells,
    }
    model = record["model"]
    assert model["class"] == "RiskModel"
    assert set(model["params"]) == set(fitted.get_params(deep=False))
    assert model["params"]["max_iter"] == 10
    assert model["feature_names"] == fitted.feature_names_
    # The data: exactly the events known before the origin, fingerprinted independently.
    known = flagged.before(int(origin.timestamp()))
    data = record["data"]
    assert data["n"] == len(known) == fitted.training_["events"]
    assert data["sha256"] == sha256_of(known.t, known.t_end, known.x, known.y)
    assert data["crs"] == flagged.crs.to_string() and data["tz"] == flagged.tz
    assert record["versions"]["caslite"] == caslite.__version__
    # Tables made from the forecast carry the same record.
    assert forecast.to_frame().attrs["provenance"] is record
    assert forecast.top(coverage=0.05).attrs["provenance"] is record


def test_provenance_ignores_events_after_the_origin(city, fitted, grid):
    frame = city.events.copy()
    frame["discovered"] = np.arange(len(frame)) % 3 == 0
    late = frame[frame["t"] >= pd.Timestamp(ORIGIN, tz=city.tz)].copy()
    late["x"] += 10.0  # moved events after the origin
    changed = pd.concat([frame[frame["t"] < pd.Timestamp(ORIGIN, tz=city.tz)], late])
    events = Events.from_frame(changed, crs=city.crs, tz=city.tz)
    other = RiskModel(**FAST).fit(events, grid, origin=ORIGIN).forecast()
    assert other.provenance["data"] == fitted.forecast().provenance["data"]
    np.testing.assert_array_equal(other.risk, fitted.forecast().risk)


def test_provenance_changes_with_the_data_before_the_origin(city, fitted, grid):
    frame = city.events.copy()
    frame["discovered"] = np.arange(len(frame)) % 3 == 0
    frame.loc[frame.index[0], "x"] += 1.0
    events = Events.from_frame(frame, crs=city.crs, tz=city.tz)
    model = RiskModel(**FAST).fit(events, grid, origin=ORIGIN)
    assert (
        model.forecast().provenance["data"]["sha256"]
        != (fitted.forecast().provenance["data"]["sha256"])
    )


def test_forecast_without_model_records_no_data():
    grid = Grid.from_area(box(0, 0, 250, 250), cell_size=125.0, crs="EPSG:28992")
    blocks = caslite.ShiftSchedule.every(12, tz="Europe/Amsterdam").horizon("2024-03-11", "1D")
    forecast = Forecast(np.zeros((2, 4)), blocks, grid, origin=blocks.start[0])
    assert forecast.provenance["model"] is None and forecast.provenance["data"] is None
    with pytest.raises(TypeError, match="provenance must be a dict"):
        Forecast(np.zeros((2, 4)), blocks, grid, origin=blocks.start[0], provenance="x")


def test_saved_forecast_keeps_its_provenance(fitted, tmp_path):
    forecast = fitted.forecast()
    path = tmp_path / "forecast.caslite"
    caslite.save_forecast(forecast, path)
    loaded = caslite.load_forecast(path)
    assert loaded.provenance == json.loads(json.dumps(forecast.provenance))


def test_predict_output_carries_provenance_with_its_arguments(city):
    frame = city.events
    origin = "2023-12-01"
    late = int((frame["t"] >= pd.Timestamp(origin, tz=city.tz)).sum())
    with pytest.warns(caslite.CasliteWarning, match=f"{late} of {len(frame)} incidents"):
        hot = caslite.predict(
            frame,
            origin,
            "3D",
            CELL,
            crs=city.crs,
            tz=city.tz,
            coverage=0.05,
            model=RiskModel(**{**FAST, "random_state": None}),
            random_state=7,
        )
    record = hot.attrs["provenance"]
    assert record["predict"] == {
        "origin": origin,
        "horizon": "3D",
        "cell_size": CELL,
        "coverage": 0.05,
        "shift_hours": 4,
        "shifts": ["00-04", "04-08", "08-12", "12-16", "16-20", "20-00"],
        "area": None,
        "incidents": len(frame),
        "ignored_not_known_before_origin": late,
        "random_state": 7,
    }
    assert record["model"]["params"]["random_state"] == 7
    assert record["data"]["n"] == len(frame) - late
    assert record["horizon"]["n_blocks"] == 18


def test_backtest_params_fingerprint_the_data(flagged, grid):
    result = backtest(
        {"naive": NaiveCounts(window_weeks=4)},
        flagged,
        grid,
        start="2023-09-01",
        end="2023-09-15",
        step="7D",
        horizon="7D",
        progress=False,
    )
    data = result.params["data"]
    assert data["n"] == len(flagged)
    assert data["sha256"] == sha256_of(flagged.t, flagged.t_end, flagged.x, flagged.y)
    assert result.params["versions"]["caslite"] == caslite.__version__


# ---------------------------------------------------------------------- discovered incidents
def test_exclude_equals_fitting_on_reported_incidents_only(flagged, grid):
    excluded = RiskModel(**FAST, discovered="exclude").fit(flagged, grid, origin=ORIGIN)
    reported = flagged.select(~flagged.data["discovered"].to_numpy())
    by_hand = RiskModel(**FAST).fit(reported, grid, origin=ORIGIN)
    np.testing.assert_array_equal(excluded.forecast().risk, by_hand.forecast().risk)
    known = flagged.before(int(pd.Timestamp(ORIGIN, tz=flagged.tz).timestamp()))
    n_flagged = int(known.data["discovered"].sum())
    assert excluded.training_["discovered_dropped"] == n_flagged > 0
    assert len(excluded.events_) == len(known) - n_flagged


def test_keep_ignores_the_flag(flagged, grid, fitted):
    plain = Events(flagged.t, flagged.x, flagged.y, crs=flagged.crs, tz=flagged.tz)
    other = RiskModel(**FAST).fit(plain, grid, origin=ORIGIN)
    np.testing.assert_array_equal(other.forecast().risk, fitted.forecast().risk)
    assert fitted.training_["discovered_dropped"] == 0


@pytest.fixture(scope="module")
def thinned(flagged, grid):
    return RiskModel(**FAST, discovered=0.3).fit(flagged, grid, origin=ORIGIN)


def test_thinning_keeps_the_share_asked_for(thinned, flagged):
    known = flagged.before(int(pd.Timestamp(ORIGIN, tz=flagged.tz).timestamp()))
    flag = known.data["discovered"].to_numpy()
    n = int(flag.sum())
    kept_discovered = int(thinned.events_.data["discovered"].sum())
    # Every reported incident stays; discovered ones are kept as Binomial(n, 0.3).
    assert len(thinned.events_) - kept_discovered == int((~flag).sum())
    assert abs(kept_discovered - 0.3 * n) < 4 * np.sqrt(n * 0.3 * 0.7)
    assert thinned.training_["discovered_dropped"] == n - kept_discovered


def test_thinning_is_deterministic_and_stable_under_update(thinned, flagged, grid):
    again = RiskModel(**FAST, discovered=0.3).fit(flagged, grid, origin=ORIGIN)
    np.testing.assert_array_equal(again.events_.t, thinned.events_.t)
    np.testing.assert_array_equal(again.forecast().risk, thinned.forecast().risk)
    # Moving the origin on keeps exactly the incidents kept at fit time, and thins the new ones.
    later = RiskModel(**FAST, discovered=0.3).fit(flagged, grid, origin=ORIGIN)
    later.update(flagged, origin="2023-12-01")
    fit_origin = thinned.fit_origin_
    early = later.events_.t < fit_origin
    np.testing.assert_array_equal(later.events_.t[early], thinned.events_.t)
    np.testing.assert_array_equal(later.events_.x[early], thinned.events_.x)
    new = later.events_.data["discovered"].to_numpy()[~early]
    assert 0 < new.sum() < (flagged.data["discovered"].to_numpy() & (flagged.t >= fit_origin)).sum()


def test_share_one_keeps_everything_and_zero_drops_every_discovered(flagged, grid):
    everything = RiskModel(**FAST, discovered=1.0).fit(flagged, grid, origin=ORIGIN)
    none = RiskModel(**FAST, discovered=0.0).fit(flagged, grid, origin=ORIGIN)
    known = flagged.before(int(pd.Timestamp(ORIGIN, tz=flagged.tz).timestamp()))
    assert len(everything.events_) == len(known)
    assert not none.events_.data["discovered"].any()
    assert len(none.events_) == int((~known.data["discovered"]).sum())


def test_thinning_survives_save_and_load(thinned, flagged, tmp_path):
    path = tmp_path / "model.caslite"
    caslite.save_model(thinned, path)
    loaded = caslite.load_model(path)
    assert loaded.thinning_seed_ == thinned.thinning_seed_
    loaded.update(flagged, origin="2023-12-01")
    reference = RiskModel(**FAST, discovered=0.3).fit(flagged, grid_of(thinned), origin=ORIGIN)
    reference.update(flagged, origin="2023-12-01")
    np.testing.assert_array_equal(loaded.events_.t, reference.events_.t)


def grid_of(model):
    return model.grid_


def test_discovered_needs_the_column_and_clean_flags(city, grid):
    plain = Events.from_frame(city.events, crs=city.crs, tz=city.tz)
    with pytest.raises(ValueError, match="needs a boolean column 'discovered'"):
        RiskModel(**FAST, discovered="exclude").fit(plain, grid, origin=ORIGIN)
    frame = city.events.copy()
    frame["discovered"] = "no"
    frame.loc[frame.index[:2], "discovered"] = None
    events = Events.from_frame(frame, crs=city.crs, tz=city.tz)
    with pytest.raises(ValueError, match="must be True or False on every row"):
        RiskModel(**FAST, discovered="exclude").fit(events, grid, origin=ORIGIN)
    for bad in ("drop", 1.5, -0.1, True):
        with pytest.raises(ValueError, match="discovered must be 'keep', 'exclude' or a share"):
            RiskModel(**FAST, discovered=bad).fit(plain, grid, origin=ORIGIN)


# ---------------------------------------------------------------------- progress
def test_fit_shows_progress_and_logs_the_training_set_only_when_asked(
    flagged, grid, capsys, caplog
):
    import logging

    with caplog.at_level(logging.INFO, logger="caslite"):
        model = RiskModel(**FAST, progress=True).fit(flagged, grid, origin=ORIGIN)
    err = capsys.readouterr().err
    n_origins = len(model.training_["origins"])
    assert "training rows: 100%" in err and f"{n_origins}/{n_origins}" in err
    (record,) = [r for r in caplog.records if r.getMessage().startswith("RiskModel:")]
    assert f"{model.training_['n_rows']} training rows" in record.getMessage()
    assert f"({model.training_['n_positive']} with events)" in record.getMessage()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="caslite"):  # no INFO record unless asked
        silent = RiskModel(**FAST).fit(flagged, grid, origin=ORIGIN)
    assert "training rows" not in capsys.readouterr().err and not caplog.records
    np.testing.assert_array_equal(silent.forecast().risk, model.forecast().risk)
    with pytest.raises(TypeError, match="progress must be True or False"):
        RiskModel(**FAST, progress="yes").fit(flagged, grid, origin=ORIGIN)
