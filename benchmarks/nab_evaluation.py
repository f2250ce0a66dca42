"""Event-level precision/recall/F1 and the NAB standard score of every ladder step and the
z-score, deterministic and STS baselines on the NAB realKnownCause series.

Protocol (no labels touch a threshold):
  * every method trains on the first 15% of each series and sets its threshold there,
    label-free (`alarms.calibrate_threshold`, adaptive afterwards), with the same score
    (tail surprise under its predictive Normal), false-alarm rate (1e-4 per point),
    smoothing (4 points) and refractory period (2% of the series);
  * the ladder models nest the z-score: each input window and its target are standardised
    by the window's own mean and stddev (floor 0.05 training-part stddevs) and the model,
    initialised to Normal(0, 1) (= the trailing z-score), predicts the target in those
    units; the detector fits on the first half of the training part (early stopping on
    the second half) and calibrates its threshold on the second half, which it was not
    fitted on; the z-score baseline calibrates on its whole training part;
  * the detector settings (window 100, horizon 1, validation half, held-out calibration,
    rate 1e-4, smoothing 4, adaptive threshold, refractory 2%, default step
    bayesian_learned_scale) were chosen on ONE series, machine_temperature_system_failure
    (the "dev" series, also bundled with the package); totals are reported over all five
    series and over the four others ("held_out"), which were not used to choose; the
    "best probabilistic" step is also picked on dev; the z-score alarm gate, added later,
    became the default on the leave-one-series-out choice below;
  * "STEP+zscore" is the ladder step with the z-score alarm gate (DetectorConfig
    alarm_gate="zscore": an alarm also needs the trailing z-score over the same window to
    exceed its own threshold, calibrated like the z-score baseline's). The gate was
    designed after the ungated steps' false positives on the held-out series had been
    seen, so its held-out figures are not a clean held-out test;
  * "leave one series out": the dev-series rule rests on one series, so the choice of a
    probabilistic method (ladder step, with or without the gate) is also made five times,
    each time on the F1 (then NAB score) of the four other series, and scored on the one
    left out; the sum over the five left-out series estimates what choosing a method this
    way gives on a series it was not chosen on (the gate's design, though, saw all five);
  * "equal recall": thresholds scaled by factors 0.5..8 (label-informed, for this analysis
    only) give each method's false-positive count at each recall; the reduction compares the
    best probabilistic step with the deterministic one at the deterministic model's own
    operating recall (with a gate, only the forecaster's threshold is scaled), separately
    for the ungated and the gated steps.

"local_level" is the maximum-likelihood local level model (`baselines.local_level_baseline`)
and "zscore_rearmed" the z-score, both with one alarm per episode (`BaselineConfig(rearm=
True)`); they were added after the SKAB runs of `skab_evaluation.py --local-level`, and were
designed on that benchmark's dev half, never on NAB.

"auto" is the package's default since it was added (`model_choice`): per series, the local
level model where the training part shows a held level with Gaussian innovations, else the
gated `bayesian_learned_scale`. Its rule was fixed, with its two bounds, before it was first
scored on any benchmark. It is fitted as `cuttingedge detect` fits it, with its window
widened to a period of the training part longer than the window
(`DetectorConfig(seasonal_window=True)`, added later); on none of the NAB series scored
here does the training part have one, so the window stays 100.

"--plain" runs every method under the plain protocol of a textbook z-score detector
instead: each point's own surprise (smoothing 1), the threshold fixed where the training
part set it (no adaptation), no refractory period (every run of flagged points outside the
windows is a false positive). It shows what the alarm post-processing is worth, apart from
the models, and reproduces the plain trailing z-score quoted at about 0.28 on such series.

Run from the repository root:
    .venv/bin/python benchmarks/nab_evaluation.py [--epochs 40] [--methods a,b] [--series x,y]
        [--plain] [--nab-root NAB --series all]
`--nab-root` takes any NAB layout, e.g. a clone of numenta/NAB, to score its other series
under the same protocol (`--series all --methods auto,zscore`: the default against the
z-score on every labelled series there). A series whose first 15% cannot hold the detector's
window plus held-out rows to calibrate on (`detector.check_rows`) is left out for every
method alike, and listed with the reason under "left_out" in the JSON.
Writes benchmarks/results/nab_evaluation.json and .png (nab_evaluation_plain.* with
--plain). The shared data root is ../shared/data beside the repository, or
$CUTTINGEDGE_SHARED_DATA.
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

from cuttingedge.trainers import probabilistic as prob
from cuttingedge.trainers.anomaly import alarms, baselines, evaluate, model_choice
from cuttingedge.trainers.anomaly.detector import (DetectorConfig, check_rows, fit_detector,
                                                   refractory_of)
from cuttingedge.trainers.anomaly.series import SeriesTooShortError, read_series

REPO = pathlib.Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
DEV = "machine_temperature_system_failure"
SERIES = ("ambient_temperature_system_failure", "cpu_utilization_asg_misconfiguration",
          "machine_temperature_system_failure", "rogue_agent_key_hold",
          "rogue_agent_key_updown")
BASELINES = ("zscore", "sts", "local_level", "zscore_rearmed")
AUTO = model_choice.AUTO  # the package default: a model chosen per series
GATED = "+zscore"  # method suffix: the ladder step with DetectorConfig(alarm_gate="zscore")
FACTORS = tuple(float(f) for f in np.geomspace(0.5, 8.0, 25))
PLAIN = {"smoothing": 1, "adaptive": False, "refractory": 0, "refractory_fraction": 0.0}


def shared_root() -> pathlib.Path:
    return pathlib.Path(os.environ.get("CUTTINGEDGE_SHARED_DATA",
                                       REPO.parent / "shared" / "data"))


def series_paths(root: pathlib.Path, names: str, parser) -> dict[str, pathlib.Path]:
    """Series name -> CSV under a NAB layout root (data/<category>/<file>.csv).

    A name is a file stem ("nyc_taxi"), a labels key ("realKnownCause/nyc_taxi.csv") or a
    category folder ("realTraffic": its series that the labels file has windows for); "all"
    is every series the labels file has windows for and data/ holds.
    """
    labels = root / "labels" / "combined_windows.json"
    if not labels.exists():
        parser.error(f"{labels} not found: --nab-root must be a NAB layout "
                     "(data/<category>/<file>.csv and labels/combined_windows.json)")
    labelled = [root / "data" / key for key in sorted(json.loads(labels.read_text()))
                if (root / "data" / key).exists()]
    if names == "all":
        found = labelled
    else:
        found = []
        for name in names.split(","):
            if name and (root / "data" / name).is_dir():
                found += [path for path in labelled if path.parent.name == name]
                continue
            file = name if name.endswith(".csv") else f"{name}.csv"
            matches = sorted((root / "data").glob(file if "/" in file else f"*/{file}"))
            if not matches:
                parser.error(f"--series {name!r}: no {file} under {root / 'data'}")
            found.append(matches[0])
    if not found:
        parser.error(f"--series {names!r}: no series under {root / 'data'} has windows in "
                     f"{labels}")
    return {path.stem: path for path in found}


def read_labelled(root: pathlib.Path, path: pathlib.Path):
    """One series of a NAB layout and its labelled windows as (first, last) row indices."""
    series = read_series(path)
    windows = evaluate.window_indices(series.timestamps, evaluate.load_windows(
        root / "labels" / "combined_windows.json", f"{path.parent.name}/{path.name}"))
    return series, windows


def add_detector_option(parser) -> None:
    """`--detector FIELD=VALUE`, the DetectorConfig overrides `detector_overrides` reads."""
    parser.add_argument("--detector", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a DetectorConfig field of the ladder steps and auto, "
                             "e.g. --detector min_scale=0.3 or --detector ungate_gaussian=true "
                             "(repeatable; values read as JSON)")


def detector_overrides(items, parser) -> dict:
    """FIELD=VALUE strings -> DetectorConfig keyword arguments (values parsed as JSON)."""
    fields = {f.name for f in dataclasses.fields(DetectorConfig)} - {"step", "epochs", "window"}
    out = {}
    for item in items:
        name, _, value = item.partition("=")
        if name not in fields or not value:
            parser.error(f"--detector {item!r}: expected FIELD=VALUE with FIELD one of "
                         f"{sorted(fields)} (step, epochs and window have their own options)")
        try:
            out[name] = json.loads(value)
        except json.JSONDecodeError:
            out[name] = value
    return out


def run_method(method: str, series, args):
    """Fits/scores one method on one series; returns (ScoredSeries, seconds)."""
    start = time.monotonic()
    if method == "zscore":
        out = baselines.zscore_baseline(series, args.baseline)
    elif method == "sts":
        out = baselines.sts_baseline(series, args.baseline)
    elif method in ("local_level", "zscore_rearmed"):  # one alarm per episode
        config = dataclasses.replace(args.baseline, rearm=True)
        out = baselines.local_level_baseline(series, config) if method == "local_level" \
            else baselines.zscore_baseline(series, config)
    elif method == AUTO:  # as `cuttingedge detect` fits it: the window widened to a period
        options = {"seasonal_window": True, **args.detector}
        config = DetectorConfig(epochs=args.epochs, window=args.window, **options)
        detector = model_choice.fit_auto_detector({series.name: series}, config)
        out = detector.score(series, series.name)
        print(f"[nab] {series.name}: {detector.choices[series.name]}, window "
              f"{detector.config.window}", flush=True)
    else:
        step, gated, _ = method.partition(GATED)
        options = {**args.detector, "alarm_gate": "zscore" if gated else "none"}
        config = DetectorConfig(step=step, epochs=args.epochs, window=args.window, **options)
        out = fit_detector(series, config).score(series, series.name)
    return out, time.monotonic() - start


def flags_at(out, series, factor: float, refractory: int):
    exceeds = (out.score > out.bar * factor) & out.scored & ~series.missing
    if out.gate_open is not None:  # the z-score gate stays as calibrated
        exceeds &= out.gate_open
    return alarms.suppress_repeats(exceeds, refractory)


def evaluate_series(out, series, windows, config) -> dict:
    counts = evaluate.event_counts(out.is_anomaly, windows)
    nab = evaluate.nab_score(out.is_anomaly, windows)
    refractory = refractory_of(config, len(series))
    curve = [dataclasses.astuple(evaluate.event_counts(flags_at(out, series, f, refractory),
                                                       windows))
             for f in FACTORS]
    return {"counts": dataclasses.asdict(counts), "nab": dataclasses.asdict(nab),
            "nab_normalized": nab.normalized, "alarms": int(out.is_anomaly.sum()),
            "curve": curve}


def totals(per_series: dict, names) -> dict:
    counts = sum((evaluate.EventCounts(**per_series[n]["counts"]) for n in names),
                 evaluate.EventCounts())
    nab = sum((evaluate.NabResult(**per_series[n]["nab"]) for n in names),
              evaluate.NabResult(0.0, 0.0, 0.0))
    curve = np.sum([per_series[n]["curve"] for n in names], axis=0)
    return {**counts.as_dict(), "nab_standard": nab.normalized,
            "curve": [{"factor": f, "recall": tp / max(tp + fn, 1), "false_positives": int(fp)}
                      for f, (tp, fn, fp) in zip(FACTORS, curve)]}


def leave_one_series_out(per_method: dict, candidates, names) -> dict:
    """Per series: the candidate best on the OTHER series (F1, then NAB), scored on it."""
    folds, left_out = {}, {}
    for name in names:
        rest = [n for n in names if n != name]
        scores = {m: totals(per_method[m], rest) for m in candidates}
        best = max(candidates, key=lambda m: (scores[m]["f1"], scores[m]["nab_standard"]))
        folds[name] = {"chosen": best, "f1_on_the_others": scores[best]["f1"],
                       "counts": per_method[best][name]["counts"]}
        left_out[name] = per_method[best][name]
    total = totals(left_out, names)
    return {"folds": folds, **{k: v for k, v in total.items() if k != "curve"}}


def fp_at_recall(curve, recall: float) -> int | None:
    reached = [point["false_positives"] for point in curve if point["recall"] >= recall - 1e-9]
    return min(reached) if reached else None


def equal_recall(table: dict, group: str, probabilistic,
                 deterministic: str = "deterministic") -> dict:
    """FP counts at the deterministic model's recall; "best" is chosen on the dev series."""
    chooser = "dev" if all(table[m]["dev"] for m in probabilistic) else group
    best = max(probabilistic, key=lambda m: (table[m][chooser]["f1"],
                                             table[m][chooser]["nab_standard"]))
    reference = table[deterministic][group]
    recall = reference["recall"]
    fp_best = fp_at_recall(table[best][group]["curve"], recall)
    fp_det = fp_at_recall(reference["curve"], recall)
    reduction = None if not fp_det or fp_best is None else 1.0 - fp_best / fp_det
    return {"best_probabilistic": best, "deterministic": deterministic, "recall": recall,
            "false_positives_best": fp_best, "false_positives_deterministic": fp_det,
            "reduction": reduction}


