"""Is there a time-of-day signal per cell? Per-shift choice of hot cells from counts alone.

``python -m benchmarks.shift_signal [--data PATH] [--years 2018 2019] [--priors 0 5 20 200]``

Choosing hot cells per shift can only beat one shift-blind choice for every shift if cells
differ in *when* their incidents happen, in a way that holds from the past into the next
fortnight. This benchmark measures that directly, without any model: for each origin (every 14
days through the year; Toronto residential incidents, exact duplicates dropped, 4-hour shifts,
125 m cells) it ranks the cells of each shift by

    n_c * (n_cs + k * p_s) / (n_c + k)

where ``n_c`` is the cell's count over the 208 weeks before the origin, ``n_cs`` its count in
shift ``s``, ``p_s`` the area's share of shift ``s`` and ``k`` the prior weight that shrinks the
cell's own shift shares towards the area's (``k = 0``: the cell's raw shares; large ``k``: the
shift-blind ranking by ``n_c``). It prints the per-shift hit rate at 3 % of the area (hits
pooled over the blocks of each horizon, mean over origins) of the shift-blind ranking and of
each ``k``. A per-shift gain that no ``k`` delivers is a gain no model built on these counts
can be expected to deliver either.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.accuracy import DEFAULT_DATA, TZ, load_residential
from caslite import Grid, ShiftSchedule
from caslite.evaluation import count_events, hit_rate

COVERAGE = 0.03
HISTORY_WEEKS = 208


def per_shift_hit_rates(events, year: int, priors) -> dict:
    """Mean per-shift hit rate at 3 % over the year's origins, shift-blind and per prior."""
    schedule = ShiftSchedule.every(4, tz=TZ)
    first = pd.Timestamp(f"{year}-01-01", tz=TZ)
    origins = [first + pd.Timedelta(days=14 * k) for k in range(26)]
    grid = Grid.from_events(events.before(origins[0]), cell_size=125.0)
    area = grid.area_fraction
    scores: dict = {}
    for origin in origins:
        blocks = schedule.horizon(origin, "14D")
        counts = count_events(events, grid, blocks)
        past = schedule.horizon(origin - pd.Timedelta(weeks=HISTORY_WEEKS), f"{7 * HISTORY_WEEKS}D")
        history = count_events(events.before(origin), grid, past)  # (n_past_blocks, n_cells)
        past_shift = past.to_frame()["shift"].to_numpy()
        n_cs = np.stack([history[past_shift == s].sum(axis=0) for s in range(schedule.n_shifts)])
        n_c = n_cs.sum(axis=0)
        p_s = n_cs.sum(axis=1) / n_cs.sum()
        shift_now = blocks.to_frame()["shift"].to_numpy()
        blind = np.broadcast_to(n_c, counts.shape)
        scores.setdefault("shift-blind", []).append(
            hit_rate(blind, counts, COVERAGE, area=area, per_block=True)
        )
        for k in priors:
            share = (n_cs + k * p_s[:, None]) / np.maximum(n_c + k, 1e-12)[None, :]
            risk = n_c[None, :] * share[shift_now]
            scores.setdefault(f"k={k:g}", []).append(
                hit_rate(risk, counts, COVERAGE, area=area, per_block=True)
            )
    return {name: float(np.mean(values)) for name, values in scores.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.shift_signal", description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the Toronto CSV")
    parser.add_argument("--years", type=int, nargs="+", default=[2018, 2019])
    parser.add_argument("--priors", type=float, nargs="+", default=[0, 5, 10, 20, 50, 200])
    args = parser.parse_args(argv)
    if not args.data.exists():
        parser.error(f"no data file at {args.data}; pass --data PATH to burglary.csv")
    events = load_residential(args.data)
    rows = {year: per_shift_hit_rates(events, year, args.priors) for year in args.years}
    table = pd.DataFrame(rows).rename_axis("per-shift ranking")
    print(f"Per-shift hit rate at {COVERAGE:.0%}, mean over 26 origins a year", file=sys.stderr)
    print(table.round(4).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
