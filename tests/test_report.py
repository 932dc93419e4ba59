"""The research report runs end to end on a small synthetic city (``--quick``)."""

import pandas as pd
import pytest
from benchmarks import report


@pytest.fixture(scope="module")
def quick_synthetic(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    assert report.main(["--quick", "--parts", "synthetic", "--n-jobs", "1", "--out", str(out)]) == 0
    return out


@pytest.mark.slow
def test_report_writes_the_table_scores_and_figures(quick_synthetic):
    text = (quick_synthetic / "report.md").read_text()
    scores = pd.read_csv(quick_synthetic / "scores.csv")
    methods = ["true intensity (ceiling)", "RiskModel", *report.baselines()]
    for method in methods:
        assert f"| {method} |" in text
    assert set(scores["method"]) == set(methods)
    assert scores["origin"].nunique() == 4  # 8 weeks, 14-day steps and horizons
    assert scores["hit_rate"].between(0, 1).all()
    assert set(report.COVERAGES) == set(scores["coverage"].round(6))
    for kind in ("hit-rate", "pai", "calibration"):
        assert (quick_synthetic / f"synthetic-city-{kind}.png").stat().st_size > 10_000


@pytest.mark.slow
def test_the_true_intensity_has_the_best_log_score(quick_synthetic):
    # The simulator's expected counts are the true conditional means: in expectation no
    # forecast has a higher Poisson log-likelihood (a proper score).
    scores = pd.read_csv(quick_synthetic / "scores.csv")
    per_method = scores.groupby("method")["log_score"].mean()
    truth = per_method.pop("true intensity (ceiling)")
    assert (truth >= per_method[list(report.EXPECTED_COUNTS[:2])]).all()
