"""False alarms on normal operation: SKAB's anomaly-free recording, where every alarm is false.

SKAB's `anomaly-free/anomaly-free.csv` holds 9,405 rows (1 Hz, about 2.6 hours) of the pump
testbed running without faults, 8 sensors. No anomaly detector here was designed on it: the
`auto` rule and every default were fixed before this script first ran. Protocol, as
`skab_evaluation.py`'s: each sensor is a series of its own; every method trains and
calibrates, label-free, on the first 400 rows (window 50, 40 epochs) and scores the other
9,005; an alarm episode (a run of alarms, each method with its own post-processing) is one
false positive. Methods:

  auto (default)   `model_choice.fit_auto_detector`: the local level model where the
                   training rows show a held level with Gaussian innovations, else the gated
                   ladder (the package default)
  gated ladder     `fit_detector(DetectorConfig())`: `bayesian_learned_scale` with the
                   z-score gate (the default before `auto`)
  local level      `baselines.local_level_baseline`, re-armed (`--model local_level`)
  trailing z-score `baselines.zscore_baseline`

The protocol's false-alarm rate target is 1e-4 per point (about one alarm per sensor in
this recording, before the smoothing and refractory period merge them). Figures: false
positives per sensor and in total, and per 1,000 scored points; which model `auto` chose.

Run from the repository root:
    .venv/bin/python benchmarks/normal_operation.py [--epochs 40] [--train-rows 400]
Writes benchmarks/results/normal_operation.json. The shared data root is ../shared/data
beside the repository, or $CUTTINGEDGE_SHARED_DATA.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import sys
import time

import numpy as np
import pandas as pd

from cuttingedge.trainers.anomaly import baselines, evaluate, model_choice
from cuttingedge.trainers.anomaly.detector import DetectorConfig, fit_detector
from cuttingedge.trainers.anomaly.series import from_arrays
from nab_evaluation import add_detector_option, detector_overrides  # this script's folder

REPO = pathlib.Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
WINDOW = 50
METHODS = ("auto (default)", "gated ladder", "local level", "trailing z-score")


def shared_root() -> pathlib.Path:
    return pathlib.Path(os.environ.get("CUTTINGEDGE_SHARED_DATA",
                                       REPO.parent / "shared" / "data"))


def false_positives(flags: np.ndarray, train_rows: int) -> int:
    """Alarm episodes after the training rows (no window is labelled: every one is false)."""
    probation = train_rows / len(flags)
    return evaluate.event_counts(flags, [], probation).false_positives


def alarm_flags(series, config: DetectorConfig) -> tuple[dict, model_choice.Choice]:
    """(method -> alarm flags, the choice of auto) of one series, every method trained and
    calibrated on `config.train_fraction` with `config.window`."""
    auto = model_choice.fit_auto_detector({series.name: series}, config)
    shared = {"window": config.window, "train_fraction": config.train_fraction}
    flags = {
        "auto (default)": auto.score(series, series.name).is_anomaly,
        "gated ladder": fit_detector(series, config).score(series, series.name).is_anomaly,
        "local level": baselines.local_level_baseline(series, baselines.BaselineConfig(
            rearm=True, **shared)).is_anomaly,
        "trailing z-score": baselines.zscore_baseline(
            series, baselines.BaselineConfig(**shared)).is_anomaly}
    return flags, auto.choices[series.name]


def score_sensor(values, name: str, args) -> tuple[dict, str]:
    """(method -> alarm flags, the model auto chose) of one sensor."""
    series = from_arrays(values, name=name)
    config = DetectorConfig(window=WINDOW, train_fraction=args.train_rows / len(series),
                            epochs=args.epochs, **args.detector)
    flags, choice = alarm_flags(series, config)
    return flags, choice.model


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--train-rows", type=int, default=400)
    parser.add_argument("--output", default=str(RESULTS / "normal_operation.json"))
    add_detector_option(parser)
    args = parser.parse_args(argv)
    args.detector = detector_overrides(args.detector, parser)
    if args.epochs < 1 or args.train_rows < WINDOW + 2:
        parser.error(f"--epochs must be >= 1 and --train-rows > {WINDOW + 1}")
    path = shared_root() / "skab" / "anomaly-free" / "anomaly-free.csv"
    if not path.exists():
        parser.error(f"{path} not found (set CUTTINGEDGE_SHARED_DATA)")
    frame = pd.read_csv(path, sep=";")
    sensors = [c for c in frame.columns if c != "datetime"]
    start = time.monotonic()
    per_sensor, choices = {}, {}
    for sensor in sensors:
        flags, choices[sensor] = score_sensor(frame[sensor].to_numpy(np.float64), sensor, args)
        per_sensor[sensor] = {m: false_positives(f, args.train_rows) for m, f in flags.items()}
        print(f"[normal] {sensor} (auto: {choices[sensor]}): " + ", ".join(
            f"{m} {n}" for m, n in per_sensor[sensor].items()), flush=True)
    scored = (len(frame) - args.train_rows) * len(sensors)
    totals = {m: sum(row[m] for row in per_sensor.values()) for m in METHODS}
    result = {"protocol": __doc__, "rows": len(frame), "sensors": sensors,
              "scored_points": scored, "false_positives": totals,
              "per_1000_points": {m: 1000.0 * n / scored for m, n in totals.items()},
              "per_sensor": per_sensor, "auto_choices": choices,
              "settings": {"train_rows": args.train_rows, "window": WINDOW,
                           "epochs": args.epochs, "detector": args.detector},
              "data": "$CUTTINGEDGE_SHARED_DATA/skab/anomaly-free/anomaly-free.csv",
              "seconds": time.monotonic() - start,
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
              "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    output = pathlib.Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=1))
    baseline = totals["trailing z-score"]
    for method in METHODS:
        ratio = f"x{totals[method] / baseline:.2f}" if baseline else "n/a"
        print(f"{method:18} {totals[method]:4d} false positives "
              f"({result['per_1000_points'][method]:.3f} per 1,000 points; {ratio} of the "
              f"trailing z-score's)")
    return result


if __name__ == "__main__":
    sys.exit(main() and 0)
