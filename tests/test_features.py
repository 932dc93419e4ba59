"""Tests of caslite.features: every feature against an independent, obviously-correct reference.

Counts, rings and days-since are recomputed by plain Python loops over cells and events; kernel
columns by calling score_at directly; shift and block features and static layers by hand.
Leakage tests change events at and after the origin and assert that nothing changes.
"""

from __future__ import annotations

import math

import geopandas
import numba
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from sklearn.base import clone

import naive
from caslite.events import Events
from caslite.features import (
    DAYS_CAP,
    FEATURES,
    FeatureBuilder,
    category_layers,
    default_kernels,
)
from caslite.grid import Grid
from caslite.nearrepeat import BowersSpace, BowersTime, GaussianSpace, score_at
from caslite.shifts import ShiftSchedule

CRS = "EPSG:28992"
TZ = "Europe/Amsterdam"
DAY = 86_400
WEEK = 7 * DAY
S = 100.0
X0, Y0 = 1000.0, 2000.0
N_ROWS, N_COLS = 6, 7
ORIGIN = 1_717_200_000  # 2024-06-01 00:00 UTC
WINDOWS = (1, 2, 4, 8, 26, 52, 104)


def l_mask() -> np.ndarray:
    """An L-shaped study area: the upper-right 3 x 4 block of the raster is inactive."""
    active = np.ones((N_ROWS, N_COLS), dtype=bool)
    active[3:, 3:] = False
    return active


def make_grid(active=None) -> Grid:
    return Grid(
        x0=X0, y0=Y0, cell_size=S, n_cols=N_COLS, n_rows=N_ROWS, crs=CRS,
        active=l_mask() if active is None else active,
    )  # fmt: skip


def make_events(rng, n=400, t_end=None) -> Events:
    """Random events, some on cell edges, outside the raster, in inactive cells and at window
    boundaries (o - w exactly, o - w - 1, o - 1, o, after o)."""
    t = rng.integers(ORIGIN - 110 * WEEK, ORIGIN + 3 * WEEK, n)
    t[: len(WINDOWS)] = [ORIGIN - w * WEEK for w in WINDOWS]
    t[10:17] = [ORIGIN - w * WEEK - 1 for w in WINDOWS]
    t[20:23] = [ORIGIN - 1, ORIGIN, ORIGIN + 1]
    x = rng.uniform(X0 - 150, X0 + N_COLS * S + 150, n)
    y = rng.uniform(Y0 - 150, Y0 + N_ROWS * S + 150, n)
    x[30:60] = X0 + rng.integers(0, N_COLS + 1, 30) * S  # on vertical cell edges
    y[45:75] = Y0 + rng.integers(0, N_ROWS + 1, 30) * S  # on horizontal cell edges
    return Events(t, x, y, crs=CRS, tz=TZ, t_end=t_end)


def ref_cell(x, y, active) -> int | None:
    """(row, col) of a point by the grid's stated convention, or None outside / inactive."""
    col = math.floor((x - X0) / S)
    row = math.floor((y - Y0) / S)
    if not (0 <= col < N_COLS and 0 <= row < N_ROWS) or not active[row, col]:
        return None
    return row, col


def ref_counts(events, origin, weeks, active, known=None):
    """Dict (row, col) -> count of events known in [origin - weeks, origin)."""
    known = events.t if known is None else known
    counts = {}
    for ti, xi, yi in zip(known, events.x, events.y, strict=True):
        if not (origin - weeks * WEEK <= ti < origin):
            continue
        cell = ref_cell(xi, yi, active)
        if cell is not None:
            counts[cell] = counts.get(cell, 0) + 1
    return counts


def active_cells(active):
    return [(r, c) for r in range(N_ROWS) for c in range(N_COLS) if active[r, c]]


def ring_of(cell, k, active):
    r, c = cell
    return [(r2, c2) for (r2, c2) in active_cells(active) if max(abs(r2 - r), abs(c2 - c)) == k]


@pytest.fixture(scope="module")
def rng_events():
    return make_events(np.random.default_rng(42))


# ---------------------------------------------------------------------- cell features
def test_window_counts_match_brute_force(rng_events):
    grid, active = make_grid(), l_mask()
    feats = FeatureBuilder(kernels=None).cell_features(rng_events, grid, ORIGIN)
    cells = active_cells(active)
    assert feats.shape[0] == grid.n_cells == len(cells)
    for w in WINDOWS:
        ref = ref_counts(rng_events, ORIGIN, w, active)
        expected = [ref.get(cell, 0) for cell in cells]
        np.testing.assert_array_equal(feats[f"n_cell_{w}w"].to_numpy(), expected)
    assert feats["n_cell_104w"].sum() > 0


def test_window_is_half_open_at_the_boundaries():
    grid = make_grid()
    t = np.array([ORIGIN - WEEK - 1, ORIGIN - WEEK, ORIGIN - 1, ORIGIN])
    events = Events(t, [X0 + 50] * 4, [Y0 + 50] * 4, crs=CRS, tz=TZ)
    feats = FeatureBuilder(windows_weeks=(1,), rings=(), kernels=None).cell_features(
        events, grid, ORIGIN
    )
    assert feats["n_cell_1w"].iloc[0] == 2  # o - w and o - 1, not o - w - 1 nor o


def test_ring_counts_match_neighbour_loops_on_masked_grid(rng_events):
    grid, active = make_grid(), l_mask()
    feats = FeatureBuilder(rings=(1, 2, 3), kernels=None).cell_features(rng_events, grid, ORIGIN)
    cells = active_cells(active)
    for w in (1, 26, 104):
        ref = ref_counts(rng_events, ORIGIN, w, active)
        for k in (1, 2, 3):
            expected = [sum(ref.get(n, 0) for n in ring_of(cell, k, active)) for cell in cells]
            np.testing.assert_array_equal(feats[f"n_ring{k}_{w}w"].to_numpy(), expected)
    assert feats["n_ring2_104w"].sum() > 0


def test_relative_counts_are_counts_over_their_mean_per_active_cell(rng_events):
    grid, active = make_grid(), l_mask()
    builder = FeatureBuilder(kernels=None, relative_windows_weeks=(26, 104))
    feats = builder.cell_features(rng_events, grid, ORIGIN)
    cells = active_cells(active)
    for w in (26, 104):
        ref = ref_counts(rng_events, ORIGIN, w, active)
        counts = np.array([ref.get(cell, 0) for cell in cells], dtype=float)
        expected = counts / (counts.sum() / len(cells))
        np.testing.assert_allclose(feats[f"rel_cell_{w}w"].to_numpy(), expected, rtol=1e-12)
    nothing = rng_events.select(np.zeros(len(rng_events), dtype=bool))
    empty = builder.cell_features(nothing, grid, ORIGIN)
    assert (empty["rel_cell_26w"] == 0).all()


def ref_smooth(counts, bandwidth, active, truncate=3.0):
    """Plain-loop Gaussian smoothing: normalised 1-d weights over |d| <= truncate * sigma."""
    sigma = bandwidth / S
    half = int(truncate * sigma + 0.5)
    g = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma) ** 2)
    g /= g.sum()
    out = {}
    for r, c in active_cells(active):
        total = 0.0
        for (r2, c2), n in counts.items():
            if abs(r2 - r) <= half and abs(c2 - c) <= half:
                total += n * g[r2 - r + half] * g[c2 - c + half]
        out[(r, c)] = total
    return out


@pytest.mark.parametrize("bandwidth", [60.0, 150.0, 250.0])
def test_smoothed_counts_match_a_plain_loop(rng_events, bandwidth):
    grid, active = make_grid(), l_mask()
    builder = FeatureBuilder(kernels=None, smooth_bandwidths=(bandwidth,), smooth_window_weeks=52)
    feats = builder.cell_features(rng_events, grid, ORIGIN)
    cells = active_cells(active)
    ref = ref_counts(rng_events, ORIGIN, 52, active)
    mean = sum(ref.values()) / len(cells)
    smooth = ref_smooth(ref, bandwidth, active)
    expected = [smooth[cell] / mean for cell in cells]
    np.testing.assert_allclose(
        feats[f"kde_{bandwidth:g}m_52w"].to_numpy(), expected, rtol=1e-9, atol=1e-12
    )


