"""Near-repeat alerts: the uplift against a simulated city's truth, privacy of the messages."""

import re
import warnings

import geopandas
import numpy as np
import pandas as pd
import pytest
import shapely

from caslite.alerts import (
    ALERT_FIELDS,
    Uplift,
    alert_template,
    near_repeat_alerts,
    near_repeat_uplift,
    uplift_words,
)
from caslite.datasets import load_sample, simulate_city
from caslite.events import Events
from caslite.grid import Grid
from caslite.knox import knox_test

DAY = 86_400


# ---------------------------------------------------------------------- the truth
def true_knox_ratio(n, side, days, theta, mean_delay, sd, radius, window, order=6):
    """Knox ratio of the cell (<= radius, <= window) of a stationary Hawkes city, by its parameters.

    Uniform background on a square of ``side`` metres over ``days`` days; offspring: Poisson
    (theta), exponential delays (mean ``mean_delay`` days), Gaussian offsets (sd per axis).
    Related pairs: an ancestor and its generation-b descendant (theta**b per incident) and,
    through a most recent common ancestor, descendants of generations a and b of two different
    children (theta**(a+b) / 2 per ordered-pair symmetry). Their time difference is
    Gamma(b) - Gamma(a) (drawn here, plain numpy), their offset Gaussian with variance
    (a + b) sd**2 per axis. First-order edge losses: a line leaves the square with
    probability 4 sqrt(k) sd / (side sqrt(2 pi)), and the later incident must fall before the
    end. Unrelated pairs: uniform points in a square (closed form) with times independent.
    """
    rng = np.random.default_rng(12345)
    related = related_near = 0.0

    def stays(k):
        return 1 - 4 * np.sqrt(k) * sd / (side * np.sqrt(2 * np.pi)) if k else 1.0

    for a in range(order + 1):
        for b in range(max(a, 1), order + 1):
            weight = theta**b if a == 0 else theta ** (a + b) * (0.5 if a == b else 1.0)
            ga = rng.gamma(a, mean_delay, 200_000) if a else np.zeros(200_000)
            gb = rng.gamma(b, mean_delay, 200_000)
            in_time = np.clip(1 - np.maximum(ga, gb) / days, 0, 1)
            near = 1 - np.exp(-(radius**2) / (2 * (a + b) * sd**2))
            count = n * weight * stays(a) * stays(b) * near
            related += count * np.mean(in_time * (np.abs(gb - ga) <= window))
            related_near += count * np.mean(in_time)
    s, r = side, radius
    p_near = (np.pi * r * r * s * s - 8 / 3 * r**3 * s + r**4 / 2) / s**4
    p_soon = 2 * window / days - (window / days) ** 2
    expected = (n * (n - 1) / 2 * p_near + related_near) * p_soon
    return 1 + (related - related_near * p_soon) / expected


def uniform_city(seed, branching_ratio=0.3):
    return simulate_city(
        start="2021-01-01",
        end="2023-01-01",
        background_rate=3.0,
        n_clusters=0,
        rural_floor=1.0,
        heterogeneity_sd=0.0,
        seasonal_amplitude=0.0,
        hourly_profile=np.ones(24),
        branching_ratio=branching_ratio,
        random_state=seed,
    )


def city_events(city):
    frame = city.events
    return Events(city.t_utc, frame.x.to_numpy(), frame.y.to_numpy(), crs=city.crs, tz=city.tz)


@pytest.fixture(scope="module")
def city():
    return uniform_city(0)


def test_uplift_agrees_with_the_simulated_triggering(city):
    events = city_events(city)
    days = (city.end - city.start).days
    truth = true_knox_ratio(len(events), city.size, days, 0.3, 7.0, 100.0, 200.0, 14.0)
    uplift = near_repeat_uplift(events, 200, 14, random_state=0)
    assert truth > 3.5  # a strong, known near-repeat effect
    assert uplift.low <= truth <= uplift.high
    assert uplift.low > 1 and uplift.significant
    # the interval is informative, not a blanket
    assert uplift.high - uplift.low < 0.3 * truth


