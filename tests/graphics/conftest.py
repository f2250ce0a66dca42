"""Fixtures of the graphics tests: a seeded NumPy generator."""

import numpy as np
import pytest
import tensorflow as tf


@pytest.fixture(autouse=True)
def _seed():
    tf.random.set_seed(1234)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def random_angles(rng):
    """64 Euler angles away from the gimbal lock: |theta_y| < pi/2 - 0.1, others in (-pi, pi)."""
    angles = rng.uniform(-np.pi, np.pi, size=(64, 3))
    angles[:, 1] = rng.uniform(-np.pi / 2 + 0.1, np.pi / 2 - 0.1, size=64)
    return angles.astype(np.float32)
