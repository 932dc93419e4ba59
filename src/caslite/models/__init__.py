"""Forecasters: fit on the events before a forecast origin, score every cell for every block.

Every forecaster derives from :class:`Forecaster`, follows the scikit-learn estimator contract
(keyword-only parameters stored by ``__init__``, ``fit`` sets attributes ending in ``_``,
``clone`` and ``get_params`` work) and shares one interface:

- ``fit(events, grid, *, origin)`` keeps only what was known before ``origin``;
- ``predict(blocks)`` returns an array ``(n_blocks, grid.n_cells)`` of risk scores, higher
  meaning more risk, for blocks that start at or after the origin.

The risk model (:mod:`caslite.models.risk`): :class:`RiskModel`, gradient-boosted trees on the
features of :mod:`caslite.features`, with :meth:`RiskModel.forecast` giving a
:class:`caslite.Forecast`.

Baselines to compare against (:mod:`caslite.models.baselines`):

- :class:`NaiveCounts` — events per cell over the last weeks;
- :class:`RetrospectiveKDE` — a Gaussian kernel density of those events;
- :class:`ShiftHistory` — events per cell in the same shift of the day;
- :class:`ProspectiveHotSpot` — near-repeat kernel scores (Bowers, Johnson & Pease 2004);
- :class:`GridETAS` — a self-exciting point process per cell, fitted by EM (Mohler et al.
  2015, :mod:`caslite.models.etas`).

The named forecasters that the command line (``caslite backtest --methods``) and the
benchmarks run are listed in :mod:`caslite.models.registry`
(:func:`available_forecasters`, :func:`make_forecaster`).
"""

from typing import TYPE_CHECKING

from caslite._lazy import attach as _attach

if TYPE_CHECKING:  # for type checkers and IDEs; at run time the names load lazily
    from caslite.models._base import Forecaster
    from caslite.models.baselines import (
        NaiveCounts,
        ProspectiveHotSpot,
        RetrospectiveKDE,
        ShiftHistory,
    )
    from caslite.models.etas import GridETAS
    from caslite.models.registry import available_forecasters, make_forecaster
    from caslite.models.risk import RiskModel, TooLittleDataError
    from caslite.models.strong import LongRunCounts, LongRunETAS, LongRunNearRepeatBlend

__all__ = [
    "Forecaster",
    "GridETAS",
    "LongRunCounts",
    "LongRunETAS",
    "LongRunNearRepeatBlend",
    "NaiveCounts",
    "ProspectiveHotSpot",
    "RetrospectiveKDE",
    "RiskModel",
    "ShiftHistory",
    "TooLittleDataError",
    "available_forecasters",
    "make_forecaster",
]


# Where each public name lives, imported on first access (PEP 562).
_MODULE_OF = {
    "Forecaster": "caslite.models._base",
    "GridETAS": "caslite.models.etas",
    "LongRunCounts": "caslite.models.strong",
    "LongRunETAS": "caslite.models.strong",
    "LongRunNearRepeatBlend": "caslite.models.strong",
    "NaiveCounts": "caslite.models.baselines",
    "ProspectiveHotSpot": "caslite.models.baselines",
    "RetrospectiveKDE": "caslite.models.baselines",
    "RiskModel": "caslite.models.risk",
    "ShiftHistory": "caslite.models.baselines",
    "TooLittleDataError": "caslite.models.risk",
    "available_forecasters": "caslite.models.registry",
    "make_forecaster": "caslite.models.registry",
}
__getattr__, __dir__ = _attach(
    __name__, globals(), _MODULE_OF, ("baselines", "etas", "registry", "risk", "strong")
)
