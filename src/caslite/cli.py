r"""The ``caslite`` command line: ``caslite COMMAND --help`` shows each command's options.

Examples
--------
Forecast the hot cells of every 4-hour shift of the two weeks after the shipped Toronto
sample ends (GeoPackage, CSV, PNG and HTML maps in caslite-output/)::

    caslite forecast --sample toronto --out caslite-output

The same for your own file, from a chosen origin, as GeoPackage (a layer per shift) and
GeoJSON::

    caslite forecast incidents.csv --time t --x x --y y --crs EPSG:32617 \
        --tz America/Toronto --origin 2019-03-01 --format gpkg geojson --layout layers

Score the risk model against baselines by rolling origin, near repeats by the Knox test,
simulate a city::

    caslite backtest --sample synthetic --start 2023-06-01 --end 2023-09-01
    caslite knox --sample toronto --distances 0,100,200,400 --days 0,7,14,28
    caslite simulate city.csv --end 2023-07-01 --seed 1

Summarise the incidents; run the benchmark suite from a source checkout::

    caslite summary --sample toronto --out caslite-output
    caslite bench --quick

Exit status: 0 on success, 2 for bad input (the reason on standard error as
``caslite COMMAND: error: ...``), 130 when interrupted; ``caslite bench`` returns the
suite's own status.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import re
import sys
import warnings
from pathlib import Path

from caslite._atomic import atomic_path, save_figure, write_text
from caslite.models.registry import available_forecasters, get_forecaster, make_forecaster

__all__ = ["main"]

logger = logging.getLogger("caslite")

_FORMATS = {"gpkg": ".gpkg", "geojson": ".geojson", "parquet": ".parquet", "csv": ".csv"}
_INCIDENT_SUFFIXES = (".csv", ".gpkg", ".geojson", ".json", ".parquet", ".shp", ".fgb")
#: The baselines: fast, and what the risk model must beat (the registry's default baselines).
_BASELINES = tuple(available_forecasters(baseline=True, default=True))
#: ``caslite backtest`` without ``--methods``: the library's own model and the baselines.
_DEFAULT_METHODS = tuple(available_forecasters(default=True))
_CSV_OPTIONS = ("sep", "decimal", "encoding")


class CliError(ValueError):
    """Bad command-line input: reported as ``caslite COMMAND: error: ...``, exit code 2."""


# ---------------------------------------------------------------------- the backtest methods
#: Forecasters the backtest can compare, by command-line name (:mod:`caslite.models.registry`).
_METHODS = {name: get_forecaster(name).description for name in available_forecasters()}


def _max_negatives(text: str) -> int:
    """Parse ``--max-negatives``: a positive whole number (``2e6`` and ``2_000_000`` too)."""
    try:
        value = float(text.replace("_", ""))
    except ValueError:
        value = float("nan")
    if not (math.isfinite(value) and value >= 1 and value == int(value)):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a positive whole number of rows, e.g. 600000 or 2e6"
        )
    return int(value)


def _n_bags(text: str) -> int:
    """Parse ``--n-bags``: a positive whole number of ensembles."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a positive whole number of ensembles, e.g. 1 or 2"
        )
    return value


def _risk_options(args, layers=None) -> dict:
    """Return the risk model's keywords given on the command line.

    Only ``--max-negatives`` and ``--n-bags`` that were given, and the features with the event
    ``layers`` of ``--category-layers`` (:func:`_category_layers`) if there are any; the
    model's defaults stand for the others.
    """
    options = {"max_negatives": args.max_negatives, "n_bags": args.n_bags}
    if layers:
        from caslite.features import FeatureBuilder

        options["features"] = FeatureBuilder(event_layers=layers)
    return {key: value for key, value in options.items() if value is not None}


def _category_layers(args, events) -> dict:
    """Return the event layers of ``--category-layers COLUMN [VALUE ...]`` (none if not given)."""
    if not args.category_layers:
        return {}
    from caslite.features import category_layers

    column, *values = args.category_layers
    try:
        layers = category_layers(events, column, values or None)
    except KeyError as exc:  # a missing column: bad input, reported as such
        raise CliError(f"--category-layers: {exc.args[0]}") from None
    counted = ", ".join(f"{name} ({len(layer):,})" for name, layer in layers.items())
    logger.info("counting apart by %s: %s", column, counted)
    return layers


def _forecaster(name: str, seed: int, *, schedule=None, horizon="14D", risk_options=None):
    """Return a new, unfitted forecaster for a method name of ``--methods``.

    The risk model is trained on the backtest's shifts (``schedule``) and horizons, with
    ``risk_options`` (see :func:`_risk_options`).
    """
    if name not in _METHODS:
        raise CliError(f"unknown method {name!r}; choose from {', '.join(_METHODS)}.")
    params = (risk_options or {}) if name == "risk" else {}
    return make_forecaster(name, random_state=seed, schedule=schedule, horizon=horizon, **params)


# ---------------------------------------------------------------------- examples
_EXAMPLES = {
    "summary": r"""examples:
  caslite summary --sample toronto --out caslite-output
  caslite summary incidents.csv --crs EPSG:32617 --tz America/Toronto --days 30
  caslite summary incidents.gpkg --layer burglary --tz Europe/Amsterdam \
      --filter "premises == 'House'"
""",
    "forecast": r"""examples:
  caslite forecast --sample toronto --out caslite-output
  caslite forecast incidents.csv --time when --x east --y north --crs EPSG:32617 \
      --tz America/Toronto --origin 2019-03-01 --horizon 7D --coverage 0.05
  caslite forecast incidents.gpkg --tz Europe/Amsterdam --area city.gpkg \
      --format gpkg geojson parquet --layout layers
  caslite forecast 'exports/*.csv' --time YEAR,MONTH,DAY,HOUR,MINUTE --crs EPSG:32617 \
      --tz America/Toronto --filter "offence == 'Burglary'" --shifts 07:00,15:00,23:00

outputs (in --out): hot_cells.gpkg / .geojson / .parquet / .csv (one row per hot shift and
cell; local shift times as ISO text with the UTC offset, the same in UTC, shift_number from
0 (and the deprecated shift), the time zone; CRS of the incidents); hot_cells.png (the first
day's shifts as small multiples, hot cells marked over each shift's risk); risk_horizon.png
(expected incidents over the horizon, log scale, hot cells of the horizon); hot_cells.html
(interactive map, opens offline; a hot-cell layer per shift of the first day); --context
layers drawn under the risk of all three; provenance.json (the data's fingerprint, period, grid,
shifts, every parameter and the versions: what reproduces the run). With --layout layers the
GeoPackage has one layer per shift, named shift_YYYY-MM-DDTHH-MM by its local start.
""",
    "backtest": r"""examples:
  caslite backtest --sample synthetic --start 2023-06-01 --end 2023-09-01
  caslite backtest incidents.csv --crs EPSG:32617 --tz America/Toronto \
      --start 2019-01-01 --end 2020-01-01 --methods naive52 kde risk --retrain-every 13 \
      --coverage 0.01 0.03 0.05 --n-jobs 2 --out backtest-2019

methods (--methods; 'all' for every one, 'baselines' for {baselines}):
{methods}
default: {default} (without 'risk' when --horizon is shorter than 1D, which
the risk model does not forecast).

The log score and the Brier score are shown only for methods that forecast
expected counts ('risk', 'etas'); the baselines rank cells on other scales.

Timing on the shipped Toronto sample (2,473 cells, 14-day horizons, 2 cores): every
baseline and 'etas' under 0.1 s per origin; 'risk' about 18 s per origin with
--retrain-every 4 (a fit every 4th origin, a cheap update in between). The risk model's fit
grows with cells x training origins: on a whole city expect minutes per fit, and refit it
only every few origins.

outputs (in --out): scores.csv (one row per method, origin and coverage), summary.md (the
table printed), hit_rate.png and pai.png (mean over origins by coverage).
""",
    "knox": r"""examples:
  caslite knox --sample toronto
  caslite knox incidents.csv --crs EPSG:32617 --tz America/Toronto \
      --distances 0,100,200,400 --days 0,7,14,28 --permutations 999 --seed 1 \
      --start 2019-01-01 --end 2020-01-01

Distance band k is (e_k, e_k+1] metres, the first one closed; time bands likewise in days;
with the default same-location row, pairs at distance 0 are counted there only. The table
printed shows Knox ratios (observed / expected close pairs), * where p < --alpha.
outputs (in --out): knox.csv (one row per distance and time band) and knox.png.
""",
    "simulate": r"""examples:
  caslite simulate city.csv --seed 1
  caslite simulate city.gpkg --start 2022-01-01 --end 2024-01-01 --size 4000 \
      --background-rate 3 --branching-ratio 0.4 --seed 7

Writes the incidents (columns t, x, y, parent, generation; format by suffix: .csv, .gpkg,
.geojson or .parquet) and CITY.params.json with every parameter of the simulation, so that
forecasts can be scored against the truth (caslite.datasets.simulate_city). Read the file
back with, e.g., caslite forecast city.csv --crs EPSG:28992 --tz Europe/Amsterdam.
""",
    "bench": r"""examples:
  caslite bench --quick                  # the smoke profile: tiny, correctness only
  caslite bench --only city --only knox  # chosen cases or groups, full profile
  caslite bench --path ~/src/caslite -- --out results.json
  caslite bench --report --quick         # the accuracy report (python -m benchmarks.report)

The benchmark suite ships with the source repository, not with the installed package: run
it from a clone of the repository (with caslite installed from it: pip install -e .). Exit
status is the suite's: 0 all correct, 1 a check failed, 2 a target was missed (full
profile).
""",
}


