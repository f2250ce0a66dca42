"""The z-score and STS baselines score every point and flag an obvious spike."""

import numpy as np

from cuttingedge.trainers.anomaly.baselines import BaselineConfig, sts_baseline, zscore_baseline



def test_zscore_flags_the_spike_only(sine):
    values = sine(1500, noise=0.3)
    values[1200] += 5.0
    out = zscore_baseline(values, BaselineConfig(window=50, smoothing=1,
                                                 refractory_fraction=0.0))
    assert out.is_anomaly[1200] and out.is_anomaly.sum() <= 3
    assert out.score.shape == (1500,)


def test_sts_scores_every_point_of_a_block_averaged_series(sine):
    values = sine(400, noise=0.05)
    values[350] += 3.0
    stamps = np.arange(np.datetime64("2024-01-01T00:00"), np.datetime64("2024-01-01T00:00")
                       + np.timedelta64(400 * 5, "m"), np.timedelta64(5, "m"))
    from cuttingedge.trainers.anomaly.series import from_arrays

    series = from_arrays(values, stamps.astype(str))
    out = sts_baseline(series, BaselineConfig(max_points=200, warmup_steps=5, samples=10,
                                              train_fraction=0.5, refractory_fraction=0.0))
    assert out.score.shape == (400,) and np.isfinite(out.mean).all()
    assert out.is_anomaly[350:352].any()


def test_zscore_threshold_adapts_only_when_asked(sine):
    values = sine(1500, noise=0.3)
    values[600:] += np.random.default_rng(1).standard_t(2, 900) * 0.5  # heavier tail later
    adaptive = zscore_baseline(values, BaselineConfig(window=50))
    fixed = zscore_baseline(values, BaselineConfig(window=50, adaptive=False))
    np.testing.assert_array_equal(fixed.bar, fixed.threshold)
    assert adaptive.threshold == fixed.threshold  # the same calibration on the first 15%
    assert adaptive.bar.max() > adaptive.threshold  # raised by the heavier tail
    assert fixed.is_anomaly.sum() > adaptive.is_anomaly.sum()
