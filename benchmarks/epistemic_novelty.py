"""Does the forecaster's epistemic uncertainty mark failures on the NAB series?

The Bayesian (Flipout) ladder steps split the predictive stddev into an aleatoric part (noise
the model expects) and an epistemic part (what it does not know of the function: "unknown
unknowns"). If a failure shows the model windows unlike any it was trained on, the epistemic
share of the stddev should rise there, and an alarm that also needs it to be high should
drop the false alarms the forecaster shares with the trailing z-score (a spike the series
repeats) and keep the failures.

Protocol (fixed before this script first ran; no labels touch a threshold):
  * the default detector (`bayesian_learned_scale` with the z-score gate, every default,
    `--epochs` epochs), fitted on each of the five NAB `realKnownCause` series per training
    seed (default 0-4);
  * the epistemic share of every point: epistemic stddev / predictive stddev;
  * "default": the detector's alarms as they are;
  * "novel": the same candidate alarms (smoothed score above the bar, gate open), kept only
    where the epistemic share exceeds its `--quantile` (default 0.5, the median) over the
    held-out end of the training part, then the same refractory period;
  * "random": the control. The same candidates kept at random with probability
    1 - quantile, `--draws` times per seed: what thinning the alarms alone is worth;
  * event-level counts as `nab_evaluation.py` counts them (first 15% not scored, one hit per
    window, each flag run outside the windows a false positive).
  Also reported: the epistemic share inside the labelled windows and outside them, after
  the training part (median and 95th percentile), per series and seed.

Run from the repository root:
    .venv/bin/python benchmarks/epistemic_novelty.py [--seeds 0,1,2,3,4] [--epochs 40]
        [--quantile 0.5] [--draws 200] [--step STEP] [--nab-root DIR] [--output PATH]
Writes benchmarks/results/epistemic_novelty.json and .png. `--step` tries another ladder
step (the z-score gate stays), e.g. `--step gaussian_process --output
benchmarks/results/epistemic_novelty_gaussian_process.json`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import platform
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import nab_evaluation  # noqa: E402  (the NAB layout reader and series list)

from cuttingedge.trainers import probabilistic as prob  # noqa: E402
from cuttingedge.trainers.anomaly import alarms, evaluate  # noqa: E402
from cuttingedge.trainers.anomaly.detector import (  # noqa: E402
    DetectorConfig, fit_detector, refractory_of)

RESULTS = nab_evaluation.RESULTS
METHODS = ("default", "novel", "random")


def share_summary(share: np.ndarray, inside: np.ndarray, train: int) -> dict:
    after, where = share[train:], inside[train:]
    finite = np.isfinite(after)

    def quantiles(values):
        return [round(float(np.quantile(values, q)), 4) for q in (0.5, 0.95)] \
            if len(values) else None
    return {"inside_windows": quantiles(after[finite & where]),
            "outside_windows": quantiles(after[finite & ~where])}


def score_seed(series_by_name, windows_by_name, seed: int, args, rng) -> dict:
    """Fits the default on every series for one seed; counts per method and the shares."""
    config = DetectorConfig(step=args.step, epochs=args.epochs, seed=seed)
    counts = {m: evaluate.EventCounts() for m in METHODS[:2]}
    random_counts = [evaluate.EventCounts()] * args.draws
    shares = {}
    for name, series in series_by_name.items():
        windows = windows_by_name[name]
        detector = fit_detector(series, config)
        out = detector.score(series, series.name)
        share = out.epistemic / out.stddev
        scale = detector.scale_of(series.name)
        train = scale.train_rows
        validation = slice(train - scale.validation_rows, train)
        bar = float(np.nanquantile(share[validation], args.quantile))
        refractory = refractory_of(config, len(series))
        counts["default"] += evaluate.event_counts(out.is_anomaly, windows)
        novel = alarms.suppress_repeats(out.exceeds & (share > bar), refractory)
        counts["novel"] += evaluate.event_counts(novel, windows)
        for draw in range(args.draws):
            keep = rng.random(len(series)) >= args.quantile
            flags = alarms.suppress_repeats(out.exceeds & keep, refractory)
            random_counts[draw] += evaluate.event_counts(flags, windows)
        shares[name] = share_summary(share, evaluate.in_windows(len(series), windows), train)
        print(f"[epistemic] seed {seed} {name}: share inside {shares[name]['inside_windows']}"
              f" outside {shares[name]['outside_windows']}", flush=True)
    random_f1 = np.array([c.f1 for c in random_counts])
    counts_mean = np.mean([dataclasses.astuple(c) for c in random_counts], axis=0)
    return {**{m: {"counts": list(dataclasses.astuple(c)), "f1": c.f1}
               for m, c in counts.items()},
            "random": {"counts_mean": counts_mean.round(2).tolist(),
                       "f1_mean": float(random_f1.mean()),
                       "f1_p90": float(np.quantile(random_f1, 0.9)),
                       "novel_f1_rank": float(np.mean(random_f1 < counts["novel"].f1))},
            "shares": shares}


def plot(result: dict, path: pathlib.Path) -> None:
    """Left: F1 per seed of the three methods. Right: the epistemic share's median inside
    and outside the labelled windows, per series (one dot per seed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seeds = result["seeds"]
    figure, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    x = np.arange(len(seeds))
    width = 0.27
    rows = result["per_seed"]
    values = {"default": [rows[s]["default"]["f1"] for s in seeds],
              "epistemic share above its median": [rows[s]["novel"]["f1"] for s in seeds],
              "random half (mean)": [rows[s]["random"]["f1_mean"] for s in seeds]}
    for offset, (label, f1s) in zip((-width, 0.0, width), values.items()):
        axes[0].bar(x + offset, f1s, width, label=label)
    axes[0].set_xticks(x, [f"seed {s}" for s in seeds])
    axes[0].set_ylabel("event-level F1, five NAB series")
    axes[0].set_title(f"alarms of the {result['step']} detector (z-score gate)")
    axes[0].legend(fontsize=8)
    names = result["series"]
    for index, name in enumerate(names):
        for s in seeds:
            share = rows[s]["shares"][name]
            if share["inside_windows"]:
                axes[1].plot(index - 0.1, share["inside_windows"][0], "o", color="C3", ms=4)
            if share["outside_windows"]:
                axes[1].plot(index + 0.1, share["outside_windows"][0], "o", color="C0", ms=4)
    axes[1].plot([], [], "o", color="C3", label="inside the labelled windows")
    axes[1].plot([], [], "o", color="C0", label="outside")
    axes[1].set_xticks(range(len(names)), [n.replace("_system_failure", "").replace(
        "_asg_misconfiguration", "") for n in names], rotation=20, ha="right", fontsize=8)
    axes[1].set_ylabel("median epistemic share of the stddev")
    axes[1].set_title("after the training part, one dot per seed")
    axes[1].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2,3,4",
                        help="comma-separated training seeds (default 0,1,2,3,4)")
    parser.add_argument("--epochs", type=int, default=DetectorConfig().epochs)
    parser.add_argument("--step", default=DetectorConfig().step, choices=prob.LADDER,
                        help="the ladder step (default: the default detector's, "
                             f"{DetectorConfig().step})")
    parser.add_argument("--quantile", type=float, default=0.5,
                        help="the epistemic share must exceed this quantile of its values on "
                             "the held-out end of the training part (default 0.5)")
    parser.add_argument("--draws", type=int, default=200,
                        help="random thinnings per seed for the control (default 200)")
    parser.add_argument("--nab-root", type=pathlib.Path, default=None,
                        help="a NAB layout; default: the shared data's nab folder")
    parser.add_argument("--output", default=str(RESULTS / "epistemic_novelty.json"))
    args = parser.parse_args(argv)
    if not 0.0 < args.quantile < 1.0:
        parser.error(f"--quantile {args.quantile}: expected a value in (0, 1)")
    if args.draws < 1:
        parser.error(f"--draws {args.draws}: expected at least 1")
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        parser.error(f"--seeds {args.seeds!r}: expected comma-separated integers")
    root = args.nab_root or nab_evaluation.shared_root() / "nab"
    paths = nab_evaluation.series_paths(root, ",".join(nab_evaluation.SERIES), parser)
    series_by_name, windows_by_name = {}, {}
    for name, path in paths.items():
        series_by_name[name], windows_by_name[name] = nab_evaluation.read_labelled(root, path)
    rng = np.random.default_rng(0)
    start = time.monotonic()
    per_seed = {seed: score_seed(series_by_name, windows_by_name, seed, args, rng)
                for seed in seeds}
    summary = {m: float(np.mean([per_seed[s][m]["f1"] for s in seeds])) for m in METHODS[:2]}
    summary["random"] = float(np.mean([per_seed[s]["random"]["f1_mean"] for s in seeds]))
    print(f"\n{'seed':>4} {'default':>16} {'novel':>16} {'random F1 mean/p90':>20}")
    for seed in seeds:
        row = per_seed[seed]
        print(f"{seed:>4} {str(row['default']['counts']):>10} {row['default']['f1']:.3f} "
              f"{str(row['novel']['counts']):>10} {row['novel']['f1']:.3f} "
              f"{row['random']['f1_mean']:>12.3f}/{row['random']['f1_p90']:.3f}")
    print(f"mean F1 over seeds: default {summary['default']:.3f}, novel {summary['novel']:.3f}, "
          f"random thinning {summary['random']:.3f}")
    result = {"protocol": __doc__, "step": args.step, "seeds": seeds, "epochs": args.epochs,
              "quantile": args.quantile, "draws": args.draws,
              "series": list(series_by_name), "per_seed": per_seed, "mean_f1": summary,
              "seconds": round(time.monotonic() - start, 1),
              "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
              "date": time.strftime("%Y-%m-%d")}
    output = pathlib.Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=1, default=str))
    plot(result, output.with_suffix(".png"))
    print(f"wrote {output} and {output.with_suffix('.png').name}")
    return result


if __name__ == "__main__":
    main()
