r"""The ``caslite`` command line.

Examples
--------
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
    source = summary.add_mutually_exclusive_group(required=True)
    source.add_argument("path", nargs="?", help="incident file (.csv, .gpkg, .geojson, .parquet)")
    source.add_argument("--sample", choices=["toronto", "synthetic"], help="a shipped sample")
    summary.add_argument("--time", default="t", help="time column (default: t)")
    summary.add_argument("--x", default=None, help="x column (default: x, or the geometry)")
    summary.add_argument("--y", default=None, help="y column (default: y, or the geometry)")
    summary.add_argument("--crs", default=None, help="CRS of the coordinates, e.g. EPSG:32617")
    summary.add_argument("--tz", default=None, help="IANA time zone, e.g. America/Toronto")
    summary.add_argument("--cell-size", type=float, default=125.0, help="metres (default: 125)")
    summary.add_argument("--days", type=int, default=90, help="recent window (default: 90)")
    summary.add_argument("--out", default="caslite-output", help="output folder")
    return parser


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
    except (ValueError, TypeError, FileNotFoundError) as exc:
        print(f"caslite {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0


def _summary(args) -> None:
    from caslite.summary import summarize_incidents

    if args.sample:
        from caslite.datasets import load_sample

        sample = load_sample(args.sample)
        events = sample.to_events(ambiguous="earliest", nonexistent="shift_forward")
        title = f"caslite sample {args.sample!r}"
    else:
        from caslite.events import Events

        if args.tz is None:
            raise ValueError("--tz is required for a file, e.g. --tz America/Toronto")
        events = Events.read(
            args.path, time=args.time, x=args.x, y=args.y, crs=args.crs, tz=args.tz
        )
        title = Path(args.path).name
    result = summarize_incidents(
        events, cell_size=args.cell_size, days=args.days, out=args.out, title=title
    )
    print(result.text)
    for path in result.files:
        logger.info("wrote %s", path)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
