"""Accuracy and calibration of the risk model against the strongest baselines, city by city.

``python -m benchmarks.multicity [--cities toronto stlouis synthetic] [--variants dense thinned]
[--years selection confirmation] [--retrain-every K] [--seed S] [--quick] [--out DIR]``

Cities (residential burglary; 125 m cells; 14-day horizons of 4-hour shifts; 13 origins four
weeks apart from 1 January of each year; every method fitted on the events known before each
origin, :func:`caslite.evaluation.backtest`):

- ``toronto``: the residential rows of ``../shared/data/toronto/burglary.csv`` as
  :func:`benchmarks.accuracy.load_residential` reads them (hour precision; the heaped 00:00 and
  12:00 records as whole days), from 2014 on (the open data start in 2014: the few records
  dated earlier are left out, and counted in the header). Selection year 2018, confirmation
  year 2019 (2020 on is the pandemic).
- ``stlouis``: the residential rows of ``../shared/data/stlouis/burglary.csv`` as
  :func:`benchmarks.shift_profile.stlouis_events` reads them (minute precision; "unknown time"
  records as 24-hour windows from their recorded start), from 2008 on (late reports of
  2001-2007 left out). Selection year 2013, confirmation year 2014 (2015 ends in November).
  House-level locations: its results stay in the (git-ignored) results folder.
- ``synthetic``: :func:`caslite.datasets.simulate_city` (8 km, 15 background burglaries a day,
  branching ratio 0.3, 2019-2023, a quarter of the times heaped at 00:00 / 12:00 and a tenth
  date-only, both given as whole days; seed ``--seed``). Selection year 2022, confirmation
  year 2023.

Each city also ``thinned``: every incident kept with probability ``1000 / (mean incidents per
year over the selection and confirmation years)`` (seeded), about 1,000 a year: a sparse city.
The grid covers the incidents known before the selection year (the synthetic city: its square).

Methods: the risk model (:class:`caslite.RiskModel` defaults, refitted every
``--retrain-every`` origins and moved forward with ``update`` in between) and the baselines:
52-week counts, counts over all history (:class:`caslite.models.strong.LongRunCounts`), a
Gaussian KDE (150 m, 104 weeks), the grid self-exciting model at its 365-day default
(:class:`caslite.models.GridETAS`) and on all history
(:class:`caslite.models.strong.LongRunETAS`), and the blend of long-run counts and the
near-repeat score (:class:`caslite.models.strong.LongRunNearRepeatBlend`). On the synthetic
city, two ceilings, never baselines: the simulator's own expected counts
(:class:`benchmarks.report.TrueIntensity`, times the share kept when thinned), which see the
events inside the horizon too (not a forecast), and the honest ceiling
(:class:`benchmarks.report.HonestCeiling`): the expected counts given the true parameters and
only the events known before the origin, with the expected near repeats of the events still to
come in the horizon, the best forecast the true parameters allow. Thinned, the honest ceiling
sees the kept events only (the thinned-out ones by their mean-field expectation, see
:meth:`caslite.datasets.SyntheticCity.forecast_counts`), and a third row gives the same
forecast from the whole simulated history before the origin, kept or not: a bound above the
exact honest ceiling, which lies between the two. A last row, the background alone
(:class:`benchmarks.report.TrueBackground`), shows how much of the ceiling needs no near
repeats. And the expected hit rates: every method's hot cells scored on the honest ceiling's
expected events (thinned: the bound's), free of the sampling noise of the events.

Per city, variant and year, a table: hit rate and PAI at 1, 3 and 5 % of the area (mean over
origins), the forecast total over the observed events; the best baseline at each coverage
(highest mean hit rate of the baselines in that same table: the hardest reference), the risk
model over it, and the paired difference risk - best with a 90 % bootstrap interval over
origins. Calibration: each method's predicted events per horizon summed over the year against
the observed (within 15 % is the target for the risk model), and a reliability curve of the
risk model and the best baseline at 3 %: the cell-horizons binned by predicted events,
mean predicted against mean observed per bin (table, and a figure ``reliability-*.png``); the
best baseline here is the best of those that forecast expected events (the 52-week counts and
the KDE only rank cells).

Writes ``multicity.md`` (all tables), ``scores-*.csv`` and ``reliability-*.csv`` per city,
variant and year to ``--out`` (default ``benchmarks/results-multicity``, git-ignored), and
prints the CPU seconds of the run. ``--quick``: a small synthetic city, one origin of the
confirmation year, for the tests.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from shapely.geometry import box
from sklearn.base import BaseEstimator, clone

from benchmarks.paired import paired_interval
from benchmarks.report import HonestCeiling, TrueBackground, TrueIntensity
from caslite import Events, Grid, RiskModel, ShiftSchedule
from caslite.datasets import simulate_city
from caslite.evaluation import backtest, count_events
from caslite.models import GridETAS, NaiveCounts, RetrospectiveKDE
from caslite.models.strong import LongRunCounts, LongRunETAS, LongRunNearRepeatBlend

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data"
COVERAGES = (0.01, 0.03, 0.05)
RISK = "risk model (defaults)"
#: baselines whose scores rank cells but are not expected events (no calibration for them)
RANKINGS = ("counts, 52 weeks", "KDE 150 m, 104 weeks")
#: the simulator's own expected counts: a bound on the synthetic city, not a baseline
CEILING = "true intensity (ceiling, not a baseline)"
#: the best forecast from the origin the true parameters allow: a bound, not a baseline
HONEST = "honest ceiling: true parameters, events before the origin only"
#: thinned: the same from every simulated event before the origin, also those thinned out
HONEST_ALL = "honest ceiling from the unthinned history (bound)"
#: the background alone: how much of the honest ceiling needs no near repeats (a reference)
BACKGROUND = "true background only, no near repeats (a reference)"
CEILINGS = (CEILING, HONEST, HONEST_ALL, BACKGROUND)
CALIBRATION_TOLERANCE = 0.15
#: bin edges of predicted events per cell and horizon for the reliability curve
RELIABILITY_EDGES = np.concatenate([[0.0], np.geomspace(1e-3, 10.0, 13), [np.inf]])


@dataclass
class City:
    """A city of the benchmark: its events, grid, time zone and years."""

    name: str
    events: Events
    grid: Grid
    tz: str
    selection: int
    confirmation: int
    note: str
    simulated: object = None  # the SyntheticCity, for the ceiling
    scale: float = 1.0  # share of the simulated events kept (thinning)


# ---------------------------------------------------------------------- recording forecasts
_TOTALS: dict = {}  # (run, method, origin) -> predicted events per cell over the horizon


class Recorded(BaseEstimator):
    """A forecaster whose horizon totals per cell are kept (for the reliability curve).

    ``backtest`` runs serially here (``n_jobs=1``), so the totals land in this process.
    """

    def __init__(self, *, model, name, run):
        self.model = model
        self.name = name
        self.run = run

    def fit(self, events, grid, *, origin):
        self.model_ = clone(self.model).fit(events, grid, origin=origin)
        return self

    @property
    def update(self):
        """The wrapped model's ``update`` (an AttributeError if it has none)."""
        if not callable(getattr(self.model, "update", None)):
            raise AttributeError(f"{type(self.model).__name__} has no update")
        return self._update

    def _update(self, events, *, origin):
        self.model_.update(events, origin=origin)
        return self

    def predict(self, blocks):
        risk = self.model_.predict(blocks)
        _TOTALS[(self.run, self.name, int(blocks.start[0]))] = np.asarray(risk).sum(axis=0)
        return risk


