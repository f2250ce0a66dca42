"""Training of the logo classifier: render streams and pools, the TFX Trainer `run_fn`.

Three disjoint render sets, never mixed:
  train       seed `seed`,       training backgrounds, AugmentConfig()   (fit)
  validation  seed `seed + 1`,   training backgrounds, AugmentConfig()   (tuning objective)
  held-out    seed `seed + 1000`, held-out backgrounds, HELDOUT          (final comparison only)

Training renders are made on the fly in tf.data: every epoch sees `train_renders` NEW renders
(an infinite stream, `steps_per_epoch = train_renders // batch_size`), not the same pool again,
so the model cannot memorise a fixed set of renders. The stream follows a curriculum: it starts
mild and reaches full harshness after `curriculum` of the renders of the whole fit
(`augment.make_renders(ramp=...)`). Validation and held-out renders are fixed pools at full
harshness.

Warm start: given the last blessed model (the Trainer's `base_model`, which the pipeline
resolves), `run_fn` copies its weights into the new network when the brand list and every
weight's shape are the same, and trains on at full harshness from
`warm_start_learning_rate` (cosine decay), on a stream of its own seed (`seed + 100 *
generation`, the generation counting warm starts), so each scheduled run continues where
the blessed model left off; otherwise (another architecture chosen, brands changed, an
unreadable model) it trains from scratch and says why in logos.json.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import json
import math
import os

import keras
import keras_tuner
import numpy as np
import tensorflow as tf

from cuttingedge.components.serving.warmup import write_warmup_requests
from cuttingedge.trainers.logos import augment, kit as kit_lib, model as model_lib, views
from cuttingedge.trainers.logos.serving import LogoServer, export
from cuttingedge.trainers.options import from_custom_config


def _sample(*parts: str) -> str:
    return str(importlib.resources.files("cuttingedge.sample_data").joinpath(*parts))


@dataclasses.dataclass(frozen=True)
class LogoOptions:
    """Budget and data of logo training (the Trainer's custom_config)."""

    image_size: int = 64
    train_renders: int = 12000
    validation_renders: int = 1500
    heldout_renders: int = 3000
    epochs: int = 10
    batch_size: int = 64
    curriculum: float = 0.5
    pattern_probability: float = 0.0  # AugmentConfig.pattern_probability of train renders
    pattern_kind: str = "blotches"  # AugmentConfig.pattern_kind: "blotches" or "leaves"
    photo_jitter_probability: float = 0.5  # AugmentConfig.photo_jitter_probability of train renders
    bare_probability: float = 0.5  # AugmentConfig.bare_probability of train renders
    precision: str = "float32"  # or "mixed_bfloat16" (model.PRECISIONS)
    warm_start_learning_rate: float = 3e-4  # peak learning rate when continuing a model
    test_time_views: int = 1  # 1-7: served and evaluated probabilities averaged over views.stack
    seed: int = 0
    colours_csv: str = ""
    train_backgrounds: str = ""
    heldout_backgrounds: str = ""

    def __post_init__(self):
        for name in ("image_size", "train_renders", "validation_renders", "heldout_renders",
                     "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1. Received: {getattr(self, name)}")
        for name in ("curriculum", "pattern_probability", "photo_jitter_probability",
                     "bare_probability"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1]. Received: {getattr(self, name)}")
        model_lib.check_precision(self.precision)
        views.check_count(self.test_time_views)
        if not self.warm_start_learning_rate > 0:
            raise ValueError(f"warm_start_learning_rate must be > 0. Received: "
                             f"{self.warm_start_learning_rate}")
        if self.pattern_kind not in augment.PATTERN_KINDS:
            raise ValueError(f"pattern_kind must be one of {list(augment.PATTERN_KINDS)}. "
                             f"Received: {self.pattern_kind!r}")
        defaults = {"colours_csv": _sample("logos", "brands.csv"),
                    "train_backgrounds": _sample("backgrounds", "train"),
                    "heldout_backgrounds": _sample("backgrounds", "heldout")}
        for name, value in defaults.items():
            if not getattr(self, name):
                object.__setattr__(self, name, value)

    @classmethod
    def from_custom_config(cls, custom: dict | None) -> "LogoOptions":
        return from_custom_config(cls, custom)

    @property
    def augment(self) -> augment.AugmentConfig:
        return augment.AugmentConfig(image_size=self.image_size,
                                     pattern_probability=self.pattern_probability,
                                     pattern_kind=self.pattern_kind,
                                     photo_jitter_probability=self.photo_jitter_probability,
                                     bare_probability=self.bare_probability)

    @property
    def steps_per_epoch(self) -> int:
        return max(1, self.train_renders // self.batch_size)

    @property
    def ramp(self) -> int:
        """Renders after which the curriculum reaches full harshness (0: none)."""
        return int(self.curriculum * self.steps_per_epoch * self.batch_size * self.epochs)


def render_pool(brand_kit: kit_lib.BrandKit, backgrounds: np.ndarray, seed: int,
                config: augment.AugmentConfig, count: int) -> tuple[np.ndarray, np.ndarray]:
    """`count` renders cycling over the brands, as arrays (images, labels)."""
    images, labels = [], []
    for x, y in augment.make_renders(brand_kit.masks, brand_kit.colours, backgrounds, seed,
                                     config, count).batch(512):
        images.append(x.numpy())
        labels.append(y.numpy())
    return np.concatenate(images), np.concatenate(labels)


def train_stream(brand_kit: kit_lib.BrandKit, backgrounds: np.ndarray,
                 options: LogoOptions) -> tf.data.Dataset:
    """Infinite batches of fresh training renders (seed `seed`, with the curriculum)."""
    renders = augment.make_renders(brand_kit.masks, brand_kit.colours, backgrounds, options.seed,
                                   options.augment, ramp=options.ramp)
    # Renders cycle over the brands in order: shuffle so a batch mixes brands.
    return (renders.shuffle(4 * options.batch_size + len(brand_kit.brands), seed=options.seed)
            .batch(options.batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE))


@dataclasses.dataclass
class LogoData:
    """The brand kit, the training stream (batched) and the validation render pool."""

    kit: kit_lib.BrandKit
    train: tf.data.Dataset
    validation: tuple[np.ndarray, np.ndarray]


def prepare(train_files: list[str], options: LogoOptions) -> LogoData:
    """Loads the brand kit from ImageExampleGen records; makes the stream and validation pool."""
    return prepare_kit(kit_lib.kit_from_examples(train_files, 96, options.colours_csv), options)


def prepare_kit(brand_kit: kit_lib.BrandKit, options: LogoOptions,
                stream: LogoOptions | None = None) -> LogoData:
    """The training stream (of `stream`, default `options`) and validation pool of a kit."""
    backgrounds = kit_lib.load_backgrounds(options.train_backgrounds)
    return LogoData(brand_kit, train_stream(brand_kit, backgrounds, stream or options),
                    render_pool(brand_kit, backgrounds, options.seed + 1, options.augment,
                                options.validation_renders))


WARM_START_SEED_STEP = 100  # a continuation's renders: seed + this x generation


def continuation(options: LogoOptions, generation: int) -> LogoOptions:
    """Training-stream options of a model continued for the `generation`-th time: full
    harshness from the start (no curriculum), renders of a seed no earlier run used."""
    return dataclasses.replace(options, curriculum=0.0,
                               seed=options.seed + WARM_START_SEED_STEP * generation)


def heldout_pool(brand_kit: kit_lib.BrandKit, options: LogoOptions):
    """Held-out renders: other seed, held-out backgrounds, harsher JPEG."""
    config = dataclasses.replace(augment.HELDOUT, image_size=options.image_size)
    return render_pool(brand_kit, kit_lib.load_backgrounds(options.heldout_backgrounds),
                       options.seed + 1000, config, options.heldout_renders)


def fit_kwargs(data: LogoData, options: LogoOptions) -> dict:
    """`model.fit` / `tuner.search` arguments (without epochs) for the training stream."""
    return {"x": data.train, "steps_per_epoch": options.steps_per_epoch,
            "validation_data": data.validation, "validation_batch_size": 256}


def cosine_schedule(learning_rate: float, epochs: int) -> keras.callbacks.Callback:
    """Per-epoch cosine decay from `learning_rate` to 5% of it over `epochs`."""
    def rate(epoch, _):
        return learning_rate * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * epoch / epochs)))

    return keras.callbacks.LearningRateScheduler(rate)


