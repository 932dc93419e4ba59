"""Tests of the rolling-origin backtest against a hand-written loop over origins."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box
from sklearn.base import BaseEstimator

from caslite import Events, Grid, NaiveCounts, RetrospectiveKDE, RiskModel, ShiftSchedule
from caslite.datasets import load_sample
from caslite.evaluation.backtest import BacktestResult, backtest
from caslite.evaluation.metrics import (
    brier_score,
    count_events,
    hit_rate,
    near_hit_rate,
    pai,
    pei_star,
    poisson_log_score,
    reliability_curve,
)

START, END = "2023-05-01", "2023-07-01"  # 4 origins of 14 days
COVERAGES = (0.02, 0.1)
TIMING = ["fit_seconds", "predict_seconds"]


@pytest.fixture(scope="module")
def events():
    return load_sample("synthetic").to_events()


@pytest.fixture(scope="module")
def grid(events):
    return Grid.from_area(box(115000, 480000, 125000, 490000), cell_size=1000.0, crs=events.crs)


@pytest.fixture(scope="module")
def serial(events, grid):
    methods = {"naive": NaiveCounts(window_weeks=26), "kde": RetrospectiveKDE(bandwidth=500.0)}
    return backtest(
        methods, events, grid, start=START, end=END, coverages=COVERAGES, progress=False
    )


def _scores_only(frame):
    return frame.drop(columns=TIMING).reset_index(drop=True)


def test_scores_equal_a_hand_written_loop(serial, events, grid):
    schedule = ShiftSchedule.every(4, tz=events.tz)
    origins = pd.date_range("2023-05-01", periods=4, freq="14D", tz=events.tz)
    assert list(serial.params["origins"]) == list(origins)
    area = grid.area_fraction
    rows = []
    for name, model in [
        ("naive", NaiveCounts(window_weeks=26)),
        ("kde", RetrospectiveKDE(bandwidth=500.0)),
    ]:
        for origin in origins:
            model.fit(events, grid, origin=origin)
            blocks = schedule.horizon(origin, "14D")
            risk = model.predict(blocks)
            counts = count_events(events, grid, blocks)
            r, c = risk.sum(axis=0), counts.sum(axis=0)
            for cov in COVERAGES:
                rows.append(
                    {
                        "method": name,
                        "origin": origin,
                        "coverage": cov,
                        "events": counts.sum(),
                        "hit_rate": hit_rate(r, c, cov, area=area),
                        "pai": pai(r, c, cov, area=area),
                        "pei_star": pei_star(r, c, cov, area=area),
                        "shift_hit_rate": hit_rate(risk, counts, cov, area=area, per_block=True),
                        "near_hit_rate": near_hit_rate(r, c, cov, grid, rings=1, area=area),
                        "log_score": poisson_log_score(risk, counts),
                        "brier": brier_score(1 - np.exp(-risk), counts),
                    }
                )
    expected = pd.DataFrame(rows)
    got = serial.scores[expected.columns]
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected, check_dtype=False)
    assert serial.scores["refit"].all()


def test_calibration_pools_over_origins(serial, events, grid):
    schedule = ShiftSchedule.every(4, tz=events.tz)
    model = NaiveCounts(window_weeks=26)
    probs, counts = [], []
    for origin in serial.params["origins"]:
        model.fit(events, grid, origin=origin)
        blocks = schedule.horizon(origin, "14D")
        probs.append(1 - np.exp(-model.predict(blocks)))
        counts.append(count_events(events, grid, blocks))
    edges = np.asarray(serial.params["calibration_edges"])
    expected = reliability_curve(np.concatenate(probs), np.concatenate(counts), bins=edges)
    got = serial.calibration[serial.calibration["method"] == "naive"]
    for column in [
        "bin_low",
        "bin_high",
        "n",
        "sum_predicted",
        "sum_observed",
        "observed_frequency",
    ]:
        np.testing.assert_allclose(got[column].to_numpy(float), expected[column].to_numpy(float))


def test_causality(events, grid, serial):
    # Move every event after 2023-06-12 (the last origin) far away in time: the first three
    # origins' scores must not change; the last origin's horizon changes.
    cut = int(pd.Timestamp("2023-06-12", tz=events.tz).timestamp())
    later = events.t >= cut
    from caslite import Events

    changed = Events(
        np.where(later, events.t + 86_400 * 3, events.t),
        events.x,
        events.y,
        crs=events.crs,
        tz=events.tz,
    )
    methods = {"naive": NaiveCounts(window_weeks=26), "kde": RetrospectiveKDE(bandwidth=500.0)}
    other = backtest(
        methods, changed, grid, start=START, end=END, coverages=COVERAGES, progress=False
    )
    keep = serial.scores["origin"] < pd.Timestamp("2023-06-12", tz=events.tz)
    pd.testing.assert_frame_equal(
        _scores_only(serial.scores[keep]), _scores_only(other.scores[keep])
    )
    assert not _scores_only(serial.scores[~keep]).equals(_scores_only(other.scores[~keep]))


class Recorder(BaseEstimator):
    """Records fit/update calls and the latest event time it was given."""

    calls: list = []

    def __init__(self, *, level=1.0):
        self.level = level

    def fit(self, events, grid, *, origin):
        Recorder.calls.append(("fit", int(origin), int(events.t_end.max())))
        self.grid_ = grid
        return self

    def update(self, events, *, origin):
        Recorder.calls.append(("update", int(origin), int(events.t_end.max())))
        return self

    def predict(self, blocks):
        return np.full((len(blocks), self.grid_.n_cells), self.level)


def test_retrain_every_and_no_leak(events, grid):
    Recorder.calls.clear()
    result = backtest(
        {"stub": Recorder()},
        events,
        grid,
        start="2023-01-02",
        end="2023-04-01",
        step="7D",
        horizon="7D",
        retrain_every=3,
        progress=False,
    )
    kinds = [c[0] for c in Recorder.calls]
    assert kinds == ["fit", "update", "update"] * 4
    for _, origin, latest in Recorder.calls:
        assert latest < origin  # only events before the origin reached the forecaster
    refit = result.scores.groupby("origin")["refit"].first().tolist()
    assert refit == [True, False, False] * 4


def test_riskmodel_update_between_refits(events, grid):
    model = RiskModel(max_iter=5, train_span="60D", random_state=0)
    result = backtest(
        {"risk": model},
        events,
        grid,
        start="2023-06-01",
        end="2023-06-15",
        step="7D",
        horizon="7D",
        retrain_every=2,
        coverages=(0.1,),
        progress=False,
    )
    schedule = ShiftSchedule.every(4, tz=events.tz)
    reference = RiskModel(max_iter=5, train_span="60D", random_state=0, schedule=schedule)
    reference.fit(events.before("2023-06-01"), grid, origin="2023-06-01")
    reference.update(events.before("2023-06-08"), origin="2023-06-08")
    blocks = schedule.horizon("2023-06-08", "7D")
    risk, counts = reference.predict(blocks), count_events(events, grid, blocks)
    last = result.scores.iloc[-1]
    assert not last["refit"]
    assert last["hit_rate"] == hit_rate(risk.sum(0), counts.sum(0), 0.1, area=grid.area_fraction)
    assert last["log_score"] == pytest.approx(poisson_log_score(risk, counts), rel=1e-12)
    assert model.get_params()["schedule"] is None  # the given estimator is not changed


@pytest.mark.slow
def test_loky_two_jobs_identical(events, grid):
    methods = {"naive": NaiveCounts(window_weeks=26), "naive8": NaiveCounts(window_weeks=8)}
    kwargs = dict(start=START, end=END, coverages=COVERAGES, progress=False)
    one = backtest(methods, events, grid, n_jobs=1, **kwargs)
    two = backtest(methods, events, grid, n_jobs=2, **kwargs)
    pd.testing.assert_frame_equal(_scores_only(one.scores), _scores_only(two.scores))
    pd.testing.assert_frame_equal(one.calibration, two.calibration)


def test_dask_cluster_identical(events, grid, serial):
    distributed = pytest.importorskip("distributed")
    methods = {"naive": NaiveCounts(window_weeks=26), "kde": RetrospectiveKDE(bandwidth=500.0)}
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        result = backtest(
            methods,
            events,
            grid,
            start=START,
            end=END,
            coverages=COVERAGES,
            backend="dask",
            progress=False,
        )
    pd.testing.assert_frame_equal(_scores_only(serial.scores), _scores_only(result.scores))


def test_summary_markdown_and_figures(serial):
    summary = serial.summary(coverage=0.1)
    assert list(summary.index) == ["naive", "kde"]
    naive = serial.scores[(serial.scores["method"] == "naive") & (serial.scores["coverage"] == 0.1)]
    assert summary.loc["naive", "hit_rate"] == pytest.approx(naive["hit_rate"].mean())
    assert summary.loc["naive", "hit_rate_low"] <= summary.loc["naive", "hit_rate"]
    assert summary.loc["naive", "hit_rate"] <= summary.loc["naive", "hit_rate_high"]
    text = serial.to_markdown(shifts=False)
    rows = [line for line in text.splitlines() if line.startswith("|")]
    assert len(rows) == 2 + 2 * len(COVERAGES)
    assert "| naive | 10% |" in text
    # baselines: no log score or Brier in the table (a footnote says why), kept in the scores
    assert all(row.split("|")[8:10] == [" - ", " - "] for row in rows[2:])
    assert text.endswith("need expected counts (the risk model and ETAS forecast them).")
    assert np.isfinite(serial.scores["brier"]).all()
    # the per-shift section: a sentence, a blank line, a header, a rule, 2 methods x 2
    # coverages x 6 shifts
    with_shifts = serial.to_markdown()
    assert with_shifts.startswith(text + "\n\n")
    section = with_shifts[len(text) + 2 :]
    assert section.count("\n") == 3 + 2 * len(COVERAGES) * 6
    assert "| naive | 10% | 00-04 |" in section
    import matplotlib.axes

    for plot in (serial.plot_hit_rate, serial.plot_pai, serial.plot_calibration):
        assert isinstance(plot(), matplotlib.axes.Axes)
    with pytest.raises(ValueError, match="was not scored"):
        serial.summary(coverage=0.5)
    assert isinstance(serial, BacktestResult)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start": "2023-07-01", "end": "2023-05-01"}, "not before end"),
        ({"start": "2023-05-01", "end": "2023-05-10"}, "no forecast origin fits"),
        ({"backend": "spark"}, "is not one of"),
        ({"backend": "dask"}, "no(ne| active)"),
        ({"retrain_every": 0}, "positive integer"),
        ({"coverages": (0.0,)}, r"\(0, 1\]"),
        ({"n_jobs": 0}, "non-zero"),
    ],
)
def test_errors(events, grid, kwargs, message):
    base = {"start": START, "end": END, "progress": False}
    with pytest.raises(ValueError, match=message):
        backtest(NaiveCounts(), events, grid, **{**base, **kwargs})


def test_errors_forecaster_and_crs(events, grid):
    with pytest.raises(TypeError, match="predict"):
        backtest({"x": object()}, events, grid, start=START, end=END, progress=False)
    other = Grid.from_area(box(0, 0, 1000, 1000), cell_size=500.0, crs="EPSG:32617")
    with pytest.raises(ValueError, match="CRS mismatch"):
        backtest(NaiveCounts(), events, other, start=START, end=END, progress=False)


def test_summary_of_a_single_origin_has_no_interval(events, grid):
    result = backtest(
        {"naive": NaiveCounts(window_weeks=26)},
        events,
        grid,
        start=START,
        end="2023-05-15",
        step="14D",
        horizon="14D",
        coverages=COVERAGES,
        progress=False,
    )
    summary = result.summary(coverage=0.02)
    assert summary.loc["naive", "n_origins"] == 1
    expected = result.scores.query("coverage == 0.02")["hit_rate"].iloc[0]
    assert summary.loc["naive", "hit_rate"] == expected
    assert np.isnan(summary.loc["naive", "hit_rate_low"])
    assert np.isnan(summary.loc["naive", "hit_rate_high"])
    assert "naive" in result.to_markdown()


# ---------------------------------------------------------------------- per shift of day
class ShiftTable(BaseEstimator):
    """A forecaster whose risk depends only on the block's shift: ``table[shift, cell]``."""

    def __init__(self, table=None):
        self.table = table

    def fit(self, events, grid, *, origin):
        self.origin_ = origin
        return self

    def update(self, events, *, origin):
        self.origin_ = origin
        return self

    def predict(self, blocks):
        return np.asarray(self.table, dtype=float)[blocks.shift]


