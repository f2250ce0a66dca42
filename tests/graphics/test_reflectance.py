"""Lambertian and Phong BRDFs: energy by quadrature, hemispheres, TF Graphics' values."""

import math
import re

import numpy as np
import pytest
import tensorflow as tf

from cuttingedge.trainers.graphics import bilinear, lambertian, phong, reflectance, vector

NORMAL = [0.0, 0.0, 1.0]


def _hemisphere_quadrature(n_theta=200, n_phi=64):
    """Midpoint-rule directions on the upper hemisphere and weights sin(theta) dtheta dphi."""
    theta = (np.arange(n_theta) + 0.5) * (math.pi / 2) / n_theta
    phi = (np.arange(n_phi) + 0.5) * 2 * math.pi / n_phi
    theta, phi = np.meshgrid(theta, phi, indexing="ij")
    directions = np.stack([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi),
                           np.cos(theta)], axis=-1).reshape(-1, 3)
    weights = (np.sin(theta) * (math.pi / 2 / n_theta) * (2 * math.pi / n_phi)).reshape(-1)
    return directions.astype(np.float32), weights, np.cos(theta).reshape(-1)


def test_lambertian_reflects_the_albedo_over_the_hemisphere():
    """integral brdf(l_in, l_out, n) cos(theta_in) d omega_in = albedo."""
    directions, weights, cosines = _hemisphere_quadrature()
    albedo = np.array([0.9, 0.5, 0.1], np.float32)
    values = lambertian.brdf(-directions, NORMAL, NORMAL, albedo).numpy()
    integral = np.sum(values * (cosines * weights)[:, None], axis=0)
    np.testing.assert_allclose(integral, albedo, atol=1e-2)


def test_lambertian_is_albedo_over_pi_above_and_zero_below():
    albedo = [0.2, 0.4, 0.6]
    above = lambertian.brdf([0.6, 0.0, -0.8], [0.0, 0.8, 0.6], NORMAL, albedo)
    np.testing.assert_allclose(above, np.array(albedo) / math.pi, rtol=1e-6)
    light_below = lambertian.brdf([0.0, 0.0, 1.0], NORMAL, NORMAL, albedo)
    viewer_below = lambertian.brdf([0.0, 0.0, -1.0], [0.0, 0.0, -1.0], NORMAL, albedo)
    np.testing.assert_array_equal(light_below, [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(viewer_below, [0.0, 0.0, 0.0])


@pytest.mark.parametrize("shininess", [1.0, 10.0, 50.0])
def test_normalized_phong_reflects_the_albedo_at_normal_incidence(shininess):
    """(s + 2) / (2 pi) * 2 pi * integral cos^(s + 1) sin d theta = 1 for light along n."""
    directions, weights, cosines = _hemisphere_quadrature(n_theta=2000, n_phi=8)
    albedo = np.array([1.0, 0.5, 0.25], np.float32)
    values = phong.brdf([0.0, 0.0, -1.0], directions, NORMAL, [shininess], albedo).numpy()
    integral = np.sum(values * (cosines * weights)[:, None], axis=0)
    np.testing.assert_allclose(integral, albedo, atol=1e-2)


def test_phong_is_zero_below_the_surface(rng):
    directions = rng.normal(size=(100, 3)).astype(np.float32)
    directions /= np.linalg.norm(directions, axis=-1, keepdims=True)
    below = directions * np.where(directions[:, 2:] > 0, -1.0, 1.0).astype(np.float32)
    up = directions * np.where(directions[:, 2:] < 0, -1.0, 1.0).astype(np.float32)
    # light coming from below (l_in . n > 0) or viewer below (l_out . n < 0)
    light_below = phong.brdf(up, up, NORMAL, [10.0], [1.0, 1.0, 1.0])
    viewer_below = phong.brdf(-up, below, NORMAL, [10.0], [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(light_below, np.zeros((100, 3)))
    np.testing.assert_array_equal(viewer_below, np.zeros((100, 3)))


def test_phong_closed_form_off_specular():
    """Light in at 45 degrees, viewer at the mirror direction rotated by 30 degrees."""
    s = 8.0
    incoming = [math.sqrt(0.5), 0.0, -math.sqrt(0.5)]  # mirror: (sqrt(.5), 0, sqrt(.5))
    angle = math.radians(45.0 - 30.0)  # viewer 15 degrees from the normal, same plane
    outgoing = [math.sin(angle), 0.0, math.cos(angle)]
    want = math.cos(math.radians(30.0)) ** s * (s + 2) / (2 * math.pi)
    got = phong.brdf(incoming, outgoing, NORMAL, [s], [1.0, 1.0, 1.0])
    np.testing.assert_allclose(got, [want] * 3, rtol=1e-5)
    raw = phong.brdf(incoming, outgoing, NORMAL, [s], [1.0, 1.0, 1.0], brdf_normalization=False)
    np.testing.assert_allclose(raw, [math.cos(math.radians(30.0)) ** s] * 3, rtol=1e-5)


def test_phong_gradients_are_finite_where_the_lobe_is_clipped():
    outgoing = tf.constant([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # grazing: cos(alpha) <= 0
    incoming = tf.constant([[-1.0, 0.0, -1e-3]])
    shininess = tf.constant([[0.5]])
    with tf.GradientTape() as tape:
        tape.watch([outgoing, shininess])
        total = tf.reduce_sum(phong.brdf(tf.math.l2_normalize(incoming, -1), outgoing, NORMAL,
                                         shininess, [1.0, 1.0, 1.0]))
    for gradient in tape.gradient(total, [outgoing, shininess]):
        assert bool(tf.reduce_all(tf.math.is_finite(gradient)))


def test_reflectance_groups_the_two_models():
    assert reflectance.lambertian.brdf is lambertian.brdf and reflectance.phong.brdf is phong.brdf


def test_vector_helpers():
    np.testing.assert_allclose(vector.cross([1.0, 0.0, 0.0], [0.0, 1.0, 0.0]), [0.0, 0.0, 1.0])
    np.testing.assert_allclose(vector.reflect([1.0, -2.0, 3.0], [0.0, 1.0, 0.0]), [1.0, 2.0, 3.0])


def test_bilinear_interpolates_a_linear_ramp_exactly():
    """I(y, x) = 3 x + 5 y is reproduced at any point inside; clamped outside."""
    rows, cols = np.meshgrid(np.arange(4.0), np.arange(6.0), indexing="ij")
    image = (3 * cols + 5 * rows)[..., None].astype(np.float32)
    points = np.array([[0.25, 0.5], [4.75, 2.9], [2.0, 3.0], [-3.0, 10.0]], np.float32)
    want = [[3 * 0.25 + 5 * 0.5], [3 * 4.75 + 5 * 2.9], [3 * 2 + 5 * 3], [3 * 0 + 5 * 3]]
    np.testing.assert_allclose(bilinear.interpolate(image, points), want, rtol=1e-6)
    batched = bilinear.interpolate(np.stack([image, 2 * image]), np.stack([points, points]))
    np.testing.assert_allclose(batched[1], 2 * np.array(want), rtol=1e-6)


def test_bilinear_rejects_a_vector_image():
    message = "Expected image of shape [H, W, C] or [B, H, W, C], received shape (5,)."
    with pytest.raises(ValueError, match=re.escape(message)):
        bilinear.interpolate(tf.zeros([5]), [[0.0, 0.0]])
