"""The anomaly detector on data it was never designed on: SKAB's pump testbed runs.

SKAB (Skoltech Anomaly Benchmark) records 8 sensors of a water-circulation testbed at 1 Hz
while faults are induced on purpose (valve closures, rotor imbalance, cavitation, leaks).
Each labelled run has one anomalous segment. Nothing of the detector (its steps, settings,
or the z-score alarm gate) was chosen on SKAB, so this is a clean test of the defaults
chosen on the NAB series (`nab_evaluation.py`).

Protocol, fixed before the first run:
  * runs: every labelled run in `../shared/data/skab` (`valve1/`, `other/`) whose first 400
    rows are normal (SKAB's own convention: the first 400 points train); `other/2.csv`,
    whose anomaly starts at row 104, is left out and listed;
  * each of the 8 sensors is a series of its own; every method trains and calibrates on
    the first 400 rows (`train_fraction = 400 / rows`), label-free, with the package
    defaults except the window (50 instead of 100: 400 training rows) and 40 epochs;
  * a run's alarms are those of any of its sensors; event-level counts and the NAB
    standard score against the anomalous segment, rows before 400 not scored (as
    `nab_evaluation.py` does for NAB's first 15%);
  * methods: the default detector (`bayesian_learned_scale` with the z-score alarm gate),
    the same fitted detector without the gate (`--alarm-gate none`), and the trailing
    z-score baseline with the same alarm post-processing.

"--joint" scores each run's 8 sensors together (`cuttingedge.trainers.anomaly.joint`): one
forecaster of every sensor's next value with a full covariance, its joint tail surprise, one
threshold per run. Designed on synthetic data only and fixed, defaults included, before its
first SKAB run; the protocol above is unchanged (window 50, 40 epochs, first 400 rows).
Methods: the joint detector (its default, ungated), the same fit with the joint z-score gate,
and the joint trailing z-score with the same post-processing.

"--reference" fits each sensor's detector once, on SKAB's anomaly-free recording (9,405
normal rows of the same testbed: the first half fits, the second early-stops), instead of on
each run's first 400 rows, as a plant would learn "normal" from a long healthy recording of
its machine (`Detector.add_series`); each run's first 400 rows then only standardise it and
set its thresholds, label-free, as before. Fixed before its first run, with the package
defaults and window 50; the rest of the protocol is unchanged. Methods: the reference
detector with its default z-score gate, the same without the gate, and the trailing z-score
(which has nothing to learn from a long recording).

"--local-level" scores each sensor with the maximum-likelihood local level model
(`baselines.local_level_baseline`: a sensor that holds its level while healthy keeps
expecting it, so a slow fault stays surprising until it ends) and the trailing z-score, each
with one alarm per episode (`rearm`) and with the usual refractory repeats, and the ladder's
deterministic (MSE) forecaster, re-armed, for the equal-recall table: every re-armed method's
thresholds are scaled by 0.5..8 and charged the fewest false positives at which it reaches
the deterministic forecaster's own recall (label-informed, for that comparison only). The
local level model was designed after the runs above, on the "dev" half of the runs (every
other run in the order below), and fixed before the "test" half was scored: there a static
Normal of the training rows and a local level filter that skips outlying points did worse,
and re-arming helped the local level model only. Totals are given for both halves. Window 50
(the z-score's and the forecaster's), first 400 rows, as above. "auto (default)" is the
package's default (`model_choice`, added after everything above): per sensor, the local level
model where the 400 training rows show a held level with Gaussian innovations, else the
gated `bayesian_learned_scale`; its rule and both bounds were fixed before its first run.

"--plain" runs the same methods under `nab_evaluation.py --plain`'s protocol (smoothing 1, the
threshold fixed where the training part set it, no refractory period), for every method.

Run from the repository root:
    .venv/bin/python benchmarks/skab_evaluation.py [--runs 3] [--epochs 40] [--plain]
        [--joint | --reference | --local-level]
Writes benchmarks/results/skab_evaluation.json (skab_evaluation_plain.json with --plain;
skab_joint[_plain].json with --joint, skab_reference[_plain].json with --reference,
skab_local_level[_plain].json and .png with --local-level). The
shared data root is ../shared/data beside the repository, or $CUTTINGEDGE_SHARED_DATA.
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
import pandas as pd

from cuttingedge.trainers.anomaly import alarms, baselines, evaluate, joint, model_choice
from cuttingedge.trainers.anomaly.detector import DetectorConfig, fit_detector, refractory_of
from cuttingedge.trainers.anomaly.series import SeriesError, from_arrays
from nab_evaluation import (FACTORS, PLAIN, add_detector_option,  # this script's folder
                            detector_overrides, fp_at_recall, shared_root)

REPO = pathlib.Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
TRAIN_ROWS = 400
WINDOW = 50
METHODS = ("default (gated)", "ungated", "zscore")
JOINT_METHODS = ("joint", "joint gated", "joint zscore")
REFERENCE_METHODS = ("reference (gated)", "reference ungated", "zscore")
LEVEL_METHODS = ("local level (re-armed)", "zscore (re-armed)", "deterministic (re-armed)",
                 "local level", "zscore", "auto (default)")
CURVE_METHODS = LEVEL_METHODS[:3]  # their thresholds are scaled for the equal-recall table
REFERENCE = "anomaly-free"
REFERENCE_FRACTION = 0.999  # the whole recording trains (half fits, half early-stops)


def method_names(args) -> tuple[str, ...]:
    return (JOINT_METHODS if args.joint else REFERENCE_METHODS if args.reference
            else LEVEL_METHODS if args.local_level else METHODS)


def read_run(path: pathlib.Path) -> pd.DataFrame:
    return pd.read_csv(path, sep=";")


def segment(labels: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) rows of each run of anomalous labels."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], labels.astype(int), [0]])))
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2])]


def score_sensor(values, stamps, name, args) -> dict[str, np.ndarray]:
    """Alarm flags of each method on one sensor of one run."""
    series = from_arrays(values, stamps, name=name)
    fraction = TRAIN_ROWS / len(series)
    plain = PLAIN if args.plain else {}
    config = DetectorConfig(window=WINDOW, train_fraction=fraction, epochs=args.epochs,
                            seed=args.seed, **{**args.detector, **plain})
    out = fit_detector(series, config).score(series, name)
    ungated = (out.score > out.bar) & out.scored & ~series.missing
    zscore = baselines.zscore_baseline(series, baselines.BaselineConfig(
        window=WINDOW, train_fraction=fraction, **plain))
    return {"default (gated)": out.is_anomaly,
            "ungated": alarms.suppress_repeats(ungated, refractory_of(config, len(series))),
            "zscore": zscore.is_anomaly}


def reference_detectors(root: pathlib.Path, args) -> dict:
    """Per sensor, the default detector fitted on the whole anomaly-free recording."""
    frame = read_run(root / "anomaly-free" / "anomaly-free.csv")
    stamps = frame["datetime"].astype(str).to_numpy()
    plain = PLAIN if args.plain else {}
    detectors = {}
    for sensor in [c for c in frame.columns if c != "datetime"]:
        series = from_arrays(frame[sensor].to_numpy(np.float64), stamps, name=REFERENCE)
        config = DetectorConfig(window=WINDOW, train_fraction=REFERENCE_FRACTION,
                                epochs=args.epochs, seed=args.seed, **plain)
        start = time.monotonic()
        detectors[sensor] = fit_detector(series, config)
        print(f"[skab] reference detector of {sensor}: {len(series)} rows, "
              f"{time.monotonic() - start:.0f} s", flush=True)
    return detectors


def score_with_reference(values, stamps, name, detector, args) -> dict[str, np.ndarray]:
    """Alarm flags of the reference-fitted detector (calibrated on this run's first rows)."""
    series = from_arrays(values, stamps, name=name)
    out = detector.add_series(series, name, TRAIN_ROWS).score(series, name)
    ungated = (out.score > out.bar) & out.scored & ~series.missing
    zscore = baselines.zscore_baseline(series, baselines.BaselineConfig(
        window=WINDOW, train_fraction=TRAIN_ROWS / len(series),
        **(PLAIN if args.plain else {})))
    return {"reference (gated)": out.is_anomaly,
            "reference ungated": alarms.suppress_repeats(
                ungated, refractory_of(detector.config, len(series))),
            "zscore": zscore.is_anomaly}


def rearmed_flags(out, series, factor: float, refractory: int) -> np.ndarray:
    """One alarm per episode of points whose score exceeds `factor` times their bar."""
    exceeds = (out.score > out.bar * factor) & out.scored & ~series.missing
    return alarms.suppress_repeats(exceeds, refractory, rearm=True)


def score_local_level(values, stamps, name, args) -> tuple[dict, dict, str]:
    """Alarm flags of the local level model, the z-score and the deterministic forecaster,
    re-armed (and the first two not), and of the package default (`model_choice`: auto);
    the re-armed ones' flags at each threshold factor; the model auto chose.
    """
    series = from_arrays(values, stamps, name=name)
    plain = PLAIN if args.plain else {}
    fraction = TRAIN_ROWS / len(series)
    rearmed = baselines.BaselineConfig(window=WINDOW, train_fraction=fraction, rearm=True,
                                       **plain)
    deterministic = DetectorConfig(step="deterministic", window=WINDOW, train_fraction=fraction,
                                   epochs=args.epochs, alarm_gate="none", seed=args.seed,
                                   **plain)
    scored = {"local level (re-armed)": baselines.local_level_baseline(series, rearmed),
              "zscore (re-armed)": baselines.zscore_baseline(series, rearmed),
              "deterministic (re-armed)": fit_detector(series, deterministic).score(series,
                                                                                    name)}
    refractory = refractory_of(rearmed, len(series))
    flags = {m: rearmed_flags(out, series, 1.0, refractory) for m, out in scored.items()}
    for method in ("local level", "zscore"):  # the same fit, alarming every refractory period
        flags[method] = alarms.suppress_repeats(scored[f"{method} (re-armed)"].exceeds,
                                                refractory)
    curves = {m: [rearmed_flags(out, series, f, refractory) for f in FACTORS]
              for m, out in scored.items()}
    auto = model_choice.fit_auto_detector({name: series}, DetectorConfig(
        window=WINDOW, train_fraction=fraction, epochs=args.epochs, seed=args.seed,
        **{**args.detector, **plain}))
    flags["auto (default)"] = auto.score(series, name).is_anomaly
    return flags, curves, auto.choices[name].model


def score_joint(values: np.ndarray, args) -> dict[str, np.ndarray]:
    """Alarm flags of each joint method on all sensors of one run."""
    plain = PLAIN if args.plain else {}
    config = joint.JointConfig(window=WINDOW, train_fraction=TRAIN_ROWS / len(values),
                               epochs=args.epochs, seed=args.seed, **plain)
    detector = joint.fit_joint_detector(values, config)
    gated = joint.fit_joint_detector(values, dataclasses.replace(config, alarm_gate="zscore"))
    return {"joint": detector.score(values).is_anomaly,
            "joint gated": gated.score(values).is_anomaly,
            "joint zscore": joint.joint_zscore(values, config).is_anomaly}


def evaluate_run(frame: pd.DataFrame, args) -> dict:
    labels = frame["anomaly"].to_numpy()
    windows = segment(labels == 1)
    sensors = [c for c in frame.columns if c not in ("datetime", "anomaly", "changepoint")]
    methods = method_names(args)
    flags = {m: np.zeros(len(frame), bool) for m in methods}
    curves = {m: [np.zeros(len(frame), bool) for _ in FACTORS] for m in CURVE_METHODS}
    by_sensor, skipped, choices = {}, {}, {}
    if args.joint:
        flags = score_joint(frame[sensors].to_numpy(np.float64), args)
        sensors = []
    for sensor in sensors:
        try:
            values = frame[sensor].to_numpy(np.float64)
            stamps = frame["datetime"].astype(str).to_numpy()
            if args.local_level:
                found, sensor_curves, choices[sensor] = score_local_level(values, stamps,
                                                                          sensor, args)
                for method, at_factors in sensor_curves.items():
                    for kept, sensor_flags in zip(curves[method], at_factors):
                        kept |= sensor_flags
            elif args.reference:
                found = score_with_reference(values, stamps, sensor, args.reference[sensor],
                                             args)
            else:
                found = score_sensor(values, stamps, sensor, args)
        except (SeriesError, ValueError) as error:  # e.g. a constant sensor
            skipped[sensor] = str(error)
            continue
        for method, sensor_flags in found.items():
            flags[method] |= sensor_flags
        by_sensor[sensor] = {m: int(f[TRAIN_ROWS:].sum()) for m, f in found.items()}
    probation = TRAIN_ROWS / len(frame)
    curve_counts = {m: [dataclasses.astuple(evaluate.event_counts(f, windows, probation))
                        for f in curves[m]] for m in CURVE_METHODS} if args.local_level else {}
    return {"rows": len(frame), "windows": windows, "skipped_sensors": skipped,
            "auto_choices": choices,
            "alarms_by_sensor": by_sensor, "curves": curve_counts,
            "methods": {m: {"counts": dataclasses.asdict(evaluate.event_counts(
                                flags[m], windows, probation)),
                            "nab": dataclasses.asdict(evaluate.nab_score(flags[m], windows,
                                                           probation=probation))}
                        for m in methods}}


def equal_recall(per_run: dict) -> dict:
    """False positives of each re-armed method at the deterministic forecaster's own recall.

    Every method's thresholds are scaled by the factors 0.5..8 (label-informed, for this
    comparison only); the deterministic forecaster's recall at its calibrated threshold
    (factor 1) is the operating point, and each method is charged the fewest false
    positives at which it reaches that recall.
    """
    curve = {m: np.sum([r["curves"][m] for r in per_run.values()], axis=0)
             for m in CURVE_METHODS}
    points = {m: [{"factor": f, "recall": tp / max(tp + fn, 1), "false_positives": int(fp)}
                  for f, (tp, fn, fp) in zip(FACTORS, c)] for m, c in curve.items()}
    reference = "deterministic (re-armed)"
    recall = points[reference][FACTORS.index(1.0)]["recall"]
    fps = {m: fp_at_recall(points[m], recall) for m in CURVE_METHODS}
    best = "local level (re-armed)"
    reduction = None if fps[best] is None or not fps[reference] \
        else 1.0 - fps[best] / fps[reference]
    return {"recall": recall, "false_positives": fps, "reduction": reduction, "curves": points}


def plot_local_level(table: dict, halves: dict, recall_table: dict,
                     path: pathlib.Path) -> None:
    """F1 by method and half, and false positives against recall (the equal-recall curves)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = list(table)
    figure, axes = plt.subplots(1, 3, figsize=(17, 5))
    width = 0.27
    for offset, (part, rows) in zip((-width, 0.0, width),
                                    (("all", table), ("dev", halves["dev"]),
                                     ("test", halves["test"]))):
        axes[0].bar(np.arange(len(methods)) + offset, [rows[m]["f1"] for m in methods], width,
                    label=f"{part} runs")
    axes[0].set_xticks(range(len(methods)), methods, rotation=30, ha="right", fontsize=8)
    axes[0].set_title("event-level F1 (SKAB, any sensor alarms)")
    axes[0].legend(fontsize=8)
    for axis, part in zip(axes[1:], ("all", "test")):
        found = recall_table[part]
        for method, curve in found["curves"].items():
            axis.plot([p["recall"] for p in curve], [p["false_positives"] for p in curve],
                      marker=".", label=method)
        axis.axvline(found["recall"], color="grey", ls="--", lw=0.8)
        axis.set_xlabel(f"recall ({part} runs; thresholds scaled 0.5-8)")
        axis.set_ylabel("false-positive runs")
        axis.set_yscale("symlog")
        axis.set_ylim(bottom=0)
        axis.set_title(f"{part} runs: dashed = the deterministic forecaster's recall")
        axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def totals(per_run: dict, method: str) -> dict:
    counts = sum((evaluate.EventCounts(**r["methods"][method]["counts"])
                  for r in per_run.values()), evaluate.EventCounts())
    nab = sum((evaluate.NabResult(**r["methods"][method]["nab"]) for r in per_run.values()),
              evaluate.NabResult(0.0, 0.0, 0.0))
    return {**counts.as_dict(), "nab_standard": nab.normalized}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--runs", type=int, default=0, help="first N runs only (0: all)")
    parser.add_argument("--seed", type=int, default=0,
                        help="training seed of the ladder models (default 0)")
    parser.add_argument("--plain", action="store_true",
                        help="no alarm post-processing, for every method (module docstring)")
    parser.add_argument("--joint", action="store_true",
                        help="score the 8 sensors of a run together (module docstring)")
    parser.add_argument("--reference", action="store_true",
                        help="fit each sensor's detector once on the anomaly-free recording "
                             "and calibrate it on each run's first rows (module docstring)")
    parser.add_argument("--local-level", action="store_true",
                        help="the local level model and the z-score, re-armed or not "
                             "(module docstring)")
    parser.add_argument("--output", help="JSON written (default benchmarks/results/"
                                         "skab_evaluation[_plain].json, skab_joint[_plain].json, "
                                         "skab_reference[_plain].json, "
                                         "skab_local_level[_plain].json)")
    add_detector_option(parser)
    args = parser.parse_args(argv)
    args.detector = detector_overrides(args.detector, parser)
    if args.joint + args.reference + args.local_level > 1:
        parser.error("--joint, --reference and --local-level are separate protocols: pass one")
    stem = "skab_joint" if args.joint else "skab_reference" if args.reference \
        else "skab_local_level" if args.local_level else "skab_evaluation"
    args.output = args.output or str(RESULTS / f"{stem}{'_plain' if args.plain else ''}.json")
    methods = method_names(args)
    if args.epochs < 1 or args.runs < 0:
        parser.error("--epochs must be >= 1 and --runs >= 0")
    root = shared_root() / "skab"
    args.reference = reference_detectors(root, args) if args.reference else None
    paths = sorted(root.glob("valve1/*.csv")) + sorted(root.glob("other/*.csv"))
    if not paths:
        parser.error(f"No SKAB runs under {root} (set CUTTINGEDGE_SHARED_DATA).")
    per_run, left_out = {}, {}
    start = time.monotonic()
    for path in paths:
        key = str(path.relative_to(root))
        frame = read_run(path)
        labels = frame["anomaly"].to_numpy()
        if labels[:TRAIN_ROWS].any():
            left_out[key] = f"anomalous from row {int(np.argmax(labels))} < {TRAIN_ROWS}"
            continue
        if args.runs and len(per_run) >= args.runs:
            break
        per_run[key] = evaluate_run(frame, args)
        row = {m: per_run[key]["methods"][m]["counts"] for m in methods}
        print(f"[skab] {key}: " + "; ".join(
            f"{m} TP {c['true_positives']} FP {c['false_positives']}" for m, c in row.items()),
            flush=True)
    table = {m: totals(per_run, m) for m in methods}
    keys = list(per_run)
    halves = {half: {m: totals({k: per_run[k] for k in part}, m) for m in methods}
              for half, part in (("dev", keys[0::2]), ("test", keys[1::2]))}
    recall_table = {part: equal_recall({k: per_run[k] for k in chosen})
                    for part, chosen in (("all", keys), ("dev", keys[0::2]),
                                         ("test", keys[1::2]))} if args.local_level else None
    result = {"protocol": __doc__, "methods": table, "halves": halves,
              "equal_recall": recall_table, "per_run": per_run, "left_out": left_out,
              "settings": {"train_rows": TRAIN_ROWS, "window": WINDOW, "epochs": args.epochs,
                           "plain": args.plain, "joint": args.joint,
                           "local_level": args.local_level,
                           "reference": args.reference is not None,
                           "detector": args.detector},
              "seconds": time.monotonic() - start,
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
              "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    output = pathlib.Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=1, default=float))
    if recall_table:
        plot_local_level(table, halves, recall_table, output.with_suffix(".png"))
    print(f"{'method':24} {'runs':5} {'P':>6} {'R':>6} {'F1':>6} {'TP':>3} {'FN':>3} {'FP':>4} "
          f"{'NAB':>7}")
    for part, rows in (("all", table), *halves.items()):
        for method, row in rows.items():
            print(f"{method:24} {part:5} {row['precision']:6.3f} {row['recall']:6.3f} "
                  f"{row['f1']:6.3f} {row['true_positives']:3d} {row['false_negatives']:3d} "
                  f"{row['false_positives']:4d} {row['nab_standard']:7.1f}")
    for part, row in (recall_table or {}).items():
        print(f"equal recall ({part} runs): at the deterministic forecaster's recall "
              f"{row['recall']:.3f}, false positives "
              + ", ".join(f"{m} {fp}" for m, fp in row["false_positives"].items())
              + ("" if row["reduction"] is None else
                 f"; local level {row['reduction']:.0%} fewer" if row["reduction"] >= 0 else
                 f"; local level {1 - row['reduction']:.1f} times as many"))
    print(f"{len(per_run)} runs, {result['seconds']:.0f} s; written to {output}")
    return result


if __name__ == "__main__":
    sys.exit(main() and 0)
