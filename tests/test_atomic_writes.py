"""A failed write never damages or removes the file already there, and leaves nothing behind.

Each test writes a good file, makes a second write of the same file fail (a column the format
cannot encode, a full disk simulated with RLIMIT_FSIZE in a subprocess, a folder operation
refused by the system), and then compares the old file byte for byte and lists the folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest
from shapely.geometry import box

from caslite import Forecast, Grid, ShiftSchedule, _atomic
from caslite.io import read_hot_cells, write_hot_cells, write_incidents
from caslite.persist import load_forecast, save_forecast

FORMATS = [(".gpkg", "column"), (".gpkg", "layers"), (".geojson", "column"),
           (".parquet", "column"), (".csv", "column")]  # fmt: skip


def small_forecast(n_side=2, seed=0):
    grid = Grid.from_area(box(0, 0, 125 * n_side, 125 * n_side), cell_size=125.0, crs="EPSG:28992")
    blocks = ShiftSchedule.every(12, tz="Europe/Amsterdam").horizon("2024-03-11", "1D")
    risk = np.random.default_rng(seed).random((len(blocks), grid.n_cells))
    return Forecast(risk, blocks, grid, origin=blocks.start[0])


@pytest.fixture(scope="module")
def hot():
    return small_forecast().top(k=2)


def assert_untouched(folder, path, before):
    assert path.read_bytes() == before
    assert sorted(os.listdir(folder)) == [path.name]  # no temporary file or folder left


# ---------------------------------------------------------------------- unencodable columns
# A CSV file writes any column as text, and GDAL writes a mixed column as text: those writes
# do not fail, so they are tested with a full disk below.
UNENCODABLE = [(".gpkg", "column", "complex"), (".gpkg", "layers", "complex"),
               (".geojson", "column", "complex"), (".parquet", "column", "complex"),
               (".parquet", "column", "mixed")]  # fmt: skip


@pytest.mark.parametrize(("suffix", "layout", "column"), UNENCODABLE)
def test_unencodable_column_leaves_old_hot_cells_file(tmp_path, hot, suffix, layout, column):
    path = tmp_path / f"hot{suffix}"
    write_hot_cells(hot, path, layout=layout)
    before = path.read_bytes()
    values = np.arange(len(hot)) + 1j if column == "complex" else [1, "a", b"x", 2.0]
    with pytest.raises((NotImplementedError, ValueError, TypeError)):  # pyarrow's are ValueErrors
        write_hot_cells(hot.assign(z=values), path, layout=layout)
    assert_untouched(tmp_path, path, before)
    back = read_hot_cells(path)
    assert len(back) == len(hot) and "z" not in back.columns


def test_failure_after_first_layer_leaves_old_geopackage(tmp_path, hot, monkeypatch):
    import geopandas

    path = tmp_path / "hot.gpkg"
    write_hot_cells(hot, path, layout="layers")
    before = path.read_bytes()
    original, calls = geopandas.GeoDataFrame.to_file, []

    def fail_second(self, *args, **kwargs):
        calls.append(kwargs.get("layer"))
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(geopandas.GeoDataFrame, "to_file", fail_second)
    with pytest.raises(OSError, match="No space"):
        write_hot_cells(small_forecast(seed=1).top(k=2), path, layout="layers")
    assert len(calls) == 2
    assert_untouched(tmp_path, path, before)


# ---------------------------------------------------------------------- full disk
FULL_DISK = textwrap.dedent(
    """
    import resource, signal, sys
    import numpy as np
    from shapely.geometry import box
    from caslite import Forecast, Grid, ShiftSchedule
    from caslite.io import write_hot_cells
    from caslite.persist import save_forecast

    grid = Grid.from_area(box(0, 0, 125 * 30, 125 * 30), cell_size=125.0, crs="EPSG:28992")
    blocks = ShiftSchedule.every(4, tz="Europe/Amsterdam").horizon("2024-03-11", "2D")
    risk = np.random.default_rng(1).random((len(blocks), grid.n_cells))
    forecast = Forecast(risk, blocks, grid, origin=blocks.start[0])
    hot = forecast.top(k=300)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))
    for path, layout in zip(sys.argv[1::2], sys.argv[2::2]):
        try:
            if layout == "forecast":
                save_forecast(forecast, path)
            else:
                write_hot_cells(hot, path, layout=layout)
        except Exception as error:
            print("failed", path, type(error).__name__)
        else:
            print("written", path)
    """
)


@pytest.mark.slow
def test_full_disk_leaves_old_files(tmp_path, hot):
    cases = [*FORMATS, (".caslite", "forecast")]
    arguments, old = [], {}
    for i, (suffix, layout) in enumerate(cases):
        folder = tmp_path / str(i)
        folder.mkdir()
        path = folder / f"out{suffix}"
        if layout == "forecast":
            save_forecast(small_forecast(), path)
        else:
            write_hot_cells(hot, path, layout=layout)
        old[path] = path.read_bytes()
        arguments += [str(path), layout]
    result = subprocess.run(
        [sys.executable, "-c", FULL_DISK, *arguments],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[:2] for line in lines] == [["failed", str(p)] for p in old], lines
    for path, before in old.items():
        assert_untouched(path.parent, path, before)


# ---------------------------------------------------------------------- refused by the system
def test_refused_replace_leaves_old_file(tmp_path, hot, monkeypatch):
    path = tmp_path / "hot.gpkg"
    write_hot_cells(hot, path)
    before = path.read_bytes()

    def refuse(source, target):
        raise PermissionError(13, "Permission denied", str(target))

    monkeypatch.setattr(_atomic.os, "replace", refuse)
    with pytest.raises(PermissionError):
        write_hot_cells(small_forecast(seed=2).top(k=3), path)
    assert_untouched(tmp_path, path, before)


def test_refused_temporary_folder_leaves_old_file(tmp_path, monkeypatch):
    path = tmp_path / "forecast.caslite"
    forecast = small_forecast()
    save_forecast(forecast, path)
    before = path.read_bytes()

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path))

    monkeypatch.setattr(_atomic.tempfile, "mkdtemp", refuse)
    with pytest.raises(PermissionError):
        save_forecast(small_forecast(seed=3), path)
    assert_untouched(tmp_path, path, before)
    assert np.array_equal(load_forecast(path).risk, forecast.risk)


def test_failed_archive_write_leaves_old_forecast(tmp_path, monkeypatch):
    path = tmp_path / "forecast.caslite"
    forecast = small_forecast()
    save_forecast(forecast, path)
    before = path.read_bytes()
    original, calls = zipfile.ZipFile.writestr, []

    def fail_third(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", fail_third)
    with pytest.raises(OSError, match="No space"):
        save_forecast(small_forecast(seed=4), path)
    assert_untouched(tmp_path, path, before)
    monkeypatch.undo()
    assert np.array_equal(load_forecast(path).risk, forecast.risk)


def test_incidents_and_text_helpers_are_atomic(tmp_path, monkeypatch):
    import pandas as pd

    frame = pd.DataFrame(
        {
            "t": pd.to_datetime(["2019-03-01 10:00"]).tz_localize("America/Toronto"),
            "x": [628000.0],
            "y": [4835000.0],
        }
    )
    path = tmp_path / "incidents.parquet"
    write_incidents(frame, path, crs="EPSG:32617")
    before = path.read_bytes()
    with pytest.raises((NotImplementedError, ValueError, TypeError)):
        write_incidents(frame.assign(z=[1j]), path, crs="EPSG:32617")
    assert_untouched(tmp_path, path, before)

    def broken_disk(path):
        raise OSError(5, "Input/output error")

    note = tmp_path / "incidents.parquet"  # the same file, rewritten as text: the flush fails
    monkeypatch.setattr(_atomic, "_fsync_file", broken_disk)
    with pytest.raises(OSError, match="Input/output"):
        _atomic.write_text(note, "replacement")
    assert_untouched(tmp_path, path, before)


def test_replaced_file_keeps_its_permissions_and_new_file_gets_umask(tmp_path, hot):
    path = tmp_path / "hot.csv"
    write_hot_cells(hot, path)
    umask = os.umask(0)
    os.umask(umask)
    assert (os.stat(path).st_mode & 0o777) == 0o666 & ~umask
    os.chmod(path, 0o640)
    write_hot_cells(hot, path)
    assert (os.stat(path).st_mode & 0o777) == 0o640


def test_figure_written_atomically_with_format_from_suffix(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    path = tmp_path / "plot.png"
    _atomic.save_figure(figure, path, dpi=20)
    plt.close(figure)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(os.listdir(tmp_path)) == ["plot.png"]
