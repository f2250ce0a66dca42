"""Fixtures of the anomaly tests: seeds, a tiny noisy sine with a spike, one fitted detector."""

import keras
import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(1234)


def noisy_sine(length: int = 1200, noise: float = 0.05, seed: int = 0) -> np.ndarray:
    """sin(t / 8) plus Gaussian noise: a series whose next value a window predicts well."""
    rng = np.random.default_rng(seed)
    return np.sin(np.arange(length) / 8.0) + noise * rng.normal(size=length)


def daily_series(days: int = 60, period: int = 24, quiet_day: int = 50,
                 seed: int = 0) -> np.ndarray:
    """Two peaks a day (hours 8 and 17 of 24) over a floor, 2% noise; the peaks of
    `quiet_day` at half height: inside the recent range, out of season."""
    rng = np.random.default_rng(seed)
    hour = np.arange(days * period) % period * (24.0 / period)
    values = 0.2 + np.exp(-(hour - 8.0) ** 2 / 6) + np.exp(-(hour - 17.0) ** 2 / 4)
    values = values + 0.02 * rng.normal(size=len(values))
    values[quiet_day * period:(quiet_day + 1) * period] *= 0.5
    return values


@pytest.fixture(scope="session")
def daily():
    """The `daily_series(days, period, quiet_day, seed)` factory."""
    return daily_series


def switching_series(length: int = 2400, seed: int = 0):
    """Noise around 0 that keeps jumping to 4 for 3 points (every 12-20 points), and one
    value at -6 (row 2000), far outside any range the series visits: the true anomaly."""
    rng = np.random.default_rng(seed)
    values = 0.1 * rng.normal(size=length)
    at = 2  # every window of 24 holds a jump
    while at < length - 3:
        values[at:at + 3] += 4.0
        at += int(rng.integers(12, 21))
    values[2000] = -6.0
    return values


@pytest.fixture(scope="session")
def switching():
    """The `switching_series(length, seed)` factory."""
    return switching_series


SPIKE_AT, SPIKE = 1000, 1.0  # 20 noise stddevs


@pytest.fixture(scope="session")
def sine():
    """The `noisy_sine(length, noise, seed)` factory."""
    return noisy_sine


@pytest.fixture(scope="session")
def spike_at():
    return SPIKE_AT


@pytest.fixture(scope="session")
def spiky():
    values = noisy_sine()
    values[SPIKE_AT] += SPIKE
    return values


@pytest.fixture(scope="session")
def fitted(spiky):
    """A learned-scale detector on the first 30% of `spiky` (fast settings).

    A quarter of the 360 training rows is held out (the default half would leave 180 rows
    to fit a window of 16 on).
    """
    from cuttingedge.trainers.anomaly.detector import DetectorConfig, fit_detector

    keras.utils.set_random_seed(0)
    config = DetectorConfig(step="learned_scale", smoothing=1, window=16, hidden_units=(16,),
                            train_fraction=0.3, validation_fraction=0.25, epochs=30,
                            learning_rate=1e-2, refractory=16, refractory_fraction=0.0,
                            false_alarm_rate=1e-3)
    return fit_detector(spiky, config)


def serve_each_point(detector, series, window: int, folder) -> np.ndarray:
    """`is_anomaly` of the exported detector's serving_default for every point from `window`
    on, each sent with the `window` values before it; asserts that serving decides as
    `Detector.score` does (smoothing 1 and a fixed threshold: point by point; float32
    against float64 allows a disagreement right at a threshold)."""
    import tensorflow as tf

    from cuttingedge.trainers.anomaly.export import export_detector

    rows = np.arange(window, len(series))
    recent = np.stack([series[i - window:i + 1] for i in rows]).astype(np.float32)
    serve = tf.saved_model.load(export_detector(detector, folder)).signatures["serving_default"]
    served = serve(values=tf.constant(recent),
                   series=tf.constant([""] * len(rows)))["is_anomaly"].numpy()
    assert np.mean(served != detector.score(series).exceeds[rows]) <= 2 / len(rows)
    return served


@pytest.fixture(scope="session")
def served_alarms():
    """The `serve_each_point(detector, series, window, folder)` helper."""
    return serve_each_point


@pytest.fixture(scope="session")
def pointwise():
    """Fast learned-scale settings whose alarms are decided point by point (smoothing 1, a
    fixed threshold, no refractory period), as the serving signature decides them."""
    return dict(step="learned_scale", hidden_units=(16,), epochs=15, learning_rate=1e-2,
                false_alarm_rate=1e-3, smoothing=1, adaptive=False, refractory=0,
                refractory_fraction=0.0)

