"""TensorBoard HParams dashboard logs of a search, under `<out_dir>/tensorboard/`.

One `hparams_config` (the search space and the objective metric) at the top folder, then one
run folder per trial (`trial_<id>`) holding its hyperparameter values and the objective as a
scalar, the layout of TensorBoard's HParams tutorial. Open with
`tensorboard --logdir <out_dir>/tensorboard`.
"""

from __future__ import annotations

import pathlib
from typing import Any, Mapping, Optional

import tensorflow as tf
from tensorboard.plugins.hparams import api as hp_api

TENSORBOARD_DIR = "tensorboard"


def _domain(hp) -> Optional[Any]:
    """The HParams domain of a keras-tuner hyperparameter, or None when it has none."""
    kind = type(hp).__name__
    if kind == "Choice":
        return hp_api.Discrete(list(hp.values))
    if kind == "Int":
        return hp_api.IntInterval(int(hp.min_value), int(hp.max_value))
    if kind == "Float":
        return hp_api.RealInterval(float(hp.min_value), float(hp.max_value))
    if kind == "Boolean":
        return hp_api.Discrete([False, True])
    if kind == "Fixed":
        return hp_api.Discrete([hp.value])
    return None


def space_to_hparams(space) -> list:
    """`hp_api.HParam`s of the hyperparameters of a `keras_tuner.HyperParameters` space.

    Example:
      >>> import keras_tuner
      >>> space = keras_tuner.HyperParameters()
      >>> _ = space.Int("units", 4, 32, step=4)
      >>> _ = space.Choice("optimizer", ["adam", "sgd"])
      >>> [(h.name, type(h.domain).__name__) for h in space_to_hparams(space)]
      [('units', 'IntInterval'), ('optimizer', 'Discrete')]
    """
    return [hp_api.HParam(hp.name, _domain(hp)) for hp in space.space]


def _loggable(values: Mapping[str, Any]) -> dict:
    return {k: v for k, v in values.items() if isinstance(v, (bool, int, float, str))}


def write_config(out_dir: pathlib.Path, space, objective: str) -> None:
    """Writes the experiment config (search space + objective metric) once per search.

    Args:
      out_dir: The search output folder; logs go to `<out_dir>/tensorboard`.
      space: The `keras_tuner.HyperParameters` search space.
      objective: Name of the objective metric.
    """
    writer = tf.summary.create_file_writer(str(pathlib.Path(out_dir) / TENSORBOARD_DIR))
    with writer.as_default():
        hp_api.hparams_config(hparams=space_to_hparams(space),
                              metrics=[hp_api.Metric(objective, display_name=objective)])
    writer.close()


def write_trial(out_dir: pathlib.Path, trial_id: str, values: Mapping[str, Any],
                objective: str, score: Optional[float]) -> None:
    """Writes one trial's hyperparameter values and objective (when it has one).

    Args:
      out_dir: The search output folder.
      trial_id: The trial id; the run folder is `tensorboard/trial_<id>`.
      values: The trial's hyperparameter values.
      objective: Name of the objective metric.
      score: The objective value, or None for a failed trial (values only).
    """
    run_dir = pathlib.Path(out_dir) / TENSORBOARD_DIR / f"trial_{trial_id}"
    writer = tf.summary.create_file_writer(str(run_dir))
    with writer.as_default():
        hp_api.hparams(_loggable(values), trial_id=f"trial_{trial_id}")
        if score is not None:
            tf.summary.scalar(objective, float(score), step=1)
    writer.close()
