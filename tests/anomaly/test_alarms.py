"""Score, threshold and post-processing against closed forms."""

import numpy as np
import pytest
from scipy import stats

from cuttingedge.trainers.anomaly import alarms


def test_tail_surprise_is_minus_log_of_the_two_sided_tail():
    u = np.array([0.0, 1.0, 3.0, 40.0])
    expected = -np.log(2 * stats.norm.sf(u[:3]))
    got = alarms.tail_surprise(u, np.zeros(4), np.ones(4))
    np.testing.assert_allclose(got[:3], expected, rtol=1e-9)
    assert np.isfinite(got[3]) and got[3] > 800  # far tail: ~u**2 / 2, no overflow


def test_threshold_of_calibrated_scores_is_minus_log_rate():
    scores = np.random.default_rng(0).exponential(size=20000)
    for rate in (1e-2, 1e-3, 1e-4):
        assert alarms.calibrate_threshold(scores, rate) == pytest.approx(-np.log(rate), abs=0.3)


def test_threshold_never_goes_below_the_floor():
    assert alarms.calibrate_threshold(np.zeros(100), 1e-3) == pytest.approx(-np.log(1e-2))
    k = 4
    floor = stats.gamma.isf(1e-2, a=k, scale=1 / k)
    assert alarms.calibrate_threshold(np.zeros(100), 1e-3, k=k) == pytest.approx(floor)


def test_bad_rate_is_refused():
    with pytest.raises(ValueError, match=r"Expected a false-alarm rate in \(0, 1\)\. "
                                         r"Received: rate=0\."):
        alarms.calibrate_threshold([1.0], 0)


def test_refractory_keeps_the_first_alarm_of_a_burst():
    flags = np.zeros(30, bool)
    flags[[3, 4, 6, 12, 13, 25]] = True
    kept = alarms.suppress_repeats(flags, refractory=5)
    assert np.flatnonzero(kept).tolist() == [3, 12, 25]


def test_smoothing_is_a_causal_mean():
    np.testing.assert_allclose(alarms.smooth([4.0, 0.0, 2.0, 6.0], 3), [4.0, 2.0, 2.0, 8 / 3])


def test_adaptive_threshold_rises_with_a_noisier_tail_and_never_falls():
    rng = np.random.default_rng(0)
    scores = np.concatenate([rng.exponential(size=2000), 2.0 * rng.exponential(size=4000)])
    bar = alarms.adaptive_thresholds(scores, 2000, initial=-np.log(1e-3), rate=1e-3)
    assert np.all(bar >= -np.log(1e-3)) and np.all(np.diff(bar[2000:]) > -1.0)
    assert bar[-1] == pytest.approx(2 * -np.log(1e-3), rel=0.2)
