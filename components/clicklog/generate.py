"""Synthetic click logs with real position bias, generated shard by shard in Beam.

The world:
  * `num_queries` queries drawn from a Zipf law (rank k has probability ~ 1 / k^zipf_a); each
    query has 2-4 text tokens and `candidates` documents of 6-20 tokens from a Zipf vocabulary.
  * Each query-document pair has numeric features and a hidden true relevance (0..4) that
    depends on the features and on query/document token overlap, so text carries signal that
    the numeric features alone do not.
  * Each impression shows `list_size` documents, ordered by a noisy production ranker, and
    clicks follow the position-based model:
        P(click) = P(examined | position) * P(attractive | relevance)
        P(examined | position) = 1 / position^eta
        P(attractive | relevance) = 0.05 + 0.9 * (2^relevance - 1) / 15
    so top positions collect clicks they do not deserve: position bias is real and learnable.
Everything about a query derives from (seed, query), and every shard from (seed, shard), so
shards are independent and the output is the same on any number of workers.

Columns: query_id (one per impression), query_text, doc_id, doc_text, position, label (click),
timestamp, f_quality, f_freshness, f_popularity, f_length, f_bm25 (numeric features) and
true_relevance (hidden; for evaluation only, never a feature).
"""

from __future__ import annotations

import dataclasses
import os

import apache_beam as beam
import numpy as np

FEATURES = ("f_quality", "f_freshness", "f_popularity", "f_length", "f_bm25")
_BASE_TIME = 1_700_000_000


@dataclasses.dataclass(frozen=True)
class ClickGeneratorConfig:
    """Size and shape of a generated click log.

    Args:
      rows: total number of rows (query-document impressions) over all shards.
      shards: number of Parquet files; each is generated independently.
      seed: the whole log is a function of the seed.
      num_queries: distinct queries; their frequencies follow Zipf(zipf_a).
      candidates: candidate documents per query.
      list_size: documents shown per impression.
      vocab_size: distinct text tokens.
      eta: position-bias exponent of the examination model.
    """

    rows: int = 10_000
    shards: int = 1
    seed: int = 0
    num_queries: int = 2_000
    candidates: int = 30
    list_size: int = 10
    vocab_size: int = 5_000
    zipf_a: float = 1.1
    eta: float = 1.0

    def __post_init__(self):
        for name in ("rows", "shards", "num_queries", "candidates", "list_size", "vocab_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1. Received: {name}={getattr(self, name)}")
        if self.list_size > self.candidates:
            raise ValueError(f"list_size ({self.list_size}) cannot exceed candidates "
                             f"({self.candidates}).")
        if self.zipf_a <= 0 or self.eta < 0:
            raise ValueError(f"zipf_a must be > 0 and eta >= 0. Received: zipf_a={self.zipf_a}, "
                             f"eta={self.eta}")

    def shard_rows(self, shard: int) -> int:
        base, extra = divmod(self.rows, self.shards)
        return base + (1 if shard < extra else 0)


def _zipf_probabilities(n: int, a: float) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1) ** a
    return weights / weights.sum()


def _words(tokens: np.ndarray) -> str:
    return " ".join(f"w{t}" for t in tokens)


class _QueryWorld:
    """Everything fixed about one query: text, candidates, features, true relevance."""

    def __init__(self, config: ClickGeneratorConfig, query: int, vocab_p: np.ndarray):
        rng = np.random.default_rng([config.seed, 1, query])
        n = config.candidates
        q_tokens = rng.choice(config.vocab_size, size=rng.integers(2, 5), replace=False,
                              p=vocab_p)
        self.text = _words(q_tokens)
        overlap = np.zeros(n)
        self.doc_texts = []
        for j in range(n):
            length = int(rng.integers(6, 21))
            tokens = rng.choice(config.vocab_size, size=length, p=vocab_p)
            shared = int(rng.binomial(len(q_tokens), 0.35))
            if shared:
                tokens[rng.choice(length, size=shared, replace=False)] = rng.choice(
                    q_tokens, size=shared, replace=False)
            overlap[j] = len(set(tokens) & set(q_tokens)) / len(q_tokens)
            self.doc_texts.append(_words(tokens))
        quality = rng.normal(size=n)
        freshness = rng.uniform(size=n)
        popularity = rng.lognormal(size=n)
        length = rng.integers(50, 5000, size=n).astype(float)
        bm25 = 2.0 * overlap + rng.normal(scale=0.8, size=n)  # a noisy view of the text match
        self.features = np.stack([quality, freshness, popularity, np.log(length), bm25], axis=1)
        score = 1.2 * quality + 0.6 * freshness + 0.4 * np.log1p(popularity) + 3.0 * overlap
        self.relevance = np.digitize(score, np.quantile(score, [0.5, 0.75, 0.9, 0.97]))
        self.logging_score = score + rng.normal(scale=1.0, size=n)


