"""The Keras losses: batch means of the closed forms, and serialisation round trips."""

import math

import keras
import numpy as np
import pytest

from cuttingedge.trainers.probabilistic import losses

Y = np.array([[0.5], [-1.0]], np.float32)
PARAMS = np.array([[0.0, 1.0, 0.5], [-2.0, 0.5, 0.25]], np.float32)


def _nll(y, mu, sigma):
    return 0.5 * math.log(2 * math.pi) + math.log(sigma) + (y - mu) ** 2 / (2 * sigma ** 2)


def test_negative_log_likelihood_loss_is_the_batch_mean():
    expected = np.mean([_nll(0.5, 0.0, 1.0), _nll(-1.0, -2.0, 0.5)])
    np.testing.assert_allclose(float(losses.NegativeLogLikelihood()(Y, PARAMS)), expected,
                               rtol=1e-6)


def test_expected_negative_log_likelihood_loss_is_the_batch_mean():
    def term(y, mu, s, e):
        noise_var = s ** 2 - e ** 2
        return _nll(y, mu, math.sqrt(noise_var)) + e ** 2 / (2 * noise_var)

    expected = np.mean([term(0.5, 0.0, 1.0, 0.5), term(-1.0, -2.0, 0.5, 0.25)])
    got = float(losses.ExpectedNegativeLogLikelihood()(Y, PARAMS))
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_sample_weights_weight_the_examples():
    loss = losses.NegativeLogLikelihood()
    got = float(loss(Y, PARAMS, sample_weight=np.array([1.0, 0.0], np.float32)))
    np.testing.assert_allclose(got, _nll(0.5, 0.0, 1.0) / 2, rtol=1e-6)


@pytest.mark.parametrize("cls", [losses.NegativeLogLikelihood, losses.SquaredErrorWithScale,
                                 losses.ExpectedNegativeLogLikelihood])
def test_loss_serialisation_round_trip(cls):
    loss = cls(name="custom", reduction="sum")
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    assert type(restored) is cls and restored.get_config() == loss.get_config()
    np.testing.assert_allclose(float(restored(Y, PARAMS)), float(loss(Y, PARAMS)))


def test_nll_metric_serialisation_round_trip():
    metric = losses.nll_metric()
    metric.update_state(Y, PARAMS)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(metric))
    restored.update_state(Y, PARAMS)
    np.testing.assert_allclose(float(restored.result()), float(metric.result()), rtol=1e-6)
    assert restored.name == "nll"
