"""Training throughput and serving latency of the neural ranker against LambdaMART, on LETOR data.

One run, one data set (default: MQ2008 Fold1 train.txt, 471 queries, 9,630 judged documents):

  ingest    the LETOR file goes through the project's Beam ingestion (`IngestClickLogs`, one
            split) to per-query tf.Examples, then `data.load_lists` pads them to `list_size`
            (default: the longest list). Numeric features are every FLOAT list feature that
            is not in `data.RESERVED` (f1..f46 for MQ2008). Not timed.
  training  (a) neural: `build_ranker(RankerConfig(position_bias=False))`, its `trainer` model
            fitted on the tf.data pipeline of trainer.py (`data.make_dataset`, shuffled, then
            `preprocess` and labels); one warm-up epoch (tracing), then `--epochs` timed epochs
            in one `fit`. A second row does the same with the preprocessed batches cached in
            memory after the warm-up epoch (no file reading or parsing in the timed epochs).
            (b) LightGBM lambdarank: `train_lambdamart` on the same real documents
            (`padded_to_flat`), `--trees` rounds, no early stopping, for each num_threads of
            `--gbm-threads` (default 2, then 1); the best of `--gbm-repeats` fits (Dataset
            construction included). The first thread count is the one compared and served.
            docs/s counts real documents only (no padding) per pass over the data: an epoch for
            the neural ranker, a boosting round for LightGBM. docs/CPU-s divides by the
            process's CPU time instead of wall time (steadier on a busy machine; LightGBM's
            OpenMP threads spinning while they wait count as CPU). "fit docs/s" is the data
            set's documents over the wall time of the whole configured fit (`--epochs` epochs
            vs `--trees` rounds): which model you get sooner.
  serving   the scorer exported with `serving.export(RankingServer(scorer, names, TextConfig()))`,
            reloaded with `tf.saved_model.load` and called through `signatures["serving_default"]`
            with ELWC requests from `serving.to_elwc` (one query's real documents per ELWC); the
            same for a blended server (`compile_booster` of the LightGBM model above,
            blend_weight 0.5). Beside them, on the same lists: the Keras scorer called eagerly,
            `scorer(inputs, training=False)`, on inputs preprocessed beforehand and padded to the
            batch's longest list as the server pads, and that call plus `CompiledForest.score`
            on the lists' numeric rows (the blended server's work minus ELWC parsing,
            preprocessing and the blend). Batch 1: `--warmup` untimed then `--calls` timed
            calls, one query each (queries in turn), p50 / p99 / mean latency. Batch
            `--batch`: 3 untimed then `--batch-calls` timed calls, throughput in lists/s and
            docs/s. The four paths take turns on the same request in every round, so a busy
            machine's load falls on all of them alike. Request tensors are built before
            timing; each call ends with `.numpy()`.
            Before timing, the served scores are checked against the Keras scorer (and the
            blend against `evaluate.blend`); a mismatch stops the run (`BenchmarkError`).

Prints a table and writes every figure, the configuration and the machine (CPU count, load
average, versions, date) to `--out` (default benchmarks/results/ranking.json).

    .venv/bin/python benchmarks/ranking.py [--data PATH] [--out PATH] [--epochs 5] [--trees 100]

The data path defaults to ../shared/data/mq2008/Fold1/train.txt beside the repository;
$CUTTINGEDGE_SHARED_DATA replaces the ../shared/data root. Figures are single runs on a
possibly shared machine: compare rows within one run rather than across runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import sys
import tempfile
import time
import warnings
from importlib import metadata

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # a script: quiet TensorFlow's start-up logs

import apache_beam as beam  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from cuttingedge.components.clicklog.ingest import ClickLogIngestConfig, IngestClickLogs  # noqa
from cuttingedge.components.split import SplitConfig  # noqa: E402
from cuttingedge.trainers.lambdamart.compile import compile_booster  # noqa: E402
from cuttingedge.trainers.lambdamart.layout import padded_to_flat  # noqa: E402
from cuttingedge.trainers.lambdamart.train import LambdaMartConfig, train_lambdamart  # noqa
from cuttingedge.trainers.ranking import data, evaluate, serving  # noqa: E402
from cuttingedge.trainers.ranking.model import RankerConfig, build_ranker  # noqa: E402
from cuttingedge.trainers.ranking.preprocess import TextConfig, preprocess  # noqa: E402
from portable import portable_config, portable_path  # noqa: E402  (benchmarks/)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DEFAULT_OUT = os.path.join(HERE, "results", "ranking.json")
TEXT = TextConfig()
MAX_LIST_SIZE = 128  # as trainer.py: the longest training list, at most 128


class BenchmarkError(RuntimeError):
    """The served scores disagree with the Keras scorer; no figures are reported."""


# ---------------------------------------------------------------- data


def default_data_path() -> str:
    root = os.environ.get("CUTTINGEDGE_SHARED_DATA", os.path.join(REPO, "..", "shared", "data"))
    return os.path.normpath(os.path.join(root, "mq2008", "Fold1", "train.txt"))


def ingest(path: str, work: str) -> list[str]:
    """Runs the project's Beam ingestion of a LETOR file into one split; returns its files."""
    config = ClickLogIngestConfig(input_format="letor", splits=SplitConfig((("train", 1),)))
    examples = os.path.join(work, "examples")
    with beam.Pipeline() as pipeline:
        _ = pipeline | IngestClickLogs([path], config, examples, os.path.join(work, "dead"))
    return data.split_files(examples, "train")