class ScaledTrueIntensity(TrueIntensity):
    """The simulator's expected counts times ``scale`` (the share kept by thinning)."""

    def __init__(self, *, city=None, scale=1.0):
        super().__init__(city=city)
        self.scale = scale

    def predict(self, blocks):
        return self.scale * super().predict(blocks)


def methods(schedule, random_state: int, quick: bool = False) -> dict:
    """The forecasters compared, by name; the risk model first."""
    risk = RiskModel(schedule=schedule, random_state=random_state)
    if quick:
        risk.set_params(max_negatives=20_000, max_iter=20, train_span="364D")
    return {
        RISK: risk,
        "counts, 52 weeks": NaiveCounts(window_weeks=52),
        "counts, all history": LongRunCounts(),
        "KDE 150 m, 104 weeks": RetrospectiveKDE(bandwidth=150.0, window_weeks=104),
        "grid ETAS, 365 days": GridETAS(),
        "grid ETAS, all history": LongRunETAS(),
        "blend: long-run counts + near-repeat": LongRunNearRepeatBlend(),
    }


# ---------------------------------------------------------------------- cities
def _from(events: Events, start: str) -> tuple[Events, int]:
    keep = events.t >= int(pd.Timestamp(start, tz=events.tz).timestamp())
    return events.select(keep), int((~keep).sum())


