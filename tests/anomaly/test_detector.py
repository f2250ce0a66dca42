"""The detector flags an injected spike and (almost) nothing else; edge cases of its input."""

import numpy as np
import pytest

from cuttingedge.trainers.anomaly.detector import DetectorConfig, fit_detector
from cuttingedge.trainers.anomaly.series import SeriesTooShortError, from_arrays



def test_the_spike_is_flagged_and_the_normal_points_are_not(fitted, spiky, spike_at):
    scored = fitted.score(spiky)
    assert scored.is_anomaly[spike_at]
    after_training = np.arange(len(spiky)) >= fitted.scales["series"].train_rows
    normal = after_training & (np.abs(np.arange(len(spiky)) - spike_at) > 16)
    # Target 1e-3 per point over ~800 normal points: a handful at most.
    assert scored.exceeds[normal].mean() <= 5e-3
    # ~840 normal points at 1e-3: about one false alarm expected.
    assert scored.is_anomaly[normal].sum() <= 2


def test_uncertainty_parts_add_up(fitted, spiky, spike_at):
    scored = fitted.score(spiky)
    np.testing.assert_allclose(scored.stddev ** 2, scored.aleatoric ** 2 + scored.epistemic ** 2,
                               rtol=1e-5)
    assert np.all(scored.stddev > 0)


def test_warmup_and_missing_points_never_alarm(fitted, spiky, spike_at):
    values = spiky.copy()
    values[spike_at] = np.nan  # the spike is now a missing value
    values[3] += 5.0
    scored = fitted.score(from_arrays(values))
    assert not scored.scored[:16].any() and scored.scored[16:].all()
    assert np.isfinite(scored.score).all()
    assert not scored.is_anomaly[3] and not scored.is_anomaly[spike_at]


def test_constant_series_has_a_floored_scale_and_flags_a_change():
    values = np.full(400, 5.0)
    values[300] = 5.5
    # The changed value stays in the next 8 windows: the refractory period covers them.
    config = DetectorConfig(window=8, hidden_units=(4,), train_fraction=0.5, epochs=3,
                            refractory=8, refractory_fraction=0.0)
    detector = fit_detector(values, config)
    assert detector.scales["series"].std == pytest.approx(5e-3)  # 1e-3 * |mean|
    scored = detector.score(values)
    assert np.isfinite(scored.score).all() and scored.is_anomaly[300]
    assert scored.is_anomaly.sum() <= 2


def test_a_series_too_short_for_the_training_part_names_the_minimum(sine):
    with pytest.raises(SeriesTooShortError, match=r"Series 'series' has 100 rows; with "
                                                  r"window=32, horizon=1 and train_fraction="
                                                  r"0\.15 at least 434 rows are needed"):
        fit_detector(sine(100), DetectorConfig(window=32))
    with pytest.raises(SeriesTooShortError, match=r"has 20 rows; at least window \+ 1 = 33"):
        fit_detector(sine(20), DetectorConfig(window=32))


@pytest.mark.parametrize("field, value, message", [
    ("step", "magic", r"Unknown ladder step 'magic'\. Expected one of \['fixed_scale'"),
    ("window", 0, r"Expected window to be a positive integer\. Received: window=0\."),
    ("train_fraction", 1.5, r"Expected train_fraction in \(0, 1\)\. Received: "
                            r"train_fraction=1\.5\."),
    ("refractory", -1, r"Expected refractory to be an integer >= 0 \(points\)\. Received: "
                       r"refractory=-1\."),
])
def test_config_errors_say_what_was_received(field, value, message):
    with pytest.raises(ValueError, match=message):
        DetectorConfig(**{field: value})


def test_pooled_series_get_their_own_scales(sine):
    a, b = sine(600), 100.0 + 10.0 * sine(600, seed=1)
    config = DetectorConfig(window=8, hidden_units=(8,), train_fraction=0.5, epochs=2)
    detector = fit_detector({"a": a, "b": b}, config)
    assert detector.scales["b"].mean == pytest.approx(b[:300].mean())
    assert detector.score(b, "b").mean.shape == (600,)
    with pytest.raises(KeyError, match=r"Unknown series 'c'\. This detector was fitted on "
                                       r"\['a', 'b'\]\."):
        detector.score(a, "c")