# ---------------------------------------------------------------------- the parser
class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Plain-text help: descriptions and examples as written, every default shown.

    An option's default is appended as ``(default: VALUE)`` unless its help already says
    it (``default``) or there is none (None, a flag that is off).
    """

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if (
            "default" in text
            or default is None
            or default is False
            or default is argparse.SUPPRESS
            or action.option_strings == []
            or isinstance(action, argparse._HelpAction)  # noqa: SLF001 - argparse's own class
        ):
            return text
        shown = " ".join(map(str, default)) if isinstance(default, (list, tuple)) else default
        forms = [f"{shown:g}"] if isinstance(shown, float) else []
        for form in (*forms, str(shown)):
            if f"({form})" in text:  # "metres (200)": say that it is the default
                return text.replace(f"({form})", f"(default: {form})", 1)
        return f"{text} (default: {str(shown).replace('%', '%%')})"


def _plain_text(text: str) -> str:
    """Strip the reStructuredText markup of a docstring for the terminal (``x`` and ::)."""
    text = re.sub(r"``([^`]+)``", r"\1", text)
    return re.sub(r"::\n", ":\n", text)


def _wrapped(text: str) -> str:
    """Wrap a command's description to the terminal's usual 80 columns."""
    import textwrap

    return textwrap.fill(text, width=80)


def _parser() -> argparse.ArgumentParser:
    """Build the ``caslite`` parser: its own options, then each command by its ``_add_*_parser``."""
    raw = _HelpFormatter
    parser = argparse.ArgumentParser(
        prog="caslite",
        description="Burglary risk per grid cell and police shift.",
        epilog=_plain_text(__doc__.split("Examples\n--------\n", 1)[1]),
        formatter_class=raw,
    )
    parser.add_argument("--version", action="version", version=f"caslite {_version()}")
    common = argparse.ArgumentParser(add_help=False)
    logs = common.add_argument_group("messages")
    logs.add_argument(
        "-q", "--quiet", action="store_true", help="only warnings and errors; no progress bars"
    )
    logs.add_argument("-v", "--verbose", action="store_true", help="debug messages")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name, help, description, epilog):
        return commands.add_parser(
            name,
            help=help,
            description=_wrapped(description),
            epilog=_plain_text(epilog),
            formatter_class=raw,
            parents=[common],
        )

    _add_summary_parser(command)
    _add_forecast_parser(command)
    _add_backtest_parser(command)
    _add_knox_parser(command)
    _add_simulate_parser(command)
    _add_bench_parser(command)
    _add_alert_parser(command)
    _add_report_parser(command)
    _add_outlook_parser(command)
    return parser


def _add_summary_parser(command) -> None:
    """Add ``caslite summary`` and its options (``command``: the factory of :func:`_parser`)."""
    summary = command(
        "summary",
        "summarise incidents on a grid and shifts; write a table and a map",
        "Read incidents (a file or a shipped sample), build the grid and the shift schedule, "
        "print a summary, and write a CSV table and a PNG map of the incidents per cell over "
        "the last --days days.",
        _EXAMPLES["summary"],
    )
    _input_arguments(summary)
    summary.add_argument("--days", type=int, default=90, help="recent window (default: 90)")
    _shift_arguments(summary)
    summary.add_argument(
        "--area", default=None, help="polygon file of the study area (default: the hull of the "
        "incidents)"
    )  # fmt: skip
    summary.add_argument("--out", default="caslite-output", help="output folder")


def _add_forecast_parser(command) -> None:
    """Add ``caslite forecast`` and its options (``command``: the factory of :func:`_parser`)."""
    forecast = command(
        "forecast",
        "fit the risk model and write the hot cells of every shift of the horizon",
        "Read incidents, fit caslite's risk model on those known before --origin, and write "
        "the hot cells of every shift of the horizon as GIS files, PNG maps and an HTML map.",
        _EXAMPLES["forecast"],
    )
    _input_arguments(forecast)
    forecast.add_argument(
        "--origin",
        default=None,
        help="forecast origin, local time, e.g. 2019-03-01 (default: the midnight after the "
        "last incident)",
    )
    forecast.add_argument("--horizon", default="14D", help="horizon length (default: 14D)")
    forecast.add_argument(
        "--coverage", type=float, default=0.03, help="share of the area per shift (default 0.03)"
    )
    _shift_arguments(forecast)
    forecast.add_argument(
        "--area", default=None, help="polygon file of the study area (default: the hull of the "
        "incidents before --origin)"
    )  # fmt: skip
    forecast.add_argument("--seed", type=int, default=0, help="random_state of the model")
    _risk_arguments(forecast, "the risk model")
    forecast.add_argument(
        "--format",
        nargs="+",
        default=None,
        metavar="FORMAT",
        help="one or more of gpkg, geojson, parquet, csv (default: gpkg csv)",
    )
    forecast.add_argument(
        "--layout",
        choices=["column", "layers"],
        default="column",
        help="GeoPackage: one layer with a shift column (default) or a layer per shift",
    )
    forecast.add_argument(
        "--context",
        action="append",
        default=None,
        metavar="FILE",
        help="a layer drawn under the risk on the maps (streets, neighbourhoods, water; any "
        "file geopandas reads, with a CRS); repeat for several",
    )
    forecast.add_argument("--out", default="caslite-output", help="output folder")


def _add_backtest_parser(command) -> None:
    """Add ``caslite backtest`` and its options (``command``: the factory of :func:`_parser`)."""
    backtest = command(
        "backtest",
        "score forecasting methods by rolling origin (hit rate, PAI, PEI*, ...)",
        "Move a forecast origin through --start..--end every --step; at each origin fit every "
        "method on the incidents known before it, forecast --horizon and score the forecast "
        "on the incidents of the horizon.",
        _EXAMPLES["backtest"].format(
            methods="\n".join(f"  {k:<12} {v}" for k, v in _METHODS.items()),
            default=" ".join(_DEFAULT_METHODS),
            baselines=" ".join(_BASELINES),
        ),
    )
    _input_arguments(backtest)
    backtest.add_argument("--start", required=True, help="first origin, local time")
    backtest.add_argument(
        "--end", default=None, help="end of the period (default: the midnight after the last "
        "incident); the last origin's horizon ends by it"
    )  # fmt: skip
    backtest.add_argument("--step", default="14D", help="spacing of origins (default: 14D)")
    backtest.add_argument("--horizon", default="14D", help="forecast length (default: 14D)")
    backtest.add_argument(
        "--max-origins", type=int, default=1000,
        help="most origins accepted, checked before any fit (default 1000)",
    )  # fmt: skip
    backtest.add_argument(
        "--coverage",
        nargs="+",
        default=None,
        metavar="SHARE",
        help="shares of the area scored (default: 0.01 0.03 0.05)",
    )
    backtest.add_argument(
        "--methods",
        nargs="+",
        default=None,
        metavar="METHOD",
        help="methods to compare, 'all', or 'baselines' (the fast ones, without 'risk') "
        f"(default: {' '.join(_DEFAULT_METHODS)})",
    )
    _shift_arguments(backtest)
    backtest.add_argument(
        "--area", default=None, help="polygon file of the study area (default: the hull of the "
        "incidents before --start)"
    )  # fmt: skip
    backtest.add_argument(
        "--retrain-every", type=int, default=1, help="refit 'risk' every N origins (default 1)"
    )
    backtest.add_argument("--n-jobs", type=int, default=1, help="parallel tasks (-1: all cores)")
    backtest.add_argument("--seed", type=int, default=0, help="random_state of 'risk'")
    _risk_arguments(backtest, "'risk'")
    backtest.add_argument("--no-progress", action="store_true", help="no progress bar")
    backtest.add_argument("--out", default="caslite-backtest", help="output folder")


def _add_knox_parser(command) -> None:
    """Add ``caslite knox`` and its options (``command``: the factory of :func:`_parser`)."""
    knox = command(
        "knox",
        "Knox test of near repeats: close pairs in space and time vs. permutations",
        "Count the pairs of incidents per distance band and time band and compare every count "
        "with its distribution when the times are shuffled over the incidents (Ratcliffe's "
        "Near Repeat Calculator).",
        _EXAMPLES["knox"],
    )
    _input_arguments(knox, cell_size=False)
    knox.add_argument(
        "--distances", nargs="+", default=None, metavar="METRES",
        help="distance band edges, e.g. 0,100,200,400 (default: 0,100,200,300,400,500)",
    )  # fmt: skip
    knox.add_argument(
        "--days", nargs="+", default=None, metavar="DAYS",
        help="time band edges in days, e.g. 0,7,14,28 (default: 0,7,14,21,28)",
    )  # fmt: skip
    knox.add_argument(
        "--no-same-location",
        action="store_true",
        help="no separate row for pairs at distance 0",
    )
    knox.add_argument("--permutations", type=int, default=999, help="default 999")
    knox.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    knox.add_argument("--alpha", type=float, default=0.05, help="significance level (0.05)")
    knox.add_argument("--start", default=None, help="only incidents from this local time")
    knox.add_argument("--end", default=None, help="only incidents before this local time")
    knox.add_argument(
        "--area", default=None, help="polygon file of the study area: only the incidents in it "
        "(default: all)"
    )  # fmt: skip
    knox.add_argument("--no-progress", action="store_true", help="no progress bar")
    knox.add_argument("--out", default="caslite-knox", help="output folder")


def _add_simulate_parser(command) -> None:
    """Add ``caslite simulate`` and its options (``command``: the factory of :func:`_parser`)."""
    simulate = command(
        "simulate",
        "simulate burglaries in a synthetic city with known true parameters",
        "Simulate a self-exciting (Hawkes / ETAS) burglary process in a square city "
        "(caslite.datasets.simulate_city) and write the incidents and the true parameters.",
        _EXAMPLES["simulate"],
    )
    simulate.add_argument("path", help="incident file to write (.csv, .gpkg, .geojson, .parquet)")
    simulate.add_argument("--start", default="2023-01-01", help="default 2023-01-01")
    simulate.add_argument("--end", default="2024-01-01", help="default 2024-01-01 (exclusive)")
    simulate.add_argument("--size", type=float, default=10_000.0, help="side, metres (10000)")
    simulate.add_argument(
        "--origin", type=float, nargs=2, default=(115_000.0, 480_000.0), metavar=("X", "Y"),
        help="lower-left corner in --crs (default 115000 480000)",
    )  # fmt: skip
    simulate.add_argument("--crs", default="EPSG:28992", help="projected CRS (EPSG:28992)")
    simulate.add_argument("--tz", default="Europe/Amsterdam", help="time zone (Europe/Amsterdam)")
    simulate.add_argument("--resolution", type=float, default=25.0, help="raster, metres (25)")
    simulate.add_argument("--clusters", type=int, default=6, help="neighbourhoods (6)")
    simulate.add_argument(
        "--background-rate", type=float, default=8.0, help="background burglaries per day (8)"
    )
    simulate.add_argument(
        "--branching-ratio", type=float, default=0.3, help="offspring per event, < 1 (0.3)"
    )
    simulate.add_argument(
        "--temporal-range-days", type=float, default=7.0, help="mean repeat delay, days (7)"
    )
    simulate.add_argument(
        "--spatial-range", type=float, default=100.0, help="repeat offset sd, metres (100)"
    )
    simulate.add_argument(
        "--seasonal-amplitude", type=float, default=0.3, help="yearly cycle, 0..1 (0.3)"
    )
    simulate.add_argument("--seed", type=int, default=0, help="random seed (default 0)")


def _add_bench_parser(command) -> None:
    """Add ``caslite bench`` and its options (``command``: the factory of :func:`_parser`)."""
    bench = command(
        "bench",
        "run the benchmark suite of a source checkout (python -m benchmarks)",
        "Run caslite's benchmark suite (speed, memory and correctness of the hot loop), or "
        "with --report the accuracy report, from a source checkout.",
        _EXAMPLES["bench"],
    )
    bench.add_argument(
        "--path", default=None, help="the source checkout (default: the current folder)"
    )
    bench.add_argument("--quick", action="store_true", help="the small smoke profile / report")
    bench.add_argument(
        "--only", action="append", metavar="CASE", help="only these cases or groups (repeat)"
    )
    bench.add_argument(
        "--report", action="store_true", help="run the accuracy report (benchmarks.report)"
    )
    bench.add_argument("extra", nargs="*", help="further arguments for the suite, after --")


def _shift_arguments(command) -> None:
    """Add ``--shifts`` and ``--shift-hours`` (read by :func:`_schedule`) to a command."""
    shifts = command.add_mutually_exclusive_group()
    shifts.add_argument(
        "--shifts", default=None, metavar="HH:MM,...",
        help="local start times of the police shifts, e.g. 07:00,15:00,23:00 (each shift runs "
        "to the next start; the last one past midnight)",
    )  # fmt: skip
    shifts.add_argument(
        "--shift-hours", default=None, metavar="HOURS",
        help="equal shifts of this many hours from midnight, a divisor of 24 such as 4, 8 or "
        "12, or a duration such as 90min (default: 4)",
    )  # fmt: skip


def _schedule(args, tz):
    """Return the ShiftSchedule of ``--shifts`` or ``--shift-hours`` (default 4-hour shifts)."""
    from caslite.shifts import ShiftSchedule

    if args.shifts is not None:
        starts = [s.strip() for s in args.shifts.split(",") if s.strip()]
        try:
            return ShiftSchedule(starts, tz=tz)
        except ValueError as exc:
            message = str(exc).replace(f"starts {starts!r}", "it")
            raise CliError(
                f"--shifts {args.shifts}: {message} Give the local start times of the shifts, "
                "e.g. --shifts 07:00,15:00,23:00."
            ) from None
    hours = "4" if args.shift_hours is None else args.shift_hours
    try:
        return ShiftSchedule.every(hours, tz=tz)
    except (TypeError, ValueError) as exc:
        message = str(exc).replace(f"hours={hours!r}", f"--shift-hours {hours}")
        raise CliError(f"{message} Or give the start times: --shifts 07:00,15:00,23:00.") from None


def _shift_words(schedule) -> str:
    """``"shifts 07-15, 15-23, 23-07"`` for messages."""
    return f"shifts {', '.join(schedule.labels)}"


def _risk_arguments(command, model: str) -> None:
    """Add the risk model's options (read by :func:`_risk_options`) to a command."""
    command.add_argument(
        "--max-negatives", type=_max_negatives, default=None, metavar="N",
        help=f"event-free training rows {model} keeps (default 200,000, drawn by "
        "importance; fewer fit faster in less memory and forecast a little worse)",
    )  # fmt: skip
    command.add_argument(
        "--n-bags", type=_n_bags, default=None, metavar="B",
        help=f"tree ensembles {model} averages, each on its own draw of event-free rows "
        "(default 1; more fit and forecast slower and move less between seeds)",
    )  # fmt: skip
    command.add_argument(
        "--category-layers", nargs="+", default=None, metavar=("COLUMN", "VALUE"),
        help="also count the incidents of each category of COLUMN apart (or of the VALUEs "
        f"given), e.g. --category-layers premises_type Apartment: {model} learns how each "
        "category repeats"
    )  # fmt: skip