@pytest.fixture(scope="module")
def two_shift_result():
    """Two 12-hour shifts, 4 cells of 125 m, two one-day origins; every number by hand.

    Cell centres: 0 (62.5, 62.5), 1 (187.5, 62.5), 2 (62.5, 187.5), 3 (187.5, 187.5).
    The forecast puts shift 00-12 on cells 0 and 1 (4 + 1) and shift 12-00 on cell 2 (3):
    per block the hot cell (25 % of 4 cells) is 0 in 00-12 and 2 in 12-00; over the horizon
    (risk 4, 1, 3, 0) it is cell 0.
    """
    rows = [  # time, end, cell
        ("2024-03-11 03:00", "2024-03-11 03:00", 0),
        ("2024-03-11 05:00", "2024-03-11 05:00", 1),
        ("2024-03-11 15:00", "2024-03-11 15:00", 2),
        ("2024-03-11 00:00", "2024-03-11 16:00", 3),  # a window: 12 h in 00-12, 4 h in 12-00
        ("2024-03-12 09:00", "2024-03-12 09:00", 0),
        ("2024-03-12 13:00", "2024-03-12 13:00", 0),
        ("2024-03-12 20:00", "2024-03-12 20:00", 2),
    ]
    centre = {0: (62.5, 62.5), 1: (187.5, 62.5), 2: (62.5, 187.5), 3: (187.5, 187.5)}
    frame = pd.DataFrame(
        {
            "t": [r[0] for r in rows],
            "t_end": [r[1] for r in rows],
            "x": [centre[r[2]][0] for r in rows],
            "y": [centre[r[2]][1] for r in rows],
        }
    )
    events = Events.from_frame(frame, time_end="t_end", crs="EPSG:28992", tz="Europe/Amsterdam")
    grid = Grid.from_area(box(0, 0, 250, 250), cell_size=125.0, crs="EPSG:28992")
    schedule = ShiftSchedule(["00:00", "12:00"], tz="Europe/Amsterdam")
    table = [[4.0, 1.0, 0.0, 0.0], [0.0, 0.0, 3.0, 0.0]]
    return backtest(
        {"fixed": ShiftTable(table)},
        events,
        grid,
        start="2024-03-11",
        end="2024-03-13",
        step="1D",
        horizon="1D",
        schedule=schedule,
        coverages=(0.25,),
        progress=False,
    )


