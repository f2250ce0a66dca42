"""Per-list ranking metrics as pure TensorFlow functions, with TF-Ranking 0.5.5's definitions.

A per-list function has the signature

    fn(labels, scores, weights, mask, **options) -> (values, list_weights)

on inputs already passed through `prepare` ([batch_size, list_size]: labels 0 on padded
slots, per-item weights, boolean mask of real items) and returns two [batch_size, 1]
tensors. The metric over a data set is the weighted mean sum(values * list_weights) /
sum(list_weights) (`compute_metric`; `metrics.RankingMetric` in Keras).

List weights (TF-Ranking's `_per_example_weights_to_per_list_weights`): with no sample
weights every list has weight 1, including lists without any relevant item, whose NDCG,
DCG, MRR, precision, recall and MAP are 0. So such lists pull the mean down. ARP
weights a list by its label sum and OPA by its number of ordered pairs, so lists without
a relevant item (or pair) get weight 0 there.

Gains are 2^y - 1, discounts 1 / log2(1 + rank); "relevant" means label >= 1. Items are
ranked by descending score; tied scores keep their list order (see `utils.sort_indices`).
"""

from __future__ import annotations

import tensorflow as tf

from cuttingedge.trainers.ranking.utils import (
    apply_pairwise_op,
    as_weights,
    check_inputs,
    gather_sorted,
    is_label_valid,
    sort_indices,
)


def prepare(labels, scores, weights=None):
    """Checks inputs and returns `(labels, scores, weights, mask)` for per-list functions.

    Args:
        labels: [batch_size, list_size] graded relevance, -1 on padded slots.
        scores: [batch_size, list_size] model scores.
        weights: None, scalar, per-list [batch_size] / [batch_size, 1] or per-item
            [batch_size, list_size] weights.

    Returns:
        labels with 0 on masked slots, scores with 0 on masked slots, per-item weights
        (not zeroed on padded slots, as in TF-Ranking) and the mask, True where
        label >= 0 and weight > 0.

    Example:
        >>> labels, scores, weights, mask = prepare([[2.0, -1.0]], [[0.3, 0.9]])
        >>> labels.numpy().tolist(), mask.numpy().tolist()
        ([[2.0, 0.0]], [[True, False]])
    """
    labels, scores = check_inputs(labels, scores)
    weights = as_weights(weights, labels)
    mask = tf.logical_and(is_label_valid(labels), weights > 0.0)
    return tf.where(mask, labels, 0.0), tf.where(mask, scores, 0.0), weights, mask


def per_list_weights(weights: tf.Tensor, relevance: tf.Tensor) -> tf.Tensor:
    """TF-Ranking's list weights: sum(w * rel) / sum(rel), or the mean of those if sum(rel)=0.

    Args:
        weights: per-item weights [batch_size, list_size].
        relevance: per-item relevance [batch_size, list_size] (gains or 0/1).

    Returns:
        A [batch_size, 1] `Tensor`. Lists with zero total weight get 0; lists with zero
        relevance get the mean weight of the lists with relevance (1 if there are none).

    Example:
        >>> per_list_weights(tf.ones([2, 2]), tf.constant([[1.0, 0.0], [0.0, 0.0]])
        ...                  ).numpy().tolist()
        [[1.0], [1.0]]
    """
    has_weight = tf.reduce_sum(weights, axis=1, keepdims=True) > 0.0
    relevance_sum = tf.reduce_sum(relevance, axis=1, keepdims=True)
    has_relevance = tf.logical_and(has_weight, relevance_sum > 0.0)
    count = tf.reduce_sum(tf.cast(has_relevance, weights.dtype))
    list_weights = tf.math.divide_no_nan(
        tf.reduce_sum(weights * relevance, axis=1, keepdims=True), relevance_sum)
    mean_weight = tf.where(
        count > 0.0, tf.math.divide_no_nan(tf.reduce_sum(list_weights), count), 1.0)
    filled = tf.where(relevance_sum > 0.0, list_weights, mean_weight)
    return tf.where(has_weight, filled, 0.0)