def _input_arguments(command, *, cell_size=True) -> None:
    source = command.add_argument_group("incidents")
    source.add_argument(
        "path", nargs="*", default=None, metavar="FILE",
        help="incident files (.csv, .gpkg, .geojson, .parquet, ...): one, several (a file "
        "per year, all with the same columns) or a quoted glob such as 'exports/*.csv'",
    )  # fmt: skip
    source.add_argument(
        "--sample", choices=["toronto", "synthetic"], help="a shipped sample instead of files"
    )
    source.add_argument("--layer", default=None, help="layer of a multi-layer GeoPackage")
    source.add_argument("--sep", default=None, help="CSV field separator, e.g. ';' (default: ',')")
    source.add_argument(
        "--decimal", default=None, help="CSV decimal mark, e.g. ',' for 1,5 (default: '.')"
    )
    source.add_argument(
        "--encoding", default=None, help="CSV text encoding, e.g. utf-16, cp1252 (default: utf-8)"
    )
    source.add_argument(
        "--time", default=None, metavar="COLUMN",
        help="time column (default: t), or the columns of a time split over several, in the "
        "order YEAR,MONTH,DAY[,HOUR[,MINUTE[,SECOND]]] (months as numbers or names)",
    )  # fmt: skip
    source.add_argument("--time-end", default=None, help="end of uncertain time windows")
    source.add_argument("--x", default=None, help="x column (default: x, or the geometry)")
    source.add_argument("--y", default=None, help="y column (default: y, or the geometry)")
    source.add_argument("--crs", default=None, help="CRS of the coordinates, e.g. EPSG:32617")
    source.add_argument("--to-crs", default=None, help="reproject to this CRS, or 'utm'")
    source.add_argument("--tz", default=None, help="IANA time zone, e.g. America/Toronto")
    source.add_argument(
        "--duplicates", choices=["keep", "drop", "raise"], default=None,
        help="rows that repeat an earlier one (default: keep, with a warning)",
    )  # fmt: skip
    source.add_argument(
        "--invalid", choices=["raise", "drop"], default=None,
        help="rows with unreadable times or coordinates (default: raise)",
    )  # fmt: skip
    source.add_argument(
        "--ambiguous", choices=["raise", "earliest", "latest"], default=None,
        help="local times in the repeated hour when clocks go back (default: raise)",
    )  # fmt: skip
    source.add_argument(
        "--nonexistent", choices=["raise", "shift_forward", "shift_backward"], default=None,
        help="local times in the hour skipped when clocks go forward (default: raise)",
    )  # fmt: skip
    source.add_argument(
        "--time-format", default=None, metavar="FORMAT",
        help="strftime format of the times, e.g. '%%d/%%m/%%Y %%H:%%M' (default: ISO 8601, or "
        "one format inferred)",
    )  # fmt: skip
    source.add_argument(
        "--time-unit", choices=["s", "ms", "us", "ns"], default=None,
        help="unit of numeric (Unix) times",
    )  # fmt: skip
    order = source.add_mutually_exclusive_group()
    order.add_argument(
        "--dayfirst", dest="dayfirst", action="store_const", const=True, default=None,
        help="numeric dates are day/month/year (01/06/2019 is 1 June)",
    )  # fmt: skip
    order.add_argument(
        "--monthfirst", dest="dayfirst", action="store_const", const=False,
        help="numeric dates are month/day/year (01/06/2019 is 6 January)",
    )  # fmt: skip
    source.add_argument(
        "--date-only", choices=["window", "keep"], default=None,
        help="dates without a time of day: whole-day windows (default) or read as 00:00",
    )  # fmt: skip
    source.add_argument(
        "--default-times", choices=["window", "keep"], default=None,
        help="records at a heaped default time (00:00, 12:00, ...): windows (default) or "
        "kept exact",
    )  # fmt: skip
    source.add_argument(
        "--default-window", default=None, metavar="WINDOW",
        help="window of a record at a heaped default time: 'day' (default) or a duration "
        "centred on it, e.g. 6h",
    )  # fmt: skip
    source.add_argument(
        "--filter",
        default=None,
        metavar="EXPR",
        help="keep the rows where this condition on the columns is true, before any row is "
        "checked, e.g. \"offence == 'Burglary' and t >= '2019-01-01'\": comparisons, in "
        "[...], and/or/not, col.isna(), col.str.contains('text'), backticks around names "
        "with spaces; the time column compares as local time, x and y as numbers",
    )
    if cell_size:
        source.add_argument("--cell-size", type=float, default=125.0, help="metres (default 125)")


