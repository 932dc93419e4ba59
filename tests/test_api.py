import subprocess
import sys

import caslite


def test_every_public_name_is_importable_and_documented():
    assert len(caslite.__all__) == len(set(caslite.__all__))
    for name in caslite.__all__:
        obj = getattr(caslite, name)
        if name != "__version__":
            assert obj.__doc__ and obj.__doc__.strip(), f"{name} has no docstring"


def test_import_has_no_heavy_side_effects():
    # Importing caslite must not compile numba kernels, import plotting or set global state.
    code = (
        "import sys, caslite, numba; "
        "print(int('matplotlib' in sys.modules), int('matplotlib.pyplot' in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "0"]


# Heavy dependencies that ``import caslite`` (and the command line's parser) must not load:
# they load on first use of a name that needs them.
HEAVY = ("sklearn", "scipy.stats", "numba", "matplotlib", "geopandas", "pandas")


def _loaded_after(code):
    check = f"{code}; import sys; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_import_loads_no_heavy_dependency():
    assert _loaded_after("import caslite") == []
    assert _loaded_after("import caslite.models, caslite.evaluation, caslite.datasets") == []


def test_cli_help_loads_no_heavy_dependency():
    code = (
        "import contextlib, io\n"
        "from caslite.cli import main\n"
        "for argv in (['--help'], ['forecast', '--help'], ['backtest', '--help']):\n"
        "    try:\n"
        "        with contextlib.redirect_stdout(io.StringIO()):\n"
        "            main(argv)\n"
        "    except SystemExit:\n"
        "        pass"
    )
    assert _loaded_after(f"exec({code!r})") == []


def test_lazy_names_are_the_objects_of_their_modules():
    # Every public name of the package and its subpackages resolves, to the very object its
    # module defines, and is listed by dir().
    import importlib

    import caslite.datasets._samples
    import caslite.evaluation.metrics
    import caslite.models.risk

    for package in ("caslite", "caslite.models", "caslite.evaluation", "caslite.datasets"):
        module = importlib.import_module(package)
        for name in module.__all__:
            value = getattr(module, name)
            assert name in dir(module)
            if name != "__version__":
                home = importlib.import_module(module._MODULE_OF[name])
                assert value is getattr(home, name), (package, name)
    assert caslite.models.RiskModel is caslite.models.risk.RiskModel
    assert caslite.evaluation.hit_rate is caslite.evaluation.metrics.hit_rate
    assert caslite.datasets.load_sample is caslite.datasets._samples.load_sample


def test_from_import_of_every_public_name_in_a_fresh_interpreter():
    # One interpreter (the imports are the cost). First the submodules caslite.predict and
    # caslite.evaluation.backtest, which share their names with the functions they define:
    # the package attribute stays the function, as with eager imports. Then every public
    # name by from-import.
    code = (
        "import caslite, sys\n"
        "import caslite.predict\n"
        "from caslite.predict import predict\n"
        "assert caslite.predict is predict, caslite.predict\n"
        "assert sys.modules['caslite.predict'].predict is predict\n"
        "import caslite.evaluation.backtest\n"
        "from caslite.evaluation.backtest import backtest\n"
        "assert caslite.evaluation.backtest is backtest, caslite.evaluation.backtest\n"
        "for name in caslite.__all__:\n"
        "    exec(f'from caslite import {name}')\n"
        "from caslite import *\n"
        "print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


def test_unknown_attribute_raises_attribute_error():
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'RiskModell'"):
        caslite.RiskModell  # noqa: B018
    with pytest.raises(AttributeError, match="caslite.models"):
        caslite.models.NotAModel  # noqa: B018
