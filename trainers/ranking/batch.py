"""Batch scoring of a click-log or LETOR file with a pushed ranking SavedModel.

Rows are read and validated exactly as ingestion reads them (same readers, same rules, absent
sparse features = 0), grouped by query, sent to the model's ELWC `serving_default` as
TF Serving would receive them, and written back one score per input row in input order.
"""

from __future__ import annotations

import csv
import os

import numpy as np
import tensorflow as tf

from cuttingedge.components.clicklog import formats
from cuttingedge.components.clicklog.record import ClickLogColumns, RowError, to_click_row
from cuttingedge.trainers.ranking.serving import to_elwc


class ScoringError(ValueError):
    """The input cannot be scored as it is; the message says which row and why."""


def read_feature_names(model_dir: str) -> list[str]:
    path = os.path.join(model_dir, "feature_names.txt")
    if not tf.io.gfile.exists(path):
        raise ScoringError(f"{model_dir!r} is not a ranking model of this project: "
                           "feature_names.txt is missing.")
    with tf.io.gfile.GFile(path) as handle:
        return handle.read().split()


def score_file(model_dir: str, input_path: str, output_path: str, input_format: str = "auto",
               batch_size: int = 64) -> int:
    """Scores every row of `input_path`; writes TSV `qid, row, score`; returns the row count.

    Raises:
      ScoringError: on the first invalid row, naming file, row and rule.
    """
    names = read_feature_names(model_dir)
    serve = tf.saved_model.load(model_dir).signatures["serving_default"]
    columns = ClickLogColumns(max_label=1e9)
    queries: dict[str, list] = {}
    count = 0
    for raw in formats.read_rows(input_path, input_format):
        if raw.error is not None:
            raise ScoringError(f"{raw.source} row {raw.row}: {raw.error}")
        fields = dict(raw.fields)
        fields.setdefault("label", 0.0)
        try:
            row = to_click_row(fields, columns, raw.source, raw.row)
        except RowError as err:
            raise ScoringError(f"{raw.source} row {raw.row}: {err}") from None
        queries.setdefault(row.query_id, []).append((count, row))
        count += 1
    scores = np.zeros(count)
    items = list(queries.items())
    for start in range(0, len(items), batch_size):
        chunk = items[start:start + batch_size]
        requests = [to_elwc(rows[0][1].query_text,
                            [{"doc_text": r.doc_text, **{n: r.features.get(n, 0.0) for n in names}}
                             for _, r in rows]) for _, rows in chunk]
        result = serve(examples=tf.constant(requests))["scores"].numpy()
        for (_, rows), row_scores in zip(chunk, result):
            for (index, _), score in zip(rows, row_scores):
                scores[index] = score
    order = sorted((index, row.query_id) for rows in queries.values() for index, row in rows)
    with tf.io.gfile.GFile(output_path, "w") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(["qid", "row", "score"])
        for index, qid in order:
            writer.writerow([qid, index, f"{scores[index]:.6g}"])
    return count