# ---------------------------------------------------------------------- main
def main(argv=None) -> int:
    """Run the command line; return the exit code.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        0 on success, 2 for bad input (with the reason on standard error as
        ``caslite COMMAND: error: ...``), 130 when interrupted; ``bench`` returns the
        benchmark suite's status.

    Examples
    --------
    >>> main(["simulate", "--help"])  # doctest: +ELLIPSIS
    usage: caslite simulate ...
    0
    """
    try:
        argv = sys.argv[1:] if argv is None else list(argv)
        args = _parser().parse_args(argv)
        args.argv = argv
    except SystemExit as exc:  # --help, --version and usage errors (already printed)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"caslite {args.command}: %(message)s"))
    previous_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(
        logging.WARNING if args.quiet else logging.DEBUG if args.verbose else logging.INFO
    )
    formatwarning = warnings.formatwarning
    warnings.formatwarning = _warning_format(args)
    try:
        return int(_COMMANDS[args.command](args) or 0)
    except KeyboardInterrupt:
        print(f"caslite {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if not _is_input_error(exc):
            raise
        logger.debug("traceback of the error:", exc_info=True)
        message = _with_cli_hints(str(exc), args)
        print(f"caslite {args.command}: error: {message}", file=sys.stderr)
        return 2
    finally:
        warnings.formatwarning = formatwarning
        logger.removeHandler(handler)
        logger.setLevel(previous_level)


def _warning_format(args):
    def format_warning(message, category, filename, lineno, line=None):
        return f"caslite {args.command}: warning: {_with_cli_hints(str(message), args)}\n"

    return format_warning


def _is_input_error(exc) -> bool:
    """Whether ``exc`` reports bad input (files, columns, values) rather than a bug."""
    if isinstance(exc, (ValueError, TypeError, OSError)):
        return True
    errors = sys.modules.get("pyogrio.errors")
    return errors is not None and isinstance(exc, (errors.DataSourceError, errors.DataLayerError))


_KEYWORD = re.compile(r"\b([a-z][a-z_]*)=(?:'([^']*)')?")


def _with_cli_hints(message: str, args) -> str:
    """Add the command-line spelling of the keyword arguments a message names."""
    options = vars(args)
    flags, named = [], set()
    for name, value in _KEYWORD.findall(message):
        if name not in options or name in ("path", "command", "sample") or name in named:
            continue
        if value and value == str(options[name]):
            continue  # the message quotes what was given, it does not suggest it
        flag = "--" + name.replace("_", "-")
        if name == "dayfirst":  # one keyword, two flags
            flag = "--dayfirst or --monthfirst"
        if value and ".." not in value:
            flag += f" {value}"
        flags.append(flag)
        named.add(name)
    if not flags:
        return message
    return f"{message} (on the command line: {', '.join(flags)})"


def _version() -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version("caslite")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - not installed
        return "unknown"


# ---------------------------------------------------------------------- input
#: Options that describe an incident file (refused with a shipped sample).
_FILE_OPTIONS = (
    "layer", "time", "time_end", "x", "y", "crs", "to_crs", "tz", "time_format", "time_unit",
    *_CSV_OPTIONS,
)  # fmt: skip


def _read_events(args):
    """Return the incidents of a shipped sample or of files, and a title for them.

    ``--filter`` runs on the raw rows first, so that only the rows it keeps are checked
    and reported (see :func:`_filtered_frame`).
    """
    options = {
        name: getattr(args, name)
        for name in (
            "duplicates", "invalid", "ambiguous", "nonexistent", "dayfirst", "date_only",
            "default_times", "default_window",
        )
        if getattr(args, name) is not None
    }  # fmt: skip
    if args.sample and args.path:
        raise CliError(
            f"give incident files or --sample {args.sample}, not both (files given: "
            f"{', '.join(args.path)})."
        )
    if args.sample:
        frame, title, options = _sample_frame(args, options)
    elif args.path:
        frame, title, options = _file_frame(args, options)
    else:
        raise CliError(
            "no incidents given: name one or more incident files (e.g. incidents.csv, or "
            "'exports/*.csv' for a file per year), or a shipped sample with --sample toronto."
        )
    rows_read = len(frame)
    if args.filter:
        frame = _filtered_frame(frame, args.filter, options, args.tz or options.get("tz"))
    events = _validated(frame, options)
    if args.filter:
        events.report["filter"] = {
            "expression": args.filter, "rows_read": rows_read, "rows_kept": len(frame),
            "rows_removed": rows_read - len(frame),
        }  # fmt: skip
    logger.info("read %s incidents from %s (%s, %s)", f"{len(events):,}", title,
                events.crs.to_string(), events.tz)  # fmt: skip
    _log_time_quality(events)
    return events, title


def _sample_frame(args, options):
    """Return the raw table of ``--sample`` and the options that read it."""
    from caslite.datasets import load_sample

    given = [
        f"--{name.replace('_', '-')}" for name in _FILE_OPTIONS if getattr(args, name) is not None
    ]
    if given:
        raise CliError(
            f"{', '.join(given)} {'describe' if len(given) > 1 else 'describes'} an "
            f"incident file; the sample {args.sample!r} "
            "brings its own columns, CRS and time zone. Drop them, or give a file."
        )
    sample = load_sample(args.sample)
    options = {
        "time": sample.time, "x": sample.x, "y": sample.y, "crs": sample.crs, "tz": sample.tz,
        **sample.events_kwargs, **options,
    }  # fmt: skip
    return sample.frame, f"caslite sample {args.sample!r}", options


def _file_frame(args, options):
    """Return the rows of the incident files, labelled by file line, and the read options."""
    from caslite._sources import assemble_time, expand_paths, read_tables
    from caslite.events import _read_table

    paths = [_input_file(p, "incident", _INCIDENT_SUFFIXES) for p in expand_paths(args.path)]
    if args.tz is None:
        raise CliError(
            "--tz is required for a file: the IANA time zone of the study area, in which "
            "the shifts are defined, e.g. --tz America/Toronto or --tz Europe/Amsterdam."
        )
    for name in ("x", "y", "crs", "to_crs", "time_end", "time_format", "time_unit"):
        if getattr(args, name) is not None:
            options[name] = getattr(args, name)
    csv_options = {n: getattr(args, n) for n in _CSV_OPTIONS if getattr(args, n) is not None}
    if csv_options.get("sep") == "\\t":  # a tab, as typed in a shell
        csv_options["sep"] = "\t"

    def read(path):
        with _reading(path):
            return _read_table(path, args.layer, csv_options)

    frame = read_tables(paths, read, csv_options)
    options["tz"] = args.tz
    options["csv_options"] = csv_options
    options["paths"] = paths
    columns = [c.strip() for c in (args.time or "t").split(",")]
    if len(columns) == 1:
        options["time"] = columns[0]
    else:
        if args.time_format is not None:
            raise CliError(
                f"--time-format {args.time_format!r} describes one time column, but --time "
                f"{args.time} splits the time over {len(columns)} columns (read as numbers, "
                "months also as names). Drop --time-format."
            )
        name = "time" if "time" not in frame.columns else "time_joined"
        times, options["time_format"] = assemble_time(frame, columns, name)
        frame = frame.assign(**{name: times})
        options["time"] = name
        logger.info("joined the time columns %s into %r", ", ".join(columns), name)
    if len(paths) == 1:
        title = paths[0].name
    else:
        title = f"{len(paths)} files ({paths[0].name} .. {paths[-1].name})"
    for path in paths:
        logger.debug("incident file %s", path)
    return frame, title, options


def _validated(frame, options):
    """Check the rows and build the Events; errors name the file lines of bad rows."""
    from caslite.events import Events, _decimal_comma_hint

    options = dict(options)
    csv_options = options.pop("csv_options", {})
    paths = options.pop("paths", [])
    try:
        return Events.from_frame(frame, **options)
    except ValueError as exc:
        hint = next((h for p in paths if (h := _decimal_comma_hint(frame, csv_options, p))), "")
        if hint:
            raise ValueError(f"{exc} {hint}") from None
        raise


def _filtered_frame(frame, expression: str, options: dict, tz):
    """Keep the raw rows where ``--filter`` holds, before any row is checked.

    The filter reads every column of the file: the time columns as local wall-clock times
    (comparable with ``'2019-06-01'`` or ``'2019-06-01 07:00'``; an unreadable time matches
    no comparison), the coordinates as numbers (``x`` and ``y`` from the geometry of a GIS
    file).
    """
    import pandas as pd

    from caslite._filter import FilterError, column_names, filter_mask
    from caslite._sources import filter_view
    from caslite._time import parse_datetimes

    time_columns = [options.get("time", "t")]
    if options.get("time_end"):
        time_columns.append(options["time_end"])

    def parse(column):
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            if options.get("time_unit") is None:
                return column  # numbers stay numbers (validation asks for --time-unit)
            parsed = pd.to_datetime(column, unit=options["time_unit"], utc=True, errors="coerce")
        else:
            parsed = parse_datetimes(
                column, f"column {column.name!r}", options.get("time_format"),
                dayfirst=options.get("dayfirst"),
            )  # fmt: skip
        parsed = pd.Series(pd.DatetimeIndex(parsed), index=column.index)
        if parsed.dt.tz is not None:
            parsed = parsed.dt.tz_convert(tz).dt.tz_localize(None)
        return parsed

    named = [c for c in time_columns if c in column_names(expression)]
    try:
        view = filter_view(frame, named, parse)
        mask = filter_mask(view, expression, what="--filter")
    except FilterError as exc:
        raise CliError(str(exc)) from None
    kept = frame[mask]
    logger.info(
        "--filter %r kept %s of %s rows (removed %s) before they were checked",
        expression, f"{len(kept):,}", f"{len(frame):,}", f"{len(frame) - len(kept):,}",
    )  # fmt: skip
    if not len(kept):
        raise CliError(f"--filter {expression!r} kept none of the {len(frame):,} rows.")
    return kept


def _log_time_quality(events) -> None:
    """Log what the time-quality check found (its warnings say what was done)."""
    quality = events.report.get("time_quality")
    if not quality:
        return
    if quality.get("date_order"):
        logger.info("numeric dates read %s (%s)", quality["date_order"], quality["date_order_from"])
    heaps = ", ".join(
        f"{h['instant']} {h['observed']:,} (expected {h['expected']:,.0f})"
        for h in quality.get("heaps", [])
    )
    logger.info(
        "times: %s precision; records at default instants: %s; %s of %s times exact, %s "
        "made windows (--date-only %s, --default-times %s, --default-window %s)",
        quality.get("precision"), heaps or "none", f"{quality['exact_times']:,}",
        f"{len(events):,}", f"{quality['windowed']:,}", quality["date_only_policy"],
        quality["default_times_policy"], quality["default_window"],
    )  # fmt: skip


def _input_file(value, what: str, suffixes) -> Path:
    path = Path(value)
    if path.is_dir():
        raise CliError(f"{str(path)!r} is a folder; give the {what} file.")
    if not path.exists():
        raise FileNotFoundError(f"no such {what} file: {str(path)!r}.")
    name = path.name.lower()
    if not name.endswith((*suffixes, ".csv.gz", ".csv.zip")):
        raise CliError(
            f"cannot tell the format of the {what} file {path.name!r} from its suffix; use one "
            f"of {', '.join(suffixes)}."
        )
    return path


@contextlib.contextmanager
def _reading(path: Path):
    """Turn the errors of file readers into messages that name the file."""
    import pandas as pd

    unreadable = (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError)
    try:
        yield
    except Exception as exc:
        errors = sys.modules.get("pyogrio.errors")
        if errors is not None:
            unreadable += (errors.DataSourceError, errors.DataLayerError)
        if isinstance(exc, unreadable):
            raise CliError(f"cannot read {path.name!r}: {exc}") from exc
        raise


def _read_gis_file(path):
    """Read a polygon or line file: GeoParquet, or anything pyogrio reads."""
    import geopandas

    with _reading(path):
        if path.suffix.lower() == ".parquet":
            return geopandas.read_parquet(path)
        return geopandas.read_file(path, engine="pyogrio")


def _read_area(value, crs, flag: str = "--area"):
    """Read a vector file given to ``flag`` (e.g. ``--groups``), reprojected to the incidents' CRS.

    Errors name ``flag``, so that the user knows which of several files is wrong.
    """
    suffixes = (".gpkg", ".geojson", ".json", ".shp", ".fgb", ".parquet")
    path = _input_file(value, flag.lstrip("-"), suffixes)
    area = _read_gis_file(path)
    if area.crs is None:
        raise CliError(
            f"the {flag} file {path.name!r} has no CRS; set it in a GIS, or with geopandas "
            "(gdf.set_crs('EPSG:....').to_file(...))."
        )
    if area.crs.is_geographic:
        xmin, ymin, xmax, ymax = area.total_bounds
        if not (-180 <= xmin <= xmax <= 360 and -90 <= ymin <= ymax <= 90):
            raise CliError(
                f"the {flag} file {path.name!r} is in {area.crs.to_string()} (degrees) but its "
                f"coordinates span x {xmin:g}..{xmax:g}, y {ymin:g}..{ymax:g}, which are not "
                "longitudes and latitudes. A GeoJSON file without a 'crs' member is read as "
                f"WGS 84: write the {flag} file with its projected CRS (e.g. as a GeoPackage)."
            )
    if not area.crs.equals(crs, ignore_axis_order=True):
        logger.warning(
            "reprojecting the %s file from %s to the incidents' %s",
            flag,
            area.crs.to_string(),
            crs.to_string(),
        )
        area = area.to_crs(crs)
    return area


def _local_time(value, flag: str, tz: str, dayfirst=None):
    """Parse a date or time of the command line as a local Timestamp in ``tz``.

    A date whose day and month could be swapped (01/06/2019) needs ``dayfirst``
    (--dayfirst or --monthfirst).
    """
    import pandas as pd

    from caslite._time import to_utc_seconds

    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        stamp = pd.NaT
    if stamp is pd.NaT:
        raise CliError(
            f"{flag} {value!r} is not a date or time; use ISO 8601, e.g. 2019-03-01 or "
            "'2019-03-01 06:00' (local time)."
        )
    seconds = int(to_utc_seconds(value, tz, flag, dayfirst))
    return pd.Timestamp(seconds, unit="s", tz="UTC").tz_convert(tz)


def _duration(value, flag: str, *, risk: bool = False) -> str:
    """Check a duration of the command line (``14D``, ``36h``); the risk model's is >= 1D."""
    from caslite._validation import as_duration
    from caslite.models.risk import MIN_HORIZON

    minimum = MIN_HORIZON if risk else None
    reason = (
        " (every training horizon of the risk model must hold every shift of the day); give "
        "--horizon 1D and read its first shifts"
        if risk
        else ""
    )
    try:
        as_duration(value, flag.lstrip("-"), minimum=minimum, reason=reason, flag=flag)
    except (TypeError, ValueError) as exc:
        raise CliError(str(exc)) from None
    return value


def _numbers(values, flag: str, default) -> tuple:
    """Numbers from ``--flag 1 2 3`` or ``--flag 1,2,3``; ``default`` when not given."""
    if values is None:
        return tuple(default)
    items = [item for value in values for item in value.split(",") if item.strip()]
    try:
        return tuple(float(item) for item in items)
    except ValueError:
        bad = next(i for i in items if not _is_number(i))
        raise CliError(f"{flag}: {bad!r} is not a number; e.g. {flag} 0,100,200.") from None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _next_midnight(events):
    """Return the local midnight after the last incident (the default origin / end).

    The first instant of the next local day, with its UTC offset: where clocks skip midnight
    (e.g. America/Santiago) the day starts at the end of the gap, and where midnight occurs
    twice at its first occurrence.
    """
    import pandas as pd

    last = pd.Timestamp(int(events.t_end.max()), unit="s", tz="UTC").tz_convert(events.tz)
    day = last.tz_localize(None).normalize() + pd.Timedelta(days=1)
    return day.tz_localize(events.tz, ambiguous=True, nonexistent="shift_forward").isoformat()


def _progress(args) -> bool:
    return not (args.quiet or getattr(args, "no_progress", False))


def _output_folder(value) -> Path:
    """Create the folder ``--out`` (before the work, so that a bad one fails fast)."""
    out = Path(value)
    if out.exists() and not out.is_dir():
        raise CliError(f"--out {str(out)!r} is a file, not a folder; give a folder to write to.")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _new_axes(**figure):
    from matplotlib.figure import Figure

    return Figure(layout="constrained", **figure).add_subplot()


# ---------------------------------------------------------------------- summary
def _summary(args) -> None:
    from caslite.summary import summarize_incidents

    events, title = _read_events(args)
    area = None if args.area is None else _read_area(args.area, events.crs)
    result = summarize_incidents(
        events,
        cell_size=args.cell_size,
        days=args.days,
        schedule=_schedule(args, events.tz),
        area=area,
        out=args.out,
        title=title,
    )
    print(result.text)
    for path in result.files:
        logger.info("wrote %s", path)


# ---------------------------------------------------------------------- forecast
def _forecast(args) -> None:
    from caslite.io import write_hot_cells
    from caslite.models import RiskModel
    from caslite.predict import predict

    formats = _formats(args.format)
    if args.layout == "layers" and "gpkg" not in formats:
        raise CliError("--layout layers (a layer per shift) needs --format gpkg.")
    _duration(args.horizon, "--horizon", risk=True)
    events, title = _read_events(args)
    origin = _next_midnight(events) if args.origin is None else args.origin
    stamp = _local_time(origin, "--origin", events.tz, args.dayfirst)
    if args.dayfirst is not None:  # predict reads the origin without the day/month order
        origin = stamp.isoformat()
    area = None if args.area is None else _read_area(args.area, events.crs)
    layers = _category_layers(args, events)
    schedule = _schedule(args, events.tz)
    context = _read_context(args.context)  # before the fit: a bad file fails fast
    out = _output_folder(args.out)
    model = RiskModel(progress=_progress(args), schedule=schedule, **_risk_options(args, layers))
    hot, forecast = predict(
        events,
        origin,
        args.horizon,
        args.cell_size,
        area=area,
        coverage=args.coverage,
        model=model,
        random_state=args.seed,
        return_forecast=True,
    )
    written = []
    for name in formats:
        layout = args.layout if name == "gpkg" else "column"
        written += write_hot_cells(hot, out / f"hot_cells{_FORMATS[name]}", layout=layout)
    written += _write_maps(
        forecast,
        hot,
        out,
        title,
        label=f"expected incidents, {args.horizon} from {origin}",
        coverage=args.coverage,
        context=context,
    )
    record = dict(forecast.provenance, command=["caslite", *args.argv])
    if "filter" in events.report:
        record["filter"] = events.report["filter"]
    path = out / "provenance.json"
    write_text(path, json.dumps(record, indent=2) + "\n")
    written.append(path)
    n_shifts = hot["shift_start"].nunique()
    print(
        f"{title}: forecast from {origin} over {args.horizon} ({_shift_words(schedule)}): "
        f"{len(forecast.blocks)} shifts x "
        f"{forecast.grid.n_cells} cells of {args.cell_size:g} m; {forecast.risk.sum():.1f} "
        f"incidents expected; {len(hot)} hot (shift, cell) pairs over {n_shifts} shifts at "
        f"{100 * args.coverage:g} % coverage."
    )
    for path in written:
        logger.info("wrote %s", path)


def _formats(values) -> list:
    if values is None:
        return ["gpkg", "csv"]
    names = []
    for value in values:
        for name in value.lower().split(","):
            name = name.strip().lstrip(".")
            if not name:
                continue
            if name not in _FORMATS:
                raise CliError(
                    f"--format {name!r} is not one of {', '.join(_FORMATS)}; give one or more, "
                    "e.g. --format gpkg geojson (after the incident file, or before another "
                    "option)."
                )
            if name not in names:
                names.append(name)
    return names


def _read_context(values) -> dict:
    """Read the --context files: {file name without suffix: GeoDataFrame}, each with a CRS."""
    if not values:
        return {}

    suffixes = (".gpkg", ".geojson", ".json", ".shp", ".fgb", ".parquet", ".gml", ".kml")
    layers = {}
    for value in values:
        path = _input_file(value, "--context", suffixes)
        layer = _read_gis_file(path)
        if layer.crs is None:
            raise CliError(
                f"the --context file {path.name!r} has no CRS, so it cannot be placed on the "
                "map; set it in a GIS, or with geopandas (gdf.set_crs('EPSG:....').to_file(...))."
            )
        name = path.stem if path.stem not in layers else str(path)  # two files, one name
        layers[name] = layer
    return layers


def _write_maps(
    forecast, hot, out: Path, title: str, *, label: str, coverage: float, context=None
) -> list:
    """Draw the forecast's maps into ``out``; return the files written.

    ``hot_cells.png``: the shifts of the horizon's first day as small multiples, hot cells
    marked over each shift's risk; ``risk_horizon.png``: the expected incidents of every cell
    over the whole horizon on a log scale, with the horizon's hot cells and latitude/longitude
    ticks; ``hot_cells.html``: an interactive map (Leaflet inlined, so it opens without
    internet; the background tiles need it) with a hot-cell layer per shift of the first day.
    The ``context`` layers ({name: GeoDataFrame}) are drawn under the risk of all three.
    """
    import pandas as pd

    from caslite.maps import explore, plot_day, plot_horizon

    context = context or None
    written = []
    figure = plot_day(forecast, coverage=coverage, context=context)
    first = pd.Timestamp(int(forecast.blocks.start[0]), unit="s", tz="UTC")
    day = first.tz_convert(forecast.blocks.schedule.tz).strftime("%a %Y-%m-%d")
    figure.suptitle(f"{title}: hot cells per shift on {day} ({100 * coverage:g} % of the area)")
    path = out / "hot_cells.png"
    save_figure(figure, path, dpi=120)
    written.append(path)
    ax = plot_horizon(forecast, coverage=coverage, context=context)
    ax.set_title(f"{title}: {label}")
    path = out / "risk_horizon.png"
    save_figure(ax.figure, path, dpi=120)
    written.append(path)
    path = out / "hot_cells.html"
    explore(forecast, coverage=coverage, path=path, self_contained=True, context=context)
    written.append(path)
    return written


# ---------------------------------------------------------------------- backtest
def _backtest(args) -> None:
    from caslite.evaluation.backtest import backtest
    from caslite.grid import Grid

    methods = _method_names(args.methods)
    coverages = _numbers(args.coverage, "--coverage", (0.01, 0.03, 0.05))
    _duration(args.step, "--step")
    _duration(args.horizon, "--horizon")
    if args.methods is None and _shorter_than_a_risk_horizon(args.horizon):
        methods.remove("risk")
        logger.info(
            "--horizon %s is shorter than the risk model's shortest (1D): comparing the "
            "baselines only",
            args.horizon,
        )
    _duration(args.horizon, "--horizon", risk="risk" in methods)
    events, title = _read_events(args)
    start = _local_time(args.start, "--start", events.tz, args.dayfirst)
    end = _next_midnight(events) if args.end is None else args.end
    end = _local_time(end, "--end", events.tz, args.dayfirst)
    if args.area is not None:
        grid = Grid.from_area(
            _read_area(args.area, events.crs), cell_size=args.cell_size, crs=events.crs
        )
    else:
        known = events.before(int(start.timestamp()))
        if not len(known):
            raise CliError(
                f"no incident is known before --start {args.start}: the methods need history "
                "to fit on (and the grid is drawn around it). Use a later --start, or give "
                "--area."
            )
        grid = Grid.from_events(known, cell_size=args.cell_size)
    schedule = _schedule(args, events.tz)
    layers = _category_layers(args, events) if "risk" in methods else None
    risk_options = _risk_options(args, layers)
    forecasters = {
        name: _forecaster(
            name,
            args.seed,
            schedule=schedule,
            horizon=args.horizon,
            risk_options=risk_options,
        )
        for name in methods
    }
    out = _output_folder(args.out)
    result = backtest(
        forecasters,
        events,
        grid,
        start=start,
        end=end,
        step=args.step,
        horizon=args.horizon,
        schedule=schedule,
        retrain_every=args.retrain_every,
        coverages=coverages,
        n_jobs=args.n_jobs,
        progress=_progress(args),
        max_origins=args.max_origins,
    )
    table = result.to_markdown()
    n_origins = len(result.params["origins"])
    heading = (
        f"{title}: {n_origins} origins every {args.step} from {start:%Y-%m-%d %H:%M}, "
        f"{args.horizon} horizons of {_shift_words(schedule)}, {grid.n_cells:,} cells "
        f"of {args.cell_size:g} m; means over origins."
    )
    written = [out / "scores.csv", out / "summary.md", out / "hit_rate.png", out / "pai.png"]
    with atomic_path(written[0]) as temporary:
        result.scores.to_csv(temporary, index=False)
    write_text(written[1], f"{heading}\n\n{table}\n")
    for path, draw in zip(written[2:], (result.plot_hit_rate, result.plot_pai), strict=True):
        ax = draw(ax=_new_axes(figsize=(6.5, 4.5)))
        ax.set_title(f"{title}: {path.stem.replace('_', ' ')} by coverage")
        save_figure(ax.figure, path, dpi=120)
    print(heading)
    print(table)
    for path in written:
        logger.info("wrote %s", path)


def _shorter_than_a_risk_horizon(value) -> bool:
    """Whether a (checked) ``--horizon`` is shorter than the risk model's shortest."""
    from caslite._validation import as_duration
    from caslite.models.risk import MIN_HORIZON

    return as_duration(value, "horizon") < as_duration(MIN_HORIZON, "horizon")


def _method_names(values) -> list:
    known = _METHODS
    if values is None:
        return list(_DEFAULT_METHODS)
    names = []
    for value in values:
        for name in value.lower().split(","):
            name = name.strip()
            if not name:
                continue
            if name == "all":
                chosen = list(known)
            elif name == "baselines":
                chosen = list(_BASELINES)
            elif name in known:
                chosen = [name]
            else:
                raise CliError(
                    f"--methods {name!r} is not a method; choose from {', '.join(known)}, "
                    "'all' or 'baselines'."
                )
            names += [n for n in chosen if n not in names]
    return names


# ---------------------------------------------------------------------- knox
def _knox(args) -> None:
    import numpy as np
    import pandas as pd

    from caslite.knox import knox_test, suggest_bandwidths

    distances = _numbers(args.distances, "--distances", (0, 100, 200, 300, 400, 500))
    days = _numbers(args.days, "--days", (0, 7, 14, 21, 28))
    events, title = _read_events(args)
    events = _period(events, args)
    if args.area is not None:
        events = _in_area(events, _read_area(args.area, events.crs))
    out = _output_folder(args.out)
    result = knox_test(
        events,
        distance_bands=distances,
        time_bands_days=days,
        same_location=not args.no_same_location,
        n_permutations=args.permutations,
        random_state=args.seed,
        progress=_progress(args),
    )
    written = [out / "knox.csv", out / "knox.png"]
    with atomic_path(written[0]) as temporary:
        result.to_frame(alpha=args.alpha).to_csv(temporary, index=False)
    save_figure(result.plot(alpha=args.alpha).figure, written[1], dpi=120)
    ratios = result.to_table("knox_ratio")
    significant = result.to_table("significant", alpha=args.alpha)
    marks = np.where(significant.to_numpy(), "*", " ")
    cells = [
        [f"{v:.2f}{m}" for v, m in zip(*row, strict=True)]
        for row in zip(ratios.to_numpy(), marks, strict=True)
    ]
    shown = pd.DataFrame(cells, index=ratios.index, columns=ratios.columns)
    print(
        f"{title}: Knox test of {result.n_events:,} incidents, {result.n_pairs:,} close pairs, "
        f"{result.n_permutations} permutations (seed {args.seed}); Knox ratio = observed / "
        f"expected close pairs, * p < {args.alpha:g}"
    )
    print(shown.to_string())
    advice = suggest_bandwidths(result, alpha=args.alpha).message
    print(advice.replace("distance_bands", "--distances").replace("time_bands_days", "--days"))
    for path in written:
        logger.info("wrote %s", path)


def _in_area(events, area):
    """Return the incidents inside the polygons of ``--area`` (boundary included)."""
    import shapely

    inside = shapely.covers(area.geometry.union_all(), shapely.points(events.x, events.y))
    logger.info("%s of %s incidents lie in --area", f"{inside.sum():,}", f"{len(events):,}")
    if not inside.any():
        raise CliError(
            f"none of the {len(events):,} incidents lies in the --area polygons; check that "
            "the area file covers the incidents."
        )
    return events.select(inside)


def _period(events, args):
    """Return the incidents from ``--start`` (inclusive) to ``--end`` (exclusive)."""
    import numpy as np

    keep = np.ones(len(events), dtype=bool)
    if args.start is not None:
        start = _local_time(args.start, "--start", events.tz, args.dayfirst)
        keep &= events.t >= int(start.timestamp())
    if args.end is not None:
        end = _local_time(args.end, "--end", events.tz, args.dayfirst)
        keep &= events.t < int(end.timestamp())
    if keep.all():
        return events
    logger.info("%s of %s incidents in the period", f"{keep.sum():,}", f"{len(events):,}")
    return events.select(keep)


# ---------------------------------------------------------------------- simulate
def _simulate(args) -> None:
    from caslite.datasets import simulate_city
    from caslite.io import SUFFIXES, write_incidents

    path = Path(args.path)
    if path.suffix.lower() not in SUFFIXES:
        raise CliError(
            f"cannot tell the format of {path.name!r} from its suffix; use one of "
            f"{', '.join(SUFFIXES)}."
        )
    if not path.parent.is_dir():
        raise FileNotFoundError(f"the folder {str(path.parent)!r} does not exist.")
    city = simulate_city(
        start=args.start,
        end=args.end,
        size=args.size,
        origin=tuple(args.origin),
        crs=args.crs,
        tz=args.tz,
        resolution=args.resolution,
        n_clusters=args.clusters,
        background_rate=args.background_rate,
        branching_ratio=args.branching_ratio,
        temporal_range_days=args.temporal_range_days,
        spatial_range=args.spatial_range,
        seasonal_amplitude=args.seasonal_amplitude,
        random_state=args.seed,
    )
    written = write_incidents(city.to_frame(), path, crs=city.crs)
    n = len(city)
    background = int((city.events["generation"] == 0).sum())
    truth = {
        "params": city.params,
        "crs": city.crs,
        "tz": city.tz,
        "bounds": list(city.bounds),
        "n_events": n,
        "n_background": background,
        "expected_background": city.background_integral(),
        "file": path.name,
        "read_with": f"caslite forecast {path.name} --crs {city.crs} --tz {city.tz}",
    }
    params_path = path.with_name(path.name[: -len(path.suffix)] + ".params.json")
    write_text(params_path, json.dumps(truth, indent=2, default=_json_default) + "\n")
    written.append(params_path)
    share = 1 - background / n if n else 0.0
    print(
        f"simulated {n:,} burglaries ({background:,} background, {share:.0%} near repeats) "
        f"from {city.start:%Y-%m-%d} to {city.end:%Y-%m-%d} in a {city.size:g} m square at "
        f"({city.x0:g}, {city.y0:g}) {city.crs}, {city.tz}; seed {args.seed}. Read it with: "
        f"{truth['read_with']}"
    )
    for item in written:
        logger.info("wrote %s", item)


def _json_default(value):
    import numpy as np
    import pandas as pd

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)


