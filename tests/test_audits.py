import geopandas
import numpy as np
import pytest
from shapely.geometry import box

from caslite import Forecast, Grid, ShiftSchedule
from caslite.audits import (
    audit,
    exposure_by_group,
    exposure_concentration,
    flags_of,
    gini,
    simulate_feedback,
)
from caslite.evaluation import top_cells

CRS = "EPSG:28992"


def brute_gini(x):
    x = np.asarray(x, dtype=float)
    return np.abs(x[:, None] - x[None, :]).sum() / (2 * x.size**2 * x.mean())


@pytest.mark.parametrize("seed", range(5))
def test_gini_equals_the_pairwise_definition(seed):
    x = np.random.default_rng(seed).poisson(2.0, size=50).astype(float)
    x[0] += 1  # a positive sum
    assert gini(x) == pytest.approx(brute_gini(x), rel=1e-12)


def test_gini_hand_cases_and_errors():
    assert gini([5, 5]) == 0.0
    assert gini([0, 0, 0, 0, 10]) == pytest.approx(0.8)
    with pytest.raises(ValueError, match="positive sum"):
        gini([0, 0])
    with pytest.raises(ValueError, match="non-negative"):
        gini([1, -1, 3])


def test_concentration_hand_computed():
    # 3 blocks x 5 cells: cell 0 flagged in every block, cell 1 twice, cell 4 once
    flags = np.array(
        [
            [1, 1, 0, 0, 0],
            [1, 1, 0, 0, 0],
            [1, 0, 0, 0, 1],
        ],
        dtype=bool,
    )
    s = exposure_concentration(flags, top_share=0.2)  # ceil(0.2 * 5) = 1 cell: cell 0
    assert s["n_flags"] == 6
    assert s["cells_ever_flagged"] == 3
    assert s["share_of_cells_ever_flagged"] == pytest.approx(3 / 5)
    assert s["share_of_flags_on_top_cells"] == pytest.approx(3 / 6)
    assert s["gini"] == pytest.approx(brute_gini([3, 2, 0, 0, 1]))
    assert s["mean_flags_per_flagged_cell"] == pytest.approx(2.0)
    # blocks 2 and 3 hold 4 flags; 3 of them (cells 0, 1 in block 2; cell 0 in block 3) repeat
    assert s["repeat_share"] == pytest.approx(3 / 4)


def test_the_same_cells_every_block_give_gini_one_minus_coverage():
    n_cells, k = 200, 6
    flags = np.zeros((42, n_cells), dtype=bool)
    flags[:, 10 : 10 + k] = True
    s = exposure_concentration(flags)
    assert s["gini"] == pytest.approx(1 - k / n_cells)
    assert s["repeat_share"] == 1.0
    assert s["share_of_flags_on_top_cells"] == pytest.approx(2 / k)  # ceil(0.01 * 200) = 2


def test_concentration_errors():
    with pytest.raises(ValueError, match="2-d"):
        exposure_concentration([True, False])
    with pytest.raises(ValueError, match="nothing was flagged"):
        exposure_concentration(np.zeros((2, 3), dtype=bool))
    with pytest.raises(ValueError, match="booleans"):
        exposure_concentration([[0, 2]])
    with pytest.raises(ValueError, match="top_share"):
        exposure_concentration([[1, 0]], top_share=0)


@pytest.fixture
def strip():
    # 4 cells of 125 m in a row: x 0-500
    return Grid.from_area(box(0, 0, 500, 125), cell_size=125.0, crs=CRS)


