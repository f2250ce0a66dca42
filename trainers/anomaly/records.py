"""Series back from SensorExampleGen's windowed tf.Examples (Split-<name>/*.gz).

Each record is one point (`series`, `row`, `timestamp`, `<col>`, `<col>_missing`, ...; see
`cuttingedge.components.sensors.ingest`). Points are regrouped per series and put back in
time order (timestamp, then row), splits concatenated in the order given (train, eval,
test: ingestion splits each series by time in that order).

Example:
    >>> import tempfile
    >>> load_split_series(tempfile.mkdtemp(), ("train",))
    {}
"""

from __future__ import annotations

import dataclasses
import glob
import os

import numpy as np


@dataclasses.dataclass(frozen=True)
class SplitSeries:
    """One series from the records: arrays in time order, and how many points per split."""

    name: str
    values: np.ndarray      # float64, NaN where the input value was missing
    timestamps: np.ndarray  # int64 epoch seconds
    rows: np.ndarray        # 1-based input row
    split_sizes: dict       # split name -> points, in split order
    examples: tuple         # a few serialised records of the last split (for requests)

    def split_slice(self, split: str) -> slice:
        start = 0
        for name, size in self.split_sizes.items():
            if name == split:
                return slice(start, start + size)
            start += size
        raise KeyError(f"Unknown split {split!r}. Expected one of {list(self.split_sizes)}.")


def split_files(examples_uri: str, split: str) -> list[str]:
    return sorted(glob.glob(os.path.join(examples_uri, f"Split-{split}", "*")))


def _read_split(files, value_column: str):
    import tensorflow as tf

    spec = {"series": tf.io.FixedLenFeature([], tf.string),
            "row": tf.io.FixedLenFeature([], tf.int64),
            "timestamp": tf.io.FixedLenFeature([], tf.int64),
            value_column: tf.io.FixedLenFeature([], tf.float32),
            f"{value_column}_missing": tf.io.FixedLenFeature([], tf.int64, default_value=0)}
    columns = {key: [] for key in (*spec, "raw")}
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP").batch(4096)
    for batch in dataset:
        parsed = tf.io.parse_example(batch, spec)
        for key, value in parsed.items():
            columns[key].append(value.numpy())
        columns["raw"].append(batch.numpy())
    return {key: np.concatenate(value) if value else np.array([]) for key, value in
            columns.items()}


def load_split_series(examples_uri: str, splits=("train", "eval", "test"),
                      value_column: str = "value", keep_examples: int = 4) -> dict:
    """name -> `SplitSeries` of every series in the Examples artifact at `examples_uri`."""
    parts = {}
    for split in splits:
        files = split_files(examples_uri, split)
        if files:
            parts[split] = _read_split(files, value_column)
    names = sorted({s.decode() for part in parts.values() for s in part["series"]})
    found = {}
    for name in names:
        chunks, sizes, examples = [], {}, ()
        for split, part in parts.items():
            mine = np.flatnonzero(part["series"] == name.encode())
            mine = mine[np.lexsort((part["row"][mine], part["timestamp"][mine]))]
            sizes[split] = len(mine)
            chunks.append(mine if len(mine) else None)
            if len(mine):
                examples = tuple(part["raw"][mine[:keep_examples]])
        pick = lambda key: np.concatenate([parts[s][key][i] for s, i in  # noqa: E731
                                           zip(parts, chunks) if i is not None])
        values = pick(value_column).astype(np.float64)
        values[pick(f"{value_column}_missing") == 1] = np.nan
        found[name] = SplitSeries(name, values, pick("timestamp"), pick("row"), sizes,
                                  examples)
    return found
