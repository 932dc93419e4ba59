import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from caslite import Forecast, Grid, ShiftSchedule
from caslite.evaluation import top_cells
from caslite.patrol import patrol_plan, select_hot_cells


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("coverage", [0.05, 0.3, 1.0])
def test_no_exploration_equals_top_cells(seed, coverage):
    rng = np.random.default_rng(seed)
    risk = rng.integers(0, 5, size=60).astype(float)  # many ties
    area = rng.uniform(0.2, 1.0, size=60)
    for a in (None, area):
        np.testing.assert_array_equal(
            select_hot_cells(risk, coverage, area=a, random_state=seed),
            top_cells(risk, coverage, area=a),
        )


def test_unit_areas_split_the_budget_by_whole_cells():
    risk = np.arange(1000.0)[::-1]  # cell 0 highest
    cells = select_hot_cells(risk, 0.1, exploration=0.25, random_state=0)
    # budget 100 cells: the 75 top cells, then 25 drawn from the other 925
    np.testing.assert_array_equal(cells[:75], np.arange(75))
    assert cells.size == 100 and np.unique(cells).size == 100
    assert (cells[75:] >= 75).all()


def test_area_budget_respected_and_explore_share_near_requested():
    rng = np.random.default_rng(1)
    n = 2000
    risk = rng.gamma(0.5, size=n)
    area = rng.uniform(0.3, 1.0, size=n)
    budget = 0.1 * area.sum()
    for exploration in (0.1, 0.3, 0.6):
        cells = select_hot_cells(risk, 0.1, area=area, exploration=exploration, random_state=2)
        assert np.unique(cells).size == cells.size
        assert area[cells].sum() <= budget * (1 + 1e-9)
        top = top_cells(risk, 0.1 * (1 - exploration), area=area)
        n_top = np.flatnonzero(~np.isin(cells, top))[0]  # first random cell
        explored = area[cells[n_top:]].sum() / budget
        # rounding to whole cells: within two of the largest cell
        assert explored == pytest.approx(exploration, abs=2 * area.max() / budget)


def test_random_draw_is_uniform_over_the_other_cells():
    # 10 cells, 4 picked: 3 top + 1 random from the other 7, each with probability 1/7
    risk = np.arange(10.0)[::-1]
    draws = np.array(
        [select_hot_cells(risk, 0.4, exploration=0.25, random_state=s)[3] for s in range(3500)]
    )
    freq = np.bincount(draws, minlength=10) / draws.size
    assert freq[:3].sum() == 0
    np.testing.assert_allclose(freq[3:], 1 / 7, atol=4 * np.sqrt((1 / 7) * (6 / 7) / 3500))


def test_draw_proportional_to_area():
    # top cell 0; the random cell among 1 (area 1) and 2 (area 3); budget fits one cell
    risk = [3.0, 2.0, 1.0]
    area = [3.0, 1.0, 3.0]
    # budget 0.9*7 = 6.3; top part nearest to 3.15 is cell 0 (3.0); 3.3 left fits either
    draws = [
        select_hot_cells(risk, 0.9, area=area, exploration=0.5, random_state=s)[1]
        for s in range(2000)
    ]
    share2 = np.mean(np.array(draws) == 2)
    assert share2 == pytest.approx(0.75, abs=4 * np.sqrt(0.75 * 0.25 / 2000))


def test_determinism_and_different_seeds():
    risk = np.random.default_rng(0).gamma(0.5, size=500)
    a = select_hot_cells(risk, 0.1, exploration=0.5, random_state=7)
    b = select_hot_cells(risk, 0.1, exploration=0.5, random_state=7)
    c = select_hot_cells(risk, 0.1, exploration=0.5, random_state=8)
    np.testing.assert_array_equal(a, b)
    assert set(a[25:]) != set(c[25:])


def test_errors():
    with pytest.raises(ValueError, match=r"exploration must be .* in \[0, 1\), got 1.0"):
        select_hot_cells([1.0, 2.0], 0.5, exploration=1.0)
    with pytest.raises(ValueError, match="got -0.1"):
        select_hot_cells([1.0, 2.0], 0.5, exploration=-0.1)
    with pytest.raises(ValueError, match=r"coverage must be .* \(0, 1\], got 1.5"):
        select_hot_cells([1.0, 2.0], 1.5, exploration=0.1)
    with pytest.raises(ValueError, match="area has shape"):
        select_hot_cells([1.0, 2.0], 0.5, area=[1.0], exploration=0.1)
    with pytest.raises(TypeError, match="Forecast"):
        patrol_plan(np.zeros((2, 2)))


@pytest.fixture
def forecast():
    rng = np.random.default_rng(5)
    grid = Grid.from_area(box(0, 0, 2500, 1250), cell_size=125.0, crs="EPSG:28992")
    blocks = ShiftSchedule.every(4, tz="Europe/Amsterdam").horizon("2024-03-11", "2D")
    risk = rng.gamma(0.5, size=(len(blocks), grid.n_cells))
    return Forecast(risk, blocks, grid, origin=blocks.start[0])


def test_plan_without_exploration_is_forecast_top(forecast):
    plan = patrol_plan(forecast, 0.05)
    top = forecast.top(0.05)
    assert not plan["explore"].any()
    pd.testing.assert_frame_equal(
        pd.DataFrame(plan.drop(columns="explore")), pd.DataFrame(top), check_like=False
    )
    assert list(plan.columns) == [*top.columns[:-1], "explore", "geometry"]


def test_plan_with_exploration(forecast):
    plan = patrol_plan(forecast, 0.1, exploration=0.2, random_state=3)
    again = patrol_plan(forecast, 0.1, exploration=0.2, random_state=3)
    pd.testing.assert_frame_equal(pd.DataFrame(plan), pd.DataFrame(again))
    n_cells = forecast.grid.n_cells  # 200 cells: 20 per block, 16 top + 4 random
    per_block = plan.groupby("shift_start")["explore"].agg(["sum", "size"])
    assert (per_block["size"] == 20).all() and (per_block["sum"] == 4).all()
    drawn = [frozenset(g.loc[g["explore"], "cell_id"]) for _, g in plan.groupby("shift_start")]
    assert len(set(drawn)) > 1  # a different draw per block
    for b, (_, g) in enumerate(plan.groupby("shift_start", sort=True)):
        np.testing.assert_array_equal(
            g.loc[~g["explore"], "cell_id"], top_cells(forecast.risk[b], 0.08)
        )
        order = np.argsort(-forecast.risk[b], kind="stable")
        rank = np.empty(n_cells, dtype=int)
        rank[order] = np.arange(1, n_cells + 1)
        np.testing.assert_array_equal(g["rank"], rank[g["cell_id"]])
        assert (g.loc[g["explore"], "rank"] > 16).all()
