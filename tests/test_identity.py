"""The forecast bit-identity tool ``benchmarks/identity.py``: its comparison and its file."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `benchmarks` lives at the repository root, not in src/
    sys.path.insert(0, str(ROOT))

from benchmarks import identity  # noqa: E402

from caslite.models.registry import available_forecasters  # noqa: E402


def test_compare_reports_the_largest_difference_and_fails_unless_identical():
    saved = {"a": np.array([1.0, 2.0, np.nan]), "b": np.zeros((2, 3)), "gone": np.ones(1)}
    now = {"a": np.array([1.0, 2.0, np.nan]), "b": np.zeros((2, 3)), "gone": np.ones(1)}
    table, ok = identity.compare(saved, now)
    assert ok and set(table["status"]) == {"identical"}  # NaN equals NaN
    now["b"] = np.array([[0.0, 0.0, 0.0], [0.0, -0.25, 1e-17]])
    table, ok = identity.compare(saved, now)
    row = table.set_index("key").loc["b"]
    assert not ok and row["status"] == "DIFFERENT" and row["max_abs_diff"] == 0.25
    now["b"] = np.zeros((2, 3))
    del now["gone"]
    now["added"] = np.ones(2)  # a forecaster registered since: reported, not a failure
    table, ok = identity.compare(saved, now)
    status = table.set_index("key")["status"].to_dict()
    assert not ok and status["gone"] == "missing" and status["added"] == "new"
    table, ok = identity.compare(saved, {**saved, "b": np.zeros((3, 2))})
    assert not ok and table.set_index("key").loc["b", "status"] == "shape (2, 3) -> (3, 2)"


def test_every_registered_forecaster_is_built_with_every_parameter_pinned():
    schedule = identity.ShiftSchedule.every(4, tz="Europe/Amsterdam")
    models = identity.forecasters(schedule)
    assert list(models) == available_forecasters()
    for name, model in models.items():
        pinned = identity.PINNED[name]
        params = model.get_params(deep=False)
        # every parameter is pinned (the risk model's features and schedule per data set)
        assert set(params) == set(pinned) | ({"features", "schedule"} if name == "risk" else set())
        assert {key: params[key] for key in pinned} == pinned
    assert models["risk"].features.get_params(deep=False) == identity.FEATURES


def test_compare_of_a_missing_file_says_how_to_make_it(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        identity.main(["compare", str(tmp_path / "none.npz")])
    assert exit_info.value.code == 2
    assert "write it first with: save --out" in capsys.readouterr().err
