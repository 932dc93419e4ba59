"""JSON forms of caslite values, for model and forecast files and for provenance records.

A class that has a place in a caslite file owns its form: ``to_dict()`` returns it as plain
JSON values (and numpy arrays where the class holds them, e.g. a grid's raster) and the
classmethod ``from_dict(form)`` rebuilds the object from it, checked. :func:`encode` tags such
a form with the class name (``{"__type__": "ShiftSchedule", ...}``; the fields of a
dataclass, such as a near-repeat kernel, under ``"fields"``), so that the file reader
(:mod:`caslite.persist`) can rebuild it from a fixed table of classes. :func:`record` gives the
same forms for the record only (provenance), falling back to ``repr`` for anything else.

This module sits below everything that is stored or recorded; it imports no other caslite
module.
"""

from __future__ import annotations

import dataclasses
import numbers

import numpy as np
import pandas as pd

__all__ = ["CasliteFileError", "encode", "plain", "record", "stored_instant"]


class CasliteFileError(ValueError):
    """Raised when a file is not a caslite file, is damaged, or has another format version."""


_NOT_SCALAR = object()


def _scalar(value):
    """Return None, a bool, str, int or float (numpy's included) as plain Python, else a marker."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return _NOT_SCALAR


def encode(value, where: str):
    """Return a JSON form of a parameter value from which the file reader rebuilds it exactly.

    Parameters
    ----------
    value : object
        None, a bool, number or str; a tuple, list or dict (str keys) of such values; a numpy
        Generator (recorded as such, restored as None); or a caslite object with a form:
        one with ``to_dict`` (tagged with its class name), or a caslite estimator, whose
        form is its parameters (``get_params(deep=False)``).
    where : str
        What the value is, for the error message.

    Returns
    -------
    object
        Plain JSON values.

    Raises
    ------
    TypeError
        If the value (or a value inside it) has no JSON form.

    Examples
    --------
    >>> from caslite import ExponentialTime, ShiftSchedule
    >>> encode((1, 2.5, "a"), "x")
    {'__type__': 'tuple', 'items': [1, 2.5, 'a']}
    >>> encode(ExponentialTime(scale_days=7.0, window_days=28.0), "kernel")
    {'__type__': 'ExponentialTime', 'fields': {'scale_days': 7.0, 'window_days': 28.0}}
    >>> encode(ShiftSchedule(["07:00", "19:00"], tz="Europe/Amsterdam"), "schedule")["starts"]
    ['07:00', '19:00']
    """
    scalar = _scalar(value)
    if scalar is not _NOT_SCALAR:
        return scalar
    if isinstance(value, tuple):
        return {"__type__": "tuple", "items": [encode(v, where) for v in value]}
    if isinstance(value, list):
        return [encode(v, where) for v in value]
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise TypeError(f"{where} has a key {key!r} that is not a string.")
        return {"__type__": "dict", "items": [[k, encode(v, where)] for k, v in value.items()]}
    if isinstance(value, np.random.Generator):
        return {"__type__": "Generator", "bit_generator": type(value.bit_generator).__name__}
    name = type(value).__name__
    if type(value).__module__.startswith("caslite."):
        if hasattr(value, "to_dict"):
            form = {k: encode(v, where) for k, v in value.to_dict().items()}
            if dataclasses.is_dataclass(value):
                return {"__type__": name, "fields": form}
            return {"__type__": name, **form}
        if hasattr(value, "get_params"):
            return {"__type__": name, "params": encode(value.get_params(deep=False), where)}
    raise TypeError(f"{where} holds a {name} ({value!r:.80}), which caslite files cannot store.")


def record(value):
    """Return a JSON form of a value for the record only (not rebuilt); unknown objects: repr.

    Examples
    --------
    >>> import numpy as np
    >>> record({"a": np.arange(3), "b": (1, None)})
    {'a': [0, 1, 2], 'b': [1, None]}
    """
    scalar = _scalar(value)
    if scalar is not _NOT_SCALAR:
        return scalar
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf" and value.size <= 10_000:
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [record(v) for v in value]
    if isinstance(value, dict):
        return {str(k): record(v) for k, v in value.items()}
    try:
        return {"__type__": type(value).__name__, "value": encode(value, "record")}
    except TypeError:
        return repr(value)


def plain(value, where: str):
    """Return a scalar (None, bool, str, int or float) as a plain Python value, or raise.

    Raises
    ------
    TypeError
        If the value is not such a scalar; ``where`` names it.
    """
    scalar = _scalar(value)
    if scalar is _NOT_SCALAR:
        raise TypeError(f"{where} is a {type(value).__name__}, which caslite files cannot store.")
    return scalar


def stored_instant(value, what: str) -> int:
    """Return an instant read from a file (UTC seconds), checked to be one pandas can hold.

    Raises
    ------
    CasliteFileError
        If ``value`` is not an int strictly between pandas' first and last timestamps.
    """
    low, high = (int(t.value // 10**9) for t in (pd.Timestamp.min, pd.Timestamp.max))
    if isinstance(value, bool) or not isinstance(value, int) or not low < value < high:
        raise CasliteFileError(
            f"the file's {what} is {value!r:.40}; expected UTC seconds between {low} and {high}."
        )
    return value
