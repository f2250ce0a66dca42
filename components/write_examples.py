"""The examples every ingestion job writes: one folder of gzipped TFRecords per split.

`WriteSplitExamples` takes (split index, `tf.train.Example`) pairs and writes each split's
examples to `<examples_dir>/Split-<name>/data_tfrecord-*.gz`, the layout TFX's
ExampleGen artifacts use, so StatisticsGen, Transform and Trainer read them unchanged.
"""

from __future__ import annotations

import os

import apache_beam as beam

FILE_PREFIX = "data_tfrecord"
FILE_SUFFIX = ".gz"


def split_folder(examples_dir: str, name: str) -> str:
    """The folder of split `name` under `examples_dir` (TFX's `Split-<name>`)."""
    return os.path.join(examples_dir, f"Split-{name}")


class WriteSplitExamples(beam.PTransform):
    """Writes (split index, tf.train.Example) pairs, one gzipped TFRecord set per split.

    Args:
        examples_dir: the examples artifact's folder.
        split_names: the split names, in index order.

    Returns (from `expand`): a dict split name -> PCollection of the files written.

    Example:
        >>> import tempfile, tensorflow as tf
        >>> out = tempfile.mkdtemp()
        >>> def example(v):
        ...     return tf.train.Example(features=tf.train.Features(feature={
        ...         "v": tf.train.Feature(int64_list=tf.train.Int64List(value=[v]))}))
        >>> with beam.Pipeline() as p:
        ...     _ = (p | beam.Create([(0, example(1)), (1, example(2)), (0, example(3))])
        ...          | WriteSplitExamples(out, ["train", "eval"]))
        >>> sorted(os.listdir(out))
        ['Split-eval', 'Split-train']
    """

    def __init__(self, examples_dir: str, split_names):
        super().__init__()
        self._examples_dir = examples_dir
        self._names = list(split_names)
        if not self._names:
            raise ValueError("WriteSplitExamples needs at least one split name.")

    def expand(self, pairs):
        names = self._names
        parts = pairs | "Split" >> beam.Partition(lambda pair, n: pair[0], len(names))
        return {name: (parts[index]
                       | f"Serialize[{name}]" >> beam.Map(
                           lambda pair: pair[1].SerializeToString())
                       | f"Write[{name}]" >> beam.io.WriteToTFRecord(
                           os.path.join(split_folder(self._examples_dir, name), FILE_PREFIX),
                           file_name_suffix=FILE_SUFFIX))
                for index, name in enumerate(names)}
