"""Police shifts: time blocks defined in local wall-clock time, correct across DST changes.

A :class:`ShiftSchedule` divides every local day into blocks that start at fixed wall-clock
times (by default six 4-hour blocks from midnight; or police shifts such as 07-15, 15-23,
23-07). Every block has a global integer id::

    block_id = (local date of the block's start - 1970-01-01 in days) * n_shifts + shift

so ids are consecutive in time, and a block keeps its wall-clock span on the 23- and 25-hour
days of a daylight-saving change: the 00-04 block is 3 hours long on the spring-forward day and
5 hours long on the fall-back day, and no later block moves.

Wall-clock starts that do not exist on a spring-forward day (a shift starting at 02:30 in the
skipped hour) begin at the first instant after the gap; starts that occur twice on a fall-back
day begin at their first occurrence.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

from caslite._time import DAY, HOUR, MINUTE, as_zone, to_utc_seconds
from caslite._validation import as_duration

__all__ = ["Blocks", "ShiftSchedule"]

_HHMM = re.compile(r"^(\d{1,2}):(\d{2})$")
#: Most block starts a schedule keeps cached (8 bytes each; about 480 years of 4-hour blocks).
_MAX_CACHED_STARTS = 1 << 20


def _parse_start(text) -> int:
    """Return the seconds after midnight of an ``"HH:MM"`` wall-clock start."""
    match = _HHMM.match(str(text).strip())
    if match is None:
        raise ValueError(f"shift start {text!r} is not a wall-clock time 'HH:MM' such as '07:00'.")
    hours, minutes = int(match.group(1)), int(match.group(2))
    if hours > 23 or minutes > 59:
        raise ValueError(f"shift start {text!r} is not a time of day between 00:00 and 23:59.")
    return hours * HOUR + minutes * MINUTE


class ShiftSchedule:
    """Blocks of each local day, defined by their wall-clock start times.

    Parameters
    ----------
    starts : sequence of str, default six 4-hour blocks from 00:00
        Wall-clock start times ``"HH:MM"`` of the shifts, in any order; each shift runs until
        the next start (the last one wraps past midnight to the first start of the next day),
        so the shifts tile the day without gaps or overlaps.
    tz : str
        IANA time zone of the study area, e.g. ``"Europe/Amsterdam"``.
    labels : sequence of str, optional
        Names of the shifts in start order; default ``"07-15"``-style labels.

    Attributes
    ----------
    n_shifts : int
        Number of shifts per day.
    start_seconds : ndarray of int64
        Seconds after local midnight at which each shift starts, ascending.

    Examples
    --------
    >>> schedule = ShiftSchedule(["07:00", "15:00", "23:00"], tz="Europe/Amsterdam")
    >>> schedule.labels
    ('07-15', '15-23', '23-07')
    >>> len(ShiftSchedule.every(4, tz="Europe/Amsterdam").horizon("2024-03-25", "14D"))
    84
    """

    def __init__(
        self,
        starts=("00:00", "04:00", "08:00", "12:00", "16:00", "20:00"),
        *,
        tz,
        labels=None,
    ):
        if isinstance(starts, str):
            starts = [starts]
        if not isinstance(starts, Iterable):
            raise TypeError(
                f"starts must be a list of wall-clock start times such as ['07:00', '15:00', "
                f"'23:00'], got {starts!r}; leave it out for six 4-hour shifts from 00:00, or "
                "use ShiftSchedule.every(hours, tz=...)."
            )
        seconds = sorted(_parse_start(s) for s in starts)
        if not seconds:
            raise ValueError("starts is empty: give at least one shift start such as '00:00'.")
        if len(set(seconds)) != len(seconds):
            raise ValueError(f"starts {list(starts)!r} repeats a start time; each must be unique.")
        self.tz = as_zone(tz)
        self.start_seconds = np.asarray(seconds, dtype=np.int64)
        self.starts = tuple(_hhmm(s) for s in seconds)
        if labels is None:
            labels = tuple(
                _default_label(a, b)
                for a, b in zip(seconds, seconds[1:] + seconds[:1], strict=True)
            )
        labels = tuple(str(label) for label in labels)
        if len(labels) != len(seconds):
            raise ValueError(f"got {len(labels)} labels for {len(seconds)} shifts; give one each.")
        self.labels = labels

    @classmethod
    def every(cls, hours=4, *, tz, first="00:00") -> ShiftSchedule:
        """Make equal blocks of ``hours`` wall-clock hours, the first starting at ``first``.

        Parameters
        ----------
        hours : int, float, str or timedelta, default 4
            Length of each block, in hours (``4``) or as a duration (``"4h"``, ``"90min"``);
            must divide 24 hours into whole minutes.
        tz : str
            IANA time zone of the study area.
        first : str, default "00:00"
            Wall-clock start of one of the blocks.

        Returns
        -------
        ShiftSchedule

        Examples
        --------
        >>> ShiftSchedule.every(8, tz="Europe/Amsterdam", first="07:00").starts
        ('07:00', '15:00', '23:00')
        """
        step = _block_seconds(hours)
        if not np.isfinite(step) or step <= 0 or DAY % step or step % 60:
            raise ValueError(
                f"hours={hours!r} must be positive and divide a 24-hour day into whole minutes "
                "(e.g. 1, 2, 3, 4, 6, 8, 12 or 24)."
            )
        offset = _parse_start(first)
        starts = [(offset + i * int(step)) % DAY for i in range(int(DAY // step))]
        return cls([_hhmm(s) for s in starts], tz=tz)

    @property
    def n_shifts(self) -> int:
        """Number of shifts per day."""
        return len(self.start_seconds)

    def __repr__(self) -> str:
        return f"ShiftSchedule({list(self.starts)!r}, tz={self.tz!r})"

    def __eq__(self, other) -> bool:
        return (
            isinstance(other, ShiftSchedule)
            and self.tz == other.tz
            and self.starts == other.starts
            and self.labels == other.labels
        )

    def __hash__(self) -> int:
        return hash((self.tz, self.starts, self.labels))

    def to_dict(self) -> dict:
        """Return the schedule as plain values, the form :meth:`from_dict` reads.

        Returns
        -------
        dict
            ``starts`` (wall-clock start times, ascending), ``tz`` and ``labels``.

        Examples
        --------
        >>> schedule = ShiftSchedule(["07:00", "15:00", "23:00"], tz="Europe/Amsterdam")
        >>> schedule.to_dict()["starts"], schedule.to_dict()["labels"]
        (['07:00', '15:00', '23:00'], ['07-15', '15-23', '23-07'])
        >>> ShiftSchedule.from_dict(schedule.to_dict()) == schedule
        True
        """
        return {"starts": list(self.starts), "tz": self.tz, "labels": list(self.labels)}

    @classmethod
    def from_dict(cls, form: dict) -> ShiftSchedule:
        """Rebuild a schedule from the form of :meth:`to_dict`, checked as the constructor checks.

        Raises
        ------
        TypeError
            If ``form`` is not a dict.
        ValueError
            If it lacks ``starts``, ``tz`` or ``labels``, or holds values the constructor
            refuses.
        """
        if not isinstance(form, dict):
            raise TypeError(f"a ShiftSchedule form must be a dict, got {type(form).__name__}.")
        missing = sorted({"starts", "tz", "labels"} - set(form))
        if missing:
            raise ValueError(f"the ShiftSchedule form lacks {missing}.")
        return cls(form["starts"], tz=form["tz"], labels=form["labels"])

    # ------------------------------------------------------------------ block ids <-> instants
    def block_of(self, times) -> np.ndarray:
        """Return the global block id of each instant.

        Parameters
        ----------
        times : array-like
            int64 UTC seconds, time-zone-aware datetimes, or naive datetimes / strings in
            local wall-clock time of ``tz``.

        Returns
        -------
        ndarray of int64
            Block ids (see the module docstring); ``block_bounds`` gives their instants.

        Examples
        --------
        >>> schedule = ShiftSchedule(["07:00", "15:00", "23:00"], tz="Europe/Amsterdam")
        >>> ids = schedule.block_of(["2024-03-31 03:30", "2024-03-31 07:00"])
        >>> [schedule.labels[s] for s in schedule.shift_of(ids)]
        ['23-07', '07-15']
        """
        seconds = np.atleast_1d(to_utc_seconds(times, self.tz, "block_of"))
        if seconds.size:
            # the local day of an instant is its UTC day or a neighbour, and its block starts
            # that day or the day before: these days' starts hold it, with a day to spare
            day = np.floor_divide(seconds, DAY)
            table = self._starts_table(
                (int(day.min()) - 3) * self.n_shifts, (int(day.max()) + 4) * self.n_shifts
            )
            if table is not None and table[2]:
                first, starts, _ = table
                # where starts never decrease with the id, the block holding an instant is the
                # last one starting at or before it (an empty block, on a skipped wall-clock
                # start, holds nothing)
                return first + np.searchsorted(starts, seconds, side="right") - 1
        return self._wall_clock_block_of(seconds)

    def _wall_clock_block_of(self, seconds: np.ndarray) -> np.ndarray:
        """:meth:`block_of` of UTC seconds from the local wall clock, without the cached starts."""
        local = pd.DatetimeIndex(pd.to_datetime(seconds, unit="s", utc=True)).tz_convert(self.tz)
        wall = local.tz_localize(None).as_unit("s").asi8
        day, time_of_day = np.divmod(wall, DAY)
        shift = np.searchsorted(self.start_seconds, time_of_day, side="right") - 1
        before_first = shift < 0  # belongs to the previous day's last (midnight-crossing) shift
        day = day - before_first
        shift = np.where(before_first, self.n_shifts - 1, shift)
        ids = day * self.n_shifts + shift
        # Around a DST change the wall-clock lookup can be one block off (a shift that starts
        # in the repeated hour starts at its first occurrence): settle on the block whose
        # instants contain the time, so that block_of agrees with block_bounds.
        start, end = self.block_bounds(ids)
        off = np.flatnonzero((seconds < start) | (seconds >= end))
        for _ in range(2):
            if not len(off):
                break
            ids[off] -= seconds[off] < self._block_start(ids[off])
            ids[off] += seconds[off] >= self._block_start(ids[off] + 1)
        return ids

    def shift_of(self, block_ids) -> np.ndarray:
        """Return the shift number (0 .. n_shifts-1, in start order) of each block id."""
        return np.asarray(block_ids, dtype=np.int64) % self.n_shifts

    def block_bounds(self, block_ids) -> tuple[np.ndarray, np.ndarray]:
        """Return the start and end instants (int64 UTC seconds) of each block id.

        Examples
        --------
        >>> schedule = ShiftSchedule.every(4, tz="Europe/Amsterdam")
        >>> start, end = schedule.block_bounds(schedule.block_of(["2024-03-31 01:00"]))
        >>> int(end[0] - start[0]) // 3600  # 00-04 on the spring-forward day
        3
        """
        ids = np.asarray(block_ids, dtype=np.int64)
        return self._block_start(ids), self._block_start(ids + 1)

    def _block_start(self, ids: np.ndarray) -> np.ndarray:
        """Start instants of block ids: from the cached starts when they cover the ids."""
        ids = np.asarray(ids, dtype=np.int64)
        if ids.size:
            table = self._starts_table(int(ids.min()), int(ids.max()))
            if table is not None:
                first, starts, _ = table
                return starts[ids - first]
        return self._local_starts(ids)

    def _local_starts(self, ids: np.ndarray) -> np.ndarray:
        """Start instants of block ids, each localised from its wall-clock start."""
        day, shift = np.divmod(ids, self.n_shifts)
        wall = day * DAY + self.start_seconds[shift]
        naive = pd.DatetimeIndex(pd.to_datetime(wall.ravel(), unit="s"))
        # Earliest occurrence of an ambiguous start, first instant after a skipped one.
        local = naive.tz_localize(
            self.tz, ambiguous=np.ones(len(naive), dtype=bool), nonexistent="shift_forward"
        )
        return local.as_unit("s").asi8.reshape(ids.shape)

    def _starts_table(self, lo: int, hi: int):
        """Return ``(first, starts, rising)``: the starts of ids ``first ..``, ``lo .. hi`` in them.

        The table is kept with the schedule and grown as ids outside it are asked for (by at
        least a year of blocks, or its own size, at a time), each start localised once by
        :meth:`_local_starts`, so that the many small lookups of a fit cost an index each.
        ``rising``: whether the starts never decrease (not so where pandas localises a
        skipped whole day, such as Pacific/Apia's 2011-12-30). None when the table would
        exceed :data:`_MAX_CACHED_STARTS` starts: the caller localises the starts itself.
        """
        table = self.__dict__.get("_starts")
        if table is not None and table[0] <= lo and hi < table[0] + table[1].size:
            return table
        first, starts, _ = table if table is not None else (lo, np.empty(0, np.int64), True)
        last = first + starts.size  # one past the table's last id
        new_first, new_last = min(first, lo), max(last, hi + 1)
        spare = _MAX_CACHED_STARTS - (new_last - new_first)
        if spare < 0:
            return None
        grow = min(max(starts.size, 366 * self.n_shifts), spare // 2)
        new_first -= grow if new_first < first or not starts.size else 0
        new_last += grow if new_last > last else 0
        try:
            before = self._local_starts(np.arange(new_first, first, dtype=np.int64))
            after = self._local_starts(np.arange(max(last, new_first), new_last, dtype=np.int64))
        except (OverflowError, ValueError):  # beyond the instants pandas can hold
            return None
        starts = np.concatenate([before, starts, after])
        table = (new_first, starts, bool(np.all(starts[1:] >= starts[:-1])))
        self._starts = table  # one assignment: a reader sees the old table or the new one
        return table

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_starts", None)  # a cache: rebuilt on demand, not carried in copies
        return state

    # ------------------------------------------------------------------ ranges of blocks
    def blocks(self, start, end) -> Blocks:
        """Return the blocks whose start lies in ``[start, end)``.

        Parameters
        ----------
        start, end : str, datetime or int
            Instants; naive values are local wall-clock time in ``tz``.

        Returns
        -------
        Blocks

        Examples
        --------
        >>> schedule = ShiftSchedule.every(4, tz="Europe/Amsterdam")
        >>> len(schedule.blocks("2024-10-27", "2024-10-28"))  # a 25-hour day
        6
        """
        lo = int(to_utc_seconds(start, self.tz, "start"))
        hi = int(to_utc_seconds(end, self.tz, "end"))
        if hi < lo:
            raise ValueError(f"end {end!r} is before start {start!r}.")
        first = int(self.block_of(np.array([lo]))[0])
        last = int(self.block_of(np.array([hi]))[0]) + 1
        ids = np.arange(first, last + 1, dtype=np.int64)
        starts = self._block_start(ids)
        keep = (starts >= lo) & (starts < hi)
        return Blocks(self, ids[keep])

    def horizon(self, origin, horizon="14D") -> Blocks:
        """Return the blocks of a horizon: those starting in ``[origin, origin + horizon)``.

        Parameters
        ----------
        origin : str, datetime or int
            Forecast origin; naive values are local wall-clock time in ``tz``.
        horizon : str or timedelta, default "14D"
            Length of the horizon. A whole number of days (``"14D"``, also ``"24h"``) counts
            local calendar days, so "14D" always gives ``14 * n_shifts`` blocks when the origin
            is at a block start, also across a daylight-saving change; other lengths (``"36h"``)
            count elapsed time.

        Returns
        -------
        Blocks

        Examples
        --------
        >>> schedule = ShiftSchedule.every(4, tz="America/Toronto")
        >>> len(schedule.horizon("2019-03-01", "14D"))  # spans the 10 March change
        84
        """
        length = as_duration(horizon, "horizon")
        lo = int(to_utc_seconds(origin, self.tz, "origin"))
        local_origin = pd.Timestamp(lo, unit="s", tz="UTC").tz_convert(self.tz)
        if length % pd.Timedelta(days=1) == pd.Timedelta(0):
            wall_end = local_origin.tz_localize(None) + length
            end = wall_end.tz_localize(self.tz, ambiguous=True, nonexistent="shift_forward")
        else:
            end = local_origin + length
        return self.blocks(lo, int(end.timestamp()))


def _block_seconds(hours) -> float:
    """Seconds of a block of ``hours``: a number of hours or a duration with its unit."""
    if isinstance(hours, bool) or hours is None:
        raise TypeError(f"hours={hours!r} is not a length; give a number of hours or e.g. '4h'.")
    if isinstance(hours, numbers.Real):
        return float(hours) * HOUR
    if isinstance(hours, str):
        try:
            return float(hours) * HOUR  # "4": hours, as on the command line
        except ValueError:
            pass
    try:
        return as_duration(hours, "hours").total_seconds()
    except (TypeError, ValueError):
        raise ValueError(
            f"hours={hours!r} is not a length of the blocks; give a number of hours (4) or a "
            "duration ('4h', '90min') that divides a 24-hour day."
        ) from None


def _default_label(start: int, end: int) -> str:
    """Label a shift ``"07-15"`` (hours) or ``"07:30-15:30"`` when minutes are involved."""
    if start % HOUR or end % HOUR:
        return f"{_hhmm(start)}-{_hhmm(end)}"
    return f"{start // HOUR:02d}-{end // HOUR:02d}"


def _hhmm(seconds: int) -> str:
    return f"{seconds // HOUR:02d}:{seconds % HOUR // MINUTE:02d}"


class Blocks:
    """A run of consecutive time blocks of a :class:`ShiftSchedule`.

    Parameters
    ----------
    schedule : ShiftSchedule
        The schedule the blocks belong to.
    ids : array-like of int
        Global block ids.

    Attributes
    ----------
    ids : ndarray of int64
        Global block ids.
    start, end : ndarray of int64
        Start and end instants in UTC seconds.
    shift : ndarray of int64
        Shift number of each block (index into ``schedule.labels``).

    Examples
    --------
    >>> schedule = ShiftSchedule.every(4, tz="Europe/Amsterdam")
    >>> blocks = schedule.horizon("2024-10-27", "1D")
    >>> blocks.to_frame()["hours"].tolist()  # the fall-back day
    [5.0, 4.0, 4.0, 4.0, 4.0, 4.0]
    """

    def __init__(self, schedule: ShiftSchedule, ids):
        self.schedule = schedule
        self.ids = np.asarray(ids, dtype=np.int64)
        self.start, self.end = schedule.block_bounds(self.ids)
        self.shift = schedule.shift_of(self.ids)

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        if not len(self):
            return "Blocks(empty)"
        first, last = self.to_frame().iloc[[0, -1]]["block_start"]
        return f"Blocks({len(self)} blocks, {first} .. {last})"

    @property
    def edges(self) -> np.ndarray:
        """Start instants followed by the last end (int64 UTC seconds), for ``searchsorted``."""
        return np.append(self.start, self.end[-1:]) if len(self) else np.empty(0, np.int64)

    def to_frame(self) -> pd.DataFrame:
        """Return one row per block.

        Columns: ``block_id``, ``shift``, ``label``, ``block_start`` and ``block_end`` (local
        time-zone-aware timestamps) and ``hours``.
        """
        tz = self.schedule.tz
        return pd.DataFrame(
            {
                "block_id": self.ids,
                "shift": self.shift,
                "label": np.asarray(self.schedule.labels, dtype=object)[self.shift],
                "block_start": pd.to_datetime(self.start, unit="s", utc=True).tz_convert(tz),
                "block_end": pd.to_datetime(self.end, unit="s", utc=True).tz_convert(tz),
                "hours": (self.end - self.start) / float(HOUR),
            }
        )