def ref_shrunk(counts, bandwidth, active, truncate=3.0):
    """Plain-loop empirical Bayes (Poisson-gamma) shrinkage toward the other cells around.

    ``m_c``: mean count of the other active cells weighted by the 2-d Gaussian of
    ``ref_smooth``; ``1 / a = max(0, sum((n - m)^2 - n)) / sum(m)``; result ``(n + a m) / (1
    + a)`` over the mean count per active cell.
    """
    sigma = bandwidth / S
    half = int(truncate * sigma + 0.5)
    g = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma) ** 2)
    g /= g.sum()
    cells = active_cells(active)
    n = np.array([counts.get(cell, 0) for cell in cells], dtype=float)
    m = np.empty(len(cells))
    for i, (r, c) in enumerate(cells):
        weights = total = 0.0
        for j, (r2, c2) in enumerate(cells):
            if (r2, c2) != (r, c) and abs(r2 - r) <= half and abs(c2 - c) <= half:
                w = g[r2 - r + half] * g[c2 - c + half]
                weights += w
                total += w * n[j]
        m[i] = total / weights if weights > 0 else n.mean()
    inverse_a = max(0.0, float(np.sum((n - m) ** 2 - n))) / m.sum()
    a = np.inf if inverse_a == 0 else 1 / inverse_a
    shrunk = m if np.isinf(a) else (n + a * m) / (1 + a)
    return shrunk / n.mean()


@pytest.mark.parametrize("bandwidth", [60.0, 150.0, 400.0])
def test_shrunk_levels_match_a_plain_loop(rng_events, bandwidth):
    grid, active = make_grid(), l_mask()
    builder = FeatureBuilder(kernels=None, shrink_bandwidths=(bandwidth,), shrink_window_weeks=52)
    feats = builder.cell_features(rng_events, grid, ORIGIN)
    ref = ref_counts(rng_events, ORIGIN, 52, active)
    expected = ref_shrunk(ref, bandwidth, active)
    np.testing.assert_allclose(feats[f"eb_{bandwidth:g}m_52w"].to_numpy(), expected, rtol=1e-9)


def test_shrunk_levels_by_hand():
    # One row of three cells, a bandwidth of 1 cell: the Gaussian's weights (truncated at 3
    # cells and normalised) are g0 = 1 / s, g1 = e^(-1/2) / s, g2 = e^(-2) / s. Every cell's
    # neighbourhood mean is the weighted mean of the other two cells.
    grid = Grid(x0=X0, y0=Y0, cell_size=S, n_cols=3, n_rows=1, crs=CRS)
    counts = [6, 0, 0]
    t = np.full(sum(counts), ORIGIN - DAY)
    events = Events(t, np.full(6, X0 + 50.0), np.full(6, Y0 + 50.0), crs=CRS, tz=TZ)
    builder = FeatureBuilder(kernels=None, shrink_bandwidths=(S,), shrink_window_weeks=1)
    got = builder.cell_features(events, grid, ORIGIN)[f"eb_{S:g}m_1w"].to_numpy()
    g1, g2 = np.exp(-0.5), np.exp(-2.0)
    m = np.array([0.0, 6.0 * g1 / (2 * g1), 6.0 * g2 / (g1 + g2)])  # m = (0, 3, 6 g2/(g1+g2))
    n = np.array([6.0, 0.0, 0.0])
    inverse_a = ((n - m) ** 2 - n).sum() / m.sum()
    expected = (inverse_a * n + m) / (inverse_a + 1) / 2.0  # mean count per cell: 2
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    # Equal counts everywhere spread no more than Poisson: every cell gets its neighbourhood's.
    flat = Events(np.full(3, ORIGIN - DAY), X0 + 50.0 + S * np.arange(3), np.full(3, Y0 + 50.0),
                  crs=CRS, tz=TZ)  # fmt: skip
    level = builder.cell_features(flat, grid, ORIGIN)[f"eb_{S:g}m_1w"].to_numpy()
    np.testing.assert_allclose(level, [1.0, 1.0, 1.0], rtol=1e-12)
    nothing = events.select(np.zeros(len(events), dtype=bool))
    assert (builder.cell_features(nothing, grid, ORIGIN)[f"eb_{S:g}m_1w"] == 0).all()


def test_decayed_levels_match_a_plain_loop(rng_events):
    grid, active = make_grid(), l_mask()
    half_lives = (2, 52)
    feats = FeatureBuilder(kernels=None, decay_half_lives_weeks=half_lives).cell_features(
        rng_events, grid, ORIGIN
    )
    cells = active_cells(active)
    for h in half_lives:
        total = {}
        for ti, xi, yi in zip(rng_events.t, rng_events.x, rng_events.y, strict=True):
            cell = ref_cell(xi, yi, active)
            if ti < ORIGIN and cell is not None:
                total[cell] = total.get(cell, 0.0) + 0.5 ** ((ORIGIN - ti) / (h * WEEK))
        decayed = np.array([total.get(cell, 0.0) for cell in cells])
        expected = decayed / decayed.mean()
        np.testing.assert_allclose(feats[f"decay_cell_{h}w"].to_numpy(), expected, rtol=1e-9)
    # An event of one half-life ago weighs half as much as one of just now.
    two = Events([ORIGIN - 52 * WEEK, ORIGIN - 1], [X0 + 50.0, X0 + 150.0], [Y0 + 50.0] * 2,
                 crs=CRS, tz=TZ)  # fmt: skip
    level = FeatureBuilder(kernels=None, decay_half_lives_weeks=(52,)).cell_features(
        two, grid, ORIGIN
    )["decay_cell_52w"]
    assert level.iloc[0] / level.iloc[1] == pytest.approx(0.5, rel=1e-6)


def test_ring_sizes_on_the_mask():
    # One event in every active cell, none elsewhere: a ring count is the number of active
    # cells in that ring (8 and 16 in the interior, fewer at edges and at the L's corner).
    grid, active = make_grid(), l_mask()
    x = np.asarray(grid.x)
    t = np.full(x.size, ORIGIN - DAY)
    events = Events(t, grid.x, grid.y, crs=CRS, tz=TZ)
    feats = FeatureBuilder(windows_weeks=(1,), kernels=None).cell_features(events, grid, ORIGIN)
    cells = active_cells(active)
    for k in (1, 2):
        expected = [len(ring_of(cell, k, active)) for cell in cells]
        np.testing.assert_array_equal(feats[f"n_ring{k}_1w"].to_numpy(), expected)
    interior = cells.index((2, 2))
    assert feats["n_ring1_1w"].iloc[interior] == 7  # (3, 3) is inactive
    assert feats["n_ring1_1w"].iloc[cells.index((1, 1))] == 8


def test_kernel_columns_equal_score_at(rng_events):
    grid = make_grid()
    kernels = {
        **default_kernels(),
        "nr_gauss": (GaussianSpace(sigma=80.0, radius=250.0), BowersTime(window_days=20.0)),
    }
    feats = FeatureBuilder(kernels=kernels).cell_features(rng_events, grid, ORIGIN)
    for name, (space, time) in kernels.items():
        direct = score_at(
            rng_events.t, rng_events.x, rng_events.y, grid, [ORIGIN],
            space=space, time=time, before=ORIGIN,
        )[0]  # fmt: skip
        np.testing.assert_allclose(feats[name].to_numpy(), direct, rtol=1e-12, atol=0)
        assert direct.max() > 0


def test_events_outside_the_grid_feed_kernels_but_not_counts():
    grid = make_grid()
    t = np.array([ORIGIN - DAY])
    outside = Events(t, [X0 - 30.0], [Y0 + 50.0], crs=CRS, tz=TZ)  # left of cell (0, 0)
    inactive = Events(t, [X0 + 350.0], [Y0 + 350.0], crs=CRS, tz=TZ)  # in inactive (3, 3)
    builder = FeatureBuilder(kernels={"nr_b": (BowersSpace(), BowersTime())})
    for events in (outside, inactive):
        feats = builder.cell_features(events, grid, ORIGIN)
        counts = feats.filter(regex="^n_")
        assert counts.shape[1] == 3 * len(builder.windows_weeks)
        assert (feats.filter(regex="^(rel|kde)_").to_numpy() == 0).all()
        assert (counts.to_numpy() == 0).all()
        assert (feats["days_since_cell"] == DAYS_CAP).all()
        assert (feats["days_since_ring1"] == DAYS_CAP).all()
        assert feats["nr_b"].max() > 0


def test_days_since_last_by_hand():
    grid, active = make_grid(), l_mask()
    cells = active_cells(active)
    c00, c01, c55 = cells.index((0, 0)), cells.index((0, 1)), cells.index((5, 0))
    t = np.array([ORIGIN - 30 * DAY, ORIGIN - 3 * DAY - 6 * 3600, ORIGIN - 1, ORIGIN + 5])
    x = np.array([X0 + 10, X0 + 20, X0 + 150, X0 + 30])  # cells (0,0), (0,0), (0,1), (0,0)
    y = np.array([Y0 + 10, Y0 + 20, Y0 + 50, Y0 + 30])
    feats = FeatureBuilder(kernels=None).cell_features(
        Events(t, x, y, crs=CRS, tz=TZ), grid, ORIGIN
    )
    assert feats["days_since_cell"].iloc[c00] == pytest.approx(3.25)
    assert feats["days_since_cell"].iloc[c01] == pytest.approx(1 / DAY)
    assert feats["days_since_ring1"].iloc[c00] == pytest.approx(1 / DAY)  # neighbour (0, 1)
    assert feats["days_since_ring1"].iloc[c01] == pytest.approx(3.25)  # neighbour (0, 0)
    assert feats["days_since_cell"].iloc[c55] == DAYS_CAP  # never
    assert feats["days_since_ring1"].iloc[cells.index((0, 2))] == pytest.approx(1 / DAY)
    assert feats["days_since_ring1"].iloc[cells.index((0, 3))] == DAYS_CAP  # 2 cells away


