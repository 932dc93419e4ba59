"""Accuracy of the risk model and the baselines on real data, by rolling origin.

``python -m benchmarks.accuracy [--data PATH] [--year 2019] [--origins N] [--retrain-every K]
[--interactions additive|full] [--seed S] [--max-negatives N] [--n-bags B]
[--premises-layers TYPE ...] [--default-times window|keep] [--out DIR]``

Residential rows (House, Apartment) of the Toronto break-and-enter file; exact duplicate
rows (same time, place and premises type) dropped and counted; forecast origins every 14 days
through the year, each with a 14-day horizon of 4-hour shifts on 125 m cells over the hull
of the incidents known before the first origin. Every method is fitted at every origin on the
incidents known before it, and scored on the incidents of its horizon:

- hit rate and PAI at 1 %, 3 % and 5 % of the area, on the cells ranked by their expected
  events over the whole horizon (mean over origins, with a 90 % bootstrap interval over
  origins);
- per-shift hit rate at 3 %: the top cells chosen for each shift on that shift's risk, hits
  pooled over the shifts of the horizon; and the shift-blind ranking (the method's horizon
  ranking used for every shift).

Per shift of day (00-04 .. 20-24), over the year: each method's share of its forecast against
the observed share of the incidents with an exact time, and whether it is within 20 %
(relative); the per-shift hit rate at 3 % against the shift-blind one on those incidents, with
90 % bootstrap intervals over origins (:meth:`caslite.evaluation.BacktestResult.shift_table`
defines the same numbers). The file records hours only, and police systems enter an unknown
time as 00:00 or 12:00 (4,060 and 3,101 rows against 2,000-2,500 at the neighbouring hours):
with ``--default-times window`` (the default) the incidents at exactly 00:00 or 12:00 are given
as whole local days (``t_end`` the next midnight), which the model and the scores treat as
times unknown within the day; ``keep`` takes them at face value.

The risk model is refitted at every origin, or every ``--retrain-every`` origins (moved
forward in between with :meth:`caslite.RiskModel.update`; its trees never see an event at or
after the origin they were fitted at).

Writes ``accuracy.md`` (the table) and ``accuracy.csv`` (one row per method, origin and
coverage) to ``--out`` (default ``benchmarks/results-accuracy``, git-ignored).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from caslite import Events, FeatureBuilder, Grid, ShiftSchedule, category_layers
from caslite.evaluation import count_events, hit_rate, pai
from caslite.evaluation.backtest import _score_shifts
from caslite.models import RiskModel
from caslite.models.registry import available_forecasters, get_forecaster, make_forecaster

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "toronto" / "burglary.csv"
TZ = "America/Toronto"
CRS = "EPSG:32617"
COVERAGES = (0.01, 0.03, 0.05)


def load_residential(path: Path, default_times: str = "keep") -> Events:
    """Residential incidents of the Toronto file, exact duplicates dropped (and reported).

    ``default_times`` is passed to :meth:`caslite.Events.from_frame`: ``"window"`` (the
    library's default) makes the incidents at a detected heaped default time (on this file
    00:00 and 12:00) whole local days, ``t`` .. ``t_end`` = midnight .. next midnight;
    ``"keep"`` takes every time as exact. Duplicates are those of the recorded times either
    way.
    """
    frame = pd.read_csv(path)
    frame = frame[frame["premises_type"].isin(["House", "Apartment"])].copy()
    frame["t_recorded"] = frame["t"]
    if default_times not in ("window", "keep"):
        raise ValueError(f"default_times must be 'window' or 'keep', got {default_times!r}.")
    events = Events.from_frame(
        frame,
        time="t",
        default_times=default_times,
        x="x",
        y="y",
        crs=CRS,
        tz=TZ,
        nonexistent="shift_forward",
        ambiguous="earliest",
        duplicates="drop",
        duplicate_columns=["premises_type", "t_recorded"],
    )
    print(
        f"{len(frame)} residential rows, {len(frame) - len(events)} exact duplicates dropped",
        file=sys.stderr,
    )
    return events


def premises_layers(events: Events, premises_types) -> dict:
    """Event layers of the incidents of some premises types, by lower-case name.

    Each layer is the subset of ``events`` of one premises type (:func:`caslite.category_layers`);
    as a layer it gives the model their counts apart from the others'.
    """
    unknown = [p for p in premises_types if p not in ("House", "Apartment")]
    if unknown:
        raise ValueError(
            f"premises types {unknown} are not residential premises types of the file; "
            "choose House or Apartment."
        )
    return category_layers(events, "premises_type", list(premises_types))


def methods(
    random_state: int,
    interactions: str = "additive",
    max_negatives=500_000,
    n_bags=1,
    event_layers=None,
) -> dict:
    """The forecasters compared, by name: the risk model and every registered baseline.

    With ``event_layers`` the risk model counts them too (``FeatureBuilder(event_layers=...)``)
    and its row is named after them.
    """
    model = RiskModel(
        interactions=interactions,
        max_negatives=max_negatives,
        n_bags=n_bags,
        features=FeatureBuilder(event_layers=event_layers) if event_layers else None,
        random_state=random_state,
    )
    name = "RiskModel"
    if event_layers:
        name += f" + {', '.join(event_layers)} layer" + ("s" if len(event_layers) > 1 else "")
    baselines = {
        get_forecaster(key).label: make_forecaster(key, random_state=random_state)
        for key in available_forecasters(baseline=True)
    }
    return {name: model, **baselines}


def run(
    events: Events,
    year: int,
    n_origins: int | None,
    retrain_every: int = 1,
    random_state: int = 0,
    interactions: str = "additive",
    max_negatives: int = 500_000,
    n_bags: int = 1,
    event_layers=None,
):
    """Scores per method, origin and coverage (a tidy DataFrame) and fit times."""
    schedule = ShiftSchedule.every(4, tz=TZ)
    first = pd.Timestamp(f"{year}-01-01", tz=TZ)
    origins = [first + pd.Timedelta(days=14 * k) for k in range(26)]
    year_end = pd.Timestamp(f"{year + 1}-01-01", tz=TZ)
    origins = [o for o in origins if o + pd.Timedelta(days=14) <= year_end]
    if n_origins:
        origins = origins[:n_origins]
    grid = Grid.from_events(events.before(origins[0]), cell_size=125.0)
    print(f"grid: {grid.n_cells} active cells of 125 m", file=sys.stderr)
    rows, shift_rows, seconds = [], [], {}
    models = methods(random_state, interactions, max_negatives, n_bags, event_layers)
    exact_events = events.select(events.t_end == events.t)
    for i, origin in enumerate(origins):
        blocks = schedule.horizon(origin, "14D")
        counts = count_events(events, grid, blocks)
        exact = count_events(exact_events, grid, blocks)
        for name, model in models.items():
            start = time.perf_counter()
            if isinstance(model, RiskModel):
                model.set_params(schedule=schedule)
                if i % retrain_every == 0:
                    model.fit(events, grid, origin=origin)
                else:  # trees fitted at an earlier origin; features from events before this one
                    model.update(events, origin=origin)
            else:
                model.fit(events, grid, origin=origin)
            risk = model.predict(blocks)
            seconds.setdefault(name, []).append(time.perf_counter() - start)
            total = risk.sum(axis=0)
            by_shift = _score_shifts(risk, counts, exact, blocks, grid, (0.03,))
            for s, label in enumerate(schedule.labels):
                shift_rows.append(
                    {
                        "method": name,
                        "origin": origin,
                        "shift": label,
                        "forecast": float(by_shift["forecast"][s]),
                        "events": float(by_shift["exact"]["events"][s]),
                        "events_aoristic": float(by_shift["aoristic"]["events"][s]),
                        "shift_hit_rate": float(by_shift["exact"]["shift_hit_rate"][s, 0]),
                        "blind_hit_rate": float(by_shift["exact"]["blind_hit_rate"][s, 0]),
                    }
                )
            for c in COVERAGES:
                row = {
                    "method": name,
                    "origin": origin,
                    "coverage": c,
                    "events": float(counts.sum()),
                    "hit_rate": hit_rate(total, counts.sum(axis=0), c, area=grid.area_fraction),
                    "pai": pai(total, counts.sum(axis=0), c, area=grid.area_fraction),
                    "shift_hit_rate": hit_rate(
                        risk, counts, c, area=grid.area_fraction, per_block=True
                    ),
                    "shift_blind_hit_rate": hit_rate(
                        np.broadcast_to(total, risk.shape),
                        counts,
                        c,
                        area=grid.area_fraction,
                        per_block=True,
                    ),
                }
                rows.append(row)
        done = pd.DataFrame(rows)
        latest = done[(done["origin"] == origin) & (done["coverage"] == 0.03)]
        pairs = zip(latest["method"], latest["hit_rate"], strict=True)
        summary = ", ".join(f"{m}: {h:.3f}" for m, h in pairs)
        print(
            f"[{i + 1}/{len(origins)}] {origin.date()} hit rate at 3%: {summary}", file=sys.stderr
        )
    mean_seconds = {k: float(np.mean(v)) for k, v in seconds.items()}
    return pd.DataFrame(rows), mean_seconds, grid, pd.DataFrame(shift_rows)


def bootstrap_interval(values: np.ndarray, rng: np.random.Generator, n: int = 2000):
    """90 % percentile interval of the mean, resampling origins."""
    picks = rng.integers(0, values.size, size=(n, values.size))
    means = values[picks].mean(axis=1)
    return float(np.quantile(means, 0.05)), float(np.quantile(means, 0.95))


def table(scores: pd.DataFrame, seconds: dict) -> str:
    """The markdown table: mean over origins and 90 % bootstrap interval."""
    rng = np.random.default_rng(0)
    lines = [
        "| method | HR 1% | HR 3% (90% CI) | HR 5% | PAI 1% | PAI 3% | PAI 5% "
        "| per-shift HR 3% | shift-blind HR 3% | fit+predict s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, group in scores.groupby("method", sort=False):
        by = {c: g for c, g in group.groupby("coverage")}
        hr = {c: by[c]["hit_rate"].to_numpy() for c in COVERAGES}
        lo, hi = bootstrap_interval(hr[0.03], rng)
        lines.append(
            f"| {name} | {hr[0.01].mean():.3f} | {hr[0.03].mean():.3f} ({lo:.3f}-{hi:.3f}) "
            f"| {hr[0.05].mean():.3f} | "
            + " | ".join(f"{by[c]['pai'].mean():.1f}" for c in COVERAGES)
            + f" | {by[0.03]['shift_hit_rate'].mean():.3f}"
            f" | {by[0.03]['shift_blind_hit_rate'].mean():.3f} | {seconds[name]:.1f} |"
        )
    return "\n".join(lines)


def shift_table(shifts: pd.DataFrame) -> str:
    """Per method and shift of day: forecast vs observed share, per-shift vs shift-blind HR."""
    rng = np.random.default_rng(0)
    lines = [
        "| method | shift | forecast share | observed share (exact times) | ratio | within 20 % "
        "| per-shift HR 3% (90% CI) | shift-blind HR 3% (90% CI) | gain (90% CI) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def mean_ci(values, signed=False):
        form = "+.3f" if signed else ".3f"
        if values.size < 2:
            return f"{values.mean():{form}}" if values.size else "-"
        lo, hi = bootstrap_interval(values, rng)
        return f"{values.mean():{form}} ({lo:{form}} to {hi:{form}})"

    for name, group in shifts.groupby("method", sort=False):
        forecast_total, events_total = group["forecast"].sum(), group["events"].sum()
        for label, one in group.groupby("shift", sort=False):
            forecast_share = one["forecast"].sum() / forecast_total
            observed_share = one["events"].sum() / events_total
            ratio = forecast_share / observed_share
            scored = one.dropna(subset=["shift_hit_rate", "blind_hit_rate"])
            per_shift = scored["shift_hit_rate"].to_numpy()
            blind = scored["blind_hit_rate"].to_numpy()
            lines.append(
                f"| {name} | {label} | {forecast_share:.3f} | {observed_share:.3f} "
                f"| {ratio:.2f} | {'yes' if abs(ratio - 1) <= 0.2 else 'no'} "
                f"| {mean_ci(per_shift)} | {mean_ci(blind)} | {mean_ci(per_shift - blind, True)} |"
            )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.accuracy", description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the Toronto CSV")
    parser.add_argument("--year", type=int, default=2019)
    parser.add_argument("--origins", type=int, default=None, help="only the first N origins")
    parser.add_argument(
        "--retrain-every",
        type=int,
        default=1,
        help="refit the risk model every N origins (between refits it is moved forward with "
        "RiskModel.update: same trees, features from the events before each origin)",
    )
    parser.add_argument(
        "--interactions",
        choices=["additive", "full"],
        default="additive",
        help="the risk model's interactions (default: additive)",
    )
    parser.add_argument("--seed", type=int, default=0, help="the risk model's random_state")
    parser.add_argument(
        "--max-negatives", type=int, default=500_000, help="the risk model's max_negatives"
    )
    parser.add_argument(
        "--n-bags", type=int, default=1, help="the risk model's n_bags (1: a single ensemble)"
    )
    parser.add_argument(
        "--premises-layers",
        nargs="+",
        default=None,
        metavar="TYPE",
        help="give the risk model the incidents of these premises types (House, Apartment) "
        "as event layers: their counts by premises type (default: none)",
    )
    parser.add_argument(
        "--default-times",
        choices=["window", "keep"],
        default="window",
        help="incidents at exactly 00:00 or 12:00: as whole local days (window, the default) "
        "or as exact times (keep)",
    )
    parser.add_argument("--out", type=Path, default=HERE / "results-accuracy")
    args = parser.parse_args(argv)
    if not args.data.exists():
        parser.error(f"no data file at {args.data}; pass --data PATH to burglary.csv")
    events = load_residential(args.data, args.default_times)
    layers = premises_layers(events, args.premises_layers or ())
    scores, seconds, grid, shifts = run(
        events,
        args.year,
        args.origins,
        args.retrain_every,
        random_state=args.seed,
        interactions=args.interactions,
        max_negatives=args.max_negatives,
        n_bags=args.n_bags,
        event_layers=layers,
    )
    text = table(scores, seconds) + "\n\nPer shift of day, over the year:\n\n" + shift_table(shifts)
    args.out.mkdir(parents=True, exist_ok=True)
    scores.to_csv(args.out / "accuracy.csv", index=False)
    shifts.to_csv(args.out / "accuracy-shifts.csv", index=False)
    header = (
        f"Toronto residential burglary, {scores['origin'].nunique()} origins every 14 days in "
        f"{args.year}, 14-day horizon, 4-hour shifts, {grid.n_cells} cells of 125 m; risk "
        f"model refitted every {args.retrain_every} origin(s); 00:00 / 12:00 records: "
        f"{args.default_times}; "
        f"{scores.groupby('origin')['events'].first().sum():.0f} events scored.\n\n"
    )
    (args.out / "accuracy.md").write_text(header + text + "\n")
    print(header + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
