"""Perspective and orthographic cameras: hand-computed projections and round trips."""

import itertools
import re

import numpy as np
import pytest
import tensorflow as tf

from cuttingedge.trainers.graphics import orthographic, perspective

FOCAL = [100.0, 200.0]
PRINCIPAL = [50.0, 60.0]


def test_cube_corners_project_to_hand_computed_pixels():
    """Cube [-1, 1] x [-1, 1] x [3, 5]: x' = 100 x / z + 50, y' = 200 y / z + 60."""
    corners = np.array(list(itertools.product([-1.0, 1.0], [-1.0, 1.0], [3.0, 5.0])), np.float32)
    want = [(50.0 + 100.0 * x / z, 60.0 + 200.0 * y / z) for x, y, z in corners]
    # e.g. (1, -1, 3) -> (50 + 100/3, 60 - 200/3) = (83.333, -6.667); (-1, 1, 5) -> (30, 100)
    assert (50.0 + 100.0 / 3.0, 60.0 - 200.0 / 3.0) in want and (30.0, 100.0) in want
    got = perspective.project(corners, FOCAL, PRINCIPAL)
    np.testing.assert_allclose(got, np.array(want), rtol=1e-6)


def test_unproject_inverts_project(rng):
    points = np.concatenate([rng.uniform(-2, 2, (50, 2)), rng.uniform(0.5, 10, (50, 1))], axis=1)
    points = points.astype(np.float32)
    pixels = perspective.project(points, FOCAL, PRINCIPAL)
    back = perspective.unproject(pixels, points[:, 2:], FOCAL, PRINCIPAL)
    np.testing.assert_allclose(back, points, rtol=1e-5, atol=1e-5)


def test_ray_passes_through_the_point_it_was_cast_for():
    point = tf.constant([0.5, -1.5, 4.0])
    direction = perspective.ray(perspective.project(point, FOCAL, PRINCIPAL), FOCAL, PRINCIPAL)
    np.testing.assert_allclose(direction, point / 4.0, rtol=1e-6)


def test_principal_point_is_the_image_of_the_optical_axis():
    np.testing.assert_allclose(perspective.project([0.0, 0.0, 7.0], FOCAL, PRINCIPAL), PRINCIPAL)


def test_batched_intrinsics_broadcast():
    focal = tf.constant([[100.0, 100.0], [10.0, 10.0]])
    got = perspective.project(tf.constant([[1.0, 1.0, 2.0]]), focal, [0.0, 0.0])
    np.testing.assert_allclose(got, [[50.0, 50.0], [5.0, 5.0]])


def test_matrix_from_intrinsics_projects_like_project():
    matrix = perspective.matrix_from_intrinsics(FOCAL, PRINCIPAL)
    point = np.array([0.3, -0.7, 2.5], np.float32)
    homogeneous = matrix.numpy() @ point
    np.testing.assert_allclose(homogeneous[:2] / homogeneous[2],
                               perspective.project(point, FOCAL, PRINCIPAL), rtol=1e-6)


def test_orthographic_project_unproject_and_ray():
    point = tf.constant([[1.0, -2.0, 3.0]])
    np.testing.assert_allclose(orthographic.project(point), [[1.0, -2.0]])
    np.testing.assert_allclose(orthographic.unproject(orthographic.project(point), [[3.0]]), point)
    np.testing.assert_allclose(orthographic.ray([[4.0, 5.0]]), [[0.0, 0.0, 1.0]])


def test_camera_shape_errors():
    message = "Expected focal of shape [..., 2], received shape [3]."
    with pytest.raises(ValueError, match=re.escape(message)):
        perspective.project([1.0, 2.0, 3.0], [1.0, 1.0, 1.0], [0.0, 0.0])
    message = "Expected depth of shape [..., 1], received shape [2]."
    with pytest.raises(ValueError, match=re.escape(message)):
        orthographic.unproject([1.0, 2.0], [3.0, 4.0])
