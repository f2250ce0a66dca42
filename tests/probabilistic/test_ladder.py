"""The ladder: each step builds, learns what it should, saves, and is tunable."""

import functools

import keras
import keras_tuner
import numpy as np
import pytest

from cuttingedge.trainers.probabilistic import ladder, losses, predictive
from cuttingedge.trainers.probabilistic.layers import DenseVariational

LOSS_OF_STEP = {"fixed_scale": losses.NegativeLogLikelihood,
                "learned_scale": losses.NegativeLogLikelihood,
                "bayesian": losses.NegativeLogLikelihood,
                "bayesian_learned_scale": losses.NegativeLogLikelihood,
                "gaussian_process": losses.ExpectedNegativeLogLikelihood,
                "deterministic": losses.SquaredErrorWithScale}


def test_the_ladder_has_six_steps():
    assert ladder.LADDER == tuple(LOSS_OF_STEP)
    assert [step.value for step in ladder.LadderStep] == list(ladder.LADDER)


@pytest.mark.parametrize("step", ladder.LADDER)
def test_every_step_builds_a_compiled_keras3_model(step):
    model = ladder.build_model(step, window=3, hidden_units=(4,), num_train_examples=10)
    assert isinstance(model, keras.Model) and type(model).__module__.startswith("keras.")
    assert isinstance(model.loss, LOSS_OF_STEP[step])
    params = model(np.zeros([5, 3], np.float32)).numpy()
    assert params.shape == (5, 3 if step == "gaussian_process" else 2)
    assert np.all(params[:, 1] > 0)


@pytest.mark.parametrize("step", ["bayesian", "bayesian_learned_scale", "gaussian_process"])
def test_kl_terms_are_layer_losses(step):
    model = ladder.build_model(step, window=2, hidden_units=(4, 4), num_train_examples=10)
    model(np.ones([3, 2], np.float32))
    expected = 1 if step == "gaussian_process" else 3  # one per variational layer
    assert len(model.losses) == expected
    assert all(float(loss) > 0 for loss in model.losses) or step == "gaussian_process"


@pytest.mark.parametrize("step", ["fixed_scale", "learned_scale", "deterministic"])
def test_non_bayesian_steps_have_no_layer_losses(step):
    model = ladder.build_model(step, window=2)
    model(np.ones([3, 2], np.float32))
    assert model.losses == []


def test_unknown_step_lists_the_choices():
    with pytest.raises(ValueError, match=r"Unknown ladder step 'bayes'\. Expected one of "
                                         r"\['fixed_scale', 'learned_scale', 'bayesian', "):
        ladder.build_model("bayes", window=3)


@pytest.mark.parametrize("window", [0, -2, 2.5, "4", True])
def test_bad_window_says_what_was_received(window):
    with pytest.raises(ValueError, match=rf"Expected window to be a positive integer\. "
                                         rf"Received: window={window!r}\."):
        ladder.build_model("fixed_scale", window=window)


@pytest.mark.parametrize("units", [(0,), (8, -1), (4.5,)])
def test_bad_units_say_what_was_received(units):
    with pytest.raises(ValueError, match=r"Expected every hidden layer size to be a positive "
                                         r"integer\. Received: hidden_units="):
        ladder.build_model("learned_scale", window=3, hidden_units=units)


@pytest.mark.parametrize("units", [32, "32"])
def test_a_single_size_is_not_taken_for_hidden_units(units):
    with pytest.raises(ValueError, match=rf"one per hidden layer, e\.g\. \(32,\)\. "
                                         rf"Received: hidden_units={units!r}\."):
        ladder.build_model("fixed_scale", window=3, hidden_units=units)


def test_numpy_sizes_are_accepted():
    model = ladder.build_model("learned_scale", window=np.int64(3), hidden_units=np.array([4]))
    assert model.input_shape == (None, 3)


def test_bayesian_steps_need_the_training_set_size():
    with pytest.raises(ValueError, match=r"Step 'bayesian' scales its KL term by the training "
                                         r"set size: pass num_train_examples"):
        ladder.build_model("bayesian", window=3)


def test_fixed_scale_model_recovers_a_linear_trend(rng, fit_steps):
    t = np.arange(260, dtype=np.float64)
    series = (0.5 + 0.02 * t + 0.02 * rng.normal(size=t.size)).astype(np.float32)
    x = np.stack([series[i:i + 4] for i in range(256)])
    y = series[4:260]
    model = ladder.build_model("fixed_scale", window=4, hidden_units=(), learning_rate=0.1,
                               fixed_scale=0.05)
    fit_steps(model, x[:200], y[:200], steps=250)
    summary = predictive.predict_distribution(model, x[200:])
    trend = 0.5 + 0.02 * t[204:260]
    assert np.mean(np.abs(summary.mean - trend)) < 0.05  # the trend, ahead of the training data
    np.testing.assert_array_equal(summary.stddev, np.float32(0.05))


@pytest.mark.slow
def test_learned_scale_model_recovers_heteroskedastic_noise(rng, fit_steps):
    x = rng.uniform(-1, 1, [512, 1]).astype(np.float32)
    noise = np.where(x[:, 0] > 0, 0.5, 0.05)
    y = (np.sin(2 * x[:, 0]) + noise * rng.normal(size=512)).astype(np.float32)
    model = ladder.build_model("learned_scale", window=1, hidden_units=(16,),
                               learning_rate=0.02)
    fit_steps(model, x, y, steps=300)
    quiet = predictive.predict_distribution(model, np.linspace(-0.9, -0.1, 9)[:, None])
    noisy = predictive.predict_distribution(model, np.linspace(0.1, 0.9, 9)[:, None])
    assert noisy.stddev.mean() > 2 * quiet.stddev.mean()
    np.testing.assert_array_equal(noisy.epistemic_stddev, 0.0)


