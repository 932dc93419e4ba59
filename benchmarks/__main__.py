"""``python -m benchmarks [--profile smoke|full] [--only CASE] [--load N|cores|both] [--out FILE]``.

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
        default=None,
        metavar="N",
        help="'both' (the full profile's default): measure every case quiet, then again with "
        "a busy-loop process per usable core; N or 'cores': run the whole suite with N "
        "busy-loop processes alongside (one per core); 0 (the smoke profile's default): quiet "
        "only",
    )
    args = parser.parse_args(argv)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    choice = args.load if args.load is not None else ("0" if args.profile == "smoke" else "both")
    load, loaded = 0, 0
    if choice == "both":
        loaded = cores
    elif choice == "cores":
        load = cores
    elif choice.isdigit():
        load = int(choice)
    else:
        parser.error(f"--load must be a whole number, 'cores' or 'both', got {args.load!r}")
    try:
        results = run_suite(args.profile, args.only, load=load, loaded=loaded)
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
