"""Held-out quality of the default logo classifier against its training budget.

Trains the small CNN at its default hyperparameters (the tuner's starting point) on fresh
renders of the 150 bundled brands, exactly as the Trainer does (`trainer.prepare_kit`,
`trainer.fit`: curriculum, cosine decay), then scores it on held-out renders it never saw
(another seed, held-out photo backgrounds, harsher JPEG: `trainer.heldout_pool`). After every
`--every` epochs it also scores the held-out renders, so one run gives the learning curve.
ResNet50V2 (weights=None, same input) is built for its parameter count; `--baseline` also
trains it with the same renders and epochs (several times slower).

Writes benchmarks/results/logo_quality.json (curve, final top-1/top-5, parameters, seconds,
images/s of training, and held-out top-1 broken down by render condition: how large the
logo's tile is finally seen, tiny, photo background, bare, inverted, JPEG quality; from
`augment.describe_renders`) and .png (held-out top-1 by epoch).

    .venv/bin/python benchmarks/logo_quality.py [--size 32] [--epochs 30]
        [--train-renders 4500] [--every 5] [--baseline] [--hp filters=48]
        [--save-model cnn.keras] [--evaluate-only cnn.keras --out conditions.json]
        [--precision mixed_bfloat16] [--photo-jitter-probability 0.5]
        [--bare-probability 0.7] [--pattern-probability 0.3 --pattern-kind leaves]
        [--resume cnn.keras --epochs 30 --learning-rate 3e-4] [--test-time-views 7]

`--test-time-views N` also scores the final network (or the `--evaluate-only` models) as a
model exported with `LogoOptions(test_time_views=N)` is served and evaluated: probabilities
averaged over N shifted and zoomed views of each render (`views.stack`). `--evaluate-only
... --pool dev` scores a dev pool instead of the held-out renders: the held-out conditions
over the training photos, seed + 2000; choose such settings there. `--evaluate-only MODEL
--through-serving` also exports the model as the Trainer does and scores the renders sent
as PNG bytes through the reloaded SavedModel's `serving_default`.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import keras_tuner  # noqa: E402
import numpy as np  # noqa: E402

from cuttingedge.pipelines.demo import sample_path  # noqa: E402
from cuttingedge.trainers.logos import augment, kit, model, trainer, views  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


class HeldOutCurve(keras.callbacks.Callback):
    """Scores the held-out renders every `every` epochs (and after the last)."""

    def __init__(self, images, labels, every: int, epochs: int):
        super().__init__()
        self.images, self.labels, self.every, self.epochs = images, labels, every, epochs
        self.points: list[dict] = []
        self.started = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1
        if done % self.every and done != self.epochs:
            return
        top1, top5 = heldout_accuracy(self.model, self.images, self.labels)
        self.points.append({"epoch": done, "heldout_top1": top1, "heldout_top5": top5,
                            "train_accuracy": float((logs or {}).get("accuracy", np.nan)),
                            "validation_accuracy": float((logs or {}).get("val_accuracy",
                                                                          np.nan)),
                            "seconds": time.monotonic() - self.started})
        print(f"  epoch {done}: held-out top-1 {top1:.3f} top-5 {top5:.3f} "
              f"(train {self.points[-1]['train_accuracy']:.3f})", flush=True)


def heldout_accuracy(net: keras.Model, images: np.ndarray, labels: np.ndarray):
    top5 = top5_of(net, images)
    return (float(np.mean(top5[:, 0] == labels)),
            float(np.mean((top5 == labels[:, None]).any(axis=1))))


def top5_of(net: keras.Model, images: np.ndarray) -> np.ndarray:
    return np.argsort(-net.predict(images, batch_size=256, verbose=0), axis=1)[:, :5]


DEV_SEED_OFFSET = 2000  # --pool dev: training photos, held-out conditions, this seed offset
SIDE_EDGES = (0, 8, 12, 16, 24, 32, 1000)  # px: how large the logo's tile is finally seen
QUALITY_EDGES = (0, 35, 50, 65, 101)


def breakdown(correct: np.ndarray, conditions: dict) -> dict:
    """Held-out top-1 by render condition: {condition: {bucket: {renders, top1}}}."""
    def cell(selected):
        return {"renders": int(selected.sum()),
                "top1": float(correct[selected].mean()) if selected.any() else None}

    side, quality = conditions["plane_side"], conditions["jpeg_quality"]
    out = {"plane_side_px": {f"{lo}-{hi}" if hi < 1000 else f">={lo}":
                             cell((side >= lo) & (side < hi))
                             for lo, hi in zip(SIDE_EDGES, SIDE_EDGES[1:])},
           "jpeg_quality": {f"{lo}-{hi - 1}": cell((quality >= lo) & (quality < hi))
                            for lo, hi in zip(QUALITY_EDGES, QUALITY_EDGES[1:])}}
    for name in ("tiny", "photo", "bare", "inverted", "brand_colour"):
        flag = conditions[name].astype(bool)
        out[name] = {"yes": cell(flag), "no": cell(~flag)}
    bare, photo = conditions["bare"].astype(bool), conditions["photo"].astype(bool)
    out["bare_by_background"] = {
        f"{'bare' if b else 'tile'}_on_{'photo' if p else 'solid'}": cell((bare == b) &
                                                                         (photo == p))
        for b in (True, False) for p in (True, False)}
    for least in (12, 16):
        out[f"tile_at_least_{least}px"] = cell(side >= least)
    return out


def print_breakdown(table: dict) -> None:
    for condition, cells in table.items():
        if "renders" in cells:
            cells = {"": cells}
        print(f"  {condition}: " + ", ".join(
            f"{bucket} {c['top1']:.3f} (n={c['renders']})" if c["top1"] is not None
            else f"{bucket} - (n=0)" for bucket, c in cells.items()))


def served_top1(net, brands, size, count, images, labels, batch=64) -> float:
    """Top-1 of `net` exported as the Trainer exports it, renders sent as PNG bytes."""
    import tempfile

    import tensorflow as tf

    from cuttingedge.trainers.logos.serving import LogoServer, export

    folder = os.path.join(tempfile.mkdtemp(prefix="logo-quality-"), "serving")
    export(LogoServer(net, brands, size, count), folder)
    serve = tf.saved_model.load(folder).signatures["serving_default"]
    pngs = [tf.io.encode_png(tf.cast(np.round(image * 255), tf.uint8)).numpy()
            for image in images]
    top = np.concatenate([np.argmax(serve(image_bytes=tf.constant(pngs[i:i + batch]))[
        "probabilities"].numpy(), axis=1) for i in range(0, len(pngs), batch)])
    return float(np.mean(top == labels))


def train_and_score(net, data, options, heldout, every):
    curve = HeldOutCurve(*heldout, every, options.epochs)
    start = time.monotonic()
    trainer.fit(net, data, options, callbacks=[curve])
    seconds = time.monotonic() - start
    top1, top5 = heldout_accuracy(net, *heldout)
    return {"parameters": int(net.count_params()), "heldout_top1": top1, "heldout_top5": top5,
            "train_seconds": seconds,
            "train_images_per_second": options.epochs * options.steps_per_epoch *
            options.batch_size / seconds, "curve": curve.points}


def plot(results: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4))
    for name in ("cnn", "resnet50v2"):
        if name in results and "curve" in results[name]:
            points = results[name]["curve"]
            axis.plot([p["epoch"] for p in points], [p["heldout_top1"] for p in points], "o-",
                      label=f"{name} ({results[name]['parameters'] / 1e6:.2f} M parameters)")
    axis.axhline(0.95, color="grey", linestyle=":", label="95% bar")
    axis.set_xlabel("epoch")
    axis.set_ylabel("held-out top-1")
    axis.set_ylim(0, 1)
    axis.set_title(f"{results['config']['brands']} brands, {results['config']['size']} px, "
                   f"{results['config']['train_renders']} renders per epoch")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=32, help="image size (px)")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--train-renders", type=int, default=4500, help="renders per epoch")
    parser.add_argument("--heldout-renders", type=int, default=3000)
    parser.add_argument("--every", type=int, default=5, help="epochs between held-out scores")
    parser.add_argument("--baseline", action="store_true",
                        help="also train ResNet50V2 on the same budget (slow)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pattern-probability", type=float, default=0.0,
                        help="share of training renders over a procedural pattern instead "
                             "of a photo or solid (held-out renders never)")
    parser.add_argument("--pattern-kind", choices=augment.PATTERN_KINDS, default="blotches",
                        help="the procedural pattern: colour blotches, or dead leaves "
                             "(overlapping shapes of every size, colour or grey)")
    parser.add_argument("--photo-jitter-probability", type=float,
                        default=trainer.LogoOptions.photo_jitter_probability,
                        help="share of training photo backgrounds seen anew: zoomed out, "
                             "flipped, turned, grey or negative, colour-shifted (default "
                             "%(default)s, as LogoOptions)")
    parser.add_argument("--bare-probability", type=float, default=0.5,
                        help="share of training renders with the logo bare (no tile); "
                             "held-out renders keep 0.5")
    parser.add_argument("--precision", choices=model.PRECISIONS, default="float32",
                        help="compute dtype policy of the models (mixed_bfloat16: about 1.3x "
                             "as fast on CPUs with native bfloat16)")
    parser.add_argument("--hp", action="append", default=[], metavar="NAME=VALUE",
                        help="fix a hyperparameter of the small CNN (blocks, filters, dense, "
                             "dropout, learning_rate, pooling); repeatable; default: its "
                             "defaults")
    parser.add_argument("--save-model", help="save the trained CNN here (.keras)")
    parser.add_argument("--evaluate-only", metavar="MODEL", nargs="+",
                        help="skip training: score this saved model (.keras) on the held-out "
                             "renders and write the breakdown by condition to --out; with "
                             "several, their averaged probabilities (an ensemble)")
    parser.add_argument("--resume", metavar="MODEL",
                        help="continue training this saved CNN (.keras, from --save-model) for "
                             "--epochs more on fresh renders of another stream seed, at full "
                             "harshness (no curriculum), cosine decay from --learning-rate: a "
                             "warm restart; with --precision mixed_bfloat16 the weights go "
                             "into a bfloat16 CNN built from --hp")
    parser.add_argument("--generation", type=int, default=1,
                        help="which warm restart a --resume run is (1: of a model trained "
                             "from scratch, 2: of a restarted one, ...): its renders have "
                             "seed + 100 x generation, as the Trainer's warm start does")
    parser.add_argument("--learning-rate", type=float, default=3e-4,
                        help="peak learning rate of a --resume run (default %(default)s)")
    parser.add_argument("--test-time-views", type=int, choices=range(1, views.MAX_VIEWS + 1),
                        default=1, metavar="N",
                        help="also score the final model averaged over N views (1-7), as "
                             "LogoOptions.test_time_views serves it")
    parser.add_argument("--through-serving", action="store_true",
                        help="with --evaluate-only MODEL: also export it as the Trainer does "
                             "(serving.LogoServer with --test-time-views), reload the "
                             "SavedModel and score the renders sent as PNG bytes through "
                             "serving_default")
    parser.add_argument("--pool", choices=("heldout", "dev"), default="heldout",
                        help="with --evaluate-only: score the held-out renders (default) or "
                             "a dev pool made as they are but over the training photos and "
                             "of another seed, to choose e.g. --test-time-views without "
                             "looking at the held-out renders")
    parser.add_argument("--out", default=os.path.join(HERE, "results", "logo_quality.json"))
    args = parser.parse_args(argv)
    if min(args.size, args.epochs, args.train_renders, args.heldout_renders, args.every,
           args.generation) < 1:
        parser.error("--size, --epochs, --train-renders, --heldout-renders, --every and "
                     "--generation must be >= 1")
    if args.through_serving and len(args.evaluate_only or []) != 1:
        parser.error("--through-serving needs --evaluate-only with one model")
    if args.pool == "dev" and not args.evaluate_only:
        parser.error("--pool dev is for --evaluate-only: training always scores the held-out "
                     "pool")
    hyperparameters = keras_tuner.HyperParameters()
    for item in args.hp:
        name, _, value = item.partition("=")
        if not name or not value:
            parser.error(f"--hp {item!r}: expected NAME=VALUE, e.g. filters=48 or pooling=max")
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            pass  # a word such as pooling=max
        hyperparameters.Fixed(name, value)
    keras.utils.set_random_seed(args.seed)
    options = trainer.LogoOptions(image_size=args.size, train_renders=args.train_renders,
                                  heldout_renders=args.heldout_renders, epochs=args.epochs,
                                  seed=args.seed,
                                  pattern_probability=args.pattern_probability,
                                  pattern_kind=args.pattern_kind,
                                  photo_jitter_probability=args.photo_jitter_probability,
                                  bare_probability=args.bare_probability,
                                  precision=args.precision)
    brand_kit = kit.kit_from_files(sample_path("logos", "manifest.csv"),
                                   colours_csv=options.colours_csv)
    classes = len(brand_kit.brands)
    heldout_config = dataclasses.replace(augment.HELDOUT, image_size=options.image_size)
    if args.pool == "dev":  # choices made here leave the held-out renders untouched
        pool_seed = options.seed + DEV_SEED_OFFSET
        heldout = trainer.render_pool(brand_kit, kit.load_backgrounds(options.train_backgrounds),
                                      pool_seed, heldout_config, options.heldout_renders)
    else:
        pool_seed = options.seed + 1000  # trainer.heldout_pool's
        heldout = trainer.heldout_pool(brand_kit, options)
    conditions = augment.describe_renders(brand_kit.masks, pool_seed, heldout_config,
                                          options.heldout_renders)
    if args.evaluate_only:
        nets = [keras.saving.load_model(path) for path in args.evaluate_only]
        probabilities = [views.predict(net, heldout[0], args.test_time_views) for net in nets]
        single = [float(np.mean(p.argmax(axis=1) == heldout[1])) for p in probabilities]
        top5 = np.argsort(-np.mean(probabilities, axis=0), axis=1)[:, :5]
        correct = top5[:, 0] == heldout[1]
        table = breakdown(correct, conditions)
        one_view = None  # the same models without the views, for the ratio
        if args.test_time_views > 1:
            plain = np.mean([views.predict(net, heldout[0], 1) for net in nets], axis=0)
            one_view = float(np.mean(plain.argmax(axis=1) == heldout[1]))
        for path, top1 in zip(args.evaluate_only, single):
            print(f"{path}: {args.pool} top-1 {top1:.3f}")
        if one_view is not None:
            print(f"the same without views: {args.pool} top-1 {one_view:.3f}")
        print(f"{' + '.join(args.evaluate_only)}: {args.pool} top-1 {correct.mean():.3f}, top-5 "
              f"{(top5 == heldout[1][:, None]).any(axis=1).mean():.3f}, "
              f"{sum(n.count_params() for n in nets):,} parameters")
        print_breakdown(table)
        served = None
        if args.through_serving:
            served = served_top1(nets[0], brand_kit.brands, args.size, args.test_time_views,
                                 *heldout)
            print(f"through serving_default ({args.test_time_views} views, PNG bytes): "
                  f"{args.pool} top-1 {served:.3f}")
        with open(args.out, "w") as handle:
            json.dump({"models": [os.path.abspath(p) for p in args.evaluate_only],
                       "served_top1": served,
                       "heldout_top1_each": single, "heldout_top1_one_view": one_view,
                       "parameters": int(sum(n.count_params() for n in nets)),
                       "heldout_top5": float((top5 == heldout[1][:, None]).any(axis=1).mean()),
                       "config": {"size": args.size, "heldout_renders": args.heldout_renders,
                                  "seed": args.seed, "pool": args.pool,
                                  "test_time_views": args.test_time_views},
                       "heldout_top1": float(correct.mean()), "breakdown": table}, handle,
                      indent=1)
        print(f"written to {args.out}")
        return 0
    # a --resume run trains on renders no earlier run saw, as the Trainer's warm start does;
    # the held-out pool is unchanged
    stream = trainer.continuation(options, args.generation) if args.resume else None
    data = trainer.prepare_kit(brand_kit, options, stream)
    results = {"config": {"size": args.size, "epochs": args.epochs, "brands": classes,
                          "train_renders": args.train_renders,
                          "heldout_renders": args.heldout_renders, "seed": args.seed,
                          "batch_size": options.batch_size, "cpus": os.cpu_count(),
                          "pattern_probability": options.pattern_probability,
                          "pattern_kind": options.pattern_kind,
                          "photo_jitter_probability": options.photo_jitter_probability,
                          "bare_probability": options.bare_probability,
                          "precision": options.precision,
                          "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
                              timespec="seconds")}}
    if args.resume:
        net = keras.saving.load_model(args.resume)
        if options.precision != "float32":  # the same network computing in bfloat16
            saved, net = net, model.small_cnn(hyperparameters, args.size, classes,
                                              options.precision)
            why = trainer.architecture_differs(saved, net)  # the Trainer's warm-start test
            if why:
                parser.error(f"--resume {args.resume} --precision {options.precision}: {why}, "
                             f"the network built from --hp {args.hp or '(defaults)'}; pass "
                             f"the --hp it was trained with")
            net.set_weights(saved.get_weights())  # Adam's moments start afresh
        net.optimizer.learning_rate = args.learning_rate
        results["config"]["resumed_from"] = os.path.abspath(args.resume)
        results["config"]["learning_rate"] = args.learning_rate
        results["config"]["generation"] = args.generation
        print(f"{args.resume}: {args.epochs} more epochs x "
              f"{options.steps_per_epoch * options.batch_size} renders at {args.size} px, "
              f"from learning rate {args.learning_rate}", flush=True)
    else:
        print(f"small CNN, hyperparameters {args.hp or 'default'}: {args.epochs} epochs x "
              f"{options.steps_per_epoch * options.batch_size} renders at {args.size} px",
              flush=True)
        net = model.small_cnn(hyperparameters, args.size, classes, options.precision)
    results["config"]["hyperparameters"] = dict(hyperparameters.values)
    results["cnn"] = train_and_score(net, data, options, heldout, args.every)
    results["cnn"]["breakdown"] = breakdown(top5_of(net, heldout[0])[:, 0] == heldout[1],
                                            conditions)
    if args.save_model:
        net.save(args.save_model)
    if args.test_time_views > 1:
        ranked = np.argsort(-views.predict(net, heldout[0], args.test_time_views), axis=1)
        results["cnn"]["test_time_views"] = {
            "views": args.test_time_views,
            "heldout_top1": float(np.mean(ranked[:, 0] == heldout[1])),
            "heldout_top5": float(np.mean((ranked[:, :5] == heldout[1][:, None]).any(axis=1))),
            "breakdown": breakdown(ranked[:, 0] == heldout[1], conditions)}
    resnet = model.resnet_baseline(args.size, classes, precision=options.precision)
    results["resnet50v2"] = {"parameters": int(resnet.count_params())}
    if args.baseline:
        print("ResNet50V2 baseline, same renders and epochs", flush=True)
        results["resnet50v2"] = train_and_score(resnet, trainer.prepare_kit(brand_kit, options),
                                                options, heldout, args.every)
    results["parameter_ratio_cnn_to_resnet"] = (results["cnn"]["parameters"] /
                                                results["resnet50v2"]["parameters"])
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as handle:
        json.dump(results, handle, indent=1)
    plot(results, os.path.splitext(args.out)[0] + ".png")
    cnn = results["cnn"]
    print(f"cnn: held-out top-1 {cnn['heldout_top1']:.3f}, top-5 {cnn['heldout_top5']:.3f}, "
          f"{cnn['parameters']:,} parameters "
          f"({results['parameter_ratio_cnn_to_resnet']:.3f} of ResNet50V2's), "
          f"{cnn['train_seconds']:.0f} s, {cnn['train_images_per_second']:.0f} images/s")
    print_breakdown(cnn["breakdown"])
    if "test_time_views" in cnn:
        viewed = cnn["test_time_views"]
        print(f"cnn over {viewed['views']} views: held-out top-1 {viewed['heldout_top1']:.3f}, "
              f"top-5 {viewed['heldout_top5']:.3f}")
        print_breakdown(viewed["breakdown"])
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
