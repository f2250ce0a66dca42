"""Keras 3 ranking losses with TF-Ranking 0.5.5's names, arguments and values.

Thin serialisable wrappers over `losses_impl`; the maths and its conventions (padding,
weights, reduction) are documented there. Each loss is called as `loss(labels, scores)`
on [batch_size, list_size] tensors with label -1 on padded slots, and works in
`model.compile(loss=...)`. Only TF-Ranking's default reduction (AUTO, a sum over the
batch divided by its number of elements) is provided.

Example:
    >>> loss = get("softmax")()
    >>> round(float(loss([[1.0, 0.0, -1.0]], [[0.6, 0.8, 5.0]])), 5)
    0.79814
"""

from __future__ import annotations

import keras
import tensorflow as tf

from cuttingedge.trainers.ranking import losses_impl

_PACKAGE = "cuttingedge.ranking"


class RankingLoss(keras.losses.Loss):
    """Base class: a `losses_impl` function plus its keyword options, serialised by config.

    Args:
        loss_fn: function `(labels, logits, weights=None, **options) -> scalar`.
        name: name of the loss.
        **options: keyword options of `loss_fn`, stored in `get_config`.
    """

    def __init__(self, loss_fn, name=None, **options):
        super().__init__(name=name)
        self._loss_fn = loss_fn
        self._options = options

    def __call__(self, y_true, y_pred, sample_weight=None):
        """Returns the scalar loss; `sample_weight` is per-list or per-item (TF-Ranking's)."""
        with tf.name_scope(self.name):
            loss = self._loss_fn(y_true, y_pred, weights=sample_weight, **self._options)
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            return loss / replicas if replicas > 1 else loss

    def call(self, y_true, y_pred):
        return self._loss_fn(y_true, y_pred, **self._options)

    def get_config(self):
        return {"name": self.name, **self._options}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class SigmoidCrossEntropyLoss(RankingLoss):
    """Pointwise sigmoid cross entropy for 0/1 labels (`losses_impl.sigmoid_cross_entropy_loss`).

    Example:
        >>> round(float(SigmoidCrossEntropyLoss()([[1.0, 0.0]], [[0.6, 0.8]])), 5)
        0.80429
    """

    def __init__(self, name=None, temperature: float = 1.0):
        super().__init__(losses_impl.sigmoid_cross_entropy_loss, name=name,
                         temperature=temperature)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class MeanSquaredLoss(RankingLoss):
    """Pointwise squared error (`losses_impl.mean_squared_loss`).

    Example:
        >>> round(float(MeanSquaredLoss()([[1.0, 0.0]], [[0.6, 0.8]])), 5)
        0.4
    """

    def __init__(self, name=None):
        super().__init__(losses_impl.mean_squared_loss, name=name)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class PairwiseLogisticLoss(RankingLoss):
    """Pairwise logistic loss (`losses_impl.pairwise_logistic_loss`).

    Example:
        >>> round(float(PairwiseLogisticLoss()([[1.0, 0.0]], [[0.6, 0.8]])), 5)
        0.39907
    """

    def __init__(self, name=None, temperature: float = 1.0):
        super().__init__(losses_impl.pairwise_logistic_loss, name=name,
                         temperature=temperature)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class PairwiseHingeLoss(RankingLoss):
    """Pairwise hinge loss (`losses_impl.pairwise_hinge_loss`).

    Example:
        >>> round(float(PairwiseHingeLoss()([[1.0, 0.0]], [[0.6, 0.8]])), 5)
        0.6
    """

    def __init__(self, name=None, temperature: float = 1.0):
        super().__init__(losses_impl.pairwise_hinge_loss, name=name, temperature=temperature)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class SoftmaxLoss(RankingLoss):
    """Listwise softmax cross entropy (`losses_impl.softmax_loss`).

    Example:
        >>> round(float(SoftmaxLoss()([[1.0, 0.0]], [[0.6, 0.8]])), 5)
        0.79814
    """

    def __init__(self, name=None, temperature: float = 1.0):
        super().__init__(losses_impl.softmax_loss, name=name, temperature=temperature)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ListMLELoss(RankingLoss):
    """ListMLE, Plackett-Luce likelihood of the label order (`losses_impl.list_mle_loss`).

    Ties in labels are shuffled at random unless `shuffle_ties=False`.

    Example:
        >>> round(float(ListMLELoss()([[1.0, 0.0]], [[0.6, 0.8]])), 5)
        0.79814
    """

    def __init__(self, name=None, temperature: float = 1.0, shuffle_ties: bool = True,
                 seed=None):
        super().__init__(losses_impl.list_mle_loss, name=name, temperature=temperature,
                         shuffle_ties=shuffle_ties, seed=seed)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ApproxNDCGLoss(RankingLoss):
    """Minus NDCG with sigmoid-approximated ranks (`losses_impl.approx_ndcg_loss`).

    Example:
        >>> round(float(ApproxNDCGLoss()([[1.0, 0.0]], [[0.6, 0.8]])), 5)
        -0.65511
    """

    def __init__(self, name=None, temperature: float = 0.1):
        super().__init__(losses_impl.approx_ndcg_loss, name=name, temperature=temperature)


LOSSES: dict[str, type[RankingLoss]] = {
    "sigmoid_cross_entropy": SigmoidCrossEntropyLoss,
    "mean_squared": MeanSquaredLoss,
    "pairwise_logistic": PairwiseLogisticLoss,
    "pairwise_hinge": PairwiseHingeLoss,
    "softmax": SoftmaxLoss,
    "list_mle": ListMLELoss,
    "approx_ndcg": ApproxNDCGLoss,
}


def get(name: str) -> type[RankingLoss]:
    """Returns the loss class for a name; TF-Ranking's keys ("softmax_loss") work too.

    Args:
        name: one of `sorted(LOSSES)`, optionally with a "_loss" suffix.

    Returns:
        The `RankingLoss` subclass; instantiate it with its keyword arguments.

    Raises:
        ValueError: for an unknown name, listing the valid ones.

    Example:
        >>> get("approx_ndcg_loss")(temperature=0.5).get_config()["temperature"]
        0.5
    """
    key = name.removesuffix("_loss") if isinstance(name, str) else name
    if key not in LOSSES:
        raise ValueError(f"Unknown ranking loss {name!r}. Expected one of {sorted(LOSSES)}.")
    return LOSSES[key]
