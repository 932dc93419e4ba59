"""Shared input checks, warning classes and CRS helpers (private)."""

from __future__ import annotations

import datetime
import inspect
import math
import numbers
import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyproj

from caslite._time import DAY, HOUR, MINUTE

__all__ = [
    "LINE_LABELS",
    "MAX_COORDINATE",
    "ArgumentTypeError",
    "CasliteWarning",
    "DataQualityWarning",
    "as_duration",
    "as_projected_crs",
    "check_bool",
    "check_instant",
    "check_int",
    "check_number",
    "check_random_state",
    "check_not_degrees",
    "check_reaches_grid",
    "check_share",
    "describe_rows",
    "warn_user",
]

#: Largest coordinate magnitude accepted, in metres: a million kilometres, farther from the
#: origin of a projected CRS than any place on Earth (false eastings and northings included).
MAX_COORDINATE = 1e9

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

    Labels of a table read from files by the command line (an index named ``"line"``,
    labels ``"FILE:LINE"``) are shown as file lines, the way a text editor numbers them.

    Examples
    --------
    >>> describe_rows([3, 17, 20, 21], limit=2)
    'rows 3, 17 and 2 more'
    >>> describe_rows(pd.Index(["a.csv:7", "a.csv:9", "b.gpkg:2"], name=LINE_LABELS))
    "'a.csv' lines 7, 9; 'b.gpkg' feature 2"
    """
    if getattr(labels, "name", None) == LINE_LABELS:
        return _describe_lines([str(v) for v in labels], limit)
    labels = [v.item() if isinstance(v, np.generic) else v for v in labels]
    shown = ", ".join(repr(v) if isinstance(v, str) else str(v) for v in labels[:limit])
    word = "row" if len(labels) == 1 else "rows"
    more = f" and {len(labels) - limit} more" if len(labels) > limit else ""
    return f"{word} {shown}{more}"


#: Name of a row index whose labels are ``"FILE:LINE"`` (see :func:`describe_rows`).
LINE_LABELS = "line"


def _describe_lines(labels: list, limit: int) -> str:
    """``'a.csv' lines 7, 9; 'b.gpkg' feature 2 and 3 more`` for ``"FILE:LINE"`` labels.

    A label's number is a line of a text file (``.csv``, ``.txt``, compressed CSV), a feature
    (from 1) of any other file, or a record (``"FILE:record N"``) where the lines of a text
    file could not be matched with its records.
    """
    groups: dict = {}
    for label in labels[:limit]:
        name, _, number = label.rpartition(":")
        if number.startswith("record "):
            word, number = "record", number[len("record ") :]
        elif name.lower().endswith((".csv", ".txt", ".csv.gz", ".csv.zip")):
            word = "line"
        else:
            word = "feature"
        groups.setdefault((name, word), []).append(number)
    parts = [
        f"{name!r} {word}{'s' if len(numbers) > 1 else ''} {', '.join(numbers)}"
        for (name, word), numbers in groups.items()
    ]
    more = f" and {len(labels) - limit} more" if len(labels) > limit else ""
    return "; ".join(parts) + more


_PLAIN_NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")
DURATION_FORMS = "a number with a unit, e.g. '14D' (days), '36h' (hours) or '90min'"


def as_duration(
    value, name: str, *, minimum=None, reason: str = "", flag: str | None = None
) -> pd.Timedelta:
    """Return a positive duration given with its unit, as a :class:`pandas.Timedelta`.

    A number without a unit (``14``, ``14.0``, ``"14"``) is refused: pandas would read it as
    nanoseconds, so that ``horizon=14`` meant 14 ns.

    Parameters
    ----------
    value : str, datetime.timedelta, numpy.timedelta64 or pandas.Timedelta
        The duration, e.g. ``"14D"``, ``"36h"``, ``"1 day"``, ``pd.Timedelta(days=7)``.
    name : str
        The parameter's name, for the messages (e.g. ``"horizon"``).
    minimum : str or timedelta, optional
        The shortest duration accepted (inclusive).
    reason : str, optional
        Why durations below ``minimum`` are refused, appended to that message.
    flag : str, optional
        The command-line spelling of the parameter (e.g. ``"--horizon"``), for the messages;
        default ``name=``.

    Returns
    -------
    pandas.Timedelta

    Raises
    ------
    ValueError
        If ``value`` has no unit, is not a duration, is not positive or is below ``minimum``.
    TypeError
        If ``value`` is of another type (a bool, a list, None ...).

    Examples
    --------
    >>> as_duration("14D", "horizon")
    Timedelta('14 days 00:00:00')
    >>> as_duration(14, "horizon")
    Traceback (most recent call last):
    ...
    ValueError: horizon=14 has no unit (a bare number would be read as nanoseconds); give ...
    """
    shown = f"{flag} {value!r}" if flag else f"{name}={value!r}"
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{shown} is a bool, not a duration; give {DURATION_FORMS}.")
    if isinstance(value, (numbers.Real, np.number)) and not isinstance(value, np.timedelta64):
        raise ValueError(
            f"{shown} has no unit (a bare number would be read as nanoseconds); give "
            f"{DURATION_FORMS}."
        )
    if isinstance(value, str):
        if _PLAIN_NUMBER.match(value):
            raise ValueError(
                f"{shown} has no unit (a bare number would be read as nanoseconds); give "
                f"{DURATION_FORMS}."
            )
    elif not isinstance(value, (datetime.timedelta, np.timedelta64, pd.Timedelta)):
        raise TypeError(
            f"{shown} is a {type(value).__name__}, not a duration; give {DURATION_FORMS}."
        )
    try:
        delta = pd.Timedelta(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{shown} is not a duration; give {DURATION_FORMS}.") from None
    if pd.isna(delta) or delta <= pd.Timedelta(0):
        raise ValueError(f"{shown} is not a positive duration; give {DURATION_FORMS}.")
    if minimum is not None and delta < pd.Timedelta(minimum):
        least = pd.Timedelta(minimum)
        raise ValueError(
            f"{shown} is shorter than the shortest allowed, {_short(least)!r}{reason}."
        )
    return delta


def check_instant(value, name: str = "origin") -> None:
    """Refuse a missing or many-valued instant (``origin=None``, a list) before any work.

    Parameters
    ----------
    value : object
        The instant: a string, datetime, Timestamp or int seconds are let through (their
        format is checked where they are parsed).
    name : str, default "origin"
        The parameter's name, for the message.

    Raises
    ------
    TypeError
        If ``value`` is None or a sequence or array.

    Examples
    --------
    >>> check_instant("2019-03-01")
    >>> check_instant(["2019-03-01"])
    Traceback (most recent call last):
    ...
    TypeError: origin=['2019-03-01'] is a list; give one instant, e.g. origin='2019-03-01' ...
    """
    if value is None:
        raise TypeError(
            f"{name}=None: give the {name} as one instant, e.g. {name}='2019-03-01' (local "
            "time) or a datetime."
        )
    if isinstance(value, (list, tuple, set, dict, np.ndarray, pd.Series, pd.Index)):
        raise TypeError(
            f"{name}={value!r} is a {type(value).__name__}; give one instant, e.g. "
            f"{name}='2019-03-01' (local time) or a datetime."
        )


def check_random_state(value, name: str = "random_state") -> None:
    """Refuse a ``random_state`` numpy cannot seed from, before any work.

    Accepted: None, a non-negative int, a :class:`numpy.random.Generator`, a
    :class:`numpy.random.SeedSequence` or a :class:`numpy.random.BitGenerator`.

    Raises
    ------
    TypeError
        If ``value`` is of another type (a string, a float, a bool ...).
    ValueError
        If ``value`` is a negative int.

    Examples
    --------
    >>> check_random_state(0)
    >>> check_random_state("abc")
    Traceback (most recent call last):
    ...
    TypeError: random_state='abc' is not a seed; give a non-negative int (e.g. random_state=0), ...
    """
    seeds = (np.random.Generator, np.random.SeedSequence, np.random.BitGenerator)
    if value is None or isinstance(value, seeds):
        return
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name}={value!r} is not a seed; give a non-negative int (e.g. {name}=0), a "
            "numpy Generator, or None for fresh randomness."
        )
    if value < 0:
        raise ValueError(f"{name}={value!r} is negative; give a non-negative int, e.g. {name}=0.")


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong kind: a ``TypeError``, and a ``ValueError`` too.

    Some checks that :func:`check_int`, :func:`check_number` and :func:`check_share` replaced
    raised ``ValueError`` for a wrong kind; code that caught it keeps working.
    """


