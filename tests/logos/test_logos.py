"""The logo trainer's pieces: curriculum renders, small sizes, the training stream, serving
decoding, the brand kit from files."""

import dataclasses
import io

import numpy as np
import pytest
import tensorflow as tf

from cuttingedge.trainers.logos import augment, kit as kit_lib, trainer
from cuttingedge.trainers.logos.serving import LogoServer


def _kit(brands=3, size=24):
    masks = np.zeros((brands, size, size), np.float32)
    for i in range(brands):
        masks[i, 4 + i:size - 4, 6:size - 6 - i] = 1.0
    colours = np.linspace(0, 1, brands * 3, dtype=np.float32).reshape(brands, 3)
    return kit_lib.BrandKit(masks, colours, [f"brand{i}" for i in range(brands)])


def _backgrounds():
    return np.random.default_rng(0).uniform(size=(2, 40, 40, 3)).astype(np.float32)


def _renders(config, count, ramp=0, kit=None):
    kit = kit or _kit()
    images, labels = [], []
    for x, y in augment.make_renders(kit.masks, kit.colours, _backgrounds(), 5, config, count,
                                     ramp=ramp).batch(count):
        images.append(x.numpy())
        labels.append(y.numpy())
    return np.concatenate(images), np.concatenate(labels)


def test_curriculum_reaches_exactly_the_configured_renders():
    config = augment.AugmentConfig(image_size=32)
    harsh, labels = _renders(config, 12)
    ramped, ramp_labels = _renders(config, 12, ramp=6)
    np.testing.assert_array_equal(labels, ramp_labels)
    # from render `ramp - 1` on, difficulty is 1: the very same images, bit for bit
    np.testing.assert_array_equal(ramped[5:], harsh[5:])
    assert np.abs(ramped[:5] - harsh[:5]).max() > 0.1


def test_heldout_renders_ignore_the_curriculum_and_keep_their_conditions():
    assert augment.HELDOUT.jpeg_quality == (20, 80)
    low, high = augment.AugmentConfig().jpeg_quality
    assert low <= 20 and high >= 80  # training covers the held-out JPEG range


@pytest.mark.parametrize("size", [16, 24, 32])
def test_small_image_sizes_render(size):
    images, _ = _renders(augment.AugmentConfig(image_size=size, tiny_probability=1.0), 4)
    assert images.shape == (4, size, size, 3)
    assert 0.0 <= images.min() and images.max() <= 1.0


def test_flat_renders_without_the_3d_stage():
    config = augment.AugmentConfig(image_size=24, three_d=False)
    images, labels = _renders(config, 6)
    assert images.shape == (6, 24, 24, 3) and labels.tolist() == [0, 1, 2, 0, 1, 2]


def test_described_conditions_are_those_of_the_renders():
    kit = _kit()
    config = augment.AugmentConfig(image_size=32, tiny_probability=0.5, photo_probability=1.0,
                                   jpeg_quality=(100, 100), max_blur_sigma=0.0)
    conditions = augment.describe_renders(kit.masks, 5, config, 12)
    assert set(conditions) == set(augment.CONDITIONS)
    assert all(len(v) == 12 for v in conditions.values())
    assert conditions["photo"].all() and (conditions["jpeg_quality"] == 100).all()
    assert 0 < conditions["tiny"].sum() < 12
    # a tiny render is shrunk to at most half the frame before upscaling
    assert (conditions["plane_side"][conditions["tiny"]] <= 16 + 1e-3).all()
    assert (conditions["logo_pixels"] <= conditions["plane_side"] ** 2 + 1e-3).all()
    # the described tiny flag is the rendered one: tiny renders come out blocky (nearest
    # upscaling repeats rows), the others show the noisy photo in every row
    images, _ = _renders(config, 12, kit=kit)
    blocky = np.array([np.mean(np.abs(np.diff(image, axis=0)).max(-1) < 0.02)
                       for image in images])
    assert blocky[conditions["tiny"]].min() > blocky[~conditions["tiny"]].max()


def test_patterns_replace_backgrounds_only_when_asked():
    plain = augment.AugmentConfig(image_size=32, jpeg_quality=(100, 100))
    patterned = dataclasses.replace(plain, pattern_probability=0.5)
    before, _ = _renders(plain, 12)
    after, _ = _renders(patterned, 12)
    drawn = augment.describe_renders(_kit().masks, 5, patterned, 12)["pattern"]
    assert 0 < drawn.sum() < 12
    assert not augment.describe_renders(_kit().masks, 5, plain, 12)["pattern"].any()
    # renders without a pattern are exactly those of the config without patterns
    np.testing.assert_array_equal(after[~drawn], before[~drawn])
    assert all(np.abs(a - b).max() > 0.1 for a, b in zip(after[drawn], before[drawn]))


