"""Time constants and helpers shared by every module (private)."""

from __future__ import annotations

import re
import warnings
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

__all__ = [
    "DAY",
    "DAYS_PER_WEEK",
    "HOUR",
    "MINUTE",
    "MINUTES_PER_DAY",
    "WEEK",
    "DateOrderError",
    "as_zone",
    "numeric_date_order",
    "parse_datetimes",
    "to_utc_seconds",
]

#: Seconds in a minute, an hour, a (24-hour) day and a week. Instants are int64 UTC seconds,
#: so these are ints; where a float is meant (a float result, a float argument of a numba
#: kernel) write ``float(DAY)``: numba freezes a module constant's type when it compiles.
MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR
WEEK = 7 * DAY
#: Minutes in a day (minutes after midnight run from 0 to ``MINUTES_PER_DAY - 1``).
MINUTES_PER_DAY = DAY // MINUTE
#: Days in a week.
DAYS_PER_WEEK = WEEK // DAY

#: A date written with numbers for day, month and year, day or month first: 01/06/2019,
#: 1.6.2019, 01-06-19 (followed by the end, a space or "T").
_NUMERIC_DATE = re.compile(r"^(\d{1,2})([/.-])(\d{1,2})\2(\d{4}|\d{2})(?=$|[ T])")

_ORDER_FIX = (
    "Pass dayfirst=True (day/month/year) or dayfirst=False (month/day/year), or an explicit "
    "time_format= such as '%d/%m/%Y %H:%M'. ISO dates (2019-06-01) are never ambiguous."
)


_INSTANT_FIX = (
    "Write it in ISO form (2019-06-01), or pass dayfirst=True (day/month/year) or "
    "dayfirst=False (month/day/year) where it is accepted (predict, Events.from_frame)."
)


class DateOrderError(ValueError):
    """Dates whose day and month order cannot be told, or that contradict each other."""


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


def to_utc_seconds(times, tz: str, what: str, dayfirst=None) -> np.ndarray:
    """Convert instants (int64 UTC seconds, datetimes or strings) to int64 UTC seconds.

    Naive datetimes and strings are read as local wall-clock time in ``tz``; a wall-clock time
    that does not exist or is ambiguous there is refused, and so is a date such as
    ``"01/06/2025"`` whose day and month could be swapped, unless ``dayfirst`` says which
    comes first.

    Examples
    --------
    >>> int(to_utc_seconds("2025-06-01", "UTC", "origin"))
    1748736000
    >>> int(to_utc_seconds("01/06/2025", "UTC", "origin", dayfirst=True))
    1748736000
    >>> to_utc_seconds("01/06/2025", "UTC", "origin")
    Traceback (most recent call last):
    ...
    caslite._time.DateOrderError: origin: '01/06/2025' can be read day-first ...
    """
    arr = np.asarray(times)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64)
    if arr.dtype.kind == "f":
        raise TypeError(
            f"{what}: got floating-point times; pass int64 UTC seconds, datetimes or "
            "ISO strings such as '2019-03-01 07:00'."
        )
    stamps = pd.DatetimeIndex(
        parse_datetimes(np.atleast_1d(arr), what, dayfirst=dayfirst, fix=_INSTANT_FIX)
    )
    unread = np.flatnonzero(stamps.isna() & ~pd.isna(np.atleast_1d(arr)))
    if unread.size:
        raise ValueError(
            f"{what}: cannot read {str(np.atleast_1d(arr)[unread[0]])!r} as a date or time; use an "
            "ISO form such as '2019-03-01' or '2019-03-01 07:00'."
        )
    if stamps.tz is None:
        try:
            stamps = stamps.tz_localize(tz, ambiguous="raise", nonexistent="raise")
        except (ValueError, TypeError, _pytz_invalid_time_error()):
            raise ValueError(
                f"{what}: {list(map(str, arr.ravel()[:3]))} includes a local time that does not "
                f"exist or occurs twice in {tz} (a daylight-saving change). Pass a "
                "time-zone-aware timestamp, e.g. '2019-11-03 01:30-04:00'."
            ) from None
    seconds = stamps.as_unit("s").asi8
    return seconds.reshape(arr.shape) if arr.ndim else seconds[0]


def _pytz_invalid_time_error():
    """Return the error pandas raises for a local time in a daylight-saving gap or overlap.

    pandas 3 raises a ``ValueError``; pandas 2 raises pytz's ``InvalidTimeError`` (the base
    of its ``AmbiguousTimeError`` and ``NonExistentTimeError``), which is not one.
    """
    try:
        from pytz import InvalidTimeError
    except ImportError:  # pandas 3 does not need pytz
        return ValueError
    return InvalidTimeError


