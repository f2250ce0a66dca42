"""The neural ranker: per-document encoder, optional document interaction, groupwise scoring.

    numeric --Normalization--+
    query/doc token ids --Embedding, mean-pool, q*d--+--> h [B, L, H]
    overlap ------------------------------------------+
    h --(interaction="attention": self-attention over the list, masked)--> h'
    h' --GroupwiseScorer(group_size g)--> scores [B, L]
    training only: scores + PositionBias(position)  (absorbs position bias of clicks)

Groupwise scoring (TF-Ranking's GSF): each document forms a group with the g-1 documents that
follow it in the list (cyclically, over the valid documents only); an MLP scores the whole
group at once (g outputs), and a document's score is the mean of its g scores from the g
groups it belongs to. With g = 1 it is the standard single-item scorer.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from cuttingedge.trainers.ranking import losses as ranking_losses
from cuttingedge.trainers.ranking import metrics as ranking_metrics

INTERACTIONS = ("none", "attention")


@dataclasses.dataclass(frozen=True)
class RankerConfig:
    """Hyperparameters of the neural ranker (the search space is in trainer.py)."""

    loss: str = "approx_ndcg"
    group_size: int = 1
    interaction: str = "none"
    hidden_units: tuple[int, ...] = (64, 32)
    embedding_dim: int = 16
    use_text: bool = False  # learned token embeddings (the overlap feature is always in)
    position_bias: bool = True
    max_position: int = 50
    learning_rate: float = 3e-3
    dropout: float = 0.1

    def __post_init__(self):
        ranking_losses.get(self.loss)  # raises with the valid names
        if self.group_size < 1:
            raise ValueError(f"group_size must be >= 1. Received: group_size={self.group_size}")
        if self.interaction not in INTERACTIONS:
            raise ValueError(f"Unknown interaction {self.interaction!r}. Expected one of "
                             f"{list(INTERACTIONS)}.")
        if not self.hidden_units or min(self.hidden_units) < 1:
            raise ValueError(f"hidden_units must be positive. Received: {self.hidden_units}")
        if not 0 < self.learning_rate < 1:
            raise ValueError(f"learning_rate must be in (0, 1). Received: {self.learning_rate}")


@keras.saving.register_keras_serializable(package="cuttingedge.ranking")
class GroupwiseScorer(keras.layers.Layer):
    """Scores documents in groups of `group_size` (TF-Ranking's groupwise scoring function)."""

    def __init__(self, group_size: int, hidden_units=(64, 32), dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.group_size, self.hidden_units, self.dropout = group_size, tuple(hidden_units), dropout
        self._mlp = [keras.layers.Dense(u, activation="relu") for u in self.hidden_units]
        self._drop = keras.layers.Dropout(dropout)
        self._out = keras.layers.Dense(group_size)

    def call(self, h, mask, training=None):
        g = self.group_size
        valid = tf.maximum(tf.reduce_sum(tf.cast(mask > 0, tf.int32), axis=1), 1)  # [B]
        size = tf.shape(h)[1]
        index = tf.range(size)[None, :]  # [1, L]
        members = [tf.math.floormod(index + k, valid[:, None]) for k in range(g)]  # g x [B, L]
        group = tf.concat([tf.gather(h, m, batch_dims=1) for m in members], axis=-1)
        x = group
        for layer in self._mlp:
            x = self._drop(layer(x), training=training)
        out = self._out(x)  # [B, L, g]: out[b, i, k] scores document (i + k) mod valid
        total = tf.zeros_like(out[..., 0])
        for k in range(g):
            # Document j is the k-th member of the group that starts at (j - k) mod valid.
            start = tf.math.floormod(index - k, valid[:, None])
            total += tf.gather(out[..., k], start, batch_dims=1)
        return total / float(g) * mask

    def get_config(self):
        return {**super().get_config(), "group_size": self.group_size,
                "hidden_units": list(self.hidden_units), "dropout": self.dropout}


@keras.saving.register_keras_serializable(package="cuttingedge.ranking")
class ListSelfAttention(keras.layers.Layer):
    """Document interaction: masked multi-head self-attention over the list, residual + norm."""

    def __init__(self, heads: int = 2, key_dim: int = 16, **kwargs):
        super().__init__(**kwargs)
        self.heads, self.key_dim = heads, key_dim
        self._attention = keras.layers.MultiHeadAttention(heads, key_dim)
        self._norm = keras.layers.LayerNormalization()

    def build(self, input_shape):
        self._project = keras.layers.Dense(input_shape[-1])
        super().build(input_shape)

    def call(self, h, mask):
        pair = tf.cast(mask[:, :, None] * mask[:, None, :], tf.bool)
        attended = self._attention(h, h, attention_mask=pair)
        return self._norm(h + self._project(attended))

    def get_config(self):
        return {**super().get_config(), "heads": self.heads, "key_dim": self.key_dim}


@keras.saving.register_keras_serializable(package="cuttingedge.ranking")
class TextEncoder(keras.layers.Layer):
    """Embeds query and document tokens; returns [q*d, d, q] features per document."""

    def __init__(self, buckets: int, dim: int, **kwargs):
        super().__init__(**kwargs)
        self.buckets, self.dim = buckets, dim
        self._embed = keras.layers.Embedding(buckets, dim)

    def _pool(self, ids):
        weights = tf.cast(ids > 0, tf.float32)[..., None]
        total = tf.reduce_sum(self._embed(ids) * weights, axis=-2)
        return total / tf.maximum(tf.reduce_sum(weights, axis=-2), 1.0)

    def call(self, query_ids, doc_ids):
        q = self._pool(query_ids)[:, None, :]  # [B, 1, D]
        d = self._pool(doc_ids)  # [B, L, D]
        return tf.concat([q * d, d, tf.broadcast_to(q, tf.shape(d))], axis=-1)

    def get_config(self):
        return {**super().get_config(), "buckets": self.buckets, "dim": self.dim}


@keras.saving.register_keras_serializable(package="cuttingedge.ranking")
class PositionBias(keras.layers.Layer):
    """A learned additive logit per display position (training only; absent at serving)."""

    def __init__(self, max_position: int = 50, **kwargs):
        super().__init__(**kwargs)
        self.max_position = max_position
        self._bias = keras.layers.Embedding(max_position + 1, 1, embeddings_initializer="zeros")

    def call(self, position):
        clipped = tf.clip_by_value(tf.cast(position, tf.int32), 0, self.max_position)
        return tf.squeeze(self._bias(clipped), -1)

    def get_config(self):
        return {**super().get_config(), "max_position": self.max_position}


def position_propensities(trainer: keras.Model) -> list[float] | None:
    """Relative examination propensities by display position, read off the PositionBias tower.

    The tower adds a logit b(p) to every document's score at position p, so the click model
    it learned is exp(score + b(p)) = exp(score) * exp(b(p)): exp(b(p)) is the examination
    propensity up to a constant (exactly so under a softmax loss, approximately under a
    sigmoid one while clicks are rare). Returns [theta(1), ..., theta(max_position)] with
    theta(1) = 1, or None when the trainer has no position tower.
    """
    towers = [layer for layer in trainer.layers if isinstance(layer, PositionBias)]
    if not towers:
        return None
    bias = np.asarray(towers[0]._bias.embeddings.numpy()).reshape(-1)[1:]
    return [float(x) for x in np.exp(bias - bias[0])]


@keras.saving.register_keras_serializable(package="cuttingedge.ranking")
class IgnoredText(keras.layers.Layer):
    """Takes the text inputs of a scorer built without text and returns a zero-width feature.

    Every scorer keeps the same inputs (one preprocessing, one serving signature) whether it
    uses text or not; this connects the unused ones at no cost.
    """

    def call(self, query_ids, doc_ids):
        del query_ids
        return keras.ops.zeros_like(keras.ops.cast(doc_ids[..., :0], "float32"))


def _inputs(num_features: int, text_tokens: tuple[int, int]):
    return {
        "numeric": keras.Input((None, num_features), name="numeric"),
        "query_ids": keras.Input((text_tokens[0],), dtype="int64", name="query_ids"),
        "doc_ids": keras.Input((None, text_tokens[1]), dtype="int64", name="doc_ids"),
        "overlap": keras.Input((None, 1), name="overlap"),
        "mask": keras.Input((None,), name="mask"),
    }


def build_ranker(config: RankerConfig, num_features: int, numeric_sample: np.ndarray,
                 buckets: int, text_tokens: tuple[int, int]):
    """Returns (scorer, trainer): the serving-time scorer and the compiled training model.

    Args:
      config: hyperparameters.
      num_features: numeric features per document.
      numeric_sample: [n_docs, num_features] training documents for the normalisation.
      buckets, text_tokens: the TextConfig the inputs were made with.
    """
    inputs = _inputs(num_features, text_tokens)
    normalize = keras.layers.Normalization(axis=-1)
    normalize.adapt(numeric_sample.astype("float32"))
    parts = [normalize(inputs["numeric"]), inputs["overlap"]]
    if config.use_text:
        parts.append(TextEncoder(buckets, config.embedding_dim)(inputs["query_ids"],
                                                                 inputs["doc_ids"]))
    else:
        parts.append(IgnoredText()(inputs["query_ids"], inputs["doc_ids"]))
    h = keras.layers.Concatenate()(parts)
    h = keras.layers.Dense(config.hidden_units[0], activation="relu")(h)
    if config.interaction == "attention":
        h = ListSelfAttention()(h, inputs["mask"])
    scores = GroupwiseScorer(config.group_size, config.hidden_units, config.dropout,
                             name="scores")(h, inputs["mask"])
    scorer = keras.Model(inputs, scores, name="scorer")
    train_inputs = dict(inputs)
    train_scores = scorer(inputs)
    if config.position_bias:
        train_inputs["position"] = keras.Input((None,), dtype="int64", name="position")
        train_scores = keras.layers.Add()([
            train_scores, PositionBias(config.max_position)(train_inputs["position"])])
    trainer = keras.Model(train_inputs, train_scores, name="trainer")
    trainer.compile(optimizer=keras.optimizers.Adam(config.learning_rate),
                    loss=ranking_losses.get(config.loss)(),
                    metrics=[ranking_metrics.NDCGMetric(topn=10), ranking_metrics.MRRMetric()])
    return scorer, trainer