def test_days_since_is_capped_for_old_events():
    grid = make_grid()
    t = np.array([ORIGIN - int((DAYS_CAP + 10) * DAY)])
    feats = FeatureBuilder(kernels=None).cell_features(
        Events(t, [X0 + 50], [Y0 + 50], crs=CRS, tz=TZ), grid, ORIGIN
    )
    assert feats["days_since_cell"].iloc[0] == DAYS_CAP


def test_days_since_matches_brute_force(rng_events):
    grid, active = make_grid(), l_mask()
    feats = FeatureBuilder(kernels=None).cell_features(rng_events, grid, ORIGIN)
    cells = active_cells(active)
    last = {}
    for ti, xi, yi in zip(rng_events.t, rng_events.x, rng_events.y, strict=True):
        cell = ref_cell(xi, yi, active)
        if cell is not None and ti < ORIGIN:
            last[cell] = max(last.get(cell, -np.inf), ti)

    def days(times):
        return min((ORIGIN - max(times, default=-np.inf)) / DAY, DAYS_CAP)

    own = [days([last[c]] if c in last else []) for c in cells]
    ring = [days([last[n] for n in ring_of(c, 1, active) if n in last]) for c in cells]
    np.testing.assert_allclose(feats["days_since_cell"], own, rtol=1e-12)
    np.testing.assert_allclose(feats["days_since_ring1"], ring, rtol=1e-12)


def test_uncertain_times_count_from_the_end_of_their_window():
    grid = make_grid()
    t = np.array([ORIGIN - 10 * DAY, ORIGIN - 3 * DAY, ORIGIN - 2 * DAY])
    t_end = np.array([ORIGIN - 6 * DAY, ORIGIN - 3 * DAY, ORIGIN + 3600])  # last: not yet known
    events = Events(t, [X0 + 50] * 3, [Y0 + 50] * 3, crs=CRS, tz=TZ, t_end=t_end)
    builder = FeatureBuilder(windows_weeks=(1,), rings=(), kernels=default_kernels())
    feats = builder.cell_features(events, grid, ORIGIN)
    assert feats["n_cell_1w"].iloc[0] == 2  # known 6 and 3 days before o
    assert feats["days_since_cell"].iloc[0] == pytest.approx(3.0)
    known = events.before(ORIGIN)
    space, time = default_kernels()["nr_exp100m_7d"]
    direct = score_at(
        np.sort(known.t_end), known.x, known.y, grid, [ORIGIN], space=space, time=time
    )[0]
    np.testing.assert_allclose(feats["nr_exp100m_7d"], direct, rtol=1e-12)


def test_window_counts_with_uncertain_times_match_brute_force():
    rng = np.random.default_rng(5)
    base = make_events(rng, n=300)
    t_end = base.t + rng.integers(0, 3 * DAY, len(base)) * (rng.random(len(base)) < 0.5)
    events = Events(base.t, base.x, base.y, crs=CRS, tz=TZ, t_end=t_end)
    grid, active = make_grid(), l_mask()
    feats = FeatureBuilder(kernels=None).cell_features(events, grid, ORIGIN)
    for w in (1, 8, 104):
        ref = ref_counts(events, ORIGIN, w, active, known=events.t_end)
        np.testing.assert_array_equal(
            feats[f"n_cell_{w}w"], [ref.get(c, 0) for c in active_cells(active)]
        )


# ---------------------------------------------------------------------- shift features
def local(text: str) -> int:
    return int(pd.Timestamp(text, tz=TZ).timestamp())


def test_shift_counts_by_hand_on_a_schedule_crossing_midnight():
    schedule = ShiftSchedule(["07:00", "15:00", "23:00"], tz=TZ)  # 07-15, 15-23, 23-07
    grid = make_grid()
    origin = local("2024-06-01 00:00")
    a = (X0 + 50, Y0 + 50)  # cell (0, 0) = id 0
    b = (X0 + 150, Y0 + 50)  # cell (0, 1) = id 1, ring-1 neighbour of a
    far = (X0 + 650, Y0 + 50)  # cell (0, 6)
    rows = [
        ("2024-05-30 23:30", a),  # 23-07 (shift 2)
        ("2024-05-31 03:00", a),  # 23-07 of the 30th, after midnight
        ("2024-05-31 06:59", a),  # 23-07
        ("2024-05-31 07:00", a),  # 07-15 (shift 0)
        ("2024-05-31 14:59", b),  # 07-15
        ("2024-05-31 15:00", b),  # 15-23 (shift 1)
        ("2024-04-20 16:00", a),  # 15-23, 6 weeks before: in 8 weeks only
        ("2024-01-10 08:00", a),  # 07-15, ~20 weeks before: in 26 weeks
        ("2024-05-31 23:59", far),  # 23-07, far away
        ("2024-06-01 00:00", a),  # at the origin: never counted
    ]
    t = np.array([local(text) for text, _ in rows])
    x = np.array([p[0] for _, p in rows])
    y = np.array([p[1] for _, p in rows])
    events = Events(t, x, y, crs=CRS, tz=TZ)
    builder = FeatureBuilder(
        shift_windows_weeks=(1, 8, 26), shift_prior=None, shift_smooth_bandwidths=()
    )
    feats, names = builder.shift_features(events, grid, schedule, origin)
    assert names == [
        "shift_n_cell_1w", "shift_n_cell_8w", "shift_n_cell_26w",
        "shift_n_ring1_1w", "shift_n_ring1_8w", "shift_n_ring1_26w",
    ]  # fmt: skip
    assert feats.shape == (3, grid.n_cells, 6)
    col = {n: i for i, n in enumerate(names)}
    # cell a (id 0): shift 2 x3, shift 0 x1 (+1 at 20 weeks), shift 1 x1 at 6 weeks
    assert feats[:, 0, col["shift_n_cell_1w"]].tolist() == [1, 0, 3]
    assert feats[:, 0, col["shift_n_cell_8w"]].tolist() == [1, 1, 3]
    assert feats[:, 0, col["shift_n_cell_26w"]].tolist() == [2, 1, 3]
    # its ring 1 holds b (id 1): shift 0 x1, shift 1 x1
    assert feats[:, 0, col["shift_n_ring1_1w"]].tolist() == [1, 1, 0]
    assert feats[:, 1, col["shift_n_cell_1w"]].tolist() == [1, 1, 0]
    assert feats[:, 1, col["shift_n_ring1_26w"]].tolist() == [2, 1, 3]
    assert feats[:, 6, col["shift_n_cell_1w"]].tolist() == [0, 0, 1]
    total = feats[:, :, col["shift_n_cell_26w"]].sum()
    assert total == 9  # every event before o in the grid, once


def test_shift_counts_sum_to_cell_counts(rng_events):
    grid = make_grid()
    schedule = ShiftSchedule(["07:00", "15:00", "23:00"], tz=TZ)
    builder = FeatureBuilder(windows_weeks=(8, 26, 52), shift_windows_weeks=(8, 26, 52))
    shift, names = builder.shift_features(rng_events, grid, schedule, ORIGIN)
    cells = builder.cell_features(rng_events, grid, ORIGIN)
    for w in (8, 26, 52):
        np.testing.assert_array_equal(
            shift[:, :, names.index(f"shift_n_cell_{w}w")].sum(axis=0), cells[f"n_cell_{w}w"]
        )
        np.testing.assert_array_equal(
            shift[:, :, names.index(f"shift_n_ring1_{w}w")].sum(axis=0), cells[f"n_ring1_{w}w"]
        )


