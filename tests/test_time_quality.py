"""Time and place quality of incident data: date-only records, default-time heaps, ambiguous
dates, epoch units, placeholder coordinates and degrees given as metres.

Each test named in the "Times and places of incidents" table of ``docs/validation.md`` is a
row of it. Expected values are built by hand from the constructed data (counts placed at
known instants), never copied from the code's output.
"""

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from caslite import DataQualityWarning, Events, Grid, as_events
from caslite._time import DateOrderError, to_utc_seconds
from caslite._timequality import HEAP_P_VALUE, detect_heaps
from caslite.shifts import ShiftSchedule

TZ = "America/Toronto"
CRS = "EPSG:32617"
X0, Y0 = 628_000.0, 4_835_000.0
DATA = Path("/work/shared/data")  # real data, when present (never committed)
HOUR = 3600


def _frame(times, **columns):
    n = len(times)
    rng = np.random.default_rng(n)
    return pd.DataFrame(
        {"t": times, "x": X0 + rng.uniform(0, 2000, n), "y": Y0 + rng.uniform(0, 2000, n)} | columns
    )


def _local_seconds(text):
    return int(pd.Timestamp(text).tz_localize(TZ).timestamp())


def _hourly_times(counts_per_hour, days=60, start="2019-01-07"):
    """Whole-hour local times: ``counts_per_hour[h]`` records at hour h, spread over days."""
    rng = np.random.default_rng(7)
    stamps = []
    first = pd.Timestamp(start)
    for hour, count in enumerate(counts_per_hour):
        day = rng.integers(0, days, count)
        stamps += list(first + pd.to_timedelta(day, "D") + pd.Timedelta(hours=hour))
    return pd.Series(stamps).dt.strftime("%Y-%m-%d %H:%M")


# ---------------------------------------------------------------------- date-only records
def test_date_only_times_become_whole_day_windows():
    frame = _frame(["2019-06-01", "2019-03-10", "2019-06-02 10:00"])
    with pytest.warns(DataQualityWarning, match=r"2 dates without a time of day"):
        events = Events.from_frame(frame, crs=CRS, tz=TZ)
    by_start = dict(zip(events.t, events.t_end, strict=True))
    june = _local_seconds("2019-06-01")
    assert by_start[june] == _local_seconds("2019-06-02")  # 24 h
    march = _local_seconds("2019-03-10")  # clocks go forward: a 23-hour day
    assert by_start[march] - march == 23 * HOUR
    assert by_start[_local_seconds("2019-06-02 10:00")] == _local_seconds("2019-06-02 10:00")
    quality = events.report["time_quality"]
    assert quality["date_only"] == 2 and quality["windowed"] == 2
    assert quality["exact_times"] == 1
    assert events.t[events.exact_times].tolist() == [_local_seconds("2019-06-02 10:00")]


def test_date_only_window_equals_a_one_day_time_end():
    frame = _frame(["2019-06-01", "2019-06-05"])
    with pytest.warns(DataQualityWarning):
        windowed = Events.from_frame(frame, crs=CRS, tz=TZ)
    by_hand = frame.assign(t=["2019-06-01 00:00", "2019-06-05 00:00"])
    by_hand["end"] = ["2019-06-02 00:00", "2019-06-06 00:00"]
    reference = Events.from_frame(by_hand, time_end="end", crs=CRS, tz=TZ)
    np.testing.assert_array_equal(windowed.t, reference.t)
    np.testing.assert_array_equal(windowed.t_end, reference.t_end)
    blocks = ShiftSchedule.every(4, tz=TZ).blocks("2019-06-01", "2019-06-02")
    weights = windowed.select([0]).aoristic_weights(blocks).toarray()
    np.testing.assert_allclose(weights, np.full((1, 6), 1 / 6))  # spread over the day


def test_date_only_keep_reads_midnight():
    frame = _frame(["2019-06-01", "2019-06-05"])
    with pytest.warns(DataQualityWarning, match=r"read as 00:00 as asked \(date_only='keep'\)"):
        events = Events.from_frame(frame, crs=CRS, tz=TZ, date_only="keep")
    assert events.t.tolist() == [_local_seconds("2019-06-01"), _local_seconds("2019-06-05")]
    assert (events.t_end == events.t).all()
    assert events.report["time_quality"]["date_only_policy"] == "keep"
    # many kept dates are not taken for a heap at 00:00: they stay the instants asked for
    many = _frame(pd.date_range("2019-01-01", periods=300, freq="D").strftime("%Y-%m-%d"))
    with pytest.warns(DataQualityWarning, match=r"300 dates without a time of day"):
        kept = Events.from_frame(many, crs=CRS, tz=TZ, date_only="keep")
    assert not kept.has_windows and kept.report["time_quality"]["default_times"] == 0


