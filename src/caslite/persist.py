"""Save and load fitted risk models and forecasts without unpickling anything.

A caslite file is a zip archive of a JSON manifest (``manifest.json``), a JSON part
(``metadata.json``) and numpy arrays (``arrays/<name>.npy``). Loading parses JSON with
:func:`json.loads` and arrays with ``numpy.load(..., allow_pickle=False)``; object arrays are
refused, and every class rebuilt from the file comes from a fixed list of caslite classes
looked up by name in a table (never imported from a name read in the file), so opening a file
never runs code from it.

This module knows the container: the file layout, its versions, the checks of sizes and
hashes, and which arrays a file holds. What an object holds is the object's own form: each
class stored in a file has ``to_dict`` and ``from_dict`` (:meth:`caslite.RiskModel.to_dict`,
:meth:`caslite.Grid.to_dict`, :meth:`caslite.Events.to_dict`,
:meth:`caslite.ShiftSchedule.to_dict` and the near-repeat kernels'), whose arrays go to array
parts and whose plain values go to the JSON metadata, tagged with the class name.

The manifest holds the format name (``"caslite"``), :data:`FORMAT_VERSION`, the kind of
object (``"RiskModel"`` or ``"Forecast"``), the caslite version that wrote it, and for every
part its size and SHA-256 (and, for arrays, the dtype and shape). Loading refuses a file that
is not a zip archive (a pickle, say), lacks the manifest or a part, holds parts the manifest
does not name, or whose part sizes, hashes, dtypes or shapes differ from the manifest, and a
file of another format version (naming both versions). The hashes detect corruption and
accidental edits; they are not a signature: someone who rewrites a part can rewrite its hash.
Safety does not rest on them: a file that passes every check is still only JSON and plain
numbers, and the tree arrays are checked so that scoring cannot read outside them or loop.

Loading is bounded: only a regular file is opened (a folder, named pipe or device is refused
from its ``os.stat``); the declared part sizes are summed and checked against ``max_bytes``
(:data:`caslite.persist.DEFAULT_MAX_BYTES`, 4 GiB) and the zip headers, each array's dtype
and shape against what the metadata implies (rows x columns of the grid, blocks x cells,
events, trees), and each ``.npy`` header against the manifest, all before any array is
allocated; parts are inflated in chunks, never past their declared size; JSON may nest at
most 64 levels. Loaded parameters are validated as
the model's own are (a stored horizon may be at most 366 days). Every failure is a
:class:`CasliteFileError` naming the file and the part, with the error that revealed it as
``__cause__``. Saving is atomic: the file is written beside the target and replaces it only
once complete, so a failed save leaves the old file as it was.

How a model's trees are stored
------------------------------
A fitted :class:`caslite.RiskModel` scores its rows with caslite's compiled scorer
(:class:`caslite.models._trees.CompiledEnsemble`): the scikit-learn trees flattened into
plain arrays (split feature, threshold, side for missing values, children, leaf flag, leaf
value, tree roots) and the baseline score. These arrays, one set per ensemble of a bagged
model (``n_bags``), are what the file stores, and the loaded model scores with the same numba
kernel over the same arrays, so its forecasts equal the original's exactly. The loaded
model's ``estimators_`` (and ``estimator_``, the first) are each a :class:`StoredEnsemble`,
which offers ``predict`` (and ``predict_proba`` for ``loss="log_loss"``) with scikit-learn's
arithmetic but is not a scikit-learn estimator: it cannot be refitted or warm-started (refit
the loaded model, whose parameters are restored, to get one).

The alternatives were rejected: rebuilding scikit-learn's ``HistGradientBoosting`` object
from arrays means writing its private attributes (``_predictors``, ``_baseline_prediction``,
the bin mapper and loss objects), which change between scikit-learn releases; ``skops.io``
would add a dependency, and loading these estimators with it means trusting the same
private, partly compiled, scikit-learn types. A model whose compiled scorer was not used
(``training_["scorer"] == "sklearn"``) is refused by :func:`save_model` rather than stored
with a scorer that might differ from its own.

What a model file contains
--------------------------
Parameters (with the feature builder, its near-repeat kernels and the shift schedule),
feature names, the fit and forecast origins, the training summary ``training_``, the grid
(raster, CRS, active cells, area fractions), and the events known before the forecast origin
(times, time windows, coordinates; not their extra columns), which :meth:`RiskModel.forecast`
needs to compute features. These are incident locations and times: treat the file like the
incident data. :meth:`RiskModel.update` works on a loaded model as on the original. A feature
builder with static layers (``point_layers``, ``polygon_layers``) or ``event_layers`` is not
stored: its GeoDataFrames and other incidents have no place in the file, and
:func:`save_model` says so. A
``random_state`` given as a numpy Generator is recorded as such and restored as None (its
state changes as it is drawn from, so it cannot be stored as the seed it was).

Examples
--------
>>> import os, tempfile
>>> import numpy as np
>>> from shapely.geometry import box
>>> from caslite import Forecast, Grid, ShiftSchedule
>>> grid = Grid.from_area(box(0, 0, 250, 250), cell_size=125.0, crs="EPSG:28992")
>>> blocks = ShiftSchedule.every(12, tz="Europe/Amsterdam").horizon("2024-03-11", "1D")
>>> forecast = Forecast(np.full((2, 4), 0.25), blocks, grid, origin=blocks.start[0])
>>> path = os.path.join(tempfile.mkdtemp(), "forecast.caslite")
>>> save_forecast(forecast, path)
>>> loaded = load_forecast(path)
>>> bool(np.array_equal(loaded.risk, forecast.risk)), loaded.blocks.schedule == blocks.schedule
(True, True)
>>> read_metadata(path)["kind"]
'Forecast'
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import numbers
import os
import re
import stat
import struct
import tokenize
import zipfile
import zlib

import numpy as np
import pandas as pd
import pyproj
import pyproj.exceptions

from caslite._atomic import atomic_path
from caslite._forms import CasliteFileError, encode, plain, record, stored_instant
from caslite._provenance import distribution_version
from caslite.events import Events
from caslite.features import FeatureBuilder
from caslite.forecast import Forecast
from caslite.grid import Grid
from caslite.models.risk import RiskModel, StoredEnsemble
from caslite.nearrepeat import (
    BowersSpace,
    BowersTime,
    ExponentialSpace,
    ExponentialTime,
    GaussianSpace,
)
from caslite.shifts import Blocks, ShiftSchedule

__all__ = [
    "DEFAULT_MAX_BYTES",
    "FORMAT_VERSION",
    "CasliteFileError",
    "StoredEnsemble",
    "load_forecast",
    "load_model",
    "read_metadata",
    "save_forecast",
    "save_model",
]

FORMAT_VERSION = 2
"""Version of the file layout written by this caslite; files of other versions are refused.