def test_uplift_without_triggering_covers_one():
    events = city_events(uniform_city(1, branching_ratio=0.0))
    uplift = near_repeat_uplift(events, 200, 14, random_state=0)
    assert uplift.low <= 1 <= uplift.high
    assert not uplift.significant


@pytest.mark.slow
def test_uplift_is_the_cumulative_knox_ratio(city):
    # The same pairs as the Knox table's cells up to 200 m and 14 days; the expectation is the
    # exact permutation mean, so the Knox test's Monte Carlo mean must agree with it.
    events = city_events(city)
    result = knox_test(
        events, distance_bands=(0, 100, 200), time_bands_days=(0, 7, 14), n_permutations=200,
        random_state=0,
    )  # fmt: skip
    uplift = near_repeat_uplift(events, 200, 14)
    assert uplift.observed_pairs == result.observed.sum()
    expected = result.expected.sum()
    sd_of_mean = np.sqrt(expected / 200)  # permutation counts are about Poisson
    assert abs(uplift.expected_pairs - expected) < 4 * sd_of_mean


def test_uplift_hand_case():
    # four incidents: a pair 50 m and 2 days apart, a pair 50 m and 20 days apart, far from
    # each other; times 0, 2, 100, 120 days.
    t = np.array([0, 2, 100, 120]) * DAY
    events = Events(t, [0.0, 50.0, 5000.0, 5050.0], [0.0, 0.0, 0.0, 0.0], crs="EPSG:28992",
                    tz="Europe/Amsterdam")  # fmt: skip
    uplift = near_repeat_uplift(events, 100, 7, n_boot=50)
    # spatially close pairs: 2; pairs of times within 7 days: (0, 2) only, of 6 -> 2 / 6 expected
    assert uplift.observed_pairs == 1
    assert uplift.expected_pairs == pytest.approx(2 / 6)
    assert uplift.ratio == pytest.approx(3.0)


def test_uplift_of_a_history_in_one_tile_has_no_interval():
    # 60 incidents in an 800 m square, each with a near repeat: one 1 km bootstrap tile, so
    # every replicate is the whole history; the ratio is measured, its interval is not.
    rng = np.random.default_rng(3)
    t0 = rng.integers(0, 300 * DAY, 30)
    x0, y0 = rng.uniform(0, 800, 30), rng.uniform(0, 800, 30)
    events = Events(np.r_[t0, t0 + DAY], np.r_[x0, x0], np.r_[y0, y0 + 10.0], crs="EPSG:28992",
                    tz="Europe/Amsterdam")  # fmt: skip
    uplift = near_repeat_uplift(events, 200, 7, n_boot=50)
    assert uplift.ratio > 1 and uplift.observed_pairs >= 30
    assert np.isnan(uplift.low) and np.isnan(uplift.high) and not uplift.significant
    split = near_repeat_uplift(events, 200, 7, n_boot=50, tile_m=200)
    assert split.low < split.ratio < split.high


# ---------------------------------------------------------------------- alerts on the sample
@pytest.fixture(scope="module")
def toronto():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = load_sample("toronto").frame.copy()
    # a made-up address per incident: it must never reach a message
    frame["address"] = [f"{100 + i} Fake Street" for i in range(len(frame))]
    sample = load_sample("toronto")
    return Events.from_frame(
        frame, crs=sample.crs, tz=sample.tz, duplicates="drop", **sample.events_kwargs
    )


@pytest.fixture(scope="module")
def split(toronto):
    known = toronto.before("2019-12-01")
    new = toronto.select((toronto.t >= known.t.max() + 1) & (toronto.t < known.t.max() + 3 * DAY))
    return known, new


