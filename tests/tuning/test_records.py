"""The trial table (CSV, JSON), status.json, TensorBoard HParams logs, reproducibility."""

import csv
import json
import os

import keras
import keras_tuner
import numpy as np
import pytest
from tensorboard.backend.event_processing import event_accumulator

from cuttingedge.trainers.tuning import SearchBudget, TrialRecord, TrialRecorder, load_trials
from cuttingedge.trainers.tuning import records as records_module


def test_csv_has_hyperparameters_metrics_param_counts_durations(failed_search, param_count):
    out = failed_search.result.out_dir
    rows = {r["trial_id"]: r for r in csv.DictReader((out / "trials.csv").open())}
    assert len(rows) == 4
    for trial_id, row in rows.items():
        filters = int(row["hp.filters"])
        assert float(row["duration_seconds"]) > 0
        assert int(row["seed"]) == 7 + int(trial_id)
        if row["status"] == "COMPLETED":
            assert int(row["param_count"]) == param_count(filters)
            assert float(row["metric.val_accuracy"]) == float(row["score"])
            for name in ("metric.accuracy", "metric.loss", "metric.val_loss"):
                assert float(row[name]) >= 0
            assert row["failure_reason"] == ""
        else:
            assert row["status"] == "FAILED" and row["param_count"] == ""
            assert row["failure_reason"]


def test_json_matches_the_result(failed_search):
    result = failed_search.result
    document = json.loads((result.out_dir / "trials.json").read_text())
    assert document["objective"] == {"name": "val_accuracy", "direction": "max"}
    assert document["algorithm"] == "random" and document["seed"] == 7
    assert document["trials"] == result.table() == load_trials(result.out_dir)


def test_status_has_history_best_and_budget(failed_search):
    result = failed_search.result
    status = json.loads((result.out_dir / "status.json").read_text())
    assert status["trials_done"] == 4
    assert status["trials_completed"] == 2 and status["trials_failed"] == 2
    assert [p["trial_id"] for p in status["history"]] == [r.trial_id for r in result.trials]
    completed = [r.score for r in result.trials if r.status == "COMPLETED"]
    assert status["best"]["score"] == max(completed) == result.best_score
    assert status["history"][-1]["best_so_far"] == max(completed)
    assert status["budget"] == {"max_trials": 4, "max_seconds": None, "max_dollars": None,
                                "dollars_per_hour": None}
    assert status["remaining"]["trials"] == 0
    assert status["stop_reason"] == "max_trials=4 reached: 4 trials done"


def test_recorded_seed_and_values_rebuild_the_trial_model(failed_search):
    hypermodel = failed_search.hypermodel
    for record in failed_search.result.trials:
        if record.status != "COMPLETED":
            continue
        original = hypermodel.initial_weights[record.hyperparameters["filters"]]
        hp = keras_tuner.HyperParameters()
        hp.values = dict(record.hyperparameters)
        keras.utils.set_random_seed(record.seed)
        rebuilt = hypermodel.build(hp).get_weights()
        for a, b in zip(rebuilt, original):
            np.testing.assert_array_equal(a, b)


def _plugin_tags(folder):
    accumulator = event_accumulator.EventAccumulator(str(folder))
    accumulator.Reload()
    return accumulator


def test_tensorboard_hparams_logs(failed_search):
    board = failed_search.result.out_dir / "tensorboard"
    top = _plugin_tags(board)
    assert "_hparams_/experiment" in top.PluginTagToContent("hparams")
    for record in failed_search.result.trials:
        run = _plugin_tags(board / f"trial_{record.trial_id}")
        assert "_hparams_/session_start_info" in run.PluginTagToContent("hparams")
        scalars = run.Tags()["tensors"]
        assert ("val_accuracy" in scalars) == (record.status == "COMPLETED")


def test_unknown_status_is_rejected():
    with pytest.raises(ValueError, match=r"Unknown trial status 'RUNNING' for trial '3'\. "
                                         r"Expected one of \['COMPLETED', 'FAILED', 'INVALID'\]\."):
        TrialRecord("3", "RUNNING", {}, {}, None, None, None, 0)


def _recorder(tmp_path):
    recorder = TrialRecorder(tmp_path, objective="val_loss", direction="min",
                             budget=SearchBudget(max_trials=3), algorithm="bayesian", seed=0)
    recorder.start()
    return recorder


def test_retried_trial_replaces_its_row_and_nan_becomes_null(tmp_path):
    recorder = _recorder(tmp_path)
    recorder.add(TrialRecord("0", "INVALID", {"u": 1}, {}, None, None, 0.1, 0, "OSError: disk"))
    recorder.add(TrialRecord("0", "COMPLETED", {"u": 1}, {"val_loss": float("nan")},
                             float("nan"), 10, 0.2, 0))
    rows = load_trials(tmp_path)
    assert len(rows) == 1 and rows[0]["status"] == "COMPLETED"
    assert rows[0]["score"] is None and rows[0]["metrics"] == {"val_loss": None}
    assert recorder.best() is None  # a NaN score never wins


def test_best_follows_the_direction(tmp_path):
    recorder = _recorder(tmp_path)
    for trial_id, loss in (("0", 0.5), ("1", 0.2), ("2", 0.9)):
        recorder.add(TrialRecord(trial_id, "COMPLETED", {}, {"val_loss": loss}, loss, 1, 1.0, 0))
    assert recorder.best().trial_id == "1"
    assert [p["best_so_far"] for p in recorder.history()] == [0.5, 0.2, 0.2]


def test_atomic_write_keeps_the_old_file_when_replace_fails(tmp_path, monkeypatch):
    target = tmp_path / "status.json"
    records_module.write_atomic(target, "old")

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        records_module.write_atomic(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]  # no temp file left
