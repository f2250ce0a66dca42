"""Tests of cuttingedge.trainers.ranking metrics against TF-Ranking 0.5.5 and closed forms."""

import doctest
import importlib
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from cuttingedge.trainers.ranking import losses, metrics, metrics_impl

GOLDEN_METRICS = {
    "mrr": (metrics.MRRMetric, {}),
    "arp": (metrics.ARPMetric, {}),
    "map": (metrics.MeanAveragePrecisionMetric, {}),
    "ndcg": (metrics.NDCGMetric, {}),
    "ndcg@1": (metrics.NDCGMetric, {"topn": 1}),
    "ndcg@3": (metrics.NDCGMetric, {"topn": 3}),
    "ndcg@5": (metrics.NDCGMetric, {"topn": 5}),
    "ndcg@10": (metrics.NDCGMetric, {"topn": 10}),
    "dcg@5": (metrics.DCGMetric, {"topn": 5}),
    "precision@1": (metrics.PrecisionMetric, {"topn": 1}),
    "precision@5": (metrics.PrecisionMetric, {"topn": 5}),
    "recall@5": (metrics.RecallMetric, {"topn": 5}),
    "opa": (metrics.OPAMetric, {}),
}
ALL_CLASSES = [metrics.NDCGMetric, metrics.DCGMetric, metrics.MRRMetric, metrics.ARPMetric,
               metrics.PrecisionMetric, metrics.RecallMetric,
               metrics.MeanAveragePrecisionMetric, metrics.OPAMetric]
TOPN_CLASSES = [c for c in ALL_CLASSES if c not in (metrics.ARPMetric, metrics.OPAMetric)]


def _result(metric, labels, scores, sample_weight=None):
    metric.reset_state()
    metric.update_state(tf.constant(labels), tf.constant(scores), sample_weight=sample_weight)
    return float(metric.result())


def _values(labels, scores, sample_weight=None, topn=2):
    """{class name: result} for every metric, topn=2 where the metric has a cutoff."""
    out = {}
    for cls in ALL_CLASSES:
        metric = cls(topn=topn) if cls in TOPN_CLASSES else cls()
        out[cls.__name__] = _result(metric, labels, scores, sample_weight)
    return out


# --- TF-Ranking reference values -------------------------------------------------------

@pytest.mark.parametrize("key", sorted(GOLDEN_METRICS))
def test_every_golden_case_matches_tf_ranking(key, golden_cases, assert_reference):
    cls, kwargs = GOLDEN_METRICS[key]
    metric = cls(**kwargs)
    want = [case["metrics"][key] for case in golden_cases]
    got = [_result(metric, c["labels"], c["scores"]) for c in golden_cases]
    assert_reference(got, want, f"{key} (Keras)")
    fn = metric._per_list_fn
    got_impl = [float(metrics_impl.compute_metric(fn, c["labels"], c["scores"], **kwargs))
                for c in golden_cases]
    assert_reference(got_impl, want, f"{key} (metrics_impl)")


def test_tf_ranking_docstring_values(assert_reference):
    # tfr.keras.metrics docstrings: y_true [[0, 1, 1]], y_pred [[3, 1, 2]].
    labels, scores = [[0.0, 1.0, 1.0]], [[3.0, 1.0, 2.0]]
    assert_reference(_result(metrics.MRRMetric(), labels, scores), 0.5, "mrr")
    assert_reference(_result(metrics.ARPMetric(), labels, scores), 2.5, "arp")
    assert_reference(_result(metrics.PrecisionMetric(topn=2), labels, scores), 0.5, "p@2")
    assert_reference(_result(metrics.RecallMetric(topn=2), labels, scores), 0.5, "r@2")
    # Ragged [[0, 1], [1, 2, 0]] with scores [[2, 1], [2, 5, 4]], padded by TF-Ranking.
    labels, scores = [[0.0, 1.0, -1.0], [1.0, 2.0, 0.0]], [[2.0, 1.0, 0.0], [2.0, 5.0, 4.0]]
    assert_reference(_result(metrics.MRRMetric(), labels, scores), 0.75, "ragged mrr")
    assert_reference(_result(metrics.ARPMetric(), labels, scores), 1.75, "ragged arp")
    assert_reference(_result(metrics.RecallMetric(topn=2), labels, scores), 0.75, "ragged r@2")


# --- Ties, padding, lists without relevant items -----------------------------------------

