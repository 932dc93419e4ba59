"""Tests of caslite.shifts: ShiftSchedule and Blocks, against hand-computed UTC instants.

Reference instants are written as UTC wall clock with ``calendar.timegm`` from the published
IANA offsets (CET +1 / CEST +2, EST -5 / EDT -4, AEST +10 / AEDT +11), so they do not depend on
the pandas time-zone code under test.
"""

from __future__ import annotations

import calendar
import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from caslite.shifts import Blocks, ShiftSchedule, as_zone

H = 3600
POLICE = ["07:00", "15:00", "23:00"]


def utc(year, month, day, hour=0, minute=0, second=0) -> int:
    """Unix seconds of a UTC wall-clock time."""
    return calendar.timegm((year, month, day, hour, minute, second))


def day_number(year, month, day) -> int:
    return (dt.date(year, month, day) - dt.date(1970, 1, 1)).days


def local_wall(seconds: int, tz: str) -> dt.datetime:
    """Naive local wall clock of a Unix instant, via the standard library only."""
    return dt.datetime.fromtimestamp(int(seconds), ZoneInfo(tz)).replace(tzinfo=None)


# ---------------------------------------------------------------------- construction
def test_default_is_six_four_hour_blocks_from_midnight():
    schedule = ShiftSchedule(tz="Europe/Amsterdam")
    assert schedule.n_shifts == 6
    assert schedule.starts == ("00:00", "04:00", "08:00", "12:00", "16:00", "20:00")
    assert schedule.start_seconds.tolist() == [0, 4 * H, 8 * H, 12 * H, 16 * H, 20 * H]
    assert schedule.labels == ("00-04", "04-08", "08-12", "12-16", "16-20", "20-00")
    assert schedule == ShiftSchedule.every(4, tz="Europe/Amsterdam")


def test_police_shifts_labels_and_every():
    schedule = ShiftSchedule(POLICE, tz="Europe/Amsterdam")
    assert schedule.labels == ("07-15", "15-23", "23-07")
    every = ShiftSchedule.every(8, tz="Europe/Amsterdam", first="07:00")
    assert every.starts == ("07:00", "15:00", "23:00")
    assert every == schedule
    assert hash(every) == hash(schedule)
    # starts are sorted whatever the order given
    assert ShiftSchedule(["23:00", "07:00", "15:00"], tz="Europe/Amsterdam") == schedule


def test_custom_labels_follow_sorted_start_order():
    schedule = ShiftSchedule(POLICE, tz="America/Toronto", labels=["early", "late", "night"])
    assert schedule.labels == ("early", "late", "night")
    blocks = schedule.blocks("2019-03-01 07:00", "2019-03-02 07:00")
    assert blocks.to_frame()["label"].tolist() == ["early", "late", "night"]
    # labels name the shifts in ascending start order, not in the order starts were given
    unsorted = ShiftSchedule(["23:00", "07:00", "15:00"], tz="UTC", labels=["a", "b", "c"])
    assert unsorted.starts == ("07:00", "15:00", "23:00")
    assert unsorted.labels == ("a", "b", "c")


def test_midnight_crossing_shift_owns_early_morning():
    schedule = ShiftSchedule(POLICE, tz="America/Toronto")
    # 2019-03-02 03:00 EST belongs to the 23-07 block that started 2019-03-01 23:00 EST
    ids = schedule.block_of(["2019-03-02 03:00"])
    assert ids.tolist() == [day_number(2019, 3, 1) * 3 + 2]
    assert schedule.labels[int(schedule.shift_of(ids)[0])] == "23-07"
    start, end = schedule.block_bounds(ids)
    assert start.tolist() == [utc(2019, 3, 2, 4)]  # 23:00 EST
    assert end.tolist() == [utc(2019, 3, 2, 12)]  # 07:00 EST
    # 06:59:59 is still the night shift, 07:00 is the next day's early shift
    later = schedule.block_of(["2019-03-02 06:59:59", "2019-03-02 07:00:00"])
    assert later.tolist() == [ids[0], ids[0] + 1]
    assert schedule.shift_of(later).tolist() == [2, 0]


