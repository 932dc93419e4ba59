"""Hit rate, PAI, PEI* and probabilistic scores of risk forecasts per grid cell and block.

All metrics compare a ``risk`` array with an array of observed event ``counts`` of the same
shape: either one value per cell, shape ``(n_cells,)``, or one per block and cell, shape
``(n_blocks, n_cells)`` (as returned by :func:`count_events` and by the models' ``predict``).

Definitions, for a coverage ``c`` in (0, 1]:

- **selection**: cells are ranked by risk, highest first, with ties broken by the lower cell id
  first; the hot spots are the longest prefix of this ranking whose cumulative area is at most
  ``c`` times the total area (see :func:`top_cells`). With unit areas this is the top
  ``floor(c * n_cells)`` cells.
- **hit rate** ``n / N``: the share of the ``N`` events that fall in the selected cells.
- **PAI** (predictive accuracy index) ``(n / N) / (a / A)``: the hit rate divided by the share
  of the total area ``A`` that the selection ``a`` actually covers.
- **PEI*** (predictive efficiency index) ``n / n*``, where ``n*`` is the events in the best
  set of cells of the same area ``a``: the cells chosen by the same rule when ranking on the
  counts themselves (a forecast with perfect hindsight).
- **near-hit rate**: the share of the events in the selected cells or within ``rings`` cells
  of one (queen neighbourhood on the grid's raster), each event counted once.

With 2-D input, ``per_block=False`` (the default) scores the whole horizon: cells are ranked
on the risk summed over blocks and scored on the counts summed over blocks. ``per_block=True``
chooses the hot spots of every block (row) from that block's risk and scores them on that
block's events, and pools the blocks: ``n``, ``N``, ``a``, ``A`` and ``n*`` are sums over
blocks, so busy blocks weigh more than quiet ones. This is the per-shift variant of every
selection metric, :func:`hit_rate_curve` included.

The probabilistic scores are means over all (block, cell) entries, with ``mu`` the forecast
expected count, ``p`` the forecast probability of at least one event and ``y`` the count:

- **log score** ``y * log(mu) - mu - log(y!)``, the Poisson log-likelihood (higher is better);
- **Poisson deviance** ``2 * (y * log(y / mu) - (y - mu))`` (lower is better, 0 is perfect);
- **Brier score** ``(p - min(y, 1))^2`` (lower is better);
- **reliability curve**: mean ``p`` against the observed frequency of ``min(y, 1)`` in bins
  of ``p``.

Scores of several forecast origins are summarised by their mean and a bootstrap percentile
interval over origins (:func:`bootstrap_interval`).
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
import scipy.ndimage
import scipy.sparse
import scipy.special
import scipy.stats

from caslite._core import area_budget as _budget
from caslite._core import as_area_array as _area_array
from caslite._core import as_float_array as _float_array
from caslite._core import as_risk_array as _risk_array
from caslite._core import check_coverage as _coverage
from caslite._core import count_events, exact_shift_rates, top_cells
from caslite._core import cumulative_area as _cumulative_area
from caslite._validation import check_bool, check_int, check_share
from caslite.grid import Grid

__all__ = [
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


# ---------------------------------------------------------------------- metrics
def hit_rate(risk, counts, coverage, *, area=None, per_block=False) -> float:
    """Return the share of the events in the hot-spot cells at a coverage.

    Parameters
    ----------
    risk : array-like of float, shape (n_cells,) or (n_blocks, n_cells)
        Forecast risk. Ranked as in :func:`top_cells` (ties: lower cell id first); NaN is
        refused.
    counts : array-like of float, same shape as ``risk``
        Observed events, e.g. from :func:`count_events`; non-negative, may be fractional.
    coverage : float
        Share of the total area to select, in (0, 1].
    area : array-like of float, shape (n_cells,), optional
        Area of each cell (e.g. :attr:`Grid.area_fraction`); default 1 for every cell.
    per_block : bool, default False
        With 2-D input: if True, choose the hot spots of every block from its own risk and
        pool the hits over blocks, ``sum(hits) / sum(events)``; if False, rank the cells on the
        risk summed over blocks and score them on the counts summed over blocks. Has no effect
        on 1-D input.

    Returns
    -------
    float
        ``n / N``, in [0, 1]; NaN when there are no events (``N == 0``).

    See Also
    --------
    pai, pei_star, hit_rate_curve

    Examples
    --------
    >>> risk = [0.9, 0.1, 0.5, 0.3, 0.7]
    >>> counts = [3, 0, 1, 4, 2]
    >>> hit_rate(risk, counts, 0.4)  # cells 0 and 4 hold 5 of the 10 events
    0.5

    Per block, the hot spots follow the risk of each block:

    >>> risk = [[1.0, 0.0], [0.0, 1.0]]
    >>> counts = [[1, 0], [0, 3]]
    >>> hit_rate(risk, counts, 0.5, per_block=True)
    1.0
    >>> hit_rate(risk, counts, 0.5)  # horizon-wide: the tie goes to cell 0
    0.25
    """
    scores = _scores(risk, counts, [coverage], area, per_block, best=False)
    return float(scores.hit_rate[0])


def pai(risk, counts, coverage, *, area=None, per_block=False) -> float:
    """Return the predictive accuracy index ``(n / N) / (a / A)`` at a coverage.

    Parameters
    ----------
    risk, counts, coverage, area, per_block
        As in :func:`hit_rate`.

    Returns
    -------
    float
        The hit rate divided by the share of the total area ``A`` that the selected cells
        actually cover (``a``, summed over blocks with ``per_block=True``; ``A`` then is the
        total area times the number of blocks). NaN when there are no events or no cell fits
        in the area budget.

    Examples
    --------
    >>> risk = [0.9, 0.1, 0.5, 0.3, 0.7]
    >>> counts = [3, 0, 1, 4, 2]
    >>> pai(risk, counts, 0.4)  # 50% of the events in 40% of the area
    1.25
    """
    scores = _scores(risk, counts, [coverage], area, per_block, best=False)
    return float(scores.pai[0])


def pei_star(risk, counts, coverage, *, area=None, per_block=False) -> float:
    """Return the predictive efficiency index ``n / n*`` at a coverage.

    ``n*`` is the number of events in the best set of cells of the same area as the selected
    ones: the cells chosen by the rule of :func:`top_cells` when ranking on the counts
    themselves, with the area actually selected as the budget (per block with
    ``per_block=True``, then summed).

    Parameters
    ----------
    risk, counts, coverage, area, per_block
        As in :func:`hit_rate`.

    Returns
    -------
    float
        ``n / n*`` in [0, 1]; 1 means no set of cells of that area would have caught more
        events. NaN when ``n* == 0`` (no events in any set of that area, or no cell fits in
        the area budget).

    Notes
    -----
    With equal cell areas, ranking on the counts gives the true best set. With unequal areas
    (``area=``) the best set is a knapsack problem and the counts-ranked prefix can miss it
    (its next cell may be too large while a smaller one would fit). ``n*`` is then the most
    of: the counts-ranked prefix, the forecast's own selection (a set of the same area, which
    keeps PEI* at most 1) and the fullest single cell that fits (so PEI* is 0, not NaN, when
    the forecast misses events that a cell of that area could have caught). It is a lower
    bound on the true best, so PEI* can overstate the efficiency slightly in that case.

    Examples
    --------
    >>> risk = [0.9, 0.1, 0.5, 0.3, 0.7]
    >>> counts = [3, 0, 1, 4, 2]
    >>> round(pei_star(risk, counts, 0.4), 4)  # caught 5; cells 3 and 0 would catch 7
    0.7143
    """
    scores = _scores(risk, counts, [coverage], area, per_block, best=True)
    return float(scores.pei_star[0])


def hit_rate_curve(risk, counts, coverages, *, area=None, per_block=False) -> pd.DataFrame:
    """Return hit rate, PAI and PEI* at several coverages.

    The cells are ranked once, so this is much faster than calling the metrics one coverage at
    a time.

    Parameters
    ----------
    risk, counts, area, per_block
        As in :func:`hit_rate`.
    coverages : float or array-like of float
        Shares of the total area, each in (0, 1].

    Returns
    -------
    pandas.DataFrame
        One row per coverage, in the given order, with columns ``coverage``, ``area_share``
        (``a / A``, the share of the area actually selected), ``hit_rate``, ``pai`` and
        ``pei_star``.

    Examples
    --------
    >>> risk = [0.9, 0.1, 0.5, 0.3, 0.7]
    >>> counts = [3, 0, 1, 4, 2]
    >>> hit_rate_curve(risk, counts, [0.2, 0.4, 1.0]).round(4)
       coverage  area_share  hit_rate   pai  pei_star
    0       0.2         0.2       0.3  1.50    0.7500
    1       0.4         0.4       0.5  1.25    0.7143
    2       1.0         1.0       1.0  1.00    1.0000
    """
    scores = _scores(risk, counts, coverages, area, per_block, best=True)
    return pd.DataFrame(
        {
            "coverage": scores.coverage,
            "area_share": scores.area_share,
            "hit_rate": scores.hit_rate,
            "pai": scores.pai,
            "pei_star": scores.pei_star,
        }
    )


def near_hit_rate(risk, counts, coverage, grid, *, rings=1, area=None, per_block=False) -> float:
    """Return the share of the events in or near the hot-spot cells at a coverage.

    The hot spots are selected as in :func:`hit_rate`; an event is a *near hit* when it falls
    in a selected cell or in a cell at most ``rings`` rings away from one (the queen, or
    Chebyshev, neighbourhood on the grid's raster: ``max(|drow|, |dcol|) <= rings``). Every
    event counts once, however many selected cells it is near.

    Parameters
    ----------
    risk, counts, coverage, area, per_block
        As in :func:`hit_rate`; the cells are the active cells of ``grid``, in id order.
    grid : Grid
        The grid the cell ids refer to; its :attr:`Grid.cell_row` and :attr:`Grid.cell_col`
        give the raster position of every cell.
    rings : int, default 1
        Width of the neighbourhood in cells, >= 0; 1 adds the 8 cells around each hot spot,
        2 the 24 cells of the 5 x 5 square. ``rings=0`` gives :func:`hit_rate`.

    Returns
    -------
    float
        Near hits over all events, in [0, 1]; NaN when there are no events. With
        ``per_block=True`` both are summed over blocks, each block's neighbourhood grown from
        its own hot spots.

    Notes
    -----
    The neighbourhood is taken on the raster, so inactive cells (outside the study area) do
    not interrupt it: with ``rings=2`` an active cell two columns away counts even when the
    cell between is inactive. The selection uses ``area`` only, as :func:`hit_rate` does; pass
    ``area=grid.area_fraction`` to select by the area inside the study area. The neighbours
    add events but no area to the selection, so no PAI is defined on near hits.

    Examples
    --------
    >>> import numpy as np
    >>> from caslite import Grid
    >>> grid = Grid(x0=0.0, y0=0.0, cell_size=125.0, n_cols=4, n_rows=1, crs="EPSG:28992")
    >>> risk = [0.9, 0.1, 0.2, 0.3]
    >>> counts = [1, 2, 0, 1]
    >>> hit_rate(risk, counts, 0.25)  # cell 0 holds 1 of the 4 events
    0.25
    >>> near_hit_rate(risk, counts, 0.25, grid)  # cell 1 is next to cell 0
    0.75
    >>> near_hit_rate(risk, counts, 0.25, grid, rings=3)
    1.0
    """
    risk = _risk_array(risk)
    counts = _counts_array(counts)
    _check_pair(risk, counts, "risk")
    if not isinstance(grid, Grid):
        raise TypeError(f"grid must be a caslite Grid, got {type(grid).__name__}.")
    if grid.n_cells != risk.shape[-1]:
        raise ValueError(
            f"risk has {risk.shape[-1]} cells (shape {risk.shape}) but the grid has "
            f"{grid.n_cells} active cells; pass the grid the forecast was made on."
        )
    check_int(rings, "rings", minimum=0, example="1 (0 counts the hot spots only)")
    check_bool(per_block, "per_block")
    coverage = _coverage(coverage)
    weights = _area_array(area, risk.shape[-1])
    risk, counts = _scored_rows(risk, counts, per_block)
    budget = coverage * (risk.shape[-1] if weights is None else weights.sum())
    rows, cols = grid.cell_row, grid.cell_col
    raster = np.zeros(grid.shape, dtype=np.uint8)
    hits = 0.0
    for row_risk, row_counts in zip(risk, counts, strict=True):
        order = np.argsort(-row_risk, kind="stable")
        n_selected = np.searchsorted(_cumulative_area(weights, order), _budget(budget), "right")
        selected = order[:n_selected]
        if rings == 0 or selected.size == 0:
            hits += row_counts[selected].sum()
            continue
        raster[:] = 0
        raster[rows[selected], cols[selected]] = 1
        near = scipy.ndimage.maximum_filter(raster, size=2 * int(rings) + 1, mode="constant")
        hits += row_counts[near[rows, cols] > 0].sum()
    n_events = counts.sum()
    return float(hits / n_events) if n_events > 0 else float("nan")


# ---------------------------------------------------------------------- probabilistic scores
def poisson_log_score(risk, counts) -> float:
    """Return the mean Poisson log-likelihood of the counts under the forecast means.

    For every entry (block, cell) with expected count ``mu = risk`` and observed count
    ``y = counts``, ``log P(y | mu) = y * log(mu) - mu - log(y!)``, with ``log(y!)`` computed
    as ``gammaln(y + 1)``; the score is the mean over all entries. Higher is better.

    Parameters
    ----------
    risk : array-like of float, shape (n_cells,) or (n_blocks, n_cells)
        Expected number of events per entry (e.g. a Poisson model's ``predict``); finite and
        >= 0.
    counts : array-like of float, same shape as ``risk``
        Observed events, e.g. from :func:`count_events`; non-negative, may be fractional.

    Returns
    -------
    float
        The mean log-likelihood, <= 0 for integer counts. ``-inf`` when some entry has
        ``risk == 0`` and ``counts > 0`` (the forecast called an observed event impossible);
        an entry with ``risk == 0`` and ``counts == 0`` scores 0.

    Notes
    -----
    Fractional counts (aoristic weights of events with uncertain times) enter the same
    formula, with ``gammaln`` in place of the factorial. This is the usual continuous
    extension of the Poisson log-likelihood (the one a Poisson regression maximises); it is
    not the log of a probability, but compares forecasts of the same counts correctly. See
    :func:`poisson_deviance` for the same comparison on a scale where 0 is a perfect fit.

    Examples
    --------
    >>> import math
    >>> score = poisson_log_score([1.0, 2.0], [0, 2])
    >>> math.isclose(score, ((0 - 1) + (2 * math.log(2) - 2 - math.log(2))) / 2)
    True
    >>> poisson_log_score([0.0, 1.0], [1, 0])
    -inf
    """
    risk = _expected_counts(risk)
    counts = _counts_array(counts)
    _check_pair(risk, counts, "risk")
    with np.errstate(divide="ignore"):
        log_p = scipy.special.xlogy(counts, risk) - risk - scipy.special.gammaln(counts + 1.0)
    return float(log_p.mean())


def poisson_deviance(risk, counts) -> float:
    """Return the mean Poisson deviance of the counts from the forecast means.

    For every entry, ``2 * (y * log(y / mu) - (y - mu))`` with ``mu = risk``, ``y = counts``
    and ``0 * log(0) = 0``; the mean over all entries. Lower is better; 0 is a perfect fit.
    It equals ``2 * (log P(y | y) - log P(y | mu))`` per entry, so ranks forecasts as
    :func:`poisson_log_score` does.

    Parameters
    ----------
    risk, counts
        As in :func:`poisson_log_score`.

    Returns
    -------
    float
        The mean deviance, >= 0; ``inf`` when some entry has ``risk == 0`` and
        ``counts > 0``.

    Examples
    --------
    >>> poisson_deviance([1.0, 2.0], [0, 2])  # entries 2 * (0 - (0 - 1)) = 2 and 0
    1.0
    """
    risk = _expected_counts(risk)
    counts = _counts_array(counts)
    _check_pair(risk, counts, "risk")
    with np.errstate(divide="ignore", invalid="ignore"):
        deviance = 2.0 * (
            scipy.special.xlogy(counts, counts) - scipy.special.xlogy(counts, risk) - counts + risk
        )
    return float(deviance.mean())


def brier_score(probability, counts) -> float:
    """Return the mean squared error of the probability of at least one event.

    For every entry, ``(p - y)^2`` with ``p = probability`` and ``y = min(counts, 1)``; the
    mean over all entries. Lower is better.

    Parameters
    ----------
    probability : array-like of float, shape (n_cells,) or (n_blocks, n_cells)
        Forecast probability of at least one event per entry, in [0, 1]. From an expected
        count ``mu`` of a Poisson forecast, ``p = 1 - exp(-mu)`` (``-np.expm1(-mu)``).
    counts : array-like of float, same shape as ``probability``
        Observed events, e.g. from :func:`count_events`; non-negative, may be fractional.

    Returns
    -------
    float
        The Brier score, in [0, 1].

    Notes
    -----
    The outcome is 1 for an entry with one or more events and 0 for one without. An entry
    whose only events have uncertain times holds a fraction (aoristic weight) instead; it
    enters as ``y = min(counts, 1)``, a partial outcome, so that an event split over two
    blocks counts half in each rather than as a whole event in both or in neither.

    Examples
    --------
    >>> brier_score([0.5, 0.0, 1.0, 0.5], [2, 0, 0, 0])  # (0.25 + 0 + 1 + 0.25) / 4
    0.375
    """
    probability = _probability_array(probability)
    counts = _counts_array(counts)
    _check_pair(probability, counts, "probability")
    outcome = np.minimum(counts, 1.0)
    return float(((probability - outcome) ** 2).mean())


def reliability_curve(probability, counts, *, bins=10) -> pd.DataFrame:
    """Return the mean forecast probability and observed frequency of events in bins.

    Parameters
    ----------
    probability, counts
        As in :func:`brier_score`; the outcome of an entry is ``min(counts, 1)``.
    bins : int or array-like of float, default 10
        An int: that many bins holding about equal numbers of entries (quantiles of the
        probability; ties can merge bins, so fewer may come back). An array: strictly
        increasing bin edges that cover every probability, e.g.
        ``np.r_[0.0, np.geomspace(1e-5, 1.0, 11)]``.

    Returns
    -------
    pandas.DataFrame
        One row per non-empty bin, lowest first, with columns ``bin_low``, ``bin_high`` (the
        edges), ``n`` (entries in the bin), ``mean_predicted``, ``observed_frequency`` (mean
        outcome), ``sum_predicted`` and ``sum_observed``. Every bin is ``[bin_low,
        bin_high)``, except the last one, which includes ``bin_high``.

    Notes
    -----
    The probabilities of burglary per cell and block are mostly tiny, so equal-width bins on
    [0, 1] put almost every entry in the first bin; use quantile bins, or fixed edges spaced
    on a log scale. Fixed edges also let the curves of several forecast origins be pooled:
    group the rows on ``bin_low`` and ``bin_high``, sum ``n``, ``sum_predicted`` and
    ``sum_observed``, and divide the sums by ``n``. Quantile bins differ from origin to origin
    and cannot be pooled that way. Quantile edges are computed with :func:`numpy.quantile`
    (linear interpolation), so the result is deterministic.

    Examples
    --------
    >>> probability = [0.1, 0.2, 0.6, 0.8]
    >>> counts = [0, 1, 0, 2]
    >>> curve = reliability_curve(probability, counts, bins=[0.0, 0.5, 1.0])
    >>> curve[["bin_low", "bin_high", "n", "mean_predicted", "observed_frequency"]]
       bin_low  bin_high  n  mean_predicted  observed_frequency
    0      0.0       0.5  2            0.15                 0.5
    1      0.5       1.0  2            0.70                 0.5
    >>> curve["sum_observed"].tolist()
    [1.0, 1.0]
    """
    probability = _probability_array(probability)
    counts = _counts_array(counts)
    _check_pair(probability, counts, "probability")
    p = probability.ravel()
    outcome = np.minimum(counts, 1.0).ravel()
    edges = _bin_edges(bins, p)
    index = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, edges.size - 2)
    n_bins = edges.size - 1
    n = np.bincount(index, minlength=n_bins)
    sum_predicted = np.bincount(index, weights=p, minlength=n_bins)
    sum_observed = np.bincount(index, weights=outcome, minlength=n_bins)
    keep = n > 0
    return pd.DataFrame(
        {
            "bin_low": edges[:-1][keep],
            "bin_high": edges[1:][keep],
            "n": n[keep].astype(np.int64),
            "mean_predicted": sum_predicted[keep] / n[keep],
            "observed_frequency": sum_observed[keep] / n[keep],
            "sum_predicted": sum_predicted[keep],
            "sum_observed": sum_observed[keep],
        }
    )


def bootstrap_interval(
    values, *, confidence=0.9, n_resamples=2000, random_state=0
) -> tuple[float, float]:
    """Return a bootstrap percentile interval of the mean of per-origin scores.

    The forecast origins are resampled with replacement ``n_resamples`` times; the interval
    holds the central ``confidence`` share of the resampled means
    (:func:`scipy.stats.bootstrap` with ``method="percentile"``).

    Parameters
    ----------
    values : array-like of float, shape (n_origins,)
        One score per forecast origin (e.g. the hit rate at 3% coverage), at least two; NaN is
        refused.
    confidence : float, default 0.9
        Confidence level, in (0, 1).
    n_resamples : int, default 2000
        Number of bootstrap resamples, >= 1.
    random_state : int, numpy.random.Generator or None, default 0
        Seed of the resampling (``np.random.default_rng(random_state)``); the same int gives
        the same interval.

    Returns
    -------
    tuple of float
        ``(low, high)``.

    Raises
    ------
    ValueError
        If ``values`` holds NaN or infinite values, is not 1-d, or has fewer than two values:
        one origin gives no information on the spread between origins, so no interval is
        returned for it (rather than a degenerate ``(v, v)``).

    Notes
    -----
    Origins close in time share events and fitted history, so their scores are correlated
    and the interval, which treats them as independent, is somewhat too narrow; space the
    origins at least a horizon apart.

    Examples
    --------
    >>> bootstrap_interval([0.5, 0.5, 0.5])
    (0.5, 0.5)
    >>> low, high = bootstrap_interval([0.2, 0.4, 0.3, 0.5], random_state=1)
    >>> 0.2 <= low <= 0.35 <= high <= 0.5
    True
    """
    values = _float_array(values, "values")
    if values.ndim != 1:
        raise ValueError(
            f"values must be 1-d (one score per forecast origin), got shape {values.shape}."
        )
    bad = ~np.isfinite(values)
    if bad.any():
        raise ValueError(
            f"values has {int(bad.sum())} NaN or infinite values (origins "
            f"{np.flatnonzero(bad)[:5].tolist()}); drop the origins without a score (e.g. no "
            "events) explicitly before taking the interval."
        )
    if values.size < 2:
        raise ValueError(
            f"values has {values.size} value(s); a bootstrap interval over forecast origins "
            "needs at least 2 origins."
        )
    check_share(confidence, "confidence", "(0, 1)", example="0.9 for 90%")
    check_int(n_resamples, "n_resamples", example=2000)
    result = scipy.stats.bootstrap(
        (values,),
        np.mean,
        n_resamples=int(n_resamples),
        confidence_level=float(confidence),
        method="percentile",
        rng=np.random.default_rng(random_state),
    )
    interval = result.confidence_interval
    return float(interval.low), float(interval.high)


# ---------------------------------------------------------------------- internals
class _Scores:
    """Pooled hits, areas and best-set hits at each coverage."""

    def __init__(self, coverage, hits, n_events, selected_area, total_area, best):
        self.coverage = coverage
        with np.errstate(invalid="ignore", divide="ignore"):
            self.hit_rate = hits / n_events if n_events > 0 else np.full(hits.shape, np.nan)
            self.area_share = selected_area / total_area
            self.pai = np.where(selected_area > 0, self.hit_rate / self.area_share, np.nan)
            self.pei_star = None if best is None else np.where(best > 0, hits / best, np.nan)


def _scores(risk, counts, coverages, area, per_block, *, best) -> _Scores:
    """Rank and score every row of ``risk`` at every coverage, pooled over rows."""
    risk = _risk_array(risk)
    counts = _counts_array(counts)
    _check_pair(risk, counts, "risk")
    check_bool(per_block, "per_block")
    if np.ndim(coverages) > 1:
        raise ValueError(f"coverages must be a number or a 1-d sequence, got {coverages!r}.")
    coverage = np.array(
        [_coverage(c) for c in np.atleast_1d(np.asarray(coverages, dtype=object))], dtype=float
    )
    weights = _area_array(area, risk.shape[-1])
    risk, counts = _scored_rows(risk, counts, per_block)
    hits = np.zeros(coverage.size)
    selected = np.zeros(coverage.size)
    best_hits = np.zeros(coverage.size) if best else None
    cell_area = np.ones(risk.shape[-1]) if weights is None else weights
    total = cell_area.sum()
    by_area = None if weights is None else np.argsort(weights, kind="stable")
    for row_risk, row_counts in zip(risk, counts, strict=True):
        row_hits, row_area = _prefix_scores(row_risk, row_counts, weights, coverage * total)
        hits += row_hits
        selected += row_area
        if best:
            # n*: the counts-ranked prefix of the same area; with unequal areas also at least
            # the forecast's own set and the best single cell that fits (see pei_star).
            row_best, _ = _prefix_scores(row_counts, row_counts, weights, row_area)
            if weights is not None:
                row_best = np.maximum(row_best, row_hits)
                row_best = np.maximum(row_best, _best_cell(row_counts, weights, by_area, row_area))
            best_hits += row_best
    n_rows = risk.shape[0]
    return _Scores(coverage, hits, counts.sum(), selected, n_rows * total, best_hits)


def _check_pair(values, counts, name: str) -> None:
    """Refuse arrays of different shapes, or not of shape (n_cells,) or (n_blocks, n_cells)."""
    if values.shape != counts.shape:
        raise ValueError(
            f"{name} has shape {values.shape} but counts has shape {counts.shape}; they must be "
            "equal: (n_cells,) or (n_blocks, n_cells)."
        )
    if values.ndim not in (1, 2) or values.shape[-1] == 0:
        raise ValueError(
            f"{name} and counts must have shape (n_cells,) or (n_blocks, n_cells) with at least "
            f"one cell, got {values.shape}."
        )


def _scored_rows(risk, counts, per_block) -> tuple[np.ndarray, np.ndarray]:
    """Return the 2-d rows to rank and score: the blocks, or one row summed over them."""
    if risk.ndim == 1:
        return risk[np.newaxis], counts[np.newaxis]
    if per_block:
        return risk, counts
    with np.errstate(invalid="ignore"):
        risk = risk.sum(axis=0, keepdims=True)
    if np.isnan(risk).any():
        raise ValueError(
            "the risk summed over blocks is NaN for some cells (+inf and -inf in one "
            "column); pass finite risks or per_block=True."
        )
    return risk, counts.sum(axis=0, keepdims=True)


def _prefix_scores(risk, counts, weights, budgets) -> tuple[np.ndarray, np.ndarray]:
    """Hits and area of the longest risk-ranked prefix within each area budget."""
    order = np.argsort(-risk, kind="stable")
    cum_area = _cumulative_area(weights, order)
    cum_hits = np.cumsum(counts[order])
    n_selected = np.searchsorted(cum_area, _budget(budgets), side="right")
    last = np.maximum(n_selected - 1, 0)
    some = n_selected > 0
    return np.where(some, cum_hits[last], 0.0), np.where(some, cum_area[last], 0.0)


def _best_cell(counts, weights, by_area, budgets) -> np.ndarray:
    """Most events in one cell of area within each budget (0 if no cell fits)."""
    most = np.maximum.accumulate(counts[by_area])
    n_fit = np.searchsorted(weights[by_area], _budget(budgets), side="right")
    return np.where(n_fit > 0, most[np.maximum(n_fit - 1, 0)], 0.0)


def _counts_array(counts) -> np.ndarray:
    counts = _float_array(counts, "counts")
    bad = ~np.isfinite(counts)
    if bad.any():
        raise ValueError(f"counts has {int(bad.sum())} NaN or infinite values; counts are events.")
    negative = counts < 0
    if negative.any():
        raise ValueError(
            f"counts has {int(negative.sum())} negative values (smallest {counts.min():g}); "
            "counts of events must be >= 0."
        )
    return counts


def _expected_counts(risk) -> np.ndarray:
    risk = _risk_array(risk)
    infinite = np.isinf(risk)
    if infinite.any():
        raise ValueError(
            f"risk has {int(infinite.sum())} infinite values; the log score and deviance need "
            "finite expected counts (e.g. a Poisson model's predict)."
        )
    negative = risk < 0
    if negative.any():
        raise ValueError(
            f"risk has {int(negative.sum())} negative values (smallest {risk.min():g}); "
            "expected counts of events must be >= 0."
        )
    return risk


def _probability_array(probability) -> np.ndarray:
    probability = _float_array(probability, "probability")
    n_nan = int(np.isnan(probability).sum())
    if n_nan:
        raise ValueError(
            f"probability has {n_nan} NaN value{'s' if n_nan > 1 else ''} (of "
            f"{probability.size}); fill them or fix the model."
        )
    outside = (probability < 0) | (probability > 1)
    if outside.any():
        raise ValueError(
            f"probability has {int(outside.sum())} values outside [0, 1] (smallest "
            f"{probability.min():g}, largest {probability.max():g}); pass the probability of "
            "at least one event, e.g. -np.expm1(-risk) for an expected count."
        )
    return probability


def _bin_edges(bins, probability) -> np.ndarray:
    """Bin edges: ``bins`` quantiles of the probability, or the given increasing edges."""
    if isinstance(bins, (bool, np.bool_)):
        raise TypeError(f"bins must be a number of bins or an array of edges, got {bins!r}.")
    if isinstance(bins, numbers.Integral):
        if bins < 1:
            raise ValueError(f"bins={bins} must be >= 1.")
        edges = np.unique(np.quantile(probability, np.linspace(0.0, 1.0, int(bins) + 1)))
        if edges.size == 1:  # every probability equal: one bin of zero width
            edges = np.repeat(edges, 2)
        return edges
    edges = _float_array(bins, "bins")
    if edges.ndim != 1 or edges.size < 2:
        raise ValueError(
            f"bins must be an int or a 1-d array of at least 2 edges, got shape {edges.shape}."
        )
    if not (np.isfinite(edges).all() and (np.diff(edges) > 0).all()):
        raise ValueError(f"bins edges must be finite and strictly increasing, got {edges}.")
    outside = (probability < edges[0]) | (probability > edges[-1])
    if outside.any():
        raise ValueError(
            f"{int(outside.sum())} probabilities lie outside the bin edges "
            f"[{edges[0]:g}, {edges[-1]:g}] (smallest {probability.min():g}, largest "
            f"{probability.max():g}); let the edges span them, e.g. start at 0 and end at 1."
        )
    return edges
