"""The prevention tools' files: a failed write leaves the previous file byte for byte, and no
temporary file behind.

Each test writes a good file, makes a second write of the same file fail (a column the format
cannot encode, a text that is not valid Unicode, a layer write or a final move refused by the
system) and compares the old file byte for byte and lists the folder.
"""

from __future__ import annotations

import dataclasses
import os
import warnings

import geopandas
import numpy as np
import pandas as pd
import pytest

from caslite import _atomic
from caslite.alerts import near_repeat_alerts
from caslite.events import Events
from caslite.neighbourhood import neighbourhood_report

DAY = 86_400
CRS, TZ = "EPSG:28992", "Europe/Amsterdam"


def assert_untouched(folder, path, before):
    assert path.read_bytes() == before
    assert sorted(os.listdir(folder)) == [path.name]  # no temporary file or folder left


def refuse_replace(monkeypatch, name=None):
    """Make the final move of every written file (or only of the file ``name``) fail."""
    original = os.replace

    def refuse(source, target):
        if name is None or os.path.basename(target) == name:
            raise PermissionError(13, "Permission denied", str(target))
        return original(source, target)

    monkeypatch.setattr(_atomic.os, "replace", refuse)


def small_events(seed, names=("North", "South", "East")):
    """60 incidents over 400 days in a 3 km square, with a neighbourhood column."""
    rng = np.random.default_rng(seed)
    n = 60
    t = np.sort(rng.integers(0, 400 * DAY, n)) + 1_600_000_000
    data = pd.DataFrame({"hood": rng.choice(list(names), n)})
    return Events(t, rng.uniform(0, 3000, n), rng.uniform(0, 3000, n), crs=CRS, tz=TZ, data=data)


def small_alerts(seed):
    events = small_events(seed)
    cut = events.t[-5]
    known, new = events.select(events.t < cut), events.select(events.t >= cut)
    return near_repeat_alerts(known, new, area_column="hood", radius_m=300, window_days=14,
                              random_state=seed)  # fmt: skip


# ---------------------------------------------------------------------- alert GeoPackage
@pytest.fixture(scope="module")
def alerts():
    return small_alerts(0)


def test_unencodable_column_leaves_old_alert_geopackage(tmp_path, alerts):
    path = tmp_path / "zones.gpkg"
    alerts.to_file(path)
    before = path.read_bytes()
    zones = alerts.zones.assign(z=np.arange(len(alerts.zones)) + 1j)
    with pytest.raises((NotImplementedError, ValueError, TypeError)):
        dataclasses.replace(alerts, zones=zones).to_file(path)
    assert_untouched(tmp_path, path, before)
    assert "z" not in geopandas.read_file(path, layer="zones").columns


def test_failure_on_the_revisits_layer_leaves_old_alert_geopackage(tmp_path, alerts, monkeypatch):
    path = tmp_path / "zones.gpkg"
    alerts.to_file(path)
    before = path.read_bytes()
    original, layers = geopandas.GeoDataFrame.to_file, []

    def fail_second(self, *args, **kwargs):
        layers.append(kwargs.get("layer"))
        if len(layers) == 2:
            raise OSError(28, "No space left on device")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(geopandas.GeoDataFrame, "to_file", fail_second)
    with pytest.raises(OSError, match="No space"):
        small_alerts(1).to_file(path)
    assert layers == ["zones", "revisits"]
    assert_untouched(tmp_path, path, before)


def test_refused_replace_leaves_old_alert_geopackage(tmp_path, alerts, monkeypatch):
    path = tmp_path / "zones.gpkg"
    alerts.to_file(path)
    before = path.read_bytes()
    refuse_replace(monkeypatch)
    with pytest.raises(PermissionError):
        small_alerts(1).to_file(path)
    assert_untouched(tmp_path, path, before)


# ---------------------------------------------------------------------- report HTML and CSV
@pytest.fixture(scope="module")
def report():
    return neighbourhood_report(small_events(0), area_column="hood", days=28, min_count=1)


