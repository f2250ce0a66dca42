"""A periodic series is not gated: a value in the recent range but out of season alarms."""

import numpy as np
import pytest

from cuttingedge.trainers.anomaly import alarms
from cuttingedge.trainers.anomaly.detector import DetectorConfig, fit_detector

PERIOD, WINDOW = 24, 32
QUIET_DAY = 50  # its two peaks at half height: inside the recent range, out of season


@pytest.fixture(scope="module")
def series(daily):
    return daily(period=PERIOD, quiet_day=QUIET_DAY)


@pytest.fixture(scope="module")
def detectors(series, pointwise):
    common = dict(pointwise, window=WINDOW, train_fraction=0.3, validation_fraction=0.25)
    return {gated: fit_detector(series, DetectorConfig(gate_periodic=gated, **common))
            for gated in (False, True)}


def test_the_period_is_found_on_the_training_part(series, detectors):
    assert detectors[False].scales["series"].period == PERIOD
    assert detectors[True].scales["series"].period == 0  # gate_periodic: gated all the same
    assert alarms.seasonal_lag(series[:400], max_lag=PERIOD - 1) == 0  # the window must hold it


def test_series_without_a_period_have_none():
    rng = np.random.default_rng(0)
    assert alarms.seasonal_lag(rng.normal(size=2000), 100) == 0  # white noise
    assert alarms.seasonal_lag(np.cumsum(rng.normal(size=2000)), 100) == 0  # a drifting level
    spikes = np.zeros(2000)
    spikes[::12] = 5.0  # periodic, but spiky at the sampling step: a forecast cannot time it
    assert alarms.seasonal_lag(spikes + 0.1 * rng.normal(size=2000), 100) == 0
    assert alarms.seasonal_lag(np.ones(500), 100) == 0
    assert alarms.seasonal_lag(np.ones(5), 100) == 0


def test_the_quiet_day_alarms_only_where_the_periodic_series_is_not_gated(series, detectors):
    day = slice(QUIET_DAY * PERIOD, (QUIET_DAY + 1) * PERIOD)
    free, gated = (detectors[g].score(series) for g in (False, True))
    # The quiet day breaks the forecast, but the trailing z-score sees nothing unusual.
    assert free.gate_open is None and not gated.gate_open[day].any()
    assert free.is_anomaly[day].any() and not gated.is_anomaly[day].any()
    normal = np.ones(len(series), bool)
    normal[:detectors[False].scales["series"].train_rows] = False
    normal[QUIET_DAY * PERIOD:(QUIET_DAY + 2) * PERIOD] = False  # the day and the one after
    assert free.is_anomaly[normal].mean() <= 5e-3  # target 1e-3 per point, over ~1,000


def test_served_alarms_of_a_periodic_series_are_not_gated(series, detectors, served_alarms,
                                                          tmp_path):
    served = {gated: served_alarms(detector, series, WINDOW, tmp_path / f"gated{gated}")
              for gated, detector in detectors.items()}
    day = slice(QUIET_DAY * PERIOD - WINDOW, (QUIET_DAY + 1) * PERIOD - WINDOW)  # from WINDOW
    assert served[False][day].any() and not served[True][day].any()


def test_gate_periodic_must_be_a_boolean():
    with pytest.raises(ValueError, match="gate_periodic"):
        DetectorConfig(gate_periodic="yes")


def test_a_window_shorter_than_the_period_is_widened_to_hold_it(daily, pointwise):
    from cuttingedge.trainers.anomaly.detector import widen_to_period

    series = daily(period=PERIOD, quiet_day=QUIET_DAY)
    common = dict(pointwise, window=16, train_fraction=0.3, validation_fraction=0.25,
                  seasonal_window=True)
    widened = fit_detector(series, DetectorConfig(**common))
    assert widened.config.window == PERIOD  # the forecast now reads a whole day
    assert widened.scales["series"].period == PERIOD  # ... and the series is not gated
    assert widened.score(series).is_anomaly[QUIET_DAY * PERIOD:(QUIET_DAY + 1) * PERIOD].any()
    kept = fit_detector(series, DetectorConfig(**{**common, "seasonal_window": False}))
    assert kept.config.window == 16 and kept.scales["series"].period == 0
    # 120 training rows fit on 90: too few windows for a window of 24 (3 per value)
    assert widen_to_period(series[:300], DetectorConfig(**{**common, "train_fraction": 0.4})
                           ).window == 16
    noise = np.random.default_rng(0).normal(size=series.shape)
    assert widen_to_period(noise, DetectorConfig(**common)).window == 16


def test_widening_takes_the_longest_period_of_pooled_series_and_their_splits(daily):
    from cuttingedge.trainers.anomaly.detector import widen_to_period

    pooled = {"long": daily(period=48), "short": daily(period=24)}
    config = DetectorConfig(window=8, train_fraction=0.3, seasonal_window=True)
    assert widen_to_period(pooled, config).window == 48
    assert widen_to_period(pooled, DetectorConfig(window=8, train_fraction=0.3)).window == 8
    # the window is every series' window: 150 fitting rows afford at most 37 values
    assert widen_to_period(pooled, config, {"long": (150, 40), "short": (400, 40)}
                           ).window == 24
    assert widen_to_period(pooled, config, {"long": (60, 40), "short": (400, 40)}
                           ).window == 8