def test_dead_leaves_cover_the_frame_with_shapes_of_many_sizes():
    images = [augment._leaves(tf.constant([i, 3], tf.int32), 64).numpy() for i in range(12)]
    assert all(v.shape == (64, 64, 3) and 0.0 <= v.min() and v.max() <= 1.0 for v in images)
    # the same seed gives the same image, other seeds other images
    np.testing.assert_array_equal(augment._leaves(tf.constant([0, 3], tf.int32), 64).numpy(),
                                  images[0])
    assert len({v.tobytes() for v in images}) == 12
    for image in images:
        # flat regions (one shape each) of many sizes: many distinct colours, and edges in
        # a sizeable share of the pixels, unlike a solid or a smooth blotch pattern
        colours = np.unique(np.round(image.reshape(-1, 3), 4), axis=0)
        edges = np.mean(np.abs(np.diff(image, axis=1)).max(-1) > 1e-4)
        assert len(colours) >= 20 and 0.05 < edges < 0.8
    # in some images the shapes are grey (R = G = B) wherever they cover the ground
    assert any(np.mean(np.ptp(image, axis=-1) < 1e-6) > 0.6 for image in images)


def test_leaves_replace_backgrounds_as_patterns_do():
    plain = augment.AugmentConfig(image_size=32, jpeg_quality=(100, 100))
    leaves = dataclasses.replace(plain, pattern_probability=0.5, pattern_kind="leaves")
    blotches = dataclasses.replace(leaves, pattern_kind="blotches")
    before, _ = _renders(plain, 12)
    after, _ = _renders(leaves, 12)
    drawn = augment.describe_renders(_kit().masks, 5, leaves, 12)["pattern"]
    assert 0 < drawn.sum() < 12
    np.testing.assert_array_equal(after[~drawn], before[~drawn])
    other, _ = _renders(blotches, 12)
    assert all(np.abs(a - b).max() > 0.1 for a, b in zip(after[drawn], other[drawn]))


def test_an_unknown_pattern_kind_is_rejected_with_the_choices():
    with pytest.raises(ValueError, match=r"pattern_kind must be one of \['blotches', 'leaves'\]"):
        augment.AugmentConfig(pattern_kind="stripes")
    with pytest.raises(ValueError, match="pattern_kind must be one of"):
        trainer.LogoOptions(pattern_kind="stripes")
    assert trainer.LogoOptions(pattern_kind="leaves").augment.pattern_kind == "leaves"


def test_photo_jitter_changes_only_the_photos_it_draws():
    plain = augment.AugmentConfig(image_size=32, jpeg_quality=(100, 100), photo_probability=1.0)
    jittered = dataclasses.replace(plain, photo_jitter_probability=0.5)
    before, _ = _renders(plain, 16)
    after, _ = _renders(jittered, 16)
    changed = np.array([np.abs(a - b).max() > 0 for a, b in zip(after, before)])
    # renders whose photo is not jittered are exactly those of the plain config
    assert 0 < changed.sum() < 16
    always, _ = _renders(dataclasses.replace(plain, photo_jitter_probability=1.0), 16)
    assert all(np.abs(a - b).max() > 0.05 for a, b in zip(always, before))
    # the same seed gives the same render
    np.testing.assert_array_equal(_renders(jittered, 16)[0], after)


def test_jittered_photo_views_stay_images_of_the_asked_size():
    photo = tf.constant(_backgrounds()[0])
    views = [augment._jitter(photo, tf.constant([i, 7], tf.int32), 16).numpy()
             for i in range(8)]
    assert all(v.shape == (16, 16, 3) and 0.0 <= v.min() and v.max() <= 1.0 for v in views)
    assert len({v.tobytes() for v in views}) == 8
    # a view can zoom out up to the whole photo: the largest one averages the noise away
    plain_spread = photo.numpy()[:16, :16].std()
    assert min(v.std() for v in views) < plain_spread


def test_bare_probability_sets_the_share_of_logos_without_their_tile():
    masks = _kit().masks
    for probability, low, high in ((0.0, 0, 0), (0.8, 150, 230), (1.0, 240, 240)):
        bare = augment.describe_renders(
            masks, 5, augment.AugmentConfig(image_size=16, bare_probability=probability),
            240)["bare"]
        assert low <= bare.sum() <= high
    assert augment.HELDOUT.bare_probability == 0.5


def test_options_reject_a_pattern_probability_outside_0_1():
    with pytest.raises(ValueError, match=r"pattern_probability must be in \[0, 1\]"):
        trainer.LogoOptions(pattern_probability=1.5)
    assert trainer.LogoOptions(pattern_probability=0.3).augment.pattern_probability == 0.3
    assert augment.HELDOUT.pattern_probability == 0.0  # held-out renders never
    assert trainer.LogoOptions(photo_jitter_probability=0.5).augment.photo_jitter_probability \
        == 0.5
    assert augment.HELDOUT.photo_jitter_probability == 0.0
    with pytest.raises(ValueError, match=r"photo_jitter_probability must be in \[0, 1\]"):
        trainer.LogoOptions(photo_jitter_probability=-0.5)


