"""Provenance records: which data, period, grid, shifts, model and versions made an output.

The records are plain JSON-ready dicts, kept on :class:`caslite.Forecast` (``.provenance``),
on the tables it produces (``DataFrame.attrs["provenance"]``), in :func:`caslite.predict`'s
result and in backtest results. The data is identified by a SHA-256 fingerprint of the
incidents' instants and coordinates, so that a rerun can check it starts from the same data.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import platform

import numpy as np
import pandas as pd

from caslite._forms import record as json_record

__all__ = [
    "distribution_version",
    "events_fingerprint",
    "forecast_provenance",
    "library_versions",
    "model_record",
]


def library_versions() -> dict:
    """Versions of caslite, Python and the libraries whose behaviour shapes a forecast."""
    return dict(_versions())


def distribution_version(distribution: str) -> str:
    """Return the installed version of a distribution (e.g. ``"caslite"``), or ``"unknown"``."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


@functools.cache
def _versions() -> tuple:
    out = {"python": platform.python_version()}
    for name in ("caslite", "numpy", "scipy", "scikit-learn", "pandas", "numba", "pyproj"):
        out[name] = distribution_version(name)
    return tuple(out.items())


def events_fingerprint(events) -> dict:
    """Identify a set of incidents: count, time span, CRS, time zone and a SHA-256 digest.

    The digest covers the instants (window starts and ends, UTC seconds, little-endian int64)
    and coordinates (little-endian float64) in the order stored; the same incidents give the
    same digest on any machine. For a model it is taken of the incidents the model uses
    (``events_``: after a ``discovered`` rule, if any).

    Parameters
    ----------
    events : Events

    Returns
    -------
    dict
        ``n``, ``first``, ``last`` (local ISO times or None), ``crs``, ``tz``, ``sha256``.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from caslite import Events
    >>> frame = pd.DataFrame({"t": ["2024-01-02 10:00"], "x": [155000.0], "y": [463000.0]})
    >>> events = Events.from_frame(frame, crs="EPSG:28992", tz="Europe/Amsterdam")
    >>> record = events_fingerprint(events)
    >>> record["n"], record["first"]
    (1, '2024-01-02T10:00:00+01:00')
    >>> record == events_fingerprint(events.select(np.ones(1, dtype=bool)))
    True
    """
    digest = hashlib.sha256()
    for values, dtype in (
        (events.t, "<i8"),
        (events.t_end, "<i8"),
        (events.x, "<f8"),
        (events.y, "<f8"),
    ):
        digest.update(np.ascontiguousarray(values, dtype=dtype).tobytes())
    return {
        "n": len(events),
        "first": _local(int(events.t.min()), events.tz) if len(events) else None,
        "last": _local(int(events.t_end.max()), events.tz) if len(events) else None,
        "crs": events.crs.to_string(),
        "tz": events.tz,
        "sha256": digest.hexdigest(),
    }


def forecast_provenance(model, grid, blocks, origin) -> dict:
    """Record how a forecast was made: origin, horizon, grid, shifts, model, data, versions.

    Parameters
    ----------
    model : object or None
        The fitted model; its class, parameters, fit origin, features, training summary and
        the fingerprint of the events it uses (``events_``) are recorded when it has them.
    grid : Grid
    blocks : Blocks
    origin : int
        Forecast origin, UTC seconds.

    Returns
    -------
    dict
    """
    tz = blocks.schedule.tz
    record = {
        "origin": _local(origin, tz),
        "horizon": {
            "n_blocks": len(blocks),
            "first_start": _local(int(blocks.start[0]), tz) if len(blocks) else None,
            "last_end": _local(int(blocks.end[-1]), tz) if len(blocks) else None,
        },
        "schedule": {"starts": json_record(list(blocks.schedule.starts)), "tz": tz},
        "grid": {
            "cell_size": float(grid.cell_size),
            "crs": grid.crs.to_string(),
            "x0": float(grid.x0),
            "y0": float(grid.y0),
            "shape": [int(n) for n in grid.shape],
            "n_cells": int(grid.n_cells),
        },
        "model": model_record(model),
        "data": None,
        "versions": library_versions(),
    }
    events = getattr(model, "events_", None)
    if events is not None:
        record["data"] = events_fingerprint(events)
    return record


def model_record(model) -> dict | None:
    """Record a model: class, caslite version, parameters, origins, features, training summary.

    Parameters
    ----------
    model : object or None
        Any forecaster; what it lacks (e.g. ``training_``) is left out.

    Returns
    -------
    dict or None
        JSON-ready; None for no model.
    """
    if model is None:
        return None
    out = {"class": type(model).__name__, "caslite_version": distribution_version("caslite")}
    if hasattr(model, "get_params"):
        out["params"] = json_record(model.get_params(deep=False))
    for name in ("fit_origin_", "origin_", "feature_names_"):
        if hasattr(model, name):
            out[name.rstrip("_")] = json_record(getattr(model, name))
    if isinstance(getattr(model, "training_", None), dict):
        out["training"] = json_record(model.training_)
    return out


def _local(seconds: int, tz: str) -> str:
    return pd.Timestamp(int(seconds), unit="s", tz="UTC").tz_convert(tz).isoformat()
