"""The logo renderer: identity pose, shading, determinism, batching, gradients, tf.data."""

import dataclasses
import math
import re

import numpy as np
import pytest
import tensorflow as tf

from cuttingedge.trainers.graphics import render as render_lib
from cuttingedge.trainers.graphics.render import (
    RenderConfig,
    RenderParameters,
    neutral_parameters,
    non_white_alpha,
    random_render,
    render,
    sample_parameters,
)

SIZE = 24


@pytest.fixture
def config():
    return RenderConfig(out_size=SIZE)


@pytest.fixture
def texture(rng):
    return rng.uniform(size=(SIZE, SIZE, 3)).astype(np.float32)


@pytest.fixture
def background(rng):
    return rng.uniform(size=(40, 30, 3)).astype(np.float32)


def _with(parameters, **fields):
    return parameters._replace(**{k: tf.constant(v, tf.float32) for k, v in fields.items()})


# --- geometry ---------------------------------------------------------------------------

def test_identity_pose_reproduces_the_texture(config, texture, background):
    """Front-facing plane at depth = focal_length fills the view; pixel j samples texel j."""
    image = render(texture, background, neutral_parameters(config), config)
    np.testing.assert_allclose(image, texture, atol=1e-5)


def test_identity_pose_with_a_larger_texture_is_its_downscaled_copy(config):
    """A 2x texture is prefiltered then sampled: a linear ramp I(y, x) = (x + 2 y) / 150 is
    reproduced at the texel centres x = 2 j + 1/2, y = 2 i + 1/2 (away from the border)."""
    rows, cols = np.meshgrid(np.arange(2 * SIZE), np.arange(2 * SIZE), indexing="ij")
    ramp = np.repeat(((cols + 2 * rows) / 150.0)[..., None], 3, axis=-1).astype(np.float32)
    image = render(ramp, tf.zeros([SIZE, SIZE, 3]), neutral_parameters(config), config).numpy()
    i, j = np.meshgrid(np.arange(SIZE), np.arange(SIZE), indexing="ij")
    want = ((2 * j + 0.5) + 2 * (2 * i + 0.5)) / 150.0
    np.testing.assert_allclose(image[1:-1, 1:-1, 0], want[1:-1, 1:-1], atol=1e-5)


def test_plane_twice_as_far_covers_the_central_half(config):
    """At depth 2 f the unit plane spans SIZE / 2 pixels: white centre, background around."""
    parameters = _with(neutral_parameters(config), translation=[0.0, 0.0, 2.0])
    image = render(tf.ones([8, 8, 3]), tf.zeros([SIZE, SIZE, 3]), parameters, config).numpy()
    quarter = SIZE // 4
    np.testing.assert_allclose(image[quarter:-quarter, quarter:-quarter], 1.0, atol=1e-5)
    assert image[:quarter - 1].max() == 0.0 and image[:, -quarter + 1:].max() == 0.0


def test_wide_texture_keeps_its_aspect_ratio(config):
    """A 2:1 texture at the filling depth spans the full width and the central half height."""
    image = render(tf.ones([8, 16, 3]), tf.zeros([SIZE, SIZE, 3]), neutral_parameters(config),
                   config).numpy()
    quarter = SIZE // 4
    np.testing.assert_allclose(image[quarter:-quarter], 1.0, atol=1e-5)
    assert image[:quarter - 1].max() == 0.0 and image[-quarter + 1:].max() == 0.0


def test_roll_of_a_half_turn_flips_the_texture(config, texture):
    parameters = _with(neutral_parameters(config), angles=[0.0, 0.0, math.pi])
    image = render(texture, tf.zeros([SIZE, SIZE, 3]), parameters, config)
    np.testing.assert_allclose(image, texture[::-1, ::-1], atol=1e-4)


def test_shift_moves_the_plane_by_the_projected_offset(config, texture):
    """translation x = 0.25 at depth f moves the image right by 0.25 * SIZE pixels."""
    parameters = _with(neutral_parameters(config), translation=[0.25, 0.0, 1.0])
    image = render(texture, tf.zeros([SIZE, SIZE, 3]), parameters, config).numpy()
    shift = SIZE // 4
    np.testing.assert_allclose(image[:, shift:], texture[:, :-shift], atol=1e-5)
    assert image[:, :shift - 1].max() == 0.0


# --- shading and compositing ------------------------------------------------------------

def test_lambertian_shading_of_a_tilted_light(config, texture):
    """ambient a + diffuse d with light at 60 degrees from the normal: c (a + d cos 60)."""
    parameters = _with(neutral_parameters(config), ambient=[0.2], diffuse=[0.6],
                       light_direction=[math.sin(math.pi / 3), 0.0, -math.cos(math.pi / 3)])
    image = render(texture, tf.zeros([SIZE, SIZE, 3]), parameters, config)
    np.testing.assert_allclose(image, texture * (0.2 + 0.6 * 0.5), atol=1e-5)


