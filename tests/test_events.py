"""Tests of caslite.events: Events construction, validation, CRS, windows and causality.

Expected instants are hand-computed UTC wall clock (``calendar.timegm``) from the published
offsets (EST -5 / EDT -4 in America/Toronto, CET +1 in Europe/Amsterdam).
"""

from __future__ import annotations

import calendar
import datetime as dt
import warnings
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyproj
import pytest

from caslite import DataQualityWarning
from caslite.events import Events, as_events
from caslite.shifts import ShiftSchedule

H = 3600
TZ = "America/Toronto"
UTM = "EPSG:32617"
TORONTO_CSV = Path("/work/shared/data/toronto/burglary.csv")


def utc(year, month, day, hour=0, minute=0, second=0) -> int:
    """Unix seconds of a UTC wall-clock time."""
    return calendar.timegm((year, month, day, hour, minute, second))


def frame_of(times, **columns) -> pd.DataFrame:
    n = len(times)
    data = {"t": times, "x": np.arange(n) * 10.0 + 628000.0, "y": np.full(n, 4835000.0)}
    data.update(columns)
    return pd.DataFrame(data)


def read(frame, **kwargs) -> Events:
    kwargs.setdefault("crs", UTM)
    kwargs.setdefault("tz", TZ)
    return Events.from_frame(frame, **kwargs)


# ---------------------------------------------------------------------- from_frame basics
def test_from_frame_sorts_stably_and_keeps_columns_and_labels():
    frame = pd.DataFrame(
        {
            "t": ["2019-03-02 10:00", "2019-03-01 23:00", "2019-03-02 10:00", "2019-03-01 08:30"],
            "x": [1.0, 2.0, 3.0, 4.0],
            "y": [10.0, 20.0, 30.0, 40.0],
            "kind": ["a", "b", "c", "d"],
            "n": [1, 2, 3, 4],
        },
        index=[10, 20, 30, 40],
    )
    events = read(frame)
    assert len(events) == 4
    # EST = UTC-5 on these days
    assert events.t.tolist() == [
        utc(2019, 3, 1, 13, 30),
        utc(2019, 3, 2, 4),
        utc(2019, 3, 2, 15),
        utc(2019, 3, 2, 15),
    ]
    assert events.t.dtype == np.int64
    assert np.array_equal(events.t_end, events.t)
    assert events.x.tolist() == [4.0, 2.0, 1.0, 3.0]  # ties keep input order (10 before 30)
    assert events.y.tolist() == [40.0, 20.0, 10.0, 30.0]
    assert events.data.index.tolist() == [40, 20, 10, 30]
    assert list(events.data.columns) == ["kind", "n"]
    assert events.data["kind"].tolist() == ["d", "b", "a", "c"]
    assert events.data["n"].tolist() == [4, 2, 1, 3]
    assert [str(ts) for ts in events.times] == [
        "2019-03-01 08:30:00-05:00",
        "2019-03-01 23:00:00-05:00",
        "2019-03-02 10:00:00-05:00",
        "2019-03-02 10:00:00-05:00",
    ]
    assert events.crs.to_epsg() == 32617
    assert events.tz == TZ
    assert events.report["rows_read"] == 4
    assert events.report["duplicates"] == 0
    assert not events.has_windows
    assert events.bounds == (1.0, 10.0, 4.0, 40.0)
    out = events.to_frame()
    assert out.index.tolist() == [40, 20, 10, 30]
    assert out["x"].tolist() == [4.0, 2.0, 1.0, 3.0]
    gdf = events.to_geodataframe()
    assert gdf.crs.to_epsg() == 32617
    assert gdf.geometry.x.tolist() == [4.0, 2.0, 1.0, 3.0]


def test_other_coordinate_and_time_column_names():
    frame = pd.DataFrame({"when": ["2019-07-01 12:00"], "east": [5.0], "north": [6.0]})
    events = read(frame, time="when", x="east", y="north")
    assert events.t.tolist() == [utc(2019, 7, 1, 16)]  # EDT = UTC-4
    assert (events.x.tolist(), events.y.tolist()) == ([5.0], [6.0])
    assert list(events.data.columns) == []


def test_naive_times_local_vs_utc():
    frame = frame_of(["2019-01-15 12:00", "2019-07-15 12:00"])
    local = read(frame)
    assert local.t.tolist() == [utc(2019, 1, 15, 17), utc(2019, 7, 15, 16)]
    as_utc = read(frame, naive_times="utc")
    assert as_utc.t.tolist() == [utc(2019, 1, 15, 12), utc(2019, 7, 15, 12)]
    assert str(as_utc.times[0]) == "2019-01-15 07:00:00-05:00"


def test_times_with_offsets_are_converted_exactly():
    frame = frame_of(["2019-03-01T10:00+01:00", "2019-07-01T10:00+01:00"])
    expected = [utc(2019, 3, 1, 9), utc(2019, 7, 1, 9)]
    assert read(frame).t.tolist() == expected
    # naive_times does not apply to times with an offset
    assert read(frame, naive_times="utc").t.tolist() == expected
    assert read(frame_of(["2019-03-01T10:00Z"])).t.tolist() == [utc(2019, 3, 1, 10)]


def test_mixed_offsets_are_converted_exactly():
    frame = frame_of(
        [
            "2019-07-01T10:00-04:00",
            "2019-03-01T10:00+01:00",
            "2019-03-01T10:00Z",
            "2019-03-01T09:30+05:30",
        ]
    )
    events = read(frame)
    assert sorted(events.t.tolist()) == sorted(
        [utc(2019, 7, 1, 14), utc(2019, 3, 1, 9), utc(2019, 3, 1, 10), utc(2019, 3, 1, 4)]
    )
    assert events.t.tolist() == sorted(events.t.tolist())