def test_a_series_added_to_a_fitted_detector_is_calibrated_on_its_own_first_rows(fitted, sine,
                                                                                   spike_at):
    # another machine of the same kind: other level and spread, the same dynamics
    other = 50.0 + 4.0 * sine(seed=3)
    other[spike_at] += 4.0 * 1.0
    added = fitted.add_series(other, "other", train_rows=300)
    assert set(added.scales) == {"series", "other"} and set(fitted.scales) == {"series"}
    scale = added.scales["other"]
    assert scale.mean == pytest.approx(other[:300].mean())
    assert scale.train_rows == 300 and scale.validation_rows == 300 - 16
    assert np.isfinite(scale.threshold) and scale.threshold > 0
    # the model is shared, not refitted
    assert added.model is fitted.model
    scored = added.score(other, "other")
    assert scored.is_anomaly[spike_at]
    normal = (np.arange(len(other)) >= 300) & (np.abs(np.arange(len(other)) - spike_at) > 16)
    assert scored.is_anomaly[normal].sum() <= 2
    with pytest.raises(SeriesTooShortError, match=r"more than window \+ horizon - 1 = 16"):
        fitted.add_series(other, "short", train_rows=16)
    with pytest.raises(SeriesTooShortError, match="at most the series' length"):
        fitted.add_series(other[:100], "tiny", train_rows=300)


def test_window_frame_standardises_each_window_with_a_floor():
    from cuttingedge.trainers.anomaly.detector import model_inputs, window_frame

    config = DetectorConfig(window=3, window_floor=0.1)
    anchor, spread = window_frame(np.array([[1.0, 2.0, 3.0], [4.0, 4.0, 4.0]]), config)
    np.testing.assert_allclose(anchor, [2.0, 4.0])
    np.testing.assert_allclose(spread, [np.sqrt(2.0 / 3.0), 0.1])
    z = np.arange(10.0) ** 1.5
    x, y, anchor, spread = model_inputs(z, config)
    window = z[5:8]  # the window before point 8
    np.testing.assert_allclose(x[8], (window - window.mean()) / window.std(), rtol=1e-5)
    np.testing.assert_allclose(y[8], (z[8] - window.mean()) / window.std(), rtol=1e-5)
    old = DetectorConfig(window=3, window_standardise=False)
    np.testing.assert_allclose(window_frame(np.ones([1, 3]) * 7.0, old)[1], [1.0])


@pytest.mark.parametrize("step", ["learned_scale", "bayesian_learned_scale", "fixed_scale",
                                  "deterministic"])
def test_nested_model_starts_at_the_trailing_zscore(step):
    """An unfitted nested model forecasts Normal(0, 1): exactly the trailing z-score."""
    import pandas as pd

    from cuttingedge.trainers.anomaly.detector import (Detector, SeriesScale,
                                                      build_forecaster, prepare)

    values = np.random.default_rng(0).normal(size=600).cumsum()
    config = DetectorConfig(step=step, window=20, train_fraction=0.5, samples=5)
    data = prepare(values, config)
    model = build_forecaster(config, data)
    mean, std = data.stats["series"][:2]
    detector = Detector(config, model, {"series": SeriesScale(mean, std, 1.0, 1.0, 300, 150,
                                                             0.0)}, {})
    moments = detector.forecast(values)
    trailing = pd.Series(values).shift(1).rolling(20)
    rows = slice(20, None)
    z_mean, z_std = trailing.mean().to_numpy()[rows], trailing.std(ddof=0).to_numpy()[rows]
    # Bayesian steps sample their weights around the z-score (posterior scale 0.01).
    tolerance = 0.3 if step.startswith("bayesian") else 2e-3
    np.testing.assert_allclose((moments.mean[rows] - z_mean) / z_std, 0.0, atol=tolerance)
    np.testing.assert_allclose(moments.stddev[rows] / z_std, 1.0, atol=tolerance)


