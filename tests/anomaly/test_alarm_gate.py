"""The z-score alarm gate: alarms need the trailing z-score's agreement, in batch and serving."""

import numpy as np
import pytest
import tensorflow as tf

from cuttingedge.trainers.anomaly import alarms, baselines
from cuttingedge.trainers.anomaly.detector import (GAUSSIAN_RESIDUALS, DetectorConfig,
                                                    fit_detector)
from cuttingedge.trainers.anomaly.export import export_detector

WINDOW = 24


@pytest.fixture(scope="module")
def series(switching):
    return switching()


@pytest.fixture(scope="module")
def detectors(series):
    common = dict(step="learned_scale", window=WINDOW, hidden_units=(16,), train_fraction=0.3,
                  validation_fraction=0.25, epochs=15, learning_rate=1e-2,
                  false_alarm_rate=1e-3, refractory=WINDOW, refractory_fraction=0.0)
    return {gate: fit_detector(series, DetectorConfig(alarm_gate=gate, **common))
            for gate in ("none", "zscore")}


def test_the_gate_is_the_zscore_baseline_over_the_same_window(series, detectors):
    gated = detectors["zscore"]
    scored = gated.score(series)
    config = gated.config
    baseline = baselines.zscore_baseline(series, baselines.BaselineConfig(
        window=WINDOW, train_fraction=config.train_fraction,
        false_alarm_rate=config.false_alarm_rate, smoothing=config.smoothing,
        tail_fraction=config.tail_fraction))
    # Both floor the stddev at 1e-3 here (|mean| < 1), so the z-scores are the same, and
    # both calibrate on the training part's full windows.
    assert gated.scales["series"].gate_threshold == pytest.approx(baseline.threshold)
    rows = scored.scored
    np.testing.assert_array_equal(scored.gate_open[rows], (baseline.score > baseline.bar)[rows])


def test_only_alarms_the_gate_lets_through_remain(series, detectors):
    # The jumps, which no forecast foresees, fatten the tails of the forecast errors, so
    # the gate stays on (Gaussian errors would lift it: test_gaussian_residuals).
    scale = detectors["zscore"].scales["series"]
    assert scale.residual_kurtosis > GAUSSIAN_RESIDUALS and scale.gate_lifted == 0
    plain, gated = (detectors[g].score(series) for g in ("none", "zscore"))
    assert plain.gate_open is None
    assert np.all(gated.gate_open[gated.exceeds])
    # The recurring jumps to 4 stay inside the recent range: the gate keeps them quiet,
    # while the value outside every range the series visited still alarms.
    assert gated.is_anomaly[2000]
    assert gated.is_anomaly.sum() <= 2
    assert plain.exceeds.sum() > gated.exceeds.sum()


def test_served_alarms_need_the_gate_too(series, detectors, tmp_path):
    gated = detectors["zscore"]
    scale = gated.scales["series"]
    path = export_detector(gated, tmp_path / "gated")
    serve = tf.saved_model.load(path).signatures["serving_default"]
    rows = np.arange(WINDOW, len(series))
    recent = np.stack([series[i - WINDOW:i + 1] for i in rows]).astype(np.float32)
    out = serve(values=tf.constant(recent), series=tf.constant([""] * len(rows)))
    score, is_anomaly = out["score"].numpy(), out["is_anomaly"].numpy()
    past = recent[:, :-1].astype(np.float64)
    gate = alarms.tail_surprise(recent[:, -1], past.mean(axis=1),
                                np.maximum(past.std(axis=1), scale.gate_floor))
    expected = (score > scale.point_threshold) & (gate > scale.gate_point_threshold)
    # float32 serving against float64 here: allow a disagreement right at a threshold.
    assert np.mean(is_anomaly != expected) < 1e-3
    blocked = (score > scale.point_threshold) & ~is_anomaly
    assert blocked.any(), "expected forecast alarms that the gate holds back"
    assert is_anomaly[rows == 2000].all()


def test_an_unknown_gate_is_rejected_with_the_choices():
    with pytest.raises(ValueError, match=r"Expected alarm_gate in \['none', 'zscore'\]\. "
                                         r"Received: alarm_gate='iforest'"):
        DetectorConfig(alarm_gate="iforest")
