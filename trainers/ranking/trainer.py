"""TFX Trainer `run_fn` and Tuner `tuner_fn` of the neural ranker (one search space for both).

Trainer(run_fn="cuttingedge.trainers.ranking.trainer.run_fn", custom_config={...}) writes:
  <model>/Format-Serving/   SavedModel, serving_default(ELWC) -> scores
  <model>/scorer.keras      the Keras scorer (for blending with LambdaMART)
  <model>/ranker.json       feature names, text config and list size used
Without tuned hyperparameters it trains with the defaults of RankerConfig.
"""

from __future__ import annotations

import dataclasses
import json
import os

import keras
import keras_tuner
import numpy as np
import tensorflow as tf

from cuttingedge.trainers.options import from_custom_config
from cuttingedge.trainers.ranking import data, serving
from cuttingedge.trainers.ranking.model import RankerConfig, build_ranker, position_propensities
from cuttingedge.trainers.ranking.preprocess import TextConfig, preprocess

TEXT = TextConfig()
LOSS_CHOICES = ("approx_ndcg", "softmax", "pairwise_logistic", "sigmoid_cross_entropy")


def search_space(hp: keras_tuner.HyperParameters) -> RankerConfig:
    """The tunable hyperparameters, defined once for tuner_fn and run_fn."""
    units = hp.Int("units", 16, 64, step=16, default=32)
    return RankerConfig(
        loss=hp.Choice("loss", list(LOSS_CHOICES), default="approx_ndcg"),
        group_size=hp.Choice("group_size", [1, 2, 3], default=1),
        interaction=hp.Choice("interaction", ["none", "attention"], default="none"),
        hidden_units=(units * 2, units),
        learning_rate=hp.Float("learning_rate", 1e-3, 1e-2, sampling="log", default=3e-3))


@dataclasses.dataclass(frozen=True)
class TrainOptions:
    """Options from the Trainer's custom_config."""

    epochs: int = 10
    batch_size: int = 32
    list_size: int = 0  # 0: the longest training list, at most 128
    position_bias: bool = True
    use_text: bool = False  # token embeddings; the overlap feature is always used
    seed: int = 0
    max_trials: int = 3

    @classmethod
    def from_custom_config(cls, custom: dict | None) -> "TrainOptions":
        return from_custom_config(cls, custom)


def _model_inputs(batch: dict, with_position: bool) -> tuple[dict, tf.Tensor]:
    inputs = preprocess(batch, TEXT)
    if with_position:
        inputs["position"] = batch["position"]
    return inputs, batch["label"]


def _datasets(fn_args, feature_names, options: TrainOptions, list_size: int):
    train = data.make_dataset(fn_args.train_files, feature_names, list_size,
                              options.batch_size, shuffle=True, seed=options.seed)
    evaluation = data.make_dataset(fn_args.eval_files, feature_names, list_size,
                                   options.batch_size)
    to_inputs = lambda batch: _model_inputs(batch, options.position_bias)  # noqa: E731
    return train.map(to_inputs), evaluation.map(to_inputs)


def _numeric_sample(files, feature_names, list_size, limit=20000) -> np.ndarray:
    docs = []
    for batch in data.make_dataset(files, feature_names, list_size, 256):
        mask = batch["label"].numpy() >= 0
        docs.append(batch["numeric"].numpy()[mask])
        if sum(len(d) for d in docs) >= limit:
            break
    return np.concatenate(docs)[:limit]


def _expand(patterns: list[str]) -> list[str]:
    files = sorted(f for p in patterns for f in tf.io.gfile.glob(p))
    if not files:
        raise FileNotFoundError(f"No data files match {patterns}.")
    return files


def _setup(fn_args):
    fn_args.train_files = _expand(fn_args.train_files)
    fn_args.eval_files = _expand(fn_args.eval_files)
    options = TrainOptions.from_custom_config(getattr(fn_args, "custom_config", None))
    feature_names = data.feature_names_from_schema(fn_args.schema_path)
    list_size = options.list_size or min(128, max(2, data.max_list_size(fn_args.train_files)))
    sample = _numeric_sample(fn_args.train_files, feature_names, list_size)
    return options, feature_names, list_size, sample


def _with_options(config: RankerConfig, options: TrainOptions) -> RankerConfig:
    return dataclasses.replace(config, position_bias=options.position_bias,
                               use_text=options.use_text)


def tuner_fn(fn_args):
    """TFX Tuner entry point: a Keras Tuner RandomSearch over `search_space`."""
    from tfx import v1 as tfx

    options, feature_names, list_size, sample = _setup(fn_args)
    keras.utils.set_random_seed(options.seed)

    def build(hp):
        config = _with_options(search_space(hp), options)
        return build_ranker(config, len(feature_names), sample, TEXT.buckets,
                            (TEXT.query_tokens, TEXT.doc_tokens))[1]

    tuner = keras_tuner.RandomSearch(
        build, objective=keras_tuner.Objective("val_ndcg_10", "max"),
        max_trials=options.max_trials, directory=fn_args.working_dir, project_name="ranking", seed=options.seed,
        overwrite=True)
    train, evaluation = _datasets(fn_args, feature_names, options, list_size)
    return tfx.components.TunerFnResult(tuner=tuner, fit_kwargs={
        "x": train, "validation_data": evaluation, "epochs": max(1, options.epochs // 2),
        "verbose": 0})


def train_ranker(fn_args, config: RankerConfig | None = None):
    """Trains the ranker.

    Returns:
        (scorer, history, feature_names, list_size, config, propensity): `propensity` is the
        position tower's relative examination propensity by display position (1-based list,
        position 1 first), or None without the tower.
    """
    options, feature_names, list_size, sample = _setup(fn_args)
    keras.utils.set_random_seed(options.seed)
    if config is None:
        hp = keras_tuner.HyperParameters()
        if getattr(fn_args, "hyperparameters", None):
            hp = keras_tuner.HyperParameters.from_config(fn_args.hyperparameters)
        config = search_space(hp)
    config = _with_options(config, options)
    scorer, trainer = build_ranker(config, len(feature_names), sample, TEXT.buckets,
                                   (TEXT.query_tokens, TEXT.doc_tokens))
    train, evaluation = _datasets(fn_args, feature_names, options, list_size)
    callbacks = []
    if getattr(fn_args, "model_run_dir", None):
        callbacks.append(keras.callbacks.TensorBoard(fn_args.model_run_dir))
    history = trainer.fit(train, validation_data=evaluation, epochs=options.epochs,
                          callbacks=callbacks, verbose=0)
    return (scorer, history, feature_names, list_size, config,
            position_propensities(trainer))


def run_fn(fn_args):
    """TFX Trainer entry point."""
    scorer, history, feature_names, list_size, config, propensity = train_ranker(fn_args)
    serving_dir = fn_args.serving_model_dir
    model_dir = os.path.dirname(serving_dir.rstrip("/"))
    serving.export(serving.RankingServer(scorer, feature_names, TEXT), serving_dir)
    scorer.save(os.path.join(model_dir, "scorer.keras"))
    with tf.io.gfile.GFile(os.path.join(model_dir, "ranker.json"), "w") as handle:
        json.dump({"feature_names": feature_names, "list_size": list_size,
                   "config": dataclasses.asdict(config), "propensity": propensity,
                   "history": {k: [float(x) for x in v] for k, v in history.history.items()}},
                  handle, indent=1)
