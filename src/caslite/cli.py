r"""The ``caslite`` command line.

Examples
--------
Forecast the hot cells of every 4-hour shift of the two weeks after the shipped Toronto
sample ends (GeoPackage, CSV and a PNG map in caslite-output/)::

    caslite forecast --sample toronto --out caslite-output

The same for your own file, from a chosen origin::

    caslite forecast incidents.csv --time t --x x --y y --crs EPSG:32617 \\
        --tz America/Toronto --origin 2019-03-01 --coverage 0.03 --out caslite-output

Summarise the shipped Toronto sample and write a table and a map of recent incidents per cell::

    caslite summary --sample toronto --out caslite-output

The same for your own file::

    caslite summary incidents.csv --time t --x x --y y --crs EPSG:32617 \\
        --tz America/Toronto --out caslite-output
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

__all__ = ["main"]

logger = logging.getLogger("caslite")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="caslite",
        description="Burglary risk per grid cell and police shift.",
        epilog=__doc__.split("Examples\n--------\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    summary = commands.add_parser(
        "summary",
        help="summarise incidents on a grid and shifts; write a table and a map",
        description=(
            "Read incidents (a file or a shipped sample), build the grid and the shift "
            "schedule, print a summary, and write a CSV table and a PNG map of the incidents "
            "per cell over the last --days days."
        ),
    )
    _input_arguments(summary)
    summary.add_argument("--days", type=int, default=90, help="recent window (default: 90)")
    summary.add_argument("--out", default="caslite-output", help="output folder")

    forecast = commands.add_parser(
        "forecast",
        help="fit the risk model and write the hot cells of every shift of the horizon",
        description=(
            "Read incidents, fit caslite's risk model on those known before --origin, and "
            "write the hot cells of every shift of the horizon: hot_cells.gpkg (layer "
            "hot_cells, one row per shift and cell, times as local ISO text), hot_cells.csv "
            "and hot_cells.png (expected incidents over the horizon, hot cells of the first "
            "shift outlined)."
        ),
    )
    _input_arguments(forecast)
    forecast.add_argument(
        "--origin",
        default=None,
        help="forecast origin, local time (default: the midnight after the last incident)",
    )
    forecast.add_argument("--horizon", default="14D", help="horizon length (default: 14D)")
    forecast.add_argument(
        "--coverage", type=float, default=0.03, help="share of the area per shift (default 0.03)"
    )
    forecast.add_argument("--shift-hours", type=int, default=4, help="shift length (default 4)")
    forecast.add_argument("--seed", type=int, default=0, help="random_state of the model")
    forecast.add_argument("--out", default="caslite-output", help="output folder")
    return parser


def _input_arguments(command) -> None:
    source = command.add_mutually_exclusive_group(required=True)
    source.add_argument("path", nargs="?", help="incident file (.csv, .gpkg, .geojson, .parquet)")
    source.add_argument("--sample", choices=["toronto", "synthetic"], help="a shipped sample")
    command.add_argument("--time", default="t", help="time column (default: t)")
    command.add_argument("--x", default=None, help="x column (default: x, or the geometry)")
    command.add_argument("--y", default=None, help="y column (default: y, or the geometry)")
    command.add_argument("--crs", default=None, help="CRS of the coordinates, e.g. EPSG:32617")
    command.add_argument("--tz", default=None, help="IANA time zone, e.g. America/Toronto")
    command.add_argument("--cell-size", type=float, default=125.0, help="metres (default: 125)")


def main(argv=None) -> int:
    """Run the command line; return the exit code.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        0 on success, 2 for bad input (with the reason on standard error).
    """
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        if args.command == "summary":
            _summary(args)
        elif args.command == "forecast":
            _forecast(args)
    except (ValueError, TypeError, FileNotFoundError) as exc:
        print(f"caslite {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0


def _read_events(args):
    """Return the incidents of a shipped sample or a file, and a title for them."""
    if args.sample:
        from caslite.datasets import load_sample

        sample = load_sample(args.sample)
        events = sample.to_events(ambiguous="earliest", nonexistent="shift_forward")
        return events, f"caslite sample {args.sample!r}"
    from caslite.events import Events

    if args.tz is None:
        raise ValueError("--tz is required for a file, e.g. --tz America/Toronto")
    events = Events.read(args.path, time=args.time, x=args.x, y=args.y, crs=args.crs, tz=args.tz)
    return events, Path(args.path).name


def _summary(args) -> None:
    from caslite.summary import summarize_incidents

    events, title = _read_events(args)
    result = summarize_incidents(
        events, cell_size=args.cell_size, days=args.days, out=args.out, title=title
    )
    print(result.text)
    for path in result.files:
        logger.info("wrote %s", path)


def _forecast(args) -> None:
    import pandas as pd

    from caslite.plot import plot_cells
    from caslite.predict import predict

    events, title = _read_events(args)
    if args.origin is None:
        last = pd.Timestamp(int(events.t_end.max()), unit="s", tz="UTC").tz_convert(events.tz)
        origin = (last.tz_localize(None).normalize() + pd.Timedelta(days=1)).isoformat()
    else:
        origin = args.origin
    hot, forecast = predict(
        events,
        origin,
        args.horizon,
        args.cell_size,
        tz=events.tz,
        coverage=args.coverage,
        shift_hours=args.shift_hours,
        random_state=args.seed,
        return_forecast=True,
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table = hot.copy()
    for column in ("shift_start", "shift_end"):
        table[column] = table[column].map(lambda t: t.isoformat())
    table.to_file(out / "hot_cells.gpkg", layer="hot_cells", driver="GPKG")
    table.drop(columns="geometry").to_csv(out / "hot_cells.csv", index=False)
    ax = plot_cells(
        forecast.grid,
        forecast.total(),
        label=f"expected incidents, {args.horizon} from {origin}",
        title=f"{title}: risk forecast",
    )
    first = hot[hot["shift_start"] == hot["shift_start"].min()]
    first.boundary.plot(ax=ax, color="black", linewidth=0.6)
    ax.figure.savefig(out / "hot_cells.png", dpi=120)
    n_shifts = hot["shift_start"].nunique()
    print(
        f"{title}: forecast from {origin} over {args.horizon}: {len(forecast.blocks)} shifts x "
        f"{forecast.grid.n_cells} cells of {args.cell_size:g} m; {forecast.risk.sum():.1f} "
        f"incidents expected; {len(hot)} hot (shift, cell) pairs over {n_shifts} shifts at "
        f"{args.coverage:.0%} coverage."
    )
    for name in ("hot_cells.gpkg", "hot_cells.csv", "hot_cells.png"):
        logger.info("wrote %s", out / name)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
