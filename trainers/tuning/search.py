"""Build a budgeted tuner for one of three algorithms, run it, and summarise the search.

    tuner = make_tuner("hyperband", hypermodel, directory=..., project_name=...,
                       budget=SearchBudget(max_seconds=3600, max_dollars=3.0,
                                           dollars_per_hour=3.67), max_epochs=10)
    result = search(tuner, train_ds, validation_data=val_ds, verbose=0)
    result.best_hyperparameters.values, result.best_score, result.stop_reason
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
from typing import Any, Optional

import keras_tuner

from cuttingedge.trainers.tuning import distributed_env
from cuttingedge.trainers.tuning.budget import SearchBudget
from cuttingedge.trainers.tuning.errors import TooManyFailedTrialsError, UnknownAlgorithmError
from cuttingedge.trainers.tuning.records import TrialRecord, TrialRecorder
from cuttingedge.trainers.tuning.tuner import (BudgetedBayesianOptimization, BudgetedHyperband,
                                               BudgetedRandomSearch, BudgetMixin)

TUNERS = {"hyperband": BudgetedHyperband, "bayesian": BudgetedBayesianOptimization,
          "random": BudgetedRandomSearch}
ALGORITHMS = tuple(TUNERS)
DEFAULT_ALGORITHM = "hyperband"


@dataclasses.dataclass(frozen=True)
class SearchResult:
    """What a search found and why it stopped.

    Args:
      best_hyperparameters: `keras_tuner.HyperParameters` of the best completed trial, or None.
      best_score: Its objective value, or None when no trial completed.
      best_trial_id: Its trial id, or None.
      trials: Every trial's record, in the order they ended.
      stop_reason: Which limit (or the oracle) ended the search.
      elapsed_seconds: Wall-clock duration of the search.
      out_dir: Folder of `trials.csv`, `trials.json`, `status.json` and `tensorboard/`.
    """

    best_hyperparameters: Optional[keras_tuner.HyperParameters]
    best_score: Optional[float]
    best_trial_id: Optional[str]
    trials: tuple[TrialRecord, ...]
    stop_reason: str
    elapsed_seconds: float
    out_dir: pathlib.Path

    def table(self) -> list[dict]:
        """The trial table as JSON-ready rows (what `trials.json` holds)."""
        return [record.to_json() for record in self.trials]


def _check_algorithm(algorithm: str) -> type:
    if algorithm not in TUNERS:
        raise UnknownAlgorithmError(
            f"Unknown search algorithm {algorithm!r}. Expected one of {sorted(TUNERS)}. "
            f"Received: algorithm={algorithm!r}."
        )
    return TUNERS[algorithm]


def make_tuner(algorithm: str = DEFAULT_ALGORITHM, hypermodel: Any = None, *,
               objective: Any = "val_accuracy", directory: os.PathLike,
               project_name: str, budget: SearchBudget, seed: int = 0,
               out_dir: Optional[os.PathLike] = None, overwrite: bool = True,
               max_consecutive_failed_trials: int = 3, max_retries_per_trial: int = 0,
               **algorithm_kwargs) -> BudgetMixin:
    """A keras-tuner tuner of `algorithm` that keeps to `budget` and records every trial.

    Args:
      algorithm: "hyperband" (default), "bayesian" or "random".
      hypermodel: A `keras_tuner.HyperModel` or a `build(hp) -> keras.Model` function.
      objective: Metric to optimise (keras-tuner infers max/min from the name).
      directory: keras-tuner's working folder (checkpoints, oracle state).
      project_name: Sub-folder of `directory` for this search.
      budget: Trials, seconds and dollars the search may spend.
      seed: Seed of the oracle and base of every trial's seed.
      out_dir: Where the records go; defaults to `<directory>/<project_name>`. A distributed
        worker writes to `<out_dir>/workers/<tuner_id>`.
      overwrite: Start afresh (True) or resume keras-tuner's saved project (False).
      max_consecutive_failed_trials: Failed trials in a row that end the search.
      max_retries_per_trial: Reruns of a trial that raised something else than
        `FailedTrialError`.
      **algorithm_kwargs: The algorithm's own arguments, e.g. `max_epochs`, `factor` for
        Hyperband, `num_initial_points` for Bayesian optimisation.

    Returns:
      A `BudgetedHyperband`, `BudgetedBayesianOptimization` or `BudgetedRandomSearch`.

    Raises:
      UnknownAlgorithmError: `algorithm` is not one of ALGORITHMS.
      ValueError: `hypermodel` is None or `max_trials` was given outside the budget.

    Example:
      >>> import tempfile, keras
      >>> def build(hp):
      ...     model = keras.Sequential([keras.Input((4,)),
      ...                               keras.layers.Dense(hp.Int("units", 2, 8, step=2)),
      ...                               keras.layers.Dense(2, activation="softmax")])
      ...     model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
      ...                   metrics=["accuracy"])
      ...     return model
      >>> tuner = make_tuner("random", build, directory=tempfile.mkdtemp(), project_name="p",
      ...                    budget=SearchBudget(max_trials=2))
      >>> type(tuner).__name__, tuner.oracle.max_trials
      ('BudgetedRandomSearch', 2)
    """
    tuner_class = _check_algorithm(algorithm)
    if hypermodel is None:
        raise ValueError("make_tuner needs a hypermodel: a keras_tuner.HyperModel or a "
                         "build(hp) -> keras.Model function. Received: hypermodel=None.")
    if "max_trials" in algorithm_kwargs:
        raise ValueError(f"Set the trial limit in the budget: SearchBudget(max_trials=...). "
                         f"Received: max_trials={algorithm_kwargs['max_trials']!r}.")
    if algorithm != "hyperband":
        algorithm_kwargs["max_trials"] = budget.max_trials
    tuner = tuner_class(hypermodel=hypermodel, objective=objective, directory=str(directory),
                        project_name=project_name, budget=budget, seed=seed,
                        overwrite=overwrite and not distributed_env.is_worker(),
                        max_consecutive_failed_trials=max_consecutive_failed_trials,
                        max_retries_per_trial=max_retries_per_trial, **algorithm_kwargs)
    records = pathlib.Path(out_dir) if out_dir is not None else pathlib.Path(tuner.project_dir)
    tuner.recorder = TrialRecorder(distributed_env.records_dir(records),
                                   objective=tuner.oracle.objective.name,
                                   direction=tuner.oracle.objective.direction,
                                   budget=budget, algorithm=algorithm, seed=seed)
    return tuner


def _consecutive_failures(tuner: BudgetMixin) -> int:
    count = 0
    for record in reversed(tuner.recorder.records):
        if record.status != "FAILED":
            break
        count += 1
    return count


def _space(tuner: BudgetMixin):
    """The oracle's search space; empty in a worker whose chief has already shut down.

    A distributed worker reaches the oracle over gRPC, and the chief stops serving once the
    search is over, so a worker finishing after it cannot ask; its best values still hold.
    """
    try:
        import grpc
        gone = (grpc.RpcError,)
    except ImportError:  # no gRPC: no remote oracle either
        gone = ()
    try:
        return tuner.oracle.get_space()
    except gone:
        return keras_tuner.HyperParameters()


def _best(tuner: BudgetMixin, recorder: TrialRecorder):
    best = recorder.best()
    if best is None:
        return None, None, None
    hp = _space(tuner)
    hp.values = dict(best.hyperparameters)
    return hp, best.score, best.trial_id


def search(tuner: BudgetMixin, *fit_args, **fit_kwargs) -> SearchResult:
    """Runs `tuner.search(*fit_args, **fit_kwargs)` within its budget and summarises it.

    Args:
      tuner: A tuner from `make_tuner`.
      *fit_args: Passed to `model.fit`, e.g. `x, y` or a `tf.data.Dataset`.
      **fit_kwargs: Passed to `model.fit`, e.g. `validation_data`, `epochs`, `verbose=0`.

    Returns:
      A `SearchResult`.

    Raises:
      TooManyFailedTrialsError: `max_consecutive_failed_trials` trials failed in a row; the
        records and `status.json` (with this reason) are written first.

    Example:
      >>> import tempfile, keras, numpy as np
      >>> def build(hp):
      ...     model = keras.Sequential([keras.Input((4,)),
      ...                               keras.layers.Dense(hp.Choice("units", [2, 4])),
      ...                               keras.layers.Dense(1)])
      ...     model.compile(optimizer="sgd", loss="mse", run_eagerly=True)
      ...     return model
      >>> tuner = make_tuner("random", build, objective="val_loss", directory=tempfile.mkdtemp(),
      ...                    project_name="p", budget=SearchBudget(max_trials=1))
      >>> x, y = np.zeros((8, 4)), np.zeros(8)
      >>> result = search(tuner, x, y, validation_data=(x, y), epochs=1, verbose=0)
      >>> result.stop_reason, [r.status for r in result.trials]
      ('max_trials=1 reached: 1 trials done', ['COMPLETED'])
    """
    try:
        tuner.search(*fit_args, **fit_kwargs)
    except RuntimeError as error:
        limit = tuner.oracle.max_consecutive_failed_trials
        if _consecutive_failures(tuner) < limit:
            raise
        last = tuner.recorder.records[-1]
        reason = (f"max_consecutive_failed_trials={limit} reached: the last {limit} trials "
                  f"failed, the last one (trial {last.trial_id}) with {last.failure_reason}")
        tuner.recorder.finish(reason)
        raise TooManyFailedTrialsError(
            f"{reason}. Fix the hypermodel (see {tuner.recorder.out_dir / 'trials.csv'}) or "
            f"raise max_consecutive_failed_trials in make_tuner(...)."
        ) from error
    return summarise(tuner)


def summarise(tuner: BudgetMixin) -> SearchResult:
    """The `SearchResult` of a tuner whose search has ended (from its recorder)."""
    recorder = tuner.recorder
    best_hp, best_score, best_id = _best(tuner, recorder)
    return SearchResult(best_hyperparameters=best_hp, best_score=best_score,
                        best_trial_id=best_id, trials=tuple(recorder.records),
                        stop_reason=tuner.stop_reason or recorder.stop_reason,
                        elapsed_seconds=recorder.elapsed(), out_dir=recorder.out_dir)
