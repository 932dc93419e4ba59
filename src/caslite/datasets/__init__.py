"""Sample data and a synthetic-city simulator with known truth.

- :func:`load_sample` reads the small data sets shipped with caslite (``"toronto"``,
  ``"synthetic"``).
- :func:`simulate_city` simulates burglaries with a self-exciting point process whose true
  intensity is known (:class:`SyntheticCity`).
"""

from typing import TYPE_CHECKING

from caslite._lazy import attach as _attach

if TYPE_CHECKING:  # for type checkers and IDEs; at run time the names load lazily
    from caslite.datasets._samples import SYNTHETIC_SAMPLE_PARAMS, Sample, load_sample
    from caslite.datasets._simulate import SyntheticCity, simulate_city

__all__ = ["SYNTHETIC_SAMPLE_PARAMS", "Sample", "SyntheticCity", "load_sample", "simulate_city"]


# Where each public name lives, imported on first access (PEP 562).
_MODULE_OF = {
    "SYNTHETIC_SAMPLE_PARAMS": "caslite.datasets._samples",
    "Sample": "caslite.datasets._samples",
    "SyntheticCity": "caslite.datasets._simulate",
    "load_sample": "caslite.datasets._samples",
    "simulate_city": "caslite.datasets._simulate",
}
__getattr__, __dir__ = _attach(__name__, globals(), _MODULE_OF)
