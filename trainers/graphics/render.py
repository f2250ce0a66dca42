"""Logo augmentation: render a texture on a randomly posed, Phong-lit plane over a background.

Pure TensorFlow and graph-mode safe (no py_function), so it runs on the fly inside
`tf.data.Dataset.map`, per image or per batch, deterministically given a seed.
The scene is described in `scene` (camera, plane, light). Rendering is by inverse mapping:

    1. cast the ray d = (r_x, r_y, 1) through each output pixel centre (`perspective.ray`);
    2. intersect it with the posed plane n . (X - t) = 0:  X = d (n . t) / (n . d),
       where n = R e_z is turned to face the camera;
    3. map X to plane coordinates R^T (X - t) and to texel coordinates
       (x, y) = (X_local * longer_side + size / 2 - 1/2), the texture's longer side being
       one world unit;
    4. sample the texture bilinearly (`bilinear`); alpha = coverage of the plane (with a
       one-pixel ramp across its edges) * optional texture alpha;
    5. shade with the light l (surface to light) and the viewer v = -X / |X|:
           colour = ambient * c + diffuse * c * max(n . l, 0) + specular * max(r . v, 0)^shininess
       with c the texture colour and r the mirror reflection of -l (`lambertian`, `phong`);
    6. composite alpha * colour + (1 - alpha) * background (resized to out_size), clip to [0, 1].

Example:
    >>> import tensorflow as tf
    >>> config = RenderConfig(out_size=32)
    >>> texture, background = tf.ones([20, 40, 3]), tf.zeros([50, 50, 3])
    >>> image = random_render(texture, background, tf.constant([0, 7]), config)
    >>> image.shape, bool(tf.reduce_all((image >= 0.0) & (image <= 1.0)))
    (TensorShape([32, 32, 3]), True)
"""

from __future__ import annotations

import math

import tensorflow as tf

from cuttingedge.trainers.graphics import (
    bilinear,
    lambertian,
    perspective,
    phong,
    rotation_matrix_3d,
    vector,
)
from cuttingedge.trainers.graphics.scene import (
    RenderConfig,
    RenderParameters,
    neutral_parameters,
    sample_parameters,
)
from cuttingedge.trainers.graphics.shape import check_last_dims

__all__ = [
    "RenderConfig",
    "RenderParameters",
    "neutral_parameters",
    "non_white_alpha",
    "random_render",
    "render",
    "sample_parameters",
]

_MIN_COSINE = 1e-6  # rays closer than this to the plane's direction miss it


def _as_float_image(image, name: str, channels: tuple[int, ...]) -> tf.Tensor:
    """Converts to float32 in [0, 1] (integer images are rescaled) and checks rank and channels."""
    image = tf.convert_to_tensor(image)
    if image.dtype.is_integer:
        image = tf.image.convert_image_dtype(image, tf.float32)
    image = tf.cast(image, tf.float32)
    if image.shape.rank not in (3, 4) or image.shape[-1] not in channels:
        raise ValueError(
            f"Expected {name} of shape [H, W, C] or [B, H, W, C] with C in {list(channels)}, "
            f"received shape {image.shape}."
        )
    return image


def _pixel_rays(config: RenderConfig) -> tf.Tensor:
    """Rays (r_x, r_y, 1) through the out_size x out_size pixel centres, shape [S, S, 3]."""
    size = config.out_size
    centres = tf.range(size, dtype=tf.float32) + 0.5
    xs, ys = tf.meshgrid(centres, centres)
    focal = [config.focal_length * size] * 2
    return perspective.ray(tf.stack((xs, ys), axis=-1), focal, [size / 2.0, size / 2.0])