def test_text_that_is_not_unicode_leaves_old_report_csv(tmp_path, report):
    # A lone surrogate (e.g. from a file read with errors="surrogateescape") cannot be
    # written as UTF-8: the CSV writer fails part way through the file.
    path = tmp_path / "report.csv"
    report.to_csv(path)
    before = path.read_bytes()
    broken = report.table.astype(object)
    broken.iloc[-1, 0] = "Nord\udcff"
    with pytest.raises(UnicodeEncodeError):
        dataclasses.replace(report, table=broken).to_csv(path)
    assert_untouched(tmp_path, path, before)


def test_failed_flush_leaves_old_report_html(tmp_path, report, monkeypatch):
    path = tmp_path / "report.html"
    report.to_html(path)
    before = path.read_bytes()
    other = neighbourhood_report(small_events(1), area_column="hood", days=28, min_count=1)

    def broken_disk(path):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(_atomic, "_fsync_file", broken_disk)
    with pytest.raises(OSError, match="Input/output"):
        other.to_html(path)
    assert_untouched(tmp_path, path, before)


@pytest.mark.parametrize("name", ["report.csv", "report.html"])
def test_refused_replace_leaves_old_report_file(tmp_path, report, monkeypatch, name):
    path = tmp_path / name
    write = report.to_csv if name.endswith(".csv") else report.to_html
    write(path)
    before = path.read_bytes()
    other = neighbourhood_report(small_events(1), area_column="hood", days=28, min_count=1)
    refuse_replace(monkeypatch)
    with pytest.raises(PermissionError):
        (other.to_csv if name.endswith(".csv") else other.to_html)(path)
    assert_untouched(tmp_path, path, before)


# ---------------------------------------------------------------------- command line
def run_cli(argv):
    from caslite.cli import main

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return main(argv)


# The command writes its files one by one; the move of one file in the middle is refused: the
# files before it are new, that file and the files after it are the old ones, nothing else is
# left in the folder.
CLI_CASES = {
    "outlook": (
        ["--district-size", "4000", "--weeks", "2", "--lookback-weeks", "52"],
        ["--origin", "2019-10-01"], ["--origin", "2019-11-01"],
        ["outlook.csv"], "ranking.csv", ["outlook.png"],
    ),
    "alert": (
        ["--area-column", "neighbourhood", "--radius", "200", "--window-days", "14"],
        ["--since", "2019-12-01", "--until", "2019-12-02"],
        ["--since", "2019-12-02", "--until", "2019-12-03"],
        ["zones.gpkg", "zones.csv", "revisits.csv", "cells.csv", "messages.csv"],
        "messages.txt", [],
    ),
    "report": (
        ["--area-column", "neighbourhood"], ["--end", "2019-06-01"], ["--end", "2019-07-01"],
        ["report.csv"], "report.html", ["report.png"],
    ),
}  # fmt: skip


@pytest.mark.parametrize("command", list(CLI_CASES))
def test_failed_cli_write_leaves_old_file(tmp_path, monkeypatch, capsys, command):
    options, first, second, new, refused, old = CLI_CASES[command]
    out = tmp_path / command
    common = [command, "--sample", "toronto", "--duplicates", "drop", *options, "--out",
              str(out), "-q"]  # fmt: skip
    assert run_cli([*common, *first]) == 0
    before = {name: (out / name).read_bytes() for name in os.listdir(out)}
    assert sorted(before) == sorted([*new, refused, *old])
    refuse_replace(monkeypatch, refused)
    assert run_cli([*common, *second]) == 2
    assert "Permission denied" in capsys.readouterr().err
    assert sorted(os.listdir(out)) == sorted(before)
    for name in new:
        assert (out / name).read_bytes() != before[name], name
    for name in [refused, *old]:
        assert (out / name).read_bytes() == before[name], name
