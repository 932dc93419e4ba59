import json
import subprocess
import sys
from pathlib import Path

import geopandas
import numpy as np
import pandas as pd
import pyogrio
import pytest
from matplotlib.image import imread
from shapely.geometry import box

from caslite import (
    FeatureBuilder,
    Grid,
    NaiveCounts,
    ProspectiveHotSpot,
    RiskModel,
    ShiftSchedule,
    category_layers,
    predict,
)
from caslite.cli import _forecaster, _parser, _risk_options, main
from caslite.datasets import simulate_city
from caslite.evaluation.backtest import backtest
from caslite.events import Events
from caslite.io import read_hot_cells
from caslite.knox import knox_test
from caslite.plot import plot_cells
from caslite.summary import summarize_incidents

CRS = "EPSG:32617"
TZ = "America/Toronto"


def clustered_frame(n=400, seed=3):
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2019-01-01")
    hours = np.sort(rng.integers(0, 24 * 200, n))
    return pd.DataFrame(
        {
            "t": (start + pd.to_timedelta(hours, unit="h")).strftime("%Y-%m-%dT%H:%M"),
            "x": 628_000 + rng.normal(0, 300, n),
            "y": 4_835_000 + rng.normal(0, 300, n),
        }
    )


def test_summary_counts_match_direct_binning():
    frame = clustered_frame()
    events = Events.from_frame(frame, crs=CRS, tz=TZ)
    days = 30
    summary = summarize_incidents(events, days=days)
    grid = summary.grid
    # Independent binning: column/row from the raster origin, then the active-cell id.
    col = np.floor((frame["x"] - grid.x0) / grid.cell_size).astype(int)
    row = np.floor((frame["y"] - grid.y0) / grid.cell_size).astype(int)
    key = pd.Series(list(zip(row, col, strict=True)))
    times = pd.to_datetime(frame["t"]).dt.tz_localize(TZ)
    recent = times >= times.max() - pd.Timedelta(days=days)
    expected_all = key.value_counts()
    expected_recent = key[recent.to_numpy()].value_counts()
    table = summary.table.set_index("cell_id")
    got = {
        (int(grid.cell_row[c]), int(grid.cell_col[c])): (r["incidents"], r["recent"])
        for c, r in table.iterrows()
    }
    assert {k: v[0] for k, v in got.items()} == expected_all.to_dict()
    assert {k: v[1] for k, v in got.items() if v[1]} == expected_recent.to_dict()
    per_shift = table.filter(like="recent_").sum(axis=1)
    np.testing.assert_array_equal(per_shift.to_numpy(), table["recent"].to_numpy())
    # Sorted by recent, then incidents, descending.
    ranked = summary.table[["recent", "incidents"]].to_numpy()
    assert all(tuple(a) >= tuple(b) for a, b in zip(ranked, ranked[1:], strict=False))


def test_summary_refuses_empty_events_and_bad_days():
    events = Events.from_frame(clustered_frame(5), crs=CRS, tz=TZ)
    with pytest.raises(ValueError, match="days=0 must be a positive number"):
        summarize_incidents(events, days=0)
    with pytest.raises(ValueError, match="no incidents to summarise"):
        summarize_incidents(events.select(np.zeros(len(events), bool)))


def test_cli_summary_on_the_shipped_sample(tmp_path, capsys):
    with pytest.warns(UserWarning, match="repeat an earlier row"):
        code = main(["summary", "--sample", "toronto", "--out", str(tmp_path), "--days", "60"])
    assert code == 0
    out = capsys.readouterr().out
    assert "3,837 incidents" in out and "last 60 days" in out
    table = pd.read_csv(tmp_path / "incidents_per_cell.csv")
    assert table["incidents"].sum() == 3837
    image = imread(tmp_path / "recent_incidents.png")
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 200


