"""Execute the notebooks in place, so that their outputs are stored for the documentation site.

Usage (from the repository root)::

    python docs/execute_notebooks.py                 # every notebook in notebooks/, one by one
    python docs/execute_notebooks.py notebooks/01-quick-start.ipynb
    python docs/execute_notebooks.py --check         # only check the stored outputs

Each notebook runs in a fresh kernel with ``notebooks/`` as its working folder and
``PYTHONHASHSEED=0`` (the notebooks fix their own random seeds). A cell that raises stops the
script with exit status 1 and the notebook file is left as it was; otherwise the notebook is
written only once it is complete, with what changes from one run to the next without meaning
removed (execution times, the Python version, the kernel's process id in warnings), so that
a re-run gives a small diff (the interactive folium maps carry random element ids).
After writing, and with ``--check``, every code cell must have been executed without an error,
and every cell that prints or ends in an expression must have stored an output.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import sys
import tempfile
import time
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

# Metadata that records the run rather than the notebook: dropped before writing.
VOLATILE_NOTEBOOK_METADATA = ("widgets", "papermill", "execution")
VOLATILE_CELL_METADATA = ("execution", "collapsed", "scrolled", "ExecuteTime")
# Warnings name the cell's temporary file after the kernel's process id: /tmp/ipykernel_4711/...
KERNEL_FOLDER = re.compile(r"ipykernel_\d+")


def _python_source(source: str) -> str:
    """Comment out the IPython magics and shell lines of a cell, so that `ast` can parse it."""
    lines = []
    for line in source.splitlines():
        stripped = line.lstrip()
        lines.append(f"# {line}" if stripped.startswith(("%", "!")) else line)
    return "\n".join(lines)


def expects_output(source: str) -> bool:
    """Tell whether a code cell shows something: it ends in an expression, or calls ``print``.

    Examples
    --------
    >>> expects_output("import numpy as np")
    False
    >>> expects_output("x = 1; x")
    True
    >>> expects_output("for i in range(2): print(i)")
    True
    >>> expects_output("%matplotlib inline")
    False
    """
    tree = ast.parse(_python_source(source))
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = tree.body[-1].value
        if not (isinstance(last, ast.Constant) and isinstance(last.value, str)):  # not a comment
            return True
    return any(
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print"
        for node in ast.walk(tree)
    )


def problems(notebook) -> list[str]:
    """List what is missing or wrong in the stored outputs of a notebook (empty when complete).

    Parameters
    ----------
    notebook : nbformat.NotebookNode
        The notebook, as read by :func:`nbformat.read`.

    Returns
    -------
    list of str
        One line per code cell that was not executed, holds an error, or shows nothing
        although its source prints or ends in an expression.
    """
    code = [(index, cell) for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
    if code and all(cell.get("execution_count") is None for _, cell in code):
        return ["stored without outputs: run `python docs/execute_notebooks.py` on it"]
    found = []
    for index, cell in code:
        where = f"cell {index} ({cell.source.splitlines()[0][:60] if cell.source else ''!r})"
        if cell.get("execution_count") is None:
            found.append(f"{where}: not executed")
            continue
        errors = [out for out in cell.get("outputs", []) if out.get("output_type") == "error"]
        if errors:
            found.append(f"{where}: stored an error ({errors[0].get('ename')})")
        elif not cell.get("outputs") and expects_output(cell.source):
            found.append(f"{where}: shows nothing, although its code prints or displays")
    return found


def strip_volatile(notebook) -> None:
    """Remove what records a run rather than the notebook (in place).

    Execution times and the Python version go; the kernel's process id in the file names of
    warnings becomes ``ipykernel``. The outputs are otherwise kept as the run wrote them.
    """
    for key in VOLATILE_NOTEBOOK_METADATA:
        notebook.metadata.pop(key, None)
    language = notebook.metadata.get("language_info", {})
    language.pop("version", None)  # the Python patch version of whoever ran it
    for cell in notebook.cells:
        for key in VOLATILE_CELL_METADATA:
            cell.metadata.pop(key, None)
        for output in cell.get("outputs", []):
            output.get("metadata", {}).pop("execution", None)
            if output.get("output_type") == "stream":
                output["text"] = KERNEL_FOLDER.sub("ipykernel", output["text"])


def execute(path: Path, timeout: int) -> None:
    """Execute one notebook in a fresh kernel and write it back with its outputs.

    Raises
    ------
    nbclient.exceptions.CellExecutionError
        If a cell raises; the file is then left unchanged.
    RuntimeError
        If the executed notebook still lacks outputs (see :func:`problems`).
    """
    import nbclient
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=False,
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute(env={**os.environ, "PYTHONHASHSEED": "0"})
    strip_volatile(notebook)
    missing = problems(notebook)
    if missing:
        raise RuntimeError(f"{path.name} ran but lacks outputs:\n  " + "\n  ".join(missing))
    nbformat.validate(notebook)
    # write a complete file next to the notebook, then replace it in one step
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=path.parent, suffix=".ipynb", delete=False
    ) as handle:
        try:
            nbformat.write(notebook, handle)
        except BaseException:
            handle.close()
            os.unlink(handle.name)
            raise
    os.replace(handle.name, path)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = argparse.ArgumentParser(
        description="Execute the notebooks in place (or check their stored outputs)."
    )
    parser.add_argument(
        "notebooks",
        nargs="*",
        type=Path,
        help="notebooks to run (default: every notebooks/*.ipynb, in name order)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not execute; fail if a notebook lacks outputs or stores an error",
    )
    parser.add_argument(
        "--timeout", type=int, default=1800, help="seconds allowed per cell (default: 1800)"
    )
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(NOTEBOOKS.glob("*.ipynb"))
    if not paths:
        parser.error(f"no notebooks found in {NOTEBOOKS}")
    for path in paths:
        if not path.is_file():
            parser.error(f"{path} is not a file: give the path of a .ipynb notebook")
    if args.check:
        import nbformat

        failed = 0
        for path in paths:
            missing = problems(nbformat.read(path, as_version=4))
            print(f"{path.name}: " + ("complete" if not missing else "incomplete"))
            for line in missing:
                print(f"  {line}")
            failed += bool(missing)
        return 1 if failed else 0
    for path in paths:
        began = time.monotonic()
        print(f"{path.name}: running ...", flush=True)
        try:
            execute(path.resolve(), args.timeout)
        except Exception as error:  # report which notebook failed, then stop
            print(f"{path.name}: FAILED, file left unchanged\n{error}", file=sys.stderr)
            return 1
        print(f"{path.name}: written ({time.monotonic() - began:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
