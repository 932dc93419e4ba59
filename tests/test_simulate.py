"""The synthetic-city simulator reproduces the parameters it was configured with.

Tolerances come from the sampling error of each statistic (about 4 standard errors), so a
correct simulator fails with probability well below 1e-3 per check; every seed is fixed.
"""

import math

import numpy as np
import pandas as pd
import pytest
import scipy.spatial
import scipy.stats

from caslite.datasets import SyntheticCity, simulate_city
from caslite.datasets._simulate import DEFAULT_HOURLY_PROFILE

DAY = 86_400
DST_2023 = pd.Timestamp("2023-03-26 01:00", tz="UTC").value // 10**9  # 02:00 CET -> 03:00
BIG = {
    "start": "2021-01-01",
    "end": "2024-01-01",
    "background_rate": 12.0,
    "branching_ratio": 0.3,
    "temporal_range_days": 7.0,
    "spatial_range": 100.0,
}


@pytest.fixture(scope="module")
def big() -> SyntheticCity:
    return simulate_city(**BIG, random_state=7)


@pytest.fixture(scope="module")
def poisson() -> SyntheticCity:
    # no triggering: a heterogeneous Poisson process with the same number of events
    return simulate_city(
        **{**BIG, "background_rate": 12.0 / 0.7, "branching_ratio": 0.0}, random_state=8
    )


def offspring_table(city):
    """Children joined to their parents (with the parent's position and time)."""
    ev = city.events
    kids = ev.index[ev["parent"] >= 0]
    par = ev["parent"].to_numpy()[kids]
    return pd.DataFrame(
        {
            "dt": (city.t_utc[kids] - city.t_utc[par]) / DAY,
            "dx": ev["x"].to_numpy()[kids] - ev["x"].to_numpy()[par],
            "dy": ev["y"].to_numpy()[kids] - ev["y"].to_numpy()[par],
            "parent": par,
        }
    )


def interior_parents(city, margin_m, margin_days):
    """Events far from the border and the end, whose offspring are not truncated."""
    ev = city.events
    xmin, ymin, xmax, ymax = city.bounds
    end = int(city.hour_edges[-1])
    return (
        (ev["x"] > xmin + margin_m)
        & (ev["x"] < xmax - margin_m)
        & (ev["y"] > ymin + margin_m)
        & (ev["y"] < ymax - margin_m)
        & (city.t_utc < end - margin_days * DAY)
    ).to_numpy()