def test_described_tile_shrinks_with_distance():
    near, far = (dataclasses.replace(augment.AugmentConfig(image_size=32, tiny_probability=0.0),
                                     render=dataclasses.replace(
                                         augment.AugmentConfig().render, depth_range=depth))
                 for depth in ((1.1, 1.1), (2.2, 2.2)))
    side = {name: augment.describe_renders(_kit().masks, 0, config, 6)["plane_side"]
            for name, config in (("near", near), ("far", far))}
    assert (side["far"] < 0.7 * side["near"]).all()
    flat = dataclasses.replace(near, three_d=False)
    np.testing.assert_allclose(augment.describe_renders(_kit().masks, 0, flat, 3)["plane_side"],
                               32.0)


def test_options_curriculum_and_steps():
    options = trainer.LogoOptions(train_renders=1000, batch_size=64, epochs=4, curriculum=0.5)
    assert options.steps_per_epoch == 15 and options.ramp == 15 * 64 * 4 // 2
    assert trainer.LogoOptions(curriculum=0.0).ramp == 0
    with pytest.raises(ValueError, match="curriculum"):
        trainer.LogoOptions(curriculum=1.5)


def test_training_stream_gives_fresh_shuffled_batches():
    options = trainer.LogoOptions(image_size=16, batch_size=8, train_renders=16, epochs=1)
    batches = list(trainer.train_stream(_kit(5, 16), _backgrounds(), options).take(3))
    images, labels = zip(*[(x.numpy(), y.numpy()) for x, y in batches])
    assert all(x.shape == (8, 16, 16, 3) for x in images)
    assert labels[0].tolist() != [0, 1, 2, 3, 4, 0, 1, 2]  # shuffled, not in brand order
    assert set(np.concatenate(labels)) == set(range(5))


def _png(array, mode):
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(array, mode).save(out, format="PNG")
    return out.getvalue()


@pytest.mark.parametrize("mode,pixel", [("RGBA", [0, 0, 0, 0]), ("LA", [0, 0]),
                                        ("L", [255]), ("RGB", [255, 255, 255])])
def test_serving_composites_transparency_over_white(mode, pixel):
    server = LogoServer(lambda x, training=False: x, ["a"], 8)
    array = np.tile(np.array(pixel, np.uint8), (16, 16, 1)).squeeze()
    image = server.decode(tf.constant(_png(array, mode))).numpy()
    assert image.shape == (8, 8, 3)
    np.testing.assert_allclose(image, 1.0, atol=1e-5)


def test_serving_keeps_opaque_colours():
    server = LogoServer(lambda x, training=False: x, ["a"], 8)
    array = np.zeros((8, 8, 4), np.uint8)
    array[..., 0], array[..., 3] = 255, 255
    image = server.decode(tf.constant(_png(array, "RGBA"))).numpy()
    np.testing.assert_allclose(image[..., 0], 1.0, atol=1e-5)
    np.testing.assert_allclose(image[..., 1:], 0.0, atol=1e-5)
    jpeg = tf.io.encode_jpeg(tf.zeros([10, 6, 3], tf.uint8)).numpy()
    assert server.decode(tf.constant(jpeg)).shape == (8, 8, 3)


def test_kit_from_files_matches_the_ingestion_labels(tmp_path):
    from PIL import Image

    for name, box in (("zeta", (2, 2, 10, 10)), ("alpha", (0, 4, 16, 8))):
        (tmp_path / name).mkdir()
        image = Image.new("RGB", (16, 16), "white")
        image.paste((0, 0, 0), box)
        image.save(tmp_path / name / "icon.png")
    kit = kit_lib.kit_from_files(str(tmp_path), size=16)
    assert kit.brands == ["alpha", "zeta"]  # sorted class names, as ImageExampleGen labels
    assert kit.masks.shape == (2, 16, 16)
    assert kit.masks[0, 6, 8] > 0.9 and kit.masks[0, 0, 0] < 0.1
    assert kit.masks[1, 6, 6] > 0.9 and kit.masks[1, 14, 14] < 0.1


@pytest.mark.parametrize("name", ["tiny_probability", "photo_probability",
                                  "pattern_probability", "photo_jitter_probability",
                                  "bare_probability"])
def test_augment_config_rejects_a_probability_outside_0_1(name):
    with pytest.raises(ValueError, match=rf"{name} must be in \[0, 1\]"):
        augment.AugmentConfig(**{name: -0.1})


