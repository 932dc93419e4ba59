"""How much risk each shift of the day gets, when some recorded times cannot be trusted.

``python -m benchmarks.shift_profile [--parts synthetic stlouis toronto sample] [--origins N]
[--retrain-every K] [--max-negatives N] [--year Y] [--seed S] [--shrinkage W ...]
[--stlouis PATH]``

With ``--shrinkage`` the risk model is scored at each ``shift_shrinkage`` given (numbers in
[0, 1] or ``auto``), from one fit per origin shared by all of them (the strength acts when
forecasting). ``--year`` sets the test year of ``stlouis`` and ``toronto``; ``--seed`` the
simulated city and the model's ``random_state``.

For each part, a rolling-origin backtest (origins every 14 days, 14-day horizons of 4-hour
shifts, 125 m cells) of the risk model and the per-shift 52-week counts, then
:meth:`caslite.evaluation.BacktestResult.shift_table` at 3 %: per shift of day the forecast's
share of the expected incidents against the observed share of the incidents with an exact
time, and the per-shift hit rate against the shift-blind one (90 % bootstrap intervals over
origins).

- ``synthetic``: a simulated city (:func:`caslite.datasets.simulate_city`, 8 km, 15 burglaries
  a day, 2021-2023) that records a quarter of its burglaries at 00:00 or 12:00 and a tenth with
  the date only, given as whole local days; the test year is 2023. The table adds the true
  share of each shift (the simulator's exact expected counts over the horizons).
- ``stlouis``: St. Louis residential burglaries (``../shared/data/stlouis/burglary.csv``,
  minute precision, never shipped). Records coded "unknown time" carry only the start of the
  window in which the burglary happened; they are given as windows of 24 hours from it (a
  burglary found on coming home after a working day or a night away; SLMPD does not publish
  the end). Records at 00:01 (SLMPD's "start of the day" entry) are given as the whole day.
  Test year 2014 (2015 ends in November).
- ``toronto``: the residential break-and-enters of the Toronto file
  (:func:`benchmarks.accuracy.load_residential`, 00:00 and 12:00 as whole days by the
  library's time-quality policy); test year 2019.
- ``sample``: the shipped Toronto sample, 00:00 and 12:00 records as whole days; one forecast
  from the midnight after its last incident, as ``caslite forecast --sample toronto`` makes it:
  the forecast's share of 00-04 against the share of 00-04 among the exact-time incidents of
  the training span.

Nothing is written: the tables go to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from shapely.geometry import box

import caslite
from caslite import Events, Grid, RiskModel, ShiftHistory, ShiftSchedule
from caslite.datasets import load_sample, simulate_city
from caslite.evaluation import backtest

HERE = Path(__file__).resolve().parent
DEFAULT_STLOUIS = HERE.parent.parent / "shared" / "data" / "stlouis" / "burglary.csv"


def whole_days(frame: pd.DataFrame, uncertain, tz: str) -> pd.DataFrame:
    """``t`` / ``t_end`` of the ``uncertain`` rows as the local day of their recorded time."""
    out = frame.copy()
    uncertain = np.asarray(uncertain, dtype=bool)
    fold = np.ones(len(out), dtype=bool)
    day = out["t"].dt.tz_localize(None).dt.normalize()

    def local(naive):
        return naive.dt.tz_localize(tz, ambiguous=fold, nonexistent="shift_forward")

    out["t_end"] = out["t"]
    out["t"] = out["t"].where(~uncertain, local(day))
    out["t_end"] = out["t_end"].where(~uncertain, local(day + pd.Timedelta(days=1)))
    return out


class SharedFitRiskModel(RiskModel):
    """A :class:`caslite.RiskModel` whose fits are shared by models that differ only in
    ``shift_shrinkage`` (applied when forecasting), so that one backtest scores several
    strengths for the price of one fit per origin."""

    _fits: dict = {}

    def fit(self, events, grid, *, origin):
        params = self.get_params()
        params.pop("shift_shrinkage")
        key = (repr(sorted(params.items())), str(origin), len(events), grid.n_cells)
        fitted = self._fits.get(key)
        if fitted is None:
            super().fit(events, grid, origin=origin)
            skip = set(params) | {"shift_shrinkage"}
            self._fits[key] = {k: v for k, v in vars(self).items() if k not in skip}
        else:
            self._check_params()
            vars(self).update(fitted)
        return self


def methods(max_negatives: int, seed: int, strengths=None) -> dict:
    if not strengths:
        out = {"RiskModel": RiskModel(max_negatives=max_negatives, n_bags=1, random_state=seed)}
    else:
        out = {
            f"RiskModel, shift_shrinkage={strength}": SharedFitRiskModel(
                max_negatives=max_negatives, n_bags=1, shift_shrinkage=strength, random_state=seed
            )
            for strength in strengths
        }
    out["per-shift 52-week counts"] = ShiftHistory(window_weeks=52)
    return out


def year_backtest(events, grid, year: int, tz: str, args):
    schedule = ShiftSchedule.every(4, tz=tz)
    start = pd.Timestamp(f"{year}-01-01")
    end = start + pd.Timedelta(days=14 * (args.origins or 26))
    return backtest(
        methods(args.max_negatives, args.seed, args.shrinkage),
        events,
        grid,
        start=str(start.date()),
        end=str(min(end, pd.Timestamp(f"{year + 1}-01-01")).date()),
        schedule=schedule,
        retrain_every=args.retrain_every,
        coverages=(0.03,),
        progress=False,
    )


def shift_markdown(table: pd.DataFrame, truth=None) -> str:
    lines = [
        "| method | shift | forecast share | observed share (exact times) | ratio | within 20 % "
        + ("| true share " if truth is not None else "")
        + "| per-shift HR 3% (90% CI) | shift-blind HR 3% (90% CI) | gain (90% CI) |",
        "|---|---|---|---|---|---" + ("|---" if truth is not None else "") + "|---|---|---|",
    ]
    for (method, shift), row in table.iterrows():
        ratio = row["share_ratio"]
        cells = [
            method,
            shift,
            f"{row['forecast_share']:.3f}",
            f"{row['observed_share']:.3f}",
            f"{ratio:.2f}",
            "yes" if abs(ratio - 1) <= 0.2 else "no",
        ]
        if truth is not None:
            cells.append(f"{truth[shift]:.3f}")
        for name, form in (("shift_hit_rate", ".3f"), ("blind_hit_rate", ".3f"), ("gain", "+.3f")):
            cells.append(
                f"{row[name]:{form}} ({row[name + '_low']:{form}} to {row[name + '_high']:{form}})"
            )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def synthetic_city(seed: int):
    """The simulated city's events (heaped and date-only times as whole days), grid, time zone
    and the :class:`caslite.datasets.SyntheticCity` itself."""
    city = simulate_city(
        start="2021-01-01",
        end="2024-01-01",
        size=8000.0,
        background_rate=15.0,
        heaped_share=0.25,
        heap_times=("00:00", "12:00"),
        date_only_share=0.1,
        random_state=seed,
    )
    frame = whole_days(city.events, city.events["recording"] != "exact", city.tz)
    events = Events.from_frame(
        frame[["t", "t_end", "x", "y"]], time_end="t_end", crs=city.crs, tz=city.tz
    )
    grid = Grid.from_area(box(*city.bounds), cell_size=125.0, crs=city.crs)
    return events, grid, city.tz, city


def synthetic(args) -> str:
    events, grid, _, city = synthetic_city(args.seed)
    result = year_backtest(events, grid, 2023, city.tz, args)
    table = result.shift_table(0.03)
    schedule = ShiftSchedule.every(4, tz=city.tz)
    expected = np.zeros(schedule.n_shifts)
    for origin in result.params["origins"]:
        blocks = schedule.horizon(origin, result.params["horizon"])
        truth = city.expected_counts(
            grid.x - 62.5, grid.y - 62.5, 125.0, blocks.start, blocks.end
        ).sum(axis=1)
        expected += np.bincount(blocks.shift, truth, minlength=schedule.n_shifts)
    true_share = dict(zip(schedule.labels, expected / expected.sum(), strict=True))
    recorded = city.events["recording"].value_counts().to_dict()
    return (
        f"Synthetic city, {len(city.events)} burglaries ({recorded}), "
        f"{len(result.params['origins'])} origins in 2023, {grid.n_cells} cells:\n\n"
        + shift_markdown(table, true_share)
    )


def stlouis_events(path, counts=None):
    """St. Louis residential burglaries (unknown times as 24-hour windows from their recorded
    start, 00:01 records as whole days) and their time zone; ``counts`` (a dict), if given,
    receives how many rows were of each kind."""
    tz, crs = "America/Chicago", "EPSG:26996"
    frame = pd.read_csv(path)
    frame = frame[frame["residential"]].copy()
    local = pd.to_datetime(frame["t"])
    unknown = (frame["time_known"] == "unknown").to_numpy()
    start_of_day = (local.dt.strftime("%H:%M") == "00:01").to_numpy() & ~unknown
    frame["t"] = local.dt.tz_localize(tz, ambiguous="NaT", nonexistent="shift_forward")
    ambiguous = frame["t"].isna().to_numpy()
    frame["t"] = frame["t"].fillna(
        local[ambiguous].dt.tz_localize(tz, ambiguous=True, nonexistent="shift_forward")
    )
    frame = whole_days(frame, start_of_day, tz)
    frame.loc[unknown, "t_end"] = frame.loc[unknown, "t"] + pd.Timedelta(hours=24)
    events = Events.from_frame(frame[["t", "t_end", "x", "y"]], time_end="t_end", crs=crs, tz=tz)
    if counts is not None:
        counts.update(unknown=int(unknown.sum()), start_of_day=int(start_of_day.sum()))
    return events, tz


def stlouis(args) -> str:
    if not args.stlouis.exists():
        return f"St. Louis: no file at {args.stlouis}; skipped."
    kinds = {}
    events, tz = stlouis_events(args.stlouis, kinds)
    unknown, start_of_day = kinds["unknown"], kinds["start_of_day"]
    year = args.year or 2014
    grid = Grid.from_events(events.before(pd.Timestamp(f"{year}-01-01", tz=tz)), cell_size=125.0)
    result = year_backtest(events, grid, year, tz, args)
    return (
        f"St. Louis residential, {len(events)} burglaries ({unknown} of unknown time "
        f"as 24-hour windows, {start_of_day} at 00:01 as whole days), "
        f"{len(result.params['origins'])} origins in {year}, {grid.n_cells} cells:\n\n"
        + shift_markdown(result.shift_table(0.03))
    )


def toronto(args) -> str:
    from benchmarks.accuracy import DEFAULT_DATA, TZ, load_residential

    if not DEFAULT_DATA.exists():
        return f"Toronto: no file at {DEFAULT_DATA}; skipped."
    events = load_residential(DEFAULT_DATA, default_times="window")
    year = args.year or 2019
    grid = Grid.from_events(events.before(pd.Timestamp(f"{year}-01-01", tz=TZ)), cell_size=125.0)
    result = year_backtest(events, grid, year, TZ, args)
    windows = int(np.count_nonzero(events.t_end > events.t))
    return (
        f"Toronto residential, {len(events)} break-and-enters ({windows} at a heaped 00:00 or "
        f"12:00 as whole days), {len(result.params['origins'])} origins in {year}, "
        f"{grid.n_cells} cells:\n\n" + shift_markdown(result.shift_table(0.03))
    )


def sample(args) -> str:
    data = load_sample("toronto")
    frame = data.frame.copy()
    recorded = pd.to_datetime(frame[data.time])
    default = recorded.dt.strftime("%H:%M").isin(["00:00", "12:00"])
    frame["t_end"] = frame[data.time]
    day = recorded.dt.normalize()
    frame.loc[default, data.time] = day[default].dt.strftime("%Y-%m-%dT%H:%M")
    frame.loc[default, "t_end"] = (day[default] + pd.Timedelta(days=1)).dt.strftime(
        "%Y-%m-%dT%H:%M"
    )
    events = Events.from_frame(
        frame,
        time=data.time,
        time_end="t_end",
        x=data.x,
        y=data.y,
        crs=data.crs,
        tz=data.tz,
        **data.events_kwargs,
    )
    last = pd.Timestamp(int(events.t_end.max()), unit="s", tz="UTC").tz_convert(data.tz)
    origin = last.tz_localize(None).normalize() + pd.Timedelta(days=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", caslite.DataQualityWarning)  # duplicates kept
        _, forecast = caslite.predict(events, origin=str(origin.date()), return_forecast=True)
    blocks = forecast.blocks
    per_shift = np.bincount(blocks.shift, forecast.risk.sum(axis=1), minlength=6)
    share = per_shift / per_shift.sum()
    span = recorded >= origin - pd.Timedelta(days=1095)  # the model's training span
    hours = recorded[~default & span].dt.hour.to_numpy()
    exact_share = np.bincount(hours // 4, minlength=6) / hours.size
    labels = blocks.schedule.labels
    lines = [
        f"Shipped Toronto sample, {len(frame)} rows ({int(default.sum())} at 00:00 or 12:00 as "
        f"whole days), forecast from {origin.date()}; exact-time incidents of the 3 years "
        f"before it: {hours.size}.",
        "",
        "| shift | forecast share | exact-time share | ratio |",
        "|---|---|---|---|",
    ]
    for s, label in enumerate(labels):
        lines.append(
            f"| {label} | {share[s]:.4f} | {exact_share[s]:.4f} | {share[s] / exact_share[s]:.2f} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.shift_profile", description=__doc__)
    parser.add_argument(
        "--parts",
        nargs="+",
        choices=["synthetic", "stlouis", "toronto", "sample"],
        default=["sample"],
    )
    parser.add_argument("--origins", type=int, default=None, help="only the first N origins")
    parser.add_argument("--retrain-every", type=int, default=13, help="refit every N origins")
    parser.add_argument("--max-negatives", type=int, default=600_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--shrinkage",
        type=lambda value: value if value == "auto" else float(value),
        nargs="+",
        default=None,
        help="score the risk model at these shift_shrinkage values ('auto' or numbers; one fit "
        "per origin for all)",
    )
    parser.add_argument(
        "--year", type=int, default=None, help="test year (default 2023, 2014, 2019)"
    )
    parser.add_argument("--stlouis", type=Path, default=DEFAULT_STLOUIS)
    args = parser.parse_args(argv)
    parts = {"synthetic": synthetic, "stlouis": stlouis, "toronto": toronto, "sample": sample}
    for name in args.parts:
        print(parts[name](args) + "\n", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
