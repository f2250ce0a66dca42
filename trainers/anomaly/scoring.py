"""Batch scoring in Beam through the exported SavedModel's `detect` signature.

    serialised tf.Examples (SensorExampleGen records)
      | ScoreSeries(saved_model_dir)
      -> dicts: series, row, timestamp, value, mean, stddev, aleatoric_stddev,
                epistemic_stddev, score, is_anomaly
         rejected: (example bytes, reason) for records the model refuses, counted
                   (counter "anomaly_scoring/rejected"), never dropped silently

The DoFn loads the SavedModel once per worker in `setup()` and scores batches of examples.

Example:
    >>> ScoreSeries("/path/to/model").label
    'ScoreSeries'
"""

from __future__ import annotations

import apache_beam as beam
import numpy as np

from cuttingedge.trainers.anomaly.export import DETECT_SIGNATURE

REJECTED = "rejected"
_KEYS = {"series": ("string", b""), "row": ("int64", 0), "timestamp": ("int64", 0)}


class _ScoreBatches(beam.DoFn):
    """Scores lists of serialised examples with the `detect` signature (loaded in setup)."""

    def __init__(self, saved_model_dir: str, value_column: str):
        self._dir, self._column = saved_model_dir, value_column
        self._rejected = beam.metrics.Metrics.counter("anomaly_scoring", "rejected")
        self._scored = beam.metrics.Metrics.counter("anomaly_scoring", "scored")

    def setup(self):
        import tensorflow as tf

        self._tf = tf
        self._detect = tf.saved_model.load(self._dir).signatures[DETECT_SIGNATURE]
        self._spec = {name: tf.io.FixedLenFeature([], getattr(tf, kind), default_value=value)
                      for name, (kind, value) in _KEYS.items()}
        self._spec[self._column] = tf.io.FixedLenFeature([], tf.float32, default_value=np.nan)

    def _score(self, batch):
        tf = self._tf
        examples = tf.constant(batch)
        keys = tf.io.parse_example(examples, self._spec)
        outputs = self._detect(examples=examples)
        columns = {**{k: v.numpy() for k, v in keys.items()},
                   **{k: v.numpy() for k, v in outputs.items()}}
        columns["value"] = columns.pop(self._column)
        columns["series"] = [s.decode() for s in columns["series"]]
        return [{name: _plain(values[i]) for name, values in columns.items()}
                for i in range(len(batch))]

    def process(self, batch):
        try:
            rows = self._score(batch)
        except (self._tf.errors.InvalidArgumentError, ValueError):
            if len(batch) == 1:
                self._rejected.inc()
                yield beam.pvalue.TaggedOutput(REJECTED, (batch[0], "the detect signature "
                                                          "rejected this example"))
                return
            for example in batch:  # find the bad records one by one
                yield from self.process([example])
            return
        self._scored.inc(len(rows))
        yield from rows


def _plain(value):
    return value.item() if hasattr(value, "item") else value


class ScoreSeries(beam.PTransform):
    """Scores serialised tf.Examples; main output dicts, tagged output `rejected`."""

    def __init__(self, saved_model_dir: str, batch_size: int = 1024,
                 value_column: str = "value"):
        super().__init__(label="ScoreSeries")
        self._dir, self._batch, self._column = saved_model_dir, batch_size, value_column

    def expand(self, examples):
        return (examples
                | "Batch" >> beam.BatchElements(min_batch_size=self._batch,
                                                max_batch_size=self._batch)
                | "Score" >> beam.ParDo(_ScoreBatches(self._dir, self._column))
                .with_outputs(REJECTED, main="scored"))