def test_cli_reads_a_file_and_reports_bad_input(tmp_path, capsys):
    path = tmp_path / "incidents.csv"
    clustered_frame(50).rename(columns={"t": "when"}).to_csv(path, index=False)
    code = main(["summary", str(path), "--crs", CRS, "--tz", TZ, "--out", str(tmp_path)])
    assert code == 2
    assert "column 't' not found" in capsys.readouterr().err
    code = main(["summary", str(path), "--time", "when", "--crs", CRS, "--tz", TZ,
                 "--out", str(tmp_path / "out")])  # fmt: skip
    assert code == 0
    assert (tmp_path / "out" / "recent_incidents.png").exists()
    code = main(["summary", str(path), "--time", "when", "--crs", "EPSG:4326", "--tz", TZ])
    assert code == 2
    assert "geographic CRS" in capsys.readouterr().err


def test_plot_cells_puts_each_value_in_its_cell():
    frame = clustered_frame(30)
    events = Events.from_frame(frame, crs=CRS, tz=TZ)
    grid = summarize_incidents(events).grid
    values = np.arange(grid.n_cells, dtype=float)
    ax = plot_cells(grid, values)
    shown = ax.images[1].get_array()  # the second image holds the non-zero values
    expected = np.full(grid.shape, np.nan)
    expected[grid.cell_row, grid.cell_col] = np.where(values > 0, values, np.nan)
    np.testing.assert_array_equal(np.ma.filled(shown, np.nan), expected)
    with pytest.raises(ValueError, match=r"values has shape \(3,\); expected"):
        plot_cells(grid, np.zeros(3))


@pytest.mark.slow
def test_cli_forecast_writes_hot_cells_of_every_shift(tmp_path, capsys):
    import geopandas

    rng = np.random.default_rng(5)
    n = 900
    start = pd.Timestamp("2018-06-01")
    hours = np.sort(rng.integers(0, 24 * 365, n))
    centres = np.array([[628_200.0, 4_835_300.0], [628_900.0, 4_834_600.0]])
    which = rng.integers(0, 2, n)
    frame = pd.DataFrame(
        {
            "when": (start + pd.to_timedelta(hours, unit="h")).strftime("%Y-%m-%dT%H:%M"),
            "east": centres[which, 0] + rng.normal(0, 150, n),
            "north": centres[which, 1] + rng.normal(0, 150, n),
        }
    )
    path = tmp_path / "incidents.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "out"
    args = [str(path), "--time", "when", "--x", "east", "--y", "north", "--crs", CRS]
    args += ["--tz", TZ, "--origin", "2019-05-01", "--horizon", "2D", "--coverage", "0.05"]
    assert main(["forecast", *args, "--out", str(out)]) == 0
    assert "hot (shift, cell) pairs over 12 shifts" in capsys.readouterr().out
    hot = geopandas.read_file(out / "hot_cells.gpkg", layer="hot_cells")
    assert hot.crs.to_epsg() == 32617
    assert {"shift_start", "shift_end", "cell_id", "risk", "rank"} <= set(hot.columns)
    assert hot["shift_start"].nunique() == 12  # 2 days of 4-hour shifts
    per_shift = hot.groupby("shift_start")["rank"].agg(["min", "max", "count"])
    assert (per_shift["min"] == 1).all() and (per_shift["max"] == per_shift["count"]).all()
    table = pd.read_csv(out / "hot_cells.csv")
    assert len(table) == len(hot)
    image = imread(out / "hot_cells.png")
    assert image.shape[0] > 100 and image[..., :3].std() > 0.05
    assert imread(out / "risk_horizon.png")[..., :3].std() > 0.05
    record = json.loads((out / "provenance.json").read_text())
    assert record["data"]["n"] == int((pd.to_datetime(frame["when"]) < "2019-05-01").sum())
    assert record["predict"]["coverage"] == 0.05 and record["model"]["class"] == "RiskModel"
    assert record["command"] == ["caslite", "forecast", *args, "--out", str(out)]
    page = (out / "hot_cells.html").read_text()
    assert "<script src=" not in page  # Leaflet inlined: the map opens offline
    # one hot-cell layer per shift of the first day, each with that shift's hot cells
    first_day = hot[hot["shift_start"].str[:10] == hot["shift_start"].min()[:10]]
    for start in first_day["shift_start"].unique():
        assert f"{start[11:16]}" in page
    # the hot cells lie where the incidents cluster: within 600 m of a cluster centre
    near = np.min(
        np.hypot(
            hot["x"].to_numpy()[:, None] - centres[:, 0],
            hot["y"].to_numpy()[:, None] - centres[:, 1],
        ),
        axis=1,
    )
    assert (near < 600).all()
    # a wrong column name is a clear error with exit code 2
    bad = [str(path), "--time", "time", "--x", "east", "--y", "north", "--crs", CRS, "--tz", TZ]
    assert main(["forecast", *bad, "--out", str(out)]) == 2
    assert "column 'time' not found" in capsys.readouterr().err


