"""The neural ranker's layers, preprocessing and serving signature, on tiny inputs."""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from cuttingedge.trainers.ranking import model, preprocess, serving


def test_group_size_one_scores_each_document_alone():
    layer = model.GroupwiseScorer(1, (4,))
    h = tf.random.normal([1, 4, 3], seed=1)
    mask = tf.ones([1, 4])
    full = layer(h, mask).numpy()
    single = np.array([layer(h[:, i:i + 1], tf.ones([1, 1])).numpy()[0, 0] for i in range(4)])
    np.testing.assert_allclose(full[0], single, rtol=1e-5)


def test_groupwise_scores_are_equivariant_to_cyclic_order_and_ignore_padding():
    layer = model.GroupwiseScorer(3, (8,))
    h = tf.random.normal([1, 5, 4], seed=2)
    mask = tf.constant([[1, 1, 1, 0, 0]], tf.float32)
    base = layer(h, mask).numpy()
    rolled = tf.concat([tf.roll(h[:, :3], 1, axis=1), h[:, 3:]], axis=1)
    np.testing.assert_allclose(np.roll(base[0, :3], 1), layer(rolled, mask).numpy()[0, :3],
                               rtol=1e-5)
    assert base[0, 3] == 0 and base[0, 4] == 0
    other_padding = tf.concat([h[:, :3], 100 * tf.ones([1, 2, 4])], axis=1)
    np.testing.assert_allclose(base, layer(other_padding, mask).numpy(), rtol=1e-5)


def test_all_padding_and_single_document_lists_are_finite():
    layer = model.GroupwiseScorer(3, (8,))
    h = tf.random.normal([2, 4, 4], seed=3)
    scores = layer(h, tf.constant([[0, 0, 0, 0], [1, 0, 0, 0]], tf.float32)).numpy()
    assert np.all(np.isfinite(scores)) and np.all(scores[0] == 0) and np.all(scores[1, 1:] == 0)


def test_attention_ignores_padded_documents():
    layer = model.ListSelfAttention()
    h = tf.random.normal([1, 4, 8], seed=4)
    mask = tf.constant([[1, 1, 0, 0]], tf.float32)
    changed = tf.concat([h[:, :2], 50 * tf.ones([1, 2, 8])], axis=1)
    np.testing.assert_allclose(layer(h, mask).numpy()[0, :2], layer(changed, mask).numpy()[0, :2],
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("layer", [
    model.GroupwiseScorer(2, (8, 4), 0.1), model.ListSelfAttention(3, 8),
    model.TextEncoder(64, 4), model.PositionBias(20)])
def test_custom_layers_round_trip_through_keras_serialisation(layer):
    config = keras.saving.serialize_keras_object(layer)
    restored = keras.saving.deserialize_keras_object(config)
    assert type(restored) is type(layer) and restored.get_config() == layer.get_config()


@pytest.mark.parametrize("kwargs, message", [
    ({"loss": "hinge"}, "Unknown .*hinge"),
    ({"group_size": 0}, "group_size must be >= 1. Received: group_size=0"),
    ({"interaction": "lstm"}, r"Unknown interaction 'lstm'. Expected one of \['none'"),
    ({"learning_rate": 2.0}, r"learning_rate must be in \(0, 1\)"),
])
def test_ranker_config_rejects_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        model.RankerConfig(**kwargs)


def test_overlap_counts_distinct_query_tokens_found():
    config = preprocess.TextConfig(buckets=1 << 10, query_tokens=4, doc_tokens=6)
    out = preprocess.preprocess({
        "query_text": tf.constant(["red shoes", ""]),
        "doc_text": tf.constant([["red red boots", "Shoes RED"], ["x", ""]]),
        "numeric": tf.zeros([2, 2, 1]), "label": tf.constant([[1.0, 0.0], [0.0, -1.0]])},
        config)
    np.testing.assert_allclose(out["overlap"][..., 0].numpy(), [[0.5, 1.0], [0.0, 0.0]])
    np.testing.assert_array_equal(out["mask"].numpy(), [[1, 1], [1, 0]])


def test_elwc_parsing_handles_empty_lists_nan_and_unknown_features():
    requests = [serving.to_elwc("q", [{"doc_text": "a", "f": float("nan"), "zzz": 1.0}]),
                serving.to_elwc("q", [])]
    parsed = serving.parse_elwc(tf.constant(requests), ["f"])
    assert parsed["numeric"].shape.as_list() == [2, 1, 1]
    assert parsed["numeric"].numpy()[0, 0, 0] == 0.0          # NaN read as 0
    np.testing.assert_array_equal(parsed["mask"].numpy(), [[1], [0]])


def test_elwc_missing_feature_is_named():
    with pytest.raises(tf.errors.InvalidArgumentError, match="f_needed"):
        serving.parse_elwc(tf.constant([serving.to_elwc("q", [{"doc_text": "a"}])]),
                           ["f_needed"])


def test_a_ranker_without_text_takes_the_same_inputs_ignores_text_and_saves(tmp_path):
    rng = np.random.default_rng(0)
    config = model.RankerConfig(use_text=False, position_bias=False, group_size=2)
    scorer, trainer = model.build_ranker(config, 3, rng.normal(size=(50, 3)), 64, (4, 6))
    inputs = {"numeric": tf.constant(rng.normal(size=(2, 5, 3)), tf.float32),
              "query_ids": tf.constant(rng.integers(0, 64, size=(2, 4))),
              "doc_ids": tf.constant(rng.integers(0, 64, size=(2, 5, 6))),
              "overlap": tf.zeros([2, 5, 1]), "mask": tf.ones([2, 5])}
    other_text = dict(inputs, query_ids=inputs["query_ids"] + 1, doc_ids=inputs["doc_ids"] + 1)
    np.testing.assert_allclose(scorer(inputs).numpy(), scorer(other_text).numpy())
    trainer.fit(inputs, tf.constant(rng.integers(0, 3, size=(2, 5)), tf.float32), epochs=1,
                verbose=0)
    scorer.save(tmp_path / "scorer.keras")
    restored = keras.models.load_model(tmp_path / "scorer.keras")
    np.testing.assert_allclose(restored(inputs).numpy(), scorer(inputs).numpy(), rtol=1e-5)


def test_position_propensities_are_the_position_towers_exponentiated_logits():
    rng = np.random.default_rng(0)
    config = model.RankerConfig(use_text=False, max_position=4)
    _, trainer = model.build_ranker(config, 3, rng.normal(size=(50, 3)), 64, (4, 6))
    tower = next(layer for layer in trainer.layers if isinstance(layer, model.PositionBias))
    # Index 0 is padding; positions 1..4 examined 1, 1/2, 1/3, 1/4 (up to a constant).
    tower._bias.embeddings.assign(np.log([[7.0], [2.0], [1.0], [2 / 3], [0.5]]))
    np.testing.assert_allclose(model.position_propensities(trainer), [1, 1 / 2, 1 / 3, 1 / 4],
                               rtol=1e-5)
    _, without = model.build_ranker(dataclasses.replace(config, position_bias=False), 3,
                                    rng.normal(size=(50, 3)), 64, (4, 6))
    assert model.position_propensities(without) is None
