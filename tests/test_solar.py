"""Tests of caslite._solar: sun elevation, civil twilight and darkness shares.

The reference is the independent ``astral`` package (Meeus-based, like NOAA), plus physical
checks: midnight in a Dutch winter is dark, noon is light, polar day and night give shares of
exactly 0 and 1.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import numpy as np
import pandas as pd
import pytest

from caslite._solar import darkness_share, sun_elevation, twilight_times

astral = pytest.importorskip("astral")
astral_sun = pytest.importorskip("astral.sun")

PLACES = {  # latitude, longitude, time zone
    "toronto": (43.65, -79.38, "America/Toronto"),
    "amsterdam": (52.37, 4.90, "Europe/Amsterdam"),
    "sydney": (-33.87, 151.21, "Australia/Sydney"),
    "tromso": (69.65, 18.96, "Europe/Oslo"),
}
DATES = [
    "2019-03-10",  # Toronto spring-forward day
    "2024-01-15",
    "2024-03-20",
    "2024-03-31",  # European spring-forward day
    "2024-06-21",
    "2024-09-22",
    "2024-10-27",  # European fall-back day
    "2024-12-21",
]
TOLERANCE = 120.0  # seconds


def local_seconds(text: str, tz: str) -> int:
    return int(pd.Timestamp(text, tz=tz).timestamp())


def astral_time(kind: str, place: str, date: str):
    lat, lon, tz = PLACES[place]
    observer = astral.Observer(latitude=lat, longitude=lon)
    function = astral_sun.dawn if kind == "dawn" else astral_sun.dusk
    try:
        when = function(
            observer, dt.date.fromisoformat(date), depression=6, tzinfo=zoneinfo.ZoneInfo(tz)
        )
    except ValueError:  # astral: the sun never reaches -6 degrees that day
        return None
    return when.timestamp()


@pytest.mark.parametrize("date", DATES)
@pytest.mark.parametrize("place", list(PLACES))
def test_civil_dawn_and_dusk_match_astral(place, date):
    lat, lon, tz = PLACES[place]
    dawn, dusk = twilight_times([date], lon, lat, tz)
    for kind, ours in (("dawn", dawn[0]), ("dusk", dusk[0])):
        theirs = astral_time(kind, place, date)
        if theirs is None:
            assert np.isnan(ours), f"{kind} {place} {date}: astral finds none, we found one"
        else:
            assert abs(ours - theirs) < TOLERANCE, f"{kind} {place} {date}"


def test_sun_elevation_matches_astral_without_refraction():
    rng = np.random.default_rng(7)
    for lat, lon, _ in PLACES.values():
        for seconds in rng.integers(1_500_000_000, 1_800_000_000, 20):
            when = dt.datetime.fromtimestamp(int(seconds), tz=dt.timezone.utc)
            theirs = astral_sun.elevation(
                astral.Observer(latitude=lat, longitude=lon), when, with_refraction=False
            )
            assert sun_elevation(int(seconds), lon, lat) == pytest.approx(theirs, abs=0.05)


def test_twilight_times_are_vectorised_and_nan_when_the_sun_never_crosses():
    lat, lon, tz = PLACES["tromso"]
    dawn, dusk = twilight_times(["2024-03-20", "2024-06-21"], lon, lat, tz)
    assert np.isfinite(dawn[0]) and np.isfinite(dusk[0]) and dawn[0] < dusk[0]
    assert np.isnan(dawn[1]) and np.isnan(dusk[1])  # midnight sun: never below -6 degrees


def test_amsterdam_winter_midnight_dark_and_noon_light():
    lat, lon, tz = PLACES["amsterdam"]
    start = [local_seconds("2024-01-15 00:00", tz), local_seconds("2024-01-15 10:00", tz)]
    end = [local_seconds("2024-01-15 04:00", tz), local_seconds("2024-01-15 14:00", tz)]
    assert darkness_share(start, end, lon, lat).tolist() == [1.0, 0.0]


@pytest.mark.parametrize("place", ["amsterdam", "toronto", "sydney"])
def test_darkness_share_of_an_evening_block_follows_astral_dusk(place):
    lat, lon, tz = PLACES[place]
    date = "2024-03-20"
    start = local_seconds(f"{date} 16:00", tz)
    end = local_seconds(f"{date} 21:00", tz)
    dusk = astral_time("dusk", place, date)
    assert start < dusk < end
    expected = (end - dusk) / (end - start)
    assert darkness_share([start], [end], lon, lat)[0] == pytest.approx(expected, abs=0.01)


def test_darkness_share_of_a_dawn_block_across_a_dst_change():
    lat, lon, tz = PLACES["amsterdam"]
    start = local_seconds("2024-03-31 04:00", tz)  # after the 02:00 -> 03:00 jump
    end = local_seconds("2024-03-31 10:00", tz)
    dawn = astral_time("dawn", "amsterdam", "2024-03-31")
    expected = (dawn - start) / (end - start)
    assert darkness_share([start], [end], lon, lat)[0] == pytest.approx(expected, abs=0.01)


def test_polar_day_and_night_give_zero_and_one_without_nan():
    # Tromso at midsummer: the sun never sets (midnight sun).
    lat, lon, tz = PLACES["tromso"]
    day = local_seconds("2024-06-21 00:00", tz)
    start = day + np.arange(6) * 4 * 3600
    shares = darkness_share(start, start + 4 * 3600, lon, lat)
    assert shares.tolist() == [0.0] * 6
    # Longyearbyen (78.2 N) at midwinter: the sun stays below -6 degrees all day.
    lat, lon = 78.22, 15.65
    day = local_seconds("2024-12-21 00:00", "Arctic/Longyearbyen")
    start = day + np.arange(6) * 4 * 3600
    assert darkness_share(start, start + 4 * 3600, lon, lat).tolist() == [1.0] * 6


def test_tromso_december_noon_is_civil_twilight_not_darkness():
    # Polar night (sun below the horizon) but above -6 degrees at noon: ~ 90 - 69.65 - 23.44.
    lat, lon, tz = PLACES["tromso"]
    noon = local_seconds("2024-12-21 11:45", tz)
    assert -6.0 < sun_elevation(noon, lon, lat) < 0.0
    assert sun_elevation(noon, lon, lat) == pytest.approx(90 - lat - 23.44, abs=0.3)
    start, end = local_seconds("2024-12-21 00:00", tz), local_seconds("2024-12-21 04:00", tz)
    assert darkness_share([start], [end], lon, lat)[0] == 1.0


def test_darkness_share_handles_empty_and_uneven_intervals():
    lat, lon, tz = PLACES["amsterdam"]
    t = local_seconds("2024-01-15 00:00", tz)
    start = np.array([t, t, t, t + 3600])
    end = np.array([t, t + 90, t + 25 * 3600, t + 3600 + 7])
    shares = darkness_share(start, end, lon, lat)
    assert shares[0] == 0.0  # empty
    assert shares[1] == 1.0 and shares[3] == 1.0  # short, at night
    dawn, dusk = twilight_times(["2024-01-15"], lon, lat, tz)
    expected = 1.0 - (dusk[0] - dawn[0]) / (25 * 3600)
    assert shares[2] == pytest.approx(expected, abs=0.002)
    assert np.all((shares >= 0) & (shares <= 1))


def test_darkness_share_is_consistent_across_chunks(monkeypatch):
    import caslite._solar as solar

    lat, lon, tz = PLACES["toronto"]
    start = local_seconds("2024-05-01 00:00", tz) + np.arange(60) * 4 * 3600
    whole = darkness_share(start, start + 4 * 3600, lon, lat)
    monkeypatch.setattr(solar, "_MAX_SAMPLES", 1000)  # 4 blocks of 240 samples per chunk
    np.testing.assert_array_equal(darkness_share(start, start + 4 * 3600, lon, lat), whole)


def every_sample_share(start, end, lon, lat, depression=6.0, step=60.0) -> np.ndarray:
    """Plain twin of darkness_share: the elevation at every midpoint sample of each interval."""
    out = []
    for a, b in zip(np.asarray(start, float), np.asarray(end, float), strict=True):
        length = max(b - a, 0.0)
        n = max(int(np.ceil(length / step)), 1)
        times = a + (np.arange(n) + 0.5) * (length / n)
        dark = int(np.count_nonzero(sun_elevation(times, lon, lat) < -depression))
        out.append(dark / n if length > 0 else 0.0)
    return np.array(out)


@pytest.mark.parametrize(
    ("lat", "lon", "depression", "step"),
    [
        (43.65, -79.38, 6.0, 60.0),  # Toronto, the defaults
        (52.37, 4.90, 0.833, 7.0),  # sunset to sunrise, uneven sub-intervals
        (-33.87, 151.21, 18.0, 300.0),  # astronomical darkness, long steps
        (69.65, 18.96, 6.0, 60.0),  # Tromso: polar day and night, grazing twilight
        (78.22, 15.65, 6.0, 3600.0),  # Longyearbyen, hour-long steps
        (0.5, 32.6, 6.0, 60.0),  # the equator: the fastest dusk
    ],
)
def test_darkness_share_equals_sampling_every_point(lat, lon, depression, step):
    # Runs whose ends are far from the threshold are not sampled in full: the shares must
    # still be those of every sample, exactly.
    rng = np.random.default_rng(int(abs(lat) * 100))
    t0 = local_seconds("2024-01-01 00:00", "UTC")
    start = t0 + rng.integers(0, 366 * 86400, size=300)
    length = rng.choice([0, 1, 59, 61, 4 * 3600, 5 * 3600, 3 * 86400], size=start.size)
    length = np.where(rng.random(start.size) < 0.3, rng.integers(0, 86400, start.size), length)
    end = start + length
    got = darkness_share(start, end, lon, lat, depression=depression, step=step)
    assert got.tolist() == every_sample_share(start, end, lon, lat, depression, step).tolist()
    assert np.any((got > 0) & (got < 1)) or lat > 70  # some intervals hold a dusk or a dawn


def test_darkness_share_of_consecutive_blocks_equals_sampling_every_point():
    lat, lon, tz = PLACES["toronto"]
    start = local_seconds("2019-01-01 00:00", tz) + np.arange(6 * 366) * 4 * 3600
    got = darkness_share(start, start + 4 * 3600, lon, lat)
    assert got.tolist() == every_sample_share(start, start + 4 * 3600, lon, lat).tolist()
    assert 0.3 < np.mean((got > 0) & (got < 1)) < 0.4  # a dusk or a dawn in 2 of 6 blocks
