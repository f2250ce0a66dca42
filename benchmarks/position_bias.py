"""Does the position-bias tower recover the true relevance order from biased clicks?

Generates click logs with a position-based click model, ingests them with the project's Beam
transforms, trains the neural ranker twice on clicks (with and without the position-bias
tower, same seed and budget) and reports NDCG@10 against the hidden true relevance on the
test split. Writes benchmarks/results/position_bias.json.

    python benchmarks/position_bias.py [--rows 60000] [--epochs 8]
"""

import argparse
import json
import os
import tempfile
import time
import types

import apache_beam as beam
import numpy as np

from cuttingedge.components.clicklog.generate import ClickGeneratorConfig, GenerateClickLogs
from cuttingedge.components.clicklog.ingest import ClickLogIngestConfig, IngestClickLogs
from cuttingedge.schemas import path as schema_path
from cuttingedge.trainers.ranking import data, evaluate, trainer


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=60000)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results",
                                                      "position_bias.json"))
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="position_bias_")
    with beam.Pipeline() as p:
        _ = p | GenerateClickLogs(ClickGeneratorConfig(rows=args.rows, shards=2), work + "/logs")
    with beam.Pipeline() as p:
        _ = p | IngestClickLogs(sorted(os.path.join(work, "logs", f)
                                       for f in os.listdir(work + "/logs")),
                                ClickLogIngestConfig(), work + "/examples", work + "/dead")
    names = data.feature_names_from_schema(schema_path("clicklog"))
    test = data.load_lists(data.split_files(work + "/examples", "test"), names, 10)
    results = {}
    for tower in (False, True):
        fn_args = types.SimpleNamespace(
            train_files=data.split_files(work + "/examples", "train"),
            eval_files=data.split_files(work + "/examples", "eval"),
            schema_path=schema_path("clicklog"), model_run_dir=None, hyperparameters=None,
            custom_config={"epochs": args.epochs, "position_bias": tower, "list_size": 10})
        start = time.monotonic()
        scorer, *_ = trainer.train_ranker(fn_args)
        scores = evaluate.neural_scores(scorer, test, trainer.TEXT)
        truth = np.where(test.mask, test.true_relevance, -1.0)
        results["with_position_tower" if tower else "ignoring_position"] = {
            "ndcg_10_true_relevance": evaluate.ranking_metrics_of(truth, scores)["ndcg_10"],
            "ndcg_10_clicks": evaluate.ranking_metrics_of(test.label, scores)["ndcg_10"],
            "train_seconds": time.monotonic() - start}
    logged = np.where(test.mask, -test.position.astype(float), 0.0)  # the logging ranker
    truth = np.where(test.mask, test.true_relevance, -1.0)
    results["logging_order"] = {
        "ndcg_10_true_relevance": evaluate.ranking_metrics_of(truth, logged)["ndcg_10"]}
    gain = (results["with_position_tower"]["ndcg_10_true_relevance"]
            - results["ignoring_position"]["ndcg_10_true_relevance"])
    results["gain_ndcg_10_true_relevance"] = gain
    results["config"] = {"rows": args.rows, "epochs": args.epochs, "test_lists": len(test)}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as handle:
        json.dump(results, handle, indent=1)
    for name in ("ignoring_position", "with_position_tower", "logging_order"):
        print(f"{name:22s} NDCG@10 vs true relevance: "
              f"{results[name]['ndcg_10_true_relevance']:.4f}")
    print(f"gain of the position tower: {gain:+.4f} (written to {args.out})")


if __name__ == "__main__":
    main()
