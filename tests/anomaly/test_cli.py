"""detect_file: one output row per input row, in input order, whatever the rows hold."""

import csv

import numpy as np
import pytest

from cuttingedge.trainers.anomaly.cli import detect_file


def _write(path, rows):
    path.write_text("timestamp,value\n" + "\n".join(f"{t},{v}" for t, v in rows) + "\n")


@pytest.fixture(scope="module")
def odd_file(tmp_path_factory, sine):
    path = tmp_path_factory.mktemp("detect") / "series.csv"
    values = sine(500)
    values[450] += 2.0
    stamps = [f"2024-01-01 {i // 60:02d}:{i % 60:02d}:00" for i in range(500)]
    rows = [[t, f"{v:.5f}"] for t, v in zip(stamps, values)]
    rows[100][1] = ""             # missing value
    rows[200][0] = "not a time"   # unparseable timestamp
    rows[300][0] = rows[299][0]   # duplicate timestamp
    rows[400][0] = rows[350][0]   # backward timestamp
    _write(path, rows)
    return path, rows


def test_every_input_row_gets_one_output_row_in_input_order(odd_file, tmp_path):
    path, rows = odd_file
    out = tmp_path / "scores.csv"
    summary = detect_file(path, out, train_fraction=0.4, window=16, epochs=5,
                          refractory_fraction=0.0)
    with open(out) as handle:
        written = list(csv.reader(handle))
    assert written[0] == ["timestamp", "value", "score", "is_anomaly"]
    assert [r[0] for r in written[1:]] == [r[0] for r in rows]
    assert written[101][1] == "" and written[201][0] == "not a time"
    assert all(np.isfinite(float(r[2])) for r in written[1:])
    assert {r[3] for r in written[1:]} <= {"0", "1"} and written[451][3] == "1"
    assert summary.rows == 500 and summary.notes.bad_timestamps == 1
    # Row 300 repeats row 299; row 400 repeats row 350 and steps back.
    assert (summary.notes.duplicate_timestamps, summary.notes.backward_timestamps) == (2, 1)
    assert "500 rows scored with bayesian_learned_scale" in summary.line()  # the default


def test_extra_columns_and_report(odd_file, tmp_path):
    path, _ = odd_file
    summary = detect_file(path, tmp_path / "s.csv", train_fraction=0.4, window=16, epochs=2,
                          extra_columns=True, report_dir=str(tmp_path / "report"))
    header = (tmp_path / "s.csv").read_text().splitlines()[0].split(",")
    assert header[:4] == ["timestamp", "value", "score", "is_anomaly"]
    assert {"mean", "stddev", "aleatoric_stddev", "epistemic_stddev", "missing"} <= set(header)
    assert set(summary.report) == {"csv", "parquet", "windows", "plot"}


def _five_minutes(path, values):
    _write(path, [(f"2024-01-{1 + i // 288:02d} {i % 288 // 12:02d}:{i % 12 * 5:02d}:00",
                   f"{v:.5f}") for i, v in enumerate(values)])
    return path


def test_a_short_series_gets_the_longest_default_window_it_can_learn(sine, tmp_path):
    from cuttingedge.trainers.anomaly.series import SeriesTooShortError

    # 1,243 rows (NAB's shortest AWS series): 15% is 186 rows, too few for a window of 100.
    path = _five_minutes(tmp_path / "short.csv", sine(1243))
    out = tmp_path / "scores.csv"
    summary = detect_file(path, out, epochs=2)
    # 93 fitting rows: a window of 46 leaves 47 windows to fit, one per value and more
    assert summary.window == 46 and summary.train_rows == 186
    assert "window 46, shortened from 100" in summary.line()
    assert "too few to learn from" not in summary.line()
    assert len(out.read_text().splitlines()) == 1 + 1243
    with pytest.raises(SeriesTooShortError, match=r"at least 1340 rows are needed"):
        detect_file(path, tmp_path / "x.csv", window=100, epochs=1)  # asked for: not shortened


