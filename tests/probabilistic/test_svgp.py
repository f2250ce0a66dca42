"""The whitened SVGP maths equal TFP's `VariationalGaussianProcess` and the closed forms."""

import numpy as np
import pytest
import tensorflow_probability as tfp

from cuttingedge.trainers.probabilistic import svgp

tfd = tfp.distributions
psd_kernels = tfp.math.psd_kernels


@pytest.fixture
def problem(rng):
    kernel = psd_kernels.ExponentiatedQuadratic(np.float32(1.3), np.float32(0.7),
                                                validate_args=True)
    inducing = rng.normal(size=[5, 2]).astype(np.float32)
    index = rng.normal(size=[7, 2]).astype(np.float32)
    loc = rng.normal(size=[5]).astype(np.float32)
    scale_tril = np.tril(0.3 * rng.normal(size=[5, 5])).astype(np.float32)
    np.fill_diagonal(scale_tril, np.abs(np.diag(scale_tril)) + 0.5)
    return kernel, index, inducing, loc, scale_tril


def test_predictive_moments_equal_tfp_whitened_vgp(problem):
    kernel, index, inducing, loc, scale_tril = problem
    mean, variance = svgp.predictive_moments(kernel, index, inducing, loc, scale_tril,
                                             mean_constant=0.25, jitter=1e-6)
    # TFP whitens u itself, here v whitens u - c: TFP's loc is m + L^-1 (c * 1).
    chol = np.linalg.cholesky(kernel.matrix(inducing, inducing).numpy() + 1e-6 * np.eye(5))
    tfp_loc = (loc + np.linalg.solve(chol, np.full(5, 0.25))).astype(np.float32)
    reference = tfd.VariationalGaussianProcess(
        kernel, index, inducing, tfp_loc, scale_tril,
        mean_fn=lambda x: 0.25 + 0.0 * x[..., 0],
        observation_noise_variance=0.0, use_whitening_transform=True, jitter=1e-6,
        validate_args=True)
    np.testing.assert_allclose(mean.numpy(), reference.mean().numpy(), atol=1e-5)
    np.testing.assert_allclose(variance.numpy(), reference.variance().numpy(), atol=1e-5)


def test_kl_equals_tfp_whitened_vgp(problem):
    kernel, index, inducing, loc, scale_tril = problem
    reference = tfd.VariationalGaussianProcess(
        kernel, index, inducing, loc, scale_tril, observation_noise_variance=0.0,
        use_whitening_transform=True, validate_args=True)
    np.testing.assert_allclose(float(svgp.whitened_kl(loc, scale_tril)),
                               float(reference.surrogate_posterior_kl_divergence_prior()),
                               rtol=1e-5)


def test_kl_closed_form_for_a_diagonal_posterior():
    # KL(N(m, diag(s**2)) || N(0, I)) = sum(0.5 * (s**2 + m**2 - 1) - log s)
    m, s = np.array([1.0, -0.5], np.float32), np.array([0.5, 2.0], np.float32)
    expected = np.sum(0.5 * (s ** 2 + m ** 2 - 1) - np.log(s))
    np.testing.assert_allclose(float(svgp.whitened_kl(m, np.diag(s))), expected, rtol=1e-6)


def test_at_the_prior_the_predictive_is_the_gp_prior(problem):
    kernel, index, inducing, _, _ = problem
    mean, variance = svgp.predictive_moments(kernel, index, inducing, np.zeros(5, np.float32),
                                             np.eye(5, dtype=np.float32))
    np.testing.assert_allclose(mean.numpy(), 0.0, atol=1e-6)
    np.testing.assert_allclose(variance.numpy(), 1.3 ** 2, rtol=1e-4)
    assert float(svgp.whitened_kl(np.zeros(5), np.eye(5))) == pytest.approx(0.0, abs=1e-6)


def test_with_a_collapsed_posterior_the_inducing_points_are_interpolated():
    # Lv -> 0 and m = L^-1 u: f(Z) = u exactly, with no variance (up to jitter).
    kernel = psd_kernels.ExponentiatedQuadratic(np.float32(1.0), np.float32(1.0))
    inducing = np.array([[-1.0], [0.0], [1.0]], np.float32)
    values = np.array([0.5, -1.0, 2.0], np.float32)
    chol = np.linalg.cholesky(kernel.matrix(inducing, inducing).numpy() + 1e-6 * np.eye(3))
    loc = np.linalg.solve(chol, values).astype(np.float32)
    mean, variance = svgp.predictive_moments(kernel, inducing, inducing, loc,
                                             1e-4 * np.eye(3, dtype=np.float32))
    np.testing.assert_allclose(mean.numpy(), values, atol=1e-3)
    np.testing.assert_allclose(variance.numpy(), 0.0, atol=1e-4)


def test_fill_scale_tril_keeps_the_lower_triangle_and_a_positive_diagonal():
    raw = np.array([[0.0, 9.0], [-3.0, -50.0]], np.float32)
    got = svgp.fill_scale_tril(raw, min_diagonal=1e-3).numpy()
    np.testing.assert_allclose(got, [[np.log(2.0) + 1e-3, 0.0], [-3.0, 1e-3]], rtol=1e-5)