def test_minute_starts():
    schedule = ShiftSchedule(["07:30", "15:30", "23:30"], tz="America/Toronto")
    assert schedule.labels == ("07:30-15:30", "15:30-23:30", "23:30-07:30")
    assert schedule.start_seconds.tolist() == [7 * H + 1800, 15 * H + 1800, 23 * H + 1800]
    ids = schedule.block_of(["2019-03-02 07:29", "2019-03-02 07:30"])
    d1 = day_number(2019, 3, 1)
    assert ids.tolist() == [d1 * 3 + 2, (d1 + 1) * 3]
    start, end = schedule.block_bounds(ids[1:])
    assert start.tolist() == [utc(2019, 3, 2, 12, 30)]
    assert end.tolist() == [utc(2019, 3, 2, 20, 30)]
    every = ShiftSchedule.every(4, tz="UTC", first="07:30")
    assert every.starts == ("03:30", "07:30", "11:30", "15:30", "19:30", "23:30")
    assert ShiftSchedule.every(1.5, tz="UTC").n_shifts == 16


def test_block_id_formula_and_int_input():
    schedule = ShiftSchedule(tz="UTC")
    t = utc(2020, 2, 29, 13, 5)
    assert schedule.block_of([t]).tolist() == [day_number(2020, 2, 29) * 6 + 3]
    assert schedule.block_of(t).tolist() == [day_number(2020, 2, 29) * 6 + 3]
    # before 1970 the day number is negative and ids stay consecutive
    t_old = utc(1969, 12, 31, 23, 59)
    assert schedule.block_of([t_old]).tolist() == [-1]
    assert schedule.block_bounds([-1])[0].tolist() == [utc(1969, 12, 31, 20)]


def test_block_of_accepts_iso_strings_of_mixed_precision():
    schedule = ShiftSchedule(POLICE, tz="America/Toronto")
    ids = schedule.block_of(["2019-03-02 06:59:59", "2019-03-02 07:00"])
    d1 = day_number(2019, 3, 1)
    assert ids.tolist() == [d1 * 3 + 2, (d1 + 1) * 3]


def test_aware_and_naive_inputs_agree():
    schedule = ShiftSchedule(tz="Europe/Amsterdam")
    naive = schedule.block_of(["2024-06-01 13:00"])
    aware = schedule.block_of([pd.Timestamp("2024-06-01 11:00", tz="UTC")])
    ints = schedule.block_of([utc(2024, 6, 1, 11)])
    assert naive.tolist() == aware.tolist() == ints.tolist() == [day_number(2024, 6, 1) * 6 + 3]


# ---------------------------------------------------------------------- consistency
SCHEDULES = [
    ("Europe/Amsterdam", None),
    ("America/Toronto", POLICE),
    ("Australia/Sydney", ["07:30", "15:30", "23:30"]),
    ("America/Toronto", [f"{h:02d}:00" for h in range(24)]),
    ("Europe/Amsterdam", ["06:00", "18:00"]),
]


@pytest.mark.parametrize(("tz", "starts"), SCHEDULES)
def test_block_of_and_bounds_are_consistent_on_random_instants(tz, starts):
    schedule = ShiftSchedule(tz=tz) if starts is None else ShiftSchedule(starts, tz=tz)
    rng = np.random.default_rng(20240331)
    t = rng.integers(utc(2015, 1, 1), utc(2025, 1, 1), size=3000)
    # include every DST transition instant and its neighbours in the range
    zone = ZoneInfo(tz)
    transitions = [
        s
        for s in range(utc(2015, 1, 1), utc(2025, 1, 1), 1800)
        if dt.datetime.fromtimestamp(s, zone).utcoffset()
        != dt.datetime.fromtimestamp(s - 1800, zone).utcoffset()
    ]
    assert len(transitions) == 20  # two changes a year for ten years
    t = np.concatenate([t, transitions, np.array(transitions) - 1])
    ids = schedule.block_of(t)
    start, end = schedule.block_bounds(ids)
    assert np.all(start <= t) and np.all(t < end)
    assert np.array_equal(schedule.block_of(start), ids)
    # each block starts at its shift's wall-clock start (no start falls in a DST gap here)
    for s, shift in zip(start[:500], schedule.shift_of(ids[:500]), strict=True):
        wall = local_wall(s, tz)
        assert wall.hour * H + wall.minute * 60 == schedule.start_seconds[shift]
    # brute force: the block is the one whose wall-clock start is the last one <= local time
    for ti, block in zip(t[:500], ids[:500], strict=True):
        wall = local_wall(ti, tz)
        seconds = wall.hour * H + wall.minute * 60 + wall.second
        day = (wall.date() - dt.date(1970, 1, 1)).days
        before = [k for k, s in enumerate(schedule.start_seconds) if s <= seconds]
        expected = day * schedule.n_shifts + before[-1] if before else day * schedule.n_shifts - 1
        assert block == expected