Version 1 (caslite before bagged risk models) is still read: its model files hold one
ensemble.
"""
_READABLE_VERSIONS = (1, 2)

_FORMAT = "caslite"
_MANIFEST = "manifest.json"
_METADATA = "metadata.json"
_MAX_MANIFEST_BYTES = 16 * 2**20
_MAX_METADATA_BYTES = 64 * 2**20
_MAX_JSON_DEPTH = 64  # caslite's own JSON nests about 10 levels deep
_CHUNK_BYTES = 2**20  # arrays are inflated in chunks of this size, never past their size

DEFAULT_MAX_BYTES = 4 * 2**30
"""Default cap (4 GiB) on the sum of the declared part sizes of a file that is loaded.

A country-scale forecast (2.2 million cells x 84 four-hour blocks in float64) holds 1.5 GB;
raise the cap with ``max_bytes=`` for larger files you trust. Sizes are checked before any
part is read, so that a damaged or hostile file cannot exhaust memory.
"""
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed member times: the same object gives the same bytes
_KERNELS = {
    cls.__name__: cls
    for cls in (ExponentialSpace, GaussianSpace, BowersSpace, ExponentialTime, BowersTime)
}

_TREE_ARRAYS = StoredEnsemble.ARRAY_DTYPES  # the arrays of each stored tree ensemble
_MEMBER_KEYS = ("baseline", "n_trees", "estimator", "estimator_params")  # JSON of each ensemble
_GRID_ARRAYS = ("active", "area_fraction")  # the rasters of a grid's form
_EVENT_ARRAYS = ("t", "t_end", "x", "y")  # the arrays of the events' form


# ---------------------------------------------------------------------- public API
def save_model(model, path) -> None:
    """Write a fitted :class:`caslite.RiskModel` to a caslite file.

    Parameters
    ----------
    model : RiskModel
        Fitted (with the compiled scorer; see the module docstring).
    path : str or path-like
        The file to write. An existing file is replaced only once the new one is complete
        (a failed write leaves it as it was). The suffix is free; ``.caslite`` is a good one.

    Raises
    ------
    TypeError
        If ``model`` is not a fitted RiskModel, or holds something without a plain form
        (static feature layers, unknown parameter types or fitted attributes).
    ValueError
        If the model is not scored by the compiled scorer.
    """
    if not isinstance(model, RiskModel):
        raise TypeError(f"model must be a caslite RiskModel, got {type(model).__name__}.")
    state = model.to_dict()
    writer = _Writer()
    grid_spec = _put_grid(writer, "grid", state["grid"])
    events_spec = _put_events(writer, "events", state["events"])
    members = []
    for b, trees in enumerate(state["trees"]):
        for name in _TREE_ARRAYS:
            writer.array(f"trees/{b}/{name}", trees["arrays"][name])
        members.append({key: trees[key] for key in _MEMBER_KEYS})
    training, training_arrays = {}, []
    for key, value in state["training"].items():
        if isinstance(value, np.ndarray):
            writer.array(f"training/{key}", value)
            training_arrays.append(key)
        else:
            training[key] = plain(value, f"training_[{key!r}]")
    metadata = {
        "params": _encode(state["params"], "params"),
        "features": _encode(state["features"], "features_"),
        "feature_names": state["feature_names"],
        "schedule": _encode(state["schedule"], "schedule_"),
        "fit_origin": state["fit_origin"],
        "origin": state["origin"],
        "thinning_seed": state["thinning_seed"],
        "block_model": state["block_model"],
        "training": training,
        "training_arrays": training_arrays,
        "trees": {"members": members, "sklearn_version": distribution_version("scikit-learn")},
        "summary": _model_summary(state, grid_spec, events_spec),
    }
    writer.write(path, "RiskModel", metadata)


def load_model(path, *, max_bytes=None) -> RiskModel:
    """Read a :class:`caslite.RiskModel` written by :func:`save_model`.

    Parameters
    ----------
    path : str or path-like
        A regular file (a folder, named pipe or device is refused without reading it).
    max_bytes : int, optional
        Largest sum of the file's declared part sizes to read, and largest forecast (risk
        array over the model's horizon) a loaded model may make; default
        :data:`caslite.persist.DEFAULT_MAX_BYTES` (4 GiB). Every size is checked before
        anything is inflated.

    Returns
    -------
    RiskModel
        Fitted: ``forecast``, ``predict``, ``explain`` and ``update`` work as on the saved
        model; each of its ``estimators_`` is a :class:`StoredEnsemble`.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    CasliteFileError
        If the file is not a caslite model file, is damaged, has another format version,
        declares more than ``max_bytes``, holds parameters the model would refuse (such
        as a horizon longer than 366 days), or would forecast more than ``max_bytes``. The
        message names the file and the part; the error that revealed the damage is its
        ``__cause__``.
    """
    manifest, metadata, arrays = _read_verified(path, "RiskModel", max_bytes)
    limit = _check_max_bytes(DEFAULT_MAX_BYTES if max_bytes is None else max_bytes)
    try:
        params = _decode(metadata["params"])
        trees = metadata["trees"]
        if manifest["format_version"] == 1:  # one ensemble, its arrays under trees/
            members = [trees]
            prefixes = ["trees"]
            params.setdefault("n_bags", 1)
        else:
            members = list(trees["members"])
            prefixes = [f"trees/{b}" for b in range(len(members))]
        training = dict(metadata["training"])
        for key in metadata["training_arrays"]:
            training[key] = arrays[f"training/{key}"]
        state = {
            "params": params,
            "features": _decode(metadata["features"]),
            "feature_names": metadata["feature_names"],
            "schedule": _decode(metadata["schedule"]),
            "fit_origin": metadata["fit_origin"],
            "origin": metadata["origin"],
            "thinning_seed": metadata.get("thinning_seed"),
            "block_model": metadata.get("block_model"),
            "training": training,
            "trees": [
                {
                    "arrays": {name: arrays[f"{prefix}/{name}"] for name in _TREE_ARRAYS},
                    "baseline": member["baseline"],
                    "estimator_params": member.get("estimator_params"),
                }
                for prefix, member in zip(prefixes, members, strict=True)
            ],
            "grid": _get_grid(metadata, arrays, "grid"),
            "events": _get_events(metadata, arrays, "events"),
        }
        model = RiskModel.from_dict(state)
        _check_forecast_size(model, model.schedule_, model.grid_, limit)
    except CasliteFileError as error:
        if os.fspath(path) in str(error):
            raise
        raise CasliteFileError(f"{os.fspath(path)!r} holds a damaged model: {error}") from error
    except _READ_ERRORS as error:
        raise CasliteFileError(
            f"{os.fspath(path)!r} holds an inconsistent model ({type(error).__name__}: {error})"
        ) from error
    return model


def _check_forecast_size(model: RiskModel, schedule: ShiftSchedule, grid: Grid, limit: int):
    """Refuse a model whose default forecast (its horizon, every cell) exceeds ``limit`` bytes."""
    days = math.ceil(pd.Timedelta(model.horizon) / pd.Timedelta(days=1))
    n_blocks = days * schedule.n_shifts
    needed = n_blocks * grid.n_cells * 8
    if needed > limit:
        raise CasliteFileError(
            f"the file's model forecasts {n_blocks:,} blocks x {grid.n_cells:,} cells over its "
            f"horizon={model.horizon!r:.40}, {needed:,} bytes, more than max_bytes={limit:,}; "
            "if you trust the file and have the memory, pass a larger max_bytes=."
        )


def save_forecast(forecast, path) -> None:
    """Write a :class:`caslite.Forecast` (risk, blocks, grid, origin, provenance) to a file.

    The forecast's model is not stored, only a summary of it (its class, parameters, origins
    and the caslite version); save the model itself with :func:`save_model`.

    Parameters
    ----------
    forecast : Forecast
    path : str or path-like
        The file to write. An existing file is replaced only once the new one is complete.
    """
    if not isinstance(forecast, Forecast):
        raise TypeError(f"forecast must be a caslite Forecast, got {type(forecast).__name__}.")
    writer = _Writer()
    writer.array("risk", np.ascontiguousarray(forecast.risk, dtype=np.float64))
    writer.array("block_ids", np.asarray(forecast.blocks.ids, dtype=np.int64))
    grid_spec = _put_grid(writer, "grid", forecast.grid)
    metadata = {
        "origin": int(forecast.origin),
        "grid": grid_spec,
        "schedule": _encode(forecast.blocks.schedule, "blocks.schedule"),
        "provenance": record(forecast.provenance),
    }
    writer.write(path, "Forecast", metadata)


def load_forecast(path, *, model=None, max_bytes=None) -> Forecast:
    """Read a :class:`caslite.Forecast` written by :func:`save_forecast`.

    Parameters
    ----------
    path : str or path-like
        A regular file (a folder, named pipe or device is refused without reading it).
    model : RiskModel, optional
        The model to attach (for :meth:`Forecast.explain`), e.g. from :func:`load_model`.
        The forecast's ``provenance`` is the one saved with it (also in
        ``read_metadata(path)["metadata"]["provenance"]``).
    max_bytes : int, optional
        As in :func:`load_model`.

    Returns
    -------
    Forecast

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    CasliteFileError
        If the file is not a caslite forecast file, is damaged, has another format version
        or declares more than ``max_bytes`` (see :func:`load_model`).
    """
    metadata, arrays = _read(path, "Forecast", max_bytes)
    try:
        schedule = _decode(metadata["schedule"])
        if not isinstance(schedule, ShiftSchedule):
            raise CasliteFileError("the file's schedule has the wrong type.")
        block_ids = arrays["block_ids"]
        if block_ids.size and np.any(np.diff(block_ids) <= 0):
            raise CasliteFileError("the file's block ids do not increase strictly.")
        blocks = Blocks(schedule, block_ids)
        grid = _get_grid(metadata, arrays, "grid")
        provenance = metadata.get("provenance")
        return Forecast(
            arrays["risk"],
            blocks,
            grid,
            origin=stored_instant(metadata["origin"], "origin"),
            model=model,
            provenance=provenance if isinstance(provenance, dict) else None,
        )
    except CasliteFileError as error:
        if os.fspath(path) in str(error):
            raise
        raise CasliteFileError(f"{os.fspath(path)!r} holds a damaged forecast: {error}") from error
    except _READ_ERRORS as error:
        raise CasliteFileError(
            f"{os.fspath(path)!r} holds an inconsistent forecast ({type(error).__name__}: {error})"
        ) from error


def read_metadata(path, *, max_bytes=None) -> dict:
    """Return the verified manifest of a caslite file, with its metadata, without loading it.

    Parameters
    ----------
    path : str or path-like
    max_bytes : int, optional
        As in :func:`load_model`.

    Returns
    -------
    dict
        The manifest (``format``, ``format_version``, ``kind``, ``caslite_version``,
        ``parts``) and ``metadata``: for a model its parameters, features, schedule, origins,
        training summary and ``summary`` (data span, CRS, grid, random_state); for a forecast
        its origin, schedule and ``provenance``.

    Raises
    ------
    CasliteFileError
        As :func:`load_model`.
    """
    manifest, metadata, _ = _read_verified(path, None, max_bytes)
    return {**manifest, "metadata": metadata}


# ---------------------------------------------------------------------- writing
class _Writer:
    """Collects the parts of a file and writes them with their manifest."""

    def __init__(self):
        self.parts: dict[str, bytes] = {}
        self.arrays: dict[str, dict] = {}

    def array(self, name: str, array: np.ndarray) -> None:
        array = np.ascontiguousarray(array)
        if array.dtype.hasobject or array.dtype.kind not in "biuf":
            raise TypeError(f"array {name!r} has dtype {array.dtype}; only numbers are stored.")
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        path = f"arrays/{name}.npy"
        self.parts[path] = buffer.getvalue()
        self.arrays[path] = {"dtype": array.dtype.str, "shape": list(array.shape)}

    def write(self, path, kind: str, metadata: dict) -> None:
        self.parts[_METADATA] = _dumps(metadata)
        parts = {}
        for name, data in self.parts.items():
            parts[name] = {"sha256": hashlib.sha256(data).hexdigest(), "nbytes": len(data)}
            parts[name].update(self.arrays.get(name, {}))
        manifest = {
            "format": _FORMAT,
            "format_version": FORMAT_VERSION,
            "kind": kind,
            "caslite_version": distribution_version("caslite"),
            "parts": parts,
        }
        with atomic_path(path) as temporary:  # the old file stays intact if the write fails
            with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for name, data in [(_MANIFEST, _dumps(manifest)), *self.parts.items()]:
                    info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
                    info.compress_type = zipfile.ZIP_DEFLATED
                    archive.writestr(info, data)


def _dumps(obj) -> bytes:
    return json.dumps(obj, indent=1, sort_keys=True, allow_nan=True).encode("utf-8")


def _put_grid(writer: _Writer, prefix: str, grid: Grid) -> dict:
    """Write the grid's rasters as arrays under ``prefix``; return the rest of its form."""
    spec = grid.to_dict()
    for name in _GRID_ARRAYS:
        writer.array(f"{prefix}/{name}", spec.pop(name))
    return spec


