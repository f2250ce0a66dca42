"""Predictive summaries: the law of total variance, the mixture, the moment-matched Normal."""

import gc
import weakref

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from cuttingedge.trainers.probabilistic import predictive
from cuttingedge.trainers.probabilistic.ladder import build_model
from cuttingedge.trainers.probabilistic.layers import NormalParams

tfd = tfp.distributions

# Three passes, two examples: locs and scales.
LOCS = np.array([[0.0, 1.0], [1.0, 1.0], [2.0, 4.0]], np.float32)
SCALES = np.array([[1.0, 0.5], [2.0, 0.5], [2.0, 1.0]], np.float32)
PARAMS = np.stack([LOCS, SCALES], axis=-1)


def test_summarize_is_the_law_of_total_variance():
    moments = {k: v.numpy() for k, v in predictive.summarize(PARAMS).items()}
    aleatoric_var = np.mean(SCALES ** 2, axis=0)
    epistemic_var = np.var(LOCS, axis=0)
    np.testing.assert_allclose(moments["mean"], LOCS.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(moments["aleatoric_stddev"], np.sqrt(aleatoric_var), rtol=1e-6)
    np.testing.assert_allclose(moments["epistemic_stddev"], np.sqrt(epistemic_var), rtol=1e-6)
    np.testing.assert_allclose(moments["stddev"], np.sqrt(aleatoric_var + epistemic_var),
                               rtol=1e-6)


def test_summarize_moves_the_closed_form_epistemic_part():
    # One pass of loc 1, scale 5 of which 4 is epistemic: aleatoric 3.
    moments = predictive.summarize([[[1.0, 5.0, 4.0]]])
    assert [float(moments[k][0]) for k in ("mean", "stddev", "aleatoric_stddev",
                                           "epistemic_stddev")] == [1.0, 5.0, 3.0, 4.0]


def test_mixture_matches_the_summary_and_the_average_density():
    mix = predictive.mixture(PARAMS, validate_args=True)
    moments = predictive.summarize(PARAMS)
    np.testing.assert_allclose(mix.mean().numpy(), moments["mean"].numpy(), rtol=1e-6)
    np.testing.assert_allclose(mix.stddev().numpy(), moments["stddev"].numpy(), rtol=1e-5)
    y = np.array([0.5, 2.0], np.float32)
    components = tfd.Normal(LOCS, SCALES, validate_args=True)
    expected = np.log(np.mean(np.exp(components.log_prob(y).numpy()), axis=0))
    np.testing.assert_allclose(mix.log_prob(y).numpy(), expected, rtol=1e-5)
    expected_cdf = np.mean(components.cdf(y).numpy(), axis=0)
    np.testing.assert_allclose(mix.cdf(y).numpy(), expected_cdf, rtol=1e-5)


def test_summary_normal_has_closed_form_quantiles():
    summary = predictive.PredictiveSummary(np.array([1.0]), np.array([2.0]), np.array([2.0]),
                                           np.array([0.0]))
    normal = summary.to_normal(validate_args=True)
    np.testing.assert_allclose(normal.quantile([0.025, 0.5, 0.975]).numpy(),
                               [1.0 - 1.959964 * 2.0, 1.0, 1.0 + 1.959964 * 2.0], rtol=1e-5)


def test_summary_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"one shape\. Received shapes \{'mean': \(2,\)"):
        predictive.PredictiveSummary(np.zeros(2), np.zeros(3), np.zeros(3), np.zeros(3))


def test_deterministic_models_are_called_once():
    inputs = keras.Input([1])
    model = keras.Model(inputs, NormalParams(0.5)(keras.layers.Dense(1)(inputs)))
    assert not predictive.is_stochastic(model)
    assert predictive.sample_params(model, np.zeros([3, 1]), samples=50).shape == (1, 3, 2)


def test_bayesian_models_are_sampled_and_work_inside_tf_function():
    model = build_model("bayesian", window=2, hidden_units=(4,), num_train_examples=10)
    assert predictive.is_stochastic(model)
    draws = tf.function(lambda x: predictive.sample_params(model, x, 6))(tf.ones([3, 2]))
    assert draws.shape == (6, 3, 2) and np.std(draws.numpy()[:, 0, 0]) > 0


def test_the_cached_sampling_graph_does_not_keep_the_model_alive():
    model = build_model("bayesian", window=1, hidden_units=(2,), num_train_examples=5)
    predictive.predict_distribution(model, np.zeros([2, 1]), samples=3)
    predictive.predict_distribution(model, np.zeros([5, 1]), samples=4)  # no retrace needed
    reference = weakref.ref(model)
    del model
    gc.collect()
    assert reference() is None


@pytest.mark.parametrize("samples", [0, 2.0, True])
def test_samples_must_be_a_positive_integer(samples):
    model = build_model("fixed_scale", window=1)
    with pytest.raises(ValueError, match=f"Received: samples={samples!r}"):
        predictive.predict_distribution(model, np.zeros([1, 1]), samples=samples)
