"""keras-tuner tuners that keep to a `SearchBudget` and record every trial.

The role split stays keras-tuner's: the HyperModel builds, the Oracle picks values, the Tuner
runs trials. `BudgetMixin` only adds to the Tuner's hooks:

* `pre_create_trial`: stops the search before a new trial when the budget is exhausted
  (max_trials, wall clock or money, whichever comes first);
* `run_trial`: adds a `DeadlineCallback`, so a trial in progress ends at the deadline;
* `_build_hypermodel`: seeds Keras with the trial's seed, so the trial can be rebuilt;
* `on_trial_end`: writes the trial's record (after the oracle has its final status).

Trial failures keep keras-tuner's semantics: `FailedTrialError` in `build`/`fit` marks the
trial FAILED, any other exception INVALID (retried `max_retries_per_trial` times, then
FAILED); the search goes on until `max_consecutive_failed_trials` trials fail in a row.
"""

from __future__ import annotations

import time
import zlib
from typing import Optional

import keras
import keras_tuner

from cuttingedge.trainers.tuning import hparams_log
from cuttingedge.trainers.tuning.budget import SearchBudget
from cuttingedge.trainers.tuning.callbacks import DeadlineCallback
from cuttingedge.trainers.tuning.records import TrialRecord, TrialRecorder, failure_reason


ORACLE_DONE = ("the oracle has no more trials to run (search space exhausted or every "
               "Hyperband bracket done)")
WORKER_STOPPED = "the chief stopped the search (its status.json says why)"


class BudgetExhausted(Exception):
    """Internal signal from `pre_create_trial` to leave keras-tuner's search loop."""


def trial_seed(seed: int, trial_id: str) -> int:
    """The seed of one trial: `seed + int(trial_id)`, or a CRC32 of a non-numeric id.

    Example:
      >>> trial_seed(42, "07")
      49
    """
    offset = int(trial_id) if str(trial_id).isdigit() else zlib.crc32(str(trial_id).encode())
    return (int(seed) + offset) % (2**31 - 1)


def _param_count(model) -> Optional[int]:
    return int(model.count_params()) if model.built else None


