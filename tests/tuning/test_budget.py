"""SearchBudget: validation messages, which limit runs out first, what is left."""

import math

import pytest

from cuttingedge.trainers.tuning import InvalidBudgetError, SearchBudget


@pytest.mark.parametrize("kwargs, message", [
    ({"max_dollars": 0, "dollars_per_hour": 3.67},
     r"max_dollars must be > 0\. Received: max_dollars=0\. Use None for no max_dollars limit\."),
    ({"max_seconds": -5.0}, r"max_seconds must be > 0\. Received: max_seconds=-5\.0\."),
    ({"max_trials": 0}, r"max_trials must be > 0\. Received: max_trials=0\."),
    ({"max_trials": 2.5}, r"max_trials must be an int or None\. Received: max_trials=2\.5 "
                          r"of type float\."),
    ({"max_trials": True}, r"max_trials must be an int or None\. Received: max_trials=True"),
    ({"max_seconds": math.inf}, r"max_seconds must be a finite number or None\. "
                                r"Received: max_seconds=inf\."),
    ({"max_seconds": "60"}, r"max_seconds must be a finite number or None\. "
                            r"Received: max_seconds='60'\."),
    ({}, r"A SearchBudget needs at least one limit\. Received: max_trials=None, "
         r"max_seconds=None, max_dollars=None\."),
    ({"max_trials": 3, "dollars_per_hour": -1.0},
     r"dollars_per_hour must be a finite number >= 0\. Received: dollars_per_hour=-1\.0\."),
    ({"max_dollars": 5.0},
     r"max_dollars needs the machine rate dollars_per_hour \(e\.g\. 3\.67\)\. "
     r"Received: max_dollars=5\.0, dollars_per_hour=None\."),
    ({"max_dollars": 5.0, "dollars_per_hour": 0},
     r"dollars_per_hour=0 never spends max_dollars=5\.0\. Received: dollars_per_hour=0\."),
])
def test_invalid_budgets_say_what_was_received(kwargs, message):
    with pytest.raises(InvalidBudgetError, match=message):
        SearchBudget(**kwargs)


def test_invalid_budget_is_a_value_error():
    with pytest.raises(ValueError):
        SearchBudget(max_trials=-1)


def test_budget_is_frozen():
    budget = SearchBudget(max_trials=3)
    with pytest.raises(AttributeError):
        budget.max_trials = 4


def test_a_rate_without_money_limit_only_prices_estimates():
    budget = SearchBudget(max_seconds=100, dollars_per_hour=3.67)
    assert budget.deadline_seconds == 100
    assert budget.spent_dollars(3600) == pytest.approx(3.67)


def test_trial_limit_reason():
    budget = SearchBudget(max_trials=4, max_seconds=1000)
    assert budget.exhausted(3, 10.0) is None
    assert budget.exhausted(4, 10.0) == "max_trials=4 reached: 4 trials done"


def test_wall_clock_limit_reason():
    budget = SearchBudget(max_seconds=3)
    assert budget.exhausted(100, 2.99) is None
    assert budget.exhausted(100, 3.5) == "max_seconds=3 reached: 3.5 s elapsed"


def test_money_is_time_at_the_machine_rate():
    budget = SearchBudget(max_dollars=3.67, dollars_per_hour=3.67)
    assert budget.deadline_seconds == pytest.approx(3600.0)
    assert budget.exhausted(0, 3599.0) is None
    assert budget.exhausted(0, 3600.0) == (
        "max_dollars=3.67 reached: spent $3.6700 at $3.67/h in 3600.0 s")


def test_the_limit_that_runs_out_first_is_named():
    # $1 at $3600/h lasts 1 s, long before max_seconds=100.
    budget = SearchBudget(max_seconds=100, max_dollars=1.0, dollars_per_hour=3600.0)
    assert budget.deadline_seconds == pytest.approx(1.0)
    assert budget.exhausted(0, 150.0).startswith("max_dollars=1.0 reached")
    budget = SearchBudget(max_seconds=100, max_dollars=1.0, dollars_per_hour=1.0)
    assert budget.exhausted(0, 150.0).startswith("max_seconds=100 reached")


def test_remaining_with_every_limit():
    budget = SearchBudget(max_trials=10, max_seconds=2000.0, max_dollars=1.0,
                          dollars_per_hour=3.6)
    left = budget.remaining(trials_done=4, elapsed_seconds=200.0)
    spent = 200.0 / 3600.0 * 3.6
    assert left["trials"] == 6
    assert left["seconds"] == pytest.approx(1800.0)
    assert left["spent_dollars"] == pytest.approx(spent)
    assert left["dollars"] == pytest.approx(1.0 - spent)
    assert left["mean_trial_seconds"] == pytest.approx(50.0)
    # Trials: 6 * 50 s = 300 s; money: 1000 s - 200 s = 800 s; time: 1800 s.
    assert left["estimated_seconds"] == pytest.approx(300.0)
    assert left["estimated_dollars"] == pytest.approx(300.0 / 3600.0 * 3.6)


def test_remaining_is_never_negative_and_unknown_without_trials():
    budget = SearchBudget(max_trials=5)
    assert budget.remaining(0, 10.0)["estimated_seconds"] is None
    assert budget.remaining(7, 10.0)["trials"] == 0
    left = SearchBudget(max_seconds=5).remaining(0, 9.0)
    assert left["seconds"] == 0.0 and left["estimated_seconds"] == 0.0
    assert left["dollars"] is None and left["estimated_dollars"] is None
