"""`ungate_gaussian`: a series whose forecasts leave Gaussian errors is not gated, so a change
of shape that stays inside the recent range alarms (a series that jumps unforeseeably stays
gated: test_alarm_gate)."""

import numpy as np
import pytest

from cuttingedge.trainers.anomaly.detector import (GAUSSIAN_RESIDUALS, DetectorConfig,
                                                    fit_detector)

WINDOW = 32
BENT = slice(1500, 1540)  # the wave runs backwards here: every value inside its usual range


def wave(length: int = 2000, seed: int = 0) -> np.ndarray:
    """A wave of period 150 (longer than the window: no period lifts the gate) with 2% noise,
    played backwards for 40 points at BENT."""
    rng = np.random.default_rng(seed)
    phase = np.arange(length) * 2 * np.pi / 150
    phase[BENT] = phase[BENT.start] - (phase[BENT] - phase[BENT.start])
    return np.sin(phase) + 0.02 * rng.normal(size=length)


@pytest.fixture(scope="module")
def series():
    return wave()


@pytest.fixture(scope="module")
def detectors(series, pointwise):
    common = dict(pointwise, window=WINDOW, train_fraction=0.5, validation_fraction=0.5)
    return {gated: fit_detector(series, DetectorConfig(ungate_gaussian=not gated, **common))
            for gated in (False, True)}


def test_gaussian_forecast_residuals_lift_the_gate(detectors):
    free, gated = (detectors[g].scales["series"] for g in (False, True))
    assert free.period == 0 and free.residual_kurtosis <= GAUSSIAN_RESIDUALS
    assert free.gate_lifted == 1
    assert gated.gate_lifted == 0  # the default: gated all the same
    assert gated.residual_kurtosis <= GAUSSIAN_RESIDUALS  # measured either way


def test_a_change_of_shape_inside_the_range_alarms_only_where_not_gated(series, detectors):
    free, gated = (detectors[g].score(series) for g in (False, True))
    assert series[BENT].min() > series[:1500].min() and series[BENT].max() < series[:1500].max()
    assert free.gate_open is None and free.is_anomaly[BENT].any()
    assert not gated.is_anomaly[BENT].any()  # the trailing range sees nothing unusual
    normal = np.ones(len(series), bool)
    normal[:detectors[False].scales["series"].train_rows] = False
    normal[BENT.start:BENT.stop + WINDOW] = False
    assert free.is_anomaly[normal].mean() <= 5e-3  # target 1e-3 per point, over ~900


def test_served_alarms_of_a_lifted_series_are_not_gated(series, detectors, served_alarms,
                                                        tmp_path):
    served = {gated: served_alarms(detector, series, WINDOW, tmp_path / f"gated{gated}")
              for gated, detector in detectors.items()}
    bent = slice(BENT.start - WINDOW, BENT.stop - WINDOW)  # served rows start at WINDOW
    assert served[False][bent].any() and not served[True][bent].any()


def test_detect_says_why_a_series_is_not_gated(series, tmp_path):
    from cuttingedge.trainers.anomaly.cli import detect_file

    path = tmp_path / "wave.csv"
    path.write_text("timestamp,value\n" + "".join(
        f"2024-01-{1 + i // 1440:02d} {i % 1440 // 60:02d}:{i % 60:02d}:00,{v:.5f}\n"
        for i, v in enumerate(series)))
    common = dict(window=WINDOW, epochs=15, train_fraction=0.5, validation_fraction=0.5,
                  hidden_units=(16,), learning_rate=1e-2)
    free = detect_file(path, tmp_path / "free.csv", ungate_gaussian=True, **common)  # auto
    gated = detect_file(path, tmp_path / "gated.csv", model="learned_scale", **common)
    assert "its forecasts leave Gaussian residuals (excess kurtosis" in free.line()
    assert "not gated by the trailing z-score" in free.line()
    assert "Gaussian" not in gated.line()


def test_ungate_gaussian_must_be_a_boolean():
    with pytest.raises(ValueError, match="ungate_gaussian"):
        DetectorConfig(ungate_gaussian="yes")
