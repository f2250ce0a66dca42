"""Clients of TF Serving's Predict API, over gRPC (PredictionService) and REST (`:predict`).

REST follows https://www.tensorflow.org/tfx/serving/api_rest: bytes travel as {"b64": ...};
with one output TF Serving returns the bare value (here: an array), with several a mapping
(here: name -> array). The in-process stand-in for tests is `testing.serve_test_server`.

Example (against the test double; a real TF Serving answers the same):
    >>> import tempfile, numpy as np, tensorflow as tf
    >>> module = tf.Module()
    >>> module.f = tf.function(lambda x: {"y": 2.0 * x},
    ...                        input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
    >>> path = tempfile.mkdtemp()
    >>> tf.saved_model.save(module, path, signatures={"serving_default": module.f})
    >>> from cuttingedge.components.serving.testing import serve_test_server
    >>> grpc_port, rest_port, stop = serve_test_server(path, "double")
    >>> x = np.array([1.0, 2.0], np.float32)
    >>> predict_grpc(f"127.0.0.1:{grpc_port}", "double", {"x": x})["y"].tolist()
    [2.0, 4.0]
    >>> predict_rest(f"http://127.0.0.1:{rest_port}", "double", {"x": x}).tolist()
    [2.0, 4.0]
    >>> stop()
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import prediction_service_pb2_grpc

from cuttingedge.components.serving.request import DEFAULT_SIGNATURE, InputValue, predict_request


class PredictError(RuntimeError):
    """The model server refused or failed a Predict call; `code` is the gRPC status name or the
    HTTP status."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


def to_json(value: Any) -> Any:
    """A tensor value as TF Serving's JSON: nested lists, bytes as {"b64": ...}.

    Example:
        >>> to_json([b"\\x00", b"ab"])
        [{'b64': 'AA=='}, {'b64': 'YWI='}]
    """
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (bytes, np.bytes_)):
        return {"b64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, Mapping):
        return {name: to_json(item) for name, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def from_json(value: Any) -> Any:
    """The inverse of `to_json`: {"b64": ...} objects back to bytes, at any depth."""
    if isinstance(value, Mapping):
        if set(value) == {"b64"}:
            return base64.b64decode(value["b64"])
        return {name: from_json(item) for name, item in value.items()}
    if isinstance(value, list):
        return [from_json(item) for item in value]
    return value


def _array(value: Any) -> np.ndarray:
    decoded = from_json(value)
    return np.asarray(decoded, dtype=object) if _holds_bytes(decoded) else np.asarray(decoded)


def _holds_bytes(value: Any) -> bool:
    while isinstance(value, list) and value:
        value = value[0]
    return isinstance(value, bytes)


def predict_grpc(target: str, model_name: str, inputs: Mapping[str, InputValue],
                 signature: str = DEFAULT_SIGNATURE, timeout: float = 10) -> dict[str, np.ndarray]:
    """Calls PredictionService.Predict on `target` ("host:port"); returns outputs as numpy.

    Raises:
        request.RequestError: `inputs` cannot be sent as tensors.
        PredictError: the server answered with an error status (code = its name).
    """
    request = predict_request(inputs, signature, model_name)
    with grpc.insecure_channel(target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        try:
            response = stub.Predict(request, timeout=timeout)
        except grpc.RpcError as error:
            code = error.code().name
            raise PredictError(f"Predict of model {model_name!r} (signature {signature!r}) on "
                               f"{target} failed with {code}: {error.details()}", code) from error
    return {name: tf.make_ndarray(proto) for name, proto in response.outputs.items()}


def predict_rest(url: str, model_name: str, inputs: Mapping[str, InputValue] | None = None, *,
                 instances: Sequence[Any] | None = None, signature: str = DEFAULT_SIGNATURE,
                 timeout: float = 10) -> np.ndarray | dict[str, np.ndarray]:
    """POSTs to `<url>/v1/models/<model_name>:predict` in columnar (`inputs`) or row
    (`instances`) format.

    Returns:
        With one output, its array; with several, output name -> array (row answers are
        stacked along the batch axis).

    Raises:
        ValueError: not exactly one of inputs and instances, or a url without http(s)://.
        PredictError: the server answered with an HTTP error (code = the status) or no answer.
    """
    if (inputs is None) == (instances is None):
        raise ValueError("Give exactly one of inputs= (columnar format) or instances= (row "
                         f"format). Received: inputs={'set' if inputs is not None else None}, "
                         f"instances={'set' if instances is not None else None}.")
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"url must start with http:// or https://. Received: url={url!r}.")
    key = "inputs" if inputs is not None else "instances"
    body = json.dumps({"signature_name": signature,
                       key: to_json(inputs if inputs is not None else instances)}).encode()
    endpoint = f"{url.rstrip('/')}/v1/models/{model_name}:predict"
    call = urllib.request.Request(endpoint, data=body, method="POST",
                                  headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(call, timeout=timeout) as answer:
            payload = json.loads(answer.read())
    except urllib.error.HTTPError as error:
        detail = error.read().decode(errors="replace")
        with_error = json.loads(detail).get("error", detail) if detail.startswith("{") else detail
        raise PredictError(f"Predict of model {model_name!r} (signature {signature!r}) on "
                           f"{endpoint} failed with HTTP {error.code}: {with_error}",
                           str(error.code)) from error
    except urllib.error.URLError as error:
        raise PredictError(f"No answer from {endpoint}: {error.reason}", "unreachable") from error
    if key == "inputs":
        outputs = payload["outputs"]
        if isinstance(outputs, Mapping):
            return {name: _array(value) for name, value in outputs.items()}
        return _array(outputs)
    rows = payload["predictions"]
    if rows and isinstance(rows[0], Mapping):
        return {name: _array([row[name] for row in rows]) for name in rows[0]}
    return _array(rows)
