"""Text preprocessing shared by training and serving (one function, so no skew).

Tokens are whitespace-split, lower-cased and hashed into `buckets` ids (0 is padding), so no
vocabulary file has to travel with the model. Overlap is the fraction of distinct query
tokens found in the document.
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class TextConfig:
    """Token hashing and truncation.

    Args:
      buckets: hash buckets for tokens.
      query_tokens: query tokens kept (the rest are cut).
      doc_tokens: document tokens kept.
    """

    buckets: int = 1 << 14
    query_tokens: int = 8
    doc_tokens: int = 48

    def __post_init__(self):
        if self.buckets < 2 or self.query_tokens < 1 or self.doc_tokens < 1:
            raise ValueError(f"Invalid TextConfig: {self}. buckets must be >= 2 and token "
                             "counts >= 1.")


def token_ids(text: tf.Tensor, length: int, buckets: int) -> tf.Tensor:
    """Hashes the whitespace tokens of `text` (any shape S) into ids of shape S + [length]."""
    words = tf.strings.split(tf.strings.lower(text))
    ids = tf.strings.to_hash_bucket_fast(words, buckets - 1) + 1
    return ids.to_tensor(0, shape=[None] * text.shape.rank + [length])


def preprocess(features: dict[str, tf.Tensor], config: TextConfig) -> dict[str, tf.Tensor]:
    """Model inputs from parsed lists: numeric, query/doc token ids, overlap, mask.

    Args:
      features: query_text [B], doc_text [B, L], numeric [B, L, F], and `mask` [B, L] or
        `label` [B, L] (-1 on padding).
    Returns:
      numeric [B, L, F], query_ids [B, Tq], doc_ids [B, L, Td], overlap [B, L, 1],
      mask [B, L] float (1 for a real document).
    """
    query_ids = token_ids(features["query_text"], config.query_tokens, config.buckets)
    doc_ids = token_ids(features["doc_text"], config.doc_tokens, config.buckets)
    match = tf.equal(query_ids[:, None, :, None], doc_ids[:, :, None, :])
    found = tf.reduce_any(match, axis=-1) & (query_ids[:, None, :] > 0)
    count = tf.maximum(tf.reduce_sum(tf.cast(query_ids > 0, tf.float32), -1), 1.0)
    overlap = tf.reduce_sum(tf.cast(found, tf.float32), -1) / count[:, None]
    if "mask" in features:
        mask = tf.cast(features["mask"], tf.float32)
    else:
        mask = tf.cast(features["label"] >= 0, tf.float32)
    return {"numeric": tf.cast(features["numeric"], tf.float32), "query_ids": query_ids,
            "doc_ids": doc_ids, "overlap": overlap[..., None], "mask": mask}
