"""Compiles a LightGBM Booster into stock TensorFlow ops that serve from TF Serving.

All trees are walked at once: a [n_rows, n_trees] tensor of current nodes moves one level per
step of a `tf.while_loop` (at most `max_depth` steps) through `tf.gather` on the flattened tree
arrays of `dump.py`. No custom ops, no `py_function`.

Decision at an internal node, as in LightGBM's `tree.h` `NumericalDecision` (kZero = 1e-35f):
  missing_type None: NaN -> 0.0, then `fval <= threshold` goes left.
  missing_type Zero: NaN -> 0.0; |fval| <= kZero goes the default direction, else compare.
  missing_type NaN:  NaN goes the default direction, else compare.
Before that, |fval| <= kZero becomes 0.0, as LightGBM's dense-to-sparse row conversion does.
Comparisons run in float64, LightGBM's threshold type, on the float32 inputs cast exactly.
"""

from __future__ import annotations

import os
from typing import Any, Mapping, Optional, Union

import lightgbm as lgb
import numpy as np
import tensorflow as tf

from cuttingedge.trainers.lambdamart.dump import (MISSING_TYPES, ForestArrays,
                                                  forest_arrays_from_dump)

# LightGBM's `const double kZeroThreshold = 1e-35f;`, a float32 literal widened to double.
K_ZERO_THRESHOLD = float(np.float32(1e-35))
SCORES_KEY = "scores"


def _constant(value: np.ndarray, name: str) -> tf.Variable:
    return tf.Variable(value, trainable=False, name=name)


class CompiledForest(tf.Module):
    """A tree ensemble as TensorFlow variables and one vectorised scoring function.

    `forest(x)` and `forest.score(x)` map float32 [n_rows, n_features] to float32 [n_rows] raw
    scores, equal to `booster.predict(x, raw_score=True)` up to float32 rounding.

    Args:
      arrays: Flattened trees from `forest_arrays_from_dump`.
      name: Module name.

    Example:
      >>> dump = {"max_feature_idx": 0, "tree_info": [{"tree_structure": {"leaf_value": 0.25}}]}
      >>> forest = compile_dump(dump)
      >>> forest(np.zeros((2, 1), np.float32)).numpy().tolist()
      [0.25, 0.25]
    """

    def __init__(self, arrays: ForestArrays, name: str = "compiled_forest"):
        super().__init__(name=name)
        self.n_features = arrays.n_features
        self._max_depth = arrays.max_depth
        self._average_output = arrays.average_output
        n_trees, max_nodes = arrays.split_feature.shape
        tree_ids = np.arange(n_trees, dtype=np.int32)
        self._root = _constant(arrays.root, "root")
        self._node_offset = _constant(tree_ids * max_nodes, "node_offset")
        self._leaf_offset = _constant(tree_ids * arrays.leaf_value.shape[1], "leaf_offset")
        for field in ("split_feature", "threshold", "left_child", "right_child",
                      "default_left", "missing_type", "leaf_value"):
            setattr(self, f"_{field}", _constant(getattr(arrays, field).reshape(-1), field))
        spec = tf.TensorSpec([None, arrays.n_features], tf.float32, name="features")
        self.score = tf.function(self._score, input_signature=[spec])
        self.serve = tf.function(self._serve, input_signature=[spec])

    def __call__(self, features) -> tf.Tensor:
        """Scores rows after checking their shape; see the class docstring."""
        if not isinstance(features, tf.Tensor):
            features = np.asarray(features, dtype=np.float32)
        shape = tuple(features.shape)
        if len(shape) != 2 or shape[1] != self.n_features:
            raise ValueError(
                f"CompiledForest expects features of shape [n_rows, {self.n_features}], the "
                f"columns the booster was trained on, in the same order. Received: "
                f"shape={shape}.")
        return self.score(tf.cast(features, tf.float32))

    def _step(self, x: tf.Tensor, node: tf.Tensor) -> tf.Tensor:
        """Moves every (row, tree) pair at an internal node to its child; leaves stay."""
        flat = self._node_offset + tf.maximum(node, 0)
        fval = tf.gather(x, tf.gather(self._split_feature, flat), batch_dims=1)
        missing = tf.gather(self._missing_type, flat)
        is_nan = tf.math.is_nan(fval)
        fval = tf.where(is_nan & (missing != MISSING_TYPES["NaN"]), tf.zeros_like(fval), fval)
        use_default = ((missing == MISSING_TYPES["Zero"]) & (tf.abs(fval) <= K_ZERO_THRESHOLD)
                       ) | ((missing == MISSING_TYPES["NaN"]) & is_nan)
        go_left = tf.where(use_default, tf.gather(self._default_left, flat),
                           fval <= tf.gather(self._threshold, flat))
        child = tf.where(go_left, tf.gather(self._left_child, flat),
                         tf.gather(self._right_child, flat))
        return tf.where(node >= 0, child, node)

    def _score(self, features: tf.Tensor) -> tf.Tensor:
        x = tf.cast(features, tf.float64)
        x = tf.where(tf.abs(x) <= K_ZERO_THRESHOLD, tf.zeros_like(x), x)
        node = tf.tile(self._root[tf.newaxis, :], [tf.shape(x)[0], 1])
        if self._max_depth > 0:
            _, node = tf.while_loop(
                lambda depth, node: tf.reduce_any(node >= 0),
                lambda depth, node: (depth + 1, self._step(x, node)),
                (tf.constant(0), node), maximum_iterations=self._max_depth)
        values = tf.gather(self._leaf_value, self._leaf_offset + tf.bitwise.invert(node))
        scores = (tf.reduce_mean if self._average_output else tf.reduce_sum)(values, axis=1)
        return tf.cast(scores, tf.float32)

    def _serve(self, features: tf.Tensor) -> dict[str, tf.Tensor]:
        return {SCORES_KEY: self._score(features)}


