"""Closed-form maths of a whitened sparse variational Gaussian process (SVGP).

With a constant prior mean c, inducing points Z [M, d], Kzz = k(Z, Z) + jitter * I = L @ L^T
and the whitened variational distribution q(v) = N(m, S), S = Lv @ Lv^T, over
v = L^-1 (u - c) (prior N(0, I); u = f(Z)),
the predictive marginals of f at index points X [N, d] are (Titsias 2009; Hensman et al. 2013):

    A        = L^-1 @ k(Z, X)                                    [M, N]
    mean(x)  = c + A[:, x]^T @ m
    var(x)   = k(x, x) - sum_i A[i, x]**2 + sum_j (Lv^T @ A)[j, x]**2

and the KL term of the ELBO is

    KL(q(v) || N(0, I)) = 0.5 * (sum(Lv**2) + m^T m - M - 2 * sum(log diag Lv)).

These equal `tfd.VariationalGaussianProcess(..., use_whitening_transform=True)`, whose
loc whitens u rather than u - c (TFP loc = m + L^-1 c; see the tests), without building
a distribution over all batch points jointly.

Example:
    >>> import numpy as np, tensorflow_probability as tfp
    >>> kernel = tfp.math.psd_kernels.ExponentiatedQuadratic(1.0, 1.0)
    >>> z = np.zeros([1, 1], np.float32)
    >>> mean, var = predictive_moments(kernel, z, z, np.zeros([1], np.float32),
    ...                                np.eye(1, dtype=np.float32))
    >>> float(mean[0]), round(float(var[0]), 5)  # q(v) is the prior: f(0) ~ N(0, 1)
    (0.0, 1.0)
"""

from __future__ import annotations

import tensorflow as tf


def fill_scale_tril(raw, min_diagonal: float = 1e-5) -> tf.Tensor:
    """Maps an unconstrained [M, M] matrix to a lower-triangular one with a positive diagonal.

    The strictly lower triangle is kept as is; the diagonal becomes
    softplus(diag(raw)) + min_diagonal; the upper triangle is dropped.

    Args:
        raw: float tensor [M, M].
        min_diagonal: floor on the diagonal.

    Returns:
        `tf.Tensor` [M, M], a valid Cholesky factor.

    Example:
        >>> fill_scale_tril([[0.0, 5.0], [2.0, 0.0]], 0.0).numpy()  # softplus(0) = log(2)
        array([[0.6931472, 0.       ],
               [2.       , 0.6931472]], dtype=float32)
    """
    raw = tf.convert_to_tensor(raw, tf.float32)
    lower = tf.linalg.band_part(raw, -1, 0) - tf.linalg.diag(tf.linalg.diag_part(raw))
    return lower + tf.linalg.diag(tf.nn.softplus(tf.linalg.diag_part(raw)) + min_diagonal)


def predictive_moments(kernel, index_points, inducing_points, variational_loc,
                       variational_scale_tril, mean_constant=0.0,
                       jitter: float = 1e-6) -> tuple[tf.Tensor, tf.Tensor]:
    """Marginal predictive mean and variance of f at each index point.

    Args:
        kernel: a `tfp.math.psd_kernels` kernel with `feature_ndims == 1`.
        index_points: [N, d] points to predict at.
        inducing_points: [M, d].
        variational_loc: whitened variational mean m [M].
        variational_scale_tril: whitened variational scale Lv [M, M], lower-triangular.
        mean_constant: constant prior mean c.
        jitter: added to the diagonal of k(Z, Z) before the Cholesky decomposition.

    Returns:
        (mean [N], variance [N]) of f, without observation noise.

    Example:
        >>> import numpy as np, tensorflow_probability as tfp
        >>> kernel = tfp.math.psd_kernels.ExponentiatedQuadratic(2.0, 1.0)
        >>> far = np.full([1, 1], 50.0, np.float32)
        >>> mean, var = predictive_moments(kernel, far, np.zeros([1, 1], np.float32),
        ...                                [3.0], [[0.1]], mean_constant=1.0)
        >>> float(mean[0]), float(var[0])  # far from Z: the prior N(c, amplitude**2)
        (1.0, 4.0)
    """
    z = tf.convert_to_tensor(inducing_points, tf.float32)
    x = tf.convert_to_tensor(index_points, tf.float32)
    kzz = kernel.matrix(z, z) + jitter * tf.eye(tf.shape(z)[0], dtype=z.dtype)
    chol = tf.linalg.cholesky(kzz)
    a = tf.linalg.triangular_solve(chol, kernel.matrix(z, x), lower=True)
    m = tf.convert_to_tensor(variational_loc, tf.float32)
    lv = tf.convert_to_tensor(variational_scale_tril, tf.float32)
    mean = tf.linalg.matvec(a, m, transpose_a=True) + mean_constant
    explained = tf.matmul(lv, a, transpose_a=True)
    variance = (kernel.apply(x, x) - tf.reduce_sum(tf.square(a), axis=0)
                + tf.reduce_sum(tf.square(explained), axis=0))
    return mean, tf.maximum(variance, 0.0)


def whitened_kl(variational_loc, variational_scale_tril) -> tf.Tensor:
    """KL(N(m, Lv Lv^T) || N(0, I)) in closed form.

    Args:
        variational_loc: m [M].
        variational_scale_tril: Lv [M, M], lower-triangular with a positive diagonal.

    Returns:
        Scalar `tf.Tensor`.

    Example:
        >>> import numpy as np
        >>> float(whitened_kl(np.zeros(3, np.float32), np.eye(3, dtype=np.float32)))
        0.0
    """
    m = tf.convert_to_tensor(variational_loc, tf.float32)
    lv = tf.convert_to_tensor(variational_scale_tril, tf.float32)
    size = tf.cast(tf.shape(m)[0], m.dtype)
    log_det = 2.0 * tf.reduce_sum(tf.math.log(tf.linalg.diag_part(lv)))
    return 0.5 * (tf.reduce_sum(tf.square(lv)) + tf.reduce_sum(tf.square(m)) - size - log_det)
