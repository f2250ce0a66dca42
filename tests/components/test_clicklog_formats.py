import gzip

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import tensorflow as tf

from cuttingedge.components.clicklog import formats
from cuttingedge.components.clicklog.record import ClickLogColumns, RowError, to_click_row


def test_parse_letor_line_keeps_features_qid_and_docid():
    fields = formats.parse_letor_line("2 qid:10 1:0.5 3:1 #docid = GX01 inc = 1 prob = 0.2")
    assert fields == {"label": 2.0, "query_id": "10", "f1": 0.5, "f3": 1.0, "doc_id": "GX01"}


@pytest.mark.parametrize("line, message", [
    ("x qid:1 1:0.5", "label 'x' is not a number"),
    ("1 qid:1 a:0.5", "feature index 'a'"),
    ("1 qid:1 1:zz", "feature value 'zz'"),
    ("1 qid:1 17", "token '17' is not 'index:value'"),
])
def test_parse_letor_line_names_the_bad_token(line, message):
    with pytest.raises(ValueError, match=message):
        formats.parse_letor_line(line)


def test_letor_reader_numbers_rows_and_positions_and_rejects_bad_lines(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text("1 qid:7 1:0.1 2:0.2\n0 qid:7 1:0.3\nbad line here\n2 qid:3 2:0.9\n")
    rows = list(formats.read_rows(str(path)))
    assert [r.row for r in rows] == [1, 2, 3, 4]
    assert rows[0].fields["position"] == 1 and rows[1].fields["position"] == 2
    assert rows[3].fields["position"] == 1
    assert rows[2].fields is None and "label 'bad'" in rows[2].error
    assert rows[2].text == "bad line here"


def test_letor_reader_uses_query_side_file_without_qid(tmp_path):
    path = tmp_path / "rank.train"
    path.write_text("1 1:0.1\n0 2:0.2\n3 1:0.5\n")
    (tmp_path / "rank.train.query").write_text("2\n1\n")
    rows = list(formats.read_rows(str(path), "letor"))
    assert [r.fields["query_id"] for r in rows] == ["rank.train#1", "rank.train#1",
                                                   "rank.train#2"]
    assert [r.fields["position"] for r in rows] == [1, 2, 1]


def test_letor_reader_without_qid_or_side_file_rejects_rows(tmp_path):
    path = tmp_path / "rank.svm"
    path.write_text("1 1:0.1\n")
    (row,) = formats.read_rows(str(path))
    assert "no 'qid:' field" in row.error


def test_letor_reader_reads_real_lightgbm_layout(shared_data):
    rows = list(formats.read_rows(str(shared_data / "lightgbm_lambdarank" / "rank.train"),
                                  "letor"))
    assert len(rows) == 3005 and all(r.error is None for r in rows)
    sizes = [int(x) for x in (shared_data / "lightgbm_lambdarank" /
                              "rank.train.query").read_text().split()]
    assert len({r.fields["query_id"] for r in rows}) == len(sizes) == 201


def test_csv_reader_reports_line_numbers_and_field_count(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("query_id,position,label,bm25\nq1,1,1,0.5\nq1,2\nq2,1,0,0.1\n")
    rows = list(formats.read_rows(str(path)))
    assert [r.row for r in rows] == [2, 3, 4]
    assert rows[1].error == "expected 4 fields, got 2"
    assert rows[2].fields == {"query_id": "q2", "position": "1", "label": "0", "bm25": "0.1"}


def test_parquet_and_tfrecord_readers_give_the_same_fields(tmp_path):
    table = pa.table({"query_id": ["a", "a"], "position": [1, 2], "label": [1.0, 0.0],
                      "x": [0.5, 0.25]})
    pq.write_table(table, tmp_path / "log.parquet")
    with tf.io.TFRecordWriter(str(tmp_path / "log.tfrecord")) as writer:
        for row in table.to_pylist():
            writer.write(tf.train.Example(features=tf.train.Features(feature={
                "query_id": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"a"])),
                "position": tf.train.Feature(int64_list=tf.train.Int64List(
                    value=[row["position"]])),
                "label": tf.train.Feature(float_list=tf.train.FloatList(value=[row["label"]])),
                "x": tf.train.Feature(float_list=tf.train.FloatList(value=[row["x"]])),
            })).SerializeToString())
    columns = ClickLogColumns()
    from_parquet = [to_click_row(r.fields, columns, "p", r.row)
                    for r in formats.read_rows(str(tmp_path / "log.parquet"))]
    from_tfrecord = [to_click_row(r.fields, columns, "p", r.row)
                     for r in formats.read_rows(str(tmp_path / "log.tfrecord"))]
    assert from_parquet == from_tfrecord
    assert [r.features for r in from_parquet] == [{"x": 0.5}, {"x": 0.25}]


def test_corrupt_files_become_rejected_rows(tmp_path):
    (tmp_path / "bad.parquet").write_bytes(b"not parquet at all")
    (row,) = formats.read_rows(str(tmp_path / "bad.parquet"))
    assert row.error.startswith("unreadable Parquet file")
    with tf.io.TFRecordWriter(str(tmp_path / "t.tfrecord")) as writer:
        writer.write(b"x" * 10)
    data = (tmp_path / "t.tfrecord").read_bytes()
    (tmp_path / "t.tfrecord").write_bytes(data[:-3])  # truncated
    (row,) = formats.read_rows(str(tmp_path / "t.tfrecord"))
    assert "corrupt TFRecord" in row.error


def test_gzip_letor_is_read(tmp_path):
    with gzip.open(tmp_path / "a.txt.gz", "wt") as handle:
        handle.write("1 qid:1 1:0.5\n")
    (row,) = formats.read_rows(str(tmp_path / "a.txt.gz"))
    assert row.fields["f1"] == 0.5


def test_unknown_extension_lists_the_choices():
    with pytest.raises(ValueError, match=r"Cannot tell the format .* one of \['parquet'"):
        formats.detect_format("data.xlsx")


@pytest.mark.parametrize("raw, message", [
    ({"position": 1, "label": 1}, "missing required column 'query_id'"),
    ({"query_id": "q", "position": 0, "label": 1}, "'position' must be an integer >= 1, got 0"),
    ({"query_id": "q", "position": 1.5, "label": 1}, "'position' must be an integer >= 1"),
    ({"query_id": "q", "position": 1, "label": 9}, r"'label' must be in \[0, 4\], got 9"),
    ({"query_id": "q", "position": 1, "label": "yes"}, "'label' is not a number: 'yes'"),
    ({"query_id": "q", "position": 1, "label": 1, "bm25": "nan"}, "'bm25' is not finite"),
    ({"query_id": " ", "position": 1, "label": 1}, "'query_id' is empty"),
])
def test_row_rules_name_the_column_and_rule(raw, message):
    with pytest.raises(RowError, match=message):
        to_click_row(raw, ClickLogColumns(), "f.csv", 3)


def test_auxiliary_columns_are_not_features():
    row = to_click_row({"query_id": "q", "position": 1, "label": 0, "true_relevance": 3,
                        "f_a": 1}, ClickLogColumns(), "f", 1)
    assert row.features == {"f_a": 1.0} and row.auxiliary == {"true_relevance": 3.0}
    assert row.doc_id == "f:1"
