"""Tests of the stored forms: each class's ``to_dict``/``from_dict`` and the JSON of caslite._forms.

References: the file format as documented in caslite.persist (the JSON of each form, written
out by hand), the objects' own attributes and equality, and the constructors' refusals. The
files themselves, old and new, are tested in tests/test_persist.py.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pyproj
import pytest
import shapely

import caslite
from caslite import (
    BowersSpace,
    BowersTime,
    Events,
    ExponentialSpace,
    ExponentialTime,
    FeatureBuilder,
    GaussianSpace,
    Grid,
    RiskModel,
    ShiftSchedule,
)
from caslite._forms import CasliteFileError, encode, plain, record, stored_instant

KERNELS = [
    ExponentialSpace(scale=100.0, radius=300.0),
    GaussianSpace(sigma=50.0, radius=200.0, form="grid"),
    BowersSpace(),
    BowersSpace(unit=62.5, radius=250.0),
    ExponentialTime(scale_days=7.0, window_days=np.inf),
    BowersTime(window_days=28.0, step_days=7.0),
]


@pytest.mark.parametrize("kernel", KERNELS, ids=repr)
def test_kernel_form_is_its_parameters_and_rebuilds_it(kernel):
    form = kernel.to_dict()
    assert list(form) == [field.name for field in dataclasses.fields(kernel)]
    assert form == {name: getattr(kernel, name) for name in form}
    assert json.loads(json.dumps(form)) == form  # plain JSON (inf as Infinity)
    rebuilt = type(kernel).from_dict(form)
    assert rebuilt == kernel and type(rebuilt) is type(kernel)


def test_kernel_form_in_the_file_layout():
    # the layout model files have always had: the fields under "fields"
    assert encode(ExponentialSpace(scale=100.0, radius=300.0), "kernel") == {
        "__type__": "ExponentialSpace",
        "fields": {"scale": 100.0, "radius": 300.0, "form": "continuous"},
    }
    assert encode(BowersSpace(), "kernel")["fields"] == {
        "unit": None,
        "radius": 400.0,
        "form": "continuous",
    }


def test_kernel_from_dict_refuses_what_the_kernel_refuses():
    with pytest.raises(ValueError, match=r"no parameters \['scael'\].*\['scale', 'radius'"):
        ExponentialSpace.from_dict({"scael": 100.0, "radius": 300.0})
    with pytest.raises(ValueError, match="ExponentialSpace scale"):
        ExponentialSpace.from_dict({"scale": -1.0, "radius": 300.0})
    with pytest.raises(TypeError, match="must be a dict, got list"):
        ExponentialTime.from_dict([7.0, 28.0])


def test_schedule_form_and_round_trip_keep_custom_labels():
    schedule = ShiftSchedule(
        ["23:00", "07:00", "15:00"], tz="Europe/Amsterdam", labels=["day", "evening", "night"]
    )
    form = schedule.to_dict()
    assert form == {
        "starts": ["07:00", "15:00", "23:00"],
        "tz": "Europe/Amsterdam",
        "labels": ["day", "evening", "night"],
    }
    assert ShiftSchedule.from_dict(form) == schedule
    assert encode(schedule, "schedule") == {"__type__": "ShiftSchedule", **form}


def test_schedule_from_dict_refuses_an_incomplete_or_bad_form():
    with pytest.raises(ValueError, match=r"lacks \['labels'\]"):
        ShiftSchedule.from_dict({"starts": ["00:00"], "tz": "UTC"})
    with pytest.raises(ValueError, match="got 1 labels for 2 shifts"):
        ShiftSchedule.from_dict({"starts": ["00:00", "12:00"], "tz": "UTC", "labels": ["a"]})
    with pytest.raises(TypeError, match="must be a dict"):
        ShiftSchedule.from_dict("00:00")


def test_grid_form_holds_the_raster_and_rebuilds_partial_cells():
    triangle = shapely.Polygon([(0, 0), (500, 0), (0, 400)])  # partial and inactive cells
    grid = Grid.from_area(triangle, cell_size=125.0, crs="EPSG:28992")
    assert 0 < grid.n_cells < grid.shape[0] * grid.shape[1]
    assert grid.area_fraction.min() < 1.0
    form = grid.to_dict()
    active = np.zeros(grid.shape, dtype=bool)
    active[grid.cell_row, grid.cell_col] = True
    np.testing.assert_array_equal(form["active"], active)
    np.testing.assert_array_equal(
        form["area_fraction"][grid.cell_row, grid.cell_col], grid.area_fraction
    )
    assert not form["area_fraction"][~active].any()
    plain_part = {k: v for k, v in form.items() if k not in ("active", "area_fraction")}
    assert json.loads(json.dumps(plain_part)) == plain_part
    assert plain_part["n_cells"] == grid.n_cells and plain_part["crs_name"] == "EPSG:28992"
    rebuilt = Grid.from_dict(form)
    for attribute in ("x", "y", "cell_row", "cell_col", "area_fraction"):
        np.testing.assert_array_equal(getattr(rebuilt, attribute), getattr(grid, attribute))
    assert rebuilt.crs == grid.crs and rebuilt.bounds == grid.bounds
    with pytest.raises(ValueError, match=f"has {grid.n_cells} cells; its form says"):
        Grid.from_dict({**form, "n_cells": grid.n_cells + 1})
    with pytest.raises(pyproj.exceptions.CRSError):
        Grid.from_dict({**form, "crs": '{"type": "nonsense"}'})


def test_events_form_round_trip_with_windows_and_report():
    events = Events(
        np.array([300, 100, 200]),
        [10.0, 20.0, 30.0],
        [1.0, 2.0, 3.0],
        t_end=np.array([400, 100, 260]),
        crs="EPSG:28992",
        tz="Europe/Amsterdam",
        report={"dropped": np.int64(2)},
    )
    form = events.to_dict()
    # in time order: the event at t=100 first
    assert form["t"].tolist() == [100, 200, 300] and form["t_end"].tolist() == [100, 260, 400]
    assert form["x"].tolist() == [20.0, 30.0, 10.0]
    assert form["report"] == {"dropped": 2} and form["tz"] == "Europe/Amsterdam"
    rebuilt = Events.from_dict(form)
    for attribute in ("t", "t_end", "x", "y"):
        np.testing.assert_array_equal(getattr(rebuilt, attribute), getattr(events, attribute))
    assert rebuilt.crs == events.crs and rebuilt.report == {"dropped": 2}
    shuffled = {**form, "t": form["t"][::-1].copy(), "t_end": form["t_end"][::-1].copy()}
    with pytest.raises(ValueError, match="not in time order"):
        Events.from_dict(shuffled)


def test_encode_plain_values_and_containers():
    assert encode({"a": (1, 2.5), "b": [None, True, "x"]}, "v") == {
        "__type__": "dict",
        "items": [["a", {"__type__": "tuple", "items": [1, 2.5]}], ["b", [None, True, "x"]]],
    }
    assert encode(np.random.default_rng(0), "v") == {
        "__type__": "Generator",
        "bit_generator": "PCG64",
    }
    assert encode(np.int32(3), "v") == 3 and type(encode(np.float32(0.5), "v")) is float
    with pytest.raises(TypeError, match="params has a key 1"):
        encode({1: 2}, "params")
    with pytest.raises(TypeError, match="params holds a ndarray"):
        encode(np.zeros(2), "params")
    with pytest.raises(TypeError, match="holds a DataFrame"):  # has to_dict, not caslite's
        import pandas as pd

        encode(pd.DataFrame({"a": [1]}), "params")


def test_a_feature_builder_is_encoded_as_its_parameters():
    builder = FeatureBuilder(windows_weeks=(1, 4))
    form = encode(builder, "features")
    assert form["__type__"] == "FeatureBuilder"
    items = dict(form["params"]["items"])
    assert items["windows_weeks"] == {"__type__": "tuple", "items": [1, 4]}
    assert set(items) == set(builder.get_params(deep=False))


def test_record_falls_back_to_repr_and_plain_refuses_containers():
    assert record({"n": np.int64(2), "a": np.arange(3), "k": ExponentialTime(7.0, 28.0)}) == {
        "n": 2,
        "a": [0, 1, 2],
        "k": {
            "__type__": "ExponentialTime",
            "value": {
                "__type__": "ExponentialTime",
                "fields": {"scale_days": 7.0, "window_days": 28.0},
            },
        },
    }
    assert record(range(3)) == "range(0, 3)"
    assert plain(np.float64(0.5), "x") == 0.5
    with pytest.raises(TypeError, match="training_ is a list"):
        plain([1], "training_")


def test_stored_instant():
    assert stored_instant(1_700_000_000, "origin") == 1_700_000_000
    for value in (True, 1.5, 10**15, "2024-01-01"):
        with pytest.raises(CasliteFileError, match="the file's origin is"):
            stored_instant(value, "origin")


def test_an_unfitted_risk_model_has_no_stored_form():
    with pytest.raises(TypeError, match="not fitted"):
        RiskModel().to_dict()


def test_public_names_are_the_same_objects():
    from caslite import persist
    from caslite.models import _trees

    assert caslite.CasliteFileError is persist.CasliteFileError is CasliteFileError
    assert persist.StoredEnsemble is _trees.StoredEnsemble
    assert issubclass(persist.StoredEnsemble, _trees.CompiledEnsemble)  # one tree scorer
