"""The shipped samples load, keep their quirks and match the script that makes them."""

import dataclasses
import gzip
import importlib.resources
import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from caslite.datasets import Sample, load_sample, simulate_city
from caslite.datasets._samples import SAMPLES, SYNTHETIC_SAMPLE_PARAMS, TORONTO_WINDOW

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "data" / "sample" / "make_samples.py"
SOURCE = REPO.parent / "shared" / "data" / "toronto" / "burglary.csv"
ATTRIBUTION = (
    "Contains information licensed under the Open Government Licence – Ontario "
    "(Toronto Police Service, Major Crime Indicators)"
)
HAS_EVENTS = importlib.util.find_spec("caslite.events") is not None


def one_line(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def make_samples():
    if not SCRIPT.exists():
        pytest.skip("data/sample/make_samples.py is not in this checkout")
    spec = importlib.util.spec_from_file_location("make_samples", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def source_rows():
    """Rows of the full Toronto file under the sample's filter, read independently."""
    if not SOURCE.exists():
        pytest.skip(f"{SOURCE} is absent")
    full = pd.read_csv(SOURCE, dtype={"t": str})
    w = TORONTO_WINDOW
    year = pd.to_numeric(full["t"].str[:4])
    inside = (
        (full["x"] >= w["xmin"])
        & (full["x"] < w["xmax"])
        & (full["y"] >= w["ymin"])
        & (full["y"] < w["ymax"])
        & (year >= 2016)
        & (year <= 2019)
    )
    return full[inside].drop(columns=["lat", "lon", "source_split"])


def shipped_text(name: str) -> bytes:
    path = importlib.resources.files("caslite.datasets").joinpath("data", name)
    return gzip.decompress(path.read_bytes())


@pytest.mark.parametrize("name", ["toronto", "synthetic"])
def test_samples_load(name):
    sample = load_sample(name)
    assert isinstance(sample, Sample)
    assert sample.name == name
    frame = sample.frame
    assert {sample.time, sample.x, sample.y} <= set(frame.columns)
    assert 3000 < len(frame) < 8000
    assert frame[[sample.x, sample.y]].notna().all().all()
    assert sample.description.strip()
    assert name in repr(sample)
    with pytest.raises(dataclasses.FrozenInstanceError):
        sample.name = "other"


def test_toronto_sample_metadata_and_attribution():
    sample = load_sample("toronto")
    assert (sample.crs, sample.tz) == ("EPSG:32617", "America/Toronto")
    assert list(sample.frame.columns) == [
        "t",
        "x",
        "y",
        "premises_type",
        "residential",
        "neighbourhood",
    ]
    assert ATTRIBUTION in one_line(sample.description)
    assert ATTRIBUTION in one_line((REPO / "data" / "sample" / "README.md").read_text("utf-8"))
    # times are raw local wall-clock strings, as in the source
    assert sample.frame["t"].str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:00").all()
    years = sample.frame["t"].str[:4].astype(int)
    assert years.between(2016, 2019).all()
    w = TORONTO_WINDOW
    assert sample.frame["x"].between(w["xmin"], w["xmax"]).all()
    assert sample.frame["y"].between(w["ymin"], w["ymax"]).all()


def test_toronto_sample_keeps_its_quirks():
    frame = load_sample("toronto").frame
    assert frame.duplicated().sum() > 20
    hours = frame["t"].str[11:13].astype(int).value_counts()
    typical = hours.drop([0, 12]).median()
    assert hours[0] > 2 * typical and hours[12] > 1.3 * typical
    # snapped locations: far fewer distinct points than rows
    assert len(frame[["x", "y"]].drop_duplicates()) < 0.5 * len(frame)


def test_toronto_sample_matches_source_rows(source_rows):
    frame = load_sample("toronto").frame
    assert len(frame) == len(source_rows)
    assert frame.duplicated().sum() == source_rows.duplicated().sum()
    for hour in ("00", "12"):
        assert (frame["t"].str[11:13] == hour).sum() == (source_rows["t"].str[11:13] == hour).sum()
    assert frame["residential"].sum() == source_rows["residential"].sum()
    np.testing.assert_array_equal(frame["x"], source_rows["x"])


def test_synthetic_sample_is_the_documented_city():
    sample = load_sample("synthetic")
    assert (sample.crs, sample.tz) == ("EPSG:28992", "Europe/Amsterdam")
    frame = sample.frame
    assert list(frame.columns) == ["t", "x", "y", "parent", "generation"]
    assert "random_state=20240101" in sample.description
    city = simulate_city(**SYNTHETIC_SAMPLE_PARAMS)
    assert len(frame) == len(city.events)
    parsed = pd.to_datetime(frame["t"], utc=True)
    utc = parsed.dt.tz_localize(None).to_numpy("datetime64[s]").astype(np.int64)
    np.testing.assert_array_equal(utc, city.t_utc)
    np.testing.assert_allclose(frame["x"], city.events["x"], atol=0.006)
    np.testing.assert_array_equal(frame["parent"], city.events["parent"])
    assert frame["t"].str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d").all()


def test_shipped_synthetic_equals_script_output(make_samples):
    assert shipped_text("synthetic_sample.csv.gz") == make_samples.to_csv_bytes(
        make_samples.synthetic_sample()
    )


def test_shipped_toronto_equals_script_output(make_samples):
    if not SOURCE.exists():
        pytest.skip(f"{SOURCE} is absent")
    assert shipped_text("toronto_sample.csv.gz") == make_samples.to_csv_bytes(
        make_samples.toronto_sample(SOURCE)
    )


@pytest.mark.parametrize("name", ["toronto_sample.csv.gz", "synthetic_sample.csv.gz"])
def test_repository_mirror_equals_package_data(name):
    mirror = REPO / "data" / "sample" / name
    if not mirror.exists():
        pytest.skip("data/sample is not in this checkout")
    assert gzip.decompress(mirror.read_bytes()) == shipped_text(name)


def test_unknown_sample_name():
    with pytest.raises(ValueError, match="unknown sample 'amsterdam'.*'toronto', 'synthetic'"):
        load_sample("amsterdam")
    assert SAMPLES == ("toronto", "synthetic")


@pytest.mark.skipif(not HAS_EVENTS, reason="caslite.events is not written yet")
@pytest.mark.parametrize("name", ["toronto", "synthetic"])
def test_sample_to_events(name):
    sample = load_sample(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the Toronto duplicates are reported, and kept
        events = sample.to_events()
    assert len(events) == len(sample.frame)
    assert str(events.crs.to_epsg()) == sample.crs.split(":")[1]
