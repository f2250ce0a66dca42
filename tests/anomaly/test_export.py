"""The exported SavedModel loads and answers in a fresh process, as TF Serving calls it."""

import json
import subprocess
import sys

import numpy as np
import pytest

from cuttingedge.trainers.anomaly.detector import windows_of
from cuttingedge.trainers.anomaly.export import example_of, export_detector


FRESH = r"""
import json, sys
import numpy as np, tensorflow as tf
path, examples = sys.argv[1], json.loads(sys.argv[2])
loaded = tf.saved_model.load(path)
print("SIGNATURES", sorted(loaded.signatures.keys()))
out = loaded.signatures["detect"](examples=tf.constant([bytes.fromhex(e) for e in examples]))
print("DETECT", json.dumps({k: v.numpy().tolist() for k, v in out.items()}))
values = tf.constant(json.loads(sys.argv[3]), tf.float32)
out = loaded.signatures["serving_default"](values=values, series=tf.constant(["series"] * 3))
print("DEFAULT", json.dumps({k: v.numpy().tolist() for k, v in out.items()}))
"""


@pytest.fixture(scope="module")
def exported(fitted, tmp_path_factory):
    return export_detector(fitted, tmp_path_factory.mktemp("export") / "model")


def test_saved_model_answers_in_a_fresh_process(fitted, spiky, exported, spike_at):
    window = fitted.config.window
    padded = windows_of(spiky, window)
    rows = [spike_at - 5, spike_at]
    examples = [example_of(padded[i], spiky[i], "series").hex() for i in rows]
    recent = [spiky[i - window:i + 1].tolist() for i in rows]
    recent.append(recent[1][:-1] + [float("nan")])  # a missing last value is never an alarm
    done = subprocess.run([sys.executable, "-c", FRESH, exported, json.dumps(examples),
                           json.dumps(recent)], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in done.stdout.splitlines()
             if line.split(" ", 1)[0] in ("SIGNATURES", "DETECT", "DEFAULT")}
    assert lines["SIGNATURES"] == "['detect', 'serving_default']"
    detect = json.loads(lines["DETECT"])
    scored = fitted.score(spiky)
    np.testing.assert_allclose(detect["mean"], scored.mean[rows], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(detect["stddev"], scored.stddev[rows], rtol=1e-4)
    np.testing.assert_allclose(detect["score"], scored.point_score[rows], rtol=1e-3, atol=1e-3)
    assert detect["is_anomaly"] == [False, True]
    default = json.loads(lines["DEFAULT"].replace("NaN", "null"))
    assert set(default) == {"mean", "stddev", "aleatoric_stddev", "epistemic_stddev", "score",
                            "is_anomaly"}
    for name in ("mean", "stddev", "score"):  # raw recent values give what detect gives
        np.testing.assert_allclose(default[name][:2], detect[name], rtol=1e-4, atol=1e-4)
    assert default["is_anomaly"] == [False, True, False]


def test_serve_client_scores_recent_values_over_grpc(fitted, spiky, exported, spike_at, capsys):
    from cuttingedge.components.serving.testing import serve_test_server
    from cuttingedge.pipelines.cli import main

    server = serve_test_server(exported, "anomaly", version=1)
    try:
        window = fitted.config.window
        values = ",".join(f"{v:.6f}" for v in spiky[spike_at - window:spike_at + 1])
        code = main(["serve-client", "--target", f"127.0.0.1:{server.grpc_port}",
                     "--model", "anomaly", f"--values={values}", "--series", "series"])
    finally:
        server.stop()
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "is_anomaly: [ True]" in printed and "score:" in printed


def test_serving_default_refuses_a_row_of_the_wrong_length(exported):
    import tensorflow as tf

    serve = tf.saved_model.load(exported).signatures["serving_default"]
    with pytest.raises((ValueError, TypeError, tf.errors.InvalidArgumentError)):
        serve(values=tf.zeros([1, 3]), series=tf.constant(["series"]))


def test_constants_are_written_beside_the_model(fitted, exported):
    import os

    with open(os.path.join(exported, "assets.extra", "detector.json")) as handle:
        text = handle.read()
    assert "NaN" not in text and "Infinity" not in text  # strict JSON for any reader
    constants = json.loads(text)
    assert constants["series"]["series"]["mean"] == pytest.approx(
        fitted.scales["series"].mean)
    # the default z-score alarm gate's threshold (null without a gate: SeriesScale.as_dict)
    assert constants["series"]["series"]["gate_threshold"] == pytest.approx(
        fitted.scales["series"].gate_threshold)
    assert constants["config"]["window"] == fitted.config.window


def test_detect_reads_the_oldest_values_of_a_longer_record(sine, tmp_path):
    import tensorflow as tf

    from cuttingedge.trainers.anomaly.detector import DetectorConfig, fit_detector

    values = sine(500)
    config = DetectorConfig(step="learned_scale", window=8, horizon=3, train_fraction=0.5,
                            epochs=2, smoothing=1)
    detector = fit_detector(values, config)
    path = export_detector(detector, tmp_path / "model")
    records = windows_of(values, 8 + 3 - 1)  # what SensorExampleGen writes for window 10
    rows = [300, 301, 450]
    out = tf.saved_model.load(path).signatures["detect"](examples=tf.constant(
        [example_of(records[i], values[i], "series") for i in rows]))
    scored = detector.score(values)
    np.testing.assert_allclose(out["mean"].numpy(), scored.mean[rows], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(out["score"].numpy(), scored.point_score[rows], rtol=1e-3,
                               atol=1e-3)
    assert not scored.scored[:10].any() and scored.scored[10:].all()


def test_a_walk_started_detector_serves_what_the_library_scores(spiky, spike_at, tmp_path):
    """`start="best"` on a smooth series keeps the walk start, whose centred windows the
    SavedModel rebuilds from raw values: a fresh process gets the library's forecasts."""
    from cuttingedge.trainers.anomaly.detector import DetectorConfig, fit_detector

    config = DetectorConfig(step="learned_scale", smoothing=1, window=16, hidden_units=(16,),
                            train_fraction=0.3, validation_fraction=0.25, epochs=10,
                            refractory=16, refractory_fraction=0.0, false_alarm_rate=1e-3,
                            start="best")
    detector = fit_detector(spiky, config)
    assert detector.history["start"] == "walk", detector.history["start_val_nll"]
    path = export_detector(detector, tmp_path / "model")
    rows = [spike_at - 5, spike_at]
    padded = windows_of(spiky, 16)
    examples = [example_of(padded[i], spiky[i], "series").hex() for i in rows]
    recent = [spiky[i - 16:i + 1].tolist() for i in rows] + [spiky[500:517].tolist()]
    done = subprocess.run([sys.executable, "-c", FRESH, path, json.dumps(examples),
                           json.dumps(recent)], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    default = json.loads(next(line for line in done.stdout.splitlines()
                              if line.startswith("DEFAULT")).split(" ", 1)[1])
    scored = detector.score(spiky)
    np.testing.assert_allclose(default["mean"][:2], scored.mean[rows], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(default["stddev"][:2], scored.stddev[rows], rtol=1e-4)
    np.testing.assert_allclose(default["score"][:2], scored.point_score[rows], rtol=1e-3,
                               atol=1e-3)
    assert default["is_anomaly"][:2] == [False, True]
