"""The joint detector of several sensors: closed forms, nesting at the joint z-score, bad input."""

import numpy as np
import pytest
from scipy import stats

from cuttingedge.trainers.anomaly import alarms, joint
from cuttingedge.trainers.anomaly.series import SeriesTooShortError

CONFIG = joint.JointConfig(window=16, train_fraction=0.5, epochs=20)


def coupled_sensors(rows=1200, seed=0):
    """Two sensors that follow one random walk; they part only where the test makes them."""
    rng = np.random.default_rng(seed)
    walk = np.cumsum(rng.normal(size=rows))
    return np.stack([walk, walk + 0.1 * rng.normal(size=rows)], axis=1)


@pytest.fixture(scope="module")
def parted():
    values = coupled_sensors()
    values[1000, 1] += 3.0  # within both sensors' recent range, far from each other
    return values, joint.fit_joint_detector(values, CONFIG)


def test_joint_surprise_is_the_chi2_tail_and_one_sensor_is_the_normal_tail():
    m2 = np.array([0.0, 1.0, 9.0, 30.0])
    np.testing.assert_allclose(joint.joint_surprise(m2, 3), -stats.chi2.logsf(m2, 3), rtol=1e-9)
    u = np.sqrt(m2)
    np.testing.assert_allclose(joint.joint_surprise(m2, 1),
                               alarms.tail_surprise(u, np.zeros(4), np.ones(4)), rtol=1e-9)


def test_joint_surprise_stays_finite_and_continuous_where_the_tail_underflows():
    m2 = np.array([1440.0, 1460.0, 1480.0, 1e5])  # chi2_8's sf underflows near 1450
    got = joint.joint_surprise(m2, 8)
    assert np.all(np.isfinite(got)) and np.all(np.diff(got) > 0)
    assert got[1] - got[0] == pytest.approx(10.0, rel=0.02)  # slope ~ 1/2 per unit of m2


def test_window_inputs_standardise_each_sensor_by_its_own_window():
    z = np.stack([np.arange(10.0), 100.0 * np.arange(10.0)], axis=1)
    x, y, anchor, spread = joint.window_inputs(z, 4, floor=0.05)
    assert x.shape == (10, 4, 2) and y.shape == (10, 2)
    np.testing.assert_allclose(x[9, :, 0], x[9, :, 1], rtol=1e-6)  # same shape, other scale
    np.testing.assert_allclose(anchor[9], [6.5, 650.0])
    np.testing.assert_allclose(y[9] * spread[9] + anchor[9], z[9])


def test_the_unfitted_forecaster_is_the_joint_trailing_zscore():
    values = coupled_sensors(rows=600)
    config = joint.JointConfig(window=16, train_fraction=0.5)
    model = joint.build_forecaster(2, config)
    train = 300
    mean, std = values[:train].mean(axis=0), values[:train].std(axis=0)
    x, y, _, _ = joint.window_inputs((values - mean) / std, 16, config.window_floor)
    dist = joint.to_distribution(model.predict(x, verbose=0), 2, config.min_scale)
    np.testing.assert_allclose(dist.loc.numpy(), 0.0, atol=1e-6)
    np.testing.assert_allclose(dist.scale_tril.numpy()[0], np.eye(2), atol=1e-5)
    zscore = joint.joint_zscore(values, config)
    np.testing.assert_allclose(-dist.log_prob(y).numpy()[16:],
                               0.5 * np.sum(y[16:] ** 2, axis=1) + np.log(2 * np.pi),
                               rtol=1e-4)
    assert zscore.point_score.shape == (600,)


def test_it_catches_sensors_that_part_where_the_joint_zscore_cannot(parted):
    values, detector = parted
    scored = detector.score(values)
    zscore = joint.joint_zscore(values, CONFIG)
    assert scored.is_anomaly[1000] and not zscore.is_anomaly[995:1005].any()
    assert scored.is_anomaly[600:].sum() <= 2  # the scored part, 600 rows
    assert scored.sensor_score[1000, 1] > scored.sensor_score[1000, 0]  # sensor 1 moved
    assert detector.history["loss"][-1] < detector.history["loss"][0]


def test_scores_are_in_sensor_units_one_row_per_input_row(parted):
    values, detector = parted
    scored = detector.score(values)
    assert scored.mean.shape == scored.stddev.shape == values.shape
    assert not scored.scored[:16].any() and scored.scored[16:].all()
    assert not scored.is_anomaly[:16].any()
    error = np.abs(scored.mean[600:] - values[600:]) / scored.stddev[600:]
    assert np.median(error) < 1.5  # sensible forecasts in the series' own units


def test_the_gate_needs_the_joint_zscore_too(parted):
    values, _ = parted
    gated = joint.fit_joint_detector(values, joint.JointConfig(
        window=16, train_fraction=0.5, epochs=20, alarm_gate="zscore")).score(values)
    assert gated.gate_open is not None and not gated.is_anomaly[1000]


def test_missing_values_are_named_by_row_and_sensor():
    values = coupled_sensors(rows=600)
    values[321, 1] = np.nan
    with pytest.raises(ValueError, match=r"row 321, sensor 1 is nan\. Fill or drop gaps"):
        joint.fit_joint_detector(values, CONFIG)


def test_too_few_rows_names_the_minimum():
    with pytest.raises(SeriesTooShortError, match=r"Expected at least 66 rows with window=16"):
        joint.fit_joint_detector(coupled_sensors(rows=65), CONFIG)
    assert joint.check_values(coupled_sensors(rows=66), CONFIG).shape == (66, 2)


def test_a_wrong_shape_or_sensor_count_is_refused(parted):
    values, detector = parted
    with pytest.raises(ValueError, match=r"shape \[rows, sensors\]\. Received: shape \(10,\)"):
        joint.check_values(np.zeros(10), CONFIG)
    with pytest.raises(ValueError, match=r"Expected 2 sensors, as in training\. Received: 3"):
        detector.score(np.concatenate([values, values[:, :1]], axis=1))


@pytest.mark.parametrize("field, value, message", [
    ("window", 0, r"window to be a positive integer"),
    ("hidden_units", (8, 0), r"hidden_units\[1\] to be a positive integer"),
    ("train_fraction", 1.0, r"train_fraction in \(0, 1\)"),
    ("min_scale", 0.0, r"min_scale > 0"),
    ("alarm_gate", "both", r"alarm_gate in \['zscore', 'none'\]"),
])
def test_absurd_settings_are_refused(field, value, message):
    with pytest.raises(ValueError, match=message):
        joint.JointConfig(**{field: value})
