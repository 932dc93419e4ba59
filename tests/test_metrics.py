"""Tests of caslite.evaluation.metrics: counts, hot-spot selection, hit rate, PAI, PEI*,
near hits, Poisson log score and deviance, Brier score, reliability curve, bootstrap interval.

Expected values are worked out by hand in the comments, or come from a brute-force search over
every subset of a few cells (for the best set of cells behind PEI*), a pairwise-distance twin
(near hits), scipy's Poisson pmf, scikit-learn's Poisson deviance, or normal theory.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from shapely.geometry import box
from sklearn.metrics import mean_poisson_deviance

import caslite
from caslite.evaluation import (
    bootstrap_interval,
    brier_score,
    count_events,
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

CRS = "EPSG:28992"
TZ = "Europe/Amsterdam"

# Five unit cells. Ranked by risk: 0 (0.9), 4 (0.7), 2 (0.5), 3 (0.3), 1 (0.1), holding
# 3, 2, 1, 4, 0 events: cumulative hits 3, 5, 6, 10, 10 of N = 10.
# Best cells by count: 3, 0, 4, 2, 1, cumulative 4, 7, 9, 10, 10.
RISK = np.array([0.9, 0.1, 0.5, 0.3, 0.7])
COUNTS = np.array([3.0, 0.0, 1.0, 4.0, 2.0])


# ---------------------------------------------------------------------- hand-computed, 1-d
@pytest.mark.parametrize(
    ("coverage", "expected_hit", "expected_pai", "expected_pei"),
    [
        (0.2, 0.3, 0.3 / 0.2, 3 / 4),
        (0.4, 0.5, 0.5 / 0.4, 5 / 7),
        (0.6, 0.6, 0.6 / 0.6, 6 / 9),
        (0.8, 1.0, 1.0 / 0.8, 10 / 10),
        (1.0, 1.0, 1.0, 1.0),
    ],
)
def test_five_cells_by_hand(coverage, expected_hit, expected_pai, expected_pei):
    assert hit_rate(RISK, COUNTS, coverage) == pytest.approx(expected_hit)
    assert pai(RISK, COUNTS, coverage) == pytest.approx(expected_pai)
    assert pei_star(RISK, COUNTS, coverage) == pytest.approx(expected_pei)


def test_coverage_between_cells_rounds_down():
    # 50% of 5 cells is 2.5 cells: 2 are selected, so the area share is 0.4 and PAI uses it.
    assert top_cells(RISK, 0.5).tolist() == [0, 4]
    assert hit_rate(RISK, COUNTS, 0.5) == pytest.approx(0.5)
    assert pai(RISK, COUNTS, 0.5) == pytest.approx(0.5 / 0.4)
    curve = hit_rate_curve(RISK, COUNTS, [0.5])
    assert curve["area_share"].tolist() == pytest.approx([0.4])


def test_coverage_below_one_cell_selects_nothing():
    # 10% of 5 cells is half a cell: nothing fits, no hits, and PAI / PEI* are undefined.
    assert top_cells(RISK, 0.1).tolist() == []
    assert hit_rate(RISK, COUNTS, 0.1) == 0.0
    assert np.isnan(pai(RISK, COUNTS, 0.1))
    assert np.isnan(pei_star(RISK, COUNTS, 0.1))


def test_exact_budget_survives_float_error():
    # 0.29 * 100 = 28.999999999999996 and 0.58 * 50 = 28.999999999999996: the tolerance keeps
    # the prefix at the intended number of cells.
    assert 0.29 * 100 < 29
    assert len(top_cells(np.arange(100.0), 0.29)) == 29
    assert len(top_cells(np.arange(50.0), 0.58)) == 29
    assert hit_rate(np.arange(100.0)[::-1], np.ones(100), 0.29) == pytest.approx(0.29)
    area = np.full(10, 0.1)  # cumulative sums 0.1, 0.2, 0.30000000000000004, ...
    assert np.cumsum(area)[2] > 0.3 * area.sum()
    assert len(top_cells(np.arange(10.0), 0.3, area=area)) == 3


def test_no_events_gives_nan():
    zeros = np.zeros(5)
    assert np.isnan(hit_rate(RISK, zeros, 0.4))
    assert np.isnan(pai(RISK, zeros, 0.4))
    assert np.isnan(pei_star(RISK, zeros, 0.4))


def test_perfect_forecast_has_pei_star_one():
    assert pei_star(COUNTS, COUNTS, 0.4) == 1.0
    assert hit_rate(COUNTS, COUNTS, 0.4) == pytest.approx(0.7)


def test_top_cells_by_count():
    assert top_cells(RISK, k=3).tolist() == [0, 4, 2]
    assert top_cells(RISK, k=5).tolist() == [0, 4, 2, 3, 1]
    assert top_cells(RISK, k=1).dtype == np.int64


# ---------------------------------------------------------------------- ties
def test_ties_go_to_the_lower_cell_id():
    risk = np.array([1.0, 2.0, 2.0, 0.0, 2.0])
    assert top_cells(risk, k=2).tolist() == [1, 2]
    assert top_cells(risk, k=4).tolist() == [1, 2, 4, 0]
    assert top_cells(risk, 0.4).tolist() == [1, 2]
    # All events sit in the tied cell that loses the tie.
    counts = np.array([0.0, 0.0, 0.0, 0.0, 5.0])
    assert hit_rate(risk, counts, 0.4) == 0.0
    assert hit_rate(risk, counts, 0.6) == 1.0


def test_all_equal_risk_selects_the_first_cells():
    assert top_cells(np.zeros(6), 0.5).tolist() == [0, 1, 2]
    # -0.0 and 0.0 are equal risks, so they tie as well.
    assert top_cells(np.array([-0.0, 0.0, -0.0]), k=3).tolist() == [0, 1, 2]


def test_infinite_risk_is_ranked():
    risk = np.array([-np.inf, 1.0, np.inf, 0.0])
    assert top_cells(risk, k=4).tolist() == [2, 1, 3, 0]


# ---------------------------------------------------------------------- area weights
# Risk ranks the cells 0, 1, 2, 3, 4. Areas 1, 0.5, 1, 0.25, 1: total A = 3.75 and the
# cumulative area along the ranking is 1, 1.5, 2.5, 2.75, 3.75.
AREA_RISK = np.array([5.0, 4.0, 3.0, 2.0, 1.0])
AREA = np.array([1.0, 0.5, 1.0, 0.25, 1.0])
AREA_COUNTS = np.array([2.0, 3.0, 0.0, 4.0, 1.0])  # N = 10


def test_area_prefix_by_hand():
    # budget 0.4 * 3.75 = 1.5: cells 0 and 1 fill it exactly.
    assert top_cells(AREA_RISK, 0.4, area=AREA).tolist() == [0, 1]
    # budget 2.25: cell 2 (cumulative 2.5) does not fit, and the prefix stops there even though
    # the small cell 3 would.
    assert top_cells(AREA_RISK, 0.6, area=AREA).tolist() == [0, 1]
    # budget 2.625: cells 0, 1, 2.
    assert top_cells(AREA_RISK, 0.7, area=AREA).tolist() == [0, 1, 2]
    # budget 0.375 * 0.5 < 1: the first cell alone is too large.
    assert top_cells(AREA_RISK, 0.1, area=AREA).tolist() == []


def test_area_weighted_metrics_by_hand():
    # coverage 0.4: cells 0, 1 catch 5 of 10 events in 1.5 / 3.75 = 40% of the area.
    # Best set of area <= 1.5 ranked on counts: cells 3 (0.25) and 1 (0.5) catch 7; adding
    # cell 0 would make 1.75. (Brute force agrees: see the subset test below.)
    assert hit_rate(AREA_RISK, AREA_COUNTS, 0.4, area=AREA) == pytest.approx(0.5)
    assert pai(AREA_RISK, AREA_COUNTS, 0.4, area=AREA) == pytest.approx(0.5 / 0.4)
    assert pei_star(AREA_RISK, AREA_COUNTS, 0.4, area=AREA) == pytest.approx(5 / 7)
    # coverage 0.7: cells 0, 1, 2 catch 5 in 2.5 / 3.75 = 2/3 of the area. Best set of area
    # <= 2.5: cells 3, 1, 0 (area 1.75) catch 9; cell 4 would make 2.75.
    curve = hit_rate_curve(AREA_RISK, AREA_COUNTS, [0.4, 0.6, 0.7], area=AREA)
    assert curve["area_share"].tolist() == pytest.approx([0.4, 0.4, 2 / 3])
    assert curve["hit_rate"].tolist() == pytest.approx([0.5, 0.5, 0.5])
    assert curve["pai"].tolist() == pytest.approx([1.25, 1.25, 0.75])
    assert curve["pei_star"].tolist() == pytest.approx([5 / 7, 5 / 7, 5 / 9])


def test_unit_area_weights_match_no_weights():
    rng = np.random.default_rng(1)
    risk, counts = rng.random(40), rng.poisson(1.0, 40).astype(float)
    coverages = [0.05, 0.1, 0.25, 0.5, 1.0]
    pd.testing.assert_frame_equal(
        hit_rate_curve(risk, counts, coverages, area=np.ones(40)),
        hit_rate_curve(risk, counts, coverages),
    )
    # Scaling all areas by a constant changes nothing either.
    pd.testing.assert_frame_equal(
        hit_rate_curve(risk, counts, coverages, area=np.full(40, 0.25)),
        hit_rate_curve(risk, counts, coverages),
    )


def test_pei_star_never_exceeds_one_with_unequal_areas():
    # Risk picks cells 1 and 2 (area 0.5 each, 4 events) within budget 1. Ranking on the counts
    # picks cell 0 first (3 events, area 1) and then nothing fits, catching only 3; the forecast's
    # own set is a set of the same area, so n* = 4 and PEI* = 1.
    risk, area, counts = [0.0, 1.0, 1.0], [1.0, 0.5, 0.5], [3.0, 2.0, 2.0]
    assert top_cells(risk, 0.5, area=area).tolist() == [1, 2]
    assert hit_rate(risk, counts, 0.5, area=area) == pytest.approx(4 / 7)
    assert pei_star(risk, counts, 0.5, area=area) == 1.0


def test_pei_star_uses_the_best_single_cell_when_the_counts_prefix_stops():
    # Budget 0.5 * 2 = 1. Risk picks cell 2 (area 1, no events). Ranked on the counts, cell 0
    # (area 1.5, 3 events) does not fit and the prefix is empty; cell 1 (area 0.5, 1 event)
    # would fit, so n* = 1 and PEI* = 0 rather than NaN.
    risk, area, counts = [0.0, 0.0, 1.0], [1.5, 0.5, 1.0], [3.0, 1.0, 0.0]
    assert top_cells(risk, 1 / 3, area=area).tolist() == [2]
    assert pei_star(risk, counts, 1 / 3, area=area) == 0.0
    # And when no cell of that area holds an event, PEI* is undefined.
    assert np.isnan(pei_star(risk, [3.0, 0.0, 0.0], 1 / 3, area=area))


def best_in_area(counts, area, budget):
    """Most events in any set of cells with total area <= budget (brute force)."""
    best = 0.0
    n = len(counts)
    for size in range(n + 1):
        for subset in itertools.combinations(range(n), size):
            if sum(area[i] for i in subset) <= budget * (1 + 1e-9):
                best = max(best, sum(counts[i] for i in subset))
    return best


@pytest.mark.parametrize("seed", range(8))
def test_pei_star_against_brute_force(seed):
    rng = np.random.default_rng(seed)
    n = 7
    risk = rng.integers(0, 4, n).astype(float)  # many ties
    counts = rng.poisson(1.5, n).astype(float)
    if counts.sum() == 0:
        counts[0] = 1.0
    for coverage in (0.15, 0.3, 0.5, 0.75):
        # Equal areas: ranking on the counts is the true best set.
        k = len(top_cells(risk, coverage))
        if k == 0:
            continue
        n_hit = counts[top_cells(risk, coverage)].sum()
        best = best_in_area(counts, np.ones(n), k)
        expected = n_hit / best if best > 0 else np.nan
        np.testing.assert_allclose(pei_star(risk, counts, coverage), expected)
    # Unequal areas: n <= n* <= the true best, so PEI* lies between n / best and 1 (ranking on
    # the counts is not the exact best set, a knapsack problem).
    area = rng.choice([0.25, 0.5, 1.0], n)
    for coverage in (0.3, 0.5, 0.75):
        cells = top_cells(risk, coverage, area=area)
        n_hit = counts[cells].sum()
        best = best_in_area(counts, area, area[cells].sum())
        value = pei_star(risk, counts, coverage, area=area)
        if best == 0:
            assert np.isnan(value)
        else:
            assert n_hit / best - 1e-12 <= value <= 1.0


# ---------------------------------------------------------------------- per block vs horizon
# Two blocks, three cells. Block 0 is hottest in cell 0 and has 2 events there and 1 in cell 1;
# block 1 is hottest in cell 2 and has 1 event there. N = 4.
BLOCK_RISK = np.array([[3.0, 2.0, 1.0], [1.0, 1.0, 4.0]])
BLOCK_COUNTS = np.array([[2.0, 1.0, 0.0], [0.0, 0.0, 1.0]])


def test_per_block_by_hand():
    # One cell per block (coverage 1/3): cell 0 in block 0 catches 2, cell 2 in block 1 catches
    # 1: 3 of 4. The best cell per block catches the same, so PEI* = 1.
    assert hit_rate(BLOCK_RISK, BLOCK_COUNTS, 1 / 3, per_block=True) == pytest.approx(0.75)
    assert pai(BLOCK_RISK, BLOCK_COUNTS, 1 / 3, per_block=True) == pytest.approx(0.75 * 3)
    assert pei_star(BLOCK_RISK, BLOCK_COUNTS, 1 / 3, per_block=True) == pytest.approx(1.0)


def test_horizon_wide_by_hand():
    # Summed risk [4, 3, 5] picks cell 2; summed counts [2, 1, 1]: 1 of 4 caught, where cell 0
    # alone would catch 2.
    assert hit_rate(BLOCK_RISK, BLOCK_COUNTS, 1 / 3) == pytest.approx(0.25)
    assert pai(BLOCK_RISK, BLOCK_COUNTS, 1 / 3) == pytest.approx(0.75)
    assert pei_star(BLOCK_RISK, BLOCK_COUNTS, 1 / 3) == pytest.approx(0.5)
    assert hit_rate(BLOCK_RISK, BLOCK_COUNTS, 1 / 3) == hit_rate(
        BLOCK_RISK.sum(axis=0), BLOCK_COUNTS.sum(axis=0), 1 / 3
    )


def test_per_block_pools_hits_not_rates():
    # Block 0: 1 of 1 caught; block 1: 0 of 3 caught; block 2 is empty and adds nothing.
    # Pooled 1 / 4 (a mean of block rates would give 0.5 or 1/3).
    risk = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    counts = np.array([[1.0, 0.0], [0.0, 3.0], [0.0, 0.0]])
    assert hit_rate(risk, counts, 0.5, per_block=True) == pytest.approx(0.25)
    # PEI*: best cells catch 1 + 3 + 0 = 4.
    assert pei_star(risk, counts, 0.5, per_block=True) == pytest.approx(0.25)


def test_per_block_with_areas_pools_selected_area():
    # Block 0 ranks cell 0 (area 1) first, block 1 ranks cell 1 (area 0.5) first. Budget 0.5 of
    # A = 2: block 0 takes cell 0 only (1 <= 1), block 1 takes cells 1 and 2 (0.5 + 0.5).
    # Area share: (1 + 1) / (2 * 2) = 0.5. Events: block 0 has 1 in cell 0, block 1 has 1 in
    # cell 2 and 2 in cell 0: hits 1 + 1 = 2 of 4.
    area = np.array([1.0, 0.5, 0.5])
    risk = np.array([[3.0, 2.0, 1.0], [1.0, 3.0, 2.0]])
    counts = np.array([[1.0, 0.0, 0.0], [2.0, 0.0, 1.0]])
    curve = hit_rate_curve(risk, counts, [0.5], area=area, per_block=True)
    assert curve["area_share"].tolist() == pytest.approx([0.5])
    assert curve["hit_rate"].tolist() == pytest.approx([0.5])
    assert curve["pai"].tolist() == pytest.approx([1.0])
    # Best sets of the same area per block: block 0 cell 0 (1), block 1 cell 0 (2): n* = 3.
    assert curve["pei_star"].tolist() == pytest.approx([2 / 3])


def test_one_row_per_block_matches_1d():
    assert hit_rate(RISK[np.newaxis], COUNTS[np.newaxis], 0.4, per_block=True) == hit_rate(
        RISK, COUNTS, 0.4
    )
    assert hit_rate(RISK, COUNTS, 0.4, per_block=True) == hit_rate(RISK, COUNTS, 0.4)


# ---------------------------------------------------------------------- random data
COVERAGES = np.linspace(0.01, 1.0, 60)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("per_block", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_more_coverage_never_lowers_the_hit_rate(seed, per_block, weighted):
    rng = np.random.default_rng(seed)
    risk = np.round(rng.gamma(1.0, size=(6, 50)), 1)  # rounding makes ties
    counts = rng.poisson(0.3, size=(6, 50)) * rng.random((6, 50)).round(2)  # fractional
    area = rng.uniform(0.05, 1.0, 50) if weighted else None
    curve = hit_rate_curve(risk, counts, COVERAGES, area=area, per_block=per_block)
    assert list(curve.columns) == ["coverage", "area_share", "hit_rate", "pai", "pei_star"]
    assert len(curve) == len(COVERAGES)
    hits = curve["hit_rate"].to_numpy()
    assert np.all(np.diff(hits) >= -1e-12)
    assert np.all(np.diff(curve["area_share"].to_numpy()) >= -1e-12)
    assert np.all(curve["area_share"] <= curve["coverage"] * (1 + 1e-9))
    assert hits[-1] == pytest.approx(1.0)
    pei = curve["pei_star"].dropna().to_numpy()
    assert np.all((pei >= 0) & (pei <= 1 + 1e-12))
    # The curve agrees with the one-coverage functions.
    for coverage, row in zip(COVERAGES[::7], curve.iloc[::7].itertuples(), strict=True):
        kwargs = {"area": area, "per_block": per_block}
        np.testing.assert_allclose(hit_rate(risk, counts, coverage, **kwargs), row.hit_rate)
        np.testing.assert_allclose(pai(risk, counts, coverage, **kwargs), row.pai)
        np.testing.assert_allclose(pei_star(risk, counts, coverage, **kwargs), row.pei_star)


@pytest.mark.parametrize("seed", range(3))
def test_hit_rate_agrees_with_top_cells(seed):
    rng = np.random.default_rng(seed)
    risk, counts = rng.integers(0, 5, 30).astype(float), rng.poisson(2.0, 30).astype(float)
    area = rng.uniform(0.1, 1.0, 30)
    for coverage in (0.05, 0.2, 0.5, 0.9):
        cells = top_cells(risk, coverage, area=area)
        assert area[cells].sum() <= coverage * area.sum() * (1 + 1e-9)
        next_cell = np.argsort(-risk, kind="stable")[len(cells) : len(cells) + 1]
        assert area[np.append(cells, next_cell)].sum() > coverage * area.sum()
        assert hit_rate(risk, counts, coverage, area=area) == pytest.approx(
            counts[cells].sum() / counts.sum()
        )
    # Per block is the pooled hits of each row's own top cells.
    risk2, counts2 = rng.random((4, 30)), rng.poisson(1.0, (4, 30)).astype(float)
    hits = sum(counts2[b, top_cells(risk2[b], 0.2)].sum() for b in range(4))
    assert hit_rate(risk2, counts2, 0.2, per_block=True) == pytest.approx(hits / counts2.sum())


# ---------------------------------------------------------------------- input checks
def test_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"risk has shape \(2, 5\) but counts has shape \(5,\)"):
        hit_rate(np.ones((2, 5)), np.ones(5), 0.5)


@pytest.mark.parametrize("coverage", [0.0, -0.1, 1.5, np.nan])
def test_coverage_out_of_range(coverage):
    with pytest.raises(ValueError, match=r"coverage must be a share of the area in \(0, 1\], got"):
        hit_rate(RISK, COUNTS, coverage)
    with pytest.raises(ValueError, match="coverage"):
        top_cells(RISK, coverage)
    with pytest.raises(ValueError, match="coverage"):
        hit_rate_curve(RISK, COUNTS, [0.5, coverage])


@pytest.mark.parametrize("coverage", [True, "0.5", None])
def test_coverage_not_a_number(coverage):
    with pytest.raises(TypeError, match="coverage must be a number"):
        pai(RISK, COUNTS, coverage)


def test_negative_or_nan_counts_are_refused():
    with pytest.raises(ValueError, match="counts has 1 negative values"):
        hit_rate(RISK, [3.0, 0.0, -1.0, 4.0, 2.0], 0.4)
    with pytest.raises(ValueError, match="counts has 1 NaN or infinite"):
        pei_star(RISK, [3.0, np.nan, 1.0, 4.0, 2.0], 0.4)


def test_nan_risk_is_refused():
    with pytest.raises(ValueError, match="risk has 1 NaN value"):
        hit_rate([0.9, np.nan, 0.5, 0.3, 0.7], COUNTS, 0.4)
    with pytest.raises(ValueError, match="risk has 2 NaN values"):
        top_cells([np.nan, np.nan, 1.0], k=1)


def test_opposite_infinities_summed_over_blocks_are_refused():
    risk = np.array([[np.inf, 0.0], [-np.inf, 0.0]])
    with pytest.raises(ValueError, match="summed over blocks is NaN"):
        hit_rate(risk, np.ones((2, 2)), 0.5)
    assert hit_rate(risk, np.ones((2, 2)), 0.5, per_block=True) == pytest.approx(0.5)


def test_bad_area_is_refused():
    with pytest.raises(ValueError, match=r"area has shape \(4,\); expected one value per cell"):
        hit_rate(RISK, COUNTS, 0.4, area=np.ones(4))
    with pytest.raises(ValueError, match=r"not finite and positive \(cells \[2\]\)"):
        top_cells(RISK, 0.4, area=[1.0, 1.0, 0.0, 1.0, 1.0])


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match=r"\(n_cells,\) or \(n_blocks, n_cells\)"):
        hit_rate(np.ones((2, 2, 2)), np.ones((2, 2, 2)), 0.5)
    with pytest.raises(ValueError, match="at least one cell"):
        hit_rate([], [], 0.5)
    with pytest.raises(ValueError, match="risk must be 1-d"):
        top_cells(np.ones((2, 3)), k=1)
    with pytest.raises(TypeError, match="risk must be an array of numbers"):
        hit_rate(["a", "b"], [1.0, 2.0], 0.5)
    with pytest.raises(ValueError, match="coverages must be a number or a 1-d sequence"):
        hit_rate_curve(RISK, COUNTS, [[0.5]])


def test_top_cells_arguments():
    with pytest.raises(TypeError, match="exactly one of coverage"):
        top_cells(RISK)
    with pytest.raises(TypeError, match="exactly one of coverage"):
        top_cells(RISK, 0.5, k=2)
    with pytest.raises(ValueError, match="k=6 must be between 1 and the number of cells, 5"):
        top_cells(RISK, k=6)
    with pytest.raises(ValueError, match=r"k must be a positive integer, got 0 \(e.g. k=5\)"):
        top_cells(RISK, k=0)
    with pytest.raises(TypeError, match="k must be an integer"):
        top_cells(RISK, k=2.0)
    with pytest.raises(TypeError, match="area is only used with coverage"):
        top_cells(RISK, k=2, area=np.ones(5))


def test_per_block_must_be_a_bool():
    with pytest.raises(TypeError, match="per_block must be True or False"):
        hit_rate(RISK, COUNTS, 0.5, per_block="yes")


# ---------------------------------------------------------------------- count_events
@pytest.fixture
def grid():
    # 3 x 3 cells of 125 m; cell id = row * 3 + col, row 0 at the bottom.
    return caslite.Grid.from_area(box(0, 0, 375, 375), cell_size=125.0, crs=CRS)


@pytest.fixture
def blocks():
    # Six 4-hour blocks of Monday 11 March 2024 (no DST change): 00-04, 04-08, ..., 20-24.
    return caslite.ShiftSchedule.every(4, tz=TZ).horizon("2024-03-11", "1D")


def make_events(rows):
    frame = pd.DataFrame(rows, columns=["t", "t_end", "x", "y"])
    return caslite.Events.from_frame(frame, time_end="t_end", crs=CRS, tz=TZ)


def test_count_events_by_hand(grid, blocks):
    events = make_events(
        [
            ("2024-03-11 01:00", None, 60.0, 60.0),  # cell 0, block 0
            ("2024-03-11 05:30", None, 200.0, 60.0),  # cell 1, block 1
            ("2024-03-11 05:45", None, 200.0, 70.0),  # cell 1, block 1 again
            ("2024-03-11 08:00", None, 60.0, 200.0),  # cell 3, on the start of block 2
            ("2024-03-11 10:00", None, 1000.0, 60.0),  # outside the grid
            ("2024-03-12 02:00", None, 60.0, 60.0),  # after the last block
            ("2024-03-10 23:00", None, 60.0, 60.0),  # before the first block
            # A 3-hour window 14:00-17:00 in cell 8: 2 hours in block 3, 1 hour in block 4.
            ("2024-03-11 14:00", "2024-03-11 17:00", 300.0, 300.0),
            # A 4-hour window 22:00-02:00 in cell 4: only its first half lies in the blocks.
            ("2024-03-11 22:00", "2024-03-12 02:00", 200.0, 200.0),
        ]
    )
    counts = count_events(events, grid, blocks)
    expected = np.zeros((6, 9))
    expected[0, 0] = 1.0
    expected[1, 1] = 2.0
    expected[2, 3] = 1.0
    expected[3, 8] = 2 / 3
    expected[4, 8] = 1 / 3
    expected[5, 4] = 0.5
    assert counts.shape == (6, 9)
    assert counts.dtype == np.float64
    np.testing.assert_allclose(counts, expected, atol=1e-12)
    assert counts.sum() == pytest.approx(5.5)


def test_count_events_skips_inactive_cells(blocks):
    # An L-shaped area: the top-right cell of the 2 x 2 raster is inactive.
    from shapely.geometry import Polygon

    area = Polygon([(0, 0), (250, 0), (250, 125), (125, 125), (125, 250), (0, 250)])
    grid = caslite.Grid.from_area(area, cell_size=125.0, crs=CRS)
    assert grid.n_cells == 3
    events = make_events(
        [
            ("2024-03-11 01:00", None, 200.0, 200.0),  # inactive cell
            ("2024-03-11 01:00", None, 60.0, 200.0),  # cell 2 (row 1, col 0)
        ]
    )
    np.testing.assert_array_equal(count_events(events, grid, blocks)[0], [0.0, 0.0, 1.0])


def test_counts_feed_the_metrics(grid, blocks):
    events = make_events(
        [
            ("2024-03-11 01:00", None, 60.0, 60.0),
            ("2024-03-11 02:00", None, 70.0, 60.0),
            ("2024-03-11 13:00", None, 300.0, 300.0),
        ]
    )
    counts = count_events(events, grid, blocks)
    risk = np.zeros((6, 9))
    risk[:, 0] = 1.0  # cell 0 is the hot spot all day
    # Horizon-wide, 1 of 9 cells: cell 0 catches 2 of 3.
    assert hit_rate(risk, counts, 1 / 9) == pytest.approx(2 / 3)
    assert pai(risk, counts, 1 / 9) == pytest.approx(2 / 3 * 9)
    assert pei_star(risk, counts, 1 / 9) == pytest.approx(1.0)


def test_count_events_checks_crs_and_types(grid, blocks):
    events = make_events([("2024-03-11 01:00", None, 60.0, 60.0)])
    other = caslite.Grid.from_area(box(0, 0, 375, 375), cell_size=125.0, crs="EPSG:32631")
    with pytest.raises(ValueError, match="CRS mismatch: events is in EPSG:28992"):
        count_events(events, other, blocks)
    with pytest.raises(TypeError, match="events must be a caslite Events, got DataFrame"):
        count_events(pd.DataFrame({"t": [0]}), grid, blocks)
    with pytest.raises(TypeError, match="grid must be a caslite Grid"):
        count_events(events, "grid", blocks)
    with pytest.raises(TypeError, match="blocks must be a caslite Blocks, got ndarray"):
        count_events(events, grid, blocks.ids)


def test_count_events_with_no_events(grid, blocks):
    events = make_events([("2024-03-12 01:00", None, 60.0, 60.0)])  # after the blocks
    counts = count_events(events, grid, blocks)
    assert counts.shape == (6, 9)
    assert not counts.any()


# ---------------------------------------------------------------------- near-hit rate
def chebyshev_near_hits(risk, counts, coverage, grid, rings, area=None):
    """Plain twin: hits of every cell within Chebyshev distance ``rings`` of a top cell."""
    selected = top_cells(risk, coverage, area=area)
    if selected.size == 0:
        return 0.0
    d_row = np.abs(grid.cell_row[:, None] - grid.cell_row[None, selected])
    d_col = np.abs(grid.cell_col[:, None] - grid.cell_col[None, selected])
    near = (np.maximum(d_row, d_col) <= rings).any(axis=1)
    return counts[near].sum()


def square_grid(n_rows, n_cols, active=None):
    return caslite.Grid(
        x0=0.0, y0=0.0, cell_size=125.0, n_cols=n_cols, n_rows=n_rows, crs=CRS, active=active
    )


# 3 x 3 grid, id = row * 3 + col (row 0 at the bottom):
#   6 7 8        0 0 3
#   3 4 5  with  1 1 0  events, N = 8.
#   0 1 2        1 0 2
GRID_COUNTS = np.array([1.0, 0.0, 2.0, 1.0, 1.0, 0.0, 0.0, 0.0, 3.0])
GRID_RISK = np.array([9.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])  # cell 0 first, then 8


def test_near_hit_rate_on_3x3_by_hand():
    grid = square_grid(3, 3)
    # Hot spot cell 0: alone 1 of 8; with its ring, cells 0, 1, 3, 4 hold 1 + 0 + 1 + 1 = 3.
    assert near_hit_rate(GRID_RISK, GRID_COUNTS, 1 / 9, grid, rings=0) == pytest.approx(1 / 8)
    assert near_hit_rate(GRID_RISK, GRID_COUNTS, 1 / 9, grid) == pytest.approx(3 / 8)
    assert near_hit_rate(GRID_RISK, GRID_COUNTS, 1 / 9, grid, rings=2) == pytest.approx(1.0)
    # Hot spots 0 and 8: rings {0, 1, 3, 4} and {4, 5, 7, 8} share cell 4, whose event counts
    # once: 1 + 0 + 1 + 1 + 0 + 0 + 3 = 6 (7 if counted twice).
    assert near_hit_rate(GRID_RISK, GRID_COUNTS, 2 / 9, grid) == pytest.approx(6 / 8)


def test_near_hit_rate_neighbourhood_crosses_inactive_cells():
    # The centre of the 3 x 3 raster is inactive; ids 0 1 2 (row 0), 3 _ 4 (row 1), 5 6 7.
    active = np.ones((3, 3), dtype=bool)
    active[1, 1] = False
    grid = square_grid(3, 3, active)
    risk = np.array([0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0])  # cell 3 = (row 1, col 0)
    counts = np.array([1.0, 1.0, 1.0, 0.0, 4.0, 1.0, 1.0, 1.0])  # N = 10
    # Ring 1 of (1, 0): cells 0, 1, 5, 6 (and the inactive centre): 4 of 10. Cell 4 = (1, 2)
    # is two columns away and joins only at rings=2.
    assert near_hit_rate(risk, counts, 1 / 8, grid) == pytest.approx(0.4)
    assert near_hit_rate(risk, counts, 1 / 8, grid, rings=2) == pytest.approx(1.0)


def test_near_hit_rate_per_block_by_hand():
    grid = square_grid(3, 3)
    risk = np.zeros((2, 9))
    risk[0, 0] = 1.0  # block 0 hot spot: cell 0
    risk[1, 8] = 2.0  # block 1 hot spot: cell 8; summed over blocks, cell 8 wins
    counts = np.zeros((2, 9))
    counts[0, 1] = counts[0, 2] = 1.0  # next to cell 0, and not near either hot spot
    counts[1, 7] = 1.0  # next to cell 8
    # Per block: block 0 catches cell 1, block 1 catches cell 7: 2 of 3.
    assert near_hit_rate(risk, counts, 1 / 9, grid, per_block=True) == pytest.approx(2 / 3)
    # Horizon-wide: cell 8 and its ring {4, 5, 7} catch only cell 7's event: 1 of 3.
    assert near_hit_rate(risk, counts, 1 / 9, grid) == pytest.approx(1 / 3)
    assert np.isnan(near_hit_rate(risk, np.zeros((2, 9)), 1 / 9, grid))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("per_block", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_near_hit_rate_rings_0_is_hit_rate_and_matches_twin(seed, per_block, weighted):
    rng = np.random.default_rng(seed)
    active = rng.random((6, 7)) < 0.8
    active[0, 0] = True
    grid = square_grid(6, 7, active)
    n = grid.n_cells
    risk = np.round(rng.gamma(1.0, size=(3, n)), 1)  # ties
    counts = rng.poisson(0.4, size=(3, n)) * rng.random((3, n)).round(2)
    counts[0, 0] += 1.0
    area = rng.uniform(0.2, 1.0, n) if weighted else None
    kwargs = {"area": area, "per_block": per_block}
    previous_coverage = np.zeros(4)
    for coverage in (0.02, 0.1, 0.3, 0.6, 1.0):
        assert near_hit_rate(risk, counts, coverage, grid, rings=0, **kwargs) == pytest.approx(
            hit_rate(risk, counts, coverage, **kwargs), abs=1e-12
        )
        values = [near_hit_rate(risk, counts, coverage, grid, rings=r, **kwargs) for r in range(4)]
        # More rings and more coverage never lower the near-hit rate.
        assert np.all(np.diff(values) >= -1e-12)
        assert np.all(np.asarray(values) >= previous_coverage - 1e-12)
        previous_coverage = np.asarray(values)
        # Against the pairwise-distance twin.
        rows_risk = risk if per_block else risk.sum(axis=0, keepdims=True)
        rows_counts = counts if per_block else counts.sum(axis=0, keepdims=True)
        for rings in (1, 2):
            hits = sum(
                chebyshev_near_hits(r, c, coverage, grid, rings, area)
                for r, c in zip(rows_risk, rows_counts, strict=True)
            )
            assert values[rings] == pytest.approx(hits / counts.sum())


def test_near_hit_rate_checks_its_arguments():
    grid = square_grid(3, 3)
    with pytest.raises(ValueError, match=r"risk has 5 cells \(shape \(5,\)\) but the grid has 9"):
        near_hit_rate(RISK, COUNTS, 0.4, grid)
    with pytest.raises(TypeError, match="grid must be a caslite Grid, got str"):
        near_hit_rate(GRID_RISK, GRID_COUNTS, 0.4, "grid")
    with pytest.raises(ValueError, match="rings must be a non-negative integer, got -1"):
        near_hit_rate(GRID_RISK, GRID_COUNTS, 0.4, grid, rings=-1)
    with pytest.raises(TypeError, match="rings must be an integer, got float 1.5"):
        near_hit_rate(GRID_RISK, GRID_COUNTS, 0.4, grid, rings=1.5)
    with pytest.raises(ValueError, match=r"risk has shape \(9,\) but counts has shape \(8,\)"):
        near_hit_rate(GRID_RISK, GRID_COUNTS[:8], 0.4, grid)
    with pytest.raises(ValueError, match="counts has 1 negative values"):
        near_hit_rate(GRID_RISK, -GRID_COUNTS * (GRID_RISK == 9.0), 0.4, grid)
    with pytest.raises(ValueError, match="risk has 1 NaN value"):
        near_hit_rate(np.r_[np.nan, GRID_RISK[1:]], GRID_COUNTS, 0.4, grid)
    with pytest.raises(ValueError, match=r"coverage must be a share of the area in .*, got 0.0"):
        near_hit_rate(GRID_RISK, GRID_COUNTS, 0.0, grid)
    with pytest.raises(TypeError, match="per_block must be True or False"):
        near_hit_rate(GRID_RISK, GRID_COUNTS, 0.4, grid, per_block=1)


# ---------------------------------------------------------------------- log score, deviance
def test_poisson_log_score_by_hand():
    # log P(0 | 1) = -1; log P(2 | 2) = 2 log 2 - 2 - log 2 = log 2 - 2.
    expected = (-1.0 + np.log(2.0) - 2.0) / 2
    assert poisson_log_score([1.0, 2.0], [0.0, 2.0]) == pytest.approx(expected)
    # risk 0: certain of no event (log P = 0), or an observed event called impossible.
    assert poisson_log_score([0.0, 1.0], [0.0, 0.0]) == pytest.approx(-0.5)
    assert poisson_log_score([0.0, 1.0], [1.0, 0.0]) == -np.inf


@pytest.mark.parametrize("seed", range(3))
def test_poisson_log_score_against_scipy(seed):
    rng = np.random.default_rng(seed)
    risk = rng.gamma(0.5, 0.4, size=(4, 30))
    counts = rng.poisson(risk).astype(float)
    expected = scipy.stats.poisson.logpmf(counts, risk).mean()
    assert poisson_log_score(risk, counts) == pytest.approx(expected, rel=1e-12)


def test_poisson_log_score_fractional_counts():
    # y = 0.5, mu = 1: 0.5 * log(1) - 1 - gammaln(1.5) = -1 - log(sqrt(pi) / 2).
    expected = -1.0 - np.log(np.sqrt(np.pi) / 2)
    assert poisson_log_score([1.0], [0.5]) == pytest.approx(expected)


@pytest.mark.parametrize("seed", range(3))
def test_poisson_deviance_against_sklearn(seed):
    rng = np.random.default_rng(seed)
    risk = rng.gamma(0.5, 0.4, size=(4, 30)) + 1e-6
    counts = rng.poisson(risk) * rng.random(risk.shape).round(2)  # fractional
    expected = mean_poisson_deviance(counts.ravel(), risk.ravel())
    assert poisson_deviance(risk, counts) == pytest.approx(expected, rel=1e-10)
    # Deviance is 2 * (log P(y | y) - log P(y | mu)) per entry.
    gap = 2 * (poisson_log_score(counts, counts) - poisson_log_score(risk, counts))
    assert poisson_deviance(risk, counts) == pytest.approx(gap, rel=1e-10)


def test_poisson_deviance_by_hand_and_zero_risk():
    # Entry 1: 2 * (0 - (0 - 1)) = 2; entry 2: 2 * (2 log 1 - 0) = 0.
    assert poisson_deviance([1.0, 2.0], [0.0, 2.0]) == pytest.approx(1.0)
    assert poisson_deviance([0.0, 1.0], [0.0, 1.0]) == 0.0
    assert poisson_deviance([0.0, 1.0], [1.0, 1.0]) == np.inf


def test_poisson_scores_check_their_input():
    for score in (poisson_log_score, poisson_deviance):
        with pytest.raises(ValueError, match=r"risk has shape \(2,\) but counts has shape \(3,\)"):
            score([1.0, 1.0], [0.0, 0.0, 0.0])
        with pytest.raises(ValueError, match=r"risk has 1 negative values \(smallest -0.5\)"):
            score([1.0, -0.5], [0.0, 0.0])
        with pytest.raises(ValueError, match="risk has 1 infinite values"):
            score([1.0, np.inf], [0.0, 0.0])
        with pytest.raises(ValueError, match="risk has 1 NaN value"):
            score([1.0, np.nan], [0.0, 0.0])
        with pytest.raises(ValueError, match="counts has 1 negative values"):
            score([1.0, 1.0], [0.0, -1.0])
        with pytest.raises(ValueError, match="counts has 1 NaN or infinite"):
            score([1.0, 1.0], [0.0, np.nan])


# ---------------------------------------------------------------------- Brier, reliability
def test_brier_score_by_hand():
    # Outcomes min(y, 1) = 1, 0, 0, 0.5: (0.09 + 0.04 + 1 + 0.01) / 4.
    probability = [0.7, 0.2, 1.0, 0.4]
    counts = [3.0, 0.0, 0.0, 0.5]
    assert brier_score(probability, counts) == pytest.approx((0.09 + 0.04 + 1.0 + 0.01) / 4)
    assert brier_score([[1.0, 0.0]], [[2.0, 0.0]]) == 0.0


def test_probability_input_is_checked():
    for function in (brier_score, reliability_curve):
        with pytest.raises(ValueError, match=r"probability has 2 values outside \[0, 1\]"):
            function([1.2, -0.1, 0.5], [0.0, 0.0, 0.0])
        with pytest.raises(ValueError, match="probability has 1 NaN value"):
            function([np.nan, 0.5], [0.0, 0.0])
        with pytest.raises(
            ValueError, match=r"probability has shape \(2,\) but counts has shape \(1, 2\)"
        ):
            function([0.1, 0.5], [[0.0, 0.0]])
        with pytest.raises(ValueError, match="counts has 1 negative values"):
            function([0.1, 0.5], [0.0, -2.0])


def test_reliability_curve_fixed_edges_by_hand():
    probability = np.array([[0.05, 0.1, 0.3], [0.9, 0.95, 1.0]])
    counts = np.array([[0.0, 1.0, 0.0], [1.0, 2.0, 0.5]])
    curve = reliability_curve(probability, counts, bins=[0.0, 0.25, 0.5, 0.75, 1.0])
    assert list(curve.columns) == [
        "bin_low",
        "bin_high",
        "n",
        "mean_predicted",
        "observed_frequency",
        "sum_predicted",
        "sum_observed",
    ]
    # [0, 0.25): 0.05, 0.1 with outcomes 0, 1; [0.25, 0.5): 0.3 with 0; [0.5, 0.75) is empty
    # and dropped; [0.75, 1]: 0.9, 0.95, 1.0 (the top edge included) with 1, 1, 0.5.
    assert curve["bin_low"].tolist() == [0.0, 0.25, 0.75]
    assert curve["bin_high"].tolist() == [0.25, 0.5, 1.0]
    assert curve["n"].tolist() == [2, 1, 3]
    np.testing.assert_allclose(curve["mean_predicted"], [0.075, 0.3, 0.95])
    np.testing.assert_allclose(curve["observed_frequency"], [0.5, 0.0, 2.5 / 3])
    np.testing.assert_allclose(curve["sum_predicted"], [0.15, 0.3, 2.85])
    np.testing.assert_allclose(curve["sum_observed"], [1.0, 0.0, 2.5])


def test_reliability_curve_quantile_bins_by_hand():
    # 8 probabilities, 4 bins: quantile edges at positions 0, 1.75, 3.5, 5.25, 7 of the sorted
    # values, i.e. 0.1, 0.275, 0.45, 0.625, 0.8: two entries per bin.
    probability = np.array([0.8, 0.1, 0.3, 0.2, 0.5, 0.4, 0.7, 0.6])
    counts = np.array([1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0])
    curve = reliability_curve(probability, counts, bins=4)
    np.testing.assert_allclose(curve["bin_low"], [0.1, 0.275, 0.45, 0.625])
    np.testing.assert_allclose(curve["bin_high"], [0.275, 0.45, 0.625, 0.8])
    assert curve["n"].tolist() == [2, 2, 2, 2]
    np.testing.assert_allclose(curve["mean_predicted"], [0.15, 0.35, 0.55, 0.75])
    np.testing.assert_allclose(curve["observed_frequency"], [0.0, 0.5, 0.5, 0.5])
    # Ties merge bins; equal probabilities give one bin.
    assert len(reliability_curve([0.2, 0.2, 0.2], [0.0, 1.0, 0.0], bins=5)) == 1


def test_reliability_curves_pool_over_origins():
    rng = np.random.default_rng(0)
    probability = rng.beta(0.3, 30.0, size=(10, 40))
    counts = rng.poisson(probability).astype(float)
    edges = np.r_[0.0, np.geomspace(1e-5, 1.0, 11)]
    whole = reliability_curve(probability, counts, bins=edges)
    halves = pd.concat(
        [
            reliability_curve(probability[:5], counts[:5], bins=edges),
            reliability_curve(probability[5:], counts[5:], bins=edges),
        ]
    )
    pooled = halves.groupby(["bin_low", "bin_high"], as_index=False)[
        ["n", "sum_predicted", "sum_observed"]
    ].sum()
    np.testing.assert_array_equal(pooled["bin_low"], whole["bin_low"])
    np.testing.assert_array_equal(pooled["n"], whole["n"])
    np.testing.assert_allclose(pooled["sum_predicted"], whole["sum_predicted"])
    np.testing.assert_allclose(pooled["sum_observed"], whole["sum_observed"])
    np.testing.assert_allclose(
        pooled["sum_observed"] / pooled["n"], whole["observed_frequency"], rtol=1e-12
    )
    assert whole["n"].sum() == probability.size
    # The sums are plain sums over the entries of each bin.
    first = (probability >= whole["bin_low"][0]) & (probability < whole["bin_high"][0])
    assert whole["sum_predicted"][0] == pytest.approx(probability[first].sum())


def test_reliability_curve_checks_bins():
    p, y = [0.1, 0.6], [0.0, 1.0]
    with pytest.raises(ValueError, match=r"1 probabilities lie outside the bin edges \[0.2, 1\]"):
        reliability_curve(p, y, bins=[0.2, 0.5, 1.0])
    with pytest.raises(ValueError, match="finite and strictly increasing"):
        reliability_curve(p, y, bins=[0.0, 0.5, 0.5, 1.0])
    with pytest.raises(ValueError, match="at least 2 edges"):
        reliability_curve(p, y, bins=[0.0])
    with pytest.raises(ValueError, match="bins=0 must be >= 1"):
        reliability_curve(p, y, bins=0)
    with pytest.raises(TypeError, match="bins must be a number of bins or an array"):
        reliability_curve(p, y, bins=True)


# ---------------------------------------------------------------------- bootstrap interval
def test_bootstrap_interval_is_deterministic_and_contains_the_mean():
    values = np.array([0.21, 0.35, 0.18, 0.40, 0.29, 0.33, 0.25, 0.31])
    low, high = bootstrap_interval(values, random_state=3)
    assert (low, high) == bootstrap_interval(values, random_state=3)
    assert values.min() <= low < values.mean() < high <= values.max()
    # The same resamples at a higher confidence give a wider interval around the narrower.
    low95, high95 = bootstrap_interval(values, confidence=0.95, random_state=3)
    assert low95 <= low and high <= high95
    assert bootstrap_interval([0.5, 0.5, 0.5]) == (0.5, 0.5)


def test_bootstrap_interval_matches_normal_theory():
    # For the mean of 400 values, the percentile interval is close to mean +- z * s / sqrt(n).
    rng = np.random.default_rng(1)
    values = rng.normal(0.3, 0.1, 400)
    low, high = bootstrap_interval(values, confidence=0.9, random_state=0)
    half = scipy.stats.norm.ppf(0.95) * values.std(ddof=1) / np.sqrt(values.size)
    assert low == pytest.approx(values.mean() - half, abs=0.15 * half)
    assert high == pytest.approx(values.mean() + half, abs=0.15 * half)


def test_bootstrap_interval_refuses_bad_input():
    with pytest.raises(ValueError, match=r"values has 1 NaN or infinite values \(origins \[1\]\)"):
        bootstrap_interval([0.2, np.nan, 0.3])
    with pytest.raises(ValueError, match="needs at least 2 origins"):
        bootstrap_interval([0.2])
    with pytest.raises(ValueError, match="values must be 1-d"):
        bootstrap_interval([[0.2, 0.3]])
    with pytest.raises(ValueError, match=r"confidence must be a number in \(0, 1\), got 1.5"):
        bootstrap_interval([0.2, 0.3], confidence=1.5)
    with pytest.raises(TypeError, match="n_resamples must be an integer"):
        bootstrap_interval([0.2, 0.3], n_resamples=10.5)
    with pytest.raises(ValueError, match="n_resamples must be a positive integer, got 0"):
        bootstrap_interval([0.2, 0.3], n_resamples=0)
