"""Keras 3 losses and metrics on Normal parameters: thin wrappers over `distribution`.

Each loss is called as `loss(y_true, params)` with targets of shape [batch] or [batch, 1]
and parameters [batch, 2|3] (loc, scale[, epistemic]); Keras averages over the batch.
Layer losses (KL terms added with `add_loss`) are added by Keras on top.

Example:
    >>> import numpy as np
    >>> loss = NegativeLogLikelihood()
    >>> round(float(loss(np.zeros(2), np.array([[0.0, 1.0], [0.0, 1.0]]))), 5)
    0.91894
"""

from __future__ import annotations

import keras

from cuttingedge.trainers.probabilistic import distribution

PACKAGE = "cuttingedge.probabilistic"


@keras.saving.register_keras_serializable(package=PACKAGE)
class NegativeLogLikelihood(keras.losses.Loss):
    """Mean negative log-likelihood -log N(y; loc, scale) (`distribution.negative_log_likelihood`).

    Args:
        name: name of the loss.
        reduction: Keras reduction, "sum_over_batch_size" by default.

    Example:
        >>> round(float(NegativeLogLikelihood()([[2.0]], [[0.0, 2.0]])), 5)
        2.11209
    """

    def __init__(self, name: str = "negative_log_likelihood",
                 reduction: str = "sum_over_batch_size"):
        super().__init__(name=name, reduction=reduction)

    def call(self, y_true, y_pred):
        return distribution.negative_log_likelihood(y_true, y_pred)


@keras.saving.register_keras_serializable(package=PACKAGE)
class ExpectedNegativeLogLikelihood(keras.losses.Loss):
    """Mean E_q[-log N(y; f, noise)] (`distribution.expected_negative_log_likelihood`).

    The data term of the sparse variational GP's ELBO, in closed form from the GP layer's
    (loc, scale, epistemic stddev) output; with the layer's KL loss Keras minimises the
    negative ELBO per example. Equals `NegativeLogLikelihood` on two-column parameters.

    Args:
        name: name of the loss.
        reduction: Keras reduction, "sum_over_batch_size" by default.

    Example:
        >>> round(float(ExpectedNegativeLogLikelihood()([[0.0]], [[0.0, 5.0, 4.0]])), 5)
        2.90644
    """

    def __init__(self, name: str = "expected_negative_log_likelihood",
                 reduction: str = "sum_over_batch_size"):
        super().__init__(name=name, reduction=reduction)

    def call(self, y_true, y_pred):
        return distribution.expected_negative_log_likelihood(y_true, y_pred)


@keras.saving.register_keras_serializable(package=PACKAGE)
class SquaredErrorWithScale(keras.losses.Loss):
    """MSE on loc, with the scale column fitted to the residuals (`squared_error_with_scale`).

    The loss of the deterministic baseline: its mean is an ordinary least-squares fit, and
    its constant scale converges to the root-mean-square training residual.

    Args:
        name: name of the loss.
        reduction: Keras reduction, "sum_over_batch_size" by default.

    Example:
        >>> float(SquaredErrorWithScale()([[3.0]], [[1.0, 2.0]])) > 4.0
        True
    """

    def __init__(self, name: str = "squared_error_with_scale",
                 reduction: str = "sum_over_batch_size"):
        super().__init__(name=name, reduction=reduction)

    def call(self, y_true, y_pred):
        return distribution.squared_error_with_scale(y_true, y_pred)


@keras.saving.register_keras_serializable(package=PACKAGE)
def nll(y_true, y_pred):
    """The metric function: per-example NLL, comparable across every step of the ladder.

    Example:
        >>> round(float(nll([0.0], [[0.0, 1.0]])[0]), 5)
        0.91894
    """
    return distribution.negative_log_likelihood(y_true, y_pred)


def nll_metric() -> keras.metrics.Metric:
    """Returns a fresh `MeanMetricWrapper` named "nll" (logged as "nll" and "val_nll").

    Example:
        >>> nll_metric().name
        'nll'
    """
    return keras.metrics.MeanMetricWrapper(nll, name="nll")
