import sqlite3

import geopandas
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from shapely.geometry import box

from caslite import Events, Forecast, Grid, ShiftSchedule
from caslite.io import read_hot_cells, write_hot_cells, write_incidents

TZ = "Europe/Amsterdam"
CRS = "EPSG:28992"
FORMATS = ["gpkg", "geojson", "parquet", "csv"]


def hot_cells(hours=4, start="2019-10-26", horizon="2D", seed=0, k=3):
    """Hot cells of a random forecast over the weekend clocks go back in Amsterdam."""
    grid = Grid.from_area(box(120_000, 480_000, 120_750, 480_500), cell_size=125.0, crs=CRS)
    blocks = ShiftSchedule.every(hours, tz=TZ).horizon(start, horizon)
    risk = np.random.default_rng(seed).gamma(0.5, 0.01, (len(blocks), grid.n_cells))
    forecast = Forecast(risk, blocks, grid, origin=blocks.start[0])
    return forecast.top(k=k), blocks


def frame_of(gdf):
    return pd.DataFrame(gdf.drop(columns=gdf.geometry.name))


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_round_trips_columns_dtypes_times_and_crs(tmp_path, fmt):
    hot, _ = hot_cells()
    hot["patrol_unit"] = np.arange(len(hot)) % 3  # an extra column travels along
    paths = write_hot_cells(hot, tmp_path / f"hot.{fmt}")
    assert paths == [tmp_path / f"hot.{fmt}"]
    back = read_hot_cells(paths[0])
    pd.testing.assert_frame_equal(frame_of(back), frame_of(hot), check_dtype=True)
    assert back.crs == hot.crs
    assert back.geometry.geom_equals_exact(hot.geometry, tolerance=1e-6).all()
    assert str(back["shift_start"].dt.tz) == TZ
    # the 25-hour day: a shift that starts at 00:00 +02:00 and ends at 04:00 +01:00
    long_shift = back[back["shift_start"] == pd.Timestamp("2019-10-27 00:00", tz=TZ)]
    assert (long_shift["shift_end"] - long_shift["shift_start"] == pd.Timedelta(hours=5)).all()


@pytest.mark.parametrize("fmt", ["gpkg", "geojson", "parquet"])
def test_geopandas_reads_the_crs_back_as_written(tmp_path, fmt):
    hot, _ = hot_cells()
    (path,) = write_hot_cells(hot, tmp_path / f"hot.{fmt}")
    raw = geopandas.read_parquet(path) if fmt == "parquet" else geopandas.read_file(path)
    assert raw.crs == hot.crs
    assert len(raw) == len(hot)


def test_csv_holds_wkt_squares_and_the_crs(tmp_path):
    hot, _ = hot_cells()
    (path,) = write_hot_cells(hot, tmp_path / "hot.csv")
    table = pd.read_csv(path)
    assert set(table["crs"]) == {CRS}
    squares = shapely.from_wkt(table["wkt"].to_numpy())
    # every square has the cell centre (x, y) at its centroid and a 125 m side
    centroids = shapely.centroid(squares)
    np.testing.assert_allclose(shapely.get_x(centroids), table["x"])
    np.testing.assert_allclose(shapely.get_y(centroids), table["y"])
    np.testing.assert_allclose(shapely.area(squares), 125.0**2)
    assert "geometry" not in table.columns


def test_geopackage_times_are_local_text_and_utc_datetimes(tmp_path):
    hot, blocks = hot_cells()
    (path,) = write_hot_cells(hot, tmp_path / "hot.gpkg")
    with sqlite3.connect(path) as db:
        schema = {row[1]: row[2] for row in db.execute("PRAGMA table_info(hot_cells)")}
        rows = db.execute(
            "SELECT shift, shift_start, shift_end, shift_start_utc, time_zone, cell_id "
            "FROM hot_cells ORDER BY fid"
        ).fetchall()
    assert schema["shift_start"] == "TEXT" and schema["shift_start_utc"] == "DATETIME"
    assert schema["shift"] in ("INTEGER", "MEDIUMINT", "BIGINT")
    frame = blocks.to_frame()
    # hand-made expectations: block b of the horizon, its local and UTC start as text
    for (shift, start, end, start_utc, zone, cell), (_, row) in zip(
        rows, hot.iterrows(), strict=True
    ):
        b = int(np.flatnonzero(frame["block_start"] == row["shift_start"])[0])
        assert shift == b
        local = frame["block_start"].iloc[b]
        text = local.strftime("%Y-%m-%dT%H:%M:%S%z")  # ...+0200 -> ...+02:00
        assert start == text[:-2] + ":" + text[-2:]
        text = frame["block_end"].iloc[b].strftime("%Y-%m-%dT%H:%M:%S%z")
        assert end == text[:-2] + ":" + text[-2:]
        assert start_utc.rstrip("Z").replace(".000", "") == local.tz_convert("UTC").strftime(
            "%Y-%m-%dT%H:%M:%S"
        )
        assert zone == TZ and cell == row["cell_id"]
    assert rows[0][1] == "2019-10-26T00:00:00+02:00"


