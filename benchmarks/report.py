"""The research report: every method on the same data, with the same metrics, by rolling origin.

``python -m benchmarks.report [--data PATH] [--year 2019] [--out DIR] [--n-jobs 2] [--quick]``

Three parts, each a rolling-origin backtest (:func:`caslite.evaluation.backtest.backtest`:
origins every 14 days through the year, a 14-day horizon of 4-hour shifts, every method fitted
only on the incidents known before each origin):

1. **Toronto**: residential break-and-enters of ``../shared/data/toronto/burglary.csv``
   (House and Apartment; exact duplicates dropped and counted, as
   :func:`benchmarks.accuracy.load_residential` loads them), 125 m cells over the hull of the
   incidents known before the first origin. The baselines (and the self-exciting model) run
   together and are timed as one run; the risk model is refitted every ``--retrain-every``
   origins and moved forward with :meth:`caslite.RiskModel.update` in between.
2. **Synthetic city** (:func:`caslite.datasets.simulate_city`, fixed seed): the same methods
   and the simulator's true expected counts as a ceiling ("true intensity").
3. **Sensitivity** (Toronto): the hit rate at 3 % of the methods on the grid shifted by half a
   cell, and with 100 m and 150 m cells.

Writes ``report.md`` (the tables), ``scores.csv`` (one row per part, method, origin and
coverage) and figures (hit rate and PAI by coverage, calibration) to ``--out`` (default
``benchmarks/results-report``, git-ignored). ``--quick`` runs 4 origins, the shipped Toronto
sample and a small city: a check that the report works, in about a minute; its numbers mean
little.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from shapely.geometry import box
from sklearn.base import BaseEstimator

from benchmarks.accuracy import DEFAULT_DATA, load_residential
from caslite import Events, Grid, ShiftSchedule
from caslite.datasets import load_sample, simulate_city
from caslite.evaluation.backtest import backtest
from caslite.models import RiskModel
from caslite.models.registry import available_forecasters, get_forecaster, make_forecaster

HERE = Path(__file__).resolve().parent
COVERAGES = (0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2)
TABLE_COVERAGES = (0.01, 0.03, 0.05)
SENSITIVITY_COVERAGE = 0.03
SYNTHETIC_SEED = 20261202
#: Methods whose ``predict`` is an expected number of events per block and cell: only their
#: log score and Brier score are shown (the other baselines return ranking scores, such as a
#: year's counts, which are not forecasts of a block's count).
EXPECTED_COUNTS = (
    *(
        get_forecaster(name).label
        for name in available_forecasters()
        if get_forecaster(name).expected_counts
    ),
    "true intensity (ceiling)",
)
TABLE_NOTE = (
    "Log score (mean Poisson log-likelihood per cell-block, higher is better) and Brier score "
    "(of P(at least one) per cell-block) only for methods that forecast expected counts; the "
    "other baselines rank cells by scores that are not counts per block. -inf: a cell with an "
    "event in the horizon was given zero risk. PEI* compares with the best cells in hindsight "
    "of the same area; near-hit counts events in a hot cell or one of its 8 neighbours."
)

logger = logging.getLogger("benchmarks.report")


class TrueIntensity(BaseEstimator):
    """The simulator's expected counts per block and cell: the ceiling on the synthetic city.

    It sees the whole simulated history (including events inside the horizon, which trigger
    near repeats there), so no forecaster from the origin can match it; it is a bound, not a
    method. :class:`HonestCeiling` is the best forecast from the origin itself.
    """

    def __init__(self, *, city=None):
        self.city = city

    def fit(self, events, grid, *, origin):
        """Keep the grid (the truth needs no fitting)."""
        self.grid_ = grid
        return self

    def predict(self, blocks):
        """Exact expected events per block and cell of the simulated process."""
        half = self.grid_.cell_size / 2
        return self.city.expected_counts(
            self.grid_.x - half, self.grid_.y - half, self.grid_.cell_size, blocks.start, blocks.end
        )


class HonestCeiling(BaseEstimator):
    """The best forecast from the origin that the simulator's true parameters allow.

    ``E[events per block and cell | the events known before the origin]``
    (:meth:`caslite.datasets.SyntheticCity.forecast_counts`): the kernels of the known events,
    the background, and the expected near repeats of the events still to come inside the
    horizon. Ranking cells by it maximises the expected hits, so its hit rate bounds what a
    forecast can achieve on the synthetic city (up to the approximation stated there for a
    thinned city). It uses the simulated instants of the observed events before the origin,
    also those whose recorded time is only a day that ends at the origin (which a backtest
    withholds until the day has passed): a few events of the last day per origin, more than a
    forecaster knows, as befits a bound.

    Parameters
    ----------
    city : SyntheticCity
        The simulated city.
    observed : array-like of bool, optional
        Which rows of ``city.events`` a forecaster sees (the kept ones of a thinned city);
        default all.
    keep_share : float, default 1.0
        Probability with which each simulated event was kept (a thinned city); the forecast is
        of the kept events.
    history : {"observed", "all"}, default "observed"
        ``"observed"``: the honest ceiling; ``"all"``: from every simulated event before the
        origin, also those thinned out, which no forecaster sees (a bound above the honest
        ceiling of a thinned city).
    """

    def __init__(self, *, city=None, observed=None, keep_share=1.0, history="observed"):
        self.city = city
        self.observed = observed
        self.keep_share = keep_share
        self.history = history

    def fit(self, events, grid, *, origin):
        """Keep the grid and the origin (the truth needs no fitting)."""
        if self.history not in ("observed", "all"):
            raise ValueError(f"history must be 'observed' or 'all', got {self.history!r}.")
        self.grid_ = grid
        self.origin_ = origin
        return self

    def predict(self, blocks):
        """Expected (kept) events per block and cell given the history before the origin."""
        half = self.grid_.cell_size / 2
        if self.history == "all":
            observed, share, scale = None, 1.0, self.keep_share
        else:
            observed, share, scale = self.observed, self.keep_share, 1.0
        return scale * self.city.forecast_counts(
            self.grid_.x - half,
            self.grid_.y - half,
            self.grid_.cell_size,
            blocks.start,
            blocks.end,
            origin=self.origin_,
            observed=observed,
            keep_share=share,
        )


class TrueBackground(BaseEstimator):
    """The simulator's background alone (no near repeats), times the share kept: a reference.

    It shows how much of the honest ceiling the background explains, that is how much a
    forecast can gain on the synthetic city from near repeats at all.
    """

    def __init__(self, *, city=None, keep_share=1.0):
        self.city = city
        self.keep_share = keep_share

    def fit(self, events, grid, *, origin):
        """Keep the grid (the truth needs no fitting)."""
        self.grid_ = grid
        return self

    def predict(self, blocks):
        """Expected background events per block and cell."""
        half = self.grid_.cell_size / 2
        return self.keep_share * self.city.background_counts(
            self.grid_.x - half, self.grid_.y - half, self.grid_.cell_size, blocks.start, blocks.end
        )


def baselines(random_state: int = 0) -> dict:
    """The baselines compared with the risk model, by label: every registered baseline.

    ``random_state`` goes to those that take one (none of today's), so that a run repeats.
    """
    return {
        get_forecaster(name).label: make_forecaster(name, random_state=random_state)
        for name in available_forecasters(baseline=True)
    }


def risk_model(quick: bool, random_state: int = 0) -> dict:
    """The risk model with its defaults (smaller and quicker with ``--quick``)."""
    if quick:
        return {"RiskModel": RiskModel(max_iter=20, train_span="365D", random_state=random_state)}
    return {"RiskModel": RiskModel(random_state=random_state)}


def run_part(name, events, grid, methods, *, start, end, retrain_every, n_jobs, timed=None):
    """Backtest ``methods`` on one data set; the baselines and the risk model run separately.

    Returns the tidy scores with a ``part`` column, the calibration table and the wall-clock
    seconds of each run (key: ``"baselines"`` or the method name).
    """
    schedule = ShiftSchedule.every(4, tz=events.tz)
    scores, calibration, seconds = [], [], {}
    groups = timed or {"all": methods}
    for label, group in groups.items():
        logger.info("%s: backtest of %s", name, ", ".join(group))
        begin = time.perf_counter()
        result = backtest(
            group,
            events,
            grid,
            start=start,
            end=end,
            step="14D",
            horizon="14D",
            schedule=schedule,
            retrain_every=retrain_every,
            coverages=COVERAGES,
            n_jobs=n_jobs,
        )
        seconds[label] = time.perf_counter() - begin
        scores.append(result.scores.assign(part=name))
        calibration.append(result.calibration.assign(part=name))
    return pd.concat(scores, ignore_index=True), pd.concat(calibration, ignore_index=True), seconds


def summary_table(scores: pd.DataFrame, seconds_per_method: dict) -> str:
    """Markdown: hit rate (90 % interval over origins), PAI, PEI*, per-shift and near hits."""
    from caslite.evaluation.metrics import bootstrap_interval

    lines = [
        "| method | HR 1% | HR 3% (90% CI) | HR 5% | PAI 1% | PAI 3% | PAI 5% | PEI* 3% "
        "| per-shift HR 3% | near-hit 3% | log score | Brier | s per origin |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for method, group in scores.groupby("method", sort=False):
        by = {c: g for c, g in group.groupby("coverage")}
        hr = {c: by[c]["hit_rate"].to_numpy() for c in TABLE_COVERAGES}
        lo, hi = bootstrap_interval(hr[0.03], confidence=0.9, random_state=0)
        at3 = by[0.03]
        seconds = seconds_per_method.get(method)
        lines.append(
            f"| {method} | {hr[0.01].mean():.3f} | {hr[0.03].mean():.3f} ({lo:.3f}-{hi:.3f}) "
            f"| {hr[0.05].mean():.3f} | "
            + " | ".join(f"{by[c]['pai'].mean():.1f}" for c in TABLE_COVERAGES)
            + f" | {at3['pei_star'].mean():.3f} | {at3['shift_hit_rate'].mean():.3f}"
            f" | {at3['near_hit_rate'].mean():.3f} | "
            + (
                f"{at3['log_score'].mean():.4f} | {at3['brier'].mean():.6f}"
                if method in EXPECTED_COUNTS
                else "- | -"
            )
            + " | "
            + ("-" if seconds is None else f"{seconds:.1f}")
            + " |"
        )
    return "\n".join(lines) + "\n\n" + TABLE_NOTE


def per_method_seconds(scores: pd.DataFrame) -> dict:
    """Mean fit + predict seconds per origin, by method."""
    per_origin = scores.drop_duplicates(["method", "origin"])
    total = per_origin["fit_seconds"] + per_origin["predict_seconds"]
    return total.groupby(per_origin["method"], sort=False).mean().to_dict()


def figures(scores: pd.DataFrame, calibration: pd.DataFrame, part: str, out: Path) -> list:
    """Hit rate and PAI by coverage, and the pooled reliability curve, as PNG files."""
    paths = []
    part_scores = scores[scores["part"] == part]
    mean = part_scores.groupby(["method", "coverage"], sort=False)[["hit_rate", "pai"]].mean()
    slug = part.lower().replace(" ", "-")
    for column, label in (("hit_rate", "hit rate"), ("pai", "PAI")):
        fig, ax = plt.subplots(figsize=(6.5, 4.5))
        for method, values in mean[column].groupby(level="method", sort=False):
            coverage = values.index.get_level_values("coverage")
            ax.plot(coverage * 100, values.to_numpy(), marker="o", label=method)
        ax.set_xscale("log")
        ax.set_xticks([c * 100 for c in COVERAGES], [f"{c * 100:g}" for c in COVERAGES])
        ax.minorticks_off()
        ax.set_xlabel("coverage (% of the area)")
        ax.set_ylabel(f"{label} (mean over origins)")
        ax.set_title(f"{part}: {label} by coverage")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
        path = out / f"{slug}-{column.replace('_', '-')}.png"
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)
        paths.append(path)
    cal = calibration[calibration["part"] == part]
    pooled = cal.groupby(["method", "bin_low", "bin_high"], sort=False)[
        ["n", "sum_predicted", "sum_observed"]
    ].sum()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for method, rows in pooled.groupby(level="method", sort=False):
        if method not in EXPECTED_COUNTS:  # ranking scores: no probability to calibrate
            continue
        rows = rows[rows["n"] > 0]
        predicted = rows["sum_predicted"] / rows["n"]
        observed = rows["sum_observed"] / rows["n"]
        keep = (predicted > 0) & (observed > 0)
        ax.plot(predicted[keep], observed[keep], marker="o", label=method)
    if len(pooled):
        low = max(float((pooled["sum_predicted"] / pooled["n"]).min()), 1e-6)
        ax.plot([low, 1], [low, 1], color="grey", linestyle="--", label="perfect calibration")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("predicted P(at least one) per cell and shift")
    ax.set_ylabel("observed frequency")
    ax.set_title(f"{part}: calibration (pooled over origins)")
    ax.legend(fontsize=7)
    path = out / f"{slug}-calibration.png"
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    paths.append(path)
    return paths


def toronto_events(data: Path, quick: bool) -> Events:
    """The Toronto residential incidents (the shipped sample with ``--quick``)."""
    if quick:
        sample = load_sample("toronto")
        frame = sample.frame[sample.frame["premises_type"].isin(["House", "Apartment"])]
        return Events.from_frame(
            frame,
            time=sample.time,
            x=sample.x,
            y=sample.y,
            crs=sample.crs,
            tz=sample.tz,
            nonexistent="shift_forward",
            ambiguous="earliest",
            duplicates="drop",
            duplicate_columns=["premises_type"],
        )
    return load_residential(data)


def period(year: int, quick: bool, tz: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Start and end of the backtest: the year (or its first 8 weeks with ``--quick``)."""
    start = pd.Timestamp(f"{year}-01-01", tz=tz)
    end = start + pd.Timedelta(days=56) if quick else pd.Timestamp(f"{year + 1}-01-01", tz=tz)
    return start, end


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report", description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the Toronto CSV")
    parser.add_argument("--year", type=int, default=2019, help="the year of forecast origins")
    parser.add_argument("--retrain-every", type=int, default=13, help="risk model refit cadence")
    parser.add_argument("--n-jobs", type=int, default=2, help="parallel backtest tasks")
    parser.add_argument("--out", type=Path, default=HERE / "results-report")
    parser.add_argument("--quick", action="store_true", help="a small, fast run of every part")
    parser.add_argument(
        "--parts",
        default="toronto,synthetic,sensitivity",
        help="comma-separated parts to run (default: all three)",
    )
    args = parser.parse_args(argv)
    matplotlib.use("Agg")  # files only, no window
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    unknown = parts - {"toronto", "synthetic", "sensitivity"}
    if unknown:
        parser.error(
            f"unknown part(s) {sorted(unknown)}; choose from toronto, synthetic, sensitivity"
        )
    if not args.quick and not args.data.exists() and parts & {"toronto", "sensitivity"}:
        parser.error(f"no data file at {args.data}; pass --data PATH to burglary.csv, or --quick")
    args.out.mkdir(parents=True, exist_ok=True)
    year = 2018 if args.quick else args.year
    sections, all_scores, all_calibration = [], [], []
    figure_paths = []

    if parts & {"toronto", "sensitivity"}:
        toronto = toronto_events(args.data, args.quick)
        start, end = period(year, args.quick, toronto.tz)
        known = toronto.before(start)

    if "toronto" in parts:
        grid = Grid.from_events(known, cell_size=125.0)
        scores, calibration, seconds = run_part(
            "Toronto",
            toronto,
            grid,
            None,
            start=start,
            end=end,
            retrain_every=args.retrain_every,
            n_jobs=args.n_jobs,
            timed={"baselines": baselines(), "RiskModel": risk_model(args.quick)},
        )
        n_origins = scores["origin"].nunique()
        events_scored = scores.drop_duplicates("origin")["events"].sum()
        sections.append(
            f"## Toronto\n\nResidential break-and-enters (House, Apartment), {n_origins} origins "
            f"every 14 days from {start.date()}, 14-day horizon, 4-hour shifts, {grid.n_cells:,} "
            f"cells of 125 m; {events_scored:,.0f} events scored; risk model refitted every "
            f"{args.retrain_every} origin(s). Means over origins; 90 % bootstrap interval over "
            f"origins. Wall clock: all baselines {seconds['baselines']:.0f} s "
            f"({args.n_jobs} parallel tasks), the risk model {seconds['RiskModel']:.0f} s.\n\n"
            + summary_table(scores, per_method_seconds(scores))
        )
        all_scores.append(scores)
        all_calibration.append(calibration)
        figure_paths += figures(scores, calibration, "Toronto", args.out)

    if "synthetic" in parts:
        size = 4000.0 if args.quick else 10_000.0
        city = simulate_city(
            start="2021-01-01",
            end="2024-01-01",
            size=size,
            background_rate=3.0 if args.quick else 6.0,
            random_state=SYNTHETIC_SEED,
        )
        events = Events.from_frame(city.events, crs=city.crs, tz=city.tz)
        grid = Grid.from_area(box(*city.bounds), cell_size=125.0, crs=city.crs)
        s_start, s_end = period(2023, args.quick, city.tz)
        methods = {
            "true intensity (ceiling)": TrueIntensity(city=city),
            **risk_model(args.quick),
            **baselines(),
        }
        scores, calibration, _ = run_part(
            "Synthetic city",
            events,
            grid,
            methods,
            start=s_start,
            end=s_end,
            retrain_every=args.retrain_every,
            n_jobs=args.n_jobs,
        )
        n_origins = scores["origin"].nunique()
        sections.append(
            f"## Synthetic city\n\n`simulate_city(start='2021-01-01', end='2024-01-01', "
            f"size={size:.0f}, background_rate={3.0 if args.quick else 6.0}, "
            f"random_state={SYNTHETIC_SEED})`: {len(events):,} events; {n_origins} origins every "
            f"14 days from {s_start.date()}; {grid.n_cells:,} cells of 125 m. The true intensity "
            "is the simulator's exact expected count per block and cell given the whole "
            "simulated history (it sees near repeats triggered inside the horizon): a ceiling, "
            "not a method.\n\n" + summary_table(scores, per_method_seconds(scores))
        )
        all_scores.append(scores)
        all_calibration.append(calibration)
        figure_paths += figures(scores, calibration, "Synthetic city", args.out)

    if "sensitivity" in parts:
        variants = {
            "125 m": {"cell_size": 125.0},
            "125 m, shifted half a cell": {"cell_size": 125.0, "origin": (62.5, 62.5)},
            "100 m": {"cell_size": 100.0},
            "150 m": {"cell_size": 150.0},
        }
        rows = []
        methods = {**risk_model(args.quick), **baselines()}
        for variant, grid_params in variants.items():
            grid = Grid.from_events(known, **grid_params)
            scores, _, _ = run_part(
                f"Sensitivity: {variant}",
                toronto,
                grid,
                methods,
                start=start,
                end=end,
                retrain_every=max(args.retrain_every, 26),
                n_jobs=args.n_jobs,
            )
            at = scores[np.isclose(scores["coverage"], SENSITIVITY_COVERAGE)]
            rows.append(at.groupby("method", sort=False)["hit_rate"].mean().rename(variant))
            all_scores.append(scores)
        table = pd.concat(rows, axis=1)
        lines = [
            "| method | " + " | ".join(table.columns) + " |",
            "|---|" + "---|" * len(table.columns),
        ]
        for method, values in table.iterrows():
            lines.append(f"| {method} | " + " | ".join(f"{v:.3f}" for v in values) + " |")
        sections.append(
            "## Sensitivity (Toronto)\n\nHit rate at 3 % coverage (mean over origins) on other "
            "grids over the same area: shifted by half a cell in x and y, and with 100 m and "
            "150 m cells. The risk model is fitted once per grid (at the first origin) and "
            "moved forward with `update`.\n\n" + "\n".join(lines)
        )

    text = "# caslite benchmark report\n\n" + "\n\n".join(sections) + "\n"
    if figure_paths:
        text += "\nFigures: " + ", ".join(p.name for p in figure_paths) + "\n"
    (args.out / "report.md").write_text(text)
    pd.concat(all_scores, ignore_index=True).to_csv(args.out / "scores.csv", index=False)
    print(text)
    print(f"written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
