"""The error contract at the inputs: durations, origins, seeds, bounded work, readers.

Rows of ``docs/validation.md`` name these tests. Every refusal is checked to come before the
work it guards (no fit, no pair count, no allocation), and every accepted spelling against an
independent reference.
"""

import time

import numpy as np
import pandas as pd
import pytest
import shapely

from caslite import Events, Grid, NaiveCounts, RiskModel, ShiftSchedule, predict
from caslite.evaluation import backtest

TZ = "America/Toronto"
CRS = "EPSG:32617"
X0, Y0 = 628_000.0, 4_835_000.0


def small_frame(n=60, days=60, seed=1):
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2019-01-01")
    hours = np.sort(rng.integers(0, 24 * days, n))
    return pd.DataFrame(
        {
            "t": start + pd.to_timedelta(hours, unit="h"),
            "x": X0 + rng.uniform(0, 1000, n),
            "y": Y0 + rng.uniform(0, 1000, n),
        }
    )


@pytest.fixture()
def events():
    return Events.from_frame(small_frame(), crs=CRS, tz=TZ)


@pytest.fixture()
def grid():
    return Grid.from_area(shapely.box(X0, Y0, X0 + 1000, Y0 + 1000), cell_size=250.0, crs=CRS)


class NotEvents:
    """Anything that reaches the incidents' validation fails loudly."""


UNITLESS = [14, 14.0, "14", " 14 ", np.int64(14), "1.5e1"]


def duration_entry_points(events, grid):
    schedule = ShiftSchedule.every(4, tz=TZ)
    start, end = "2019-01-15", "2019-03-01"
    return {
        "ShiftSchedule.horizon": lambda v: schedule.horizon("2019-02-01", v),
        "RiskModel(horizon=)": lambda v: RiskModel(horizon=v).fit(events, grid, origin=end),
        "RiskModel(train_step=)": lambda v: RiskModel(train_step=v).fit(events, grid, origin=end),
        "RiskModel(warmup=)": lambda v: RiskModel(warmup=v).fit(events, grid, origin=end),
        "RiskModel(train_span=)": lambda v: RiskModel(train_span=v).fit(events, grid, origin=end),
        "backtest(step=)": lambda v: backtest(
            NaiveCounts(), events, grid, start=start, end=end, step=v, progress=False
        ),
        "backtest(horizon=)": lambda v: backtest(
            NaiveCounts(), events, grid, start=start, end=end, horizon=v, progress=False
        ),
        "predict(horizon=)": lambda v: predict(NotEvents(), end, v),
    }


@pytest.mark.parametrize("value", UNITLESS, ids=repr)
def test_durations_without_a_unit_are_refused(events, grid, value):
    for name, call in duration_entry_points(events, grid).items():
        with pytest.raises(ValueError, match="has no unit") as error:
            call(value)
        assert "'14D'" in str(error.value) and "'36h'" in str(error.value), name


@pytest.mark.parametrize("value", [None, [14], True, "soon", "-2D", "0h"], ids=repr)
def test_durations_that_are_not_positive_lengths_are_refused(events, grid, value):
    for name, call in duration_entry_points(events, grid).items():
        if value is None and name == "RiskModel(train_span=)":
            continue  # None: as far back as the data allow
        with pytest.raises((TypeError, ValueError), match="duration|not a length") as error:
            call(value)
        assert "'14D'" in str(error.value), name


def test_duration_spellings_with_units_agree():
    schedule = ShiftSchedule.every(4, tz=TZ)
    reference = schedule.horizon("2019-02-01", "14D")
    for spelling in ("14 days", pd.Timedelta(days=14), np.timedelta64(14, "D"), "336h"):
        assert (schedule.horizon("2019-02-01", spelling).ids == reference.ids).all()
    assert len(reference) == 14 * 6  # no clock change in these two weeks


