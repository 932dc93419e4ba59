"""Paired accuracy comparison of two risk-model settings on the same origins.

``python -m benchmarks.paired run [--data toronto|stlouis|synthetic] [--year Y]
[--retrain-every K] [--origins N] [--city-seed C] --name NAME [--params JSON] [--seed S]
[--out DIR]`` and ``python -m benchmarks.paired compare [--data ...] [--year Y] [--city-seed C]
--a NAME --b NAME [--out DIR]``

Each setting (a JSON object of :class:`caslite.RiskModel` parameters, ``{}`` for the defaults)
is backtested (:func:`caslite.evaluation.backtest`) by its own ``run``, on origins every 14
days through the year, 14-day horizons of 4-hour shifts on 125 m cells, refitted every
``--retrain-every`` origins; ``compare`` reads two runs. For each coverage (1, 3, 5 % of the
area) the table gives each setting's mean hit rate and the mean paired difference ``b - a``
with a 90 % bootstrap interval over origins (the same resampled origins for both settings),
and the per-shift hit rate likewise; plus the forecast total over the observed events and
the mean fit time (seconds of CPU, the process's own).

Data:

- ``toronto``: residential rows of ``../shared/data/toronto/burglary.csv`` as
  :mod:`benchmarks.accuracy` reads them (00:00 / 12:00 records as whole days); the grid over
  the incidents known before the first origin;
- ``stlouis``: residential rows of ``../shared/data/stlouis/burglary.csv`` as
  :mod:`benchmarks.shift_profile` reads them; the grid likewise;
- ``synthetic``: the simulated city of :mod:`benchmarks.shift_profile` (8 km, three years,
  a quarter of the times heaped at 00:00 / 12:00, a tenth date-only), simulated with
  ``--city-seed`` (default 0; its results are named ``synthetic<C>``); the year must be 2022
  or 2023.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from caslite import Grid, RiskModel, ShiftSchedule
from caslite.evaluation import backtest

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data"
COVERAGES = (0.01, 0.03, 0.05)


_FIT_CPU: list = []  # CPU seconds of each fit (one setting per process)


class _CpuTimed(RiskModel):
    """A RiskModel that records the CPU seconds of each fit (backtest fits clones)."""

    def fit(self, events, grid, *, origin):
        start = time.process_time()
        super().fit(events, grid, origin=origin)
        _FIT_CPU.append(time.process_time() - start)
        return self


def load(name: str, year: int, city_seed: int = 0):
    """Events, grid and time zone of a data set (the grid over events before the year)."""
    if name == "toronto":
        from benchmarks.accuracy import TZ, load_residential

        events = load_residential(SHARED / "toronto" / "burglary.csv", "window")
        tz = TZ
    elif name == "stlouis":
        from benchmarks.shift_profile import stlouis_events

        events, tz = stlouis_events(SHARED / "stlouis" / "burglary.csv")
    elif name == "synthetic":
        from benchmarks.shift_profile import synthetic_city

        events, grid, tz, _ = synthetic_city(seed=city_seed)
        return events, grid, tz
    else:
        raise ValueError(f"unknown data set {name!r}; choose toronto, stlouis or synthetic.")
    grid = Grid.from_events(events.before(pd.Timestamp(f"{year}-01-01", tz=tz)), cell_size=125.0)
    return events, grid, tz


def paired_interval(diff: np.ndarray, rng: np.random.Generator, n: int = 2000):
    """90 % percentile bootstrap interval of the mean of paired differences over origins."""
    picks = rng.integers(0, diff.size, size=(n, diff.size))
    means = diff[picks].mean(axis=1)
    return float(np.quantile(means, 0.05)), float(np.quantile(means, 0.95))


def run(args) -> str:
    """Backtest one setting; write its scores and fit times; return a one-line summary."""
    events, grid, tz = load(args.data, args.year, args.city_seed)
    model = _CpuTimed(random_state=args.seed, **json.loads(args.params))
    start = pd.Timestamp(f"{args.year}-01-01")
    end = start + pd.Timedelta(days=14 * (args.origins or 26))
    end = min(end, pd.Timestamp(f"{args.year + 1}-01-01"))
    result = backtest(
        {args.name: model},
        events,
        grid,
        start=str(start.date()),
        end=str(end.date()),
        schedule=ShiftSchedule.every(4, tz=tz),
        retrain_every=args.retrain_every,
        coverages=COVERAGES,
        progress=False,
    )
    totals = result.calibration_by_origin[["sum_predicted", "sum_observed"]].sum()
    info = {
        "data": args.data,
        "year": args.year,
        "params": args.params,
        "n_cells": grid.n_cells,
        "retrain_every": args.retrain_every,
        "fit_cpu_s": list(_FIT_CPU),
        "forecast_over_observed": float(totals["sum_predicted"] / totals["sum_observed"]),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"{_data_name(args.data, args.city_seed)}-{args.year}-{args.name}"
    result.scores.to_csv(stem.with_suffix(".csv"), index=False)
    stem.with_suffix(".json").write_text(json.dumps(info, indent=1))
    hr = result.scores[np.isclose(result.scores["coverage"], 0.03)]["hit_rate"].mean()
    return f"{stem.name}: hit rate at 3 % {hr:.4f}, fit CPU s {info['fit_cpu_s']}"


def _data_name(data: str, city_seed: int) -> str:
    """The data set's name in result files: ``synthetic<C>`` for a simulated city."""
    return f"synthetic{city_seed}" if data == "synthetic" else data


