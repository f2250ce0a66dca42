"""Static shape checks with clear messages, shared by the graphics ops.

Example:
    >>> import tensorflow as tf
    >>> point = check_last_dims(tf.zeros([5, 3]), "point", (3,))
    >>> point.shape
    TensorShape([5, 3])
"""

from __future__ import annotations

import tensorflow as tf


def check_last_dims(tensor, tensor_name: str, dims: tuple[int, ...], dtype=None) -> tf.Tensor:
    """Converts `tensor` to a tensor and checks that its shape ends with `dims`.

    Args:
        tensor: a tensor-like value.
        tensor_name: the argument's name, used in the error message.
        dims: the expected trailing dimensions, e.g. (3,) for points or (3, 3) for matrices.
        dtype: optional dtype hint for the conversion (e.g. tf.float32 for Python lists).

    Returns:
        The converted tensor.

    Raises:
        ValueError: if the rank is smaller than len(dims) or a known trailing dimension
            differs from `dims`.

    Example:
        >>> check_last_dims([[1.0, 2.0]], "point_2d", (2,)).shape
        TensorShape([1, 2])
    """
    tensor = tf.convert_to_tensor(tensor, dtype_hint=dtype or tf.float32)
    shape = tensor.shape
    expected = "[..., " + ", ".join(str(d) for d in dims) + "]"
    if shape.rank is not None:
        if shape.rank < len(dims):
            raise ValueError(
                f"Expected {tensor_name} of shape {expected}, received rank {shape.rank} "
                f"(shape {shape.as_list()})."
            )
        trailing = shape.as_list()[-len(dims):]
        if any(have is not None and have != want for have, want in zip(trailing, dims)):
            raise ValueError(
                f"Expected {tensor_name} of shape {expected}, received shape {shape.as_list()}."
            )
    return tensor
