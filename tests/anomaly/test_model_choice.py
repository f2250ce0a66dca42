"""model="auto": each series gets the local level model where its assumptions hold on the
training part and the ladder elsewhere; scores, the routed SavedModel, `detect` and the
pipeline follow that choice."""

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from cuttingedge.trainers.anomaly import model_choice
from cuttingedge.trainers.anomaly.detector import DetectorConfig
from cuttingedge.trainers.anomaly.export import example_of, export_detector
from cuttingedge.trainers.anomaly.level_detector import (LevelScale, excess_kurtosis,
                                                         export_level_detector)

WINDOW = 24
# learned_scale: the ladder step whose forecasts are deterministic, so scores compare exactly.
CONFIG = DetectorConfig(step="learned_scale", window=WINDOW, train_fraction=0.4, epochs=3,
                        hidden_units=(8,))


def _series(n=1500):
    rng = np.random.default_rng(0)
    held = 30.0 + rng.normal(size=n)  # a pump's flow: holds a level, Gaussian noise
    if n >= 1300:
        held[1100:1300] -= np.linspace(0.0, 5.0, 200)  # then a valve closes slowly
    spiky = 5.0 + rng.standard_t(2, size=n)  # CPU load: bursts, heavy tails
    t = np.arange(n)
    cycling = 10.0 * np.sin(2 * np.pi * t / 48) + 0.2 * rng.normal(size=n)  # a daily cycle
    return {"held": held, "spiky": spiky, "cycling": cycling}


@pytest.fixture(scope="module")
def fitted():
    return _series(), model_choice.fit_auto_detector(_series(), CONFIG)


def _scale(**changes):
    base = LevelScale(0.0, 1.0, noise_scale=1.0, drift_scale=0.1, threshold=9.0,
                      point_threshold=9.0, train_rows=400, level=0.0, steady_variance=0.1,
                      innovation_kurtosis=0.2)
    return dataclasses.replace(base, **changes)


def test_the_rule_checks_a_held_level_and_gaussian_noise_and_says_why():
    assert model_choice.choose(_scale()).model == "local_level"
    drifting = model_choice.choose(_scale(drift_scale=1.5))
    assert drifting.model == "bayesian_learned_scale" and "does not hold a level" in \
        drifting.reason
    spiky = model_choice.choose(_scale(innovation_kurtosis=4.0), "learned_scale")
    assert spiky.model == "learned_scale" and "heavy-tailed" in spiky.reason
    unknown = model_choice.choose(_scale(innovation_kurtosis=float("nan")))
    assert "no noise to check" in unknown.reason
    looser = model_choice.ChoiceConfig(max_kurtosis=5.0)
    assert model_choice.choose(_scale(innovation_kurtosis=4.0), config=looser).local_level
    with pytest.raises(ValueError, match="max_drift_ratio"):
        model_choice.ChoiceConfig(max_drift_ratio=0.0)


def test_excess_kurtosis_tells_gaussian_from_heavy_tails():
    rng = np.random.default_rng(1)
    assert abs(excess_kurtosis(rng.normal(size=2000))) < 0.5
    assert excess_kurtosis(rng.standard_t(3, size=2000)) > 3.0
    assert np.isnan(excess_kurtosis(np.ones(100)))  # no spread: nothing to tell


def test_each_series_gets_the_model_its_training_part_supports(fitted):
    series, detector = fitted
    models = {name: choice.model for name, choice in detector.choices.items()}
    assert models == {"held": "local_level", "spiky": "learned_scale",
                      "cycling": "learned_scale"}
    assert sorted(detector.ladder.scales) == ["cycling", "spiky"]  # fitted on those only
    for name, values in series.items():
        chosen = detector.level if name == "held" else detector.ladder
        np.testing.assert_array_equal(detector.score(values, name).score,
                                      chosen.score(values, name).score)
    alarms = np.flatnonzero(detector.score(series["held"], "held").is_anomaly)
    assert len(alarms) and all(1100 < a <= 1300 for a in alarms)  # the slow fault, once
    summary = detector.scales["spiky"].as_dict()
    assert summary["model"] == "learned_scale" and "kurtosis" in summary["reason"]
    with pytest.raises(KeyError, match="Unknown series"):
        detector.score(series["held"], "pump")


def test_a_horizon_beyond_one_step_is_refused_with_the_way_out():
    with pytest.raises(ValueError, match="pass a ladder step"):
        model_choice.fit_auto_detector(_series()["held"],
                                       dataclasses.replace(CONFIG, horizon=3))


def _rows(values, points):
    return np.stack([values[t - WINDOW:t + 1] for t in points]).astype(np.float32)


def _fallen(values, at=900):
    """A request whose last 10 values fell 8 noise units below the held level."""
    row = _rows(values, [at])
    row[:, -10:] -= 8.0
    return row


