"""The `GaussianProcess` layer: output columns, KL layer loss, a sine fit, errors, saving."""

import keras
import numpy as np
import pytest

from cuttingedge.trainers.probabilistic import predictive, svgp
from cuttingedge.trainers.probabilistic.gaussian_process import GaussianProcess
from cuttingedge.trainers.probabilistic.ladder import build_model


def test_output_columns_are_mean_total_scale_and_epistemic_stddev(rng):
    layer = GaussianProcess(4, num_train_examples=20, initial_noise_scale=0.3, seed=0)
    x = rng.normal(size=[6, 2]).astype(np.float32)
    params = layer(x).numpy()
    mean, variance = svgp.predictive_moments(layer.kernel, x, layer.inducing_points,
                                             layer.variational_loc,
                                             layer.variational_scale_tril, 0.0, layer.jitter)
    np.testing.assert_allclose(params[:, 0], mean.numpy(), atol=1e-6)
    np.testing.assert_allclose(params[:, 1] ** 2, variance.numpy() + 0.3 ** 2, rtol=1e-5)
    np.testing.assert_allclose(params[:, 2] ** 2, variance.numpy(), atol=1e-6)


def test_kl_of_the_inducing_distribution_is_a_layer_loss():
    layer = GaussianProcess(3, num_train_examples=8, seed=0)
    layer(np.zeros([2, 1], np.float32))
    np.testing.assert_allclose(float(layer.losses[0]), 0.0, atol=1e-5)  # starts at the prior
    layer.variational_loc.assign([1.0, 2.0, 0.0])
    layer(np.zeros([2, 1], np.float32))
    # 0.5 * m^T m / num_train_examples with Lv = I
    np.testing.assert_allclose(float(layer.losses[0]), 0.5 * 5.0 / 8, rtol=1e-4)


@pytest.mark.slow
def test_fits_a_sine_with_calibrated_intervals(rng, fit_steps):
    x = np.linspace(-3, 3, 40, dtype=np.float32)[:, None]
    y = (np.sin(x[:, 0]) + 0.1 * rng.normal(size=40)).astype(np.float32)
    model = build_model("gaussian_process", window=1, learning_rate=0.05,
                        num_train_examples=40, num_inducing_points=8, seed=0)
    model.get_layer("gaussian_process").set_inducing_points(np.linspace(-3, 3, 8)[:, None])
    fit_steps(model, x, y, steps=400, batch_size=40)
    summary = predictive.predict_distribution(model, x)
    coverage = np.mean(np.abs(y - summary.mean) <= 2 * summary.stddev)
    assert coverage >= 0.8
    assert np.mean(np.abs(summary.mean - np.sin(x[:, 0]))) < 0.15
    assert summary.stddev.mean() < 0.3  # intervals are not trivially wide
    far = predictive.predict_distribution(model, np.array([[12.0]], np.float32))
    assert far.epistemic_stddev[0] > 3 * summary.epistemic_stddev.mean()  # back to the prior


def test_gaussian_process_serialisation_round_trip(tmp_path):
    inputs = keras.Input([2])
    model = keras.Model(inputs, GaussianProcess(5, num_train_examples=9, jitter=1e-4,
                                                seed=2)(inputs))
    model.get_layer(index=1).variational_loc.assign(np.arange(5, dtype=np.float32))
    model.save(tmp_path / "gp.keras")
    restored = keras.models.load_model(tmp_path / "gp.keras")
    assert restored.layers[1].get_config() == model.layers[1].get_config()
    x = np.linspace(-1, 1, 8, dtype=np.float32).reshape(4, 2)
    np.testing.assert_allclose(restored(x).numpy(), model(x).numpy(), rtol=1e-6)


@pytest.mark.parametrize("kwargs, message", [
    ({"num_inducing_points": 0}, r"Expected num_inducing_points to be a positive integer\. "
                                 r"Received: num_inducing_points=0\."),
    ({"initial_length_scale": -1.0}, r"Received: initial_length_scale=-1\.0"),
    ({"initial_noise_scale": 0.0}, r"Expected initial_noise_scale > min_noise_scale"),
])
def test_gaussian_process_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GaussianProcess(**{"num_inducing_points": 4, "num_train_examples": 10, **kwargs})


def test_set_inducing_points_checks_the_shape():
    layer = GaussianProcess(4, num_train_examples=10)
    layer.build((None, 2))
    with pytest.raises(ValueError, match=r"shape \(4, 2\)\. Received: points with shape \(3, 2\)"):
        layer.set_inducing_points(np.zeros([3, 2]))


def _built(features: int, **kwargs) -> GaussianProcess:
    layer = GaussianProcess(kwargs.pop("num_inducing_points", 6), num_train_examples=100,
                            seed=0, **kwargs)
    inputs = keras.Input([features])
    keras.Model(inputs, layer(inputs))
    return layer


def test_adapt_starts_from_training_rows_and_their_median_distance(rng):
    """Inducing points are rows of the data; the length scale is the median row distance
    (about sqrt(2 * d) between independent standard normal rows), not the default 1 that
    leaves the kernel near zero between any two rows of many features."""
    x = rng.normal(size=[300, 50]).astype(np.float32)
    layer = _built(50)
    length = layer.adapt(x, seed=0)
    assert abs(length - np.sqrt(2 * 50)) < 1.0
    np.testing.assert_allclose(float(layer.kernel.length_scale), length, rtol=1e-5)
    points = layer.inducing_points.numpy()
    assert all(np.any(np.all(np.isclose(x, p), axis=1)) for p in points)
    assert len({tuple(p) for p in points}) == len(points)  # no repeats when rows suffice


def test_adapt_skips_missing_rows_and_names_bad_inputs(rng):
    layer = _built(3)
    x = rng.normal(size=[40, 3]).astype(np.float32)
    x[::2, 1] = np.nan
    layer.adapt(x, seed=1)
    assert np.all(np.isfinite(layer.inducing_points.numpy()))
    with pytest.raises(ValueError, match=r"Expected inputs of shape \[rows, 3\]\. "
                                         r"Received: inputs with shape \(40, 2\)\."):
        layer.adapt(np.zeros([40, 2]))
    with pytest.raises(ValueError, match="at least one finite input row"):
        layer.adapt(np.full([5, 3], np.nan))
    same = _built(3)
    assert same.adapt(np.ones([10, 3], np.float32)) == pytest.approx(1.0)  # kept: no spread


def test_the_linear_prior_mean_adds_to_the_gp_mean(rng):
    """mean(x) = c + w^T x + (the GP's whitened part); at the prior only c + w^T x is left."""
    layer = _built(2)
    layer.mean_constant.assign(0.5)
    layer.mean_weights.assign([2.0, -1.0])
    x = rng.normal(size=[7, 2]).astype(np.float32)
    np.testing.assert_allclose(layer(x).numpy()[:, 0], 0.5 + x @ np.array([2.0, -1.0]),
                               rtol=1e-5, atol=1e-5)
    constant = _built(2, linear_mean=False)
    assert constant.mean_weights is None
    assert not constant.get_config()["linear_mean"]
    np.testing.assert_allclose(constant(x).numpy()[:, 0], 0.0, atol=1e-6)
