"""`DenseVariational` and `NormalParams`: sampling moments, KL layer losses, errors, saving."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from cuttingedge.trainers.probabilistic import mean_field
from cuttingedge.trainers.probabilistic.layers import DenseVariational, NormalParams

X = np.array([[1.0, 2.0]], np.float32)


def _layer_with_known_posterior(estimator):
    layer = DenseVariational(1, num_train_examples=10, estimator=estimator, seed=3)
    layer.build((None, 2))
    layer.kernel_loc.assign([[0.5], [-0.25]])
    layer.kernel_raw_scale.assign(mean_field.inverse_softplus_scale(np.full([2, 1], 0.5)))
    layer.bias_loc.assign([0.1])
    layer.bias_raw_scale.assign(mean_field.inverse_softplus_scale([0.1]))
    return layer


@pytest.mark.parametrize("estimator", ["flipout", "reparameterization"])
def test_output_moments_match_the_posterior(estimator):
    layer = _layer_with_known_posterior(estimator)
    draws = tf.function(lambda: tf.map_fn(lambda _: layer(X), tf.range(4000),
                                          fn_output_signature=tf.float32))()
    draws = draws.numpy()[:, 0, 0]
    # y = x @ w + b with independent w_i ~ N(loc_i, 0.5), b ~ N(0.1, 0.1):
    mean = 1.0 * 0.5 + 2.0 * -0.25 + 0.1
    variance = (1.0 ** 2 + 2.0 ** 2) * 0.5 ** 2 + 0.1 ** 2
    assert abs(draws.mean() - mean) < 4 * math.sqrt(variance / draws.size)
    assert abs(draws.var() / variance - 1) < 0.1


def test_flipout_decorrelates_the_examples_of_a_batch():
    layer = _layer_with_known_posterior("flipout")
    outputs = layer(np.repeat(X, 500, axis=0)).numpy()[:, 0]
    assert outputs.std() > 0.5  # one shared weight draw would give std 0


def test_kl_divergence_divided_by_examples_is_the_layer_loss():
    layer = _layer_with_known_posterior("flipout")
    layer(X)
    prior = 1.0
    terms = [(0.5, 0.5), (-0.25, 0.5), (0.1, 0.1)]
    kl = sum(math.log(prior / s) + (s ** 2 + m ** 2) / (2 * prior ** 2) - 0.5 for m, s in terms)
    assert len(layer.losses) == 1
    np.testing.assert_allclose(float(layer.losses[0]), kl / 10, rtol=1e-5)


def test_layer_losses_reach_the_model_and_are_replaced_on_each_call():
    inputs = keras.Input([2])
    hidden = DenseVariational(3, num_train_examples=5, activation="relu")(inputs)
    model = keras.Model(inputs, DenseVariational(1, num_train_examples=5)(hidden))
    model(X)
    model(X)
    assert len(model.losses) == 2 and all(float(loss) > 0 for loss in model.losses)


def test_dense_variational_serialisation_round_trip(tmp_path):
    inputs = keras.Input([2])
    outputs = DenseVariational(2, num_train_examples=7, activation="tanh",
                               estimator="reparameterization", prior_scale=0.5, seed=1)(inputs)
    model = keras.Model(inputs, NormalParams("learned")(outputs))
    model.save(tmp_path / "m.keras")
    restored = keras.models.load_model(tmp_path / "m.keras")
    layer, copy = model.layers[1], restored.layers[1]
    assert copy.get_config() == layer.get_config()
    for want, got in zip(model.get_weights(), restored.get_weights()):
        np.testing.assert_array_equal(got, want)
    assert DenseVariational.from_config(layer.get_config()).get_config() == layer.get_config()


@pytest.mark.parametrize("kwargs, message", [
    ({"units": 0}, r"Expected units to be a positive integer\. Received: units=0\."),
    ({"units": 2.5}, r"Received: units=2\.5"),
    ({"num_train_examples": -1}, r"Received: num_train_examples=-1"),
    ({"estimator": "local"}, r"Unknown estimator 'local'\. Expected one of \['flipout', "),
    ({"prior_scale": 0.0}, r"Expected prior_scale to be a positive number"),
])
def test_dense_variational_rejects_bad_arguments(kwargs, message):
    arguments = {"units": 2, "num_train_examples": 10, **kwargs}
    with pytest.raises(ValueError, match=message):
        DenseVariational(**arguments)


def test_normal_params_modes():
    two = np.array([[1.0, 0.0]], np.float32)
    one = two[:, :1]
    np.testing.assert_allclose(NormalParams(0.3)(one).numpy(), [[1.0, 0.3]])
    np.testing.assert_allclose(NormalParams("learned", min_scale=0.01)(two).numpy(),
                               [[1.0, math.log(2.0) + 0.01]], rtol=1e-6)
    head = NormalParams("homoskedastic", initial_scale=2.0)
    np.testing.assert_allclose(head(one).numpy(), [[1.0, 2.0]], rtol=1e-5)
    head.set_scale(0.25)
    np.testing.assert_allclose(head(one).numpy(), [[1.0, 0.25]], rtol=1e-5)
    assert [w.name for w in head.trainable_weights] == ["raw_scale"]


@pytest.mark.parametrize("scale", [0.5, "learned", "homoskedastic"])
def test_normal_params_serialisation_round_trip(scale):
    head = NormalParams(scale, min_scale=0.01, name="head")
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(head))
    assert restored.get_config() == head.get_config()


def test_normal_params_errors():
    with pytest.raises(ValueError, match=r"Unknown scale mode 'fixed'.*Received: scale='fixed'"):
        NormalParams("fixed")
    with pytest.raises(ValueError, match=r"Expected scale to be a positive number\. "
                                         r"Received: scale=-1"):
        NormalParams(-1)
    with pytest.raises(ValueError, match=r"expects inputs of shape \[batch, 2\]\. "
                                         r"Received: input_shape=\(1, 3\)"):
        NormalParams("learned")(np.zeros([1, 3], np.float32))
    with pytest.raises(ValueError, match=r"set_scale needs scale='homoskedastic'"):
        NormalParams(1.0).set_scale(2.0)
