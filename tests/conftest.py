"""Shared fixtures: fixed seeds, the shared real data sets, quiet TensorFlow."""

import os
import pathlib
import random

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# tensorflow_transform (imported by TFX) switches tf.keras to Keras 2 unless this is set;
# the project's models are Keras 3 and TFP must see Keras 3 too (see BUILD.md).
os.environ.setdefault("TF_USE_LEGACY_KERAS", "0")

REPO = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _seed():
    random.seed(0)
    np.random.seed(0)


@pytest.fixture(scope="session")
def shared_data() -> pathlib.Path:
    """The real data sets shared beside the repository (../shared/data), or
    $CUTTINGEDGE_SHARED_DATA."""
    path = pathlib.Path(os.environ.get("CUTTINGEDGE_SHARED_DATA", REPO.parent / "shared" / "data"))
    if not path.is_dir():
        pytest.fail(f"Shared data not found at {path}; set CUTTINGEDGE_SHARED_DATA.")
    return path


@pytest.fixture(scope="session")
def repo() -> pathlib.Path:
    return REPO