def test_calibration_on_held_out_rows_or_the_whole_training_part(sine):
    values = sine(800)
    common = dict(window=8, hidden_units=(8,), train_fraction=0.5, epochs=2,
                  step="learned_scale")
    held_out = fit_detector(values, DetectorConfig(**common)).scales["series"]
    training = fit_detector(values, DetectorConfig(calibration="training", **common))
    assert np.isfinite(held_out.threshold) and np.isfinite(training.scales["series"].threshold)
    with pytest.raises(ValueError, match=r"Expected calibration in \['training', 'held_out'\]\. "
                                         r"Received: calibration='all'\."):
        DetectorConfig(calibration="all")


def test_start_names_its_choices_and_walk_centres_the_windows():
    with pytest.raises(ValueError, match=r"Expected start in \['zscore', 'walk', 'best'\]\. "
                                         r"Received: start='ar'\."):
        DetectorConfig(start="ar")
    walk = DetectorConfig(start="walk")
    assert (walk.window_standardise, walk.relative) == (False, True)
    assert DetectorConfig().window_standardise and DetectorConfig(start="best").window_standardise


def test_walk_start_is_the_random_walk_before_fitting():
    """Unfitted, a walk-started model forecasts Normal(last value, RMS one-step change)."""
    from cuttingedge.trainers.anomaly.detector import (Detector, SeriesScale,
                                                      build_forecaster, prepare)

    values = np.random.default_rng(0).normal(size=600).cumsum()
    config = DetectorConfig(step="learned_scale", window=20, train_fraction=0.5, start="walk")
    data = prepare(values, config)
    mean, std = data.stats["series"][:2]
    detector = Detector(config, build_forecaster(config, data),
                        {"series": SeriesScale(mean, std, 1.0, 1.0, 300, 150, 0.0)}, {})
    moments = detector.forecast(values)
    rows = slice(20, None)
    steps = np.diff(values[:150])[19:]  # the fitting rows' targets: rows 20-149, centred
    np.testing.assert_allclose(moments.mean[rows], values[19:-1], atol=1e-4)
    np.testing.assert_allclose(moments.stddev[rows], np.sqrt(np.mean(steps ** 2)), rtol=1e-3)


def test_best_start_keeps_the_forecast_with_the_better_held_out_likelihood():
    """A random walk is forecast from its last value; white noise from its window's mean."""
    rng = np.random.default_rng(3)
    common = dict(step="learned_scale", window=20, hidden_units=(8,), train_fraction=0.5,
                  epochs=3, start="best")
    walk = fit_detector(rng.normal(size=800).cumsum(), DetectorConfig(**common))
    noise = fit_detector(rng.normal(size=800), DetectorConfig(**common))
    assert walk.history["start"] == "walk" and not walk.config.window_standardise
    assert noise.history["start"] == "zscore" and noise.config.window_standardise
    for fitted in (walk, noise):
        nll = fitted.history["start_val_nll"]
        assert set(nll) == {"zscore", "walk"}
        assert nll[fitted.history["start"]] == min(nll.values())
    scored = walk.score(rng.normal(size=800).cumsum())
    assert np.isfinite(scored.score[20:]).all()


def test_gaussian_process_step_learns_the_series_dynamics(sine):
    """The GP step must forecast a predictable series far better than the trailing z-score
    it starts near, not stay at its prior (a constant mean and stddev in window units)."""
    from cuttingedge.trainers.anomaly import alarms, baselines

    values = sine(1200)
    config = DetectorConfig(step="gaussian_process", window=20, train_fraction=0.5, epochs=8)
    detector = fit_detector(values, config)
    moments = detector.forecast(values)
    zscore = baselines.zscore_baseline(values, baselines.BaselineConfig(window=20))
    rows = slice(600, None)  # after the training part
    nll = alarms.normal_nll(values[rows], moments.mean[rows], moments.stddev[rows]).mean()
    z_nll = alarms.normal_nll(values[rows], zscore.mean[rows], zscore.stddev[rows]).mean()
    assert nll < z_nll - 1.0, (nll, z_nll)
