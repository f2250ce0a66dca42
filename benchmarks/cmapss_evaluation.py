"""Jet engines that fail rarely: early warning on NASA C-MAPSS FD001 run-to-failure engines.

Data: `$CUTTINGEDGE_SHARED_DATA/cmapss/train_FD001.txt` (100 simulated turbofan engines, each
run to failure; see its SOURCE.md). No label touches a model or a threshold:

  * each engine's informative sensors (the 15 columns that vary) are one series each; the
    first `--train-fraction` (default 40%) of each engine's life is its known-healthy part:
    every method fits and calibrates there, per series, at `--false-alarm-rate` per point;
  * the ladder models are fitted once, pooled over every series, on absolute values
    (standardised by the series' healthy part; `window_standardise=False, relative=False`):
    degradation is a slow drift, which a window-standardised model would follow and miss;
  * thresholds are fixed after calibration (no adaptive raising: a sustained rise is the
    signal here), scores are smoothed over 4 cycles;
  * an engine alarms at a cycle where at least `--vote` of its sensors exceed their
    threshold.

Baselines: a control chart (each sensor under Normal(mean, std) of its healthy part), a
trailing-window z-score (window `--window`) and the local level model (`local_level`, fitted
by maximum likelihood on the healthy part; added later, with nothing of it chosen on this
data), with the same smoothing, vote and thresholding.

"auto" applies the package default's rule (`model_choice`, fixed before it was first scored
anywhere) to each series: the local level row's scores where the healthy part shows a held
level with Gaussian innovations, the bayesian_learned_scale row's elsewhere (both computed
in the same run).

Figures per method, over engines 21-100 (engines 1-20 are the dev set and are reported apart;
no setting was chosen on either), with RUL = cycles left before failure:
  detected          share of engines with an alarm after the healthy part and before failure
  early_alarms      share of engines whose first alarm comes while RUL > 125 (degradation in
                    FD001 is usually taken to start about 125 cycles before failure)
  lead_median       median RUL at the first alarm with RUL <= 125 (cycles of warning)
  false_alarm_rate  engine alarm cycles with RUL > 125 per scored cycle with RUL > 125
Comparisons, from each method's curve over threshold factors 0.5-16: every method at each
other's false-alarm rate (its lead and detections there), and at each other's warning (the
lowest false-alarm rate with at least the same detections and median lead; `reduction` is
how many fewer false alarms the reference raises for that warning).

    .venv/bin/python benchmarks/cmapss_evaluation.py [--methods ...] [--epochs 30]
Writes benchmarks/results/cmapss_evaluation.json.
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

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "0")

import numpy as np  # noqa: E402

from cuttingedge.trainers.anomaly import (alarms, baselines, level_detector,  # noqa: E402
                                          local_level, model_choice)
from cuttingedge.trainers.anomaly import engines as fleet_lib  # noqa: E402
from cuttingedge.trainers.anomaly.detector import fit_detector  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
DEV_ENGINES = range(1, 21)
DEGRADATION_RUL = 125
LADDER_STEPS = ("fixed_scale", "learned_scale", "bayesian_learned_scale", "deterministic")
BASELINES = ("control_chart", "zscore", "local_level")
AUTO = model_choice.AUTO  # per series, the local level or the bayesian_learned_scale row


def shared_root() -> pathlib.Path:
    return pathlib.Path(os.environ.get("CUTTINGEDGE_SHARED_DATA",
                                       REPO.parent / "shared" / "data"))


FACTORS = tuple(float(f) for f in np.geomspace(0.5, 16.0, 31))


@dataclasses.dataclass(frozen=True)
class Scored:
    """One series' smoothed scores, its calibrated threshold and its healthy-part length."""

    score: np.ndarray
    threshold: float
    train: int
    observed: np.ndarray

    def flags(self, factor: float = 1.0) -> np.ndarray:
        """score > factor * threshold after the healthy part (the threshold never adapts)."""
        flags = (self.score > factor * self.threshold) & self.observed
        flags[:self.train] = False
        return flags


def _scored(point, values, train: int, rate: float, smoothing: int, first: int) -> Scored:
    score = alarms.smooth(point, smoothing)
    threshold = alarms.calibrate_threshold(score[first:train], rate, 0.1, smoothing)
    return Scored(score, float(threshold), train, np.isfinite(values))