def toronto() -> City | None:
    from benchmarks.accuracy import DEFAULT_DATA, TZ, load_residential

    if not DEFAULT_DATA.exists():
        return None
    events, dropped = _from(load_residential(DEFAULT_DATA, "window"), "2014-01-01")
    grid = Grid.from_events(events.before(pd.Timestamp("2018-01-01", tz=TZ)), cell_size=125.0)
    note = f"{len(events)} residential break-and-enters from 2014 ({dropped} earlier left out)"
    return City("toronto", events, grid, TZ, 2018, 2019, note)


def stlouis() -> City | None:
    from benchmarks.shift_profile import stlouis_events

    path = SHARED / "stlouis" / "burglary.csv"
    if not path.exists():
        return None
    events, tz = stlouis_events(path)
    events, dropped = _from(events, "2008-01-01")
    grid = Grid.from_events(events.before(pd.Timestamp("2013-01-01", tz=tz)), cell_size=125.0)
    windows = int(np.count_nonzero(events.t_end > events.t))
    note = (
        f"{len(events)} residential burglaries from 2008 ({dropped} dated earlier left out; "
        f"{windows} with a time window)"
    )
    return City("stlouis", events, grid, tz, 2013, 2014, note)


def synthetic(seed: int, quick: bool = False) -> City:
    from benchmarks.shift_profile import whole_days

    sim = simulate_city(
        start="2021-01-01" if quick else "2019-01-01",
        end="2024-01-01",
        size=2000.0 if quick else 8000.0,
        background_rate=4.0 if quick else 15.0,
        heaped_share=0.25,
        heap_times=("00:00", "12:00"),
        date_only_share=0.1,
        random_state=seed,
    )
    frame = whole_days(sim.events, sim.events["recording"] != "exact", sim.tz)
    events = Events.from_frame(
        frame[["t", "t_end", "x", "y"]], time_end="t_end", crs=sim.crs, tz=sim.tz
    )
    grid = Grid.from_area(box(*sim.bounds), cell_size=125.0, crs=sim.crs)
    note = f"{len(events)} simulated burglaries (seed {seed}), {sim.bounds[2] - sim.bounds[0]:g} m"
    return City("synthetic", events, grid, sim.tz, 2022, 2023, note, simulated=sim)


def thinned(city: City, seed: int, per_year: float = 1000.0) -> City:
    """The city with each incident kept at random so that about ``per_year`` a year remain."""
    per = []
    for year in (city.selection, city.confirmation):
        start = int(pd.Timestamp(f"{year}-01-01", tz=city.tz).timestamp())
        end = int(pd.Timestamp(f"{year + 1}-01-01", tz=city.tz).timestamp())
        per.append(np.count_nonzero((city.events.t >= start) & (city.events.t < end)))
    keep_share = min(1.0, per_year / float(np.mean(per)))
    rng = np.random.default_rng(seed)
    keep = rng.random(len(city.events)) < keep_share
    note = f"{city.note}, thinned: {int(keep.sum())} kept (share {keep_share:.3f}, seed {seed})"
    return City(
        city.name, city.events.select(keep), city.grid, city.tz, city.selection,
        city.confirmation, note, city.simulated, city.scale * keep_share,
    )  # fmt: skip