def test_groups_split_cells_by_area(strip):
    # "west" covers cells 0, 1 and half of cell 2; "east" the other half of cell 2 and cell 3
    groups = geopandas.GeoDataFrame(
        {"name": ["west", "east"]},
        geometry=[box(0, 0, 312.5, 125), box(312.5, 0, 500, 125)],
        crs=CRS,
    )
    flags = np.array([[0, 0, 1, 0], [1, 0, 1, 0], [0, 0, 0, 1]], dtype=bool)
    table = exposure_by_group(flags, strip, groups, by="name")
    assert list(table.index) == ["west", "east"]
    np.testing.assert_allclose(table["area"], [2.5, 1.5])
    np.testing.assert_allclose(table["area_share"], [2.5 / 4, 1.5 / 4])
    # 4 flags: cell 2 twice (half each), cell 0 once (west), cell 3 once (east)
    np.testing.assert_allclose(table["flags"], [2.0, 2.0])
    np.testing.assert_allclose(table["flag_share"], [0.5, 0.5])
    np.testing.assert_allclose(table["ratio"], [0.5 / 0.625, 0.5 / 0.375])


def test_area_outside_the_groups_is_reported(strip):
    groups = geopandas.GeoDataFrame(
        {"g": ["a", "a"]}, geometry=[box(0, 0, 125, 125), box(125, 0, 250, 125)], crs=CRS
    )
    flags = np.array([[1, 0, 0, 1]], dtype=bool)
    table = exposure_by_group(flags, strip, groups, by="g")
    assert list(table.index) == ["a", "(outside the groups)"]
    np.testing.assert_allclose(table["area_share"], [0.5, 0.5])
    np.testing.assert_allclose(table["flag_share"], [0.5, 0.5])
    assert table["flag_share"].sum() == pytest.approx(1.0)


def test_group_errors(strip):
    flags = np.array([[1, 0, 0, 0]], dtype=bool)
    good = geopandas.GeoDataFrame({"g": ["a"]}, geometry=[box(0, 0, 500, 125)], crs=CRS)
    with pytest.raises(ValueError, match="no column 'name'"):
        exposure_by_group(flags, strip, good, by="name")
    with pytest.raises(ValueError, match="CRS"):
        exposure_by_group(flags, strip, good.set_crs("EPSG:32617", allow_override=True), by="g")
    with pytest.raises(ValueError, match="no CRS"):
        exposure_by_group(
            flags,
            strip,
            geopandas.GeoDataFrame(good.drop(columns="geometry"), geometry=list(good.geometry)),
            by="g",
        )
    with pytest.raises(ValueError, match="grid has 4"):
        exposure_by_group(flags[:, :3], strip, good, by="g")
    points = geopandas.GeoDataFrame(
        {"g": ["a"]}, geometry=geopandas.points_from_xy([1.0], [1.0]), crs=CRS
    )
    with pytest.raises(ValueError, match="polygons"):
        exposure_by_group(flags, strip, points, by="g")


def test_audit_of_a_forecast_matches_its_top_cells():
    rng = np.random.default_rng(3)
    grid = Grid.from_area(box(0, 0, 2500, 2500), cell_size=125.0, crs=CRS)
    blocks = ShiftSchedule.every(4, tz="Europe/Amsterdam").horizon("2024-03-11", "7D")
    risk = rng.gamma(0.5, size=(len(blocks), grid.n_cells))
    forecast = Forecast(risk, blocks, grid, origin=blocks.start[0])
    flags = flags_of(forecast, 0.05)
    for b in range(len(blocks)):
        np.testing.assert_array_equal(
            np.flatnonzero(flags[b]), np.sort(top_cells(risk[b], 0.05, area=grid.area_fraction))
        )
    horizon = flags_of(forecast, 0.05, per="horizon")
    assert (horizon == horizon[0]).all()
    groups = geopandas.GeoDataFrame(
        {"side": ["south", "north"]},
        geometry=[box(0, 0, 2500, 1250), box(0, 1250, 2500, 2500)],
        crs=CRS,
    )
    report = audit(forecast, 0.05, groups=groups, by="side")
    assert report.concentration["n_flags"] == flags.sum()
    assert report.by_group["flag_share"].sum() == pytest.approx(1.0)
    assert report.by_group["area_share"].tolist() == pytest.approx([0.5, 0.5])
    text = report.to_markdown()
    assert "| gini |" in text and "| north |" in text
    # independent noise per block: flags spread far more than a fixed set of cells would
    assert report.concentration["gini"] < 1 - 0.05
    with pytest.raises(TypeError, match="together"):
        audit(forecast, 0.05, groups=groups)


