"""The honest forecast of the synthetic city: E[N(block, cell) | events before the origin].

Checked against routes that share no code with it: a closed form of the temporal Hawkes
process, a plain-numpy Monte Carlo continuation of the simulated process from the origin, the
unconditional mean from the start of the simulation, and the realised counts of many seeded
thinned cities. Tolerances are about 4 standard errors; every seed is fixed.
"""

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from caslite.datasets import simulate_city

DAY = 86_400
CELL = 250.0


def cells(city, cell=CELL):
    n = int(round(city.size / cell))
    gx, gy = np.meshgrid(city.x0 + cell * np.arange(n), city.y0 + cell * np.arange(n))
    return gx.ravel(), gy.ravel()


def test_homogeneous_city_matches_the_closed_form_of_the_temporal_process():
    # a constant background rate r, a kernel far narrower than the raster (no mass leaves the
    # city), one cell covering it: the expected intensity from t0 is m(u) = r + r theta omega
    # (1 - exp(-beta u)) / beta + omega P exp(-beta u), beta = omega (1 - theta), with P =
    # sum_i theta exp(-omega (t0 - t_i)); the count over [t0, t0 + tau) is its integral
    theta = 0.8  # many generations inside the horizon: the series needs ~25 terms
    city = simulate_city(
        start="2023-01-01",
        end="2023-04-01",
        size=2000.0,
        hourly_profile=[1.0] * 24,
        seasonal_amplitude=0.0,
        branching_ratio=theta,
        temporal_range_days=3.0,
        spatial_range=0.01,
        background_rate=5.0,
        random_state=3,
    )
    t0 = int(city.hour_edges[24 * 40])
    tau = np.array([1.0, 5.0, 20.0, 45.0]) * DAY
    got = city.forecast_counts(
        [city.x0], [city.y0], city.size, np.full(4, t0), t0 + tau.astype(np.int64), origin=t0
    )[:, 0]
    omega, r = city.omega, city.hour_rate[0]
    past = city.t_utc[city.t_utc < t0].astype(float)
    p = float(np.sum(theta * np.exp(-omega * (t0 - past))))
    beta = omega * (1 - theta)
    grow = 1 - np.exp(-beta * tau)
    closed = r * tau + r * theta * omega / beta * (tau - grow / beta) + p * grow / (1 - theta)
    np.testing.assert_allclose(got, closed, rtol=2e-5)
    # the known events' own kernels alone fall well short: the descendants matter here
    assert got[-1] > 1.5 * (r * tau[-1] + p * (1 - math.exp(-omega * tau[-1])))


