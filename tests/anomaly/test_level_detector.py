"""The local level detector of several series: its SavedModel serves what its batch scores
say, loads in a fresh process, and the anomaly pipeline fits, blesses and pushes it."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from cuttingedge.trainers.anomaly.export import example_of
from cuttingedge.trainers.anomaly.level_detector import (LevelConfig, export_level_detector,
                                                         fit_level_detector)

WINDOW = 50


def _series():
    rng = np.random.default_rng(0)
    held = 30.0 + rng.normal(size=1500)  # holds its level
    drifting = np.cumsum(rng.normal(scale=0.5, size=1500)) + rng.normal(scale=0.5, size=1500)
    return {"held": held, "drifting": drifting}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    series = _series()
    detector = fit_level_detector(series, LevelConfig(window=WINDOW, train_fraction=0.4))
    path = export_level_detector(detector, tmp_path_factory.mktemp("level") / "model")
    return series, detector, path


def _rows(values, points):
    return np.stack([values[t - WINDOW:t + 1] for t in points]).astype(np.float32)


def test_the_served_forecast_is_the_batch_filter_s(exported):
    series, detector, path = exported
    serve = tf.saved_model.load(path).signatures["serving_default"]
    points = np.arange(700, 1500, 37)
    for name, values in series.items():
        batch = detector.score(values, name)
        out = serve(values=tf.constant(_rows(values, points)),
                    series=tf.constant([name] * len(points)))
        std = detector.scales[name].std
        # The drifting series' filter converges within the window; the held level's filter
        # starts at the level training left and moves by a few hundredths of its noise.
        tolerance = 0.1 if name == "held" else 1e-4
        np.testing.assert_allclose(out["mean"].numpy(), batch.mean[points], atol=tolerance * std)
        np.testing.assert_allclose(out["stddev"].numpy(), batch.stddev[points], rtol=1e-3)
        np.testing.assert_allclose(out["score"].numpy(), batch.point_score[points],
                                   atol=0.2 if name == "held" else 1e-3)


def test_detect_reads_sensor_examples_like_serving_default(exported):
    series, _, path = exported
    loaded = tf.saved_model.load(path)
    values, points = series["drifting"], np.arange(600, 1500, 90)
    examples = [example_of(values[t - WINDOW:t], values[t], "drifting") for t in points]
    by_example = loaded.signatures["detect"](examples=tf.constant(examples))
    by_row = loaded.signatures["serving_default"](values=tf.constant(_rows(values, points)),
                                                  series=tf.constant(["drifting"] * len(points)))
    for key in ("mean", "stddev", "score"):
        np.testing.assert_allclose(by_example[key].numpy(), by_row[key].numpy(), rtol=1e-5)
    missing = example_of(values[600:650], values[650], "drifting", missing=1)
    short = example_of(values[600:650], values[650] + 100.0, "drifting", history=10)
    out = loaded.signatures["detect"](examples=tf.constant([missing, short]))
    assert not out["is_anomaly"].numpy().any()


def test_the_model_loads_in_a_fresh_process_and_flags_a_level_the_sensor_left(exported):
    series, detector, path = exported
    held = series["held"]
    row = held[1000:1000 + WINDOW + 1].copy()
    faulted = row.copy()
    faulted[-15:] -= 6.0  # the level falls by six noise units
    with_nan = row.copy()
    with_nan[-1] = np.nan
    with_nan[10] = np.nan  # a gap in the window is skipped by the filter
    script = (
        "import json, sys, numpy as np, tensorflow as tf\n"
        "serve = tf.saved_model.load(sys.argv[1]).signatures['serving_default']\n"
        "rows = np.array(json.loads(sys.argv[2]), np.float32)\n"
        "out = serve(values=tf.constant(rows), series=tf.constant(['held'] * len(rows)))\n"
        "print(json.dumps({k: v.numpy().tolist() for k, v in out.items()}))\n"
        "try:\n"
        "    serve(values=tf.constant(rows[:1]), series=tf.constant(['pump']))\n"
        "except tf.errors.InvalidArgumentError as error:\n"
        "    print('refused:', 'Unknown series' in str(error))\n")
    rows = [[None if np.isnan(v) else float(v) for v in r] for r in (row, faulted, with_nan)]
    done = subprocess.run([sys.executable, "-c", script, path,
                           json.dumps(rows).replace("null", "NaN")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    out = json.loads(lines[-2])
    assert out["is_anomaly"] == [False, True, False]
    assert np.isfinite(out["mean"]).all() and out["mean"][1] > held[1000:1040].mean() - 1.0
    assert lines[-1] == "refused: True"
    constants = json.load(open(os.path.join(path, "assets.extra", "detector.json")))
    assert set(constants["series"]) == {"held", "drifting"}


def test_absurd_settings_are_refused():
    with pytest.raises(ValueError, match="window"):
        LevelConfig(window=0)
    with pytest.raises(ValueError, match="false_alarm_rate"):
        LevelConfig(false_alarm_rate=1.5)


@pytest.mark.e2e
def test_the_pipeline_fits_blesses_and_pushes_a_local_level_model(tmp_path):
    from cuttingedge.pipelines import anomaly
    from cuttingedge.pipelines.layout import RunLayout
    from cuttingedge.pipelines.runner import run_pipeline

    rng = np.random.default_rng(3)
    values = 32.0 + 0.5 * rng.normal(size=3000)
    values[2200:2500] -= np.linspace(0.0, 2.5, 300)  # a valve closing slowly
    (tmp_path / "data").mkdir()
    rows = [f"2024-01-{1 + i // 1440:02d} {i % 1440 // 60:02d}:{i % 60:02d}:00,{v:.4f}"
            for i, v in enumerate(values)]
    (tmp_path / "data" / "flow.csv").write_text("timestamp,value\n" + "\n".join(rows) + "\n")
    layout = RunLayout(str(tmp_path / "runs"))
    config = anomaly.AnomalyConfig(input_pattern=str(tmp_path / "data" / "*.csv"),
                                   layout=layout, window=WINDOW, step="local_level")
    run_pipeline(anomaly.create_pipeline(config))
    summary = json.load(open(os.path.join(layout.reports(anomaly.NAME), "summary.json")))
    assert summary["blessed"] and summary["step"] == "local_level"
    alarms = summary["series"]["flow.csv"]["alarm_rows"]
    assert alarms and all(2200 < row <= 2500 for row in alarms)
    pushed = [v for v in os.listdir(layout.serving(anomaly.NAME)) if v.isdigit()]
    assert len(pushed) == 1
    serve = tf.saved_model.load(os.path.join(layout.serving(anomaly.NAME), pushed[0]))
    faulted = values[2400 - WINDOW:2401].astype(np.float32)
    out = serve.signatures["serving_default"](values=tf.constant([faulted]),
                                              series=tf.constant(["flow.csv"]))
    assert out["mean"].numpy()[0] > values[2350:2401].mean() + 1.0  # expects the held level


def test_the_pipeline_refuses_tuning_a_local_level_model():
    from cuttingedge.pipelines import anomaly

    with pytest.raises(ValueError, match="no ladder to tune"):
        anomaly.AnomalyConfig(step="local_level", tune_trials=3)
