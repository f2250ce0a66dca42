"""Event-level metrics and the NAB standard score on hand-made cases, in closed form."""

import json
import math

import numpy as np
import pytest

from cuttingedge.trainers.anomaly import evaluate


def sigma(x):
    """NAB's scaled sigmoid, written out: 2 / (1 + e^(5x)) - 1, -1 from x = 3 on."""
    return -1.0 if x >= 3 else 2.0 / (1.0 + math.exp(5.0 * x)) - 1.0


def flags_at(rows, length):
    flags = np.zeros(length, bool)
    flags[list(rows)] = True
    return flags


def test_event_counts_windows_runs_and_probation():
    windows = [(10, 12), (40, 50), (70, 80)]  # the first lies in the probation (rows 0-14)
    flags = flags_at([5, 11, 20, 21, 23, 45, 46, 60], 100)
    counts = evaluate.event_counts(flags, windows)
    assert counts == evaluate.EventCounts(true_positives=1, false_negatives=1,
                                          false_positives=3)  # runs 20-21, 23, 60
    assert counts.precision == pytest.approx(1 / 4) and counts.recall == pytest.approx(1 / 2)
    assert counts.f1 == pytest.approx(2 * (1 / 4) * (1 / 2) / (1 / 4 + 1 / 2))


def test_a_run_entering_a_window_is_one_false_positive_and_a_detection():
    counts = evaluate.event_counts(flags_at([38, 39, 40], 100), [(40, 50)])
    assert counts == evaluate.EventCounts(1, 0, 1)


N, WINDOWS = 10000, [(2000, 2099), (5000, 5199)]  # NAB probation: min(1500, 750) = 750 rows


def test_nab_null_detector_scores_zero_and_the_perfect_raw_score_one_hundred():
    null = evaluate.nab_score(np.zeros(N, bool), WINDOWS)
    assert (null.raw, null.null, null.perfect, null.normalized) == (-2.0, -2.0, 2.0, 0.0)
    assert evaluate.NabResult(raw=2.0, null=-2.0, perfect=2.0).normalized == 100.0


def test_nab_detection_at_each_window_start_is_the_perfect_score():
    # Position -(r - l + 1) / (r - l + 1) = -1 at the first row: A_TP * sigma(-1) / sigma(-1).
    result = evaluate.nab_score(flags_at([2000, 5000], N), WINDOWS)
    assert result.raw == pytest.approx(2.0) and result.normalized == pytest.approx(100.0)
    late = evaluate.nab_score(flags_at([2099, 5000], N), WINDOWS)  # last row: -1/100
    assert late.raw == pytest.approx(sigma(-1 / 100) / sigma(-1) + 1.0)


def test_nab_only_the_first_detection_in_a_window_counts():
    early = evaluate.nab_score(flags_at([2050], N), WINDOWS).raw
    both = evaluate.nab_score(flags_at([2050, 2051, 2098], N), WINDOWS).raw
    assert both == early == pytest.approx(sigma(-50 / 100) / sigma(-1) - 1)


def test_nab_false_positive_weights():
    # Probation (ignored), before any window (-0.11), 50 rows after window 1 (0.11 * sigma).
    raw = evaluate.nab_score(flags_at([100, 1000, 2149], N), WINDOWS).raw
    assert raw == pytest.approx(-2.0 - 0.11 + 0.11 * sigma(50 / 99))
    far = evaluate.nab_score(flags_at([2099 + 99 * 4], N), WINDOWS).raw
    assert far == pytest.approx(-2.0 - 0.11)


def test_windows_from_nab_labels_map_to_rows(tmp_path):
    labels = tmp_path / "windows.json"
    labels.write_text(json.dumps({"realKnownCause/x.csv": [
        ["2024-01-01 00:10:00.000000", "2024-01-01 00:20:00.000000"]]}))
    times = np.arange(np.datetime64("2024-01-01T00:00"), np.datetime64("2024-01-01T00:40"),
                      np.timedelta64(5, "m")).astype("datetime64[ns]")
    windows = evaluate.load_windows(labels, "x.csv")
    assert evaluate.window_indices(times, windows) == [(2, 4)]
    with pytest.raises(KeyError, match=r"No windows for 'y\.csv'"):
        evaluate.load_windows(labels, "y.csv")
