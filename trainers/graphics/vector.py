"""Dot product, cross product and reflection of 3d vectors, batched over leading dims.

Example:
    >>> import tensorflow as tf
    >>> cross([1.0, 0.0, 0.0], [0.0, 1.0, 0.0]).numpy().tolist()
    [0.0, 0.0, 1.0]
"""

from __future__ import annotations

import tensorflow as tf

from cuttingedge.trainers.graphics.shape import check_last_dims


def dot(vector1, vector2, axis: int = -1, keepdims: bool = True) -> tf.Tensor:
    """sum_i v1_i * v2_i along `axis`.

    Args:
        vector1: a tensor of shape [A1, ..., An, D].
        vector2: a tensor broadcast-compatible with `vector1`.
        axis: the axis of the vector components.
        keepdims: keep the reduced axis with size 1 (TF Graphics' default).

    Returns:
        A tensor of shape [A1, ..., An, 1] (or [A1, ..., An] without keepdims).

    Example:
        >>> dot([1.0, 2.0, 3.0], [4.0, 5.0, 6.0]).numpy().tolist()
        [32.0]
    """
    vector1 = tf.convert_to_tensor(vector1, dtype_hint=tf.float32)
    vector2 = tf.convert_to_tensor(vector2, dtype=vector1.dtype)
    return tf.reduce_sum(vector1 * vector2, axis=axis, keepdims=keepdims)


def cross(vector1, vector2) -> tf.Tensor:
    """Right-handed cross product v1 x v2 of [..., 3] vectors (x cross y = z).

    Args:
        vector1: a tensor of shape [A1, ..., An, 3].
        vector2: a tensor of shape [A1, ..., An, 3], broadcast-compatible with `vector1`.

    Returns:
        A tensor of shape [A1, ..., An, 3].

    Example:
        >>> cross([0.0, 1.0, 0.0], [0.0, 0.0, 1.0]).numpy().tolist()
        [1.0, 0.0, 0.0]
    """
    vector1 = check_last_dims(vector1, "vector1", (3,))
    vector2 = check_last_dims(tf.cast(vector2, vector1.dtype), "vector2", (3,))
    x1, y1, z1 = tf.unstack(vector1, axis=-1)
    x2, y2, z2 = tf.unstack(vector2, axis=-1)
    return tf.stack((y1 * z2 - z1 * y2, z1 * x2 - x1 * z2, x1 * y2 - y1 * x2), axis=-1)


def reflect(vector, normal) -> tf.Tensor:
    """Mirror reflection v - 2 (v . n) n of `vector` about the plane of unit normal `normal`.

    Args:
        vector: a tensor of shape [A1, ..., An, D], e.g. an incoming light direction.
        normal: a tensor of shape [A1, ..., An, D] of unit normals, broadcast-compatible.

    Returns:
        A tensor of shape [A1, ..., An, D].

    Example:
        >>> reflect([1.0, -1.0, 0.0], [0.0, 1.0, 0.0]).numpy().tolist()
        [1.0, 1.0, 0.0]
    """
    vector = tf.convert_to_tensor(vector, dtype_hint=tf.float32)
    normal = tf.convert_to_tensor(normal, dtype=vector.dtype)
    return vector - 2.0 * dot(vector, normal) * normal