def _is_number(value) -> bool:
    """Whether ``value`` is a real number (numpy scalars included), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _wrong_kind(value, name: str, expected: str) -> ArgumentTypeError:
    return ArgumentTypeError(f"{name} must be {expected}, got {type(value).__name__} {value!r}.")


def _wrong_value(value, name: str, expected: str, example) -> ValueError:
    hint = "" if example is None else f" (e.g. {name}={example})"
    return ValueError(f"{name} must be {expected}, got {value!r}{hint}.")


def check_bool(value, name: str) -> bool:
    """Return ``value`` as a bool, refusing anything but ``True`` and ``False``.

    Parameters
    ----------
    value : object
        The argument.
    name : str
        The parameter's name, for the message.

    Returns
    -------
    bool

    Raises
    ------
    ArgumentTypeError
        If ``value`` is neither a bool nor a numpy bool: 1, "yes" and None are refused.

    Examples
    --------
    >>> check_bool(True, "progress")
    True
    >>> check_bool(1, "progress")
    Traceback (most recent call last):
    ...
    caslite._validation.ArgumentTypeError: progress must be True or False, got int 1.
    """
    if not isinstance(value, (bool, np.bool_)):
        raise _wrong_kind(value, name, "True or False")
    return bool(value)


def check_int(value, name: str, minimum: int = 1, *, example=None) -> int:
    """Return ``value`` as an int of at least ``minimum``.

    Parameters
    ----------
    value : object
        The argument: an int or a numpy integer; bools and floats (even 3.0) are refused.
    name : str
        The parameter's name, for the message.
    minimum : int, default 1
        The smallest value accepted.
    example : object, optional
        A good value, shown in the message as ``name=example``.

    Returns
    -------
    int

    Raises
    ------
    ArgumentTypeError
        If ``value`` is not an integer.
    ValueError
        If ``value < minimum``.

    Examples
    --------
    >>> check_int(3, "n_bags")
    3
    >>> check_int(0, "n_bags", example=5)
    Traceback (most recent call last):
    ...
    ValueError: n_bags must be a positive integer, got 0 (e.g. n_bags=5).
    """
    named = {0: "a non-negative integer", 1: "a positive integer"}
    expected = named.get(minimum, f"an integer of at least {minimum}")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise _wrong_kind(value, name, "an integer")
    if value < minimum:
        raise _wrong_value(value, name, expected, example)
    return int(value)


def check_number(value, name: str, *, positive=False, unit=None, example=None) -> float:
    """Return ``value`` as a finite float, positive if asked.

    scikit-learn's ``check_scalar`` would let NaN through (every comparison with it is
    false) and names no example; this check refuses NaN and infinities.

    Parameters
    ----------
    value : object
        The argument: a real number (numpy scalars included); bools are refused.
    name : str
        The parameter's name, for the message.
    positive : bool, default False
        Refuse 0 and negative values too.
    unit : str, optional
        The unit, for the message: ``"metres"`` gives "a positive number of metres".
    example : object, optional
        A good value, shown in the message as ``name=example``.

    Returns
    -------
    float

    Raises
    ------
    ArgumentTypeError
        If ``value`` is not a real number.
    ValueError
        If ``value`` is NaN or infinite, or (with ``positive``) not above 0.

    Examples
    --------
    >>> check_number(125, "cell_size", positive=True, unit="metres")
    125.0
    >>> check_number(-5, "cell_size", positive=True, unit="metres", example=125)
    Traceback (most recent call last):
    ...
    ValueError: cell_size must be a positive finite number of metres, got -5 (e.g. cell_size=125).
    """
    if not _is_number(value):
        raise _wrong_kind(value, name, "a number")
    of_unit = "" if unit is None else f" of {unit}"
    number = float(value)
    if not math.isfinite(number) or (positive and number <= 0):
        expected = f"a {'positive ' if positive else ''}finite number{of_unit}"
        raise _wrong_value(value, name, expected, example)
    return number


_INTERVALS = {
    "[0, 1]": lambda v: 0.0 <= v <= 1.0,
    "(0, 1]": lambda v: 0.0 < v <= 1.0,
    "[0, 1)": lambda v: 0.0 <= v < 1.0,
    "(0, 1)": lambda v: 0.0 < v < 1.0,
}


def check_share(value, name: str, interval: str = "[0, 1]", *, what="a number", example=None):
    """Return ``value`` as a float in ``interval``, a subset of [0, 1].

    Parameters
    ----------
    value : object
        The argument: a real number (numpy scalars included); bools are refused.
    name : str
        The parameter's name, for the message.
    interval : {"[0, 1]", "(0, 1]", "[0, 1)", "(0, 1)"}, default "[0, 1]"
        The values accepted: a bracket includes its bound, a parenthesis excludes it.
    what : str, default "a number"
        What the value is, for the message: ``"a probability"``, ``"a share of the area"``.
    example : object, optional
        A good value, shown in the message as ``name=example`` (it may go on with a word on
        what it means: ``"0.1 to patrol 10% at random"``).

    Returns
    -------
    float

    Raises
    ------
    ArgumentTypeError
        If ``value`` is not a real number.
    ValueError
        If ``value`` is outside ``interval`` (NaN always is).

    Examples
    --------
    >>> check_share(0.03, "coverage", "(0, 1]", what="a share of the area")
    0.03
    >>> check_share(3, "coverage", "(0, 1]", what="a share of the area", example=0.03)
    Traceback (most recent call last):
    ...
    ValueError: coverage must be a share of the area in (0, 1], got 3 (e.g. coverage=0.03).
    """
    inside = _INTERVALS[interval]
    if not _is_number(value):
        raise _wrong_kind(value, name, "a number")
    if not inside(float(value)):  # NaN is in no interval
        raise _wrong_value(value, name, f"{what} in {interval}", example)
    number = float(value)
    return number


def _short(delta: pd.Timedelta) -> str:
    """Spell a duration as the CLI takes it: '1D', '36h', '90min'."""
    seconds = int(delta.total_seconds())
    for unit, size in (("D", DAY), ("h", HOUR), ("min", MINUTE)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def as_projected_crs(crs, what: str = "the data", fix: str | None = None) -> pyproj.CRS:
    """Return ``crs`` as a :class:`pyproj.CRS`, refusing geographic or unit-less systems.

    Parameters
    ----------
    crs : str, int, pyproj.CRS or None
        Anything :meth:`pyproj.CRS.from_user_input` accepts.
    what : str
        Name of the object the CRS belongs to, used in error messages.
    fix : str, optional
        How to reproject, for the message on a geographic CRS; default the ``to_crs=``
        option of :meth:`caslite.Events.from_frame`.

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
        fix = fix or (
            "Pass to_crs='utm' to reproject to the local UTM zone, or to_crs='EPSG:....' for a "
            "projected CRS of your choice (GeoDataFrame.to_crs does the same by hand)."
        )
        raise ValueError(
            f"{what} is in a geographic CRS ({parsed.to_string()}, degrees); caslite needs a "
            f"projected CRS in metres. {fix}"
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
            f"Reproject {what_a} to the CRS of {what_b} (e.g. gdf.to_crs({b.to_string()!r})) "
            "so both use the same CRS."
        )