def compare(out: Path, data: str, year: int, a: str, b: str) -> str:
    """The markdown table of the paired comparison of settings ``a`` and ``b``."""
    rng = np.random.default_rng(0)
    scores, info = {}, {}
    for k in (a, b):
        stem = out / f"{data}-{year}-{k}"
        scores[k] = pd.read_csv(stem.with_suffix(".csv"))
        info[k] = json.loads(stem.with_suffix(".json").read_text())
    lines = [
        f"{data} {year}: {scores[a]['origin'].nunique()} origins every 14 days, "
        f"{info[a]['n_cells']} cells, refitted every {info[a]['retrain_every']}; "
        f"a = {a} {info[a]['params']}, b = {b} {info[b]['params']}",
        "",
        "| score | coverage | a | b | b - a (90% CI over origins) |",
        "|---|---|---|---|---|",
    ]
    for column in ("hit_rate", "shift_hit_rate"):
        for c in COVERAGES:
            got = {}
            for k in (a, b):
                at = scores[k][np.isclose(scores[k]["coverage"], c)]
                got[k] = at.set_index("origin")[column]
            diff = (got[b] - got[a].reindex(got[b].index)).to_numpy()
            lo, hi = paired_interval(diff, rng)
            lines.append(
                f"| {column} | {c:.0%} | {got[a].mean():.4f} | {got[b].mean():.4f} "
                f"| {diff.mean():+.4f} ({lo:+.4f} to {hi:+.4f}) |"
            )
    lines += ["", "| setting | forecast / observed | mean fit CPU s | fits |", "|---|---|---|---|"]
    for k in (a, b):
        cpu = info[k]["fit_cpu_s"]
        lines.append(
            f"| {k} | {info[k]['forecast_over_observed']:.3f} | {np.mean(cpu):.1f} | {len(cpu)} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.paired", description=__doc__)
    parser.add_argument("command", choices=["run", "compare"])
    parser.add_argument("--data", choices=["toronto", "stlouis", "synthetic"], default="toronto")
    parser.add_argument("--year", type=int, default=2019)
    parser.add_argument("--origins", type=int, default=None, help="only the first N origins")
    parser.add_argument("--retrain-every", type=int, default=13)
    parser.add_argument("--name", default="new", help="run: the setting's name")
    parser.add_argument("--params", default="{}", help="run: RiskModel parameters, JSON")
    parser.add_argument("--a", default="old", help="compare: the reference setting's name")
    parser.add_argument("--b", default="new", help="compare: the other setting's name")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--city-seed", type=int, default=0, help="synthetic: the simulated city's seed"
    )
    parser.add_argument("--out", type=Path, default=HERE / "results-paired")
    args = parser.parse_args(argv)
    if args.command == "run":
        print(run(args))
    else:
        data = _data_name(args.data, args.city_seed)
        text = compare(args.out, data, args.year, args.a, args.b)
        (args.out / f"{data}-{args.year}-{args.a}-vs-{args.b}.md").write_text(text + "\n")
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