def test_datetime64_columns_naive_and_aware():
    naive = pd.to_datetime(["2019-03-02 10:00", "2019-07-01 10:00"])
    events = read(frame_of(naive))
    assert events.t.tolist() == [utc(2019, 3, 2, 15), utc(2019, 7, 1, 14)]
    aware = naive.tz_localize("Europe/Amsterdam")  # CET +1, CEST +2
    events = read(frame_of(aware))
    assert events.t.tolist() == [utc(2019, 3, 2, 9), utc(2019, 7, 1, 8)]
    assert str(events.times[0]) == "2019-03-02 04:00:00-05:00"


def test_numeric_times_need_time_unit():
    seconds = [utc(2019, 3, 1, 15), utc(2019, 3, 1, 16)]
    with pytest.raises(ValueError, match=r"column 't' holds numbers .*pass time_unit='s'"):
        read(frame_of(seconds))
    assert read(frame_of(seconds), time_unit="s").t.tolist() == seconds
    millis = [s * 1000 + 999 for s in seconds]
    assert read(frame_of(millis), time_unit="ms").t.tolist() == seconds


def test_iso_strings_of_mixed_precision():
    events = read(frame_of(["2019-03-01 10:00:30", "2019-03-01 11:00", "2019-03-01T12:00"]))
    assert events.t.tolist() == [
        utc(2019, 3, 1, 15, 0, 30),
        utc(2019, 3, 1, 16),
        utc(2019, 3, 1, 17),
    ]


def test_mixed_precision_works_with_time_format_iso8601():
    events = read(
        frame_of(["2019-03-01 10:00:30", "2019-03-01 11:00", "2019-03-01T12:00"]),
        time_format="ISO8601",
    )
    assert events.t.tolist() == [
        utc(2019, 3, 1, 15, 0, 30),
        utc(2019, 3, 1, 16),
        utc(2019, 3, 1, 17),
    ]


def test_explicit_time_format():
    events = read(frame_of(["01/03/2019 10:00", "02/03/2019 11:00"]), time_format="%d/%m/%Y %H:%M")
    assert events.t.tolist() == [utc(2019, 3, 1, 15), utc(2019, 3, 2, 16)]


@pytest.mark.parametrize(
    "times",
    [
        ["2019-03-01T10:00+01:00", "2019-03-01T10:00"],
        ["2019-03-01T10:00", "2019-03-01T10:00+01:00", "2019-03-01T10:00-05:00"],
    ],
)
def test_naive_and_offset_times_mixed_refused_with_clear_message(times):
    with pytest.raises(ValueError, match=r"mixes times with and without a UTC offset"):
        read(frame_of(times))


def test_naive_and_offset_mix_is_refused_in_some_form():
    # whatever the message, such a column must not be read silently
    for times in (
        ["2019-03-01T10:00+01:00", "2019-03-01T10:00"],
        ["2019-03-01T10:00", "2019-03-01T10:00+01:00"],
    ):
        with pytest.raises(ValueError, match=r"column 't'"):
            read(frame_of(times))


# ---------------------------------------------------------------------- DST
def test_nonexistent_local_time_raises_naming_row_and_option():
    frame = frame_of(["2016-03-13 01:00", "2016-03-13 02:00", "2016-03-13 03:00"])
    frame.index = ["r1", "r2", "r3"]
    with pytest.raises(
        ValueError, match=r"inside the hour skipped when clocks go forward in America/Toronto"
    ) as info:
        read(frame)
    message = str(info.value)
    assert "row 'r2'" in message
    assert "2016-03-13 02:00:00" in message
    assert "nonexistent='shift_forward'" in message
    assert "r1" not in message and "r3" not in message


def test_nonexistent_shift_forward_and_backward():
    frame = frame_of(["2016-03-13 02:00", "2016-03-13 02:30"])
    forward = read(frame, nonexistent="shift_forward", duplicates="keep")
    assert forward.t.tolist() == [utc(2016, 3, 13, 7)] * 2  # 03:00 EDT
    assert str(forward.times[0]) == "2016-03-13 03:00:00-04:00"
    assert forward.report["nonexistent_times"] == 2
    backward = read(frame, nonexistent="shift_backward")
    assert backward.t.tolist() == [utc(2016, 3, 13, 6, 59, 59)] * 2  # last second of EST


def test_ambiguous_local_time():
    frame = frame_of(["2019-11-03 01:30", "2019-11-03 00:30", "2019-11-03 02:30"])
    with pytest.raises(
        ValueError,
        match=r"1 local time inside the hour repeated when clocks go back in America/Toronto",
    ) as info:
        read(frame)
    assert "row 0" in str(info.value)
    assert "ambiguous='earliest'" in str(info.value)
    earliest = read(frame, ambiguous="earliest")
    latest = read(frame, ambiguous="latest")
    assert earliest.data.index.tolist() == [1, 0, 2]
    assert earliest.t.tolist() == [
        utc(2019, 11, 3, 4, 30),
        utc(2019, 11, 3, 5, 30),
        utc(2019, 11, 3, 7, 30),
    ]
    assert latest.t.tolist() == [
        utc(2019, 11, 3, 4, 30),
        utc(2019, 11, 3, 6, 30),
        utc(2019, 11, 3, 7, 30),
    ]
    assert latest.t[1] - earliest.t[1] == 3600
    assert earliest.report["ambiguous_times"] == 1
    assert earliest.report["nonexistent_times"] == 0
    assert str(earliest.times[1]) == "2019-11-03 01:30:00-04:00"
    assert str(latest.times[1]) == "2019-11-03 01:30:00-05:00"