def test_a_tiny_series_gets_the_longest_window_that_fits_and_a_warning(sine, tmp_path):
    # 160 rows: 24 to train on, 12 to fit: no window of 8 or more leaves one per value
    summary = detect_file(_five_minutes(tmp_path / "tiny.csv", sine(160)),
                          tmp_path / "scores.csv", epochs=2)
    assert summary.window == 11
    assert "the forecaster fits on 1 window of 11 values: too few to learn from" \
        in summary.line()


def test_unknown_model_lists_the_steps(odd_file, tmp_path):
    path, _ = odd_file
    with pytest.raises(ValueError, match=r"Unknown ladder step 'lstm'\. Expected one of "):
        detect_file(path, tmp_path / "s.csv", model="lstm")


def _cli(*args, cwd=None):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "cuttingedge.pipelines.cli", *args],
                          capture_output=True, text=True, cwd=cwd, timeout=600)


def test_the_console_command_scores_a_file(odd_file, tmp_path):
    path, rows = odd_file
    out = tmp_path / "scores.csv"
    done = _cli("detect", "--input", str(path), "--output", str(out), "--train-fraction", "0.4",
                "--window", "16", "--epochs", "2", "--alarm-gate", "zscore", "--extra-columns")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "500 rows scored" in done.stdout and str(out) in done.stdout
    with open(out) as handle:
        header = next(handle).strip().split(",")
        assert sum(1 for _ in handle) == len(rows)
    assert header[:4] == ["timestamp", "value", "score", "is_anomaly"]
    assert "gate_open" in header  # the z-score gate was applied


def test_a_periodic_series_is_not_gated_unless_asked(daily, tmp_path):
    path = tmp_path / "daily.csv"
    _write(path, [(f"2024-01-{1 + i // 24:02d} {i % 24:02d}:00:00" if i < 31 * 24 else
                   f"2024-02-{1 + (i - 31 * 24) // 24:02d} {i % 24:02d}:00:00", f"{v:.5f}")
                  for i, v in enumerate(daily())])
    common = ("--input", str(path), "--train-fraction", "0.3", "--window", "32", "--epochs",
              "2", "--extra-columns")
    free = _cli("detect", *common, "--output", str(tmp_path / "free.csv"))
    gated = _cli("detect", *common, "--output", str(tmp_path / "gated.csv"), "--gate-periodic")
    assert free.returncode == 0 and gated.returncode == 0, free.stderr[-3000:]
    assert "the series repeats every 24 rows: not gated" in free.stdout
    assert "repeats" not in gated.stdout
    header = lambda name: (tmp_path / name).read_text().splitlines()[0].split(",")  # noqa
    assert "gate_open" not in header("free.csv") and "gate_open" in header("gated.csv")