# ---------------------------------------------------------------------- bench
def _bench(args) -> int:
    import subprocess

    root = Path.cwd() if args.path is None else Path(args.path).expanduser()
    module = "benchmarks.report" if args.report else "benchmarks"
    entry = root / "benchmarks" / ("report.py" if args.report else "__main__.py")
    if not entry.is_file():
        raise CliError(
            f"no benchmark suite in {str(root)!r} (looked for {entry.relative_to(root)}). The "
            "benchmarks ship with the source repository, not with the installed package: "
            "clone the caslite repository, install it from there (pip install -e .), and run "
            "caslite bench in the clone (or python -m benchmarks), or point --path at it."
        )
    command = [sys.executable, "-m", module]
    if args.report:
        if args.only:
            raise CliError("--only chooses benchmark cases; the report has --parts (after --).")
        command += ["--quick"] if args.quick else []
    else:
        command += ["--profile", "smoke"] if args.quick else []
        for only in args.only or []:
            command += ["--only", only]
    command += list(args.extra)
    logger.info("running %s in %s", " ".join(command[1:]), root)
    return subprocess.run(command, cwd=root, check=False).returncode


_COMMANDS = {
    "summary": _summary,
    "forecast": _forecast,
    "backtest": _backtest,
    "knox": _knox,
    "simulate": _simulate,
    "bench": _bench,
}