def _put_events(writer: _Writer, prefix: str, events: Events) -> dict:
    """Write the events' arrays under ``prefix``; return the rest of their form."""
    form = events.to_dict()
    for name in _EVENT_ARRAYS:
        writer.array(f"{prefix}/{name}", form.pop(name))
    return form


def _model_summary(state: dict, grid_spec: dict, events_spec: dict) -> dict:
    events = state["events"]
    training = state["training"]
    params = state["params"]
    return {
        "grid": grid_spec,
        "events": {
            "n": len(events),
            "first": int(events.t.min()) if len(events) else None,
            "last": int(events.t.max()) if len(events) else None,
            **events_spec,
        },
        "first_event": record(training.get("first_event")),
        "last_event": record(training.get("last_event")),
        "fit_origin": state["fit_origin"],
        "origin": state["origin"],
        "random_state": record(params["random_state"]),
        "loss": params["loss"],
    }


# ---------------------------------------------------------------------- parameter coding
def _encode(value, where: str):
    """Return the JSON form of a value (:func:`caslite._forms.encode`) that :func:`_decode` reads.

    A feature builder with static layers or event layers is refused (by its ``to_dict``): their
    GeoDataFrames and incidents have no place in a file.
    """
    return encode(value, where)


def _decode(value):
    """Rebuild a value from :func:`_encode`'s JSON form (only the known caslite classes)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict) or not isinstance(value.get("__type__"), str):
        raise CasliteFileError(f"unexpected value in the file: {value!r:.80}")
    kind = value["__type__"]
    if kind == "tuple":
        return tuple(_decode(v) for v in value["items"])
    if kind == "dict":
        return {str(k): _decode(v) for k, v in value["items"]}
    if kind == "Generator":
        return None
    if kind == "FeatureBuilder":
        try:
            return FeatureBuilder.from_dict({"params": _decode(value["params"])})
        except (TypeError, ValueError) as error:
            raise CasliteFileError(str(error)) from error
    if kind == "ShiftSchedule":
        return ShiftSchedule.from_dict({k: value[k] for k in ("starts", "tz", "labels")})
    if kind in _KERNELS:
        return _KERNELS[kind].from_dict({k: _decode(v) for k, v in value["fields"].items()})
    raise CasliteFileError(f"unknown type {kind!r} in the file.")


# ---------------------------------------------------------------------- reading
def _read(path, kind: str, max_bytes) -> tuple[dict, dict]:
    _, metadata, arrays = _read_verified(path, kind, max_bytes)
    return metadata, arrays


def _check_max_bytes(max_bytes) -> int:
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, numbers.Integral) or max_bytes < 1:
        raise ValueError(
            f"max_bytes must be a positive number of bytes, got {max_bytes!r} (default "
            f"{DEFAULT_MAX_BYTES:,})."
        )
    return int(max_bytes)


def _regular_file(path) -> str:
    """Return the file name of ``path`` if it is an existing regular file (never opened here)."""
    name = os.fspath(path)
    try:
        mode = os.stat(name).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(f"no such caslite file: {name!r}.") from None
    except OSError as error:
        raise CasliteFileError(f"{name!r} cannot be read: {error}") from error
    if not stat.S_ISREG(mode):
        what = (
            "a folder"
            if stat.S_ISDIR(mode)
            else "a named pipe (FIFO)"
            if stat.S_ISFIFO(mode)
            else "a device or socket"
        )
        raise CasliteFileError(
            f"{name!r} is {what}, not a caslite file; give the path of a file written by "
            "caslite.save_model or caslite.save_forecast."
        )
    return name


def _read_verified(path, kind: str | None, max_bytes=None) -> tuple[dict, dict, dict]:
    """Check a file against its manifest; return manifest, metadata and arrays (if ``kind``).

    Every failure is a :class:`CasliteFileError` naming the file and the part being read (the
    error that revealed it is kept as ``__cause__``); a missing path is a FileNotFoundError.
    """
    limit = _check_max_bytes(DEFAULT_MAX_BYTES if max_bytes is None else max_bytes)
    name = _regular_file(path)
    where = ["the zip archive"]
    try:
        with open(name, "rb") as handle:
            if not zipfile.is_zipfile(handle):
                raise CasliteFileError(
                    f"{name!r} is not a caslite file: it is not a zip archive (caslite never "
                    "reads pickles). Write files with caslite.save_model or "
                    "caslite.save_forecast."
                )
            handle.seek(0)
            with zipfile.ZipFile(handle) as archive:
                return _read_archive(archive, name, kind, limit, where)
    except CasliteFileError:
        raise
    except _READ_ERRORS as error:
        raise CasliteFileError(
            f"{name!r} is damaged or not a caslite file: reading {where[0]} failed "
            f"({type(error).__name__}: {error})."
        ) from error


# Errors that damaged bytes can raise in the zip, deflate, JSON, numpy and pyproj readers.
_READ_ERRORS = (
    OSError,
    EOFError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    ArithmeticError,
    MemoryError,
    RecursionError,
    NotImplementedError,
    UnicodeError,
    struct.error,
    zlib.error,
    zipfile.BadZipFile,
    pyproj.exceptions.CRSError,
)


def _read_archive(archive, name: str, kind: str | None, limit: int, where: list):
    infos = {}
    for info in archive.infolist():
        if info.filename in infos:
            raise CasliteFileError(f"{name!r} is damaged: it holds {info.filename!r} twice.")
        infos[info.filename] = info
    if _MANIFEST not in infos:
        raise CasliteFileError(f"{name!r} is not a caslite file: it has no {_MANIFEST}.")
    where[0] = f"part {_MANIFEST!r}"
    data = _member(archive, infos[_MANIFEST], _MAX_MANIFEST_BYTES, name)
    manifest = _json(data, name, _MANIFEST)
    _check_manifest(manifest, name, kind)
    parts = manifest["parts"]
    missing = sorted(set(parts) - set(infos))
    extra = sorted(set(infos) - set(parts) - {_MANIFEST})
    if missing or extra:
        raise CasliteFileError(
            f"{name!r} is damaged: parts missing {missing}, parts not in the manifest {extra}."
        )
    total = sum(entry["nbytes"] for entry in parts.values())
    if total > limit:
        raise CasliteFileError(
            f"{name!r} declares {total:,} bytes of parts, more than max_bytes={limit:,}; if "
            "you trust the file and have the memory, pass a larger max_bytes= (caslite "
            "checks the sizes before reading, so that a damaged or hostile file cannot "
            "exhaust memory)."
        )
    for part, entry in parts.items():
        if infos[part].file_size != entry["nbytes"]:
            raise CasliteFileError(
                f"{name!r} is damaged: part {part!r} holds {infos[part].file_size:,} bytes in "
                f"the archive; the manifest says {entry['nbytes']:,}."
            )
    where[0] = f"part {_METADATA!r}"
    if parts[_METADATA]["nbytes"] > _MAX_METADATA_BYTES:
        raise CasliteFileError(
            f"{name!r}: part {_METADATA!r} declares {parts[_METADATA]['nbytes']:,} bytes, more "
            f"than the {_MAX_METADATA_BYTES:,} a caslite file's metadata can have."
        )
    data = _member(archive, infos[_METADATA], parts[_METADATA]["nbytes"], name)
    _check_part(data, parts[_METADATA], _METADATA, name)
    metadata = _json(data, name, _METADATA)
    if not isinstance(metadata, dict):
        raise CasliteFileError(f"{name!r} is damaged: its {_METADATA} is not a JSON object.")
    arrays = {}
    if kind is None:
        return manifest, metadata, arrays
    where[0] = "the array sizes in the manifest and metadata"
    expected = _expected_arrays(manifest, metadata, kind, name)
    for part, entry in parts.items():
        if part == _METADATA:
            continue
        if not (part.startswith("arrays/") and part.endswith(".npy")):
            raise CasliteFileError(f"{name!r} has a part {part!r} of unknown kind.")
        key = part[len("arrays/") : -len(".npy")]
        if key not in expected:
            raise CasliteFileError(
                f"{name!r} is damaged: part {part!r} is not an array a {kind} file holds."
            )
        _check_entry(entry, expected[key], part, name)
    unlisted = sorted(set(expected) - {p[len("arrays/") : -len(".npy")] for p in parts})
    if unlisted:
        raise CasliteFileError(f"{name!r} is damaged: it lacks the arrays {unlisted}.")
    for key, (_, shape) in expected.items():  # a length named by another array: equal to it
        entry = parts[f"arrays/{key}.npy"]
        for axis, wanted in enumerate(shape):
            if isinstance(wanted, str):
                length = parts[f"arrays/{wanted}.npy"]["shape"][0]
                if entry["shape"][axis] != length:
                    raise CasliteFileError(
                        f"{name!r} is damaged: part 'arrays/{key}.npy' has shape "
                        f"{entry['shape']}; its axis {axis} must have the length of "
                        f"'arrays/{wanted}.npy' ({length})."
                    )
    for part, entry in parts.items():
        if part != _METADATA:
            where[0] = f"part {part!r}"
            key = part[len("arrays/") : -len(".npy")]
            arrays[key] = _read_array(archive, infos[part], entry, part, name)
    return manifest, metadata, arrays


def _check_manifest(manifest, name: str, kind: str | None) -> None:
    if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT:
        raise CasliteFileError(f"{name!r} is not a caslite file: its manifest has no format tag.")
    version = manifest.get("format_version")
    if isinstance(version, bool) or version not in _READABLE_VERSIONS:
        readable = " and ".join(str(v) for v in _READABLE_VERSIONS)
        this = distribution_version("caslite")
        raise CasliteFileError(
            f"{name!r} has caslite file format version {version!r:.40} (written by caslite "
            f"{manifest.get('caslite_version')!r:.40}); this caslite ({this}) "
            f"reads format versions {readable}. Load it with a matching caslite, or refit."
        )
    if kind is not None and manifest.get("kind") != kind:
        raise CasliteFileError(
            f"{name!r} holds a {manifest.get('kind')!r:.40}, not a {kind!r}; use "
            f"{'load_model' if manifest.get('kind') == 'RiskModel' else 'load_forecast'}."
        )
    parts = manifest.get("parts")
    if not isinstance(parts, dict) or _METADATA not in parts:
        raise CasliteFileError(f"{name!r} is damaged: its manifest lists no {_METADATA}.")
    for part, entry in parts.items():
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("sha256"), str)
            or not _is_count(entry.get("nbytes"))
        ):
            raise CasliteFileError(f"{name!r} is damaged: manifest entry {part!r} is malformed.")


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _expected_arrays(manifest: dict, metadata: dict, kind: str, name: str) -> dict:
    """Return, for each array the metadata implies, its dtype and shape (None: any length)."""
    try:
        grid = metadata["summary"]["grid"] if kind == "RiskModel" else metadata["grid"]
        n_rows, n_cols, n_cells = grid["n_rows"], grid["n_cols"], grid["n_cells"]
        if not all(_is_count(v) for v in (n_rows, n_cols, n_cells)) or n_cells > n_rows * n_cols:
            raise CasliteFileError(
                f"{name!r} is damaged: its grid of {n_rows!r:.20} x {n_cols!r:.20} cells "
                f"cannot have {n_cells!r:.20} active cells."
            )
        expected = {
            "grid/active": ("|b1", [n_rows, n_cols]),
            "grid/area_fraction": ("<f8", [n_rows, n_cols]),
        }
        if kind == "Forecast":
            expected["block_ids"] = ("<i8", [None])
            expected["risk"] = ("<f8", ["block_ids", n_cells])
            return expected
        n_events = metadata["summary"]["events"]["n"]
        if not _is_count(n_events):
            raise CasliteFileError(f"{name!r} is damaged: its event count is {n_events!r:.20}.")
        for key, dtype in (("t", "<i8"), ("t_end", "<i8"), ("x", "<f8"), ("y", "<f8")):
            expected[f"events/{key}"] = (dtype, [n_events])
        trees = metadata["trees"]
        if manifest["format_version"] == 1:
            members, prefixes = [trees], ["trees"]
        else:
            members = trees["members"]
            prefixes = [f"trees/{b}" for b in range(len(members))]
        for prefix, member in zip(prefixes, members, strict=True):
            n_trees = member["n_trees"]
            if not _is_count(n_trees):
                raise CasliteFileError(f"{name!r} is damaged: {prefix} has {n_trees!r:.20} trees.")
            for tree_array, dtype in _TREE_ARRAYS.items():
                shape = [n_trees] if tree_array == "roots" else [f"{prefix}/value"]
                expected[f"{prefix}/{tree_array}"] = (np.dtype(dtype).str, shape)
            expected[f"{prefix}/value"] = ("<f8", [None])
        for key in metadata["training_arrays"]:
            expected[f"training/{str(key)}"] = (None, [None])
        return expected
    except CasliteFileError:
        raise
    except (KeyError, TypeError, ValueError) as error:
        raise CasliteFileError(
            f"{name!r} is damaged: its {_METADATA} lacks the sizes of its arrays "
            f"({type(error).__name__}: {error})."
        ) from error


def _check_entry(entry: dict, expected: tuple, part: str, name: str) -> None:
    """Check a manifest entry of an array against the dtype and shape the metadata implies."""
    dtype, shape = expected
    found_dtype, found_shape = entry.get("dtype"), entry.get("shape")
    if (
        not isinstance(found_dtype, str)
        or not isinstance(found_shape, list)
        or not all(_is_count(n) for n in found_shape)
    ):
        raise CasliteFileError(f"{name!r} is damaged: manifest entry {part!r} is malformed.")
    if dtype is None:
        dtype = found_dtype if found_dtype in ("<i8", "<f8") else "<i8 or <f8"
    entry_ok = found_dtype == dtype and len(found_shape) == len(shape)
    for found, wanted in zip(found_shape, shape, strict=False):
        if isinstance(wanted, int) and found != wanted:
            entry_ok = False
    if not entry_ok:
        shown = [n if isinstance(n, int) else "n" for n in shape]
        raise CasliteFileError(
            f"{name!r} is damaged: part {part!r} has dtype {found_dtype!r:.20} and shape "
            f"{found_shape!r:.60} in the manifest; its metadata implies dtype {dtype} and "
            f"shape {shown}."
        )


class _CountingReader:
    """Read a zip member, hashing what is read and never more than ``limit`` bytes."""

    def __init__(self, handle, limit: int):
        self.handle, self.limit, self.count = handle, limit, 0
        self.sha256 = hashlib.sha256()

    def read(self, size: int) -> bytes:
        data = self.handle.read(min(size, self.limit - self.count))
        self.count += len(data)
        self.sha256.update(data)
        return data

    def readinto(self, view: memoryview) -> int:
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)


def _member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, name: str) -> bytes:
    """Read a member, never more than ``limit`` bytes; refuse one that holds more."""
    with archive.open(info) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise CasliteFileError(
            f"{name!r} is damaged: part {info.filename!r} holds more than {limit:,} bytes."
        )
    return data


def _check_part(data: bytes, entry: dict, part: str, name: str) -> None:
    if len(data) != entry["nbytes"]:
        raise CasliteFileError(
            f"{name!r} is damaged: part {part!r} has {len(data)} bytes; the manifest says "
            f"{entry['nbytes']}."
        )
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise CasliteFileError(
            f"{name!r} is damaged: the SHA-256 of part {part!r} does not match the manifest "
            "(the file was changed or corrupted)."
        )


_JSON_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


def _json(data: bytes, name: str, part: str):
    """Parse a JSON part, refusing nesting deeper than :data:`_MAX_JSON_DEPTH` beforehand."""
    depth = deepest = 0
    for token in _JSON_TOKENS.finditer(data):
        symbol = token.group()
        if symbol in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        elif symbol in (b"]", b"}"):
            depth -= 1
    if deepest > _MAX_JSON_DEPTH:
        raise CasliteFileError(
            f"{name!r} is damaged: part {part!r} nests JSON {deepest} levels deep; caslite "
            f"files nest at most {_MAX_JSON_DEPTH}."
        )
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise CasliteFileError(
            f"{name!r} is damaged: part {part!r} does not parse as JSON ({error})."
        ) from error


def _read_array(archive, info, entry: dict, part: str, name: str) -> np.ndarray:
    """Read an ``.npy`` member: header checked against the manifest before any allocation."""
    with archive.open(info) as handle:
        reader = _CountingReader(handle, entry["nbytes"])
        try:
            version = np.lib.format.read_magic(reader)
            read_header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, fortran_order, dtype = read_header(reader)
        except (*_READ_ERRORS, SyntaxError, tokenize.TokenError) as error:
            raise CasliteFileError(
                f"{name!r}: part {part!r} is not a plain numeric array: its .npy header does "
                f"not parse ({type(error).__name__}: {error})."
            ) from error
        if dtype.hasobject or dtype.kind not in "biuf":
            raise CasliteFileError(
                f"{name!r}: part {part!r} is not a plain numeric array (dtype {dtype})."
            )
        if dtype.str != entry["dtype"] or list(shape) != entry["shape"]:
            raise CasliteFileError(
                f"{name!r} is damaged: part {part!r} has dtype {dtype.str} and shape "
                f"{list(shape)}; the manifest says {entry['dtype']} and {entry['shape']}."
            )
        size = math.prod(shape) * dtype.itemsize
        if reader.count + size != entry["nbytes"]:
            raise CasliteFileError(
                f"{name!r} is damaged: part {part!r} has a {reader.count}-byte header and "
                f"{size:,} bytes of data; the manifest says {entry['nbytes']:,} in all."
            )
        buffer = bytearray(size)
        view = memoryview(buffer)
        done = 0
        while done < size:
            got = reader.readinto(view[done : done + _CHUNK_BYTES])
            if not got:
                raise CasliteFileError(
                    f"{name!r} is damaged: part {part!r} ends after {reader.count:,} of "
                    f"{entry['nbytes']:,} bytes."
                )
            done += got
        if handle.read(1):
            raise CasliteFileError(
                f"{name!r} is damaged: part {part!r} holds more than the "
                f"{entry['nbytes']:,} bytes the manifest says."
            )
    if reader.sha256.hexdigest() != entry["sha256"]:
        raise CasliteFileError(
            f"{name!r} is damaged: the SHA-256 of part {part!r} does not match the manifest "
            "(the file was changed or corrupted)."
        )
    array = np.frombuffer(buffer, dtype=dtype)
    return array.reshape(shape, order="F" if fortran_order else "C")


def _typed(arrays: dict, key: str, kind: str, ndim: int) -> np.ndarray:
    if key not in arrays:
        raise CasliteFileError(f"the file has no array {key!r}.")
    array = arrays[key]
    if array.dtype.kind != kind or array.ndim != ndim:
        raise CasliteFileError(
            f"array {key!r} has dtype {array.dtype} and {array.ndim} dimensions; expected kind "
            f"{kind!r} and {ndim} dimensions."
        )
    return array


def _get_grid(metadata: dict, arrays: dict, prefix: str) -> Grid:
    spec = metadata["summary"]["grid"] if "summary" in metadata else metadata["grid"]
    return Grid.from_dict(
        {
            **spec,
            "active": _typed(arrays, f"{prefix}/active", "b", 2),
            "area_fraction": _typed(arrays, f"{prefix}/area_fraction", "f", 2),
        }
    )


def _get_events(metadata: dict, arrays: dict, prefix: str) -> Events:
    spec = metadata["summary"]["events"]
    form = {key: spec.get(key) for key in ("crs", "tz", "report")}
    for name, kind in zip(_EVENT_ARRAYS, "iiff", strict=True):
        form[name] = _typed(arrays, f"{prefix}/{name}", kind, 1)
    events = Events.from_dict(form)
    if len(events) != spec["n"]:
        raise CasliteFileError(f"the file holds {len(events)} events; it says {spec['n']}.")
    return events