def test_shift_table_exact_times_by_hand(two_shift_result):
    table = two_shift_result.shift_table(0.25).loc["fixed"]
    assert table.index.tolist() == ["00-12", "12-00"]
    assert (table["n_origins"] == 2).all()
    # forecast: 5 of 8 expected events in 00-12 at each origin
    np.testing.assert_allclose(table["forecast_share"], [5 / 8, 3 / 8])
    # exact times: 00-12 holds 2 + 1, 12-00 holds 1 + 2
    np.testing.assert_allclose(table["observed_share"], [0.5, 0.5])
    np.testing.assert_allclose(table["share_ratio"], [1.25, 0.75])
    # 00-12: hot cell 0 per block and over the horizon; day 1 catches 1 of 2, day 2 1 of 1
    np.testing.assert_allclose(table.loc["00-12", ["shift_hit_rate", "blind_hit_rate"]], 0.75)
    assert table.loc["00-12", "gain"] == 0.0
    # 12-00: per block cell 2 catches 1 of 1, then 1 of 2; the horizon's cell 0: 0 of 1, 1 of 2
    assert table.loc["12-00", "shift_hit_rate"] == pytest.approx(0.75)
    assert table.loc["12-00", "blind_hit_rate"] == pytest.approx(0.25)
    assert table.loc["12-00", "gain"] == pytest.approx(0.5)
    # gains 1 and 0 at the two origins: resampled means are 0, 0.5 or 1
    assert (table.loc["12-00", "gain_low"], table.loc["12-00", "gain_high"]) == (0.0, 1.0)


