"""What the logo renderer draws: its configuration, its per-image parameters and their sampling.

Scene: a pinhole camera at the origin looking down +z (x right, y down, see `perspective`),
focal length `focal_length * out_size` pixels and principal point at the image centre. The
logo is a plane whose longer side is 1 world unit, centred at `translation`, rotated by
R = Rz(roll) Ry(yaw) Rx(pitch) (`rotation_matrix_3d.from_euler` of angles
(pitch, yaw, roll)), lit by a directional light and shaded with ambient + diffuse + Phong
specular terms. At zero angles and depth `focal_length` the longer side exactly spans the
image.

Example:
    >>> import tensorflow as tf
    >>> config = RenderConfig(out_size=64)
    >>> parameters = sample_parameters(tf.constant([1, 2]), config)
    >>> parameters.angles.shape, parameters.ambient.shape
    (TensorShape([3]), TensorShape([1]))
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import tensorflow as tf

Range = tuple[float, float]


def _check_range(name: str, value, minimum: float = 0.0, open_minimum: bool = False) -> None:
    """Raises unless value = (low, high) with minimum <= low <= high (minimum < low if open)."""
    valid = isinstance(value, tuple) and len(value) == 2
    if valid:
        low, high = value
        valid = (low > minimum if open_minimum else low >= minimum) and low <= high
    if not valid:
        bound = f"{minimum} < low" if open_minimum else f"{minimum} <= low"
        raise ValueError(
            f"RenderConfig.{name} must be a tuple (low, high) with {bound} <= high, "
            f"received {name}={value!r}."
        )


def _check_bounded(name: str, value, low: float, high: float) -> None:
    """Raises unless low <= value <= high."""
    if not (isinstance(value, (int, float)) and low <= value <= high):
        raise ValueError(
            f"RenderConfig.{name} must be a number in [{low}, {high}], received {name}={value!r}."
        )


@dataclasses.dataclass(frozen=True)
class RenderConfig:
    """Configuration of the random logo renderer; all ranges are sampled uniformly.

    Args:
        out_size: side of the square output image in pixels.
        max_pitch_degrees: |rotation about x| (tilt forward or backward), in [0, 89].
        max_yaw_degrees: |rotation about y| (turn left or right), in [0, 89].
        max_roll_degrees: |rotation about z| (in-plane), in [0, 180].
        depth_range: (low, high) distance of the plane centre along z, world units (> 0).
        max_shift: |offset| of the projected plane centre from the image centre, as a fraction
            of out_size.
        focal_length: focal length as a fraction of out_size (1.0 is a 53 degree field of view).
        max_light_angle_degrees: largest angle between the light direction and the camera axis
            (0 is a light behind the camera), in [0, 90].
        ambient_range, diffuse_range, specular_range: (low, high) weights of the shading terms.
        shininess_range: (low, high) Phong exponent.
        prefilter_texture: shrink textures larger than out_size (antialiased) before sampling.

    Raises:
        ValueError: on an invalid value, naming the field and the received value.

    Example:
        >>> RenderConfig(out_size=128, max_roll_degrees=0.0).out_size
        128
    """

    out_size: int = 224
    max_pitch_degrees: float = 30.0
    max_yaw_degrees: float = 30.0
    max_roll_degrees: float = 15.0
    depth_range: Range = (1.2, 2.0)
    max_shift: float = 0.1
    focal_length: float = 1.0
    max_light_angle_degrees: float = 45.0
    ambient_range: Range = (0.5, 0.8)
    diffuse_range: Range = (0.2, 0.5)
    specular_range: Range = (0.0, 0.3)
    shininess_range: Range = (5.0, 40.0)
    prefilter_texture: bool = True

    def __post_init__(self):
        if not (isinstance(self.out_size, int) and not isinstance(self.out_size, bool)
                and self.out_size > 0):
            raise ValueError(
                f"RenderConfig.out_size must be a positive int, "
                f"received out_size={self.out_size!r}."
            )
        _check_bounded("max_pitch_degrees", self.max_pitch_degrees, 0.0, 89.0)
        _check_bounded("max_yaw_degrees", self.max_yaw_degrees, 0.0, 89.0)
        _check_bounded("max_roll_degrees", self.max_roll_degrees, 0.0, 180.0)
        _check_range("depth_range", self.depth_range, open_minimum=True)
        _check_bounded("max_shift", self.max_shift, 0.0, 1.0)
        _check_bounded("focal_length", self.focal_length, 1e-3, 1e3)
        _check_bounded("max_light_angle_degrees", self.max_light_angle_degrees, 0.0, 90.0)
        for name in ("ambient_range", "diffuse_range", "specular_range", "shininess_range"):
            _check_range(name, getattr(self, name))


class RenderParameters(NamedTuple):
    """Per-image scene parameters, batched over leading dims ([3] / [1] for one image).

    Fields:
        angles: [..., 3] (pitch, yaw, roll) in radians: Euler angles about x, y, z.
        translation: [..., 3] plane centre in camera coordinates (z = depth).
        light_direction: [..., 3] unit vector from the surface towards the light.
        ambient, diffuse, specular: [..., 1] weights of the shading terms.
        shininess: [..., 1] Phong exponent.
    """

    angles: tf.Tensor
    translation: tf.Tensor
    light_direction: tf.Tensor
    ambient: tf.Tensor
    diffuse: tf.Tensor
    specular: tf.Tensor
    shininess: tf.Tensor


def neutral_parameters(config: RenderConfig, batch_size=None) -> RenderParameters:
    """Front-facing plane filling the view (depth = focal_length), lit by ambient light only.

    Rendering a square texture of out_size pixels with these parameters returns the texture.

    Args:
        config: the renderer configuration (for its focal length).
        batch_size: None for one image, else the leading batch dimension.

    Returns:
        RenderParameters of float32 tensors.

    Example:
        >>> neutral_parameters(RenderConfig()).translation.numpy().tolist()
        [0.0, 0.0, 1.0]
    """
    shape = [] if batch_size is None else [batch_size]

    def fill(values):
        return tf.broadcast_to(tf.constant(values, tf.float32), shape + [len(values)])

    return RenderParameters(
        angles=fill([0.0, 0.0, 0.0]),
        translation=fill([0.0, 0.0, config.focal_length]),
        light_direction=fill([0.0, 0.0, -1.0]),
        ambient=fill([1.0]),
        diffuse=fill([0.0]),
        specular=fill([0.0]),
        shininess=fill([1.0]),
    )


def _uniform(shape, seed, low, high) -> tf.Tensor:
    return tf.random.stateless_uniform(shape, seed, minval=low, maxval=high, dtype=tf.float32)


def sample_parameters(seed, config: RenderConfig, batch_size=None) -> RenderParameters:
    """Draws scene parameters with stateless random ops: the same seed gives the same scene.

    Angles are uniform in [-max, max] per axis; depth uniform in depth_range; the plane
    centre projects uniformly within +-max_shift * out_size of the image centre; the light
    direction is uniform on the spherical cap of half-angle max_light_angle_degrees around
    (0, 0, -1) (pointing back at the camera).

    Args:
        seed: an int32/int64 tensor of shape [2].
        config: the renderer configuration.
        batch_size: None for one image, else the (possibly dynamic) leading batch dimension.

    Returns:
        RenderParameters of float32 tensors.

    Example:
        >>> config = RenderConfig()
        >>> a = sample_parameters([3, 4], config, batch_size=2).angles
        >>> b = sample_parameters([3, 4], config, batch_size=2).angles
        >>> a.shape, bool(tf.reduce_all(a == b))
        (TensorShape([2, 3]), True)
    """
    seeds = tf.unstack(tf.random.experimental.stateless_split(seed, num=9))
    shape = [] if batch_size is None else [batch_size]
    max_angles = [math.radians(config.max_pitch_degrees), math.radians(config.max_yaw_degrees),
                  math.radians(config.max_roll_degrees)]
    angles = _uniform(shape + [3], seeds[0], -1.0, 1.0) * max_angles
    depth = _uniform(shape + [1], seeds[1], *config.depth_range)
    shift = _uniform(shape + [2], seeds[2], -config.max_shift, config.max_shift)
    translation = tf.concat((shift * depth / config.focal_length, depth), axis=-1)
    cos_max = math.cos(math.radians(config.max_light_angle_degrees))
    cos_theta = _uniform(shape + [1], seeds[3], cos_max, 1.0)
    phi = _uniform(shape + [1], seeds[4], 0.0, 2.0 * math.pi)
    sin_theta = tf.sqrt(tf.maximum(1.0 - cos_theta**2, 0.0))
    light = tf.concat((sin_theta * tf.cos(phi), sin_theta * tf.sin(phi), -cos_theta), axis=-1)
    return RenderParameters(
        angles=angles,
        translation=translation,
        light_direction=light,
        ambient=_uniform(shape + [1], seeds[5], *config.ambient_range),
        diffuse=_uniform(shape + [1], seeds[6], *config.diffuse_range),
        specular=_uniform(shape + [1], seeds[7], *config.specular_range),
        shininess=_uniform(shape + [1], seeds[8], *config.shininess_range),
    )
