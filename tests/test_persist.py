"""Tests of caslite.persist: model and forecast files, and the refusal of damaged or foreign files.

References are independent of the file code: forecasts of the loaded model are compared with
the original model's and with the original scikit-learn estimator scoring every (block, cell)
row of the design matrix; metadata with values computed from the events directly; hashes with
hashlib over the archive members. Damaged files are made by rewriting archive members.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import json
import pickle
import zipfile

import numpy as np
import pandas as pd
import pytest
from geopandas.testing import assert_geodataframe_equal
from sklearn.base import clone

from caslite import ExponentialSpace, ExponentialTime, FeatureBuilder, Grid, RiskModel
from caslite.datasets import load_sample
from caslite.models.risk import _block_term, _LevelCounter
from caslite.persist import (
    FORMAT_VERSION,
    CasliteFileError,
    StoredEnsemble,
    load_forecast,
    load_model,
    read_metadata,
    save_forecast,
    save_model,
)

ORIGIN = "2023-02-01"
KERNELS = {
    "nr_a": (
        ExponentialSpace(scale=100.0, radius=300.0),
        ExponentialTime(scale_days=7.0, window_days=np.inf),
    )
}


@pytest.fixture(scope="module")
def fitted():
    events = load_sample("synthetic").to_events()
    grid = Grid.from_events(events, cell_size=250.0)
    builder = FeatureBuilder(kernels=KERNELS, windows_weeks=(1, 4, 26))
    model = RiskModel(
        features=builder, max_iter=5, horizon="7D", train_span="120D", train_step="28D",
        random_state=0,
    ).fit(events, grid, origin=ORIGIN)  # fmt: skip
    return model, events, grid


@pytest.fixture(scope="module")
def saved(fitted, tmp_path_factory):
    path = tmp_path_factory.mktemp("persist") / "model.caslite"
    save_model(fitted[0], path)
    return path


def rewrite(source, target, change):
    """Copy a zip archive, passing each (name, bytes) member through ``change``."""
    with zipfile.ZipFile(source) as archive:
        members = [(i.filename, archive.read(i)) for i in archive.infolist()]
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in members:
            out = change(name, data)
            if out is not None:
                archive.writestr(name, out)
    return target


def with_manifest(source, target, edit, parts=None):
    """Rewrite the manifest with ``edit`` (and parts with ``parts``), hashes kept consistent."""
    parts = parts or {}

    with zipfile.ZipFile(source) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    for name, data in parts.items():
        manifest["parts"][name]["sha256"] = hashlib.sha256(data).hexdigest()
        manifest["parts"][name]["nbytes"] = len(data)
    edit(manifest)

    def change(name, data):
        if name == "manifest.json":
            return json.dumps(manifest).encode()
        return parts.get(name, data)

    return rewrite(source, target, change)


def npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


# ---------------------------------------------------------------------- round trips
def test_loaded_model_forecasts_equal_original_and_sklearn(fitted, saved):
    model, events, grid = fitted
    loaded = load_model(saved)
    expected = model.forecast().risk
    got = loaded.forecast().risk
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)
    # Independent reference: the fitted scikit-learn estimator over every (block, cell) row.
    blocks = model.schedule_.horizon(model.origin_, "7D")
    X, names, block_index, cell_index = model.features_.design_matrix(
        events, grid, blocks, origin=model.origin_
    )
    # (the mean of the bags' expected counts)
    each = [e.predict(pd.DataFrame(X, columns=names)) for e in model.estimators_]
    assert len(each) == model.n_bags == 2 and not np.array_equal(each[0], each[1])
    sk = np.mean(each, axis=0)
    # times the area's expected events per block (the two-stage fit's block profile)
    level = _LevelCounter(model.events_, grid).at(model.origin_)
    frame = pd.DataFrame(X, columns=names)[model.features_.block_feature_names_]
    profile = np.exp(_block_term(loaded.block_model_, frame, level))
    np.testing.assert_allclose(got[block_index, cell_index], sk * profile, rtol=1e-9)
    assert loaded.block_model_ == model.block_model_
    # Each stored ensemble's own predict agrees with its scikit-learn original too.
    assert len(loaded.estimators_) == 2 and loaded.estimator_ is loaded.estimators_[0]
    for stored, expected_each in zip(loaded.estimators_, each, strict=True):
        assert isinstance(stored, StoredEnsemble)
        np.testing.assert_allclose(stored.predict(X), expected_each, rtol=1e-9)


def test_loaded_model_params_and_explain(fitted, saved):
    model = fitted[0]
    loaded = load_model(saved)
    original = model.get_params(deep=False)
    restored = loaded.get_params(deep=False)
    assert restored["features"].get_params() == original["features"].get_params()
    assert {k: v for k, v in restored.items() if k != "features"} == {
        k: v for k, v in original.items() if k != "features"
    }
    pd.testing.assert_frame_equal(loaded.explain([0, 5]), model.explain([0, 5]))


def test_update_after_load_matches_updated_original(fitted, saved):
    model, events, _ = fitted
    loaded = load_model(saved).update(events, origin="2023-03-01")
    expected = model.update(events, origin="2023-03-01").forecast().risk
    model.update(events, origin=ORIGIN)  # back to the fit origin for the other tests
    np.testing.assert_allclose(loaded.forecast().risk, expected, rtol=1e-12, atol=0)
    assert not np.array_equal(expected, model.forecast().risk)


def test_same_model_writes_same_bytes(fitted, tmp_path):
    save_model(fitted[0], tmp_path / "a")
    save_model(fitted[0], tmp_path / "b")
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes()


def test_metadata_present(fitted, saved):
    model, events, grid = fitted
    info = read_metadata(saved)
    assert info["format"] == "caslite" and info["format_version"] == FORMAT_VERSION
    assert info["kind"] == "RiskModel"
    assert info["caslite_version"] == importlib.metadata.version("caslite")
    meta = info["metadata"]
    origin = int(pd.Timestamp(ORIGIN, tz=events.tz).timestamp())
    known = events.t[events.t < origin]
    assert meta["fit_origin"] == origin
    assert meta["summary"]["first_event"] == int(known.min())
    assert meta["summary"]["last_event"] == int(known.max())
    assert meta["summary"]["random_state"] == 0
    assert meta["summary"]["grid"]["crs_name"] == "EPSG:28992"
    assert meta["summary"]["grid"]["n_cells"] == grid.n_cells == 42 * 42
    assert meta["summary"]["grid"]["cell_size"] == 250.0
    assert meta["schedule"]["starts"] == ["00:00", "04:00", "08:00", "12:00", "16:00", "20:00"]
    assert meta["feature_names"][:3] == ["n_cell_1w", "n_cell_4w", "n_cell_26w"]
    assert "nr_a" in meta["feature_names"]
    # Every part's hash is the SHA-256 of its bytes in the archive.
    with zipfile.ZipFile(saved) as archive:
        names = set(archive.namelist()) - {"manifest.json"}
        assert names == set(info["parts"])
        for name in names:
            assert info["parts"][name]["sha256"] == hashlib.sha256(archive.read(name)).hexdigest()


def test_forecast_round_trip(fitted, tmp_path):
    forecast = fitted[0].forecast()
    path = tmp_path / "forecast.caslite"
    save_forecast(forecast, path)
    loaded = load_forecast(path)
    np.testing.assert_array_equal(loaded.risk, forecast.risk)
    np.testing.assert_array_equal(loaded.blocks.ids, forecast.blocks.ids)
    np.testing.assert_array_equal(loaded.blocks.start, forecast.blocks.start)
    assert loaded.blocks.schedule == forecast.blocks.schedule
    assert loaded.origin == forecast.origin
    assert loaded.grid.crs == forecast.grid.crs
    np.testing.assert_array_equal(loaded.grid.area_fraction, forecast.grid.area_fraction)
    np.testing.assert_array_equal(loaded.grid.x, forecast.grid.x)
    for per in ("block", "horizon"):
        assert_geodataframe_equal(
            loaded.top(coverage=0.05, per=per), forecast.top(coverage=0.05, per=per)
        )
    provenance = read_metadata(path)["metadata"]["provenance"]
    assert provenance == loaded.provenance
    assert provenance["model"]["class"] == "RiskModel"
    assert provenance["model"]["params"]["max_iter"] == 5
    assert provenance["model"]["fit_origin"] == fitted[0].fit_origin_


# ---------------------------------------------------------------------- refusals
def test_version_mismatch_names_both_versions(saved, tmp_path):
    bad = with_manifest(saved, tmp_path / "v99", lambda m: m.update(format_version=99))
    with pytest.raises(CasliteFileError, match=r"version 99.*format versions 1 and 2"):
        load_model(bad)


def as_format_1(source, target):
    """Rewrite a one-ensemble model file in the layout of format version 1.

    Version 1 kept its one ensemble's arrays under ``trees/`` and described it in
    ``metadata["trees"]`` itself; its parameters had no ``n_bags``.
    """
    with zipfile.ZipFile(source) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        members = {i.filename: archive.read(i) for i in archive.infolist()}
    metadata = json.loads(members.pop("metadata.json"))
    (member,) = metadata["trees"]["members"]
    metadata["trees"] = {**member, "sklearn_version": metadata["trees"]["sklearn_version"]}
    params = metadata["params"]["items"]
    params[:] = [item for item in params if item[0] != "n_bags"]
    members["metadata.json"] = json.dumps(metadata).encode()
    parts = {}
    for name, entry in manifest["parts"].items():
        new = name.replace("arrays/trees/0/", "arrays/trees/")
        data = members[name]
        entry = dict(entry, nbytes=len(data), sha256=hashlib.sha256(data).hexdigest())
        parts[new] = (entry, data)
    manifest["parts"] = {name: entry for name, (entry, _) in parts.items()}
    manifest["format_version"] = 1
    with zipfile.ZipFile(target, "w") as archive:
        archive.writestr("manifest.json", json.dumps(manifest))
        for name, (_, data) in parts.items():
            archive.writestr(name, data)
    return target


def test_format_1_model_files_still_load(fitted, tmp_path):
    model, events, grid = fitted
    single = clone(model).set_params(n_bags=1).fit(events, grid, origin=ORIGIN)
    save_model(single, tmp_path / "v2")
    old = as_format_1(tmp_path / "v2", tmp_path / "v1")
    assert read_metadata(old)["format_version"] == 1
    loaded = load_model(old)
    assert loaded.n_bags == 1 and len(loaded.estimators_) == 1
    np.testing.assert_array_equal(loaded.forecast().risk, single.forecast().risk)


def test_tampered_array_bytes_fail_hash(saved, tmp_path):
    def flip(name, data):
        if name == "arrays/trees/1/value.npy":
            data = bytearray(data)
            data[-1] ^= 0x01
            return bytes(data)
        return data

    with pytest.raises(CasliteFileError, match="SHA-256"):
        load_model(rewrite(saved, tmp_path / "flipped", flip))


def test_corrupted_archive_bytes_fail(saved, tmp_path):
    data = bytearray(saved.read_bytes())
    data[len(data) // 3] ^= 0xFF
    path = tmp_path / "corrupt"
    path.write_bytes(bytes(data))
    with pytest.raises(CasliteFileError):
        load_model(path)


def test_missing_part_fails(saved, tmp_path):
    def drop(name, data):
        return None if name == "arrays/events/x.npy" else data

    with pytest.raises(CasliteFileError, match="missing.*events/x"):
        load_model(rewrite(saved, tmp_path / "missing", drop))


def test_wrong_dtype_fails_even_with_consistent_hash(saved, tmp_path):
    part = "arrays/trees/1/left.npy"
    with zipfile.ZipFile(saved) as archive:
        left = np.load(io.BytesIO(archive.read(part)))
    bad = with_manifest(saved, tmp_path / "dtype", lambda m: None, {part: npy(left.astype("i4"))})
    with pytest.raises(CasliteFileError, match="dtype"):
        load_model(bad)


def test_cyclic_trees_refused(saved, tmp_path):
    part = "arrays/trees/1/left.npy"
    with zipfile.ZipFile(saved) as archive:
        left = np.load(io.BytesIO(archive.read(part)))
    left = left.copy()
    left[0] = 0  # the root's left child is the root: a walk would never end

    def edit(manifest):
        manifest["parts"][part]["dtype"] = left.dtype.str

    bad = with_manifest(saved, tmp_path / "cycle", edit, {part: npy(left)})
    with pytest.raises(CasliteFileError, match="child node"):
        load_model(bad)


class _Trap:
    """Unpickling this object writes a marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickle_disguised_as_model_is_not_unpickled(tmp_path):
    marker = tmp_path / "unpickled"
    path = tmp_path / "model.caslite"
    path.write_bytes(pickle.dumps(_Trap(marker)))
    with pytest.raises(CasliteFileError, match="not a zip archive"):
        load_model(path)
    assert not marker.exists()


