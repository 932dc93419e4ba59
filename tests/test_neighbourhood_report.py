"""The neighbourhood report: counts against a plain count of the raw table, banding, HTML."""

import os
import re
import subprocess
import warnings
from pathlib import Path

import geopandas
import numpy as np
import pandas as pd
import pytest
import shapely

from caslite.datasets import load_sample
from caslite.neighbourhood import neighbourhood_report

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def events():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_sample("toronto").to_events(duplicates="drop")


@pytest.fixture(scope="module")
def raw():
    """The sample's rows without exact duplicates; times as their local wall-clock text."""
    return load_sample("toronto").frame.drop_duplicates()


def plain_counts(raw, lo, hi):
    inside = (raw["t"] >= lo) & (raw["t"] < hi)
    return raw.loc[inside, "neighbourhood"].value_counts()


@pytest.fixture(scope="module")
def report(events):
    return neighbourhood_report(events, area_column="neighbourhood", end="2019-06-01", min_count=1)


def test_counts_agree_with_a_plain_count_of_the_table(report, raw):
    # Period 18-31 May 2019; 52 weeks earlier 19 May - 1 June 2018; the 52 weeks before it.
    want = {
        "count": plain_counts(raw, "2019-05-18", "2019-06-01"),
        "last_year": plain_counts(raw, "2018-05-19", "2018-06-02"),
        "count_52w": plain_counts(raw, "2018-05-19", "2019-05-18"),
    }
    for column, counts in want.items():
        got = report.counts[column]
        assert got[got > 0].sort_index().to_dict() == counts.sort_index().to_dict(), column
    assert set(report.counts.index) == set(raw["neighbourhood"])
    assert np.allclose(report.counts["mean_52w"], report.counts["count_52w"] * 14 / 364)
    # the published table with min_count=1 is the counts themselves
    table = report.table.set_index("Neighbourhood")
    assert (table["This period"].astype(int) == report.counts["count"]).all()


def test_small_counts_are_banded(events):
    report = neighbourhood_report(events, area_column="neighbourhood", end="2019-06-01")
    counts = report.counts.loc[report.table["Neighbourhood"]]
    shown = report.table["This period"].to_numpy()
    small = counts["count"].between(1, 4).to_numpy()
    assert small.any() and (~small).any()
    assert (shown[small] == "1-4").all()
    assert (shown[~small] == counts["count"][~small].astype(str)).all()
    last = report.table["Same period last year"].to_numpy()
    assert set(last[counts["last_year"].between(1, 4).to_numpy()]) == {"1-4"}
    # no published number can be a small count: every cell is a band, 0, >= 5, a mean, a
    # change of two exact counts, or empty
    change = report.table["Change vs last year"]
    exact = ~small & ~counts["last_year"].between(1, 4).to_numpy()
    assert (change[~exact] == "").all() and (change[exact] != "").all()
    assert "1 to 4" in report.note
    means = report.table["52-week mean"]
    assert (means[(counts["count_52w"] < 5).to_numpy()] == "low").all()


def test_polygons_and_incidents_outside_them(events):
    # two halves of the western part of the sample window; the east is outside every polygon
    areas = geopandas.GeoDataFrame(
        {"buurt": ["North", "South"]},
        geometry=[shapely.box(623_000, 4_836_000, 626_000, 4_839_000),
                  shapely.box(623_000, 4_833_000, 626_000, 4_836_000)],
        crs=events.crs,
    )  # fmt: skip
    report = neighbourhood_report(
        events, areas=areas, name_column="buurt", end="2019-06-01", min_count=1, days=28
    )
    lo = pd.Timestamp("2019-05-04", tz=events.tz).timestamp()
    hi = pd.Timestamp("2019-06-01", tz=events.tz).timestamp()
    period = (events.t >= lo) & (events.t < hi)
    west = events.x < 626_000
    north = events.y >= 4_836_000
    assert report.counts.loc["North", "count"] == (period & west & north).sum()
    assert report.counts.loc["South", "count"] == (period & west & ~north).sum()
    assert report.counts.loc["(outside the areas)", "count"] == (period & ~west).sum()
    assert report.counts["count"].sum() == period.sum()  # nothing dropped


