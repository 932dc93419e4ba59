"""Lazy public names of a package (PEP 562), so that ``import caslite`` stays cheap.

A package lists where each public name lives; the module behind a name is imported on the
first access (``caslite.RiskModel``, ``from caslite import RiskModel``), and the value is then
kept in the package's namespace, so later accesses cost nothing. Submodules listed as such are
imported on attribute access too (``caslite.nearrepeat``), as they were when the package
imported them eagerly.

A public name may be the name of its own submodule (the function ``caslite.predict`` lives in
the module ``caslite.predict``, ``caslite.evaluation.backtest`` in
``caslite.evaluation.backtest``). Importing such a submodule makes Python set the package
attribute to the submodule, which would hide the public object; the package's module type then
keeps the public object (the submodule stays in ``sys.modules``), as eager imports did.
"""

from __future__ import annotations

import importlib
import sys
import types


class _Package(types.ModuleType):
    """Module type of a package whose public names include the names of their submodules."""

    def __setattr__(self, name, value):
        if isinstance(value, types.ModuleType) and _own_submodule(self.__dict__, name):
            return  # the submodule replaced the public name of the same name: keep the name
        super().__setattr__(name, value)


def _own_submodule(namespace: dict, name: str) -> bool:
    """Whether public ``name`` of the package lives in the package's submodule ``name``."""
    home = namespace.get("_MODULE_OF", {}).get(name)
    return home == f"{namespace['__name__']}.{name}"


def attach(package: str, namespace: dict, names: dict[str, str], submodules=()):
    """Return ``__getattr__`` and ``__dir__`` for ``package``.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    namespace : dict
        The package's ``globals()``: where a resolved value is kept. ``names`` must be
        stored in it as ``_MODULE_OF`` when a public name is also a submodule's name.
    names : dict of str to str
        Public name -> the module (absolute) that defines it.
    submodules : tuple of str
        Submodules (short names) that attribute access imports.

    Returns
    -------
    getattr, dir : callables
        To assign to the package's ``__getattr__`` and ``__dir__``.

    Examples
    --------
    >>> namespace = {}
    >>> getattr_, dir_ = attach("pkg", namespace, {"sqrt": "math"})
    >>> getattr_("sqrt")(9.0)
    3.0
    >>> namespace
    {'sqrt': <built-in function sqrt>}
    >>> dir_()
    ['sqrt']
    """
    submodules = tuple(submodules)
    if any(home == f"{package}.{name}" for name, home in names.items()):
        sys.modules[package].__class__ = _Package

    def __getattr__(name: str):
        module = names.get(name)
        if module is not None:
            value = getattr(importlib.import_module(module), name)
        elif name in submodules:
            value = importlib.import_module(f"{package}.{name}")
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        namespace[name] = value  # later accesses skip this function
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(names) | set(submodules))

    return __getattr__, __dir__
