"""Univariate vs groupwise (GSF) vs self-attention scoring, and LambdaMART, on LETOR data.

TF-Ranking offered groupwise scoring functions (GSF, `group_size` > 1) only in its Estimator
API and pointed to document-interaction attention instead; the ranker here offers both
(`RankerConfig(group_size=..., interaction="attention")`). This script compares them on the same
data, splits, loss, epochs and seeds:

  data      MQ2008 Fold1 (shared data): train.txt ingested with the project's Beam ingestion
            and split by hashing the query id, 9 parts fit / 1 part test (kept out of every
            choice); vali.txt is the eval split (early stopping: the epoch with the best eval
            NDCG@10 is kept). No text in LETOR: numeric features only.
  variants  univariate (group_size 1), gsf_2, gsf_4 (GSF with groups of 2 and 4, TF-Ranking's
            shuffled-group averaging), attention (one self-attention layer over the list, then
            the univariate scorer); each `--seeds` times, `--epochs` epochs, `--loss`.
  baseline  LightGBM lambdarank (LambdaMART), early-stopped on eval, same split.

Reports per variant: eval and test NDCG@1/5/10, MRR, MAP (mean and spread over seeds), the
best epoch and training seconds per epoch, with the ratio of each to the univariate scorer
(the baseline run in the same script). Writes benchmarks/results/scoring_functions.json and .png.

    .venv/bin/python benchmarks/scoring_functions.py [--epochs 25] [--seeds 2]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import tempfile
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "0")

import apache_beam as beam  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from cuttingedge.components.clicklog.ingest import ClickLogIngestConfig, IngestClickLogs  # noqa
from cuttingedge.components.split import SplitConfig  # noqa: E402
from cuttingedge.trainers.lambdamart.layout import padded_to_flat  # noqa: E402
from cuttingedge.trainers.lambdamart.train import LambdaMartConfig, train_lambdamart  # noqa
from cuttingedge.trainers.ranking import data, evaluate  # noqa: E402
from cuttingedge.trainers.ranking.model import RankerConfig, build_ranker  # noqa: E402
from cuttingedge.trainers.ranking.preprocess import TextConfig, preprocess  # noqa: E402
from portable import portable_config  # noqa: E402  (benchmarks/)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
TEXT = TextConfig()
VARIANTS = {
    "univariate": {"group_size": 1},
    "gsf_2": {"group_size": 2},
    "gsf_4": {"group_size": 4},
    "attention": {"interaction": "attention"},
}


def shared_path(*parts: str) -> str:
    root = os.environ.get("CUTTINGEDGE_SHARED_DATA", os.path.join(REPO, "..", "shared", "data"))
    return os.path.normpath(os.path.join(root, *parts))


def ingest(path: str, work: str, splits) -> str:
    """The project's Beam ingestion of one LETOR file into hashed splits; returns the folder."""
    config = ClickLogIngestConfig(input_format="letor", splits=SplitConfig(splits))
    out = os.path.join(work, os.path.basename(path))
    with beam.Pipeline() as pipeline:
        _ = pipeline | IngestClickLogs([path], config, out, os.path.join(out + "-dead"))
    return out


def numeric_names(files) -> list[str]:
    record = next(iter(tf.data.TFRecordDataset(files[:1], compression_type="GZIP")))
    example = tf.train.Example.FromString(record.numpy())
    names = [n for n, f in example.features.feature.items()
             if f.WhichOneof("kind") == "float_list" and n not in data.RESERVED]
    return sorted(names, key=lambda n: (int(n[1:]) if n[1:].isdigit() else 10**9, n))


def inputs_of(lists: data.RankingLists):
    return preprocess({"query_text": tf.constant(lists.query_text),
                       "doc_text": tf.constant(lists.doc_text),
                       "numeric": tf.constant(lists.numeric),
                       "label": tf.constant(lists.label)}, TEXT)


