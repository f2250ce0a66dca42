"""Sensor time series (CSV or Parquet, one series per file) to windowed records, in Beam.

Each file holds a timestamp column and one or more value columns (NAB's `timestamp,value`
layout included; `;`-separated CSV is detected). Each point becomes one tf.Example:

  series            file name
  row               1-based row of the point in its file (a CSV line number minus the header)
  timestamp         seconds since the epoch (UTC)
  gap_seconds       time since the previous kept point (0 for the first)
  <col>             the value (missing values forward-filled, see below)
  <col>_missing     1 where the input value was empty or NaN
  <col>_window      the `window` previous values, oldest first, left-padded with the first one
  history           how many real past values the window holds (< window near the start)

Explicit handling, all counted in summary.json:
  unparseable timestamp      rejected (dead letter) with the row and the text
  non-numeric value text     rejected
  empty / NaN value          kept, flagged <col>_missing=1, forward-filled (back-filled at start)
  duplicate timestamp        later duplicates rejected, naming the row they repeat
  out-of-order timestamps    points sorted by time; counted as `reordered`
  column entirely missing    the whole file rejected
Splits are by time within each series (first `train` fraction, then eval, then test), never
by hashing, so no future point leaks into training.
"""

from __future__ import annotations

import dataclasses
import io
import os

import apache_beam as beam
import numpy as np

from cuttingedge.components import deadletter
from cuttingedge.components.write_examples import WriteSplitExamples


@dataclasses.dataclass(frozen=True)
class SensorIngestConfig:
    """How to ingest sensor series.

    Args:
      timestamp_column: name of the time column.
      value_columns: value columns; None means every other column.
      window: number of past values carried by each record.
      splits: (name, fraction) in time order; fractions sum to 1.
      max_rejected_fraction: the run fails above this fraction of rejected rows.
    """

    timestamp_column: str = "timestamp"
    value_columns: tuple[str, ...] | None = None
    window: int = 32
    splits: tuple[tuple[str, float], ...] = (("train", 0.7), ("eval", 0.15), ("test", 0.15))
    max_rejected_fraction: float = 0.01

    def __post_init__(self):
        if not 1 <= self.window <= 100_000:
            raise ValueError(f"window must be in [1, 100000]. Received: {self.window}")
        total = sum(f for _, f in self.splits)
        if abs(total - 1.0) > 1e-6 or any(f <= 0 for _, f in self.splits):
            raise ValueError(f"Split fractions must be positive and sum to 1. Received: "
                             f"{self.splits}")

    @property
    def split_names(self) -> list[str]:
        return [name for name, _ in self.splits]


def read_table(path: str, data: bytes):
    """Reads a CSV (`,` or `;`) or Parquet file into a pandas DataFrame of strings/objects."""
    import pandas as pd

    if path.lower().endswith((".parquet", ".pq")):
        import pyarrow.parquet as pq

        return pq.read_table(io.BytesIO(data)).to_pandas()
    text = data.decode("utf-8", "replace")
    first = text.split("\n", 1)[0]
    sep = ";" if first.count(";") > first.count(",") else ","
    return pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False,
                       skipinitialspace=True)


