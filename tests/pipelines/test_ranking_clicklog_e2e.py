"""End-to-end ranking pipeline on generated click logs (schema "clicklog"): position-biased
clicks, the position tower's propensities, and the blend chosen on weighted eval clicks."""

import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cuttingedge.components.clicklog.generate import ClickGeneratorConfig, generate_shard
from cuttingedge.pipelines import ranking
from cuttingedge.pipelines.layout import RunLayout
from cuttingedge.pipelines.outputs import latest_artifacts
from cuttingedge.pipelines.runner import run_pipeline

pytestmark = pytest.mark.e2e


def test_click_log_ranking_weighs_eval_clicks_by_the_learned_propensities(tmp_path):
    data = tmp_path / "logs"
    data.mkdir()
    pq.write_table(pa.table(generate_shard(ClickGeneratorConfig(rows=4000, num_queries=200),
                                           0)), data / "part-0.parquet")
    layout = RunLayout(str(tmp_path / "runs"))
    config = ranking.RankingConfig(train=str(data / "*.parquet"), layout=layout,
                                   schema="clicklog", epochs=3, num_trees=20)
    run_pipeline(ranking.create_pipeline(config))

    found = latest_artifacts(layout.metadata_path, ranking.NAME)
    trainer_model = next(m for m in found["Model"] if "Trainer" in m.uri)
    ranker = json.load(open(os.path.join(trainer_model.uri, "ranker.json")))
    assert ranker["config"]["position_bias"] is True
    assert ranker["config"]["use_text"] is False  # the default: overlap feature only
    propensity = ranker["propensity"]
    assert len(propensity) == ranker["config"]["max_position"] and propensity[0] == 1.0
    # The generator examines position p with probability 1/p: top positions get more clicks.
    assert propensity[4] < propensity[0]
    report = json.load(open(os.path.join(layout.reports(ranking.NAME), "evaluation.json")))
    assert report["eval_weighting"] == "inverse propensity"
    assert report["propensity"] == propensity
    assert set(report["test_true_relevance"]) == {"neural", "lambdamart", "ensemble"}
    assert str(report["blend_weight"]) in report["weight_search"]