def plot(table: dict, path: pathlib.Path, groups=("all", "held_out")) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = list(table)
    figure, axes = plt.subplots(1, 3, figsize=(17, 5))
    width = 0.38
    offsets = (0.0,) if len(groups) == 1 else (-width / 2, width / 2)
    for offset, group in zip(offsets, groups):
        axes[0].bar(np.arange(len(methods)) + offset, [table[m][group]["f1"] for m in methods],
                    width, label=group)
        axes[1].bar(np.arange(len(methods)) + offset,
                    [table[m][group]["nab_standard"] for m in methods], width, label=group)
    for axis, title in zip(axes[:2], ("event-level F1", "NAB standard score")):
        axis.set_xticks(range(len(methods)), methods, rotation=35, ha="right", fontsize=8)
        axis.set_title(title)
        axis.legend(fontsize=8)
    axes[0].axhline(0.45, color="red", ls="--", lw=0.8)
    for method in methods:
        curve = table[method]["all"]["curve"]
        axes[2].plot([p["recall"] for p in curve], [p["false_positives"] for p in curve],
                     marker=".", label=method)
    axes[2].set_xlabel("recall (windows, all series)")
    axes[2].set_ylabel("false-positive runs")
    axes[2].set_yscale("symlog")
    axes[2].set_title("threshold sweep (analysis only)")
    axes[2].legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)


