"""The documentation site builds offline without warnings and documents the public API."""

import importlib
import importlib.util
import os
import re
import types
import warnings
from pathlib import Path

import pytest

import caslite

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _sphinx_or_skip():
    missing = []
    for name in ("sphinx", "numpydoc", "myst_parser", "myst_nb"):
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing and not os.environ.get("CI"):
        pytest.skip(
            f"the docs extra is not installed ({', '.join(missing)}): pip install -e .[docs]"
        )
    assert not missing, f"CI must build the docs, but {missing} are not installed"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Build the HTML site once into a temporary folder; return (exit code, folder, warnings)."""
    _sphinx_or_skip()
    from sphinx.cmd.build import build_main

    out = tmp_path_factory.mktemp("html")
    doctrees = tmp_path_factory.mktemp("doctrees")
    log = out / "warnings.txt"
    with warnings.catch_warnings():
        # deprecation notices of the Sphinx extensions themselves (not of the docs)
        for category in (DeprecationWarning, PendingDeprecationWarning):
            warnings.filterwarnings(
                "ignore", category=category, module=r"(myst_parser|myst_nb|numpydoc)"
            )
        code = build_main(
            ["-b", "html", "-W", "--keep-going", "-q", "-d", str(doctrees), "-w", str(log),
             str(DOCS), str(out)]
        )  # fmt: skip
    return code, out, log.read_text(encoding="utf-8") if log.exists() else ""


def _resolve(dotted: str):
    """The object a documented name such as ``caslite.maps.plot_shift`` refers to, or None."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for name in parts[cut:]:
                obj = getattr(obj, name)
        except AttributeError:
            return None
        return obj
    return None


@pytest.mark.slow
def test_site_builds_without_warnings(site):
    code, out, warnings = site
    assert code == 0, f"sphinx-build failed (exit {code}); warnings:\n{warnings}"
    assert warnings.strip() == ""
    for page in ("index", "api", "model", "cli", "notebooks", "validation"):
        assert (out / f"{page}.html").exists(), page


@pytest.mark.slow
def test_api_page_documents_every_public_name(site):
    _, out, _ = site
    html = (out / "api.html").read_text(encoding="utf-8")
    ids = set(re.findall(r'<dt class="sig sig-object py" id="([^"]+)"', html))
    ids |= {m[len("module-") :] for m in re.findall(r'id="(module-[^"]+)"', html)}
    documented = {}
    for name in ids:
        obj = _resolve(name)
        if obj is not None and not isinstance(obj, (str, int, float)):
            documented.setdefault(id(obj), name)
    missing = []
    for name in caslite.__all__:
        obj = getattr(caslite, name)
        if f"caslite.{name}" in ids:
            continue
        # a re-exported object may be documented at its home module (caslite.maps.plot_shift)
        if isinstance(obj, (types.FunctionType, type, types.ModuleType)) and id(obj) in documented:
            continue
        missing.append(name)
    assert not missing, f"api.rst does not document {missing}"


@pytest.mark.slow
def test_model_page_shows_the_feature_table_of_the_code(site):
    _, out, _ = site
    html = (out / "model.html").read_text(encoding="utf-8")
    from caslite.features import FEATURES

    tables = re.findall(r"<table.*?</table>", html, re.S)
    table = next((t for t in tables if "n_cell_{w}w" in t), None)
    assert table is not None, "model.html has no table of the features"
    cells = set(re.findall(r'<span class="pre">([^<]+)</span>', table))
    assert set(FEATURES) <= cells, sorted(set(FEATURES) - cells)


@pytest.mark.slow
def test_cli_page_shows_the_help_of_every_command(site):
    _, out, _ = site
    html = (out / "cli.html").read_text(encoding="utf-8")
    usage = re.findall(r"usage: caslite (\w+)", html)
    main_help = re.search(r"usage: caslite \[-h\].*?COMMAND \.\.\.(.*?)options:", html, re.S)
    assert main_help, "the page lacks the output of `caslite --help`"
    commands = re.findall(r"^\s{4}(\w+)\s{2,}", main_help.group(1), re.M)
    assert commands, "no command listed in `caslite --help`"
    assert sorted(set(usage)) == sorted(commands)


NOTEBOOKS = DOCS.parent / "notebooks"