# ---------------------------------------------------------------------- every subcommand
TIMING = ["fit_seconds", "predict_seconds"]


@pytest.fixture()
def incidents(tmp_path):
    """400 clustered incidents from 2019-01-01 over 200 days, with a 'kind' column."""
    frame = clustered_frame()
    frame["kind"] = np.random.default_rng(8).choice(["house", "flat"], len(frame))
    path = tmp_path / "incidents.csv"
    frame.to_csv(path, index=False)
    return path, frame


def file_args(path):
    return [str(path), "--crs", CRS, "--tz", TZ]


@pytest.mark.slow
def test_cli_forecast_writes_every_format_and_a_layer_per_shift(tmp_path, incidents, capsys):
    path, frame = incidents
    area = box(627_500, 4_834_500, 628_500, 4_835_500)
    area_file = tmp_path / "area.gpkg"  # given in degrees: the CLI reprojects it
    geopandas.GeoDataFrame(geometry=[area], crs=CRS).to_crs("EPSG:4326").to_file(area_file)
    out = tmp_path / "out"
    args = ["forecast", *file_args(path), "--origin", "2019-07-15", "--horizon", "1D"]
    args += ["--max-negatives", "5e4", "--n-bags", "1"]
    args += ["--area", str(area_file), "--format", "gpkg", "geojson,parquet", "csv"]
    args += ["--layout", "layers", "--filter", "kind == 'house'", "--out", str(out), "-q"]
    with pytest.warns(UserWarning, match="not known before the origin"):
        assert main(args) == 0
    captured = capsys.readouterr()
    assert "over 6 shifts" in captured.out
    reprojected = "reprojecting the --area file from EPSG:4326 to the incidents' EPSG:32617"
    assert reprojected in captured.err
    tables = {fmt: read_hot_cells(out / f"hot_cells.{fmt}") for fmt in ("gpkg", "geojson")}
    tables |= {fmt: read_hot_cells(out / f"hot_cells.{fmt}") for fmt in ("parquet", "csv")}
    reference = tables["parquet"]
    assert reference.crs.to_epsg() == 32617
    for fmt, table in tables.items():
        pd.testing.assert_frame_equal(
            pd.DataFrame(table.drop(columns="geometry")),
            pd.DataFrame(reference.drop(columns="geometry")),
            obj=fmt,
        )
        assert table.crs == reference.crs
    layers = [str(n) for n in pyogrio.list_layers(out / "hot_cells.gpkg")[:, 0]]
    expected = [f"shift_2019-07-15T{h:02d}-00" for h in range(0, 24, 4)]
    assert sorted(layers) == expected
    # every hot cell lies in the study area (clipped to it, in the incidents' CRS); the area
    # the CLI used is the degree polygon reprojected, whose corners differ from the box's by
    # slivers, so a corner cell may hold only a sliver of it
    used = geopandas.read_file(area_file).to_crs(CRS).geometry.iloc[0]
    assert reference.geometry.intersection(used).area.min() > 0
    assert (out / "hot_cells.png").stat().st_size > 1000
    record = json.loads((out / "provenance.json").read_text())
    assert record["model"]["params"]["max_negatives"] == 50_000
    assert record["model"]["params"]["n_bags"] == 1


