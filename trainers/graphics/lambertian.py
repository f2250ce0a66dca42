"""Lambertian (ideal diffuse) reflectance with TF Graphics' conventions.

Directions are unit [..., 3] vectors: `direction_incoming_light` points from the light
to the surface, `direction_outgoing_light` from the surface to the viewer. The BRDF is

    f(l_in, l_out, n) = albedo / pi   if  -l_in . n >= 0  and  l_out . n >= 0
                      = 0             otherwise,

so that the reflected fraction of light arriving from any direction,
integral_{hemisphere} f cos(theta_out) d omega_out, equals the albedo.

Example:
    >>> brdf([0.0, 0.0, -1.0], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 0.5, 0.0]).numpy().round(4)
    array([0.3183, 0.1592, 0.    ], dtype=float32)
"""

from __future__ import annotations

import math

import tensorflow as tf

from cuttingedge.trainers.graphics import vector
from cuttingedge.trainers.graphics.shape import check_last_dims


def upper_hemisphere(direction_incoming_light, direction_outgoing_light, surface_normal):
    """Whether both lights are on the side the normal points to: min(-l_in . n, l_out . n) >= 0.

    Args:
        direction_incoming_light: a tensor of shape [A1, ..., An, 3].
        direction_outgoing_light: a tensor of shape [A1, ..., An, 3].
        surface_normal: a tensor of shape [A1, ..., An, 3].

    Returns:
        A bool tensor of shape [A1, ..., An, 1] (batch dimensions broadcast).

    Example:
        >>> upper_hemisphere([0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0]).numpy().tolist()
        [False]
    """
    incoming = check_last_dims(direction_incoming_light, "direction_incoming_light", (3,))
    outgoing = check_last_dims(
        tf.cast(direction_outgoing_light, incoming.dtype), "direction_outgoing_light", (3,)
    )
    normal = check_last_dims(tf.cast(surface_normal, incoming.dtype), "surface_normal", (3,))
    return tf.minimum(vector.dot(-incoming, normal), vector.dot(outgoing, normal)) >= 0.0


def brdf(
    direction_incoming_light,
    direction_outgoing_light,
    surface_normal,
    albedo,
    name: str = "lambertian_brdf",
) -> tf.Tensor:
    """Evaluates the Lambertian BRDF albedo / pi on the upper hemisphere, 0 below.

    Args:
        direction_incoming_light: a tensor of shape [A1, ..., An, 3], unit, light to surface.
        direction_outgoing_light: a tensor of shape [A1, ..., An, 3], unit, surface to viewer.
        surface_normal: a tensor of shape [A1, ..., An, 3], unit.
        albedo: a tensor of shape [A1, ..., An, 3] with values in [0, 1].
        name: name scope of the op.

    Returns:
        A tensor of shape [A1, ..., An, 3] (batch dimensions broadcast): the reflected
        radiance per unit irradiance.

    Raises:
        ValueError: if a trailing dimension is not 3.

    Example:
        >>> brdf([0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 1.0, 1.0]).numpy()
        array([0., 0., 0.], dtype=float32)
    """
    with tf.name_scope(name):
        incoming = check_last_dims(direction_incoming_light, "direction_incoming_light", (3,))
        albedo = check_last_dims(tf.cast(albedo, incoming.dtype), "albedo", (3,))
        mask = upper_hemisphere(incoming, direction_outgoing_light, surface_normal)
        value = albedo / math.pi + tf.zeros_like(tf.cast(mask, albedo.dtype))
        return tf.where(mask, value, tf.zeros_like(value))