# ---------------------------------------------------------------------- one table
def run_year(city: City, variant: str, year: int, args) -> dict:
    """Backtest every method on one city, variant and year; return scores and calibration."""
    schedule = ShiftSchedule.every(4, tz=city.tz)
    run = f"{city.name}-{variant}-{year}"
    models = {
        name: Recorded(model=model, name=name, run=run)
        for name, model in methods(schedule, args.seed, args.quick).items()
    }
    if city.simulated is not None:
        ceiling = ScaledTrueIntensity(city=city.simulated, scale=city.scale)
        models[CEILING] = Recorded(model=ceiling, name=CEILING, run=run)
        kept = np.zeros(len(city.simulated.events), dtype=bool)
        kept[city.events.data.index.to_numpy()] = True  # the simulated rows of the events
        honest = HonestCeiling(city=city.simulated, observed=kept, keep_share=city.scale)
        models[HONEST] = Recorded(model=honest, name=HONEST, run=run)
        if city.scale < 1.0:
            bound = HonestCeiling(city=city.simulated, keep_share=city.scale, history="all")
            models[HONEST_ALL] = Recorded(model=bound, name=HONEST_ALL, run=run)
        background = TrueBackground(city=city.simulated, keep_share=city.scale)
        models[BACKGROUND] = Recorded(model=background, name=BACKGROUND, run=run)
    start = pd.Timestamp(f"{year}-01-01")
    end = start + pd.Timedelta(days=28 * (args.origins - 1) + 14)
    cpu = time.process_time()
    result = backtest(
        models,
        city.events,
        city.grid,
        start=str(start.date()),
        end=str(end.date()),
        step="28D",
        horizon="14D",
        schedule=schedule,
        retrain_every=args.retrain_every,
        coverages=COVERAGES,
        progress=False,
    )
    cpu = time.process_time() - cpu
    # observed events per cell and horizon, and the recorded predictions
    rows = []
    for origin in result.params["origins"]:
        blocks = schedule.horizon(origin, "14D")
        observed = count_events(city.events, city.grid, blocks).sum(axis=0)
        for name in models:
            predicted = _TOTALS.pop((run, name, int(blocks.start[0])))
            rows.append((name, origin, predicted, observed))
    return {
        "run": run,
        "scores": result.scores,
        "totals": rows,
        "cpu": cpu,
        "fit_seconds": result.scores.groupby("method", sort=False)["fit_seconds"].mean(),
    }


def best_baselines(scores: pd.DataFrame, counts_only: bool = False) -> dict:
    """At each coverage, the baseline with the highest mean hit rate over origins.

    With ``counts_only``, only the baselines that forecast expected events.
    """
    baselines = scores[~scores["method"].isin([RISK, *CEILINGS])]
    if counts_only:
        baselines = baselines[~baselines["method"].isin(RANKINGS)]
    means = baselines.groupby(["coverage", "method"], sort=False)["hit_rate"].mean()
    return {c: means.loc[c].idxmax() for c in COVERAGES}


def calibration(totals) -> pd.DataFrame:
    """Per method: predicted and observed events over all horizons, and their ratio."""
    frame = pd.DataFrame(
        [(name, p.sum(), o.sum()) for name, _, p, o in totals],
        columns=["method", "predicted", "observed"],
    )
    out = frame.groupby("method", sort=False).sum()
    out["ratio"] = out["predicted"] / out["observed"]
    return out


