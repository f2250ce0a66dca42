"""Hyperparameter search for the logo classifier: keras-tuner within a time and money budget.

Roles stay keras-tuner's (HyperModel builds, Oracle picks values, Tuner runs trials); this
package adds, each in its own module:

* `budget.SearchBudget`: max trials, seconds and dollars, whichever comes first;
* `search.make_tuner` / `search.search`: Hyperband (default), Bayesian or random search
  that stops on the budget, cuts the trial in progress at the deadline and records trials;
* `records`: `trials.csv`, `trials.json`, `status.json` after every trial, TensorBoard HParams
  logs under `tensorboard/` (`hparams_log`);
* `status.format_status` and `dashboard.serve_dashboard`: reading a running search;
* `distributed`: keras-tuner's chief/worker tuning on one machine.

The light names (budget, status, dashboard, errors) import without TensorFlow; the others are
imported on first use. The `search` function lives in its module (the package attribute
`search` is that module): `from cuttingedge.trainers.tuning.search import make_tuner, search`.

Example:
  >>> from cuttingedge.trainers import tuning
  >>> tuning.SearchBudget(max_seconds=60).deadline_seconds
  60.0
"""

import importlib

from cuttingedge.trainers.tuning.budget import SearchBudget
from cuttingedge.trainers.tuning.dashboard import main_dashboard, serve_dashboard
from cuttingedge.trainers.tuning.errors import (DistributedSearchError, InvalidBudgetError,
                                                StatusNotFoundError, TooManyFailedTrialsError,
                                                TuningError, UnknownAlgorithmError)
from cuttingedge.trainers.tuning.records import (TrialRecord, TrialRecorder, load_status,
                                                 load_trials)
from cuttingedge.trainers.tuning.status import format_status

_LAZY = {
    "ALGORITHMS": "search",
    "SearchResult": "search",
    "make_tuner": "search",
    "DeadlineCallback": "callbacks",
    "run_distributed_search": "distributed",
    "start_local_cluster": "distributed",
    "serve_oracle": "distributed",
    "FailedTrialError": None,
}

__all__ = [
    "SearchBudget", "main_dashboard", "serve_dashboard", "format_status", "TrialRecord",
    "TrialRecorder", "load_status", "load_trials", "TuningError", "InvalidBudgetError",
    "UnknownAlgorithmError", "TooManyFailedTrialsError", "StatusNotFoundError",
    "DistributedSearchError", *_LAZY,
]


def __getattr__(name):
    """Imports the TensorFlow-backed names (search, callbacks, distributed) on first use."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if name == "FailedTrialError":
        return importlib.import_module("keras_tuner.errors").FailedTrialError
    module = importlib.import_module(f"{__name__}.{_LAZY[name]}")
    return getattr(module, name)
