"""End-to-end anomaly pipeline on a slice of a bundled NAB series: report and pushed model."""

import csv
import importlib.resources
import json
import os
import subprocess
import sys

import pytest

from cuttingedge.pipelines import anomaly
from cuttingedge.pipelines.layout import RunLayout
from cuttingedge.pipelines.outputs import latest_artifacts
from cuttingedge.pipelines.runner import run_pipeline

pytestmark = pytest.mark.e2e
ROWS = 2400
SPIKE = 2000


@pytest.fixture(scope="module")
def anomaly_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("anomaly")
    source = importlib.resources.files("cuttingedge.sample_data").joinpath(
        "nab", "realKnownCause", "machine_temperature_system_failure.csv")
    lines = source.read_text().splitlines()[:ROWS + 1]
    for row in range(SPIKE, SPIKE + 6):  # an obvious failure in the test part
        stamp, value = lines[row + 1].split(",")
        lines[row + 1] = f"{stamp},{float(value) + 60.0}"
    (root / "data").mkdir()
    (root / "data" / "machine.csv").write_text("\n".join(lines) + "\n")
    layout = RunLayout(str(root / "runs"))
    config = anomaly.AnomalyConfig(input_pattern=str(root / "data" / "*.csv"), layout=layout,
                                   window=32, epochs=5)
    run_pipeline(anomaly.create_pipeline(config))
    return layout, latest_artifacts(layout.metadata_path, anomaly.NAME)


def test_every_component_ran(anomaly_run):
    _, found = anomaly_run
    assert {"Examples", "Schema", "ExampleAnomalies", "Model", "ModelBlessing", "InfraBlessing",
            "PushedModel", "cuttingedge.Report"} <= set(found)


def test_report_has_one_scored_row_per_point_and_the_other_files(anomaly_run):
    layout, _ = anomaly_run
    reports = layout.reports(anomaly.NAME)
    with open(os.path.join(reports, "machine_scores.csv")) as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == ROWS
    assert [int(r["row"]) for r in rows] == list(range(1, ROWS + 1))
    assert {"timestamp", "value", "score", "is_anomaly", "epistemic_stddev"} <= set(rows[0])
    for name in ("machine_scores.parquet", "machine_plot.png", "summary.json"):
        assert os.path.getsize(os.path.join(reports, name)) > 100, name
    windows = json.load(open(os.path.join(reports, "machine_windows.json")))["windows"]
    assert any(w["start_row"] <= SPIKE + 6 and w["end_row"] >= SPIKE + 1 for w in windows), windows
    assert rows[SPIKE]["is_anomaly"] == "1" or rows[SPIKE + 1]["is_anomaly"] == "1"
    summary = json.load(open(os.path.join(reports, "summary.json")))
    splits = summary["series"]["machine.csv"]["splits"]
    assert sum(splits.values()) == ROWS and splits["test"] == int(0.85 * ROWS)


FRESH = r"""
import sys, tensorflow as tf
serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
out = serve(values=tf.zeros([2, 33]), series=tf.constant(["machine.csv"] * 2))
print("STDDEV", out["stddev"].numpy().tolist(), "ALARM", out["is_anomaly"].numpy().tolist())
"""


def test_the_pushed_model_answers_in_a_fresh_process(anomaly_run):
    layout, found = anomaly_run
    (blessing,) = found["ModelBlessing"]
    assert blessing.custom_properties["blessed"].int_value == 1, \
        blessing.custom_properties["reason"].string_value
    base = layout.serving(anomaly.NAME)
    versions = [v for v in os.listdir(base) if v.isdigit()]
    assert len(versions) == 1
    path = os.path.join(base, versions[0])
    assert os.path.exists(os.path.join(path, "assets.extra", "tf_serving_warmup_requests"))
    done = subprocess.run([sys.executable, "-c", FRESH, path], capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "STDDEV" in done.stdout


def test_fuzzed_requests_get_errors_never_crashes(anomaly_run):
    from cuttingedge.components.serving.fuzz import fuzz_in_fresh_process

    layout, _ = anomaly_run
    base = layout.serving(anomaly.NAME)
    version = next(v for v in os.listdir(base) if v.isdigit())
    report = fuzz_in_fresh_process(os.path.join(base, version), cases=150)
    assert not report.crashed, report.crashed
    assert report.failures == []
    assert report.cases == 300  # both signatures: serving_default and detect
    assert report.rejected.get("detect", 0) > 0  # garbage tf.Examples are refused ...
    assert report.answered.get("serving_default", 0) == 150  # ... numbers always get numbers
