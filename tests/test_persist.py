"""Tests of caslite.persist: model and forecast files, and the refusal of damaged or foreign files.

References are independent of the file code: forecasts of the loaded model are compared with
the original model's and with the original scikit-learn estimator scoring every (block, cell)
row of the design matrix; metadata with values computed from the events directly; hashes with
hashlib over the archive members. Damaged files are made by rewriting archive members.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import io
import json
import os
import pickle
import signal
import struct
import tracemalloc
import zipfile
import zlib

import numpy as np
import pandas as pd
import pyproj.exceptions
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
        n_bags=2, random_state=0,
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
    assert loaded.get_params()["shift_shrinkage"] == model.get_params()["shift_shrinkage"]
    # Independent reference: the fitted scikit-learn estimator over every (block, cell) row,
    # compared without the shift shrinkage (applied at forecast time; its own twin is in
    # tests/test_shift_profile.py).
    got = loaded.set_params(shift_shrinkage=0.0).forecast().risk
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


def test_model_state_round_trip_without_a_file(fitted):
    # RiskModel owns its state: to_dict/from_dict rebuild a model that forecasts exactly the
    # same, scoring with the same compiled kernel (StoredEnsemble is the compiled scorer)
    model = fitted[0]
    state = model.to_dict()
    assert state["grid"] is model.grid_ and state["events"] is model.events_
    assert [t["n_trees"] for t in state["trees"]] == [e.n_iter_ for e in model.estimators_]
    rebuilt = RiskModel.from_dict(state)
    assert all(isinstance(e, StoredEnsemble) for e in rebuilt.estimators_)
    np.testing.assert_array_equal(rebuilt.forecast().risk, model.forecast().risk)
    for key, message in [
        ("trees", "holds 1 tree ensembles but its model has n_bags=2"),
        ("feature_names", "the file names the features"),
        ("origin", "origin is"),
        ("block_model", "block profile"),
    ]:
        broken = dict(state)
        broken[key] = {
            "trees": state["trees"][:1],
            "feature_names": state["feature_names"][::-1],
            "origin": 10**15,
            "block_model": {**state["block_model"], "coef": state["block_model"]["coef"][:-1]},
        }[key]
        with pytest.raises(CasliteFileError, match=message):
            RiskModel.from_dict(broken)


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
    ``metadata["trees"]`` itself; its parameters had no ``n_bags`` (nor the later
    ``negative_sampling`` and ``n_threads``).
    """
    with zipfile.ZipFile(source) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        members = {i.filename: archive.read(i) for i in archive.infolist()}
    metadata = json.loads(members.pop("metadata.json"))
    (member,) = metadata["trees"]["members"]
    metadata["trees"] = {**member, "sklearn_version": metadata["trees"]["sklearn_version"]}
    params = metadata["params"]["items"]
    newer = ("n_bags", "negative_sampling", "n_threads")
    params[:] = [item for item in params if item[0] not in newer]
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
    # fitted before importance-weighted negatives: its parameters say so
    assert loaded.negative_sampling == "uniform"
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


