"""Rotation matrices, quaternions, Euler angles and axis-angles against closed forms."""

import math
import re

import numpy as np
import pytest
import tensorflow as tf

from cuttingedge.trainers.graphics import axis_angle, euler, quaternion, rotation_matrix_3d

X, Y, Z = [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]
ATOL = 1e-5


def assert_close(got, want, atol=ATOL):
    np.testing.assert_allclose(np.asarray(got), np.asarray(want, np.float32), atol=atol)


# --- a quarter turn about z maps x to y, by every representation ------------------------

def test_quarter_turn_about_z_maps_x_to_y():
    quarter = math.pi / 2
    assert_close(rotation_matrix_3d.rotate(X, rotation_matrix_3d.from_axis_angle(Z, [quarter])), Y)
    assert_close(rotation_matrix_3d.rotate(X, rotation_matrix_3d.from_euler([0.0, 0.0, quarter])), Y)
    assert_close(quaternion.rotate(X, quaternion.from_axis_angle(Z, [quarter])), Y)
    assert_close(quaternion.rotate(X, quaternion.from_euler([0.0, 0.0, quarter])), Y)


def test_right_handed_quarter_turns_about_x_and_y():
    quarter = math.pi / 2
    assert_close(rotation_matrix_3d.rotate(Y, rotation_matrix_3d.from_euler([quarter, 0.0, 0.0])), Z)
    assert_close(rotation_matrix_3d.rotate(Z, rotation_matrix_3d.from_euler([0.0, quarter, 0.0])), X)


def test_euler_composes_x_then_y_then_z():
    a, b, c = 0.3, -0.5, 1.1
    rx = rotation_matrix_3d.from_axis_angle(X, [a])
    ry = rotation_matrix_3d.from_axis_angle(Y, [b])
    rz = rotation_matrix_3d.from_axis_angle(Z, [c])
    assert_close(rotation_matrix_3d.from_euler([a, b, c]), rz @ ry @ rx)


def test_quaternion_of_quarter_turn_is_closed_form():
    half = math.sqrt(0.5)
    assert_close(quaternion.from_axis_angle(Z, [math.pi / 2]), [0.0, 0.0, half, half])
    assert_close(quaternion.from_euler([0.0, 0.0, math.pi / 2]), [0.0, 0.0, half, half])


# --- validity: orthonormal with determinant 1 --------------------------------------------

def test_matrices_are_orthonormal_with_unit_determinant(random_angles):
    for matrix in (rotation_matrix_3d.from_euler(random_angles),
                   rotation_matrix_3d.from_quaternion(quaternion.from_euler(random_angles))):
        assert_close(tf.matmul(matrix, matrix, transpose_b=True), np.broadcast_to(np.eye(3), (64, 3, 3)))
        assert_close(tf.linalg.det(matrix), np.ones(64))
        assert bool(tf.reduce_all(rotation_matrix_3d.is_valid(matrix)))


def test_inverse_is_transpose_and_undoes_the_rotation(random_angles):
    matrix = rotation_matrix_3d.from_euler(random_angles)
    points = tf.random.normal([64, 3])
    back = rotation_matrix_3d.rotate(rotation_matrix_3d.rotate(points, matrix),
                                     rotation_matrix_3d.inverse(matrix))
    assert_close(back, points)


def test_is_valid_rejects_a_scaling():
    assert rotation_matrix_3d.is_valid(2.0 * tf.eye(3)).numpy().tolist() == [False]


def test_rotate_broadcasts_points_against_one_matrix():
    matrix = rotation_matrix_3d.from_euler([0.0, 0.0, math.pi / 2])
    points = tf.constant([[X, Y], [Z, X]])  # [2, 2, 3]
    assert_close(rotation_matrix_3d.rotate(points, matrix), [[Y, [-1.0, 0.0, 0.0]], [Z, Y]])


# --- round trips on random angles ---------------------------------------------------------

def test_euler_matrix_round_trip(random_angles):
    matrix = rotation_matrix_3d.from_euler(random_angles)
    assert_close(euler.from_rotation_matrix(matrix), random_angles, atol=1e-4)


def test_euler_quaternion_round_trip(random_angles):
    assert_close(euler.from_quaternion(quaternion.from_euler(random_angles)), random_angles, atol=1e-4)


def test_quaternion_matrix_round_trip_up_to_sign(random_angles):
    q = quaternion.from_euler(random_angles)
    back = quaternion.from_rotation_matrix(rotation_matrix_3d.from_quaternion(q))
    sign = np.sign(np.sum(back.numpy() * q.numpy(), axis=-1, keepdims=True))
    assert_close(back * sign, q)