def groups_for(new, crs):
    first = shapely.Point(new.x[0], new.y[0])
    return geopandas.GeoDataFrame(
        {"name": ["Near watch", "Far watch"]},
        geometry=[first.buffer(600), shapely.box(0, 0, 1000, 1000)],
        crs=crs,
    )


def test_messages_name_no_address_and_no_coordinates(split):
    known, new = split
    groups = groups_for(new, known.crs)
    for language in ("en", "nl"):
        alerts = near_repeat_alerts(known, new, groups=groups, language=language, n_permutations=49)
        assert len(alerts.messages) >= 1
        for text in alerts.messages["text"]:
            assert "Fake Street" not in text
            for address in new.data["address"]:
                assert address not in text
            # no coordinate (UTM metres have 6 and 7 digits): no number of 5 or more digits
            assert not re.search(r"\d{5,}", text.replace(" ", "").replace(".", "")), text
            for value in np.r_[new.x, new.y]:
                assert f"{value:.0f}" not in text


def test_a_group_far_away_gets_no_message(split):
    known, new = split
    alerts = near_repeat_alerts(known, new, groups=groups_for(new, known.crs), n_permutations=49)
    assert alerts.messages["group"].tolist() == ["Near watch"]
    assert alerts.zones.loc[0, "groups"] == "Near watch"
    # one message per group, counting every zone that touches it
    touching = alerts.zones.geometry.intersects(groups_for(new, known.crs).geometry[0])
    assert alerts.messages["n_burglaries"].iloc[0] == touching.sum()


def test_zone_cells_revisits_and_wording(split):
    known, new = split
    grid = Grid.from_events(known, cell_size=125.0)
    alerts = near_repeat_alerts(
        known, new, area_column="neighbourhood", grid=grid, team="West", n_permutations=49
    )
    u = alerts.uplift
    assert u.source == "measured" and u.radius_m >= 200
    assert len(alerts.zones) == len(new)
    assert (alerts.zones["end"] - alerts.zones["start"] == pd.Timedelta(days=u.window_days)).all()
    # cells: those whose square intersects the disc (checked against plain geometry)
    cells = grid.to_geodataframe()
    for _, zone in alerts.zones.iterrows():
        listed = set(alerts.cells.loc[alerts.cells.incident == zone.incident, "cell_id"])
        assert listed == set(cells.cell_id[cells.intersects(zone.geometry)])
    # revisits: earlier incidents within the radius in the year before, checked by hand
    for k in range(len(new)):
        d = np.hypot(known.x - new.x[k], known.y - new.y[k])
        dt = new.t[k] - known.t
        want = set(known.data.index[(d <= u.radius_m) & (dt > 0) & (dt <= 365 * DAY)])
        label = new.data.index[k]
        assert set(alerts.revisits.loc[alerts.revisits.incident == label, "earlier"]) == want
    text = alerts.messages["text"].iloc[0]
    assert text.startswith("POLICE MESSAGE West: ")
    assert uplift_words(u) in text
    assert set(alerts.messages["group"]) == set(new.data["neighbourhood"])


def test_plain_words():
    u = Uplift(2.8, 2.1, 3.6, 200.0, 14.0, 50, 18.0, 500)
    assert uplift_words(u) == "about 3 times the usual risk within 200 m for the next 2 weeks"
    assert uplift_words(u, "nl") == (
        "ongeveer 3 keer het gebruikelijke risico binnen 200 meter in de komende 2 weken"
    )
    weak = Uplift(1.1, 0.9, 1.3, 300.0, 10.0, 50, 45.0, 500)
    assert "could not be measured" in uplift_words(weak)
    assert "10 days" in uplift_words(weak)


def test_short_history_uses_the_default_zone_and_says_so(split):
    known, new = split
    alerts = near_repeat_alerts(known.select(np.arange(10)), new, area_column="neighbourhood")
    assert alerts.uplift.source == "default"
    assert (alerts.uplift.radius_m, alerts.uplift.window_days) == (200.0, 14.0)
    assert "too few" in alerts.uplift.note


