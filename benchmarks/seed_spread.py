"""How much the NAB figures of `nab_evaluation.py` move with the training seed.

A ladder model is fitted from a random start, on random batches, and a Bayesian one samples
its weights; the thresholds are then extrapolated, label-free, from the tail of its scores
on a few hundred to a few thousand training points. One seed's event counts can therefore
be lucky or unlucky. This script runs `nab_evaluation.py` once per seed (`--detector
seed=S`; the z-score, local level and STS baselines take no seed from it and come out the
same every time) and reports, per method, the mean, lowest and highest F1 and NAB score over
the seeds, with each seed's counts.

Run from the repository root:
    .venv/bin/python benchmarks/seed_spread.py [--seeds 0,1,2,3,4] [--methods auto,zscore]
        [--plain] [--detector ensemble=5 --tag ensemble5] [--nab-root NAB --series all --tag T]
Writes benchmarks/results/seed_spread[_TAG][_plain].json and each seed's nab_evaluation
JSON and PNG under benchmarks/results/seed_spread/.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import sys
import time

import nab_evaluation

RESULTS = nab_evaluation.RESULTS


def summary(runs: dict, method: str) -> dict:
    """Mean, lowest and highest F1 and NAB score of `method` over the seeds, and each seed's."""
    rows = {seed: run["methods"][method]["all"] for seed, run in runs.items()}
    f1 = [row["f1"] for row in rows.values()]
    nab = [row["nab_standard"] for row in rows.values()]
    return {"f1_mean": statistics.fmean(f1), "f1_min": min(f1), "f1_max": max(f1),
            "f1_stdev": statistics.stdev(f1) if len(f1) > 1 else 0.0,
            "nab_mean": statistics.fmean(nab), "nab_min": min(nab), "nab_max": max(nab),
            "per_seed": {seed: {k: row[k] for k in ("true_positives", "false_negatives",
                                                    "false_positives", "f1", "nab_standard")}
                         for seed, row in rows.items()}}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2,3,4",
                        help="comma-separated training seeds (default 0,1,2,3,4)")
    parser.add_argument("--methods", default="auto,zscore",
                        help="as nab_evaluation.py's --methods (default auto,zscore)")
    parser.add_argument("--plain", action="store_true", help="nab_evaluation.py's --plain")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--detector", action="append", default=[], metavar="FIELD=VALUE",
                        help="as nab_evaluation.py's --detector (repeatable), e.g. ensemble=5")
    parser.add_argument("--tag", default="", help="added to the result file names")
    parser.add_argument("--nab-root", default=None,
                        help="as nab_evaluation.py's --nab-root: another NAB layout")
    parser.add_argument("--series", default=None,
                        help="as nab_evaluation.py's --series, e.g. all")
    args = parser.parse_args(argv)
    try:
        seeds = [int(seed) for seed in args.seeds.split(",")]
    except ValueError:
        parser.error(f"--seeds {args.seeds!r}: expected comma-separated whole numbers")
    if len(set(seeds)) < 2:
        parser.error("--seeds: give at least two different seeds")
    if any(item.startswith("seed=") for item in args.detector):
        parser.error("--detector seed=...: the seeds come from --seeds")
    suffix = (f"_{args.tag}" if args.tag else "") + ("_plain" if args.plain else "")
    folder = RESULTS / "seed_spread"
    start = time.monotonic()
    runs = {}
    for seed in seeds:
        runs[seed] = nab_evaluation.main(
            ["--methods", args.methods, "--epochs", str(args.epochs), "--detector",
             f"seed={seed}", "--output", str(folder / f"seed{seed}{suffix}.json")]
            + [part for item in args.detector for part in ("--detector", item)]
            + (["--nab-root", args.nab_root] if args.nab_root else [])
            + (["--series", args.series] if args.series else [])
            + (["--plain"] if args.plain else []))
    methods = args.methods.split(",")
    result = {"protocol": __doc__, "plain": args.plain, "seeds": seeds,
              "detector": args.detector, "series": args.series or "the five realKnownCause",
              "methods": {m: summary(runs, m) for m in methods},
              "seconds": time.monotonic() - start,
              "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    output = RESULTS / f"seed_spread{suffix}.json"
    output.write_text(json.dumps(result, indent=1, default=float))
    for method, row in result["methods"].items():
        print(f"{method:32} F1 mean {row['f1_mean']:.3f} (lowest {row['f1_min']:.3f}, highest "
              f"{row['f1_max']:.3f}, sd {row['f1_stdev']:.3f}), NAB mean "
              f"{row['nab_mean']:.1f} ({row['nab_min']:.1f}-{row['nab_max']:.1f}) over "
              f"{len(seeds)} seeds")
    return result


if __name__ == "__main__":
    sys.exit(main() and 0)