class BestEpoch(keras.callbacks.Callback):
    """Evaluates eval NDCG@10 after every epoch and keeps the best weights."""

    def __init__(self, scorer, eval_inputs, eval_labels):
        super().__init__()
        self.scorer, self.inputs, self.labels = scorer, eval_inputs, eval_labels
        self.best, self.best_epoch, self.weights, self.seconds = -1.0, 0, None, []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)
        scores = self.scorer(self.inputs, training=False).numpy()
        ndcg = evaluate.ranking_metrics_of(self.labels, scores)["ndcg_10"]
        if ndcg > self.best:
            self.best, self.best_epoch = ndcg, epoch + 1
            self.weights = self.scorer.get_weights()


def train_variant(name, options, train, evaluation, test, args, seed):
    keras.utils.set_random_seed(seed)
    config = RankerConfig(loss=args.loss, use_text=False, position_bias=False, **options)
    scorer, trainer = build_ranker(config, train.numeric.shape[-1], train.numeric[train.mask],
                                   TEXT.buckets, (TEXT.query_tokens, TEXT.doc_tokens))
    dataset = tf.data.Dataset.from_tensor_slices((dict(inputs_of(train)), train.label))
    dataset = dataset.shuffle(len(train), seed=seed).batch(args.batch_size)
    keeper = BestEpoch(scorer, inputs_of(evaluation), evaluation.label)
    trainer.fit(dataset, epochs=args.epochs, verbose=0, callbacks=[keeper])
    scorer.set_weights(keeper.weights)
    result = {"eval": evaluate.ranking_metrics_of(evaluation.label,
                                                  scorer(inputs_of(evaluation)).numpy()),
              "test": evaluate.ranking_metrics_of(test.label, scorer(inputs_of(test)).numpy()),
              "best_epoch": keeper.best_epoch,
              "seconds_per_epoch": float(np.median(keeper.seconds))}
    print(f"  {name:10s} seed {seed}: eval NDCG@10 {result['eval']['ndcg_10']:.4f}, test "
          f"{result['test']['ndcg_10']:.4f} (epoch {keeper.best_epoch}, "
          f"{result['seconds_per_epoch']:.2f}s/epoch)", flush=True)
    return result


def lambdamart(train, evaluation, test, seed):
    flat, flat_eval = (padded_to_flat(x.numeric, x.label) for x in (train, evaluation))
    booster = train_lambdamart(flat.features, flat.labels, flat.group_sizes,
                               LambdaMartConfig(seed=seed, n_estimators=300,
                                                early_stopping_rounds=50),
                               eval_set=(flat_eval.features, flat_eval.labels,
                                         flat_eval.group_sizes))
    out = {}
    for split, lists in (("eval", evaluation), ("test", test)):
        rows = lists.numeric.reshape(-1, lists.numeric.shape[-1])
        scores = booster.predict(rows, num_iteration=booster.best_iteration).reshape(
            lists.label.shape)
        out[split] = evaluate.ranking_metrics_of(lists.label, np.where(lists.mask, scores, 0))
    return out


def summarise(runs: list[dict]) -> dict:
    out = {}
    for split in ("eval", "test"):
        out[split] = {m: {"mean": float(np.mean([r[split][m] for r in runs])),
                          "std": float(np.std([r[split][m] for r in runs]))}
                      for m in runs[0][split]}
    for key in ("best_epoch", "seconds_per_epoch"):
        if key in runs[0]:
            out[key] = float(np.mean([r[key] for r in runs]))
    return out


