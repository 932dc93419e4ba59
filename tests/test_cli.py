import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from caslite.cli import main
from caslite.events import Events
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
