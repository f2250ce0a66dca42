"""fuzz_signatures: mutants of the warmup requests get answers or errors, and bugs are named."""

import numpy as np

from cuttingedge.components.serving.fuzz import (fuzz_in_fresh_process, fuzz_signatures,
                                                 mutate_bytes, mutate_numbers)
import os

import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from cuttingedge.components.serving.request import predict_request
from cuttingedge.components.serving.warmup import warmup_path


def _write_warmup(model_dir, requests):
    """One warmup file with requests to several signatures."""
    target = warmup_path(model_dir)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with tf.io.TFRecordWriter(target) as writer:
        for signature, inputs in requests:
            log = prediction_log_pb2.PredictionLog()
            log.predict_log.request.CopyFrom(predict_request(inputs, signature, "tiny"))
            writer.write(log.SerializeToString())


def test_mutations_are_seeded_and_keep_numeric_shapes():
    rng = np.random.default_rng(0)
    values = np.ones([2, 3], np.float32)
    kinds = set()
    for _ in range(100):
        kind, out = mutate_numbers(values, rng)
        kinds.add(kind)
        assert out.shape == values.shape and out.dtype == values.dtype
    assert kinds == {"nan", "inf", "huge", "zeros", "normal"}
    assert values.tolist() == [[1.0] * 3] * 2  # the valid input is never changed in place
    first = [mutate_bytes(b"abcdef" * 10, np.random.default_rng(1)) for _ in range(1)]
    again = [mutate_bytes(b"abcdef" * 10, np.random.default_rng(1)) for _ in range(1)]
    assert first == again


def test_every_signature_answers_or_rejects(tiny, tiny_model):
    _write_warmup(tiny_model, [
        ("serving_default", {"x": tiny.x}),
        ("examples", {"examples": [tiny.example(r) for r in tiny.x]}),
        ("checked", {"x": tiny.x})])
    report = fuzz_signatures(tiny_model, cases=60)
    assert report.failures == [] and report.cases == 180
    assert report.answered["serving_default"] == 60         # numbers in, numbers out
    assert report.rejected["examples"] > 0                  # broken protos: an error status
    assert report.rejected["checked"] > 0                   # huge values trip the assertion
    fresh = fuzz_in_fresh_process(tiny_model, cases=20)
    assert not fresh.crashed and fresh.failures == [] and fresh.cases == 60
