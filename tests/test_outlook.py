"""The dark-months outlook: against a simulated city's true weekly rates, no leakage, scores."""

import warnings

import geopandas
import numpy as np
import pandas as pd
import pytest
import shapely

from caslite.datasets import load_sample, simulate_city
from caslite.events import Events
from caslite.outlook import dark_months_outlook, outlook_backtest, outlook_scores

DAY = 86_400


@pytest.fixture(scope="module")
def city():
    # no near repeats: the true rate is the seasonal background, known exactly
    return simulate_city(start="2019-01-01", end="2023-01-01", branching_ratio=0.0,
                         seasonal_amplitude=0.5, background_rate=8.0, random_state=7)  # fmt: skip


@pytest.fixture(scope="module")
def quarters(city):
    x0, y0, half = city.x0, city.y0, city.size / 2
    boxes = [shapely.box(x0 + i * half, y0 + j * half, x0 + (i + 1) * half, y0 + (j + 1) * half)
             for j in range(2) for i in range(2)]  # fmt: skip
    return geopandas.GeoDataFrame({"name": ["SW", "SE", "NW", "NE"]}, geometry=boxes,
                                  crs=city.crs)  # fmt: skip


def city_events(city):
    frame = city.events
    return Events(city.t_utc, frame.x.to_numpy(), frame.y.to_numpy(), crs=city.crs, tz=city.tz)


def test_outlook_follows_the_true_seasonal_rate(city, quarters):
    events = city_events(city)
    outlook = dark_months_outlook(events, areas=quarters, origin="2022-07-04", weeks=26)
    # the truth: the simulator's exact expected counts per quarter and week
    table = outlook.table
    starts = pd.DatetimeIndex(sorted(table["week_start"].unique()))
    edges = np.r_[starts.as_unit("s").asi8, starts.as_unit("s").asi8[-1] + 7 * DAY]
    half = city.size / 2
    cx = city.x0 + half * np.array([0, 1, 0, 1])
    cy = city.y0 + half * np.array([0, 0, 1, 1])
    truth = city.expected_counts(cx, cy, half, edges[:-1], edges[1:])  # (weeks, quarters)
    order = ["SW", "SE", "NW", "NE"]
    forecast = table.pivot(index="week_start", columns="district", values="expected")[order]
    forecast = forecast.to_numpy()
    # totals over the half year within 10 %, the seasonal shape followed week by week
    assert np.allclose(forecast.sum(axis=0), truth.sum(axis=0), rtol=0.10)
    relative = np.abs(forecast - truth) / truth
    assert np.median(relative) < 0.10
    assert np.corrcoef(forecast.sum(axis=1), truth.sum(axis=1))[0, 1] > 0.95
    # the darkest weeks (December) are forecast above the lightest (July)
    assert forecast.sum(axis=1)[-5:].mean() > 1.3 * forecast.sum(axis=1)[:4].mean()
    # 80 % intervals of the counts: the realised counts fall inside about as often
    inside = outlook_backtest(events, ["2022-07-04"], weeks=26, areas=quarters)
    coverage = (inside["observed"] >= inside["low"]) & (inside["observed"] <= inside["high"])
    assert 0.7 <= coverage.mean() <= 0.97


def test_no_leakage_from_after_the_origin(city, quarters):
    events = city_events(city)
    origin = pd.Timestamp("2022-07-04", tz=city.tz).timestamp()
    before = events.select(events.t < origin)
    moved = Events(np.r_[before.t, events.t[events.t >= origin][::2]],
                   np.r_[before.x, events.x[events.t >= origin][::2]],
                   np.r_[before.y, events.y[events.t >= origin][::2]],
                   crs=events.crs, tz=events.tz)  # fmt: skip
    a = dark_months_outlook(events, areas=quarters, origin="2022-07-04", weeks=8)
    b = dark_months_outlook(moved, areas=quarters, origin="2022-07-04", weeks=8)
    pd.testing.assert_frame_equal(a.table, b.table)


