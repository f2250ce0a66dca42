"""Ranking losses as pure TensorFlow functions, with TF-Ranking 0.5.5's definitions.

Each loss maps `(labels, logits, weights=None)` of shape [batch_size, list_size] to the
scalar that `tfr.keras.losses.<Loss>()(labels, logits, sample_weight=weights)` returns
(Keras reduction AUTO, i.e. SUM_OVER_BATCH_SIZE):

    loss = sum_e weight_e * loss_e / number_of_elements

The elements are the B * L list slots for pointwise and pairwise losses (padded slots add
nothing to the sum but do count in the denominator, as in TF-Ranking) and the B lists for
listwise losses. A label < 0 marks a padded slot; its label and logit never reach the value.

Weights follow TF-Ranking: per-item [B, L] or per-list [B, 1] / [B] or scalar.
Pointwise and pairwise losses weight item i (pairs (i, j) by the weight of i); softmax
multiplies the labels by the weights; other listwise losses weight each list by
sum_i w_i * y_i / sum_i y_i.

Deliberate differences from TF-Ranking, none visible in its reference values:
- padded slots are masked out exactly instead of given a logit of log(1e-10) (softmax)
  or min - 1e3 (ApproxNDCG); TF-Ranking's ListMLE adds log(k!) for k padded slots of a
  list, this ListMLE adds nothing;
- `temperature` divides the logits of the pairwise losses too (TF-Ranking's Keras pairwise
  losses accept but ignore it; its estimator path applies it).
"""

from __future__ import annotations

import tensorflow as tf

from cuttingedge.trainers.ranking.utils import (
    apply_pairwise_op,
    as_weights,
    check_inputs,
    is_label_valid,
    sort_indices,
)