def test_date_only_end_means_the_end_of_that_day():
    frame = _frame(["2019-06-01 18:00"], end=["2019-06-03"])
    events = Events.from_frame(frame, time_end="end", crs=CRS, tz=TZ)
    assert events.t_end[0] == _local_seconds("2019-06-04")


# ---------------------------------------------------------------------- heaps
def test_heaped_default_hours_become_day_windows():
    counts = [100] * 24
    counts[0] += 80  # 80 extra at 00:00: observed 180, neighbours 100 each
    counts[12] += 100
    frame = _frame(_hourly_times(counts))
    with pytest.warns(DataQualityWarning, match=r"180 at 00:00 \(about 100 expected"):
        events = Events.from_frame(frame, crs=CRS, tz=TZ)
    quality = events.report["time_quality"]
    assert quality["precision"] == "hour"
    by_instant = {h["instant"]: h for h in quality["heaps"]}
    assert by_instant["00:00"]["observed"] == 180 and by_instant["00:00"]["expected"] == 100
    assert by_instant["00:00"]["excess"] == 80 and by_instant["00:00"]["heaped"]
    assert by_instant["12:00"]["observed"] == 200 and by_instant["12:00"]["heaped"]
    assert quality["default_times"] == 380 and quality["windowed"] == 380
    windows = ~events.exact_times
    assert windows.sum() == 380
    local = events.times
    # every record at 00:00 or 12:00 is now the local day containing it; the others exact
    assert (local[windows].hour == 0).all()
    assert ((events.t_end - events.t)[windows] == 24 * HOUR).all()
    assert not np.isin(local[~windows].hour, [0, 12]).any()


def test_default_times_keep_and_a_chosen_window():
    counts = [100] * 24
    counts[0] += 80
    frame = _frame(_hourly_times(counts))
    with pytest.warns(DataQualityWarning, match=r"kept as exact times as asked"):
        kept = Events.from_frame(frame, crs=CRS, tz=TZ, default_times="keep")
    assert not kept.has_windows and kept.report["time_quality"]["default_times"] == 180
    with pytest.warns(DataQualityWarning, match=r"made 6h windows"):
        six = Events.from_frame(frame, crs=CRS, tz=TZ, default_window="6h")
    windows = ~six.exact_times
    assert windows.sum() == 180
    assert ((six.t_end - six.t)[windows] == 6 * HOUR).all()
    assert (six.times[windows].hour == 21).all()  # centred on midnight: 21:00 .. 03:00
    with pytest.raises(ValueError, match=r"default_window='often' is not 'day' or a positive"):
        Events.from_frame(frame, crs=CRS, tz=TZ, default_window="often")


def test_minute_precision_finds_the_0001_entry_and_reports_rounding():
    rng = np.random.default_rng(3)
    minutes = rng.integers(0, 1440, 20_000)
    minutes = np.r_[minutes, np.full(150, 1), np.arange(0, 1440, 60).repeat(20)]  # 00:01, :00
    days = rng.integers(0, 200, minutes.size)  # April to October: no clock change
    stamps = pd.Timestamp("2019-04-01") + pd.to_timedelta(days, "D") + pd.to_timedelta(minutes, "m")
    with pytest.warns(DataQualityWarning, match=r"at 00:01"):
        events = Events.from_frame(
            _frame(pd.Series(stamps).dt.strftime("%Y-%m-%d %H:%M")),
            crs=CRS, tz=TZ,
        )  # fmt: skip
    quality = events.report["time_quality"]
    assert quality["precision"] == "minute"
    heaped = {h["instant"] for h in quality["heaps"] if h["heaped"]}
    assert heaped == {"00:01"}  # whole hours are rounding, not a default instant
    expected_at_0001 = 150 + np.count_nonzero(minutes[:20_000] == 1)
    assert quality["default_times"] == expected_at_0001
    rounding = quality["rounded_to_hour"]
    assert rounding["observed"] == np.count_nonzero(minutes % 60 == 0)
    assert rounding["excess"] > 24 * 20 * 0.8  # the 480 rounded entries, give or take noise


