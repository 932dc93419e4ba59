"""Tests of caslite.knox: counts against the dense twins in tests/naive.py, p-values against a
hand-computed case, and the test itself against simulated cities with known truth."""

from __future__ import annotations

import sys
import types

import numba
import numpy as np
import pandas as pd
import pytest

import caslite.knox as knox
import naive
from caslite.datasets import simulate_city
from caslite.events import Events
from caslite.knox import (
    BandwidthSuggestion,
    KnoxResult,
    knox_counts,
    knox_test,
    suggest_bandwidths,
)
from caslite.nearrepeat import ExponentialSpace, ExponentialTime

CRS = "EPSG:28992"
TZ = "Europe/Amsterdam"
DAY = 86_400
T0 = 1_704_067_200  # 2024-01-01 00:00 UTC

BANDS = {
    "default": ((0, 100, 200, 300, 400, 500), (0, 7, 14, 21, 28)),
    "nrc-like": ((0, 200, 400, 600, 800, 1000), (0, 14, 28, 42, 56)),
    "offset": ((50, 100, 150, 400), (1, 3.5, 10)),
    "two-edges": ((0, 250), (0, 30)),
    "fine": ((0, 20, 40, 60, 80, 100, 120, 140, 160, 180, 200), (0, 0.5, 1, 2, 4, 7, 7.25, 30)),
}


def make_events(n=250, seed=0, extent=1500.0, step=20.0, span_days=60, windows=False) -> Events:
    """Events on a 20 m lattice (many exact distances 0, 100, 200 ... and 3-4-5 triangles)
    plus some off-lattice ones, at whole hours (many time differences exactly 7 days ...)."""
    rng = np.random.default_rng(seed)
    n_grid = n * 4 // 5
    x = np.r_[rng.integers(0, extent / step, n_grid) * step, rng.uniform(0, extent, n - n_grid)]
    y = np.r_[rng.integers(0, extent / step, n_grid) * step, rng.uniform(0, extent, n - n_grid)]
    t = T0 + rng.integers(0, span_days * 24, n) * 3600
    t_end = t + rng.integers(0, 48, n) * 3600 if windows else None
    return Events(t, x + 100_000.0, y + 400_000.0, crs=CRS, tz=TZ, t_end=t_end)


def city_events(city) -> Events:
    return Events(
        city.t_utc, city.events.x.to_numpy(), city.events.y.to_numpy(), crs=city.crs, tz=city.tz
    )


@pytest.fixture(scope="module")
def events():
    return make_events()


@pytest.fixture(scope="module")
def clustered():
    """A city with near repeats: branching ratio 0.4, 100 m, 7 days."""
    city = simulate_city(
        branching_ratio=0.4, spatial_range=100.0, temporal_range_days=7.0, random_state=3
    )
    return knox_test(city_events(city), n_permutations=99, random_state=11)


# ---------------------------------------------------------------------- observed counts
@pytest.mark.parametrize("same_location", [True, False])
@pytest.mark.parametrize("bands", list(BANDS))
def test_observed_counts_match_brute_force(events, bands, same_location):
    distance_bands, time_bands = BANDS[bands]
    expected = naive.knox_counts(
        events.t, events.x, events.y, distance_bands, time_bands, same_location
    )
    got = knox_counts(
        events.t,
        events.x,
        events.y,
        distance_bands=distance_bands,
        time_bands_days=time_bands,
        same_location=same_location,
    )
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, expected)
    result = knox_test(
        events,
        distance_bands=distance_bands,
        time_bands_days=time_bands,
        same_location=same_location,
        n_permutations=5,
        random_state=0,
    )
    np.testing.assert_array_equal(result.observed, expected)


def test_test_data_has_ties_on_every_kind_of_edge(events):
    """The lattice data really exercise the edge rules (otherwise the test above is weak)."""
    i, j = np.triu_indices(len(events), k=1)
    d = np.hypot(events.x[j] - events.x[i], events.y[j] - events.y[i])
    dt = np.abs(events.t[j] - events.t[i])
    for edge in (0.0, 100.0, 200.0, 500.0):
        assert (d == edge).sum() >= 5, edge
    for edge_days in (0, 7, 14, 28):
        assert (dt == edge_days * DAY).sum() >= 2, edge_days


