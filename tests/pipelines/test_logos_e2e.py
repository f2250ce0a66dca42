"""End-to-end logo pipeline on the bundled brand kit, with a tiny budget."""

import csv
import json
import os
import subprocess
import sys

import pytest

from cuttingedge.pipelines import logos
from cuttingedge.pipelines.demo import logos_config, sample_path
from cuttingedge.pipelines.layout import RunLayout
from cuttingedge.pipelines.outputs import latest_artifacts
from cuttingedge.pipelines.runner import run_pipeline
from cuttingedge.trainers.logos.trainer import LogoOptions
from cuttingedge.trainers.tuning.budget import SearchBudget

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def logos_run(tmp_path_factory):
    layout = RunLayout(str(tmp_path_factory.mktemp("logos") / "runs"))
    options = LogoOptions(image_size=32, train_renders=450, validation_renders=150,
                          heldout_renders=300, epochs=1)
    config = logos_config(layout, ("--direct_running_mode=in_memory",),
                          budget=SearchBudget(max_trials=2), options=options,
                          algorithm="random")
    run_pipeline(logos.create_pipeline(config))
    return layout, latest_artifacts(layout.metadata_path, logos.NAME)


def test_tuning_records_every_trial(logos_run):
    layout, found = logos_run
    records = os.path.join(layout.reports(logos.NAME), "tuning")
    rows = list(csv.DictReader(open(os.path.join(records, "trials.csv"))))
    assert len(rows) == 2
    status = json.load(open(os.path.join(records, "status.json")))
    assert "max_trials=2" in status["stop_reason"]
    assert "HyperParameters" in found


def test_evaluation_compares_tuned_and_baseline_and_push_follows_blessing(logos_run):
    layout, found = logos_run
    report = json.load(open(os.path.join(layout.reports(logos.NAME), "evaluation.json")))
    tuned, baseline = report["models"]["tuned"], report["models"]["baseline"]
    assert tuned["parameters"] < baseline["parameters"]
    for model in (tuned, baseline):
        assert 0 <= model["heldout_top1"] <= model["heldout_top5"] <= 1
        assert model["latency_ms_batch1"] > 0
    for picture in ("augmented_samples.png", "heldout_samples.png", "evaluation.png"):
        assert os.path.getsize(os.path.join(layout.reports(logos.NAME), picture)) > 1000
    serving = layout.serving(logos.NAME)
    pushed = [v for v in os.listdir(serving) if v.isdigit()] if os.path.isdir(serving) else []
    assert bool(pushed) == report["blessed"]


def test_the_blessing_names_its_model_for_the_next_runs_warm_start(logos_run):
    layout, found = logos_run
    model = next(m for m in found["Model"] if "/Trainer/" in m.uri)
    (blessing,) = found["ModelBlessing"]
    # LatestBlessedModelStrategy matches a blessing to its model by this id.
    assert blessing.custom_properties["current_model_id"].int_value == model.id
    warm = json.load(open(os.path.join(model.uri, "logos.json")))["warm_start"]
    assert warm["from"] is None and warm["generation"] == 0  # nothing blessed before
    assert "no base model" in warm["note"]


PREDICT = r"""
import sys, tensorflow as tf
serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
png, jpg = open(sys.argv[2], "rb").read(), tf.io.encode_jpeg(tf.zeros([300, 200, 3], tf.uint8))
out = serve(image_bytes=tf.constant([png, jpg.numpy()]))
print("SHAPES", out["brand"].shape.as_list(), out["probabilities"].shape.as_list())
print("SUM", round(float(tf.reduce_sum(out["probabilities"][0])), 3))
try:
    serve(image_bytes=tf.constant([b"not an image"]))
except tf.errors.InvalidArgumentError as err:
    print("CORRUPT rejected")
"""


def test_trained_model_serves_image_bytes_in_a_fresh_process(logos_run):
    layout, found = logos_run
    model = next(m for m in found["Model"] if "/Trainer/" in m.uri)
    result = subprocess.run([sys.executable, "-c", PREDICT,
                             os.path.join(model.uri, "Format-Serving"),
                             sample_path("logos", "png128", "paypal.png")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "SHAPES [2] [2, 150]" in result.stdout
    assert "SUM 1.0" in result.stdout
    assert "CORRUPT rejected" in result.stdout


def test_predict_logos_cli_prints_top3(logos_run):
    layout, found = logos_run
    model = next(m for m in found["Model"] if "/Trainer/" in m.uri)
    result = subprocess.run([sys.executable, "-m", "cuttingedge.pipelines.cli", "predict",
                             "logos", "--model", os.path.join(model.uri, "Format-Serving"),
                             sample_path("logos", "png128", "github.png")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    line = result.stdout.strip().splitlines()[-1]
    assert line.startswith(sample_path("logos", "png128", "github.png"))
    assert line.count(",") == 2  # three brands with probabilities


def test_tune_status_cli_reads_the_records(logos_run):
    layout, _ = logos_run
    result = subprocess.run([sys.executable, "-m", "cuttingedge.pipelines.cli", "tune",
                             "status", os.path.join(layout.reports(logos.NAME), "tuning")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "2" in result.stdout and "best" in result.stdout.lower()


def test_serve_client_sends_grpc_and_rest_requests(logos_run):
    from cuttingedge.components.serving.testing import serve_test_server

    layout, found = logos_run
    model = next(m for m in found["Model"] if "/Trainer/" in m.uri)
    server = serve_test_server(os.path.join(model.uri, "Format-Serving"), "logos")
    try:
        image = sample_path("logos", "png128", "paypal.png")
        for target in (f"127.0.0.1:{server.grpc_port}", f"http://127.0.0.1:{server.rest_port}"):
            result = subprocess.run([sys.executable, "-m", "cuttingedge.pipelines.cli",
                                     "serve-client", "--target", target, "--model", "logos",
                                     "--image", image], capture_output=True, text=True,
                                    timeout=120)
            assert result.returncode == 0, result.stderr[-2000:]
            assert "brand:" in result.stdout and "probabilities:" in result.stdout
        result = subprocess.run([sys.executable, "-m", "cuttingedge.pipelines.cli",
                                 "serve-client", "--target", f"127.0.0.1:{server.grpc_port}",
                                 "--model", "nope", "--image", image],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 2 and "Traceback" not in result.stderr
    finally:
        server.stop()


def test_fuzzed_image_bytes_get_errors_never_crashes(logos_run):
    from cuttingedge.components.serving.fuzz import fuzz_in_fresh_process

    _, found = logos_run
    model = next(m for m in found["Model"] if "/Trainer/" in m.uri)
    report = fuzz_in_fresh_process(os.path.join(model.uri, "Format-Serving"), cases=150)
    assert not report.crashed, report.crashed
    assert report.failures == []
    assert report.cases >= 150 and sum(report.rejected.values()) > 0
