"""WriteSplitExamples: the TFX Examples layout every ingestion job writes."""

import glob
import os

import apache_beam as beam
import pytest
import tensorflow as tf
from apache_beam.testing.test_pipeline import TestPipeline

from cuttingedge.components.write_examples import WriteSplitExamples


def _example(value: int) -> tf.train.Example:
    return tf.train.Example(features=tf.train.Features(feature={
        "value": tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))}))


def _values(folder: str) -> list[int]:
    files = sorted(glob.glob(os.path.join(folder, "data_tfrecord-*.gz")))
    assert files, f"no TFRecord files in {folder}"
    out = []
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
        example = tf.train.Example.FromString(record.numpy())
        out.extend(example.features.feature["value"].int64_list.value)
    return sorted(out)


def test_each_example_lands_in_its_split_folder(tmp_path):
    pairs = [(0, _example(1)), (2, _example(2)), (0, _example(3)), (1, _example(4))]
    with TestPipeline() as p:
        _ = (p | beam.Create(pairs)
             | WriteSplitExamples(str(tmp_path), ["train", "eval", "test"]))
    assert _values(str(tmp_path / "Split-train")) == [1, 3]
    assert _values(str(tmp_path / "Split-eval")) == [4]
    assert _values(str(tmp_path / "Split-test")) == [2]


def test_an_empty_split_still_gets_its_folder(tmp_path):
    """Downstream components list every split; a split with no rows must still exist."""
    with TestPipeline() as p:
        _ = (p | beam.Create([(0, _example(7))])
             | WriteSplitExamples(str(tmp_path), ["train", "eval"]))
    assert _values(str(tmp_path / "Split-train")) == [7]
    assert os.path.isdir(tmp_path / "Split-eval")


def test_no_split_names_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="at least one split"):
        WriteSplitExamples(str(tmp_path), [])
