"""Text features and ensembling on generated click logs: the neural ranker with text features
vs LambdaMART on the numeric features only, and their blends.

The generator's hidden true relevance depends on query-document token overlap, of which the
numeric features hold only a noisy view (`bm25`), so text carries signal the trees lack.
Same generated log, same deterministic split by query hash, same click labels for every model:

  neural_overlap     the ranker on the numeric features plus the text's query-document
                     token overlap (`use_text=False`: no token embeddings, the pipeline's
                     default), with the position-bias tower
  neural_embeddings  the same plus learned token embeddings of query and document text
                     (`use_text=True`, `cuttingedge run ranking --text embeddings`)
  lambdamart         LightGBM lambdarank on the numeric features, early-stopped on eval
  ensemble_*         each neural variant blended with lambdamart, weight chosen on eval
                     clicks (one-SE rule)
  ensemble_*_ips     the same, the weight chosen on eval NDCG@10 with every click weighted
                     by 1 / propensity of its display position, the propensities read off
                     the neural ranker's position tower (as the pipeline's EvaluateRankers)

Each neural variant trains `--seeds` times; scores are test NDCG@10 against the hidden true
relevance (what a user wants) and against the clicks (what the log shows), mean over seeds,
with the paired per-list difference to LambdaMART and its standard error. Ratios are
against LambdaMART, run in the same script. Writes benchmarks/results/text_and_trees.json.

    .venv/bin/python benchmarks/text_and_trees.py [--rows 60000] [--epochs 8] [--seeds 2]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import tempfile
import time
import types

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "0")

import apache_beam as beam  # noqa: E402
import numpy as np  # noqa: E402

from cuttingedge.components.clicklog.generate import (ClickGeneratorConfig,  # noqa: E402
                                                      GenerateClickLogs)
from cuttingedge.components.clicklog.ingest import (ClickLogIngestConfig,  # noqa: E402
                                                    IngestClickLogs)
from cuttingedge.schemas import path as schema_path  # noqa: E402
from cuttingedge.trainers.lambdamart.compile import compile_booster  # noqa: E402
from cuttingedge.trainers.lambdamart.layout import padded_to_flat  # noqa: E402
from cuttingedge.trainers.lambdamart.train import (LambdaMartConfig,  # noqa: E402
                                                   train_lambdamart)
from cuttingedge.trainers.ranking import data, evaluate, trainer  # noqa: E402


def _ingest(work: str, rows: int) -> str:
    with beam.Pipeline() as p:
        _ = p | GenerateClickLogs(ClickGeneratorConfig(rows=rows, shards=2), work + "/logs")
    with beam.Pipeline() as p:
        _ = p | IngestClickLogs(sorted(os.path.join(work, "logs", f)
                                       for f in os.listdir(work + "/logs")),
                                ClickLogIngestConfig(), work + "/examples", work + "/dead")
    return work + "/examples"


def _neural(examples: str, lists, use_text: bool, epochs: int, seed: int):
    fn_args = types.SimpleNamespace(
        train_files=data.split_files(examples, "train"),
        eval_files=data.split_files(examples, "eval"),
        schema_path=schema_path("clicklog"), model_run_dir=None, hyperparameters=None,
        custom_config={"epochs": epochs, "use_text": use_text, "seed": seed, "list_size": 10})
    start = time.monotonic()
    scorer, *_, propensity = trainer.train_ranker(fn_args)
    seconds = time.monotonic() - start
    return {split: evaluate.neural_scores(scorer, part, trainer.TEXT)
            for split, part in lists.items()}, seconds, propensity


def _lambdamart(lists):
    flat, flat_eval = (padded_to_flat(lists[s].numeric, lists[s].label)
                       for s in ("train", "eval"))
    start = time.monotonic()
    booster = train_lambdamart(flat.features, flat.labels, flat.group_sizes,
                               LambdaMartConfig(n_estimators=300, early_stopping_rounds=50),
                               eval_set=(flat_eval.features, flat_eval.labels,
                                         flat_eval.group_sizes))
    seconds = time.monotonic() - start
    forest = compile_booster(booster)
    return {split: evaluate.forest_scores(forest, part) for split, part in lists.items()
            if split != "train"}, seconds


def _figures(test, scores, reference):
    """Mean NDCG@10 vs truth and clicks, and the paired difference to `reference` on truth."""
    truth = np.where(test.mask, test.true_relevance, -1.0)
    mine, weights = evaluate.per_list_ndcg(truth, scores)
    theirs, _ = evaluate.per_list_ndcg(truth, reference)
    keep = weights > 0
    diff = (mine - theirs)[keep]
    return {"ndcg_10_true_relevance": evaluate.ranking_metrics_of(truth, scores)["ndcg_10"],
            "ndcg_10_clicks": evaluate.ranking_metrics_of(test.label, scores)["ndcg_10"],
            "vs_lambdamart_truth": float(diff.mean()),
            "vs_lambdamart_truth_se": float(diff.std(ddof=1) / np.sqrt(len(diff)))}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=60000)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results",
                                                      "text_and_trees.json"))
    args = parser.parse_args(argv)
    started = time.monotonic()
    examples = _ingest(tempfile.mkdtemp(prefix="text_and_trees_"), args.rows)
    names = data.feature_names_from_schema(schema_path("clicklog"))
    lists = {s: data.load_lists(data.split_files(examples, s), names, 10)
             for s in ("train", "eval", "test")}
    trees, trees_seconds = _lambdamart(lists)
    test = lists["test"]
    results = {"lambdamart": {**_figures(test, trees["test"], trees["test"]),
                              "train_seconds": trees_seconds}}
    for variant, use_text in (("neural_overlap", False), ("neural_embeddings", True)):
        runs, blends = [], {"clicks": [], "ips": []}
        for seed in range(args.seeds):
            scores, seconds, propensity = _neural(
                examples, {"eval": lists["eval"], "test": test}, use_text, args.epochs, seed)
            runs.append({**_figures(test, scores["test"], trees["test"]),
                         "train_seconds": seconds, "propensity_1_to_5": propensity[:5]})
            ips = evaluate.inverse_propensity_weights(lists["eval"], propensity)
            for kind, item_weights in (("clicks", None), ("ips", ips)):
                weight, _ = evaluate.choose_weight(scores["eval"], trees["eval"],
                                                   lists["eval"], item_weights=item_weights)
                blended = evaluate.blend(scores["test"], trees["test"], test.mask, weight)
                blends[kind].append({**_figures(test, blended, trees["test"]),
                                     "weight": weight})
        results[f"{variant}_runs"] = runs
        text = variant.split("_")[1]
        results[f"ensemble_{text}_runs"] = blends["clicks"]
        results[f"ensemble_{text}_ips_runs"] = blends["ips"]
    variants = ("neural_overlap", "ensemble_overlap", "ensemble_overlap_ips",
                "neural_embeddings", "ensemble_embeddings", "ensemble_embeddings_ips")
    for variant in variants:
        runs = results[f"{variant}_runs"]
        results[variant] = {key: float(np.mean([r[key] for r in runs])) for key in runs[0]
                            if key != "propensity_1_to_5"}
    base = results["lambdamart"]["ndcg_10_true_relevance"]
    results["ratio_to_lambdamart_truth"] = {
        v: results[v]["ndcg_10_true_relevance"] / base
        for v in (*variants, "lambdamart")}
    results["config"] = {"rows": args.rows, "epochs": args.epochs, "seeds": args.seeds,
                         "test_lists": len(test), "seconds": time.monotonic() - started,
                         "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
                             timespec="seconds"), "cpus": os.cpu_count()}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as handle:
        json.dump(results, handle, indent=1)
    print(f"{'model':20s} {'NDCG@10 truth':>14s} {'clicks':>8s} {'- LambdaMART (truth)':>22s}")
    for variant in ("lambdamart", *variants):
        r = results[variant]
        print(f"{variant:20s} {r['ndcg_10_true_relevance']:14.4f} {r['ndcg_10_clicks']:8.4f} "
              f"{r['vs_lambdamart_truth']:+14.4f} ± {r['vs_lambdamart_truth_se']:.4f}")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
