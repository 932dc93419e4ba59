"""The planner's command line: input as it comes, police shifts, plain help (issue 24)."""

import argparse
import json

import geopandas
import numpy as np
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import box

from caslite import (
    DataQualityWarning,
    Events,
    Forecast,
    Grid,
    GridETAS,
    NaiveCounts,
    ShiftSchedule,
)
from caslite._sources import assemble_time
from caslite.cli import _DEFAULT_METHODS, _method_names, _parser, main
from caslite.evaluation.backtest import backtest
from caslite.io import read_hot_cells, write_hot_cells
from caslite.knox import knox_test

CRS = "EPSG:32617"
TZ = "America/Toronto"


def burglaries(n=240, seed=3, start="2019-01-01", days=200):
    """Incidents at whole minutes, clustered around two points."""
    rng = np.random.default_rng(seed)
    minutes = np.sort(rng.integers(0, 24 * 60 * days, n))
    times = pd.Timestamp(start) + pd.to_timedelta(minutes, unit="min")
    return pd.DataFrame(
        {
            "t": times.strftime("%Y-%m-%dT%H:%M"),
            "x": 628_000 + rng.normal(0, 300, n).round(1),
            "y": 4_835_000 + rng.normal(0, 300, n).round(1),
            "kind": rng.choice(["house", "flat"], n),
        }
    )


def run(argv, capsys):
    """Run the command line; return its exit code, standard output and standard error."""
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def summary_table(folder):
    return pd.read_csv(folder / "incidents_per_cell.csv").sort_values("cell_id")


# ---------------------------------------------------------------------- several files
def test_several_files_and_a_glob_read_as_one_file(tmp_path, capsys):
    frame = burglaries()
    whole = tmp_path / "all.csv"
    frame.to_csv(whole, index=False)
    exports = tmp_path / "exports"
    exports.mkdir()
    first = frame["t"] < "2019-04-01"
    frame[first].to_csv(exports / "part_2019a.csv", index=False)
    # the second file lists its columns in another order: same columns, read alike
    frame[~first][["kind", "y", "x", "t"]].to_csv(exports / "part_2019b.csv", index=False)
    common = ["--crs", CRS, "--tz", TZ, "-q"]
    assert run(["summary", whole, *common, "--out", tmp_path / "one"], capsys)[0] == 0
    files = [exports / "part_2019a.csv", exports / "part_2019b.csv"]
    assert run(["summary", *files, *common, "--out", tmp_path / "two"], capsys)[0] == 0
    code, out, _ = run(
        ["summary", str(exports / "part_*.csv"), *common, "--out", tmp_path / "glob"], capsys
    )
    assert code == 0 and out.startswith("2 files (part_2019a.csv .. part_2019b.csv)")
    reference = summary_table(tmp_path / "one")
    assert reference["incidents"].sum() == len(frame)
    for folder in ("two", "glob"):
        pd.testing.assert_frame_equal(summary_table(tmp_path / folder), reference)


def test_files_with_other_columns_are_refused_by_name(tmp_path, capsys):
    frame = burglaries()
    frame.iloc[:100].to_csv(tmp_path / "2018.csv", index=False)
    frame.iloc[100:].rename(columns={"kind": "type"}).to_csv(tmp_path / "2019.csv", index=False)
    code, _, err = run(
        ["summary", tmp_path / "2018.csv", tmp_path / "2019.csv", "--crs", CRS, "--tz", TZ],
        capsys,
    )
    assert code == 2
    assert (
        "the incident file '2019.csv' has other columns than '2018.csv': it lacks ['kind']; "
        "it has ['type'] in addition" in err
    )


