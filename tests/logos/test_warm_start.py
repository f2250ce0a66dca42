"""Warm start: the Trainer continues the last blessed logo model when it fits, else starts afresh."""

import json

import keras
import keras_tuner
import numpy as np
import pytest

from cuttingedge.trainers.logos import model as model_lib
from cuttingedge.trainers.logos.trainer import LogoOptions, warm_start

BRANDS = ["acme", "globex", "initech"]


def cnn(filters: int = 8) -> keras.Model:
    hp = keras_tuner.HyperParameters()
    hp.Fixed("filters", filters)
    return model_lib.small_cnn(hp, 16, len(BRANDS))


@pytest.fixture
def blessed(tmp_path):
    """A saved model laid out as `trainer.save_model` leaves it; its base_model path."""
    keras.utils.set_random_seed(1)
    saved = cnn()
    saved.save(tmp_path / "model.keras")
    (tmp_path / "logos.json").write_text(json.dumps(
        {"brands": BRANDS, "warm_start": {"from": None, "generation": 0}}))
    return saved, str(tmp_path / "Format-Serving")


def test_the_weights_carry_over_and_the_generation_counts(blessed):
    saved, base = blessed
    keras.utils.set_random_seed(2)
    fresh = cnn()
    warm = warm_start(fresh, base, BRANDS)
    assert warm["generation"] == 1 and warm["from"] and "warm start" in warm["note"]
    for mine, theirs in zip(fresh.get_weights(), saved.get_weights()):
        np.testing.assert_array_equal(mine, theirs)


@pytest.mark.parametrize("change, reason", [
    ("brands", "brand list differs"),
    ("architecture", "architecture differs"),
    ("missing", "could not be read"),
])
def test_a_base_model_that_does_not_fit_leaves_the_network_untouched(blessed, change, reason):
    saved, base = blessed
    fresh = cnn(filters=16 if change == "architecture" else 8)
    before = [w.copy() for w in fresh.get_weights()]
    brands = BRANDS[::-1] if change == "brands" else BRANDS
    warm = warm_start(fresh, "/no/such/model/Format-Serving" if change == "missing" else base,
                      brands)
    assert warm["from"] is None and warm["generation"] == 0
    assert reason in warm["note"] and "from scratch" in warm["note"]
    for mine, earlier in zip(fresh.get_weights(), before):
        np.testing.assert_array_equal(mine, earlier)


def test_no_base_model_means_a_fresh_start():
    assert warm_start(cnn(), None, BRANDS)["generation"] == 0


def test_the_warm_start_learning_rate_must_be_positive():
    with pytest.raises(ValueError, match="warm_start_learning_rate"):
        LogoOptions(warm_start_learning_rate=0.0)
