"""The pure maths of `distribution`: closed-form likelihoods, shapes and errors."""

import math

import numpy as np
import pytest
import tensorflow as tf

from cuttingedge.trainers.probabilistic import distribution


def _normal_nll(y, mu, sigma):
    return 0.5 * math.log(2 * math.pi) + math.log(sigma) + (y - mu) ** 2 / (2 * sigma ** 2)


def test_negative_log_likelihood_equals_the_closed_form():
    y = np.array([0.0, 1.5, -2.0], np.float32)
    params = np.array([[0.0, 1.0], [1.0, 0.5], [3.0, 2.0]], np.float32)
    expected = [_normal_nll(yi, mu, sigma) for yi, (mu, sigma) in zip(y, params)]
    got = distribution.negative_log_likelihood(y, params).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_targets_of_shape_batch_and_batch_by_one_give_the_same_loss():
    params = np.array([[0.0, 1.0], [1.0, 0.5]], np.float32)
    flat = distribution.negative_log_likelihood([1.0, 2.0], params)
    column = distribution.negative_log_likelihood([[1.0], [2.0]], params)
    np.testing.assert_array_equal(flat.numpy(), column.numpy())


def test_the_third_column_is_ignored_by_the_predictive_likelihood():
    two = distribution.negative_log_likelihood([0.5], [[0.0, 2.0]])
    three = distribution.negative_log_likelihood([0.5], [[0.0, 2.0, 1.5]])
    np.testing.assert_array_equal(two.numpy(), three.numpy())


def test_expected_nll_is_the_closed_form_gaussian_expectation():
    # f ~ N(mu, e), y ~ N(f, noise) with noise**2 = s**2 - e**2:
    # E[-log N(y; f, noise)] = -log N(y; mu, noise) + e**2 / (2 noise**2).
    y, mu, s, e = 1.0, 0.25, 1.3, 0.5
    noise = math.sqrt(s ** 2 - e ** 2)
    expected = _normal_nll(y, mu, noise) + e ** 2 / (2 * noise ** 2)
    got = distribution.expected_negative_log_likelihood([y], [[mu, s, e]])
    np.testing.assert_allclose(got.numpy(), [expected], rtol=1e-6)
    two_columns = distribution.expected_negative_log_likelihood([y], [[mu, s]])
    np.testing.assert_allclose(two_columns.numpy(), [_normal_nll(y, mu, s)], rtol=1e-6)


def test_squared_error_with_scale_splits_the_gradients():
    y = tf.constant([3.0])
    params = tf.Variable([[1.0, 2.0]])
    with tf.GradientTape() as tape:
        loss = distribution.squared_error_with_scale(y, params)
    grad = tape.gradient(loss, params).numpy()[0]
    # d/dloc (y - loc)**2 = -2 (y - loc); d/dsigma [log sigma + r**2 / (2 sigma**2)]
    # = 1/sigma - r**2 / sigma**3.
    residual, sigma = 2.0, 2.0
    np.testing.assert_allclose(grad, [-2 * residual, 1 / sigma - residual ** 2 / sigma ** 3],
                               rtol=1e-6)
    expected = residual ** 2 + _normal_nll(3.0, 1.0, 2.0)
    np.testing.assert_allclose(loss.numpy(), [expected], rtol=1e-6)


def test_to_distribution_answers_mean_stddev_quantile_cdf_and_log_prob():
    normal = distribution.to_distribution([[1.0, 2.0]], validate_args=True)
    assert float(normal.mean()[0]) == 1.0
    assert float(normal.stddev()[0]) == 2.0
    np.testing.assert_allclose(normal.quantile(0.975).numpy(), [1.0 + 1.959964 * 2.0],
                               rtol=1e-5)
    np.testing.assert_allclose(normal.cdf([1.0]).numpy(), [0.5])
    np.testing.assert_allclose(-normal.log_prob([0.0]).numpy(), [_normal_nll(0.0, 1.0, 2.0)],
                               rtol=1e-6)


def test_validate_args_rejects_a_non_positive_scale():
    with pytest.raises(tf.errors.InvalidArgumentError, match="scale"):
        distribution.to_distribution([[0.0, -1.0]], validate_args=True).mean()


def test_bad_parameter_shape_says_what_was_received():
    with pytest.raises(ValueError, match=r"\[\.\.\., 2\].*Received: params with shape \(2, 4\)"):
        distribution.to_distribution(np.zeros([2, 4], np.float32))


def test_bad_target_shape_says_what_was_received():
    with pytest.raises(ValueError, match=r"Received: y_true with shape \(2, 3\)"):
        distribution.negative_log_likelihood(np.zeros([2, 3]), np.ones([2, 2], np.float32))