def test_mixed_bfloat16_models_compute_in_bfloat16_and_serve_float32(tmp_path):
    import keras
    import keras_tuner

    from cuttingedge.trainers.logos import model as model_lib

    net = model_lib.small_cnn(keras_tuner.HyperParameters(), 16, 3, "mixed_bfloat16")
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored
    convs = [layer for layer in net.layers if isinstance(layer, keras.layers.Conv2D)]
    assert {layer.compute_dtype for layer in convs} == {"bfloat16"}
    assert {layer.variable_dtype for layer in convs} == {"float32"}
    images = np.random.default_rng(0).uniform(size=(8, 16, 16, 3)).astype(np.float32)
    net.fit(images, np.arange(8) % 3, epochs=1, verbose=0)  # trains (metrics take the output)
    probabilities = net.predict(images, verbose=0)
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)

    options = trainer.LogoOptions(image_size=16, precision="mixed_bfloat16")
    trainer.save_model(net, ["a", "b", "c"], options, str(tmp_path / "serving"))
    serve = tf.saved_model.load(str(tmp_path / "serving")).signatures["serving_default"]
    png = tf.io.encode_png(tf.cast(images[0] * 255, tf.uint8)).numpy()
    out = serve(image_bytes=tf.constant([png, png]))
    assert out["probabilities"].dtype == tf.float32 and out["probabilities"].shape == (2, 3)
    assert set(out["brand"].numpy().astype(str)) <= {"a", "b", "c"}

    baseline = model_lib.resnet_baseline(32, 3, precision="mixed_bfloat16")
    assert baseline.output.dtype == "float32"
    assert model_lib.resnet_baseline(32, 3).count_params() == baseline.count_params()


@pytest.mark.parametrize("pooling, features", [("avg", 256), ("max", 256), ("avgmax", 512)])
def test_the_cnn_pools_its_last_feature_map_as_chosen(pooling, features):
    import keras
    import keras_tuner

    from cuttingedge.trainers.logos import model as model_lib

    hp = keras_tuner.HyperParameters()
    hp.Fixed("pooling", pooling)
    hp.Fixed("filters", 16)  # last block: 16 x 2^3 = 128 channels
    hp.Fixed("dense", 128)
    net = model_lib.small_cnn(hp, 16, 3)
    head = next(layer for layer in net.layers if isinstance(layer, keras.layers.Dense))
    assert head.kernel.shape == (features // 2, 128)
    pools = {type(layer).__name__ for layer in net.layers if "Global" in type(layer).__name__}
    assert pools == {"avg": {"GlobalAveragePooling2D"}, "max": {"GlobalMaxPooling2D"},
                     "avgmax": {"GlobalAveragePooling2D", "GlobalMaxPooling2D"}}[pooling]
    probabilities = net.predict(np.zeros((2, 16, 16, 3), np.float32), verbose=0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    default = model_lib.small_cnn(keras_tuner.HyperParameters(), 16, 3)  # both, side by side
    assert {type(layer).__name__ for layer in default.layers if "Global" in
            type(layer).__name__} == {"GlobalAveragePooling2D", "GlobalMaxPooling2D"}


def test_an_unknown_pooling_is_rejected_with_the_choices():
    import keras_tuner

    from cuttingedge.trainers.logos import model as model_lib

    hp = keras_tuner.HyperParameters()
    hp.Fixed("pooling", "median")
    with pytest.raises(ValueError, match=r"pooling must be one of \['avg', 'max', 'avgmax'\]"):
        model_lib.small_cnn(hp, 16, 3)


def test_an_unknown_precision_is_rejected_with_the_choices():
    from cuttingedge.trainers.logos import model as model_lib

    with pytest.raises(ValueError, match=r"precision must be one of \['float32', "
                                         r"'mixed_bfloat16'\]. Received: 'float16'"):
        trainer.LogoOptions(precision="float16")
    with pytest.raises(ValueError, match="precision must be one of"):
        model_lib.LogoHyperModel(16, 3, precision="bf16")


def test_the_blessing_asks_for_more_than_guessing_and_the_baseline():
    import doctest

    from cuttingedge.components import logos

    assert doctest.testmod(logos).failed == 0
    # Both models at chance, one render apart (a tiny budget): not served.
    blessed, reason = logos.blessing_decision(20 / 3000, 15 / 3000, 3000, 150)
    assert not blessed and "no better than guessing" in reason and "150 brands" in reason
    # Far above chance but behind the baseline: not served either, and no guessing note.
    blessed, reason = logos.blessing_decision(0.40, 0.45, 3000, 150)
    assert not blessed and "guessing" in reason and "no better" not in reason
    assert logos.blessing_decision(0.40, 0.35, 3000, 150)[0]
    # A few renders: 2 of 20 right against 1/150 is already unlikely to be luck.
    assert logos.blessing_decision(2 / 20, 0.0, 20, 150)[0]
