"""Fixtures of the ranking tests: seeding and TF-Ranking 0.5.5's reference values."""

import json
from pathlib import Path

import keras
import numpy as np
import pytest

GOLDEN = Path(__file__).parents[1] / "data" / "ranking_golden" / "tf_ranking_0.5.5_cases.json"


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(1234)


@pytest.fixture(scope="session")
def golden_cases():
    """The 60 TF-Ranking cases: dicts with labels, scores, losses and metrics."""
    return json.loads(GOLDEN.read_text())["cases"]


@pytest.fixture(scope="session")
def assert_reference():
    """Checks values against references: relative 1e-5, absolute 1e-7 only for exact zeros."""

    def check(got, want, what):
        got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
        zero = want == 0.0
        bad = np.where(zero, np.abs(got) > 1e-7,
                       np.abs(got - want) > 1e-5 * np.abs(np.where(zero, 1.0, want)))
        assert not bad.any(), (
            f"{what}: {int(bad.sum())} of {bad.size} values differ; first cases "
            f"{np.flatnonzero(bad)[:5].tolist()}: got {got[bad][:5]}, expected {want[bad][:5]}")

    return check