def compile_dump(dump: Mapping[str, Any]) -> CompiledForest:
    """Compiles the dict of `Booster.dump_model()` into a `CompiledForest`.

    Args:
      dump: A LightGBM model dump with numerical splits and one tree per iteration.

    Returns:
      The `CompiledForest`.

    Raises:
      UnsupportedModelError: for categorical splits, linear trees or multiclass models.

    Example:
      >>> dump = {"max_feature_idx": 0, "tree_info": [{"tree_structure": {"leaf_value": 1.5}}]}
      >>> compile_dump(dump).n_features
      1
    """
    return CompiledForest(forest_arrays_from_dump(dump))


def compile_booster(booster: lgb.Booster,
                    num_iteration: Optional[int] = None) -> CompiledForest:
    """Compiles a trained Booster into TensorFlow ops.

    Args:
      booster: A trained LightGBM Booster with numerical splits only.
      num_iteration: Trees to keep, as in `Booster.dump_model`; None keeps the best iteration
        when early stopping ran, else all.

    Returns:
      A `CompiledForest` whose scores equal `booster.predict(x, raw_score=True,
      num_iteration=num_iteration)`.

    Example:
      >>> from cuttingedge.trainers.lambdamart.train import LambdaMartConfig, train_lambdamart
      >>> x = np.random.default_rng(0).random((40, 2), dtype=np.float32)
      >>> booster = train_lambdamart(x, (x[:, 0] * 3).astype(int), [10] * 4, LambdaMartConfig(
      ...     num_leaves=3, n_estimators=3, min_data_in_leaf=3, num_threads=1))
      >>> bool(np.allclose(compile_booster(booster)(x), booster.predict(x), atol=1e-5))
      True
    """
    return compile_dump(booster.dump_model(num_iteration=num_iteration))


def save_compiled_forest(forest: CompiledForest, export_dir: Union[str, os.PathLike]) -> None:
    """Writes a SavedModel whose `serving_default` maps `features` to `scores`.

    Args:
      forest: The compiled forest.
      export_dir: Target directory (TF Serving expects `<model>/<version>/`).

    Example:
      >>> import tempfile
      >>> dump = {"max_feature_idx": 0, "tree_info": [{"tree_structure": {"leaf_value": 2.0}}]}
      >>> folder = tempfile.mkdtemp()
      >>> save_compiled_forest(compile_dump(dump), folder)
      >>> serve = tf.saved_model.load(folder).signatures["serving_default"]
      >>> serve(features=tf.zeros([1, 1]))["scores"].numpy().tolist()
      [2.0]
    """
    tf.saved_model.save(forest, os.fspath(export_dir),
                        signatures={"serving_default": forest.serve.get_concrete_function()})
