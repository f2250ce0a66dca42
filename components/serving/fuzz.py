"""Fuzzing of a SavedModel's serving signatures, seeded from its own warmup requests.

Serving must answer garbage with an error, never crash the server. `fuzz_signatures` takes every
warmup request of a model (valid inputs of each signature), mutates it `cases` times and calls
the signature on each mutant:

    string inputs (serialised tf.Example, ExampleListWithContext, image bytes):
        flipped bytes, truncation, random bytes, empty, doubled, a valid record's prefix glued
        to random bytes
    numeric inputs (windows of values):
        NaN, +-inf, huge values, zeros, random normal values

Each call either returns outputs ("answered") or raises a `tf.errors.OpError`, which TF
Serving turns into an error status ("rejected"). TensorFlow's Python binding raises
UnicodeDecodeError instead when the failing op quotes the raw bytes in its message (ParseExample
does): the op still failed with an error status, so these count as rejected too
(`undecodable` says how many). Any other exception is a bug: it is recorded with the mutation
that caused it. A crash of the process (an abort in a kernel) is what
`fuzz_in_fresh_process` catches: it runs the fuzz in a child process and reports a signal.

Example:
    >>> report = fuzz_signatures("runs/serving/anomaly/1700000000", cases=200)  # doctest: +SKIP
    >>> report.failures
    []
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np

_RESULT_PREFIX = "FUZZ_RESULT "
_CHILD = ("import sys; from cuttingedge.components.serving.fuzz import _child_main; "
          "sys.exit(_child_main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))")


@dataclasses.dataclass
class FuzzReport:
    """Outcome counts per signature and the unexpected failures (should be none)."""

    answered: dict = dataclasses.field(default_factory=dict)
    rejected: dict = dataclasses.field(default_factory=dict)
    failures: list = dataclasses.field(default_factory=list)
    undecodable: int = 0
    crashed: str = ""

    @property
    def cases(self) -> int:
        return sum(self.answered.values()) + sum(self.rejected.values()) + len(self.failures)


def mutate_bytes(blob: bytes, rng: np.random.Generator) -> tuple[str, bytes]:
    """One mutant of a serialised record and the name of the mutation."""
    kind = rng.choice(["flip", "truncate", "random", "empty", "double", "prefix"])
    data = bytearray(blob)
    if kind == "flip" and data:
        for at in rng.integers(0, len(data), size=int(rng.integers(1, 9))):
            data[at] = int(rng.integers(0, 256))
    elif kind == "truncate" and data:
        data = data[:int(rng.integers(0, len(data)))]
    elif kind == "random":
        data = bytearray(rng.integers(0, 256, size=int(rng.integers(1, 512))).astype(np.uint8))
    elif kind == "empty":
        data = bytearray()
    elif kind == "double":
        data = data + data
    else:
        cut = int(rng.integers(0, len(data) + 1))
        data = data[:cut] + bytearray(rng.integers(0, 256, size=64).astype(np.uint8))
    return str(kind), bytes(data)


def mutate_numbers(values: np.ndarray, rng: np.random.Generator) -> tuple[str, np.ndarray]:
    """One mutant of a numeric input (same shape and dtype) and the name of the mutation."""
    kind = rng.choice(["nan", "inf", "huge", "zeros", "normal"])
    out = np.array(values, copy=True)
    flat = out.reshape(-1)
    if kind == "nan" and flat.size:
        flat[rng.integers(0, flat.size)] = np.nan
    elif kind == "inf" and flat.size:
        flat[rng.integers(0, flat.size)] = rng.choice([np.inf, -np.inf])
    elif kind == "huge":
        flat[:] = rng.choice([1e30, -1e30])
    elif kind == "zeros":
        flat[:] = 0
    else:
        flat[:] = rng.normal(scale=1e3, size=flat.size)
    return str(kind), out


def fuzz_signatures(saved_model_dir, cases: int = 100, seed: int = 0) -> FuzzReport:
    """Calls every warmup request's signature on `cases` mutants each (module docstring)."""
    import tensorflow as tf

    from cuttingedge.components.serving import request as requests_lib
    from cuttingedge.components.serving.warmup import read_warmup_requests

    rng = np.random.default_rng(seed)
    loaded = tf.saved_model.load(os.fspath(saved_model_dir))
    report = FuzzReport()
    for request in read_warmup_requests(saved_model_dir):
        signature = request.model_spec.signature_name or "serving_default"
        valid = requests_lib.request_inputs(request)
        for _ in range(cases):
            inputs, mutations = {}, []
            for name, value in valid.items():
                if value.dtype == object:
                    flat = value.reshape(-1)
                    mutated = np.empty(flat.shape, dtype=object)
                    for i, blob in enumerate(flat):
                        kind, mutated[i] = mutate_bytes(bytes(blob), rng)
                        mutations.append(f"{name}[{i}]:{kind}")
                    inputs[name] = mutated.reshape(value.shape)
                else:
                    kind, inputs[name] = mutate_numbers(value, rng)
                    mutations.append(f"{name}:{kind}")
            try:
                requests_lib.run_signature(loaded, signature, inputs)
                report.answered[signature] = report.answered.get(signature, 0) + 1
            except tf.errors.OpError:
                report.rejected[signature] = report.rejected.get(signature, 0) + 1
            except Exception as error:
                if isinstance(error, UnicodeDecodeError) and _raised_by_tf_execute(error):
                    report.rejected[signature] = report.rejected.get(signature, 0) + 1
                    report.undecodable += 1
                    continue
                # A bug: recorded, never hidden.
                report.failures.append({"signature": signature, "mutations": mutations,
                                        "error": f"{type(error).__name__}: {error}"[:500]})
    return report


def _raised_by_tf_execute(error: BaseException) -> bool:
    """True when TensorFlow's op execution raised `error` while decoding an error status."""
    import traceback

    frames = traceback.extract_tb(error.__traceback__)
    return bool(frames) and frames[-1].filename.replace(os.sep, "/").endswith(
        "tensorflow/python/eager/execute.py")


def _child_main(saved_model_dir: str, cases: int, seed: int) -> int:
    report = fuzz_signatures(saved_model_dir, cases, seed)
    print(_RESULT_PREFIX + json.dumps(dataclasses.asdict(report)), flush=True)
    return 0


def fuzz_in_fresh_process(saved_model_dir, cases: int = 100, seed: int = 0,
                          timeout_s: float = 600) -> FuzzReport:
    """`fuzz_signatures` in a child process, so that a crash is reported, not suffered."""
    from cuttingedge.components.serving.infra_validation import _child_env

    done = subprocess.run([sys.executable, "-c", _CHILD, os.fspath(saved_model_dir),
                           str(cases), str(seed)], capture_output=True, text=True,
                          timeout=timeout_s, env=_child_env())
    for line in done.stdout.splitlines():
        if line.startswith(_RESULT_PREFIX):
            return FuzzReport(**json.loads(line[len(_RESULT_PREFIX):]))
    return FuzzReport(crashed=f"exit status {done.returncode}: {done.stderr[-2000:]}")