def check_not_degrees(
    bounds, crs: pyproj.CRS, what: str, fix: str, *, elsewhere: bool = False
) -> None:
    """Refuse coordinates that look like longitude/latitude in degrees given as metres.

    They look so when every ``x`` lies in [-180, 180] and every ``y`` in [-90, 90] (or the
    other way round), read as metres they fall outside the area of use of ``crs``, and either
    read as degrees they fall inside it, or (with ``elsewhere=True``, for incident
    coordinates) they are written like geocoded degrees (a bound with more than three
    decimals, e.g. -90.24605): degrees of another region given with the CRS of an example are
    refused too. A CRS without an area of use, or one whose area of use is the whole world
    (e.g. EPSG:3857), cannot be checked this way.

    Parameters
    ----------
    bounds : tuple of float
        ``(xmin, ymin, xmax, ymax)`` of the coordinates.
    crs : pyproj.CRS
        The projected CRS they claim to be in.
    what : str
        Name of the data, for the message.
    fix : str
        How to reproject, for the message.
    elsewhere : bool, default False
        Also refuse degrees of another region written like geocoded degrees. Only for
        incidents: a study area's bounds are too few values to tell such degrees from the
        metres of a small made-up area (e.g. x in [0, 11.375]).

    Raises
    ------
    ValueError
        If the coordinates look like degrees.

    Examples
    --------
    >>> import pyproj
    >>> check_not_degrees((-79.5, 43.6, -79.3, 43.8), pyproj.CRS("EPSG:32617"), "events", "")
    Traceback (most recent call last):
    ...
    ValueError: events: x in [-79.5, -79.3] and y in [43.6, 43.8] look like longitude/latitude ...
    >>> check_not_degrees((628000, 4835000, 629000, 4836000), pyproj.CRS("EPSG:32617"), "", "")
    """
    xmin, ymin, xmax, ymax = (float(v) for v in bounds)
    readings = [
        (lon, lat, swapped)
        for lon, lat, swapped in [
            ((xmin, xmax), (ymin, ymax), False),
            ((ymin, ymax), (xmin, xmax), True),
        ]
        if -180 <= lon[0] and lon[1] <= 180 and -90 <= lat[0] and lat[1] <= 90
    ]
    area = crs.area_of_use
    if not readings or area is None:
        return
    west, south, east, north = area.bounds
    try:
        transformer = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
        px0, py0, px1, py1 = transformer.transform_bounds(west, south, east, north)
    except pyproj.exceptions.ProjError:
        return
    if px0 <= xmin and xmax <= px1 and py0 <= ymin and ymax <= py1:
        return  # plausible as metres
    if west <= -179 and east >= 179 and south <= -80 and north >= 80:
        return  # a world-wide CRS (e.g. EPSG:3857): degrees as metres are inside it
    inside = [
        swapped
        for lon, lat, swapped in readings
        if (west > east or (west - 1 <= lon[0] and lon[1] <= east + 1))  # wraps: skip
        and south - 1 <= lat[0]
        and lat[1] <= north + 1
    ]
    # Degrees of another region: only for incidents written like geocoded degrees (some bound
    # with more than three decimals); small round numbers are metres of a made-up example.
    geocoded = elsewhere and any(
        abs(v * 1000 - round(v * 1000)) > 1e-6 for v in (xmin, ymin, xmax, ymax)
    )
    if not inside and not geocoded:
        return
    order = " (latitude and longitude swapped)" if inside and inside[0] else ""
    elsewhere = (
        ""
        if inside
        else f" (as degrees they lie outside its area of use too, {west:g} .. {east:g} E, "
        f"{south:g} .. {north:g} N: is it the right CRS?)"
    )
    raise ValueError(
        f"{what}: x in [{xmin:g}, {xmax:g}] and y in [{ymin:g}, {ymax:g}] look like "
        f"longitude/latitude in degrees{order}, not metres in "
        f"{crs.to_string()} ({crs.name}), whose area of use is about x "
        f"{px0:,.0f} .. {px1:,.0f} m, y {py0:,.0f} .. {py1:,.0f} m{elsewhere}. {fix}"
    )