@pytest.mark.parametrize(("tz", "starts"), SCHEDULES)
def test_blocks_range_is_consecutive_and_tiles_time(tz, starts):
    schedule = ShiftSchedule(tz=tz) if starts is None else ShiftSchedule(starts, tz=tz)
    blocks = schedule.blocks("2019-01-01", "2022-01-01")
    assert np.array_equal(blocks.ids, np.arange(blocks.ids[0], blocks.ids[0] + len(blocks)))
    assert np.array_equal(blocks.start[1:], blocks.end[:-1])
    zone = ZoneInfo(tz)
    first = dt.datetime(2019, 1, 1, tzinfo=zone).timestamp()
    last = dt.datetime(2022, 1, 1, tzinfo=zone).timestamp()
    assert blocks.start[0] >= first and blocks.start[-1] < last
    # three years of whole days: exactly n_shifts blocks per local day
    days = (dt.date(2022, 1, 1) - dt.date(2019, 1, 1)).days
    if schedule.start_seconds[0] == 0:
        assert blocks.start[0] == first
        assert len(blocks) == days * schedule.n_shifts
    assert np.array_equal(blocks.edges, np.append(blocks.start, blocks.end[-1]))


# ---------------------------------------------------------------------- DST
# (tz, transition date, UTC offset at 00:00 that day, offset from 04:00 on, 00-04 hours)
DST_DAYS = [
    ("Europe/Amsterdam", (2024, 3, 31), 1, 2, 3),
    ("Europe/Amsterdam", (2024, 10, 27), 2, 1, 5),
    ("America/Toronto", (2019, 3, 10), -5, -4, 3),
    ("America/Toronto", (2019, 11, 3), -4, -5, 5),
    ("Australia/Sydney", (2024, 10, 6), 10, 11, 3),
    ("Australia/Sydney", (2024, 4, 7), 11, 10, 5),
]


@pytest.mark.parametrize(("tz", "date", "before", "after", "first_hours"), DST_DAYS)
def test_dst_day_blocks(tz, date, before, after, first_hours):
    schedule = ShiftSchedule(tz=tz)
    y, m, d = date
    day = dt.date(*date)
    nxt = day + dt.timedelta(days=1)
    blocks = schedule.blocks(f"{day} 00:00", f"{nxt} 00:00")
    assert len(blocks) == 6  # six blocks on a 23- or 25-hour day
    assert blocks.ids.tolist() == list(range(day_number(*date) * 6, day_number(*date) * 6 + 6))
    expected_starts = [utc(y, m, d) - before * H] + [
        utc(y, m, d, 4 * k) - after * H for k in range(1, 6)
    ]
    assert blocks.start.tolist() == expected_starts
    hours = blocks.to_frame()["hours"].tolist()
    assert hours == [first_hours, 4, 4, 4, 4, 4]
    # the next day's blocks are unchanged in wall-clock start and all 4 hours long
    following = schedule.blocks(f"{nxt} 00:00", f"{nxt + dt.timedelta(days=1)} 00:00")
    assert following.start.tolist() == [
        utc(nxt.year, nxt.month, nxt.day, 4 * k) - after * H for k in range(6)
    ]
    assert following.to_frame()["hours"].tolist() == [4.0] * 6
    frame = blocks.to_frame()
    assert [ts.strftime("%H:%M") for ts in frame["block_start"]] == list(schedule.starts)
    # the docstring example's formula: 00-04 hours from block_bounds directly
    start, end = schedule.block_bounds(blocks.ids[:1])
    assert int(end[0] - start[0]) == first_hours * H