@pytest.mark.parametrize("horizon", ["12h", "4h", "2h", "23h"])
def test_a_horizon_shorter_than_a_day_is_refused_before_fitting(events, grid, horizon):
    began = time.perf_counter()
    with pytest.raises(ValueError, match=r"shorter than the shortest allowed, '1D'"):
        predict(NotEvents(), "2019-03-01", horizon)  # refused before the incidents are read
    with pytest.raises(ValueError, match=r"'1D'.*every shift of the day"):
        RiskModel(horizon=horizon).fit(events, grid, origin="2019-03-01")
    assert time.perf_counter() - began < 5  # no model was fitted (a fit takes far longer)


def test_shift_schedule_every_takes_hours_or_a_duration():
    four = ShiftSchedule.every(4, tz=TZ)
    assert ShiftSchedule.every("4h", tz=TZ) == four
    assert ShiftSchedule.every(pd.Timedelta(hours=4), tz=TZ) == four
    assert ShiftSchedule.every("4", tz=TZ) == four  # hours, as --shift-hours gives them
    assert ShiftSchedule.every("90min", tz=TZ).starts[:3] == ("00:00", "01:30", "03:00")
    with pytest.raises(ValueError, match="divide a 24-hour day"):
        ShiftSchedule.every("5h", tz=TZ)
    with pytest.raises(ValueError, match="give a number of hours"):
        ShiftSchedule.every("four", tz=TZ)
    with pytest.raises(TypeError, match="hours=None is not a length"):
        ShiftSchedule.every(None, tz=TZ)


@pytest.mark.parametrize("starts", [None, 4, "07:00,15:00"])
def test_shift_schedule_starts_must_be_a_list_of_times(starts):
    if isinstance(starts, str):  # one string is one start: "07:00,15:00" is not a time
        with pytest.raises(ValueError, match="is not a wall-clock time 'HH:MM'"):
            ShiftSchedule(starts, tz=TZ)
        return
    with pytest.raises(TypeError, match="starts must be a list of wall-clock start times"):
        ShiftSchedule(starts, tz=TZ)


def test_backtest_bounds_the_number_of_origins_before_any_fit(events, grid):
    class Refuses(NaiveCounts):
        def fit(self, *args, **kwargs):  # pragma: no cover - must never run
            raise AssertionError("fitted before the origins were bounded")

    start, end = "2019-01-15", "2019-03-01"
    # 45 days, 1-day horizons every day: origins on days 0 .. 44, i.e. 45 - 1 + 1 = 45.
    with pytest.raises(ValueError, match=r"about 45 forecast origins, more than max_origins=10"):
        backtest(Refuses(), events, grid, start=start, end=end, step="1D", horizon="1D",
                 max_origins=10, progress=False)  # fmt: skip
    result = backtest(NaiveCounts(), events, grid, start=start, end=end, step="1D",
                      horizon="1D", max_origins=45, progress=False)  # fmt: skip
    assert len(result.params["origins"]) == 45
    began = time.perf_counter()
    with pytest.raises(ValueError, match=r"step='1s' .* more than max_origins=1,000"):
        backtest(Refuses(), events, grid, start="2010-01-01", end="2020-01-01", step="1s",
                 progress=False)  # fmt: skip
    assert time.perf_counter() - began < 5
    with pytest.raises(ValueError, match="max_origins must be a positive integer"):
        backtest(Refuses(), events, grid, start=start, end=end, max_origins=0, progress=False)


@pytest.mark.parametrize("origin", [None, ["2019-03-01"], ("2019-03-01", "2019-03-02")])
def test_a_missing_or_many_valued_origin_is_refused_naming_it(events, grid, origin):
    with pytest.raises(TypeError, match=r"^origin=.*give .*one instant"):
        predict(NotEvents(), origin)
    with pytest.raises(TypeError, match=r"^origin="):
        RiskModel().fit(events, grid, origin=origin)


@pytest.mark.parametrize("seed", ["abc", 1.5, True, -1])
def test_a_bad_random_state_is_refused_before_any_work(events, grid, seed, monkeypatch):
    import caslite.knox

    def never(*args, **kwargs):  # pragma: no cover - must not run
        raise AssertionError("the pairs were looked for before the seed was checked")

    monkeypatch.setattr(caslite.knox, "_close_pairs", never)
    with pytest.raises((TypeError, ValueError), match=r"^random_state="):
        caslite.knox.knox_test(events, random_state=seed)
    with pytest.raises((TypeError, ValueError), match=r"^random_state="):
        predict(NotEvents(), "2019-03-01", random_state=seed)
    with pytest.raises((TypeError, ValueError), match=r"^random_state="):
        RiskModel(random_state=seed).fit(events, grid, origin="2019-03-01")