# ---------------------------------------------------------------------- file lines
def test_bad_rows_are_named_by_the_line_an_editor_shows(tmp_path, capsys):
    # written by hand: line 1 header, 2-3 data, 4 blank, 5-6 a record whose quoted text
    # spans two lines, 7 a bad time, 8 a good row
    text = (
        "t,x,y,note\n"
        "2019-03-01 10:00,628000,4835000,a\n"
        "2019-03-02 11:00,628100,4835000,b\n"
        "\n"
        '2019-03-03 12:00,628200,4835000,"two\nlines"\n'
        "someday,628300,4835000,d\n"
        "2019-03-05 14:00,628400,4835000,e\n"
    )
    (tmp_path / "a.csv").write_text(text)
    (tmp_path / "b.csv").write_text("t,x,y,note\n2019-04-01 10:00,628000,nowhere,f\n")
    code, _, err = run(["summary", tmp_path / "a.csv", "--crs", CRS, "--tz", TZ], capsys)
    assert code == 2
    assert "column 't' has 1 value that cannot be read as a time ('a.csv' line 7: 'someday')" in err
    code, _, err = run(
        ["summary", tmp_path / "a.csv", tmp_path / "b.csv", "--crs", CRS, "--tz", TZ], capsys
    )
    assert code == 2 and "'b.csv' line 2" in err and "'nowhere'" in err


def test_files_of_one_name_in_two_folders_and_gis_features_are_named_apart(tmp_path, capsys):
    frame = burglaries(n=40)
    for year in ("2018", "2019"):
        (tmp_path / year).mkdir()
    frame.iloc[:20].to_csv(tmp_path / "2018" / "b.csv", index=False)
    later = frame.iloc[20:].copy()
    later.iloc[1, 0] = "never"  # line 3 of the second file
    later.to_csv(tmp_path / "2019" / "b.csv", index=False)
    argv = ["summary", str(tmp_path / "20*" / "b.csv"), "--crs", CRS, "--tz", TZ, "-q"]
    code, _, err = run(argv, capsys)
    assert code == 2 and f"({str(tmp_path / '2019' / 'b.csv')!r} line 3: 'never')" in err
    points = geopandas.GeoDataFrame(
        frame.drop(columns=["x", "y"]),
        geometry=geopandas.points_from_xy(frame["x"], frame["y"]),
        crs=CRS,
    )
    points.loc[2, "t"] = "never"  # the third feature
    points.to_file(tmp_path / "b.gpkg", engine="pyogrio")
    code, _, err = run(["summary", tmp_path / "b.gpkg", "--tz", TZ], capsys)
    assert code == 2 and "('b.gpkg' feature 3: 'never')" in err


def test_the_same_file_twice_and_a_glob_without_files_are_refused(tmp_path, capsys):
    path = tmp_path / "a.csv"
    burglaries().to_csv(path, index=False)
    code, _, err = run(["summary", path, path, "--crs", CRS, "--tz", TZ], capsys)
    assert code == 2 and "is given twice" in err
    code, _, err = run(["summary", str(tmp_path / "none_*.csv"), "--tz", TZ], capsys)
    assert code == 2 and "no file matches" in err
    code, _, err = run(["summary", path, "--sample", "toronto"], capsys)
    assert code == 2 and "give incident files or --sample toronto, not both" in err
    code, _, err = run(["summary", "--tz", TZ], capsys)
    assert code == 2 and "no incidents given" in err


# ---------------------------------------------------------------------- split time columns
def test_assemble_time_matches_pandas_assembly_of_the_same_columns():
    rng = np.random.default_rng(0)
    n = 300
    stamps = pd.Timestamp("2018-01-01") + pd.to_timedelta(
        rng.integers(0, 2 * 365 * 24 * 60, n), unit="min"
    )
    parts = pd.DataFrame(
        {
            "year": stamps.year,
            "month": stamps.month,
            "day": stamps.day,
            "hour": stamps.hour,
            "minute": stamps.minute,
        }
    )
    text, time_format = assemble_time(parts, list(parts.columns), "time")
    got = pd.to_datetime(text, format=time_format)
    np.testing.assert_array_equal(got.to_numpy(), pd.to_datetime(parts).to_numpy())
    # month names, a missing part and a part that is not a number
    named = pd.DataFrame(
        {"Y": [2019, 2019, 2019], "M": ["February", "Feb", None], "D": ["3", "x", 4]}
    )
    text, time_format = assemble_time(named, ["Y", "M", "D"], "time")
    assert text.tolist() == ["2019-02-03", "2019-02-x", None] and time_format == "%Y-%m-%d"


