import glob
import json
import os

import apache_beam as beam
import pyarrow as pa
import pytest
import pyarrow.parquet as pq
import tensorflow as tf
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from cuttingedge.components import deadletter
from cuttingedge.components.clicklog import ingest
from cuttingedge.components.clicklog.formats import RawRow
from cuttingedge.components.clicklog.record import ClickLogColumns, ClickRow


def _row(qid, position, label=0.0, doc=None, row=None):
    return ClickRow(qid, "q text", doc or f"{qid}-d{position}", "doc text", position, label, 0,
                    {"x": float(position)}, {}, "f", row or position)


def test_parse_click_rows_splits_good_and_rejected():
    raws = [RawRow("f.csv", 2, {"query_id": "q", "position": "1", "label": "1"}),
            RawRow("f.csv", 3, {"query_id": "q", "position": "1", "label": "7"}, text="q,1,7"),
            RawRow("f.csv", 4, None, "expected 3 fields, got 1", "q")]
    with TestPipeline() as p:
        rows, rejected = p | beam.Create(raws) | ingest.ParseClickRows(ClickLogColumns())
        assert_that(rows | "Ids" >> beam.Map(lambda r: (r.query_id, r.row)),
                    equal_to([("q", 2)]), label="good")
        assert_that(rejected, equal_to([
            deadletter.Rejected("f.csv", 3, "column 'label' must be in [0, 4], got 7", "q,1,7"),
            deadletter.Rejected("f.csv", 4, "expected 3 fields, got 1", "q")]), label="bad")


def test_group_clicks_keeps_display_order_and_caps_by_position():
    rows = [_row("a", p) for p in (5, 3, 1, 4, 2)] + [_row("b", 1)]
    with TestPipeline() as p:
        lists = p | beam.Create(rows) | ingest.GroupClicksByQuery(max_list_size=3)
        assert_that(lists | beam.Map(lambda q: (q.query_id, [r.position for r in q.rows],
                                                q.candidates)),
                    equal_to([("a", [1, 2, 3], 5), ("b", [1], 1)]))


def test_sample_cap_is_bounded_deterministic_and_in_display_order():
    rows = [_row("big", p) for p in range(1, 1001)]
    fn = ingest.KeepBoundedList(cap=10, strategy="sample", seed=7)
    acc = fn.create_accumulator()
    for r in rows:
        acc = fn.add_input(acc, r)
        assert len(acc[1]) < 20  # never more than 2 * cap rows held
    seen, kept = fn.extract_output(acc)
    # The same sample whatever the bundle split: merge of two halves gives the same rows.
    halves = [fn.create_accumulator(), fn.create_accumulator()]
    for i, r in enumerate(rows):
        halves[i % 2] = fn.add_input(halves[i % 2], r)
    seen2, kept2 = fn.extract_output(fn.merge_accumulators(halves))
    assert seen == seen2 == 1000
    assert [r.position for r in kept] == [r.position for r in kept2]
    assert [r.position for r in kept] == sorted(r.position for r in kept)
    assert max(r.position for r in kept) > 10  # a sample, not the top 10


def _read_split(examples_dir, split):
    files = glob.glob(os.path.join(examples_dir, f"Split-{split}", "*.gz"))
    records = tf.data.TFRecordDataset(files, compression_type="GZIP")
    return [tf.train.Example.FromString(r.numpy()) for r in records]


@pytest.mark.parametrize("grouping", ingest.GROUPINGS)
def test_ingest_click_logs_writes_splits_dead_letters_and_summary(tmp_path, grouping):
    table = pa.table({
        "query_id": ["q1", "q1", "q1", "q2", "q2", "q3"],
        "query_text": ["red shoes"] * 3 + ["blue hat"] * 2 + ["x"],
        "doc_id": ["d3", "d1", "d2", "d9", "d8", "d7"],
        "doc_text": ["c", "a", "b", "z", "y", "w"],
        "position": [3, 1, 2, 2, 1, 0],          # q3's position 0 is invalid
        "label": [0.0, 1.0, 0.0, 0.0, 1.0, 1.0],
        "bm25": [0.3, 0.1, 0.2, 0.9, 0.8, 0.7],
    })
    pq.write_table(table, tmp_path / "log.parquet")
    config = ingest.ClickLogIngestConfig(max_list_size=2, grouping=grouping)
    out, dead = str(tmp_path / "examples"), str(tmp_path / "dead")
    with TestPipeline() as p:
        _ = p | ingest.IngestClickLogs([str(tmp_path / "log.parquet")], config, out, dead)
    examples = [e for s in ("train", "eval", "test") for e in _read_split(out, s)]
    by_query = {e.features.feature["query_id"].bytes_list.value[0]: e for e in examples}
    assert set(by_query) == {b"q1", b"q2"}
    q1 = by_query[b"q1"].features.feature
    assert list(q1["doc_id"].bytes_list.value) == [b"d1", b"d2"]  # display order, capped
    assert list(q1["position"].int64_list.value) == [1, 2]
    assert list(q1["candidates"].int64_list.value) == [3]
    assert list(q1["bm25"].float_list.value) == [0.1, 0.2] or \
        all(abs(a - b) < 1e-6 for a, b in zip(q1["bm25"].float_list.value, [0.1, 0.2]))
    summary = deadletter.read_summary(dead)
    assert (summary.read, summary.rejected, summary.counts["documents_cut"]) == (6, 1, 1)
    assert sum(summary.counts[f"lists_{s}"] for s in ("train", "eval", "test")) == 2
    (rejected,) = [json.loads(line) for f in glob.glob(f"{dead}/rejected-*.jsonl")
                   for line in open(f)]
    assert rejected["row"] == 6 and "position" in rejected["reason"]
    assert rejected["source"].endswith("log.parquet")


