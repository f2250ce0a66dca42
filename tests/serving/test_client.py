"""gRPC and REST clients against the in-process TF Serving test double and the tiny model."""

import json
import urllib.error
import urllib.request

import numpy as np
import pytest

from cuttingedge.components.serving.client import PredictError, predict_grpc, predict_rest
from cuttingedge.components.serving.testing import serve_test_server


@pytest.fixture(scope="module")
def server(tiny):
    running = serve_test_server(tiny.template, "tiny", version=7)
    yield running
    running.stop()


@pytest.fixture
def grpc_target(server):
    return f"127.0.0.1:{server.grpc_port}"


@pytest.fixture
def rest_url(server):
    return f"http://127.0.0.1:{server.rest_port}"


def test_grpc_predict_returns_the_closed_form(grpc_target, tiny):
    outputs = predict_grpc(grpc_target, "tiny", {"x": tiny.x})
    assert list(outputs) == ["y"] and outputs["y"].dtype == np.float32
    np.testing.assert_allclose(outputs["y"], tiny.expected_y(tiny.x), rtol=1e-6)


def test_grpc_predict_with_serialised_examples(grpc_target, tiny):
    examples = [tiny.example(row) for row in tiny.x]
    outputs = predict_grpc(grpc_target, "tiny", {"examples": examples}, signature="examples")
    np.testing.assert_allclose(outputs["y"], tiny.expected_y(tiny.x), rtol=1e-6)
    assert outputs["y_bytes"].tolist() == [f"{y:.1f}".encode() for y in tiny.expected_y(tiny.x)]


def test_rest_predict_columnar_and_row_formats(rest_url, tiny):
    want = tiny.expected_y(tiny.x)
    np.testing.assert_allclose(predict_rest(rest_url, "tiny", {"x": tiny.x}), want, rtol=1e-6)
    np.testing.assert_allclose(predict_rest(rest_url, "tiny", instances=tiny.x.tolist()), want,
                               rtol=1e-6)
    rows = predict_rest(rest_url, "tiny", instances=[{"x": row} for row in tiny.x.tolist()])
    np.testing.assert_allclose(rows, want, rtol=1e-6)


def test_rest_predict_sends_bytes_as_b64_and_names_several_outputs(rest_url, tiny):
    examples = [tiny.example(row) for row in tiny.x]
    outputs = predict_rest(rest_url, "tiny", {"examples": examples}, signature="examples")
    assert sorted(outputs) == ["y", "y_bytes"]
    np.testing.assert_allclose(outputs["y"], tiny.expected_y(tiny.x), rtol=1e-6)
    assert outputs["y_bytes"].tolist() == [f"{y:.1f}".encode() for y in tiny.expected_y(tiny.x)]


def test_rest_wire_format_is_tf_servings(rest_url, tiny):
    body = json.dumps({"signature_name": "examples",
                       "instances": [{"b64": "not base64 of an example"}]}).encode()
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(urllib.request.Request(
            f"{rest_url}/v1/models/tiny/versions/7:predict", data=body, method="POST"))
    assert raised.value.code == 400 and "error" in json.loads(raised.value.read())
    with urllib.request.urlopen(f"{rest_url}/v1/models/tiny") as answer:
        status = json.loads(answer.read())
    assert status["model_version_status"][0] == {
        "version": "7", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}


def test_errors_carry_the_servers_status_and_message(grpc_target, rest_url, tiny):
    with pytest.raises(PredictError, match=r"Predict of model 'other' \(signature "
                                           r"'serving_default'\) on 127\.0\.0\.1:\d+ failed with "
                                           r"NOT_FOUND: Servable not found for request: "
                                           r"Latest\(other\)") as raised:
        predict_grpc(grpc_target, "other", {"x": tiny.x})
    assert raised.value.code == "NOT_FOUND"
    with pytest.raises(PredictError, match=r"failed with INVALID_ARGUMENT: Signature "
                                           r"'serving_default' takes inputs \['x'\]\. "
                                           r"Received: \['z'\]\."):
        predict_grpc(grpc_target, "tiny", {"z": tiny.x})
    with pytest.raises(PredictError, match=r"failed with HTTP 400: Serving signature 'nope' not "
                                           r"found\. Expected one of \[") as raised:
        predict_rest(rest_url, "tiny", {"x": tiny.x}, signature="nope")
    assert raised.value.code == "400"
    with pytest.raises(PredictError, match=r"(?s)failed with HTTP 400: .*x must be at most 100"):
        predict_rest(rest_url, "tiny", {"x": tiny.x + 200}, signature="checked")


def test_client_arguments_are_checked(rest_url, tiny):
    with pytest.raises(ValueError, match=r"Give exactly one of inputs= \(columnar format\) or "
                                         r"instances= \(row format\)\. Received: inputs=set, "
                                         r"instances=set\."):
        predict_rest(rest_url, "tiny", {"x": tiny.x}, instances=[[1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match=r"url must start with http:// or https://\. Received: "
                                         r"url='127\.0\.0\.1:1'\."):
        predict_rest("127.0.0.1:1", "tiny", {"x": tiny.x})