def test_tied_scores_keep_list_order(assert_reference):
    # All scores tie, so the ranking is the list order and the relevant item is third.
    got = _values([[0.0, 0.0, 1.0]], [[1.0, 1.0, 1.0]], topn=None)
    want = {"NDCGMetric": (1.0 / math.log2(4.0)) / 1.0, "DCGMetric": 1.0 / math.log2(4.0),
            "MRRMetric": 1.0 / 3.0, "ARPMetric": 3.0, "PrecisionMetric": 1.0 / 3.0,
            "RecallMetric": 1.0, "MeanAveragePrecisionMetric": 1.0 / 3.0, "OPAMetric": 0.0}
    for name, value in want.items():
        assert_reference(got[name], value, f"{name} with ties")
    # Same scores, relevant item first: it ranks first. A partial tie [0.5, 0.9, 0.5]
    # ranks items 1, 0, 2.
    assert_reference(_result(metrics.MRRMetric(), [[1.0, 0.0, 0.0]], [[1.0, 1.0, 1.0]]), 1.0,
                     "first of a tie")
    assert_reference(_result(metrics.ARPMetric(), [[0.0, 0.0, 1.0]], [[0.5, 0.9, 0.5]]), 3.0,
                     "partial tie")
    assert_reference(_result(metrics.ARPMetric(), [[1.0, 0.0, 0.0]], [[0.5, 0.9, 0.5]]), 2.0,
                     "partial tie")


def test_padded_slots_are_ignored_by_every_metric(assert_reference):
    base = _values([[1.0, 0.0, 2.0], [0.0, 1.0, 0.0]], [[0.1, 0.3, 0.2], [0.5, 0.2, 0.4]])
    for pad_label, pad_score in [(-1.0, 99.0), (-5.0, -99.0)]:
        padded = _values([[1.0, pad_label, 0.0, 2.0], [0.0, pad_label, 1.0, 0.0]],
                         [[0.1, pad_score, 0.3, 0.2], [0.5, pad_score, 0.2, 0.4]])
        for name in base:
            assert_reference(padded[name], base[name], f"{name} with a padded slot")


def test_lists_without_relevant_items_count_as_zero_with_weight_one(assert_reference):
    relevant = ([1.0, 0.0], [0.9, 0.1])  # ranked first: every metric is perfect
    for empty in ([0.0, 0.0], [-1.0, -1.0]):  # no relevant item / all padded
        got = _values([empty, relevant[0]], [[0.3, 0.1], relevant[1]], topn=1)
        for name in ["NDCGMetric", "DCGMetric", "MRRMetric", "PrecisionMetric",
                     "RecallMetric", "MeanAveragePrecisionMetric"]:
            assert_reference(got[name], 0.5, f"{name}: (0 + 1) / 2 lists")
        # ARP weighs lists by label sum, OPA by ordered pairs: the empty list has weight 0.
        assert_reference(got["ARPMetric"], 1.0, "ARP")
        assert_reference(got["OPAMetric"], 1.0, "OPA")
    only_empty = _values([[0.0, 0.0], [-1.0, -1.0]], [[0.3, 0.1], [0.2, 0.1]])
    assert all(value == 0.0 for value in only_empty.values()), only_empty


def test_sample_weights_follow_tf_ranking(assert_reference):
    labels, scores = [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]], [[0.9, 0.1]] * 3
    second = 1.0 / math.log2(3.0)  # relevant item at rank 2
    # A list without relevant items gets the mean weight (3 + 1) / 2 of the other lists.
    got = _result(metrics.NDCGMetric(), labels, scores, sample_weight=[3.0, 1.0, 5.0])
    assert_reference(got, (3.0 * 1.0 + 1.0 * second + 2.0 * 0.0) / 6.0, "per-list weights")
    per_item = _result(metrics.NDCGMetric(), labels, scores,
                       sample_weight=[[3.0, 3.0], [1.0, 1.0], [5.0, 5.0]])
    assert_reference(per_item, got, "constant per-item weights")


def test_state_accumulates_over_batches_and_resets(assert_reference):
    metric = metrics.MRRMetric()
    metric.update_state([[1.0, 0.0]], [[0.9, 0.1]])
    metric.update_state([[0.0, 1.0], [0.0, 0.0]], [[0.9, 0.1], [0.5, 0.4]])
    assert_reference(metric.result(), (1.0 + 0.5 + 0.0) / 3.0, "accumulated")
    metric.reset_state()
    assert float(metric.result()) == 0.0