def _intersect(rays, rotation, translation):
    """Hit points [B, S, S, 3], plane coordinates [B, S, S, 3], hit mask and facing normal."""
    normal = rotation[..., 2]  # R e_z: [B, 3]
    normal = tf.where(vector.dot(normal, -translation) >= 0.0, normal, -normal)
    per_pixel = lambda v: v[:, None, None, :]  # noqa: E731
    cosine = vector.dot(per_pixel(normal), rays[None])  # < 0 where the ray meets the front
    distance = vector.dot(per_pixel(normal), per_pixel(translation))
    points = distance / tf.minimum(cosine, -_MIN_COSINE) * rays[None]
    inverse = rotation_matrix_3d.inverse(rotation)[:, None, None]
    local = rotation_matrix_3d.rotate(points - per_pixel(translation), inverse)
    return points, local, cosine[..., 0] < -_MIN_COSINE, per_pixel(normal)


def _pixel_gradient_norm(coordinate):
    """|grad| of a [B, S, S] coordinate over the pixel grid, by forward differences."""
    d_col = coordinate[:, :, 1:] - coordinate[:, :, :-1]
    d_row = coordinate[:, 1:, :] - coordinate[:, :-1, :]
    d_col = tf.concat((d_col, d_col[:, :, -1:]), axis=2)
    d_row = tf.concat((d_row, d_row[:, -1:, :]), axis=1)
    return tf.sqrt(tf.square(d_col) + tf.square(d_row))


def _edge_coverage(coordinate, size):
    """Coverage of texels [-1/2, size - 1/2]: a one-pixel-wide linear ramp across each edge.

    The distance to the nearest edge, in texels, over the texels per pixel is the distance
    in pixels; coverage = clip(distance_in_pixels + 1/2, 0, 1). The filter width carries
    no gradient (it only sets how soft the edges are).
    """
    inside = tf.minimum(coordinate + 0.5, size - 0.5 - coordinate)
    texels_per_pixel = tf.stop_gradient(tf.maximum(_pixel_gradient_norm(coordinate), 1e-3))
    return tf.clip_by_value(inside / texels_per_pixel + 0.5, 0.0, 1.0)


def _lookup(texture, local, hits):
    """Texture colour [B, S, S, 3] and alpha [B, S, S, 1] at plane coordinates `local`."""
    shape = tf.cast(tf.shape(texture), tf.float32)
    height, width = shape[1], shape[2]
    longer = tf.maximum(height, width)
    x = local[..., 0] * longer + width / 2.0 - 0.5
    y = local[..., 1] * longer + height / 2.0 - 0.5
    samples = bilinear.interpolate(texture, tf.stack((x, y), axis=-1))
    alpha = _edge_coverage(x, width) * _edge_coverage(y, height) * tf.cast(hits, tf.float32)
    alpha = alpha[..., None]
    if texture.shape[-1] == 4:
        alpha *= tf.clip_by_value(samples[..., 3:], 0.0, 1.0)
    return tf.clip_by_value(samples[..., :3], 0.0, 1.0), alpha


def _shade(colour, points, normal, parameters: RenderParameters):
    """Ambient + Lambertian diffuse + Phong specular shading, clipped to [0, 1]."""
    per_pixel = lambda v: v[:, None, None, :]  # noqa: E731
    light = per_pixel(parameters.light_direction)
    view = tf.math.l2_normalize(-points, axis=-1)
    cos_in = tf.maximum(vector.dot(normal, light), 0.0)
    diffuse = math.pi * lambertian.brdf(-light, view, normal, colour) * cos_in
    specular = phong.brdf(-light, view, normal, per_pixel(parameters.shininess),
                          tf.ones_like(colour), brdf_normalization=False)
    shaded = (per_pixel(parameters.ambient) * colour + per_pixel(parameters.diffuse) * diffuse
              + per_pixel(parameters.specular) * specular)
    return tf.clip_by_value(shaded, 0.0, 1.0)


def _prefilter(texture, out_size: int):
    """Shrinks (antialiased) a [B, H, W, C] texture whose longer side exceeds out_size."""
    shape = tf.shape(texture)[1:3]
    scale = out_size / tf.cast(tf.reduce_max(shape), tf.float32)
    size = tf.maximum(tf.cast(tf.round(tf.cast(shape, tf.float32) * scale), tf.int32), 1)
    return tf.cond(scale < 1.0, lambda: tf.image.resize(texture, size, antialias=True),
                   lambda: texture)


