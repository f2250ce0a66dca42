import numpy as np
import pyarrow.parquet as pq
import pytest
from apache_beam.testing.test_pipeline import TestPipeline

from cuttingedge.components.clicklog import generate


def test_generator_is_deterministic_and_shards_are_independent(tmp_path):
    config = generate.ClickGeneratorConfig(rows=3001, shards=3, seed=5, num_queries=200)
    with TestPipeline() as p:
        _ = p | generate.GenerateClickLogs(config, str(tmp_path))
    tables = [pq.read_table(tmp_path / f"part-{i:05d}-of-00003.parquet") for i in range(3)]
    assert [t.num_rows for t in tables] == [1001, 1000, 1000]
    alone = generate.generate_shard(config, 1)
    assert tables[1].column("doc_text").to_pylist() == list(alone["doc_text"])
    assert tables[1].column("label").to_pylist() == list(alone["label"])


def test_same_query_has_same_documents_in_every_shard():
    config = generate.ClickGeneratorConfig(rows=4000, shards=2, num_queries=20)
    a, b = generate.generate_shard(config, 0), generate.generate_shard(config, 1)
    docs_a = dict(zip(a["doc_id"], a["doc_text"]))
    shared = [d for d in b["doc_id"] if d in docs_a]
    assert shared and all(docs_a[d] == t for d, t in zip(b["doc_id"], b["doc_text"])
                          if d in docs_a)


def test_clicks_show_position_bias_at_equal_relevance():
    columns = generate.generate_shard(generate.ClickGeneratorConfig(rows=60000), 0)
    pos, rel, click = columns["position"], columns["true_relevance"], columns["label"]
    for level in (2, 3):
        top = click[(pos == 1) & (rel == level)].mean()
        low = click[(pos >= 6) & (rel == level)].mean()
        assert top > 3 * low  # 1/position examination: position 1 vs 6..10
    # Relevance matters too, at a fixed position.
    assert click[(pos == 1) & (rel == 4)].mean() > click[(pos == 1) & (rel <= 1)].mean() + 0.2


def test_queries_are_zipf_distributed():
    columns = generate.generate_shard(
        generate.ClickGeneratorConfig(rows=50000, num_queries=1000), 0)
    texts = columns["query_text"][columns["position"] == 1]
    _, counts = np.unique(texts, return_counts=True)
    counts = np.sort(counts)[::-1]
    assert counts[0] > 20 * np.median(counts)


@pytest.mark.parametrize("kwargs, message", [
    ({"rows": -5}, "rows must be >= 1. Received: rows=-5"),
    ({"shards": 0}, "shards must be >= 1"),
    ({"list_size": 40, "candidates": 30}, r"list_size \(40\) cannot exceed candidates"),
])
def test_config_rejects_absurd_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        generate.ClickGeneratorConfig(**kwargs)
