"""Keras 3 ranking metrics with TF-Ranking 0.5.5's values.

Each metric is a weighted mean over lists of a per-list function of `metrics_impl`, whose
docstring states the conventions: padded slots (label -1) are ignored, every list weighs 1
(lists without a relevant item count as 0 for NDCG, DCG, MRR, precision, recall and MAP),
ARP and OPA weigh lists by label sum and by pair count, tied scores keep their list order.

A custom metric is one small class:

    >>> import tensorflow as tf
    >>> from cuttingedge.trainers.ranking import metrics_impl, utils
    >>> def hits(labels, scores, weights, mask, topn=None):
    ...     idx = utils.sort_indices(scores, mask)
    ...     (top,) = utils.gather_sorted(idx, [labels], topn)
    ...     value = tf.reduce_max(tf.cast(top >= 1.0, top.dtype), axis=1, keepdims=True)
    ...     return value, metrics_impl.per_list_weights(weights, tf.cast(labels >= 1.0,
    ...                                                                  labels.dtype))
    >>> class HitsMetric(RankingMetric):
    ...     def __init__(self, topn=None, name=None, dtype=None):
    ...         super().__init__(hits, name=name or default_name("hits", topn), dtype=dtype,
    ...                          topn=topn)
    >>> m = HitsMetric(topn=1)
    >>> m.update_state([[0.0, 1.0], [1.0, 0.0]], [[0.2, 0.1], [0.2, 0.1]])
    >>> float(m.result())
    0.5

Register it with `@keras.saving.register_keras_serializable(package=...)` to save models.
"""

from __future__ import annotations

import numbers

import keras

from cuttingedge.trainers.ranking import metrics_impl

_PACKAGE = "cuttingedge.ranking"


def default_name(base: str, topn=None) -> str:
    """Metric name as shown in history and TensorBoard: "ndcg" or "ndcg_5".

    Example:
        >>> default_name("ndcg", 5)
        'ndcg_5'
    """
    return base if topn is None else f"{base}_{topn}"