def test_split_assignment_is_stable_across_configs_with_same_weights():
    from cuttingedge.components.split import SplitConfig

    config = SplitConfig()
    assert [config.index_of(f"q{i}") for i in range(50)] == \
        [SplitConfig.parse("train:8,eval:1,test:1").index_of(f"q{i}") for i in range(50)]
    counts = [0, 0, 0]
    for i in range(5000):
        counts[config.index_of(f"q{i}")] += 1
    assert 3800 < counts[0] < 4200 and 380 < counts[1] < 620 and 380 < counts[2] < 620


def _all_examples(examples_dir):
    """{split: {query_id: {feature: values}}} (proto maps serialise in no fixed order)."""
    def values(feature):
        kind = feature.WhichOneof("kind")
        return list(getattr(feature, kind).value) if kind else []

    return {split: {e.features.feature["query_id"].bytes_list.value[0]:
                    {name: values(f) for name, f in e.features.feature.items()}
                    for e in _read_split(examples_dir, split)}
            for split in ("train", "eval", "test")}


def test_contiguous_grouping_writes_exactly_what_the_shuffle_writes(tmp_path):
    """Generated logs keep each impression's rows together: grouping while reading (no
    shuffle) gives the same records, dead letters and counts as the shuffle, bit for bit."""
    from cuttingedge.components.clicklog.generate import ClickGeneratorConfig, generate_shard

    generator = ClickGeneratorConfig(rows=1200, shards=3, num_queries=40)
    files = []
    for shard in range(generator.shards):
        table = pa.table(generate_shard(generator, shard))
        if shard == 1:  # one bad row in the middle of an impression: rejected, kept
            rows = table.to_pylist()
            rows[7]["label"] = 9.0
            table = pa.Table.from_pylist(rows, schema=table.schema)
        files.append(str(tmp_path / f"part-{shard}.parquet"))
        pq.write_table(table, files[-1])
    outputs = {}
    for grouping in ingest.GROUPINGS:
        config = ingest.ClickLogIngestConfig(max_list_size=6, grouping=grouping)
        out, dead = str(tmp_path / grouping / "examples"), str(tmp_path / grouping / "dead")
        with TestPipeline() as p:
            _ = p | ingest.IngestClickLogs(files, config, out, dead)
        (rejected,) = [json.loads(line) for f in glob.glob(f"{dead}/rejected-*.jsonl")
                       for line in open(f)]
        outputs[grouping] = (_all_examples(out), deadletter.read_summary(dead).counts,
                             rejected)
    shuffled, contiguous = outputs["shuffle"], outputs["contiguous"]
    assert sum(len(v) for v in shuffled[0].values()) > 100
    assert contiguous == shuffled
    assert shuffled[1]["read"] == 1200 and shuffled[1]["rejected"] == 1
    assert shuffled[1]["documents_cut"] > 0  # lists of 10 capped at 6


def test_contiguous_grouping_names_the_query_whose_rows_are_scattered(tmp_path):
    table = pa.table({"query_id": ["a", "a", "b", "a"], "position": [1, 2, 1, 3],
                      "label": [1.0, 0.0, 0.0, 0.0], "bm25": [0.1, 0.2, 0.3, 0.4]})
    pq.write_table(table, tmp_path / "log.parquet")
    config = ingest.ClickLogIngestConfig(grouping="contiguous")
    with pytest.raises(Exception, match=r"log.parquet, row 4: query id 'a' appears again.*"
                                        r"grouping='shuffle'"):
        with TestPipeline() as p:
            _ = p | ingest.IngestClickLogs([str(tmp_path / "log.parquet")], config,
                                           str(tmp_path / "examples"), str(tmp_path / "dead"))


def test_unknown_grouping_is_refused_with_the_choices():
    with pytest.raises(ValueError, match=r"Unknown grouping 'sorted'.*'contiguous'"):
        ingest.ClickLogIngestConfig(grouping="sorted")
