"""A small reader of SVMlight / LightGBM ranking files into dense arrays."""

from __future__ import annotations

import dataclasses
import os
from typing import Optional, Union

import numpy as np

PathLike = Union[str, os.PathLike]


@dataclasses.dataclass(frozen=True, eq=False)
class RankingData:
    """Dense ranking rows.

    Attributes:
      features: [n_rows, n_features] float32; absent features are 0.0.
      labels: [n_rows] int32 relevance grades.
      group_sizes: [n_queries] int32 rows per query, in row order.
    """

    features: np.ndarray
    labels: np.ndarray
    group_sizes: np.ndarray


def _parse_line(line: str, where: str) -> tuple[int, Optional[str], dict[int, float]]:
    tokens = line.split("#", 1)[0].split()
    try:
        label = int(float(tokens[0]))
        qid, values = None, {}
        for token in tokens[1:]:
            key, value = token.split(":", 1)
            if key == "qid":
                qid = value
            else:
                values[int(key)] = float(value)
    except (ValueError, IndexError):
        raise ValueError(
            f"{where}: expected '<label> [qid:<id>] <index>:<value> ...'. Received: "
            f"{line[:80]!r}.") from None
    if values and min(values) < 1:
        raise ValueError(f"{where}: feature indices start at 1. Received index {min(values)}.")
    return label, qid, values


def _groups_from_qids(qids: list[Optional[str]], path: PathLike) -> np.ndarray:
    if any(qid is None for qid in qids):
        raise ValueError(
            f"{path}: without a query file every line needs a 'qid:<id>' field. Pass "
            f"query_path=<file with rows per query> or add qid fields.")
    sizes, previous = [], object()
    for qid in qids:
        if qid == previous:
            sizes[-1] += 1
        else:
            sizes.append(1)
            previous = qid
    return np.asarray(sizes, dtype=np.int32)


def read_svmlight(data_path: PathLike, query_path: Optional[PathLike] = None,
                  n_features: Optional[int] = None) -> RankingData:
    """Reads `<label> [qid:<id>] <index>:<value> ...` lines into dense float32 rows.

    Feature index i (1-based) lands in column i - 1; absent features are 0.0, as when LightGBM
    loads the file itself. Groups come from `query_path` (one row count per line, LightGBM's
    `.query` file) or else from runs of equal `qid` values.

    Args:
      data_path: SVMlight file.
      query_path: Optional side file of rows per query.
      n_features: Number of columns; defaults to the largest index seen.

    Returns:
      A `RankingData`.

    Raises:
      ValueError: on a malformed line, an index above `n_features`, or group sizes that do not
        add up to the number of rows.

    Example:
      >>> import pathlib, tempfile
      >>> folder = pathlib.Path(tempfile.mkdtemp())
      >>> _ = (folder / "d.txt").write_text("2 qid:7 1:0.5 3:1\\n0 qid:7 2:0.25\\n")
      >>> data = read_svmlight(folder / "d.txt")
      >>> data.features.tolist(), data.group_sizes.tolist()
      ([[0.5, 0.0, 1.0], [0.0, 0.25, 0.0]], [2])
    """
    labels, qids, rows = [], [], []
    with open(data_path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if line.split("#", 1)[0].strip():
                label, qid, values = _parse_line(line, f"{data_path}:{number}")
                labels.append(label)
                qids.append(qid)
                rows.append(values)
    width = max((max(row) for row in rows if row), default=0)
    if n_features is not None and width > n_features:
        raise ValueError(
            f"{data_path}: feature index {width} exceeds n_features={n_features}. Pass "
            f"n_features >= {width} or leave it None.")
    features = np.zeros((len(rows), n_features or width), dtype=np.float32)
    for i, row in enumerate(rows):
        features[i, [k - 1 for k in row]] = list(row.values())
    if query_path is not None:
        group_sizes = np.loadtxt(query_path, dtype=np.int32, ndmin=1)
    else:
        group_sizes = _groups_from_qids(qids, data_path)
    if int(group_sizes.sum()) != len(rows):
        raise ValueError(
            f"Group sizes add up to {int(group_sizes.sum())} rows but {data_path} holds "
            f"{len(rows)}. Check that {query_path or 'the qid fields'} belongs to this file.")
    return RankingData(features, np.asarray(labels, dtype=np.int32), group_sizes)