def test_an_incident_on_a_border_counts_in_a_neighbourhood():
    # Snapped incidents lie on streets, and streets are often the borders of neighbourhoods:
    # on the shared edge (x = 500) and on the outer edge (y = 0) they are in an area, not
    # outside; on the shared edge in the first area by name ("East" before "West").
    from caslite.events import Events

    areas = geopandas.GeoDataFrame(
        {"name": ["West", "East"]},
        geometry=[shapely.box(0, 0, 500, 1000), shapely.box(500, 0, 1000, 1000)],
        crs="EPSG:28992",
    )
    x = np.array([500.0, 500.0, 250.0, 750.0, 250.0, 2000.0])
    y = np.array([300.0, 0.0, 0.0, 500.0, 500.0, 500.0])
    t = pd.Timestamp("2024-05-10", tz="Europe/Amsterdam").timestamp() + np.arange(6) * 3600
    events = Events(t.astype(np.int64), x, y, crs="EPSG:28992", tz="Europe/Amsterdam")
    report = neighbourhood_report(events, areas=areas, min_count=1, days=7)
    counts = report.counts["count"]
    assert counts.to_dict() == {"East": 3, "West": 2, "(outside the areas)": 1}


def test_row_order_does_not_give_banded_counts_away():
    # West has 3 incidents, East 1, North 6, South 0; with min_count=5 West and East are
    # both "1-4": sorted by their true counts West would come first and show 3 > 1.
    from caslite.events import Events

    x = np.r_[np.full(3, 250.0), 750.0, np.full(6, 500.0)]
    y = np.r_[np.full(3, 500.0), 500.0, np.full(6, 1500.0)]
    areas = geopandas.GeoDataFrame(
        {"name": ["West", "East", "North", "South"]},
        geometry=[shapely.box(0, 0, 500, 1000), shapely.box(500, 0, 1000, 1000),
                  shapely.box(0, 1000, 1000, 2000), shapely.box(0, -1000, 1000, 0)],
        crs="EPSG:28992",
    )  # fmt: skip
    t = pd.Timestamp("2024-05-10", tz="Europe/Amsterdam").timestamp() + np.arange(10) * 3600
    events = Events(t.astype(np.int64), x, y, crs="EPSG:28992", tz="Europe/Amsterdam")
    report = neighbourhood_report(events, areas=areas, min_count=5, days=7)
    table = report.table.set_index("Neighbourhood")["This period"]
    assert table.index.tolist() == ["North", "East", "West", "South"]
    assert table.tolist() == ["6", "1-4", "1-4", "0"]
    assert report.counts.loc[["East", "West"], "count"].tolist() == [1, 3]  # for the police


def test_bad_input(events):
    with pytest.raises(ValueError, match="not neither"):
        neighbourhood_report(events)
    with pytest.raises(ValueError, match="no column 'buurt'"):
        neighbourhood_report(events, area_column="buurt")
    areas = geopandas.GeoDataFrame({"name": ["A"]}, geometry=[shapely.box(0, 0, 1, 1)],
                                   crs="EPSG:28992")  # fmt: skip
    with pytest.raises(ValueError, match="CRS mismatch"):
        neighbourhood_report(events, areas=areas)
    with pytest.raises(ValueError, match="min_count"):
        neighbourhood_report(events, area_column="neighbourhood", min_count=0)