def test_report_counts_dst_problems_in_both_columns():
    frame = frame_of(["2019-11-03 01:10", "2019-03-10 02:15"], t_end=["2019-11-03 01:50", None])
    events = read(frame, time_end="t_end", ambiguous="earliest", nonexistent="shift_forward")
    assert events.report["ambiguous_times"] == 2
    assert events.report["nonexistent_times"] == 1
    assert events.t.tolist() == [utc(2019, 3, 10, 7), utc(2019, 11, 3, 5, 10)]
    assert events.t_end.tolist() == [utc(2019, 3, 10, 7), utc(2019, 11, 3, 5, 50)]


@pytest.mark.parametrize(
    ("option", "value", "choices"),
    [
        ("naive_times", "local_time", r"\['local', 'utc'\]"),
        ("ambiguous", "first", r"\['raise', 'earliest', 'latest'\]"),
        ("nonexistent", "NaT", r"\['raise', 'shift_forward', 'shift_backward'\]"),
        ("duplicates", "remove", r"\['keep', 'drop', 'raise'\]"),
        ("invalid", "skip", r"\['raise', 'drop'\]"),
    ],
)
def test_bad_option_values(option, value, choices):
    with pytest.raises(ValueError, match=rf"{option}='{value}' is not one of {choices}"):
        read(frame_of(["2019-03-01 10:00"]), **{option: value})


# ---------------------------------------------------------------------- invalid rows
def bad_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "t": [
                "2019-03-01 10:00",
                None,
                "garbage",
                "2019-03-01 11:00",
                "2019-03-01 12:00",
                "2019-03-01 13:00",
            ],
            "x": [1.0, 2.0, 3.0, np.nan, np.inf, 6.0],
            "y": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            "kind": list("abcdef"),
        },
        index=[100, 101, 102, 103, 104, 105],
    )


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            [0, 1],
            r"column 't' has 1 missing time \(row 101\); fix these rows, or pass invalid='drop'",
        ),
        (
            [0, 2],
            r"column 't' has 1 value that cannot be read as a time \(row 102: 'garbage'\); "
            r"fix these rows, or pass invalid='drop'",
        ),
        ([0, 3], r"column 'x' has 1 missing or non-finite value \(row 103\)"),
        ([0, 4], r"column 'x' has 1 missing or non-finite value \(row 104: .*inf\)?"),
    ],
)
def test_invalid_rows_raise_by_default(rows, message):
    with pytest.raises(ValueError, match=message):
        read(bad_frame().iloc[rows])


def test_nan_y_and_several_problems():
    frame = bad_frame()
    frame.loc[105, "y"] = np.nan
    with pytest.raises(ValueError, match=r"\(and 3 other problems\).*drop the 5 invalid rows"):
        read(frame)


def test_unparseable_message_grammar_for_several_rows():
    with pytest.raises(ValueError, match=r"2 values that cannot be read as a time"):
        read(frame_of(["2019-03-01 10:00", "garbage", "rubbish"]))


def test_invalid_drop_warns_and_reports():
    with pytest.warns(
        DataQualityWarning, match=r"dropped 4 of 6 rows with invalid times"
    ) as record:
        events = read(bad_frame(), invalid="drop")
    message = str(record[0].message)
    for part in ("missing time (row 101)", "(row 102: 'garbage')", "column 'x'"):
        assert part in message
    assert events.report["invalid_dropped"] == 4
    assert events.report["rows_read"] == 6
    assert events.data.index.tolist() == [100, 105]
    assert events.data["kind"].tolist() == ["a", "f"]
    assert events.t.tolist() == [utc(2019, 3, 1, 15), utc(2019, 3, 1, 18)]
    assert events.x.tolist() == [1.0, 6.0]


def test_numeric_time_nan_and_inf_are_invalid():
    frame = frame_of([utc(2019, 3, 1), np.nan, np.inf])
    with pytest.raises(ValueError, match=r"column 't' has 1 missing time \(row 1\) \(and 1 other"):
        read(frame, time_unit="s")
    with pytest.warns(DataQualityWarning, match=r"dropped 2 of 3 rows"):
        events = read(frame, time_unit="s", invalid="drop")
    assert events.t.tolist() == [utc(2019, 3, 1)]


def test_non_numeric_coordinates():
    frame = frame_of(["2019-03-01 10:00", "2019-03-01 11:00"])
    frame["y"] = [4835000.0, "north"]
    with pytest.raises(
        ValueError,
        match=r"column 'y' must hold numbers \(metres\); found row 1 "
        r"with values such as 'north'",
    ):
        read(frame)
    # numeric strings are numbers
    frame["y"] = ["4835000.5", "4835001"]
    assert read(frame).y.tolist() == [4835000.5, 4835001.0]


@pytest.mark.parametrize(
    ("kwargs", "missing"),
    [({}, "t"), ({"x": "east"}, "east"), ({"time": "when"}, "when"), ({"time_end": "t_e"}, "t_e")],
)
def test_missing_columns_list_available_ones(kwargs, missing):
    frame = frame_of(["2019-03-01 10:00"]).rename(columns={"t": "time"})
    if "time" not in kwargs and missing != "t":
        kwargs = {"time": "time", **kwargs}
    with pytest.raises(
        ValueError,
        match=rf"column '{missing}' not found; the table has columns \['time', 'x', 'y'\]\. "
        r"Name the right ones with time=, x=, y=",
    ):
        read(frame, **kwargs)


