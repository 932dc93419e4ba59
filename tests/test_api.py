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