def test_later_incidents_do_not_move_the_districts_or_the_darkness(city):
    # Square districts and the place whose evening darkness is computed come from the
    # incidents before the origin only: an incident after the origin far to the south-west
    # (which would move tiles anchored on the incidents' corner) and one whose time window
    # straddles the origin (not known before it) change nothing.
    events = city_events(city)
    origin = int(pd.Timestamp("2022-07-04", tz=city.tz).timestamp())
    later = Events(np.r_[events.t, origin + DAY, origin - DAY],
                   np.r_[events.x, events.x.min() - 1234.0, events.x.max()],
                   np.r_[events.y, events.y.min() - 4321.0, events.y.max()],
                   t_end=np.r_[events.t, origin + DAY, origin + DAY],
                   crs=events.crs, tz=events.tz)  # fmt: skip
    small = {"district_size_m": 4000, "origin": "2022-07-04", "weeks": 2, "lookback_weeks": 52}
    a = dark_months_outlook(events, **small)
    b = dark_months_outlook(later, **small)
    pd.testing.assert_frame_equal(a.table, b.table)
    # the tiles lie on multiples of the side: the districts are the tiles of the earlier incidents
    early = events.t < origin
    tiles = {f"E{int(x // 4000)}N{int(y // 4000)}"
             for x, y in zip(events.x[early], events.y[early], strict=True)}  # fmt: skip
    assert set(a.table["district"]) == tiles


def test_district_of_an_incident_on_a_border():
    from caslite.outlook import district_names

    areas = geopandas.GeoDataFrame(
        {"name": ["B", "A"]},
        geometry=[shapely.box(0, 0, 500, 1000), shapely.box(500, 0, 1000, 1000)],
        crs="EPSG:28992",
    )
    events = Events(np.arange(4), [500.0, 0.0, 750.0, -1.0], [300.0, 300.0, 1000.0, 300.0],
                    crs="EPSG:28992", tz="Europe/Amsterdam")  # fmt: skip
    # on the shared edge: the first row ("B"); on an outer edge: in it; beyond: outside
    assert district_names(events, areas=areas).tolist() == ["B", "B", "A", "(outside)"]


def test_backtest_refuses_baselines_after_the_origin(city, quarters):
    with pytest.raises(ValueError, match="weeks=53.*52 or fewer"):
        outlook_backtest(city_events(city), ["2022-07-04"], weeks=53, areas=quarters)


@pytest.fixture(scope="module")
def toronto():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_sample("toronto").to_events(duplicates="drop")


def test_backtest_baselines_are_plain_counts(toronto):
    backtest = outlook_backtest(toronto, ["2019-03-04"], weeks=4, lookback_weeks=104,
                                area_column="neighbourhood")  # fmt: skip
    raw = load_sample("toronto").frame.drop_duplicates()
    day = pd.Timestamp("2019-03-04")

    def count(name, start):
        lo, hi = start.strftime("%Y-%m-%d"), (start + pd.Timedelta(days=7)).strftime("%Y-%m-%d")
        return ((raw["neighbourhood"] == name) & (raw["t"] >= lo) & (raw["t"] < hi)).sum()

    for row in backtest.sample(20, random_state=0).itertuples():
        start = day + pd.Timedelta(weeks=row.week - 1)
        assert row.observed == count(row.district, start)
        assert row.last_year == count(row.district, start - pd.Timedelta(weeks=52))
        both = [count(row.district, start - pd.Timedelta(weeks=52 * y)) for y in (1, 2)]
        assert row.multi_year_mean == pytest.approx(np.mean(both))