# ---------------------------------------------------------------------- hostile and damaged files
@contextlib.contextmanager
def time_guard(seconds):
    """Fail (TimeoutError) instead of hanging if the block runs longer than ``seconds``."""

    def expire(signum, frame):
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def flipped_files(source, target, stride, tail_stride, tail=2048):
    """Yield (offset, path) for copies of ``source`` with one byte inverted.

    Every ``stride``-th byte, and every ``tail_stride``-th of the last ``tail`` bytes (the
    zip central directory, where one byte changes how every member is found).
    """
    data = source.read_bytes()
    offsets = sorted(
        set(range(stride // 2, len(data), stride))
        | set(range(max(len(data) - tail, 0), len(data), tail_stride))
    )
    for offset in offsets:
        mutated = bytearray(data)
        mutated[offset] ^= 0xFF
        target.write_bytes(bytes(mutated))
        yield offset, target


@pytest.mark.slow
def test_fuzz_forecast_file_loads_identically_or_raises_caslite_file_error(fitted, tmp_path):
    forecast = fitted[0].forecast()
    source = tmp_path / "forecast.caslite"
    save_forecast(forecast, source)
    outcomes = {"clean": 0, "refused": 0}
    for offset, path in flipped_files(source, tmp_path / "mutated", stride=37, tail_stride=5):
        with time_guard(10):
            try:
                loaded = load_forecast(path)
            except CasliteFileError:
                outcomes["refused"] += 1
                continue
        assert np.array_equal(loaded.risk, forecast.risk), offset
        assert np.array_equal(loaded.blocks.ids, forecast.blocks.ids), offset
        outcomes["clean"] += 1
    assert outcomes["refused"] > 10 * outcomes["clean"] > 0, outcomes


def test_fuzz_model_file_loads_identically_or_raises_caslite_file_error(fitted, saved, tmp_path):
    expected = fitted[0].forecast().risk
    outcomes = {"clean": 0, "refused": 0}
    for offset, path in flipped_files(saved, tmp_path / "mutated", stride=401, tail_stride=97):
        with time_guard(20):
            try:
                loaded = load_model(path)
            except CasliteFileError:
                outcomes["refused"] += 1
                continue
            risk = loaded.forecast().risk
        assert np.array_equal(risk, expected), offset
        outcomes["clean"] += 1
    assert outcomes["refused"] > 10 * outcomes["clean"] > 0, outcomes


def forecast_file(fitted, tmp_path):
    path = tmp_path / "forecast.caslite"
    save_forecast(fitted[0].forecast(), path)
    return path


def forge_uncompressed_size(path, member, size):
    """Rewrite the uncompressed size of ``member`` in its local header and central directory."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        offset = archive.getinfo(member).header_offset
    struct.pack_into("<I", data, offset + 22, size)
    start = 0
    while (start := data.find(b"PK\x01\x02", start)) >= 0:
        length = struct.unpack_from("<H", data, start + 28)[0]
        if data[start + 46 : start + 46 + length] == member.encode():
            struct.pack_into("<I", data, start + 24, size)
        start += 4
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("forged", [False, True])
def test_inflate_bomb_refused_without_inflating_it(fitted, tmp_path, forged):
    source = forecast_file(fitted, tmp_path)
    part = "arrays/risk.npy"
    with zipfile.ZipFile(source) as archive:
        original = archive.read(part)
    path = tmp_path / "bomb.caslite"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with zipfile.ZipFile(source) as old:
            for info in old.infolist():
                data = old.read(info)
                if info.filename == part:  # 64 MiB of zeros after the array: ~64 kB deflated
                    data += bytes(64 * 2**20)
                archive.writestr(info.filename, data)
    del data
    assert path.stat().st_size < 2**20
    if forged:  # the zip headers say the member has the size the manifest says
        forge_uncompressed_size(path, part, len(original))
    tracemalloc.start()
    try:
        with time_guard(10), pytest.raises(CasliteFileError, match="risk.npy") as caught:
            load_forecast(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20, peak  # never inflated: far below the 64 MiB
    message = str(caught.value)
    assert str(path) in message
    assert ("holds 67," in message) if not forged else ("more than" in message or "CRC" in message)


def test_declared_size_above_max_bytes_refused_before_reading(fitted, tmp_path):
    source = forecast_file(fitted, tmp_path)
    nbytes = read_metadata(source)["parts"]["arrays/risk.npy"]["nbytes"]
    with pytest.raises(CasliteFileError, match=r"more than max_bytes=1,000.*max_bytes="):
        load_forecast(source, max_bytes=1000)
    assert np.array_equal(load_forecast(source, max_bytes=nbytes + 10**5).risk,
                          fitted[0].forecast().risk)  # fmt: skip

    def huge(manifest):  # 5 GB declared (in the manifest only): refused by the default cap
        manifest["parts"]["arrays/risk.npy"]["nbytes"] = 5 * 10**9

    with pytest.raises(CasliteFileError, match="5,000,0.* more than max_bytes=4,294,967,296"):
        load_forecast(with_manifest(source, tmp_path / "huge", huge))
    with pytest.raises(ValueError, match="max_bytes must be a positive"):
        load_forecast(source, max_bytes=0)


def npy_header_claiming(shape, dtype="<f8"):
    """A valid .npy version-1 header for ``shape`` with no data after it."""
    buffer = io.BytesIO()
    header = {"descr": dtype, "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue()


def test_huge_declared_shape_refused_before_allocating(saved, tmp_path):
    part = "arrays/events/x.npy"
    fake = npy_header_claiming((3_000_000_000,)) + bytes(64)
    # the header disagrees with the manifest
    bad = with_manifest(saved, tmp_path / "header", lambda m: None, {part: fake})
    tracemalloc.start()
    try:
        with pytest.raises(CasliteFileError, match=r"events/x.*3000000000") as caught:
            load_model(bad)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 * 2**20 and str(bad) in str(caught.value)

    # the manifest agrees with the header: the metadata's event count does not
    def claim(manifest):
        manifest["parts"][part]["shape"] = [3_000_000_000]

    bad = with_manifest(saved, tmp_path / "manifest", claim, {part: fake})
    with pytest.raises(CasliteFileError, match=r"events/x.*metadata implies.*shape \[\d+\]"):
        load_model(bad)

    # everything agrees but the bytes: refused from the sizes, before the data is read
    def agree(manifest):
        n = read_metadata(saved)["metadata"]["summary"]["events"]["n"]
        manifest["parts"][part]["shape"] = [n]

    fake = npy_header_claiming((read_metadata(saved)["metadata"]["summary"]["events"]["n"],))
    bad = with_manifest(saved, tmp_path / "short", agree, {part: fake + bytes(8)})
    with pytest.raises(CasliteFileError, match=r"events/x.*header and .* bytes of data"):
        load_model(bad)


def metadata_part(path):
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("metadata.json"))


def test_deep_json_refused(saved, tmp_path):
    deep = b"[" * 100_000 + b"]" * 100_000
    bad = with_manifest(saved, tmp_path / "deep", lambda m: None, {"metadata.json": deep})
    with pytest.raises(CasliteFileError, match=r"metadata.json.*100000 levels deep"):
        load_model(bad)
    with pytest.raises(CasliteFileError, match="100000 levels deep"):
        read_metadata(bad)

    def deep_manifest(name, data):
        return deep if name == "manifest.json" else data

    bad = rewrite(saved, tmp_path / "deep_manifest", deep_manifest)
    with pytest.raises(CasliteFileError, match=r"manifest.json.*levels deep"):
        load_model(bad)


def test_stored_horizon_validated_like_a_passed_one(saved, tmp_path):
    metadata = metadata_part(saved)
    items = metadata["params"]["items"]
    for horizon, message in [("100000D", "at most 366 days"), ("-3D", "horizon")]:
        for item in items:
            if item[0] == "horizon":
                item[1] = horizon
        data = json.dumps(metadata).encode()
        bad = with_manifest(saved, tmp_path / "horizon", lambda m: None, {"metadata.json": data})
        with time_guard(10), pytest.raises(CasliteFileError, match=message) as caught:
            load_model(bad)
        assert str(bad) in str(caught.value)
    metadata = metadata_part(saved)
    metadata["origin"] = 10**15  # far beyond the dates pandas can hold
    data = json.dumps(metadata).encode()
    bad = with_manifest(saved, tmp_path / "origin", lambda m: None, {"metadata.json": data})
    with pytest.raises(CasliteFileError, match="origin is 1000000000000000; expected UTC"):
        load_model(bad)


def test_damaged_crs_is_a_file_error_with_cause(saved, tmp_path):
    metadata = metadata_part(saved)
    metadata["summary"]["grid"]["crs"] = '{"type": "nonsense"}'
    data = json.dumps(metadata).encode()
    bad = with_manifest(saved, tmp_path / "crs", lambda m: None, {"metadata.json": data})
    with pytest.raises(CasliteFileError, match="CRSError") as caught:
        load_model(bad)
    assert isinstance(caught.value.__cause__, pyproj.exceptions.CRSError)


def test_damaged_compressed_bytes_name_the_part_and_keep_the_cause(fitted, tmp_path):
    source = forecast_file(fitted, tmp_path)
    data = bytearray(source.read_bytes())
    with zipfile.ZipFile(source) as archive:
        info = archive.getinfo("arrays/risk.npy")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start + info.compress_size // 2] ^= 0xFF  # inside the deflated data
    path = tmp_path / "damaged.caslite"
    path.write_bytes(bytes(data))
    with pytest.raises(CasliteFileError, match=r"risk.npy") as caught:
        load_forecast(path)
    cause = caught.value.__cause__
    assert cause is None or isinstance(cause, (zlib.error, zipfile.BadZipFile, EOFError))
    assert "SHA-256" in str(caught.value) or cause is not None


def test_paths_that_are_not_caslite_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such caslite file"):
        load_model(tmp_path / "absent.caslite")
    with pytest.raises(FileNotFoundError):
        read_metadata(tmp_path / "absent.caslite")
    with pytest.raises(CasliteFileError, match="is a folder"):
        load_forecast(tmp_path)
    text = tmp_path / "notes.caslite"
    text.write_text("just some text\n")
    with pytest.raises(CasliteFileError, match="not a zip archive"):
        load_model(text)
    fifo = tmp_path / "pipe.caslite"
    os.mkfifo(fifo)
    with time_guard(5):  # opening a FIFO for reading would block until a writer comes
        for loader in (load_model, load_forecast, read_metadata):
            with pytest.raises(CasliteFileError, match=r"named pipe \(FIFO\)"):
                loader(fifo)
    with pytest.raises(CasliteFileError, match="device"):
        load_model("/dev/null")


def test_stored_block_ids_must_increase_and_be_representable(fitted, tmp_path):
    source = forecast_file(fitted, tmp_path)
    part = "arrays/block_ids.npy"
    with zipfile.ZipFile(source) as archive:
        ids = np.load(io.BytesIO(archive.read(part)))
    cases = [
        (ids[::-1].copy(), "block ids do not increase strictly"),
        (np.repeat(ids[:1], ids.size), "block ids do not increase strictly"),
        (ids + 10**15, "OutOfBoundsDatetime"),
    ]
    for bad_ids, message in cases:
        bad = with_manifest(source, tmp_path / "ids", lambda m: None, {part: npy(bad_ids)})
        with pytest.raises(CasliteFileError, match=message):
            load_forecast(bad)


def test_model_whose_forecast_exceeds_max_bytes_is_refused(fitted, saved):
    model = fitted[0]
    parts = read_metadata(saved)["parts"]
    file_bytes = sum(entry["nbytes"] for entry in parts.values())
    days = pd.Timedelta(model.horizon) / pd.Timedelta(days=1)
    forecast_bytes = int(days) * model.schedule_.n_shifts * model.grid_.n_cells * 8
    assert forecast_bytes == model.forecast().risk.nbytes  # the size checked is the real one
    assert forecast_bytes > file_bytes
    with pytest.raises(CasliteFileError, match=rf"{forecast_bytes:,} bytes, more than max_bytes"):
        load_model(saved, max_bytes=file_bytes)
    loaded = load_model(saved, max_bytes=forecast_bytes)
    assert np.array_equal(loaded.forecast().risk, model.forecast().risk)