def test_shrunk_shift_shares_by_formula(rng_events):
    grid, active = make_grid(), l_mask()
    schedule = ShiftSchedule(["07:00", "15:00", "23:00"], tz=TZ)
    builder = FeatureBuilder(shift_windows_weeks=(26, 104), shift_prior=4.0)
    feats, names = builder.shift_features(rng_events, grid, schedule, ORIGIN)
    local_hour = pd.to_datetime(rng_events.t, unit="s", utc=True).tz_convert(TZ).hour
    shift = np.select([local_hour < 7, local_hour < 15, local_hour < 23], [2, 0, 1], 2)
    cells = active_cells(active)
    for w in (26, 104):
        n = np.zeros((3, len(cells)))
        for ti, xi, yi, si in zip(rng_events.t, rng_events.x, rng_events.y, shift, strict=True):
            cell = ref_cell(xi, yi, active)
            if ORIGIN - w * WEEK <= ti < ORIGIN and cell is not None:
                n[si, cells.index(cell)] += 1
        area = n.sum(axis=1) / n.sum()
        expected = (n + 4.0 * area[:, None]) / (n.sum(axis=0) + 4.0)
        got = feats[:, :, names.index(f"shift_share_cell_{w}w")]
        np.testing.assert_allclose(got, expected, rtol=1e-12)
        np.testing.assert_allclose(got.sum(axis=0), 1.0)


@pytest.mark.parametrize(("bandwidth", "prior"), [(150.0, 4.0), (250.0, None)])
def test_neighbourhood_shift_ratios_by_formula(rng_events, bandwidth, prior):
    grid, active = make_grid(), l_mask()
    schedule = ShiftSchedule(["07:00", "15:00", "23:00"], tz=TZ)
    builder = FeatureBuilder(
        shift_windows_weeks=(8,),
        shift_prior=prior,
        shift_smooth_bandwidths=(bandwidth,),
        shift_smooth_window_weeks=52,
    )
    feats, names = builder.shift_features(rng_events, grid, schedule, ORIGIN)
    name = f"shift_ratio_kde_{bandwidth:g}m_52w"
    assert names[-1] == name
    local_hour = pd.to_datetime(rng_events.t, unit="s", utc=True).tz_convert(TZ).hour
    shift = np.select([local_hour < 7, local_hour < 15, local_hour < 23], [2, 0, 1], 2)
    cells = active_cells(active)
    per_shift = [{}, {}, {}]
    for ti, xi, yi, si in zip(rng_events.t, rng_events.x, rng_events.y, shift, strict=True):
        cell = ref_cell(xi, yi, active)
        if ORIGIN - 52 * WEEK <= ti < ORIGIN and cell is not None:
            per_shift[si][cell] = per_shift[si].get(cell, 0) + 1
    area = np.array([sum(d.values()) for d in per_shift], dtype=float)
    p = area / area.sum()
    smooth = [ref_smooth(d, bandwidth, active) for d in per_shift]
    a = 0.0 if prior is None else prior
    for j, cell in enumerate(cells):
        m = np.array([smooth[s][cell] for s in range(3)])
        expected = (m + a * p) / ((m.sum() + a) * p)
        np.testing.assert_allclose(feats[:, j, names.index(name)], expected, rtol=1e-9)


def test_neighbourhood_shift_ratios_without_events_are_one(rng_events):
    grid = make_grid()
    schedule = ShiftSchedule(["07:00", "15:00", "23:00"], tz=TZ)
    nothing = rng_events.select(np.zeros(len(rng_events), dtype=bool))
    feats, names = FeatureBuilder().shift_features(nothing, grid, schedule, ORIGIN)
    np.testing.assert_array_equal(feats[:, :, names.index("shift_ratio_kde_1000m_208w")], 1.0)


def test_uncertain_times_split_over_shifts():
    schedule = ShiftSchedule(["07:00", "15:00", "23:00"], tz=TZ)
    grid = make_grid()
    t = np.array([local("2024-05-31 13:00"), local("2024-05-30 21:00")])
    t_end = np.array([local("2024-05-31 17:00"), local("2024-05-31 01:00")])
    events = Events(t, [X0 + 50] * 2, [Y0 + 50] * 2, crs=CRS, tz=TZ, t_end=t_end)
    feats, _ = FeatureBuilder(shift_windows_weeks=(1,)).shift_features(
        events, grid, schedule, local("2024-06-01 00:00")
    )
    np.testing.assert_allclose(feats[:, 0, 0], [0.5, 1.0, 0.5])  # 13-17: half 07-15, 15-23


# ---------------------------------------------------------------------- block features
def test_block_features_by_hand_across_dst():
    grid = Grid.from_area(shapely.box(120000, 487000, 121000, 488000), crs=CRS)  # Amsterdam
    schedule = ShiftSchedule.every(4, tz=TZ)
    origin = local("2024-03-30 00:00")
    blocks = schedule.horizon(origin, "2D")
    feats = FeatureBuilder().block_features(blocks, origin, grid)
    assert list(feats.columns) == [
        "shift", "block_hours", "day_of_week", "doy_sin", "doy_cos", "lead_days", "darkness"
    ]  # fmt: skip
    assert feats.index.tolist() == blocks.ids.tolist()
    assert feats["shift"].tolist() == [0, 1, 2, 3, 4, 5] * 2
    assert feats["block_hours"].tolist() == [4.0] * 6 + [3.0] + [4.0] * 5  # spring forward
    assert feats["day_of_week"].tolist() == [5.0] * 6 + [6.0] * 6  # Saturday, Sunday
    expected_lead = [h / 24 for h in (0, 4, 8, 12, 16, 20, 24, 27, 31, 35, 39, 43)]
    np.testing.assert_allclose(feats["lead_days"], expected_lead, rtol=1e-12)
    doy = np.array([90] * 6 + [91] * 6)  # 30 and 31 March of a leap year
    np.testing.assert_allclose(feats["doy_sin"], np.sin(2 * np.pi * (doy - 1) / 366))
    np.testing.assert_allclose(feats["doy_cos"], np.cos(2 * np.pi * (doy - 1) / 366))
    assert feats["darkness"].iloc[0] == 1.0 and feats["darkness"].iloc[3] == 0.0
    assert feats["darkness"].iloc[6] == 1.0 and feats["darkness"].iloc[9] == 0.0


def test_block_hours_on_the_fall_back_day_and_lead_from_a_mid_block_origin():
    grid = make_grid()
    schedule = ShiftSchedule.every(4, tz=TZ)
    origin = local("2024-10-26 22:30")  # half-way through the 20-24 block
    blocks = schedule.horizon(origin, "1D")
    feats = FeatureBuilder(darkness=False).block_features(blocks, origin, grid)
    assert "darkness" not in feats.columns
    assert feats["block_hours"].tolist() == [5.0, 4.0, 4.0, 4.0, 4.0, 4.0]  # 27 Oct 00-04 ..
    assert feats["lead_days"].iloc[0] == pytest.approx(1.5 / 24)
    assert feats["lead_days"].iloc[1] == pytest.approx(6.5 / 24)  # 5-hour block before it


@pytest.mark.parametrize("darkness", [True, False])
def test_block_features_of_many_horizons_equal_those_of_each(darkness):
    from caslite._solar import darkness_share

    grid = Grid.from_area(shapely.box(120000, 487000, 121000, 488000), crs=CRS)  # Amsterdam
    schedule = ShiftSchedule.every(4, tz=TZ)
    # weekly origins with 14-day horizons (each block in two of them) across spring forward,
    # one origin in the middle of a block
    origins = [local(f"2024-03-{d:02d} 00:00") for d in (10, 17, 24, 31)] + [
        local("2024-04-07 09:30")
    ]
    horizons = [schedule.horizon(o, "14D") for o in origins]
    builder = FeatureBuilder(darkness=darkness)
    frames = builder._horizons_block_features(horizons, origins, grid)
    to_lonlat = pyproj.Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    lon, lat = to_lonlat.transform(120500.0, 487500.0)
    assert len(frames) == len(horizons)
    for frame, blocks, origin in zip(frames, horizons, origins, strict=True):
        one = builder.block_features(blocks, origin, grid)
        assert frame.equals(one) and list(frame.columns) == list(one.columns)
        if darkness:  # each block's share, computed for that block alone at the centre
            bounds = zip(blocks.start, blocks.end, strict=True)
            alone = [darkness_share([a], [b], lon, lat)[0] for a, b in bounds]
            assert frame["darkness"].tolist() == alone
    assert builder._horizons_block_features([], [], grid) == []
    with pytest.raises(ValueError, match="2 horizons and 1 origins"):
        builder._horizons_block_features(horizons[:2], origins[:1], grid)
    with pytest.raises(ValueError, match="a block starts before the origin"):
        builder._horizons_block_features(horizons[:2], origins[1:3], grid)
    other = ShiftSchedule(["07:00", "15:00", "23:00"], tz=TZ).horizon(origins[0], "1D")
    with pytest.raises(ValueError, match="different schedules"):
        builder._horizons_block_features([horizons[0], other], origins[:2], grid)


def test_block_features_refuse_blocks_before_the_origin():
    schedule = ShiftSchedule.every(4, tz=TZ)
    blocks = schedule.horizon("2024-03-01", "1D")
    with pytest.raises(ValueError, match="before the origin"):
        FeatureBuilder().block_features(blocks, "2024-03-01 02:00", make_grid())