def test_layers_layout_has_one_layer_per_shift_named_by_its_local_start(tmp_path):
    hot, blocks = hot_cells()
    (path,) = write_hot_cells(hot, tmp_path / "hot.gpkg", layout="layers")
    names = [str(n) for n in pyogrio.list_layers(path)[:, 0]]
    starts = blocks.to_frame()["block_start"]
    expected = [f"shift_{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}-00" for t in starts]
    assert sorted(names) == sorted(expected)
    assert "shift_2019-10-27T04-00" in names  # the block after the 5-hour one
    for name, start in zip(expected, starts, strict=True):
        layer = read_hot_cells(path, layer=name)
        assert (layer["shift_start"] == start).all()
        assert len(layer) == int((hot["shift_start"] == start).sum())
    back = read_hot_cells(path)
    pd.testing.assert_frame_equal(frame_of(back), frame_of(hot))
    assert back.crs == hot.crs


def test_layer_names_get_the_offset_when_two_shifts_share_a_wall_clock_start(tmp_path):
    hot, _ = hot_cells(k=1, horizon="1D")
    first, second = (
        pd.Timestamp("2019-10-27 02:00:00+02:00").tz_convert(TZ),
        pd.Timestamp("2019-10-27 02:00:00+01:00").tz_convert(TZ),
    )
    hot = hot.iloc[:2].copy()
    hot["shift_start"] = pd.Series([first, second], index=hot.index).dt.as_unit("us")
    hot["shift_end"] = hot["shift_start"] + pd.Timedelta(hours=1)
    (path,) = write_hot_cells(hot, tmp_path / "hot.gpkg", layout="layers")
    names = sorted(str(n) for n in pyogrio.list_layers(path)[:, 0])
    assert names == ["shift_2019-10-27T02-00+0100", "shift_2019-10-27T02-00+0200"]
    back = read_hot_cells(path)
    assert list(back["shift_start"]) == [first, second]


def test_writing_replaces_the_whole_file(tmp_path):
    hot, _ = hot_cells()
    path = tmp_path / "hot.gpkg"
    write_hot_cells(hot, path, layout="layers")
    write_hot_cells(hot.iloc[:4], path, layer="plan")
    assert [str(n) for n in pyogrio.list_layers(path)[:, 0]] == ["plan"]
    assert len(read_hot_cells(path)) == 4


def test_write_errors_name_the_problem(tmp_path):
    hot, _ = hot_cells()
    with pytest.raises(ValueError, match=r"'hot\.shp'.*supported: \.gpkg \(GeoPackage\), "):
        write_hot_cells(hot, tmp_path / "hot.shp")
    with pytest.raises(ValueError, match="lack column 'rank'"):
        write_hot_cells(hot.drop(columns="rank"), tmp_path / "hot.gpkg")
    naive = hot.assign(shift_start=hot["shift_start"].dt.tz_localize(None))
    with pytest.raises(ValueError, match="'shift_start' must hold time-zone-aware"):
        write_hot_cells(naive, tmp_path / "hot.gpkg")
    with pytest.raises(ValueError, match="no CRS"):
        write_hot_cells(hot.set_crs(None, allow_override=True), tmp_path / "hot.gpkg")
    with pytest.raises(ValueError, match="layout='layers'.*needs a GeoPackage"):
        write_hot_cells(hot, tmp_path / "hot.geojson", layout="layers")
    with pytest.raises(ValueError, match="layout='weird' is not one of"):
        write_hot_cells(hot, tmp_path / "hot.gpkg", layout="weird")
    with pytest.raises(ValueError, match="layer= applies to a GeoPackage"):
        write_hot_cells(hot, tmp_path / "hot.csv", layer="x")
    with pytest.raises(ValueError, match="prefix GeoPackage reserves"):
        write_hot_cells(hot, tmp_path / "hot.gpkg", layer="gpkg_contents")
    with pytest.raises(ValueError, match="non-empty name"):
        write_hot_cells(hot, tmp_path / "hot.gpkg", layer=" ")
    with pytest.raises(ValueError, match="column 'shift', a name the files use"):
        write_hot_cells(hot.assign(shift=1), tmp_path / "hot.gpkg")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_hot_cells(hot, tmp_path / "missing" / "hot.gpkg")
    with pytest.raises(TypeError, match="GeoDataFrame of hot cells"):
        write_hot_cells(pd.DataFrame(hot), tmp_path / "hot.gpkg")