@pytest.mark.parametrize(
    ("tz", "origin", "days_in_period"),
    [
        ("Europe/Amsterdam", "2024-03-25", (2024, 3, 25)),
        ("Europe/Amsterdam", "2024-10-20", (2024, 10, 20)),
        ("America/Toronto", "2019-03-01", (2019, 3, 1)),
        ("America/Toronto", "2019-10-28", (2019, 10, 28)),
        ("Australia/Sydney", "2024-04-01", (2024, 4, 1)),
    ],
)
def test_two_week_horizon_across_dst_has_84_blocks(tz, origin, days_in_period):
    schedule = ShiftSchedule(tz=tz)
    blocks = schedule.horizon(origin, "14D")
    assert len(blocks) == 84
    zone = ZoneInfo(tz)
    first = dt.datetime(*days_in_period, tzinfo=zone)
    last = first.replace(tzinfo=None) + dt.timedelta(days=14)
    assert blocks.start[0] == first.timestamp()
    assert blocks.end[-1] == last.replace(tzinfo=zone).timestamp()
    # exactly one 3- or 5-hour block in the period, the rest 4 hours
    hours = np.asarray(blocks.to_frame()["hours"])
    assert np.count_nonzero(hours != 4) == 1
    assert float(hours[hours != 4][0]) in (3.0, 5.0)
    assert np.array_equal(blocks.shift, np.tile(np.arange(6), 14))


def test_police_shift_horizon_across_dst():
    schedule = ShiftSchedule(POLICE, tz="Europe/Amsterdam")
    blocks = schedule.horizon("2024-10-21 07:00", "14D")
    assert len(blocks) == 42
    hours = blocks.to_frame()["hours"].to_numpy()
    # the 23-07 night of Sat 26 -> Sun 27 October is 9 hours; all others 8
    night = schedule.block_of(["2024-10-27 05:00"])[0]
    assert hours[blocks.ids == night].tolist() == [9.0]
    assert np.count_nonzero(hours == 8) == 41
    assert blocks.start[blocks.ids == night].tolist() == [utc(2024, 10, 26, 21)]  # 23:00 CEST


def test_start_inside_spring_forward_gap_begins_after_gap():
    schedule = ShiftSchedule(["02:30", "10:30", "18:30"], tz="America/Toronto")
    block = day_number(2019, 3, 10) * 3
    start, end = schedule.block_bounds([block])
    assert start.tolist() == [utc(2019, 3, 10, 7)]  # 03:00 EDT, first instant after the gap
    assert end.tolist() == [utc(2019, 3, 10, 14, 30)]  # 10:30 EDT
    previous_start, previous_end = schedule.block_bounds([block - 1])
    assert previous_start.tolist() == [utc(2019, 3, 9, 23, 30)]  # 18:30 EST
    assert previous_end.tolist() == start.tolist()
    assert schedule.block_of([utc(2019, 3, 10, 7)]).tolist() == [block]
    assert schedule.block_of([utc(2019, 3, 10, 7) - 1]).tolist() == [block - 1]
    # the next day the shift starts at 02:30 again
    assert schedule.block_bounds([block + 3])[0].tolist() == [utc(2019, 3, 11, 6, 30)]


def test_start_inside_fall_back_hour_begins_at_first_occurrence():
    schedule = ShiftSchedule(["01:30", "09:30", "17:30"], tz="America/Toronto")
    block = day_number(2019, 11, 3) * 3
    start, end = schedule.block_bounds([block])
    assert start.tolist() == [utc(2019, 11, 3, 5, 30)]  # 01:30 EDT, not 01:30 EST
    assert end.tolist() == [utc(2019, 11, 3, 14, 30)]  # 09:30 EST: a 9-hour block
    assert schedule.block_bounds([block - 1])[1].tolist() == start.tolist()
    # instants of the first occurrence of the repeated hour
    assert schedule.block_of([utc(2019, 11, 3, 5, 29)]).tolist() == [block - 1]
    assert schedule.block_of([utc(2019, 11, 3, 5, 30)]).tolist() == [block]


