"""Bilinear image sampling by gathers (differentiable in the sample positions).

Pixel (row i, column j) is centred at the point (x, y) = (j, i); positions outside the
image are clamped to the border pixels. For a position (x, y) with x0 = floor(x),
y0 = floor(y), dx = x - x0, dy = y - y0:

    value = (1 - dy) ((1 - dx) I[y0, x0] + dx I[y0, x0 + 1])
            +     dy ((1 - dx) I[y0 + 1, x0] + dx I[y0 + 1, x0 + 1])

Example:
    >>> import tensorflow as tf
    >>> image = tf.reshape(tf.range(4, dtype=tf.float32), [2, 2, 1])  # [[0, 1], [2, 3]]
    >>> interpolate(image, [[0.5, 0.5], [1.0, 0.0]]).numpy().tolist()
    [[1.5], [1.0]]
"""

from __future__ import annotations

import tensorflow as tf

from cuttingedge.trainers.graphics.shape import check_last_dims


def _gather(flat_image, width, rows, cols):
    """flat_image [B, H * W, C] at integer rows, cols [B, N] -> [B, N, C]."""
    return tf.gather(flat_image, rows * width + cols, batch_dims=1)


def _interpolate_batch(image: tf.Tensor, points: tf.Tensor) -> tf.Tensor:
    """image [B, H, W, C], points [B, ..., 2] -> [B, ..., C]."""
    shape = tf.shape(image)
    height, width, channels = shape[1], shape[2], shape[3]
    flat_points = tf.reshape(points, [shape[0], -1, 2])
    x = tf.clip_by_value(flat_points[..., 0], 0.0, tf.cast(width - 1, points.dtype))
    y = tf.clip_by_value(flat_points[..., 1], 0.0, tf.cast(height - 1, points.dtype))
    x0, y0 = tf.floor(x), tf.floor(y)
    dx, dy = (x - x0)[..., None], (y - y0)[..., None]
    x0, y0 = tf.cast(x0, tf.int32), tf.cast(y0, tf.int32)
    x1, y1 = tf.minimum(x0 + 1, width - 1), tf.minimum(y0 + 1, height - 1)
    flat_image = tf.reshape(tf.cast(image, points.dtype), [shape[0], -1, channels])
    corner = lambda rows, cols: _gather(flat_image, width, rows, cols)  # noqa: E731
    top = (1.0 - dx) * corner(y0, x0) + dx * corner(y0, x1)
    bottom = (1.0 - dx) * corner(y1, x0) + dx * corner(y1, x1)
    values = (1.0 - dy) * top + dy * bottom
    return tf.reshape(values, tf.concat((tf.shape(points)[:-1], [channels]), axis=0))


def interpolate(image, points, name: str = "bilinear_interpolate") -> tf.Tensor:
    """Samples `image` at real-valued pixel positions (x = column, y = row).

    Args:
        image: a tensor of shape [H, W, C], or [B, H, W, C] for a batch.
        points: a float tensor of shape [..., 2] of (x, y) positions, or [B, ..., 2] for a
            batched `image`.
        name: name scope of the op.

    Returns:
        A tensor of shape [..., C] (or [B, ..., C]) with the dtype of `points`.

    Raises:
        ValueError: if `image` is not of rank 3 or 4, or `points` does not end with 2.

    Example:
        >>> image = tf.constant([[[0.0], [10.0]]])  # one row, two columns
        >>> interpolate(image, [[0.25, 0.0], [5.0, 0.0]]).numpy().tolist()
        [[2.5], [10.0]]
    """
    with tf.name_scope(name):
        points = check_last_dims(points, "points", (2,))
        image = tf.convert_to_tensor(image)
        if image.shape.rank == 3:
            return _interpolate_batch(image[None], points[None])[0]
        if image.shape.rank == 4:
            return _interpolate_batch(image, points)
        raise ValueError(
            f"Expected image of shape [H, W, C] or [B, H, W, C], received shape {image.shape}."
        )
