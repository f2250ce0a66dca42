"""Deep ensembles of the ladder forecaster: the moment matching, the detector, the export."""

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

from cuttingedge.trainers import probabilistic as prob
from cuttingedge.trainers.anomaly.detector import DetectorConfig, fit_detector, member_seeds


def test_moment_match_is_the_law_of_total_variance():
    locs, scales, within = np.array([0.0, 1.0, 5.0]), np.array([1.0, 2.0, 0.5]), np.array(
        [0.0, 0.5, 0.25])
    params = [np.array([[loc, scale, e]], np.float32) for loc, scale, e in
              zip(locs, scales, within)]
    out = prob.MomentMatch()(params).numpy()[0]
    np.testing.assert_allclose(out, [locs.mean(), np.sqrt(np.mean(scales ** 2) + locs.var()),
                                     np.sqrt(np.mean(within ** 2) + locs.var())], rtol=1e-5)
    two = prob.MomentMatch()([p[:, :2] for p in params]).numpy()[0]  # no epistemic part
    np.testing.assert_allclose(two[2], np.sqrt(locs.var()), rtol=1e-5)


def test_ensemble_model_refuses_one_member_or_mixed_windows():
    member = prob.build_model("learned_scale", window=3, hidden_units=(4,))
    with pytest.raises(ValueError, match="at least two ensemble members"):
        prob.ensemble_model([member])
    other = prob.build_model("learned_scale", window=5, hidden_units=(4,))
    with pytest.raises(ValueError, match="one input shape"):
        prob.ensemble_model([member, other])


@pytest.fixture(scope="module")
def ensemble(spiky, fitted):
    config = dataclasses.replace(fitted.config, ensemble=3, epochs=10)
    return fit_detector(spiky, config)