def reliability(totals, method: str) -> pd.DataFrame:
    """Cell-horizons of ``method`` binned by predicted events: mean predicted and observed."""
    predicted = np.concatenate([p for name, _, p, _ in totals if name == method])
    observed = np.concatenate([o for name, _, _, o in totals if name == method])
    which = np.digitize(predicted, RELIABILITY_EDGES[1:-1])
    n = np.bincount(which, minlength=len(RELIABILITY_EDGES) - 1)
    sum_p = np.bincount(which, predicted, minlength=len(RELIABILITY_EDGES) - 1)
    sum_o = np.bincount(which, observed, minlength=len(RELIABILITY_EDGES) - 1)
    frame = pd.DataFrame(
        {
            "method": method,
            "bin_low": RELIABILITY_EDGES[:-1],
            "bin_high": RELIABILITY_EDGES[1:],
            "n": n,
            "mean_predicted": sum_p / np.maximum(n, 1),
            "mean_observed": sum_o / np.maximum(n, 1),
        }
    )
    return frame[frame["n"] > 0].reset_index(drop=True)


def expected_hit_rates(totals, reference: str, area) -> pd.DataFrame:
    """Each method's hit rate in expectation under ``reference``'s expected counts.

    Per origin, the cells a method ranks highest (horizon totals, ranked as the backtest does:
    :func:`caslite.evaluation.metrics.hit_rate`) are scored on the reference's expected
    events instead of the observed ones: ``sum of E[N] over the hot cells / sum of E[N]``.
    When the reference is the expectation given all that any method knows at the origin, this
    is each method's expected hits over expected events, free of the sampling noise of the
    events themselves; a mean over origins. The rows: every method but the reference and the
    true intensity (which sees the horizon).
    """
    from caslite.evaluation.metrics import hit_rate

    truth = {origin: p for name, origin, p, _ in totals if name == reference}
    rows = []
    for name, origin, predicted, _ in totals:
        if name in (reference, CEILING):
            continue
        for c in COVERAGES:
            rows.append((name, c, hit_rate(predicted, truth[origin], c, area=area)))
    for expected in truth.values():
        for c in COVERAGES:
            rows.append((reference, c, hit_rate(expected, expected, c, area=area)))
    frame = pd.DataFrame(rows, columns=["method", "coverage", "expected_hit_rate"])
    return frame.groupby(["method", "coverage"], sort=False)["expected_hit_rate"].mean()


def expected_markdown(totals, reference: str, area) -> str:
    """The expected hit rates under ``reference``, and each ceiling over the best baseline."""
    means = expected_hit_rates(totals, reference, area)
    methods = list(dict.fromkeys(means.index.get_level_values("method")))
    baselines = [m for m in methods if m not in (RISK, *CEILINGS)]
    lines = [
        f"Expected hit rates (the hot cells of each method scored on the expected events of "
        f'"{reference}", mean over origins; no sampling noise of the events):',
        "",
        "| method | E-HR 1% | E-HR 3% | E-HR 5% | over the best baseline (1 / 3 / 5 %) |",
        "|---|---|---|---|---|",
    ]
    best = {c: max(baselines, key=lambda m, c=c: means.loc[(m, c)]) for c in COVERAGES}
    for name in methods:
        hr = [means.loc[(name, c)] for c in COVERAGES]
        ratio = " / ".join(
            f"{means.loc[(name, c)] / means.loc[(best[c], c)]:.3f}" for c in COVERAGES
        )
        lines.append(f"| {name} | " + " | ".join(f"{h:.4f}" for h in hr) + f" | {ratio} |")
    lines += ["", "Best baseline in expectation: " + ", ".join(
        f"{c:.0%} {best[c]}" for c in COVERAGES
    ) + ".", ""]  # fmt: skip
    return "\n".join(lines)


def _paired_row(scores: pd.DataFrame, method: str, base_name: str, coverage: float, rng) -> str:
    """One row: the best baseline's hit rate, the method's, their ratio and paired interval."""
    at = scores[np.isclose(scores["coverage"], coverage)].set_index("origin")
    mine = at.loc[at["method"] == method, "hit_rate"]
    base = at.loc[at["method"] == base_name, "hit_rate"].reindex(mine.index)
    diff = (mine - base).to_numpy()
    lo, hi = paired_interval(diff, rng)
    return (
        f"| {coverage:.0%} | {base_name} | {base.mean():.3f} | {mine.mean():.3f} "
        f"| {mine.mean() / base.mean():.2f} | {diff.mean():+.3f} ({lo:+.3f} to {hi:+.3f}) |"
    )


