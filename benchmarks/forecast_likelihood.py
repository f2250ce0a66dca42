"""How well each forecaster predicts the next value, without labels: held-out log-likelihood.

The anomaly score of every method here is a tail surprise under a one-step predictive
Normal, so a method can only flag what its forecast did not expect; a forecaster that
expects normal behaviour better is, other things equal, a better base for a detector. This
script measures that directly, with no label read: the negative log-likelihood (NLL, nats
per point, of values standardised by their training part's mean and stddev; lower is
better) of each forecaster's one-step predictive Normal, on

  * the calibration rows: the second half of each series' training part (its first 15%),
    normal operation by NAB's convention, which the ladder model was not fitted on (its
    early stopping watched them); mean NLL;
  * the scored rows: everything after the training part, anomalies included; median NLL,
    so that a few huge surprises at anomalies do not decide it.

Forecasters, all fitted on the first half of the training part only:
  ladder        the detector's default step (`DetectorConfig().step`) with every default,
                `fit_detector(...).forecast(...)`; `--steps` adds others, `--starts` the
                same steps fitted from another start (`DetectorConfig.start`: "walk",
                "best"), shown as STEP/START;
  zscore        the trailing z-score baseline's forecast (`baselines.zscore_baseline`);
  local_level   the Kalman local level model fitted by maximum likelihood
                (`local_level.fit_local_level`);
  random_walk   Normal(previous value, stddev of the first differences), the naive forecast.

Run from the repository root:
    .venv/bin/python benchmarks/forecast_likelihood.py [--nab-root DIR --series all]
Writes benchmarks/results/forecast_likelihood.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import pathlib
import platform
import sys
import time

import numpy as np

import nab_evaluation
from cuttingedge.trainers.anomaly import alarms, baselines, local_level
from cuttingedge.trainers.anomaly.detector import DetectorConfig, fit_detector
from cuttingedge.trainers.anomaly.series import read_series

RESULTS = nab_evaluation.RESULTS
BASELINES = ("zscore", "local_level", "random_walk")


def forecasts(values: np.ndarray, train_rows: int, steps, config: DetectorConfig,
              starts=("zscore",)) -> dict:
    """Forecaster -> (mean, stddev) for every point of `values` (NaN = missing)."""
    fit_rows = train_rows // 2
    out = {}
    for step in steps:
        for start in starts:
            detector = fit_detector(values, dataclasses.replace(
                config, step=step, start=start, alarm_gate="none"))
            moments = detector.forecast(values)
            out[step if start == "zscore" else f"{step}/{start}"] = (moments.mean,
                                                                      moments.stddev)
    zscore = baselines.zscore_baseline(values, baselines.BaselineConfig(window=config.window))
    out["zscore"] = (zscore.mean, zscore.stddev)
    level = local_level.fit_local_level(values, fit_rows).predictive(values)
    out["local_level"] = (level.mean, level.stddev)
    previous = np.concatenate([[values[0]], values[:-1]])
    steps_taken = np.diff(values[:fit_rows])
    out["random_walk"] = (previous, np.full(len(values), np.nanstd(steps_taken)))
    return out


def likelihoods(values: np.ndarray, config: DetectorConfig, steps, starts=("zscore",)) -> dict:
    """Forecaster -> {"calibration": mean NLL, "scored": median NLL} on standardised values."""
    train_rows = int(config.train_fraction * len(values))
    train = values[:train_rows]
    mean, std = float(np.nanmean(train)), float(np.nanstd(train)) or 1.0
    calibration = np.arange(train_rows // 2 + config.window, train_rows)
    scored = np.arange(train_rows, len(values))
    out = {}
    for name, (m, s) in forecasts(values, train_rows, steps, config, starts).items():
        # the NLL of (values - mean) / std; a random walk of a constant part has stddev 0
        nll = alarms.normal_nll(values, m, np.maximum(s, 1e-12)) - math.log(std)
        nll_c, nll_s = nll[calibration], nll[scored]
        out[name] = {"calibration": float(np.nanmean(nll_c[np.isfinite(nll_c)])),
                     "scored": float(np.nanmedian(nll_s[np.isfinite(nll_s)]))}
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nab-root", type=pathlib.Path, default=None,
                        help="a NAB layout (data/<category>/<file>.csv, labels/"
                             "combined_windows.json; default: the shared NAB copy)")
    parser.add_argument("--series", default=",".join(nab_evaluation.SERIES),
                        help="comma-separated file stems, or all (default: the five NAB series)")
    parser.add_argument("--steps", default=DetectorConfig.step,
                        help="comma-separated ladder steps (default: the detector's default)")
    parser.add_argument("--starts", default="zscore",
                        help="comma-separated DetectorConfig starts (zscore, walk, best) "
                             "each step is fitted from; a start other than zscore is shown "
                             "as STEP/START (default: zscore)")
    parser.add_argument("--output", type=pathlib.Path,
                        default=RESULTS / "forecast_likelihood.json")
    args = parser.parse_args(argv)
    root = args.nab_root or nab_evaluation.shared_root() / "nab"
    paths = nab_evaluation.series_paths(root, args.series, parser)
    steps = tuple(s for s in args.steps.split(",") if s)
    starts = tuple(s for s in args.starts.split(",") if s)
    config = DetectorConfig()
    start = time.monotonic()
    table = {}
    for name, path in paths.items():
        series = read_series(path, name=name)
        table[name] = likelihoods(series.values, config, steps, starts)
        print(f"[likelihood] {name}: " + ", ".join(
            f"{k} {v['calibration']:.2f}/{v['scored']:.2f}" for k, v in table[name].items()),
            flush=True)
    methods = tuple(next(iter(table.values())))
    best = {part: {m: sum(min(table[s], key=lambda k: table[s][k][part]) == m for s in table)
                   for m in methods} for part in ("calibration", "scored")}
    result = {"protocol": __doc__,
              "series": {k: str(v.relative_to(root / "data")) for k, v in paths.items()},
              "nll": table, "times_best": best,
              "settings": {"steps": list(steps), "starts": list(starts),
                           "window": config.window,
                           "train_fraction": config.train_fraction, "seed": config.seed},
              "seconds": time.monotonic() - start,
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
              "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=1))
    print("NLL per point, calibration rows (mean) / scored rows (median), and in brackets "
          "the scored median's difference to the z-score's (negative: better)")
    print("series".ljust(24) + "".join(m[:22].ljust(24) for m in methods))
    for name, row in table.items():
        z = row["zscore"]["scored"]
        print(name[:23].ljust(24) + "".join(
            f"{row[m]['calibration']:.2f}/{row[m]['scored']:.2f} "
            f"({row[m]['scored'] - z:+.2f})".ljust(24) for m in methods))
    for part, counts in best.items():
        print(f"best on the {part} rows: " + ", ".join(f"{m} {n}" for m, n in counts.items()))
    return result


if __name__ == "__main__":
    sys.exit(main() and 0)