def test_the_ensemble_forecast_moment_matches_its_members(ensemble, spiky):
    assert member_seeds(ensemble.config) == [0, 1000, 2000]
    members = [layer for layer in ensemble.model.layers if layer.name.startswith("member_")]
    assert len(members) == 3
    assert len(ensemble.history["member_best_val_nll"]) == 3
    moments = ensemble.forecast(spiky)
    x_scale = ensemble.scale_of(None)
    from cuttingedge.trainers.anomaly.detector import model_inputs

    x, _, anchor, spread = model_inputs((spiky - x_scale.mean) / x_scale.std, ensemble.config)
    own = [prob.predict_distribution(member, x) for member in members]  # deterministic step
    locs = np.stack([m.mean for m in own])
    assert np.ptp(locs, axis=0).max() > 1e-3, "members fitted from different seeds differ"
    mean = (locs.mean(axis=0) * spread + anchor) * x_scale.std + x_scale.mean
    stddev = np.sqrt(np.mean(np.stack([m.stddev for m in own]) ** 2, axis=0)
                     + locs.var(axis=0)) * spread * x_scale.std
    rows = slice(ensemble.config.window, None)
    np.testing.assert_allclose(moments.mean[rows], mean[rows], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(moments.stddev[rows], stddev[rows], rtol=1e-4, atol=1e-5)
    assert np.all(moments.epistemic_stddev[rows] > 0)  # disagreement is epistemic


def test_the_ensemble_flags_the_spike(ensemble, spiky, spike_at):
    flagged = np.flatnonzero(ensemble.score(spiky).is_anomaly)
    assert spike_at in flagged and len(flagged) <= 3


def test_one_member_is_the_single_model():
    values = np.sin(np.arange(300) / 5.0)
    config = DetectorConfig(step="learned_scale", window=8, hidden_units=(4,),
                            train_fraction=0.5, epochs=2)
    single, alone = fit_detector(values, config), fit_detector(
        values, dataclasses.replace(config, ensemble=1))
    assert "member_best_val_nll" not in single.history
    np.testing.assert_array_equal(single.forecast(values).mean, alone.forecast(values).mean)
    with pytest.raises(ValueError, match="ensemble"):
        DetectorConfig(ensemble=0)


FRESH = r"""
import json, sys
import tensorflow as tf
loaded = tf.saved_model.load(sys.argv[1])
out = loaded.signatures["serving_default"](values=tf.constant(json.loads(sys.argv[2]),
                                           tf.float32), series=tf.constant(["series"] * 2))
print("DEFAULT", json.dumps({k: v.numpy().tolist() for k, v in out.items()}))
"""


def test_the_exported_ensemble_serves_in_a_fresh_process(ensemble, spiky, spike_at,
                                                          tmp_path):
    from cuttingedge.trainers.anomaly.export import export_detector

    path = export_detector(ensemble, tmp_path / "model")
    window = ensemble.config.window
    rows = [spike_at - 5, spike_at]
    recent = [spiky[i - window:i + 1].tolist() for i in rows]
    done = subprocess.run([sys.executable, "-c", FRESH, path, json.dumps(recent)],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    served = json.loads(done.stdout.split("DEFAULT ", 1)[1])
    scored = ensemble.score(spiky)
    np.testing.assert_allclose(served["mean"], scored.mean[rows], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(served["stddev"], scored.stddev[rows], rtol=1e-4)
    assert served["is_anomaly"] == [False, True]


def test_detect_and_the_pipeline_take_an_ensemble(tmp_path, capsys):
    from cuttingedge.pipelines import anomaly
    from cuttingedge.pipelines.cli import main
    from cuttingedge.pipelines.layout import RunLayout

    values = np.sin(np.arange(400) / 5.0) + np.random.default_rng(0).normal(0, 0.05, 400)
    series = tmp_path / "s.csv"
    series.write_text("timestamp,value\n" + "".join(
        f"2024-01-01 {i // 60:02d}:{i % 60:02d}:00,{v:.5f}\n" for i, v in enumerate(values)))
    code = main(["detect", "--input", str(series), "--output", str(tmp_path / "o.csv"),
                 "--model", "learned_scale", "--window", "8", "--epochs", "2",
                 "--train-fraction", "0.5", "--ensemble", "2"])
    assert code == 0
    assert "scored with learned_scale, an ensemble of 2 (trained on" in capsys.readouterr().out
    pipeline = anomaly.create_pipeline(anomaly.AnomalyConfig(
        layout=RunLayout(str(tmp_path / "runs")), ensemble=3))
    detect = next(c for c in pipeline.components if c.id == "DetectAnomalies")
    assert detect.exec_properties["ensemble"] == 3
    with pytest.raises(ValueError, match="no ladder to tune or ensemble"):
        anomaly.AnomalyConfig(step="local_level", ensemble=2)


def test_auto_routes_to_an_ensemble_ladder_in_one_savedmodel(tmp_path):
    import tensorflow as tf

    from cuttingedge.trainers.anomaly import model_choice

    rng = np.random.default_rng(0)
    t = np.arange(900)
    series = {"held": 30.0 + rng.normal(size=900),  # the local level model
              "cycling": 10.0 * np.sin(2 * np.pi * t / 48) + 0.2 * rng.normal(size=900)}
    config = DetectorConfig(step="learned_scale", window=24, train_fraction=0.4, epochs=3,
                            hidden_units=(8,), ensemble=2)
    detector = model_choice.fit_auto_detector(series, config)
    assert {n: c.model for n, c in detector.choices.items()} == {
        "held": "local_level", "cycling": "learned_scale"}
    assert len(detector.ladder.history["member_best_val_nll"]) == 2
    routed = tf.saved_model.load(model_choice.export_auto_detector(detector, tmp_path / "m"))
    points = np.arange(500, 900, 50)
    rows = np.stack([series["cycling"][p - 24:p + 1] for p in points]).astype(np.float32)
    out = routed.signatures["serving_default"](values=tf.constant(rows),
                                               series=tf.constant(["cycling"] * len(points)))
    scored = detector.score(series["cycling"], "cycling")
    np.testing.assert_allclose(out["mean"].numpy(), scored.mean[points], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(out["stddev"].numpy(), scored.stddev[points], rtol=1e-4)