def test_object_array_in_valid_archive_is_not_unpickled(saved, tmp_path):
    marker = tmp_path / "unpickled"
    part = "arrays/events/x.npy"
    trap = np.array([_Trap(marker)], dtype=object)
    bad = with_manifest(saved, tmp_path / "objects", lambda m: None, {part: npy(trap)})
    with pytest.raises(CasliteFileError, match="plain numeric array"):
        load_model(bad)
    assert not marker.exists()


def test_other_files_refused(saved, tmp_path, fitted):
    plain = tmp_path / "plain.zip"
    with zipfile.ZipFile(plain, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(CasliteFileError, match="no manifest.json"):
        load_model(plain)
    forecast_path = tmp_path / "f.caslite"
    save_forecast(fitted[0].forecast(), forecast_path)
    with pytest.raises(CasliteFileError, match="not a 'RiskModel'.*load_forecast"):
        load_model(forecast_path)
    with pytest.raises(CasliteFileError, match="not a 'Forecast'"):
        load_forecast(saved)


def test_save_refuses_what_it_cannot_store(saved, tmp_path):
    import geopandas
    from shapely.geometry import Point

    model = load_model(saved)
    with pytest.raises(TypeError, match="not fitted"):
        save_model(RiskModel(), tmp_path / "x")
    model.calibration_ = 1.0
    with pytest.raises(TypeError, match="calibration_"):
        save_model(model, tmp_path / "x")
    model = load_model(saved)
    ramps = geopandas.GeoDataFrame(geometry=[Point(0, 0)], crs="EPSG:28992")
    model.features_ = FeatureBuilder(point_layers={"ramps": ramps})
    with pytest.raises(TypeError, match="point_layers"):
        save_model(model, tmp_path / "x")
    other = load_sample("synthetic").to_events()
    model.features_ = FeatureBuilder(event_layers={"other": other})
    with pytest.raises(TypeError, match="event_layers; their incidents are not stored"):
        save_model(model, tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_log_loss_model_round_trip(fitted, tmp_path):
    from shapely.geometry import box

    _, events, _ = fitted
    grid = Grid.from_area(box(118000, 483000, 122000, 487000), cell_size=250.0, crs=events.crs)
    model = RiskModel(
        features=FeatureBuilder(kernels=None, windows_weeks=(4, 26)), loss="log_loss",
        max_iter=5, horizon="7D", train_span="120D", train_step="28D", random_state=0,
    ).fit(events, grid, origin=ORIGIN)  # fmt: skip
    path = tmp_path / "classifier.caslite"
    save_model(model, path)
    loaded = load_model(path)
    np.testing.assert_allclose(loaded.forecast().risk, model.forecast().risk, rtol=1e-12, atol=0)
    blocks = model.schedule_.horizon(model.origin_, "7D")
    X, names, _, _ = model.features_.design_matrix(events, grid, blocks, origin=model.origin_)
    frame = pd.DataFrame(X, columns=names)
    np.testing.assert_allclose(
        loaded.estimator_.predict_proba(frame), model.estimator_.predict_proba(frame), rtol=1e-9
    )
