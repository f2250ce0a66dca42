"""Scoring throughput of the anomaly detector: points/second through the exported SavedModel
and through a Beam job (`ScoreSeries`), with the in-process Keras path for reference.

One series (default: NAB machine_temperature_system_failure, 22,695 points, from the shared
data or the bundled sample), a detector with `DetectorConfig` defaults fitted on its first 15%
(not timed),
exported with `export_detector`. Every point becomes a serialised tf.Example as
SensorExampleGen writes it (built before timing). Then, each best of `--repeats`:

  keras      `Detector.score` on the whole series (Keras forward pass, numpy scoring,
             threshold and refractory: the library path)
  savedmodel `detect` signature of the reloaded SavedModel, batches of `--batch` examples
             (parsing, standardisation, forecast, score and threshold in the graph)
  values     `serving_default` on rows of raw recent values, same batches
  beam       `beam.Create(examples) | ScoreSeries(path)` on the DirectRunner (in-memory, one
             worker), counting outputs; includes pipeline start-up and the model load in
             `DoFn.setup`

"--model local_level" measures the local level detector instead (`level_detector`, fitted
on the first 15%, window 100): "keras" is then its numpy batch filter (`LevelDetector.score`),
and both signatures run the Kalman filter over each request's window in the graph.

"--model auto" measures the package default when its series take different models: the
series above (which `auto` gives to the ladder) beside a generated series of the same length
that holds a level with Gaussian noise ("held_level", its mean and stddev those of the first
series' first 15%; `auto` gives it the local level model), exported as one routed
SavedModel (`model_choice.export_auto_detector`); every figure counts the points of both,
and the batches mix them.

"--ensemble N" measures a ladder ensemble of N members (`DetectorConfig.ensemble`) and,
in the same run, one model fitted with the same settings through `serving_default`, for
the ratio of their rates.

Run from the repository root:
    .venv/bin/python benchmarks/anomaly.py [--series NAME] [--batch 1024] [--repeats 3]
        [--model local_level | auto] [--ensemble 5]
Writes benchmarks/results/anomaly.json (anomaly_local_level.json, anomaly_auto.json with
--model, anomaly_ensemble5.json with --ensemble 5).
"""

from __future__ import annotations

import argparse
import importlib.resources
import json
import os
import pathlib
import platform
import sys
import tempfile
import time

import numpy as np

from cuttingedge.trainers.anomaly.detector import DetectorConfig, fit_detector, windows_of
from cuttingedge.trainers.anomaly.export import example_of, export_detector
from cuttingedge.trainers.anomaly.level_detector import (LevelConfig, export_level_detector,
                                                         fit_level_detector)
from cuttingedge.trainers.anomaly.model_choice import export_auto_detector, fit_auto_detector
from cuttingedge.trainers.anomaly.series import from_arrays, read_series

REPO = pathlib.Path(__file__).resolve().parent.parent


def series_path(name: str) -> pathlib.Path:
    shared = pathlib.Path(os.environ.get("CUTTINGEDGE_SHARED_DATA",
                                         REPO.parent / "shared" / "data"))
    path = shared / "nab" / "data" / "realKnownCause" / f"{name}.csv"
    if path.exists():
        return path
    return pathlib.Path(str(importlib.resources.files("cuttingedge.sample_data").joinpath(
        "nab", "realKnownCause", f"{name}.csv")))


