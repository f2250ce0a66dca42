"""Quaternions with TF Graphics' conventions.

A quaternion q = x i + y j + z k + w is stored as [..., 4] = (x, y, z, w), real part
last, with Hamilton's product (i^2 = j^2 = k^2 = ijk = -1). A unit quaternion rotates a
point p as q p q*, and q and -q are the same rotation. Euler angles follow
`rotation_matrix_3d`: R = Rz(theta_z) Ry(theta_y) Rx(theta_x).

Example:
    >>> import math
    >>> q = from_axis_angle([0.0, 0.0, 1.0], [math.pi / 2])
    >>> rotate([1.0, 0.0, 0.0], q).numpy().round(6) + 0.0
    array([0., 1., 0.], dtype=float32)
"""

from __future__ import annotations

import tensorflow as tf

from cuttingedge.trainers.graphics.safe_ops import eps_for_addition
from cuttingedge.trainers.graphics.shape import check_last_dims


def from_axis_angle(axis, angle, name: str = "quaternion_from_axis_angle") -> tf.Tensor:
    """q = (sin(a / 2) axis, cos(a / 2)) for a rotation of `angle` about the unit `axis`.

    Args:
        axis: a tensor of shape [A1, ..., An, 3] of normalized axes.
        angle: a tensor of shape [A1, ..., An, 1] of angles in radians.
        name: name scope of the op.

    Returns:
        A tensor of shape [A1, ..., An, 4] of unit quaternions.

    Example:
        >>> from_axis_angle([1.0, 0.0, 0.0], [0.0]).numpy().tolist()
        [0.0, 0.0, 0.0, 1.0]
    """
    with tf.name_scope(name):
        axis = check_last_dims(axis, "axis", (3,))
        angle = check_last_dims(tf.cast(angle, axis.dtype), "angle", (1,))
        half_angle = 0.5 * angle
        return tf.concat((tf.sin(half_angle) * axis, tf.cos(half_angle) + 0.0 * axis[..., :1]), -1)


def from_euler(angles, name: str = "quaternion_from_euler") -> tf.Tensor:
    """Unit quaternion of the rotation Rz(theta_z) Ry(theta_y) Rx(theta_x).

    With c_i = cos(theta_i / 2), s_i = sin(theta_i / 2) for i = x, y, z:

        x = s_x c_y c_z - c_x s_y s_z      y = c_x s_y c_z + s_x c_y s_z
        z = c_x c_y s_z - s_x s_y c_z      w = c_x c_y c_z + s_x s_y s_z

    Args:
        angles: a tensor of shape [A1, ..., An, 3] of angles about x, y and z in radians.
        name: name scope of the op.

    Returns:
        A tensor of shape [A1, ..., An, 4].

    Example:
        >>> from_euler([0.0, 0.0, 0.0]).numpy().tolist()
        [0.0, 0.0, 0.0, 1.0]
    """
    with tf.name_scope(name):
        angles = check_last_dims(angles, "angles", (3,))
        sx, sy, sz = tf.unstack(tf.sin(0.5 * angles), axis=-1)
        cx, cy, cz = tf.unstack(tf.cos(0.5 * angles), axis=-1)
        x = sx * cy * cz - cx * sy * sz
        y = cx * sy * cz + sx * cy * sz
        z = cx * cy * sz - sx * sy * cz
        w = cx * cy * cz + sx * sy * sz
        return tf.stack((x, y, z, w), axis=-1)


def _dividing_by(component: int, diagonal_sum, numerators, eps: float) -> tf.Tensor:
    """q with q[component] = s / 4 and the other three entries numerator / s (index order),
    where s = 2 sqrt(1 + diagonal_sum) = 4 |q[component]|."""
    s = 2.0 * tf.sqrt(tf.maximum(1.0 + diagonal_sum, 0.0) + eps)
    parts = [numerator / s for numerator in numerators]
    parts.insert(component, 0.25 * s)
    return tf.stack(parts, axis=-1)