def generate_shard(config: ClickGeneratorConfig, shard: int) -> dict[str, np.ndarray]:
    """Returns the columns of one shard as arrays (deterministic in seed and shard)."""
    rng = np.random.default_rng([config.seed, 2, shard])
    rows, size = config.shard_rows(shard), config.list_size
    impressions = -(-rows // size)
    queries = rng.choice(config.num_queries, size=impressions,
                         p=_zipf_probabilities(config.num_queries, config.zipf_a))
    vocab_p = _zipf_probabilities(config.vocab_size, 1.0)
    worlds: dict[int, _QueryWorld] = {}
    examine = 1.0 / np.arange(1, size + 1) ** config.eta
    parts: dict[str, list] = {name: [] for name in ("query", "doc", "impression", "click")}
    for impression, query in enumerate(queries):
        query = int(query)
        world = worlds.get(query) or worlds.setdefault(
            query, _QueryWorld(config, query, vocab_p))
        noisy = world.logging_score + rng.normal(scale=0.5, size=config.candidates)
        shown = np.argsort(-noisy)[:size]
        attractive = 0.05 + 0.9 * (2.0 ** world.relevance[shown] - 1) / 15.0
        parts["click"].append(rng.uniform(size=size) < examine * attractive)
        parts["query"].append(np.full(size, query))
        parts["doc"].append(shown)
        parts["impression"].append(np.full(size, impression))
    query = np.concatenate(parts["query"])[:rows]
    doc = np.concatenate(parts["doc"])[:rows]
    impression = np.concatenate(parts["impression"])[:rows]
    position = np.tile(np.arange(1, size + 1), impressions)[:rows]
    features = np.stack([worlds[q].features[d] for q, d in zip(query, doc)]) if rows else (
        np.zeros((0, len(FEATURES))))
    columns = {
        "query_id": np.array([f"s{shard:05d}-{i:08d}" for i in impression], dtype=object),
        "query_text": np.array([worlds[q].text for q in query], dtype=object),
        "doc_id": np.array([f"d{q}-{d}" for q, d in zip(query, doc)], dtype=object),
        "doc_text": np.array([worlds[q].doc_texts[d] for q, d in zip(query, doc)],
                             dtype=object),
        "position": position.astype(np.int64),
        "label": np.concatenate(parts["click"])[:rows].astype(np.float64),
        "timestamp": (_BASE_TIME + shard * 10_000_000 + impression * 7).astype(np.int64),
    }
    for index, name in enumerate(FEATURES):
        columns[name] = features[:, index]
    columns["true_relevance"] = np.array(
        [worlds[q].relevance[d] for q, d in zip(query, doc)], dtype=np.float64)
    return columns


def write_shard(config: ClickGeneratorConfig, shard: int, out_dir: str) -> str:
    """Generates one shard and writes it as `part-SSSSS-of-NNNNN.parquet`; returns the path."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import tensorflow as tf

    path = os.path.join(out_dir, f"part-{shard:05d}-of-{config.shards:05d}.parquet")
    table = pa.table(generate_shard(config, shard))
    buffer = pa.BufferOutputStream()
    pq.write_table(table, buffer)
    tf.io.gfile.makedirs(out_dir)
    tmp = path + ".tmp"
    with tf.io.gfile.GFile(tmp, "wb") as handle:
        handle.write(buffer.getvalue().to_pybytes())
    tf.io.gfile.rename(tmp, path, overwrite=True)  # a shard appears whole or not at all
    beam.metrics.Metrics.counter("cuttingedge.generate", "rows").inc(table.num_rows)
    return path


class GenerateClickLogs(beam.PTransform):
    """Writes `config.shards` Parquet shards to `out_dir`; returns the PCollection of paths."""

    def __init__(self, config: ClickGeneratorConfig, out_dir: str):
        super().__init__()
        self._config, self._out_dir = config, out_dir

    def expand(self, pbegin):
        config, out_dir = self._config, self._out_dir
        return (pbegin
                | "Shards" >> beam.Create(range(config.shards))
                | "Spread" >> beam.Reshuffle()
                | "WriteShard" >> beam.Map(lambda shard: write_shard(config, shard, out_dir)))