def test_not_a_dataframe():
    with pytest.raises(TypeError, match=r"expected a pandas DataFrame or GeoDataFrame, got dict"):
        Events.from_frame({"t": []}, crs=UTM, tz=TZ)


def test_unknown_tz():
    with pytest.raises(ValueError, match=r"tz='Toronto' is not a known IANA time zone"):
        read(frame_of(["2019-03-01 10:00"]), tz="Toronto")


# ---------------------------------------------------------------------- duplicates
def dup_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "t": [
                "2019-03-01 10:00",
                "2019-03-01 10:00",
                "2019-03-01 10:00",
                "2019-03-01 11:00",
                "2019-03-01 10:00",
            ],
            "x": [1.0, 1.0, 1.0, 1.0, 1.0],
            "y": [2.0, 2.0, 2.0, 2.0, 2.0],
            "kind": ["House", "House", "Shop", "House", "House"],
        },
        index=["a", "b", "c", "d", "e"],
    )


def test_duplicates_kept_by_default_with_warning():
    with pytest.warns(
        DataQualityWarning, match=r"2 rows that repeat an earlier row .*'b', 'e'.*kept"
    ):
        events = read(dup_frame())
    assert len(events) == 5
    assert events.report["duplicates"] == 2
    assert "duplicates_dropped" not in events.report


def test_duplicates_drop_keeps_first():
    with pytest.warns(DataQualityWarning, match=r"dropped 2 rows that repeat an earlier row"):
        events = read(dup_frame(), duplicates="drop")
    assert events.data.index.tolist() == ["a", "c", "d"]
    assert events.report["duplicates"] == 2
    assert events.report["duplicates_dropped"] == 2


def test_duplicates_raise():
    with pytest.raises(
        ValueError,
        match=r"2 rows that repeat an earlier row .*'b', 'e'.*"
        r"duplicates='drop'",
    ):
        read(dup_frame(), duplicates="raise")


def test_duplicate_columns():
    with pytest.warns(DataQualityWarning, match=r"3 rows that repeat"):
        events = read(dup_frame(), duplicate_columns=[])
    assert events.report["duplicates"] == 3  # b, c and e share time and place with a
    with pytest.warns(DataQualityWarning):
        assert read(dup_frame(), duplicate_columns=["kind"]).report["duplicates"] == 2
    with pytest.raises(
        ValueError, match=r"column 'premises' not found; the table has columns \['kind'\]"
    ):
        read(dup_frame(), duplicate_columns=["premises"])


def test_no_warning_without_duplicates():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        events = read(dup_frame().iloc[[0, 2, 3]])
    assert events.report["duplicates"] == 0


