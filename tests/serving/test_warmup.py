"""Warmup requests: TF Serving's file layout and record format, round trip, and errors."""

import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from cuttingedge.components.serving.request import RequestError, request_inputs
from cuttingedge.components.serving.warmup import (MAX_REQUESTS, read_warmup_requests,
                                                   warmup_path, write_warmup_requests)


X = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]], np.float32)


def test_written_file_is_tf_servings_warmup_format(tmp_path):
    path = write_warmup_requests(tmp_path, [{"x": X}], model_name="tiny")
    assert path == str(tmp_path / "assets.extra" / "tf_serving_warmup_requests")
    records = list(tf.data.TFRecordDataset(path).as_numpy_iterator())
    assert len(records) == 1
    log = prediction_log_pb2.PredictionLog.FromString(records[0])
    assert log.WhichOneof("log_type") == "predict_log"
    request = log.predict_log.request
    assert (request.model_spec.name, request.model_spec.signature_name) == (
        "tiny", "serving_default")
    np.testing.assert_array_equal(tf.make_ndarray(request.inputs["x"]), X)


def test_round_trip_keeps_order_signature_dtypes_and_bytes(tmp_path, tiny):
    serialised = [tiny.example(row) for row in X]
    write_warmup_requests(tmp_path, [{"x": X}, {"x": X[:1]}], model_name="tiny")
    first, second = read_warmup_requests(tmp_path)
    assert request_inputs(first)["x"].dtype == np.float32
    np.testing.assert_array_equal(request_inputs(second)["x"], X[:1])
    write_warmup_requests(tmp_path, [{"examples": serialised}], "examples", model_name="tiny")
    [again] = read_warmup_requests(tmp_path)  # replaced, not appended
    assert again.model_spec.signature_name == "examples"
    assert request_inputs(again)["examples"].tolist() == serialised


@pytest.mark.parametrize("requests, count", [([], "0 requests"), ({"x": X}, "a mapping"),
                                             ([{"x": X}] * (MAX_REQUESTS + 1), "1001 requests")])
def test_request_count_is_checked(tmp_path, requests, count):
    with pytest.raises(ValueError, match=f"Expected a list of 1 to 1000 requests .*Received: "
                                         f"{count}\\."):
        write_warmup_requests(tmp_path, requests, model_name="tiny")


def test_bad_request_contents_are_named(tmp_path):
    with pytest.raises(RequestError, match=r"A request needs at least one named input"):
        write_warmup_requests(tmp_path, [{}], model_name="tiny")
    with pytest.raises(RequestError, match=r"Input 'x' cannot be converted to a tensor"):
        write_warmup_requests(tmp_path, [{"x": [[1.0], [1.0, 2.0]]}], model_name="tiny")
    with pytest.raises(RequestError, match=r"Input 'x' must be a numpy array or a list of bytes\. "
                                           r"Received: NoneType\."):
        write_warmup_requests(tmp_path, [{"x": None}], model_name="tiny")


def test_missing_file_and_foreign_records_are_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"No warmup requests at .*tf_serving_warmup_"
                                                r"requests\. Write them with write_warmup"):
        read_warmup_requests(tmp_path)
    path = warmup_path(tmp_path)
    tf.io.gfile.makedirs(str(tmp_path / "assets.extra"))
    log = prediction_log_pb2.PredictionLog()
    log.classify_log.request.model_spec.name = "tiny"
    with tf.io.TFRecordWriter(path) as writer:
        writer.write(log.SerializeToString())
    with pytest.raises(ValueError, match=r"Warmup record 0 of .* is a 'classify_log'; expected "
                                         r"'predict_log'"):
        read_warmup_requests(tmp_path)