def test_edge_rules_by_hand():
    t = T0 + np.array([0, 7, 0, 14, 3]) * DAY
    x = np.array([0.0, 0.0, 60.0, 300.0, 5000.0])
    y = np.array([0.0, 0.0, 80.0, 400.0, 0.0])
    # (0,1) same place, 7 days: same location, [0, 7]
    # (0,2) 100 m, 0 days and (1,2) 100 m, 7 days: [0, 100] m, [0, 7] days
    # (1,3) 500 m, 7 days: (100, 500] m, [0, 7] days
    # (0,3) 500 m, 14 days and (2,3) 400 m, 14 days: (100, 500] m, (7, 14] days
    # event 4 is farther than 500 m from all others
    got = knox_counts(t, x, y, distance_bands=(0, 100, 500), time_bands_days=(0, 7, 14))
    np.testing.assert_array_equal(got, [[1, 0], [2, 0], [1, 2]])
    got = knox_counts(
        t, x, y, distance_bands=(0, 100, 500), time_bands_days=(0, 7, 14), same_location=False
    )
    np.testing.assert_array_equal(got, [[3, 0], [1, 2]])
    # a first edge above 0 drops the pairs closer than it, and the same-location row stays
    got = knox_counts(t, x, y, distance_bands=(100, 500), time_bands_days=(7, 14))
    # (0,1) at 7 days; (1,2) at 100 m (the closed first band [100, 500]), (1,3), (0,3), (2,3)
    np.testing.assert_array_equal(got, [[1], [4]])


