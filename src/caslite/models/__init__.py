"""Forecasters: fit on the events before a forecast origin, score every cell for every block.

Every forecaster follows the scikit-learn estimator contract (keyword-only parameters stored
by ``__init__``, ``fit`` sets attributes ending in ``_``, ``clone`` and ``get_params`` work)
and shares one interface:

- ``fit(events, grid, *, origin)`` keeps only what was known before ``origin``;
- ``predict(blocks)`` returns an array ``(n_blocks, grid.n_cells)`` of risk scores, higher
  meaning more risk, for blocks that start at or after the origin.
"""

from caslite.models.baselines import ProspectiveHotSpot

__all__ = ["ProspectiveHotSpot"]