@pytest.mark.parametrize(
    ("tz", "starts", "date", "instant"),
    [
        ("America/Toronto", ["01:30", "09:30", "17:30"], (2019, 11, 3), utc(2019, 11, 3, 6, 10)),
        ("Europe/Amsterdam", ["02:30", "10:30", "18:30"], (2024, 10, 27), utc(2024, 10, 27, 1, 10)),
    ],
)
def test_block_of_second_occurrence_before_ambiguous_start(tz, starts, date, instant):
    schedule = ShiftSchedule(starts, tz=tz)
    block = day_number(*date) * 3
    start, end = schedule.block_bounds([block])
    assert start[0] <= instant < end[0]  # the block started at the first occurrence
    ids = schedule.block_of([instant])
    got_start, got_end = schedule.block_bounds(ids)
    assert got_start[0] <= instant < got_end[0]
    assert ids.tolist() == [block]


# ---------------------------------------------------------------------- horizon
def test_horizon_non_whole_days_counts_elapsed_time():
    schedule = ShiftSchedule(tz="America/Toronto")
    # 2019-03-09 12:00 EST + 36 elapsed hours = 2019-03-11 05:00 UTC = 01:00 EDT
    blocks = schedule.horizon("2019-03-09 12:00", "36h")
    assert blocks.start[0] == utc(2019, 3, 9, 17)
    assert blocks.start[-1] == utc(2019, 3, 11, 4)  # 00:00 EDT on the 11th, before 01:00 EDT
    assert len(blocks) == 3 + 6 + 1
    # a timedelta works the same
    assert len(schedule.horizon("2019-03-09 12:00", dt.timedelta(hours=36))) == 10
    # a whole number of days counts calendar days: the 23-hour day still has six blocks
    assert len(schedule.horizon("2019-03-10", "1D")) == 6
    assert schedule.horizon("2019-03-10", "1D").end[-1] == utc(2019, 3, 11, 4)


def test_horizon_origin_mid_block_starts_with_next_block():
    schedule = ShiftSchedule(tz="America/Toronto")
    blocks = schedule.horizon("2019-03-01 05:00", "1D")
    assert blocks.start[0] == utc(2019, 3, 1, 13)  # 08:00 EST
    assert blocks.to_frame()["label"].tolist() == [
        "08-12",
        "12-16",
        "16-20",
        "20-00",
        "00-04",
        "04-08",
    ]
    # origin exactly at a block start includes that block
    at_start = schedule.horizon(utc(2019, 3, 1, 9), "4h")  # 04:00 EST
    assert at_start.start.tolist() == [utc(2019, 3, 1, 9)]


def test_blocks_to_frame_and_repr():
    schedule = ShiftSchedule(tz="Europe/Amsterdam")
    blocks = schedule.horizon("2024-10-27", "1D")
    frame = blocks.to_frame()
    assert list(frame.columns) == [
        "block_id",
        "shift",
        "label",
        "block_start",
        "block_end",
        "hours",
    ]
    assert str(frame["block_start"].iloc[0]) == "2024-10-27 00:00:00+02:00"
    assert str(frame["block_end"].iloc[0]) == "2024-10-27 04:00:00+01:00"
    assert "6 blocks" in repr(blocks)
    assert repr(Blocks(schedule, [])) == "Blocks(empty)"
    assert len(Blocks(schedule, []).edges) == 0


# ---------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("starts", "message"),
    [
        (["7am"], r"shift start '7am' is not a wall-clock time 'HH:MM'"),
        (["07:00", "25:00"], r"shift start '25:00' is not a time of day between 00:00 and 23:59"),
        (["07:60"], r"shift start '07:60' is not a time of day"),
        (["07.00"], r"'07.00' is not a wall-clock time 'HH:MM' such as '07:00'"),
        ([7.0], r"shift start 7.0 is not a wall-clock time"),
        ([], r"starts is empty: give at least one shift start"),
        (["07:00", "15:00", "7:00"], r"repeats a start time; each must be unique"),
    ],
)
def test_bad_starts(starts, message):
    with pytest.raises(ValueError, match=message):
        ShiftSchedule(starts, tz="Europe/Amsterdam")