def test_the_routed_savedmodel_serves_each_series_as_its_own_model_does(fitted, tmp_path):
    series, detector = fitted
    routed = tf.saved_model.load(model_choice.export_auto_detector(detector, tmp_path / "auto"))
    alone = {"held": tf.saved_model.load(export_level_detector(detector.level,
                                                               tmp_path / "level")),
             "ladder": tf.saved_model.load(export_detector(detector.ladder, tmp_path / "ladder"))}
    points = np.arange(700, 1400, 61)
    for name, values in series.items():
        rows, names = tf.constant(_rows(values, points)), tf.constant([name] * len(points))
        out = routed.signatures["serving_default"](values=rows, series=names)
        own = alone["held" if name == "held" else "ladder"].signatures["serving_default"](
            values=rows, series=names)
        for key in ("mean", "stddev", "score"):
            np.testing.assert_allclose(out[key].numpy(), own[key].numpy(), rtol=1e-5,
                                       atol=1e-5, err_msg=f"{name} {key}")
        np.testing.assert_array_equal(out["is_anomaly"].numpy(), own["is_anomaly"].numpy())
        examples = [example_of(values[t - WINDOW:t], values[t], name) for t in points]
        detected = routed.signatures["detect"](examples=tf.constant(examples))
        np.testing.assert_allclose(detected["score"].numpy(), out["score"].numpy(),
                                   rtol=1e-4, atol=1e-4)
    # One request mixing the series is routed row by row.
    mixed = routed.signatures["serving_default"](
        values=tf.constant(np.concatenate([_fallen(series["held"])] +
                                          [_rows(series[n], [900]) for n in ("spiky", "cycling")])),
        series=tf.constant(list(series)))
    assert mixed["is_anomaly"].numpy().tolist()[0]
    constants = json.load(open(tmp_path / "auto" / "assets.extra" / "detector.json"))
    assert constants["model"] == "auto"
    assert constants["choices"]["held"]["model"] == "local_level"