def plot(summary: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names, metrics = list(summary), ["ndcg_1", "ndcg_5", "ndcg_10", "mrr", "map"]
    x = np.arange(len(metrics))
    fig, ax = plt.subplots(figsize=(9, 4))
    for i, name in enumerate(names):
        test = summary[name]["test"]
        ax.bar(x + (i - (len(names) - 1) / 2) * 0.8 / len(names),
               [test[m]["mean"] for m in metrics], 0.8 / len(names),
               yerr=[test[m]["std"] for m in metrics], label=name, capsize=2)
    ax.set_xticks(x, [m.upper().replace("_", "@") for m in metrics])
    ax.set_ylabel("test split (mean over seeds)")
    ax.set_ylim(0, 1)
    ax.legend(ncol=len(names), fontsize=8, loc="upper left")
    ax.set_title("Scoring functions on MQ2008 (same loss, epochs, seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", default=shared_path("mq2008", "Fold1", "train.txt"))
    parser.add_argument("--eval", default=shared_path("mq2008", "Fold1", "vali.txt"))
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--loss", default="approx_ndcg")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--out", default=os.path.join(HERE, "results", "scoring_functions.json"))
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", message="Your input ran out of data")
    for path in (args.train, args.eval):
        if not os.path.exists(path):
            sys.exit(f"LETOR file not found: {path}. Set CUTTINGEDGE_SHARED_DATA or pass it.")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_scoring_") as work:
        fitted = ingest(args.train, work, (("train", 9), ("test", 1)))
        evaluated = ingest(args.eval, work, (("eval", 1),))
        names = numeric_names(data.split_files(fitted, "train"))
        files = {"train": data.split_files(fitted, "train"),
                 "test": data.split_files(fitted, "test"),
                 "eval": data.split_files(evaluated, "eval")}
        size = min(128, max(data.max_list_size(f) for f in files.values()))
        lists = {k: data.load_lists(f, names, size) for k, f in files.items()}
    print(", ".join(f"{k}: {len(v)} lists, {int(v.mask.sum())} docs" for k, v in lists.items()))
    summary = {}
    for name in args.variants.split(","):
        runs = [train_variant(name, VARIANTS[name], lists["train"], lists["eval"],
                              lists["test"], args, seed) for seed in range(args.seeds)]
        summary[name] = summarise(runs)
    summary["lambdamart"] = summarise([lambdamart(lists["train"], lists["eval"], lists["test"],
                                                  seed) for seed in range(args.seeds)])
    base = summary["univariate"]
    ratios = {name: {"test_ndcg_10": s["test"]["ndcg_10"]["mean"] /
                     base["test"]["ndcg_10"]["mean"],
                     **({"seconds_per_epoch": s["seconds_per_epoch"] / base["seconds_per_epoch"]}
                        if "seconds_per_epoch" in s else {})}
              for name, s in summary.items()}
    print(f"\n{'variant':12s} {'eval@10':>8s} {'test@1':>7s} {'test@5':>7s} {'test@10':>8s} "
          f"{'x univ':>7s} {'s/epoch':>8s}")
    for name, s in summary.items():
        t = s["test"]
        print(f"{name:12s} {s['eval']['ndcg_10']['mean']:8.4f} {t['ndcg_1']['mean']:7.4f} "
              f"{t['ndcg_5']['mean']:7.4f} {t['ndcg_10']['mean']:8.4f} "
              f"{ratios[name]['test_ndcg_10']:7.3f} {s.get('seconds_per_epoch', 0):8.2f}")
    report = {"data": {k: {"lists": len(v), "documents": int(v.mask.sum())}
                       for k, v in lists.items()},
              "config": portable_config(vars(args)), "summary": summary, "ratios_to_univariate": ratios,
              "ndcg_convention": "TF-Ranking: gains 2^label - 1, 1/log2(rank + 1); a list with "
                                 "no relevant document scores 0 and counts in the mean",
              "seconds": time.perf_counter() - start, "cpus": os.cpu_count(),
              "date": datetime.datetime.now().isoformat(timespec="seconds")}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as handle:
        json.dump(report, handle, indent=1)
    plot(summary, os.path.splitext(args.out)[0] + ".png")
    print(f"written to {args.out} and .png ({report['seconds']:.0f}s)")


if __name__ == "__main__":
    main()