def test_windows_differ_so_not_duplicates():
    frame = dup_frame().iloc[[0, 1]].assign(t_end=["2019-03-01 12:00", "2019-03-01 13:00"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read(frame, time_end="t_end").report["duplicates"] == 0


# ---------------------------------------------------------------------- CRS
LONLAT = pd.DataFrame(
    {
        "t": ["2019-03-01 10:00", "2019-03-01 11:00", "2019-03-01 12:00"],
        "lon": [-79.40918547, -79.3314292, -79.38827434],
        "lat": [43.644676, 43.77120155, 43.65479006],
    }
)


def test_geographic_crs_refused_with_to_crs_hint():
    with pytest.raises(ValueError, match=r"geographic CRS .*Pass to_crs='utm'.*to_crs='EPSG:"):
        read(LONLAT, x="lon", y="lat", crs="EPSG:4326")


def test_missing_crs_refused():
    with pytest.raises(ValueError, match=r"events has no CRS\. Pass crs='EPSG:\.\.\.\.'"):
        Events.from_frame(frame_of(["2019-03-01 10:00"]), tz=TZ)
    with pytest.raises(ValueError, match=r"to_crs needs the source CRS: pass crs="):
        Events.from_frame(LONLAT, x="lon", y="lat", tz=TZ, to_crs="utm")


def test_non_metre_crs_refused():
    with pytest.raises(ValueError, match=r"units \['US survey foot'\].*needs metres"):
        read(frame_of(["2019-03-01 10:00"]), crs="EPSG:2263")


@pytest.mark.parametrize("to_crs", ["utm", "EPSG:32617", 32617])
def test_reproject_lonlat(to_crs):
    events = read(LONLAT, x="lon", y="lat", crs="EPSG:4326", to_crs=to_crs)
    assert events.crs.to_epsg() == 32617
    transformer = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:32617", always_xy=True)
    ex, ey = transformer.transform(LONLAT["lon"].to_numpy(), LONLAT["lat"].to_numpy())
    np.testing.assert_allclose(events.x, ex, atol=0.01, rtol=0)
    np.testing.assert_allclose(events.y, ey, atol=0.01, rtol=0)
    # the published projected coordinates of these rows (burglary.csv, 0.1 m precision)
    np.testing.assert_allclose(events.x, [628301.6, 634290.0, 629966.4], atol=0.06, rtol=0)
    np.testing.assert_allclose(events.y, [4833638.5, 4847814.1, 4834794.3], atol=0.06, rtol=0)
    assert list(events.data.columns) == []


def test_utm_zone_southern_hemisphere():
    frame = pd.DataFrame({"t": ["2024-04-07 10:00"], "lon": [151.2093], "lat": [-33.8688]})
    events = Events.from_frame(
        frame, x="lon", y="lat", crs="EPSG:4326", tz="Australia/Sydney", to_crs="utm"
    )
    assert events.crs.to_epsg() == 32756  # WGS 84 / UTM zone 56S
    ex, ey = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:32756", always_xy=True).transform(
        151.2093, -33.8688
    )
    assert abs(events.x[0] - ex) < 0.01 and abs(events.y[0] - ey) < 0.01


def geo_frame(crs=UTM):
    geopandas = pytest.importorskip("geopandas")
    return geopandas.GeoDataFrame(
        {"t": ["2019-03-02 10:00", "2019-03-01 10:00"], "kind": ["House", "Shop"]},
        geometry=geopandas.points_from_xy([628001.0, 628002.0], [4835001.0, 4835002.0]),
        crs=crs,
    )


def test_geodataframe_points():
    events = Events.from_frame(geo_frame(), tz=TZ)
    assert events.crs.to_epsg() == 32617
    assert events.x.tolist() == [628002.0, 628001.0]
    assert events.y.tolist() == [4835002.0, 4835001.0]
    assert events.t.tolist() == [utc(2019, 3, 1, 15), utc(2019, 3, 2, 15)]
    assert list(events.data.columns) == ["kind"]
    assert type(events.data) is pd.DataFrame
    # a crs= that agrees is accepted
    assert Events.from_frame(geo_frame(), tz=TZ, crs="EPSG:32617").x.tolist() == [
        628002.0,
        628001.0,
    ]


def test_geodataframe_crs_problems():
    with pytest.raises(
        ValueError,
        match=r"crs=EPSG:28992 contradicts the GeoDataFrame's own CRS "
        r"EPSG:32617; drop crs= or reproject",
    ):
        Events.from_frame(geo_frame(), tz=TZ, crs="EPSG:28992")
    with pytest.raises(ValueError, match=r"the GeoDataFrame has no CRS; set it with gdf.set_crs"):
        Events.from_frame(geo_frame(crs=None), tz=TZ)
    # a CRS-less GeoDataFrame with crs= given is read in that CRS
    assert Events.from_frame(geo_frame(crs=None), tz=TZ, crs=UTM).crs.to_epsg() == 32617


def test_geodataframe_lonlat_reprojected():
    geopandas = pytest.importorskip("geopandas")
    gdf = geopandas.GeoDataFrame(
        LONLAT[["t"]], geometry=geopandas.points_from_xy(LONLAT["lon"], LONLAT["lat"]), crs=4326
    )
    with pytest.raises(ValueError, match=r"geographic CRS"):
        Events.from_frame(gdf, tz=TZ)
    events = Events.from_frame(gdf, tz=TZ, to_crs="utm")
    expected = gdf.to_crs(32617)
    np.testing.assert_allclose(events.x, expected.geometry.x, atol=0.01, rtol=0)
    np.testing.assert_allclose(events.y, expected.geometry.y, atol=0.01, rtol=0)


def test_geodataframe_non_point_and_empty_geometry():
    geopandas = pytest.importorskip("geopandas")
    from shapely.geometry import LineString, Point, Polygon

    gdf = geopandas.GeoDataFrame(
        {"t": ["2019-03-01 10:00", "2019-03-01 11:00"]},
        geometry=[Point(0, 0), Polygon([(0, 0), (1, 0), (1, 1)])],
        crs=UTM,
    )
    with pytest.raises(
        ValueError,
        match=r"geometry must be points, found \['Point', 'Polygon'\]; use "
        r"representative points",
    ):
        Events.from_frame(gdf, tz=TZ)
    gdf.geometry = [Point(0, 0), LineString([(0, 0), (1, 1)])]
    with pytest.raises(ValueError, match=r"found \['LineString', 'Point'\]"):
        Events.from_frame(gdf, tz=TZ)
    gdf.geometry = [Point(5, 6), None]
    with pytest.raises(ValueError, match=r"'geometry x' has 1 missing or non-finite value \(row 1"):
        Events.from_frame(gdf, tz=TZ)
    with pytest.warns(DataQualityWarning, match=r"dropped 1 of 2 rows"):
        events = Events.from_frame(gdf, tz=TZ, invalid="drop")
    assert (events.x.tolist(), events.y.tolist()) == ([5.0], [6.0])


# ---------------------------------------------------------------------- time windows
def test_time_windows():
    frame = frame_of(
        ["2019-03-01 07:00", "2019-03-02 10:00", "2019-03-03 10:00"],
        t_end=["2019-03-01 17:00", None, "2019-03-03 10:00"],
    )
    events = read(frame, time_end="t_end")
    assert events.t.tolist() == [utc(2019, 3, 1, 12), utc(2019, 3, 2, 15), utc(2019, 3, 3, 15)]
    assert events.t_end.tolist() == [utc(2019, 3, 1, 22), utc(2019, 3, 2, 15), utc(2019, 3, 3, 15)]
    assert events.has_windows
    assert list(events.data.columns) == []
    assert str(events.to_frame()["time_end"].iloc[0]) == "2019-03-01 17:00:00-05:00"


def test_has_windows_remembered_and_read_again_for_new_arrays():
    t = np.array([100, 200, 300], dtype=np.int64)
    xy = np.array([1.0, 2.0, 3.0])
    exact = Events(t, xy, xy, crs="EPSG:32617", tz=TZ)
    assert not exact.has_windows
    assert not exact.select([True, False, True]).has_windows
    windowed = Events(t, xy, xy, crs="EPSG:32617", tz=TZ, t_end=t + [0, 50, 0])
    assert windowed.has_windows and windowed.has_windows  # the second answer is the cached one
    assert not windowed.select([True, False, True]).has_windows
    assert windowed.select([False, True, False]).has_windows
    # t_end given but equal to t: no windows
    assert not Events(t, xy, xy, crs="EPSG:32617", tz=TZ, t_end=t.copy()).has_windows
    # an array replaced (not edited in place) is read again
    windowed.t_end = windowed.t.copy()
    assert not windowed.has_windows
    exact.t_end = exact.t + 1
    assert exact.has_windows


def test_window_ending_before_start_names_rows():
    frame = frame_of(
        ["2019-03-01 07:00", "2019-03-02 10:00", "2019-03-03 10:00"],
        t_end=["2019-03-01 06:59", None, "2019-03-02 10:00"],
    )
    frame.index = ["p", "q", "r"]
    with pytest.raises(
        ValueError,
        match=r"2 time windows end before they start \(rows 'p', 'r'\): "
        r"column 't_end' must not be earlier than column 't'",
    ):
        read(frame, time_end="t_end")


def test_unparseable_window_end_is_invalid():
    frame = frame_of(["2019-03-01 07:00", "2019-03-02 10:00"], t_end=["later", None])
    with pytest.raises(
        ValueError,
        match=r"column 't_end' has 1 value that cannot be read as a time "
        r"\(row 0: 'later'\)",
    ):
        read(frame, time_end="t_end")


def blocks_of_day(day="2019-03-01", days=1, tz=TZ):
    start = dt.date.fromisoformat(day)
    return ShiftSchedule(tz=tz).blocks(day, str(start + dt.timedelta(days=days)))


def test_aoristic_hand_computed_shares():
    frame = frame_of(["2019-03-01 07:00"], t_end=["2019-03-01 17:00"])
    weights = read(frame, time_end="t_end").aoristic_weights(blocks_of_day())
    assert weights.shape == (1, 6)
    np.testing.assert_allclose(weights.toarray(), [[0, 0.1, 0.4, 0.4, 0.1, 0]], atol=1e-12)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        ("2019-03-10", [3 / 7, 4 / 7, 0, 0, 0, 0]),  # 00-08 local is 7 h: 00-04 has 3 of them
        ("2019-11-03", [5 / 9, 4 / 9, 0, 0, 0, 0]),  # 00-08 local is 9 h: 00-04 has 5 of them
    ],
)
def test_aoristic_window_across_dst(day, expected):
    frame = frame_of([f"{day} 00:00"], t_end=[f"{day} 08:00"])
    weights = read(frame, time_end="t_end").aoristic_weights(blocks_of_day(day))
    np.testing.assert_allclose(weights.toarray(), [expected], atol=1e-12)


