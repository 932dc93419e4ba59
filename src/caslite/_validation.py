"""Shared input checks, warning classes and CRS helpers (private)."""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyproj

__all__ = [
    "CasliteWarning",
    "DataQualityWarning",
    "as_projected_crs",
    "describe_rows",
    "warn_user",
]

_PACKAGE_DIR = str(Path(__file__).resolve().parent)


class CasliteWarning(UserWarning):
    """Base class of every warning caslite emits; filter it to silence them all."""


class DataQualityWarning(CasliteWarning):
    """Input data has a quality problem (duplicates, dropped rows) that was kept or reported."""


def describe_rows(labels: Sequence | np.ndarray, limit: int = 5) -> str:
    """Format the first ``limit`` row labels of a problem for an error message.

    Parameters
    ----------
    labels : sequence
        Row labels (index values) that have the problem.
    limit : int, default 5
        How many labels to show before summarising the rest.

    Returns
    -------
    str
        For example ``"rows 3, 17 and 2 more"``.

    Examples
    --------
    >>> describe_rows([3, 17, 20, 21], limit=2)
    'rows 3, 17 and 2 more'
    """
    labels = [v.item() if isinstance(v, np.generic) else v for v in labels]
    shown = ", ".join(repr(v) if isinstance(v, str) else str(v) for v in labels[:limit])
    word = "row" if len(labels) == 1 else "rows"
    more = f" and {len(labels) - limit} more" if len(labels) > limit else ""
    return f"{word} {shown}{more}"


def as_projected_crs(crs, what: str = "the data") -> pyproj.CRS:
    """Return ``crs`` as a :class:`pyproj.CRS`, refusing geographic or unit-less systems.

    Parameters
    ----------
    crs : str, int, pyproj.CRS or None
        Anything :meth:`pyproj.CRS.from_user_input` accepts.
    what : str
        Name of the object the CRS belongs to, used in error messages.

    Returns
    -------
    pyproj.CRS
        A projected CRS whose axes are in metres.

    Raises
    ------
    ValueError
        If ``crs`` is missing, unknown, geographic (degrees) or not in metres.

    Examples
    --------
    >>> as_projected_crs("EPSG:32617").name
    'WGS 84 / UTM zone 17N'
    """
    if crs is None:
        raise ValueError(
            f"{what} has no CRS. Pass crs='EPSG:....' naming the projected coordinate "
            "system of the coordinates (in metres), e.g. crs='EPSG:32617' for UTM zone 17N."
        )
    try:
        parsed = pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError as exc:
        raise ValueError(f"{what}: {crs!r} is not a CRS pyproj understands ({exc}).") from None
    if parsed.is_geographic:
        raise ValueError(
            f"{what} is in a geographic CRS ({parsed.to_string()}, degrees); caslite needs a "
            "projected CRS in metres. Pass to_crs='utm' to reproject to the local UTM zone, "
            "or to_crs='EPSG:....' for a projected CRS of your choice "
            "(GeoDataFrame.to_crs does the same by hand)."
        )
    units = {axis.unit_name for axis in parsed.axis_info}
    if not units <= {"metre", "meter"}:
        raise ValueError(
            f"{what} is in a CRS with units {sorted(units)} ({parsed.to_string()}); caslite "
            "needs metres. Reproject with to_crs='EPSG:....' to a projected CRS in metres."
        )
    return parsed


def check_same_crs(a: pyproj.CRS, b: pyproj.CRS, what_a: str, what_b: str) -> None:
    """Raise ``ValueError`` if two CRSs differ (events in the wrong cells otherwise)."""
    if not a.equals(b, ignore_axis_order=True):
        raise ValueError(
            f"CRS mismatch: {what_a} is in {a.to_string()} but {what_b} is in {b.to_string()}. "
            f"Reproject one of them (e.g. gdf.to_crs({a.to_string()!r})) so both use the same CRS."
        )


def warn_user(message: str, category: type[Warning] = DataQualityWarning) -> None:
    """Warn, attributing the warning to the first caller outside caslite.

    Parameters
    ----------
    message : str
        The warning text.
    category : type of Warning, default DataQualityWarning
        The warning class.
    """
    level = 1
    frame = inspect.currentframe()
    while frame is not None and str(Path(frame.f_code.co_filename).resolve()).startswith(
        _PACKAGE_DIR
    ):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level)
