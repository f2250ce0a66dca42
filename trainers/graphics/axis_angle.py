"""Axis-angle representation (unit axis [..., 3], angle [..., 1]) from quaternions and matrices.

Follows TF Graphics: the angle is in [0, pi] and the axis is normalized; for the identity
the axis is arbitrary (returned as a finite vector).

Example:
    >>> from cuttingedge.trainers.graphics import quaternion
    >>> axis, angle = from_quaternion(quaternion.from_axis_angle([0.0, 1.0, 0.0], [0.5]))
    >>> axis.numpy().round(4), angle.numpy().round(4)
    (array([0., 1., 0.], dtype=float32), array([0.5], dtype=float32))
"""

from __future__ import annotations

import tensorflow as tf

from cuttingedge.trainers.graphics import quaternion as quaternion_lib
from cuttingedge.trainers.graphics.safe_ops import eps_for_addition, nonzero_sign, safe_unsigned_div
from cuttingedge.trainers.graphics.shape import check_last_dims


def from_quaternion(quaternion, name: str = "axis_angle_from_quaternion"):
    """angle = 2 atan2(|xyz|, |w|), axis = sign(w) xyz / |xyz|.

    Args:
        quaternion: a tensor of shape [A1, ..., An, 4] of unit quaternions (x, y, z, w).
        name: name scope of the op.

    Returns:
        A tuple (axis, angle) of tensors of shapes [A1, ..., An, 3] and [A1, ..., An, 1].

    Example:
        >>> axis, angle = from_quaternion([0.0, 0.0, 1.0, 0.0])
        >>> axis.numpy().round(4), angle.numpy().round(4)
        (array([0., 0., 1.], dtype=float32), array([3.1416], dtype=float32))
    """
    with tf.name_scope(name):
        quaternion = check_last_dims(quaternion, "quaternion", (4,))
        quaternion += eps_for_addition(quaternion.dtype)  # no zero |xyz| nor w; differentiable
        xyz, w = tf.split(quaternion, (3, 1), axis=-1)
        norm = tf.norm(xyz, axis=-1, keepdims=True)
        angle = 2.0 * tf.atan2(norm, tf.abs(w))
        axis = safe_unsigned_div(nonzero_sign(w) * xyz, norm)
        return axis, angle


def from_rotation_matrix(rotation_matrix, name: str = "axis_angle_from_rotation_matrix"):
    """Axis and angle of rotation matrices, through `quaternion.from_rotation_matrix`.

    Args:
        rotation_matrix: a tensor of shape [A1, ..., An, 3, 3].
        name: name scope of the op.

    Returns:
        A tuple (axis, angle) of tensors of shapes [A1, ..., An, 3] and [A1, ..., An, 1].

    Example:
        >>> quarter_turn_z = [[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
        >>> axis, angle = from_rotation_matrix(quarter_turn_z)
        >>> axis.numpy().round(4), angle.numpy().round(4)
        (array([0., 0., 1.], dtype=float32), array([1.5708], dtype=float32))
    """
    with tf.name_scope(name):
        return from_quaternion(quaternion_lib.from_rotation_matrix(rotation_matrix))