# ---------------------------------------------------------------------- feedback loops
R, D = 0.3, 0.5  # reported, discovery: patrolled cells show 0.65 of the rate, others 0.3


def test_runaway_locks_onto_one_of_two_equal_cells():
    # The patrolled cell's score gains rate * (1 - R) * D = 0.35 per round on average: a
    # linear lead against sqrt(t) noise, so the patrols stay on it for good.
    locked, shares = 0, []
    for seed in range(10):
        r = simulate_feedback(
            [1.0, 1.0], n_rounds=300, coverage=0.5, discovery=D, reported=R, random_state=seed
        )
        late = r.flags[150:].mean(axis=0)
        locked += late.max() == 1.0
        winner = int(np.argmax(late))
        shares.append(r.estimate_share[-1, winner])
    assert locked >= 9
    # the forecaster's belief of the locked cell: 0.65 / (0.65 + 0.3), not the true 0.5
    assert np.mean(shares) == pytest.approx((R + (1 - R) * D) / (2 * R + (1 - R) * D), abs=0.03)


def test_excluding_discovered_learns_the_true_split():
    for seed in range(10):
        r = simulate_feedback(
            [1.0, 1.0],
            n_rounds=300,
            coverage=0.5,
            discovery=D,
            reported=R,
            mitigation="exclude_discovered",
            random_state=seed,
        )
        # reported counts only: share of cell 0 ~ Binomial(N, 1/2) / N with N ~ 180
        n = r.reported[:-1].sum()
        assert abs(r.estimate_share[-1, 0] - 0.5) < 4 * np.sqrt(0.25 / n)


def test_runaway_vs_mitigated_flag_share_with_a_short_memory():
    # With a memory of half-life 5 rounds the unbiased scores change leader often, and the
    # flags split near 50/50; without mitigation the patrolled cell stays ahead far longer.
    runaway, mitigated = [], []
    for seed in range(10):
        kwargs = dict(
            n_rounds=600, coverage=0.5, discovery=D, reported=R, half_life=5, random_state=seed
        )
        late = slice(100, None)
        runaway.append(simulate_feedback([1.0, 1.0], **kwargs).flags[late].mean(0).max())
        mitigated.append(
            simulate_feedback([1.0, 1.0], mitigation="exclude_discovered", **kwargs)
            .flags[late]
            .mean(0)
            .max()
        )
    assert max(mitigated) < 0.7
    assert np.mean(mitigated) < 0.6
    assert np.mean(runaway) > np.mean(mitigated) + 0.04


def test_drift_measures_match_the_locked_closed_forms():
    # 10 equal cells, 2 patrolled: locked, the flags sit on 2 cells, TVD = 0.8 from uniform;
    # with exploration 0.5 (1 top + 1 random of the other 9): TVD = 0.5 * (0.4 + 9 * (0.1 -
    # 1 / 18)) = 0.4.
    rate = np.ones(10)
    locked = simulate_feedback(rate, n_rounds=400, coverage=0.2, random_state=0).to_frame()
    assert locked["tvd"].iloc[-1] == pytest.approx(0.8, abs=0.03)
    assert locked["gini"].iloc[-1] == pytest.approx(0.8, abs=0.03)
    explored = simulate_feedback(
        rate, n_rounds=400, coverage=0.2, exploration=0.5, random_state=0
    ).to_frame()
    assert (explored["n_explore"] == 1).all() and (explored["n_flagged"] == 2).all()
    assert explored["tvd"].iloc[-1] == pytest.approx(0.4, abs=0.04)
    # equal rates: any cells hold 2/10 of the true rate
    np.testing.assert_allclose(explored["flagged_true_share"], 0.2)