def _gain(labels):
    return tf.pow(2.0, labels) - 1.0


def _positions(tensor):
    """1-based positions [1, n] broadcastable against a [batch_size, n] tensor."""
    return tf.cast(tf.range(1, tf.shape(tensor)[1] + 1), tensor.dtype)[tf.newaxis, :]


def _dcg(sorted_labels, sorted_weights):
    discounts = tf.math.log(2.0) / tf.math.log1p(_positions(sorted_labels))
    return tf.reduce_sum(sorted_weights * _gain(sorted_labels) * discounts, axis=1,
                         keepdims=True)


def _binary(labels):
    return tf.cast(labels >= 1.0, labels.dtype)


def ndcg(labels, scores, weights, mask, topn=None):
    """NDCG@topn = DCG@topn / ideal DCG@topn (0 when the ideal DCG is 0).

    Example:
        >>> args = prepare([[0.0, 1.0]], [[0.9, 0.1]])
        >>> round(float(ndcg(*args)[0][0, 0]), 4)
        0.6309
    """
    idx = sort_indices(scores, mask)
    dcg = _dcg(*gather_sorted(idx, [labels, weights], topn))
    ideal_idx = sort_indices(weights * _gain(labels), mask)
    ideal = _dcg(*gather_sorted(ideal_idx, [labels, weights], topn))
    return tf.math.divide_no_nan(dcg, ideal), per_list_weights(weights, _gain(labels))


def dcg(labels, scores, weights, mask, topn=None):
    """DCG@topn = sum_{rank <= topn} (2^y - 1) / log2(1 + rank).

    Example:
        >>> args = prepare([[0.0, 1.0]], [[0.9, 0.1]])
        >>> round(float(dcg(*args)[0][0, 0]), 4)
        0.6309
    """
    value = _dcg(*gather_sorted(sort_indices(scores, mask), [labels, weights], topn))
    list_weights = per_list_weights(weights, _gain(labels))
    return tf.math.divide_no_nan(value, list_weights), list_weights


def mrr(labels, scores, weights, mask, topn=None):
    """Reciprocal rank of the first relevant item within topn (0 if none).

    Example:
        >>> args = prepare([[0.0, 1.0, 1.0]], [[3.0, 1.0, 2.0]])
        >>> float(mrr(*args)[0][0, 0])
        0.5
    """
    (sorted_labels,) = gather_sorted(sort_indices(scores, mask), [labels], topn)
    value = tf.reduce_max(_binary(sorted_labels) / _positions(sorted_labels), axis=1,
                          keepdims=True)
    return value, per_list_weights(weights, _binary(labels))


def arp(labels, scores, weights, mask):
    """Average relevance position sum_i y_i rank_i / sum_i y_i, list weight sum_i w_i y_i.

    Example:
        >>> args = prepare([[0.0, 1.0, 1.0]], [[3.0, 1.0, 2.0]])
        >>> float(arp(*args)[0][0, 0])
        2.5
    """
    sorted_labels, sorted_weights = gather_sorted(sort_indices(scores, mask),
                                                  [labels, weights])
    weighted = sorted_labels * sorted_weights
    list_weights = tf.reduce_sum(weighted, axis=1, keepdims=True)
    value = tf.reduce_sum(_positions(weighted) * weighted, axis=1, keepdims=True)
    return tf.math.divide_no_nan(value, list_weights), list_weights


def precision(labels, scores, weights, mask, topn=None):
    """Relevant items in the top min(topn, n_valid) / min(topn, n_valid).

    Example:
        >>> args = prepare([[0.0, 1.0, 1.0]], [[3.0, 1.0, 2.0]])
        >>> float(precision(*args, topn=2)[0][0, 0])
        0.5
    """
    (sorted_labels,) = gather_sorted(sort_indices(scores, mask), [labels], topn)
    n_valid = tf.reduce_sum(tf.cast(mask, labels.dtype), axis=1, keepdims=True)
    cutoff = n_valid if topn is None else tf.minimum(float(topn), n_valid)
    hits = tf.reduce_sum(_binary(sorted_labels), axis=1, keepdims=True)
    return tf.math.divide_no_nan(hits, cutoff), per_list_weights(weights, _binary(labels))


