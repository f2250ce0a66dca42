"""The alarm gate on periodic series: anomalies that stay in the recent range but out of season.

NAB's `nyc_taxi` (half-hourly taxi demand with a daily and a weekly cycle, its windows on
holidays, a marathon and a snowstorm) is the kind of series this is about; the copy of NAB
here does not hold it, so the series are generated. Each is a half-hourly demand curve
(morning and evening peaks over a night floor, weekends lower and flatter, multiplicative
noise of 3-8%, a slow drift of the level) of 215 days, the length of `nyc_taxi`, with five
anomalies at random days after the first 15% (NAB's probationary part):

| kind | what happens | window (labelled) |
|---|---|---|
| holiday | a whole day at 60% of its level | the day |
| late | the day's curve arrives 6 hours late | the day |
| no_evening | the evening peak stays at 45% | 16:00-24:00 |
| storm | 12 hours at 20% | 08:00-24:00 |
| spike | one night value at 4x | 00:00-04:00 |

Every method is label-free, calibrated on the first 15% of the series at the detector's
default false-alarm rate, with the detector's post-processing:

- `auto`: the package default since `model_choice` (the ladder below where the series does
  not hold a level, as here, else the local level model);
- `default`: the ladder detector (`DetectorConfig()`: gated by the trailing z-score,
  except on a series whose training part has a period the window holds, as here);
- `gated`: the same fitted detector gated all the same (`gate_periodic=True`, the default
  before periodic series were exempted);
- `ungated`: the same forecaster without any gate (`alarm_gate="none"`), which the default
  equals wherever it finds the period;
- `window 100`: the ladder detector with its window kept at 100 (`seasonal_window=False`);
  the same as `default` unless the day is longer than 100 values (`--steps-per-day 144`),
  where the default widens its window to the day (`detector.widen_to_period`);
- `trailing z-score`: the baseline (`baselines.zscore_baseline`).

Per method: windows found by kind, false positives (runs of alarms outside every window,
NAB's event counting), event-level F1. Results in `benchmarks/results/periodic_series.json`.

    .venv/bin/python benchmarks/periodic_series.py [--series 6] [--epochs 40]
        [--steps-per-day 48] [--output JSON]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import pathlib
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from cuttingedge.trainers.anomaly import baselines, evaluate, model_choice  # noqa: E402
from cuttingedge.trainers.anomaly.detector import DetectorConfig, fit_detector  # noqa: E402
from cuttingedge.trainers.anomaly.series import from_arrays  # noqa: E402

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
STEPS_PER_DAY, DAYS = 48, 215
KINDS = ("holiday", "late", "no_evening", "spike", "storm")
METHODS = ("auto", "default", "gated", "ungated", "window 100", "trailing z-score")


def demand_curve(rng: np.random.Generator,
                 steps: int = STEPS_PER_DAY) -> tuple[np.ndarray, float]:
    """A demand series of `steps` values a day without anomalies, and its noise level."""
    t = np.arange(DAYS * steps)
    hour = (t % steps) * 24.0 / steps
    weekend = (t // steps) % 7 >= 5
    morning = np.where(weekend, 0.3, 0.8) * np.exp(-(hour - 8.5) ** 2 / 3.0)
    evening = np.where(weekend, 0.8, 1.0) * np.exp(-(hour - 19.0) ** 2 / 8.0)
    level = 1.0 + 0.1 * np.sin(2 * np.pi * t / (t[-1] + 1) + rng.uniform(0, 2 * np.pi))
    noise = float(rng.uniform(0.03, 0.08))
    values = 10_000 * level * (0.15 + morning + evening + 0.2 * (hour > 6))
    return values * (1 + noise * rng.normal(size=len(t))), noise


def inject(values: np.ndarray, rng: np.random.Generator,
           steps: int = STEPS_PER_DAY) -> dict[str, tuple[int, int]]:
    """Five anomalies on distinct random days after the first 15%; (first, last) rows."""
    half_hours = steps // STEPS_PER_DAY  # rows per half hour; the offsets are half hours
    first_day = int(np.ceil(0.15 * DAYS)) + 2
    days = rng.choice(np.arange(first_day, DAYS - 2), size=len(KINDS), replace=False)
    windows = {}
    for kind, day in zip(KINDS, days):
        at, h = int(day) * steps, half_hours
        if kind == "holiday":
            values[at:at + steps] *= 0.6
            windows[kind] = (at, at + steps - 1)
        elif kind == "late":
            values[at:at + steps] = np.roll(values[at:at + steps], 12 * h)
            windows[kind] = (at, at + steps - 1)
        elif kind == "no_evening":
            values[at + 34 * h:at + 44 * h] *= 0.45
            windows[kind] = (at + 32 * h, at + steps - 1)
        elif kind == "storm":
            values[at + 20 * h:at + 44 * h] *= 0.2
            windows[kind] = (at + 16 * h, at + steps - 1)
        else:  # one night value
            values[at + 3 * h] *= 4.0
            windows[kind] = (at, at + 8 * h - 1)
    return windows


def score_methods(values: np.ndarray, epochs: int,
                  steps: int = STEPS_PER_DAY) -> tuple[dict[str, np.ndarray], int, int]:
    """Alarm flags of every method; the period the default detector found, and its window."""
    stamps = (np.datetime64("2014-07-01T00:00") + np.arange(len(values)) *
              np.timedelta64(24 * 60 // steps, "m")).astype(str)
    series = from_arrays(values, stamps, name="demand")
    config = DetectorConfig(epochs=epochs, seasonal_window=True)  # as `detect` fits it
    detector = fit_detector(series, config)
    scale = detector.scales["demand"]
    gated = dataclasses.replace(detector, scales={"demand": dataclasses.replace(
        scale, period=0, gate_lifted=0)})
    ungated = dataclasses.replace(detector, config=dataclasses.replace(
        detector.config, alarm_gate="none"))
    narrow = fit_detector(series, dataclasses.replace(config, seasonal_window=False))
    zscore = baselines.zscore_baseline(series, baselines.BaselineConfig())
    auto = model_choice.fit_auto_detector({"demand": series}, config)
    print(f"[periodic] auto: {auto.choices['demand'].model} ({auto.choices['demand'].reason})",
          flush=True)
    return {"auto": auto.score(series, "demand").is_anomaly,
            "default": detector.score(series, "demand").is_anomaly,
            "gated": gated.score(series, "demand").is_anomaly,
            "ungated": ungated.score(series, "demand").is_anomaly,
            "window 100": narrow.score(series, "demand").is_anomaly,
            "trailing z-score": zscore.is_anomaly}, scale.period, detector.config.window


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=6, help="generated series (seeds 0..N-1)")
    parser.add_argument("--epochs", type=int, default=DetectorConfig().epochs)
    parser.add_argument("--steps-per-day", type=int, default=STEPS_PER_DAY,
                        help="values a day: 48 (half-hourly, default), or a multiple of it "
                             "(144: every 10 minutes, a period longer than the default "
                             "window of 100)")
    parser.add_argument("--output", default=str(RESULTS / "periodic_series.json"))
    args = parser.parse_args(argv)
    if args.series < 1 or args.epochs < 1:
        parser.error("--series and --epochs must be >= 1")
    if args.steps_per_day < STEPS_PER_DAY or args.steps_per_day % STEPS_PER_DAY:
        parser.error(f"--steps-per-day must be a multiple of {STEPS_PER_DAY}")
    found = {m: {k: 0 for k in KINDS} for m in METHODS}
    false_positives = {m: 0 for m in METHODS}
    per_series = []
    for seed in range(args.series):
        rng = np.random.default_rng(seed)
        values, noise = demand_curve(rng, args.steps_per_day)
        windows = inject(values, rng, args.steps_per_day)
        start = time.monotonic()
        flags, lag, window = score_methods(values, args.epochs, args.steps_per_day)
        row = {"seed": seed, "noise": noise, "period_found": lag, "window": window,
               "seconds": time.monotonic() - start, "methods": {}}
        for method, flag in flags.items():
            hit = {k: bool(flag[a:b + 1].any()) for k, (a, b) in windows.items()}
            counts = evaluate.event_counts(flag, list(windows.values()))
            for kind, yes in hit.items():
                found[method][kind] += yes
            false_positives[method] += counts.false_positives
            row["methods"][method] = {"found": hit, "false_positives": counts.false_positives}
        per_series.append(row)
        print(f"[periodic] series {seed}: noise {noise:.3f}, period {lag}, window {window}, "
              + ", ".join(f"{m} {sum(r['found'].values())}/5 FP {r['false_positives']}"
                          for m, r in row["methods"].items()), flush=True)
    table = {}
    for method in METHODS:
        tp = sum(found[method].values())
        fn, fp = len(KINDS) * args.series - tp, false_positives[method]
        table[method] = {"found_by_kind": found[method], "true_positives": tp,
                         "false_negatives": fn, "false_positives": fp,
                         "f1": 2 * tp / max(2 * tp + fn + fp, 1)}
    print(f"\n{'method':18} " + " ".join(f"{k:>10}" for k in KINDS) + "   TP/FN/FP     F1")
    for method, r in table.items():
        print(f"{method:18} " + " ".join(f"{r['found_by_kind'][k]:>10}" for k in KINDS) +
              f"   {r['true_positives']}/{r['false_negatives']}/{r['false_positives']}"
              f"   {r['f1']:.3f}")
    results = {"config": {"series": args.series, "epochs": args.epochs, "days": DAYS,
                          "steps_per_day": args.steps_per_day, "kinds": list(KINDS),
                          "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
                              timespec="seconds")},
               "table": table, "series": per_series}
    pathlib.Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    with open(args.output, "w") as handle:
        json.dump(results, handle, indent=1)
    print(f"written to {args.output}")
    return results


if __name__ == "__main__":
    main()