def test_the_routed_model_loads_in_a_fresh_process_and_refuses_an_unknown_series(fitted,
                                                                                tmp_path):
    series, detector = fitted
    path = model_choice.export_auto_detector(detector, tmp_path / "auto")
    rows = _fallen(series["held"]).tolist() + _rows(series["spiky"], [900]).tolist()
    script = (
        "import json, sys, numpy as np, tensorflow as tf\n"
        "serve = tf.saved_model.load(sys.argv[1]).signatures['serving_default']\n"
        "rows = np.array(json.loads(sys.argv[2]), np.float32)\n"
        "out = serve(values=tf.constant(rows), series=tf.constant(['held', 'spiky']))\n"
        "print(json.dumps(out['is_anomaly'].numpy().tolist()))\n"
        "try:\n"
        "    serve(values=tf.constant(rows[:1]), series=tf.constant(['pump']))\n"
        "except tf.errors.InvalidArgumentError as error:\n"
        "    print('refused:', 'Unknown series' in str(error))\n")
    done = subprocess.run([sys.executable, "-c", script, path, json.dumps(rows)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert json.loads(lines[-2])[0] is True and lines[-1] == "refused: True"


def test_one_model_for_all_series_is_exported_as_that_model(tmp_path):
    series = _series(800)
    level_only = model_choice.fit_auto_detector({"held": series["held"]}, CONFIG)
    assert level_only.ladder is None
    path = model_choice.export_auto_detector(level_only, tmp_path / "level")
    out = tf.saved_model.load(path).signatures["serving_default"](
        values=tf.constant(_rows(series["held"], [600])), series=tf.constant(["held"]))
    assert np.isfinite(out["mean"].numpy()).all()
    constants = json.load(open(os.path.join(path, "assets.extra", "detector.json")))
    assert constants["choices"]["held"]["model"] == "local_level"


def _write_csv(path, values):
    rows = [f"2024-01-{1 + i // 1440:02d} {i % 1440 // 60:02d}:{i % 60:02d}:00,{v:.4f}"
            for i, v in enumerate(values)]
    path.write_text("timestamp,value\n" + "\n".join(rows) + "\n")


def test_detect_chooses_by_default_and_says_why(tmp_path):
    from cuttingedge.trainers.anomaly.cli import detect_file

    series = _series()
    _write_csv(tmp_path / "held.csv", series["held"])
    _write_csv(tmp_path / "spiky.csv", series["spiky"])
    held = detect_file(tmp_path / "held.csv", tmp_path / "held_scores.csv", train_fraction=0.4,
                       report_dir=tmp_path / "report")
    assert held.model == "local_level" and "holds a level" in held.choice
    windows = json.load(open(held.report["windows"]))
    assert windows["model"].startswith("local_level (auto: holds a level")
    assert "(auto: holds a level" in held.line() and "no window, no gate" in held.line()
    spiky = detect_file(tmp_path / "spiky.csv", tmp_path / "spiky_scores.csv",
                        train_fraction=0.4, window=WINDOW, epochs=2)
    assert spiky.model == "bayesian_learned_scale" and "heavy-tailed" in spiky.choice
    assert spiky.window == WINDOW
    explicit = detect_file(tmp_path / "spiky.csv", tmp_path / "explicit.csv",
                           model="learned_scale", train_fraction=0.4, window=WINDOW, epochs=2)
    assert explicit.model == "learned_scale" and explicit.choice == ""
    import pandas as pd

    scores = pd.read_csv(tmp_path / "held_scores.csv")
    assert len(scores) == len(series["held"])
    flagged = np.flatnonzero(scores["is_anomaly"].to_numpy() == 1)
    assert len(flagged) and all(1100 < f <= 1300 for f in flagged)


def test_the_console_detect_offers_auto(tmp_path):
    series = _series(900)
    _write_csv(tmp_path / "held.csv", series["held"])
    done = subprocess.run([sys.executable, "-m", "cuttingedge.pipelines.cli", "detect",
                           "--input", str(tmp_path / "held.csv"),
                           "--output", str(tmp_path / "out.csv"), "--train-fraction", "0.4"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "scored with local_level (auto: holds a level" in done.stdout + done.stderr
    helped = subprocess.run([sys.executable, "-m", "cuttingedge.pipelines.cli", "detect",
                             "--help"], capture_output=True, text=True, timeout=120)
    assert "auto (default)" in " ".join(helped.stdout.split())


@pytest.mark.e2e
def test_the_pipeline_routes_each_series_to_its_choice_and_pushes(tmp_path):
    from cuttingedge.pipelines import anomaly
    from cuttingedge.pipelines.layout import RunLayout
    from cuttingedge.pipelines.runner import run_pipeline

    series = _series(3000)
    series["held"][1100:1300] += np.linspace(0.0, 5.0, 200)  # healthy until row 2200
    series["held"][2200:2500] -= np.linspace(0.0, 5.0, 300)
    (tmp_path / "data").mkdir()
    for name in ("held", "spiky"):
        _write_csv(tmp_path / "data" / f"{name}.csv", series[name])
    layout = RunLayout(str(tmp_path / "runs"))
    config = anomaly.AnomalyConfig(input_pattern=str(tmp_path / "data" / "*.csv"),
                                   layout=layout, window=WINDOW, epochs=3)
    run_pipeline(anomaly.create_pipeline(config))
    summary = json.load(open(os.path.join(layout.reports(anomaly.NAME), "summary.json")))
    assert summary["blessed"] and summary["step"] == "auto"
    report = layout.reports(anomaly.NAME)
    assert json.load(open(os.path.join(report, "spiky_windows.json")))["model"].startswith(
        "bayesian_learned_scale (auto: heavy-tailed")
    assert summary["series"]["held.csv"]["scale"]["model"] == "local_level"
    assert summary["series"]["spiky.csv"]["scale"]["model"] == "bayesian_learned_scale"
    held_alarms = summary["series"]["held.csv"]["alarm_rows"]
    assert held_alarms and all(2200 < row <= 2500 for row in held_alarms)
    pushed = [v for v in os.listdir(layout.serving(anomaly.NAME)) if v.isdigit()]
    assert len(pushed) == 1  # InfraValidate replayed the warmup in a fresh process
    serve = tf.saved_model.load(os.path.join(layout.serving(anomaly.NAME), pushed[0]))
    out = serve.signatures["serving_default"](
        values=tf.constant(np.stack([series["held"][2450 - WINDOW:2451],
                                     series["spiky"][2450 - WINDOW:2451]]).astype(np.float32)),
        series=tf.constant(["held.csv", "spiky.csv"]))
    assert out["is_anomaly"].numpy().tolist()[0]
    assert out["mean"].numpy()[0] > series["held"][2400:2451].mean() + 2.0  # the held level


def test_a_series_the_local_level_model_cannot_take_goes_to_the_ladder(tmp_path):
    from cuttingedge.trainers.anomaly.series import SeriesError

    held = _series(1000)["held"]
    constant = np.full(1000, 7.0)
    detector = model_choice.fit_auto_detector({"held": held, "constant": constant}, CONFIG)
    assert detector.choices["constant"].model == "learned_scale"
    assert "no noise to check" in detector.choices["constant"].reason
    path = model_choice.export_auto_detector(detector, tmp_path / "auto")
    out = tf.saved_model.load(path).signatures["serving_default"](
        values=tf.constant(np.stack([_rows(held, [900])[0], np.full(WINDOW + 1, 7.0)]),
                           tf.float32), series=tf.constant(["held", "constant"]))
    assert out["is_anomaly"].numpy().tolist() == [False, False]
    unobserved = np.r_[np.full(400, np.nan), held[400:]]  # nothing observed while training
    with pytest.raises(SeriesError, match="no numeric value"):  # the ladder's own check
        model_choice.fit_auto_detector({"held": held, "blind": unobserved}, CONFIG)
    only_level = model_choice.fit_auto_detector({"blind": unobserved[:600]}, dataclasses.replace(
        CONFIG, train_fraction=0.9))  # enough observed rows once the share is raised
    assert only_level.choices["blind"].local_level
