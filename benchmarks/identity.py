"""Forecast bit-identity check: do refactors leave every forecast exactly as it was?

``save`` fits every registered forecaster (:mod:`caslite.models.registry`) on three data sets
and stores the raw forecasts, and the risk model's features at one origin, in a ``.npz`` file;
``compare`` recomputes them with the code on the path and reports, per forecaster and data
set, the largest absolute difference. It exits 1 unless every array is bit-identical
(:func:`numpy.array_equal`, NaN equal to NaN) and every stored array is recomputed.

Every forecaster is built with its parameters pinned to explicit values (the defaults of the
code this tool was written against, :data:`PINNED`), so a later change of a default does not
count as a difference, and a change of behaviour under the same parameters does.

::

    python -m benchmarks.identity save --out identity-main.npz   # on the reference code
    python -m benchmarks.identity compare identity-main.npz      # on the changed code

Data sets: the shipped Toronto sample (:func:`caslite.datasets.load_sample`), a synthetic city
(:func:`caslite.datasets.simulate_city`, fixed seed) and, when ``../shared/data/toronto`` is
present, a subset of the Toronto residential burglaries (``--toronto`` to point elsewhere).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from shapely.geometry import box

from caslite import Events, FeatureBuilder, Grid, ShiftSchedule
from caslite.datasets import load_sample, simulate_city

HERE = Path(__file__).resolve().parent
DEFAULT_TORONTO = HERE.parent.parent / "shared" / "data" / "toronto" / "burglary.csv"
SEED = 20261205
HORIZON = "14D"

#: FeatureBuilder's parameters, pinned to their defaults of December 2026.
FEATURES = {
    "darkness": True,
    "event_layers": None,
    "event_windows_weeks": (52, 208),
    "kernels": "default",
    "point_layers": None,
    "point_radii": (250.0, 500.0),
    "polygon_layers": None,
    "relative_windows_weeks": (52, 104, 208, 520),
    "rings": (1, 2),
    "shift_prior": 10.0,
    "shift_smooth_bandwidths": (1000.0,),
    "shift_smooth_window_weeks": 208,
    "shift_windows_weeks": (8, 26, 52),
    "smooth_bandwidths": (100.0, 250.0, 500.0),
    "smooth_window_weeks": 520,
    "shrink_bandwidths": (),
    "shrink_window_weeks": 520,
    "decay_half_lives_weeks": (),
    "windows_weeks": (1, 2, 4, 8, 26, 52, 104, 156, 208),
}

#: Every parameter of every forecaster of the command line's ``--methods``, pinned to its
#: default of December 2026 (``features`` and ``schedule`` are set per data set).
PINNED = {
    "risk": {
        "discovered": "keep",
        "early_stopping": True,
        "horizon": HORIZON,
        "interactions": "additive",
        "l2_regularization": 1.0,
        "learning_rate": 0.05,
        "loss": "poisson",
        "max_iter": 200,
        "max_leaf_nodes": 31,
        "max_bins": 255,
        "max_negatives": 500000,
        "min_events": 50,
        "min_exact_times": 100,
        "min_samples_leaf": 40,
        "n_bags": 1,
        "n_threads": 1,
        "negative_rate": "auto",
        "negative_sampling": "importance",
        "progress": False,
        "random_state": SEED,
        "shift_shrinkage": 1.0,
        "train_span": "1095D",
        "train_step": "auto",
        "warmup": "182D",
    },
    "naive52": {"window_weeks": 52},
    "naive104": {"window_weeks": 104},
    "naive208": {"window_weeks": 208},
    "kde": {"bandwidth": 250.0, "window_weeks": 52, "cutoff": 3.0},
    "prospective": {"space": None, "time": None},
    "shift": {"window_weeks": 52, "smoothing": 0.0},
    "etas": {
        "window_days": 365,
        "max_iter": 1000,
        "tol": 1e-6,
        "init_theta": 0.1,
        "init_omega_days": 7.0,
    },
    "longrun": {"floor_share": 0.02, "history_start": None, "level_weeks": 52},
    "etas_all": {
        "floor_share": 0.02,
        "history_start": None,
        "init_omega_days": 7.0,
        "init_theta": 0.1,
        "max_iter": 1000,
        "tol": 1e-6,
        "window_days": None,
    },
    "blend": {
        "floor_share": 0.02,
        "history_start": None,
        "horizon_days": 14,
        "level_weeks": 52,
        "n_past": 8,
        "space": None,
        "time": None,
    },
}


def forecasters(schedule: ShiftSchedule) -> dict:
    """A new forecaster of every registered name, its parameters pinned (:data:`PINNED`).

    Reads :mod:`caslite.models.registry`; code older than the registry is read through the
    command line's table of methods instead, so that the reference file can be made on it.
    """
    try:
        from caslite.models.registry import available_forecasters, make_forecaster

        names = available_forecasters()
        make = {
            name: (lambda name=name: make_forecaster(name, random_state=SEED, schedule=schedule))
            for name in names
        }
    except ImportError:  # the code before the registry
        from caslite.cli import _METHODS, _forecaster

        make = {
            name: (lambda name=name: _forecaster(name, SEED, schedule=schedule, horizon=HORIZON))
            for name in _METHODS
        }
    out = {}
    for name, factory in make.items():
        model = factory()
        params = dict(PINNED.get(name, {}))
        if name == "risk":
            params.update(features=FeatureBuilder(**FEATURES), schedule=schedule)
        out[name] = model.set_params(**params)
    return out


# ---------------------------------------------------------------------- the data sets
def sample_toronto():
    """The shipped Toronto sample, as :meth:`caslite.datasets.Sample.to_events` reads it."""
    return load_sample("toronto").to_events(), ["2019-01-07", "2019-07-01"]


def synthetic_city():
    """Two years of a 4 km synthetic city with a fixed seed."""
    city = simulate_city(
        start="2022-01-01", end="2024-01-01", size=4000.0, background_rate=4.0, random_state=SEED
    )
    frame = city.events
    events = Events.from_frame(frame, time="t", x="x", y="y", crs=city.crs, tz=city.tz)
    return events, ["2023-06-05"]


def toronto_subset(path: Path):
    """Residential burglaries 2015-2018 in a 4 km x 4 km window of central Toronto."""
    from benchmarks.accuracy import load_residential

    events = load_residential(path, default_times="window")
    inside = box(629_000, 4_833_000, 633_000, 4_837_000).bounds
    keep = (
        (events.x >= inside[0]) & (events.x < inside[2]) & (events.y >= inside[1])
        & (events.y < inside[3])
    )  # fmt: skip
    events = events.select(keep)
    t = pd.to_datetime(events.t, unit="s", utc=True)
    return events.select((t >= pd.Timestamp("2015-01-01", tz="UTC")) & (t < pd.Timestamp(
        "2019-01-01", tz="UTC"))), ["2018-06-04"]  # fmt: skip


def data_sets(toronto: Path) -> dict:
    """The data sets by name: a loader each (the Toronto subset only if its file exists)."""
    out = {"sample": sample_toronto, "synthetic": synthetic_city}
    if toronto.exists():
        out["toronto"] = lambda: toronto_subset(toronto)
    else:
        print(f"identity: {toronto} not found; the Toronto subset is skipped", file=sys.stderr)
    return out


# ---------------------------------------------------------------------- compute and compare
def compute(toronto: Path) -> dict:
    """Every array: ``{data set}/{forecaster}/{origin}`` forecasts and risk-model features."""
    arrays = {}
    for data_name, load in data_sets(toronto).items():
        events, origins = load()
        schedule = ShiftSchedule.every(4, tz=events.tz)
        grid = Grid.from_events(events.before(origins[0]), cell_size=125.0)
        for origin in origins:
            blocks = schedule.horizon(origin, HORIZON)
            for name, model in forecasters(schedule).items():
                begin = time.process_time()
                risk = model.fit(events, grid, origin=origin).predict(blocks)
                arrays[f"{data_name}/{name}/{origin}"] = np.asarray(risk)
                cpu = time.process_time() - begin
                print(f"identity: {data_name} {name} {origin}: {cpu:.1f} s CPU", file=sys.stderr)
                if name == "risk" and origin == origins[0]:
                    arrays.update(_features(model, data_name, origin, blocks))
    return arrays


def _features(model, data_name: str, origin, blocks) -> dict:
    """The fitted risk model's features at its origin: per cell, per shift and per block."""
    builder, grid, o = model.features_, model.grid_, model.origin_
    cells = builder.cell_features(model.events_, grid, o)
    shifts, _ = builder.shift_features(model.events_, grid, model.schedule_, o)
    by_block = builder.block_features(blocks, o, grid)
    key = f"{data_name}/risk-features/{origin}"
    return {
        f"{key}/cell": cells.to_numpy(dtype=np.float64),
        f"{key}/shift": np.asarray(shifts, dtype=np.float64),
        f"{key}/block": np.asarray(by_block, dtype=np.float64),
    }


