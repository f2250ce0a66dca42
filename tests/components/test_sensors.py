import numpy as np
import pytest

from cuttingedge.components import deadletter
from cuttingedge.components.sensors import ingest


def _run(text, **kwargs):
    config = ingest.SensorIngestConfig(window=3, splits=(("train", 1.0),), **kwargs)
    out = {"ok": [], "rejected": [], "count": []}
    for kind, value in ingest.series_points("s.csv", text.encode(), config):
        out[kind].append(value)
    return out


def _values(example, name):
    feature = example.features.feature[name]
    return list(getattr(feature, feature.WhichOneof("kind")).value)


def test_windows_hold_previous_values_oldest_first_with_left_padding():
    out = _run("timestamp,value\n2020-01-01 00:00:00,1\n2020-01-01 00:05:00,2\n"
               "2020-01-01 00:10:00,3\n2020-01-01 00:15:00,4\n")
    examples = [e for _, e in out["ok"]]
    assert [_values(e, "value_window") for e in examples] == [
        [1, 1, 1], [1, 1, 1], [1, 1, 2], [1, 2, 3]]
    assert [_values(e, "history")[0] for e in examples] == [0, 1, 2, 3]
    assert [_values(e, "gap_seconds")[0] for e in examples] == [0, 300, 300, 300]


def test_missing_values_are_flagged_and_forward_filled():
    out = _run("timestamp,value\n1,\n2,5\n3,nan\n4,7\n")
    examples = [e for _, e in out["ok"]]
    assert [_values(e, "value")[0] for e in examples] == [5, 5, 5, 7]
    assert [_values(e, "value_missing")[0] for e in examples] == [1, 0, 1, 0]
    assert ("missing_values", 2) in out["count"]


def test_duplicates_rejected_out_of_order_sorted_bad_rows_rejected():
    out = _run("timestamp,value\n10,1\n30,3\n20,2\n20,9\nnot-a-time,4\n40,abc\n")
    kept = [(_values(e, "timestamp")[0], _values(e, "value")[0]) for _, e in out["ok"]]
    assert kept == [(10, 1), (20, 2), (30, 3)]
    reasons = {r.row: r.reason for r in out["rejected"]}
    assert "duplicate timestamp '20' (first seen at row 3)" in reasons[4]
    assert "unparseable timestamp 'not-a-time'" in reasons[5]
    assert "non-numeric value" in reasons[6]
    assert ("reordered", 1) in out["count"]


def test_constant_and_short_series_are_kept():
    out = _run("timestamp,value\n1,4\n2,4\n")
    assert len(out["ok"]) == 2 and not out["rejected"]


def test_semicolon_multivariate_csv_like_skab():
    out = _run("datetime;A;B\r\n2020-01-01 00:00:00;1;2\r\n2020-01-01 00:00:01;3;4\r\n",
               timestamp_column="datetime")
    example = out["ok"][1][1]
    assert _values(example, "A_window") == [1, 1, 1] and _values(example, "B") == [4]


def test_missing_columns_reject_the_file_with_the_columns_it_has():
    out = _run("time,value\n1,2\n")
    (rejected,) = out["rejected"]
    assert "missing timestamp column 'timestamp'; columns are ['time', 'value']" in \
        rejected.reason


def test_time_split_keeps_order():
    config = ingest.SensorIngestConfig(window=2)
    text = "timestamp,value\n" + "".join(f"{i},{i}\n" for i in range(100))
    splits = [s for kind, (s, _) in ((k, v) for k, v in ingest.series_points(
        "s.csv", text.encode(), config)) if kind == "ok"]
    assert splits == sorted(splits) and np.bincount(splits).tolist() == [70, 15, 15]


def test_config_rejects_bad_fractions():
    with pytest.raises(ValueError, match="sum to 1"):
        ingest.SensorIngestConfig(splits=(("train", 0.5),))


def test_check_summary_fails_above_fraction_and_names_reasons(tmp_path):
    (tmp_path / "summary.json").write_text('{"read": 10, "rejected": 2}')
    (tmp_path / "rejected-00000-of-00001.jsonl").write_text(
        deadletter.Rejected("s.csv", 4, "bad timestamp").to_json() + "\n")
    summary = deadletter.read_summary(str(tmp_path))
    deadletter.check_summary(summary, 0.2)
    with pytest.raises(deadletter.TooManyRejected, match=r"2 of 10 records \(20.00%\).*"
                       r"s.csv row 4: bad timestamp"):
        deadletter.check_summary(summary, 0.1)