def _mean_over_elements(losses: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
    """sum(losses * weights) / losses.size, 0 for an empty batch."""
    count = tf.cast(tf.size(losses), losses.dtype)
    return tf.math.divide_no_nan(tf.reduce_sum(losses * weights), count)


def _item_weights(labels: tf.Tensor, weights) -> tf.Tensor:
    """Per-item weights, zero on padded slots."""
    return tf.where(is_label_valid(labels), as_weights(weights, labels), 0.0)


def _list_weights(labels: tf.Tensor, weights) -> tf.Tensor:
    """TF-Ranking's listwise weights sum_i w_i y_i / sum_i y_i, shape [B]; ones if None."""
    if weights is None:
        return tf.ones_like(labels[:, 0])
    clean = tf.where(is_label_valid(labels), labels, 0.0)
    weighted = tf.reduce_sum(as_weights(weights, labels) * clean, axis=1)
    return tf.math.divide_no_nan(weighted, tf.reduce_sum(clean, axis=1))


def masked_log_softmax(logits: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """log softmax over the valid slots of each row; 0 on masked slots.

    Args:
        logits: float `Tensor` of shape [batch_size, list_size].
        mask: boolean `Tensor` of the same shape, True on valid slots.

    Returns:
        A `Tensor` of the same shape, finite everywhere (also for all-masked rows).

    Example:
        >>> out = masked_log_softmax(tf.constant([[0.0, 0.0, 5.0]]),
        ...                          tf.constant([[True, True, False]]))
        >>> [round(float(v), 4) for v in out[0]]
        [-0.6931, -0.6931, 0.0]
    """
    masked = tf.where(mask, logits, logits.dtype.min)
    row_max = tf.stop_gradient(tf.reduce_max(masked, axis=1, keepdims=True))
    row_max = tf.where(tf.reduce_any(mask, axis=1, keepdims=True), row_max, 0.0)
    shifted = tf.where(mask, logits - row_max, 0.0)
    sum_exp = tf.reduce_sum(tf.where(mask, tf.exp(shifted), 0.0), axis=1, keepdims=True)
    log_sum = tf.math.log(tf.where(sum_exp > 0.0, sum_exp, 1.0))
    return tf.where(mask, shifted - log_sum, 0.0)


def pairwise_comparison(labels: tf.Tensor, logits: tf.Tensor):
    """Pair indicators I[y_i > y_j, both valid] and logit differences s_i - s_j.

    Args:
        labels: `Tensor` of shape [batch_size, list_size], -1 on padded slots.
        logits: `Tensor` of the same shape.

    Returns:
        `(pairwise_labels, pairwise_logits)`, both of shape [batch_size, L, L].

    Example:
        >>> pl, _ = pairwise_comparison(tf.constant([[1.0, 0.0, -1.0]]), tf.zeros([1, 3]))
        >>> pl.numpy().tolist()
        [[[0.0, 1.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]]
    """
    valid_pairs = apply_pairwise_op(tf.logical_and, is_label_valid(labels))
    better = tf.greater(apply_pairwise_op(tf.subtract, labels), 0.0)
    pairwise_labels = tf.cast(tf.logical_and(better, valid_pairs), logits.dtype)
    return pairwise_labels, apply_pairwise_op(tf.subtract, logits)


def approx_ranks(logits: tf.Tensor, mask=None) -> tf.Tensor:
    """Smooth ranks rank_i = 1 + sum_{valid j != i} sigmoid(s_j - s_i) (Qin et al.).

    Args:
        logits: `Tensor` of shape [batch_size, list_size], already divided by temperature.
        mask: optional boolean `Tensor`; masked slots do not push other items down.

    Returns:
        A `Tensor` of approximate 1-based ranks, same shape as `logits`.

    Example:
        >>> [round(float(r), 4) for r in approx_ranks(tf.constant([[6.0, 8.0]]))[0]]
        [1.8808, 1.1192]
    """
    pairs = tf.sigmoid(apply_pairwise_op(tf.subtract, logits) * -1.0)  # sigmoid(s_j - s_i)
    if mask is not None:
        pairs *= tf.cast(tf.expand_dims(mask, 1), logits.dtype)
    return tf.reduce_sum(pairs, axis=-1) + 0.5


def ndcg_from_ranks(labels: tf.Tensor, ranks: tf.Tensor) -> tf.Tensor:
    """NDCG with gains 2^y - 1 and discounts 1 / log2(1 + rank), per list.

    Args:
        labels: graded relevance of shape [batch_size, list_size], 0 on padded slots.
        ranks: (approximate) 1-based ranks of the same shape.

    Returns:
        A `Tensor` of shape [batch_size]; 0 for a list whose ideal DCG is 0.

    Example:
        >>> float(ndcg_from_ranks(tf.constant([[1.0, 0.0]]), tf.constant([[2.0, 1.0]]))[0])
        0.6309297680854797
    """
    gains = tf.pow(2.0, labels) - 1.0
    dcg = tf.reduce_sum(gains / tf.math.log1p(ranks), axis=1)
    ideal_gains = tf.sort(gains, axis=1, direction="DESCENDING")
    positions = tf.cast(tf.range(1, tf.shape(labels)[1] + 1), labels.dtype)
    ideal_dcg = tf.reduce_sum(ideal_gains / tf.math.log1p(positions), axis=1)
    return tf.math.divide_no_nan(dcg, ideal_dcg)


def sigmoid_cross_entropy_loss(labels, logits, weights=None, temperature: float = 1.0):
    """Pointwise sigmoid cross entropy, mean over all B * L slots (padded add 0).

    Args:
        labels: [batch_size, list_size] labels in [0, 1], -1 on padded slots.
        logits: [batch_size, list_size] scores.
        weights: optional per-item or per-list weights (see module docstring).
        temperature: logits are divided by it.

    Returns:
        A scalar `Tensor`.

    Example:
        >>> round(float(sigmoid_cross_entropy_loss([[1.0, 0.0]], [[0.6, 0.8]])), 5)
        0.80429
    """
    labels, logits = check_inputs(labels, logits)
    mask = is_label_valid(labels)
    losses = tf.nn.sigmoid_cross_entropy_with_logits(
        labels=tf.where(mask, labels, 0.0), logits=tf.where(mask, logits / temperature, 0.0))
    return _mean_over_elements(losses, _item_weights(labels, weights))


def mean_squared_loss(labels, logits, weights=None):
    """Pointwise squared error (y - s)^2, mean over all B * L slots (padded add 0).

    Args:
        labels: [batch_size, list_size] labels, -1 on padded slots.
        logits: [batch_size, list_size] scores.
        weights: optional per-item or per-list weights.

    Returns:
        A scalar `Tensor`.

    Example:
        >>> round(float(mean_squared_loss([[1.0, 0.0]], [[0.6, 0.8]])), 5)
        0.4
    """
    labels, logits = check_inputs(labels, logits)
    mask = is_label_valid(labels)
    losses = tf.square(tf.where(mask, labels - logits, 0.0))
    return _mean_over_elements(losses, _item_weights(labels, weights))


def _pairwise_loss(pair_loss_fn, labels, logits, weights, temperature):
    """sum_{i,j} w_i I[y_i > y_j] f(s_i - s_j) / (B * L)."""
    labels, logits = check_inputs(labels, logits)
    logits = tf.where(is_label_valid(labels), logits / temperature, 0.0)
    pairwise_labels, pairwise_logits = pairwise_comparison(labels, logits)
    per_item = tf.reduce_sum(
        pair_loss_fn(pairwise_logits) * tf.stop_gradient(pairwise_labels), axis=2)
    return _mean_over_elements(per_item, _item_weights(labels, weights))


def pairwise_logistic_loss(labels, logits, weights=None, temperature: float = 1.0):
    """Pairwise logistic loss sum_{y_i > y_j} log(1 + exp(-(s_i - s_j))) / (B * L).

    Args:
        labels: [batch_size, list_size] graded relevance, -1 on padded slots.
        logits: [batch_size, list_size] scores.
        weights: optional per-item or per-list weights; pair (i, j) gets w_i.
        temperature: logits are divided by it.

    Returns:
        A scalar `Tensor`.

    Example:
        >>> round(float(pairwise_logistic_loss([[1.0, 0.0]], [[0.6, 0.8]])), 5)
        0.39907
    """
    return _pairwise_loss(lambda x: tf.nn.softplus(-x), labels, logits, weights, temperature)


def pairwise_hinge_loss(labels, logits, weights=None, temperature: float = 1.0):
    """Pairwise hinge loss sum_{y_i > y_j} max(0, 1 - (s_i - s_j)) / (B * L).

    Args:
        labels: [batch_size, list_size] graded relevance, -1 on padded slots.
        logits: [batch_size, list_size] scores.
        weights: optional per-item or per-list weights; pair (i, j) gets w_i.
        temperature: logits are divided by it.

    Returns:
        A scalar `Tensor`.

    Example:
        >>> round(float(pairwise_hinge_loss([[1.0, 0.0]], [[0.6, 0.8]])), 5)
        0.6
    """
    return _pairwise_loss(lambda x: tf.nn.relu(1.0 - x), labels, logits, weights, temperature)


def softmax_loss(labels, logits, weights=None, temperature: float = 1.0):
    """Listwise softmax cross entropy, each list weighted by its label sum, mean over B.

    loss_list = -sum_i (y_i / sum_j y_j) log softmax(s / T)_i, weight_list = sum_j y_j.
    Lists without a positive label add 0.

    Args:
        labels: [batch_size, list_size] graded relevance, -1 on padded slots.
        logits: [batch_size, list_size] scores.
        weights: optional per-item or per-list weights; they multiply the labels.
        temperature: logits are divided by it.

    Returns:
        A scalar `Tensor`.

    Example:
        >>> round(float(softmax_loss([[1.0, 0.0]], [[0.6, 0.8]])), 5)
        0.79814
    """
    labels, logits = check_inputs(labels, logits)
    mask = is_label_valid(labels)
    labels = tf.where(mask, labels, 0.0)
    if weights is not None:
        labels *= as_weights(weights, labels)
    label_sum = tf.reduce_sum(labels, axis=1)
    targets = tf.math.divide_no_nan(labels, label_sum[:, tf.newaxis])
    log_probs = masked_log_softmax(logits / temperature, mask)
    cross_entropy = -tf.reduce_sum(targets * log_probs, axis=1)
    return _mean_over_elements(cross_entropy, label_sum)


def list_mle_loss(labels, logits, weights=None, temperature: float = 1.0,
                  shuffle_ties: bool = True, seed=None):
    """ListMLE: -log Plackett-Luce probability of the label-sorted permutation, mean over B.

    With items sorted by descending label, pi(1), ..., pi(n) (valid items only):
        loss_list = sum_k [log sum_{m >= k} exp(s_pi(m)) - s_pi(k)].

    Args:
        labels: [batch_size, list_size] graded relevance, -1 on padded slots.
        logits: [batch_size, list_size] scores.
        weights: optional per-item or per-list weights.
        temperature: logits are divided by it.
        shuffle_ties: break ties in labels at random (TF-Ranking); if False, tied items
            keep their list order.
        seed: op-level seed of the shuffle.

    Returns:
        A scalar `Tensor`.

    Example:
        >>> round(float(list_mle_loss([[1.0, 0.0]], [[0.6, 0.8]])), 5)
        0.79814
    """
    labels, logits = check_inputs(labels, logits)
    mask = is_label_valid(labels)
    logits = tf.where(mask, logits / temperature, 0.0)
    order = sort_indices(labels, mask, shuffle_ties=shuffle_ties, seed=seed)
    sorted_logits = tf.gather(logits, order, batch_dims=1)
    sorted_mask = tf.gather(mask, order, batch_dims=1)
    # Padded slots sit at the end; a logit 100 below the row minimum adds < e^-100.
    floor = tf.stop_gradient(tf.reduce_min(logits, axis=1, keepdims=True) - 100.0)
    tail = tf.math.cumulative_logsumexp(
        tf.where(sorted_mask, sorted_logits, floor), axis=1, reverse=True)
    nll = tf.reduce_sum(tf.where(sorted_mask, tail - sorted_logits, 0.0), axis=1)
    return _mean_over_elements(nll, _list_weights(labels, weights))


def approx_ndcg_loss(labels, logits, weights=None, temperature: float = 0.1):
    """ApproxNDCG: minus NDCG computed with approximate ranks, mean over B.

    Lists without a positive label add 0.

    Args:
        labels: [batch_size, list_size] graded relevance, -1 on padded slots.
        logits: [batch_size, list_size] scores.
        weights: optional per-item or per-list weights.
        temperature: smoothness of the sigmoid rank approximation (default 0.1).

    Returns:
        A scalar `Tensor` in [-1, 0].

    Example:
        >>> round(float(approx_ndcg_loss([[1.0, 0.0]], [[0.6, 0.8]])), 5)
        -0.65511
    """
    labels, logits = check_inputs(labels, logits)
    mask = is_label_valid(labels)
    labels = tf.where(mask, labels, 0.0)
    logits = tf.where(mask, logits / temperature, 0.0)
    per_list = -ndcg_from_ranks(labels, approx_ranks(logits, mask))
    has_relevant = tf.cast(tf.reduce_sum(labels, axis=1) > 0.0, logits.dtype)
    return _mean_over_elements(per_list, has_relevant * _list_weights(labels, weights))