@pytest.mark.parametrize("axis", [X, Y, Z, [1.0, 1.0, 0.0]])
def test_quaternion_from_matrix_covers_every_branch(axis):
    """Angle pi about an axis: trace = -1, so the x, y or z branch is taken."""
    axis = (np.asarray(axis) / np.linalg.norm(axis)).astype(np.float32)
    matrix = rotation_matrix_3d.from_axis_angle(axis, [math.pi])
    back = quaternion.from_rotation_matrix(matrix)
    assert_close(tf.abs(back), np.concatenate([np.abs(axis), [0.0]]))  # (axis sin(pi/2), cos(pi/2))


def test_quaternion_and_matrix_rotate_alike(random_angles):
    points = tf.random.normal([64, 3])
    by_quaternion = quaternion.rotate(points, quaternion.from_euler(random_angles))
    by_matrix = rotation_matrix_3d.rotate(points, rotation_matrix_3d.from_euler(random_angles))
    assert_close(by_quaternion, by_matrix)


def test_euler_gimbal_lock_gives_a_valid_decomposition():
    angles = [0.4, math.pi / 2, 0.0]
    matrix = rotation_matrix_3d.from_euler(angles)
    assert_close(rotation_matrix_3d.from_euler(euler.from_rotation_matrix(matrix)), matrix)


# --- quaternion algebra -------------------------------------------------------------------

def test_multiply_composes_rotations_right_to_left(random_angles):
    q1 = quaternion.from_euler(random_angles)
    q2 = quaternion.from_euler(random_angles[::-1].copy())
    points = tf.random.normal([64, 3])
    assert_close(quaternion.rotate(points, quaternion.multiply(q1, q2)),
           quaternion.rotate(quaternion.rotate(points, q2), q1))


def test_hamilton_products_of_units():
    i, j, k, one = [1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, 0], [0, 0, 0, 1.0]
    assert_close(quaternion.multiply(i, j), k)
    assert_close(quaternion.multiply(j, i), [0, 0, -1.0, 0])
    assert_close(quaternion.multiply(i, i), [0, 0, 0, -1.0])
    assert_close(quaternion.multiply(one, k), k)


def test_conjugate_is_inverse_of_unit_quaternion(random_angles):
    q = quaternion.from_euler(random_angles)
    identity = np.broadcast_to([0.0, 0.0, 0.0, 1.0], (64, 4))
    assert_close(quaternion.multiply(q, quaternion.conjugate(q)), identity)
    assert_close(quaternion.inverse(q), quaternion.conjugate(q))


def test_normalize_gives_unit_norm():
    q = quaternion.normalize(tf.random.normal([10, 4]))
    assert_close(tf.norm(q, axis=-1), np.ones(10))


def test_relative_angle_of_two_turns_about_one_axis():
    q1, q2 = quaternion.from_axis_angle(Z, [0.2]), quaternion.from_axis_angle(Z, [0.9])
    assert_close(quaternion.relative_angle(q1, q2), [0.7])


def test_axis_angle_from_quaternion_and_matrix():
    axis = np.array([2.0, -1.0, 2.0], np.float32) / 3.0
    got_axis, got_angle = axis_angle.from_quaternion(quaternion.from_axis_angle(axis, [1.2]))
    assert_close(got_axis, axis), assert_close(got_angle, [1.2])
    got_axis, got_angle = axis_angle.from_rotation_matrix(
        rotation_matrix_3d.from_axis_angle(axis, [1.2]))
    assert_close(got_axis, axis), assert_close(got_angle, [1.2])


# --- gradients and errors -------------------------------------------------------------------

def test_conversions_have_finite_gradients(random_angles):
    angles = tf.constant(random_angles)
    with tf.GradientTape() as tape:
        tape.watch(angles)
        matrix = rotation_matrix_3d.from_euler(angles)
        total = tf.reduce_sum(euler.from_rotation_matrix(matrix)) + tf.reduce_sum(
            quaternion.from_rotation_matrix(matrix))
    assert bool(tf.reduce_all(tf.math.is_finite(tape.gradient(total, angles))))


def test_shape_errors_name_the_argument_and_shape():
    message = "Expected angles of shape [..., 3], received shape [2, 4]."
    with pytest.raises(ValueError, match=re.escape(message)):
        rotation_matrix_3d.from_euler(tf.zeros([2, 4]))
    message = "Expected quaternion of shape [..., 4], received shape [3]."
    with pytest.raises(ValueError, match=re.escape(message)):
        quaternion.conjugate([0.0, 0.0, 1.0])
    message = "Expected rotation_matrix of shape [..., 3, 3], received rank 1 (shape [3])."
    with pytest.raises(ValueError, match=re.escape(message)):
        euler.from_rotation_matrix([1.0, 0.0, 0.0])
