"""Compiled forests against LightGBM's own predictions on the rank.train sample."""

import collections
import json
import re
import subprocess
import sys
import textwrap

import lightgbm as lgb
import numpy as np
import pytest
import tensorflow as tf

from cuttingedge.trainers.lambdamart.compile import (CompiledForest, compile_booster,
                                                     save_compiled_forest)
from cuttingedge.trainers.lambdamart.train import LambdaMartConfig, train_lambdamart

CONFIG = LambdaMartConfig(num_leaves=31, n_estimators=50, learning_rate=0.1, num_threads=2)


def _with_missing(features: np.ndarray, seed: int) -> np.ndarray:
    """Copies `features` with NaN, exact zeros, -0.0 and sub-kZeroThreshold values injected."""
    rng = np.random.default_rng(seed)
    x = features.copy()
    for value, share in ((np.nan, 0.10), (0.0, 0.05), (-0.0, 0.02), (1e-36, 0.01),
                         (-1e-36, 0.01)):
        x[rng.random(x.shape) < share] = value
    return x


def _missing_types(booster: lgb.Booster) -> collections.Counter:
    counts, stack = collections.Counter(), [t["tree_structure"]
                                            for t in booster.dump_model()["tree_info"]]
    while stack:
        node = stack.pop()
        if "split_index" in node:
            counts[node["missing_type"]] += 1
            stack.extend([node["left_child"], node["right_child"]])
    return counts


def _train(rank_train, variant: str) -> lgb.Booster:
    if variant == "nan_in_training":
        x = rank_train.features.copy()
        x[np.random.default_rng(1).random(x.shape) < 0.05] = np.nan
        return train_lambdamart(x, rank_train.labels, rank_train.group_sizes, CONFIG)
    extra = {"zero_as_missing": True} if variant == "zero_as_missing" else {}
    data = lgb.Dataset(rank_train.features, rank_train.labels, group=rank_train.group_sizes)
    return lgb.train({**CONFIG.lightgbm_params(), **extra}, data, CONFIG.n_estimators)


@pytest.mark.parametrize("variant, missing_type", [
    ("nan_in_training", "NaN"), ("zero_as_missing", "Zero"), ("sparse_zeros", "None")])
def test_compiled_forest_matches_lightgbm_predict(rank_train, variant, missing_type):
    booster = _train(rank_train, variant)
    assert _missing_types(booster)[missing_type] > 0, "the variant must exercise this type"
    forest = compile_booster(booster)
    for x in (rank_train.features, _with_missing(rank_train.features, seed=2)):
        np.testing.assert_allclose(forest(x).numpy(), booster.predict(x, raw_score=True),
                                   rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("missing_type", [0, 1, 2])  # None, Zero, NaN
@pytest.mark.parametrize("default_left", [False, True])
@pytest.mark.parametrize("threshold", [0.5, 0.0, 1.0000000180025095e-35, -1e-37])
def test_single_split_matches_lightgbm_for_every_decision_type(missing_type, default_left,
                                                               threshold):
    # LightGBM is the oracle: rewrite one split's decision_type (bit 1 default_left, bits 2-3
    # missing_type) and threshold in the model text, reload it and compare predictions.
    x = np.random.default_rng(0).normal(size=(100, 1)).astype(np.float32)
    booster = lgb.train({"objective": "regression", "num_leaves": 2, "min_data_in_leaf": 5,
                         "verbosity": -1, "num_threads": 1}, lgb.Dataset(x, x[:, 0] > 0), 1)
    text = re.sub(r"^threshold=.*$", f"threshold={threshold!r}", booster.model_to_string(),
                  flags=re.M)
    text = re.sub(r"^decision_type=.*$", f"decision_type={missing_type << 2 | default_left << 1}",
                  text, flags=re.M)
    edited = lgb.Booster(model_str=text)
    rows = np.array([[np.nan], [0.0], [-0.0], [1e-36], [-1e-36], [-1e-37], [2e-35], [-2e-35],
                     [0.5], [np.nextafter(np.float32(0.5), np.float32(1))], [-1.0], [3.0]],
                    np.float32)
    np.testing.assert_allclose(compile_booster(edited)(rows).numpy(),
                               edited.predict(rows, raw_score=True), rtol=1e-6, atol=1e-7)


@pytest.fixture(scope="module")
def small_booster(rank_train) -> lgb.Booster:
    x = rank_train.features.copy()
    x[np.random.default_rng(3).random(x.shape) < 0.05] = np.nan
    config = LambdaMartConfig(num_leaves=15, n_estimators=20, num_threads=2)
    return train_lambdamart(x, rank_train.labels, rank_train.group_sizes, config)


def test_wrong_feature_count_is_a_clear_error(small_booster):
    forest = compile_booster(small_booster)
    with pytest.raises(ValueError, match=r"shape \[n_rows, 300\].*Received: shape=\(4, 299\)"):
        forest(np.zeros((4, 299), np.float32))
    with pytest.raises(ValueError, match=r"Received: shape=\(300,\)"):
        forest(np.zeros(300, np.float32))


def test_compile_respects_num_iteration(rank_train, small_booster):
    x = _with_missing(rank_train.features[:200], seed=4)
    forest = compile_booster(small_booster, num_iteration=5)
    np.testing.assert_allclose(forest(x).numpy(),
                               small_booster.predict(x, raw_score=True, num_iteration=5),
                               rtol=1e-5, atol=1e-5)


_SERVE_IN_FRESH_PROCESS = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tensorflow as tf
    export_dir, inputs, outputs = sys.argv[1:]
    serve = tf.saved_model.load(export_dir).signatures["serving_default"]
    spec = serve.structured_input_signature[1]["features"]
    scores = serve(features=tf.constant(np.load(inputs)))["scores"]
    np.save(outputs, scores.numpy())
    print(json.dumps({"shape": spec.shape.as_list(), "dtype": spec.dtype.name}))
""")


def test_saved_model_serves_in_a_fresh_process(tmp_path, rank_train, small_booster):
    export_dir = tmp_path / "lambdamart" / "1"
    save_compiled_forest(compile_booster(small_booster), export_dir)
    x = _with_missing(rank_train.features[:300], seed=5)
    np.save(tmp_path / "x.npy", x)
    run = subprocess.run(
        [sys.executable, "-c", _SERVE_IN_FRESH_PROCESS, str(export_dir), str(tmp_path / "x.npy"),
         str(tmp_path / "scores.npy")], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    spec = json.loads(run.stdout.strip().splitlines()[-1])
    assert spec == {"shape": [None, 300], "dtype": "float32"}
    np.testing.assert_allclose(np.load(tmp_path / "scores.npy"),
                               small_booster.predict(x, raw_score=True), rtol=1e-5, atol=1e-5)


def test_saved_model_uses_only_stock_ops(tmp_path, small_booster):
    save_compiled_forest(compile_booster(small_booster), tmp_path)
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel.FromString((tmp_path / "saved_model.pb").read_bytes())
    graph = proto.meta_graphs[0].graph_def
    ops = {node.op for node in graph.node}
    ops |= {node.op for function in graph.library.function for node in function.node_def}
    assert not ops & {"PyFunc", "PyFuncStateless", "EagerPyFunc"}
    assert "While" in ops or "StatelessWhile" in ops


def test_compiled_forest_is_a_tf_module(small_booster):
    forest = compile_booster(small_booster)
    assert isinstance(forest, CompiledForest) and isinstance(forest, tf.Module)
    assert forest.trainable_variables == ()
    assert forest.score(tf.zeros([0, 300])).shape == [0]
