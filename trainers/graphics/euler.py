"""Euler angles (theta_x, theta_y, theta_z) from rotations, with TF Graphics' conventions.

The angles are in radians and compose as R = Rz(theta_z) Ry(theta_y) Rx(theta_x)
(see `rotation_matrix_3d.from_euler`). The returned angles satisfy
theta_y = -asin(R20) in [-pi/2, pi/2] and theta_x, theta_z in (-pi, pi]. At the gimbal
lock |R20| = 1 only theta_x +- theta_z is defined; theta_z = 0 is returned.

Example:
    >>> from cuttingedge.trainers.graphics import rotation_matrix_3d
    >>> angles = [0.1, -0.2, 0.3]
    >>> from_rotation_matrix(rotation_matrix_3d.from_euler(angles)).numpy().round(6)
    array([ 0.1, -0.2,  0.3], dtype=float32)
"""

from __future__ import annotations

import math

import tensorflow as tf

from cuttingedge.trainers.graphics import rotation_matrix_3d
from cuttingedge.trainers.graphics.safe_ops import eps_for_addition, nonzero_sign
from cuttingedge.trainers.graphics.shape import check_last_dims


def _general_case(matrix: tf.Tensor, r20: tf.Tensor, eps: float) -> tf.Tensor:
    """theta_y = -asin(R20), theta_z = atan2(R10, R00), theta_x = atan2(R21, R22)."""
    theta_y = -tf.asin(r20)
    sign_cos_y = nonzero_sign(tf.cos(theta_y))
    r00 = matrix[..., 0, 0] + nonzero_sign(matrix[..., 0, 0]) * eps
    r22 = matrix[..., 2, 2] + nonzero_sign(matrix[..., 2, 2]) * eps
    theta_z = tf.atan2(matrix[..., 1, 0] * sign_cos_y, r00 * sign_cos_y)
    theta_x = tf.atan2(matrix[..., 2, 1] * sign_cos_y, r22 * sign_cos_y)
    return tf.stack((theta_x, theta_y, theta_z), axis=-1)


def _gimbal_lock(matrix: tf.Tensor, r20: tf.Tensor, eps: float) -> tf.Tensor:
    """theta_y = -+pi/2, theta_z = 0 and theta_x from R01, R02."""
    sign_r20 = nonzero_sign(r20)
    r02 = matrix[..., 0, 2] + nonzero_sign(matrix[..., 0, 2]) * eps
    theta_x = tf.atan2(-sign_r20 * matrix[..., 0, 1], -sign_r20 * r02)
    theta_y = -sign_r20 * math.pi / 2.0
    return tf.stack((theta_x, theta_y, tf.zeros_like(theta_x)), axis=-1)


def from_rotation_matrix(rotation_matrix, name: str = "euler_from_rotation_matrix") -> tf.Tensor:
    """Euler angles of rotation matrices built as Rz Ry Rx.

    Args:
        rotation_matrix: a tensor of shape [A1, ..., An, 3, 3].
        name: name scope of the op.

    Returns:
        A tensor of shape [A1, ..., An, 3] of angles about x, y and z in radians.

    Example:
        >>> from_rotation_matrix(tf.eye(3)).numpy().tolist()
        [0.0, -0.0, 0.0]
    """
    with tf.name_scope(name):
        matrix = check_last_dims(rotation_matrix, "rotation_matrix", (3, 3))
        matrix = tf.clip_by_value(matrix, -1.0, 1.0)
        r20 = matrix[..., 2, 0]
        eps = eps_for_addition(matrix.dtype)
        is_gimbal = tf.expand_dims(tf.abs(r20) >= 1.0 - 1e-6, -1)
        return tf.where(is_gimbal, _gimbal_lock(matrix, r20, eps), _general_case(matrix, r20, eps))


def from_quaternion(quaternions, name: str = "euler_from_quaternion") -> tf.Tensor:
    """Euler angles of unit quaternions (x, y, z, w).

    Args:
        quaternions: a tensor of shape [A1, ..., An, 4] of unit quaternions.
        name: name scope of the op.

    Returns:
        A tensor of shape [A1, ..., An, 3] of angles about x, y and z in radians.

    Example:
        >>> import math
        >>> half = math.sin(math.pi / 4)
        >>> from_quaternion([0.0, 0.0, half, half]).numpy().round(6)
        array([ 0.      , -0.      ,  1.570796], dtype=float32)
    """
    with tf.name_scope(name):
        quaternions = check_last_dims(quaternions, "quaternions", (4,))
        return from_rotation_matrix(rotation_matrix_3d.from_quaternion(quaternions))


def inverse(euler_angle, name: str = "euler_inverse") -> tf.Tensor:
    """The angles -theta, as TF Graphics defines the inverse (not the inverse rotation of Rz Ry Rx).

    Args:
        euler_angle: a tensor of shape [A1, ..., An, 3].
        name: name scope of the op.

    Returns:
        A tensor of shape [A1, ..., An, 3].

    Example:
        >>> inverse([0.1, 0.2, 0.3]).numpy()
        array([-0.1, -0.2, -0.3], dtype=float32)
    """
    with tf.name_scope(name):
        return -check_last_dims(euler_angle, "euler_angle", (3,))