def test_aoristic_point_events_and_edges():
    frame = frame_of(
        [
            "2019-03-01 00:00",
            "2019-03-01 03:59",
            "2019-03-01 04:00",
            "2019-03-02 00:00",
            "2019-02-28 23:59",
            "2019-03-01 22:00",
        ],
        t_end=[None, None, None, None, None, "2019-03-02 04:00"],
    )
    events = read(frame, time_end="t_end")
    weights = events.aoristic_weights(blocks_of_day()).toarray()
    expected = np.zeros((6, 6))
    # sorted order: 02-28 23:59, 03-01 00:00, 03:59, 04:00, 22:00 window, 03-02 00:00
    expected[1, 0] = expected[2, 0] = expected[3, 1] = 1.0
    expected[4, 5] = 2 / 6  # 22:00-04:00 window, only 22:00-24:00 inside the day
    np.testing.assert_allclose(weights, expected, atol=1e-12)
    assert weights.sum(axis=1)[4] < 1


def test_aoristic_rows_sum_to_one_inside_and_brute_force():
    rng = np.random.default_rng(7)
    n = 300
    start = utc(2019, 3, 5) + rng.integers(0, 20 * 86400, size=n)
    length = np.where(rng.random(n) < 0.2, 0, rng.integers(1, 3 * 86400, size=n))
    end = start + length
    events = Events(start, np.zeros(n), np.zeros(n), t_end=end, crs=UTM, tz=TZ)
    schedule = ShiftSchedule(["07:00", "15:00", "23:00"], tz=TZ)
    blocks = schedule.blocks("2019-03-01", "2019-04-01")  # contains the 10 March change
    weights = events.aoristic_weights(blocks).toarray()
    expected = np.zeros((n, len(blocks)))
    for i in range(n):
        a, b = events.t[i], events.t_end[i]
        for j in range(len(blocks)):
            lo, hi = blocks.start[j], blocks.end[j]
            if a == b:
                expected[i, j] = 1.0 if lo <= a < hi else 0.0
            else:
                expected[i, j] = max(0, min(b, hi) - max(a, lo)) / (b - a)
    np.testing.assert_allclose(weights, expected, atol=1e-12)
    inside = (events.t >= blocks.start[0]) & (events.t_end <= blocks.end[-1])
    assert inside.sum() > 250
    np.testing.assert_allclose(weights[inside].sum(axis=1), 1.0, atol=1e-12)


def test_aoristic_windows_partly_outside_brute_force():
    rng = np.random.default_rng(11)
    n = 200
    start = utc(2019, 10, 30) + rng.integers(0, 8 * 86400, size=n)
    end = start + rng.integers(0, 2 * 86400, size=n)
    events = Events(start, np.zeros(n), np.zeros(n), t_end=end, crs=UTM, tz=TZ)
    blocks = ShiftSchedule(tz=TZ).blocks("2019-11-02", "2019-11-05")  # contains 3 November
    weights = events.aoristic_weights(blocks).toarray()
    for i in range(n):
        a, b = events.t[i], events.t_end[i]
        overlap = [
            max(0, min(b, hi) - max(a, lo)) for lo, hi in zip(blocks.start, blocks.end, strict=True)
        ]
        if a == b:
            row = [float(lo <= a < hi) for lo, hi in zip(blocks.start, blocks.end, strict=True)]
        else:
            row = np.asarray(overlap) / (b - a)
        np.testing.assert_allclose(weights[i], row, atol=1e-12)
    sums = weights.sum(axis=1)
    assert np.all(sums <= 1 + 1e-12)
    assert np.any((sums > 0) & (sums < 1))


