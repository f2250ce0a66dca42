"""Training of the logo classifier: render pools, the TFX Trainer `run_fn`, the baseline.

Three disjoint render sets, never mixed:
  train       seed `seed`,       training backgrounds, AugmentConfig()   (fit)
  validation  seed `seed + 1`,   training backgrounds, AugmentConfig()   (tuning objective)
  held-out    seed `seed + 1000`, held-out backgrounds, HELDOUT          (final comparison only)
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import json
import os

import keras
import keras_tuner
import numpy as np
import tensorflow as tf

from cuttingedge.components.serving.warmup import write_warmup_requests
from cuttingedge.trainers.logos import augment, kit as kit_lib, model as model_lib
from cuttingedge.trainers.logos.serving import LogoServer, export


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
    seed: int = 0
    colours_csv: str = ""
    train_backgrounds: str = ""
    heldout_backgrounds: str = ""

    def __post_init__(self):
        for name in ("image_size", "train_renders", "validation_renders", "heldout_renders",
                     "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1. Received: {getattr(self, name)}")
        defaults = {"colours_csv": _sample("logos", "brands.csv"),
                    "train_backgrounds": _sample("backgrounds", "train"),
                    "heldout_backgrounds": _sample("backgrounds", "heldout")}
        for name, value in defaults.items():
            if not getattr(self, name):
                object.__setattr__(self, name, value)

    @classmethod
    def from_custom_config(cls, custom: dict | None) -> "LogoOptions":
        custom = dict(custom or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(custom) - known)
        if unknown:
            raise ValueError(f"Unknown custom_config keys {unknown}. Expected some of "
                             f"{sorted(known)}.")
        return cls(**custom)

    @property
    def augment(self) -> augment.AugmentConfig:
        return augment.AugmentConfig(image_size=self.image_size)


def render_pool(brand_kit: kit_lib.BrandKit, backgrounds: np.ndarray, seed: int,
                config: augment.AugmentConfig, count: int) -> tuple[np.ndarray, np.ndarray]:
    """`count` renders cycling over the brands, as arrays (images, labels)."""
    images, labels = [], []
    for x, y in augment.make_renders(brand_kit.masks, brand_kit.colours, backgrounds, seed,
                                     config, count).batch(512):
        images.append(x.numpy())
        labels.append(y.numpy())
    return np.concatenate(images), np.concatenate(labels)


@dataclasses.dataclass
class LogoData:
    """The brand kit and the train and validation render pools."""

    kit: kit_lib.BrandKit
    train: tuple[np.ndarray, np.ndarray]
    validation: tuple[np.ndarray, np.ndarray]


def prepare(train_files: list[str], options: LogoOptions) -> LogoData:
    """Loads the brand kit from ImageExampleGen records and renders train/validation pools."""
    brand_kit = kit_lib.kit_from_examples(train_files, 96, options.colours_csv)
    backgrounds = kit_lib.load_backgrounds(options.train_backgrounds)
    config = options.augment
    return LogoData(brand_kit,
                    render_pool(brand_kit, backgrounds, options.seed, config,
                                options.train_renders),
                    render_pool(brand_kit, backgrounds, options.seed + 1, config,
                                options.validation_renders))


def heldout_pool(brand_kit: kit_lib.BrandKit, options: LogoOptions):
    """Held-out renders: other seed, held-out backgrounds, harsher JPEG."""
    config = dataclasses.replace(augment.HELDOUT, image_size=options.image_size)
    return render_pool(brand_kit, kit_lib.load_backgrounds(options.heldout_backgrounds),
                       options.seed + 1000, config, options.heldout_renders)


def fit(model: keras.Model, data: LogoData, options: LogoOptions, callbacks=()):
    """Fits on the train pool, validating on the validation pool."""
    return model.fit(*data.train, batch_size=options.batch_size, epochs=options.epochs,
                     validation_data=data.validation, callbacks=list(callbacks), verbose=0)


def _expand(patterns: list[str]) -> list[str]:
    files = sorted(f for p in patterns for f in tf.io.gfile.glob(p))
    if not files:
        raise FileNotFoundError(f"No data files match {patterns}.")
    return files


def save_model(model: keras.Model, brands: list[str], options: LogoOptions, serving_dir: str,
               history=None) -> None:
    """Writes Format-Serving (LogoServer), model.keras and logos.json beside it."""
    export(LogoServer(model, brands, options.image_size), serving_dir)
    write_warmup_requests(serving_dir, [{"image_bytes": [_warmup_png(options.image_size)]}],
                          model_name="logos")
    model_dir = os.path.dirname(serving_dir.rstrip("/"))
    model.save(os.path.join(model_dir, "model.keras"))
    with tf.io.gfile.GFile(os.path.join(model_dir, "logos.json"), "w") as handle:
        json.dump({"brands": brands, "image_size": options.image_size,
                   "parameters": int(model.count_params()), "options": dataclasses.asdict(options),
                   "history": {k: [float(v) for v in vs] for k, vs in
                               (history.history.items() if history else [])}}, handle, indent=1)


def _warmup_png(size: int) -> bytes:
    return tf.io.encode_png(tf.cast(tf.fill([size, size, 3], 200), tf.uint8)).numpy()


def run_fn(fn_args):
    """TFX Trainer entry point: trains the (tuned) logo classifier and exports it."""
    options = LogoOptions.from_custom_config(getattr(fn_args, "custom_config", None))
    keras.utils.set_random_seed(options.seed)
    data = prepare(_expand(fn_args.train_files), options)
    hp = keras_tuner.HyperParameters()
    if getattr(fn_args, "hyperparameters", None):
        hp = keras_tuner.HyperParameters.from_config(fn_args.hyperparameters)
    hypermodel = model_lib.LogoHyperModel(options.image_size, len(data.kit.brands),
                                          architectures=("cnn", "resnet"))
    model = hypermodel.build(hp)
    callbacks = [keras.callbacks.TensorBoard(fn_args.model_run_dir)] \
        if getattr(fn_args, "model_run_dir", None) else []
    history = fit(model, data, options, callbacks)
    save_model(model, data.kit.brands, options, fn_args.serving_model_dir, history)