@pytest.mark.slow
def test_cli_forecast_with_category_layers_equals_a_direct_predict(tmp_path, incidents, capsys):
    path, _ = incidents
    out = tmp_path / "out"
    args = ["forecast", *file_args(path), "--origin", "2019-07-15", "--horizon", "1D"]
    args += ["--max-negatives", "5e4", "--n-bags", "1", "--category-layers", "kind", "flat"]
    args += ["--format", "csv", "--out", str(out)]
    with pytest.warns(UserWarning, match="not known before the origin"):
        assert main(args) == 0
    assert "counting apart by kind: flat (" in capsys.readouterr().err
    record = json.loads((out / "provenance.json").read_text())
    layered = [n for n in record["model"]["feature_names"] if n.startswith("ev_")]
    assert layered and all(n.startswith("ev_flat_") for n in layered)
    events = Events.from_frame(pd.read_csv(path), crs=CRS, tz=TZ)
    model = RiskModel(
        max_negatives=50_000,
        n_bags=1,
        features=FeatureBuilder(event_layers=category_layers(events, "kind", ["flat"])),
    )
    with pytest.warns(UserWarning, match="not known before the origin"):
        direct = predict(events, "2019-07-15", "1D", model=model)
    written = read_hot_cells(out / "hot_cells.csv")
    assert list(written["cell_id"]) == list(direct["cell_id"])
    np.testing.assert_allclose(written["risk"], direct["risk"], rtol=1e-9)