def compare(saved: dict, now: dict) -> tuple[pd.DataFrame, bool]:
    """A table of max |difference| per stored key, and whether all are bit-identical."""
    rows = []
    for key in sorted(set(saved) | set(now)):
        old, new = saved.get(key), now.get(key)
        if old is None or new is None:
            status = "new" if old is None else "missing"
            rows.append({"key": key, "status": status, "max_abs_diff": np.nan})
            continue
        if old.shape != new.shape:
            rows.append({"key": key, "status": f"shape {old.shape} -> {new.shape}",
                         "max_abs_diff": np.nan})  # fmt: skip
            continue
        same = np.array_equal(old, new, equal_nan=True)
        with np.errstate(invalid="ignore"):
            diff = float(np.nanmax(np.abs(old - new))) if old.size else 0.0
        rows.append({"key": key, "status": "identical" if same else "DIFFERENT",
                     "max_abs_diff": diff})  # fmt: skip
    table = pd.DataFrame(rows, columns=["key", "status", "max_abs_diff"])
    # a forecaster registered since the file was made ("new") is reported, not a failure
    ok = bool(len(table)) and table["status"].isin(["identical", "new"]).all()
    return table, ok


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.identity", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    save = sub.add_parser("save", help="compute the forecasts and store them")
    save.add_argument("--out", required=True, type=Path, help="the .npz file to write")
    check = sub.add_parser("compare", help="recompute and compare with a stored file")
    check.add_argument("file", type=Path, help="a file written by save")
    for command in (save, check):
        command.add_argument("--toronto", type=Path, default=DEFAULT_TORONTO,
                             help="Toronto burglary.csv (skipped if absent)")  # fmt: skip
    args = parser.parse_args(argv)
    begin = time.process_time()
    if args.command == "compare" and not args.file.exists():
        parser.error(f"{args.file} does not exist; write it first with: save --out {args.file}")
    arrays = compute(args.toronto)
    cpu = time.process_time() - begin
    if args.command == "save":
        partial = args.out.with_name(args.out.name + ".partial.npz")
        np.savez_compressed(partial, **arrays)
        partial.replace(args.out)  # a complete file or none
        print(f"wrote {len(arrays)} arrays to {args.out} ({cpu:.0f} s CPU)")
        return 0
    with np.load(args.file) as stored:
        saved = {key: stored[key] for key in stored.files}
    table, ok = compare(saved, arrays)
    print(table.to_string(index=False))
    verdict = "all bit-identical" if ok else "NOT bit-identical"
    print(f"{verdict}: {int((table['status'] == 'identical').sum())} of {len(table)} arrays "
          f"({cpu:.0f} s CPU)")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
