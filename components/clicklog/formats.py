"""Readers that turn one click-log file into raw rows, whatever its format.

Each reader yields `RawRow`s in file order, with the 1-based row number a person would look
for (the line number for CSV and LETOR text). A row that cannot even be parsed is still
yielded, with `error` set, so that it reaches the dead-letter output instead of vanishing.

Formats:
  parquet   columns by name (pyarrow, read one record batch at a time)
  csv       header line with column names
  tfrecord  tf.Example records, one per row (optionally gzip-compressed)
  letor     `label qid:Q 1:v 2:v ... # comment` (LETOR / SVMlight); without `qid:` a LightGBM
            side file `<file>.query` gives the number of consecutive rows of each query.
            Absent sparse features are 0 (the SVMlight convention); display position is the
            row's order inside its query; `#docid = X` in the comment becomes the doc id.
"""

from __future__ import annotations

import csv
import os
from typing import Any, Iterator, NamedTuple

FORMATS = ("parquet", "csv", "tfrecord", "letor")
_EXTENSIONS = {
    ".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tfrecord": "tfrecord",
    ".tfrecords": "tfrecord", ".tfr": "tfrecord", ".txt": "letor", ".svm": "letor",
    ".svmlight": "letor", ".libsvm": "letor", ".letor": "letor", ".train": "letor",
    ".test": "letor", ".vali": "letor",
}


class RawRow(NamedTuple):
    """A row as read: `fields` when it parsed, `error` (and the raw `text`) when it did not."""

    source: str
    row: int
    fields: dict[str, Any] | None
    error: str | None = None
    text: str = ""


def detect_format(path: str) -> str:
    """Returns the format of `path` from its extension (`.gz` is looked through).

    Raises:
      ValueError: if the extension is not one of the known ones.
    """
    name = path[:-3] if path.endswith(".gz") else path
    ext = os.path.splitext(name)[1].lower()
    if ext not in _EXTENSIONS:
        raise ValueError(
            f"Cannot tell the format of {path!r} from its extension {ext!r}. Pass the format "
            f"explicitly, one of {list(FORMATS)}; known extensions: {sorted(_EXTENSIONS)}.")
    return _EXTENSIONS[ext]


def read_rows(path: str, fmt: str = "auto") -> Iterator[RawRow]:
    """Yields every row of one file in file order.

    Args:
      path: a local or remote (tf.io.gfile) path.
      fmt: one of FORMATS, or "auto" to detect it from the extension.

    Example:
      >>> rows = list(read_rows("clicks.csv"))  # doctest: +SKIP
    """
    fmt = detect_format(path) if fmt == "auto" else fmt
    readers = {"parquet": _parquet_rows, "csv": _csv_rows, "tfrecord": _tfrecord_rows,
               "letor": _letor_rows}
    if fmt not in readers:
        raise ValueError(f"Unknown click-log format {fmt!r}. Expected one of {list(FORMATS)}.")
    return readers[fmt](path)


def _open(path: str):
    """Opens a local or remote file for binary reading; `.gz` is decompressed."""
    from apache_beam.io.filesystems import FileSystems

    return FileSystems.open(path)


def _text_lines(handle) -> Iterator[str]:
    """Decoded lines of a binary handle (Beam's compressed files lack TextIOWrapper's needs)."""
    for line in iter(handle.readline, b""):
        yield line.decode("utf-8", "replace")


def _parquet_rows(path: str) -> Iterator[RawRow]:
    import pyarrow.parquet as pq
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems

    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        try:
            parquet = pq.ParquetFile(handle)
        except Exception as err:  # pyarrow raises several types for unreadable files.
            yield RawRow(path, 0, None, f"unreadable Parquet file: {err}")
            return
        row = 0
        for batch in parquet.iter_batches(batch_size=8192):
            for fields in batch.to_pylist():
                row += 1
                yield RawRow(path, row, fields)


def _csv_rows(path: str) -> Iterator[RawRow]:
    with _open(path) as handle:
        reader = csv.reader(_text_lines(handle))
        header = next(reader, None)
        if not header:
            yield RawRow(path, 1, None, "empty CSV file: expected a header line")
            return
        header = [h.strip() for h in header]
        for values in reader:
            line = reader.line_num
            if not values:
                continue
            if len(values) != len(header):
                yield RawRow(path, line, None,
                             f"expected {len(header)} fields, got {len(values)}",
                             ",".join(values))
                continue
            yield RawRow(path, line, dict(zip(header, values)), text=",".join(values))