def test_cli_backtest_equals_a_direct_backtest(tmp_path, incidents, capsys):
    path, _ = incidents
    out = tmp_path / "bt"
    args = ["backtest", *file_args(path), "--start", "2019-05-01", "--end", "2019-06-12"]
    args += ["--methods", "naive52", "prospective", "--coverage", "0.02", "0.1"]
    args += ["--no-progress", "--out", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    events = Events.from_frame(pd.read_csv(path), crs=CRS, tz=TZ)
    grid = Grid.from_events(events.before("2019-05-01"), cell_size=125.0)
    direct = backtest(
        {"naive52": NaiveCounts(window_weeks=52), "prospective": ProspectiveHotSpot()},
        events,
        grid,
        start="2019-05-01",
        end="2019-06-12",
        schedule=ShiftSchedule.every(4, tz=TZ),
        coverages=(0.02, 0.1),
        progress=False,
    )
    assert len(direct.params["origins"]) == 3
    scores = pd.read_csv(out / "scores.csv")
    expected = direct.scores.drop(columns=TIMING)
    for column in expected.columns:
        if column in ("origin", "fitted_at"):
            got = pd.to_datetime(scores[column], utc=True)
            np.testing.assert_array_equal(got, expected[column].dt.tz_convert("UTC"))
        elif expected[column].dtype.kind in "fc":
            np.testing.assert_allclose(scores[column], expected[column], rtol=1e-12)
        else:
            assert list(scores[column]) == list(expected[column]), column

    # the printed and written table is the direct one's, up to the measured seconds
    def without_seconds(text):
        return [line.rsplit("|", 2)[0] for line in text.splitlines() if line.startswith("|")]

    assert without_seconds(printed) == without_seconds(direct.to_markdown())
    assert without_seconds((out / "summary.md").read_text()) == without_seconds(
        direct.to_markdown()
    )
    for name in ("hit_rate.png", "pai.png"):
        assert imread(out / name)[..., :3].std() > 0.01


def test_cli_knox_equals_knox_test_and_a_brute_force_count(tmp_path, incidents, capsys):
    path, frame = incidents
    out = tmp_path / "knox"
    args = ["knox", *file_args(path), "--distances", "0,100,200", "--days", "0", "7", "14"]
    args += ["--permutations", "19", "--seed", "3", "--no-progress", "--out", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    events = Events.from_frame(pd.read_csv(path), crs=CRS, tz=TZ)
    direct = knox_test(
        events, distance_bands=(0, 100, 200), time_bands_days=(0, 7, 14),
        n_permutations=19, random_state=3,
    )  # fmt: skip
    table = pd.read_csv(out / "knox.csv")
    reference = direct.to_frame()
    assert list(table["distance_band"]) == list(reference["distance_band"].astype(str))
    for column in ("observed", "expected", "knox_ratio", "p_value", "significant"):
        np.testing.assert_allclose(table[column], reference[column].astype(float), rtol=1e-12)
    # observed pairs by brute force: distance (0, 100], (100, 200]; time [0, 7], (7, 14] days
    t = events.t.astype(float) / 86_400
    i, j = np.triu_indices(len(t), 1)
    d = np.hypot(events.x[i] - events.x[j], events.y[i] - events.y[j])
    dt = np.abs(t[i] - t[j])
    distance_row = np.select([d == 0, d <= 100, d <= 200], [0, 1, 2], -1)
    time_col = np.select([dt <= 7, dt <= 14], [0, 1], -1)
    keep = (distance_row >= 0) & (time_col >= 0)
    brute = np.zeros((3, 2), dtype=int)
    np.add.at(brute, (distance_row[keep], time_col[keep]), 1)
    np.testing.assert_array_equal(table["observed"].to_numpy().reshape(3, 2), brute)
    row = next(line for line in printed.splitlines() if line.startswith("0-100 m"))
    ratio, p = direct.ratio[1, 0], direct.p_value[1, 0]
    assert f"{ratio:.2f}{'*' if p < 0.05 else ''}" in row.split()
    assert imread(out / "knox.png").shape[0] > 100


def test_cli_simulate_writes_the_city_simulate_city_makes(tmp_path, capsys):
    args = ["--end", "2023-02-01", "--size", "2000", "--seed", "4", "-q"]
    assert main(["simulate", str(tmp_path / "a.csv"), *args]) == 0
    assert main(["simulate", str(tmp_path / "b.csv"), *args]) == 0
    assert main(["simulate", str(tmp_path / "c.gpkg"), *args]) == 0
    assert "simulated" in capsys.readouterr().out
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    city = simulate_city(start="2023-01-01", end="2023-02-01", size=2000.0, random_state=4)
    for name, options in (("a.csv", {"crs": city.crs}), ("c.gpkg", {})):
        events = Events.read(tmp_path / name, tz=city.tz, **options)
        np.testing.assert_array_equal(events.t, city.t_utc)
        np.testing.assert_allclose(events.x, city.events["x"], rtol=0, atol=1e-6)
        np.testing.assert_allclose(events.y, city.events["y"], rtol=0, atol=1e-6)
        np.testing.assert_array_equal(events.data["generation"], city.events["generation"])
    truth = json.loads((tmp_path / "a.params.json").read_text())
    assert truth["n_events"] == len(city) and truth["params"]["random_state"] == 4
    assert truth["params"]["size"] == 2000.0 and truth["tz"] == city.tz
    np.testing.assert_allclose(truth["params"]["hourly_profile"], city.params["hourly_profile"])
    assert truth["n_background"] == int((city.events["generation"] == 0).sum())


@pytest.fixture()
def fake_checkout(tmp_path):
    """A folder with a stand-in benchmarks package that records how it was called."""
    package = tmp_path / "checkout" / "benchmarks"
    package.mkdir(parents=True)
    record = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "Path('called.json').write_text(json.dumps({'module': __spec__.name, "
        "'argv': sys.argv[1:]}))\n"
        "sys.exit(3)\n"
    )
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(record)
    (package / "report.py").write_text(record)
    return package.parent


def test_cli_bench_runs_the_suite_of_a_checkout(fake_checkout, tmp_path, capsys, monkeypatch):
    def called():
        return json.loads((fake_checkout / "called.json").read_text())

    code = main(["bench", "--path", str(fake_checkout), "--quick", "--only", "city",
                 "--only", "knox", "--", "--out", "x.json"])  # fmt: skip
    assert code == 3  # the suite's own exit status
    assert called() == {
        "module": "benchmarks.__main__",
        "argv": ["--profile", "smoke", "--only", "city", "--only", "knox", "--out", "x.json"],
    }
    monkeypatch.chdir(fake_checkout)
    assert main(["bench", "--report", "--quick", "-q"]) == 3
    assert called() == {"module": "benchmarks.report", "argv": ["--quick"]}
    monkeypatch.chdir(tmp_path)
    assert main(["bench"]) == 2
    err = capsys.readouterr().err
    assert "caslite bench: error: no benchmark suite in" in err
    assert "ship with the source repository" in err


def test_cli_filter_keeps_the_matching_incidents(tmp_path, incidents, capsys):
    path, frame = incidents
    args = ["summary", *file_args(path), "--filter", "kind == 'house'", "--out", str(tmp_path)]
    assert main(args) == 0
    table = pd.read_csv(tmp_path / "incidents_per_cell.csv")
    assert table["incidents"].sum() == int((frame["kind"] == "house").sum())
    assert "kept" in capsys.readouterr().err


BAD_INPUT = [
    (["summary", "{csv}", "--time", "when", "--crs", CRS, "--tz", TZ],
     "column 'when' not found; the table has columns ['t', 'x', 'y', 'kind']"),
    (["summary", "{csv}", "--crs", "EPSG:99999", "--tz", TZ],
     "'EPSG:99999' is not a CRS pyproj understands"),
    (["summary", "{csv}", "--crs", "EPSG:4326", "--tz", TZ], "--to-crs utm"),
    (["summary", "{csv}", "--tz", TZ], "has no CRS"),
    (["summary", "{csv}", "--crs", CRS], "--tz is required for a file"),
    (["summary", "{csv}", "--crs", CRS, "--tz", "Mars/Olympus"], "not a known IANA time zone"),
    (["forecast", "{csv}", "--crs", CRS, "--tz", TZ, "--origin", "2019-13-45"],
     "--origin '2019-13-45' is not a date or time"),
    (["forecast", "{csv}", "--crs", CRS, "--tz", TZ, "--horizon", "14X"],
     "--horizon '14X' is not a duration; give a number with a unit, e.g. '14D'"),
    (["forecast", "{csv}", "--crs", CRS, "--tz", TZ, "--format", "shp"],
     "--format 'shp' is not one of gpkg, geojson, parquet, csv"),
    (["forecast", "{csv}", "--crs", CRS, "--tz", TZ, "--format", "csv", "--layout", "layers"],
     "--layout layers (a layer per shift) needs --format gpkg"),
    (["forecast", "{csv}", "--crs", CRS, "--tz", TZ, "--area", "{dir}/nope.gpkg"],
     "no such area file"),
    (["forecast", "{csv}", "--crs", CRS, "--tz", TZ, "--max-negatives", "0"],
     "'0' is not a positive whole number of rows"),
    (["backtest", "{csv}", "--crs", CRS, "--tz", TZ, "--max-negatives", "1.5e5x"],
     "'1.5e5x' is not a positive whole number of rows"),
    (["forecast", "{csv}", "--crs", CRS, "--tz", TZ, "--n-bags", "0"],
     "'0' is not a positive whole number of ensembles"),
    (["backtest", "{csv}", "--crs", CRS, "--tz", TZ, "--n-bags", "two"],
     "'two' is not a positive whole number of ensembles"),
    (["forecast", "{csv}", "--crs", CRS, "--tz", TZ, "--category-layers", "colour"],
     "--category-layers: no column 'colour' in the incidents; the columns are"),
    (["forecast", "{csv}", "--crs", CRS, "--tz", TZ, "--category-layers", "kind", "shop"],
     "no incident has kind == 'shop'; the categories are"),
    (["backtest", "{csv}", "--crs", CRS, "--tz", TZ, "--start", "soon"],
     "--start 'soon' is not a date or time"),
    (["backtest", "{csv}", "--crs", CRS, "--tz", TZ, "--start", "2019-05-01", "--methods", "x"],
     "--methods 'x' is not a method; choose from risk, naive52"),
    (["backtest", "{csv}", "--crs", CRS, "--tz", TZ, "--start", "2018-05-01"],
     "no incident is known before --start 2018-05-01"),
    (["knox", "{csv}", "--crs", CRS, "--tz", TZ, "--distances", "0,a"],
     "--distances: 'a' is not a number"),
    (["knox", "{csv}", "--crs", CRS, "--tz", TZ, "--distances", "100,0"],
     "distance_bands must be strictly ascending"),
    (["summary", "{dir}/nope.csv", "--crs", CRS, "--tz", TZ],
     "no such incident file: '{dir}/nope.csv'"),
    (["summary", "{dir}/incidents.xlsx", "--crs", CRS, "--tz", TZ],
     "cannot tell the format of the incident file 'incidents.xlsx'"),
    (["summary", "{dir}", "--crs", CRS, "--tz", TZ], "is a folder; give the incident file"),
    (["summary", "{dir}/broken.gpkg", "--tz", TZ], "cannot read 'broken.gpkg'"),
    (["summary", "{csv}", "--crs", CRS, "--tz", TZ, "--filter", "colour == 'red'"],
     "--filter \"colour == 'red'\": 'colour' is not a column; the columns are "
     "['t', 'x', 'y', 'kind']"),
    (["summary", "{csv}", "--crs", CRS, "--tz", TZ, "--filter", "@events.__class__ == 1"],
     "'@' (a variable of the program, in pandas' query) is not allowed in a filter"),
    (["forecast", "{csv}", "--crs", CRS, "--tz", TZ, "--horizon", "14"],
     "--horizon '14' has no unit (a bare number would be read as nanoseconds); give a number "
     "with a unit, e.g. '14D' (days), '36h' (hours)"),
    (["forecast", "{csv}", "--crs", CRS, "--tz", TZ, "--horizon", "12h"],
     "--horizon '12h' is shorter than the shortest allowed, '1D'"),
    (["backtest", "{csv}", "--crs", CRS, "--tz", TZ, "--start", "2019-05-01", "--step", "14"],
     "--step '14' has no unit"),
    (["backtest", "{csv}", "--crs", CRS, "--tz", TZ, "--start", "2019-05-01", "--horizon", "14"],
     "--horizon '14' has no unit"),
    (["backtest", "{csv}", "--crs", CRS, "--tz", TZ, "--start", "2019-05-01", "--methods", "risk",
      "--horizon", "4h"], "--horizon '4h' is shorter than the shortest allowed, '1D'"),
    (["backtest", "{csv}", "--crs", CRS, "--tz", TZ, "--start", "2019-05-01", "--step", "1min"],
     # 2019-05-01 .. 2019-07-20 (the day after the last incident) is 80 days; less the 14D
     # horizon, 66 days of minutes, and the first origin: 66 * 1440 + 1 = 95,041.
     "gives about 95,041 forecast origins, more than max_origins=1,000; use a longer step (e.g. "
     "step='14D'), a shorter period, or raise max_origins. (on the command line: "
     "--max-origins"),
    (["summary", "--sample", "toronto", "--crs", CRS], "--crs describes an incident file"),
    (["simulate", "{dir}/city.shp"], "cannot tell the format of 'city.shp'"),
    (["simulate", "{dir}/city.csv", "--branching-ratio", "1.5"], "explosive"),
    (["simulate", "{dir}/city.csv", "--start", "someday"], "start='someday' is not a date"),
    (["simulate", "{dir}/city.csv", "--resolution", "0.001"],
     "would need about 6,400.0 TB of memory"),
    (["simulate", "{dir}/city.csv", "--background-rate", "1e7"], "would need about 834.3 GB"),
]  # fmt: skip


@pytest.mark.parametrize(("argv", "message"), BAD_INPUT)
def test_cli_bad_input_exits_2_with_a_message(tmp_path, incidents, capsys, argv, message):
    path, _ = incidents
    (tmp_path / "incidents.xlsx").write_text("")
    (tmp_path / "broken.gpkg").write_text("not a GeoPackage")
    values = {"csv": str(path), "dir": str(tmp_path)}
    argv = [a.format(**values) for a in argv]
    assert main(argv) == 2
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.startswith(f"caslite {argv[0]}: error: ")
    assert message.format(**values) in last


def test_cli_usage_errors_and_help(capsys):
    assert main(["forecast", "--sample", "nowhere"]) == 2
    assert "invalid choice: 'nowhere'" in capsys.readouterr().err
    assert main([]) == 2
    for command in ("summary", "forecast", "backtest", "knox", "simulate", "bench"):
        assert main([command, "--help"]) == 0
        text = capsys.readouterr().out
        assert f"usage: caslite {command}" in text and "examples:" in text
        assert "--quiet" in text


def test_cli_logs_progress_unless_quiet(tmp_path, capsys):
    args = ["simulate", str(tmp_path / "a.csv"), "--end", "2023-01-15", "--size", "1000"]
    assert main(args) == 0
    assert f"caslite simulate: wrote {tmp_path / 'a.csv'}" in capsys.readouterr().err
    assert main([*args, "--quiet"]) == 0
    assert capsys.readouterr().err == ""


def test_the_caslite_entry_point_runs():
    script = Path(sys.executable).with_name("caslite")
    assert script.exists(), "the caslite console script is not installed in this environment"
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=False)
    assert done.returncode == 0
    for command in ("forecast", "backtest", "knox", "simulate", "bench", "summary"):
        assert command in done.stdout