@pytest.mark.parametrize("fmt", FORMATS)
def test_shift_labels_that_look_like_numbers_stay_text(tmp_path, fmt):
    grid = Grid.from_area(box(120_000, 480_000, 120_250, 480_250), cell_size=125.0, crs=CRS)
    schedule = ShiftSchedule(["00:00", "08:00", "16:00"], tz=TZ, labels=["01", "1e3", "NA"])
    blocks = schedule.horizon("2019-03-01", "1D")
    risk = np.random.default_rng(3).gamma(0.5, 0.01, (len(blocks), grid.n_cells))
    hot = Forecast(risk, blocks, grid, origin=blocks.start[0]).top(k=2)
    (path,) = write_hot_cells(hot, tmp_path / f"hot.{fmt}")
    assert read_hot_cells(path)["label"].tolist() == ["01", "01", "1e3", "1e3", "NA", "NA"]


@pytest.mark.parametrize("layout", ["column", "layers"])
def test_an_empty_table_is_refused_and_leaves_an_existing_file(tmp_path, layout):
    # Forecast.top gives an empty table when no cell fits in the coverage: no file that
    # read_hot_cells could read back (no CRS or time zone rows, no layer per shift) is written
    hot, _ = hot_cells()
    path = tmp_path / "hot.gpkg"
    write_hot_cells(hot, path)
    with pytest.raises(ValueError, match="no rows"):
        write_hot_cells(hot.iloc[:0], path, layout=layout)
    assert len(read_hot_cells(path)) == len(hot)


def test_read_errors_name_the_problem(tmp_path):
    hot, _ = hot_cells()
    (path,) = write_hot_cells(hot, tmp_path / "hot.gpkg", layout="layers")
    with pytest.raises(ValueError, match=r"no layer 'hot_cells'; its layers are \['shift_"):
        read_hot_cells(path, layer="hot_cells")
    with pytest.raises(FileNotFoundError, match="no such hot-cells file"):
        read_hot_cells(tmp_path / "nope.gpkg")
    with pytest.raises(ValueError, match="supported"):
        read_hot_cells(tmp_path / "hot.txt")
    other = tmp_path / "other.geojson"
    geopandas.GeoDataFrame({"a": [1]}, geometry=[box(0, 0, 1, 1)], crs=CRS).to_file(other)
    with pytest.raises(ValueError, match="not a hot-cells file of caslite: it lacks column"):
        read_hot_cells(other)
    two = tmp_path / "two.gpkg"
    for name in ("a", "b"):
        geopandas.GeoDataFrame({"a": [1]}, geometry=[box(0, 0, 1, 1)], crs=CRS).to_file(
            two, layer=name
        )
    with pytest.raises(ValueError, match=r"several layers .*\['a', 'b'\]; choose one"):
        read_hot_cells(two)
    (csv,) = write_hot_cells(hot, tmp_path / "hot.csv")
    pd.read_csv(csv).drop(columns="wkt").to_csv(csv, index=False)
    with pytest.raises(ValueError, match="no 'wkt' column"):
        read_hot_cells(csv)


@pytest.mark.parametrize("fmt", FORMATS)
def test_write_incidents_reads_back_as_the_same_events(tmp_path, fmt):
    rng = np.random.default_rng(1)
    n = 50
    seconds = np.sort(rng.integers(1_553_400_000, 1_553_900_000, n))  # across 31 March 2019
    frame = pd.DataFrame(
        {
            "t": pd.to_datetime(seconds, unit="s", utc=True).tz_convert(TZ),
            "x": rng.uniform(120_000, 121_000, n),
            "y": rng.uniform(480_000, 481_000, n),
            "kind": rng.choice(["house", "flat"], n),
        }
    )
    (path,) = write_incidents(frame, tmp_path / f"incidents.{fmt}", crs=CRS)
    options = {"crs": CRS} if fmt == "csv" else {}
    events = Events.read(path, tz=TZ, **options)
    np.testing.assert_array_equal(events.t, seconds)
    np.testing.assert_allclose(events.x, frame["x"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(events.y, frame["y"], rtol=0, atol=1e-6)
    assert events.crs == geopandas.GeoSeries(crs=CRS).crs
    assert list(events.data["kind"]) == list(frame["kind"])


def test_write_incidents_refuses_naive_times_and_missing_columns(tmp_path):
    frame = pd.DataFrame({"t": pd.to_datetime(["2019-03-01"]), "x": [0.0], "y": [0.0]})
    with pytest.raises(ValueError, match="time-zone-aware"):
        write_incidents(frame, tmp_path / "a.csv", crs=CRS)
    with pytest.raises(ValueError, match=r"column 'east' not found.*\['t', 'x', 'y'\]"):
        write_incidents(frame, tmp_path / "a.csv", crs=CRS, x="east")
    with pytest.raises(ValueError, match="supported"):
        write_incidents(frame, tmp_path / "a.xlsx", crs=CRS)
