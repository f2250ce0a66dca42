"""End-to-end: the ingestion pipeline under LocalDagRunner with SQLite ML Metadata."""

import glob
import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import tensorflow as tf

from cuttingedge.components.clicklog.generate import ClickGeneratorConfig, generate_shard
from cuttingedge.components.contract import DataContractError
from cuttingedge.pipelines import ingestion
from cuttingedge.pipelines.layout import RunLayout
from cuttingedge.pipelines.outputs import latest_artifacts
from cuttingedge.pipelines.runner import run_pipeline

pytestmark = pytest.mark.e2e


def _count(uri, split):
    files = glob.glob(os.path.join(uri, f"Split-{split}", "*.gz"))
    return sum(1 for _ in tf.data.TFRecordDataset(files, compression_type="GZIP"))


def test_click_log_ingestion_pipeline_end_to_end(tmp_path):
    data = tmp_path / "logs"
    data.mkdir()
    table = pa.table(generate_shard(ClickGeneratorConfig(rows=3000, num_queries=50), 0))
    pq.write_table(table, data / "part-0.parquet")
    bad = table.slice(0, 10).to_pylist()
    bad[3]["label"] = 9.0  # out of range: rejected, kept in the dead letters
    pq.write_table(pa.Table.from_pylist(bad), data / "part-1.parquet")
    layout = RunLayout(str(tmp_path / "runs"))
    config = ingestion.IngestionConfig("clicks", str(data / "*.parquet"), layout)
    run_pipeline(ingestion.create_pipeline(config))

    found = latest_artifacts(layout.metadata_path, config.name)
    assert {"Examples", "ExampleStatistics", "Schema", "ExampleAnomalies",
            "cuttingedge.IngestReport", "cuttingedge.Report"} <= set(found)
    examples = found["Examples"][0].uri
    counts = {s: _count(examples, s) for s in ("train", "eval", "test")}
    # 300 impressions of 10 documents; q ids of part-1 repeat part-0's first impression.
    assert sum(counts.values()) == 300
    assert counts["train"] > counts["eval"] > 0 and counts["test"] > 0
    report = found["cuttingedge.IngestReport"][0].uri
    summary = json.load(open(os.path.join(report, "summary.json")))
    assert summary["read"] == 3010 and summary["rejected"] == 1
    (dead,) = [json.loads(line) for f in glob.glob(f"{report}/rejected-*")
               for line in open(f)]
    assert dead["row"] == 4 and dead["source"].endswith("part-1.parquet")
    assert "'label' must be in [0, 4], got 9" in dead["reason"]
    assert os.path.exists(layout.metadata_path)
    assert layout.pipeline_root(config.name) in examples


def test_schema_drift_stops_the_run_naming_the_feature(tmp_path):
    data = tmp_path / "logs"
    data.mkdir()
    columns = generate_shard(ClickGeneratorConfig(rows=400, num_queries=20), 0)
    columns["f_surprise"] = columns["f_bm25"] * 2  # a column the curated schema lacks
    pq.write_table(pa.table(columns), data / "part-0.parquet")
    config = ingestion.IngestionConfig("clicks", str(data / "*.parquet"),
                                       RunLayout(str(tmp_path / "runs")))
    with pytest.raises(DataContractError, match=r"feature 'f_surprise': New column"):
        run_pipeline(ingestion.create_pipeline(config))


def test_too_many_rejected_rows_fail_the_run_and_keep_dead_letters(tmp_path):
    from cuttingedge.components.deadletter import TooManyRejected

    path = tmp_path / "log.csv"
    path.write_text("query_id,position,label,f_x\nq1,1,1,0.5\nq1,two,0,0.1\nq2,1,0,0.3\n")
    layout = RunLayout(str(tmp_path / "runs"))
    config = ingestion.IngestionConfig("letor", str(path), layout)
    with pytest.raises(TooManyRejected, match=r"1 of 3 records .* row 3: column 'position' "
                       r"is not a number: 'two'"):
        run_pipeline(ingestion.create_pipeline(config))
    dead = glob.glob(f"{layout.pipeline_root(config.name)}/**/rejected-*.jsonl",
                     recursive=True)
    assert dead and "two" in open(dead[0]).read()
