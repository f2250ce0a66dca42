"""Shared helpers of the ranking losses and metrics: input checks, padding masks, sorting.

Conventions shared by every function of this package (TF-Ranking 0.5.5's):

- `labels` and `scores`/`logits` have shape [batch_size, list_size]; one row is one list.
- A label < 0 (by convention -1) marks a padded slot: `is_label_valid` is False there.
- Sorting is by descending score; padded slots always go last. Tied scores keep their
  original order (the item earlier in the list ranks higher). TF-Ranking shuffles ties at
  random instead; both agree whenever scores have no ties.
"""

from __future__ import annotations

import tensorflow as tf


def is_label_valid(labels: tf.Tensor) -> tf.Tensor:
    """Returns a boolean mask, True where the slot holds a real item (label >= 0).

    Args:
        labels: float `Tensor` of graded relevance, -1 for padded slots.

    Returns:
        A boolean `Tensor` of the same shape as `labels`.

    Example:
        >>> is_label_valid(tf.constant([[1.0, 0.0, -1.0]])).numpy().tolist()
        [[True, True, False]]
    """
    return tf.greater_equal(labels, 0.0)


def check_inputs(labels, scores, dtype=tf.float32) -> tuple[tf.Tensor, tf.Tensor]:
    """Converts labels and scores to float tensors of rank 2 and equal static shape.

    Args:
        labels: array-like of shape [batch_size, list_size].
        scores: array-like of shape [batch_size, list_size].
        dtype: float dtype both are cast to.

    Returns:
        `(labels, scores)` as `Tensor`s of `dtype`.

    Raises:
        ValueError: if either is not of rank 2 or their shapes differ.

    Example:
        >>> labels, scores = check_inputs([[1, 0]], [[0.5, 0.2]])
        >>> labels.dtype.name, scores.shape.as_list()
        ('float32', [1, 2])
    """
    labels = tf.cast(tf.convert_to_tensor(labels), dtype)
    scores = tf.cast(tf.convert_to_tensor(scores), dtype)
    if labels.shape.rank != 2 or scores.shape.rank != 2:
        raise ValueError(
            f"Ranking labels and scores must have shape [batch_size, list_size]. "
            f"Received: labels.shape={labels.shape}, scores.shape={scores.shape}."
        )
    if not labels.shape.is_compatible_with(scores.shape):
        raise ValueError(
            f"Ranking labels and scores must have the same shape. "
            f"Received: labels.shape={labels.shape}, scores.shape={scores.shape}."
        )
    return labels, scores


def as_weights(weights, labels: tf.Tensor) -> tf.Tensor:
    """Broadcasts optional weights to one weight per item, shape [batch_size, list_size].

    Args:
        weights: None (all ones), a scalar, per-list weights of shape [batch_size] or
            [batch_size, 1], or per-item weights of shape [batch_size, list_size].
        labels: the labels `Tensor` whose shape and dtype the result takes.

    Returns:
        A `Tensor` shaped like `labels`. Padded slots are not zeroed here.

    Example:
        >>> as_weights([2.0, 3.0], tf.zeros([2, 2])).numpy().tolist()
        [[2.0, 2.0], [3.0, 3.0]]
    """
    if weights is None:
        return tf.ones_like(labels)
    weights = tf.cast(tf.convert_to_tensor(weights), labels.dtype)
    if weights.shape.rank == 1:
        weights = weights[:, tf.newaxis]
    return tf.ones_like(labels) * weights


def apply_pairwise_op(op, tensor: tf.Tensor) -> tf.Tensor:
    """Applies a binary op to all pairs of a row: out[b, i, j] = op(x[b, i], x[b, j]).

    Args:
        op: binary function such as `tf.subtract` or `tf.logical_and`.
        tensor: `Tensor` of shape [batch_size, list_size].

    Returns:
        A `Tensor` of shape [batch_size, list_size, list_size].

    Example:
        >>> apply_pairwise_op(tf.subtract, tf.constant([[3.0, 1.0]])).numpy().tolist()
        [[[0.0, 2.0], [-2.0, 0.0]]]
    """
    return op(tf.expand_dims(tensor, 2), tf.expand_dims(tensor, 1))


def sort_indices(scores: tf.Tensor, mask=None, shuffle_ties: bool = False, seed=None):
    """Returns per-row indices that sort `scores` descending, masked-out slots last.

    Args:
        scores: float `Tensor` of shape [batch_size, list_size].
        mask: optional boolean `Tensor` of the same shape; False slots are put last.
        shuffle_ties: if False, tied scores keep their original order (stable sort); if
            True, ties are broken by a random shuffle (TF-Ranking's behaviour).
        seed: op-level seed of the shuffle.

    Returns:
        An int32 `Tensor` of shape [batch_size, list_size]; row b lists the original
        positions in ranked order.

    Example:
        >>> scores = tf.constant([[0.1, 0.9, 0.9, 0.5]])
        >>> mask = tf.constant([[True, True, True, False]])
        >>> sort_indices(scores, mask).numpy().tolist()
        [[1, 2, 0, 3]]
    """
    shape = tf.shape(scores)
    if shuffle_ties:
        perm = tf.argsort(tf.random.uniform(shape, seed=seed), axis=1, stable=True)
    else:
        perm = tf.broadcast_to(tf.range(shape[1])[tf.newaxis, :], shape)
    shuffled = tf.gather(scores, perm, batch_dims=1)
    order = tf.gather(perm, tf.argsort(shuffled, axis=1, direction="DESCENDING", stable=True),
                      batch_dims=1)
    if mask is None:
        return order
    invalid = tf.cast(tf.logical_not(tf.gather(mask, order, batch_dims=1)), tf.int32)
    return tf.gather(order, tf.argsort(invalid, axis=1, stable=True), batch_dims=1)


def gather_sorted(indices: tf.Tensor, tensors, topn=None) -> list[tf.Tensor]:
    """Reorders each tensor's rows by `indices`, keeping the first `topn` positions.

    Args:
        indices: output of `sort_indices`, shape [batch_size, list_size].
        tensors: list of `Tensor`s of shape [batch_size, list_size].
        topn: optional cutoff; None or a value >= list_size keeps the whole list.

    Returns:
        The list of reordered `Tensor`s, shape [batch_size, min(topn, list_size)].

    Example:
        >>> idx = tf.constant([[2, 0, 1]])
        >>> gather_sorted(idx, [tf.constant([[5.0, 6.0, 7.0]])], topn=2)[0].numpy().tolist()
        [[7.0, 5.0]]
    """
    if topn is not None:
        indices = indices[:, :topn]
    return [tf.gather(t, indices, batch_dims=1) for t in tensors]
