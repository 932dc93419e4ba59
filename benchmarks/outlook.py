"""The dark-months outlook against seasonal naive baselines, by rolling origin.

``python -m benchmarks.outlook`` runs :func:`caslite.outlook.outlook_backtest` on

- **Toronto**: the residential burglaries of ``../shared/data/toronto/burglary.csv`` (2014-2021,
  all 140 neighbourhoods; skipped when the file is absent), 23 origins every 8 weeks from
  2017-01-02 to 2020-05-18, 26-week horizons, 156 weeks of history;
- **a synthetic city**: ``simulate_city`` over 2016-2022 (seasonal amplitude 0.3, 8 background
  burglaries a day), 16 districts of 2.5 km, 23 origins every 8 weeks from 2019-01-07 to
  2022-05-23, 26-week horizons, 156 weeks of history,

and prints per data set the weekly district MASE, MAE, bias and the 80 % interval coverage of
the outlook and of the two baselines (the same week last year; the mean of the same week in
the three previous years). It writes ``outlook.md`` and ``outlook_backtest.csv`` to ``--out``.
``--quick`` runs the shipped Toronto sample (27 neighbourhoods, 2016-2019) with 3 origins.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

TORONTO = (
    Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "toronto" / "burglary.csv"
)


def _toronto_events(path):
    from caslite.events import Events

    frame = pd.read_csv(path)
    frame = frame[frame["residential"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Events.from_frame(
            frame[["t", "x", "y", "neighbourhood"]], crs="EPSG:32617", tz="America/Toronto",
            ambiguous="earliest", nonexistent="shift_forward", duplicates="drop",
        )  # fmt: skip


def _synthetic_events():
    from caslite.datasets import simulate_city
    from caslite.events import Events

    city = simulate_city(start="2016-01-01", end="2023-01-01", random_state=20160101)
    frame = city.events
    return Events(city.t_utc, frame.x.to_numpy(), frame.y.to_numpy(), crs=city.crs, tz=city.tz)


def _origins(first: str, last: str, step_weeks: int = 8) -> list[str]:
    days = pd.date_range(first, last, freq=f"{7 * step_weeks}D")
    return [d.strftime("%Y-%m-%d") for d in days]


def run(name, events, origins, *, weeks, lookback_weeks, **districts):
    from caslite.outlook import outlook_backtest, outlook_scores

    began = time.perf_counter()
    backtest = outlook_backtest(events, origins, weeks=weeks, lookback_weeks=lookback_weeks,
                                alpha=0.2, **districts)  # fmt: skip
    scores = outlook_scores(backtest)
    scores.insert(0, "data", name)
    seconds = time.perf_counter() - began
    n_districts = backtest["district"].nunique()
    print(f"{name}: {len(origins)} origins x {n_districts} districts x {weeks} weeks, "
          f"{seconds:.0f} s")  # fmt: skip
    print(scores.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return backtest.assign(data=name), scores


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.outlook", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the shipped sample, 3 origins")
    parser.add_argument("--out", default="benchmarks/results-outlook", help="output folder")
    parser.add_argument("--data", default=str(TORONTO), help="the Toronto burglary.csv")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    if args.quick:
        from caslite.datasets import load_sample

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            events = load_sample("toronto").to_events(duplicates="drop")
        results.append(run("Toronto sample", events, ["2018-10-01", "2019-01-07", "2019-04-01"],
                           weeks=13, lookback_weeks=104, area_column="neighbourhood"))  # fmt: skip
    else:
        if Path(args.data).exists():
            events = _toronto_events(args.data)
            origins = _origins("2017-01-02", "2020-06-29")
            results.append(run("Toronto", events, origins, weeks=26, lookback_weeks=156,
                               area_column="neighbourhood"))  # fmt: skip
        else:
            print(f"{args.data} is absent: Toronto skipped (give it with --data).")
        results.append(run("synthetic city", _synthetic_events(),
                           _origins("2019-01-07", "2022-06-27"), weeks=26, lookback_weeks=156,
                           district_size_m=2500.0))  # fmt: skip
    backtests = pd.concat([b for b, _ in results], ignore_index=True)
    scores = pd.concat([s for _, s in results], ignore_index=True)
    backtests.to_csv(out / "outlook_backtest.csv", index=False)
    table = _markdown(scores)
    (out / "outlook.md").write_text(
        "# Dark-months outlook: rolling backtest\n\n" + table + "\n", encoding="utf-8"
    )
    print(f"wrote {out / 'outlook.md'} and {out / 'outlook_backtest.csv'}")
    return 0 if np.isfinite(scores["mase"]).all() else 1


def _markdown(scores: pd.DataFrame) -> str:
    lines = ["| " + " | ".join(scores.columns) + " |", "|" + "---|" * len(scores.columns)]
    for row in scores.itertuples(index=False):
        cells = [f"{v:.3f}" if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