class BudgetMixin:
    """Budget, deadline, seeding and recording on top of a keras-tuner `Tuner` subclass.

    Args:
      budget: The `SearchBudget`.
      recorder: Where trial records go, or None to record nothing.
      seed: Base seed of the trials (`trial_seed(seed, trial_id)`), also the oracle's seed.
      **kwargs: The keras-tuner tuner's own arguments.
    """

    def __init__(self, *args, budget: SearchBudget, recorder: Optional[TrialRecorder] = None,
                 seed: int = 0, **kwargs):
        self.budget, self.recorder, self.base_seed = budget, recorder, seed
        self.stop_reason: Optional[str] = None
        self._search_start: Optional[float] = None
        self._deadline: Optional[float] = None
        self._trial_start: dict[str, float] = {}
        self._params: dict[str, Optional[int]] = {}
        self._current_trial_id: Optional[str] = None
        super().__init__(*args, seed=seed, **kwargs)

    @property
    def is_worker(self) -> bool:
        """True in a distributed worker, whose oracle is the chief's (reached through gRPC)."""
        return not isinstance(self.oracle, keras_tuner.Oracle)

    def elapsed(self) -> float:
        """Seconds since the search began (0 before)."""
        return 0.0 if self._search_start is None else time.monotonic() - self._search_start

    def search(self, *fit_args, **fit_kwargs):
        """keras-tuner's search loop, ended early by the budget; see `BaseTuner.search`."""
        try:
            super().search(*fit_args, **fit_kwargs)
        except BudgetExhausted:
            self.on_search_end()

    def on_search_begin(self):
        super().on_search_begin()
        self.stop_reason = None
        self._search_start = time.monotonic()
        deadline = self.budget.deadline_seconds
        self._deadline = None if deadline is None else self._search_start + deadline
        if self.recorder is not None:
            # In a worker, get_space() waits for the chief to serve, so after the chief's
            # start-up (which may clear the project folder) before this writes anything.
            space = self.oracle.get_space()
            self.recorder.start()
            hparams_log.write_config(self.recorder.out_dir, space, self.recorder.objective)

    def pre_create_trial(self):
        super().pre_create_trial()
        if self.is_worker:  # the chief's oracle enforces the budget for every worker
            return
        reason = self.budget.exhausted(len(self.oracle.trials), self.elapsed())
        if reason is not None:
            self.stop_reason = reason
            raise BudgetExhausted(reason)

    def on_trial_begin(self, trial):
        self._current_trial_id = trial.trial_id
        self._trial_start[trial.trial_id] = time.monotonic()
        self._params[trial.trial_id] = None
        super().on_trial_begin(trial)

    def run_trial(self, trial, *fit_args, **fit_kwargs):
        callbacks = list(fit_kwargs.pop("callbacks", None) or [])
        fit_kwargs["callbacks"] = [*callbacks, DeadlineCallback(self._deadline)]
        return super().run_trial(trial, *fit_args, **fit_kwargs)

    def _build_hypermodel(self, hp):
        if self._current_trial_id is not None:
            keras.utils.set_random_seed(trial_seed(self.base_seed, self._current_trial_id))
        model = super()._build_hypermodel(hp)
        if self._current_trial_id is not None:
            self._params[self._current_trial_id] = _param_count(model)
        return model

    def on_epoch_end(self, trial, model, epoch, logs=None):
        self._params[trial.trial_id] = _param_count(model)
        super().on_epoch_end(trial, model, epoch, logs)

    def on_trial_end(self, trial):
        try:
            super().on_trial_end(trial)  # the oracle ends the trial: final status and score
        finally:
            self._current_trial_id = None
            if self.recorder is not None:
                self._record(trial)

    def on_search_end(self):
        super().on_search_end()
        if self.stop_reason is None:
            self.stop_reason = (WORKER_STOPPED if self.is_worker else ORACLE_DONE)
        if self.recorder is not None:
            self.recorder.finish(self.stop_reason)

    def _record(self, trial) -> None:
        ended = self.oracle.get_trial(trial.trial_id)
        record = self._make_record(trial, ended)
        self.recorder.add(record)
        hparams_log.write_trial(self.recorder.out_dir, record.trial_id, record.hyperparameters,
                                self.recorder.objective, record.score)

    def _make_record(self, trial, ended) -> TrialRecord:
        status = str(ended.status)
        if status not in ("COMPLETED", "FAILED", "INVALID"):  # a worker's copy lags behind
            status = str(trial.status)
        metrics = {name: ended.metrics.get_best_value(name) for name in ended.metrics.metrics}
        start = self._trial_start.pop(trial.trial_id, None)
        now = time.monotonic()
        return TrialRecord(
            trial_id=trial.trial_id,
            status=status,
            hyperparameters=dict(trial.hyperparameters.values),
            metrics=metrics,
            score=ended.score if status == "COMPLETED" else None,
            param_count=self._params.pop(trial.trial_id, None),
            duration_seconds=None if start is None else now - start,
            seed=trial_seed(self.base_seed, trial.trial_id),
            failure_reason=None if status == "COMPLETED" else failure_reason(trial.message),
            tuner_id=self.tuner_id,
            stopped_at_deadline=self._deadline is not None and now >= self._deadline,
        )


class BudgetedHyperband(BudgetMixin, keras_tuner.Hyperband):
    """`keras_tuner.Hyperband` that keeps to a `SearchBudget`; see `BudgetMixin`."""


class BudgetedBayesianOptimization(BudgetMixin, keras_tuner.BayesianOptimization):
    """`keras_tuner.BayesianOptimization` that keeps to a `SearchBudget`; see `BudgetMixin`."""


class BudgetedRandomSearch(BudgetMixin, keras_tuner.RandomSearch):
    """`keras_tuner.RandomSearch` that keeps to a `SearchBudget`; see `BudgetMixin`."""
