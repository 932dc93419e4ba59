"""Evaluation of risk forecasts: observed counts, hot-spot selection and accuracy scores.

- :func:`count_events` — observed events per block and cell (aoristic for uncertain times);
- :func:`exact_shift_rates` — incidents per hour of each shift, from exact times only;
- :func:`top_cells` — the hot-spot cells at a coverage of the area or a number of cells;
- :func:`hit_rate`, :func:`pai`, :func:`pei_star` — accuracy at one coverage, horizon-wide or
  per block;
- :func:`hit_rate_curve` — all three at several coverages, as a table;
- :func:`near_hit_rate` — the share of events in or within a few cells of the hot spots;
- :func:`poisson_log_score`, :func:`poisson_deviance` — fit of the expected counts;
- :func:`brier_score`, :func:`reliability_curve` — accuracy and calibration of the
  probabilities of at least one event;
- :func:`bootstrap_interval` — a percentile interval of a score's mean over forecast origins.

- :func:`backtest` — a rolling-origin (walk-forward) backtest of forecasters, in parallel
  through joblib or on a Dask cluster, with a :class:`BacktestResult` of tidy scores.

The definitions are in :mod:`caslite.evaluation.metrics`.
"""

from typing import TYPE_CHECKING

from caslite._lazy import attach as _attach

if TYPE_CHECKING:  # for type checkers and IDEs; at run time the names load lazily
    from caslite.evaluation.backtest import DEFAULT_CALIBRATION_EDGES, BacktestResult, backtest
    from caslite.evaluation.metrics import (
        bootstrap_interval,
        brier_score,
        count_events,
        exact_shift_rates,
        hit_rate,
        hit_rate_curve,
        near_hit_rate,
        pai,
        pei_star,
        poisson_deviance,
        poisson_log_score,
        reliability_curve,
        top_cells,
    )

__all__ = [
    "BacktestResult",
    "DEFAULT_CALIBRATION_EDGES",
    "backtest",
    "bootstrap_interval",
    "brier_score",
    "count_events",
    "exact_shift_rates",
    "hit_rate",
    "hit_rate_curve",
    "near_hit_rate",
    "pai",
    "pei_star",
    "poisson_deviance",
    "poisson_log_score",
    "reliability_curve",
    "top_cells",
]


# Where each public name lives, imported on first access (PEP 562).
_MODULE_OF = {
    "BacktestResult": "caslite.evaluation.backtest",
    "DEFAULT_CALIBRATION_EDGES": "caslite.evaluation.backtest",
    "backtest": "caslite.evaluation.backtest",
    "bootstrap_interval": "caslite.evaluation.metrics",
    "brier_score": "caslite.evaluation.metrics",
    "count_events": "caslite.evaluation.metrics",
    "exact_shift_rates": "caslite.evaluation.metrics",
    "hit_rate": "caslite.evaluation.metrics",
    "hit_rate_curve": "caslite.evaluation.metrics",
    "near_hit_rate": "caslite.evaluation.metrics",
    "pai": "caslite.evaluation.metrics",
    "pei_star": "caslite.evaluation.metrics",
    "poisson_deviance": "caslite.evaluation.metrics",
    "poisson_log_score": "caslite.evaluation.metrics",
    "reliability_curve": "caslite.evaluation.metrics",
    "top_cells": "caslite.evaluation.metrics",
}
# (the name ``backtest`` is the function, as it was: see caslite._lazy)
__getattr__, __dir__ = _attach(__name__, globals(), _MODULE_OF, ("metrics",))
