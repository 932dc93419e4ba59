"""The package's metadata: the version written once, the lint tools of CI and pre-commit in step."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
from pathlib import Path

import pytest
from packaging.version import Version

import caslite

ROOT = Path(__file__).resolve().parents[1]
tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11+")


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_version_is_written_once_in_the_package():
    pyproject = _pyproject()
    assert "version" not in pyproject["project"], "pyproject.toml must not repeat the version"
    assert "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "caslite.__version__"}
    # setuptools reads the attribute without importing the package when it is one string
    # literal assigned at the top level of the module: check that it is
    tree = ast.parse((ROOT / "src" / "caslite" / "__init__.py").read_text(encoding="utf-8"))
    literals = [
        node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and [getattr(target, "id", None) for target in node.targets] == ["__version__"]
        and isinstance(node.value, ast.Constant)
    ]
    assert literals == [caslite.__version__]
    assert str(Version(caslite.__version__)) == caslite.__version__  # PEP 440, normalised


def _from_this_checkout(distribution) -> bool:
    """Whether an installed caslite was built from this checkout (``pip install -e .``)."""
    url = json.loads(distribution.read_text("direct_url.json") or "{}").get("url", "")
    if url.rstrip("/") == ROOT.as_uri():
        return True
    home = Path(distribution.locate_file("")).resolve()  # an egg-info in src/: its folder
    return home == ROOT or ROOT in home.parents


def test_installed_metadata_has_the_package_version():
    # Only the metadata built from this checkout (as CI installs it) must agree; another
    # installed copy may hold another version.
    built_here = [
        d
        for d in importlib.metadata.distributions()
        if d.metadata["Name"] == "caslite" and _from_this_checkout(d)
    ]
    if not built_here:
        pytest.skip("caslite is not installed from this checkout")
    for distribution in built_here:
        assert distribution.version == caslite.__version__, (
            f"the metadata at {distribution.locate_file('')} says {distribution.version}: "
            "reinstall with pip install -e ."
        )


def test_pre_commit_runs_the_ruff_that_ci_pins():
    pins = [
        requirement
        for requirement in _pyproject()["project"]["optional-dependencies"]["test"]
        if re.match(r"ruff\b", requirement)
    ]
    assert len(pins) == 1 and pins[0].startswith("ruff=="), pins
    config = (ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8")
    revs = re.findall(r"repo: https://github.com/astral-sh/ruff-pre-commit\s+rev: v(\S+)", config)
    assert revs == [pins[0].removeprefix("ruff==")]
    assert re.findall(r"- id: (\S+)", config) == ["ruff-check", "ruff-format"]
