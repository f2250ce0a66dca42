"""format_status: the text `cuttingedge tune status DIR` prints."""

import pytest

from cuttingedge.trainers.tuning import (SearchBudget, StatusNotFoundError, TrialRecord,
                                         TrialRecorder, format_status)


@pytest.fixture
def recorder(tmp_path):
    budget = SearchBudget(max_trials=10, max_dollars=1.0, dollars_per_hour=3.6)
    recorder = TrialRecorder(tmp_path, objective="val_accuracy", direction="max", budget=budget,
                             algorithm="hyperband", seed=3)
    recorder.start()
    recorder.add(TrialRecord("00", "COMPLETED", {"filters": 8, "lr": 0.01},
                             {"val_accuracy": 0.625}, 0.625, 1234, 12.5, 3))
    recorder.add(TrialRecord("01", "FAILED", {"filters": 64, "lr": 0.1}, {}, None, None, 0.4,
                             4, "FailedTrialError: Oversized model"))
    recorder.add(TrialRecord("02", "COMPLETED", {"filters": 16, "lr": 0.01},
                             {"val_accuracy": 0.75}, 0.75, 2466, 75.0, 5))
    return recorder


def test_format_status(recorder, monkeypatch):
    monkeypatch.setattr(recorder, "elapsed", lambda: 100.0)
    recorder.write_status()
    # 3 trials in 100 s: 7 left x 33.3 s = 233.3 s < $1 at $3.6/h = 1000 s - 100 s = 900 s.
    assert format_status(recorder.out_dir) == "\n".join([
        "Search:      running (hyperband, maximise val_accuracy)",
        "Trials done: 3 (2 completed, 1 failed)",
        "Best so far: 0.7500 (trial 02) filters=16 lr=0.01",
        "Elapsed:     1m 40s",
        "Left:        7 trials, $0.90  (estimated 3m 53s, $0.23; spent $0.10)",
        "Last trials:",
        "  trial  status       val_accuracy  duration    params  reason",
        "  00     COMPLETED          0.6250     12.5s      1234",
        "  01     FAILED                  -      0.4s         -  FailedTrialError: Oversized model",
        "  02     COMPLETED          0.7500    1m 15s      2466",
    ])


def test_format_status_shows_the_stop_reason_and_last_n(recorder):
    recorder.finish("max_seconds=60 reached: 60.2 s elapsed")
    text = format_status(recorder.out_dir, last=1)
    assert text.startswith("Search:      max_seconds=60 reached: 60.2 s elapsed (hyperband")
    assert text.splitlines()[-1].startswith("  02 ")
    assert len(text.splitlines()) == 8


def test_missing_status(tmp_path):
    with pytest.raises(StatusNotFoundError,
                       match=r"No status\.json in '.*'\. Expected the output folder of a search "
                             r"\(the out_dir of make_tuner, by default "
                             r"<directory>/<project_name>, written after every trial\)\. "
                             r"Received: out_dir="):
        format_status(tmp_path)