@pytest.mark.parametrize("precision", ["hour", "minute"])
def test_uniform_times_raise_no_heap(precision):
    """False-positive rate on simulated uniform times: no heap in 300 data sets."""
    rng = np.random.default_rng(11)
    alarms = 0
    for n in np.repeat([200, 3_000, 50_000], 100):
        if precision == "hour":
            minute_of_day = rng.integers(0, 24, n) * 60
        else:
            minute_of_day = rng.integers(0, 1440, n)
        _, heaps = detect_heaps(minute_of_day, np.zeros(n))
        alarms += any(h["heaped"] for h in heaps)
    assert alarms == 0
    # and the test is calibrated: at 00:00 the p-value is uniform, so about 10 % fall below 0.1
    p_values = []
    for _ in range(400):
        minute_of_day = rng.integers(0, 24, 2_400) * 60
        p_values.append(detect_heaps(minute_of_day, np.zeros(2_400))[1][0]["p_value"])
    assert 0.05 < np.mean(np.array(p_values) < 0.1) < 0.15
    assert HEAP_P_VALUE <= 1e-6


def test_a_smooth_daily_peak_at_noon_is_not_a_heap():
    rng = np.random.default_rng(5)
    hours = np.round(rng.normal(12, 3, 200_000)).astype(int) % 24  # many at noon, smoothly
    _, heaps = detect_heaps(hours * 60, np.zeros(hours.size))
    noon = heaps[1]
    assert noon["instant"] == "12:00" and noon["p_value"] < 1e-6 and not noon["heaped"]


def test_exact_random_times_stay_exact():
    rng = np.random.default_rng(2)
    seconds = _local_seconds("2019-01-01") + rng.integers(0, 365 * 86_400, 5_000)
    frame = _frame(pd.to_datetime(seconds, unit="s", utc=True))
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataQualityWarning)
        events = Events.from_frame(frame, crs=CRS, tz=TZ)
    assert not events.has_windows and events.report["time_quality"]["windowed"] == 0


# ---------------------------------------------------------------------- day and month order
def test_ambiguous_numeric_dates_are_refused():
    frame = _frame(["01/06/2019 10:00", "02/06/2019 11:00"])
    with pytest.raises(DateOrderError, match=r"'01/06/2019 10:00' can be read day-first \(1 June"):
        Events.from_frame(frame, crs=CRS, tz=TZ)
    with pytest.raises(ValueError, match=r"dayfirst=True .* time_format="):
        Events.from_frame(frame, crs=CRS, tz=TZ)
    june = Events.from_frame(frame, crs=CRS, tz=TZ, dayfirst=True)
    assert june.t[0] == _local_seconds("2019-06-01 10:00")
    january = Events.from_frame(frame, crs=CRS, tz=TZ, dayfirst=False)
    assert january.t[0] == _local_seconds("2019-01-06 10:00")
    formatted = Events.from_frame(frame, crs=CRS, tz=TZ, time_format="%d/%m/%Y %H:%M")
    np.testing.assert_array_equal(formatted.t, june.t)


def test_numeric_dates_that_prove_their_order_are_read_and_reported():
    frame = _frame(["01/06/2019 10:00", "13/06/2019 10:00", "2019-06-02 10:00"])
    events = Events.from_frame(frame, crs=CRS, tz=TZ)
    assert sorted(events.t) == [
        _local_seconds("2019-06-01 10:00"),
        _local_seconds("2019-06-02 10:00"),
        _local_seconds("2019-06-13 10:00"),
    ]
    quality = events.report["time_quality"]
    assert quality["date_order"] == "day-first"
    assert "13/06/2019" in quality["date_order_from"]
    # the same string is read the same way without the proving row when the order is given
    alone = Events.from_frame(frame.iloc[:1], crs=CRS, tz=TZ, dayfirst=True)
    assert alone.t[0] == _local_seconds("2019-06-01 10:00")


def test_numeric_dates_that_contradict_each_other_are_refused():
    frame = _frame(["13/06/2019 10:00", "06/14/2019 10:00"])
    with pytest.raises(DateOrderError, match=r"mixes day-first and month-first"):
        Events.from_frame(frame, crs=CRS, tz=TZ)
    with pytest.raises(ValueError, match=r"1 value that cannot be read as a time"):
        Events.from_frame(frame, crs=CRS, tz=TZ, dayfirst=True)


def test_ambiguous_origin_strings_are_refused():
    with pytest.raises(DateOrderError, match=r"origin: '01/06/2025' can be read day-first"):
        to_utc_seconds("01/06/2025", TZ, "origin")
    assert to_utc_seconds("01/06/2025", TZ, "origin", dayfirst=True) == _local_seconds("2025-06-01")
    assert to_utc_seconds("2025-06-01", TZ, "origin") == _local_seconds("2025-06-01")
    assert to_utc_seconds("13/06/2025", TZ, "origin") == _local_seconds("2025-06-13")
    events = Events.from_frame(_frame(["2019-06-01 10:00"]), crs=CRS, tz=TZ)
    with pytest.raises(DateOrderError, match=r"dayfirst="):
        events.before("01/07/2019")