def test_time_split_over_columns_reads_as_the_joined_time(tmp_path, capsys):
    frame = burglaries()
    frame.to_csv(tmp_path / "joined.csv", index=False)
    times = pd.to_datetime(frame["t"])
    split = frame.drop(columns="t").assign(
        YEAR=times.dt.year,
        MONTH=times.dt.month_name(),
        DAY=times.dt.day,
        HOUR=times.dt.hour,
        MINUTE=times.dt.minute,
    )
    split.to_csv(tmp_path / "split.csv", index=False)
    common = ["--crs", CRS, "--tz", TZ, "-q", "--days", "30"]
    assert (
        run(["summary", tmp_path / "joined.csv", *common, "--out", tmp_path / "a"], capsys)[0] == 0
    )
    argv = ["summary", tmp_path / "split.csv", "--time", "YEAR,MONTH,DAY,HOUR,MINUTE"]
    assert run([*argv, *common, "--out", tmp_path / "b"], capsys)[0] == 0
    pd.testing.assert_frame_equal(summary_table(tmp_path / "b"), summary_table(tmp_path / "a"))
    code, _, err = run([*argv, "--time-format", "%Y", *common], capsys)
    assert code == 2 and "--time-format '%Y' describes one time column" in err
    code, _, err = run(["summary", tmp_path / "split.csv", "--time", "YEAR,MONTH", *common], capsys)
    assert code == 2 and "needs the year, month and day columns" in err


# ---------------------------------------------------------------------- filter first
def export_with_other_crimes(tmp_path):
    """Burglaries plus thefts with broken rows; return the path and the burglaries."""
    frame = burglaries().assign(offence="Burglary")
    thefts = burglaries(n=60, seed=9).assign(offence="Theft")
    thefts.loc[0, "t"] = "unknown"  # an unreadable time
    thefts.loc[1:3, ["x", "y"]] = 0.0  # placeholder coordinates
    thefts.loc[4, "x"] = None  # a missing coordinate
    thefts = pd.concat([thefts, thefts.iloc[[10, 11]]])  # duplicated rows
    export = pd.concat([frame, thefts], ignore_index=True).sample(frac=1, random_state=1)
    path = tmp_path / "export.csv"
    export.to_csv(path, index=False)
    return path, frame, export


def test_filter_runs_before_the_rows_are_checked(tmp_path, capsys):
    path, frame, export = export_with_other_crimes(tmp_path)
    common = [path, "--crs", CRS, "--tz", TZ, "--out", tmp_path / "out"]
    code, _, err = run(["summary", *common], capsys)
    assert code == 2 and "cannot be read as a time" in err  # the thefts' broken rows
    code, out, err = run(["summary", *common, "--filter", "offence == 'Burglary'"], capsys)
    assert code == 0
    removed = len(export) - len(frame)
    assert f"kept {len(frame):,} of {len(export):,} rows (removed {removed:,})" in err
    assert f"kept {len(frame):,} of {len(export):,} rows read (removed {removed:,})" in out
    assert "repeat an earlier row" not in err  # the duplicates are thefts: not reported
    assert summary_table(tmp_path / "out")["incidents"].sum() == len(frame)


def test_filter_reads_the_time_as_local_time_and_the_coordinates(tmp_path, capsys):
    path, frame, _ = export_with_other_crimes(tmp_path)
    condition = "offence == 'Burglary' and t >= '2019-03-01 06:00' and x < 628000"
    argv = ["summary", path, "--crs", CRS, "--tz", TZ, "--out", tmp_path / "out", "-q"]
    assert run([*argv, "--filter", condition], capsys)[0] == 0
    expected = (pd.to_datetime(frame["t"]) >= pd.Timestamp("2019-03-01 06:00")) & (
        frame["x"] < 628_000
    )
    assert 0 < expected.sum() < len(frame)
    assert summary_table(tmp_path / "out")["incidents"].sum() == expected.sum()


def test_filter_without_the_time_column_leaves_the_times_of_removed_rows_unread(tmp_path, capsys):
    # the burglaries' dates prove day/month/year, the thefts' month/day/year: together they
    # cannot be read together, but the filter removes the thefts before any time is read
    days = [13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24]
    burglary = pd.DataFrame(
        {
            "t": [f"{d}/06/2019 10:00" for d in days],
            "x": 628_000.0 + 10 * np.arange(12),
            "y": 4_835_000.0,
            "offence": "Burglary",
        }
    )
    theft = burglary.assign(t=[f"06/{d}/2019 10:00" for d in days], offence="Theft")
    path = tmp_path / "a.csv"
    pd.concat([burglary, theft]).to_csv(path, index=False)
    argv = ["summary", path, "--crs", CRS, "--tz", TZ, "--out", tmp_path, "-q"]
    code, _, err = run(argv, capsys)
    assert code == 2 and "mixes day-first and month-first dates" in err
    code, out, err = run([*argv, "--filter", "offence != 'Theft'"], capsys)  # 't' in 'Theft'
    assert code == 0, err
    assert out.startswith("a.csv: 12 incidents, 2019-06-13 10:00 .. 2019-06-24 10:00")