class RankingMetric(keras.metrics.Mean):
    """Weighted mean over lists of a per-list metric function.

    Args:
        per_list_fn: `fn(labels, scores, weights, mask, **options) -> (values, list_weights)`
            on inputs prepared by `metrics_impl.prepare`, both outputs [batch_size, 1].
        name: metric name; defaults to the function's name.
        dtype: dtype of the metric state.
        **options: keyword options of `per_list_fn` (e.g. `topn`), stored in `get_config`.

    Subclasses fix `per_list_fn` and accept `name`, `dtype` and the options as keyword
    arguments, so that the inherited `from_config` rebuilds them.
    """

    def __init__(self, per_list_fn, name=None, dtype=None, **options):
        super().__init__(name=name or per_list_fn.__name__, dtype=dtype)
        self._per_list_fn = per_list_fn
        self._options = options

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Adds a batch of lists; `sample_weight` is per-list or per-item (TF-Ranking's)."""
        prepared = metrics_impl.prepare(y_true, y_pred, sample_weight)
        values, list_weights = self._per_list_fn(*prepared, **self._options)
        return super().update_state(values, sample_weight=list_weights)

    def get_config(self):
        return {**super().get_config(), **self._options}


def _check_topn(owner: str, topn):
    if topn is None:
        return None
    if isinstance(topn, bool) or not isinstance(topn, numbers.Integral) or topn < 1:
        raise ValueError(
            f"{owner} needs topn=None (whole list) or a positive int. Received: topn={topn!r}.")
    return int(topn)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class NDCGMetric(RankingMetric):
    """NDCG@topn, mean over lists (`metrics_impl.ndcg`); default name "ndcg_<topn>".

    Example:
        >>> m = NDCGMetric(topn=2)
        >>> m.update_state([[0.0, 1.0]], [[0.9, 0.1]])
        >>> round(float(m.result()), 4)
        0.6309
    """

    def __init__(self, topn=None, name=None, dtype=None):
        super().__init__(metrics_impl.ndcg, name=name or default_name("ndcg", topn),
                         dtype=dtype, topn=_check_topn("NDCGMetric", topn))


@keras.saving.register_keras_serializable(package=_PACKAGE)
class DCGMetric(RankingMetric):
    """DCG@topn, mean over lists (`metrics_impl.dcg`).

    Example:
        >>> m = DCGMetric()
        >>> m.update_state([[0.0, 1.0]], [[0.9, 0.1]])
        >>> round(float(m.result()), 4)
        0.6309
    """

    def __init__(self, topn=None, name=None, dtype=None):
        super().__init__(metrics_impl.dcg, name=name or default_name("dcg", topn),
                         dtype=dtype, topn=_check_topn("DCGMetric", topn))


@keras.saving.register_keras_serializable(package=_PACKAGE)
class MRRMetric(RankingMetric):
    """Mean reciprocal rank of the first item with label >= 1 (`metrics_impl.mrr`).

    Example:
        >>> m = MRRMetric()
        >>> m.update_state([[0.0, 1.0, 1.0]], [[3.0, 1.0, 2.0]])
        >>> float(m.result())
        0.5
    """

    def __init__(self, topn=None, name=None, dtype=None):
        super().__init__(metrics_impl.mrr, name=name or default_name("mrr", topn),
                         dtype=dtype, topn=_check_topn("MRRMetric", topn))


@keras.saving.register_keras_serializable(package=_PACKAGE)
class PrecisionMetric(RankingMetric):
    """Precision@topn for labels >= 1 (`metrics_impl.precision`).

    Example:
        >>> m = PrecisionMetric(topn=2)
        >>> m.update_state([[0.0, 1.0, 1.0]], [[3.0, 1.0, 2.0]])
        >>> float(m.result())
        0.5
    """

    def __init__(self, topn=None, name=None, dtype=None):
        super().__init__(metrics_impl.precision, name=name or default_name("precision", topn),
                         dtype=dtype, topn=_check_topn("PrecisionMetric", topn))


@keras.saving.register_keras_serializable(package=_PACKAGE)
class RecallMetric(RankingMetric):
    """Recall@topn for labels >= 1 (`metrics_impl.recall`).

    Example:
        >>> m = RecallMetric(topn=2)
        >>> m.update_state([[0.0, 1.0, 1.0]], [[3.0, 1.0, 2.0]])
        >>> float(m.result())
        0.5
    """

    def __init__(self, topn=None, name=None, dtype=None):
        super().__init__(metrics_impl.recall, name=name or default_name("recall", topn),
                         dtype=dtype, topn=_check_topn("RecallMetric", topn))


@keras.saving.register_keras_serializable(package=_PACKAGE)
class MeanAveragePrecisionMetric(RankingMetric):
    """Mean average precision for labels >= 1 (`metrics_impl.mean_average_precision`).

    Example:
        >>> m = MeanAveragePrecisionMetric()
        >>> m.update_state([[0.0, 1.0, 1.0]], [[3.0, 1.0, 2.0]])
        >>> round(float(m.result()), 4)
        0.5833
    """

    def __init__(self, topn=None, name=None, dtype=None):
        super().__init__(metrics_impl.mean_average_precision,
                         name=name or default_name("map", topn), dtype=dtype,
                         topn=_check_topn("MeanAveragePrecisionMetric", topn))


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ARPMetric(RankingMetric):
    """Average relevance position, lists weighted by label sum (`metrics_impl.arp`).

    Example:
        >>> m = ARPMetric()
        >>> m.update_state([[0.0, 1.0, 1.0]], [[3.0, 1.0, 2.0]])
        >>> float(m.result())
        2.5
    """

    def __init__(self, name=None, dtype=None):
        super().__init__(metrics_impl.arp, name=name or "arp", dtype=dtype)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class OPAMetric(RankingMetric):
    """Ordered pair accuracy, lists weighted by pair count (`metrics_impl.ordered_pair_accuracy`).

    Example:
        >>> m = OPAMetric()
        >>> m.update_state([[0.0, 1.0, 2.0]], [[3.0, 1.0, 2.0]])
        >>> round(float(m.result()), 4)
        0.3333
    """

    def __init__(self, name=None, dtype=None):
        super().__init__(metrics_impl.ordered_pair_accuracy, name=name or "opa", dtype=dtype)
