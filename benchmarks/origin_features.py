"""CPU time of the risk model's features over all its training origins, on Toronto.

``RiskModel.fit`` needs the cell and shift features of every training origin (232 weekly
origins over five years of Toronto residential break-and-enters, 42,165 cells, as the
``risk-toronto-fit`` case). This script times, in CPU seconds (``time.process_time``, so that
other work on the machine skews it less than wall time):

- ``per origin``: ``cell_features`` and ``shift_features`` called origin by origin;
- ``origin_features``: :meth:`caslite.FeatureBuilder.origin_features`, all cells;
- ``origin_features, cells=``: the same for 2,300 cells per origin (seeded random draw, about
  the cells of the training rows of one origin).

With ``--check`` it also asserts, origin by origin, that the arrays are equal bit for bit
(``np.array_equal``) to the per-origin methods. Run from the repository root::

    python -m benchmarks.origin_features [--check] [--origins N]

On a caslite without ``origin_features`` only the per-origin time is printed. Skipped (exit
0, with a message) when ``../shared/data/toronto/burglary.csv`` is absent.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from benchmarks.profiles import FULL
from benchmarks.risk import toronto_path, toronto_scene

CELLS_PER_ORIGIN = 2_300


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the per-origin methods")
    parser.add_argument("--origins", type=int, default=None, help="only the first N origins")
    args = parser.parse_args(argv)
    if not toronto_path(FULL).exists():
        print(f"skipped: {toronto_path(FULL)} is absent")
        return 0
    from caslite.features import FeatureBuilder
    from caslite.models.risk import RiskModel, _reported

    scene = toronto_scene(FULL)
    model = RiskModel(train_span=None)
    schedule = model._schedule_for(scene.events)
    known, _ = _reported(scene.events.before(scene.origin), model.discovered, None)
    origins = model._training_origins(known, schedule, scene.origin)[: args.origins]
    grid, builder = scene.grid, FeatureBuilder()
    print(f"{len(known)} events, {grid.n_cells} cells, {len(origins)} origins")
    first = int(origins[0])
    builder.cell_features(known, grid, first)  # compile the kernels before timing
    builder.shift_features(known, grid, schedule, first)

    start = time.process_time()
    for o in origins:
        builder.cell_features(known, grid, int(o)).to_numpy()
        builder.shift_features(known, grid, schedule, int(o))
    print(f"per origin:                {time.process_time() - start:6.2f} s CPU")
    if not hasattr(builder, "origin_features"):
        return 0

    rng = np.random.default_rng(0)
    chosen = [np.sort(rng.choice(grid.n_cells, CELLS_PER_ORIGIN, replace=False)) for _ in origins]
    for label, cells in (("origin_features", None), ("origin_features, cells=", chosen)):
        start = time.process_time()
        for _ in builder.origin_features(known, grid, schedule, origins, cells=cells):
            pass
        print(f"{label:<26} {time.process_time() - start:6.2f} s CPU")

    if args.check:
        pairs = builder.origin_features(known, grid, schedule, origins)
        subset = builder.origin_features(known, grid, schedule, origins, cells=chosen)
        for o, (c, s), (cs, ss), ids in zip(origins, pairs, subset, chosen, strict=True):
            cell_feats = builder.cell_features(known, grid, int(o)).to_numpy()
            shift_feats, _ = builder.shift_features(known, grid, schedule, int(o))
            same = (
                np.array_equal(c, cell_feats, equal_nan=True)
                and np.array_equal(s, shift_feats, equal_nan=True)
                and np.array_equal(cs, cell_feats[ids], equal_nan=True)
                and np.array_equal(ss, shift_feats[:, ids], equal_nan=True)
            )
            if not same:
                print(f"origin {int(o)}: origin_features differ from the per-origin methods")
                return 1
        print(f"bit-identical to cell_features / shift_features at all {len(origins)} origins")
    return 0


if __name__ == "__main__":
    sys.exit(main())