# ---------------------------------------------------------------------- static layers
def points_layer(xy, crs=CRS):
    return geopandas.GeoDataFrame(geometry=shapely.points(np.asarray(xy)), crs=crs)


def test_point_layer_distance_and_counts_by_hand():
    grid = make_grid()
    rng = np.random.default_rng(3)
    xy = np.column_stack([rng.uniform(X0 - 200, X0 + 900, 40), rng.uniform(Y0 - 200, Y0 + 800, 40)])
    xy[0] = [grid.x[5] + 100.0, grid.y[5]]  # exactly 100 m from cell 5's centre
    builder = FeatureBuilder(point_layers={"ramps": points_layer(xy)}, point_radii=(100, 250.5))
    feats = builder.static_features(grid)
    assert list(feats.columns) == ["pt_ramps_dist", "pt_ramps_n100m", "pt_ramps_n250.5m"]
    for c in range(grid.n_cells):
        d = np.hypot(xy[:, 0] - grid.x[c], xy[:, 1] - grid.y[c])
        assert feats["pt_ramps_dist"].iloc[c] == pytest.approx(d.min(), rel=1e-12)
        assert feats["pt_ramps_n100m"].iloc[c] == np.sum(d <= 100)
        assert feats["pt_ramps_n250.5m"].iloc[c] == np.sum(d <= 250.5)
    assert feats["pt_ramps_n100m"].iloc[5] >= 1  # the point at exactly r counts
    cells = builder.cell_features(Events([0], [X0], [Y0], crs=CRS, tz=TZ), grid, ORIGIN)
    pd.testing.assert_frame_equal(cells[feats.columns], feats)


def test_polygon_layer_area_weighted_by_hand():
    grid = make_grid()  # cell (0, 0) = [1000, 1100] x [2000, 2100], id 0; (0, 1) id 1
    layer = geopandas.GeoDataFrame(
        {
            "income": [10.0, 20.0, 40.0, 99.0],
            "density": [1.0, np.nan, 3.0, 5.0],
        },
        geometry=[
            shapely.box(1000, 2000, 1030, 2100),  # 30 % of cell 0
            shapely.box(1030, 2000, 1150, 2100),  # 70 % of cell 0, 50 % of cell 1
            shapely.box(1200, 2000, 1250, 2050),  # 25 % of cell 2
            shapely.box(5000, 5000, 5100, 5100),  # far away
        ],
        crs=CRS,
    )
    builder = FeatureBuilder(polygon_layers={"cbs": (layer, ["income", "density"])})
    feats = builder.static_features(grid)
    assert list(feats.columns) == ["poly_cbs_cover", "poly_cbs_income", "poly_cbs_density"]
    assert feats["poly_cbs_cover"].iloc[:3].tolist() == pytest.approx([1.0, 0.5, 0.25])
    assert feats["poly_cbs_income"].iloc[0] == pytest.approx(0.3 * 10 + 0.7 * 20)
    assert feats["poly_cbs_income"].iloc[1] == pytest.approx(20.0)
    assert feats["poly_cbs_income"].iloc[2] == pytest.approx(40.0)
    assert feats["poly_cbs_density"].iloc[0] == pytest.approx(1.0)  # NaN polygon ignored
    assert np.isnan(feats["poly_cbs_density"].iloc[1])  # only the NaN polygon covers it
    assert feats["poly_cbs_cover"].iloc[3] == 0 and np.isnan(feats["poly_cbs_income"].iloc[3])


def test_layer_errors():
    grid = make_grid()
    other = points_layer([[0.0, 0.0]], crs="EPSG:32631")
    with pytest.raises(ValueError, match="CRS mismatch.*point layer 'ramps'"):
        FeatureBuilder(point_layers={"ramps": other}).static_features(grid)
    naive = geopandas.GeoDataFrame(geometry=[shapely.Point(0, 0)])
    with pytest.raises(ValueError, match="has no CRS"):
        FeatureBuilder(point_layers={"ramps": naive}).static_features(grid)
    polys = geopandas.GeoDataFrame(
        {"v": ["a"]}, geometry=[shapely.box(0, 0, 1, 1)], crs="EPSG:32631"
    )
    with pytest.raises(ValueError, match="CRS mismatch"):
        FeatureBuilder(polygon_layers={"p": (polys, ["v"])}).static_features(grid)
    polys = polys.set_crs(CRS, allow_override=True)
    with pytest.raises(ValueError, match="column 'v' is not numeric"):
        FeatureBuilder(polygon_layers={"p": (polys, ["v"])}).static_features(grid)
    with pytest.raises(ValueError, match="no column 'w'"):
        FeatureBuilder(polygon_layers={"p": (polys, ["w"])}).static_features(grid)
    with pytest.raises(ValueError, match="must hold polygons"):
        FeatureBuilder(polygon_layers={"p": (points_layer([[0, 0]]), [])}).static_features(grid)
    with pytest.raises(ValueError, match="must hold non-empty points"):
        FeatureBuilder(point_layers={"p": polys}).static_features(grid)


def test_static_features_are_cached_per_grid_and_layers():
    grid = make_grid()
    builder = FeatureBuilder(point_layers={"r": points_layer([[X0, Y0]])})
    first = builder.static_features(grid)
    builder.point_layers = {"r": points_layer([[X0 + 300, Y0]])}  # new layer object
    second = builder.static_features(grid)
    assert first["pt_r_dist"].iloc[0] != second["pt_r_dist"].iloc[0]


def test_event_layer_counts_match_brute_force(rng_events):
    grid, active = make_grid(), l_mask()
    rng = np.random.default_rng(8)
    t = rng.integers(ORIGIN - 60 * WEEK, ORIGIN + 2 * WEEK, 300)
    t[:3] = [ORIGIN - 8 * WEEK, ORIGIN - 1, ORIGIN]  # window edge, last second, the origin
    t_end = t + rng.integers(0, 3 * DAY, t.size) * (rng.random(t.size) < 0.3)
    x = rng.uniform(X0 - 100, X0 + N_COLS * S + 100, t.size)
    y = rng.uniform(Y0 - 100, Y0 + N_ROWS * S + 100, t.size)
    layer = Events(t, x, y, crs=CRS, tz=TZ, t_end=t_end)
    builder = FeatureBuilder(
        kernels=None, rings=(1, 2), event_layers={"shops": layer}, event_windows_weeks=(8, 52)
    )
    feats = builder.cell_features(rng_events, grid, ORIGIN)
    plain = FeatureBuilder(kernels=None, rings=(1, 2)).cell_features(rng_events, grid, ORIGIN)
    pd.testing.assert_frame_equal(feats[plain.columns], plain)  # the incidents' own unchanged
    cells = active_cells(active)
    for w in (8, 52):
        ref = ref_counts(layer, ORIGIN, w, active, known=layer.t_end)  # known at the window end
        expected = [ref.get(cell, 0) for cell in cells]
        np.testing.assert_array_equal(feats[f"ev_shops_cell_{w}w"].to_numpy(), expected)
        for k in (1, 2):
            ring = [sum(ref.get(n, 0) for n in ring_of(cell, k, active)) for cell in cells]
            np.testing.assert_array_equal(feats[f"ev_shops_ring{k}_{w}w"].to_numpy(), ring)
    assert feats["ev_shops_cell_8w"].sum() > 0
    names = [n for n in builder.cell_feature_names_ if n.startswith("ev_")]
    assert names == [f"ev_shops_{where}_{w}w" for where in ("cell", "ring1", "ring2")
                     for w in (8, 52)]  # fmt: skip
    assert list(builder.describe()["name"]) == builder.feature_names_
    # incidents of the layer at or after the origin change nothing
    early = layer.select(layer.t_end < ORIGIN)
    before = FeatureBuilder(
        kernels=None, rings=(1, 2), event_layers={"shops": early}, event_windows_weeks=(8, 52)
    ).cell_features(rng_events, grid, ORIGIN)
    pd.testing.assert_frame_equal(before, feats)
    assert early.t.size < layer.t.size


@pytest.mark.slow
def test_event_layer_errors(rng_events):
    grid = make_grid()
    with pytest.raises(TypeError, match=r"event_layers\['shops'\] must be caslite Events"):
        FeatureBuilder(event_layers={"shops": pd.DataFrame()}).cell_features(
            rng_events, grid, ORIGIN
        )
    with pytest.raises(TypeError, match="event_layers must be a dict"):
        _ = FeatureBuilder(event_layers=[rng_events]).cell_feature_names_
    elsewhere = Events(rng_events.t, rng_events.x, rng_events.y, crs="EPSG:32631", tz=TZ)
    with pytest.raises(ValueError, match="event layer 'shops'"):
        FeatureBuilder(event_layers={"shops": elsewhere}).cell_features(rng_events, grid, ORIGIN)