def best_of(repeats: int, fn) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def beam_job(path: str, examples: list, batch: int) -> int:
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from cuttingedge.trainers.anomaly.scoring import ScoreSeries

    options = PipelineOptions(["--direct_running_mode=in_memory", "--direct_num_workers=1"])
    with beam.Pipeline(options=options) as pipeline:
        outputs = pipeline | beam.Create(examples) | ScoreSeries(path, batch_size=batch)
        _ = outputs.scored | beam.combiners.Count.Globally()
    return len(examples)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", default="machine_temperature_system_failure")
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--model", choices=("ladder", "local_level", "auto"), default="ladder",
                        help="the ladder detector (default), the local level detector, or "
                             "auto over this series and a generated held level")
    parser.add_argument("--ensemble", type=int, default=1,
                        help="ladder models served as one (the ladder model only)")
    args = parser.parse_args(argv)
    if args.ensemble < 1 or (args.ensemble > 1 and args.model != "ladder"):
        parser.error("--ensemble must be >= 1, and above 1 only with the ladder model")
    import tensorflow as tf

    series = read_series(series_path(args.series))
    named = {series.name: series}
    folder = pathlib.Path(tempfile.mkdtemp()) / "model"
    if args.model == "local_level":
        detector = fit_level_detector(named, LevelConfig())
        path = export_level_detector(detector, folder)
    elif args.model == "auto":
        train = series.values[:int(0.15 * len(series))]
        held = train.mean() + train.std() * np.random.default_rng(0).normal(size=len(series))
        named["held_level"] = from_arrays(held, name="held_level")
        detector = fit_auto_detector(named, DetectorConfig(epochs=args.epochs))
        print("choices: " + ", ".join(f"{n}: {c.model}" for n, c in detector.choices.items()))
        path = export_auto_detector(detector, folder)
    else:
        detector = fit_detector(series, DetectorConfig(epochs=args.epochs,
                                                       ensemble=args.ensemble))
        path = export_detector(detector, folder)
    window = detector.config.window
    examples, recent, names = [], [], []
    for name, data in named.items():
        raw_windows = windows_of(data.values, window)
        examples += [example_of(raw_windows[i], data.values[i], name) for i in range(len(data))]
        recent.append(np.concatenate([raw_windows, data.values[:, None]], axis=1))
        names += [name] * len(data)
    order = np.argsort(np.arange(len(names)) % len(series), kind="stable")  # series interleaved
    examples = [examples[i] for i in order]
    recent = np.concatenate(recent).astype(np.float32)[order]
    names = np.array(names)[order]
    assert recent.shape[1] == window + 1  # horizon 1: the window, then the scored value
    loaded = tf.saved_model.load(path)
    detect, serve = loaded.signatures["detect"], loaded.signatures["serving_default"]
    batches = [tf.constant(examples[i:i + args.batch]) for i in range(0, len(examples),
                                                                       args.batch)]
    window_batches = [(tf.constant(recent[i:i + args.batch]),
                       tf.constant(names[i:i + args.batch]))
                      for i in range(0, len(recent), args.batch)]
    detect(examples=batches[0])
    serve(values=window_batches[0][0], series=window_batches[0][1])
    n = len(names)
    seconds = {
        "keras": best_of(args.repeats, lambda: [detector.score(data, name)
                                                for name, data in named.items()]),
        "savedmodel": best_of(args.repeats, lambda: [detect(examples=b)["score"].numpy()
                                                     for b in batches]),
        "values": best_of(args.repeats, lambda: [serve(values=v, series=s)["score"].numpy()
                                                 for v, s in window_batches]),
        "beam": best_of(args.repeats, lambda: beam_job(path, examples, args.batch)),
    }
    single = {}
    if args.ensemble > 1:  # one model, same settings, through serving_default
        one = fit_detector(series, DetectorConfig(epochs=args.epochs))
        one_serve = tf.saved_model.load(export_detector(
            one, folder.parent / "single")).signatures["serving_default"]
        one_serve(values=window_batches[0][0], series=window_batches[0][1])
        single_seconds = best_of(args.repeats, lambda: [
            one_serve(values=v, series=s)["score"].numpy() for v, s in window_batches])
        single = {"single_model_values_points_per_second": n / single_seconds,
                  "ratio_to_single_model_values": single_seconds / seconds["values"]}
    result = {"series": list(named), "points": n, "batch": args.batch,
              "ensemble": args.ensemble, **single,
              "step": "auto" if args.model == "auto" else getattr(detector.config, "step",
                                                                  args.model),
              "window": detector.config.window,
              "seconds": seconds,
              "points_per_second": {k: n / v for k, v in seconds.items()},
              "ratio_to_library": {k: seconds["keras"] / v for k, v in seconds.items()},
              "machine": {"cpus": os.cpu_count(), "load": os.getloadavg(),
                          "python": platform.python_version(), "tensorflow": tf.__version__},
              "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    output = REPO / "benchmarks" / "results" / (
        f"anomaly_{args.model}.json" if args.model != "ladder" else
        f"anomaly_ensemble{args.ensemble}.json" if args.ensemble > 1 else "anomaly.json")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=1))
    baseline = result["points_per_second"]["keras"]  # the in-process library path
    for name, rate in result["points_per_second"].items():
        print(f"{name:11} {rate:12,.0f} points/s ({seconds[name]:.2f}s for {n} points; "
              f"x{rate / baseline:.2f} of the library path)")
    if single:
        print(f"one model's serving_default: "
              f"{single['single_model_values_points_per_second']:,.0f} points/s; the ensemble "
              f"runs at x{single['ratio_to_single_model_values']:.2f} of it")
    return result


if __name__ == "__main__":
    sys.exit(main() and 0)