def test_each_pair_once_and_pair_table_matches_brute_force():
    rng = np.random.default_rng(5)
    n = 400
    # two far-apart clusters: the bucket grid spans 1e7 m, so buckets are wider than reach
    x = np.r_[rng.uniform(0, 800, n // 2), 1e7 + rng.uniform(0, 800, n // 2)]
    y = rng.uniform(0, 800, n)
    x[:20] = x[20:40]  # duplicated locations
    y[:20] = y[20:40]
    edges = np.array([0.0, 50.0, 120.0, 300.0])
    pairs = knox._close_pairs(x, y, edges, True, 10**9)
    i = np.repeat(np.arange(n), np.diff(pairs.ptr))
    found = {tuple(sorted(p)) for p in zip(pairs.order[i], pairs.order[pairs.nbr], strict=True)}
    assert len(found) == pairs.ptr[-1]  # no pair twice
    a, b = np.triu_indices(n, k=1)
    d = np.hypot(x[b] - x[a], y[b] - y[a])
    close = d <= 300.0
    assert found == set(zip(a[close].tolist(), b[close].tolist(), strict=True))
    rows = dict(zip(found_keys := sorted(found), [0] * len(found_keys), strict=True))
    for k, (p, q) in enumerate(zip(pairs.order[i], pairs.order[pairs.nbr], strict=True)):
        rows[tuple(sorted((p, q)))] = pairs.rows[k]
    d_of = dict(zip(zip(a.tolist(), b.tolist(), strict=True), d, strict=True))
    for key, row in rows.items():
        want = 0 if d_of[key] == 0 else naive.knox_bands(d_of[key], edges) + 1
        assert row == want


# ---------------------------------------------------------------------- permutation kernel
@pytest.mark.parametrize("same_location", [True, False])
@pytest.mark.parametrize("bands", ["default", "offset", "fine"])
def test_permutation_counts_match_twin(events, bands, same_location):
    distance_bands, time_bands = BANDS[bands]
    rng = np.random.default_rng(42)
    perms = np.stack([rng.permutation(len(events)) for _ in range(7)])
    expected = naive.knox_permutation_counts(
        events.t, events.x, events.y, perms, distance_bands, time_bands, same_location
    )
    pairs = knox._close_pairs(
        events.x, events.y, np.asarray(distance_bands, float), same_location, 10**9
    )
    n_rows = len(distance_bands) - 1 + same_location
    got = knox._permutation_counts(
        events.t, perms, pairs, np.asarray(time_bands, float) * DAY, n_rows
    )
    assert got.shape == expected.shape == (7, n_rows, len(time_bands) - 1)
    np.testing.assert_array_equal(got, expected)
    assert expected.sum() > 0


def test_permutations_drawn_in_order_from_default_rng(events):
    """expected and p-value follow the documented draw: default_rng(seed).permutation(n)."""
    n_perm = 19
    result = knox_test(events, n_permutations=n_perm, random_state=123)
    rng = np.random.default_rng(123)
    perms = np.stack([rng.permutation(len(events)) for _ in range(n_perm)])
    counts = naive.knox_permutation_counts(
        events.t, events.x, events.y, perms, *BANDS["default"], True
    )
    np.testing.assert_array_equal(result.observed, naive.knox_counts(
        events.t, events.x, events.y, *BANDS["default"], True
    ))  # fmt: skip
    np.testing.assert_allclose(result.expected, counts.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(result.std, counts.std(axis=0, ddof=1), rtol=1e-12)
    p = (1 + (counts >= result.observed).sum(axis=0)) / (n_perm + 1)
    np.testing.assert_array_equal(result.p_value, p)


# ---------------------------------------------------------------------- determinism
def _same(a: KnoxResult, b: KnoxResult) -> bool:
    names = ["observed", "expected", "std", "ratio", "p_value", "z"]
    return all(np.array_equal(getattr(a, k), getattr(b, k), equal_nan=True) for k in names)


def test_same_seed_same_result_different_seed_different_expected(events, monkeypatch):
    a = knox_test(events, n_permutations=40, random_state=7)
    b = knox_test(events, n_permutations=40, random_state=7)
    assert _same(a, b)
    c = knox_test(events, n_permutations=40, random_state=8)
    assert not np.array_equal(a.expected, c.expected)
    np.testing.assert_array_equal(a.observed, c.observed)
    # independent of the batch size and of the thread count
    monkeypatch.setattr(knox, "_PERMUTATION_BYTES", 8 * len(events) * 3)  # batches of 3
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        d = knox_test(events, n_permutations=40, random_state=7)
    finally:
        numba.set_num_threads(threads)
    assert _same(a, d)


# ---------------------------------------------------------------------- p-values, by hand
def test_two_events_cannot_be_rearranged():
    # one pair: permuting two times never changes |dt|, so every permutation ties
    e = Events([T0, T0 + DAY], [0.0, 30.0], [0.0, 40.0], crs=CRS, tz=TZ)
    r = knox_test(e, n_permutations=9, random_state=0, same_location=False)
    assert r.observed[0, 0] == 1 and r.observed.sum() == 1
    assert r.expected[0, 0] == 1.0 and r.ratio[0, 0] == 1.0 and r.std[0, 0] == 0.0
    assert r.p_value[0, 0] == 1.0  # (1 + 9) / (9 + 1)
    assert np.isnan(r.z[0, 0])
    assert np.isnan(r.ratio[1, 0]) and r.p_value[1, 0] == 1.0  # 0 / 0, all ties at 0
    assert r.n_pairs == 1 and r.n_events == 2


def test_three_events_p_value_by_hand():
    # A and B are 50 m apart, C far away; times 0, 1 and 100 days. The pair (A, B) is in the
    # (0-100 m, 0-7 days) cell iff A and B get the times {0, 1}: probability 1/3.
    e = Events(T0 + np.array([0, 1, 100]) * DAY, [0.0, 50.0, 9000.0], [0.0] * 3, crs=CRS, tz=TZ)
    n_perm = 999
    r = knox_test(e, n_permutations=n_perm, random_state=2, same_location=False)
    assert r.observed[0, 0] == 1
    k = round(r.expected[0, 0] * n_perm)  # permutations with the pair in the cell
    assert r.expected[0, 0] == pytest.approx(1 / 3, abs=4 * np.sqrt(2 / 9 / n_perm))
    assert r.p_value[0, 0] == (1 + k) / (n_perm + 1)
    assert r.ratio[0, 0] == pytest.approx(n_perm / k)
    assert r.std[0, 0] == pytest.approx(np.sqrt(k * (n_perm - k) / n_perm / (n_perm - 1)))
    assert r.n_pairs == 1


def test_single_permutation_has_nan_std():
    r = knox_test(make_events(60), n_permutations=1, random_state=0)
    assert np.isnan(r.std).all() and np.isnan(r.z).all()
    assert set(np.unique(r.p_value)) <= {0.5, 1.0}


# ---------------------------------------------------------------------- known truth
@pytest.mark.parametrize("seed", [1, 2])
def test_no_near_repeats_gives_ratios_near_one(seed):
    city = simulate_city(branching_ratio=0.0, random_state=seed)
    r = knox_test(city_events(city), n_permutations=99, random_state=seed)
    valid = r.expected > 0  # the same-location row is empty in continuous coordinates
    assert valid.sum() == 20
    assert np.all(np.abs(r.z[valid]) < 4)
    assert 0.97 < r.ratio[valid].mean() < 1.03
    # 20 cells at alpha = 0.05: 1 significant by chance on average; allow up to 4
    assert (r.p_value[valid] < 0.05).sum() <= 4
    assert 0.3 < r.p_value[valid].mean() < 0.7  # roughly uniform p-values
    s = suggest_bandwidths(r)
    if s.radius_m is None:
        assert s.space is None and s.time is None and "no significant" in s.message


def test_near_repeats_are_found(clustered):
    r = clustered
    table = r.to_table()
    assert table.loc["0-100 m", "0-7 days"] > 1.8
    assert r.to_table("p_value").loc["0-100 m", "0-7 days"] <= 0.01
    # the excess decays with distance and time lag
    assert table.loc["0-100 m", "0-7 days"] > table.loc["200-300 m", "0-7 days"]
    assert table.loc["0-100 m", "0-7 days"] > table.loc["0-100 m", "21-28 days"]


def test_suggest_bandwidths_on_clustered_city(clustered):
    s = suggest_bandwidths(clustered)
    assert isinstance(s, BandwidthSuggestion)
    assert s.radius_m >= 100.0 and s.window_days >= 7.0
    assert s["radius_m"] == s.radius_m
    assert s.space == ExponentialSpace(scale=s.radius_m / 2, radius=s.radius_m)
    assert s.time == ExponentialTime(scale_days=s.window_days / 2, window_days=s.window_days)
    assert s.region[1, 0] and "significant excess" in s.message
    strict = suggest_bandwidths(clustered, min_ratio=1.2)
    assert 100.0 <= strict.radius_m <= s.radius_m and 7.0 <= strict.window_days <= s.window_days


def _fake_result(ratio, p_value, same_location=True) -> KnoxResult:
    ratio = np.asarray(ratio, dtype=float)
    rows, cols = ratio.shape
    d = tuple(float(v) for v in range(0, 100 * (rows - same_location) + 1, 100))
    z = np.zeros_like(ratio)
    return KnoxResult(
        d, tuple(float(v) for v in range(0, 7 * cols + 1, 7)), same_location,
        np.ones(ratio.shape, np.int64), np.ones_like(ratio), z, ratio, np.asarray(p_value), z,
        99, 100, 1000, 0,
    )  # fmt: skip


def test_suggest_bandwidths_rule_by_hand():
    hi, lo = 0.01, 0.5
    ratio = np.full((5, 4), 1.5)
    p = np.array(
        [
            [lo, lo, lo, lo],  # same location: not significant
            [hi, hi, lo, lo],  # 0-100 m
            [hi, lo, lo, hi],  # 100-200 m (21-28 days not connected)
            [lo, lo, lo, lo],
            [hi, hi, hi, hi],  # 300-400 m: not connected
        ]
    )
    s = suggest_bandwidths(_fake_result(ratio, p))
    assert (s.radius_m, s.window_days) == (200.0, 14.0)
    assert s.region.sum() == 3
    # a ratio below 1 is no excess, even when "significant"
    ratio[2, 0] = 0.9
    assert suggest_bandwidths(_fake_result(ratio, p)).radius_m == 100.0
    # only the same-location row: radius 0, no spatial kernel
    p2 = np.full((5, 4), lo)
    p2[0, :2] = hi
    s = suggest_bandwidths(_fake_result(np.full((5, 4), 2.0), p2))
    assert s.radius_m == 0.0 and s.space is None and s.window_days == 14.0
    assert "same location" in s.message
    # reaching the last bands is reported
    s = suggest_bandwidths(_fake_result(np.full((5, 4), 2.0), np.full((5, 4), hi)))
    assert (s.radius_m, s.window_days) == (400.0, 28.0)
    assert "wider distance_bands" in s.message and "wider time_bands_days" in s.message
    # nothing significant: None fields and a message, no exception
    s = suggest_bandwidths(_fake_result(np.full((5, 4), 2.0), np.full((5, 4), lo)))
    assert s.radius_m is None and s.window_days is None and s.time is None
    assert "no significant" in s.message
    # without same location the seed is the first distance band only
    p3 = np.full((4, 4), lo)
    p3[0, 0] = hi
    s = suggest_bandwidths(_fake_result(np.full((4, 4), 2.0), p3, same_location=False))
    assert (s.radius_m, s.window_days) == (100.0, 7.0)


# ---------------------------------------------------------------------- outputs
def test_to_frame_and_to_table(events):
    r = knox_test(events, n_permutations=19, random_state=0)
    frame = r.to_frame()
    assert list(frame.columns) == [
        "distance_band", "time_band", "observed", "expected", "knox_ratio", "p_value",
        "significant",
    ]  # fmt: skip
    assert len(frame) == 6 * 4
    assert list(frame.distance_band.cat.categories) == [
        "same location", "0-100 m", "100-200 m", "200-300 m", "300-400 m", "400-500 m",
    ]  # fmt: skip
    assert list(frame.time_band.cat.categories) == [
        "0-7 days", "7-14 days", "14-21 days", "21-28 days",
    ]  # fmt: skip
    row = frame.iloc[4 + 1]  # second row, second column
    assert (row.distance_band, row.time_band) == ("0-100 m", "7-14 days")
    assert row.observed == r.observed[1, 1] and row.p_value == r.p_value[1, 1]
    np.testing.assert_array_equal(frame.significant, r.p_value.ravel() < 0.05)
    table = r.to_table()
    assert table.shape == (6, 4)
    assert list(table.index) == r.distance_labels and list(table.columns) == r.time_labels
    np.testing.assert_array_equal(table.to_numpy(), r.ratio)
    np.testing.assert_array_equal(r.to_table("observed").to_numpy(), r.observed)
    np.testing.assert_array_equal(r.to_table("significant", alpha=0.2).to_numpy(), r.p_value < 0.2)
    wide = frame.pivot(index="distance_band", columns="time_band", values="knox_ratio")
    np.testing.assert_array_equal(wide.to_numpy(), table.to_numpy())
    with pytest.raises(ValueError, match="value='ratio' is not one of"):
        r.to_table("ratio")
    plain = knox_test(
        events, distance_bands=(0, 0.5, 1000), time_bands_days=(0, 1.5), same_location=False,
        n_permutations=3, random_state=0,
    )  # fmt: skip
    assert plain.distance_labels == ["0-0.5 m", "0.5-1000 m"]
    assert plain.time_labels == ["0-1.5 days"]
    assert "KnoxResult(2 distance rows x 1 time bands" in repr(plain)


def test_result_is_read_only(events):
    r = knox_test(events, n_permutations=3, random_state=0)
    with pytest.raises(ValueError, match="read-only"):
        r.observed[0, 0] = 5
    with pytest.raises(AttributeError):
        r.n_permutations = 5


def test_plot(clustered):
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    ax = clustered.plot()
    assert isinstance(ax, Axes)
    assert ax.images[0].get_array().shape == clustered.observed.shape
    assert [t.get_text() for t in ax.get_yticklabels()] == clustered.distance_labels
    n_marked = sum(t.get_text().endswith("*") for t in ax.texts)
    assert n_marked == (clustered.p_value < 0.05).sum()
    own = Figure().add_subplot()
    assert clustered.plot(ax=own, alpha=0.01) is own


def test_events_with_windows_use_the_start(events):
    e = make_events(windows=True)
    assert e.has_windows
    r = knox_test(e, n_permutations=3, random_state=0)
    np.testing.assert_array_equal(
        r.observed, naive.knox_counts(e.t, e.x, e.y, *BANDS["default"], True)
    )


# ---------------------------------------------------------------------- progress
def test_progress_without_tqdm_says_how_to_install(events, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    with pytest.raises(ImportError, match="pip install tqdm"):
        knox_test(events, n_permutations=3, progress=True)


def test_progress_bar_counts_every_permutation(events, monkeypatch):
    bars = []

    class FakeBar:
        def __init__(self, total, **kwargs):
            self.total, self.n, self.closed = total, 0, False
            bars.append(self)

        def update(self, k):
            self.n += k

        def close(self):
            self.closed = True

    fake = types.ModuleType("tqdm.auto")
    fake.tqdm = FakeBar
    monkeypatch.setitem(sys.modules, "tqdm", types.ModuleType("tqdm"))
    monkeypatch.setitem(sys.modules, "tqdm.auto", fake)
    monkeypatch.setattr(knox, "_PERMUTATION_BYTES", 8 * len(events) * 4)
    knox_test(events, n_permutations=10, random_state=0, progress=True)
    assert len(bars) == 1 and bars[0].total == bars[0].n == 10 and bars[0].closed


# ---------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"distance_bands": (0, 200, 100)}, ValueError, "distance_bands must be strictly asc"),
        ({"distance_bands": (0, 100, 100)}, ValueError, "strictly ascending"),
        ({"distance_bands": (-100, 0, 100)}, ValueError, "distance_bands must be non-negative"),
        ({"distance_bands": (100,)}, ValueError, "at least 2 band edges"),
        ({"distance_bands": 100}, ValueError, "at least 2 band edges"),
        ({"distance_bands": (0, np.nan)}, ValueError, "must be finite"),
        ({"distance_bands": ("a", "b")}, TypeError, "sequence of numbers"),
        ({"time_bands_days": (0, 14, 7)}, ValueError, "time_bands_days must be strictly asc"),
        ({"time_bands_days": (-7, 0, 7)}, ValueError, "time_bands_days must be non-negative"),
        ({"time_bands_days": (7,)}, ValueError, "time_bands_days must list at least 2"),
        ({"n_permutations": 0}, ValueError, "n_permutations must be a positive integer, got 0"),
        ({"n_permutations": 9.5}, TypeError, "n_permutations must be an integer"),
        ({"n_permutations": True}, TypeError, "n_permutations must be an integer"),
        ({"same_location": "yes"}, TypeError, "same_location must be True or False"),
        ({"progress": 1}, TypeError, "progress must be True or False"),
    ],
)
def test_validation_messages(events, kwargs, error, match):
    with pytest.raises(error, match=match):
        knox_test(events, **kwargs)


def test_too_few_events_and_wrong_input():
    one = Events([T0], [0.0], [0.0], crs=CRS, tz=TZ)
    with pytest.raises(ValueError, match="at least 2 events.*got 1"):
        knox_test(one)
    frame = pd.DataFrame({"t": [T0, T0], "x": [0.0, 1.0], "y": [0.0, 1.0]})
    with pytest.raises(TypeError, match="events must be caslite Events.*knox_counts"):
        knox_test(frame)
    with pytest.raises(TypeError, match="t must hold int64 UTC seconds"):
        knox_counts(np.array([0.5, 1.5]), [0.0, 1.0], [0.0, 1.0])
    with pytest.raises(ValueError, match="one value per event"):
        knox_counts([0, 1, 2], [0.0, 1.0], [0.0, 1.0])
    with pytest.raises(ValueError, match="must be finite"):
        knox_counts([0, 1], [0.0, np.nan], [0.0, 1.0])
    with pytest.raises(TypeError, match="result must be a KnoxResult"):
        suggest_bandwidths({"ratio": 1})
    with pytest.raises(
        ValueError,
        match=r"alpha must be a significance level in \(0, 1\), got 5 \(e.g. alpha=0.05\)",
    ):
        suggest_bandwidths(_fake_result(np.ones((2, 2)), np.ones((2, 2))), alpha=5)
    with pytest.raises(ValueError, match="min_ratio must be a finite number"):
        suggest_bandwidths(_fake_result(np.ones((2, 2)), np.ones((2, 2))), min_ratio=-1)


def test_too_many_pairs_is_refused_with_advice(events):
    with pytest.raises(ValueError, match=r"form (at least )?[\d,]+ pairs within 500 m.*"
                       r"max_pairs=100.*smaller maximum distance.*about \d+ m"):  # fmt: skip
        knox_test(events, max_pairs=100)
    r = knox_test(events, max_pairs=10**6, n_permutations=2, random_state=0)
    assert r.n_pairs == (naive.knox_counts(
        events.t, events.x, events.y, BANDS["default"][0], (0, 1e9), True
    )).sum()  # fmt: skip


def _pairs_in_rows(x, y, edges) -> int:
    """Plain numpy: the pairs i < j with first edge <= distance <= last edge."""
    d = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    upper = np.triu(np.ones(d.shape, dtype=bool), k=1)
    return int(((d >= edges[0]) & (d <= edges[-1]) & upper).sum())


LAYOUTS = {
    "lattice": lambda rng: make_events(n=400, seed=1),
    "uniform": lambda rng: (rng.uniform(0, 2000, 600), rng.uniform(0, 2000, 600)),
    "one spot": lambda rng: (np.full(300, 5.0), np.full(300, 7.0)),
    "strip": lambda rng: (rng.uniform(0, 50_000, 500), rng.uniform(0, 3, 500)),
    "clusters": lambda rng: (
        np.repeat(rng.uniform(0, 5000, 20), 25) + rng.normal(0, 60, 500),
        np.repeat(rng.uniform(0, 5000, 20), 25) + rng.normal(0, 60, 500),
    ),
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("bands", ["default", "offset", "two-edges", "fine"])
def test_grid_pair_bound_never_exceeds_the_exact_count(layout, bands):
    made = LAYOUTS[layout](np.random.default_rng(5))
    x, y = (made.x, made.y) if isinstance(made, Events) else made
    edges = np.asarray(BANDS[bands][0], dtype=np.float64)
    exact = _pairs_in_rows(x, y, edges)
    bound, side = knox._pairs_at_least(x, y, edges, 10**12)
    assert 0 <= bound <= exact
    if layout in ("uniform", "one spot") and edges[0] == 0:
        assert bound >= 0.7 * exact  # tight enough to refuse early (cells of edge / 16)


def test_too_many_pairs_are_refused_at_once_from_the_grid_bound(monkeypatch):
    # 200,000 incidents in a 2 km square: about 4.4e8 pairs within 500 m. The exact count
    # would visit every candidate pair; the grid bound refuses without computing a distance.
    rng = np.random.default_rng(0)
    n = 200_000
    t = np.sort(T0 + rng.integers(0, 365 * DAY, n))
    many = Events(t, rng.uniform(0, 2000, n), rng.uniform(0, 2000, n), crs=CRS, tz=TZ)

    def never(*args, **kwargs):  # pragma: no cover - must not run
        raise AssertionError("the pairs were counted one by one")

    monkeypatch.setattr(knox._k, "_pair_sizes", never)
    with pytest.raises(ValueError) as error:
        knox_test(many)
    message = str(error.value)
    assert "200,000 events form at least" in message and "max_pairs=200,000,000" in message
    assert "smaller maximum distance" in message and "raise max_pairs" in message
    at_least = int(message.split("at least ")[1].split(" pairs")[0].replace(",", ""))
    # closed form for uniform points in a square of side L, radius r: the expected pairs
    # are n(n-1)/2 * (pi r^2 / L^2 - 8 r^3 / (3 L^3) + r^4 / (2 L^4))
    r, side = 500.0, 2000.0
    share = np.pi * r**2 / side**2 - 8 * r**3 / (3 * side**3) + r**4 / (2 * side**4)
    expected = n * (n - 1) / 2 * share
    assert 200_000_000 < at_least < expected * 1.01


def test_max_pairs_at_the_exact_count_is_accepted(events):
    edges = np.asarray(BANDS["default"][0], dtype=np.float64)
    exact = _pairs_in_rows(events.x, events.y, edges)
    result = knox_test(events, max_pairs=exact, n_permutations=2, random_state=0)
    assert result.n_pairs == exact
    with pytest.raises(
        ValueError, match=rf"form (at least )?[\d,]+ pairs .*max_pairs={exact - 1:,}"
    ):
        knox_test(events, max_pairs=exact - 1, n_permutations=2, random_state=0)


def test_plot_colour_scale_is_centred_on_one_and_stays_above_zero(clustered):
    ax = clustered.plot()
    norm = ax.images[0].norm
    finite = clustered.ratio[np.isfinite(clustered.ratio)]
    assert finite.max() > 2  # a span past 1: a scale symmetric around 1 would reach below 0
    assert norm.vmin == 0 and norm.vmax == pytest.approx(finite.max())
    assert norm(1.0) == pytest.approx(0.5)  # white at a ratio of 1
    colorbar = ax.figure.axes[-1]
    assert colorbar.get_ylim()[0] >= 0
