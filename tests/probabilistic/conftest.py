"""Fixtures of the probabilistic tests: seeds, tiny series windows and a fast fitting loop."""

import keras
import numpy as np
import pytest
import tensorflow as tf


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(1234)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def fit_steps():
    """Fits `model` for `steps` shuffled mini-batches in one epoch (Keras' per-epoch cost is
    far above a tiny model's per-step cost)."""

    def fit(model, x, y, steps: int, batch_size: int = 64):
        data = (tf.data.Dataset.from_tensor_slices((np.float32(x), np.float32(y)))
                .repeat().shuffle(1024, seed=0).batch(batch_size))
        model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0)
        return model

    return fit


@pytest.fixture(scope="session")
def sine_windows():
    """Windows of a noisy sine series: returns (x [n, window], y [n]) for a window length."""

    def make(window: int = 4, length: int = 200, noise: float = 0.05, seed: int = 0):
        generator = np.random.default_rng(seed)
        t = np.arange(length + window, dtype=np.float64)
        series = np.sin(0.3 * t) + noise * generator.normal(size=t.shape)
        x = np.stack([series[i:i + window] for i in range(length)]).astype(np.float32)
        return x, series[window:window + length].astype(np.float32)

    return make