def score_ladder(step: str, series: dict, args) -> dict[str, Scored]:
    config = fleet_lib.degradation_config(step=step, window=args.window,
                                          train_fraction=args.train_fraction,
                                          epochs=args.epochs,
                                          false_alarm_rate=args.false_alarm_rate)
    detector = fit_detector(series, config)
    scored = {}
    for name, values in series.items():
        out = detector.score(values, name)
        scored[name] = _scored(out.point_score, values, detector.scale_of(name).train_rows,
                               args.false_alarm_rate, config.smoothing, args.window)
    return scored


def score_baseline(method: str, series: dict, args) -> dict[str, Scored]:
    scored = {}
    for name, values in series.items():
        train = int(np.floor(len(values) * args.train_fraction))
        if method == "control_chart":
            mean, std = values[:train].mean(), max(values[:train].std(), 1e-6)
            point = alarms.tail_surprise(values, mean, std)
            first = 0
        elif method == "local_level":  # the one-step predictive of the fitted filter
            moments = local_level.fit_local_level(values, train).predictive(values)
            point, first = alarms.tail_surprise(values, moments.mean, moments.stddev), 1
        else:
            out = baselines.zscore_baseline(values, baselines.BaselineConfig(
                window=args.window, train_fraction=args.train_fraction))
            point, first = out.point_score, args.window
        scored[name] = _scored(point, values, train, args.false_alarm_rate, 4, first)
    return scored


def score_auto(series: dict, scored_by_method: dict, args) -> tuple[dict, dict]:
    """(scored, choices): each series takes the row its `model_choice.choose` picks."""
    config = level_detector.LevelConfig(window=args.window, train_fraction=args.train_fraction)
    choices = {}
    for name, values in series.items():
        try:
            scale = level_detector.fit_level_detector({name: values}, config).scales[name]
            choices[name] = model_choice.choose(scale).model
        except ValueError:  # a constant healthy part: the ladder's floor handles it
            choices[name] = "bayesian_learned_scale"
    return {name: scored_by_method[choice][name] for name, choice in choices.items()}, choices


def engine_figures(scored: dict, engines: dict, units, vote: int, train_fraction: float,
                   factor: float = 1.0) -> dict:
    detected, early, leads, false_cycles, healthy_cycles = 0, 0, [], 0, 0
    flags = {name: item.flags(factor) for name, item in scored.items()}
    for unit in units:
        rows = len(engines[unit])
        alarm = fleet_lib.machine_alarms(flags, unit, vote)
        rul = rows - 1 - np.arange(rows)
        train = int(np.floor(rows * train_fraction))
        healthy = (rul > DEGRADATION_RUL) & (np.arange(rows) >= train)
        healthy_cycles += int(healthy.sum())
        false_cycles += int((alarm & healthy).sum())
        hits = np.flatnonzero(alarm)
        if len(hits):
            detected += 1
            early += int(rul[hits[0]] > DEGRADATION_RUL)
        late = np.flatnonzero(alarm & (rul <= DEGRADATION_RUL))
        if len(late):
            leads.append(int(rul[late[0]]))
    n = len(units)
    return {"factor": factor, "engines": n, "detected": detected / n, "early_alarms": early / n,
            "lead_median": float(np.median(leads)) if leads else None,
            "lead_quartiles": [float(q) for q in np.percentile(leads, [25, 75])] if leads
            else None,
            "false_alarm_rate": false_cycles / max(healthy_cycles, 1),
            "healthy_cycles": healthy_cycles}


def at_false_alarm_rate(table: dict, reference: str) -> dict:
    """Every other method at the smallest threshold factor whose test false-alarm rate is
    at most `reference`'s at its calibrated threshold (its lead time and detections there)."""
    target = table[reference]["test"]["false_alarm_rate"]
    others = {}
    for method, row in table.items():
        if method == reference:
            continue
        fits = [point for point in row["curve"] if point["false_alarm_rate"] <= target]
        if fits:
            others[method] = min(fits, key=lambda point: point["factor"])
    return {"false_alarm_rate": target, "others": others}


