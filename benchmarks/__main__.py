"""``python -m benchmarks [--profile smoke|full] [--only CASE] [--load N] [--out FILE]``.

Prints a markdown table to stdout (progress to stderr) and writes the results as JSON.
Exit status: 0 when everything is correct (and, in the full profile, every target is met);
1 when a correctness check fails or a case errors; 2 when only targets are missed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from benchmarks.profiles import PROFILES
from benchmarks.suite import all_cases, format_table, run_suite


def main(argv=None) -> int:
    names = [c.name for c in all_cases()]
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmarks of caslite's hot loop: near-repeat scoring and the Knox test.",
    )
    parser.add_argument(
        "--profile",
        default="full",
        choices=sorted(PROFILES),
        help="full: the scale points and targets (minutes); smoke: tiny, correctness only",
    )
    parser.add_argument(
        "--only",
        action="append",
        metavar="CASE",
        help=f"run only these cases or groups (repeat or comma-separate): {', '.join(names)}",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="JSON results file (default benchmarks/results-PROFILE.json, git-ignored)",
    )
    parser.add_argument(
        "--load",
        default="0",
        metavar="N",
        help="run N busy-loop processes alongside (or 'cores': one per usable core) to "
        "measure on a busy machine; default 0",
    )
    args = parser.parse_args(argv)
    if args.load == "cores":
        load = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    elif args.load.isdigit():
        load = int(args.load)
    else:
        parser.error(f"--load must be a whole number or 'cores', got {args.load!r}")
    try:
        results = run_suite(args.profile, args.only, load=load)
    except ValueError as exc:
        parser.error(str(exc))
    out = args.out or Path(__file__).resolve().parent / f"results-{args.profile}.json"
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(format_table(results))
    print(f"\nresults written to {out}")
    summary = results["summary"]
    if not summary["correct"]:
        print("\nBENCHMARK FAILED: a fast result disagrees with its reference.", file=sys.stderr)
        return 1
    if args.profile != "smoke" and not summary["targets_met"]:
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
