"""TF Serving warmup requests, stored inside the SavedModel they warm up.

TF Serving replays `<saved_model>/assets.extra/tf_serving_warmup_requests`, a TFRecord file of
`tensorflow.serving.PredictionLog` records, when it loads a version, so the first real request
does not pay for lazy initialisation (https://www.tensorflow.org/tfx/serving/saved_model_warmup).
The same records are what infra validation replays before a push.

Example:
    >>> import tempfile, numpy as np
    >>> folder = tempfile.mkdtemp()
    >>> write_warmup_requests(folder, [{"x": np.ones([2, 3], np.float32)}], model_name="tiny")
    '.../assets.extra/tf_serving_warmup_requests'
    >>> [request] = read_warmup_requests(folder)
    >>> request.model_spec.name, request.model_spec.signature_name
    ('tiny', 'serving_default')
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

from cuttingedge.components.serving.request import DEFAULT_SIGNATURE, InputValue, predict_request

WARMUP_DIR = "assets.extra"
WARMUP_FILE = "tf_serving_warmup_requests"
MAX_REQUESTS = 1000  # TF Serving reads at most this many warmup records.


def warmup_path(saved_model_dir) -> str:
    """Where TF Serving looks for the warmup requests of the SavedModel in `saved_model_dir`."""
    return os.path.join(os.fspath(saved_model_dir), WARMUP_DIR, WARMUP_FILE)


def write_warmup_requests(saved_model_dir, requests: Sequence[Mapping[str, InputValue]],
                          signature: str = DEFAULT_SIGNATURE, *, model_name: str) -> str:
    """Writes `requests` as the SavedModel's warmup file (replacing any); returns its path.

    Args:
        saved_model_dir: the SavedModel folder (the version folder TF Serving loads).
        requests: 1 to 1000 requests, each input name -> numpy array (or a list of bytes for a
            tf.string input, e.g. serialised ExampleListWithContext).
        signature: the signature every request calls.
        model_name: the model name of the requests' model_spec (TF Serving's --model_name).

    Raises:
        ValueError: no requests, more than 1000, or a request that is not a tensor mapping.
    """
    if isinstance(requests, Mapping) or not 1 <= len(requests) <= MAX_REQUESTS:
        count = "a mapping" if isinstance(requests, Mapping) else f"{len(requests)} requests"
        raise ValueError(f"Expected a list of 1 to {MAX_REQUESTS} requests (TF Serving's limit), "
                         f"each a dict of input name -> array. Received: {count}.")
    records = []
    for request in requests:
        log = prediction_log_pb2.PredictionLog()
        log.predict_log.request.CopyFrom(predict_request(request, signature, model_name))
        records.append(log.SerializeToString())
    path = warmup_path(saved_model_dir)
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.TFRecordWriter(path) as writer:
        for record in records:
            writer.write(record)
    return path


def read_warmup_requests(saved_model_dir) -> list[predict_pb2.PredictRequest]:
    """The PredictRequests of the SavedModel's warmup file, in file order.

    Raises:
        FileNotFoundError: the SavedModel has no warmup file.
        ValueError: a record is not a predict_log (classify, regress, ... are not replayed).
    """
    path = warmup_path(saved_model_dir)
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"No warmup requests at {path}. Write them with "
                                f"write_warmup_requests({os.fspath(saved_model_dir)!r}, ...).")
    requests = []
    for index, record in enumerate(tf.data.TFRecordDataset(path).as_numpy_iterator()):
        log = prediction_log_pb2.PredictionLog.FromString(record)
        kind = log.WhichOneof("log_type")
        if kind != "predict_log":
            raise ValueError(f"Warmup record {index} of {path} is a {kind!r}; expected "
                             f"'predict_log' (only Predict requests are supported).")
        requests.append(log.predict_log.request)
    return requests
