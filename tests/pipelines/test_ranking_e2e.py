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
                                   num_trees=30, tune_trials=1)
    run_pipeline(ranking.create_pipeline(config))
    return layout, latest_artifacts(layout.metadata_path, ranking.NAME)


def test_every_component_ran_and_the_report_compares_three_models(ranking_run):
    layout, found = ranking_run
    assert {"Examples", "Schema", "ExampleAnomalies", "Model", "ModelBlessing",
            "PushedModel", "HyperParameters", "InfraBlessing"} <= set(found)
    (hyperparameters,) = found["HyperParameters"]
    (best,) = os.listdir(hyperparameters.uri)
    values = json.load(open(os.path.join(hyperparameters.uri, best)))["values"]
    assert {"loss", "group_size", "interaction", "units", "learning_rate"} <= set(values)
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


def test_score_ranking_cli_scores_every_row_in_input_order(ranking_run, shared_data, tmp_path):
    layout, found = ranking_run
    model = next(m for m in found["Model"] if "EvaluateRankers" in m.uri)
    lines = (shared_data / "lightgbm_lambdarank" / "rank.train").read_text().splitlines()[:40]
    (tmp_path / "in.txt").write_text("\n".join(f"{line.split(' ', 1)[0]} qid:{i // 7} "
                                               f"{line.split(' ', 1)[1]}"
                                               for i, line in enumerate(lines)) + "\n")
    result = subprocess.run([sys.executable, "-m", "cuttingedge.pipelines.cli", "score",
                             "ranking", "--model", os.path.join(model.uri, "Format-Serving"),
                             "--input", str(tmp_path / "in.txt"), "--output",
                             str(tmp_path / "out.tsv")], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [line.split("\t") for line in (tmp_path / "out.tsv").read_text().splitlines()[1:]]
    assert [int(r[1]) for r in rows] == list(range(40))
    assert [r[0] for r in rows] == [str(i // 7) for i in range(40)]
    assert len({r[2] for r in rows}) > 10  # real, varied scores


def test_score_ranking_names_the_bad_row(ranking_run, tmp_path):
    layout, found = ranking_run
    model = next(m for m in found["Model"] if "EvaluateRankers" in m.uri)
    (tmp_path / "bad.txt").write_text("1 qid:1 1:0.5\n0 qid:1 1:oops\n")
    result = subprocess.run([sys.executable, "-m", "cuttingedge.pipelines.cli", "score",
                             "ranking", "--model", os.path.join(model.uri, "Format-Serving"),
                             "--input", str(tmp_path / "bad.txt"), "--output",
                             str(tmp_path / "out.tsv")], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 2
    assert "bad.txt row 2: feature value 'oops'" in result.stderr
    assert "Traceback" not in result.stderr


def test_fuzzed_elwc_gets_errors_never_crashes(ranking_run):
    from cuttingedge.components.serving.fuzz import fuzz_in_fresh_process

    _, found = ranking_run
    model = next(m for m in found["Model"] if "EvaluateRankers" in m.uri)
    report = fuzz_in_fresh_process(os.path.join(model.uri, "Format-Serving"), cases=150)
    assert not report.crashed, report.crashed
    assert report.failures == []
    assert report.cases >= 150 and sum(report.rejected.values()) > 0