def test_aoristic_errors_and_empty():
    events = read(frame_of(["2019-03-01 07:00"]))
    with pytest.raises(TypeError, match=r"blocks must be a caslite Blocks, got list"):
        events.aoristic_weights([0, 1])
    blocks = blocks_of_day()
    from caslite.shifts import Blocks

    gappy = Blocks(blocks.schedule, blocks.ids[[0, 2]])
    with pytest.raises(ValueError, match=r"blocks must be consecutive"):
        events.aoristic_weights(gappy)
    assert events.aoristic_weights(Blocks(blocks.schedule, [])).shape == (1, 0)


# ---------------------------------------------------------------------- causality
def test_before_exact_times():
    frame = frame_of(["2019-03-01 09:59:59", "2019-03-01 10:00:00", "2019-03-01 08:00:00"])
    events = read(frame)
    cut = events.before("2019-03-01 10:00")
    assert cut.t.tolist() == [utc(2019, 3, 1, 13), utc(2019, 3, 1, 14, 59, 59)]
    assert cut.data.index.tolist() == [2, 0]
    assert events.before(utc(2019, 3, 1, 15, 0, 1)).t.tolist() == sorted(events.t.tolist())
    assert len(events.before(pd.Timestamp("2019-03-01 13:00", tz="UTC"))) == 0


def test_before_windowed_events_need_their_end():
    frame = frame_of(
        ["2019-03-01 06:00", "2019-03-01 06:00", "2019-03-01 07:00", "2019-03-01 09:00"],
        t_end=["2019-03-01 09:00", "2019-03-01 11:00", None, "2019-03-01 10:00"],
    )
    events = read(frame, time_end="t_end")
    cut = events.before("2019-03-01 10:00")
    assert cut.data.index.tolist() == [0, 2]  # 1 ends after, 3 ends exactly at the origin
    assert cut.t_end.tolist() == [utc(2019, 3, 1, 14), utc(2019, 3, 1, 12)]


def test_before_ignores_changes_after_origin():
    rng = np.random.default_rng(3)
    n = 400
    t0 = utc(2019, 6, 1)
    t = t0 + rng.integers(-30 * 86400, 30 * 86400, size=n)
    frame = pd.DataFrame(
        {
            "t": pd.to_datetime(t, unit="s", utc=True),
            "x": rng.uniform(0, 1000, n),
            "y": rng.uniform(0, 1000, n),
            "id": np.arange(n),
        }
    )
    base = read(frame).before(t0)
    later = t >= t0
    changed = frame.copy()
    changed.loc[later, "x"] = -1.0
    changed.loc[later, "id"] = -changed.loc[later, "id"]
    extra = changed[later].assign(t=pd.Timestamp(t0, unit="s", tz="UTC"))
    changed = pd.concat([changed.iloc[::-1], extra])  # reordered, more rows after the origin
    other = read(changed).before(t0)
    assert len(base) == int((t < t0).sum())
    assert np.array_equal(base.t, np.sort(t[t < t0]))
    order = np.argsort(base.data["id"].to_numpy())
    order2 = np.argsort(other.data["id"].to_numpy())
    assert np.array_equal(base.t[order], other.t[order2])
    assert np.array_equal(base.x[order], other.x[order2])
    assert np.array_equal(base.y[order], other.y[order2])
    assert np.all(base.t < t0)


# ---------------------------------------------------------------------- files and dispatch
def small_frame():
    return pd.DataFrame(
        {
            "t": ["2019-03-02 10:00", "2019-03-01 10:00"],
            "x": [628001.0, 628002.0],
            "y": [4835001.0, 4835002.0],
            "kind": ["House", "Shop"],
        }
    )


def test_read_csv_and_as_events(tmp_path):
    path = tmp_path / "incidents.csv"
    small_frame().to_csv(path, index=False)
    events = Events.read(path, crs=UTM, tz=TZ)
    assert events.t.tolist() == [utc(2019, 3, 1, 15), utc(2019, 3, 2, 15)]
    assert events.data["kind"].tolist() == ["Shop", "House"]
    assert events.data.index.tolist() == [1, 0]
    for source in (path, str(path), small_frame()):
        again = as_events(source, crs=UTM, tz=TZ)
        assert np.array_equal(again.t, events.t) and np.array_equal(again.x, events.x)
    assert as_events(events) is events
    with pytest.raises(TypeError, match=r"source is already Events; options \['tz'\] apply only"):
        as_events(events, tz=TZ)


def test_read_geopackage(tmp_path):
    geopandas = pytest.importorskip("geopandas")
    frame = small_frame()
    gdf = geopandas.GeoDataFrame(
        frame[["t", "kind"]], geometry=geopandas.points_from_xy(frame["x"], frame["y"]), crs=UTM
    )
    path = tmp_path / "incidents.gpkg"
    gdf.to_file(path, layer="burglary", driver="GPKG")
    events = Events.read(path, tz=TZ)
    assert events.crs.to_epsg() == 32617
    assert events.t.tolist() == [utc(2019, 3, 1, 15), utc(2019, 3, 2, 15)]
    assert events.x.tolist() == [628002.0, 628001.0]
    assert events.data["kind"].tolist() == ["Shop", "House"]
    assert np.array_equal(as_events(str(path), tz=TZ, layer="burglary").t, events.t)


