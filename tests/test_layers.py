"""The import graph of caslite: no cycles, layers that point down, no private names across packages.

The graph is read from the source with :mod:`ast` (nothing is imported): every ``import`` and
``from ... import`` of a caslite module, at module level or inside a function, is an edge;
imports under ``if TYPE_CHECKING:`` are not (they never run). Importing ``caslite.a.b`` also
runs the package ``caslite.a``, so that is an edge too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "src" / "caslite"

#: The layers, lowest first: a module may import from its own layer and the ones below, never
#: from a layer above. A name covers a module or package and everything in it, unless a longer
#: name says otherwise; ``caslite`` itself is only the package's lazy public API, so that a new
#: module of caslite has to be placed here.
LAYERS = [
    (
        "foundation: private helpers, numba kernels, JSON forms",
        [
            "caslite._atomic",
            "caslite._filter",
            "caslite._forms",
            "caslite._inequality",
            "caslite._kernels",
            "caslite._lazy",
            "caslite._solar",
            "caslite._sources",
            "caslite._time",
            "caslite._timequality",
            "caslite._validation",
        ],
    ),
    (
        "core: incidents, cells, shifts, counting and selection, forecasts",
        [
            "caslite._core",
            "caslite._provenance",
            "caslite.events",
            "caslite.forecast",
            "caslite.grid",
            "caslite.shifts",
        ],
    ),
    ("kernels and features", ["caslite.features", "caslite.knox", "caslite.nearrepeat"]),
    ("models", ["caslite.models"]),
    (
        "evaluation, prediction, plans and files",
        ["caslite.evaluation", "caslite.patrol", "caslite.persist", "caslite.predict"],
    ),
    (
        "applications: audits, prevention tools, maps, data sets, the command line",
        [
            "caslite",
            "caslite._feedback",
            "caslite.alerts",
            "caslite.audits",
            "caslite.cli",
            "caslite.datasets",
            "caslite.io",
            "caslite.maps",
            "caslite.neighbourhood",
            "caslite.outlook",
            "caslite.plot",
            "caslite.summary",
        ],
    ),
]


def _modules(source: Path) -> dict[str, Path]:
    """Every module of the package at ``source``, by dotted name."""
    out = {}
    for path in sorted(source.rglob("*.py")):
        parts = list(path.relative_to(source.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules(SOURCE)


def _package_of(module: str, modules: dict[str, Path]) -> str:
    """The package a module belongs to (a package's ``__init__`` belongs to itself)."""
    return module if modules[module].name == "__init__.py" else module.rpartition(".")[0]


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """Ids of the nodes under ``if TYPE_CHECKING:`` (imports for type checkers only)."""
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                skipped.update(id(n) for n in ast.walk(child))
    return skipped


def _imports(module: str, modules: dict[str, Path]):
    """Yield ``(target module, imported name or None, line)`` for each caslite import."""
    tree = ast.parse(modules[module].read_text(encoding="utf-8"))
    skipped = _type_checking_nodes(tree)
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "caslite":
                    yield alias.name, None, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the importing module's package
                package = _package_of(module, modules).split(".")
                package = package[: len(package) - node.level + 1]
                base = ".".join(package + ([base] if base else []))
            if base.split(".")[0] != "caslite":
                continue
            for alias in node.names:
                yield base, alias.name, node.lineno


def _edges(modules: dict[str, Path], *, packages: bool = True) -> dict[str, set[str]]:
    """The import graph: module -> the caslite modules it runs when imported or called.

    With ``packages``, the packages on the way to an imported module are edges too (their
    ``__init__`` runs first); without, only the modules named in the imports.
    """
    graph = {module: set() for module in modules}
    for module in modules:
        for base, name, _ in _imports(module, modules):
            target = f"{base}.{name}" if f"{base}.{name}" in modules else base
            assert target in modules, f"{module} imports {target}, which is not a caslite module"
            parts = target.split(".")
            first = 1 if packages else len(parts)
            for k in range(first, len(parts) + 1):  # the packages on the way run too
                graph[module].add(".".join(parts[:k]))
        graph[module].discard(module)
    return graph


def _layer_of(module: str) -> int:
    """The layer of the longest name in :data:`LAYERS` that covers ``module``."""
    found = [
        (len(member), level)
        for level, (_, members) in enumerate(LAYERS)
        for member in members
        if module == member or (member != "caslite" and module.startswith(member + "."))
    ]
    assert found, (
        f"{module} is in no layer of tests/test_layers.py; add it to the lowest layer whose "
        "modules are all it needs."
    )
    return max(found)[1]


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return out


def test_the_graph_is_read_from_every_module():
    graph = _edges(MODULES)
    assert len(graph) == len(MODULES) > 40
    # imports inside functions count: RiskModel.forecast imports the Forecast when called
    assert "caslite.forecast" in graph["caslite.models.risk"]
    # ``from package import submodule`` is an edge to the submodule
    assert "caslite._kernels.nearrepeat" in graph["caslite.nearrepeat"]
    # type-checking imports are not: the package's names load lazily
    assert "caslite.models.risk" not in graph["caslite"]


def test_tarjan_finds_a_known_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    cycles = _cycles(_edges(MODULES))
    assert not cycles, f"import cycles among caslite modules: {cycles}"


def test_every_module_has_a_layer():
    for module in MODULES:
        _layer_of(module)
    assert _layer_of("caslite.models.any_new_model") == _layer_of("caslite.models")
    with pytest.raises(AssertionError, match="caslite.new_module is in no layer"):
        _layer_of("caslite.new_module")


def test_layers_point_down():
    upward = []
    for module, targets in _edges(MODULES, packages=False).items():
        for target in targets:
            if _layer_of(target) > _layer_of(module):
                upward.append(
                    f"{module} ({LAYERS[_layer_of(module)][0].split(':')[0]}) imports {target} "
                    f"({LAYERS[_layer_of(target)][0].split(':')[0]})"
                )
    assert not upward, "imports that point up a layer:\n" + "\n".join(sorted(upward))


#: Known exceptions, each to be removed by the change its comment names.
PRIVATE_IMPORTS_ALLOWED: set[tuple[str, str, str]] = set()


def _private_imports(modules: dict[str, Path]) -> list[tuple[str, str, str, int]]:
    """Imports of private names or modules from outside the package that owns them.

    A private module (``caslite._kernels``, ``caslite.models._trees``) belongs to the package
    that holds it and may be imported anywhere inside that package, sub-packages included. A
    private name (``_helper``) of a module belongs to that module's package and may be
    imported only by the modules of that same package.
    """
    found = []
    for module in modules:
        importer = _package_of(module, modules)
        for base, name, line in _imports(module, modules):
            path = base.split(".")
            if name is not None and f"{base}.{name}" in modules:
                path, name = [*path, name], None  # a submodule
            for k, part in enumerate(path):
                owner = ".".join(path[:k])
                if part.startswith("_") and not (
                    importer == owner or importer.startswith(owner + ".")
                ):
                    found.append((module, ".".join(path[: k + 1]), part, line))
            if name is not None and name.startswith("_") and not name.startswith("__"):
                owner = _package_of(base, modules)
                if importer != owner:
                    found.append((module, base, name, line))
    return found


def _toy_package(root: Path) -> dict[str, Path]:
    """A small package with one case of each rule, written under ``root``."""
    files = {
        "__init__.py": "import typing\nif typing.TYPE_CHECKING:\n    import caslite.c\n",
        "a.py": "def _helper():\n    pass\n\ndef public():\n    from caslite.c import f\n",
        "c.py": "from caslite.sub._p import y  # private module, outside its package\n"
        "from caslite.a import _helper  # private name, same package: fine\n"
        "def f():\n    pass\n",
        "sub/__init__.py": "",
        "sub/_p.py": "from caslite.a import public\ny = 1\n",
        "sub/b.py": "from caslite.a import _helper  # private name, from another package\n",
        "sub/d.py": "from . import _p  # private module, inside its package: fine\n",
    }
    for name, text in files.items():
        path = root / "caslite" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return _modules(root / "caslite")


def test_the_checks_on_a_toy_package(tmp_path):
    modules = _toy_package(tmp_path)
    assert _package_of("caslite.sub.b", modules) == "caslite.sub"
    assert _package_of("caslite.sub", modules) == "caslite.sub"
    graph = _edges(modules)
    assert "caslite.c" not in graph["caslite"]  # TYPE_CHECKING
    assert graph["caslite.sub.d"] == {"caslite", "caslite.sub", "caslite.sub._p"}
    assert _edges(modules, packages=False)["caslite.sub.d"] == {"caslite.sub._p"}
    # a -> c (inside a function) -> sub._p -> a
    assert _cycles(graph) == [["caslite.a", "caslite.c", "caslite.sub._p"]]
    found = {(module, source, name) for module, source, name, _ in _private_imports(modules)}
    assert found == {
        ("caslite.c", "caslite.sub._p", "_p"),
        ("caslite.sub.b", "caslite.a", "_helper"),
    }


def test_no_private_names_imported_across_packages():
    found = [
        f"{module}:{line} imports {name} from {source}"
        for module, source, name, line in _private_imports(MODULES)
        if (module, source, name) not in PRIVATE_IMPORTS_ALLOWED
    ]
    assert not found, (
        "private names imported from another package (make them public within their "
        "package, or move them down to the layer where they belong):\n" + "\n".join(found)
    )


@pytest.mark.parametrize("allowed", sorted(PRIVATE_IMPORTS_ALLOWED))
def test_allowed_private_imports_still_exist(allowed):
    # an exception that is no longer needed is removed from the list
    assert allowed in {(m, s, n) for m, s, n, _ in _private_imports(MODULES)}