def from_rotation_matrix(rotation_matrix, name: str = "quaternion_from_rotation_matrix"):
    """Unit quaternion of a rotation matrix (TF Graphics' branch choice; not smooth everywhere).

    Uses the formula dividing by 4 w when trace(R) > 0, otherwise the one dividing by the
    largest of 4 x, 4 y, 4 z (picked from the largest diagonal entry); e.g. for w:

        w = sqrt(1 + trace) / 2,  x = (R21 - R12) / 4w,  y = (R02 - R20) / 4w,
        z = (R10 - R01) / 4w

    Args:
        rotation_matrix: a tensor of shape [A1, ..., An, 3, 3].
        name: name scope of the op.

    Returns:
        A tensor of shape [A1, ..., An, 4].

    Example:
        >>> from_rotation_matrix(tf.eye(3)).numpy().round(6).tolist()
        [0.0, 0.0, 0.0, 1.0]
    """
    with tf.name_scope(name):
        matrix = check_last_dims(rotation_matrix, "rotation_matrix", (3, 3))
        eps = eps_for_addition(matrix.dtype)
        (m00, m01, m02), (m10, m11, m12), (m20, m21, m22) = [
            tf.unstack(row, axis=-1) for row in tf.unstack(matrix, axis=-2)
        ]
        trace = m00 + m11 + m22
        w_big = _dividing_by(3, trace, (m21 - m12, m02 - m20, m10 - m01), eps)
        x_big = _dividing_by(0, m00 - m11 - m22, (m01 + m10, m02 + m20, m21 - m12), eps)
        y_big = _dividing_by(1, m11 - m00 - m22, (m01 + m10, m12 + m21, m02 - m20), eps)
        z_big = _dividing_by(2, m22 - m00 - m11, (m02 + m20, m12 + m21, m10 - m01), eps)
        expand = lambda condition: tf.expand_dims(condition, -1)  # noqa: E731
        y_or_z = tf.where(expand(m11 > m22), y_big, z_big)
        x_first = (m00 > m11) & (m00 > m22)
        return tf.where(expand(trace > 0.0), w_big, tf.where(expand(x_first), x_big, y_or_z))


def conjugate(quaternion, name: str = "quaternion_conjugate") -> tf.Tensor:
    """q* = (-x, -y, -z, w), the inverse of a unit quaternion.

    Args:
        quaternion: a tensor of shape [A1, ..., An, 4].
        name: name scope of the op.

    Returns:
        A tensor of shape [A1, ..., An, 4].

    Example:
        >>> conjugate([1.0, 2.0, 3.0, 4.0]).numpy().tolist()
        [-1.0, -2.0, -3.0, 4.0]
    """
    with tf.name_scope(name):
        quaternion = check_last_dims(quaternion, "quaternion", (4,))
        xyz, w = tf.split(quaternion, (3, 1), axis=-1)
        return tf.concat((-xyz, w), axis=-1)


def inverse(quaternion, name: str = "quaternion_inverse") -> tf.Tensor:
    """q^-1 = q* / |q|^2.

    Args:
        quaternion: a tensor of shape [A1, ..., An, 4], non-zero.
        name: name scope of the op.

    Returns:
        A tensor of shape [A1, ..., An, 4].

    Example:
        >>> inverse([0.0, 0.0, 0.0, 2.0]).numpy().tolist()
        [-0.0, -0.0, -0.0, 0.5]
    """
    with tf.name_scope(name):
        quaternion = check_last_dims(quaternion, "quaternion", (4,))
        squared_norm = tf.reduce_sum(tf.square(quaternion), axis=-1, keepdims=True)
        return conjugate(quaternion) / squared_norm