def test_read_warning_points_at_caller(tmp_path):
    path = tmp_path / "incidents.csv"
    pd.concat([small_frame(), small_frame()]).to_csv(path, index=False)
    with pytest.warns(DataQualityWarning, match=r"2 rows that repeat") as record:
        Events.read(path, crs=UTM, tz=TZ)
    assert record[0].filename == __file__


def test_read_missing_file_and_unknown_extension(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no such incident file: .*nothing\.csv"):
        Events.read(tmp_path / "nothing.csv", crs=UTM, tz=TZ)
    path = tmp_path / "incidents.xlsx"
    path.write_bytes(b"not really")
    with pytest.raises(
        ValueError, match=r"cannot tell the format of 'incidents.xlsx': use a \.csv"
    ):
        Events.read(path, crs=UTM, tz=TZ)


# ---------------------------------------------------------------------- constructor
def test_constructor_checks():
    with pytest.raises(TypeError, match=r"t must hold int64 UTC seconds, got dtype float64"):
        Events([1.0], [0.0], [0.0], crs=UTM, tz=TZ)
    with pytest.raises(ValueError, match=r"got lengths 2, 1, 2, 2"):
        Events([1, 2], [0.0], [0.0, 1.0], crs=UTM, tz=TZ)
    with pytest.raises(ValueError, match=r"1 events have NaN or infinite coordinates \(row 1\)"):
        Events([1, 2], [0.0, np.nan], [0.0, 1.0], crs=UTM, tz=TZ)
    with pytest.raises(ValueError, match=r"time window that ends before it starts \(row 0\)"):
        Events([5, 2], [0.0, 0.0], [0.0, 1.0], t_end=[4, 2], crs=UTM, tz=TZ)


# ---------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def toronto_raw():
    if not TORONTO_CSV.exists():
        pytest.skip(f"{TORONTO_CSV} is not available")
    return pd.read_csv(TORONTO_CSV)


def dst_problems(strings: pd.Series, tz: str = TZ):
    """Row labels of nonexistent and ambiguous local times, with zoneinfo only."""
    zone = ZoneInfo(tz)
    gap, doubled = set(), set()
    for text in strings.unique():
        wall = dt.datetime.fromisoformat(text)
        first = wall.replace(tzinfo=zone, fold=0)
        second = wall.replace(tzinfo=zone, fold=1)
        roundtrip = first.astimezone(dt.timezone.utc).astimezone(zone).replace(tzinfo=None)
        if roundtrip != wall:
            gap.add(text)
        elif first.utcoffset() != second.utcoffset():
            doubled.add(text)
    return strings.index[strings.isin(gap)], strings.index[strings.isin(doubled)]


def test_toronto_default_options_refuse_skipped_hour(toronto_raw):
    gap_rows, _ = dst_problems(toronto_raw["t"])
    assert len(gap_rows) >= 1
    assert toronto_raw.loc[gap_rows[0], "t"] == "2016-03-13T02:00"
    with pytest.raises(
        ValueError, match=r"inside the hour skipped when clocks go forward in America/Toronto"
    ) as info:
        Events.read(TORONTO_CSV, crs=UTM, tz=TZ)
    message = str(info.value)
    assert f"row {gap_rows[0]}," in message or f"rows {gap_rows[0]}," in message
    assert "2016-03-13 02:00:00" in message
    assert "nonexistent=" in message


def test_toronto_reads_with_dst_options(toronto_raw):
    with pytest.warns(DataQualityWarning, match=r"rows that repeat an earlier row"):
        events = Events.read(
            TORONTO_CSV, crs=UTM, tz=TZ, ambiguous="earliest", nonexistent="shift_forward"
        )
    assert len(events) == 54_650
    gap_rows, doubled_rows = dst_problems(toronto_raw["t"])
    assert events.report["nonexistent_times"] == len(gap_rows)
    assert events.report["ambiguous_times"] == len(doubled_rows)
    assert events.report["duplicates"] == int(toronto_raw.duplicated().sum())
    assert np.all(np.diff(events.t) >= 0)
    # spot-check a row against its hand-computed instant: 1994-09-17 15:00 EDT = 19:00 UTC
    row = events.data.index.get_loc(0)
    assert events.t[row] == utc(1994, 9, 17, 19)
    assert (events.x[row], events.y[row]) == (628301.6, 4833638.5)
    assert list(events.data.columns) == [
        "premises_type",
        "residential",
        "neighbourhood",
        "lat",
        "lon",
        "source_split",
    ]
    # x, y agree with the published lat/lon projected to UTM 17N (0.1 m rounding)
    sample = events.data.iloc[::500]
    ex, ey = pyproj.Transformer.from_crs("EPSG:4326", UTM, always_xy=True).transform(
        sample["lon"].to_numpy(), sample["lat"].to_numpy()
    )
    np.testing.assert_allclose(events.x[::500], ex, atol=0.06, rtol=0)
    np.testing.assert_allclose(events.y[::500], ey, atol=0.06, rtol=0)


def test_toronto_duplicates_time_and_place_only(toronto_raw):
    with pytest.warns(DataQualityWarning):
        events = Events.read(
            TORONTO_CSV,
            crs=UTM,
            tz=TZ,
            ambiguous="earliest",
            nonexistent="shift_forward",
            duplicate_columns=[],
        )
    expected = int(toronto_raw.duplicated(subset=["t", "x", "y"]).sum())
    assert events.report["duplicates"] == expected
