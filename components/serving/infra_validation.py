"""Infra validation without a model server: load the SavedModel in a fresh Python process and
replay its warmup requests, as TF Serving would on load.

The local equivalent of TFX's InfraValidator (which starts TF Serving in Docker or Kubernetes,
neither available here). A fresh process proves the SavedModel stands on its own: nothing the
exporting process had imported or registered is there to help it.

A model passes when it loads, every warmup request names an existing signature with exactly its
inputs and dtypes, the signature runs, and every output is a tensor of finite numbers.

Example:
    >>> result = validate_in_fresh_process("/no/such/model")
    >>> result.ok, result.reason
    (False, 'No SavedModel at /no/such/model (saved_model.pb or saved_model.pbtxt missing).')
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import site
import subprocess
import sys
import time

import numpy as np

from cuttingedge.components import fileio

TAIL_CHARS = 2000
_RESULT_PREFIX = "INFRA_VALIDATION_RESULT "
_CHILD = ("import sys; from cuttingedge.components.serving.infra_validation import _child_main; "
          "sys.exit(_child_main(sys.argv[1]))")


class InfraValidationError(Exception):
    """The model cannot serve its own warmup requests: do not push it."""


@dataclasses.dataclass(frozen=True)
class ValidationResult:
    """Outcome of one validation.

    Args:
        ok: the model loaded and answered every warmup request with finite numbers.
        reason: why it failed ("" when ok).
        requests: warmup requests replayed successfully.
        seconds: wall time, process start to exit.
        stderr_tail: the last TAIL_CHARS characters of the process' stderr.
    """

    ok: bool
    reason: str = ""
    requests: int = 0
    seconds: float = 0.0
    stderr_tail: str = ""

    def __post_init__(self):
        if not self.ok and not self.reason:
            raise ValueError("A failed ValidationResult needs a reason. Received: reason=''.")


def check_finite(outputs: dict[str, np.ndarray], where: str) -> None:
    """Raises InfraValidationError unless every output holds finite numbers or non-empty
    strings (labels such as a brand name).

    Example:
        >>> try:
        ...     check_finite({"y": np.array([1.0, np.nan])}, "request 0")
        ... except InfraValidationError as error:
        ...     print(error)
        request 0: output 'y' has 1 non-finite value(s) (NaN or inf) of 2; expected finite numbers.
    """
    for name, value in outputs.items():
        array = np.asarray(value)
        if array.dtype == object or array.dtype.kind in "SU":
            # Labels (e.g. a brand name) are fine, but an empty one means a failed lookup.
            empty = sum(1 for item in array.ravel() if not item)
            if empty:
                raise InfraValidationError(f"{where}: output {name!r} has {empty} empty "
                                           f"string(s) of {array.size}; expected labels.")
            continue
        if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
            raise InfraValidationError(f"{where}: output {name!r} has dtype {array.dtype}; "
                                       f"expected numbers.")
        if np.issubdtype(array.dtype, np.inexact):
            bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
            if bad:
                raise InfraValidationError(f"{where}: output {name!r} has {bad} non-finite "
                                           f"value(s) (NaN or inf) of {array.size}; expected "
                                           f"finite numbers.")


def replay_warmup_requests(saved_model_dir) -> int:
    """Loads the SavedModel here and replays its warmup requests; returns how many.

    `validate_in_fresh_process` runs this in a new process; call it directly only to debug.

    Raises:
        FileNotFoundError: no warmup file.
        InfraValidationError: no requests; a request the signatures do not accept (a
            RequestError) or that makes the model fail (a tf.errors.OpError); an output that
            is not finite numbers. The message names the request and the signature.
    """
    import tensorflow as tf

    from cuttingedge.components.serving import request as requests_lib
    from cuttingedge.components.serving.warmup import read_warmup_requests

    replayed = read_warmup_requests(saved_model_dir)
    if not replayed:
        raise InfraValidationError(f"The warmup file of {saved_model_dir} holds no requests; "
                                   f"write at least one with write_warmup_requests.")
    loaded = tf.saved_model.load(os.fspath(saved_model_dir))
    for index, request in enumerate(replayed):
        where = f"warmup request {index} (signature {request.model_spec.signature_name!r})"
        try:
            outputs = requests_lib.run_signature(loaded, request.model_spec.signature_name,
                                                 requests_lib.request_inputs(request))
        except (requests_lib.RequestError, tf.errors.OpError) as error:
            message = getattr(error, "message", None) or str(error)
            raise InfraValidationError(f"{where}: {type(error).__name__}: {message}") from error
        check_finite(outputs, where)
    return len(replayed)


def _child_main(saved_model_dir: str) -> int:
    """Entry point of the validation process: one JSON result line on stdout."""
    try:
        result = {"ok": True, "requests": replay_warmup_requests(saved_model_dir)}
    except Exception as error:  # reported to the parent, which decides; never swallowed
        message = getattr(error, "message", None) or str(error)
        result = {"ok": False, "reason": f"{type(error).__name__}: {message}"}
    print(_RESULT_PREFIX + json.dumps(result), flush=True)
    return 0 if result["ok"] else 1


def _has_saved_model(path: str) -> bool:
    return any(fileio.exists(fileio.join(path, name))
               for name in ("saved_model.pb", "saved_model.pbtxt"))


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # The folder holding this copy of the `cuttingedge` namespace, so the child imports it too;
    # site-packages is on the child's path already (and must stay after the standard library).
    root = str(pathlib.Path(__file__).resolve().parents[3])
    if root not in {str(pathlib.Path(p).resolve()) for p in site.getsitepackages()}:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


def _text(stream) -> str:
    if stream is None:
        return ""
    return stream.decode(errors="replace") if isinstance(stream, bytes) else stream


def validate_in_fresh_process(saved_model_dir, timeout_s: float = 300) -> ValidationResult:
    """Loads the SavedModel in a new Python process and replays its warmup requests there.

    Args:
        saved_model_dir: a SavedModel folder with assets.extra/tf_serving_warmup_requests.
        timeout_s: the process is killed, and the model failed, after this many seconds.

    Returns:
        ValidationResult: ok, or failed with the reason and the tail of the process' stderr.

    Raises:
        ValueError: timeout_s is not positive.
    """
    if not timeout_s > 0:
        raise ValueError(f"timeout_s must be > 0 seconds. Received: timeout_s={timeout_s!r}.")
    path = os.fspath(saved_model_dir)
    path = path if fileio.is_remote(path) else os.path.abspath(path)
    if not _has_saved_model(path):
        return ValidationResult(False, f"No SavedModel at {os.fspath(saved_model_dir)} "
                                       f"(saved_model.pb or saved_model.pbtxt missing).")
    start = time.monotonic()
    try:
        done = subprocess.run([sys.executable, "-c", _CHILD, path], capture_output=True,
                              text=True, timeout=timeout_s, env=_child_env(), check=False)
    except subprocess.TimeoutExpired as expired:
        return ValidationResult(False, f"Timed out after {timeout_s}s loading {path} and "
                                       f"replaying its warmup requests; raise timeout_s if the "
                                       f"model is just slow to load.",
                                seconds=time.monotonic() - start,
                                stderr_tail=_text(expired.stderr)[-TAIL_CHARS:])
    seconds, tail = time.monotonic() - start, done.stderr[-TAIL_CHARS:]
    lines = [line for line in done.stdout.splitlines() if line.startswith(_RESULT_PREFIX)]
    if not lines:
        return ValidationResult(False, f"The validation process exited with code "
                                       f"{done.returncode} before reporting; stderr tail:\n{tail}",
                                seconds=seconds, stderr_tail=tail)
    result = json.loads(lines[-1][len(_RESULT_PREFIX):])
    return ValidationResult(result["ok"], result.get("reason", ""), result.get("requests", 0),
                            seconds, tail)
