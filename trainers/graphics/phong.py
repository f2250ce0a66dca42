"""Phong specular reflectance with TF Graphics' conventions.

Directions as in `lambertian`: `direction_incoming_light` from the light to the surface,
`direction_outgoing_light` from the surface to the viewer, all unit [..., 3] vectors.
With r = reflect(l_in, n) the mirror direction and cos(alpha) = max(r . l_out, 0):

    f(l_in, l_out, n) = albedo * cos(alpha)^shininess * (shininess + 2) / (2 pi)

on the upper hemisphere (-l_in . n >= 0 and l_out . n >= 0), 0 otherwise. The factor
(shininess + 2) / (2 pi) (Lafortune and Willems 1994) makes the reflected fraction of light
at normal incidence, integral f cos(theta_out) d omega_out, equal to the albedo;
`brdf_normalization=False` gives the classic unnormalized lobe albedo * cos(alpha)^shininess.

Example:
    >>> n = [0.0, 0.0, 1.0]
    >>> brdf([0.0, 0.0, -1.0], n, n, [0.0], [1.0, 1.0, 1.0]).numpy().round(4)
    array([0.3183, 0.3183, 0.3183], dtype=float32)
"""

from __future__ import annotations

import math

import tensorflow as tf

from cuttingedge.trainers.graphics import vector
from cuttingedge.trainers.graphics.lambertian import upper_hemisphere
from cuttingedge.trainers.graphics.safe_ops import eps_for_division
from cuttingedge.trainers.graphics.shape import check_last_dims


def brdf_normalization_factor(shininess) -> tf.Tensor:
    """(shininess + 2) / (2 pi), the factor that conserves energy at normal incidence.

    Example:
        >>> round(float(brdf_normalization_factor(0.0)), 4)
        0.3183
    """
    return (tf.convert_to_tensor(shininess, dtype_hint=tf.float32) + 2.0) / (2.0 * math.pi)


def brdf(
    direction_incoming_light,
    direction_outgoing_light,
    surface_normal,
    shininess,
    albedo,
    brdf_normalization: bool = True,
    name: str = "phong_brdf",
) -> tf.Tensor:
    """Evaluates the specular Phong BRDF.

    Args:
        direction_incoming_light: a tensor of shape [A1, ..., An, 3], unit, light to surface.
        direction_outgoing_light: a tensor of shape [A1, ..., An, 3], unit, surface to viewer.
        surface_normal: a tensor of shape [A1, ..., An, 3], unit.
        shininess: a tensor of shape [A1, ..., An, 1], non-negative exponent.
        albedo: a tensor of shape [A1, ..., An, 3] with values in [0, 1].
        brdf_normalization: multiply by (shininess + 2) / (2 pi) (TF Graphics' default).
        name: name scope of the op.

    Returns:
        A tensor of shape [A1, ..., An, 3] (batch dimensions broadcast).

    Raises:
        ValueError: if a trailing dimension is not 3 (1 for `shininess`).

    Example:
        >>> n = [0.0, 0.0, 1.0]
        >>> brdf([0.0, 0.0, 1.0], n, n, [1.0], [1.0, 1.0, 1.0]).numpy()  # light from below
        array([0., 0., 0.], dtype=float32)
    """
    with tf.name_scope(name):
        incoming = check_last_dims(direction_incoming_light, "direction_incoming_light", (3,))
        dtype = incoming.dtype
        outgoing = check_last_dims(
            tf.cast(direction_outgoing_light, dtype), "direction_outgoing_light", (3,)
        )
        normal = check_last_dims(tf.cast(surface_normal, dtype), "surface_normal", (3,))
        shininess = check_last_dims(tf.cast(shininess, dtype), "shininess", (1,))
        albedo = check_last_dims(tf.cast(albedo, dtype), "albedo", (3,))
        mask = upper_hemisphere(incoming, outgoing, normal)
        reflection = tf.math.l2_normalize(vector.reflect(incoming, normal), axis=-1)
        # A tiny floor instead of 0 keeps the gradient of cos^shininess finite at 0.
        cos_alpha = tf.maximum(vector.dot(reflection, outgoing), eps_for_division(dtype))
        value = albedo * tf.pow(cos_alpha, shininess)
        if brdf_normalization:
            value *= brdf_normalization_factor(shininess)
        value += tf.zeros_like(tf.cast(mask, dtype))
        return tf.where(mask, value, tf.zeros_like(value))