def _parse_times(values):
    import pandas as pd

    raw = pd.Series(values)
    numeric = pd.to_numeric(raw, errors="coerce")
    if len(raw) and numeric.notna().mean() > 0.5:  # epoch seconds; the rest are bad rows
        return numeric.to_numpy(dtype=np.float64)
    parsed = pd.to_datetime(raw, errors="coerce", utc=True)
    seconds = (parsed - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
    return seconds.to_numpy()  # NaN where unparseable


def series_points(path: str, data: bytes, config: SensorIngestConfig):
    """Yields ("ok", (split index, tf.Example)), ("rejected", Rejected) or ("count", pair)."""
    import pandas as pd

    try:
        frame = read_table(path, data)
    except Exception as err:  # pandas/pyarrow raise many types on malformed files
        yield "rejected", deadletter.Rejected(path, 0, f"unreadable file: {err}")
        return
    frame.columns = [str(c).strip() for c in frame.columns]
    ts_col = config.timestamp_column
    if ts_col not in frame.columns:
        yield "rejected", deadletter.Rejected(
            path, 0, f"missing timestamp column {ts_col!r}; columns are {list(frame.columns)}")
        return
    columns = list(config.value_columns or [c for c in frame.columns if c != ts_col])
    absent = [c for c in columns if c not in frame.columns]
    if absent or not columns:
        yield "rejected", deadletter.Rejected(
            path, 0, f"missing value column(s) {absent or columns}; columns are "
            f"{list(frame.columns)}")
        return
    rows = np.arange(1, len(frame) + 1)
    times = _parse_times(frame[ts_col].astype(str).str.strip())
    values = {}
    bad = np.zeros(len(frame), dtype=bool)
    for column in columns:
        text = frame[column].astype(str).str.strip()
        number = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
        empty = text.str.lower().isin(["", "nan", "na", "null", "none"]).to_numpy()
        bad |= np.isnan(number) & ~empty
        values[column] = number
    keep = np.ones(len(frame), dtype=bool)
    for i in np.flatnonzero(np.isnan(times)):
        keep[i] = False
        yield "rejected", deadletter.Rejected(
            path, int(rows[i]), f"unparseable timestamp {frame[ts_col].iloc[i]!r}",
            ",".join(map(str, frame.iloc[i].tolist())))
    for i in np.flatnonzero(bad & keep):
        keep[i] = False
        texts = {c: frame[c].iloc[i] for c in columns}
        yield "rejected", deadletter.Rejected(path, int(rows[i]),
                                              f"non-numeric value in {texts}",
                                              ",".join(map(str, frame.iloc[i].tolist())))
    order = np.flatnonzero(keep)
    if len(order) and np.any(np.diff(times[order]) < 0):
        yield "count", ("reordered", int(np.sum(np.diff(times[order]) < 0)))
        order = order[np.argsort(times[order], kind="stable")]
    first_row = {}
    unique = []
    for i in order:
        if times[i] in first_row:
            yield "rejected", deadletter.Rejected(
                path, int(rows[i]), f"duplicate timestamp {frame[ts_col].iloc[i]!r} "
                f"(first seen at row {first_row[times[i]]}); the first point is kept",
                ",".join(map(str, frame.iloc[i].tolist())))
        else:
            first_row[times[i]] = int(rows[i])
            unique.append(i)
    order = np.array(unique, dtype=np.int64)
    if not len(order):
        return
    filled = {}
    for column in columns:
        series = values[column][order]
        missing = np.isnan(series)
        if missing.all():
            yield "rejected", deadletter.Rejected(path, 0, f"column {column!r} has no values")
            return
        yield "count", ("missing_values", int(missing.sum()))
        filled[column] = (pd.Series(series).ffill().bfill().to_numpy(), missing)
    yield from _points(path, rows[order], times[order], filled, config)


def _points(path, rows, times, filled, config):
    import tensorflow as tf

    n, window = len(rows), config.window
    bounds = np.cumsum([f for _, f in config.splits])
    split_of = np.minimum(np.searchsorted(bounds * n, np.arange(n), side="right"),
                          len(bounds) - 1)
    gaps = np.concatenate([[0.0], np.diff(times).astype(np.float64)])
    padded = {c: np.concatenate([np.full(window, v[0]), v]) for c, (v, _) in filled.items()}
    name = os.path.basename(path).encode()
    for i in range(n):
        feature = {
            "series": tf.train.Feature(bytes_list=tf.train.BytesList(value=[name])),
            "row": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(rows[i])])),
            "timestamp": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(times[i])])),
            "gap_seconds": tf.train.Feature(float_list=tf.train.FloatList(value=[gaps[i]])),
            "history": tf.train.Feature(int64_list=tf.train.Int64List(value=[min(i, window)])),
        }
        for column, (value, missing) in filled.items():
            feature[column] = tf.train.Feature(float_list=tf.train.FloatList(value=[value[i]]))
            feature[f"{column}_missing"] = tf.train.Feature(
                int64_list=tf.train.Int64List(value=[int(missing[i])]))
            feature[f"{column}_window"] = tf.train.Feature(
                float_list=tf.train.FloatList(value=padded[column][i:i + window]))
        yield "ok", (int(split_of[i]), tf.train.Example(
            features=tf.train.Features(feature=feature)))


class _ReadSeries(beam.DoFn):
    def __init__(self, config: SensorIngestConfig):
        self._config = config

    def process(self, path):
        import tensorflow as tf

        try:
            with tf.io.gfile.GFile(path, "rb") as handle:
                data = handle.read()
        except (OSError, tf.errors.OpError) as err:
            yield beam.pvalue.TaggedOutput("rejected", deadletter.Rejected(
                path, 0, f"unreadable file: {getattr(err, 'message', err)}"))
            return
        for kind, value in series_points(path, data, self._config):
            yield beam.pvalue.TaggedOutput(kind, value) if kind != "ok" else value


class IngestSensorSeries(beam.PTransform):
    """Reads, windows, splits and writes sensor series; rejected rows go to the dead letters."""

    def __init__(self, files: list[str], config: SensorIngestConfig, examples_dir: str,
                 dead_letter_dir: str):
        super().__init__()
        self._files, self._config = files, config
        self._examples_dir, self._dead_letter_dir = examples_dir, dead_letter_dir

    def expand(self, pbegin):
        names = self._config.split_names
        points = (pbegin
                  | "Files" >> beam.Create(self._files)
                  | "Spread" >> beam.Reshuffle()
                  | "ReadSeries" >> beam.ParDo(_ReadSeries(self._config)).with_outputs(
                      "rejected", "count", main="ok"))
        _ = points.rejected | "DeadLetter" >> deadletter.WriteDeadLetter(self._dead_letter_dir)
        _ = points.ok | "WriteExamples" >> WriteSplitExamples(self._examples_dir, names)
        counts = (
            (points.ok | "CountOk" >> beam.Map(
                lambda pair: deadletter.count(f"points_{names[pair[0]]}"))),
            (points.ok | "CountRead" >> beam.Map(lambda _: deadletter.count("read"))),
            (points.rejected | "CountRejected" >> beam.FlatMap(
                lambda _: [deadletter.count("read"), deadletter.count("rejected")])),
            (points.count | "CountOther" >> beam.MapTuple(deadletter.count)),
        ) | "AllCounts" >> beam.Flatten()
        defaults = {"read": 0, "rejected": 0, "reordered": 0, "missing_values": 0,
                    **{f"points_{n}": 0 for n in names}}
        _ = counts | "Summary" >> deadletter.WriteSummary(self._dead_letter_dir, defaults)
        return points.ok