def test_wrong_label_count():
    with pytest.raises(ValueError, match=r"got 2 labels for 3 shifts; give one each"):
        ShiftSchedule(POLICE, tz="Europe/Amsterdam", labels=["day", "night"])


@pytest.mark.parametrize("hours", [5, 0, -4, 7, float("nan"), 1 / 7])
def test_every_rejects_hours_not_dividing_the_day(hours):
    with pytest.raises(ValueError, match=r"must be positive and divide a 24-hour day"):
        ShiftSchedule.every(hours, tz="UTC")


def test_unknown_or_missing_tz():
    with pytest.raises(ValueError, match=r"tz='Mars/Olympus' is not a known IANA time zone"):
        ShiftSchedule(tz="Mars/Olympus")
    with pytest.raises(ValueError, match=r"tz must be an IANA time-zone name .* got None"):
        ShiftSchedule(tz=None)
    assert as_zone(ZoneInfo("Europe/Amsterdam")) == "Europe/Amsterdam"


@pytest.mark.parametrize("horizon", ["-1D", "0D", "-3h"])
def test_horizon_must_be_positive(horizon):
    schedule = ShiftSchedule(tz="UTC")
    with pytest.raises(ValueError, match=rf"horizon='{horizon}' is not a positive duration"):
        schedule.horizon("2024-01-01", horizon)


def test_float_times_refused():
    schedule = ShiftSchedule(tz="UTC")
    with pytest.raises(TypeError, match=r"block_of: got floating-point times; pass int64"):
        schedule.block_of([1.5e9])
    with pytest.raises(TypeError, match=r"origin: got floating-point times"):
        schedule.horizon(1.5e9, "1D")


def test_naive_origin_in_dst_gap_or_overlap_refused():
    schedule = ShiftSchedule(tz="America/Toronto")
    with pytest.raises(ValueError, match=r"origin: .*does not exist or occurs twice.*aware"):
        schedule.horizon("2019-03-10 02:30", "1D")
    with pytest.raises(ValueError, match=r"block_of: .*does not exist or occurs twice"):
        schedule.block_of(["2019-11-03 01:30"])
    # an aware origin resolves it
    aware = pd.Timestamp("2019-11-03 06:30", tz="UTC").tz_convert("America/Toronto")  # EST
    assert schedule.block_of([aware]).tolist() == [day_number(2019, 11, 3) * 6]


def test_blocks_end_before_start_refused():
    schedule = ShiftSchedule(tz="UTC")
    with pytest.raises(ValueError, match=r"end '2024-01-01' is before start '2024-01-02'"):
        schedule.blocks("2024-01-02", "2024-01-01")


# ---------------------------------------------------------------------- cached starts
def reference_start(schedule: ShiftSchedule, block_id: int) -> int:
    """A block's start from the standard library: earliest occurrence, or first after a gap."""
    zone = ZoneInfo(schedule.tz)
    day, shift = divmod(int(block_id), schedule.n_shifts)
    wall = dt.datetime(1970, 1, 1) + dt.timedelta(
        days=day, seconds=int(schedule.start_seconds[shift])
    )
    occurrences = []
    for fold in (0, 1):
        seconds = int(wall.replace(tzinfo=zone, fold=fold).timestamp())
        if local_wall(seconds, schedule.tz) == wall:
            occurrences.append(seconds)
    if occurrences:
        return min(occurrences)
    # a skipped wall-clock time: the first instant whose wall clock is later (bisection)
    lo, hi = int(wall.replace(tzinfo=zone).timestamp()) - 2 * 86400, None
    hi = lo + 4 * 86400
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if local_wall(mid, schedule.tz) > wall:
            hi = mid
        else:
            lo = mid
    return hi


CACHED = [
    ("America/Toronto", None),
    ("Europe/Amsterdam", ["02:30", "10:30", "18:30"]),  # starts in the gap and the overlap
    ("America/Toronto", [f"{h:02d}:{m:02d}" for h in range(24) for m in (0, 30)]),
]
# Lord Howe's clocks change by 30 minutes; pandas moves a start in its gap (02:15) to 03:00
# rather than to 02:30, the first instant after it, so only the pandas path is its reference.
LORD_HOWE = ("Australia/Lord_Howe", ["00:00", "01:45", "02:15", "13:00"])