def test_filter_reads_the_coordinates_of_a_geopackage(tmp_path, capsys):
    frame = burglaries()
    points = geopandas.GeoDataFrame(
        frame.drop(columns=["x", "y"]),
        geometry=geopandas.points_from_xy(frame["x"], frame["y"]),
        crs=CRS,
    )
    path = tmp_path / "incidents.gpkg"
    points.to_file(path, engine="pyogrio")
    argv = ["summary", path, "--tz", TZ, "--out", tmp_path / "out", "-q"]
    assert run([*argv, "--filter", "y > 4835000 and kind == 'house'"], capsys)[0] == 0
    expected = int(((frame["y"] > 4_835_000) & (frame["kind"] == "house")).sum())
    assert summary_table(tmp_path / "out")["incidents"].sum() == expected


# ---------------------------------------------------------------------- shifts
def test_shifts_option_counts_incidents_per_police_shift(tmp_path, capsys):
    frame = burglaries()
    path = tmp_path / "a.csv"
    frame.to_csv(path, index=False)
    argv = ["summary", path, "--crs", CRS, "--tz", TZ, "--days", "400", "-q"]
    code, out, _ = run([*argv, "--shifts", "07:00,15:00,23:00", "--out", tmp_path], capsys)
    assert code == 0
    hour = pd.to_datetime(frame["t"]).dt.hour
    counts = {
        "07-15": int(((hour >= 7) & (hour < 15)).sum()),
        "15-23": int(((hour >= 15) & (hour < 23)).sum()),
        "23-07": int(((hour >= 23) | (hour < 7)).sum()),
    }
    assert "shifts: 3 per day (07-15, 15-23, 23-07)" in out
    line = ", ".join(f"{label}: {n}" for label, n in counts.items())
    assert f"per shift: {line}" in out
    table = pd.read_csv(tmp_path / "incidents_per_cell.csv")
    assert {f"recent_{label}": n for label, n in counts.items()} == {
        f"recent_{label}": int(table[f"recent_{label}"].sum()) for label in counts
    }


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--shifts", "07:00,15:00,25:00"], "shift start '25:00' is not a time of day"),
        (["--shifts", "07:00,07:00"], "--shifts 07:00,07:00: it repeats a start time"),
        (["--shifts", "7am"], "shift start '7am' is not a wall-clock time 'HH:MM'"),
        (["--shift-hours", "5"], "--shift-hours 5 must be positive and divide a 24-hour day"),
    ],
)
def test_bad_shifts_are_refused_with_the_fix(tmp_path, capsys, option, message):
    path = tmp_path / "a.csv"
    burglaries().to_csv(path, index=False)
    code, _, err = run(["summary", path, "--crs", CRS, "--tz", TZ, *option], capsys)
    assert code == 2 and message in err


def test_shifts_and_shift_hours_exclude_each_other(capsys):
    code, _, err = run(["summary", "a.csv", "--shifts", "07:00", "--shift-hours", "8"], capsys)
    assert code == 2 and "not allowed with argument" in err


@pytest.mark.parametrize(
    ("day", "weights"),
    [
        # 24-hour day: 00-07 of the night shift, the two day shifts, 23-24 of the next night
        ("2019-06-01", [7 / 24, 8 / 24, 8 / 24, 1 / 24]),
        # 23-hour day (clocks go forward at 02:00): the night shift loses the hour
        ("2019-03-10", [6 / 23, 8 / 23, 8 / 23, 1 / 23]),
    ],
)
def test_a_whole_day_window_spreads_over_shifts_that_cross_midnight(day, weights):
    frame = pd.DataFrame({"t": [day], "x": [628_000.0], "y": [4_835_000.0]})
    with pytest.warns(DataQualityWarning, match="1 date without a time of day"):
        events = Events.from_frame(frame, crs=CRS, tz=TZ)  # a whole-day window
    schedule = ShiftSchedule(["07:00", "15:00", "23:00"], tz=TZ)
    previous = pd.Timestamp(day) - pd.Timedelta(days=1)
    blocks = schedule.blocks(
        previous + pd.Timedelta(hours=23), pd.Timestamp(day) + pd.Timedelta(days=1)
    )
    assert list(blocks.to_frame()["label"]) == ["23-07", "07-15", "15-23", "23-07"]
    np.testing.assert_allclose(events.aoristic_weights(blocks).toarray()[0], weights)