# ---------------------------------------------------------------------- the simulator
@pytest.mark.parametrize(
    ("options", "needed"),
    [
        ({"resolution": 0.001}, "6,400.0 TB"),  # 1e7 x 1e7 cells of 64 bytes
        ({"background_rate": 1e9}, "83.4 TB"),  # 1e9 / day x 365 / (1 - 0.3) x 160 bytes
    ],
)
def test_a_simulation_that_cannot_fit_in_memory_is_refused_before_allocating(options, needed):
    from caslite.datasets import simulate_city

    began = time.perf_counter()
    with pytest.raises(ValueError, match=rf"would need about {needed}") as error:
        simulate_city(random_state=0, **options)
    assert "Use a coarser resolution, a smaller size, a lower background_rate" in str(error.value)
    assert time.perf_counter() - began < 2


def test_the_simulator_memory_estimate_by_hand(monkeypatch):
    from caslite.datasets import _simulate, simulate_city

    # 400 x 400 raster cells of 64 bytes, 8 / day over 365 days / (1 - 0.3) events of 160 bytes
    need = 400**2 * 64 + 8 * 365 / 0.7 * 160
    monkeypatch.setattr(_simulate, "_memory_bytes", lambda: int(need) - 1)
    with pytest.raises(ValueError, match=r"about 10\.9 MB of memory .* 400 x 400 cells"):
        simulate_city(random_state=0)
    monkeypatch.setattr(_simulate, "_memory_bytes", lambda: int(need) + 1)
    assert len(simulate_city(end="2023-01-15", random_state=0).events) > 0


# ---------------------------------------------------------------------- readers
KW = {"crs": CRS, "tz": TZ}
TABLE = pd.DataFrame(
    {
        "t": ["2019-03-01 10:00", "2019-03-02 11:00", "2019-03-04 23:00"],
        "x": [X0 + 0.5, X0 + 100.25, X0 + 333.75],
        "y": [Y0 + 0.5, Y0 + 100.0, Y0 + 12.125],
        "kind": ["house", "flat", "house"],
    }
)


