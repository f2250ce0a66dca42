"""On-the-fly renders of brand logos as they appear in mail, inside tf.data.

Each sample: one brand's clean icon (RGBA) is recoloured (brand colour, random colour, or
inverted: light logo on a dark tile), placed on a plane with a random 3D pose, seen through a
perspective camera, lit with a Phong model (cuttingedge.trainers.graphics.render), composited
on a random crop of a background photo or a tinted solid, then degraded as mail does: blur,
tiny-then-upscaled, JPEG compression, off-centre crops. Every random choice derives from a
stateless seed, so a (seed, index) pair always gives the same image.

Training and held-out renders differ in seed AND conditions: held-out renders use background
photos never used in training and a different JPEG-quality range.

Curriculum: `make_renders(..., ramp=n)` starts training renders mild and makes them harsher
render by render until index n, full harshness from then on. A `difficulty` d in [0, 1]
scales pose angles, off-centre shift, depth spread, blur, the tiny and photo probabilities
and the JPEG-quality spread (quality from `high` down to `high - d (high - low)`); d = 1 is
exactly the configured distribution. Held-out renders are always made at d = 1.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from cuttingedge.trainers.graphics.render import RenderConfig, render, sample_parameters


PATTERN_KINDS = ("blotches", "leaves")


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    """How renders are made.

    Args:
      image_size: side of the square output image.
      jpeg_quality: (low, high) JPEG quality range.
      max_blur_sigma: largest Gaussian blur sigma, in pixels.
      tiny_probability: chance of rendering tiny and upscaling (pixelated logos).
      photo_probability: chance of a photo background (else a tinted solid).
      bare_probability: chance that the logo is drawn without its tile (bare on the
        background).
      pattern_probability: chance that a procedural pattern replaces the background drawn
        above; training renders can then show logos over far more kinds of texture than the
        few training photos. Held-out renders keep 0.
      pattern_kind: which pattern: "blotches" (random colour blotches at a random scale,
        `_blotches`) or "leaves" (a dead-leaves image, `_leaves`: overlapping discs and
        squares of sizes drawn from a power law, colour or grey, whose statistics resemble
        natural photos': edges and clutter at every scale).
      photo_jitter_probability: chance that a photo background is seen anew (`_jitter`):
        zoomed out up to the whole photo, flipped, turned by quarter turns, made grey or
        negative, its hue, brightness and contrast shifted; the few training photos then
        stand for many more scenes. Held-out renders keep 0.
      render: the 3D pose / camera / lighting ranges.
      three_d: False skips the 3D stage (pose, perspective camera, Phong light): the icon is
        composited flat over the background, filling the frame (for ablations, benchmarks).
    """

    image_size: int = 64
    jpeg_quality: tuple[int, int] = (15, 95)
    max_blur_sigma: float = 1.2
    tiny_probability: float = 0.2
    photo_probability: float = 0.6
    bare_probability: float = 0.5
    pattern_probability: float = 0.0
    pattern_kind: str = "blotches"
    photo_jitter_probability: float = 0.0
    render: RenderConfig = RenderConfig(out_size=64, max_pitch_degrees=35.0,
                                        max_yaw_degrees=35.0, max_roll_degrees=25.0,
                                        depth_range=(1.1, 2.2), max_shift=0.15)
    three_d: bool = True

    def __post_init__(self):
        for name in ("tiny_probability", "photo_probability", "bare_probability",
                     "pattern_probability", "photo_jitter_probability"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1]. Received: {getattr(self, name)}")
        if self.pattern_kind not in PATTERN_KINDS:
            raise ValueError(f"pattern_kind must be one of {list(PATTERN_KINDS)}. Received: "
                             f"{self.pattern_kind!r}")
        low, high = self.jpeg_quality
        if not 1 <= low <= high <= 100:
            raise ValueError(f"jpeg_quality must be 1 <= low <= high <= 100. Received: "
                             f"{self.jpeg_quality}")
        if self.render.out_size != self.image_size:
            object.__setattr__(self, "render",
                               dataclasses.replace(self.render, out_size=self.image_size))


# Training covers JPEG qualities 15-95 so that the held-out range (20-80, with other photos
# and seeds) lies inside it; held-out conditions stay as harsh as they were.
HELDOUT = AugmentConfig(jpeg_quality=(20, 80))


def _hex_to_rgb(hex_colours: list[str]) -> tf.Tensor:
    values = [[int(h[i:i + 2], 16) / 255.0 for i in (0, 2, 4)] if len(h) == 6 else [0, 0, 0]
              for h in hex_colours]
    return tf.constant(values, tf.float32)


def _blur(image, sigma):
    radius = 3
    x = tf.range(-radius, radius + 1, dtype=tf.float32)
    kernel = tf.exp(-0.5 * tf.square(x / tf.maximum(sigma, 1e-3)))
    kernel = kernel / tf.reduce_sum(kernel)
    k2 = kernel[:, None] * kernel[None, :]
    k2 = tf.tile(k2[:, :, None, None], [1, 1, 3, 1])
    out = tf.nn.depthwise_conv2d(image[None], k2, [1, 1, 1, 1], "SAME")[0]
    return tf.where(sigma < 0.2, image, out)


def _blotches(seed, size: int):
    """Random colour blotches: a 2x2 to 12x12 grid of random colours, smoothly upscaled."""
    seeds = tf.random.experimental.stateless_split(seed, 2)
    cells = tf.random.stateless_uniform([], seeds[0], 2, 13, tf.int32)
    grid = tf.random.stateless_uniform(tf.stack([cells, cells, 3]), seeds[1])
    return tf.image.resize(grid, [size, size], method="bicubic")


LEAVES = 200  # shapes per dead-leaves image: they cover about 90% of it


def _leaves(seed, size: int):
    """A dead-leaves image: `LEAVES` discs and squares dropped one over another at uniform
    positions, radii from a power law p(r) ~ r^-3 between 2 px and half the image (as
    occluding objects in natural scenes), each of one random colour, over a ground of one
    random colour where no shape falls (about a tenth of the image). In 40% of the images the
    shapes are grey; a per-image contrast and brightness follow. The last shape dropped on a
    pixel is the one seen."""
    s = tf.random.experimental.stateless_split(seed, 6)
    size_f = float(size)
    centres = tf.random.stateless_uniform([LEAVES, 2], s[0], -0.1 * size_f, 1.1 * size_f)
    low, high = 2.0, 0.5 * size_f
    u = tf.random.stateless_uniform([LEAVES], s[1])
    radius = (low ** -2 - u * (low ** -2 - high ** -2)) ** -0.5
    square = tf.random.stateless_uniform([LEAVES], s[2]) < 0.5
    colours = tf.random.stateless_uniform([LEAVES, 3], s[3])
    u = tf.random.stateless_uniform([3], s[4])
    grey = tf.reduce_mean(colours, -1, keepdims=True) * tf.ones([1, 3])
    colours = tf.where(u[0] < 0.4, grey, colours)
    grid = tf.range(size_f) + 0.5
    dy = tf.abs(grid[None, :, None] - centres[:, 0, None, None])  # [leaves, size, 1]
    dx = tf.abs(grid[None, None, :] - centres[:, 1, None, None])  # [leaves, 1, size]
    r = radius[:, None, None]
    inside = tf.where(square[:, None, None], tf.maximum(dy, dx) < r, dy * dy + dx * dx < r * r)
    order = tf.range(1, LEAVES + 1)[:, None, None]
    top = tf.reduce_max(tf.where(inside, order, 0), axis=0)  # 0: no shape covers the pixel
    palette = tf.concat([tf.random.stateless_uniform([1, 3], s[5]), colours], 0)
    image = tf.gather(palette, top)
    contrast = 0.5 + u[1]
    image = (image - 0.5) * contrast + 0.5 + 0.3 * (u[2] - 0.5)
    return tf.clip_by_value(image, 0.0, 1.0)


def _pattern(seed, size: int, kind: str):
    return _leaves(seed, size) if kind == "leaves" else _blotches(seed, size)


def _jitter(photo, seed, size: int):
    """A random `size` x `size` view of `photo` [h, w, 3] unlike its plain crops: a square of
    side `size` up to the whole photo, shrunk to `size`, flipped, turned by 0-3 quarter turns,
    grey (30%) or negative (15%), hue, brightness and contrast shifted."""
    s = tf.random.experimental.stateless_split(seed, 8)
    u = tf.random.stateless_uniform([3], s[0])
    largest = tf.minimum(tf.shape(photo)[0], tf.shape(photo)[1])
    side = size + tf.cast(u[0] * tf.cast(largest - size, tf.float32), tf.int32)
    view = tf.image.stateless_random_crop(photo, tf.stack([side, side, 3]), s[1])
    view = tf.image.resize(view, [size, size], antialias=True)
    view = tf.image.stateless_random_flip_left_right(view, s[2])
    view = tf.image.rot90(view, tf.random.stateless_uniform([], s[3], 0, 4, tf.int32))
    view = tf.image.stateless_random_hue(view, 0.5, s[4])
    view = tf.image.stateless_random_contrast(view, 0.5, 1.5, s[5])
    view = tf.image.stateless_random_brightness(view, 0.25, s[6])
    view = tf.where(u[1] < 0.3, tf.image.grayscale_to_rgb(tf.image.rgb_to_grayscale(view)),
                    view)
    view = tf.where(u[2] < 0.15, 1.0 - view, view)
    return tf.reshape(tf.clip_by_value(view, 0.0, 1.0), [size, size, 3])


def _scene(seed, config: AugmentConfig, difficulty):
    """Scene parameters of `config.render`, pose, shift and depth spread scaled by difficulty."""
    parameters = sample_parameters(seed, config.render)
    low = config.render.depth_range[0]
    depth = low + (parameters.translation[2:] - low) * difficulty
    shift = parameters.translation[:2] / parameters.translation[2:] * depth * difficulty
    milder = parameters._replace(angles=parameters.angles * difficulty,
                                 translation=tf.concat([shift, depth], -1))
    # d = 1 keeps the sampled scene bit for bit (held-out renders are unchanged).
    return type(parameters)(*(tf.where(difficulty < 1.0, m, p)
                              for m, p in zip(milder, parameters)))


class _Choices(NamedTuple):
    """Every random choice of one render (module docstring), drawn by `_choose`."""

    use_brand_colour: tf.Tensor  # else a random colour
    random_colour: tf.Tensor     # [3]
    inverted: tf.Tensor          # light logo on a dark tile
    tile_shade: tf.Tensor        # how far the tile is from white (black when inverted)
    pale: tf.Tensor              # how far an inverted logo is from white
    bare: tf.Tensor              # logo without its tile
    photo_seed: tf.Tensor
    photo: tf.Tensor             # photo background, else a tinted solid
    crop_seed: tf.Tensor
    solid_seed: tf.Tensor
    scene_seed: tf.Tensor
    blur_sigma: tf.Tensor
    tiny: tf.Tensor              # rendered tiny, then upscaled
    tiny_size: tf.Tensor
    jpeg_quality: tf.Tensor
    pattern: tf.Tensor           # a procedural pattern replaces the background
    pattern_seed: tf.Tensor


def _choose(seed, config: AugmentConfig, difficulty) -> _Choices:
    seeds = tf.random.experimental.stateless_split(seed, 10)
    u = tf.random.stateless_uniform([8], seeds[0])
    size = config.image_size
    tiny_low = max(1, min(12, size // 2 - 1))  # 12 px .. size / 2 (smaller below 26 px)
    tiny_size = tf.random.stateless_uniform([], seeds[6], tiny_low,
                                            max(tiny_low + 1, size // 2), tf.int32)
    low, high = config.jpeg_quality
    quality = tf.random.stateless_uniform([], seeds[7], low, high + 1, tf.int32)
    quality = tf.cast(tf.round(high - difficulty * tf.cast(high - quality, tf.float32)),
                      tf.int32)
    return _Choices(
        use_brand_colour=u[0] < 0.5, random_colour=tf.random.stateless_uniform([3], seeds[1]),
        inverted=u[1] < 0.25, tile_shade=0.1 * u[2], pale=0.5 * u[3],
        bare=u[4] < config.bare_probability,
        photo_seed=seeds[2], photo=u[5] < config.photo_probability * difficulty,
        crop_seed=seeds[3],
        solid_seed=seeds[4], scene_seed=seeds[5],
        blur_sigma=u[6] * config.max_blur_sigma * difficulty,
        tiny=u[7] < config.tiny_probability * difficulty, tiny_size=tiny_size,
        jpeg_quality=quality,
        # seeds[8]: drawn apart from u, so renders without patterns stay bit for bit
        pattern=tf.random.stateless_uniform([], seeds[8]) <
        config.pattern_probability * difficulty, pattern_seed=seeds[9])


def render_sample(masks, colours, backgrounds, label, seed, config: AugmentConfig,
                  difficulty=1.0):
    """One augmented render of brand `label`.

    Args:
      masks: [brands, H, W] float alpha masks of the clean icons.
      colours: [brands, 3] brand colours in [0, 1].
      backgrounds: [photos, h, w, 3] float photos in [0, 1].
      label: int32 scalar brand index.
      seed: int32 [2] stateless seed.
      difficulty: float scalar in [0, 1]; 1 is the configured distribution (see module doc).
    Returns:
      float32 [image_size, image_size, 3] in [0, 1].
    """
    difficulty = tf.clip_by_value(tf.cast(difficulty, tf.float32), 0.0, 1.0)
    c = _choose(seed, config, difficulty)
    mask = tf.gather(masks, label)
    colour = tf.where(c.use_brand_colour, tf.gather(colours, label), c.random_colour)
    tile = tf.where(c.inverted, tf.zeros(3) + c.tile_shade, tf.ones(3) - c.tile_shade)
    logo_colour = tf.where(c.inverted, 1.0 - c.pale * c.random_colour, colour)
    texture = mask[..., None] * logo_colour + (1.0 - mask[..., None]) * tile
    alpha = tf.where(c.bare, mask, tf.ones_like(mask))
    size = config.image_size
    photo_index = tf.random.stateless_uniform([], c.photo_seed, 0, tf.shape(backgrounds)[0],
                                              tf.int32)
    photo = tf.gather(backgrounds, photo_index)
    photo = tf.image.stateless_random_crop(photo, [size, size, 3], c.crop_seed)
    if config.photo_jitter_probability > 0:
        # seeds folded from pattern_seed: renders without jitter stay bit for bit
        jitter_seeds = tf.random.experimental.stateless_split(
            tf.random.experimental.stateless_fold_in(c.pattern_seed, 1), 2)
        jitter = tf.random.stateless_uniform([], jitter_seeds[0]) < \
            config.photo_jitter_probability * difficulty
        photo = tf.cond(jitter, lambda: _jitter(tf.gather(backgrounds, photo_index),
                                                jitter_seeds[1], size), lambda: photo)
    solid = tf.ones([size, size, 3]) * tf.random.stateless_uniform([1, 1, 3], c.solid_seed)
    background = tf.where(c.photo, photo, solid)
    if config.pattern_probability > 0:
        # drawn only where chosen (tf.cond): a dead-leaves image costs 2/3 of a render
        background = tf.cond(c.pattern,
                             lambda: _pattern(c.pattern_seed, size, config.pattern_kind),
                             lambda: background)
    rgba = tf.concat([texture, alpha[..., None]], -1)
    if config.three_d:
        image = render(rgba, background, _scene(c.scene_seed, config, difficulty), config.render)
    else:
        flat = tf.image.resize(rgba, [size, size], antialias=True)
        image = flat[..., :3] * flat[..., 3:] + (1.0 - flat[..., 3:]) * background
    image = _blur(image, c.blur_sigma)
    small = tf.image.resize(image, [c.tiny_size, c.tiny_size], antialias=True)
    image = tf.where(c.tiny, tf.image.resize(small, [size, size], method="nearest"), image)
    image = tf.image.adjust_jpeg_quality(tf.clip_by_value(image, 0.0, 1.0), c.jpeg_quality)
    return tf.reshape(image, [size, size, 3])


CONDITIONS = ("plane_side", "logo_pixels", "tiny", "photo", "bare", "inverted",
              "brand_colour", "blur_sigma", "jpeg_quality", "pattern")


def describe_render(masks, label, seed, config: AugmentConfig, difficulty=1.0) -> dict:
    """The conditions of the render that `render_sample` makes from the same arguments.

    `plane_side`: side in pixels of the logo's tile as finally seen (the square root of its
    area after the 3D pose, and after shrinking when rendered tiny); `logo_pixels`: the
    pixels the icon itself covers. The rest are the random choices (`_Choices`).
    """
    difficulty = tf.clip_by_value(tf.cast(difficulty, tf.float32), 0.0, 1.0)
    c = _choose(seed, config, difficulty)
    mask = tf.gather(masks, label)
    size = config.image_size
    shrink = tf.where(c.tiny, tf.cast(c.tiny_size, tf.float32) / size, 1.0) ** 2
    if config.three_d:
        scene = _scene(c.scene_seed, config, difficulty)
        # Black on white: what the plane or the icon covers darkens the picture.
        black = tf.zeros(mask.shape + (3,))
        covered = [tf.reduce_sum(1.0 - render(tf.concat([black, a[..., None]], -1),
                                              tf.ones([size, size, 3]), scene,
                                              config.render)[..., 0])
                   for a in (tf.ones_like(mask), mask)]
    else:
        covered = [tf.constant(float(size * size)),
                   tf.reduce_sum(tf.image.resize(mask[..., None], [size, size],
                                                 antialias=True))]
    return {"plane_side": tf.sqrt(covered[0] * shrink), "logo_pixels": covered[1] * shrink,
            "tiny": c.tiny, "photo": c.photo, "bare": c.bare, "inverted": c.inverted,
            "brand_colour": c.use_brand_colour & ~c.inverted, "blur_sigma": c.blur_sigma,
            "pattern": c.pattern,
            "jpeg_quality": c.jpeg_quality}


def _render_seed(seed: int, index):
    return tf.cast(tf.stack([tf.constant(seed, tf.int64), index]) % (2 ** 31 - 1), tf.int32)


def describe_renders(masks, seed: int, config: AugmentConfig, count: int) -> dict:
    """`describe_render` of each of the first `count` renders of `make_renders` (same seed
    and config, difficulty 1), as numpy arrays keyed by `CONDITIONS`."""
    masks = tf.constant(masks, tf.float32)
    brands = int(masks.shape[0])

    def one(index):
        return describe_render(masks, tf.cast(index % brands, tf.int32),
                               _render_seed(seed, index), config)

    rows = tf.data.Dataset.range(count).map(one, num_parallel_calls=tf.data.AUTOTUNE,
                                            deterministic=True).batch(512)
    parts = [{k: v.numpy() for k, v in batch.items()} for batch in rows]
    return {k: np.concatenate([p[k] for p in parts]) for k in CONDITIONS}


def make_renders(masks, colours, backgrounds, seed: int, config: AugmentConfig,
                 count: int | None = None, ramp: int = 0) -> tf.data.Dataset:
    """(image, label) pairs cycling over brands; infinite when `count` is None.

    `ramp` > 0: render i is made at difficulty min(1, (i + 1) / ramp) (the curriculum).
    """
    masks = tf.constant(masks, tf.float32)
    colours = tf.constant(colours, tf.float32)
    backgrounds = tf.constant(backgrounds, tf.float32)
    brands = int(masks.shape[0])
    indices = tf.data.Dataset.range(count if count is not None else 2 ** 62)

    def one(index):
        label = tf.cast(index % brands, tf.int32)
        difficulty = (tf.minimum(1.0, tf.cast(index + 1, tf.float32) / float(ramp))
                      if ramp > 0 else 1.0)
        image = render_sample(masks, colours, backgrounds, label, _render_seed(seed, index),
                              config, difficulty)
        return image, label

    return indices.map(one, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