def category_frame():
    rng = np.random.default_rng(21)
    n = 120
    times = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 150 * 24, n), "h")
    kinds = rng.choice(["Detached House", "Apartment", None], n, p=[0.5, 0.4, 0.1])
    return pd.DataFrame(
        {
            "when": times.strftime("%Y-%m-%d %H:%M"),
            "east": rng.uniform(X0, X0 + N_COLS * S, n),
            "north": rng.uniform(Y0, Y0 + N_ROWS * S, n),
            "premises": kinds,
        }
    )


def test_category_layers_are_the_rows_of_each_category(rng_events):
    frame = category_frame()
    options = {"time": "when", "x": "east", "y": "north", "crs": CRS, "tz": TZ}
    layers = category_layers(frame, "premises", **options)
    assert list(layers) == ["apartment", "detached_house"]  # sorted; missing: in no layer
    for name, value in (("apartment", "Apartment"), ("detached_house", "Detached House")):
        rows = frame[frame["premises"] == value]
        by_hand = Events.from_frame(rows, **options)
        assert len(layers[name]) == len(rows) > 0
        for field in ("t", "x", "y"):
            np.testing.assert_array_equal(getattr(layers[name], field), getattr(by_hand, field))
        assert layers[name].crs == by_hand.crs and layers[name].tz == by_hand.tz
    assert sum(len(layer) for layer in layers.values()) == frame["premises"].notna().sum()
    assert list(category_layers(frame, "premises", ["Apartment"], **options)) == ["apartment"]
    # from Events: the same layers, subsets of the incidents
    events = Events.from_frame(frame, **options)
    from_events = category_layers(events, "premises")
    assert list(from_events) == list(layers)
    for name, layer in layers.items():
        for field in ("t", "x", "y"):
            np.testing.assert_array_equal(getattr(from_events[name], field), getattr(layer, field))
    # usable as they come: the builder counts each layer apart
    grid = make_grid()
    builder = FeatureBuilder(kernels=None, event_layers=layers, event_windows_weeks=(52,))
    feats = builder.cell_features(rng_events, grid, "2024-06-01")
    total = feats["ev_apartment_cell_52w"].sum() + feats["ev_detached_house_cell_52w"].sum()
    inside = sum(
        int(np.count_nonzero(grid.cell_of(layer.x, layer.y) >= 0)) for layer in layers.values()
    )
    assert total == inside > 0


def test_category_layers_errors_name_the_problem():
    frame = category_frame()
    options = {"time": "when", "x": "east", "y": "north", "crs": CRS, "tz": TZ}
    with pytest.raises(KeyError, match="no column 'kind' in the incidents"):
        category_layers(frame, "kind", **options)
    with pytest.raises(ValueError, match="no incident has premises == 'Shop'; the categories"):
        category_layers(frame, "premises", ["Shop"], **options)
    twins = frame.assign(premises=frame["premises"].replace({"Apartment": "detached house"}))
    with pytest.raises(ValueError, match="give the layer name 'detached_house'"):
        category_layers(twins, "premises", **options)
    events = Events.from_frame(frame, **options)
    with pytest.raises(TypeError, match=r"already caslite Events; the options \['crs'\]"):
        category_layers(events, "premises", crs=CRS)
    with pytest.raises(KeyError, match="no column 'kind'"):
        category_layers(events, "kind")


def test_crs_mismatch_of_events_and_grid_raises():
    events = Events([ORIGIN - DAY], [500000.0], [5800000.0], crs="EPSG:32631", tz=TZ)
    builder = FeatureBuilder()
    schedule = ShiftSchedule.every(4, tz=TZ)
    with pytest.raises(ValueError, match="CRS mismatch: events .* the grid"):
        builder.cell_features(events, make_grid(), ORIGIN)
    with pytest.raises(ValueError, match="CRS mismatch"):
        builder.shift_features(events, make_grid(), schedule, ORIGIN)


# ---------------------------------------------------------------------- leakage, determinism
def all_features(builder, events, grid, schedule, origin):
    blocks = schedule.horizon(origin, "14D")
    cells = builder.cell_features(events, grid, origin)
    shifts, _ = builder.shift_features(events, grid, schedule, origin)
    blocks_f = builder.block_features(blocks, origin, grid)
    X, *_ = builder.design_matrix(events, grid, blocks, origin)
    return cells, shifts, blocks_f, X


def test_no_leakage_from_events_at_or_after_the_origin(rng_events):
    grid = make_grid()
    schedule = ShiftSchedule(["07:00", "15:00", "23:00"], tz=TZ)
    builder = FeatureBuilder(
        point_layers={"p": points_layer([[X0 + 10, Y0 + 10]])},
        kernels={**default_kernels(), "nr_inf": (BowersSpace(), BowersTime(window_days=np.inf))},
        relative_windows_weeks=(1, 520),
        smooth_bandwidths=(100.0, 300.0),
        shift_prior=5.0,
        shrink_bandwidths=(150.0,),
        decay_half_lives_weeks=(1, 104),
    )
    base = rng_events.select(rng_events.t < ORIGIN)
    rng = np.random.default_rng(11)
    extra_t = np.concatenate(
        [[ORIGIN, ORIGIN, ORIGIN + 1], rng.integers(ORIGIN, ORIGIN + 9 * WEEK, 200)]
    )
    extra_x = np.concatenate([[X0 + 50.0] * 3, rng.uniform(X0, X0 + 700, 200)])
    extra_y = np.concatenate([[Y0 + 50.0] * 3, rng.uniform(Y0, Y0 + 600, 200)])
    # ... and uncertain events that started before the origin but end at or after it.
    win_t = np.array([ORIGIN - 5 * DAY, ORIGIN - 1])
    win_end = np.array([ORIGIN, ORIGIN + DAY])
    t = np.concatenate([base.t, extra_t, win_t])
    t_end = np.concatenate([base.t_end, extra_t, win_end])
    x = np.concatenate([base.x, extra_x, [X0 + 50.0] * 2])
    y = np.concatenate([base.y, extra_y, [Y0 + 50.0] * 2])
    more = Events(t, x, y, crs=CRS, tz=TZ, t_end=t_end)
    before = all_features(builder, base, grid, schedule, ORIGIN)
    after = all_features(builder, more, grid, schedule, ORIGIN)
    pd.testing.assert_frame_equal(before[0], after[0])
    np.testing.assert_array_equal(before[1], after[1])
    pd.testing.assert_frame_equal(before[2], after[2])
    np.testing.assert_array_equal(before[3], after[3])
    # The added events do matter once they are in the past:
    later = builder.cell_features(more, grid, ORIGIN + 10 * WEEK)
    assert not later["n_cell_1w"].equals(before[0]["n_cell_1w"])


def test_deterministic_and_independent_of_input_order(rng_events):
    grid = make_grid()
    schedule = ShiftSchedule.every(4, tz=TZ)
    builder = FeatureBuilder()
    first = all_features(builder, rng_events, grid, schedule, ORIGIN)
    second = all_features(builder, rng_events, grid, schedule, ORIGIN)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    perm = np.random.default_rng(1).permutation(len(rng_events))
    shuffled = Events(rng_events.t[perm], rng_events.x[perm], rng_events.y[perm], crs=CRS, tz=TZ)
    third = all_features(builder, shuffled, grid, schedule, ORIGIN)
    for a, b in zip(first, third, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-12)


def test_origin_as_local_string_equals_utc_seconds(rng_events):
    grid = make_grid()
    builder = FeatureBuilder()
    text = pd.Timestamp(ORIGIN, unit="s", tz="UTC").tz_convert(TZ).strftime("%Y-%m-%d %H:%M")
    pd.testing.assert_frame_equal(
        builder.cell_features(rng_events, grid, text),
        builder.cell_features(rng_events, grid, ORIGIN),
    )


# ---------------------------------------------------------------------- assembly
def test_design_matrix_rows_are_block_major_and_match_the_groups(rng_events):
    grid = make_grid()
    schedule = ShiftSchedule(["07:00", "15:00", "23:00"], tz=TZ)
    builder = FeatureBuilder()
    origin = local("2024-06-01 07:00")
    blocks = schedule.horizon(origin, "14D")
    X, names, block_index, cell_index = builder.design_matrix(rng_events, grid, blocks, origin)
    n_b, n_c = len(blocks), grid.n_cells
    assert X.shape == (n_b * n_c, len(names)) and X.dtype == np.float64
    assert names == builder.feature_names_ == builder.describe()["name"].tolist()
    assert len(set(names)) == len(names)
    np.testing.assert_array_equal(block_index, np.repeat(np.arange(n_b), n_c))
    np.testing.assert_array_equal(cell_index, np.tile(np.arange(n_c), n_b))
    cells = builder.cell_features(rng_events, grid, origin).to_numpy()
    shifts, _ = builder.shift_features(rng_events, grid, schedule, origin)
    block_feats = builder.block_features(blocks, origin, grid).to_numpy()
    for row in np.random.default_rng(0).integers(0, X.shape[0], 50):
        b, c = divmod(row, n_c)
        expected = np.concatenate([cells[c], shifts[blocks.shift[b], c], block_feats[b]])
        np.testing.assert_array_equal(X[row], expected)
    assert not np.isnan(X).any()