# --- Construction, serialisation, Keras ----------------------------------------------------

@pytest.mark.parametrize("cls", TOPN_CLASSES)
def test_topn_is_validated(cls):
    assert cls(topn=np.int64(4)).get_config()["topn"] == 4
    with pytest.raises(ValueError, match=rf"{cls.__name__} needs topn=None \(whole list\) or "
                                         r"a positive int\. Received: topn=0\."):
        cls(topn=0)


def test_default_names_show_the_cutoff():
    assert metrics.NDCGMetric(topn=5).name == "ndcg_5"
    assert metrics.NDCGMetric().name == "ndcg"
    assert metrics.MeanAveragePrecisionMetric().name == "map"
    assert metrics.OPAMetric(name="pairs").name == "pairs"


@pytest.mark.parametrize("cls", ALL_CLASSES)
def test_serialisation_round_trip(cls, assert_reference):
    metric = cls(topn=3) if cls in TOPN_CLASSES else cls()
    config = keras.saving.serialize_keras_object(metric)
    assert config["registered_name"] == f"cuttingedge.ranking>{cls.__name__}"
    restored = keras.saving.deserialize_keras_object(config)
    assert type(restored) is cls and restored.get_config() == metric.get_config()
    labels, scores = [[2.0, 0.0, 1.0, -1.0], [0.0, 1.0, 0.0, 3.0]], [[0.1, 0.3, 0.2, 0.9]] * 2
    assert_reference(_result(restored, labels, scores), _result(metric, labels, scores),
                     f"{cls.__name__} after round trip")


def test_metrics_are_reported_per_epoch_by_model_fit():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 4, 2)).astype("float32")
    labels = rng.integers(0, 3, size=(6, 4)).astype("float32")
    labels[:, -1] = -1.0
    inputs = keras.Input(shape=(4, 2))
    model = keras.Model(inputs, keras.layers.Reshape((4,))(keras.layers.Dense(1)(inputs)))
    model.compile(optimizer="sgd", loss="mse",
                  metrics=[cls(topn=2) if cls in TOPN_CLASSES else cls() for cls in ALL_CLASSES])
    history = model.fit(x, labels, batch_size=3, epochs=2, verbose=0)
    names = ["ndcg_2", "dcg_2", "mrr_2", "arp", "precision_2", "recall_2", "map_2", "opa"]
    for name in names:
        assert len(history.history[name]) == 2 and np.isfinite(history.history[name]).all()
    evaluated = model.evaluate(x, labels, verbose=0, return_dict=True)
    want = float(metrics_impl.compute_metric(metrics_impl.ndcg, labels, model.predict(x, verbose=0),
                                             topn=2))
    assert abs(evaluated["ndcg_2"] - want) <= 1e-5 * max(abs(want), 1.0)


def test_saved_model_file_restores_ranking_loss_and_metrics(tmp_path):
    x = np.random.default_rng(1).normal(size=(4, 3, 2)).astype("float32")
    labels = np.array([[1, 0, -1], [2, 0, 1], [0, 0, 0], [1, 1, 0]], "float32")
    inputs = keras.Input(shape=(3, 2))
    model = keras.Model(inputs, keras.layers.Reshape((3,))(keras.layers.Dense(1)(inputs)))
    model.compile(optimizer="sgd", loss=losses.ApproxNDCGLoss(temperature=0.3),
                  metrics=[metrics.NDCGMetric(topn=2), metrics.OPAMetric()])
    before = model.evaluate(x, labels, verbose=0, return_dict=True)
    model.save(tmp_path / "ranker.keras")
    restored = keras.saving.load_model(tmp_path / "ranker.keras")
    assert restored.loss.get_config()["temperature"] == 0.3
    after = restored.evaluate(x, labels, verbose=0, return_dict=True)
    assert set(after) == {"loss", "ndcg_2", "opa"}
    assert all(abs(after[k] - before[k]) <= 1e-6 for k in after), (before, after)


@pytest.mark.parametrize("module", ["utils", "losses_impl", "losses", "metrics_impl", "metrics"])
def test_docstring_examples_run(module):
    mod = importlib.import_module(f"cuttingedge.trainers.ranking.{module}")
    result = doctest.testmod(mod, extraglobs={"tf": tf}, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0, result
