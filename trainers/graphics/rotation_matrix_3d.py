"""3d rotation matrices with TF Graphics' conventions.

Matrices act on column vectors (p' = R p), are right-handed and batched over leading
dimensions: a [A1, ..., An, 3, 3] tensor holds A1 * ... * An matrices. Euler angles are
(theta_x, theta_y, theta_z) in radians and compose as

    R = Rz(theta_z) Ry(theta_y) Rx(theta_x)

(rotate about x first, then y, then z, all about the fixed axes).

Example:
    >>> import math
    >>> matrix = from_euler([0.0, 0.0, math.pi / 2])
    >>> rotate([1.0, 0.0, 0.0], matrix).numpy().round(6) + 0.0
    array([0., 1., 0.], dtype=float32)
"""

from __future__ import annotations

import tensorflow as tf

from cuttingedge.trainers.graphics.shape import check_last_dims


def _stack_matrix(entries, batch_like: tf.Tensor) -> tf.Tensor:
    """Stacks 9 row-major entries of shape [A1, ..., An] into [A1, ..., An, 3, 3]."""
    matrix = tf.stack(entries, axis=-1)
    return tf.reshape(matrix, tf.concat((tf.shape(batch_like)[:-1], (3, 3)), axis=0))


def from_axis_angle(axis, angle, name: str = "rotation_matrix_3d_from_axis_angle") -> tf.Tensor:
    """Rotation of `angle` radians about the unit `axis` (Rodrigues' formula).

        R = cos(a) I + sin(a) [axis]_x + (1 - cos(a)) axis axis^T

    Args:
        axis: a tensor of shape [A1, ..., An, 3] of normalized axes.
        angle: a tensor of shape [A1, ..., An, 1] of angles in radians.
        name: name scope of the op.

    Returns:
        A tensor of shape [A1, ..., An, 3, 3].

    Example:
        >>> from_axis_angle([0.0, 0.0, 1.0], [0.0]).numpy().tolist()
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    """
    with tf.name_scope(name):
        axis = check_last_dims(axis, "axis", (3,))
        angle = check_last_dims(tf.cast(angle, axis.dtype), "angle", (1,))
        axis, angle = axis + tf.zeros_like(angle), angle + tf.zeros_like(axis[..., :1])
        x, y, z = tf.unstack(axis, axis=-1)
        s, c = tf.sin(angle[..., 0]), tf.cos(angle[..., 0])
        t = 1.0 - c
        entries = (
            c + t * x * x, t * x * y - s * z, t * x * z + s * y,
            t * x * y + s * z, c + t * y * y, t * y * z - s * x,
            t * x * z - s * y, t * y * z + s * x, c + t * z * z,
        )  # fmt: skip
        return _stack_matrix(entries, axis)


def from_euler(angles, name: str = "rotation_matrix_3d_from_euler") -> tf.Tensor:
    """Rotation R = Rz Ry Rx from Euler angles (theta_x, theta_y, theta_z).

    Args:
        angles: a tensor of shape [A1, ..., An, 3] of angles about x, y and z in radians.
        name: name scope of the op.

    Returns:
        A tensor of shape [A1, ..., An, 3, 3].

    Example:
        >>> import math
        >>> from_euler([math.pi / 2, 0.0, 0.0]).numpy().round(6) + 0.0  # + 0.0 turns -0 into 0
        array([[ 1.,  0.,  0.],
               [ 0.,  0., -1.],
               [ 0.,  1.,  0.]], dtype=float32)
    """
    with tf.name_scope(name):
        angles = check_last_dims(angles, "angles", (3,))
        sx, sy, sz = tf.unstack(tf.sin(angles), axis=-1)
        cx, cy, cz = tf.unstack(tf.cos(angles), axis=-1)
        entries = (
            cy * cz, sx * sy * cz - cx * sz, cx * sy * cz + sx * sz,
            cy * sz, sx * sy * sz + cx * cz, cx * sy * sz - sx * cz,
            -sy, sx * cy, cx * cy,
        )  # fmt: skip
        return _stack_matrix(entries, angles)