def print_table(table: dict) -> None:
    print(f"{'method':30} {'group':9} {'P':>6} {'R':>6} {'F1':>6} {'TP':>3} {'FN':>3} "
          f"{'FP':>4} {'NAB':>7}")
    for method, groups in table.items():
        for group in ("all", "held_out", "dev"):
            row = groups[group]
            print(f"{method:30} {group:9} {row['precision']:6.3f} {row['recall']:6.3f} "
                  f"{row['f1']:6.3f} {row['true_positives']:3d} {row['false_negatives']:3d} "
                  f"{row['false_positives']:4d} {row['nab_standard']:7.1f}")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--window", type=int, default=DetectorConfig().window)
    parser.add_argument("--methods", default=",".join(
        prob.LADDER + tuple(step + GATED for step in prob.LADDER) + BASELINES + (AUTO,)),
        help="ladder steps, ladder steps with the z-score alarm gate (STEP+zscore), "
             "baselines (zscore, sts, local_level, zscore_rearmed) and auto (the package "
             "default); default: all of them")
    parser.add_argument("--series", default=",".join(SERIES),
                        help="comma-separated file stems, labels keys (realKnownCause/"
                             "nyc_taxi.csv) or category folders (realTraffic) under "
                             "--nab-root, or all: every series with windows; default: the "
                             "five realKnownCause series here")
    parser.add_argument("--nab-root", type=pathlib.Path, default=None,
                        help="a NAB layout (data/<category>/<file>.csv, labels/"
                             "combined_windows.json), e.g. a clone of numenta/NAB; default: "
                             "the shared data's nab folder")
    parser.add_argument("--plain", action="store_true",
                        help="every method under the plain protocol (module docstring): "
                             "smoothing 1, fixed threshold, no refractory period")
    parser.add_argument("--recompute", metavar="JSON",
                        help="fit nothing: recompute the tables, leave-one-series-out and plot "
                             "from the per-series results of an earlier run")
    parser.add_argument("--output", help="JSON written (default benchmarks/results/"
                                         "nab_evaluation.json, _plain.json with --plain)")
    add_detector_option(parser)
    args = parser.parse_args(argv)
    args.detector = {**detector_overrides(args.detector, parser),
                     **(PLAIN if args.plain else {})}
    args.baseline = baselines.BaselineConfig(**(PLAIN if args.plain else {}))
    args.output = args.output or str(RESULTS / ("nab_evaluation_plain.json" if args.plain
                                                else "nab_evaluation.json"))
    root = args.nab_root or shared_root() / "nab"
    methods = args.methods.split(",")
    paths = {} if args.recompute else series_paths(root, args.series, parser)
    names = list(paths) or [pathlib.Path(n).stem for n in args.series.split(",")]
    per_method = {m: {} for m in methods}
    seconds = {m: 0.0 for m in methods}
    if args.recompute:
        earlier = json.loads(pathlib.Path(args.recompute).read_text())
        per_method = {m: earlier["per_series"][m] for m in methods}
        seconds = {m: earlier["methods"][m]["seconds"] for m in methods}
        names = [n for n in earlier["series"] if args.series == "all" or n in names]
    left_out = earlier.get("left_out", {}) if args.recompute else {}
    for name in ([] if args.recompute else names):
        series, windows = read_labelled(root, paths[name])
        try:  # too short for the detector's window: left out for every method alike
            check_rows(len(series.values), DetectorConfig(window=args.window, **args.detector),
                       name)
        except SeriesTooShortError as error:
            left_out[name] = str(error)
            print(f"[nab] {name} left out for every method: {error}", flush=True)
            continue
        for method in methods:
            out, took = run_method(method, series, args)
            seconds[method] += took
            per_method[method][name] = evaluate_series(out, series, windows,
                                                       DetectorConfig(**args.detector))
            row = per_method[method][name]
            print(f"[nab] {name} {method}: {row['counts']} NAB {row['nab_normalized']:.1f} "
                  f"({took:.0f}s)", flush=True)
    names = [n for n in names if n not in left_out]
    held_out = [n for n in names if n != DEV]
    table = {m: {"all": totals(per_method[m], names),
                 "held_out": totals(per_method[m], held_out) if held_out else None,
                 "dev": totals(per_method[m], [DEV]) if DEV in names else None,
                 "seconds": seconds[m]} for m in methods}
    table = {m: {k: v for k, v in t.items()} for m, t in table.items()}
    comparison = {}
    for suffix in ("", GATED):  # best probabilistic step vs the deterministic one, per gate
        deterministic = "deterministic" + suffix
        probabilistic = [m for m in methods if m.partition(GATED)[0] in prob.LADDER
                         and m.endswith(GATED) == bool(suffix) and m != deterministic]
        if deterministic in methods and probabilistic:
            comparison[deterministic] = {
                g: equal_recall(table, g, probabilistic, deterministic)
                for g in ("all", "held_out") if table[deterministic][g] is not None}
    candidates = [m for m in methods
                  if m.partition(GATED)[0] in prob.LADDER and
                  m.partition(GATED)[0] != "deterministic"]
    loso = leave_one_series_out(per_method, candidates, names) \
        if candidates and len(names) > 1 else None
    result = {"protocol": __doc__, "methods": table, "per_series": per_method,
              "equal_recall": comparison, "leave_one_series_out": loso, "series": names,
              "left_out": left_out,
              "dev_series": DEV,
              "settings": {"epochs": args.epochs, "window": args.window,
                           "detector": dataclasses.asdict(DetectorConfig(**args.detector)),
                           "baselines": dataclasses.asdict(args.baseline), "plain": args.plain},
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
              "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    if args.recompute:  # the fits were made under the earlier run's settings
        result.update(settings=earlier["settings"], date=earlier["date"],
                      recomputed=time.strftime("%Y-%m-%d %H:%M:%S"))
    output = pathlib.Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=1, default=float))
    if all(table[m]["held_out"] is not None for m in methods):
        plot(table, output.with_suffix(".png"),
             groups=("all", "held_out") if DEV in names else ("all",))
    if all(table[m]["held_out"] is not None and table[m]["dev"] is not None for m in methods):
        print_table(table)
    print(json.dumps(comparison, indent=1, default=float))
    if loso:
        print(f"leave one series out: F1 {loso['f1']:.3f} (TP {loso['true_positives']}, "
              f"FN {loso['false_negatives']}, FP {loso['false_positives']}), NAB "
              f"{loso['nab_standard']:.1f}; chosen: "
              + ", ".join(f"{n}: {f['chosen']}" for n, f in loso["folds"].items()))
    return result


if __name__ == "__main__":
    sys.exit(main() and 0)
