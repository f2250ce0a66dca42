"""LambdaMartConfig validation and deterministic LightGBM training."""

import numpy as np
import pytest

from cuttingedge.trainers.lambdamart.train import LambdaMartConfig, train_lambdamart

SMALL = LambdaMartConfig(num_leaves=7, n_estimators=10, min_data_in_leaf=5, num_threads=1)


@pytest.mark.parametrize("field, value, message", [
    ("num_leaves", 1, r"num_leaves must be an integer >= 2. Received: num_leaves=1"),
    ("num_leaves", 3.0, r"num_leaves must be an integer >= 2. Received: num_leaves=3.0"),
    ("n_estimators", 0, r"n_estimators must be an integer >= 1"),
    ("min_data_in_leaf", -1, r"min_data_in_leaf must be an integer >= 1"),
    ("seed", True, r"seed must be an integer >= 0. Received: seed=True"),
    ("num_threads", 0, r"num_threads must be an integer >= 1"),
    ("early_stopping_rounds", 0, r"early_stopping_rounds must be an integer >= 1"),
    ("learning_rate", 0.0, r"learning_rate must be a number in \(0, 1\]. Received: "
                           r"learning_rate=0.0"),
    ("learning_rate", float("nan"), r"learning_rate must be a number in \(0, 1\]"),
    ("eval_at", (), r"eval_at must hold unique positive integers"),
    ("eval_at", (5, 5), r"eval_at must hold unique positive integers .* Received: "
                        r"eval_at=\(5, 5\)"),
    ("eval_at", 5, r"eval_at must be a tuple of positive integers"),
])
def test_bad_config_is_a_clear_error(field, value, message):
    with pytest.raises(ValueError, match=message):
        LambdaMartConfig(**{field: value})


def test_config_normalises_eval_at_and_builds_deterministic_params():
    config = LambdaMartConfig(eval_at=[3, 1])
    assert config.eval_at == (3, 1)
    params = config.lightgbm_params()
    assert params["objective"] == "lambdarank" and params["eval_at"] == [3, 1]
    assert params["deterministic"] and params["force_row_wise"]


def _toy(seed=0, n_queries=12, size=10, n_features=4):
    rng = np.random.default_rng(seed)
    x = rng.random((n_queries * size, n_features), dtype=np.float32)
    y = np.clip((x[:, 0] * 4 + rng.normal(0, 0.3, len(x))).astype(int), 0, 4)
    return x, y, np.full(n_queries, size)


def test_training_is_deterministic():
    x, y, groups = _toy()
    first = train_lambdamart(x, y, groups, SMALL)
    second = train_lambdamart(x, y, groups, SMALL)
    assert first.num_trees() == SMALL.n_estimators
    assert first.model_to_string() == second.model_to_string()
    assert first.dump_model()["objective"].startswith("lambdarank")


def test_scores_rank_by_the_informative_feature():
    x, y, groups = _toy()
    scores = train_lambdamart(x, y, groups, SMALL).predict(x)
    assert np.corrcoef(scores, x[:, 0])[0, 1] > 0.8


def test_early_stopping_on_eval_set():
    x, y, groups = _toy()
    config = LambdaMartConfig(num_leaves=7, n_estimators=30, min_data_in_leaf=5, num_threads=1,
                              early_stopping_rounds=3)
    booster = train_lambdamart(x, y, groups, config, eval_set=_toy(seed=1))
    assert 1 <= booster.best_iteration <= 30
    assert set(booster.best_score["eval"]) == {"ndcg@1", "ndcg@5", "ndcg@10"}


def test_bad_training_inputs_are_clear_errors():
    x, y, groups = _toy()
    with pytest.raises(ValueError, match=r"group_sizes must sum to the number of rows. "
                                         r"Received: sum\(group_sizes\)=110, n_rows=120"):
        train_lambdamart(x, y, groups[1:], SMALL)
    with pytest.raises(ValueError, match=r"labels must have shape \[n_rows\] = \[120\]"):
        train_lambdamart(x, y[:-1], groups, SMALL)
    with pytest.raises(ValueError, match=r"labels must be integer relevance grades in \[0, 30\]"):
        train_lambdamart(x, np.where(y == 0, -1, y), groups, SMALL)
    with pytest.raises(ValueError, match=r"features must be a numeric \[n_rows, n_features\]"):
        train_lambdamart(x.reshape(12, 10, 4), y, groups, SMALL)
    stopping = LambdaMartConfig(early_stopping_rounds=5)
    with pytest.raises(ValueError, match=r"early_stopping_rounds=5 needs an eval_set"):
        train_lambdamart(x, y, groups, stopping)
    with pytest.raises(ValueError, match=r"eval_set features must have the training feature "
                                         r"count 4. Received: 3"):
        train_lambdamart(x, y, groups, SMALL, eval_set=_toy(n_features=3))
