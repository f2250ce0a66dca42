"""Hand-built model dumps: each missing_type and default direction vs hand-computed leaves."""

import copy

import numpy as np
import pytest

from cuttingedge.trainers.lambdamart.compile import compile_dump
from cuttingedge.trainers.lambdamart.dump import (UnsupportedModelError,
                                                  forest_arrays_from_dump)

NAN = np.nan


def _leaf(index, value):
    return {"leaf_index": index, "leaf_value": value}


def _split(index, feature, threshold, missing_type, default_left, left, right):
    return {"split_index": index, "split_feature": feature, "threshold": threshold,
            "decision_type": "<=", "missing_type": missing_type, "default_left": default_left,
            "left_child": left, "right_child": right}


# Tree 0: f0 <= 0.5 (NaN -> default left), then f1 <= 1.0 with zero as missing (default right).
TREE_0 = _split(0, 0, 0.5, "NaN", True,
                _split(1, 1, 1.0, "Zero", False, _leaf(0, 1.0), _leaf(1, 2.0)),
                _leaf(2, 4.0))
# Tree 1: f2 <= 0.25 with missing_type None (NaN compares as 0.0; default_left is ignored),
# then f0 <= -1.0 with NaN going right.
TREE_1 = _split(0, 2, 0.25, "None", False,
                _leaf(0, 10.0),
                _split(1, 0, -1.0, "NaN", False, _leaf(1, 20.0), _leaf(2, 40.0)))
DUMP = {"max_feature_idx": 2, "num_tree_per_iteration": 1, "average_output": False,
        "tree_info": [{"tree_index": 0, "tree_structure": TREE_0},
                      {"tree_index": 1, "tree_structure": TREE_1}]}

ROWS = np.array([
    [0.5, 0.5, 0.25],    # 0.5 <= 0.5 left, 0.5 <= 1 left: 1; 0.25 <= 0.25 left: 10
    [NAN, 0.0, NAN],     # NaN default left, 0 is missing -> right: 2; NaN as 0 -> left: 10
    [0.7, NAN, 3.0],     # 0.7 > 0.5: 4; 3 > 0.25 right, 0.7 > -1 right: 40
    [NAN, 2.0, 1.0],     # NaN left, 2 > 1 right: 2; right, NaN default right: 40
    [-2.0, 1e-36, 0.3],  # left, |1e-36| <= 1e-35 is zero -> right: 2; right, -2 <= -1: 20
    [0.2, -0.0, -5.0],   # left, -0.0 is zero -> right: 2; -5 <= 0.25 left: 10
    [0.2, 1.0, NAN],     # left, 1 <= 1 left: 1; NaN as 0 -> left: 10
    [0.2, NAN, 2.0],     # left, NaN as 0 is zero -> right: 2; right, 0.2 > -1 right: 40
], np.float32)
EXPECTED = np.array([1 + 10, 2 + 10, 4 + 40, 2 + 40, 2 + 20, 2 + 10, 1 + 10, 2 + 40], np.float32)


def test_hand_built_dump_follows_lightgbm_missing_semantics():
    np.testing.assert_allclose(compile_dump(DUMP)(ROWS).numpy(), EXPECTED, rtol=0, atol=0)


def test_average_output_takes_the_mean_of_trees():
    dump = {**DUMP, "average_output": True}
    np.testing.assert_allclose(compile_dump(dump)(ROWS).numpy(), EXPECTED / 2, rtol=1e-7)


def test_single_leaf_tree_adds_its_constant():
    dump = copy.deepcopy(DUMP)
    dump["tree_info"].append({"tree_index": 2, "tree_structure": {"leaf_value": -0.5}})
    np.testing.assert_allclose(compile_dump(dump)(ROWS).numpy(), EXPECTED - 0.5, rtol=1e-7)


def test_only_single_leaf_trees():
    dump = {"max_feature_idx": 0, "tree_info": [{"tree_structure": {"leaf_value": 0.25}},
                                                {"tree_structure": {"leaf_value": 0.5}}]}
    assert forest_arrays_from_dump(dump).max_depth == 0
    np.testing.assert_allclose(compile_dump(dump)(np.full((3, 1), NAN, np.float32)).numpy(),
                               [0.75, 0.75, 0.75])


def test_arrays_encode_children_like_lightgbm():
    arrays = forest_arrays_from_dump(DUMP)
    assert arrays.n_trees == 2 and arrays.n_features == 3 and arrays.max_depth == 2
    np.testing.assert_array_equal(arrays.left_child, [[1, ~0], [~0, ~1]])
    np.testing.assert_array_equal(arrays.right_child, [[~2, ~1], [1, ~2]])
    np.testing.assert_array_equal(arrays.missing_type, [[2, 1], [0, 2]])
    np.testing.assert_array_equal(arrays.leaf_value, [[1, 2, 4], [10, 20, 40]])


def test_categorical_split_names_the_tree():
    dump = copy.deepcopy(DUMP)
    node = dump["tree_info"][1]["tree_structure"]["right_child"]
    node.update(decision_type="==", threshold="1||3")
    with pytest.raises(UnsupportedModelError, match=r"Tree 1, node 1: categorical split on "
                                                    r"feature 0 \(decision_type '=='\)"):
        compile_dump(dump)
    assert issubclass(UnsupportedModelError, NotImplementedError)


def test_unsupported_and_malformed_dumps():
    with pytest.raises(UnsupportedModelError, match="num_tree_per_iteration=3"):
        forest_arrays_from_dump({**DUMP, "num_tree_per_iteration": 3})
    linear = copy.deepcopy(DUMP)
    linear["tree_info"][0]["tree_structure"]["right_child"]["leaf_coeff"] = [0.1]
    with pytest.raises(UnsupportedModelError, match="Tree 0, leaf 2 is a linear leaf"):
        forest_arrays_from_dump(linear)
    with pytest.raises(ValueError, match="non-empty 'tree_info'"):
        forest_arrays_from_dump({"max_feature_idx": 2, "tree_info": []})
    bad_missing = copy.deepcopy(DUMP)
    bad_missing["tree_info"][0]["tree_structure"]["missing_type"] = "Null"
    with pytest.raises(ValueError, match=r"unknown missing_type 'Null'. Expected one of "
                                         r"\['NaN', 'None', 'Zero'\]"):
        forest_arrays_from_dump(bad_missing)
    with pytest.raises(ValueError, match=r"splits on feature 2, outside \[0, 2\)"):
        forest_arrays_from_dump({**DUMP, "max_feature_idx": 1})
    gap = copy.deepcopy(DUMP)
    gap["tree_info"][0]["tree_structure"]["right_child"]["leaf_index"] = 5
    with pytest.raises(ValueError, match="Tree 0: split indices"):
        forest_arrays_from_dump(gap)


def test_values_within_k_zero_threshold_are_read_as_zero():
    # LightGBM drops |x| <= 1e-35f when it turns a dense row into (index, value) pairs, so
    # -1e-36 compares as 0.0: 0.0 <= -1e-37 is false and the row goes right.
    tree = _split(0, 0, -1e-37, "None", True, _leaf(0, 1.0), _leaf(1, 2.0))
    dump = {"max_feature_idx": 0, "tree_info": [{"tree_structure": tree}]}
    rows = np.array([[-1e-36], [-1e-34], [0.0], [NAN]], np.float32)
    np.testing.assert_array_equal(compile_dump(dump)(rows).numpy(), [2.0, 1.0, 2.0, 2.0])