def test_shift_table_aoristic_by_hand(two_shift_result):
    table = two_shift_result.shift_table(0.25, observed="aoristic").loc["fixed"]
    # the window adds 12/16 to 00-12 and 4/16 to 12-00 of day 1: 3.75 against 3.25 of 7
    np.testing.assert_allclose(table["observed_share"], [3.75 / 7, 3.25 / 7])
    # 00-12, day 1: cell 0 holds 1 of 2.75 events; day 2: 1 of 1
    expected = (1 / 2.75 + 1.0) / 2
    assert table.loc["00-12", "shift_hit_rate"] == pytest.approx(expected)
    # 12-00, day 1: cell 2 holds 1 of 1.25; day 2: 1 of 2
    assert table.loc["12-00", "shift_hit_rate"] == pytest.approx((1 / 1.25 + 0.5) / 2)


def test_shift_table_in_markdown_and_refuses_bad_input(two_shift_result):
    text = two_shift_result.to_markdown()
    assert "| fixed | 25% | 12-00 | 0.375 | 0.500 | 0.75 | 0.750 (" in text
    with pytest.raises(ValueError, match="observed must be 'exact' or 'aoristic'"):
        two_shift_result.shift_table(0.25, observed="all")
    with pytest.raises(ValueError, match="coverage=0.03 was not scored"):
        two_shift_result.shift_table(0.03)