def test_cli_default_end_is_the_first_instant_of_a_day_whose_midnight_is_skipped(tmp_path, capsys):
    # Santiago de Chile moves its clocks from 2023-09-03 00:00 (-04) to 01:00 (-03): the day
    # after the last incident starts at 01:00, and no --end was given to blame.
    hours = np.arange(0, 24 * 60, 5)
    times = pd.Timestamp("2023-07-04 10:00") + pd.to_timedelta(hours, unit="h")
    assert times[-1] < pd.Timestamp("2023-09-03")
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(
        {
            "t": times.strftime("%Y-%m-%dT%H:%M"),
            "x": 300_000 + rng.normal(0, 200, hours.size),
            "y": 6_290_000 + rng.normal(0, 200, hours.size),
        }
    )
    path = tmp_path / "chile.csv"
    frame.to_csv(path, index=False)
    args = ["backtest", str(path), "--crs", "EPSG:32719", "--tz", "America/Santiago"]
    args += ["--start", "2023-08-20", "--step", "7D", "--horizon", "7D", "--methods", "naive52"]
    assert main([*args, "--no-progress", "--out", str(tmp_path / "bt"), "-q"]) == 0, (
        capsys.readouterr().err
    )
    scores = pd.read_csv(tmp_path / "bt" / "scores.csv")
    # origins 08-20 and 08-27: the second 7-day horizon ends 09-03 01:00 -03, by the end
    origins = pd.to_datetime(scores["origin"], utc=True).dt.tz_convert("America/Santiago")
    assert sorted({str(o.date()) for o in origins}) == ["2023-08-20", "2023-08-27"]