def from_quaternion(quaternion, name: str = "rotation_matrix_3d_from_quaternion") -> tf.Tensor:
    """Rotation matrix of a normalized quaternion (x, y, z, w).

    Args:
        quaternion: a tensor of shape [A1, ..., An, 4] of unit quaternions, w last.
        name: name scope of the op.

    Returns:
        A tensor of shape [A1, ..., An, 3, 3].

    Example:
        >>> from_quaternion([0.0, 0.0, 0.0, 1.0]).numpy().tolist()
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    """
    with tf.name_scope(name):
        quaternion = check_last_dims(quaternion, "quaternion", (4,))
        x, y, z, w = tf.unstack(quaternion, axis=-1)
        tx, ty, tz = 2.0 * x, 2.0 * y, 2.0 * z
        twx, twy, twz = tx * w, ty * w, tz * w
        txx, txy, txz = tx * x, ty * x, tz * x
        tyy, tyz, tzz = ty * y, tz * y, tz * z
        entries = (
            1.0 - (tyy + tzz), txy - twz, txz + twy,
            txy + twz, 1.0 - (txx + tzz), tyz - twx,
            txz - twy, tyz + twx, 1.0 - (txx + tyy),
        )  # fmt: skip
        return _stack_matrix(entries, quaternion)


def inverse(matrix, name: str = "rotation_matrix_3d_inverse") -> tf.Tensor:
    """Inverse of a rotation matrix, its transpose R^T.

    Args:
        matrix: a tensor of shape [A1, ..., An, 3, 3] of rotation matrices.
        name: name scope of the op.

    Returns:
        A tensor of shape [A1, ..., An, 3, 3].

    Example:
        >>> matrix = from_euler([0.1, 0.2, 0.3])
        >>> bool(tf.reduce_all(tf.abs(inverse(matrix) @ matrix - tf.eye(3)) < 1e-6))
        True
    """
    with tf.name_scope(name):
        matrix = check_last_dims(matrix, "matrix", (3, 3))
        return tf.linalg.matrix_transpose(matrix)


def rotate(point, matrix, name: str = "rotation_matrix_3d_rotate") -> tf.Tensor:
    """Rotates points: p' = R p, batch dimensions broadcast.

    Args:
        point: a tensor of shape [A1, ..., An, 3].
        matrix: a tensor of shape [A1, ..., An, 3, 3], broadcast-compatible with `point`.
        name: name scope of the op.

    Returns:
        A tensor of shape [A1, ..., An, 3].

    Example:
        >>> rotate([1.0, 2.0, 3.0], tf.eye(3)).numpy().tolist()
        [1.0, 2.0, 3.0]
    """
    with tf.name_scope(name):
        point = check_last_dims(point, "point", (3,))
        matrix = check_last_dims(tf.cast(matrix, point.dtype), "matrix", (3, 3))
        return tf.linalg.matvec(matrix, point)


def is_valid(matrix, atol: float = 1e-3, name: str = "rotation_matrix_3d_is_valid") -> tf.Tensor:
    """Whether matrices are rotations: det(R) = 1 and R R^T = I within `atol`.

    Args:
        matrix: a tensor of shape [A1, ..., An, 3, 3].
        atol: absolute tolerance.
        name: name scope of the op.

    Returns:
        A bool tensor of shape [A1, ..., An, 1].

    Example:
        >>> is_valid(tf.eye(3)).numpy().tolist()
        [True]
    """
    with tf.name_scope(name):
        matrix = check_last_dims(matrix, "matrix", (3, 3))
        det_ok = tf.abs(tf.linalg.det(matrix) - 1.0) < atol
        gram = tf.matmul(matrix, matrix, transpose_b=True)
        ortho_ok = tf.reduce_all(tf.abs(gram - tf.eye(3, dtype=matrix.dtype)) < atol, [-2, -1])
        return tf.expand_dims(det_ok & ortho_ok, -1)