def normalize(quaternion, eps: float = 1e-12, name: str = "quaternion_normalize") -> tf.Tensor:
    """q / max(|q|, sqrt(eps)).

    Args:
        quaternion: a tensor of shape [A1, ..., An, 4].
        eps: lower bound of the squared norm.
        name: name scope of the op.

    Returns:
        A tensor of shape [A1, ..., An, 4] of unit quaternions.

    Example:
        >>> normalize([0.0, 0.0, 3.0, 4.0]).numpy()
        array([0. , 0. , 0.6, 0.8], dtype=float32)
    """
    with tf.name_scope(name):
        quaternion = check_last_dims(quaternion, "quaternion", (4,))
        return tf.math.l2_normalize(quaternion, axis=-1, epsilon=eps)


def multiply(quaternion1, quaternion2, name: str = "quaternion_multiply") -> tf.Tensor:
    """Hamilton product q1 q2: rotating by q1 q2 rotates by q2 first, then by q1.

    Args:
        quaternion1: a tensor of shape [A1, ..., An, 4].
        quaternion2: a tensor of shape [A1, ..., An, 4], broadcast-compatible.
        name: name scope of the op.

    Returns:
        A tensor of shape [A1, ..., An, 4].

    Example:
        >>> multiply([1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]).numpy().tolist()  # i j = k
        [0.0, 0.0, 1.0, 0.0]
    """
    with tf.name_scope(name):
        quaternion1 = check_last_dims(quaternion1, "quaternion1", (4,))
        quaternion2 = check_last_dims(tf.cast(quaternion2, quaternion1.dtype), "quaternion2", (4,))
        x1, y1, z1, w1 = tf.unstack(quaternion1, axis=-1)
        x2, y2, z2, w2 = tf.unstack(quaternion2, axis=-1)
        x = x1 * w2 + y1 * z2 - z1 * y2 + w1 * x2
        y = -x1 * z2 + y1 * w2 + z1 * x2 + w1 * y2
        z = x1 * y2 - y1 * x2 + z1 * w2 + w1 * z2
        w = -x1 * x2 - y1 * y2 - z1 * z2 + w1 * w2
        return tf.stack((x, y, z, w), axis=-1)


def rotate(point, quaternion, name: str = "quaternion_rotate") -> tf.Tensor:
    """Rotates points by unit quaternions: p' = q (p, 0) q*.

    Args:
        point: a tensor of shape [A1, ..., An, 3].
        quaternion: a tensor of shape [A1, ..., An, 4] of unit quaternions, broadcast-compatible.
        name: name scope of the op.

    Returns:
        A tensor of shape [A1, ..., An, 3].

    Example:
        >>> rotate([1.0, 2.0, 3.0], [0.0, 0.0, 0.0, 1.0]).numpy().tolist()
        [1.0, 2.0, 3.0]
    """
    with tf.name_scope(name):
        point = check_last_dims(point, "point", (3,))
        quaternion = check_last_dims(tf.cast(quaternion, point.dtype), "quaternion", (4,))
        pure = tf.concat((point, tf.zeros_like(point[..., :1])), axis=-1)
        rotated = multiply(multiply(quaternion, pure), conjugate(quaternion))
        return rotated[..., :3]


def relative_angle(quaternion1, quaternion2, name: str = "quaternion_relative_angle"):
    """Angle of the rotation between two unit quaternions, 2 acos(|q1 . q2|), in [0, pi].

    Args:
        quaternion1: a tensor of shape [A1, ..., An, 4] of unit quaternions.
        quaternion2: a tensor of shape [A1, ..., An, 4] of unit quaternions.
        name: name scope of the op.

    Returns:
        A tensor of shape [A1, ..., An, 1].

    Example:
        >>> relative_angle([0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, -1.0]).numpy().tolist()
        [0.0]
    """
    with tf.name_scope(name):
        quaternion1 = check_last_dims(quaternion1, "quaternion1", (4,))
        quaternion2 = check_last_dims(tf.cast(quaternion2, quaternion1.dtype), "quaternion2", (4,))
        cosine = tf.abs(tf.reduce_sum(quaternion1 * quaternion2, axis=-1, keepdims=True))
        return 2.0 * tf.acos(tf.minimum(cosine, 1.0))
