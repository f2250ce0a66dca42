"""LambdaMART training with LightGBM's `lambdarank` objective, deterministic and configured once.

The model is a LightGBM `Booster`; `compile.py` turns it into plain TensorFlow ops for serving.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Optional, Sequence

import lightgbm as lgb
import numpy as np

# LightGBM's default `label_gain` has 31 entries (2**i - 1 for i < 31), so labels must be < 31.
MAX_LABEL = 30


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


@dataclasses.dataclass(frozen=True)
class LambdaMartConfig:
    """Hyperparameters of a LightGBM LambdaMART ranker.

    Args:
      num_leaves: Maximum leaves per tree, at least 2.
      learning_rate: Shrinkage applied to each tree, in (0, 1].
      n_estimators: Number of boosting rounds (trees), at least 1.
      min_data_in_leaf: Minimum number of rows in a leaf, at least 1.
      eval_at: Cut-offs k of the NDCG@k metrics reported on `eval_set`, positive and unique.
      seed: Seed of every LightGBM random generator, non-negative.
      num_threads: OpenMP threads LightGBM may use, at least 1.
      early_stopping_rounds: Stop when NDCG@eval_at[0] on `eval_set` has not improved for this
        many rounds; None trains all `n_estimators` rounds.

    Example:
      >>> config = LambdaMartConfig(num_leaves=7, n_estimators=10, num_threads=1)
      >>> config.lightgbm_params()["objective"]
      'lambdarank'
    """

    num_leaves: int = 31
    learning_rate: float = 0.05
    n_estimators: int = 100
    min_data_in_leaf: int = 20
    eval_at: tuple[int, ...] = (1, 5, 10)
    seed: int = 0
    num_threads: int = 2
    early_stopping_rounds: Optional[int] = None

    def __post_init__(self):
        self._check_int("num_leaves", self.num_leaves, minimum=2)
        self._check_int("n_estimators", self.n_estimators, minimum=1)
        self._check_int("min_data_in_leaf", self.min_data_in_leaf, minimum=1)
        self._check_int("seed", self.seed, minimum=0)
        self._check_int("num_threads", self.num_threads, minimum=1)
        if self.early_stopping_rounds is not None:
            self._check_int("early_stopping_rounds", self.early_stopping_rounds, minimum=1)
        rate = self.learning_rate
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not (
                math.isfinite(rate) and 0 < rate <= 1):
            raise ValueError(
                f"LambdaMartConfig.learning_rate must be a number in (0, 1]. Received: "
                f"learning_rate={rate!r}. Typical values are 0.02 to 0.2.")
        self._check_eval_at()

    @staticmethod
    def _check_int(name: str, value, minimum: int) -> None:
        if not _is_int(value) or value < minimum:
            raise ValueError(
                f"LambdaMartConfig.{name} must be an integer >= {minimum}. Received: "
                f"{name}={value!r}.")

    def _check_eval_at(self) -> None:
        eval_at = self.eval_at
        if isinstance(eval_at, (str, bytes)) or not isinstance(eval_at, Sequence):
            raise ValueError(
                f"LambdaMartConfig.eval_at must be a tuple of positive integers such as "
                f"(1, 5, 10). Received: eval_at={eval_at!r}.")
        if not eval_at or not all(_is_int(k) and k >= 1 for k in eval_at) or len(
                set(eval_at)) != len(eval_at):
            raise ValueError(
                f"LambdaMartConfig.eval_at must hold unique positive integers such as "
                f"(1, 5, 10). Received: eval_at={eval_at!r}.")
        object.__setattr__(self, "eval_at", tuple(int(k) for k in eval_at))

    def lightgbm_params(self) -> dict:
        """Returns the LightGBM parameters of this config (deterministic, row-wise histograms).

        Returns:
          A dict for `lightgbm.train(params, ...)`; `n_estimators` and `early_stopping_rounds`
          are applied by `train_lambdamart`, not through this dict.

        Example:
          >>> LambdaMartConfig(seed=3).lightgbm_params()["seed"]
          3
        """
        return {
            "objective": "lambdarank",
            "metric": "ndcg",
            "eval_at": list(self.eval_at),
            "num_leaves": self.num_leaves,
            "learning_rate": float(self.learning_rate),
            "min_data_in_leaf": self.min_data_in_leaf,
            "seed": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": self.num_threads,
            "verbosity": -1,
        }


RankingArrays = tuple[np.ndarray, np.ndarray, np.ndarray]


def _check_ranking_arrays(features, labels, group_sizes, name: str) -> RankingArrays:
    """Validates one (features, labels, group_sizes) triple and returns it as numpy arrays."""
    features = np.asarray(features)
    if features.ndim != 2 or not np.issubdtype(features.dtype, np.number):
        raise ValueError(
            f"{name} features must be a numeric [n_rows, n_features] array. Received: "
            f"shape={features.shape}, dtype={features.dtype}. Use `padded_to_flat` for "
            f"[n_lists, list_size, n_features] arrays.")
    labels = np.asarray(labels)
    if labels.shape != (features.shape[0],):
        raise ValueError(
            f"{name} labels must have shape [n_rows] = [{features.shape[0]}] to match the "
            f"features. Received: shape={labels.shape}.")
    if labels.size and (np.any(labels != np.round(labels)) or labels.min() < 0
                        or labels.max() > MAX_LABEL):
        raise ValueError(
            f"{name} labels must be integer relevance grades in [0, {MAX_LABEL}] for "
            f"lambdarank. Received: min={labels.min()}, max={labels.max()}. Drop padding rows "
            f"(label -1) with `padded_to_flat` first.")
    group_sizes = np.asarray(group_sizes)
    if group_sizes.ndim != 1 or group_sizes.size == 0 or not np.issubdtype(
            group_sizes.dtype, np.integer) or group_sizes.min() < 1:
        raise ValueError(
            f"{name} group_sizes must be a non-empty 1-D array of positive integers (rows per "
            f"query, in row order). Received: {group_sizes!r}.")
    if int(group_sizes.sum()) != features.shape[0]:
        raise ValueError(
            f"{name} group_sizes must sum to the number of rows. Received: "
            f"sum(group_sizes)={int(group_sizes.sum())}, n_rows={features.shape[0]}.")
    return features.astype(np.float32, copy=False), labels.astype(np.int32), group_sizes


def train_lambdamart(
    features: np.ndarray,
    labels: np.ndarray,
    group_sizes: np.ndarray,
    config: LambdaMartConfig = LambdaMartConfig(),
    eval_set: Optional[tuple[np.ndarray, np.ndarray, np.ndarray]] = None,
) -> lgb.Booster:
    """Trains a LambdaMART ranker (LightGBM `lambdarank`) on flat rows grouped by query.

    Args:
      features: [n_rows, n_features] float32 array; NaN marks a missing value.
      labels: [n_rows] integer relevance grades in [0, 30].
      group_sizes: [n_queries] rows per query; queries are consecutive runs of rows.
      config: Hyperparameters.
      eval_set: Optional (features, labels, group_sizes) for NDCG@k and early stopping.

    Returns:
      The trained `lightgbm.Booster`. With early stopping, `booster.best_iteration` is set and
      `predict` and `dump_model` use it by default.

    Raises:
      ValueError: if shapes, labels or group sizes are inconsistent, or early stopping is
        asked for without an `eval_set`.

    Example:
      >>> rng = np.random.default_rng(0)
      >>> x = rng.random((60, 3), dtype=np.float32)
      >>> y = (x[:, 0] * 3).astype(int)
      >>> booster = train_lambdamart(x, y, [10] * 6, LambdaMartConfig(
      ...     num_leaves=4, n_estimators=5, min_data_in_leaf=5, num_threads=1))
      >>> booster.num_trees()
      5
    """
    train = _check_ranking_arrays(features, labels, group_sizes, "Training")
    if config.early_stopping_rounds is not None and eval_set is None:
        raise ValueError(
            f"LambdaMartConfig.early_stopping_rounds={config.early_stopping_rounds} needs an "
            f"eval_set=(features, labels, group_sizes). Pass one or set "
            f"early_stopping_rounds=None.")
    params = config.lightgbm_params()
    train_data = lgb.Dataset(train[0], label=train[1], group=train[2], params=params)
    valid_sets, callbacks = [], []
    if eval_set is not None:
        if len(eval_set) != 3:
            raise ValueError(
                f"eval_set must be a (features, labels, group_sizes) tuple. Received "
                f"{len(eval_set)} items.")
        valid = _check_ranking_arrays(*eval_set, name="Evaluation")
        if valid[0].shape[1] != train[0].shape[1]:
            raise ValueError(
                f"eval_set features must have the training feature count "
                f"{train[0].shape[1]}. Received: {valid[0].shape[1]}.")
        valid_sets.append(lgb.Dataset(valid[0], label=valid[1], group=valid[2],
                                      reference=train_data, params=params))
    if config.early_stopping_rounds is not None:
        callbacks.append(lgb.early_stopping(config.early_stopping_rounds, first_metric_only=True,
                                            verbose=False))
    return lgb.train(params, train_data, num_boost_round=config.n_estimators,
                     valid_sets=valid_sets, valid_names=["eval"][:len(valid_sets)],
                     callbacks=callbacks)