def test_predict_reads_its_origin_with_dayfirst():
    import caslite

    events = Events.from_frame(_frame(["2019-07-01 10:00", "2019-07-02 15:00"]), crs=CRS, tz=TZ)
    with pytest.raises(DateOrderError, match=r"origin: '01/06/2019' can be read day-first"):
        caslite.predict(events, origin="01/06/2019")
    # read as 1 June (before every incident): the next check, on the history, speaks
    with (
        pytest.raises(ValueError, match=r"no incident is known before the origin \(01/06/2019"),
        pytest.warns(DataQualityWarning, match=r"2 of 2 incidents are not known before"),
    ):
        caslite.predict(events, origin="01/06/2019", dayfirst=True)


def test_cli_origin_needs_dayfirst(tmp_path, capsys):
    from caslite.cli import main

    path = tmp_path / "incidents.csv"
    _frame(["2019-06-01 10:00", "2019-06-02 15:00"]).to_csv(path, index=False)
    code = main(["forecast", str(path), "--crs", CRS, "--tz", TZ, "--origin", "01/06/2019",
                 "--out", str(tmp_path / "out")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert "'01/06/2019' can be read day-first" in err and "--dayfirst or --monthfirst" in err


def test_cli_reads_the_time_quality_flags(tmp_path):
    from caslite.cli import _parser, _read_events

    path = tmp_path / "incidents.csv"
    _frame(["01/06/2019", "02/06/2019 12:00"]).to_csv(path, index=False)
    args = _parser().parse_args(
        ["forecast", str(path), "--crs", CRS, "--tz", TZ, "--dayfirst", "--date-only", "keep"]
    )
    args.filter = None
    with pytest.warns(DataQualityWarning, match=r"1 date without a time of day; read as 00:00"):
        events, _ = _read_events(args)
    assert sorted(events.t) == [_local_seconds("2019-06-01"), _local_seconds("2019-06-02 12:00")]
    assert events.report["time_quality"]["date_only_policy"] == "keep"
    args = _parser().parse_args(
        ["forecast", str(path), "--crs", CRS, "--tz", TZ, "--monthfirst", "--default-window",
         "6h", "--default-times", "keep"]
    )  # fmt: skip
    with pytest.warns(DataQualityWarning, match="whole-day windows"):
        events, _ = _read_events(args)
    assert sorted(events.t)[0] == _local_seconds("2019-01-06")
    quality = events.report["time_quality"]
    assert quality["default_window"] == "6h"
    assert quality["default_times_policy"] == "keep"


# ---------------------------------------------------------------------- epoch units
def test_epoch_milliseconds_read_as_seconds_are_refused():
    ms = np.array([1_559_383_200_000, 1_559_469_600_000])  # June 2019 in milliseconds
    frame = _frame(ms)
    with pytest.raises(ValueError, match=r"these look like milliseconds: pass time_unit='ms'"):
        Events.from_frame(frame, crs=CRS, tz=TZ, time_unit="s")
    events = Events.from_frame(frame, crs=CRS, tz=TZ, time_unit="ms")
    assert events.t.tolist() == [1_559_383_200, 1_559_469_600]
    with pytest.raises(ValueError, match=r"these look like microseconds: pass time_unit='us'"):
        Events.from_frame(_frame(ms * 1000), crs=CRS, tz=TZ, time_unit="ms")


def test_a_few_implausible_epoch_numbers_are_invalid_rows():
    frame = _frame([1_559_383_200, 1_559_469_600, 1_559_556_000, 9_999_999_999_999])
    with pytest.raises(ValueError, match=r"1 number outside the years 1900"):
        Events.from_frame(frame, crs=CRS, tz=TZ, time_unit="s")
    with pytest.warns(DataQualityWarning, match=r"dropped 1 of 4 rows"):
        events = Events.from_frame(frame, crs=CRS, tz=TZ, time_unit="s", invalid="drop")
    assert len(events) == 3 and events.report["invalid_dropped"] == 1


# ---------------------------------------------------------------------- places
def _spread(n, seed=0):
    rng = np.random.default_rng(seed)
    times = pd.Timestamp("2019-06-01 10:17") + pd.to_timedelta(rng.integers(0, 1e6, n), "s")
    return pd.DataFrame(
        {"t": times.strftime("%Y-%m-%d %H:%M:%S"), "x": X0 + rng.uniform(0, 3000, n),
         "y": Y0 + rng.uniform(0, 3000, n)}
    )  # fmt: skip


def test_zero_zero_placeholders_are_refused_or_dropped():
    frame = _spread(50)
    frame.loc[[3, 9], ["x", "y"]] = 0.0
    with pytest.raises(ValueError, match=r"placeholder coordinates.*2 rows at \(0, 0\)"):
        Events.from_frame(frame, crs=CRS, tz=TZ)
    with pytest.warns(DataQualityWarning, match=r"dropped 2 of 50 rows"):
        events = Events.from_frame(frame, crs=CRS, tz=TZ, invalid="drop")
    assert len(events) == 48 and events.report["placeholder_locations"] == 2


def test_a_repeated_far_point_is_a_placeholder_but_snapped_points_are_not():
    frame = _spread(200)
    frame.loc[:4, ["x", "y"]] = [500_000.0, 0.0]  # 5 rows on one point 4,800 km away
    with pytest.raises(ValueError, match=r"5 rows at \(500000, 0\), far outside"):
        Events.from_frame(frame, crs=CRS, tz=TZ)
    snapped = _spread(200)
    snapped.loc[:59, ["x", "y"]] = [X0 + 1500, Y0 + 1500]  # 30 % on one intersection
    snapped.loc[60, ["x", "y"]] = [X0 + 40_000, Y0]  # and one far (single) point
    assert len(Events.from_frame(snapped, crs=CRS, tz=TZ)) == 200


@pytest.mark.parametrize(
    ("city", "crs", "tz", "filter_residential"),
    [("toronto", CRS, TZ, False), ("stlouis", "EPSG:26996", "America/Chicago", True)],
)
def test_real_data_raise_no_placeholder(city, crs, tz, filter_residential):
    path = DATA / city / "burglary.csv"
    if not path.exists():
        pytest.skip(f"{path} is not available")
    frame = pd.read_csv(path)
    if filter_residential:
        frame = frame[frame["residential"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        events = Events.from_frame(
            frame, crs=crs, tz=tz, ambiguous="earliest", nonexistent="shift_forward"
        )
    assert len(events) == len(frame) and "placeholder_locations" not in events.report
    heaped = {h["instant"] for h in events.report["time_quality"]["heaps"] if h["heaped"]}
    assert heaped == ({"00:00", "12:00"} if city == "toronto" else {"00:01", "12:00"})


def test_degrees_of_another_region_under_a_projected_crs_are_refused():
    frame = pd.DataFrame(
        {
            "t": ["2019-06-01 10:17", "2019-06-02 11:17"],
            "lon": [-90.24605, -90.226823],
            "lat": [38.6612, 38.724212],
        }
    )
    with pytest.raises(ValueError, match=r"look like longitude/latitude in degrees.*area of use"):
        Events.from_frame(frame, x="lon", y="lat", crs=CRS, tz="America/Chicago")
    with pytest.raises(ValueError, match=r"look like longitude/latitude"):  # before to_crs too
        Events.from_frame(
            frame, x="lon", y="lat", crs=CRS, tz="America/Chicago", to_crs="EPSG:3857"
        )
    events = as_events(frame, x="lon", y="lat", crs="EPSG:4326", to_crs="utm", tz="America/Chicago")
    assert events.crs.to_epsg() == 32615


def test_grid_error_names_placeholders_not_a_larger_limit():
    rng = np.random.default_rng(1)
    x = np.r_[X0 + rng.uniform(0, 3000, 100), np.zeros(4)]
    y = np.r_[Y0 + rng.uniform(0, 3000, 100), np.zeros(4)]
    events = Events(np.arange(104), x, y, crs=CRS, tz=TZ)  # the constructor does not judge
    with pytest.raises(ValueError, match=r"look like placeholder coordinates") as info:
        Grid.from_events(events)
    assert "raise max_cells" not in str(info.value)
    assert "4 rows at (0, 0)" in str(info.value)


# ---------------------------------------------------------------------- the sample
def test_sample_goes_through_the_same_policy():
    from caslite.datasets import load_sample

    sample = load_sample("toronto")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        events = sample.to_events()
    raw = sample.frame[sample.time].str.slice(11, 16)
    at_default = int(raw.isin(["00:00", "12:00"]).sum())
    quality = events.report["time_quality"]
    assert quality["default_times"] == at_default and quality["windowed"] == at_default
    assert np.count_nonzero(~events.exact_times) == at_default
    assert (events.t_end[~events.exact_times] > events.t[~events.exact_times]).all()
