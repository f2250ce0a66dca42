"""Errors of the tuning layer, shaped like keras-tuner's `errors.py`.

The class tells control flow what to do:

* `keras_tuner.errors.FailedTrialError` (also importable as
  `cuttingedge.trainers.tuning.FailedTrialError`), raised by a hypermodel's `build` or `fit`,
  fails only its trial: it is recorded FAILED with the reason and the search goes on. Any other
  exception marks the trial INVALID, retried `max_retries_per_trial` times, then FAILED.
* `TuningError` subclasses end the call that raised them: a bad budget or algorithm name before
  anything runs, or a search whose trials keep failing (`TooManyFailedTrialsError`).

This module imports nothing heavy, so `status.py` and `dashboard.py` stay free of TensorFlow.

Example:
  >>> from cuttingedge.trainers.tuning import errors
  >>> issubclass(errors.InvalidBudgetError, ValueError)
  True
  >>> issubclass(errors.StatusNotFoundError, FileNotFoundError)
  True
"""

__all__ = [
    "TuningError",
    "InvalidBudgetError",
    "UnknownAlgorithmError",
    "TooManyFailedTrialsError",
    "StatusNotFoundError",
    "DistributedSearchError",
]


class TuningError(Exception):
    """Base class of the errors that end a tuning call (never raised for a single trial)."""


class InvalidBudgetError(TuningError, ValueError):
    """A `SearchBudget` field is missing, of the wrong type or out of range."""


class UnknownAlgorithmError(TuningError, ValueError):
    """The search algorithm name is not one of `search.ALGORITHMS`."""


class TooManyFailedTrialsError(TuningError, RuntimeError):
    """`max_consecutive_failed_trials` trials failed in a row: the hypermodel is likely broken."""


class StatusNotFoundError(TuningError, FileNotFoundError):
    """The folder given to `format_status` or the dashboard holds no `status.json`."""


class DistributedSearchError(TuningError, RuntimeError):
    """A chief or worker process of a distributed search failed or timed out."""
