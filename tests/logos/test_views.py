"""Test-time views: what each view shows, the average over them, and that the served model
and the evaluation average the same views."""

import numpy as np
import pytest
import tensorflow as tf

from cuttingedge.trainers.logos import trainer, views


def _dot(size=16, row=8, column=8):
    image = np.zeros((1, size, size, 3), np.float32)
    image[0, row, column] = 1.0
    return image


def _where(image):
    return tuple(int(i) for i in np.unravel_index(np.argmax(image[..., 0]), image.shape[:2]))


def test_the_views_are_the_image_shifted_and_zoomed_in_the_documented_order():
    stacked = views.stack(_dot(), views.MAX_VIEWS).numpy()
    assert stacked.shape == (7, 16, 16, 3)
    identity, right, left, down, up, zoom_in, zoom_out = stacked
    step = 1  # round(16 * 3 / 64)
    assert _where(identity) == (8, 8)
    assert _where(right) == (8, 8 + step) and _where(left) == (8, 8 - step)
    assert _where(down) == (8 + step, 8) and _where(up) == (8 - step, 8)
    # a zoom keeps the centre where it is and moves an off-centre point out or in
    corner = views.stack(_dot(64, 12, 12), 7).numpy()
    assert _where(corner[5])[0] < 12 < _where(corner[6])[0]
    np.testing.assert_allclose(views.stack(_dot(), 1).numpy(), _dot())


def test_views_of_a_batch_keep_each_image_in_its_place():
    images = np.random.default_rng(0).uniform(size=(3, 8, 8, 3)).astype(np.float32)
    stacked = views.stack(images, 3).numpy()
    assert stacked.shape == (9, 8, 8, 3)
    np.testing.assert_allclose(stacked[:3], images)  # view 0 of images 0, 1, 2
    probabilities = tf.constant([[1.0, 0.0]] * 3 + [[0.0, 1.0]] * 3 + [[0.5, 0.5]] * 3)
    np.testing.assert_allclose(views.average(probabilities, 3).numpy(), [[0.5, 0.5]] * 3)


@pytest.mark.parametrize("count", [0, 8, -1, 2.0, True, "3"])
def test_a_view_count_outside_1_to_7_is_refused_with_the_views_named(count):
    with pytest.raises(ValueError, match="1 .*to 7 .*zoom_out"):
        views.check_count(count)
    with pytest.raises(ValueError, match="test-time views"):
        trainer.LogoOptions(test_time_views=count)


def test_views_need_square_images_of_a_known_size():
    with pytest.raises(ValueError, match="square"):
        views.stack(np.zeros((1, 8, 6, 3), np.float32), 3)


def test_served_probabilities_are_the_evaluations_average_over_the_views(tmp_path):
    import keras
    import keras_tuner

    from cuttingedge.trainers.logos import model as model_lib

    net = model_lib.small_cnn(keras_tuner.HyperParameters(), 16, 3)
    images = np.random.default_rng(1).uniform(size=(4, 16, 16, 3)).astype(np.float32)
    images = np.round(images * 255) / 255  # what a PNG keeps
    net.fit(images, np.arange(4) % 3, epochs=2, verbose=0)
    evaluated = views.predict(net, images, 7, batch_size=3)  # chunks of 3 and 1
    by_hand = np.mean([net.predict(v, verbose=0) for v in
                       np.split(views.stack(images, 7).numpy(), 7)], axis=0)
    np.testing.assert_allclose(evaluated, by_hand, atol=1e-5)
    assert not np.allclose(evaluated, views.predict(net, images, 1), atol=1e-4)

    options = trainer.LogoOptions(image_size=16, test_time_views=7)
    trainer.save_model(net, ["a", "b", "c"], options, str(tmp_path / "model" / "serving"))
    serve = tf.saved_model.load(str(tmp_path / "model" / "serving")).signatures[
        "serving_default"]
    pngs = [tf.io.encode_png(tf.cast(np.round(image * 255), tf.uint8)).numpy()
            for image in images]
    out = serve(image_bytes=tf.constant(pngs))
    np.testing.assert_allclose(out["probabilities"].numpy(), evaluated, atol=1e-4)
    np.testing.assert_allclose(out["score"].numpy(), evaluated.max(axis=1), atol=1e-4)
    assert list(out["brand"].numpy().astype(str)) == [
        "abc"[i] for i in evaluated.argmax(axis=1)]
    assert isinstance(keras.saving.load_model(str(tmp_path / "model" / "model.keras")),
                      keras.Model)
