"""Orthographic camera with TF Graphics' conventions: parallel projection along +z.

    x' = x,  y' = y   (project);     (x, y, z) = (x', y', depth)   (unproject)

Example:
    >>> project([1.0, 2.0, 3.0]).numpy().tolist()
    [1.0, 2.0]
"""

from __future__ import annotations

import tensorflow as tf

from cuttingedge.trainers.graphics.shape import check_last_dims


def project(point_3d, name: str = "orthographic_project") -> tf.Tensor:
    """Drops the depth: (x, y, z) -> (x, y).

    Args:
        point_3d: a tensor of shape [A1, ..., An, 3].
        name: name scope of the op.

    Returns:
        A tensor of shape [A1, ..., An, 2].

    Example:
        >>> project([[0.5, -1.0, 7.0]]).numpy().tolist()
        [[0.5, -1.0]]
    """
    with tf.name_scope(name):
        return check_last_dims(point_3d, "point_3d", (3,))[..., :2]


def ray(point_2d, name: str = "orthographic_ray") -> tf.Tensor:
    """The constant ray direction (0, 0, 1), one per point (with defined gradients).

    Args:
        point_2d: a tensor of shape [A1, ..., An, 2].
        name: name scope of the op.

    Returns:
        A tensor of shape [A1, ..., An, 3].

    Example:
        >>> ray([3.0, 4.0]).numpy().tolist()
        [0.0, 0.0, 1.0]
    """
    with tf.name_scope(name):
        point_2d = check_last_dims(point_2d, "point_2d", (2,))
        return tf.concat((point_2d * 0.0, tf.ones_like(point_2d[..., :1])), axis=-1)


def unproject(point_2d, depth, name: str = "orthographic_unproject") -> tf.Tensor:
    """Appends the depth: (x', y'), z -> (x', y', z).

    Args:
        point_2d: a tensor of shape [A1, ..., An, 2].
        depth: a tensor of shape [A1, ..., An, 1].
        name: name scope of the op.

    Returns:
        A tensor of shape [A1, ..., An, 3].

    Example:
        >>> unproject([1.0, 2.0], [3.0]).numpy().tolist()
        [1.0, 2.0, 3.0]
    """
    with tf.name_scope(name):
        point_2d = check_last_dims(point_2d, "point_2d", (2,))
        depth = check_last_dims(tf.cast(depth, point_2d.dtype), "depth", (1,))
        return tf.concat((point_2d, depth), axis=-1)
