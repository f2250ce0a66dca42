"""Predict requests as TF Serving sees them: PredictRequest <-> numpy, and running one through a
SavedModel signature with the checks TF Serving makes (signature name, input names, dtypes).

Example:
    >>> import numpy as np
    >>> request = predict_request({"x": np.ones([2, 3], np.float32)}, model_name="tiny")
    >>> request.model_spec.signature_name
    'serving_default'
    >>> request_inputs(request)["x"].shape
    (2, 3)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Union

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2
from tensorflow_serving.apis import predict_pb2

DEFAULT_SIGNATURE = "serving_default"

InputValue = Union[np.ndarray, Sequence[bytes]]


class RequestError(ValueError):
    """A request that does not fit the model: unknown signature, wrong input names or dtypes.

    The caller's fault, not the model's: TF Serving answers it with INVALID_ARGUMENT.
    """


def tensor_proto(name: str, value: InputValue) -> tensor_pb2.TensorProto:
    """`value` (a numpy array, or a list of bytes for a tf.string input) as a TensorProto.

    Example:
        >>> tensor_proto("examples", [b"a", b"b"]).tensor_shape.dim[0].size
        2
    """
    if value is None or isinstance(value, Mapping):
        raise RequestError(f"Input {name!r} must be a numpy array or a list of bytes. "
                           f"Received: {type(value).__name__}.")
    try:
        return tf.make_tensor_proto(value)
    except (TypeError, ValueError) as error:
        raise RequestError(f"Input {name!r} cannot be converted to a tensor ({error}). Expected "
                           f"a numpy array or a list of bytes.") from error


def predict_request(inputs: Mapping[str, InputValue], signature: str = DEFAULT_SIGNATURE,
                    model_name: str = "") -> predict_pb2.PredictRequest:
    """A PredictRequest for `signature` of `model_name` with `inputs` as TensorProtos.

    Raises:
        RequestError: no inputs, a non-string input name, or a value that is not a tensor.
    """
    if not isinstance(inputs, Mapping) or not inputs:
        raise RequestError(f"A request needs at least one named input, e.g. "
                           f"{{'x': np.ones([1, 3], np.float32)}}. Received: {inputs!r}.")
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature or DEFAULT_SIGNATURE
    for name, value in inputs.items():
        if not isinstance(name, str) or not name:
            raise RequestError(f"Input names must be non-empty strings. Received: {name!r}.")
        request.inputs[name].CopyFrom(tensor_proto(name, value))
    return request


def request_inputs(request: predict_pb2.PredictRequest) -> dict[str, np.ndarray]:
    """The inputs of `request` as numpy arrays (tf.string inputs as object arrays of bytes)."""
    return {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}


def signature_inputs(function) -> dict[str, tf.TensorSpec]:
    """Input name -> TensorSpec of a loaded signature (a concrete function)."""
    return dict(function.structured_input_signature[1])


def signature_of(loaded, signature: str):
    """The signature `signature` of a loaded SavedModel.

    Raises:
        RequestError: the SavedModel has no such signature (the message lists those it has).
    """
    name = signature or DEFAULT_SIGNATURE
    if name not in loaded.signatures:
        raise RequestError(f"Serving signature {name!r} not found. Expected one of "
                           f"{sorted(loaded.signatures.keys())}.")
    return loaded.signatures[name]


def run_signature(loaded, signature: str,
                  inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Calls `signature` of a loaded SavedModel on `inputs`; returns its outputs as numpy.

    Input names must be exactly the signature's, and dtypes must match, as TF Serving requires.

    Raises:
        RequestError: unknown signature, input names or dtypes that do not match.
        tf.errors.OpError: the model itself failed on these inputs (an op raised).
    """
    function = signature_of(loaded, signature)
    specs = signature_inputs(function)
    if set(inputs) != set(specs):
        raise RequestError(f"Signature {signature or DEFAULT_SIGNATURE!r} takes inputs "
                           f"{sorted(specs)}. Received: {sorted(inputs)}.")
    tensors = {}
    for name, spec in specs.items():
        tensor = tf.convert_to_tensor(inputs[name])
        if tensor.dtype != spec.dtype:
            raise RequestError(f"Input {name!r} of signature {signature or DEFAULT_SIGNATURE!r} "
                               f"must be {spec.dtype.name}. Received: {tensor.dtype.name}.")
        if not spec.shape.is_compatible_with(tensor.shape):
            raise RequestError(f"Input {name!r} of signature {signature or DEFAULT_SIGNATURE!r} "
                               f"must have shape {spec.shape}. Received: {tensor.shape}.")
        tensors[name] = tensor
    return {name: value.numpy() for name, value in function(**tensors).items()}
