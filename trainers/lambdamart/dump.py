"""Flattens a LightGBM model dump (`Booster.dump_model()`) into dense per-tree numpy arrays.

Node encoding follows LightGBM's `tree.h`: internal node j of a tree is `split_index` j (the
root is 0); a child value c >= 0 is an internal node, c < 0 is the leaf ~c = -c - 1.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import numpy as np

# LightGBM's MissingType enum: None = 0, Zero = 1, NaN = 2 (tree.h `GetMissingType`).
MISSING_TYPES = {"None": 0, "Zero": 1, "NaN": 2}


class UnsupportedModelError(NotImplementedError):
    """The dump uses a LightGBM feature the TensorFlow compiler does not implement."""


@dataclasses.dataclass(frozen=True, eq=False)
class ForestArrays:
    """All trees of a model as dense arrays padded to the largest tree.

    Attributes:
      n_features: Number of input columns (`max_feature_idx + 1`).
      max_depth: Largest number of splits on a root-to-leaf path (0 if every tree is a leaf).
      average_output: True for `boosting="rf"` models, whose prediction is the mean of trees.
      root: [n_trees] int32, 0, or -1 (leaf 0) for single-leaf trees.
      split_feature, left_child, right_child, missing_type: [n_trees, max_nodes] int32.
      threshold: [n_trees, max_nodes] float64; `fval <= threshold` goes left.
      default_left: [n_trees, max_nodes] bool, where missing values go.
      leaf_value: [n_trees, max_leaves] float64.
    """

    n_features: int
    max_depth: int
    average_output: bool
    root: np.ndarray
    split_feature: np.ndarray
    threshold: np.ndarray
    left_child: np.ndarray
    right_child: np.ndarray
    default_left: np.ndarray
    missing_type: np.ndarray
    leaf_value: np.ndarray

    @property
    def n_trees(self) -> int:
        return int(self.root.shape[0])


def _check_split(node: Mapping[str, Any], tree: int) -> None:
    where = f"Tree {tree}, node {node['split_index']}"
    decision = node.get("decision_type")
    if decision == "==":
        raise UnsupportedModelError(
            f"{where}: categorical split on feature {node.get('split_feature')} "
            f"(decision_type '=='). Only numerical '<=' splits compile to TensorFlow; train "
            f"without `categorical_feature` (encode the column as numbers) to compile this model.")
    if decision != "<=":
        raise ValueError(f"{where}: unknown decision_type {decision!r}. Expected '<=' or '=='.")
    if node.get("missing_type") not in MISSING_TYPES:
        raise ValueError(
            f"{where}: unknown missing_type {node.get('missing_type')!r}. Expected one of "
            f"{sorted(MISSING_TYPES)}.")


def _check_leaf(node: Mapping[str, Any], tree: int) -> None:
    if "leaf_coeff" in node or "leaf_features" in node:
        raise UnsupportedModelError(
            f"Tree {tree}, leaf {node.get('leaf_index', 0)} is a linear leaf "
            f"(linear_tree=True). Only constant leaves compile to TensorFlow; train with "
            f"linear_tree=False.")
    if "leaf_value" not in node:
        raise ValueError(
            f"Tree {tree}: a node has neither 'split_index' nor 'leaf_value'. Received keys "
            f"{sorted(node)}. Pass the output of `Booster.dump_model()`.")


def _child_id(child: Mapping[str, Any]) -> int:
    if "split_index" in child:
        return int(child["split_index"])
    return ~int(child.get("leaf_index", 0))


def _walk_tree(structure: Mapping[str, Any], tree: int):
    """Returns (internal nodes by split_index, leaf values by leaf_index, depth) of one tree."""
    nodes, leaves, depth = {}, {}, 0
    stack = [(structure, 0)]
    while stack:
        node, level = stack.pop()
        if "split_index" not in node:
            _check_leaf(node, tree)
            leaves[int(node.get("leaf_index", 0))] = float(node["leaf_value"])
            depth = max(depth, level)
            continue
        _check_split(node, tree)
        nodes[int(node["split_index"])] = node
        stack.extend([(node["left_child"], level + 1), (node["right_child"], level + 1)])
    if (sorted(nodes) != list(range(len(nodes))) or sorted(leaves) != list(range(len(leaves)))
            or len(leaves) != len(nodes) + 1 or _child_id(structure) not in (0, -1)):
        raise ValueError(
            f"Tree {tree}: split indices {sorted(nodes)} and leaf indices {sorted(leaves)} must "
            f"run 0..n-1 with one more leaf than splits and the root as split 0. Pass the "
            f"unmodified output of `Booster.dump_model()`.")
    return nodes, leaves, depth


def _check_model(dump: Mapping[str, Any]) -> list:
    per_iteration = dump.get("num_tree_per_iteration", 1)
    if per_iteration != 1:
        raise UnsupportedModelError(
            f"The model has num_tree_per_iteration={per_iteration} (multiclass). Only models with "
            f"one output per row (ranking, regression, binary) compile to TensorFlow.")
    if "max_feature_idx" not in dump or not dump.get("tree_info"):
        raise ValueError(
            f"Expected a LightGBM dump with 'max_feature_idx' and a non-empty 'tree_info'. "
            f"Received keys {sorted(dump)} and {len(dump.get('tree_info') or [])} trees. "
            f"Train at least one round and pass `Booster.dump_model()`.")
    return list(dump["tree_info"])


def forest_arrays_from_dump(dump: Mapping[str, Any]) -> ForestArrays:
    """Flattens `Booster.dump_model()` into dense arrays, one row per tree.

    Args:
      dump: The dict from `lightgbm.Booster.dump_model()` (numerical splits, one tree per
        iteration).

    Returns:
      A `ForestArrays` padded to the largest tree; padding nodes are never reached.

    Raises:
      UnsupportedModelError: for categorical splits, linear trees or multiclass models.
      ValueError: for a malformed dump or a split on a feature above `max_feature_idx`.

    Example:
      >>> leaf = lambda i, v: {"leaf_index": i, "leaf_value": v}
      >>> dump = {"max_feature_idx": 1, "tree_info": [{"tree_index": 0, "tree_structure": {
      ...     "split_index": 0, "split_feature": 1, "threshold": 0.5, "decision_type": "<=",
      ...     "default_left": True, "missing_type": "NaN",
      ...     "left_child": leaf(0, -1.0), "right_child": leaf(1, 2.0)}}]}
      >>> arrays = forest_arrays_from_dump(dump)
      >>> arrays.left_child.tolist(), arrays.right_child.tolist(), arrays.max_depth
      ([[-1]], [[-2]], 1)
    """
    trees = _check_model(dump)
    n_features = int(dump["max_feature_idx"]) + 1
    walked = [_walk_tree(info["tree_structure"], info.get("tree_index", t))
              for t, info in enumerate(trees)]
    max_nodes = max(1, max(len(nodes) for nodes, _, _ in walked))
    max_leaves = max(len(leaves) for _, leaves, _ in walked)
    shape = (len(trees), max_nodes)
    arrays = {name: np.zeros(shape, np.int32) for name in
              ("split_feature", "left_child", "right_child", "missing_type")}
    threshold, default_left = np.zeros(shape, np.float64), np.zeros(shape, bool)
    leaf_value = np.zeros((len(trees), max_leaves), np.float64)
    for t, (nodes, leaves, _) in enumerate(walked):
        leaf_value[t, :len(leaves)] = [leaves[i] for i in range(len(leaves))]
        for j, node in nodes.items():
            feature = int(node["split_feature"])
            if not 0 <= feature < n_features:
                raise ValueError(
                    f"Tree {t}, node {j} splits on feature {feature}, outside [0, {n_features}) "
                    f"given max_feature_idx={n_features - 1}.")
            arrays["split_feature"][t, j] = feature
            arrays["left_child"][t, j] = _child_id(node["left_child"])
            arrays["right_child"][t, j] = _child_id(node["right_child"])
            arrays["missing_type"][t, j] = MISSING_TYPES[node["missing_type"]]
            threshold[t, j] = float(node["threshold"])
            default_left[t, j] = bool(node["default_left"])
    return ForestArrays(
        n_features=n_features,
        max_depth=max(depth for _, _, depth in walked),
        average_output=bool(dump.get("average_output", False)),
        root=np.asarray([0 if nodes else -1 for nodes, _, _ in walked], np.int32),
        threshold=threshold, default_left=default_left, leaf_value=leaf_value, **arrays)