def _render_batch(texture, background, parameters: RenderParameters, config: RenderConfig):
    """texture [B, H, W, 3 or 4], background [B or none, h, w, 3] -> [B, S, S, 3]."""
    if config.prefilter_texture:
        texture = _prefilter(texture, config.out_size)
    rotation = rotation_matrix_3d.from_euler(parameters.angles)
    points, local, hits, normal = _intersect(_pixel_rays(config), rotation, parameters.translation)
    colour, alpha = _lookup(texture, local, hits)
    shaded = _shade(colour, points, normal, parameters)
    size = [config.out_size, config.out_size]
    backdrop = tf.image.resize(background, size, antialias=True)
    return tf.clip_by_value(alpha * shaded + (1.0 - alpha) * backdrop, 0.0, 1.0)


def _check_parameters(parameters: RenderParameters, batched: bool) -> RenderParameters:
    """Converts the fields to float32 tensors and checks their trailing and batch dims."""
    widths = {"angles": 3, "translation": 3, "light_direction": 3}
    checked = {}
    for field, value in parameters._asdict().items():
        value = check_last_dims(tf.cast(value, tf.float32), f"parameters.{field}",
                                (widths.get(field, 1),))
        if value.shape.rank != (2 if batched else 1):
            expected = "[B, k] for a batched texture" if batched else "[k] for one texture"
            raise ValueError(f"Expected parameters.{field} of shape {expected}, received "
                             f"shape {value.shape}.")
        checked[field] = value
    return RenderParameters(**checked)


def _with_alpha(texture: tf.Tensor, alpha) -> tf.Tensor:
    """Replaces or appends the alpha channel of `texture` by `alpha` ([..., H, W] or [..., 1])."""
    alpha = tf.convert_to_tensor(alpha)
    alpha = tf.cast(alpha, tf.float32) if not alpha.dtype.is_integer else (
        tf.image.convert_image_dtype(alpha, tf.float32))
    if alpha.shape.rank == texture.shape.rank - 1:
        alpha = alpha[..., None]
    if alpha.shape.rank != texture.shape.rank or alpha.shape[-1] != 1:
        raise ValueError(f"Expected alpha of shape {texture.shape[:-1]} or "
                         f"{texture.shape[:-1] + [1]} to match the texture, "
                         f"received shape {alpha.shape}.")
    return tf.concat((texture[..., :3], alpha), axis=-1)


def render(texture, background, parameters: RenderParameters, config: RenderConfig,
           alpha=None, name: str = "render_logo") -> tf.Tensor:
    """Renders `texture` on the plane posed by `parameters` over `background`; differentiable.

    Args:
        texture: [H, W, C] or a batch [B, H, W, C] with C = 3 (RGB) or 4 (RGBA), float in
            [0, 1] or integer (rescaled).
        background: [h, w, 3], or [B, h, w, 3] with a batched texture; resized to out_size.
        parameters: RenderParameters with fields [k] (one texture) or [B, k] (a batch).
        config: the renderer configuration (out_size, focal_length, prefilter_texture).
        alpha: optional opacity of the texture, [H, W] / [H, W, 1] (with a batch dim when
            batched), e.g. `non_white_alpha(texture)`; replaces an RGBA texture's alpha.
        name: name scope of the op.

    Returns:
        A float32 tensor [out_size, out_size, 3] (or [B, out_size, out_size, 3]) in [0, 1].

    Raises:
        ValueError: on a shape mismatch, naming the argument and its shape.

    Example:
        >>> config = RenderConfig(out_size=4)
        >>> texture = tf.random.stateless_uniform([4, 4, 3], [0, 0])
        >>> image = render(texture, tf.zeros([4, 4, 3]), neutral_parameters(config), config)
        >>> bool(tf.reduce_max(tf.abs(image - texture)) < 1e-5)
        True
    """
    with tf.name_scope(name):
        texture = _as_float_image(texture, "texture", (3, 4))
        if alpha is not None:
            texture = _with_alpha(texture, alpha)
        background = _as_float_image(background, "background", (3,))
        batched = texture.shape.rank == 4
        if not batched and background.shape.rank == 4:
            raise ValueError(f"Expected background of shape [h, w, 3] for a texture of shape "
                             f"{texture.shape}, received shape {background.shape}.")
        parameters = _check_parameters(parameters, batched)
        if batched:
            return _render_batch(texture, background, parameters, config)
        single = RenderParameters(*(value[None] for value in parameters))
        return _render_batch(texture[None], background[None], single, config)[0]