def test_minimum_zone_size(split):
    known, new = split
    with pytest.raises(ValueError, match="min_radius_m=200"):
        near_repeat_alerts(known, new, radius_m=100, window_days=7)
    alerts = near_repeat_alerts(known, new, radius_m=50, window_days=7, min_radius_m=40)
    assert alerts.uplift.radius_m == 50 and alerts.uplift.source == "given"
    raised = near_repeat_alerts(known, new, radius_m=None, window_days=7, min_radius_m=400,
                                n_permutations=49)  # fmt: skip
    assert raised.uplift.radius_m >= 400


def test_a_given_radius_below_the_minimum_is_refused_also_with_a_measured_window(split):
    known, new = split
    with pytest.raises(ValueError, match="radius_m=100 is below the minimum zone size"):
        near_repeat_alerts(known, new, radius_m=100, n_permutations=19)


def test_history_must_end_before_the_new_burglaries(toronto, split):
    known, new = split
    # the whole sample as history: it holds the new burglaries and everything after them
    with pytest.raises(ValueError, match=r"known has \d+ incident\(s\) at or after the first new"):
        near_repeat_alerts(toronto, new, radius_m=200, window_days=14)
    last = known.select(np.flatnonzero(known.t == known.t.max()))
    with pytest.raises(ValueError, match="known=events.before"):
        near_repeat_alerts(known, last, radius_m=200, window_days=14)


def test_a_burglary_without_an_area_is_not_dropped_silently(split):
    from caslite import DataQualityWarning

    known, new = split
    names = new.data["neighbourhood"].astype(object).copy()
    names.iloc[0] = None
    unnamed = Events(new.t, new.x, new.y, crs=new.crs, tz=new.tz,
                     data=new.data.assign(neighbourhood=names.to_numpy()))  # fmt: skip
    with pytest.warns(DataQualityWarning, match="1 of the .* new burglaries have no"):
        alerts = near_repeat_alerts(known, unnamed, area_column="neighbourhood", radius_m=200,
                                    window_days=14)  # fmt: skip
    assert alerts.zones["groups"].iloc[0] == ""
    assert len(alerts.zones) == len(new)


def test_templates(split):
    known, new = split
    assert set(re.findall(r"\$\{(\w+)\}", alert_template("nl"))) <= set(ALERT_FIELDS)
    custom = "Let op in $area van $start_date tot $end_date: $uplift."
    alerts = near_repeat_alerts(
        known, new, area_column="neighbourhood", template=custom, language="nl",
        radius_m=200, window_days=14,
    )  # fmt: skip
    assert alerts.messages["text"].str.startswith("Let op in ").all()
    with pytest.raises(ValueError, match="unknown field.*address"):
        near_repeat_alerts(known, new, template="Burglary at $address")
    with pytest.raises(ValueError, match="language"):
        near_repeat_alerts(known, new, language="de")


def test_crs_mismatch_and_bad_groups(split):
    known, new = split
    groups = groups_for(new, known.crs)
    with pytest.raises(ValueError, match="CRS mismatch"):
        near_repeat_alerts(known, new, groups=groups.to_crs(4326), radius_m=200, window_days=14)
    with pytest.raises(ValueError, match="no column 'naam'"):
        near_repeat_alerts(known, new, groups=groups, group_name="naam", radius_m=200,
                           window_days=14)  # fmt: skip
    with pytest.raises(TypeError, match="caslite Events"):
        near_repeat_alerts(known.to_frame(), new)


