"""Quality of incident times and places: date-only records, default-time heaps, placeholders.

Private helpers of :meth:`caslite.Events.from_frame`. Police exports carry times that are
not what they seem: a date without a time of day is read as midnight, and records whose time
was unknown are entered at a default instant (00:00, 00:01, 12:00). Such records pile up at
that instant far beyond what the neighbouring minutes or hours imply. This module measures
the pile-ups ("heaps") with a significance test and turns the records at a detected heap,
and date-only records, into time windows, so that their time is not taken as exact.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.stats

from caslite._time import MINUTES_PER_DAY

__all__ = [
    "DEFAULT_WINDOW",
    "HEAP_MIN_RATIO",
    "HEAP_P_VALUE",
    "day_window",
    "detect_heaps",
    "far_from_rest",
    "placeholder_points",
    "rounding_to_hour",
    "time_precision",
    "window_around",
]

#: A heap must be this unlikely under "same rate as the neighbours" (one-sided binomial test),
#: small enough that uniform times of any size essentially never trigger it (a handful of
#: candidate instants per data set).
HEAP_P_VALUE = 1e-6

#: ... and hold at least this many times the count the neighbours imply, so that a real peak
#: of a smooth daily cycle with much data is not taken for a heap.
HEAP_MIN_RATIO = 1.25

#: Default window given to records at a heaped default instant: the local day containing it.
DEFAULT_WINDOW = "day"

# Candidate default instants, minutes after local midnight.
_HOUR_CANDIDATES = (0, 12 * 60)  # hour-precision data: 00:00 and 12:00
_MINUTE_CANDIDATES = (0, 1, 12 * 60, 23 * 60 + 59)  # plus 00:01 and 23:59
_FAR = 10  # interquartile ranges beyond the quartiles: a placeholder's distance


def time_precision(minute_of_day: np.ndarray, second: np.ndarray) -> str:
    """Return ``"hour"`` when every time is a whole hour, ``"minute"`` otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> time_precision(np.array([0, 60, 720]), np.zeros(3))
    'hour'
    >>> time_precision(np.array([0, 61]), np.zeros(2))
    'minute'
    """
    whole = (minute_of_day % 60 == 0) & (second == 0)
    return "hour" if bool(np.all(whole)) else "minute"


def _neighbours(candidate: int, precision: str) -> list[int]:
    """Minutes of day whose counts say what ``candidate`` should hold without a heap.

    Hour precision, and whole-hour candidates in minute data (where rounding to the hour
    inflates every whole hour alike): the same minute of the two hours before and after.
    Other minutes: the minutes within ten of it that are neither a multiple of five (rounded
    entries heap there too) nor another candidate.
    """
    if precision == "hour" or candidate % 60 == 0:
        return [(candidate + 60 * k) % MINUTES_PER_DAY for k in (-2, -1, 1, 2)]
    return [
        (candidate + k) % MINUTES_PER_DAY
        for k in range(-10, 11)
        if k and (candidate + k) % 5 and (candidate + k) % MINUTES_PER_DAY not in _MINUTE_CANDIDATES
    ]


def detect_heaps(minute_of_day: np.ndarray, second: np.ndarray) -> tuple[str, list[dict]]:
    """Measure the excess of records at each candidate default instant.

    Parameters
    ----------
    minute_of_day : ndarray of int
        Local wall-clock minute after midnight (0 .. 1439) of each exact time.
    second : ndarray of int
        Its second (0 .. 59).

    Returns
    -------
    precision : {"hour", "minute"}
        ``"hour"`` when every time is a whole hour (whole hours are then the precision, not
        a heap); else ``"minute"``.
    heaps : list of dict
        One entry per candidate instant (00:00 and 12:00 for hour precision; also 00:01 and
        23:59 for minute precision): ``instant`` ("HH:MM"), ``observed``, ``expected`` (mean
        count at the neighbours), ``excess`` (observed - expected), ``p_value`` (one-sided
        binomial test of the observed count against the neighbours' rate) and ``heaped``
        (True when ``p_value < HEAP_P_VALUE`` and ``observed >= HEAP_MIN_RATIO *
        expected``). Times with a non-zero second never count as a default instant.

    Examples
    --------
    >>> import numpy as np
    >>> hours = np.r_[np.repeat(np.arange(24), 100), np.zeros(100, int)]  # 200 at 00:00
    >>> precision, heaps = detect_heaps(hours * 60, np.zeros(hours.size))
    >>> precision, heaps[0]["instant"], heaps[0]["observed"], heaps[0]["expected"]
    ('hour', '00:00', 200, 100.0)
    >>> heaps[0]["heaped"], heaps[1]["heaped"]
    (True, False)
    """
    minute_of_day = np.asarray(minute_of_day, dtype=np.int64)
    second = np.asarray(second, dtype=np.int64)
    if not minute_of_day.size:
        return "minute", []
    precision = time_precision(minute_of_day, second)
    counts = np.bincount(minute_of_day[second == 0], minlength=MINUTES_PER_DAY)
    all_counts = np.bincount(minute_of_day, minlength=MINUTES_PER_DAY)
    candidates = _HOUR_CANDIDATES if precision == "hour" else _MINUTE_CANDIDATES
    heaps = []
    for candidate in candidates:
        around = _neighbours(candidate, precision)
        observed = int(counts[candidate])
        beside = int(all_counts[around].sum())
        expected = beside / len(around)
        # Under "no heap" the candidate is one more bin like its neighbours: given the total
        # of the candidate and its neighbours, its count is binomial with p = 1 / (k + 1).
        p_value = float(
            scipy.stats.binom.sf(observed - 1, observed + beside, 1 / (len(around) + 1))
        )
        heaps.append(
            {
                "instant": f"{candidate // 60:02d}:{candidate % 60:02d}",
                "observed": observed,
                "expected": round(expected, 2),
                "excess": round(observed - expected, 2),
                "p_value": p_value,
                "heaped": bool(p_value < HEAP_P_VALUE and observed >= HEAP_MIN_RATIO * expected),
            }
        )
    return precision, heaps


def rounding_to_hour(minute_of_day: np.ndarray) -> dict:
    """Measure rounding to the hour in minute-precision times.

    The count at minute 0 is compared with the mean count at the minutes that are not a
    multiple of five. Reported, not acted on: an hour is a fine precision for 4-hour shifts.

    Examples
    --------
    >>> import numpy as np
    >>> minutes = np.r_[np.arange(1440), np.arange(0, 1440, 60)]  # every whole hour twice
    >>> rounding_to_hour(minutes)["observed"], rounding_to_hour(minutes)["expected"]
    (48, 24.0)
    """
    minute = np.asarray(minute_of_day) % 60
    per_minute = np.bincount(minute, minlength=60)
    plain = [m for m in range(1, 60) if m % 5]
    expected = per_minute[plain].mean()
    observed = int(per_minute[0])
    return {
        "instant": "whole hours",
        "observed": observed,
        "expected": round(float(expected), 2),
        "excess": round(float(observed - expected), 2),
    }


def window_around(instants: pd.DatetimeIndex, window) -> tuple[np.ndarray, np.ndarray]:
    """Return the windows (UTC seconds) given to records at a default instant.

    Parameters
    ----------
    instants : pandas.DatetimeIndex
        Time-zone-aware local instants.
    window : "day" or pandas.Timedelta
        ``"day"``: from the local midnight starting the day of the instant to the next local
        midnight (23 or 25 hours long on a daylight-saving change). A duration: centred on the
        instant.

    Returns
    -------
    start, end : ndarray of int64

    Examples
    --------
    >>> import pandas as pd
    >>> at = pd.DatetimeIndex(["2019-03-10 12:00"]).tz_localize("America/Toronto")
    >>> start, end = window_around(at, "day")
    >>> int(end[0] - start[0]) // 3600  # the day clocks go forward has 23 hours
    23
    >>> start, end = window_around(at, pd.Timedelta("4h"))
    >>> int(end[0] - start[0]) // 3600
    4
    """
    seconds = instants.as_unit("s").asi8
    if isinstance(window, str):  # "day"
        return day_window(instants)
    half = int(window.total_seconds()) // 2
    return seconds - half, seconds - half + int(window.total_seconds())


def day_window(instants: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    """Local midnight starting each instant's day and the next local midnight, in UTC seconds.

    Examples
    --------
    >>> import pandas as pd
    >>> at = pd.DatetimeIndex(["2019-11-03 00:00"]).tz_localize("America/Toronto")
    >>> start, end = day_window(at)
    >>> int(end[0] - start[0]) // 3600  # the day clocks go back has 25 hours
    25
    """
    tz = instants.tz
    dates = instants.tz_localize(None).normalize()
    start = _local_midnight(dates, tz)
    end = _local_midnight(dates + pd.Timedelta(days=1), tz)
    return start, end


def _local_midnight(dates: pd.DatetimeIndex, tz) -> np.ndarray:
    # A midnight that does not exist (a few zones change clocks at 00:00) moves to the first
    # instant after the gap; one that occurs twice takes the first.
    local = dates.tz_localize(tz, ambiguous=np.ones(len(dates), bool), nonexistent="shift_forward")
    return local.as_unit("s").asi8


def far_from_rest(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Mask of points more than ``10`` interquartile ranges beyond the quartiles of x or y.

    Examples
    --------
    >>> import numpy as np
    >>> far_from_rest(np.r_[np.arange(100.0), 5000.0], np.r_[np.arange(100.0), 0.0])[-2:]
    array([False,  True])
    """
    far = np.zeros(np.shape(x), dtype=bool)
    for values in (np.asarray(x, dtype=float), np.asarray(y, dtype=float)):
        low, high = np.quantile(values, [0.25, 0.75])
        far |= (values < low - _FAR * (high - low)) | (values > high + _FAR * (high - low))
    return far


def placeholder_points(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, str]:
    """Mask of rows on a placeholder location, and a description of it.

    A placeholder is (0, 0), or one point repeated by at least 3 rows that lies far outside
    the others: more than ``10`` interquartile ranges beyond the quartiles of x or of y (the
    quartiles move little even when the placeholder holds a large share of the rows).
    Scale-free, so it works in degrees and in metres; snapped locations (many rows on one
    intersection inside the area) are not placeholders. Needs 20 rows off (0, 0).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = np.r_[rng.uniform(0, 1000, 200) + 5e5, [1.0] * 5]
    >>> y = np.r_[rng.uniform(0, 1000, 200) + 5e6, [2.0] * 5]
    >>> mask, what = placeholder_points(x, y)
    >>> int(mask.sum()), what
    (5, '5 rows at (1, 2), far outside the other locations')
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    zero = (x == 0) & (y == 0)
    parts = []
    if zero.any():
        parts.append(f"{int(zero.sum())} row{'s' if zero.sum() != 1 else ''} at (0, 0)")
    mask = zero.copy()
    rest = ~zero & np.isfinite(x) & np.isfinite(y)
    if rest.sum() >= 20:
        points = pd.DataFrame({"x": x[rest], "y": y[rest]})
        counts = points.value_counts()
        repeated = counts[counts >= 3]
        if len(repeated):
            far = np.zeros(len(repeated), dtype=bool)
            rx = repeated.index.get_level_values(0).to_numpy()
            ry = repeated.index.get_level_values(1).to_numpy()
            for values, point in ((x[rest], rx), (y[rest], ry)):
                low, high = np.quantile(values, [0.25, 0.75])
                pad = _FAR * (high - low)
                if pad <= 0:  # the others all on one line: no scale to judge by
                    far[:] = False
                    break
                far |= (point < low - pad) | (point > high + pad)
            for (px, py), count in zip(repeated.index[far], repeated[far], strict=True):
                mask |= (x == px) & (y == py)
                parts.append(f"{count} rows at ({px:g}, {py:g}), far outside the other locations")
    return mask, "; ".join(parts)
