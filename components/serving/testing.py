"""An in-process stand-in for TF Serving, for tests: a TEST DOUBLE, not a production server.

`serve_test_server` loads one SavedModel and answers, on 127.0.0.1 only:
  * gRPC PredictionService.Predict (the other RPCs answer UNIMPLEMENTED);
  * REST POST /v1/models/<name>[/versions/<v>]:predict (columnar "inputs" or row "instances")
    and GET /v1/models/<name> (version status).
It makes TF Serving's request checks (model name, signature, input names, dtypes) and answers
in TF Serving's formats, so a client tested against it works against the real server. It has
no batching, version polling, warmup replay, monitoring or hardening: use TF Serving to serve.

Example:
    >>> import tempfile, tensorflow as tf
    >>> module = tf.Module()
    >>> module.f = tf.function(lambda x: {"y": x + 1.0},
    ...                        input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
    >>> path = tempfile.mkdtemp()
    >>> tf.saved_model.save(module, path, signatures={"serving_default": module.f})
    >>> server = serve_test_server(path, "plus_one")
    >>> server.grpc_port > 0 and server.rest_port > 0
    True
    >>> server.stop()
"""

from __future__ import annotations

import http.server
import json
import re
import threading
from concurrent import futures
from typing import Any, Callable, NamedTuple

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from cuttingedge.components.serving import request as requests_lib
from cuttingedge.components.serving.client import from_json, to_json

_PREDICT_PATH = re.compile(r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+))?"
                           r":predict$")
_STATUS_PATH = re.compile(r"^/v1/models/(?P<name>[^/:]+)$")


class LocalServer(NamedTuple):
    """Ports of a running test double, and the function that stops it."""

    grpc_port: int
    rest_port: int
    stop: Callable[[], None]


class _NotFound(LookupError):
    pass


class _Servable:
    """One loaded SavedModel under a model name; the logic both front ends share."""

    def __init__(self, saved_model_dir: str, model_name: str, version: int):
        self.loaded = tf.saved_model.load(saved_model_dir)
        self.name, self.version = model_name, version

    def check_name(self, name: str) -> None:
        if name != self.name:
            raise _NotFound(f"Servable not found for request: Latest({name}). This server "
                            f"serves {self.name!r}.")

    def predict(self, signature: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return requests_lib.run_signature(self.loaded, signature, inputs)

    def from_rest(self, signature: str, payload: dict) -> tuple[dict[str, np.ndarray], bool]:
        """REST body -> numpy inputs in the signature's dtypes; True when in row format."""
        specs = requests_lib.signature_inputs(requests_lib.signature_of(self.loaded, signature))
        if ("inputs" in payload) == ("instances" in payload):
            raise requests_lib.RequestError("Expected exactly one of 'inputs' (columnar) or "
                                            f"'instances' (row). Received: {sorted(payload)}.")
        rows = "instances" in payload
        value = from_json(payload["instances" if rows else "inputs"])
        if rows and value and isinstance(value[0], dict):
            value = {name: [row.get(name) for row in value] for name in value[0]}
        if not isinstance(value, dict):
            if len(specs) != 1:
                raise requests_lib.RequestError(f"Unnamed input, but the signature takes "
                                                f"{sorted(specs)}: name each input.")
            value = {next(iter(specs)): value}
        unknown = set(value) - set(specs)
        if unknown:
            raise requests_lib.RequestError(f"Signature {signature!r} takes inputs "
                                            f"{sorted(specs)}. Received: {sorted(value)}.")
        return {name: np.asarray(item, dtype=specs[name].dtype.as_numpy_dtype)
                for name, item in value.items()}, rows


def _json_output(name: str, value: np.ndarray) -> Any:
    """TF Serving's rule: string outputs whose name ends in _bytes travel base64-encoded."""
    if value.dtype == object:
        if name.endswith("_bytes"):
            return to_json(value)
        return np.vectorize(lambda b: b.decode("utf-8"), otypes=[object])(value).tolist()
    return value.tolist()


def to_rest(outputs: dict[str, np.ndarray], rows: bool) -> dict:
    """Outputs in TF Serving's REST answer format (a bare value when there is one output)."""
    encoded = {name: _json_output(name, value) for name, value in outputs.items()}
    if not rows:
        return {"outputs": next(iter(encoded.values())) if len(encoded) == 1 else encoded}
    if len(encoded) == 1:
        return {"predictions": next(iter(encoded.values()))}
    count = len(next(iter(encoded.values())))
    return {"predictions": [{name: value[i] for name, value in encoded.items()}
                            for i in range(count)]}


class _PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, servable: _Servable):
        self.servable = servable

    def Predict(self, request, context):  # noqa: N802 (the gRPC method name)
        spec = request.model_spec
        try:
            self.servable.check_name(spec.name)
            outputs = self.servable.predict(spec.signature_name,
                                            requests_lib.request_inputs(request))
        except _NotFound as error:
            context.abort(grpc.StatusCode.NOT_FOUND, str(error))
        except requests_lib.RequestError as error:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        except tf.errors.OpError as error:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, error.message)
        wanted = set(request.output_filter) or set(outputs)
        response = predict_pb2.PredictResponse()
        response.model_spec.name = spec.name
        response.model_spec.signature_name = spec.signature_name or "serving_default"
        response.model_spec.version.value = self.servable.version
        for name in sorted(wanted & set(outputs)):
            response.outputs[name].CopyFrom(tf.make_tensor_proto(outputs[name]))
        return response


def _rest_handler(servable: _Servable) -> type:
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet: tests read failures from the answers
            pass

        def _answer(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):  # noqa: N802
            match = _STATUS_PATH.match(self.path)
            if not match or match["name"] != servable.name:
                return self._answer(404, {"error": f"Servable not found: {self.path}"})
            return self._answer(200, {"model_version_status": [{
                "version": str(servable.version), "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""}}]})

        def do_POST(self):  # noqa: N802
            match = _PREDICT_PATH.match(self.path)
            if not match:
                return self._answer(404, {"error": f"Malformed request: POST {self.path}"})
            try:
                servable.check_name(match["name"])
                payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                signature = payload.get("signature_name", "serving_default")
                inputs, rows = servable.from_rest(signature, payload)
                return self._answer(200, to_rest(servable.predict(signature, inputs), rows))
            except _NotFound as error:
                return self._answer(404, {"error": str(error)})
            except (requests_lib.RequestError, ValueError, TypeError) as error:
                return self._answer(400, {"error": str(error)})
            except tf.errors.OpError as error:
                return self._answer(400, {"error": error.message})

    return Handler


def serve_test_server(saved_model_dir, model_name: str, version: int = 1,
                      max_workers: int = 4) -> LocalServer:
    """Starts the test double on free ports of 127.0.0.1; returns (grpc_port, rest_port, stop).

    Call `stop()` when done (it shuts down both servers and waits for them).
    """
    servable = _Servable(str(saved_model_dir), model_name, version)
    rpc = grpc.server(futures.ThreadPoolExecutor(max_workers=max_workers))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        _PredictionService(servable), rpc)
    grpc_port = rpc.add_insecure_port("127.0.0.1:0")
    rpc.start()
    rest = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _rest_handler(servable))
    thread = threading.Thread(target=rest.serve_forever, name=f"rest-{model_name}", daemon=True)
    thread.start()

    def stop() -> None:
        rpc.stop(grace=None).wait()
        rest.shutdown()
        rest.server_close()
        thread.join()

    return LocalServer(grpc_port, rest.server_address[1], stop)
