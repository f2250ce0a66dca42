"""Maths of a dense layer with mean-field Normal weights: sampling estimators and the KL term.

Every weight w has its own posterior q(w) = N(loc, scale) and the prior p(w) = N(0, s0).
One forward pass draws eps ~ N(0, 1) and uses w = loc + scale * eps:

    reparameterisation:  y = x @ (K_loc + K_scale * E) + (b_loc + b_scale * e)
    Flipout:             y = x @ K_loc + ((x * r_in) @ (K_scale * E)) * r_out + b
                         with random signs r_in [batch, in], r_out [batch, units], so that
                         examples of a batch see decorrelated weight perturbations
                         (Wen et al. 2018, "Flipout").

    KL(q || p) = sum over weights of  log(s0 / scale) + (scale**2 + loc**2) / (2 * s0**2) - 1/2

The noise is an argument so that the functions are deterministic and testable.

Example:
    >>> import numpy as np
    >>> x = np.ones([1, 2], np.float32)
    >>> k_loc, k_scale = np.ones([2, 1], np.float32), np.zeros([2, 1], np.float32)
    >>> b = np.zeros([1], np.float32)
    >>> noise = np.ones([2, 1], np.float32)
    >>> reparameterized_dense(x, k_loc, k_scale, b, b, noise, b).numpy().tolist()
    [[2.0]]
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions


def softplus_scale(raw, min_scale: float = 0.0) -> tf.Tensor:
    """Maps an unconstrained tensor to a positive scale: softplus(raw) + min_scale.

    Args:
        raw: unconstrained float tensor.
        min_scale: floor added after the softplus, >= 0.

    Returns:
        `tf.Tensor` like `raw`, > min_scale.

    Example:
        >>> round(float(softplus_scale(0.0, 0.5)), 5)  # log(2) + 0.5
        1.19315
    """
    return tf.nn.softplus(raw) + min_scale


def inverse_softplus_scale(scale, min_scale: float = 0.0) -> tf.Tensor:
    """The inverse of `softplus_scale`: log(expm1(scale - min_scale)).

    Args:
        scale: tensor-like > min_scale.
        min_scale: the floor used by `softplus_scale`.

    Returns:
        float32 `tf.Tensor` raw such that softplus_scale(raw, min_scale) == scale.

    Example:
        >>> round(float(softplus_scale(inverse_softplus_scale(2.0, 0.5), 0.5)), 5)
        2.0
    """
    return tfp.math.softplus_inverse(tf.cast(scale, tf.float32) - min_scale)


def mean_field_kl(loc, scale, prior_scale: float) -> tf.Tensor:
    """Sum over weights of KL(N(loc, scale) || N(0, prior_scale)), in closed form.

    Args:
        loc: posterior means, any shape.
        scale: posterior stddevs, shape of `loc`, > 0.
        prior_scale: stddev of the zero-mean Normal prior, > 0.

    Returns:
        Scalar `tf.Tensor`.

    Example:
        >>> float(mean_field_kl([0.0, 0.0], [1.0, 1.0], 1.0))  # posterior == prior
        0.0
    """
    loc = tf.convert_to_tensor(loc, tf.float32)
    scale = tf.convert_to_tensor(scale, tf.float32)
    prior = tfd.Normal(tf.zeros_like(loc), tf.cast(prior_scale, loc.dtype))
    return tf.reduce_sum(tfd.kl_divergence(tfd.Normal(loc, scale), prior))


def _floats(*tensors) -> list[tf.Tensor]:
    return [tf.convert_to_tensor(t, tf.float32) for t in tensors]


def reparameterized_dense(x, kernel_loc, kernel_scale, bias_loc, bias_scale,
                          kernel_noise, bias_noise) -> tf.Tensor:
    """One dense pass with weights loc + scale * noise shared by the whole batch.

    Args:
        x: inputs [batch, in].
        kernel_loc, kernel_scale, kernel_noise: [in, units].
        bias_loc, bias_scale, bias_noise: [units].

    Returns:
        `tf.Tensor` [batch, units].

    Example:
        >>> import numpy as np
        >>> z = np.zeros([1], np.float32)
        >>> reparameterized_dense(np.ones([1, 1], np.float32), [[1.0]], [[2.0]], z, z,
        ...                       [[0.5]], z).numpy().tolist()
        [[2.0]]
    """
    x, kernel_loc, kernel_scale, bias_loc, bias_scale, kernel_noise, bias_noise = _floats(
        x, kernel_loc, kernel_scale, bias_loc, bias_scale, kernel_noise, bias_noise)
    kernel = kernel_loc + kernel_scale * kernel_noise
    return tf.matmul(x, kernel) + bias_loc + bias_scale * bias_noise


def flipout_dense(x, kernel_loc, kernel_scale, bias_loc, bias_scale, kernel_noise,
                  bias_noise, sign_in, sign_out) -> tf.Tensor:
    """One dense pass with the Flipout estimator (per-example pseudo-independent weights).

    Args:
        x: inputs [batch, in].
        kernel_loc, kernel_scale, kernel_noise: [in, units].
        bias_loc, bias_scale, bias_noise: [units].
        sign_in: random +-1 signs [batch, in].
        sign_out: random +-1 signs [batch, units].

    Returns:
        `tf.Tensor` [batch, units].

    Example:
        >>> import numpy as np
        >>> z = np.zeros([1], np.float32)
        >>> flipout_dense(np.ones([1, 1], np.float32), [[1.0]], [[2.0]], z, z, [[0.5]], z,
        ...               [[-1.0]], [[1.0]]).numpy().tolist()  # 1 + (-1 * 2 * 0.5) * 1
        [[0.0]]
    """
    (x, kernel_loc, kernel_scale, bias_loc, bias_scale, kernel_noise, bias_noise, sign_in,
     sign_out) = _floats(x, kernel_loc, kernel_scale, bias_loc, bias_scale, kernel_noise,
                         bias_noise, sign_in, sign_out)
    mean = tf.matmul(x, kernel_loc)
    perturbation = tf.matmul(x * sign_in, kernel_scale * kernel_noise) * sign_out
    return mean + perturbation + bias_loc + bias_scale * bias_noise