@pytest.mark.parametrize("args, message", [
    (("detect", "--input", "/no/such.csv", "--output", "x.csv"), "does not exist"),
    (("detect", "--input", "x.csv", "--output", "y.csv", "--train-fraction", "1.5"),
     "must be in (0, 1)"),
    (("detect", "--input", "x.csv", "--output", "y.csv", "--model", "lstm"),
     "invalid choice: 'lstm'"),
    (("detect", "--input", "x.csv", "--output", "y.csv", "--alarm-gate", "iforest"),
     "invalid choice: 'iforest'"),
    (("run", "anomaly", "--input", "/no/such/*.csv"), "No input files match"),
    (("run", "anomaly", "--false-alarm-rate", "0"), "must be in (0, 1)"),
    (("run", "anomaly", "--model", "local_level", "--tune-trials", "2"), "no ladder to tune"),
])
def test_bad_arguments_get_one_line_errors(tmp_path, args, message):
    done = _cli(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr


def test_the_help_lists_every_ladder_step():
    from cuttingedge.pipelines.cli import _ladder_steps
    from cuttingedge.trainers.probabilistic import LADDER

    assert _ladder_steps() == list(LADDER)
    from cuttingedge.pipelines.cli import ALARM_GATES
    from cuttingedge.trainers.anomaly.detector import ALARM_GATES as DETECTOR_GATES

    assert ALARM_GATES == DETECTOR_GATES
    done = _cli("detect", "--help")
    assert done.returncode == 0 and "timestamp,value,score,is_anomaly" in done.stdout


def test_run_anomaly_passes_the_alarm_gate_to_the_component(tmp_path, monkeypatch):
    from cuttingedge.pipelines import cli, runner

    built = []
    monkeypatch.setattr(runner, "run_pipeline", built.append)  # build, do not run
    monkeypatch.setattr(cli, "_print_outputs", lambda *args: None)
    assert cli.main(["run", "anomaly", "--alarm-gate", "zscore", "--gate-periodic",
                     "--ungate-gaussian", "--output", str(tmp_path / "runs")]) == 0
    (pipeline,) = built
    detect = next(c for c in pipeline.components if c.id == "DetectAnomalies")
    assert detect.exec_properties["alarm_gate"] == "zscore"
    assert detect.exec_properties["gate_periodic"] is True
    assert detect.exec_properties["ungate_gaussian"] is True


def test_smoothing_sets_how_many_point_surprises_the_alarm_score_averages(odd_file, tmp_path):
    import pandas as pd

    from cuttingedge.pipelines.cli import main
    from cuttingedge.trainers.anomaly import alarms

    path, _ = odd_file
    out = tmp_path / "s.csv"
    assert main(["detect", "--input", str(path), "--output", str(out), "--train-fraction",
                 "0.4", "--window", "16", "--epochs", "2", "--smoothing", "12",
                 "--extra-columns"]) == 0
    scored = pd.read_csv(out)
    point = scored.point_score.to_numpy()
    rows = slice(20, None)  # past the first points, whose context differs
    np.testing.assert_allclose(scored.score.to_numpy()[rows], alarms.smooth(point, 12)[rows],
                               rtol=1e-5, atol=1e-6)
    assert not np.allclose(scored.score.to_numpy()[rows], alarms.smooth(point, 4)[rows])
    done = _cli("detect", "--input", str(path), "--output", "x.csv", "--smoothing", "0",
                cwd=tmp_path)
    assert done.returncode == 2 and "--smoothing" in done.stderr


def test_the_summary_warns_only_when_the_forecaster_has_few_windows_to_fit():
    from cuttingedge.trainers.anomaly.cli import few_windows_note
    from cuttingedge.trainers.anomaly.detector import DetectorConfig

    # 15% of 1,600 rows: 240 training rows, 120 to fit, 20 windows of 100 + 1
    assert "fits on 20 windows of 100 values" in few_windows_note(1600, DetectorConfig())
    # 15% of 3,000 rows: 450, 225 to fit, 125 windows: as many as the window's inputs or more
    assert few_windows_note(3000, DetectorConfig()) == ""
    assert few_windows_note(3000, DetectorConfig(window=16)) == ""


def test_the_default_window_is_widened_to_a_longer_period_and_an_explicit_one_kept(daily,
                                                                                 tmp_path):
    path = tmp_path / "five_minutes.csv"  # 120 values a "day", 30 days
    _write(path, [(f"2024-01-{1 + i // 1440:02d} {i % 1440 // 60:02d}:{i % 60:02d}:00",
                   f"{v:.5f}") for i, v in enumerate(daily(days=30, period=120, quiet_day=25))])
    summary = detect_file(path, tmp_path / "out.csv", train_fraction=0.5, epochs=2)
    assert summary.window == 120 and summary.period == 120
    assert "window 120, widened from 100 to hold the period" in summary.line()
    assert "repeats every 120 rows: not gated" in summary.line()
    asked = detect_file(path, tmp_path / "asked.csv", train_fraction=0.5, window=100, epochs=2)
    assert asked.window == 100 and "widened" not in asked.line()