@pytest.mark.parametrize(("tz", "starts"), CACHED)
def test_cached_block_starts_equal_the_standard_library_across_dst(tz, starts):
    schedule = ShiftSchedule(tz=tz) if starts is None else ShiftSchedule(starts, tz=tz)
    zone = ZoneInfo(tz)
    changes = [
        s
        for s in range(utc(2016, 1, 1), utc(2020, 1, 1), 900)
        if dt.datetime.fromtimestamp(s, zone).utcoffset()
        != dt.datetime.fromtimestamp(s - 900, zone).utcoffset()
    ]
    assert len(changes) == 8
    n = schedule.n_shifts
    days = [(dt.datetime.fromtimestamp(s, zone).date() - dt.date(1970, 1, 1)).days for s in changes]
    ids = np.concatenate([np.arange((d - 1) * n, (d + 2) * n) for d in days])
    start, end = schedule.block_bounds(ids)  # small lookups, as a fit makes them
    assert "_starts" in vars(schedule)  # from the cached table
    assert start.tolist() == [reference_start(schedule, i) for i in ids]
    assert end.tolist() == [reference_start(schedule, i + 1) for i in ids]


@pytest.mark.parametrize(("tz", "starts"), [*CACHED, LORD_HOWE])
def test_cached_lookups_equal_the_per_id_pandas_path(tz, starts, monkeypatch):
    schedule = ShiftSchedule(tz=tz) if starts is None else ShiftSchedule(starts, tz=tz)
    rng = np.random.default_rng(7)
    t = rng.integers(utc(1990, 1, 1), utc(2030, 1, 1), size=20_000)
    zone = ZoneInfo(tz)
    near_changes = [
        s + d
        for s in range(utc(2016, 1, 1), utc(2020, 1, 1), 900)
        if dt.datetime.fromtimestamp(s, zone).utcoffset()
        != dt.datetime.fromtimestamp(s - 900, zone).utcoffset()
        for d in (-3600, -1, 0, 1, 1799, 3600)
    ]
    t = np.concatenate([t, near_changes])
    for piece in np.array_split(t, 40):  # the table grows as the lookups reach further
        assert np.array_equal(schedule.block_of(piece), schedule._wall_clock_block_of(piece))
    ids = schedule.block_of(t)
    assert np.array_equal(schedule._block_start(ids), schedule._local_starts(ids))
    assert np.array_equal(schedule._block_start(ids + 1), schedule._local_starts(ids + 1))
    # beyond the table's limit the starts are localised directly, to the same instants
    monkeypatch.setattr("caslite.shifts._MAX_CACHED_STARTS", 100)
    fresh = ShiftSchedule(schedule.starts, tz=tz)
    assert np.array_equal(fresh.block_of(t), ids)
    assert np.array_equal(fresh.block_bounds(ids)[0], schedule.block_bounds(ids)[0])
    assert "_starts" not in vars(fresh)


def test_skipped_day_falls_back_to_the_wall_clock_lookup():
    # Samoa skipped 2011-12-30; pandas localises its starts out of order, so block_of keeps
    # the wall-clock lookup there and agrees with block_bounds as before
    schedule = ShiftSchedule(["00:00", "12:00"], tz="Pacific/Apia")
    t = np.arange(utc(2011, 12, 28), utc(2012, 1, 2), 1800)
    ids = schedule.block_of(t)
    assert vars(schedule)["_starts"][2] is False
    assert np.array_equal(ids, schedule._wall_clock_block_of(t))


def test_copies_leave_the_cache_behind():
    import copy
    import pickle

    schedule = ShiftSchedule(tz="Europe/Amsterdam")
    schedule.horizon("2024-03-25", "14D")
    assert "_starts" in vars(schedule)
    for other in (copy.deepcopy(schedule), pickle.loads(pickle.dumps(schedule))):
        assert other == schedule and "_starts" not in vars(other)
        assert np.array_equal(
            other.horizon("2024-03-25", "14D").start, schedule.horizon("2024-03-25", "14D").start
        )