def test_scores_hand_case():
    backtest = pd.DataFrame({
        "observed": [2, 0, 4], "outlook": [1.0, 1.0, 4.0], "low": [0, 0, 5], "high": [3, 2, 9],
        "last_year": [2, 2, 0], "multi_year_mean": [1.5, 0.5, 2.0], "scale": [1.0, 2.0, 0.0],
    })  # fmt: skip
    scores = outlook_scores(backtest).set_index("method")
    # the third row has scale 0 and is left out of MASE/MAE/bias
    assert scores.loc["outlook", "mase"] == pytest.approx((1 / 1 + 1 / 2) / 2)
    assert scores.loc["last_year", "mase"] == pytest.approx((0 + 2 / 2) / 2)
    assert scores.loc["multi_year_mean", "mae"] == pytest.approx((0.5 + 0.5) / 2)
    assert scores.loc["outlook", "coverage"] == pytest.approx(2 / 3)
    assert np.isnan(scores.loc["last_year", "coverage"])


def test_bad_input(toronto):
    with pytest.raises(ValueError, match="exactly one way"):
        dark_months_outlook(toronto)
    with pytest.raises(ValueError, match="lookback_weeks=156"):
        dark_months_outlook(toronto, area_column="neighbourhood", origin="2018-01-01")
    with pytest.raises(ValueError, match="weeks must be"):
        dark_months_outlook(toronto, area_column="neighbourhood", weeks=0)
    # weeks run from local midnights: a time of day would be moved silently
    with pytest.raises(ValueError, match="not a local midnight.*origin='2019-10-01'"):
        dark_months_outlook(toronto, area_column="neighbourhood", origin="2019-10-01 15:00")


def test_cli_outlook_on_the_shipped_sample(tmp_path):
    from caslite.cli import main

    out = tmp_path / "outlook"
    argv = ["outlook", "--sample", "toronto", "--duplicates", "drop", "--district-size", "3000",
            "--origin", "2019-10-01", "--weeks", "6", "--lookback-weeks", "104", "--out",
            str(out), "-q"]  # fmt: skip
    assert main(argv) == 0
    table = pd.read_csv(out / "outlook.csv")
    ranking = pd.read_csv(out / "ranking.csv")
    assert len(table) == len(ranking) == 6 * table["district"].nunique()
    assert (table["low"] <= table["expected"]).all() and (table["expected"] <= table["high"]).all()
    assert ranking["expected"].is_monotonic_decreasing
    assert (out / "outlook.png").stat().st_size > 10_000


@pytest.mark.parametrize("k", [np.inf, 2.0])
def test_pit_coverage_of_a_calibrated_forecast_is_the_nominal_level(k):
    # counts drawn from the forecast's own distribution: the PIT coverage is 1 - alpha while the
    # share inside the discrete interval is well above it at such small means
    import scipy.stats

    rng = np.random.default_rng(0)
    mean = rng.uniform(0.2, 3.0, 40_000)
    dist = scipy.stats.poisson(mean) if np.isinf(k) else scipy.stats.nbinom(k, k / (k + mean))
    observed = dist.rvs(random_state=rng)
    backtest = pd.DataFrame({
        "observed": observed, "outlook": mean, "low": dist.ppf(0.1), "high": dist.ppf(0.9),
        "last_year": observed, "multi_year_mean": mean, "scale": 1.0, "dispersion": k,
        "alpha": 0.2,
    })  # fmt: skip
    scores = outlook_scores(backtest).set_index("method")
    assert scores.loc["outlook", "pit_coverage"] == pytest.approx(0.8, abs=0.01)
    assert scores.loc["outlook", "coverage"] > 0.85


def test_benchmark_quick_run_writes_its_table(tmp_path):
    from benchmarks import outlook as bench

    assert bench.main(["--quick", "--out", str(tmp_path)]) == 0
    text = (tmp_path / "outlook.md").read_text()
    for method in ("outlook", "last_year", "multi_year_mean"):
        assert f"| Toronto sample | {method} |" in text
    backtest = pd.read_csv(tmp_path / "outlook_backtest.csv")
    assert backtest["origin"].nunique() == 3