# ---------------------------------------------------------------------------- structure
def test_events_frame_structure(big):
    ev = big.events
    assert list(ev.columns) == ["t", "x", "y", "parent", "generation"]
    assert isinstance(ev.index, pd.RangeIndex)
    assert str(ev["t"].dt.tz) == "Europe/Amsterdam"
    assert ev["t"].is_monotonic_increasing
    utc = ev["t"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[s]")
    assert np.array_equal(utc.astype(np.int64), big.t_utc)
    xmin, ymin, xmax, ymax = big.bounds
    assert ev["x"].between(xmin, xmax).all() and ev["y"].between(ymin, ymax).all()
    assert (big.t_utc >= big.hour_edges[0]).all() and (big.t_utc < big.hour_edges[-1]).all()
    bg = ev["generation"] == 0
    assert (ev.loc[bg, "parent"] == -1).all()
    par = ev.loc[~bg, "parent"].to_numpy()
    assert (par < ev.index[~bg]).all()  # parents come first
    assert np.array_equal(ev["generation"].to_numpy()[par] + 1, ev.loc[~bg, "generation"])
    assert (big.t_utc[~bg.to_numpy()] > big.t_utc[par]).all()
    # background density integrates to 1
    assert big.background_density.sum() * big.resolution**2 == pytest.approx(1.0, rel=1e-12)
    assert big.crs == "EPSG:28992" and big.tz == "Europe/Amsterdam"
    assert big.params["branching_ratio"] == 0.3
    assert "SyntheticCity(" in repr(big)


def test_dst_days_have_23_and_25_hours():
    city = simulate_city(start="2023-03-25", end="2023-10-31", background_rate=50, random_state=1)
    local = pd.to_datetime(city.hour_edges[:-1], unit="s", utc=True).tz_convert(city.tz)
    per_day = pd.Series(1, index=local.date).groupby(level=0).sum()
    assert per_day[pd.Timestamp("2023-03-26").date()] == 23
    assert per_day[pd.Timestamp("2023-10-29").date()] == 25
    assert (
        per_day.drop([pd.Timestamp("2023-03-26").date(), pd.Timestamp("2023-10-29").date()])
        .eq(24)
        .all()
    )
    # no event in the skipped hour 02:00-03:00 of 26 March
    t = city.events["t"]
    assert not ((t.dt.date == pd.Timestamp("2023-03-26").date()) & (t.dt.hour == 2)).any()


# ---------------------------------------------------------------------------- counts
def test_background_count_matches_its_exact_expectation(big):
    expected = big.background_integral()
    # 3 years x 12/day x mean seasonal factor ~ 1
    assert expected == pytest.approx(3 * 365 * 12, rel=0.01)
    n_bg = int((big.events["generation"] == 0).sum())
    assert abs(n_bg - expected) < 4 * math.sqrt(expected)


def test_total_count_near_cluster_expectation(big):
    theta = BIG["branching_ratio"]
    expected = big.background_integral() / (1 - theta)
    sd = math.sqrt(big.background_integral() / (1 - theta) ** 3)  # Poisson cluster variance
    n = len(big.events)
    # edge losses (offspring outside the square or after the end) only lower the total
    assert expected * 0.96 - 4 * sd < n < expected + 4 * sd


def test_offspring_share_and_mean_offspring(big):
    theta = BIG["branching_ratio"]
    ev = big.events
    share = float((ev["generation"] > 0).mean())
    assert share == pytest.approx(theta, abs=0.03)
    # mean number of offspring per event, for events whose offspring cannot be cut off
    inner = interior_parents(big, margin_m=600, margin_days=100)
    kids = np.bincount(ev["parent"][ev["parent"] >= 0], minlength=len(ev))[inner]
    assert abs(kids.mean() - theta) < 4 * math.sqrt(theta / inner.sum())


# ---------------------------------------------------------------------------- time
def test_seasonal_ratio(big):
    amp, peak = 0.3, 1.0
    ev = big.events[big.events["generation"] == 0]
    month = ev["t"].dt.month
    winter = int(month.isin([12, 1]).sum())
    summer = int(month.isin([6, 7]).sum())
    # configured ratio from the formula, on daily midpoints of a non-leap year
    doy = np.arange(1, 366) + 0.5
    factor = 1 + amp * np.cos(2 * np.pi * (doy - peak) / 365.25)
    months = pd.date_range("2022-01-01", periods=365, freq="D").month
    configured = factor[np.isin(months, [12, 1])].mean() / factor[np.isin(months, [6, 7])].mean()
    measured = (winter / 62) / (summer / 61)
    se_log = math.sqrt(1 / winter + 1 / summer)
    assert abs(math.log(measured / configured)) < 4 * se_log
    assert configured == pytest.approx(1.8, abs=0.05)


def test_hour_of_day_profile(big):
    ev = big.events[big.events["generation"] == 0]
    counts = np.bincount(ev["t"].dt.hour, minlength=24)
    profile = np.asarray(DEFAULT_HOURLY_PROFILE)
    expected = counts.sum() * profile / profile.sum()
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < scipy.stats.chi2.ppf(0.9999, df=23)
    # the peaks are where they were configured
    assert counts[19] > 3 * counts[3]


def test_custom_profile_is_respected():
    profile = np.zeros(24)
    profile[[9, 21]] = 1.0
    city = simulate_city(
        start="2023-01-01",
        end="2023-03-01",
        hourly_profile=profile,
        branching_ratio=0,
        random_state=3,
    )
    assert set(city.events["t"].dt.hour) == {9, 21}
    assert city.params["hourly_profile"][9] == 12.0  # rescaled to mean 1


# ---------------------------------------------------------------------------- triggering
def test_offspring_offsets_and_delays(big):
    kids = offspring_table(big)
    inner = interior_parents(big, margin_m=600, margin_days=280)  # 40 mean delays
    kids = kids[inner[kids["parent"]]]
    m = len(kids)
    assert m > 3000
    sd = math.sqrt((np.square(kids["dx"]).sum() + np.square(kids["dy"]).sum()) / (2 * m))
    assert abs(sd - BIG["spatial_range"]) < 4 * BIG["spatial_range"] / math.sqrt(4 * m)
    assert abs(kids["dx"].mean()) < 4 * 100 / math.sqrt(m)
    mean_delay = kids["dt"].mean()
    assert abs(mean_delay - BIG["temporal_range_days"]) < 4 * BIG[
        "temporal_range_days"
    ] / math.sqrt(m)
    # exponential: the median is ln 2 times the mean
    assert kids["dt"].median() == pytest.approx(math.log(2) * 7, rel=0.06)


def close_pairs(city, rng, n_perm=30, dist=100.0, days=7.0):
    """Close pairs in space and time, and their count under permutations of the times."""
    xy = city.events[["x", "y"]].to_numpy()
    pairs = scipy.spatial.cKDTree(xy).query_pairs(dist, output_type="ndarray")
    t = city.t_utc / DAY

    def count(times):
        return int((np.abs(times[pairs[:, 0]] - times[pairs[:, 1]]) <= days).sum())

    observed = count(t)
    perms = np.array([count(rng.permutation(t)) for _ in range(n_perm)])
    return observed, perms


def test_near_repeat_excess(big, poisson):
    rng = np.random.default_rng(0)
    obs, perms = close_pairs(big, rng)
    ratio = obs / perms.mean()
    assert ratio > 1.5
    assert (obs - perms.mean()) / perms.std(ddof=1) > 10
    obs0, perms0 = close_pairs(poisson, rng)
    ratio0 = obs0 / perms0.mean()
    assert abs(obs0 - perms0.mean()) < 4 * perms0.std(ddof=1) * math.sqrt(1 + 1 / len(perms0))
    assert ratio0 == pytest.approx(1.0, abs=0.05)


# ---------------------------------------------------------------------------- determinism
def test_same_seed_same_city_different_seed_different_city():
    kw = {"start": "2023-01-01", "end": "2023-04-01"}
    a, b = simulate_city(**kw, random_state=11), simulate_city(**kw, random_state=11)
    pd.testing.assert_frame_equal(a.events, b.events)
    np.testing.assert_array_equal(a.background_density, b.background_density)
    c = simulate_city(**kw, random_state=12)
    assert len(c.events) != len(a.events) or not np.array_equal(c.events["x"], a.events["x"])
    assert not np.array_equal(c.background_density, a.background_density)
    g1 = simulate_city(**kw, random_state=np.random.default_rng(11))
    pd.testing.assert_frame_equal(a.events, g1.events)


# ---------------------------------------------------------------------------- truth
def grid(city, cell):
    n = int(round(city.size / cell))
    xs = city.x0 + cell * np.arange(n)
    ys = city.y0 + cell * np.arange(n)
    gx, gy = np.meshgrid(xs, ys)
    return gx.ravel(), gy.ravel()


def test_expected_counts_match_realised_count():
    city = simulate_city(start="2022-01-01", end="2024-01-01", random_state=5)
    cx, cy = grid(city, 125.0)
    days = city.hour_edges[::24]
    counts = city.expected_counts(cx, cy, 125.0, days[:-1], days[1:])
    assert counts.shape == (len(days) - 1, 6400)
    n = len(city.events)
    assert abs(counts.sum() - n) < 4 * math.sqrt(n)
    # per 1 km square over the whole period: Pearson statistic ~ chi2(100)
    col, row = ((cx - city.x0) // 1000).astype(int), ((cy - city.y0) // 1000).astype(int)
    per_km = np.bincount(row * 10 + col, weights=counts.sum(axis=0), minlength=100)
    ex, ey = city.events["x"] - city.x0, city.events["y"] - city.y0
    seen = np.bincount((ey // 1000).astype(int) * 10 + (ex // 1000).astype(int), minlength=100)
    pearson = float(((seen - per_km) ** 2 / per_km).sum())
    assert pearson < scipy.stats.chi2.ppf(0.9999, df=100)


def test_expected_counts_background_part_is_exact():
    city = simulate_city(start="2023-01-01", end="2023-03-01", branching_ratio=0.0, random_state=2)
    cx, cy = grid(city, 125.0)
    blocks = city.hour_edges[::4]
    counts = city.expected_counts(cx, cy, 125.0, blocks[:-1], blocks[1:])
    assert counts.sum() == pytest.approx(city.background_integral(), rel=1e-10)
    # separable: every row is the spatial mass times the block's share of time
    np.testing.assert_allclose(counts.sum(axis=1).sum(), city.background_integral(), rtol=1e-10)
    np.testing.assert_allclose(
        counts.sum(axis=0) / counts.sum(), counts[0] / counts[0].sum(), rtol=1e-9
    )
    # cells that do not line up with the 25 m raster integrate it exactly too
    cx2, cy2 = grid(city, 10_000 / 7)
    whole = city.expected_counts(cx2, cy2, 10_000 / 7, blocks[:1], blocks[-1:])
    assert whole.sum() == pytest.approx(city.background_integral(), rel=1e-10)


def gauss_legendre(a, b, n):
    nodes, weights = np.polynomial.legendre.leggauss(n)
    mid, half = (a + b) / 2, (b - a) / 2
    return mid + half * nodes, half * weights


def brute_force_count(city, x0, y0, size, s, e):
    """Integral of intensity over a square and a time interval by fine quadrature.

    Space: 6x6 Gauss-Legendre nodes on every 25 m raster square (mu is constant on each and
    the Gaussian kernels are smooth). Time: 3 Gauss-Legendre nodes between consecutive
    breakpoints (event times and hour edges), where the intensity is a smooth sum of
    exponentials.
    """
    sub = city.resolution
    xs = [gauss_legendre(a, a + sub, 6) for a in np.arange(x0, x0 + size, sub)]
    ys = [gauss_legendre(a, a + sub, 6) for a in np.arange(y0, y0 + size, sub)]
    px, wx = np.concatenate([n for n, _ in xs]), np.concatenate([w for _, w in xs])
    py, wy = np.concatenate([n for n, _ in ys]), np.concatenate([w for _, w in ys])
    gx, gy = np.meshgrid(px, py)
    w_space = np.outer(wy, wx).ravel()
    breaks = np.concatenate([[s, e], city.t_utc, city.hour_edges]).astype(float)
    breaks = np.unique(breaks[(breaks >= s) & (breaks <= e)])
    nodes = [gauss_legendre(a, b, 3) for a, b in zip(breaks[:-1], breaks[1:], strict=True)]
    tn = np.concatenate([n for n, _ in nodes])
    tw = np.concatenate([w for _, w in nodes])
    lam = city.intensity(tn[:, None], gx.ravel()[None, :], gy.ravel()[None, :])
    return float(tw @ lam @ w_space)


def test_expected_counts_against_brute_force_integration_of_intensity():
    city = simulate_city(
        start="2023-03-24",
        end="2023-03-28",
        size=1000.0,
        background_rate=60.0,
        branching_ratio=0.6,
        temporal_range_days=0.5,
        spatial_range=60.0,
        random_state=4,
    )
    assert len(city.events) > 100
    ev = city.events
    # a busy cell, a cell sticking out of the city, and a quiet corner
    busy = ev.loc[ev["generation"] > 0].iloc[len(ev) // 4]
    cells_x = np.array([np.floor(busy.x / 25) * 25 - 50, city.x0 + 950.0, city.x0])
    cells_y = np.array([np.floor(busy.y / 25) * 25 - 50, city.y0 + 400.0, city.y0 + 900.0])
    t_busy = int(city.t_utc[ev.index.get_loc(busy.name)])
    # a block around the busy event, a block across the DST change, a block before the start
    starts = np.array([t_busy - 3 * 3600, DST_2023 - 7200, int(city.hour_edges[0]) - 3600])
    ends = starts + 4 * 3600
    exact = city.expected_counts(cells_x, cells_y, 100.0, starts, ends)
    for b in range(3):
        for c in range(3):
            numeric = brute_force_count(
                city, cells_x[c], cells_y[c], 100.0, max(starts[b], city.hour_edges[0]), ends[b]
            )
            # the cell sticking out: the part outside the city has intensity 0 by definition
            assert exact[b, c] == pytest.approx(numeric, rel=1e-6, abs=1e-12), (b, c)
    assert exact[0, 0] > 0.05  # the busy cell really is busy (triggering dominates)


def test_intensity_basics(big):
    t = big.t_utc[1000]
    x, y = big.events.loc[1000, ["x", "y"]]
    # an event raises the intensity right after it, at its own location
    before = big.intensity(t, x, y)
    after = big.intensity(t + 1, x, y)
    theta, sd, omega = 0.3, 100.0, 1 / (7 * DAY)
    assert after - before == pytest.approx(theta * omega / (2 * np.pi * sd * sd), rel=1e-3)
    # zero outside the city and outside the period
    xmin, ymin, xmax, ymax = big.bounds
    assert big.intensity(t, xmin - 1, y) == 0.0
    assert big.intensity(int(big.hour_edges[-1]) + 10, x, y) == 0.0
    # datetimes work as well as UTC seconds, and arrays broadcast
    stamp = pd.Timestamp(t, unit="s", tz="UTC").tz_convert("Europe/Amsterdam")
    assert big.intensity(pd.DatetimeIndex([stamp]), [x], [y])[0] == before
    assert big.intensity(t, np.full((2, 3), x), y).shape == (2, 3)
    with pytest.raises(ValueError, match="naive"):
        big.intensity(np.array(["2022-01-01T10:00"], dtype="datetime64[s]"), x, y)


# ---------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"branching_ratio": 1.0}, "explosive"),
        ({"branching_ratio": 1.5}, "explosive"),
        ({"branching_ratio": -0.1}, r"branching_ratio must be in \[0, 1\)"),
        ({"spatial_range": -5.0}, "spatial_range must be a positive number"),
        ({"temporal_range_days": 0.0}, "temporal_range_days must be a positive number"),
        ({"background_rate": -1.0}, "background_rate must be a non-negative number"),
        ({"start": "2023-02-01", "end": "2023-01-01"}, "end .* must be after start"),
        ({"start": "2023-02-01", "end": "2023-02-01"}, "end .* must be after start"),
        ({"hourly_profile": [1.0] * 23}, "24 values.*got 23"),
        ({"hourly_profile": [-1.0] + [1.0] * 23}, "non-negative"),
        ({"seasonal_amplitude": 1.5}, "seasonal_amplitude"),
        ({"resolution": 30.0}, "must divide size"),
        ({"tz": "Mars/Olympus"}, "IANA time zone"),
        ({"crs": "EPSG:4326"}, "geographic"),
    ],
)
def test_parameter_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        simulate_city(**kwargs, random_state=0)


def test_expected_counts_validation(big):
    with pytest.raises(ValueError, match="same length"):
        big.expected_counts([0.0, 1.0], [0.0], 125.0, [0], [1])
    with pytest.raises(ValueError, match="cell_size must be positive"):
        big.expected_counts([0.0], [0.0], 0.0, [0], [1])
    with pytest.raises(ValueError, match="end at or after its start"):
        big.expected_counts([0.0], [0.0], 125.0, [10], [5])


# ---------------------------------------------------------------------- recording artefacts
def test_recording_artefacts_keep_the_truth_and_change_only_the_recorded_times():
    plain = simulate_city(start="2023-01-01", end="2023-04-01", size=3000.0, random_state=5)
    city = simulate_city(
        start="2023-01-01",
        end="2023-04-01",
        size=3000.0,
        heaped_share=0.3,
        heap_times=("00:00", "12:00", "hour"),
        date_only_share=0.2,
        random_state=5,
    )
    events = city.events
    assert list(plain.events.columns) == ["t", "x", "y", "parent", "generation"]
    assert "heaped_share" not in plain.params
    # the simulated burglaries are those of the city without artefacts
    pd.testing.assert_frame_equal(
        events[plain.events.columns.drop("t")], plain.events.drop(columns="t")
    )
    pd.testing.assert_series_equal(events["t_true"], plain.events["t"], check_names=False)
    share = events["recording"].value_counts(normalize=True)
    n = len(events)  # ~ 2,000: 4 standard errors of a share near 0.3 is 0.04
    assert abs(share["heaped"] - 0.3) < 4 * np.sqrt(0.3 * 0.7 / n)
    assert abs(share["date_only"] - 0.2) < 4 * np.sqrt(0.2 * 0.8 / n)
    exact = events["recording"] == "exact"
    assert (events.loc[exact, "t"] == events.loc[exact, "t_true"]).all()
    date_only = events[events["recording"] == "date_only"]
    assert (date_only["t"] == date_only["t_true"].dt.normalize()).all()
    heaped = events[events["recording"] == "heaped"]
    assert (heaped["t"].dt.date == heaped["t_true"].dt.date).all()
    on_default = heaped["t"].dt.strftime("%H:%M").isin(["00:00", "12:00"])
    own_hour = heaped["t"] == heaped["t_true"].dt.floor("h")
    assert (on_default | own_hour).all()
    assert (heaped["t"].dt.minute == 0).all() and (heaped["t"].dt.second == 0).all()
    assert on_default.any() and (own_hour & ~on_default).any()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"heaped_share": 1.5}, "heaped_share must be a share in"),
        ({"date_only_share": -0.1}, "date_only_share must be a share in"),
        ({"heaped_share": 0.6, "date_only_share": 0.6}, "at most 1"),
        ({"heaped_share": 0.1, "heap_times": ("25:00",)}, "'HH:MM' or 'hour'"),
        ({"heaped_share": 0.1, "heap_times": ()}, "heap_times is empty"),
    ],
)
def test_recording_options_are_validated(options, message):
    with pytest.raises(ValueError, match=message):
        simulate_city(start="2023-01-01", end="2023-01-10", random_state=0, **options)