def fit(model: keras.Model, data: LogoData, options: LogoOptions, callbacks=(), verbose=0):
    """Fits on fresh renders for `epochs` (cosine learning-rate decay), validating on the pool."""
    initial = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
    return model.fit(epochs=options.epochs, verbose=verbose,
                     callbacks=[cosine_schedule(initial, options.epochs), *callbacks],
                     **fit_kwargs(data, options))


def _expand(patterns: list[str]) -> list[str]:
    files = sorted(f for p in patterns for f in tf.io.gfile.glob(p))
    if not files:
        raise FileNotFoundError(f"No data files match {patterns}.")
    return files


def architecture_differs(saved: keras.Model, model: keras.Model) -> str | None:
    """Why `saved`'s weights cannot go into `model` (None: every weight's shape is the same)."""
    if [tuple(w.shape) for w in saved.weights] == [tuple(w.shape) for w in model.weights]:
        return None
    return (f"its architecture differs ({saved.count_params():,} parameters against "
            f"{model.count_params():,})")


def warm_start(model: keras.Model, base_model: str | None, brands: list[str]) -> dict:
    """Copies the weights of a saved logo model into `model` when they fit (module docstring).

    Args:
        model: the freshly built network.
        base_model: the Trainer's `fn_args.base_model` (`<model>/Format-Serving`; the
            model.keras and logos.json that `save_model` wrote lie beside it), or None.
        brands: the brand list of this run, in class order.

    Returns:
        {"from": folder or None, "generation": 0 for a fresh start, the base's + 1 for a
        warm one, "note": one line saying what was done and why}.
    """
    if not base_model:
        return {"from": None, "generation": 0, "note": "trained from scratch (no base model)"}
    folder = os.path.dirname(base_model.rstrip("/"))
    try:
        with tf.io.gfile.GFile(os.path.join(folder, "logos.json")) as handle:
            meta = json.load(handle)
        saved = keras.saving.load_model(os.path.join(folder, "model.keras"))
    except (OSError, ValueError, KeyError, tf.errors.OpError) as error:
        return {"from": None, "generation": 0,
                "note": f"trained from scratch: the base model in {folder} could not be read "
                        f"({type(error).__name__}: {error})"}
    why = None
    if meta.get("brands") != list(brands):
        why = "its brand list differs from this run's"
    elif differs := architecture_differs(saved, model):
        why = f"{differs}; the tuner chose other hyperparameters"
    if why:
        return {"from": None, "generation": 0,
                "note": f"trained from scratch: the base model in {folder} does not fit: {why}"}
    model.set_weights(saved.get_weights())
    generation = int(meta.get("warm_start", {}).get("generation", 0)) + 1
    return {"from": folder, "generation": generation,
            "note": f"warm start from {folder} (generation {generation})"}


