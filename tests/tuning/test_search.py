"""make_tuner/search: three algorithms, budgets that stop the search, trials that fail alone."""

import json
import re
import time

import keras_tuner
import pytest

from cuttingedge.trainers.tuning import (SearchBudget, TooManyFailedTrialsError,
                                         UnknownAlgorithmError)
from cuttingedge.trainers.tuning.search import ALGORITHMS, make_tuner, search
from cuttingedge.trainers.tuning.tuner import BudgetedHyperband


def _tuner(tmp_path, hypermodel, budget, algorithm="random", **kwargs):
    return make_tuner(algorithm, hypermodel, directory=tmp_path, project_name="logo",
                      budget=budget, seed=7, **kwargs)


def test_unknown_algorithm_lists_the_choices(tmp_path, hypermodel):
    with pytest.raises(UnknownAlgorithmError,
                       match=r"Unknown search algorithm 'grid'\. Expected one of "
                             r"\['bayesian', 'hyperband', 'random'\]\. "
                             r"Received: algorithm='grid'\."):
        _tuner(tmp_path, hypermodel, SearchBudget(max_trials=1), algorithm="grid")


def test_max_trials_belongs_in_the_budget(tmp_path, hypermodel):
    with pytest.raises(ValueError, match=r"Set the trial limit in the budget: "
                                         r"SearchBudget\(max_trials=\.\.\.\)\. "
                                         r"Received: max_trials=5\."):
        _tuner(tmp_path, hypermodel, SearchBudget(max_seconds=60), max_trials=5)


def test_hypermodel_is_required(tmp_path):
    with pytest.raises(ValueError, match=r"Received: hypermodel=None\."):
        make_tuner("random", directory=tmp_path, project_name="p",
                   budget=SearchBudget(max_trials=1))


def test_hyperband_is_the_default(tmp_path, hypermodel):
    tuner = make_tuner(hypermodel=hypermodel, directory=tmp_path, project_name="p",
                       budget=SearchBudget(max_trials=1), max_epochs=2)
    assert isinstance(tuner, BudgetedHyperband)
    assert isinstance(tuner.oracle, keras_tuner.oracles.HyperbandOracle)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_trial_budget_stops_at_n(tmp_path, hypermodel, data, algorithm):
    extra = {"max_epochs": 2, "factor": 2} if algorithm == "hyperband" else {}
    tuner = _tuner(tmp_path, hypermodel, SearchBudget(max_trials=2), algorithm, **extra)
    result = search(tuner, data["x"], data["y"], validation_data=data["validation_data"],
                    epochs=1, batch_size=16, verbose=0)
    assert len(result.trials) == 2 and len(tuner.oracle.trials) == 2
    assert result.stop_reason == "max_trials=2 reached: 2 trials done"
    assert result.best_score == max(r.score for r in result.trials if r.status == "COMPLETED")
    assert result.best_hyperparameters.values["filters"] in (2, 3, 4, 5)
    status = json.loads((result.out_dir / "status.json").read_text())
    assert status["stop_reason"] == result.stop_reason
    assert status["remaining"]["trials"] == 0


def test_wall_clock_budget_cuts_the_running_trial(tmp_path, hypermodel, data, slow_batches):
    # Uncut, one trial is 40 epochs x 2 batches x 0.25 s = 20 s; the budget is 3 s.
    tuner = _tuner(tmp_path, hypermodel, SearchBudget(max_trials=10, max_seconds=3))
    start = time.monotonic()
    result = search(tuner, data["x"], data["y"], validation_data=data["validation_data"],
                    epochs=40, batch_size=16, callbacks=[slow_batches(0.25)], verbose=0)
    assert time.monotonic() - start < 12.0
    assert result.stop_reason.startswith("max_seconds=3 reached: ")
    assert len(result.trials) == 1
    cut = result.trials[0]
    assert cut.stopped_at_deadline and cut.status == "COMPLETED" and cut.score is not None
    assert cut.duration_seconds < 12.0
    status = json.loads((result.out_dir / "status.json").read_text())
    assert status["stop_reason"] == result.stop_reason
    assert status["remaining"]["seconds"] == 0.0


def test_money_budget_stops_the_search(tmp_path, hypermodel, data, slow_batches):
    # $2 at $3600/h is 2 s of machine time.
    budget = SearchBudget(max_dollars=2.0, dollars_per_hour=3600.0)
    tuner = _tuner(tmp_path, hypermodel, budget)
    result = search(tuner, data["x"], data["y"], validation_data=data["validation_data"],
                    epochs=40, batch_size=16, callbacks=[slow_batches(0.25)], verbose=0)
    assert re.fullmatch(r"max_dollars=2\.0 reached: spent \$\d+\.\d{4} at \$3600\.0/h "
                        r"in \d+\.\d s", result.stop_reason), result.stop_reason
    assert result.trials[-1].stopped_at_deadline
    assert result.elapsed_seconds < 12.0  # uncut, the first trial alone lasts 20 s
    status = json.loads((result.out_dir / "status.json").read_text())
    assert status["remaining"]["dollars"] == 0.0
    assert status["remaining"]["spent_dollars"] >= 2.0


def test_failing_build_fails_only_its_trial(failed_search):
    result = failed_search.result
    by_filters = {r.hyperparameters["filters"]: r for r in result.trials}
    assert sorted(by_filters) == [2, 3, 4, 5]  # the search went on after each failure
    assert by_filters[3].status == "FAILED"
    assert by_filters[3].failure_reason.endswith("FailedTrialError: filters=3 is not supported")
    # Any other exception is INVALID, then FAILED once retries (0 here) are used up.
    assert by_filters[4].status == "FAILED"
    assert by_filters[4].failure_reason == "ValueError: no 4-filter logos"
    assert {by_filters[2].status, by_filters[5].status} == {"COMPLETED"}
    assert result.stop_reason == "max_trials=4 reached: 4 trials done"
    assert result.best_hyperparameters.values["filters"] in (2, 5)


def test_consecutive_failures_raise_after_recording(tmp_path, make_hypermodel, data):
    hypermodel = make_hypermodel(fit_error=keras_tuner.errors.FailedTrialError("diverged"))
    tuner = _tuner(tmp_path, hypermodel, SearchBudget(max_trials=5),
                   max_consecutive_failed_trials=2)
    with pytest.raises(TooManyFailedTrialsError,
                       match=r"max_consecutive_failed_trials=2 reached: the last 2 trials failed, "
                             r"the last one \(trial 1\) with .*FailedTrialError: diverged\. "
                             r"Fix the hypermodel \(see .*trials\.csv\) or raise "
                             r"max_consecutive_failed_trials in make_tuner\(\.\.\.\)\."):
        search(tuner, data["x"], data["y"], validation_data=data["validation_data"],
               epochs=1, verbose=0)
    status = json.loads((tuner.recorder.out_dir / "status.json").read_text())
    assert status["trials_failed"] == 2
    assert status["stop_reason"].startswith("max_consecutive_failed_trials=2 reached")