def test_min_count_two_is_refused_because_its_band_is_one_exact_value(events, tmp_path, capsys):
    from caslite.cli import main

    with pytest.raises(ValueError, match=r"min_count=2 \(--min-count 2\).*min_count=3"):
        neighbourhood_report(events, area_column="neighbourhood", min_count=2)
    argv = ["report", "--sample", "toronto", "--duplicates", "drop", "--area-column",
            "neighbourhood", "--min-count", "2", "--out", str(tmp_path / "out"), "-q"]  # fmt: skip
    assert main(argv) == 2
    assert "--min-count 3" in capsys.readouterr().err
    assert not (tmp_path / "out" / "report.html").exists()
    # every band left holds at least two counts
    for min_count in (3, 5):
        report = neighbourhood_report(events, area_column="neighbourhood", min_count=min_count)
        assert report.note.count(f"1-{min_count - 1}") == 1
    for bad in (0, "1000", float("nan"), -1000.0, True):
        with pytest.raises(ValueError, match=r"outline_cell_m \(--outline-cell\)"):
            neighbourhood_report(events, area_column="neighbourhood", outline_cell_m=bad)


def _lattice_events(offset_x=150_000.0, offset_y=450_000.0):
    """Incidents in 1 km squares with known winners (squares counted from the CRS origin).

    Square (0, 0): A 3, B 2 -> A. Square (1, 0): B 4, Lone 1 -> B (Lone's only incident).
    Square (0, 1): C 2, D 2 -> C (a tie, to the first name). Square (5, 5): E 2 -> fewer
    than min_count=3 incidents, left out. Half of the incidents are a year before the rest.
    """
    from caslite.events import Events

    rows = [((0, 0), "A", 3), ((0, 0), "B", 2), ((1, 0), "B", 4), ((1, 0), "Lone", 1),
            ((0, 1), "C", 2), ((0, 1), "D", 2), ((5, 5), "E", 2)]  # fmt: skip
    x, y, names = [], [], []
    for (i, j), name, n in rows:
        for k in range(n):
            x.append(offset_x + i * 1000 + 100 + 150 * k)  # spread inside the square
            y.append(offset_y + j * 1000 + 900 - 130 * k)
            names.append(name)
    start = pd.Timestamp("2023-05-01", tz="Europe/Amsterdam").timestamp()
    t = start + np.arange(len(x)) * 3600 + np.arange(len(x)) % 2 * 364 * 86400
    order = np.argsort(t, kind="stable")
    return Events(t.astype(np.int64)[order], np.array(x)[order], np.array(y)[order],
                  crs="EPSG:28992", tz="Europe/Amsterdam",
                  data=pd.DataFrame({"hood": np.array(names)[order]}))  # fmt: skip


def test_map_outlines_from_a_column_follow_a_coarse_grid_not_the_incidents():
    events = _lattice_events()
    report = neighbourhood_report(events, area_column="hood", min_count=3, days=7)
    areas = report.areas.set_index("area").geometry
    x0, y0 = 150_000.0, 450_000.0
    want = {
        "A": shapely.box(x0, y0, x0 + 1000, y0 + 1000),
        "B": shapely.box(x0 + 1000, y0, x0 + 2000, y0 + 1000),
        "C": shapely.box(x0, y0 + 1000, x0 + 1000, y0 + 2000),
    }
    assert sorted(areas.index) == sorted(want)  # no outline of its own for Lone, D or E
    for name, square in want.items():
        assert areas[name].normalize().equals_exact(square.normalize(), 0.0), name
    # the whole history counts, not the report period: the same outlines for an earlier end
    earlier = neighbourhood_report(events, area_column="hood", min_count=3, days=7,
                                   end="2023-06-01")  # fmt: skip
    assert earlier.areas.geometry.geom_equals_exact(report.areas.geometry, 0.0).all()
    # the counts are still of every incident: 8 in the period, the other 8 a year earlier
    assert report.counts[["count", "last_year"]].sum().tolist() == [8, 8]
    assert set(report.counts.index) == {"A", "B", "C", "D", "E", "Lone"}


def _vertices(areas):
    return shapely.get_coordinates(areas.geometry.boundary)