def at_equal_warning(table: dict, reference: str) -> dict:
    """Every other method's lowest test false-alarm rate on its curve with at least
    `reference`'s detection share and median lead (at `reference`'s calibrated threshold),
    and the reduction of `reference`'s false-alarm rate against it."""
    mine = table[reference]["test"]
    if mine["lead_median"] is None:
        return {}
    others = {}
    for method, row in table.items():
        fits = [p for p in row["curve"] if p["lead_median"] is not None
                and p["lead_median"] >= mine["lead_median"] and p["detected"] >= mine["detected"]]
        if method != reference and fits:
            best = min(fits, key=lambda p: p["false_alarm_rate"])
            theirs = best["false_alarm_rate"]
            others[method] = {**best, "reduction": 1.0 - mine["false_alarm_rate"] / theirs
                              if theirs > 0 else 0.0}
    return {"detected": mine["detected"], "lead_median": mine["lead_median"],
            "false_alarm_rate": mine["false_alarm_rate"], "others": others}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default=",".join(BASELINES + LADDER_STEPS + (AUTO,)),
                        help="auto needs local_level and bayesian_learned_scale before it")
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--train-fraction", type=float, default=0.4)
    parser.add_argument("--false-alarm-rate", type=float, default=1e-3)
    parser.add_argument("--vote", type=int, default=2)
    parser.add_argument("--output", default=str(RESULTS / "cmapss_evaluation.json"))
    args = parser.parse_args(argv)
    engines = fleet_lib.read_fleet(shared_root() / "cmapss" / "train_FD001.txt")
    columns = fleet_lib.informative_columns(engines)
    series = fleet_lib.fleet_series(engines, columns)
    units = sorted(engines)
    groups = {"test": [u for u in units if u not in DEV_ENGINES],
              "dev": [u for u in units if u in DEV_ENGINES]}
    table, scored_by_method, choices = {}, {}, {}
    for method in args.methods.split(","):
        start = time.monotonic()
        if method == AUTO:
            scored, choices = score_auto(series, scored_by_method, args)
        else:
            scored = (score_baseline(method, series, args) if method in BASELINES
                      else score_ladder(method, series, args))
        scored_by_method[method] = scored
        table[method] = {g: engine_figures(scored, engines, u, args.vote, args.train_fraction)
                         for g, u in groups.items()}
        table[method]["curve"] = [engine_figures(scored, engines, groups["test"], args.vote,
                                                 args.train_fraction, f) for f in FACTORS]
        table[method]["seconds"] = time.monotonic() - start
        t = table[method]["test"]
        print(f"[cmapss] {method:24s} detected {t['detected']:.2f} early {t['early_alarms']:.2f}"
              f" lead median {t['lead_median']} false-alarm rate {t['false_alarm_rate']:.4f}"
              f" ({table[method]['seconds']:.0f}s)", flush=True)
    matched = {m: at_false_alarm_rate(table, m) for m in table}
    for method, row in matched.items():
        if row:
            print(f"[cmapss] at {method}'s false-alarm rate: " + ", ".join(
                f"{o} lead {r['lead_median']} detected {r['detected']:.2f}"
                for o, r in row["others"].items()))
    equal_warning = {m: at_equal_warning(table, m) for m in table}
    for method, row in equal_warning.items():
        if row:
            print(f"[cmapss] for {method}'s warning (detected {row['detected']:.2f}, lead "
                  f"{row['lead_median']}) at false-alarm rate {row['false_alarm_rate']:.4f}: "
                  + ", ".join(f"{o} needs {r['false_alarm_rate']:.4f} ({r['reduction']:+.0%})"
                              for o, r in row["others"].items()))
    if choices:
        chose = [m == model_choice.LOCAL_LEVEL for m in choices.values()]
        print(f"[cmapss] auto chose the local level model for {sum(chose)} of {len(chose)} "
              f"series", flush=True)
    result = {"protocol": __doc__, "methods": table, "matched_false_alarm_rate": matched,
              "auto_choices": choices,
              "equal_warning": equal_warning,
              "settings": {k: v for k, v in vars(args).items() if k != "output"},
              "sensors": [f"s{c - 4:02d}" for c in columns],
              "data": "$CUTTINGEDGE_SHARED_DATA/cmapss/train_FD001.txt",
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
              "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    output = pathlib.Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=1, default=float))
    return result


if __name__ == "__main__":
    sys.exit(main() and 0)