@pytest.mark.slow
def test_bayesian_epistemic_stddev_grows_outside_the_training_range(rng, fit_steps):
    x = rng.uniform(-1, 1, [256, 1]).astype(np.float32)
    y = (x[:, 0] + 0.1 * rng.normal(size=256)).astype(np.float32)
    model = ladder.build_model("bayesian", window=1, hidden_units=(16,), learning_rate=0.02,
                               num_train_examples=256, fixed_scale=0.1, seed=1)
    fit_steps(model, x, y, steps=300)
    inside = predictive.predict_distribution(model, np.linspace(-1, 1, 11)[:, None], 100)
    far = predictive.predict_distribution(model, np.array([[-6.0], [6.0], [9.0]]), 100)
    assert far.epistemic_stddev.min() > 2 * inside.epistemic_stddev.max()
    assert np.max(np.abs(inside.mean - np.linspace(-1, 1, 11))) < 0.2


def test_deterministic_model_scale_is_the_residual_rms(rng, fit_steps):
    x = rng.uniform(-1, 1, [256, 2]).astype(np.float32)
    y = (x.sum(axis=1) + 0.2 * rng.normal(size=256)).astype(np.float32)
    model = ladder.build_model("deterministic", window=2, hidden_units=(16,),
                               learning_rate=0.02)
    fit_steps(model, x, y, steps=300)
    loc = model(x).numpy()[:, 0]
    rms = np.sqrt(np.mean((y - loc) ** 2))
    learned = predictive.predict_distribution(model, x[:1]).stddev[0]
    assert abs(learned / rms - 1) < 0.1  # fitted by the scale's share of the loss
    assert ladder.calibrate_residual_scale(model, x, y) == pytest.approx(rms, rel=1e-5)
    np.testing.assert_allclose(predictive.predict_distribution(model, x[:3]).stddev, rms,
                               rtol=1e-4)


def test_calibrate_residual_scale_needs_the_deterministic_step():
    model = ladder.build_model("fixed_scale", window=1)
    with pytest.raises(ValueError, match=r"step 'deterministic'\. Received: model "
                                         r"'ladder_fixed_scale'"):
        ladder.calibrate_residual_scale(model, np.zeros([2, 1]), np.zeros(2))


@pytest.mark.parametrize("step", ladder.LADDER)
def test_model_save_and_load_round_trip(step, tmp_path, rng):
    model = ladder.build_model(step, window=3, hidden_units=(4,), num_train_examples=20,
                               seed=5)
    x = rng.normal(size=[6, 3]).astype(np.float32)
    model.optimizer.build(model.trainable_variables)  # saved as after training
    model.save(tmp_path / "m.keras")
    restored = keras.models.load_model(tmp_path / "m.keras")
    for want, got in zip(model.get_weights(), restored.get_weights()):
        np.testing.assert_array_equal(got, want)
    assert type(restored.loss) is type(model.loss)
    assert [layer.get_config() for layer in restored.layers] == [
        layer.get_config() for layer in model.layers]
    if predictive.is_stochastic(model):
        assert any(isinstance(layer, DenseVariational) for layer in restored.layers)
    else:
        np.testing.assert_allclose(restored(x).numpy(), model(x).numpy(), rtol=1e-6)
    assert restored.optimizer.get_config() == model.optimizer.get_config()


def test_hypermodel_builds_the_defaults_without_tuning():
    hp = keras_tuner.HyperParameters()
    model = ladder.build_hypermodel(hp, window=3, num_train_examples=10)
    assert model.name == "ladder_fixed_scale"
    assert hp.values == {"step": "fixed_scale", "units": 8, "layers": 1,
                         "learning_rate": pytest.approx(1e-3)}


@pytest.mark.slow
def test_keras_tuner_random_search_over_the_ladder(tmp_path, sine_windows):
    x, y = sine_windows(window=4, length=64)
    space = ladder.SearchSpace(steps=("bayesian_learned_scale", "gaussian_process",
                                      "deterministic"), max_units=16)
    tuner = keras_tuner.RandomSearch(
        functools.partial(ladder.build_hypermodel, window=4, num_train_examples=48,
                          space=space),
        objective=ladder.tuner_objective(), max_trials=2, seed=3, directory=tmp_path,
        project_name="ladder", overwrite=True)
    tuner.search(x[:48], y[:48], validation_data=(x[48:], y[48:]), epochs=1, batch_size=16,
                 verbose=0)
    trials = tuner.oracle.get_best_trials(num_trials=2)
    assert len(trials) == 2 and all(np.isfinite(t.score) for t in trials)
    best = tuner.hypermodel.build(trials[0].hyperparameters)
    assert best.name == f"ladder_{trials[0].hyperparameters.get('step')}"


def test_search_space_rejects_bad_ranges():
    with pytest.raises(ValueError, match=r"Expected min_units <= max_units\. Received: "
                                         r"min_units=64, max_units=8\."):
        ladder.SearchSpace(min_units=64, max_units=8)
    with pytest.raises(ValueError, match=r"Unknown ladder step 'mlp'"):
        ladder.SearchSpace(steps=("mlp",))