def test_design_matrix_cell_subset_and_rows_agree(rng_events):
    grid = make_grid()
    schedule = ShiftSchedule.every(4, tz=TZ)
    builder = FeatureBuilder(rings=(1,), windows_weeks=(4, 52))
    blocks = schedule.horizon(ORIGIN, "3D")
    full, names, *_ = builder.design_matrix(rng_events, grid, blocks, ORIGIN)
    chosen = np.array([7, 2, 2, 0])
    X, _, block_index, cell_index = builder.design_matrix(
        rng_events, grid, blocks, ORIGIN, cells=chosen
    )
    assert X.shape == (len(blocks) * 4, len(names))
    np.testing.assert_array_equal(cell_index, np.tile(chosen, len(blocks)))
    np.testing.assert_array_equal(X, full[block_index * grid.n_cells + cell_index])
    pieces = (
        builder.cell_features(rng_events, grid, ORIGIN),
        builder.shift_features(rng_events, grid, schedule, ORIGIN)[0],
        builder.block_features(blocks, ORIGIN, grid),
    )
    np.testing.assert_array_equal(builder.rows(*pieces, block_index, cell_index), X)
    with pytest.raises(ValueError, match="cells must lie in"):
        builder.design_matrix(rng_events, grid, blocks, ORIGIN, cells=[grid.n_cells])


# ---------------------------------------------------------------------- parameters
def test_estimator_contract_and_parameter_checks():
    builder = FeatureBuilder(
        windows_weeks=(3,), rings=(), kernels=None, darkness=False,
        relative_windows_weeks=(), smooth_bandwidths=(), shift_prior=None,
        shift_smooth_bandwidths=(),
    )  # fmt: skip
    copy = clone(builder)
    assert copy.get_params() == builder.get_params()
    assert copy.feature_names_ == [
        "n_cell_3w", "days_since_cell", "days_since_ring1",
        "shift_n_cell_8w", "shift_n_cell_26w", "shift_n_cell_52w",
        "shift_n_ring1_8w", "shift_n_ring1_26w", "shift_n_ring1_52w",
        "shift", "block_hours", "day_of_week", "doy_sin", "doy_cos", "lead_days",
    ]  # fmt: skip
    pairs = [(BowersSpace(), BowersTime())] * 2
    assert FeatureBuilder(kernels=pairs).cell_feature_names_.count("nr_1") == 1
    for bad, match in [
        ({"windows_weeks": ()}, "windows_weeks is empty"),
        ({"windows_weeks": (0,)}, "positive finite"),
        ({"windows_weeks": (2, 2)}, "repeats"),
        ({"rings": (0,)}, r"rings\[0\] must be a positive integer, got 0"),
        ({"kernels": "bowers"}, "kernels='bowers'"),
        ({"point_radii": (-1,)}, "point_radii"),
        ({"relative_windows_weeks": (0,)}, "relative_windows_weeks"),
        ({"smooth_bandwidths": (-5.0,)}, "smooth_bandwidths"),
        ({"smooth_window_weeks": np.inf}, "smooth_window_weeks"),
        ({"shift_prior": 0}, "shift_prior"),
        ({"shift_smooth_bandwidths": (0.0,)}, "shift_smooth_bandwidths"),
        ({"shift_smooth_window_weeks": -1}, "shift_smooth_window_weeks"),
        ({"shrink_bandwidths": (0.0,)}, "shrink_bandwidths"),
        ({"shrink_window_weeks": np.inf}, "shrink_window_weeks"),
        ({"decay_half_lives_weeks": (-52,)}, "decay_half_lives_weeks"),
        ({"decay_half_lives_weeks": (52, 52)}, "repeats"),
    ]:
        with pytest.raises(ValueError, match=match):
            _ = FeatureBuilder(**bad).feature_names_
    with pytest.raises(TypeError, match="space kernel"):
        _ = FeatureBuilder(kernels={"nr_x": (BowersTime(), BowersSpace())}).feature_names_


def test_features_table_covers_every_pattern():
    builder = FeatureBuilder(
        point_layers={"ramps": points_layer([[X0, Y0]])},
        polygon_layers={"cbs": (points_layer([[X0, Y0]]), ["a"])},
        event_layers={"shops": Events([ORIGIN], [X0], [Y0], crs=CRS, tz=TZ)},
    )
    table = builder.describe()
    assert set(table["group"]) == {"cell", "shift", "block"}
    assert table["meaning"].str.len().min() > 10
    patterns = set(FEATURES)
    assert {"n_cell_{w}w", "pt_{name}_dist", "poly_{name}_{col}", "darkness"} <= patterns


@pytest.mark.parametrize("k", [1, 2, 3])
def test_ring_sum_kernel_matches_dense_twin(k):
    from shapely.geometry import Polygon

    from caslite.features import _ring_sums

    # An L-shaped area with a hole in the raster, and fractional values (aoristic weights).
    area = Polygon([(0, 0), (1500, 0), (1500, 500), (600, 500), (600, 1200), (0, 1200)])
    grid = Grid.from_area(area, cell_size=100.0, crs=CRS)
    rng = np.random.default_rng(k)
    values = rng.random((3, grid.n_cells)) * (rng.random((3, grid.n_cells)) < 0.3)
    got = _ring_sums(values, grid, (k,))[0]
    expected = naive.ring_sums(values, grid.cell_row, grid.cell_col, k)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    assert got.shape == values.shape and expected.any()
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:  # a fixed order per cell: the same bits with one thread
        np.testing.assert_array_equal(_ring_sums(values, grid, (k,))[0], got)
    finally:
        numba.set_num_threads(threads)


# ---------------------------------------------------------------------- many origins at once
def _windowed_city(rng):
    """Events with exact times and, for half of them, windows of up to three days."""
    base = make_events(rng, n=600)
    t_end = base.t + rng.integers(0, 3 * DAY, len(base)) * (rng.random(len(base)) < 0.5)
    return Events(base.t, base.x, base.y, crs=CRS, tz=TZ, t_end=t_end)


@pytest.mark.parametrize("windows", [False, True], ids=["exact", "aoristic"])
def test_origin_features_equal_the_per_origin_methods_bit_for_bit(windows):
    rng = np.random.default_rng(7)
    events = _windowed_city(rng) if windows else make_events(rng, n=600)
    grid = make_grid()
    schedule = ShiftSchedule(["07:00", "15:00", "23:00"], tz=TZ)
    layer = make_events(np.random.default_rng(8), n=150)
    ramps = geopandas.GeoDataFrame(geometry=[shapely.Point(X0 + 120, Y0 + 330)], crs=CRS)
    builder = FeatureBuilder(
        windows_weeks=(1, 4, 52), event_layers={"other": layer}, point_layers={"ramps": ramps},
        smooth_bandwidths=(100.0, 250.0), shift_smooth_bandwidths=(300.0,),
        shrink_bandwidths=(150.0, 400.0), decay_half_lives_weeks=(4, 104),
    )  # fmt: skip
    # unordered, repeated, and one origin before every event
    origins = [ORIGIN, ORIGIN - 5 * WEEK, ORIGIN - 3 * DAY + 7, ORIGIN, ORIGIN - 200 * WEEK]
    pairs = list(builder.origin_features(events, grid, schedule, origins))
    assert len(pairs) == len(origins)
    for o, (cell_feats, shift_feats) in zip(origins, pairs, strict=True):
        expected_cells = builder.cell_features(events, grid, o).to_numpy()
        expected_shifts, _ = builder.shift_features(events, grid, schedule, o)
        assert np.array_equal(cell_feats, expected_cells, equal_nan=True)
        assert np.array_equal(shift_feats, expected_shifts, equal_nan=True)
    chosen = [rng.choice(grid.n_cells, size, replace=False) for size in (1, 5, 30, 0, 12)]
    subset = builder.origin_features(events, grid, schedule, origins, cells=chosen)
    for (cell_feats, shift_feats), (all_cells, all_shifts), ids in zip(
        subset, pairs, chosen, strict=True
    ):
        assert np.array_equal(cell_feats, all_cells[ids], equal_nan=True)
        assert np.array_equal(shift_feats, all_shifts[:, ids], equal_nan=True)


