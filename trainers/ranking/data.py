"""Per-query ranking records (one tf.Example per list) to dense tensors and arrays.

A record holds context features (query_id, query_text) and per-document list features
(doc_text, position, label, numeric features). Lists are padded, or cut, to `list_size`;
padded slots get label -1, which every loss and metric of this package ignores.
"""

from __future__ import annotations

import dataclasses
import glob
import os

import numpy as np
import tensorflow as tf

RESERVED = frozenset({"query_id", "query_text", "doc_id", "doc_text", "position", "label",
                      "timestamp", "list_size", "candidates", "true_relevance"})
PAD_LABEL = -1.0


def feature_names_from_schema(schema_path: str) -> list[str]:
    """Numeric per-document features of a schema: FLOAT features that are not reserved."""
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    with tf.io.gfile.GFile(schema_path) as handle:
        schema = text_format.Parse(handle.read(), schema_pb2.Schema())
    names = sorted(f.name for f in schema.feature
                   if f.type == schema_pb2.FLOAT and f.name not in RESERVED)
    if not names:
        raise ValueError(f"Schema {schema_path!r} has no numeric per-document features.")
    return names


def parse_lists(serialized: tf.Tensor, feature_names: list[str], list_size: int,
                with_auxiliary: bool = False) -> dict[str, tf.Tensor]:
    """Parses a batch of serialised per-query tf.Examples into dense [batch, list_size] tensors.

    Returns a dict with query_text [B], doc_text [B, L], position [B, L] (0 on padding),
    numeric [B, L, F] (NaN replaced by 0), label [B, L] (-1 on padding) and, with
    `with_auxiliary`, true_relevance [B, L] (-1 on padding, absent -> label).
    """
    ragged = tf.io.RaggedFeature
    spec = {
        "query_text": tf.io.FixedLenFeature([], tf.string, default_value=""),
        "doc_text": ragged(tf.string),
        "position": ragged(tf.int64),
        "label": ragged(tf.float32),
        **{name: ragged(tf.float32) for name in feature_names},
    }
    if with_auxiliary:
        spec["true_relevance"] = ragged(tf.float32)
    parsed = tf.io.parse_example(serialized, spec)
    shape = [None, list_size]
    numeric = tf.stack([parsed[n].to_tensor(0.0, shape=shape) for n in feature_names], axis=-1)
    out = {
        "query_text": parsed["query_text"],
        "doc_text": parsed["doc_text"].to_tensor("", shape=shape),
        "position": parsed["position"].to_tensor(0, shape=shape),
        "numeric": tf.where(tf.math.is_nan(numeric), 0.0, numeric),
        "label": parsed["label"].to_tensor(PAD_LABEL, shape=shape),
    }
    if with_auxiliary:
        aux = parsed["true_relevance"]
        has_aux = tf.size(aux.flat_values) > 0
        out["true_relevance"] = tf.cond(has_aux, lambda: aux.to_tensor(PAD_LABEL, shape=shape),
                                        lambda: out["label"])
    return out


def split_files(examples_uri: str, split: str) -> list[str]:
    """The TFRecord files of one split of a TFX Examples artifact."""
    files = sorted(glob.glob(os.path.join(examples_uri, f"Split-{split}", "*")))
    if not files:
        raise FileNotFoundError(f"No files for split {split!r} under {examples_uri!r}.")
    return files


def make_dataset(files: list[str], feature_names: list[str], list_size: int, batch_size: int,
                 shuffle: bool = False, repeat: bool = False, seed: int = 0,
                 with_auxiliary: bool = False) -> tf.data.Dataset:
    """A tf.data pipeline of parsed, padded list batches (dicts as parse_lists returns)."""
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP")
    if shuffle:
        dataset = dataset.shuffle(4096, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.batch(batch_size)
    dataset = dataset.map(lambda s: parse_lists(s, feature_names, list_size, with_auxiliary),
                          num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)


@dataclasses.dataclass
class RankingLists:
    """A whole split in memory: arrays of shape [lists, list_size(, features)]."""

    numeric: np.ndarray
    label: np.ndarray
    position: np.ndarray
    query_text: np.ndarray
    doc_text: np.ndarray
    true_relevance: np.ndarray

    @property
    def mask(self) -> np.ndarray:
        return self.label >= 0

    def __len__(self) -> int:
        return len(self.label)


def load_lists(files: list[str], feature_names: list[str], list_size: int) -> RankingLists:
    """Reads every list of `files` into memory (for LightGBM, blending and evaluation)."""
    parts: dict[str, list] = {}
    for batch in make_dataset(files, feature_names, list_size, 512, with_auxiliary=True):
        for key, value in batch.items():
            parts.setdefault(key, []).append(value.numpy())
    if not parts:
        raise ValueError(f"No lists in {files}.")
    return RankingLists(**{k: np.concatenate(v) for k, v in parts.items()})


def max_list_size(files: list[str]) -> int:
    """The longest list in `files` (reads only the list_size context feature)."""
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP").batch(1024).map(
        lambda s: tf.io.parse_example(
            s, {"doc_id": tf.io.RaggedFeature(tf.string)})["doc_id"].row_lengths())
    longest = 0
    for lengths in dataset:
        longest = max(longest, int(tf.reduce_max(lengths)) if tf.size(lengths) else 0)
    return longest
