"""End-to-end ranking pipeline on real LETOR data (LightGBM's sample, .query side file)."""

import json
import os
import subprocess
import sys

import pytest

from cuttingedge.pipelines import ranking
from cuttingedge.pipelines.layout import RunLayout
from cuttingedge.pipelines.outputs import latest_artifacts
from cuttingedge.pipelines.runner import run_pipeline

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def ranking_run(shared_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("ranking")
    source = shared_data / "lightgbm_lambdarank"
    sizes = [int(x) for x in (source / "rank.train.query").read_text().split()][:80]
    lines = (source / "rank.train").read_text().splitlines()[:sum(sizes)]
    (root / "small.train").write_text("\n".join(lines) + "\n")
    (root / "small.train.query").write_text("\n".join(map(str, sizes)) + "\n")
    layout = RunLayout(str(root / "runs"))
    config = ranking.RankingConfig(train=str(root / "small.train"), layout=layout, epochs=2,
                                   num_trees=30)
    run_pipeline(ranking.create_pipeline(config))
    return layout, latest_artifacts(layout.metadata_path, ranking.NAME)


def test_every_component_ran_and_the_report_compares_three_models(ranking_run):
    layout, found = ranking_run
    assert {"Examples", "Schema", "ExampleAnomalies", "Model", "ModelBlessing",
            "PushedModel"} <= set(found)
    report = json.load(open(os.path.join(layout.reports(ranking.NAME), "evaluation.json")))
    assert set(report["test"]) == {"neural", "lambdamart", "ensemble"}
    for metrics in report["test"].values():
        assert set(metrics) == {"ndcg_1", "ndcg_5", "ndcg_10", "mrr", "map", "arp"}
        assert 0 <= metrics["ndcg_10"] <= 1
    assert 0.0 <= report["blend_weight"] <= 1.0
    assert os.path.getsize(os.path.join(layout.reports(ranking.NAME), "evaluation.png")) > 1000


def test_push_happens_exactly_when_blessed(ranking_run):
    layout, found = ranking_run
    report = json.load(open(os.path.join(layout.reports(ranking.NAME), "evaluation.json")))
    versions = [v for v in os.listdir(layout.serving(ranking.NAME)) if v.isdigit()] \
        if os.path.isdir(layout.serving(ranking.NAME)) else []
    assert bool(versions) == report["blessed"]
    (blessing,) = found["ModelBlessing"]
    assert blessing.custom_properties["blessed"].int_value == int(report["blessed"])


SERVE = r"""
import sys, tensorflow as tf
from tensorflow_serving.apis import input_pb2
path, names = sys.argv[1], open(sys.argv[1] + "/feature_names.txt").read().split()
def elwc(n, extra=None, drop=None):
    e = input_pb2.ExampleListWithContext()
    e.context.features.feature["query_text"].bytes_list.value.append(b"q")
    for i in range(n):
        x = e.examples.add()
        for name in names:
            if name != drop:
                x.features.feature[name].float_list.value.append(0.1 * i)
        if extra:
            x.features.feature[extra].float_list.value.append(1.0)
    return e.SerializeToString()
serve = tf.saved_model.load(path).signatures["serving_default"]
scores = serve(examples=tf.constant([elwc(3), elwc(5, extra="not_a_feature")]))["scores"]
print("SHAPE", scores.shape.as_list())
print("PAD", float(scores[0, 3]), float(scores[0, 4]))
try:
    serve(examples=tf.constant([elwc(2, drop=names[0])]))
except tf.errors.InvalidArgumentError as err:
    print("MISSING", names[0] in err.message)
"""


def test_exported_model_serves_elwc_in_a_fresh_process(ranking_run):
    layout, found = ranking_run
    model = next(m for m in found["Model"] if "EvaluateRankers" in m.uri)
    result = subprocess.run([sys.executable, "-c", SERVE,
                             os.path.join(model.uri, "Format-Serving")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "SHAPE [2, 5]" in result.stdout          # lists of 3 and 5 documents
    assert "PAD 0.0 0.0" in result.stdout           # slots past a list's end score 0
    assert "MISSING True" in result.stdout          # a missing feature is named in the error