def recall(labels, scores, weights, mask, topn=None):
    """Relevant items in the top topn / relevant items in the list.

    Example:
        >>> args = prepare([[0.0, 1.0, 1.0]], [[3.0, 1.0, 2.0]])
        >>> float(recall(*args, topn=2)[0][0, 0])
        0.5
    """
    (sorted_labels,) = gather_sorted(sort_indices(scores, mask), [labels], topn)
    hits = tf.reduce_sum(_binary(sorted_labels), axis=1, keepdims=True)
    total = tf.reduce_sum(_binary(labels), axis=1, keepdims=True)
    return tf.math.divide_no_nan(hits, total), per_list_weights(weights, _binary(labels))


def mean_average_precision(labels, scores, weights, mask, topn=None):
    """Average precision: sum over relevant ranks k <= topn of precision@k / n_relevant.

    Example:
        >>> args = prepare([[0.0, 1.0, 1.0]], [[3.0, 1.0, 2.0]])
        >>> round(float(mean_average_precision(*args)[0][0, 0]), 4)
        0.5833
    """
    relevance = _binary(labels)
    sorted_rel, sorted_weights = gather_sorted(sort_indices(scores, mask),
                                               [relevance, weights], topn)
    precisions = tf.cumsum(sorted_rel, axis=1) / _positions(sorted_rel)
    total_precision = tf.reduce_sum(precisions * sorted_weights * sorted_rel, axis=1,
                                    keepdims=True)
    total_relevance = tf.reduce_sum(weights * relevance, axis=1, keepdims=True)
    value = tf.math.divide_no_nan(total_precision, total_relevance)
    return value, per_list_weights(weights, relevance)


def ordered_pair_accuracy(labels, scores, weights, mask):
    """Share of pairs with y_i > y_j that the scores order strictly s_i > s_j.

    The list weight is the (weighted) number of such pairs; a tie in scores counts as wrong.

    Example:
        >>> args = prepare([[0.0, 1.0, 2.0]], [[3.0, 1.0, 2.0]])
        >>> round(float(ordered_pair_accuracy(*args)[0][0, 0]), 4)
        0.3333
    """
    valid_pairs = tf.cast(apply_pairwise_op(tf.logical_and, mask), labels.dtype)
    ordered = tf.cast(apply_pairwise_op(tf.subtract, labels) > 0.0, labels.dtype)
    correct = tf.cast(apply_pairwise_op(tf.subtract, scores) > 0.0, labels.dtype)
    pair_weights = ordered * valid_pairs * tf.expand_dims(weights, 2)
    list_weights = tf.reduce_sum(pair_weights, axis=[1, 2])[:, tf.newaxis]
    value = tf.reduce_sum(correct * pair_weights, axis=[1, 2])[:, tf.newaxis]
    return tf.math.divide_no_nan(value, list_weights), list_weights


def compute_metric(per_list_fn, labels, scores, weights=None, **options) -> tf.Tensor:
    """The metric over a batch: weighted mean of a per-list function's values.

    Args:
        per_list_fn: one of this module's per-list functions (or a custom one).
        labels: [batch_size, list_size] graded relevance, -1 on padded slots.
        scores: [batch_size, list_size] model scores.
        weights: optional sample weights (see `prepare`).
        **options: passed to `per_list_fn`, e.g. `topn=5`.

    Returns:
        A scalar `Tensor`: sum(values * list_weights) / sum(list_weights), 0 if the weights
        sum to 0.

    Example:
        >>> float(compute_metric(mrr, [[0.0, 1.0], [0.0, 0.0]], [[2.0, 1.0], [1.0, 2.0]]))
        0.25
    """
    values, list_weights = per_list_fn(*prepare(labels, scores, weights), **options)
    return tf.math.divide_no_nan(tf.reduce_sum(values * list_weights),
                                 tf.reduce_sum(list_weights))
