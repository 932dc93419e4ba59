"""The benchmark suite's smoke profile: it runs, its correctness checks pass, every row is whole.

No timing is asserted here: the smoke profile is for correctness (fast results against the
plain-numpy twins, Knox counts against a brute-force count) and for the shape of the output.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `benchmarks` lives at the repository root, not in src/
    sys.path.insert(0, str(ROOT))

from benchmarks import format_table, run_suite  # noqa: E402
from benchmarks.__main__ import main  # noqa: E402
from benchmarks.knox import _band, brute_force_knox  # noqa: E402
from benchmarks.suite import ROW_FIELDS, all_cases, select  # noqa: E402

KNOX_AVAILABLE = importlib.util.find_spec("caslite.knox") is not None


@pytest.fixture(scope="module")
def smoke():
    messages = []
    result = run_suite("smoke", log=messages.append)
    result["log"] = messages
    return result


@pytest.mark.slow
def test_each_case_logs_its_result_as_it_finishes(smoke):
    done = [m for m in smoke["log"] if "] done:" in m]
    assert [m.split("]")[0].lstrip("[") for m in done] == [row["name"] for row in smoke["cases"]]
    for message, row in zip(done, smoke["cases"], strict=True):
        if "skipped" in row:
            assert row["skipped"] in message
        else:
            expected = "agrees" if all(c["passed"] for c in row["checks"]) else "DISAGREES"
            assert "done: best " in message and expected in message


@pytest.mark.slow
def test_every_case_has_a_complete_row(smoke):
    names = [row["name"] for row in smoke["cases"]]
    assert names == [case.name for case in all_cases()]
    for row in smoke["cases"]:
        assert "error" not in row, row.get("traceback")
        if "skipped" in row:
            assert row["name"] == "knox" and not KNOX_AVAILABLE, row["skipped"]
            assert "caslite.knox" in row["skipped"]
            continue
        for field in ROW_FIELDS:
            assert field in row, (row["name"], field)
        timing = row["timing"]
        assert timing["best_s"] > 0 and timing["first_call_s"] > 0
        assert len(timing["times_s"]) >= 1
        assert row["throughput"]["value"] > 0 and row["throughput"]["unit"].endswith("/s")
        twin = row["twin"]
        for key in ("twin_s", "fast_s", "speedup", "agree", "max_rel_err", "workload"):
            assert key in twin, (row["name"], key)
        memory = row["memory"]
        assert memory["method"] in ("VmHWM", "ru_maxrss")
        assert memory["output_bytes"] > 0
        assert isinstance(memory["peak_beyond_output_bytes"], int)
        if row["group"] in ("knox", "etas"):  # outputs of a few numbers: no write floor
            assert row["floor"] is None
        else:
            assert row["floor"]["best_s"] > 0 and row["floor"]["ratio"] > 0
        assert row["targets"] and all(t["enforced"] is False for t in row["targets"])


@pytest.mark.slow
def test_correctness_checks_passed(smoke):
    assert smoke["summary"]["correct"], smoke["summary"]["correctness_failures"]
    for row in smoke["cases"]:
        if "skipped" in row:
            continue
        assert row["twin"]["agree"], (row["name"], row["twin"]["detail"])
        assert row["twin"]["nonzero_twin_values"] > 0, row["name"]  # not a trivial agreement
        failed = [c for c in row["checks"] if not c["passed"]]
        assert not failed, (row["name"], failed)
    if KNOX_AVAILABLE:
        knox = next(row for row in smoke["cases"] if row["name"] == "knox")
        names = [c["name"] for c in knox["checks"]]
        assert "observed = brute force (whole workload)" in names
        assert knox["twin"]["observed_equal"] and knox["twin"]["n_pairs_equal"]


@pytest.mark.slow
def test_machine_and_table(smoke):
    machine = smoke["machine"]
    for key in ("usable_cores", "numba_threads", "numpy", "numba", "python"):
        assert machine[key]
    # recorded, not asserted: what tracemalloc sees depends on the numba version
    assert set(machine["tracemalloc_sees_numba_allocations"]) == {"serial", "parallel"}
    table = format_table(smoke)
    assert table.count("\n| ") >= len(smoke["cases"])
    assert "correct: yes" in table
    json.dumps(smoke, default=str)  # the results are JSON-serialisable


@pytest.mark.slow
def test_a_wrong_fast_result_fails_loudly(monkeypatch, tmp_path, capsys):
    # Break the fast code: every score doubled. The twin comparison must catch it.
    import caslite.nearrepeat as nr

    real = nr.score_forecast
    monkeypatch.setattr("benchmarks.nearrepeat.score_forecast", lambda *a, **k: 2.0 * real(*a, **k))
    out = tmp_path / "results.json"
    status = main(["--profile", "smoke", "--only", "city-bowers", "--out", str(out)])
    assert status == 1
    results = json.loads(out.read_text())
    assert not results["summary"]["correct"]
    assert "CORRECTNESS FAILURE" in capsys.readouterr().out


def test_select_by_name_and_group():
    assert [c.name for c in select(["city"])] == ["city-bowers", "city-exp"]
    assert [c.name for c in select(["knox,history-exp-f32"])] == ["history-exp-f32", "knox"]
    with pytest.raises(ValueError, match="unknown case"):
        select(["nope"])


def test_brute_force_knox_band_rules():
    day = 86_400
    edges = (0.0, 100.0, 200.0)
    assert _band(np.array([0.0, 100.0, 100.5, 200.0, 200.5]), edges).tolist() == [0, 0, 1, 1, -1]
    # same place 3 days apart; 150 m apart at 7 days (closed first time band) and 10 days
    t = np.array([0, 3 * day, 10 * day])
    x = np.array([0.0, 0.0, 150.0])
    got = brute_force_knox(t, x, np.zeros(3), 0, seed=0)
    assert got["observed"][0].tolist() == [1, 0, 0, 0]  # same location, 0-7 days
    assert got["observed"][2].tolist() == [1, 1, 0, 0]  # 100-200 m: 7 and 10 days
    assert got["n_pairs"] == 3


def test_competing_load_runs_busy_processes_and_stops_them():
    from benchmarks.harness import competing_load

    with competing_load(2) as busy:
        assert len(busy) == 2
        assert all(proc.poll() is None for proc in busy)  # running
    assert all(proc.poll() is not None for proc in busy)  # stopped and reaped
    with competing_load(0) as busy:
        assert busy == []


def test_load_option_is_validated(capsys):
    with pytest.raises(SystemExit):
        main(["--profile", "smoke", "--load", "many"])
    assert "--load must be a whole number, 'cores' or 'both', got 'many'" in (
        capsys.readouterr().err
    )


def test_second_pass_with_a_competing_load():
    # --load both: each case is timed again with busy-loop processes running; the twin must
    # still agree and be beaten, the case's own targets are reported, not enforced
    from benchmarks.profiles import PROFILES
    from benchmarks.suite import get_case, run_case

    row = run_case(get_case("city-bowers"), PROFILES["smoke"], log=lambda message: None,
                   loaded=1)  # fmt: skip
    loaded = row["loaded"]
    assert loaded["processes"] == 1
    assert loaded["timing"]["best_s"] > 0 and loaded["timing"]["best_cpu_s"] >= 0
    assert loaded["floor"]["best_s"] > 0 and loaded["twin"]["agree"]
    labels = {t["label"]: t["enforced"] for t in loaded["targets"]}
    assert labels["≥ 1× twin"] is False  # the smoke profile enforces nothing
    assert "≤ 20 ms" in labels
    assert "agrees with the numpy twin (competing load)" in [c["name"] for c in row["checks"]]
    assert row["duration"]["wall_s"] > 0 and row["duration"]["cpu_s"] > 0
    from benchmarks.suite import LOADED_HEADER, _loaded_cells

    cells = _loaded_cells(row, "smoke")
    assert len(cells) == len(LOADED_HEADER) and cells[0] == "city-bowers"


def test_multicity_quick_profile(tmp_path):
    # the multi-city accuracy benchmark's smoke run: one table per variant; its best baseline,
    # ratio and calibration totals checked against the scores it wrote (the backtest's counts)
    import pandas as pd
    from benchmarks import multicity

    assert multicity.main(["--quick", "--out", str(tmp_path)]) == 0
    text = (tmp_path / "multicity.md").read_text()
    for variant in ("dense", "thinned"):
        assert f"### synthetic, {variant}, 2023 (confirmation year)" in text
        scores = pd.read_csv(tmp_path / f"scores-synthetic-{variant}-2023.csv")
        ceilings = {multicity.CEILING, multicity.HONEST, multicity.BACKGROUND}
        if variant == "thinned":
            ceilings.add(multicity.HONEST_ALL)
        assert set(scores["method"]) == set(multicity.methods(None, 0)) | ceilings
        at = scores[np.isclose(scores["coverage"], 0.03)].set_index("method")["hit_rate"]
        best = at.drop([multicity.RISK, *ceilings]).idxmax()
        ratio = at[multicity.RISK] / at[best]
        assert f"| 3% | {best} | {at[best]:.3f} | {at[multicity.RISK]:.3f} | {ratio:.2f} |" in text
        honest = at[multicity.HONEST]
        assert (
            f"| 3% | {multicity.HONEST} | {best} | {at[best]:.3f} | {honest:.3f} "
            f"| {honest / at[best]:.2f} |"
        ) in text
        curve = pd.read_csv(tmp_path / f"reliability-synthetic-{variant}-2023.csv")
        risk = curve[curve["method"] == multicity.RISK]
        observed = float((risk["n"] * risk["mean_observed"]).sum())
        assert observed == pytest.approx(scores["events"].iloc[0])  # one origin
        predicted = (risk["n"] * risk["mean_predicted"]).sum()
        assert f"ratio {predicted / observed:.3f}" in text
        assert (tmp_path / f"reliability-synthetic-{variant}.png").stat().st_size > 0
    assert "thinned: " in text and "CPU" in text
    assert f'expected events of "{multicity.HONEST}"' in text  # dense: the honest ceiling
    assert f'expected events of "{multicity.HONEST_ALL}"' in text  # thinned: the bound


def test_expected_hit_rates_by_hand():
    # 100 equal cells: 1, 3 and 5 % are the top 1, 3 and 5 cells; a method's hot cells are
    # scored on the reference's expected events, averaged over origins
    from benchmarks import multicity

    rng = np.random.default_rng(0)
    totals = []
    by_hand = {c: [] for c in multicity.COVERAGES}
    for origin in (0, 1):
        expected = rng.gamma(0.5, 1.0, 100)
        predicted = rng.permutation(100).astype(float)
        totals += [(multicity.HONEST, origin, expected, None), ("m", origin, predicted, None)]
        totals.append((multicity.CEILING, origin, expected, None))  # sees the horizon: left out
        for c, k in zip(multicity.COVERAGES, (1, 3, 5), strict=True):
            top = np.argsort(-predicted)[:k]
            by_hand[c].append(expected[top].sum() / expected.sum())
    means = multicity.expected_hit_rates(totals, multicity.HONEST, np.ones(100))
    assert set(means.index.get_level_values("method")) == {"m", multicity.HONEST}
    for c in multicity.COVERAGES:
        assert means.loc[("m", c)] == pytest.approx(np.mean(by_hand[c]))
        assert means.loc[(multicity.HONEST, c)] >= means.loc[("m", c)]


def test_honest_ceiling_forecaster():
    # the benchmark's wrapper of SyntheticCity.forecast_counts: its grid cells, its origin, and
    # the unthinned-history bound as the share kept times the full-history forecast
    from benchmarks.report import HonestCeiling
    from shapely.geometry import box

    from caslite import Grid, ShiftSchedule
    from caslite.datasets import simulate_city

    city = simulate_city(start="2023-01-01", end="2023-03-01", size=1000.0, random_state=2)
    grid = Grid.from_area(box(*city.bounds), cell_size=125.0, crs=city.crs)
    origin = "2023-02-01"
    blocks = ShiftSchedule.every(4, tz=city.tz).horizon(origin, "2D")
    kept = np.random.default_rng(0).random(len(city)) < 0.5
    honest = HonestCeiling(city=city, observed=kept, keep_share=0.5).fit(None, grid, origin=origin)
    bound = HonestCeiling(city=city, keep_share=0.5, history="all").fit(None, grid, origin=origin)
    full = city.forecast_counts(
        grid.x - 62.5, grid.y - 62.5, 125.0, blocks.start, blocks.end, origin=origin
    )
    np.testing.assert_allclose(bound.predict(blocks), 0.5 * full, rtol=1e-12)
    thin = city.forecast_counts(
        grid.x - 62.5, grid.y - 62.5, 125.0, blocks.start, blocks.end, origin=origin,
        observed=kept, keep_share=0.5,
    )  # fmt: skip
    np.testing.assert_allclose(honest.predict(blocks), thin, rtol=1e-12)
    with pytest.raises(ValueError, match="history must be 'observed' or 'all', got 'kept'"):
        HonestCeiling(city=city, history="kept").fit(None, grid, origin=origin)


def test_prepared_once_per_suite_run(tmp_path, monkeypatch):
    # what a case prepares untimed is made by the first process of a suite run and loaded by
    # the others (the memory measurement's fresh interpreter); outside a run, made every time
    from benchmarks import harness

    calls = []

    def make():
        calls.append(1)
        return {"model": np.arange(3)}

    monkeypatch.delenv(harness.SHARED_ENV, raising=False)
    harness.made_once("key", make)
    harness.made_once("key", make)
    assert len(calls) == 2
    with harness.shared_folder() as folder:
        first = harness.made_once("key", make)
        again = harness.made_once("key", make)
        other = harness.made_once("other key", make)
        assert len(calls) == 4  # "key" once, "other key" once
        np.testing.assert_array_equal(again["model"], first["model"])
        assert other is not first and len(list(folder.glob("*.pickle"))) == 2
    assert not folder.exists() and harness.SHARED_ENV not in os.environ


def test_the_loaded_pass_times_the_twin_without_rechecking_every_method():
    # the quiet pass checks every method against the twin; the loaded pass only re-times
    from benchmarks.profiles import PROFILES
    from benchmarks.suite import get_case

    prep = get_case("city-exp").prepare(PROFILES["smoke"])
    quiet, loaded = prep.twin(), prep.twin_loaded()
    assert set(quiet["methods_checked"]) == {"direct", "recursive"}
    assert loaded["methods_checked"] == {} and loaded["agree"] and loaded["twin_s"] > 0


def test_idle_estimate_by_hand():
    # CPU seconds count as wall seconds, those of a pass with one busy process per core
    # (3 processes on 2 cores: two thirds of a core each) 3/2 times, plus half a second each
    from benchmarks.suite import idle_estimate

    rows = [
        {"name": "a", "loaded": {"duration": {"wall_s": 9.0, "cpu_s": 4.0}}},
        {"name": "b", "loaded": {"duration": {"wall_s": 1.0, "cpu_s": 2.0}}},
        {"name": "c", "skipped": "no data"},
    ]
    assert idle_estimate(rows, 100.0, 2) == pytest.approx(100.0 - 6.0 + 6.0 * 1.5 + 1.0)
    assert idle_estimate([], 10.0, 2) == 10.0


def test_the_fit_is_compared_across_two_processes():
    # the Toronto fit's cold call in the fresh interpreter reports a digest of its model's
    # predictions; the benchmark process's fit (same seed) must match it, and a different
    # digest fails the check
    from benchmarks import memory
    from benchmarks.profiles import PROFILES
    from benchmarks.suite import get_case

    row = memory.measure("risk-toronto-fit", "smoke")
    assert row["first_call_rise_note"].startswith("peak of the cold call")
    prep = get_case("risk-toronto-fit").prepare(PROFILES["smoke"])
    assert prep.warm_up is False and prep.peak_on_first_call
    model = prep.run()
    for reference, expected in [(row["fingerprint"], True), ("0" * 64, False)]:
        prep.reference_fingerprint = reference
        same = [c for c in prep.checks(model) if c["name"] == "same seed, same model"]
        assert same[0]["passed"] is expected
        assert "fresh interpreter" in same[0]["detail"]


def test_time_call_without_a_warm_up():
    from benchmarks.harness import time_call

    calls = []
    timing = time_call(lambda: calls.append(1) or len(calls), 2, warm_up=False)
    assert len(calls) == 2 and timing["result"] == 2
    assert timing["first_call_s"] == timing["times_s"][0] and len(timing["times_s"]) == 2
    timing = time_call(lambda: calls.append(1) or len(calls), 2)
    assert len(calls) == 5 and len(timing["times_s"]) == 2  # one warm-up, two timed


def test_multicity_variants_table_against_hand_computed_differences():
    # three origins; the setting beats the default by 0.02 at 1 % at every origin, by
    # 0.01, 0.02, 0.03 at 3 % (mean 0.02); the best baseline at 3 % has 0.25 on average
    import pandas as pd
    from benchmarks import multicity
    from benchmarks.multicity_variants import compare

    setting = 'risk {"n_bags": 3}'
    rows = []
    for k, origin in enumerate((10, 20, 30)):
        for method, by_coverage in {
            multicity.RISK: (0.10, 0.20, 0.30),
            setting: (0.12, 0.21 + 0.01 * k, 0.30),
            "counts": (0.05, 0.25, 0.35),
            "KDE": (0.15, 0.15, 0.15),
            multicity.HONEST_ALL: (0.40, 0.40, 0.40),  # a ceiling: never the best baseline
        }.items():
            for coverage, hit in zip((0.01, 0.03, 0.05), by_coverage, strict=True):
                rows.append((method, origin, coverage, hit, 2.0 if method == setting else 1.0))
    scores = pd.DataFrame(rows, columns=["method", "origin", "coverage", "hit_rate", "fit_seconds"])
    text = compare(scores, {setting: {"n_bags": 3}})
    assert text.startswith("best baseline at 3 %: counts (0.250); default risk model 0.100 / ")
    # every origin +0.02 at 1 %: the bootstrap interval is that point; ratio 0.22 / 0.25 = 0.88
    line = next(row for row in text.splitlines() if row.startswith(f"| {setting} |"))
    cells = [cell.strip() for cell in line.split("|")[2:-1]]
    assert cells[0] == "+0.020 (+0.020, +0.020)" and cells[2] == "+0.000 (+0.000, +0.000)"
    # at 3 % the mean of 0.01, 0.02, 0.03, its interval inside the range of the three
    mean, lo, hi = (float(v) for v in re.findall(r"[+-]\d\.\d+", cells[1]))
    assert mean == 0.02 and 0.01 <= lo < 0.02 < hi <= 0.03
    assert text.rstrip().endswith("| 0.88 | 2.0 |")
    assert "| risk model (defaults) | +0.000 (+0.000, +0.000) |" in text