def check_reaches_grid(events, grid, margin: float = 0.0) -> None:
    """Refuse a grid that no event lies on or near (a wrong area, unit or CRS).

    Parameters
    ----------
    events : caslite.Events
        The events (none: nothing to check).
    grid : caslite.Grid
        The grid.
    margin : float, default 0.0
        Distance in metres beyond the grid's raster within which events still count for it
        (the reach of a kernel).

    Raises
    ------
    ValueError
        If the events' bounding box and the grid's raster, enlarged by ``margin``, are
        disjoint.
    """
    if not len(events):
        return
    ex0, ey0, ex1, ey1 = events.bounds
    gx0, gy0, gx1, gy1 = grid.bounds
    if ex1 < gx0 - margin or ex0 > gx1 + margin or ey1 < gy0 - margin or ey0 > gy1 + margin:
        raise ValueError(
            f"none of the {len(events):,} events lies on or near the grid: the events span "
            f"x {ex0:,.0f} .. {ex1:,.0f}, y {ey0:,.0f} .. {ey1:,.0f} but the grid spans "
            f"x {gx0:,.0f} .. {gx1:,.0f}, y {gy0:,.0f} .. {gy1:,.0f} (metres, "
            f"{grid.crs.to_string()}). Build the grid over the events' area "
            "(Grid.from_area or Grid.from_events), or check the coordinates of both."
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