def save_model(model: keras.Model, brands: list[str], options: LogoOptions, serving_dir: str,
               history=None, warm: dict | None = None) -> None:
    """Writes Format-Serving (LogoServer), model.keras and logos.json beside it."""
    export(LogoServer(model, brands, options.image_size, options.test_time_views), serving_dir)
    write_warmup_requests(serving_dir, [{"image_bytes": [_warmup_png(options.image_size)]}],
                          model_name="logos")
    model_dir = os.path.dirname(serving_dir.rstrip("/"))
    model.save(os.path.join(model_dir, "model.keras"))
    with tf.io.gfile.GFile(os.path.join(model_dir, "logos.json"), "w") as handle:
        json.dump({"brands": brands, "image_size": options.image_size,
                   "parameters": int(model.count_params()), "options": dataclasses.asdict(options),
                   "history": {k: [float(v) for v in vs] for k, vs in
                               (history.history.items() if history else [])},
                   "warm_start": warm or {"from": None, "generation": 0}}, handle, indent=1)


def _warmup_png(size: int) -> bytes:
    return tf.io.encode_png(tf.cast(tf.fill([size, size, 3], 200), tf.uint8)).numpy()


def run_fn(fn_args):
    """TFX Trainer entry point: trains the (tuned) logo classifier and exports it."""
    options = LogoOptions.from_custom_config(getattr(fn_args, "custom_config", None))
    keras.utils.set_random_seed(options.seed)
    brand_kit = kit_lib.kit_from_examples(_expand(fn_args.train_files), 96,
                                          options.colours_csv)
    hp = keras_tuner.HyperParameters()
    if getattr(fn_args, "hyperparameters", None):
        hp = keras_tuner.HyperParameters.from_config(fn_args.hyperparameters)
    hypermodel = model_lib.LogoHyperModel(options.image_size, len(brand_kit.brands),
                                          architectures=("cnn", "resnet"),
                                          precision=options.precision)
    model = hypermodel.build(hp)
    warm = warm_start(model, getattr(fn_args, "base_model", None), brand_kit.brands)
    print(f"[logos] {warm['note']}", flush=True)
    stream = None
    if warm["from"]:
        model.optimizer.learning_rate = options.warm_start_learning_rate
        stream = continuation(options, warm["generation"])
    data = prepare_kit(brand_kit, options, stream)
    callbacks = [keras.callbacks.TensorBoard(fn_args.model_run_dir)] \
        if getattr(fn_args, "model_run_dir", None) else []
    history = fit(model, data, options, callbacks)
    save_model(model, data.kit.brands, options, fn_args.serving_model_dir, history, warm)
