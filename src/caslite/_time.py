"""Time helpers shared by events and shifts (private)."""

from __future__ import annotations

import warnings
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

__all__ = ["as_zone", "parse_datetimes", "to_utc_seconds"]


def as_zone(tz) -> str:
    """Validate a time-zone name and return its IANA key.

    Parameters
    ----------
    tz : str or zoneinfo.ZoneInfo
        An IANA time-zone name such as ``"Europe/Amsterdam"``.

    Returns
    -------
    str
        The IANA key.

    Raises
    ------
    ValueError
        If ``tz`` is missing or not a known IANA zone.

    Examples
    --------
    >>> as_zone("America/Toronto")
    'America/Toronto'
    """
    if isinstance(tz, ZoneInfo):
        return tz.key
    if not isinstance(tz, str) or not tz:
        raise ValueError(
            f"tz must be an IANA time-zone name such as 'Europe/Amsterdam', got {tz!r}. "
            "It is the local time zone of the study area, in which shifts are defined."
        )
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"tz={tz!r} is not a known IANA time zone; use a name such as 'Europe/Amsterdam' "
            "or 'America/Toronto' (see zoneinfo.available_timezones())."
        ) from None
    return tz


def to_utc_seconds(times, tz: str, what: str) -> np.ndarray:
    """Convert instants (int64 UTC seconds, datetimes or strings) to int64 UTC seconds.

    Naive datetimes and strings are read as local wall-clock time in ``tz``; a wall-clock time
    that does not exist or is ambiguous there is refused.
    """
    arr = np.asarray(times)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64)
    if arr.dtype.kind == "f":
        raise TypeError(
            f"{what}: got floating-point times; pass int64 UTC seconds, datetimes or "
            "ISO strings such as '2019-03-01 07:00'."
        )
    stamps = pd.DatetimeIndex(parse_datetimes(np.atleast_1d(arr), what))
    unread = np.flatnonzero(stamps.isna() & ~pd.isna(np.atleast_1d(arr)))
    if unread.size:
        raise ValueError(
            f"{what}: cannot read {str(np.atleast_1d(arr)[unread[0]])!r} as a date or time; use an "
            "ISO form such as '2019-03-01' or '2019-03-01 07:00'."
        )
    if stamps.tz is None:
        try:
            stamps = stamps.tz_localize(tz, ambiguous="raise", nonexistent="raise")
        except (ValueError, TypeError):  # pandas' AmbiguousTimeError/NonExistentTimeError
            raise ValueError(
                f"{what}: {list(map(str, arr.ravel()[:3]))} includes a local time that does not "
                f"exist or occurs twice in {tz} (a daylight-saving change). Pass a "
                "time-zone-aware timestamp, e.g. '2019-11-03 01:30-04:00'."
            ) from None
    seconds = stamps.as_unit("s").asi8
    return seconds.reshape(arr.shape) if arr.ndim else seconds[0]


def parse_datetimes(values, what: str, time_format=None):
    """Parse datetimes or strings; ISO 8601 of any precision first, then one inferred format.

    Unreadable values become ``NaT``. Strings that mix values with and without a UTC offset
    are refused; strings whose offsets differ are converted to UTC.

    Parameters
    ----------
    values : array-like or pandas.Series
        Datetimes or strings.
    what : str
        Name used in error messages.
    time_format : str, optional
        An explicit ``strftime`` format, used instead of the guessing.

    Returns
    -------
    pandas.Series or pandas.DatetimeIndex
        Naive when no value carries an offset, else time-zone-aware.
    """
    series = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values))
    if series.dtype.kind == "M" or isinstance(series.dtype, pd.DatetimeTZDtype):
        return series
    present = series.notna()
    if series.dtype == object and not series[present].map(type).isin([str]).all():
        return pd.to_datetime(series, errors="coerce")  # datetime / Timestamp objects
    text = series.astype("string").str.strip()
    has_offset = text.str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$", regex=True).fillna(False)
    has_offset = has_offset.to_numpy(dtype=bool)
    utc = bool(has_offset.any())
    without = np.flatnonzero(present.to_numpy() & ~has_offset) if utc else []
    if len(without):  # a mix, unless those without an offset are not times at all
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            naive = pd.to_datetime(text.iloc[without], errors="coerce", format="mixed")
        without = without[naive.notna().to_numpy()]
    if len(without):
        raise ValueError(
            f"{what} mixes times with and without a UTC offset (e.g. {text.iloc[without[0]]!r} "
            f"has none, {text[has_offset].iloc[0]!r} has one); give all times the same form."
        )
    if time_format is not None:
        return pd.to_datetime(text, errors="coerce", format=time_format, utc=utc)
    parsed = pd.to_datetime(text, errors="coerce", format="ISO8601", utc=utc)
    retry = parsed.isna() & present
    if retry.any():  # not ISO 8601: let pandas infer one format from these values
        with warnings.catch_warnings():  # "could not infer format": unreadable ones are NaT
            warnings.simplefilter("ignore", UserWarning)
            parsed[retry] = pd.to_datetime(text[retry], errors="coerce", utc=utc)
    return parsed