@pytest.mark.parametrize("cell", [1000.0, 500.0, 250.0])
def test_outline_vertices_on_real_data_lie_on_the_grid_lattice(events, cell):
    report = neighbourhood_report(events, area_column="neighbourhood", end="2019-06-01",
                                  outline_cell_m=cell)  # fmt: skip
    xy = _vertices(report.areas)
    assert len(xy) > 100
    steps = xy / cell
    assert np.array_equal(steps, np.round(steps))
    # an independent tally: per square the name with most incidents (ties: first name),
    # squares with fewer than min_count=5 incidents left out
    data = pd.DataFrame({"i": np.floor(events.x / cell), "j": np.floor(events.y / cell),
                         "name": events.data["neighbourhood"].to_numpy()}).dropna()  # fmt: skip
    want = {}
    for (i, j), group in data.groupby(["i", "j"]):
        if len(group) >= 5:
            tally = group["name"].value_counts()
            best = sorted(tally.index[tally == tally.max()])[0]
            want.setdefault(best, []).append(shapely.box(i * cell, j * cell, (i + 1) * cell,
                                                         (j + 1) * cell))  # fmt: skip
    got = report.areas.set_index("area").geometry
    assert sorted(got.index) == sorted(want)
    for name, squares in want.items():
        assert got[name].symmetric_difference(shapely.union_all(squares)).area == 0.0, name


def test_html_is_one_self_contained_phone_page(events, tmp_path):
    report = neighbourhood_report(
        events, area_column="neighbourhood", end="2019-06-01", language="nl"
    )
    path = tmp_path / "report.html"
    page = report.to_html(path)
    assert path.read_text(encoding="utf-8") == page
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "max-width" in page and '<html lang="nl">' in page
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", page)  # nothing fetched
    assert "<script" not in page
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 1 and len(images[0]) > 10_000
    body = page.split("<tbody>")[1].split("</tbody>")[0]
    assert body.count("<tr>") == len(report.table)
    assert "Inbraken per buurt" in page and "Zelfde periode vorig jaar" in page
    csv = pd.read_csv(report.to_csv(tmp_path / "report.csv"), dtype=str, keep_default_na=False)
    assert csv.equals(report.table.astype(str))


def test_cli_report_on_the_shipped_sample(tmp_path, raw):
    from caslite.cli import main

    out = tmp_path / "out"
    argv = ["report", "--sample", "toronto", "--duplicates", "drop", "--area-column",
            "neighbourhood", "--end", "2019-06-01", "--out", str(out), "-q"]  # fmt: skip
    assert main(argv) == 0
    table = pd.read_csv(out / "report.csv", dtype=str, keep_default_na=False)
    counts = plain_counts(raw, "2019-05-18", "2019-06-01")
    for name, count in counts.items():
        row = table.loc[table["Neighbourhood"] == name, "This period"].item()
        assert row == (str(count) if count >= 5 else "1-4")
    assert (out / "report.png").stat().st_size > 10_000
    assert (out / "report.html").stat().st_size > 10_000


# ---------------------------------------------------------------------- a real browser
def _chromium():
    if CHROMIUM.exists():
        return str(CHROMIUM)
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing; CI installs Debian's chromium for this test.")
    pytest.skip(f"{CHROMIUM} is not installed")


def _run_chromium(tmp_path, *args):
    command = [
        _chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=3000",
        "--window-size=390,844", *args,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=True)


def test_report_renders_on_a_phone_sized_headless_chromium(events, tmp_path):
    from matplotlib.image import imread

    report = neighbourhood_report(events, area_column="neighbourhood", end="2019-06-01")
    path = tmp_path / "report.html"
    report.to_html(path)
    url = path.resolve().as_uri()
    dom = _run_chromium(tmp_path, "--dump-dom", url).stdout
    assert dom.count("<tr>") == len(report.table) + 1  # header and one row per neighbourhood
    assert "data:image/png;base64," in dom
    screenshot = tmp_path / "report.png"
    _run_chromium(tmp_path, f"--screenshot={screenshot}", url)
    pixels = imread(screenshot)[..., :3]
    assert pixels.shape[:2] == (844, 390)
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50  # not a blank page
