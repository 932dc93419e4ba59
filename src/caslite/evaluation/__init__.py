"""Evaluation of risk forecasts: observed counts, hot-spot selection, hit rate, PAI and PEI*.

- :func:`count_events` — observed events per block and cell (aoristic for uncertain times);
- :func:`top_cells` — the hot-spot cells at a coverage of the area or a number of cells;
- :func:`hit_rate`, :func:`pai`, :func:`pei_star` — accuracy at one coverage, horizon-wide or
  per block;
- :func:`hit_rate_curve` — all three at several coverages, as a table.

The definitions are in :mod:`caslite.evaluation.metrics`.
"""

from caslite.evaluation.metrics import (
    count_events,
    hit_rate,
    hit_rate_curve,
    pai,
    pei_star,
    top_cells,
)

__all__ = ["count_events", "hit_rate", "hit_rate_curve", "pai", "pei_star", "top_cells"]
