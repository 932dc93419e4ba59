"""Peak memory and cold first call of one case, in this (fresh) interpreter.

Run by the suite as ``python -m benchmarks.memory --case NAME --profile full``; prints one
JSON line. The first call here is cold (numba compiles, fresh memory is touched); the peak is
measured on a second, warm call, so that neither compilation nor the workload's own arrays
count (a case of minutes, the Toronto fit, is measured on its cold call alone:
``Prepared.peak_on_first_call``). What a case prepares untimed and a suite run shares (a fitted
model, :func:`benchmarks.harness.made_once`) is loaded here, not made again.
"""

from __future__ import annotations

import argparse
import gc
import json
import time

from benchmarks import harness
from benchmarks.profiles import PROFILES
from benchmarks.suite import get_case


def measure(case_name: str, profile_name: str) -> dict:
    """Cold first-call time and peak memory beyond the output of one case."""
    prep = get_case(case_name).prepare(PROFILES[profile_name])
    gc.collect()
    if prep.peak_on_first_call:  # a call of minutes: its cold call is measured, once
        t0 = time.perf_counter()
        out, rise = harness.measure_peak(prep.run)
        cold = time.perf_counter() - t0
        row = harness.memory_row(rise, prep.output_bytes(out), cold, where="subprocess")
        row["first_call_rise_note"] = "peak of the cold call (an upper bound of a warm one's)"
        if prep.fingerprint is not None:
            row["fingerprint"] = prep.fingerprint(out)
        return row
    t0 = time.perf_counter()
    out = prep.run()
    cold = time.perf_counter() - t0
    del out
    out, rise = harness.measure_peak(prep.run)
    row = harness.memory_row(rise, prep.output_bytes(out), cold, where="subprocess")
    row["first_call_rise_note"] = "cold call not included in the peak"
    if prep.fingerprint is not None:
        row["fingerprint"] = prep.fingerprint(out)
    return row


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory")
    parser.add_argument("--case", required=True)
    parser.add_argument("--profile", default="full", choices=sorted(PROFILES))
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.case, args.profile)))


if __name__ == "__main__":
    main()