def table(city: City, variant: str, year: int, role: str, done: dict, retrain_every: int) -> str:
    """The markdown of one city, variant and year."""
    scores = done["scores"]
    rng = np.random.default_rng(0)
    calib = calibration(done["totals"])
    n_origins = scores["origin"].nunique()
    n_events = scores.groupby("origin")["events"].first().sum()
    lines = [
        f"### {city.name}, {variant}, {year} ({role} year)",
        "",
        f"{city.note}; {city.grid.n_cells} cells of 125 m; {n_origins} origins four weeks apart, "
        f"14-day horizons; {n_events:.0f} events scored; risk model refitted every "
        f"{retrain_every} origins; CPU {done['cpu']:.0f} s.",
        "",
        "| method | HR 1% | HR 3% | HR 5% | PAI 1% | PAI 3% | PAI 5% | forecast / observed "
        "| fit s (wall) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    means = scores.groupby(["method", "coverage"], sort=False)[["hit_rate", "pai"]].mean()
    for name in scores["method"].unique():
        hr = [means.loc[(name, c), "hit_rate"] for c in COVERAGES]
        ratio = "- (a ranking)" if name in RANKINGS else f"{calib.loc[name, 'ratio']:.3f}"
        pai = [means.loc[(name, c), "pai"] for c in COVERAGES]
        lines.append(
            f"| {name} | "
            + " | ".join(f"{h:.3f}" for h in hr)
            + " | "
            + " | ".join(f"{p:.1f}" for p in pai)
            + f" | {ratio} | {done['fit_seconds'][name]:.1f} |"
        )
    best = best_baselines(scores)
    lines += [
        "",
        "| coverage | best baseline | its HR | risk HR | risk / best | risk - best (90% CI) |",
        "|---|---|---|---|---|---|",
    ]
    for c in COVERAGES:
        lines.append(_paired_row(scores, RISK, best[c], c, rng))
    ceilings = [name for name in CEILINGS if name in set(scores["method"])]
    if ceilings:
        lines += [
            "",
            "| coverage | ceiling or reference | best baseline | its HR | its HR (this row) "
            "| this / best | this - best (90% CI) |",
            "|---|---|---|---|---|---|---|",
        ]
        for name in ceilings:
            for c in COVERAGES:
                row = _paired_row(scores, name, best[c], c, rng)
                lines.append(f"| {c:.0%} | {name} |" + row.split("|", 2)[2])
    reference = HONEST_ALL if HONEST_ALL in set(scores["method"]) else HONEST
    if reference in set(scores["method"]):
        area = np.asarray(city.grid.area_fraction)
        lines += ["", expected_markdown(done["totals"], reference, area)]
    ratio = calib.loc[RISK, "ratio"]
    ok = "yes" if abs(ratio - 1.0) <= CALIBRATION_TOLERANCE else "no"
    lines += [
        "",
        f"Calibration: the risk model predicted {calib.loc[RISK, 'predicted']:.0f} events over "
        f"the {n_origins} horizons, {calib.loc[RISK, 'observed']:.0f} observed (ratio "
        f"{ratio:.3f}; within 15 %: {ok}).",
        "",
    ]
    return "\n".join(lines)


def reliability_markdown(curves: pd.DataFrame) -> str:
    lines = [
        "| method | predicted events per cell-horizon | cell-horizons | mean predicted "
        "| mean observed | observed / predicted |",
        "|---|---|---|---|---|---|",
    ]
    for row in curves.itertuples():
        ratio = row.mean_observed / row.mean_predicted if row.mean_predicted > 0 else np.nan
        lines.append(
            f"| {row.method} | {row.bin_low:.3g}-{row.bin_high:.3g} | {row.n} "
            f"| {row.mean_predicted:.4f} | {row.mean_observed:.4f} | {ratio:.2f} |"
        )
    return "\n".join(lines)


def plot_reliability(curves: dict, path: Path) -> None:
    """One panel per run: mean observed against mean predicted per bin, log-log."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(curves), figsize=(4.2 * len(curves), 4), squeeze=False)
    for ax, (run, frame) in zip(axes[0], curves.items(), strict=True):
        for method, one in frame.groupby("method", sort=False):
            one = one[(one["mean_predicted"] > 0) & (one["mean_observed"] > 0)]
            ax.plot(one["mean_predicted"], one["mean_observed"], "o-", label=method)
        lims = [1e-3, 10.0]
        ax.plot(lims, lims, "k:", lw=1)
        ax.set(xscale="log", yscale="log", xlim=lims, ylim=lims, title=run)
        ax.set_xlabel("predicted events per cell and horizon")
        ax.set_ylabel("observed (mean per bin)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------------- main
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.multicity", description=__doc__)
    parser.add_argument(
        "--cities", nargs="+", choices=["toronto", "stlouis", "synthetic"],
        default=["toronto", "stlouis", "synthetic"],
    )  # fmt: skip
    parser.add_argument("--variants", nargs="+", choices=["dense", "thinned"],
                        default=["dense", "thinned"])  # fmt: skip
    parser.add_argument("--years", nargs="+", choices=["selection", "confirmation"],
                        default=["selection", "confirmation"])  # fmt: skip
    parser.add_argument("--origins", type=int, default=13, help="origins per year (13)")
    parser.add_argument(
        "--retrain-every", type=int, default=13,
        help="refit the risk model every K origins, RiskModel.update in between (13: once a year)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="thinning, simulation, risk model")
    parser.add_argument(
        "--quick", action="store_true", help="a small synthetic city, 1 origin, 1 year"
    )
    parser.add_argument("--out", type=Path, default=HERE / "results-multicity")
    args = parser.parse_args(argv)
    if args.quick:
        args.cities, args.origins, args.years = ["synthetic"], 1, ["confirmation"]
    args.out.mkdir(parents=True, exist_ok=True)
    cpu_start = time.process_time()
    sections = []
    for name in args.cities:
        city = synthetic(args.seed, args.quick) if name == "synthetic" else globals()[name]()
        if city is None:
            sections.append(f"### {name}\n\nno data file under {SHARED}; skipped.\n")
            print(f"{name}: no data; skipped", file=sys.stderr)
            continue
        for variant in args.variants:
            one = city if variant == "dense" else thinned(city, args.seed)
            curves = {}
            for role in args.years:
                year = one.selection if role == "selection" else one.confirmation
                print(f"{name} {variant} {year} ({role}) ...", file=sys.stderr, flush=True)
                done = run_year(one, variant, year, args)
                text = table(one, variant, year, role, done, args.retrain_every)
                best = best_baselines(done["scores"], counts_only=True)[0.03]
                curve = pd.concat([reliability(done["totals"], m) for m in (RISK, best)])
                curves[done["run"]] = curve
                done["scores"].to_csv(args.out / f"scores-{done['run']}.csv", index=False)
                curve.to_csv(args.out / f"reliability-{done['run']}.csv", index=False)
                text += "\nReliability (cell-horizons binned by predicted events):\n\n"
                text += reliability_markdown(curve) + "\n"
                sections.append(text)
                print(text, flush=True)
            plot_reliability(curves, args.out / f"reliability-{name}-{variant}.png")
    cpu = time.process_time() - cpu_start
    header = (
        f"# Multi-city accuracy and calibration\n\n`python -m benchmarks.multicity "
        f"{' '.join(argv if argv is not None else sys.argv[1:])}`; CPU {cpu:.0f} s "
        "(this process).\n\n"
    )
    (args.out / "multicity.md").write_text(header + "\n".join(sections))
    print(f"CPU seconds: {cpu:.0f}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