def test_origin_features_read_only_events_known_before_each_origin(rng_events):
    grid = make_grid()
    schedule = ShiftSchedule.every(8, tz=TZ)
    builder = FeatureBuilder(windows_weeks=(1, 26), shift_windows_weeks=(8,))
    origins = [ORIGIN - 2 * WEEK, ORIGIN]
    before = list(builder.origin_features(rng_events, grid, schedule, origins))
    # events from the earlier origin on moved and multiplied: its features stay the same
    late = rng_events.t >= origins[0]
    t = np.concatenate([rng_events.t, rng_events.t[late]])
    x = np.concatenate([rng_events.x, rng_events.x[late][::-1]])
    y = np.concatenate([rng_events.y, rng_events.y[late]])
    changed = Events(t, x, y, crs=CRS, tz=TZ)
    after = next(builder.origin_features(changed, grid, schedule, origins))
    assert np.array_equal(before[0][0], after[0]) and np.array_equal(before[0][1], after[1])


def test_origin_features_refuse_cells_that_do_not_fit(rng_events):
    grid = make_grid()
    schedule = ShiftSchedule.every(8, tz=TZ)
    builder = FeatureBuilder()
    with pytest.raises(ValueError, match="cells has 1 arrays for 2 origins"):
        builder.origin_features(rng_events, grid, schedule, [ORIGIN, ORIGIN], cells=[[0]])
    with pytest.raises(ValueError, match=rf"cells must lie in 0 .. {grid.n_cells - 1}"):
        builder.origin_features(rng_events, grid, schedule, [ORIGIN], cells=[[grid.n_cells]])
    with pytest.raises(TypeError, match="integer cell ids"):
        builder.origin_features(rng_events, grid, schedule, [ORIGIN], cells=[[0.5]])
    with pytest.raises(TypeError, match="schedule must be a ShiftSchedule"):
        builder.origin_features(rng_events, grid, "8h", [ORIGIN])


# ---------------------------------------------------------------------- families as components
def test_module_table_is_the_families_table():
    import caslite.features as features

    table = features._feature_table()
    assert table in features.__doc__
    rows = [line for line in table.splitlines() if line.startswith("``")]
    assert [r.split("``")[1] for r in rows] == list(FEATURES)


def test_names_describe_and_features_come_from_the_families():
    from caslite.features import FAMILIES

    builder = FeatureBuilder(event_layers={"shops": Events([ORIGIN], [X0], [Y0], crs=CRS, tz=TZ)})
    described = builder.describe()
    for group, names in (
        ("cell", builder.cell_feature_names_),
        ("shift", builder.shift_feature_names_),
        ("block", builder.block_feature_names_),
    ):
        families = [f.from_builder(builder) for f in FAMILIES if f.group == group]
        assert names == [name for f in families for name, _ in f.rows()]
        assert described.loc[described["group"] == group, "name"].tolist() == names
    assert set(FEATURES) == {pattern for f in FAMILIES for pattern, _, _ in f.table}


def _toy_family():
    """A toy family: events in the cell in the 3 days before the origin (``n_cell_3d``)."""
    from caslite.features import FeatureFamily

    class Recent(FeatureFamily):
        table = (("n_cell_3d", "events in the cell in the 3 days before o", "3-day count"),)

        @classmethod
        def from_builder(cls, builder):
            return cls()

        def rows(self):
            return [("n_cell_3d", "events in the cell in the 3 days before the origin")]

        def reach(self):
            return 3 * DAY

        def columns(self, context, prepared, out):
            history, o = context.history, context.o
            lo = history.start(o - 3 * DAY)
            out[:, 0] = history.counts(lo, context.stop, context.n)[context.pick]

    return Recent


def test_a_new_family_is_one_class(monkeypatch, rng_events):
    import caslite.features as features

    recent = _toy_family()
    cell_families = [f for f in features.FAMILIES if f.group == "cell"]
    others = [f for f in features.FAMILIES if f.group != "cell"]
    monkeypatch.setattr(features, "FAMILIES", (*cell_families, recent, *others))
    grid, active = make_grid(), l_mask()
    schedule = ShiftSchedule.every(8, tz=TZ)
    builder = FeatureBuilder(windows_weeks=(1, 4), kernels=None)
    cells = builder.cell_feature_names_
    assert cells[-1] == "n_cell_3d"
    assert builder.feature_names_.index("n_cell_3d") == len(cells) - 1
    meaning = builder.describe().set_index("name").loc["n_cell_3d"]
    assert meaning["group"] == "cell" and "3 days" in meaning["meaning"]
    assert "``n_cell_3d``" in features._feature_table(features.FAMILIES)
    # its column, against a brute-force count, in the design matrix and at many origins
    expected = np.zeros(grid.n_cells)
    for ti, xi, yi in zip(rng_events.t, rng_events.x, rng_events.y, strict=True):
        cell = ref_cell(xi, yi, active)
        if ORIGIN - 3 * DAY <= ti < ORIGIN and cell is not None:
            expected[grid.cell_of(xi, yi)] += 1
    assert expected.sum() > 0
    blocks = schedule.horizon(ORIGIN, "1D")
    X, names, _, cell_index = builder.design_matrix(rng_events, grid, blocks, ORIGIN)
    np.testing.assert_array_equal(X[:, names.index("n_cell_3d")], expected[cell_index])
    ((cell_feats, _),) = builder.origin_features(rng_events, grid, schedule, [ORIGIN])
    np.testing.assert_array_equal(cell_feats[:, -1], expected)


def test_to_dict_is_the_stored_json_form():
    from caslite._forms import encode

    builder = FeatureBuilder(
        windows_weeks=(1, 4), rings=[1], kernels={"nr_b": (BowersSpace(form="grid"), BowersTime())}
    )
    data = builder.to_dict()
    assert data == {"params": builder.get_params(deep=False)}
    stored = encode(builder, "features")  # what a model file holds
    params = dict(stored["params"]["items"])
    assert stored["__type__"] == "FeatureBuilder"
    assert params["windows_weeks"] == {"__type__": "tuple", "items": [1, 4]}
    assert params["rings"] == [1]
    name, pair = params["kernels"]["items"][0]
    assert name == "nr_b" and pair["__type__"] == "tuple"
    assert [k["__type__"] for k in pair["items"]] == ["BowersSpace", "BowersTime"]
    rebuilt = FeatureBuilder.from_dict(data)
    assert rebuilt.get_params()["kernels"] == builder.get_params()["kernels"]
    assert rebuilt.feature_names_ == builder.feature_names_
    with pytest.raises(TypeError, match="event_layers; their incidents are not stored"):
        FeatureBuilder(event_layers={"x": Events([ORIGIN], [X0], [Y0], crs=CRS, tz=TZ)}).to_dict()
    with pytest.raises(ValueError, match="not the stored form of a FeatureBuilder"):
        FeatureBuilder.from_dict({"__type__": "FeatureBuilder", "params": "windows"})


def test_rows_from_chosen_cells_equal_rows_from_all_cells(rng_events):
    # the way a model fits from origin_features: the cells of each origin's rows only
    grid = make_grid()
    schedule = ShiftSchedule.every(4, tz=TZ)
    builder = FeatureBuilder(windows_weeks=(2, 26), smooth_bandwidths=(150.0,))
    rng = np.random.default_rng(3)
    origins = [ORIGIN, ORIGIN - 9 * DAY]
    picks = [rng.integers(0, 6 * grid.n_cells, 40) for _ in origins]  # block * n + cell
    chosen = [np.unique(rows % grid.n_cells) for rows in picks]
    pairs = builder.origin_features(rng_events, grid, schedule, origins, cells=chosen)
    for o, rows, ids, (cell_feats, shift_feats) in zip(origins, picks, chosen, pairs, strict=True):
        block_index, cell_index = np.divmod(rows, grid.n_cells)
        blocks = schedule.horizon(o, "1D")
        block_feats = builder.block_features(blocks, o, grid)
        position = np.searchsorted(ids, cell_index)
        got = builder.rows(cell_feats, shift_feats, block_feats, block_index, position)
        expected = builder.rows(
            builder.cell_features(rng_events, grid, o),
            builder.shift_features(rng_events, grid, schedule, o)[0],
            block_feats,
            block_index,
            cell_index,
        )
        np.testing.assert_array_equal(got, expected)
        # written into a slice of a larger matrix, as a model fills its training rows
        matrix = np.full((rows.size + 3, got.shape[1]), np.nan)
        builder._rows(cell_feats, shift_feats, block_feats, block_index, position,
                      out=matrix[2 : 2 + rows.size])  # fmt: skip
        np.testing.assert_array_equal(matrix[2 : 2 + rows.size], expected)
        assert np.isnan(matrix[:2]).all() and np.isnan(matrix[-1]).all()
        with pytest.raises(ValueError, match="out has shape"):
            builder._rows(cell_feats, shift_feats, block_feats, block_index, position,
                          out=matrix)  # fmt: skip
