"""Risk-model settings against the default on one run of the multi-city benchmark, paired.

``python -m benchmarks.multicity_variants --city toronto|stlouis|synthetic
[--variant dense|thinned] [--year selection|confirmation] --params JSON [--params JSON ...]
[--origins N] [--retrain-every K] [--seed S]``

Backtests, on the origins of :func:`benchmarks.multicity.run_year` (13 origins four weeks
apart from 1 January, 14-day horizons, the same thinning and seed), the methods of
:mod:`benchmarks.multicity` (the default risk model and the strongest baselines) plus one
:class:`caslite.RiskModel` per ``--params`` (a JSON object of parameters, e.g.
``'{"n_bags": 3}'``). Prints one markdown table: for each setting, the difference of its mean
hit rate from the default's at 1, 3 and 5 % of the area with a paired 90 % bootstrap interval
over origins (:func:`benchmarks.paired.paired_interval`), its hit rate at 3 % over the best
baseline's (the baseline with the highest mean hit rate at 3 %), and the mean fit or update
time per origin as the backtest records it (wall seconds). Choose settings on the selection
year; run the confirmation year only for a setting chosen.
"""

from __future__ import annotations

import argparse
import json
import sys
from types import SimpleNamespace

import numpy as np

from benchmarks import multicity
from benchmarks.paired import paired_interval
from caslite import RiskModel

COVERAGES = (0.01, 0.03, 0.05)


def with_settings(settings: dict):
    """Return a ``methods`` function: the benchmark's methods plus one risk model per setting."""
    plain = multicity.methods

    def methods(schedule, random_state, quick=False):
        out = plain(schedule, random_state, quick)
        for name, params in settings.items():
            model = RiskModel(schedule=schedule, random_state=random_state)
            if quick:
                model.set_params(max_negatives=20_000, max_iter=20, train_span="364D")
            out[name] = model.set_params(**params)
        return out

    return methods


def compare(scores, settings: dict, seed: int = 0) -> str:
    """Markdown table of each setting against the default risk model and the best baseline."""
    hit = scores.pivot_table(index="origin", columns=["method", "coverage"], values="hit_rate")
    best = multicity.best_baselines(scores[~scores["method"].isin(list(settings))])[0.03]
    fit = scores.groupby("method")["fit_seconds"].mean()
    rng = np.random.default_rng(seed)
    lines = [
        f"best baseline at 3 %: {best} ({hit[(best, 0.03)].mean():.3f}); default risk model "
        + " / ".join(f"{hit[(multicity.RISK, c)].mean():.3f}" for c in COVERAGES)
        + " at 1 / 3 / 5 %\n",
        "| setting | Δ hit rate 1 % (90 % interval) | Δ 3 % | Δ 5 % | ÷ best at 3 % | fit s |",
        "|---|---|---|---|---|---|",
    ]
    for name in [multicity.RISK, *settings]:
        cells = []
        for c in COVERAGES:
            diff = (hit[(name, c)] - hit[(multicity.RISK, c)]).to_numpy()
            lo, hi = paired_interval(diff, rng)
            cells.append(f"{diff.mean():+.3f} ({lo:+.3f}, {hi:+.3f})")
        ratio = hit[(name, 0.03)].mean() / hit[(best, 0.03)].mean()
        lines.append(f"| {name} | {' | '.join(cells)} | {ratio:.2f} | {fit[name]:.1f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.multicity_variants", description=__doc__
    )
    parser.add_argument("--city", choices=["toronto", "stlouis", "synthetic"], required=True)
    parser.add_argument("--variant", choices=["dense", "thinned"], default="dense")
    parser.add_argument("--year", choices=["selection", "confirmation"], default="selection")
    parser.add_argument("--params", action="append", required=True, help="JSON parameters")
    parser.add_argument("--origins", type=int, default=13)
    parser.add_argument("--retrain-every", type=int, default=13)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a small synthetic city, 1 origin")
    args = parser.parse_args(argv)
    settings = {}
    for text in args.params:
        params = json.loads(text)
        if not isinstance(params, dict):
            parser.error(f"--params must be a JSON object of RiskModel parameters, got {text!r}")
        RiskModel(**params)  # unknown names fail here, before any backtest
        settings[f"risk {json.dumps(params, sort_keys=True)}"] = params
    if args.quick:
        args.city, args.origins = "synthetic", 1
    city = (
        multicity.synthetic(args.seed, args.quick)
        if args.city == "synthetic"
        else getattr(multicity, args.city)()
    )
    if city is None:
        print(f"{args.city}: no data file under {multicity.SHARED}", file=sys.stderr)
        return 1
    one = city if args.variant == "dense" else multicity.thinned(city, args.seed)
    year = one.selection if args.year == "selection" else one.confirmation
    run_args = SimpleNamespace(
        seed=args.seed, quick=args.quick, origins=args.origins, retrain_every=args.retrain_every
    )
    plain, multicity.methods = multicity.methods, with_settings(settings)
    try:
        done = multicity.run_year(one, args.variant, year, run_args)
    finally:
        multicity.methods = plain
    print(f"### {done['run']} ({args.year}); CPU {done['cpu']:.0f} s\n")
    print(compare(done["scores"], settings, args.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