def parse_datetimes(values, what: str, time_format=None, dayfirst=None, orders=None, fix=None):
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
    dayfirst : bool, optional
        Order of day and month in numeric dates such as ``01/06/2019``. By default the values
        must prove it (see :func:`numeric_date_order`), else they are refused.
    orders : list, optional
        When given, the order used for numeric dates (``"day-first"`` or ``"month-first"``)
        and how it was chosen are appended to it.
    fix : str, optional
        How to give the order, for the message on ambiguous dates; default the options of
        :meth:`caslite.Events.from_frame`.

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
        rest = text[retry]
        parts = rest.str.extract(_NUMERIC_DATE)
        numeric = parts[0].notna().to_numpy()
        if numeric.any():
            order, how = numeric_date_order(rest[numeric], what, dayfirst, fix)
            if order is not None and orders is not None:
                orders.append((order, how))
            rest = _month_first(rest, parts, order == "day-first")
        with warnings.catch_warnings():  # "could not infer format": unreadable ones are NaT
            warnings.simplefilter("ignore", UserWarning)
            again = pd.to_datetime(rest, errors="coerce", format="ISO8601", utc=utc)
            left = again.isna()
            if left.any():
                again[left] = pd.to_datetime(rest[left], errors="coerce", utc=utc)
        if numeric.any():  # a safety net: the day and month read must be the ones meant
            day, month = (parts[2], parts[0]) if order != "day-first" else (parts[0], parts[2])
            wrong = numeric & again.notna().to_numpy()
            wrong &= (again.dt.day.to_numpy() != pd.to_numeric(day).to_numpy()) | (
                again.dt.month.to_numpy() != pd.to_numeric(month).to_numpy()
            )
            again[wrong] = pd.NaT
        parsed[retry] = again
    return parsed


def numeric_date_order(text: pd.Series, what: str, dayfirst=None, fix=None):
    """Tell whether numeric dates such as ``01/06/2019`` are day-first or month-first.

    Parameters
    ----------
    text : pandas.Series of str
        Values that start with a numeric date (``D/M/Y`` or ``M/D/Y``, separator ``/``, ``.``
        or ``-``).
    what : str
        Name used in error messages.
    dayfirst : bool, optional
        The order, when the caller knows it.
    fix : str, optional
        How to give the order, for the message.

    Returns
    -------
    order : {"day-first", "month-first"} or None
        None when no value depends on it (day equal to month in every value).
    how : str
        ``"given"`` (``dayfirst``) or the first value that proves the order.

    Raises
    ------
    DateOrderError
        If values prove both orders (e.g. ``13/06/2019`` and ``06/13/2019``), or none proves
        one and some could be read either way.

    Examples
    --------
    >>> import pandas as pd
    >>> numeric_date_order(pd.Series(["01/06/2019", "13/06/2019"]), "column 't'")
    ('day-first', "values such as '13/06/2019'")
    >>> numeric_date_order(pd.Series(["01/06/2019 10:00"]), "column 't'")
    Traceback (most recent call last):
    ...
    caslite._time.DateOrderError: column 't': '01/06/2019 10:00' can be read day-first ...
    """
    parts = text.str.extract(_NUMERIC_DATE)
    first = pd.to_numeric(parts[0]).to_numpy()
    second = pd.to_numeric(parts[2]).to_numpy()
    if dayfirst is not None:
        if not isinstance(dayfirst, (bool, np.bool_)):
            raise ValueError(f"dayfirst={dayfirst!r} must be True, False or None.")
        return ("day-first" if dayfirst else "month-first"), "given"
    day_first = (first > 12) & (second <= 12)
    month_first = (second > 12) & (first <= 12)
    if day_first.any() and month_first.any():
        a, b = text[day_first].iloc[0], text[month_first].iloc[0]
        raise DateOrderError(
            f"{what} mixes day-first and month-first dates: {a!r} can only be day/month/year "
            f"and {b!r} only month/day/year ({int(day_first.sum())} and "
            f"{int(month_first.sum())} values). Fix the data, or choose one order with "
            "dayfirst=True or dayfirst=False: values in the other order are then unreadable "
            "(invalid='drop' drops them with a count)."
        )
    if day_first.any():
        return "day-first", f"values such as {text[day_first].iloc[0]!r}"
    if month_first.any():
        return "month-first", f"values such as {text[month_first].iloc[0]!r}"
    either = (first != second) & (first <= 12) & (second <= 12)
    if either.any():
        value = text[either].iloc[0]
        a, b = int(first[either][0]), int(second[either][0])
        count = int(either.sum())
        raise DateOrderError(
            f"{what}: {value!r} can be read day-first ({_date_words(b, a)}) or month-first "
            f"({_date_words(a, b)}), and no value tells which"
            f"{f' ({count:,} such values)' if count > 1 else ''}; caslite does not guess. "
            f"{fix or _ORDER_FIX}"
        )
    return None, ""


_MONTHS = "January February March April May June July August September October November December"


def _date_words(month: int, day: int) -> str:
    return f"{day} {_MONTHS.split()[month - 1]}"


def _month_first(text: pd.Series, parts: pd.DataFrame, dayfirst: bool) -> pd.Series:
    """Rewrite numeric dates as ISO dates (4-digit years) or MM/DD/YY (2-digit years)."""
    found = parts[0].notna()
    if not found.any():
        return text
    day, month = (parts[0], parts[2]) if dayfirst else (parts[2], parts[0])
    year = parts[3]
    length = parts[0].str.len() + parts[2].str.len() + year.str.len() + 2
    tail = pd.Series(
        [t[int(n) :] if ok else "" for t, n, ok in zip(text, length.fillna(0), found, strict=True)],
        index=text.index,
    )
    day2, month2 = day.str.zfill(2), month.str.zfill(2)
    iso = year + "-" + month2 + "-" + day2
    short = month2 + "/" + day2 + "/" + year
    rewritten = iso.where(year.str.len() == 4, short) + tail
    return rewritten.where(found, text)