# ---------------------------------------------------------------------- prevention work
_PREVENTION_EXAMPLES = {
    "alert": r"""examples:
  caslite alert --sample toronto --since 2019-12-01 --until 2019-12-03 \
      --area-column neighbourhood --team West --out caslite-alerts
  caslite alert incidents.csv --crs EPSG:28992 --tz Europe/Amsterdam \
      --groups whatsapp_groups.gpkg --group-name naam --language nl --team "Utrecht-Oost"

The incidents from --since (default: the 24 hours up to the last one) are the new
burglaries; those before it are the history on which the uplift is measured.

outputs (in --out): zones.gpkg (layers zones and revisits: for the police, they locate the
victims), zones.csv, revisits.csv (earlier victims in each zone), cells.csv (grid cells in
each zone), messages.csv and messages.txt (one message per group; no address or
coordinate).
""",
    "report": r"""examples:
  caslite report --sample toronto --area-column neighbourhood --end 2019-06-01
  caslite report incidents.csv --crs EPSG:28992 --tz Europe/Amsterdam \
      --areas buurten.gpkg --name-column buurtnaam --language nl --days 28

Counts from 1 to --min-count - 1 (default 1-4) are published as a band, never as their value.
With --area-column the map's outlines are made of --outline-cell squares (default 1 km), each
given to the neighbourhood with most incidents in it, so they do not trace incident locations.

outputs (in --out): report.html (one page, self-contained, readable on a phone), report.csv
(the published, banded table), report.png (bar chart and map).
""",
    "outlook": r"""examples:
  caslite outlook --sample toronto --area-column neighbourhood --origin 2019-10-01 \
      --weeks 13 --lookback-weeks 104
  caslite outlook incidents.csv --crs EPSG:28992 --tz Europe/Amsterdam \
      --district-size 2000 --origin 2024-10-01

outputs (in --out): outlook.csv (expected incidents per district and week with the interval),
ranking.csv (district-weeks, highest first), outlook.png (the districts with most expected).
""",
}


