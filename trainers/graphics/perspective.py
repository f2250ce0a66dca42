"""Pinhole (perspective) camera with TF Graphics' conventions.

The camera sits at the origin and looks down +z; a point (x, y, z) with z > 0 is in front.
With focal length (f_x, f_y) and principal point (c_x, c_y), both in pixels,

    x' = f_x x / z + c_x,    y' = f_y y / z + c_y

i.e. the calibration matrix [[f_x, 0, c_x], [0, f_y, c_y], [0, 0, 1]]. With image
coordinates x' to the right and y' down, the camera frame is x right, y down, z forward
(right-handed). No distortion and no skew.

Example:
    >>> project([1.0, 2.0, 4.0], [100.0, 100.0], [50.0, 50.0]).numpy().tolist()
    [75.0, 100.0]
"""

from __future__ import annotations

import tensorflow as tf

from cuttingedge.trainers.graphics.safe_ops import safe_signed_div
from cuttingedge.trainers.graphics.shape import check_last_dims


def _intrinsics(focal, principal_point, dtype):
    focal = check_last_dims(tf.cast(focal, dtype), "focal", (2,))
    principal_point = check_last_dims(tf.cast(principal_point, dtype), "principal_point", (2,))
    return focal, principal_point


def project(point_3d, focal, principal_point, name: str = "perspective_project") -> tf.Tensor:
    """Projects 3d points in camera coordinates to pixels: x' = f x / z + c.

    Args:
        point_3d: a tensor of shape [A1, ..., An, 3].
        focal: a tensor of shape [A1, ..., An, 2], (f_x, f_y) in pixels.
        principal_point: a tensor of shape [A1, ..., An, 2], (c_x, c_y) in pixels.
        name: name scope of the op.

    Returns:
        A tensor of shape [A1, ..., An, 2] (batch dimensions broadcast).

    Example:
        >>> project([0.0, 0.0, 3.0], [10.0, 10.0], [5.0, 6.0]).numpy().tolist()
        [5.0, 6.0]
    """
    with tf.name_scope(name):
        point_3d = check_last_dims(point_3d, "point_3d", (3,))
        focal, principal_point = _intrinsics(focal, principal_point, point_3d.dtype)
        point_2d, depth = tf.split(point_3d, (2, 1), axis=-1)
        return point_2d * safe_signed_div(focal, depth) + principal_point


def ray(point_2d, focal, principal_point, name: str = "perspective_ray") -> tf.Tensor:
    """Direction (r_x, r_y, 1) of the ray from the camera centre through pixel `point_2d`.

        r_x = (x' - c_x) / f_x,    r_y = (y' - c_y) / f_y

    Args:
        point_2d: a tensor of shape [A1, ..., An, 2].
        focal: a tensor of shape [A1, ..., An, 2].
        principal_point: a tensor of shape [A1, ..., An, 2].
        name: name scope of the op.

    Returns:
        A tensor of shape [A1, ..., An, 3] whose z component is 1.

    Example:
        >>> ray([75.0, 100.0], [100.0, 100.0], [50.0, 50.0]).numpy().tolist()
        [0.25, 0.5, 1.0]
    """
    with tf.name_scope(name):
        point_2d = check_last_dims(point_2d, "point_2d", (2,))
        focal, principal_point = _intrinsics(focal, principal_point, point_2d.dtype)
        direction = safe_signed_div(point_2d - principal_point, focal)
        return tf.concat((direction, tf.ones_like(direction[..., :1])), axis=-1)


def unproject(point_2d, depth, focal, principal_point, name: str = "perspective_unproject"):
    """3d point at depth z seen at pixel `point_2d`: x = z (x' - c_x) / f_x, y likewise.

    Args:
        point_2d: a tensor of shape [A1, ..., An, 2].
        depth: a tensor of shape [A1, ..., An, 1], the z coordinate.
        focal: a tensor of shape [A1, ..., An, 2].
        principal_point: a tensor of shape [A1, ..., An, 2].
        name: name scope of the op.

    Returns:
        A tensor of shape [A1, ..., An, 3].

    Example:
        >>> unproject([75.0, 100.0], [4.0], [100.0, 100.0], [50.0, 50.0]).numpy().tolist()
        [1.0, 2.0, 4.0]
    """
    with tf.name_scope(name):
        point_2d = check_last_dims(point_2d, "point_2d", (2,))
        depth = check_last_dims(tf.cast(depth, point_2d.dtype), "depth", (1,))
        focal, principal_point = _intrinsics(focal, principal_point, point_2d.dtype)
        xy = (point_2d - principal_point) * safe_signed_div(depth, focal)
        return tf.concat((xy, depth + tf.zeros_like(xy[..., :1])), axis=-1)


def matrix_from_intrinsics(
    focal, principal_point, name: str = "perspective_matrix_from_intrinsics"
) -> tf.Tensor:
    """Calibration matrix [[f_x, 0, c_x], [0, f_y, c_y], [0, 0, 1]].

    Args:
        focal: a tensor of shape [A1, ..., An, 2].
        principal_point: a tensor of shape [A1, ..., An, 2].
        name: name scope of the op.

    Returns:
        A tensor of shape [A1, ..., An, 3, 3].

    Example:
        >>> matrix_from_intrinsics([2.0, 3.0], [4.0, 5.0]).numpy().tolist()
        [[2.0, 0.0, 4.0], [0.0, 3.0, 5.0], [0.0, 0.0, 1.0]]
    """
    with tf.name_scope(name):
        focal = check_last_dims(focal, "focal", (2,))
        focal, principal_point = _intrinsics(focal, principal_point, focal.dtype)
        fx, fy = tf.unstack(focal, axis=-1)
        cx, cy = tf.unstack(principal_point, axis=-1)
        zero, one = tf.zeros_like(fx), tf.ones_like(fx)
        matrix = tf.stack((fx, zero, cx, zero, fy, cy, zero, zero, one), axis=-1)
        return tf.reshape(matrix, tf.concat((tf.shape(focal)[:-1], (3, 3)), axis=0))