def test_cli_refuses_an_out_that_is_a_file_before_the_work(
    tmp_path, incidents, capsys, monkeypatch
):
    import caslite.knox

    path, _ = incidents
    taken = tmp_path / "taken"
    taken.write_text("")

    def not_reached(*args, **kwargs):
        raise AssertionError("the Knox test ran although --out cannot be written")

    monkeypatch.setattr(caslite.knox, "knox_test", not_reached)
    args = ["knox", *file_args(path), "--permutations", "9", "--out", str(taken), "-q"]
    assert main(args) == 2
    assert f"--out '{taken}' is a file, not a folder" in capsys.readouterr().err


def test_cli_backtest_of_the_risk_model_uses_the_shifts_and_horizon_asked_for(
    tmp_path, incidents, capsys
):
    # 8-hour shifts and 7-day horizons: the risk model must be trained on those, not on its
    # default 4-hour shifts (whose blocks it would refuse to score) and 14-day horizons.
    path, _ = incidents
    out = tmp_path / "bt"
    args = ["backtest", *file_args(path), "--start", "2019-07-10", "--end", "2019-07-20"]
    args += ["--methods", "risk", "--shift-hours", "8", "--horizon", "7D", "--step", "3D"]
    code = main([*args, "--retrain-every", "2", "--no-progress", "--out", str(out), "-q"])
    assert code == 0, capsys.readouterr().err
    scores = pd.read_csv(out / "scores.csv")
    assert set(scores["method"]) == {"risk"} and len(set(scores["origin"])) == 2
    assert np.isfinite(scores["shift_hit_rate"]).all()


@pytest.mark.parametrize("command", ["forecast", "backtest"])
def test_cli_risk_model_options_reach_the_model_and_default_to_its_own(command):
    base = [command, "incidents.csv", "--crs", CRS, "--tz", TZ]
    base += ["--start", "2019-05-01"] if command == "backtest" else []
    given = _parser().parse_args([*base, "--n-bags", "3", "--max-negatives", "2_000"])
    model = _forecaster("risk", 7, risk_options=_risk_options(given))
    assert (model.n_bags, model.max_negatives, model.random_state) == (3, 2000, 7)
    layers = {"flat": Events([0], [0.0], [0.0], crs=CRS, tz=TZ)}
    layered = _forecaster("risk", 7, risk_options=_risk_options(given, layers))
    assert layered.features.event_layers is layers and layered.n_bags == 3
    defaults = _forecaster("risk", 7, risk_options=_risk_options(_parser().parse_args(base)))
    assert defaults.get_params() == RiskModel(random_state=7).get_params()