def _add_alert_parser(command) -> None:
    """Add ``caslite alert`` and its options (``command``: the factory of :func:`_parser`)."""
    alert = command(
        "alert",
        "near-repeat alerts after new burglaries: zones, revisits, group messages",
        "Split the incidents at --since into history and new burglaries; measure the "
        "near-repeat uplift on the history (Knox test); write a zone of raised risk around "
        "each new burglary, the earlier victims in it and one message per neighbourhood-"
        "watch group (or area) it touches.",
        _PREVENTION_EXAMPLES["alert"],
    )
    _input_arguments(alert)
    alert.add_argument(
        "--since", default=None,
        help="new burglaries from this local time (default: 24 hours before the last one)",
    )  # fmt: skip
    alert.add_argument("--until", default=None, help="new burglaries before this local time")
    alert.add_argument("--groups", default=None, help="polygon file of the groups")
    alert.add_argument("--group-name", default="name", help="name column of --groups (name)")
    alert.add_argument(
        "--area-column", default=None,
        help="without --groups: a column naming each burglary's area, e.g. neighbourhood",
    )  # fmt: skip
    alert.add_argument("--addresses", default=None, help="point file of addresses")
    alert.add_argument(
        "--area", default=None, help="polygon file of the study area, for the grid (default: "
        "the hull of the incidents)"
    )  # fmt: skip
    alert.add_argument("--radius", type=float, default=None, help="zone radius, metres")
    alert.add_argument("--window-days", type=float, default=None, help="zone period, days")
    alert.add_argument(
        "--min-radius", type=float, default=200.0, help="minimum zone radius, metres (200)"
    )
    alert.add_argument("--language", choices=["en", "nl"], default="en", help="default en")
    alert.add_argument("--template", default=None, help="message template file")
    alert.add_argument("--team", default="", help="the police team's name in messages")
    alert.add_argument("--permutations", type=int, default=199, help="Knox test (199)")
    alert.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    alert.add_argument("--out", default="caslite-alerts", help="output folder")