def _tfrecord_rows(path: str) -> Iterator[RawRow]:
    import tensorflow as tf

    compression = "GZIP" if path.endswith(".gz") else ""
    dataset = tf.data.TFRecordDataset(path, compression_type=compression)
    row = 0
    iterator = iter(dataset)
    while True:
        try:
            record = next(iterator)
        except StopIteration:
            return
        except tf.errors.DataLossError as err:
            yield RawRow(path, row + 1, None,
                         f"corrupt TFRecord after record {row}; the rest of the file is "
                         f"unreadable: {err.message}")
            return
        row += 1
        try:
            example = tf.train.Example.FromString(record.numpy())
        except Exception as err:  # protobuf's DecodeError
            yield RawRow(path, row, None, f"not a tf.Example: {err}")
            continue
        yield RawRow(path, row, _example_fields(example))


def _example_fields(example) -> dict[str, Any]:
    fields = {}
    for name, feature in example.features.feature.items():
        kind = feature.WhichOneof("kind")
        values = list(getattr(feature, kind).value) if kind else []
        fields[name] = values[0] if len(values) == 1 else (None if not values else values)
    return fields


def _letor_group_sizes(path: str) -> list[int] | None:
    import tensorflow as tf

    side = path[:-3] + ".query" if path.endswith(".gz") else path + ".query"
    if not tf.io.gfile.exists(side):
        return None
    with _open(side) as handle:
        return [int(line) for line in handle.read().decode().split()]


def _letor_rows(path: str) -> Iterator[RawRow]:
    groups = _letor_group_sizes(path)
    group, left_in_group = 0, groups[0] if groups else 0
    positions: dict[str, int] = {}
    with _open(path) as handle:
        for line_no, raw in enumerate(_text_lines(handle), start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            try:
                fields = parse_letor_line(line)
            except ValueError as err:
                yield RawRow(path, line_no, None, str(err), line)
                continue
            if "query_id" not in fields:
                if groups is None:
                    yield RawRow(path, line_no, None,
                                 "no 'qid:' field and no side file "
                                 f"{os.path.basename(path)}.query with query sizes", line)
                    continue
                while left_in_group == 0 and group + 1 < len(groups):
                    group += 1
                    left_in_group = groups[group]
                if left_in_group == 0:
                    yield RawRow(path, line_no, None,
                                 f"row beyond the {sum(groups)} rows that the .query file "
                                 "covers", line)
                    continue
                left_in_group -= 1
                fields["query_id"] = f"{os.path.basename(path)}#{group + 1}"
            qid = fields["query_id"]
            positions[qid] = positions.get(qid, 0) + 1
            fields["position"] = positions[qid]
            yield RawRow(path, line_no, fields, text=line)


def parse_letor_line(line: str) -> dict[str, Any]:
    """Parses `label qid:Q 1:v 2:v ... # comment` into a dict of fields.

    Features are named `f<index>`. `docid = X` in the comment becomes `doc_id`.

    Raises:
      ValueError: naming the token that is malformed.

    Example:
      >>> parse_letor_line("2 qid:10 1:0.5 3:1 #docid = GX01")
      {'label': 2.0, 'query_id': '10', 'f1': 0.5, 'f3': 1.0, 'doc_id': 'GX01'}
    """
    body, _, comment = line.partition("#")
    tokens = body.split()
    if not tokens:
        raise ValueError("empty LETOR line")
    try:
        fields: dict[str, Any] = {"label": float(tokens[0])}
    except ValueError:
        raise ValueError(f"label {tokens[0]!r} is not a number") from None
    for token in tokens[1:]:
        key, sep, value = token.partition(":")
        if not sep:
            raise ValueError(f"token {token!r} is not 'index:value'")
        if key == "qid":
            fields["query_id"] = value
            continue
        if not key.isdigit():
            raise ValueError(f"feature index {key!r} in {token!r} is not a positive integer")
        try:
            fields[f"f{int(key)}"] = float(value)
        except ValueError:
            raise ValueError(f"feature value {value!r} in {token!r} is not a number") from None
    doc = _comment_field(comment, "docid")
    if doc:
        fields["doc_id"] = doc
    return fields


def _comment_field(comment: str, name: str) -> str | None:
    tokens = comment.replace("=", " = ").split()
    for i, token in enumerate(tokens[:-2]):
        if token == name and tokens[i + 1] == "=":
            return tokens[i + 2]
    return None