def numeric_feature_names(files: list[str]) -> list[str]:
    """FLOAT list features of the first record that are not reserved, f<i> in index order."""
    record = next(iter(tf.data.TFRecordDataset(files[:1], compression_type="GZIP")))
    example = tf.train.Example.FromString(record.numpy())
    names = [name for name, feature in example.features.feature.items()
             if feature.WhichOneof("kind") == "float_list" and name not in data.RESERVED]
    if not names:
        raise ValueError(f"No numeric per-document features in {files[0]!r}.")
    return sorted(names, key=lambda n: (int(n[1:]) if n[1:].isdigit() else 10**9, n))


def text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


# ---------------------------------------------------------------- training


def new_ranker(names: list[str], lists: data.RankingLists, seed: int):
    keras.utils.set_random_seed(seed)
    return build_ranker(RankerConfig(position_bias=False), len(names),
                        lists.numeric[lists.mask], TEXT.buckets,
                        (TEXT.query_tokens, TEXT.doc_tokens))


def train_dataset(files, names, list_size, batch_size, seed, cache: bool) -> tf.data.Dataset:
    """trainer.py's pipeline: parsed, shuffled list batches -> (preprocess(batch), label)."""
    dataset = data.make_dataset(files, names, list_size, batch_size, shuffle=True, seed=seed)
    dataset = dataset.map(lambda batch: (preprocess(batch, TEXT), batch["label"]))
    return dataset.cache() if cache else dataset


class EpochTimer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)

    def on_train_begin(self, logs=None):
        self.seconds = []


def time_neural(files, names, lists, args, cache: bool) -> dict:
    """Warm-up epoch, then `args.epochs` timed epochs of the trainer model in one fit."""
    scorer, trainer = new_ranker(names, lists, args.seed)
    dataset = train_dataset(files, names, lists.label.shape[1], args.batch_size, args.seed, cache)
    trainer.fit(dataset, epochs=1, verbose=0)
    timer = EpochTimer()
    start, start_cpu = time.perf_counter(), time.process_time()
    history = trainer.fit(dataset, epochs=args.epochs, verbose=0, callbacks=[timer])
    seconds, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    docs = int(lists.mask.sum())
    return {"docs": docs, "passes": args.epochs, "seconds": seconds, "cpu_seconds": cpu,
            "docs_per_second": docs * args.epochs / seconds, "fit_docs_per_second": docs / seconds,
            "docs_per_cpu_second": docs * args.epochs / cpu,
            "epoch_seconds": timer.seconds,
            "final_loss": float(history.history["loss"][-1]), "scorer": scorer}