def _add_report_parser(command) -> None:
    """Add ``caslite report`` and its options (``command``: the factory of :func:`_parser`)."""
    report = command(
        "report",
        "burglaries per neighbourhood for a period vs last year: HTML, CSV, figure",
        "Count the incidents per neighbourhood in the --days before --end, against the same "
        "period 52 weeks earlier and the 52-week mean; write a one-page HTML report, a CSV "
        "table and a figure, with small counts banded.",
        _PREVENTION_EXAMPLES["report"],
    )
    _input_arguments(report, cell_size=False)
    report.add_argument("--areas", default=None, help="polygon file of the neighbourhoods")
    report.add_argument("--name-column", default="name", help="name column of --areas (name)")
    report.add_argument(
        "--area-column", default=None,
        help="instead of --areas: a column naming each incident's neighbourhood",
    )  # fmt: skip
    report.add_argument(
        "--end", default=None,
        help="end of the period, local time (default: the midnight after the last incident)",
    )  # fmt: skip
    report.add_argument("--days", type=int, default=14, help="period length, days (14)")
    report.add_argument(
        "--min-count", type=int, default=5,
        help="counts below it are banded (5: shown 1-4); 1 bands nothing; 2 is refused",
    )  # fmt: skip
    report.add_argument(
        "--outline-cell", type=float, default=1000.0,
        help="with --area-column: side of the grid squares the map outlines are made of, "
        "metres (1000)",
    )  # fmt: skip
    report.add_argument("--language", choices=["en", "nl"], default="en", help="default en")
    report.add_argument("--out", default="caslite-report", help="output folder")


def _add_outlook_parser(command) -> None:
    """Add ``caslite outlook`` and its options (``command``: the factory of :func:`_parser`)."""
    outlook = command(
        "outlook",
        "dark-months outlook: expected incidents per district and week, with intervals",
        "Fit a Poisson model of the weekly incidents per district (seasonality, evening "
        "darkness, district levels) on the history before --origin, scale it to the recent "
        "level, and forecast the next --weeks weeks with prediction intervals.",
        _PREVENTION_EXAMPLES["outlook"],
    )
    _input_arguments(outlook, cell_size=False)
    where = outlook.add_mutually_exclusive_group(required=True)
    where.add_argument("--areas", default=None, help="polygon file of the districts")
    where.add_argument("--area-column", default=None, help="a column naming the district")
    where.add_argument(
        "--district-size", type=float, default=None, help="square districts of this side, m"
    )
    outlook.add_argument("--name-column", default="name", help="name column of --areas")
    outlook.add_argument(
        "--origin", default=None,
        help="first forecast week starts here, local (default: the midnight after the last)",
    )  # fmt: skip
    outlook.add_argument("--weeks", type=int, default=26, help="weeks ahead (26)")
    outlook.add_argument(
        "--lookback-weeks", type=int, default=156, help="weeks of history fit on (156)"
    )
    outlook.add_argument("--alpha", type=float, default=0.2, help="1 - interval level (0.2)")
    outlook.add_argument("--out", default="caslite-outlook", help="output folder")


def _alert(args) -> None:
    import numpy as np

    from caslite._time import DAY
    from caslite.alerts import near_repeat_alerts
    from caslite.grid import Grid

    events, title = _read_events(args)
    if args.since is None:
        since = int(events.t.max()) - DAY
    else:
        since = int(_local_time(args.since, "--since", events.tz).timestamp())
    is_new = events.t >= since
    if args.until is not None:
        is_new &= events.t < int(_local_time(args.until, "--until", events.tz).timestamp())
    if not is_new.any():
        raise CliError(
            f"no incident from --since {args.since or 'the last 24 hours'}"
            + (f" before --until {args.until}" if args.until else "")
            + f" in {title}: nothing to alert on."
        )
    known, new = events.select(events.t < since), events.select(np.flatnonzero(is_new))
    out = _output_folder(args.out)
    template = None
    if args.template is not None:
        template = _input_file(args.template, "template", (".txt",))
    groups = addresses = None
    if args.groups is not None:
        groups = _read_area(args.groups, events.crs, "--groups")
    if args.addresses is not None:
        addresses = _read_area(args.addresses, events.crs, "--addresses")
    alerts = near_repeat_alerts(
        known,
        new,
        groups=groups,
        group_name=args.group_name,
        area_column=args.area_column,
        grid=(
            Grid.from_events(events, cell_size=args.cell_size)
            if args.area is None
            else Grid.from_area(
                _read_area(args.area, events.crs), cell_size=args.cell_size, crs=events.crs
            )
        ),
        addresses=addresses,
        radius_m=args.radius,
        window_days=args.window_days,
        min_radius_m=args.min_radius,
        n_permutations=args.permutations,
        language=args.language,
        template=template,
        team=args.team,
        random_state=args.seed,
    )
    written = [alerts.to_file(out / "zones.gpkg")]
    tables = {
        "zones.csv": alerts.zones.drop(columns="geometry"),
        "revisits.csv": alerts.revisits,
        "cells.csv": alerts.cells,
        "messages.csv": alerts.messages,
    }
    for name, table in tables.items():
        with atomic_path(out / name) as temporary:
            table.to_csv(temporary, index=False)
        written.append(out / name)
    write_text(out / "messages.txt", "\n\n".join(alerts.messages["text"]) + "\n")
    written.append(out / "messages.txt")
    u = alerts.uplift
    print(
        f"{title}: {len(new):,} new burglaries, {len(known):,} earlier incidents. Zone "
        f"{u.radius_m:g} m and {u.window_days:g} days ({u.source}): uplift {u.ratio:.2f} "
        f"[{u.low:.2f}, {u.high:.2f}]. {u.note}"
    )
    n_messages = len(alerts.messages)
    print(f"{len(alerts.revisits):,} earlier victims to revisit; {n_messages} message(s):")
    for text in alerts.messages["text"]:
        print(f"\n{text}")
    if groups is None and args.area_column is None:
        logger.warning("no --groups or --area-column given: no messages written.")
    for path in written:
        logger.info("wrote %s", path)


def _report(args) -> None:
    from caslite.neighbourhood import neighbourhood_report

    events, title = _read_events(args)
    out = _output_folder(args.out)
    areas = None if args.areas is None else _read_area(args.areas, events.crs, "--areas")
    report = neighbourhood_report(
        events,
        areas=areas,
        name_column=args.name_column,
        area_column=args.area_column,
        end=args.end,
        days=args.days,
        min_count=args.min_count,
        language=args.language,
        outline_cell_m=args.outline_cell,
    )
    written = [report.to_csv(out / "report.csv"), out / "report.html", out / "report.png"]
    report.to_html(out / "report.html")
    save_figure(report.figure(), out / "report.png", dpi=110)
    print(f"{title}: {report.words['title'].lower()}, {report._period_words()}")
    print(report.table.to_string(index=False))
    print(report.note)
    for path in written:
        logger.info("wrote %s", path)


def _outlook(args) -> None:
    from caslite.outlook import dark_months_outlook

    events, title = _read_events(args)
    out = _output_folder(args.out)
    areas = None if args.areas is None else _read_area(args.areas, events.crs, "--areas")
    outlook = dark_months_outlook(
        events,
        areas=areas,
        name_column=args.name_column,
        area_column=args.area_column,
        district_size_m=args.district_size,
        origin=args.origin,
        weeks=args.weeks,
        lookback_weeks=args.lookback_weeks,
        alpha=args.alpha,
    )
    written = [out / "outlook.csv", out / "ranking.csv", out / "outlook.png"]
    for path, table in zip(written[:2], (outlook.table, outlook.ranking), strict=True):
        with atomic_path(path) as temporary:
            table.to_csv(temporary, index=False)
    save_figure(outlook.figure(), written[2], dpi=110)
    top = outlook.ranking.head(10).assign(week_start=lambda f: f["week_start"].dt.date)
    print(
        f"{title}: {outlook!r}; recent level x{outlook.level:.2f}; "
        f"{1 - outlook.alpha:.0%} intervals. Top district-weeks:"
    )
    print(top.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    for path in written:
        logger.info("wrote %s", path)


_COMMANDS.update({"alert": _alert, "report": _report, "outlook": _outlook})


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