def continuation(city, t0, block_edges, cell, runs, rng):
    """Monte Carlo: the process simulated on from ``t0`` given the events before it.

    Counts per (run, block, cell). Background events from the hourly rate and the raster;
    each event before ``t0`` has Poisson(theta exp(-omega (t0 - t_i))) children after ``t0``
    (exponential delays are memoryless), and every new event has Poisson(theta) children;
    offspring outside the city or after the last block are dropped.
    """
    theta, sd, omega = city.params["branching_ratio"], city.params["spatial_range"], city.omega
    end, x0, y0, size = block_edges[-1], city.x0, city.y0, city.size
    edges = city.hour_edges.astype(float)
    k0 = np.searchsorted(edges, t0, side="right") - 1
    k1 = np.searchsorted(edges, end, side="left")
    lo, hi = np.clip(edges[k0:k1], t0, end), np.clip(edges[k0 + 1 : k1 + 1], t0, end)
    per_bin = rng.poisson(city.hour_rate[k0:k1] * (hi - lo), size=(runs, k1 - k0)).ravel()
    run = np.repeat(np.repeat(np.arange(runs), k1 - k0), per_bin)
    b = np.repeat(np.tile(np.arange(k1 - k0), runs), per_bin)
    t = lo[b] + rng.random(b.size) * (hi - lo)[b]
    mass = city.background_density.ravel() / city.background_density.sum()
    row, col = np.divmod(
        rng.choice(mass.size, size=b.size, p=mass), city.background_density.shape[1]
    )
    x = x0 + (col + rng.random(b.size)) * city.resolution
    y = y0 + (row + rng.random(b.size)) * city.resolution
    past = city.t_utc < t0
    tp = city.t_utc[past].astype(float)
    xp, yp = city.events["x"].to_numpy()[past], city.events["y"].to_numpy()[past]
    n_kids = rng.poisson(theta * np.exp(-omega * (t0 - tp)), size=(runs, tp.size)).ravel()
    who = np.repeat(np.tile(np.arange(tp.size), runs), n_kids)
    kid_run = np.repeat(np.repeat(np.arange(runs), tp.size), n_kids)
    kid = (
        kid_run,
        t0 + rng.exponential(1 / omega, who.size),
        xp[who] + rng.normal(0, sd, who.size),
        yp[who] + rng.normal(0, sd, who.size),
    )

    def inside(ev):
        _, t_, x_, y_ = ev
        ok = (t_ < end) & (x_ >= x0) & (x_ < x0 + size) & (y_ >= y0) & (y_ < y0 + size)
        return tuple(v[ok] for v in ev)

    generation = tuple(np.concatenate(v) for v in zip((run, t, x, y), inside(kid), strict=True))
    every = [generation]
    while generation[0].size:
        r_, t_, x_, y_ = generation
        w = np.repeat(np.arange(t_.size), rng.poisson(theta, t_.size))
        generation = inside(
            (
                r_[w],
                t_[w] + rng.exponential(1 / omega, w.size),
                x_[w] + rng.normal(0, sd, w.size),
                y_[w] + rng.normal(0, sd, w.size),
            )
        )
        every.append(generation)
    r_, t_, x_, y_ = (np.concatenate(v) for v in zip(*every, strict=True))
    n_blocks, n_side = len(block_edges) - 1, int(round(size / cell))
    block = np.searchsorted(block_edges, t_, side="right") - 1
    where = ((y_ - y0) // cell).astype(int) * n_side + ((x_ - x0) // cell).astype(int)
    flat = (r_ * n_blocks + block) * n_side**2 + where
    counts = np.bincount(flat, minlength=runs * n_blocks * n_side**2)
    return counts.reshape(runs, n_blocks, n_side**2)


@pytest.fixture(scope="module")
def small():
    # strong, fast, local triggering: the in-horizon descendants are 40 % of the forecast
    return simulate_city(
        start="2023-03-01",
        end="2023-03-21",
        size=1000.0,
        background_rate=30.0,
        branching_ratio=0.6,
        temporal_range_days=1.0,
        spatial_range=80.0,
        random_state=11,
    )


def test_forecast_matches_monte_carlo_continuation(small):
    city = small
    t0 = float(city.hour_edges[24 * 12])
    edges = t0 + np.arange(9) * 12 * 3600.0  # 8 blocks of 12 hours
    cx, cy = cells(city)
    honest = city.forecast_counts(cx, cy, CELL, edges[:-1], edges[1:], origin=t0)
    runs = 4000
    counts = continuation(city, t0, edges, CELL, runs, np.random.default_rng(0))
    mean = counts.mean(axis=0)
    se = counts.std(axis=0, ddof=1) / math.sqrt(runs)
    assert np.abs(mean - honest).max() < 4.5 * se.max()  # 128 (block, cell) pairs
    assert np.all(np.abs(mean - honest) < 4.5 * se + 1e-9)
    total_se = counts.sum(axis=(1, 2)).std(ddof=1) / math.sqrt(runs)
    assert abs(mean.sum() - honest.sum()) < 4 * total_se
    # the forecast without the in-horizon descendants (the known events' kernels and the
    # background only) is far off: the Monte Carlo sees the descendants
    before = city.t_utc < t0
    known_only = dataclasses.replace(
        city, events=city.events[before], t_utc=city.t_utc[before]
    ).expected_counts(cx, cy, CELL, edges[:-1], edges[1:])
    assert known_only.sum() < mean.sum() - 20 * total_se


def test_forecast_uses_only_the_events_before_the_origin(small):
    city = small
    t0 = int(city.hour_edges[24 * 12])
    edges = t0 + np.arange(5) * 6 * 3600
    cx, cy = cells(city)
    base = city.forecast_counts(cx, cy, CELL, edges[:-1], edges[1:], origin=t0)
    after = city.t_utc >= t0
    moved = city.events.copy()
    moved.loc[after, "x"] = city.x0 + 1.0  # every later event moved to the city's edge
    changed = dataclasses.replace(city, events=moved)
    np.testing.assert_array_equal(
        changed.forecast_counts(cx, cy, CELL, edges[:-1], edges[1:], origin=t0), base
    )
    # the same origin as a tz-aware time, and observed=None as every event observed
    stamp = pd.Timestamp(t0, unit="s", tz="UTC").tz_convert(city.tz)
    same = city.forecast_counts(
        cx, cy, CELL, edges[:-1], edges[1:], origin=stamp, observed=np.ones(len(city), bool)
    )
    np.testing.assert_allclose(same, base, rtol=1e-12)
    # an earlier origin forgets the events in between: a different forecast
    earlier = city.forecast_counts(cx, cy, CELL, edges[:-1], edges[1:], origin=t0 - DAY)
    assert not np.allclose(earlier, base)
    # thinned: where the unobserved past events lie does not matter, only that they may exist
    rng = np.random.default_rng(1)
    kept = rng.random(len(city)) < 0.3
    thin = city.forecast_counts(
        cx, cy, CELL, edges[:-1], edges[1:], origin=t0, observed=kept, keep_share=0.3
    )
    hidden = city.events.copy()
    hidden.loc[~kept, "y"] = city.y0 + 1.0
    np.testing.assert_array_equal(
        dataclasses.replace(city, events=hidden).forecast_counts(
            cx, cy, CELL, edges[:-1], edges[1:], origin=t0, observed=kept, keep_share=0.3
        ),
        thin,
    )


def test_nothing_observed_gives_the_unconditional_mean(small):
    # with every event unobserved and p -> 0, the mean-field state of the unobserved events is
    # the expected state of the whole process: the forecast from the start of the simulation
    # (no history), summed by the Neumann series over the whole period instead
    city = small
    t0 = float(city.hour_edges[24 * 12])
    edges = t0 + np.arange(9) * 12 * 3600.0
    cx, cy = cells(city)
    p = 1e-9
    mean_field = city.forecast_counts(
        cx, cy, CELL, edges[:-1], edges[1:], origin=t0,
        observed=np.zeros(len(city), bool), keep_share=p,
    ) / p  # fmt: skip
    unconditional = city.forecast_counts(
        cx, cy, CELL, edges[:-1], edges[1:], origin=city.hour_edges[0]
    )
    np.testing.assert_allclose(mean_field, unconditional, rtol=1e-6)


def test_thinned_forecast_is_calibrated_over_cities():
    # the mean-field forecast of the kept events is unbiased over realisations: its total over
    # the horizon matches the kept events' count, averaged over 60 seeded cities
    predicted, seen = [], []
    for seed in range(60):
        city = simulate_city(
            start="2023-03-01",
            end="2023-03-25",
            size=1000.0,
            resolution=50.0,
            background_rate=20.0,
            branching_ratio=0.6,
            temporal_range_days=2.0,
            spatial_range=80.0,
            random_state=seed,
        )
        kept = np.random.default_rng(1000 + seed).random(len(city)) < 0.3
        t0 = float(city.hour_edges[24 * 18])
        edges = t0 + np.arange(7) * DAY
        cx, cy = cells(city)
        forecast = city.forecast_counts(
            cx, cy, CELL, edges[:-1], edges[1:], origin=t0, observed=kept, keep_share=0.3
        )
        predicted.append(forecast.sum())
        seen.append(np.count_nonzero(kept & (city.t_utc >= t0) & (city.t_utc < edges[-1])))
    diff = np.asarray(seen) - np.asarray(predicted)
    assert abs(diff.mean()) < 4 * diff.std(ddof=1) / math.sqrt(diff.size)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"origin_shift": 1}, "every block must start at or after the origin"),
        ({"keep_share": 0.0}, r"keep_share must be a probability in \(0, 1\], got 0.0"),
        ({"keep_share": 1.5}, r"keep_share must be a probability in \(0, 1\], got 1.5"),
        ({"observed": np.ones(3, bool)}, "one value per event"),
        ({"drop_one": True}, "leaves out 1 events before the origin but keep_share=1"),
    ],
)
def test_forecast_counts_validation(small, kwargs, match):
    city = small
    t0 = int(city.hour_edges[24 * 12])
    args = {"origin": t0 + kwargs.pop("origin_shift", 0)}
    if kwargs.pop("drop_one", False):
        observed = np.ones(len(city), bool)
        observed[0] = False
        args["observed"] = observed
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        city.forecast_counts([city.x0], [city.y0], CELL, [t0], [t0 + 3600], **args)