def _execute_script():
    """The module docs/execute_notebooks.py (not a package: loaded from its path)."""
    spec = importlib.util.spec_from_file_location(
        "execute_notebooks", DOCS / "execute_notebooks.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_notebook_is_a_page_of_the_site_with_its_figures(site):
    nbformat = pytest.importorskip("nbformat")
    _, out, _ = site
    notebooks = sorted(NOTEBOOKS.glob("*.ipynb"))
    assert notebooks
    index = (out / "notebooks.html").read_text(encoding="utf-8")
    for notebook in notebooks:
        page = out / "notebooks" / f"{notebook.stem}.html"
        assert page.exists(), f"{notebook.name} is not rendered: list it in docs/notebooks.md"
        assert f'href="notebooks/{notebook.stem}.html"' in index, notebook.name
        html = page.read_text(encoding="utf-8")
        cells = nbformat.read(notebook, 4).cells
        # the first heading of the notebook is the title of its page
        first = next(c for c in cells if c.cell_type == "markdown")
        title = first.source.splitlines()[0].lstrip("# ").split(":")[0]
        assert title in html, (notebook.name, title)
        # every stored figure is on the page, as an image file of the site
        figures = sum(
            "image/png" in output.get("data", {})
            for cell in cells
            if cell.cell_type == "code"
            for output in cell.get("outputs", [])
        )
        images = re.findall(r'<img [^>]*src="([^"]+\.png)"', html)
        assert len(images) >= figures, (notebook.name, figures, len(images))
        for src in images:
            assert (page.parent / src).is_file(), (notebook.name, src)


def test_stored_notebooks_are_either_without_outputs_or_complete():
    """A notebook is stored as written (no outputs) or fully run by docs/execute_notebooks.py.

    A notebook run only in part, or saved with an error in a cell, would show readers of the
    site a broken page.
    """
    nbformat = pytest.importorskip("nbformat")
    script = _execute_script()
    for notebook in sorted(NOTEBOOKS.glob("*.ipynb")):
        cells = [c for c in nbformat.read(notebook, 4).cells if c.cell_type == "code"]
        if all(c.get("execution_count") is None and not c.get("outputs") for c in cells):
            continue  # stored without outputs
        problems = script.problems(nbformat.read(notebook, 4))
        assert not problems, f"{notebook.name}: " + "; ".join(problems)


def test_the_output_check_of_the_execute_script():
    nbformat = pytest.importorskip("nbformat")
    script = _execute_script()
    v4 = nbformat.v4

    def notebook(*cells):
        return v4.new_notebook(cells=list(cells))

    shown = v4.new_output("execute_result", data={"text/plain": "1"}, execution_count=2)
    error = v4.new_output("error", ename="ValueError", evalue="bad", traceback=[])
    imports = v4.new_code_cell("%matplotlib inline\nimport numpy as np", execution_count=1)
    complete = notebook(
        v4.new_markdown_cell("# Title"),
        imports,
        v4.new_code_cell("x = 1\nx", execution_count=2, outputs=[shown]),
    )
    assert script.problems(complete) == []
    never_run = notebook(v4.new_code_cell("import numpy"), v4.new_code_cell("1 + 1"))
    assert len(script.problems(never_run)) == 1
    assert "stored without outputs" in script.problems(never_run)[0]
    blank = notebook(imports, v4.new_code_cell("print(3)", execution_count=2))
    assert ["cell 1"] == [p.split(" (")[0] for p in script.problems(blank)]
    failed = notebook(imports, v4.new_code_cell("f()", execution_count=2, outputs=[error]))
    assert "ValueError" in script.problems(failed)[0]
    part = notebook(imports, v4.new_code_cell("1 + 1"))
    assert "not executed" in script.problems(part)[0]


def test_the_execute_script_strips_run_metadata():
    nbformat = pytest.importorskip("nbformat")
    script = _execute_script()
    v4 = nbformat.v4
    warned = "/tmp/ipykernel_20074/1585489294.py:1: DataQualityWarning: 38 duplicates\n"
    stream = v4.new_output("stream", name="stderr", text=warned)
    cell = v4.new_code_cell("1", execution_count=1, outputs=[stream])
    cell.metadata["execution"] = {"iopub.status.busy": "2026-01-01T00:00:00Z"}
    cell.metadata["tags"] = ["keep"]
    nb = v4.new_notebook(cells=[cell])
    nb.metadata["language_info"] = {"name": "python", "version": "3.11.7"}
    nb.metadata["widgets"] = {"state": {}}
    script.strip_volatile(nb)
    assert nb.cells[0].metadata == {"tags": ["keep"]}
    text = "/tmp/ipykernel/1585489294.py:1: DataQualityWarning: 38 duplicates\n"
    assert nb.cells[0].outputs[0].text == text
    assert nb.metadata == {"language_info": {"name": "python"}}
    nbformat.validate(nb)


def test_the_execute_script_stores_outputs_and_refuses_a_failing_notebook(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    script = _execute_script()
    v4 = nbformat.v4
    good = tmp_path / "good.ipynb"
    cells = [
        v4.new_code_cell("import os\nprint(os.environ['PYTHONHASHSEED'])"),
        v4.new_code_cell("6 * 7"),
    ]
    nbformat.write(v4.new_notebook(cells=cells), good)
    bad = tmp_path / "bad.ipynb"
    cells = [
        v4.new_code_cell("1"),
        v4.new_code_cell("raise ValueError('the text no longer holds')"),
    ]
    nbformat.write(v4.new_notebook(cells=cells), bad)
    before = bad.read_bytes()

    assert script.main([str(good)]) == 0
    run = nbformat.read(good, 4)
    assert run.cells[0].outputs[0].text == "0\n"  # the kernel ran with PYTHONHASHSEED=0
    assert run.cells[1].outputs[0].data["text/plain"] == "42"
    assert all("execution" not in cell.metadata for cell in run.cells)
    assert script.main(["--check", str(good)]) == 0

    assert script.main([str(bad)]) == 1
    assert bad.read_bytes() == before  # left as it was
    assert script.main(["--check", str(bad)]) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.ipynb", "good.ipynb"]