def test_coverage_plots_show_means_bands_and_start_at_zero(serial):
    from caslite.evaluation.metrics import bootstrap_interval

    for column, plot in (("hit_rate", serial.plot_hit_rate), ("pai", serial.plot_pai)):
        ax = plot()
        assert ax.get_ylim()[0] == 0  # the axis starts at zero
        styles = set()
        for method in serial.methods:
            (line,) = ax.findobj(lambda a, m=method: a.get_gid() == f"mean-{m}")
            (band,) = ax.findobj(lambda a, m=method: a.get_gid() == f"interval-{m}")
            styles.add((line.get_marker(), line.get_linestyle()))
            assert line.get_markerfacecolor() == "none"  # coinciding markers stay visible
            part = serial.scores[serial.scores["method"] == method]
            vertices = band.get_paths()[0].vertices
            for x, y in zip(*line.get_data(), strict=True):
                values = part.loc[np.isclose(part["coverage"], x / 100), column].dropna()
                assert y == pytest.approx(values.to_numpy().mean())  # the mean over origins
                low, high = bootstrap_interval(values.to_numpy())
                at = vertices[np.isclose(vertices[:, 0], x), 1]
                assert at.min() == pytest.approx(low) and at.max() == pytest.approx(high)
                assert low <= y <= high
                if column == "hit_rate":
                    row = serial.summary(coverage=x / 100)
                    assert (low, high) == pytest.approx(
                        (row.loc[method, "hit_rate_low"], row.loc[method, "hit_rate_high"])
                    )
        assert len(styles) == len(serial.methods)  # every method looks different
        assert "90 % bootstrap interval" in ax.get_legend().get_title().get_text()
