"""Logo pipeline speed: on-the-fly augmentation, serving the SavedModel, Hyperband vs random.

One run, the bundled brand kit (150 icons of sample_data/logos, decoded as ImageExampleGen
decodes them, `kit.kit_from_files`), training background photos of sample_data/backgrounds:

  augment   renders/s of `augment.make_renders` in tf.data (`num_parallel_calls=AUTOTUNE`,
            batched by 64, `.numpy()` on every batch) at `--size` (default 64, the training
            size), full harshness (difficulty 1): (a) the full augmentation, (b) the same
            with `AugmentConfig(three_d=False)`: no pose / perspective camera / Phong light,
            the icon composited flat (the 3D stage's share is the difference). Beside them,
            the baseline: images/s of one training step (`train_on_batch`, batch 64) of the
            default `small_cnn` at the same size, on renders made beforehand, so the ratio
            says whether rendering keeps up with training; and the same step of the model
            built with `precision="mixed_bfloat16"` (its ratio to the float32 step).
            `--augment-images` renders per row after one untimed batch.
  serving   the default `small_cnn` (weights as built: speed does not depend on them) exported
            with `serving.export(LogoServer(...))`, reloaded with `tf.saved_model.load`,
            `signatures["serving_default"](image_bytes=...)`. Requests: `--request-images`
            held-out renders at 2 x `--size` px, half PNG-, half JPEG-encoded beforehand.
            Batch 1: `--warmup` untimed then `--calls` timed calls (images in turn), p50 / p99
            / mean latency. Batch 64: 2 untimed then `--batch-calls` timed calls, images/s.
            Beside it, the baseline: the Keras model called directly, `model(x,
            training=False)` (eager), and the same call inside a `tf.function`, on the same
            images decoded and resized beforehand (the server's work minus decoding and
            resizing). The three take turns on the same request in every round. Before
            timing, the served probabilities are checked against the Keras call on the
            server's own decoding (`LogoServer.decode`); a mismatch stops the run
            (`BenchmarkError`). A fourth path, `served_views`, is the same model exported with
            `LogoServer(views=--serving-views)` (default 7: probabilities averaged over test-
            time views, `views.stack`), checked the same way against the Keras call on the
            stacked views; its ratio to `served` is the price of the views.
  tuning    Hyperband vs RandomSearch (`trainers.tuning.search.make_tuner`, same seed, same
            `LogoHyperModel(architectures=("cnn",))` search space) on one small problem: the
            first `--tune-brands` brands at `--tune-size` px, a fixed pool of `--tune-train`
            training renders and `--tune-val` validation renders (seeds 0 and 1), both made
            with milder conditions (`MILD`: pose <= 15 degrees, no tiny renders, JPEG 60-95,
            30% photos) so that a few epochs lift the trials well above chance. Random
            search: `--tune-trials` trials of `--tune-epochs` epochs each. Hyperband:
            `max_epochs=--tune-epochs`, `factor=--tune-factor`, one iteration (its own
            schedule). A callback counts every epoch trained (Hyperband's resumed trials
            only count the epochs they add) and the validation accuracy after it. Figures:
            total epochs, the best validation accuracy, and the epochs each algorithm needed
            to first reach `target` = the lower of the two best accuracies (the level both reached),
            with the ratio random / Hyperband (> 1: Hyperband got there in fewer epochs).

Prints a table and writes every figure, the configuration and the machine (CPU count, load
average, versions, date) to `--out` (default benchmarks/results/logos.json) and a chart of
best validation accuracy against epochs trained to the same name with .png.

    .venv/bin/python benchmarks/logos.py [--size 64] [--out PATH] [--tune-trials 8]

Figures are single runs on a possibly shared machine (2 cores): compare rows within one run
rather than across runs. The defaults take about 6-10 minutes on 2 busy cores.
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
from importlib import metadata

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # a script: quiet TensorFlow's start-up logs

import keras  # noqa: E402
import keras_tuner  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from cuttingedge.trainers.logos import augment, kit as kit_lib, model as model_lib  # noqa: E402
from cuttingedge.trainers.logos import trainer, views  # noqa: E402
from cuttingedge.trainers.logos.serving import LogoServer, export  # noqa: E402
from cuttingedge.trainers.tuning.budget import SearchBudget  # noqa: E402
from cuttingedge.trainers.tuning.search import make_tuner, search  # noqa: E402
from portable import portable_config  # noqa: E402  (benchmarks/)

DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "logos.json")


class BenchmarkError(RuntimeError):
    """The served model disagrees with the Keras model: no figures are reported."""


def _sample(*parts: str) -> str:
    return trainer._sample(*parts)


def load_kit() -> kit_lib.BrandKit:
    return kit_lib.kit_from_files(_sample("logos", "manifest.csv"), 96,
                                  _sample("logos", "brands.csv"))


def default_model(size: int, classes: int, precision: str = "float32") -> keras.Model:
    """`small_cnn` with its default hyperparameters."""
    return model_lib.small_cnn(keras_tuner.HyperParameters(), size, classes, precision)


# ---------------------------------------------------------------------------- augmentation
def _renders_per_second(kit, backgrounds, config, images: int, batch: int = 64) -> dict:
    dataset = augment.make_renders(kit.masks, kit.colours, backgrounds, 0, config,
                                   images + batch).batch(batch)
    iterator = iter(dataset)
    next(iterator)[0].numpy()  # tracing, the thread pool, the first batch
    start, done = time.perf_counter(), 0
    while done < images:
        done += len(next(iterator)[0].numpy())
    seconds = time.perf_counter() - start
    return {"images": done, "seconds": seconds, "images_per_second": done / seconds}


def bench_augment(kit, args) -> dict:
    backgrounds = kit_lib.load_backgrounds(_sample("backgrounds", "train"))
    full = augment.AugmentConfig(image_size=args.size)
    rows = {"full": _renders_per_second(kit, backgrounds, full, args.augment_images),
            "no_3d": _renders_per_second(kit, backgrounds,
                                         dataclasses.replace(full, three_d=False),
                                         args.augment_images)}
    images, labels = trainer.render_pool(kit, backgrounds, 0, full, 64 * 4)
    steps = max(3, args.augment_images // 64 // 4)
    for name, precision in (("train_step", "float32"),
                            ("train_step_mixed_bfloat16", "mixed_bfloat16")):
        model = default_model(args.size, len(kit.brands), precision)
        model.train_on_batch(images[:64], labels[:64])  # tracing
        start = time.perf_counter()
        for step in range(steps):
            batch = slice(64 * (step % 4), 64 * (step % 4 + 1))
            model.train_on_batch(images[batch], labels[batch])
        seconds = time.perf_counter() - start
        rows[name] = {"images": 64 * steps, "seconds": seconds,
                      "images_per_second": 64 * steps / seconds,
                      "parameters": int(model.count_params())}
    base = rows["train_step"]["images_per_second"]
    for name in ("full", "no_3d", "train_step_mixed_bfloat16"):
        rows[name]["vs_train_step"] = rows[name]["images_per_second"] / base
    # time per render = 1 / rate; the 3D stage's share = 1 - full rate / no-3D rate
    rows["three_d_share_of_render_time"] = 1.0 - (rows["full"]["images_per_second"]
                                                  / rows["no_3d"]["images_per_second"])
    return rows


# ---------------------------------------------------------------------------- serving
def _encode(images: np.ndarray) -> list[bytes]:
    out = []
    for i, image in enumerate((np.clip(images, 0, 1) * 255).astype(np.uint8)):
        out.append((tf.io.encode_png if i % 2 == 0 else tf.io.encode_jpeg)(image).numpy())
    return out


def _stats(ms: list[float]) -> dict:
    ms = np.asarray(ms)
    return {"calls": len(ms), "p50_ms": float(np.percentile(ms, 50)),
            "p99_ms": float(np.percentile(ms, 99)), "mean_ms": float(ms.mean())}


def _served(model, kit, size: int, count: int, folder: str, encoded, decoded):
    """serving_default of `model` exported with `count` views and reloaded, and the largest
    difference of its probabilities from the Keras call on the same views of the server's
    own decoding (a mismatch over 1e-4 stops the run)."""
    export(LogoServer(model, kit.brands, size, count), folder)
    serve = tf.saved_model.load(folder).signatures["serving_default"]
    served = serve(image_bytes=tf.constant(encoded[:64]))["probabilities"].numpy()
    direct = views.average(model(views.stack(decoded[:64], count), training=False),
                           count).numpy()
    error = float(np.abs(served - direct).max())
    if error > 1e-4:
        raise BenchmarkError(f"probabilities served over {count} view(s) differ from the "
                             f"Keras call on the same views by {error}")
    return serve, error


def bench_serving(kit, args) -> dict:
    size = args.size
    model = default_model(size, len(kit.brands))
    folder = tempfile.mkdtemp(prefix="logos-bench-")
    config = dataclasses.replace(augment.HELDOUT, image_size=2 * size)
    images, _ = trainer.render_pool(kit, kit_lib.load_backgrounds(
        _sample("backgrounds", "heldout")), 1000, config, args.request_images)
    encoded = _encode(images)
    decode = LogoServer(model, kit.brands, size).decode
    decoded = tf.stack([decode(tf.constant(b)) for b in encoded]).numpy()
    serve, error = _served(model, kit, size, 1, os.path.join(folder, "serving"), encoded,
                           decoded)
    serve_views, views_error = _served(model, kit, size, args.serving_views,
                                       os.path.join(folder, "serving_views"), encoded, decoded)
    requests = [tf.constant([b]) for b in encoded]
    arrays = [tf.constant(decoded[i:i + 1]) for i in range(len(decoded))]
    def keras_call(x):
        return model(x, training=False)

    graph = tf.function(keras_call, autograph=False)
    paths = {"served": lambda r, a: serve(image_bytes=r)["probabilities"],
             "keras": lambda r, a: model(a, training=False),
             "keras_tf_function": lambda r, a: graph(a),
             "served_views": lambda r, a: serve_views(image_bytes=r)["probabilities"]}
    for i in range(args.warmup):
        for call in paths.values():
            call(requests[i % len(requests)], arrays[i % len(arrays)]).numpy()
    ms = {name: [] for name in paths}
    for i in range(args.calls):
        j = i % len(requests)
        for name, call in paths.items():
            start = time.perf_counter()
            call(requests[j], arrays[j]).numpy()
            ms[name].append(1000 * (time.perf_counter() - start))
    batch_request = tf.constant(encoded[:64])
    batch_array = tf.constant(decoded[:64])
    for _ in range(2):
        for call in paths.values():
            call(batch_request, batch_array).numpy()
    seconds = dict.fromkeys(paths, 0.0)
    for _ in range(args.batch_calls):
        for name, call in paths.items():
            start = time.perf_counter()
            call(batch_request, batch_array).numpy()
            seconds[name] += time.perf_counter() - start
    images_done = 64 * args.batch_calls
    result = {
        "parameters": int(model.count_params()), "max_abs_probability_error": error,
        "views": args.serving_views, "max_abs_probability_error_views": views_error,
        "request_bytes_mean": float(np.mean([len(b) for b in encoded])),
        "batch1": {name: _stats(ms[name]) for name in paths},
        "batch64": {name: {"images_per_second": images_done / seconds[name]}
                    for name in paths},
    }
    result["batch1"]["served_over_keras_tf_function_p50"] = (
        result["batch1"]["served"]["p50_ms"] / result["batch1"]["keras_tf_function"]["p50_ms"])
    result["batch64"]["served_over_keras_tf_function"] = (
        result["batch64"]["served"]["images_per_second"]
        / result["batch64"]["keras_tf_function"]["images_per_second"])
    result["batch1"]["served_views_over_served_p50"] = (
        result["batch1"]["served_views"]["p50_ms"] / result["batch1"]["served"]["p50_ms"])
    result["batch64"]["served_views_over_served"] = (
        result["batch64"]["served_views"]["images_per_second"]
        / result["batch64"]["served"]["images_per_second"])
    result["batch1"]["served_over_keras_p50"] = (result["batch1"]["served"]["p50_ms"]
                                                 / result["batch1"]["keras"]["p50_ms"])
    result["batch64"]["served_over_keras"] = (result["batch64"]["served"]["images_per_second"]
                                              / result["batch64"]["keras"]["images_per_second"])
    return result


# ---------------------------------------------------------------------------- tuning
def MILD(size: int) -> augment.AugmentConfig:  # noqa: N802
    """Milder renders for the tuning problem, so that a few epochs separate the trials."""
    full = augment.AugmentConfig(image_size=size)
    return dataclasses.replace(
        full, jpeg_quality=(60, 95), max_blur_sigma=0.5, tiny_probability=0.0,
        photo_probability=0.3, render=dataclasses.replace(
            full.render, max_pitch_degrees=15.0, max_yaw_degrees=15.0, max_roll_degrees=10.0,
            depth_range=(1.1, 1.4), max_shift=0.05))


class EpochLog(keras.callbacks.Callback):
    """Appends (algorithm, val_accuracy) after every epoch trained, to a class-level log
    (keras-tuner copies callbacks for each trial; the class attribute is shared)."""

    log: list = []
    algorithm = ""

    def on_epoch_end(self, epoch, logs=None):
        EpochLog.log.append((EpochLog.algorithm, float((logs or {}).get("val_accuracy", 0.0))))


def _curve(algorithm: str) -> list[float]:
    """Best validation accuracy so far after each epoch trained."""
    best, curve = 0.0, []
    for name, accuracy in EpochLog.log:
        if name == algorithm:
            best = max(best, accuracy)
            curve.append(best)
    return curve


def bench_tuning(kit, args) -> dict:
    brands = args.tune_brands
    small = kit_lib.BrandKit(kit.masks[:brands], kit.colours[:brands], kit.brands[:brands])
    backgrounds = kit_lib.load_backgrounds(_sample("backgrounds", "train"))
    config = MILD(args.tune_size)
    train = trainer.render_pool(small, backgrounds, 0, config, args.tune_train)
    validation = trainer.render_pool(small, backgrounds, 1, config, args.tune_val)
    hypermodel = model_lib.LogoHyperModel(args.tune_size, brands, ("cnn",))
    rows = {}
    for algorithm in ("random", "hyperband"):
        EpochLog.algorithm = algorithm
        folder = tempfile.mkdtemp(prefix=f"logos-tune-{algorithm}-")
        if algorithm == "random":
            tuner = make_tuner("random", hypermodel, directory=folder, project_name="p",
                               budget=SearchBudget(max_trials=args.tune_trials), seed=args.seed)
            extra = {"epochs": args.tune_epochs}
        else:
            tuner = make_tuner("hyperband", hypermodel, directory=folder, project_name="p",
                               budget=SearchBudget(max_trials=100), seed=args.seed,
                               max_epochs=args.tune_epochs, factor=args.tune_factor,
                               hyperband_iterations=1)
            extra = {}
        start = time.perf_counter()
        result = search(tuner, *train, validation_data=validation, batch_size=64, verbose=0,
                        callbacks=[EpochLog()], **extra)
        curve = _curve(algorithm)
        rows[algorithm] = {"seconds": time.perf_counter() - start, "trials": len(result.trials),
                           "epochs_trained": len(curve), "best_val_accuracy": max(curve),
                           "best_val_accuracy_by_epoch": curve,
                           "best_hyperparameters": result.best_hyperparameters.values}
    target = min(rows["random"]["best_val_accuracy"], rows["hyperband"]["best_val_accuracy"])
    for row in rows.values():
        row["epochs_to_target"] = next(i + 1 for i, v in enumerate(
            row["best_val_accuracy_by_epoch"]) if v >= target)
    return {"target_val_accuracy": target, **rows,
            "random_over_hyperband_epochs_to_target": rows["random"]["epochs_to_target"]
            / rows["hyperband"]["epochs_to_target"],
            "random_over_hyperband_seconds": rows["random"]["seconds"]
            / rows["hyperband"]["seconds"]}


# ---------------------------------------------------------------------------- report
def machine() -> dict:
    packages = ("tensorflow", "keras", "keras-tuner", "numpy")
    return {
        "cpu_count": os.cpu_count(), "cpus_usable": len(os.sched_getaffinity(0)),
        "load_average_at_start": os.getloadavg(), "platform": platform.platform(),
        "processor": platform.processor(), "python": platform.python_version(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        **{f"{name}_version": metadata.version(name) for name in packages},
    }


def plot(report: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tuning = report["tuning"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    for name, colour in (("random", "tab:gray"), ("hyperband", "tab:blue")):
        curve = tuning[name]["best_val_accuracy_by_epoch"]
        axes[0].plot(range(1, len(curve) + 1), curve, label=name, color=colour)
    axes[0].axhline(tuning["target_val_accuracy"], ls=":", color="k", lw=1)
    axes[0].set(xlabel="epochs trained (all trials)", ylabel="best validation accuracy",
                title="Hyperband vs random search")
    axes[0].legend()
    augment_rows = report["augment"]
    names = [n for n in ("full", "no_3d", "train_step", "train_step_mixed_bfloat16")
             if n in augment_rows]
    labels = {"full": "augment\n(full)", "no_3d": "augment\n(no 3D)",
              "train_step": "train step\n(baseline)",
              "train_step_mixed_bfloat16": "train step\n(bfloat16)"}
    axes[1].bar([labels[n] for n in names], [augment_rows[n]["images_per_second"] for n in names],
                color=["tab:blue", "tab:cyan", "tab:gray", "tab:olive"][:len(names)])
    axes[1].set(ylabel="images / s", title=f"{report['config']['size']} px, tf.data")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=DEFAULT_OUT, help="JSON results file (default: %(default)s)")
    p.add_argument("--size", type=int, default=64, help="training image size (px)")
    p.add_argument("--augment-images", type=int, default=1024, help="timed renders per row")
    p.add_argument("--request-images", type=int, default=128, help="distinct request images")
    p.add_argument("--warmup", type=int, default=20, help="untimed batch-1 serving calls")
    p.add_argument("--calls", type=int, default=100, help="timed batch-1 serving calls")
    p.add_argument("--batch-calls", type=int, default=10, help="timed batch-64 calls")
    p.add_argument("--serving-views", type=int, default=views.MAX_VIEWS,
                   choices=range(1, views.MAX_VIEWS + 1), metavar="N",
                   help="test-time views of the served_views path (1-7, default 7)")
    p.add_argument("--tune-brands", type=int, default=20)
    p.add_argument("--tune-size", type=int, default=24)
    p.add_argument("--tune-train", type=int, default=1200)
    p.add_argument("--tune-val", type=int, default=400)
    p.add_argument("--tune-epochs", type=int, default=4, help="epochs per random trial, "
                   "Hyperband's max_epochs")
    p.add_argument("--tune-trials", type=int, default=6, help="random search trials")
    p.add_argument("--tune-factor", type=int, default=3, help="Hyperband's factor")
    p.add_argument("--skip", default="", help="comma-separated sections to skip: "
                   "augment,serving,tuning")
    p.add_argument("--seed", type=int, default=0)
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    keras.utils.set_random_seed(args.seed)
    info = machine()
    start = time.perf_counter()
    kit = load_kit()
    report = {"config": portable_config(vars(args)), "machine": info, "brands": len(kit.brands)}
    for name, bench in (("augment", bench_augment), ("serving", bench_serving),
                        ("tuning", bench_tuning)):
        if name in skip:
            continue
        section = time.perf_counter()
        report[name] = bench(kit, args)
        report[name]["section_seconds"] = time.perf_counter() - section
        print(f"[{name}] done in {report[name]['section_seconds']:.0f}s", file=sys.stderr)
    info["load_average_at_end"] = os.getloadavg()
    report["total_seconds"] = time.perf_counter() - start
    print_table(report)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as handle:
        json.dump(report, handle, indent=1)
    if not skip:
        plot(report, os.path.splitext(args.out)[0] + ".png")
    print(f"wrote {args.out}")


def print_table(report: dict) -> None:
    if "augment" in report:
        a = report["augment"]
        print(f"\naugmentation in tf.data at {report['config']['size']} px (images/s; "
              f"x = vs one training step)")
        for name in ("full", "no_3d"):
            print(f"  {name:<10} {a[name]['images_per_second']:8.1f}   "
                  f"x{a[name]['vs_train_step']:.2f}")
        print(f"  {'train step':<10} {a['train_step']['images_per_second']:8.1f}   (baseline, "
              f"{a['train_step']['parameters']:,} parameters)")
        bf16 = a.get("train_step_mixed_bfloat16")
        if bf16:
            print(f"  {'  bfloat16':<10} {bf16['images_per_second']:8.1f}   "
                  f"x{bf16['vs_train_step']:.2f} (precision=\"mixed_bfloat16\")")
        print(f"  3D/Phong stage share of render time: {a['three_d_share_of_render_time']:.0%}")
    if "serving" in report:
        s = report["serving"]
        print("\nserving (SavedModel serving_default, image_bytes) vs direct Keras call")
        for path in ("served", "keras", "keras_tf_function"):  # served_views: below
            b1, b64 = s["batch1"][path], s["batch64"][path]
            print(f"  {path:<17} batch 1 p50 {b1['p50_ms']:7.2f} ms  p99 {b1['p99_ms']:7.2f} ms"
                  f"   batch 64 {b64['images_per_second']:8.1f} images/s")
        print(f"  served/keras: batch-1 p50 x{s['batch1']['served_over_keras_p50']:.2f}, "
              f"batch-64 throughput x{s['batch64']['served_over_keras']:.2f}; served/"
              f"tf.function: p50 x{s['batch1']['served_over_keras_tf_function_p50']:.2f}, "
              f"throughput x{s['batch64']['served_over_keras_tf_function']:.2f}")
        if "served_views" in s["batch1"]:
            b1, b64 = s["batch1"]["served_views"], s["batch64"]["served_views"]
            print(f"  {'served, ' + str(s['views']) + ' views':<17} batch 1 p50 "
                  f"{b1['p50_ms']:7.2f} ms  p99 {b1['p99_ms']:7.2f} ms   batch 64 "
                  f"{b64['images_per_second']:8.1f} images/s (p50 "
                  f"x{s['batch1']['served_views_over_served_p50']:.2f}, throughput "
                  f"x{s['batch64']['served_views_over_served']:.2f} of one view)")
    if "tuning" in report:
        t = report["tuning"]
        print(f"\ntuning: target val accuracy {t['target_val_accuracy']:.3f}")
        for name in ("random", "hyperband"):
            r = t[name]
            print(f"  {name:<10} trials {r['trials']:3d}  epochs {r['epochs_trained']:3d}  "
                  f"best {r['best_val_accuracy']:.3f}  epochs to target "
                  f"{r['epochs_to_target']:3d}  {r['seconds']:6.0f}s")
        print(f"  random/hyperband epochs to target: "
              f"x{t['random_over_hyperband_epochs_to_target']:.2f}")


if __name__ == "__main__":
    main()
