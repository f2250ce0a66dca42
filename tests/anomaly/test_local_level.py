"""The local level model: its likelihood is TFP's, its fit recovers known scales, and it keeps
flagging a slow fault that a trailing z-score takes in as the new normal."""

import csv

import numpy as np
import pytest

from cuttingedge.trainers.anomaly import alarms
from cuttingedge.trainers.anomaly.baselines import (BaselineConfig, local_level_baseline,
                                                    zscore_baseline)
from cuttingedge.trainers.anomaly.cli import detect_file
from cuttingedge.trainers.anomaly.local_level import (LocalLevel, fit_local_level,
                                                      kalman_filter)


def _simulate(rows, noise, drift, seed=0):
    rng = np.random.default_rng(seed)
    level = np.cumsum(rng.normal(scale=drift, size=rows))
    return level + rng.normal(scale=noise, size=rows)


def test_the_filter_likelihood_is_the_tfp_state_space_model_log_prob():
    z = _simulate(300, noise=0.7, drift=0.2, seed=3)
    model = LocalLevel(noise_scale=0.7, drift_scale=0.2, mean=0.0, std=1.0, log_likelihood=0.0)
    ours = kalman_filter(z, 0.7, 0.2)[2]
    tfp_model = model.state_space_model(len(z), first_value=z[0])
    theirs = float(tfp_model.log_prob(z[:, None]).numpy())
    assert ours == pytest.approx(theirs, rel=1e-9)


@pytest.mark.parametrize("noise, drift", [(1.0, 0.0), (1.0, 0.3), (0.2, 1.0)])
def test_the_fit_recovers_the_scales_that_made_the_series(noise, drift):
    values = 50.0 + 4.0 * _simulate(3000, noise, drift, seed=1)
    model = fit_local_level(values, train_rows=3000)
    assert model.noise_scale * model.std == pytest.approx(4.0 * noise, rel=0.15)
    assert model.drift_scale * model.std == pytest.approx(4.0 * drift, rel=0.25, abs=0.05)


def test_a_slow_fault_keeps_alarming_where_the_z_score_adapts_and_recovery_is_quiet():
    # A level held with unit noise; a fault pulls it down 4 noise units over 100 points,
    # holds it there for 300, and then the level comes back (the fault is mended).
    rng = np.random.default_rng(7)
    values = 30.0 + rng.normal(size=2000)
    fault = np.concatenate([np.linspace(0.0, 4.0, 100), np.full(300, 4.0)])
    values[1200:1600] -= fault
    config = BaselineConfig(window=50, train_fraction=0.4, rearm=True)
    level = local_level_baseline(values, config)
    zscore = zscore_baseline(values, config)
    assert level.is_anomaly[1200:1600].any() and not level.is_anomaly[:1200].any()
    assert not level.is_anomaly[1600:].any()  # back to the held level: no recovery alarm
    assert not zscore.is_anomaly[1200:1600].any()  # the window took the fault in
    # The level forecast stays above the faulted values: the fault stays surprising.
    assert (level.mean[1300:1600] - values[1300:1600]).mean() > 1.0
    # The stddev splits into noise (aleatoric) and what the filter does not know of the level.
    np.testing.assert_allclose(level.stddev ** 2, level.aleatoric ** 2 + level.epistemic ** 2)
    assert (level.epistemic < level.aleatoric).all()


def test_missing_values_are_skipped_by_the_filter_and_never_flagged():
    values = 10.0 + np.random.default_rng(2).normal(size=1000)
    values[700:705] = np.nan
    values[900] += 8.0
    from cuttingedge.trainers.anomaly.series import from_arrays

    series = from_arrays(values)
    out = local_level_baseline(series, BaselineConfig(train_fraction=0.5, smoothing=1))
    assert not out.is_anomaly[700:705].any() and out.is_anomaly[900]
    assert np.isfinite(out.mean).all() and np.isfinite(out.score).all()


def test_too_few_observed_training_values_get_a_clear_error():
    with pytest.raises(ValueError, match=r"at least 3 observed values.*Received 2 of 10"):
        fit_local_level(np.r_[1.0, 2.0, np.full(8, np.nan), np.ones(90)], train_rows=10)


def test_a_constant_training_part_fits_and_a_later_change_stands_out():
    values = np.r_[np.full(500, 3.0), 3.0 + np.random.default_rng(4).normal(size=500)]
    out = local_level_baseline(values, BaselineConfig(train_fraction=0.4, rearm=True))
    assert not out.is_anomaly[:500].any() and out.is_anomaly[500:].any()


def test_rearm_raises_one_alarm_per_episode():
    exceeds = np.zeros(100, bool)
    exceeds[10:60:3] = True  # one long episode of flags with short gaps
    exceeds[90] = True
    plain = alarms.suppress_repeats(exceeds, refractory=5)
    rearmed = alarms.suppress_repeats(exceeds, refractory=5, rearm=True)
    assert np.flatnonzero(rearmed).tolist() == [10, 90]
    assert plain.sum() > rearmed.sum()


def _write(path, values):
    rows = [f"2024-01-01 {i // 3600:02d}:{i % 3600 // 60:02d}:{i % 60:02d},{v:.4f}"
            for i, v in enumerate(values)]
    path.write_text("timestamp,value\n" + "\n".join(rows) + "\n")


def test_detect_with_the_local_level_model(tmp_path):
    rng = np.random.default_rng(5)
    values = 32.0 + 0.5 * rng.normal(size=1200)
    values[700:1000] -= np.linspace(0.0, 2.0, 300)
    path, out = tmp_path / "flow.csv", tmp_path / "scores.csv"
    _write(path, values)
    summary = detect_file(path, out, model="local_level", train_fraction=0.4,
                          report_dir=str(tmp_path / "report"))
    with open(out) as handle:
        written = list(csv.reader(handle))
    assert written[0] == ["timestamp", "value", "score", "is_anomaly"] and len(written) == 1201
    flags = np.array([int(r[3]) for r in written[1:]])
    assert flags[700:1000].any() and not flags[:700].any()
    assert "scored with local_level (trained on the first 480, no window, no gate)" \
        in summary.line()
    assert set(summary.report) == {"csv", "parquet", "windows", "plot"}
    with pytest.raises(ValueError, match=r"takes no window or epochs.*Leave window and epochs"):
        detect_file(path, out, model="local_level", window=50, epochs=3)
    short = tmp_path / "short.csv"
    _write(short, values[:12])
    with pytest.raises(ValueError, match=r"Series 'short.csv' \(12 rows, training part 1\): "
                                         r"Expected at least 3 observed values.*Raise the "
                                         r"training share"):
        detect_file(short, out, model="local_level")


def test_the_console_command_offers_the_local_level_model(tmp_path):
    import subprocess
    import sys

    from cuttingedge.pipelines import cli
    from cuttingedge.trainers.anomaly import cli as anomaly_cli

    assert cli.LOCAL_LEVEL == anomaly_cli.LOCAL_LEVEL
    path = tmp_path / "flow.csv"
    _write(path, 5.0 + np.random.default_rng(6).normal(size=600))
    run = lambda *args: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "cuttingedge.pipelines.cli", "detect", "--input", str(path),
         "--output", str(tmp_path / "out.csv"), "--model", "local_level", *args],
        capture_output=True, text=True, timeout=600)
    done = run()
    assert done.returncode == 0, done.stderr[-2000:]
    assert "600 rows scored with local_level" in done.stdout
    refused = run("--window", "20")
    assert refused.returncode == 2 and "takes no window" in refused.stderr
    assert "Traceback" not in refused.stderr
