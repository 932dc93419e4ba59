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