def _as_seed(seed_or_rng) -> tf.Tensor:
    """A [2] integer seed from a [2] seed, a scalar seed or a tf.random.Generator."""
    if isinstance(seed_or_rng, tf.random.Generator):
        return seed_or_rng.make_seeds(1)[:, 0]
    seed = tf.convert_to_tensor(seed_or_rng)
    if not seed.dtype.is_integer or seed.shape.rank not in (0, 1) or (
            seed.shape.rank == 1 and seed.shape[0] not in (2, None)):
        raise ValueError(f"Expected seed_or_rng to be an integer seed of shape [2] or [], or a "
                         f"tf.random.Generator, received {seed.dtype.name} of shape {seed.shape}.")
    if seed.shape.rank == 0:
        seed = tf.stack((seed, tf.zeros_like(seed)))
    return seed


def random_render(texture, background, seed_or_rng, config: RenderConfig = RenderConfig(),
                  alpha=None) -> tf.Tensor:
    """Renders `texture` with scene parameters drawn by `sample_parameters` from a seed.

    Stateless: the same seed gives the same image, in eager mode and inside tf.data.
    A batched texture [B, H, W, C] draws B independent scenes from the one seed.

    Args:
        texture: [H, W, 3 or 4] or [B, H, W, 3 or 4] (see `render`).
        background: [h, w, 3] or [B, h, w, 3].
        seed_or_rng: an integer tensor of shape [2] (or a scalar), or a tf.random.Generator
            (which then draws the seed, statefully).
        config: the renderer configuration.
        alpha: optional texture opacity (see `render`).

    Returns:
        A float32 tensor [out_size, out_size, 3] (or [B, out_size, out_size, 3]) in [0, 1].

    Example:
        >>> config = RenderConfig(out_size=16)
        >>> dataset = tf.data.Dataset.from_tensor_slices(tf.ones([2, 8, 8, 3])).enumerate()
        >>> dataset = dataset.map(lambda i, logo: random_render(
        ...     logo, tf.zeros([16, 16, 3]), tf.stack([tf.constant(42, tf.int64), i]), config))
        >>> [image.shape.as_list() for image in dataset]
        [[16, 16, 3], [16, 16, 3]]
    """
    texture = _as_float_image(texture, "texture", (3, 4))
    batch_size = tf.shape(texture)[0] if texture.shape.rank == 4 else None
    parameters = sample_parameters(_as_seed(seed_or_rng), config, batch_size)
    return render(texture, background, parameters, config, alpha=alpha)


def non_white_alpha(texture, threshold: float = 0.95) -> tf.Tensor:
    """Opacity that hides a white margin: clip((1 - min_c texture_c) / (1 - threshold), 0, 1).

    White texels get 0, texels with a channel <= threshold get 1. White inside the logo
    becomes transparent too; pass a real mask when that matters.

    Args:
        texture: [..., H, W, 3] float in [0, 1].
        threshold: darkest channel value still treated as partly white, in [0, 1).

    Returns:
        A tensor [..., H, W, 1].

    Raises:
        ValueError: if threshold is not in [0, 1).

    Example:
        >>> non_white_alpha([[[1.0, 1.0, 1.0], [0.2, 0.9, 1.0]]]).numpy().ravel().tolist()
        [0.0, 1.0]
    """
    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"Expected threshold in [0, 1), received threshold={threshold!r}.")
    texture = check_last_dims(texture, "texture", (3,))
    darkest = tf.reduce_min(texture, axis=-1, keepdims=True)
    return tf.clip_by_value((1.0 - darkest) / (1.0 - threshold), 0.0, 1.0)
