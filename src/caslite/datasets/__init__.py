"""Sample data and a synthetic-city simulator with known truth.

- :func:`load_sample` reads the small data sets shipped with caslite (``"toronto"``,
  ``"synthetic"``).
- :func:`simulate_city` simulates burglaries with a self-exciting point process whose true
  intensity is known (:class:`SyntheticCity`).
"""

from caslite.datasets._samples import SYNTHETIC_SAMPLE_PARAMS, Sample, load_sample
from caslite.datasets._simulate import SyntheticCity, simulate_city

__all__ = ["SYNTHETIC_SAMPLE_PARAMS", "Sample", "SyntheticCity", "load_sample", "simulate_city"]