def test_downweight_is_unbiased_per_round():
    # Horvitz-Thompson: weighted observations have mean rate * (R + (1 - R) * D) everywhere
    rate = np.full(10, 2.0)
    r = simulate_feedback(
        rate,
        n_rounds=2000,
        coverage=0.2,
        exploration=0.5,
        discovery=D,
        reported=R,
        mitigation="downweight",
        random_state=1,
    )
    weights = np.where(r.explore, 9.0, 1.0)  # 1 random of 9 candidates: P = 1/9
    weighted = (r.reported + r.discovered * weights).mean(axis=0)
    np.testing.assert_allclose(weighted, 2.0 * (R + (1 - R) * D), rtol=0.15)
    # and the forecaster's score is that sum (cumulative, no decay)
    np.testing.assert_allclose(r.score[-1], (r.reported + r.discovered * weights)[:-1].sum(axis=0))


def test_lower_rate_cell_can_win():
    # cell 0 (rate 1) is patrolled first (tie on zero scores): 1 * 0.84 > 2 * 0.2 observed
    r = simulate_feedback(
        [1.0, 2.0], n_rounds=300, coverage=0.5, discovery=0.8, reported=0.2, random_state=0
    )
    assert r.flags[100:, 0].all()
    frame = r.to_frame()
    np.testing.assert_allclose(frame["flagged_true_share"].iloc[100:], 1 / 3)
    fixed = simulate_feedback(
        [1.0, 2.0],
        n_rounds=300,
        coverage=0.5,
        discovery=0.8,
        reported=0.2,
        mitigation="exclude_discovered",
        random_state=0,
    )
    assert fixed.flags[200:, 1].mean() > 0.9


def test_feedback_is_deterministic_and_plots():
    import matplotlib

    matplotlib.use("Agg")
    a = simulate_feedback(
        [1.0, 1.0, 1.0], n_rounds=50, coverage=0.34, exploration=0.0, random_state=4
    )
    b = simulate_feedback([1.0, 1.0, 1.0], n_rounds=50, coverage=0.34, random_state=4)
    c = simulate_feedback([1.0, 1.0, 1.0], n_rounds=50, coverage=0.34, random_state=5)
    np.testing.assert_array_equal(a.flags, b.flags)
    assert not np.array_equal(a.incidents, c.incidents)
    frame = a.to_frame()
    assert len(frame) == 50 and frame.index[0] == 1
    ax = a.plot()
    assert len(ax.get_lines()) == 6  # 3 cells, each with its true share
    assert ax.get_ylabel() == "share of the flags so far"


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            dict(coverage=0.0),
            ValueError,
            r"coverage must be a share of the cells in \(0, 1\], got 0.0",
        ),
        (dict(coverage=1.2), ValueError, "coverage must be .*, got 1.2"),
        (dict(coverage=0.1), ValueError, "less than one cell"),
        (dict(exploration=1.0), ValueError, r"\[0, 1\)"),
        (dict(discovery=1.5), ValueError, r"discovery must be a probability in \[0, 1\], got 1.5"),
        (dict(reported=-0.1), ValueError, "reported must be a probability .*, got -0.1"),
        (dict(mitigation="drop"), ValueError, "mitigation must be"),
        (dict(mitigation="downweight"), ValueError, "exploration > 0"),
        (dict(n_rounds=0), ValueError, "n_rounds"),
        (dict(half_life=0), ValueError, "half_life"),
    ],
)
def test_feedback_errors(kwargs, error, match):
    kwargs = {"coverage": 0.5, **kwargs}
    with pytest.raises(error, match=match):
        simulate_feedback([1.0, 1.0], **kwargs)


def test_feedback_rate_errors():
    with pytest.raises(ValueError, match="min -1"):
        simulate_feedback([1.0, -1.0])
    with pytest.raises(ValueError, match="shape"):
        simulate_feedback([[1.0, 1.0]])
    with pytest.raises(ValueError, match="at least 2 cells"):
        simulate_feedback([1.0])