def test_specular_highlight_peaks_on_the_mirror_pixel(config):
    """Light from the camera: the mirror direction is the view ray at the image centre."""
    parameters = _with(neutral_parameters(config), ambient=[0.0], specular=[1.0],
                       shininess=[20.0])
    image = render(tf.zeros([SIZE, SIZE, 3]), tf.zeros([SIZE, SIZE, 3]), parameters, config)
    brightness = image.numpy().mean(axis=-1)
    row, col = np.unravel_index(brightness.argmax(), brightness.shape)
    assert {row, col} <= {SIZE // 2 - 1, SIZE // 2} and brightness.max() > 0.99
    assert brightness[0, 0] < brightness.max()


def test_alpha_mask_shows_the_background(config, texture):
    background = np.full((SIZE, SIZE, 3), 0.25, np.float32)
    alpha = np.zeros((SIZE, SIZE), np.float32)
    alpha[:, : SIZE // 2] = 1.0
    image = render(texture, background, neutral_parameters(config), config, alpha=alpha).numpy()
    np.testing.assert_allclose(image[:, : SIZE // 2 - 1], texture[:, : SIZE // 2 - 1], atol=1e-5)
    np.testing.assert_allclose(image[:, SIZE // 2 + 1:], 0.25, atol=1e-5)


def test_rgba_texture_alpha_and_uint8_input(config, texture):
    rgba = np.concatenate([texture, np.zeros((SIZE, SIZE, 1), np.float32)], axis=-1)
    rgba = (rgba * 255).astype(np.uint8)
    image = render(rgba, np.full((SIZE, SIZE, 3), 255, np.uint8), neutral_parameters(config),
                   config)
    np.testing.assert_allclose(image, 1.0, atol=1e-6)  # fully transparent: white background


def test_non_white_alpha_hides_the_margin():
    texture = np.ones((4, 4, 3), np.float32)
    texture[1:3, 1:3] = [0.1, 0.2, 0.9]
    alpha = non_white_alpha(texture).numpy()[..., 0]
    want = np.zeros((4, 4))
    want[1:3, 1:3] = 1.0
    np.testing.assert_array_equal(alpha, want)


# --- random rendering ---------------------------------------------------------------------

def test_output_shape_and_range(config, texture, background):
    for seed in range(5):
        image = random_render(texture, background, tf.constant([seed, 3]), config)
        assert image.shape == (SIZE, SIZE, 3) and image.dtype == tf.float32
        assert 0.0 <= float(tf.reduce_min(image)) and float(tf.reduce_max(image)) <= 1.0


def test_same_seed_same_image_and_different_seeds_differ(config, texture, background):
    first = random_render(texture, background, tf.constant([7, 1]), config)
    again = random_render(texture, background, tf.constant([7, 1]), config)
    other = random_render(texture, background, tf.constant([7, 2]), config)
    np.testing.assert_array_equal(first, again)
    assert float(tf.reduce_max(tf.abs(first - other))) > 0.05


def test_seed_forms(config, texture, background):
    scalar = random_render(texture, background, 5, config)
    pair = random_render(texture, background, [5, 0], config)
    np.testing.assert_array_equal(scalar, pair)
    generated = random_render(texture, background, tf.random.Generator.from_seed(1), config)
    assert generated.shape == (SIZE, SIZE, 3)
    message = ("Expected seed_or_rng to be an integer seed of shape [2] or [], or a "
               "tf.random.Generator, received float32 of shape (2,).")
    with pytest.raises(ValueError, match=re.escape(message)):
        random_render(texture, background, [1.0, 2.0], config)


def test_sampled_parameters_stay_in_the_configured_ranges():
    config = RenderConfig(max_pitch_degrees=10, max_yaw_degrees=20, max_roll_degrees=5,
                          depth_range=(2.0, 3.0), max_light_angle_degrees=30)
    p = sample_parameters(tf.constant([0, 1]), config, batch_size=500)
    limits = np.radians([10, 20, 5])
    assert np.all(np.abs(p.angles.numpy()) <= limits + 1e-6)
    assert np.all(np.abs(p.angles.numpy()).max(axis=0) > 0.9 * limits)
    depth = p.translation.numpy()[:, 2]
    assert depth.min() >= 2.0 and depth.max() <= 3.0
    light = p.light_direction.numpy()
    np.testing.assert_allclose(np.linalg.norm(light, axis=-1), 1.0, rtol=1e-5)
    assert np.all(-light[:, 2] >= math.cos(math.radians(30)) - 1e-6)


def test_batch_renders_each_image_with_its_own_parameters(config, texture, background):
    batch_t = np.stack([texture, texture[::-1]])
    batch_b = np.stack([background, background[:, ::-1]])
    parameters = sample_parameters(tf.constant([4, 4]), config, batch_size=2)
    batched = render(batch_t, batch_b, parameters, config)
    for i in range(2):
        single = render(batch_t[i], batch_b[i], RenderParameters(*(v[i] for v in parameters)),
                        config)
        np.testing.assert_allclose(batched[i], single, atol=1e-6)
    random_batch = random_render(batch_t, batch_b, tf.constant([1, 2]), config)
    assert random_batch.shape == (2, SIZE, SIZE, 3)


def test_gradients_with_respect_to_the_angles_are_finite_and_nonzero(config, texture, background):
    parameters = sample_parameters(tf.constant([3, 9]), config)
    angles = tf.Variable(parameters.angles)
    with tf.GradientTape() as tape:
        image = render(texture, background, parameters._replace(angles=angles), config)
        loss = tf.reduce_mean(image * tf.linspace(0.0, 1.0, SIZE)[:, None, None])
    gradient = tape.gradient(loss, angles)
    assert bool(tf.reduce_all(tf.math.is_finite(gradient)))
    assert float(tf.reduce_max(tf.abs(gradient))) > 0.0


def test_works_inside_tf_data_map_and_is_deterministic(config, texture, background):
    textures = np.stack([texture, texture * 0.5, texture[::-1]])

    def augment(index, logo):
        seed = tf.stack([tf.constant(11, tf.int64), index])
        return random_render(logo, background, seed, config, alpha=non_white_alpha(logo))

    dataset = tf.data.Dataset.from_tensor_slices(textures).enumerate().map(
        augment, num_parallel_calls=2, deterministic=True)
    assert dataset.element_spec.shape == (SIZE, SIZE, 3)
    first, second = list(dataset), list(dataset)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    eager = random_render(textures[1], background, tf.constant([11, 1], tf.int64), config,
                          alpha=non_white_alpha(textures[1]))
    np.testing.assert_allclose(first[1], eager, atol=1e-6)


def test_batched_tf_data_with_unknown_texture_size(config, background):
    dataset = tf.data.Dataset.from_generator(
        lambda: (np.ones((n, 2 * n, 3), np.float32) for n in (10, 30)),
        output_signature=tf.TensorSpec([None, None, 3], tf.float32))
    dataset = dataset.map(lambda logo: random_render(logo, background, [0, 1], config))
    assert [tuple(image.shape) for image in dataset] == [(SIZE, SIZE, 3)] * 2


# --- configuration and errors ---------------------------------------------------------------

@pytest.mark.parametrize("field, value, message", [
    ("out_size", 0, "out_size must be a positive int, received out_size=0."),
    ("out_size", 32.0, "out_size must be a positive int, received out_size=32.0."),
    ("max_yaw_degrees", 90.0,
     "max_yaw_degrees must be a number in [0.0, 89.0], received max_yaw_degrees=90.0."),
    ("max_roll_degrees", -1.0,
     "max_roll_degrees must be a number in [0.0, 180.0], received max_roll_degrees=-1.0."),
    ("depth_range", (0.0, 1.0), "depth_range must be a tuple (low, high) with 0.0 < low <= high,"
     " received depth_range=(0.0, 1.0)."),
    ("depth_range", (2.0, 1.0), "received depth_range=(2.0, 1.0)."),
    ("ambient_range", [0.1, 0.2], "ambient_range must be a tuple (low, high) with 0.0 <= low <="
     " high, received ambient_range=[0.1, 0.2]."),
    ("shininess_range", (-1.0, 2.0), "received shininess_range=(-1.0, 2.0)."),
    ("focal_length", 0.0, "focal_length must be a number in [0.001, 1000.0], received"),
    ("max_light_angle_degrees", 91, "must be a number in [0.0, 90.0], received "
     "max_light_angle_degrees=91."),
])
def test_config_validation_messages(field, value, message):
    with pytest.raises(ValueError, match=re.escape(message)) as error:
        RenderConfig(**{field: value})
    assert str(error.value).startswith(f"RenderConfig.{field} must be ")


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        RenderConfig().out_size = 3


def test_render_shape_errors(config, texture):
    neutral = neutral_parameters(config)
    message = ("Expected texture of shape [H, W, C] or [B, H, W, C] with C in [3, 4], "
               "received shape (24, 24, 2).")
    with pytest.raises(ValueError, match=re.escape(message)):
        render(texture[..., :2], texture, neutral, config)
    message = "Expected background of shape [h, w, 3] for a texture of shape (24, 24, 3), "
    with pytest.raises(ValueError, match=re.escape(message)):
        render(texture, texture[None], neutral, config)
    message = "Expected parameters.angles of shape [k] for one texture, received shape (1, 3)."
    with pytest.raises(ValueError, match=re.escape(message)):
        render(texture, texture, neutral_parameters(config, batch_size=1), config)
    message = ("Expected alpha of shape (24, 24) or (24, 24, 1) to match the texture, "
               "received shape (24, 24, 2).")
    with pytest.raises(ValueError, match=re.escape(message)):
        render(texture, texture, neutral, config, alpha=np.ones((SIZE, SIZE, 2)))
    message = "Expected threshold in [0, 1), received threshold=1.0."
    with pytest.raises(ValueError, match=re.escape(message)):
        non_white_alpha(texture, threshold=1.0)


def test_public_api_is_exported():
    assert set(render_lib.__all__) >= {"RenderConfig", "random_render", "render"}
