"""The served ranking model: ELWC in, scores out, with stock TensorFlow ops only.

`serving_default` takes a batch of serialised `tensorflow.serving.ExampleListWithContext`
(context = query features, examples = document features) and returns `scores`
[batch, list_size], list_size being the longest list of the batch; slots past a list's end
score 0 and must be ignored. ELWC is decoded with `tf.io.decode_proto` against a descriptor
embedded in the graph, so neither TF-Ranking nor any custom op is needed at serving time.

Handling of odd requests (documented, tested):
  * a feature the model does not use (an unknown name) is ignored, as tf.Example parsing does;
  * a missing numeric feature is an error naming it ("Feature: f_bm25 ... is required");
  * NaN numeric values are read as 0 (as at training time);
  * a list with no documents gets an empty row of scores.
"""

from __future__ import annotations

import os

import tensorflow as tf
from google.protobuf import descriptor_pb2
from tensorflow_serving.apis import input_pb2

from cuttingedge.trainers.ranking.preprocess import TextConfig, preprocess

ELWC = "tensorflow.serving.ExampleListWithContext"


def _descriptor_set() -> bytes:
    files, seen = descriptor_pb2.FileDescriptorSet(), set()

    def add(file_descriptor):
        if file_descriptor.name in seen:
            return
        seen.add(file_descriptor.name)
        for dependency in file_descriptor.dependencies:
            add(dependency)
        file_descriptor.CopyToProto(files.file.add())

    add(input_pb2.DESCRIPTOR)
    return files.SerializeToString()


def parse_elwc(serialized: tf.Tensor, feature_names: list[str]) -> dict[str, tf.Tensor]:
    """Decodes ELWC protos into query_text [B], doc_text [B, L], numeric [B, L, F], mask."""
    sizes, (examples, context) = tf.io.decode_proto(
        serialized, ELWC, ["examples", "context"], [tf.string, tf.string],
        descriptor_source=b"bytes://" + _descriptor_set())
    counts = sizes[:, 0]
    flat = tf.boolean_mask(examples, tf.sequence_mask(counts, tf.shape(examples)[1]))
    doc_spec = {"doc_text": tf.io.FixedLenFeature([], tf.string, default_value=""),
                **{n: tf.io.FixedLenFeature([], tf.float32) for n in feature_names}}
    docs = tf.io.parse_example(flat, doc_spec)
    context_text = tf.io.parse_example(
        tf.reshape(context, [-1]),
        {"query_text": tf.io.FixedLenFeature([], tf.string, default_value="")})["query_text"]

    def listed(values, pad):
        return tf.RaggedTensor.from_row_lengths(values, counts).to_tensor(pad)

    numeric = tf.stack([listed(docs[n], 0.0) for n in feature_names], axis=-1)
    return {
        "query_text": context_text,
        "doc_text": listed(docs["doc_text"], ""),
        "numeric": tf.where(tf.math.is_nan(numeric), 0.0, numeric),
        "mask": tf.sequence_mask(counts, tf.reduce_max(tf.concat([counts, [0]], 0)),
                                 dtype=tf.float32),
    }


class RankingServer(tf.Module):
    """The exported model: a neural scorer, optionally blended with compiled LambdaMART trees.

    score = (1 - w) * z(neural) + w * z(trees) with z the per-list standardisation over the
    list's documents; w = 0 (or no trees) is the neural scorer alone.
    """

    def __init__(self, scorer, feature_names: list[str], text: TextConfig, forest=None,
                 blend_weight: float = 0.0):
        super().__init__()
        self.scorer, self.forest = scorer, forest
        self.feature_names = list(feature_names)
        self.text = text
        self.blend_weight = tf.Variable(float(blend_weight), trainable=False)
        self.serve = tf.function(self._serve, input_signature=[
            tf.TensorSpec([None], tf.string, name="examples")])

    def score_features(self, features: dict[str, tf.Tensor]) -> tf.Tensor:
        inputs = preprocess(features, self.text)
        mask = inputs["mask"]
        neural = self.scorer(inputs, training=False)
        if self.forest is None:
            return neural * mask
        flat = tf.reshape(features["numeric"], [-1, len(self.feature_names)])
        trees = tf.reshape(self.forest.score(flat), tf.shape(mask))
        w = self.blend_weight
        return ((1.0 - w) * standardize(neural, mask) + w * standardize(trees, mask)) * mask

    def _serve(self, examples):
        return {"scores": self.score_features(parse_elwc(examples, self.feature_names))}


def standardize(scores: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """Per-list z-score of scores over the valid documents (std floored at 1e-6)."""
    count = tf.maximum(tf.reduce_sum(mask, axis=1, keepdims=True), 1.0)
    mean = tf.reduce_sum(scores * mask, axis=1, keepdims=True) / count
    var = tf.reduce_sum(tf.square(scores - mean) * mask, axis=1, keepdims=True) / count
    return (scores - mean) / tf.sqrt(var + 1e-12) * mask


def export(server: RankingServer, path: str) -> str:
    """Saves `server` as a SavedModel with the ELWC `serving_default` signature."""
    tf.saved_model.save(server, path, signatures={"serving_default": server.serve})
    with tf.io.gfile.GFile(os.path.join(path, "feature_names.txt"), "w") as f:
        f.write("\n".join(server.feature_names) + "\n")
    return path


def to_elwc(query_text: str, docs: list[dict]) -> bytes:
    """Builds a serialised ELWC from a query text and document feature dicts (for clients)."""
    elwc = input_pb2.ExampleListWithContext()
    elwc.context.features.feature["query_text"].bytes_list.value.append(query_text.encode())
    for doc in docs:
        example = elwc.examples.add()
        for name, value in doc.items():
            feature = example.features.feature[name]
            if isinstance(value, str):
                feature.bytes_list.value.append(value.encode())
            else:
                feature.float_list.value.append(float(value))
    return elwc.SerializeToString()