def _no_layers(path):
    """A GeoPackage whose only layer was dropped: a valid SQLite file without a GIS layer."""
    import sqlite3

    import geopandas

    geopandas.GeoDataFrame(geometry=geopandas.points_from_xy([X0], [Y0]), crs=CRS).to_file(
        path, layer="gone"
    )
    with sqlite3.connect(path) as db:
        db.execute("delete from gpkg_contents")
        db.execute("delete from gpkg_geometry_columns")
        db.execute("drop table gone")
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    import gzip

    import geopandas

    folder = tmp_path_factory.mktemp("readers")
    made = {}
    made["utf16"] = folder / "utf16.csv"
    TABLE.to_csv(made["utf16"], index=False, encoding="utf-16")
    made["cp1252"] = folder / "cp1252.csv"
    TABLE.assign(kind=["maison é", "flat", "house"]).to_csv(
        made["cp1252"], index=False, encoding="cp1252"
    )
    made["semicolon"] = folder / "semicolon.csv"
    TABLE.to_csv(made["semicolon"], index=False, sep=";", decimal=",")
    made["tab"] = folder / "tab.csv"
    TABLE.to_csv(made["tab"], index=False, sep="\t")
    made["gz"] = folder / "whole.csv.gz"
    TABLE.to_csv(made["gz"], index=False)
    made["truncated"] = folder / "truncated.csv.gz"
    data = gzip.compress(TABLE.to_csv(index=False).encode() * 50)
    made["truncated"].write_bytes(data[: len(data) // 2])
    made["text_gpkg"] = folder / "text.gpkg"
    made["text_gpkg"].write_text("t,x,y\n2019-03-01,1,2\n")
    made["zero_gpkg"] = folder / "zero.gpkg"
    made["zero_gpkg"].write_bytes(b"")
    made["no_layers"] = _no_layers(folder / "no_layers.gpkg")
    made["two_layers"] = folder / "two_layers.gpkg"
    points = geopandas.GeoDataFrame(
        TABLE, geometry=geopandas.points_from_xy(TABLE.x, TABLE.y), crs=CRS
    )
    points.to_file(made["two_layers"], layer="burglary")
    points.iloc[:1].to_file(made["two_layers"], layer="other")
    made["duplicate_columns"] = folder / "duplicate_columns.csv"
    made["duplicate_columns"].write_text("t,x,y,x\n2019-03-01 10:00,628000,4835000,1\n")
    return made


READ_ERRORS = [
    ("utf16", {}, "cannot read 'utf16.csv' as utf-8 text (.*); it looks like UTF-16 text: "
     "pass encoding='utf-16'"),
    ("cp1252", {}, "cannot read 'cp1252.csv' as utf-8 text .* pass its encoding, e.g. "
     "encoding='cp1252'"),
    ("semicolon", {}, "'semicolon.csv' looks like a semicolon-separated file .* pass "
     "sep=';', and decimal=','"),
    ("semicolon", {"sep": ";"}, "column 'x' must hold numbers .* Column 'x' holds numbers with "
     "decimal commas .* pass decimal=','"),
    ("tab", {}, r"'tab.csv' looks like a tab-separated file .* pass sep='\\t'"),
    ("truncated", {}, "cannot read 'truncated.csv.gz': the compressed file is truncated or "
     "damaged"),
    ("text_gpkg", {}, r"cannot read .text.gpkg. as a .gpkg file \(it starts with .t,x,y.*a "
     "text or CSV file needs the .csv extension"),
    ("zero_gpkg", {}, r"'zero.gpkg' is empty \(0 bytes\)"),
    ("no_layers", {}, "'no_layers.gpkg' is a database without any GIS layer"),
    ("two_layers", {}, "'two_layers.gpkg' has 2 layers: 'burglary', 'other'; choose the "
     "incidents' layer with layer='burglary'"),
    ("two_layers", {"layer": "nope"}, "'two_layers.gpkg' has no layer 'nope'; its layers are "
     "'burglary', 'other'"),
    ("two_layers", {"sep": ";"}, r"sep= \(the CSV options\) are for CSV files"),
    ("duplicate_columns", {}, r"'duplicate_columns.csv' has duplicate column names \['x'\]"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "options", "message"), READ_ERRORS)
def test_unreadable_files_name_the_file_and_the_fix(files, name, options, message):
    with pytest.raises(ValueError, match=message):
        Events.read(files[name], **options, **KW)


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("utf16", {"encoding": "utf-16"}),
        ("cp1252", {"encoding": "cp1252"}),
        ("semicolon", {"sep": ";", "decimal": ","}),
        ("tab", {"sep": "\t"}),
        ("gz", {}),
        ("two_layers", {"layer": "burglary"}),
    ],
)
def test_the_fixes_read_the_same_incidents(files, name, options):
    events = Events.read(files[name], **options, **KW)
    reference = Events.from_frame(TABLE, **KW)
    np.testing.assert_array_equal(events.t, reference.t)
    np.testing.assert_array_equal(events.x, TABLE["x"].to_numpy())
    np.testing.assert_array_equal(events.y, TABLE["y"].to_numpy())


def test_duplicate_column_names_in_a_frame_are_named():
    frame = TABLE.rename(columns={"kind": "x"})
    with pytest.raises(ValueError, match=r"the table has duplicate column names \['x'\]"):
        Events.from_frame(frame, **KW)


@pytest.mark.parametrize(("name", "options", "message"), READ_ERRORS)
def test_cli_unreadable_files_exit_2_naming_the_file(files, capsys, name, options, message):
    from caslite.cli import main

    flags = [f"--{key}={value}" for key, value in options.items()]
    argv = ["summary", str(files[name]), "--crs", CRS, "--tz", TZ, *flags, "-q"]
    assert main(argv) == 2
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.startswith("caslite summary: error: ")
    assert pytest.importorskip("re").search(message, last), last