# ---------------------------------------------------------------------- area
def test_area_option_of_summary_and_knox(tmp_path, capsys):
    frame = burglaries()
    path = tmp_path / "a.csv"
    frame.to_csv(path, index=False)
    square = box(627_750, 4_834_750, 628_375, 4_835_375)  # 5 x 5 cells of the 125 m lattice
    geopandas.GeoDataFrame(geometry=[square], crs=CRS).to_file(tmp_path / "area.gpkg")
    common = [path, "--crs", CRS, "--tz", TZ, "--area", tmp_path / "area.gpkg", "-q"]
    with pytest.warns(DataQualityWarning, match="lie outside the study area"):
        assert run(["summary", *common, "--out", tmp_path / "s"], capsys)[0] == 0
    inside = frame["x"].between(627_750, 628_375) & frame["y"].between(4_834_750, 4_835_375)
    table = pd.read_csv(tmp_path / "s" / "incidents_per_cell.csv")
    assert 0 < inside.sum() < len(frame)
    assert table["incidents"].sum() == inside.sum()
    assert Grid.from_area(square, cell_size=125.0, crs=CRS).n_cells == 25
    argv = ["knox", *common, "--distances", "0,100", "--days", "0,7", "--permutations", "9"]
    assert run([*argv, "--no-progress", "--out", tmp_path / "k"], capsys)[0] == 0
    events = Events.from_frame(frame[inside], crs=CRS, tz=TZ)
    direct = knox_test(events, distance_bands=(0, 100), time_bands_days=(0, 7),
                       n_permutations=9, random_state=0)  # fmt: skip
    knox = pd.read_csv(tmp_path / "k" / "knox.csv")
    np.testing.assert_array_equal(knox["observed"], direct.to_frame()["observed"])