def test_to_file_writes_a_complete_geopackage(split, tmp_path):
    known, new = split
    alerts = near_repeat_alerts(known, new, area_column="neighbourhood", radius_m=200,
                                window_days=14)  # fmt: skip
    path = alerts.to_file(tmp_path / "zones.gpkg")
    zones = geopandas.read_file(path, layer="zones")
    revisits = geopandas.read_file(path, layer="revisits")
    assert len(zones) == len(new) and len(revisits) == len(alerts.revisits)
    assert zones.crs.equals(known.crs)
    assert [p.name for p in tmp_path.iterdir()] == ["zones.gpkg"]  # no partial file left


# ---------------------------------------------------------------------- command line
def test_cli_alert_on_the_shipped_sample(tmp_path, capsys):
    from caslite.cli import main

    out = tmp_path / "alerts"
    argv = ["alert", "--sample", "toronto", "--duplicates", "drop", "--since", "2019-12-01",
            "--until", "2019-12-03", "--area-column", "neighbourhood", "--permutations", "19",
            "--language", "nl", "--team", "West", "--out", str(out), "-q"]  # fmt: skip
    assert main(argv) == 0
    zones = pd.read_csv(out / "zones.csv")
    messages = pd.read_csv(out / "messages.csv")
    # the same split, directly: incidents from 1 December (local) to 3 December are new
    events = load_sample("toronto").to_events(duplicates="drop")
    new = events.select(
        (events.t >= events.before("2019-12-01").t.max() + 1)
        & (events.t < events.before("2019-12-03").t.max() + 1)
    )
    assert len(zones) == len(new)
    assert set(messages["group"]) == set(new.data["neighbourhood"])
    assert messages["text"].str.startswith("BERICHT VAN POLITIE West: ").all()
    text = (out / "messages.txt").read_text()
    assert text.count("BERICHT VAN POLITIE") == len(messages)
    assert {"zones", "revisits"} <= set(geopandas.list_layers(out / "zones.gpkg")["name"])
    printed = capsys.readouterr().out
    assert "uplift" in printed


def test_cli_alert_refuses_an_empty_period(tmp_path, capsys):
    from caslite.cli import main

    code = main(["alert", "--sample", "toronto", "--since", "2030-01-01", "--out",
                 str(tmp_path), "-q"])  # fmt: skip
    assert code == 2
    assert "no incident from --since 2030-01-01" in capsys.readouterr().err


def test_cli_alert_with_group_polygons_and_a_template(tmp_path, split):
    from caslite.cli import main

    known, new = split
    groups_for(new, known.crs).to_file(tmp_path / "groups.gpkg", engine="pyogrio")
    (tmp_path / "mine.txt").write_text("Watch $area: $burglaries, $uplift.\n", encoding="utf-8")
    out = tmp_path / "out"
    argv = ["alert", "--sample", "toronto", "--duplicates", "drop", "--since", "2019-12-01",
            "--until", "2019-12-03", "--groups", str(tmp_path / "groups.gpkg"), "--template",
            str(tmp_path / "mine.txt"), "--radius", "200", "--window-days", "14", "--out",
            str(out), "-q"]  # fmt: skip
    assert main(argv) == 0
    messages = pd.read_csv(out / "messages.csv")
    assert messages["group"].tolist() == ["Near watch"]  # the far group gets none
    assert messages["text"].iloc[0].startswith("Watch Near watch: ")


def test_cli_alert_names_the_flag_of_a_bad_file(tmp_path, capsys, split):
    from caslite.cli import main

    known, new = split
    groups_for(new, known.crs).set_crs(None, allow_override=True).to_file(
        tmp_path / "groups.gpkg", engine="pyogrio"
    )
    argv = ["alert", "--sample", "toronto", "--since", "2019-12-01", "--out", str(tmp_path),
            "-q"]  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main([*argv, "--groups", str(tmp_path / "groups.gpkg")]) == 2
        assert "the --groups file 'groups.gpkg' has no CRS" in capsys.readouterr().err
        assert main([*argv, "--addresses", str(tmp_path / "nope.gpkg")]) == 2
        assert "no such addresses file" in capsys.readouterr().err
