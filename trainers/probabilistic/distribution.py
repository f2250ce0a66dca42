"""The Normal that every model of the ladder predicts, built from a parameter tensor.

Keras 3 models cannot reliably return `tfd.Distribution` objects, so each model outputs the
*parameters* of its predictive Normal as one tensor `params` of shape [batch, 2] or [batch, 3]:

    params[..., 0]   loc    (the predictive mean of one forward pass)
    params[..., 1]   scale  (the predictive stddev of one forward pass, > 0)
    params[..., 2]   optional: the epistemic part of `scale`, a stddev e with e <= scale, for
                     layers that integrate weight uncertainty in closed form (the Gaussian
                     process); the aleatoric part is then sqrt(scale**2 - e**2).

The pure functions here turn parameters into a `tfd.Normal` and score targets against it:

    -log N(y; mu, sigma) = 0.5 * log(2 * pi) + log(sigma) + (y - mu)**2 / (2 * sigma**2)

Example:
    >>> import numpy as np
    >>> params = np.array([[0.0, 1.0], [1.0, 2.0]], np.float32)
    >>> to_distribution(params).stddev().numpy().tolist()
    [1.0, 2.0]
    >>> [round(float(v), 5) for v in negative_log_likelihood([0.0, 1.0], params)]
    [0.91894, 1.61209]
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions

LOC, SCALE, EPISTEMIC = 0, 1, 2
PARAM_SIZES = (2, 3)


def check_params(params) -> tf.Tensor:
    """Returns `params` as a float tensor after checking its static last dimension.

    Args:
        params: tensor-like of shape [..., 2] or [..., 3] (see the module docstring).

    Returns:
        A floating point `tf.Tensor` (float32 unless `params` is already floating).

    Raises:
        ValueError: if the last dimension is known and is not 2 or 3.

    Example:
        >>> check_params([[0.0, 1.0]]).shape
        TensorShape([1, 2])
    """
    params = tf.convert_to_tensor(params)
    if not params.dtype.is_floating:
        params = tf.cast(params, tf.float32)
    size = params.shape[-1] if params.shape.rank else None
    if params.shape.rank == 0 or (size is not None and size not in PARAM_SIZES):
        raise ValueError(
            f"Expected Normal parameters of shape [..., 2] (loc, scale) or [..., 3] "
            f"(loc, scale, epistemic stddev). Received: params with shape {params.shape}. "
            f"Make the model end in a `NormalParams` head or a `GaussianProcess` layer.")
    return params


def to_distribution(params, validate_args: bool = False) -> tfd.Normal:
    """Builds the predictive Normal of one forward pass from its parameters.

    Args:
        params: tensor of shape [batch, 2] or [batch, 3]; columns (loc, scale[, epistemic]).
        validate_args: passed to `tfd.Normal` (checks scale > 0 at run time).

    Returns:
        `tfd.Normal` with batch shape [batch]: ask it for `mean()`, `stddev()`,
        `quantile(p)`, `cdf(y)` and `log_prob(y)`.

    Example:
        >>> d = to_distribution([[2.0, 0.5]], validate_args=True)
        >>> float(d.quantile(0.5)[0]), float(d.stddev()[0])
        (2.0, 0.5)
    """
    params = check_params(params)
    return tfd.Normal(loc=params[..., LOC], scale=params[..., SCALE],
                      validate_args=validate_args)


def flatten_targets(y_true, like: tf.Tensor) -> tf.Tensor:
    """Returns targets of shape [batch] or [batch, 1] as a [batch] tensor of `like`'s dtype.

    Args:
        y_true: tensor-like of shape [batch] or [batch, 1].
        like: the parameter tensor whose dtype and batch size the targets must match.

    Returns:
        `tf.Tensor` of shape [batch].

    Raises:
        ValueError: if `y_true` has a known trailing dimension other than 1 on rank 2.

    Example:
        >>> flatten_targets([[1.0], [2.0]], tf.zeros([2, 2])).numpy().tolist()
        [1.0, 2.0]
    """
    y_true = tf.cast(tf.convert_to_tensor(y_true), like.dtype)
    if y_true.shape.rank == 2 and y_true.shape[-1] not in (None, 1):
        raise ValueError(
            f"Expected one target per example, of shape [batch] or [batch, 1]. Received: "
            f"y_true with shape {y_true.shape}. Forecast one step ahead: pass the next value "
            f"of the series only.")
    return tf.reshape(y_true, tf.shape(like)[:-1])


def negative_log_likelihood(y_true, params) -> tf.Tensor:
    """Per-example negative log-likelihood -log N(y; loc, scale) of targets under `params`.

    Args:
        y_true: targets of shape [batch] or [batch, 1].
        params: Normal parameters of shape [batch, 2] or [batch, 3].

    Returns:
        `tf.Tensor` of shape [batch].

    Example:
        >>> round(float(negative_log_likelihood([1.0], [[1.0, 1.0]])[0]), 5)  # 0.5*log(2*pi)
        0.91894
    """
    params = check_params(params)
    return -to_distribution(params).log_prob(flatten_targets(y_true, params))


def expected_negative_log_likelihood(y_true, params) -> tf.Tensor:
    """Per-example E_q[-log N(y; f, noise)] over the closed-form epistemic part of `params`.

    With loc mu, scale s and epistemic stddev e (column 2, zero when absent), f ~ N(mu, e)
    and noise**2 = s**2 - e**2, the expectation is, in closed form,

        -log N(y; mu, noise) + e**2 / (2 * noise**2)

    the data term of the classic sparse-GP ELBO (Hensman et al. 2013). With two columns
    (e = 0) it equals `negative_log_likelihood`.

    Args:
        y_true: targets of shape [batch] or [batch, 1].
        params: Normal parameters of shape [batch, 2] or [batch, 3].

    Returns:
        `tf.Tensor` of shape [batch].

    Example:
        >>> # noise = sqrt(25 - 16) = 3: 0.5*log(2*pi) + log(3) + 16 / 18
        >>> round(float(expected_negative_log_likelihood([0.0], [[0.0, 5.0, 4.0]])[0]), 5)
        2.90644
    """
    params = check_params(params)
    y = flatten_targets(y_true, params)
    loc, scale = params[..., LOC], params[..., SCALE]
    if params.shape[-1] == 3:
        epistemic_var = tf.square(params[..., EPISTEMIC])
    else:
        epistemic_var = tf.zeros_like(scale)
    noise_var = tf.maximum(tf.square(scale) - epistemic_var, 1e-12)
    return -tfd.Normal(loc, tf.sqrt(noise_var)).log_prob(y) + epistemic_var / (2.0 * noise_var)


def squared_error_with_scale(y_true, params) -> tf.Tensor:
    """Per-example squared error of `loc`, plus the NLL of the residual under `scale` alone.

    The loc column gets the gradient of (y - loc)**2 only, as in an ordinary least-squares
    regression; the scale column gets the gradient of -log N(y; stop_gradient(loc), scale),
    whose minimiser for a constant scale is the root-mean-square residual. A deterministic
    MSE model thereby learns its residual scale on the training data while it fits.

    Args:
        y_true: targets of shape [batch] or [batch, 1].
        params: Normal parameters of shape [batch, 2] or [batch, 3].

    Returns:
        `tf.Tensor` of shape [batch].

    Example:
        >>> float(squared_error_with_scale([3.0], [[1.0, 2.0]])[0]) > 4.0
        True
    """
    params = check_params(params)
    y = flatten_targets(y_true, params)
    loc = params[..., LOC]
    residual_nll = -tfd.Normal(tf.stop_gradient(loc), params[..., SCALE]).log_prob(y)
    return tf.square(y - loc) + residual_nll