# ---------------------------------------------------------------------- help and backtest
def every_option(parser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from ((name, a) for a in sub._actions)


def test_help_is_plain_text_and_shows_every_default(capsys):
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    commands = ["summary", "forecast", "backtest", "knox", "simulate", "bench", "alert"]
    for command in [*commands, "report", "outlook"]:
        assert main([command, "--help"]) == 0
        text += capsys.readouterr().out
    assert "``" not in text and "::\n" not in text  # no reStructuredText markup
    assert "--out OUT             output folder (default: caslite-output)" in text
    assert "--seed SEED           random_state of the model (default: 0)" in text
    formatter = _parser()._subparsers._group_actions[0].choices["forecast"]._get_formatter()
    missing = [
        f"{command} {action.option_strings[0]}"
        for command, action in every_option(_parser())
        if action.option_strings
        and action.default not in (None, False, argparse.SUPPRESS)
        and "default" not in formatter._get_help_string(action)
    ]
    assert missing == []


def test_backtest_compares_the_risk_model_by_default_and_baselines_on_request():
    assert _method_names(None) == list(_DEFAULT_METHODS) and "risk" in _DEFAULT_METHODS
    assert "risk" not in _method_names(["baselines"])
    assert set(_method_names(["baselines", "risk"])) == set(_DEFAULT_METHODS)


def test_backtest_of_a_horizon_under_a_day_compares_the_baselines_by_default(tmp_path, capsys):
    path = tmp_path / "a.csv"
    burglaries().to_csv(path, index=False)
    argv = ["backtest", path, "--crs", CRS, "--tz", TZ, "--start", "2019-06-01"]
    argv += ["--end", "2019-06-04", "--horizon", "12h", "--step", "1D", "--coverage", "0.05"]
    code, out, err = run([*argv, "--no-progress", "--out", tmp_path / "bt"], capsys)
    assert code == 0, err
    assert "comparing the baselines only" in err
    scores = pd.read_csv(tmp_path / "bt" / "scores.csv")
    assert set(scores["method"]) == set(_DEFAULT_METHODS) - {"risk"}
    code, _, err = run([*argv, "--methods", "risk", "naive52"], capsys)
    assert code == 2 and "--horizon '12h' is shorter than the shortest allowed, '1D'" in err


def test_backtest_table_shows_log_score_and_brier_only_for_expected_counts():
    frame = burglaries(n=300, days=120)
    events = Events.from_frame(frame, crs=CRS, tz=TZ)
    grid = Grid.from_events(events, cell_size=250.0)
    result = backtest(
        {"naive52": NaiveCounts(window_weeks=52), "etas": GridETAS()},
        events, grid, start="2019-04-01", end="2019-04-15", horizon="7D", step="7D",
        coverages=(0.05,), progress=False,
    )  # fmt: skip
    rows = {
        line.split("|")[1].strip(): [cell.strip() for cell in line.split("|")]
        for line in result.to_markdown(shifts=False).splitlines()
        if line.startswith("| naive52") or line.startswith("| etas")
    }
    header = [cell.strip() for cell in result.to_markdown().splitlines()[0].split("|")]
    log, brier = header.index("log score"), header.index("Brier")
    assert rows["naive52"][log] == rows["naive52"][brier] == "-"
    scores = result.scores.set_index("method")
    assert float(rows["etas"][log]) == pytest.approx(scores.loc["etas", "log_score"].mean(), 1e-3)
    assert np.isfinite(scores.loc["naive52", "brier"]).all()  # kept in the scores
    assert "log score and Brier of naive52: not shown" in result.to_markdown()


def test_hot_cell_files_number_shifts_as_shift_number_and_keep_the_old_name(tmp_path):
    grid = Grid.from_area(box(0, 0, 250, 250), cell_size=125.0, crs="EPSG:28992")
    blocks = ShiftSchedule(["07:00", "15:00", "23:00"], tz="Europe/Amsterdam").horizon(
        "2024-03-11", "1D"
    )
    risk = np.array([[0.1, 0.4, 0.2, 0.0], [0.3, 0.1, 0.1, 0.2], [0.0, 0.0, 0.5, 0.1]])
    hot = Forecast(risk, blocks, grid, origin=blocks.start[0]).top(k=1)
    path = write_hot_cells(hot, tmp_path / "hot.gpkg")[0]
    raw = pyogrio.read_dataframe(path)
    assert raw["shift_number"].tolist() == [0, 1, 2] == raw["shift"].tolist()
    assert raw["label"].tolist() == ["07-15", "15-23", "23-07"]
    assert "shift_number" not in read_hot_cells(path).columns


# ---------------------------------------------------------------------- the planner's scenario
def raw_export(folder, *, seed, centre, years=(2018, 2019), names=None, sep=",", decimal="."):
    """Write a city's raw export, a file per year; return the burglaries that are valid.

    Each file has the time split over year, month (a name), day, hour and minute columns,
    burglaries around two hot spots and other crimes everywhere; some other crimes have
    broken rows (unreadable day, missing coordinate, placeholder location) and a few
    burglaries sit on a placeholder location (the export's stand-in for an unknown one).
    """
    names = names or {
        "year": "OCC_YEAR", "month": "OCC_MONTH", "day": "OCC_DAY", "hour": "OCC_HOUR",
        "minute": "OCC_MINUTE", "offence": "OFFENCE", "x": "X", "y": "Y",
    }  # fmt: skip
    rng = np.random.default_rng(seed)
    folder.mkdir()
    valid = []
    spots = np.array(centre) + np.array([[-400.0, -300.0], [500.0, 400.0]])
    for year in years:
        n_burglary, n_other = 260, 140
        minutes = rng.integers(0, 365 * 24 * 60, n_burglary + n_other)
        times = pd.Timestamp(year, 1, 1) + pd.to_timedelta(np.sort(minutes), unit="min")
        burglary = rng.permutation(np.r_[np.ones(n_burglary, bool), np.zeros(n_other, bool)])
        spot = spots[rng.integers(0, 2, len(times))]
        x = np.where(burglary, spot[:, 0] + rng.normal(0, 120, len(times)),
                     centre[0] + rng.uniform(-1500, 1500, len(times)))  # fmt: skip
        y = np.where(burglary, spot[:, 1] + rng.normal(0, 120, len(times)),
                     centre[1] + rng.uniform(-1500, 1500, len(times)))  # fmt: skip
        table = pd.DataFrame(
            {
                names["year"]: times.year,
                names["month"]: times.month_name(),
                names["day"]: times.day.astype(object),
                names["hour"]: times.hour,
                names["minute"]: times.minute,
                names["offence"]: np.where(burglary, "Break and Enter", "Theft"),
                names["x"]: x.round(1),
                names["y"]: y.round(1),
            }
        )
        others = np.flatnonzero(~burglary)
        table.loc[others[0], names["day"]] = "NULL"
        table.loc[others[1], names["x"]] = np.nan
        table.loc[others[2:4], [names["x"], names["y"]]] = 0.0
        placeholders = np.flatnonzero(burglary)[:3]
        table.loc[placeholders, [names["x"], names["y"]]] = 0.0
        keep = burglary.copy()
        keep[placeholders] = False
        valid.append(pd.DataFrame({"time": times[keep], "x": x[keep], "y": y[keep]}))
        table.to_csv(folder / f"{year}.csv", index=False, sep=sep, decimal=decimal)
    return pd.concat(valid, ignore_index=True), spots, names


@pytest.mark.slow
@pytest.mark.parametrize(
    ("city", "crs", "tz", "centre", "csv"),
    [
        ("toronto", CRS, TZ, (628_000.0, 4_835_000.0), {}),
        ("amsterdam", "EPSG:28992", "Europe/Amsterdam", (121_000.0, 487_000.0),
         {"sep": ";", "decimal": ","}),
    ],
)  # fmt: skip
def test_one_forecast_call_per_raw_export_gives_hot_cells_per_police_shift(
    tmp_path, capsys, city, crs, tz, centre, csv
):
    folder = tmp_path / city
    valid, spots, names = raw_export(folder, seed=len(city), centre=centre, **csv)
    time = ",".join(names[k] for k in ("year", "month", "day", "hour", "minute"))
    argv = ["forecast", str(folder / "*.csv"), "--time", time, "--x", "X", "--y", "Y"]
    argv += ["--crs", crs, "--tz", tz, "--filter", "OFFENCE == 'Break and Enter'"]
    argv += ["--invalid", "drop", "--ambiguous", "earliest", "--nonexistent", "shift_forward"]
    argv += ["--shifts", "07:00,15:00,23:00", "--horizon", "2D"]
    argv += ["--coverage", "0.02", "--n-bags", "1", "--max-negatives", "20000"]
    argv += ["--out", tmp_path / "out", "-q"]
    argv += [f"--{key}={value}" for key, value in csv.items()]
    with pytest.warns(DataQualityWarning, match="placeholder coordinates"):
        code, out, err = run(argv, capsys)
    assert code == 0, err
    assert "(shifts 07-15, 15-23, 23-07)" in out and "over 6 shifts" in out
    hot = read_hot_cells(tmp_path / "out" / "hot_cells.gpkg")
    assert hot.crs.equals(crs)
    # every police shift of the two days, each with its own hot cells ranked from 1
    labels = hot.groupby("shift_start")["label"].first().tolist()
    assert labels == ["07-15", "15-23", "23-07"] * 2
    starts = hot["shift_start"].drop_duplicates()
    assert [t.strftime("%H:%M") for t in starts] == ["07:00", "15:00", "23:00"] * 2
    per_shift = hot.groupby("shift_start")["rank"].agg(["min", "max", "count"])
    assert (per_shift["min"] == 1).all() and (per_shift["max"] == per_shift["count"]).all()
    # the hot cells lie on the burglaries' hot spots, not on the thefts or placeholders
    near = np.hypot(
        hot["x"].to_numpy()[:, None] - spots[:, 0], hot["y"].to_numpy()[:, None] - spots[:, 1]
    ).min(axis=1)
    assert (near < 500).all()
    # the model saw exactly the valid burglaries: the filter ran first, then validation
    record = json.loads((tmp_path / "out" / "provenance.json").read_text())
    assert record["data"]["n"] == len(valid)
    assert record["filter"]["rows_removed"] == 2 * 140
