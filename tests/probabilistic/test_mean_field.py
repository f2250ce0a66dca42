"""The mean-field maths: closed-form KL and the two sampling estimators."""

import math

import numpy as np
import pytest
import tensorflow_probability as tfp

from cuttingedge.trainers.probabilistic import mean_field

tfd = tfp.distributions


def test_kl_equals_the_closed_form_and_tfp():
    loc = np.array([0.5, -1.0, 0.0], np.float32)
    scale = np.array([0.1, 2.0, 1.0], np.float32)
    prior = 1.5
    expected = sum(math.log(prior / s) + (s ** 2 + m ** 2) / (2 * prior ** 2) - 0.5
                   for m, s in zip(loc, scale))
    np.testing.assert_allclose(float(mean_field.mean_field_kl(loc, scale, prior)), expected,
                               rtol=1e-6)
    reference = tfd.kl_divergence(tfd.Normal(loc, scale, validate_args=True),
                                  tfd.Normal(0.0, prior, validate_args=True))
    np.testing.assert_allclose(float(mean_field.mean_field_kl(loc, scale, prior)),
                               float(np.sum(reference)), rtol=1e-6)


def test_softplus_scale_and_its_inverse():
    raw = mean_field.inverse_softplus_scale(np.array([0.01, 1.0, 5.0]), 0.001)
    np.testing.assert_allclose(mean_field.softplus_scale(raw, 0.001).numpy(), [0.01, 1.0, 5.0],
                               rtol=1e-5)
    np.testing.assert_allclose(float(mean_field.softplus_scale(0.0)), math.log(2.0), rtol=1e-6)


def _weights():
    x = np.array([[1.0, 2.0], [-1.0, 0.5]], np.float32)
    kernel_loc = np.array([[0.5], [-1.0]], np.float32)
    kernel_scale = np.array([[0.1], [0.2]], np.float32)
    bias_loc, bias_scale = np.array([0.3], np.float32), np.array([0.05], np.float32)
    kernel_noise = np.array([[1.0], [-2.0]], np.float32)
    bias_noise = np.array([4.0], np.float32)
    return x, kernel_loc, kernel_scale, bias_loc, bias_scale, kernel_noise, bias_noise


def test_reparameterized_dense_uses_loc_plus_scale_times_noise():
    x, kernel_loc, kernel_scale, bias_loc, bias_scale, kernel_noise, bias_noise = _weights()
    kernel = kernel_loc + kernel_scale * kernel_noise  # [[0.6], [-1.4]]
    expected = x @ kernel + 0.3 + 0.05 * 4.0
    got = mean_field.reparameterized_dense(*_weights())
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6)


@pytest.mark.parametrize("signs", [1.0, -1.0])
def test_flipout_with_equal_signs_is_the_reparameterized_pass(signs):
    args = _weights()
    sign_in = np.full([2, 2], signs, np.float32)
    sign_out = np.full([2, 1], signs, np.float32)
    got = mean_field.flipout_dense(*args, sign_in, sign_out)  # signs**2 = 1
    np.testing.assert_allclose(got.numpy(), mean_field.reparameterized_dense(*args).numpy(),
                               rtol=1e-6)


def test_flipout_flips_the_perturbation_per_example():
    args = _weights()
    x, kernel_loc, kernel_scale, bias_loc, bias_scale, kernel_noise, bias_noise = args
    sign_in = np.array([[1.0, 1.0], [1.0, 1.0]], np.float32)
    sign_out = np.array([[1.0], [-1.0]], np.float32)
    perturbation = x @ (kernel_scale * kernel_noise)
    expected = x @ kernel_loc + perturbation * sign_out + 0.3 + 0.05 * 4.0
    got = mean_field.flipout_dense(*args, sign_in, sign_out)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6)
