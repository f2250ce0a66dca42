"""Architecture search over the ladder and layer sizes with Keras Tuner, for the detector.

One search space, defined once: `probabilistic.build_hypermodel` (step, units, layers,
learning rate) and `probabilistic.SearchSpace`; the objective is the ladder-wide held-out
NLL ("val_nll"), on the same fitting and held-out windows `fit_detector` uses. The best
`keras_tuner.HyperParameters` go back into `fit_detector(..., hyperparameters=hp)`.

Example:
    >>> import numpy as np, tempfile
    >>> from cuttingedge.trainers.anomaly.detector import DetectorConfig
    >>> values = np.sin(np.arange(300) / 5.0)
    >>> config = DetectorConfig(window=8, train_fraction=0.5, epochs=1)
    >>> hp = search_hyperparameters(values, config, trials=1, directory=tempfile.mkdtemp())
    >>> sorted(hp.values)
    ['layers', 'learning_rate', 'step', 'units']
"""

from __future__ import annotations

import os

import keras

from cuttingedge.trainers import probabilistic as prob
from cuttingedge.trainers.anomaly.detector import (DetectorConfig, TrainingData,
                                                   build_forecaster, prepare)

DEFAULT_SPACE = prob.SearchSpace(steps=("learned_scale", "bayesian_learned_scale",
                                        "gaussian_process"), max_units=64, max_layers=2)


def search_hyperparameters(values, config: DetectorConfig, trials: int, directory,
                           space: prob.SearchSpace = DEFAULT_SPACE, data: TrainingData = None):
    """Random search of `trials` trials; returns the best HyperParameters.

    Args:
        values: what `fit_detector` takes (an array, a Series or a mapping of them).
        config: the `DetectorConfig` (window, epochs, batch size, seed, ...).
        trials: number of trials, >= 1.
        directory: Keras Tuner's working folder; trial records go there too.
        space: the `SearchSpace`.
        data: prepared windows (`detector.prepare(values, config)`), if already at hand.

    Raises:
        ValueError: trials < 1.
        RuntimeError: no trial completed.
    """
    from cuttingedge.trainers.tuning.budget import SearchBudget
    from cuttingedge.trainers.tuning.search import make_tuner, search

    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ValueError(f"Expected trials to be a positive integer. Received: "
                         f"trials={trials!r}.")
    data = data or prepare(values, config)

    def build(hp):
        return build_forecaster(config, data, hp, space)

    tuner = make_tuner("random", build, objective=prob.tuner_objective(),
                       directory=os.fspath(directory), project_name="anomaly",
                       budget=SearchBudget(max_trials=trials), seed=config.seed)
    stop = keras.callbacks.EarlyStopping(monitor="val_nll", mode="min",
                                         patience=config.patience)
    result = search(tuner, data.x_fit, data.y_fit, batch_size=config.batch_size,
                    epochs=config.epochs, validation_data=(data.x_validation,
                                                           data.y_validation),
                    callbacks=[stop], verbose=0)
    if result.best_hyperparameters is None:
        raise RuntimeError(f"No tuning trial completed ({result.stop_reason}); see "
                           f"{directory}.")
    return result.best_hyperparameters