def time_lightgbm(lists, args, threads: int) -> dict:
    """Best of `args.gbm_repeats` LambdaMART fits of `args.trees` rounds on the real documents."""
    flat = padded_to_flat(lists.numeric, lists.label.astype(np.int32))
    config = LambdaMartConfig(n_estimators=args.trees, num_threads=threads, seed=args.seed)
    runs, cpu = [], []
    for _ in range(args.gbm_repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        booster = train_lambdamart(flat.features, flat.labels, flat.group_sizes, config)
        runs.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    best, docs = int(np.argmin(runs)), len(flat.labels)
    seconds = runs[best]
    return {"docs": docs, "passes": args.trees, "seconds": seconds, "cpu_seconds": cpu[best],
            "docs_per_second": docs * args.trees / seconds, "fit_docs_per_second": docs / seconds,
            "docs_per_cpu_second": docs * args.trees / cpu[best], "all_seconds": runs,
            "num_leaves": config.num_leaves, "num_threads": threads, "booster": booster}


def bench_training(files, names, lists, args):
    """All training rows; returns (figures, neural scorer, first LightGBM booster)."""
    threads = [int(t) for t in args.gbm_threads.split(",")]
    models = {"neural": time_neural(files, names, lists, args, cache=False),
              "neural_cached": time_neural(files, names, lists, args, cache=True)}
    print("  trained: neural", flush=True)
    for t in threads:
        models[f"lightgbm_{t}_threads"] = time_lightgbm(lists, args, t)
    print("  trained: LightGBM", flush=True)
    primary = f"lightgbm_{threads[0]}_threads"
    scorer, booster = models["neural"].pop("scorer"), models[primary]["booster"]
    for record in models.values():
        record.pop("scorer", None), record.pop("booster", None)
    ratios = {"lightgbm": primary, **{key: models[primary][key] / models["neural"][key]
                                      for key in ("docs_per_second", "fit_docs_per_second",
                                  "docs_per_cpu_second")}}
    return {"models": models, "ratios": ratios}, scorer, booster


# ---------------------------------------------------------------- serving


@dataclasses.dataclass
class Batch:
    """One request batch in every form the timed callables need, built before timing."""

    elwc: tf.Tensor  # [B] serialised ELWC
    inputs: dict  # preprocessed model inputs, padded to the batch's longest list
    flat_numeric: tf.Tensor  # [B * L, F]
    mask: np.ndarray  # [B, L]
    docs: int


def make_batch(lists: data.RankingLists, names: list[str], index: list[int]) -> Batch:
    mask = lists.mask[index]
    width = max(1, int(mask.sum(axis=1).max()))
    requests = []
    for i in index:
        docs = [{"doc_text": text(lists.doc_text[i, j]),
                 **dict(zip(names, lists.numeric[i, j].tolist()))}
                for j in range(int(lists.mask[i].sum()))]
        requests.append(serving.to_elwc(text(lists.query_text[i]), docs))
    numeric = lists.numeric[index, :width]
    inputs = preprocess({"query_text": tf.constant(lists.query_text[index]),
                         "doc_text": tf.constant(lists.doc_text[index, :width]),
                         "numeric": tf.constant(numeric),
                         "label": tf.constant(lists.label[index, :width])}, TEXT)
    return Batch(tf.constant(requests), inputs,
                 tf.constant(numeric.reshape(-1, numeric.shape[-1])), mask[:, :width],
                 int(mask.sum()))


def batches(lists, names, size: int, count: int) -> list[Batch]:
    n = len(lists)
    return [make_batch(lists, names, [(k * size + t) % n for t in range(size)])
            for k in range(count)]


def export_and_load(server: serving.RankingServer, path: str):
    """Exports, reloads; returns (loaded object to keep alive, serving_default signature)."""
    serving.export(server, path)
    loaded = tf.saved_model.load(path)
    return loaded, loaded.signatures["serving_default"]


def callables(scorer, forest, neural_sig, blended_sig) -> dict:
    def keras_trees(b):
        return scorer(b.inputs, training=False).numpy(), forest.score(b.flat_numeric).numpy()

    return {
        "savedmodel_neural": lambda b: neural_sig(examples=b.elwc)["scores"].numpy(),
        "keras_scorer": lambda b: scorer(b.inputs, training=False).numpy(),
        "savedmodel_blended": lambda b: blended_sig(examples=b.elwc)["scores"].numpy(),
        "keras_scorer_plus_trees": keras_trees,
    }


def check_scores(scorer, forest, neural_sig, blended_sig, batch: Batch, weight: float):
    """Served scores must equal the Keras scorer's (and the blend's) on real documents."""
    mask = batch.mask
    neural = scorer(batch.inputs, training=False).numpy() * mask
    trees = forest.score(batch.flat_numeric).numpy().reshape(mask.shape)
    served = neural_sig(examples=batch.elwc)["scores"].numpy()
    blended = evaluate.blend(neural, trees, mask, weight) * mask
    served_blend = blended_sig(examples=batch.elwc)["scores"].numpy()
    for name, want, got in (("neural", neural, served), ("blended", blended, served_blend)):
        if got.shape != want.shape or not np.allclose(got, want, atol=1e-3, rtol=1e-3):
            worst = np.max(np.abs(got - want)) if got.shape == want.shape else "shape"
            raise BenchmarkError(f"The {name} SavedModel's scores differ from the reference "
                                 f"computed in Python (max difference {worst}; served shape "
                                 f"{got.shape}, expected {want.shape}).")


def timed_rounds(fns: dict, requests: list[Batch], warmup: int, calls: int) -> dict:
    """Seconds of each call, the callables taking turns on the same request in every round.

    Interleaving spreads the load of a shared machine evenly over the paths compared.
    """
    for k in range(warmup):
        for fn in fns.values():
            fn(requests[k % len(requests)])
    times = {name: [] for name in fns}
    for k in range(calls):
        request = requests[(warmup + k) % len(requests)]
        for name, fn in fns.items():
            start = time.perf_counter()
            fn(request)
            times[name].append(time.perf_counter() - start)
    return times


def latency(times: list[float]) -> dict:
    ms = np.array(times) * 1e3
    return {"calls": len(ms), "p50_ms": float(np.percentile(ms, 50)),
            "p99_ms": float(np.percentile(ms, 99)), "mean_ms": float(ms.mean())}


def throughput(times: list[float], requests: list[Batch], warmup: int) -> dict:
    used = [requests[(warmup + k) % len(requests)] for k in range(len(times))]
    seconds, lists = sum(times), sum(len(b.mask) for b in used)
    return {"calls": len(times), "batch": len(used[0].mask), "seconds": seconds,
            "lists_per_second": lists / seconds,
            "docs_per_second": sum(b.docs for b in used) / seconds}


def bench_serving(scorer, booster, names, lists, args, work: str) -> dict:
    forest = compile_booster(booster)
    neural_server = serving.RankingServer(scorer, names, TEXT)
    blended_server = serving.RankingServer(scorer, names, TEXT, forest=forest, blend_weight=0.5)
    keep_neural, neural_sig = export_and_load(neural_server, os.path.join(work, "neural"))
    keep_blended, blended_sig = export_and_load(blended_server, os.path.join(work, "blended"))
    singles = batches(lists, names, 1, min(len(lists), args.warmup + args.calls))
    big = batches(lists, names, args.batch, max(1, -(-len(lists) // args.batch)))
    check_scores(scorer, forest, neural_sig, blended_sig, big[0], 0.5)
    fns = callables(scorer, forest, neural_sig, blended_sig)
    one = timed_rounds(fns, singles, args.warmup, args.calls)
    print("  served: batch 1", flush=True)
    many = timed_rounds(fns, big, 3, args.batch_calls)
    print(f"  served: batch {args.batch}", flush=True)
    results = {name: {"batch_1": latency(one[name]),
                      f"batch_{args.batch}": throughput(many[name], big, 3)} for name in fns}
    del keep_neural, keep_blended
    return results


def serving_ratios(results: dict, batch: int) -> dict:
    pairs = {"savedmodel_over_keras": ("savedmodel_neural", "keras_scorer"),
             "blended_savedmodel_over_keras_plus_trees": ("savedmodel_blended",
                                                          "keras_scorer_plus_trees"),
             "blended_over_neural_savedmodel": ("savedmodel_blended", "savedmodel_neural")}
    out = {}
    for key, (a, b) in pairs.items():
        out[key] = {
            "p50_latency": results[a]["batch_1"]["p50_ms"] / results[b]["batch_1"]["p50_ms"],
            "p99_latency": results[a]["batch_1"]["p99_ms"] / results[b]["batch_1"]["p99_ms"],
            f"throughput_batch_{batch}": (results[a][f"batch_{batch}"]["lists_per_second"]
                                          / results[b][f"batch_{batch}"]["lists_per_second"])}
    return out


# ---------------------------------------------------------------- report


def machine() -> dict:
    packages = ("tensorflow", "keras", "lightgbm", "apache-beam", "numpy")
    return {
        "cpu_count": os.cpu_count(), "cpus_usable": len(os.sched_getaffinity(0)),
        "load_average_at_start": os.getloadavg(), "platform": platform.platform(),
        "processor": platform.processor(), "python": platform.python_version(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        **{f"{name}_version": metadata.version(name) for name in packages},
    }


def training_label(key: str, record: dict) -> str:
    if key.startswith("lightgbm"):
        return f"LightGBM lambdarank, {record['num_threads']} thread(s)"
    return {"neural": "neural, trainer.py pipeline", "neural_cached": "neural, cached inputs"}[key]


def table(training: dict, served: dict, ratios: dict, batch: int) -> str:
    lines = ["training (real documents only; docs/s = docs x passes / s)",
             f"  {'model':34s} {'docs':>6s} {'passes':>6s} {'seconds':>8s} {'CPU s':>7s} "
             f"{'docs/s':>10s} {'docs/CPU-s':>10s} {'fit docs/s':>10s}"]
    for key, r in training["models"].items():
        lines.append(f"  {training_label(key, r):34s} {r['docs']:6d} {r['passes']:6d} "
                     f"{r['seconds']:8.2f} {r['cpu_seconds']:7.2f} {r['docs_per_second']:10.0f} "
                     f"{r['docs_per_cpu_second']:10.0f} {r['fit_docs_per_second']:10.0f}")
    ratio = training["ratios"]
    gbm = training_label(ratio["lightgbm"], training["models"][ratio["lightgbm"]])
    lines.append(f"  ratio {gbm} / neural, trainer.py pipeline: docs/s "
                 f"x{ratio['docs_per_second']:.2f}, docs/CPU-s "
                 f"x{ratio['docs_per_cpu_second']:.2f}, fit docs/s "
                 f"x{ratio['fit_docs_per_second']:.2f}")
    lines += ["", f"serving (batch 1: latency ms; batch {batch}: throughput)",
              f"  {'path':28s} {'p50':>7s} {'p99':>7s} {'mean':>7s} {'lists/s':>9s} "
              f"{'docs/s':>9s}"]
    for name, r in served.items():
        one, many = r["batch_1"], r[f"batch_{batch}"]
        lines.append(f"  {name:28s} {one['p50_ms']:7.2f} {one['p99_ms']:7.2f} "
                     f"{one['mean_ms']:7.2f} {many['lists_per_second']:9.0f} "
                     f"{many['docs_per_second']:9.0f}")
    lines.append(f"  {'ratio (latency <1 / throughput >1: first faster)':49s} {'p50':>6s} "
                 f"{'p99':>6s} {'lists/s b' + str(batch):>12s}")
    for name, r in ratios.items():
        lines.append(f"  {name:49s} {r['p50_latency']:6.2f} {r['p99_latency']:6.2f} "
                     f"{r[f'throughput_batch_{batch}']:12.2f}")
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=None,
                   help="LETOR file (default: $CUTTINGEDGE_SHARED_DATA or ../shared/data, "
                        "then mq2008/Fold1/train.txt)")
    p.add_argument("--out", default=DEFAULT_OUT, help="JSON results file (default: %(default)s)")
    p.add_argument("--list-size", type=int, default=0,
                   help="pad/cut lists to this size; 0 = the longest list, at most 128")
    p.add_argument("--epochs", type=int, default=5, help="timed neural epochs (after 1 warm-up)")
    p.add_argument("--batch-size", type=int, default=32, help="neural training lists per batch")
    p.add_argument("--trees", type=int, default=100, help="LightGBM boosting rounds")
    p.add_argument("--gbm-threads", default="2,1",
                   help="LightGBM num_threads values to time, comma-separated; the first is the "
                        "one compared with the neural ranker and served (default: %(default)s)")
    p.add_argument("--gbm-repeats", type=int, default=3, help="LightGBM fits, the best is kept")
    p.add_argument("--warmup", type=int, default=20, help="untimed batch-1 serving calls")
    p.add_argument("--calls", type=int, default=200, help="timed batch-1 serving calls")
    p.add_argument("--batch", type=int, default=100, help="lists per throughput request")
    p.add_argument("--batch-calls", type=int, default=10, help="timed throughput calls")
    p.add_argument("--seed", type=int, default=0)
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    # Keras says this at the end of every first epoch of a dataset of unknown length (harmless).
    warnings.filterwarnings("ignore", message="Your input ran out of data")
    path = args.data or default_data_path()
    if not os.path.exists(path):
        sys.exit(f"LETOR file not found: {path}. Pass --data or set CUTTINGEDGE_SHARED_DATA.")
    info = machine()
    phases, clock = {}, time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_ranking_") as work:
        files = ingest(path, work)
        phases["ingest"] = time.perf_counter() - clock
        names = numeric_feature_names(files)
        list_size = args.list_size or min(MAX_LIST_SIZE, max(2, data.max_list_size(files)))
        lists = data.load_lists(files, names, list_size)
        print(f"{path}: {len(lists)} lists, {int(lists.mask.sum())} documents, "
              f"{len(names)} features, list_size {list_size}", flush=True)
        training, scorer, booster = bench_training(files, names, lists, args)
        phases["training"] = time.perf_counter() - clock - sum(phases.values())
        served = bench_serving(scorer, booster, names, lists, args, work)
        phases["serving"] = time.perf_counter() - clock - sum(phases.values())
    ratios = serving_ratios(served, args.batch)
    info["load_average_at_end"] = os.getloadavg()
    report = {"data": {"path": portable_path(path), "lists": len(lists), "documents": int(lists.mask.sum()),
                       "features": len(names), "list_size": list_size},
              "config": portable_config(vars(args)), "training": training, "serving": served,
              "serving_ratios": ratios, "phase_seconds": phases, "machine": info}
    print(table(training, served, ratios, args.batch))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as handle:
        json.dump(report, handle, indent=1)
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
