"""Infra validation: replay of the warmup requests in-process (messages) and in a fresh process
(the verdict the pipeline acts on)."""

import shutil
from concurrent import futures

import numpy as np
import pytest

from cuttingedge.components.serving.infra_validation import (InfraValidationError,
                                                             ValidationResult, check_finite,
                                                             replay_warmup_requests,
                                                             validate_in_fresh_process)
from cuttingedge.components.serving.warmup import warmup_path, write_warmup_requests


CASES = {  # name: (signature, warmup requests of inputs x)
    "good": ("serving_default", lambda x: [{"x": x}, {"x": x[:1]}]),
    "wrong_input_name": ("serving_default", lambda x: [{"z": x}]),
    "raising_signature": ("checked", lambda x: [{"x": x}, {"x": x + 200}]),
}


@pytest.fixture(scope="module")
def fresh(tiny, tmp_path_factory) -> dict:
    """Each case validated in its own fresh process; the processes run side by side (each
    spends seconds importing TensorFlow)."""
    models = {}
    for case, (signature, requests) in CASES.items():
        models[case] = shutil.copytree(tiny.template, tmp_path_factory.mktemp(case) / "model")
        write_warmup_requests(models[case], requests(tiny.x), signature, model_name="tiny")
    with futures.ThreadPoolExecutor(len(CASES)) as pool:
        results = pool.map(lambda case: validate_in_fresh_process(models[case], timeout_s=300),
                           CASES)
        return dict(zip(CASES, results))


def test_good_model_passes_in_a_fresh_process(fresh):
    result = fresh["good"]
    assert result.ok, result.reason
    assert (result.requests, result.reason) == (2, "")


def test_wrong_input_name_fails_in_a_fresh_process_with_the_reason(fresh):
    result = fresh["wrong_input_name"]
    assert not result.ok
    assert result.reason == ("InfraValidationError: warmup request 0 (signature "
                             "'serving_default'): RequestError: Signature 'serving_default' "
                             "takes inputs ['x']. Received: ['z'].")


def test_raising_signature_fails_in_a_fresh_process_with_the_reason(fresh):
    result = fresh["raising_signature"]
    assert not result.ok
    assert result.reason.startswith("InfraValidationError: warmup request 1 (signature "
                                    "'checked'): InvalidArgumentError: ")
    assert "x must be at most 100" in result.reason


def test_replay_in_process_counts_the_requests(tiny_model, tiny):
    write_warmup_requests(tiny_model, [{"x": tiny.x}] * 3, model_name="tiny")
    assert replay_warmup_requests(tiny_model) == 3


@pytest.mark.parametrize("signature, requests, message", [
    ("nope", [{"x": np.ones([1, 3], np.float32)}],
     r"warmup request 0 \(signature 'nope'\): RequestError: Serving signature 'nope' not found\. "
     r"Expected one of \['checked', 'examples', 'log', 'serving_default'\]\."),
    ("serving_default", [{"x": np.ones([1, 3])}],
     r"RequestError: Input 'x' of signature 'serving_default' must be float32\. "
     r"Received: float64\."),
    ("serving_default", [{"x": np.ones([1, 4], np.float32)}],
     r"RequestError: Input 'x' of signature 'serving_default' must have shape \(None, 3\)\. "
     r"Received: \(1, 4\)\."),
    ("log", [{"x": -np.ones([2, 3], np.float32)}],
     r"warmup request 0 \(signature 'log'\): output 'y' has 2 non-finite value\(s\) \(NaN or "
     r"inf\) of 2; expected finite numbers\."),
    ("examples", [{"examples": [b"not an example"]}],
     r"warmup request 0 \(signature 'examples'\): InvalidArgumentError: "),
])
def test_replay_errors_name_the_request_and_the_problem(tiny_model, signature, requests,
                                                        message):
    write_warmup_requests(tiny_model, requests, signature, model_name="tiny")
    with pytest.raises(InfraValidationError, match=message):
        replay_warmup_requests(tiny_model)


def test_string_outputs_must_be_non_empty_labels():
    check_finite({"y": np.ones(2), "brand": np.array([b"paypal"], object)}, "request 3")
    with pytest.raises(InfraValidationError, match=r"request 3: output 'brand' has 1 empty "
                                                   r"string\(s\) of 2; expected labels\."):
        check_finite({"brand": np.array([b"x", b""], object)}, "request 3")


def test_missing_model_or_warmup_fails_without_guessing(tiny_model, tmp_path):
    result = validate_in_fresh_process(tmp_path / "nothing")
    assert not result.ok and result.reason.startswith(f"No SavedModel at {tmp_path}/nothing")
    with pytest.raises(FileNotFoundError, match="No warmup requests at"):
        replay_warmup_requests(tiny_model)
    assert not (tiny_model / "assets.extra").exists() and warmup_path(tiny_model)


def test_timeout_fails_with_a_reason(tiny_model, tiny):
    write_warmup_requests(tiny_model, [{"x": tiny.x}], model_name="tiny")
    result = validate_in_fresh_process(tiny_model, timeout_s=0.05)
    assert not result.ok
    assert result.reason.startswith(f"Timed out after 0.05s loading {tiny_model}")


def test_arguments_and_results_are_checked():
    with pytest.raises(ValueError, match=r"timeout_s must be > 0 seconds\. Received: "
                                         r"timeout_s=0\."):
        validate_in_fresh_process("/tmp", timeout_s=0)
    with pytest.raises(ValueError, match=r"A failed ValidationResult needs a reason"):
        ValidationResult(ok=False)
