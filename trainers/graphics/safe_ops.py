"""Divisions and signs that stay finite (and keep finite gradients) near zero.

TF Graphics' `util/safe_ops` conventions: the denominator is pushed away from zero by a
tiny epsilon (10 * the smallest normal number of the dtype), keeping its sign.

Example:
    >>> float(safe_signed_div(1.0, 0.0)) > 1e30  # finite, not inf
    True
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def eps_for_division(dtype) -> float:
    """10 * the smallest positive normal number of `dtype` (TF Graphics' choice).

    Example:
        >>> eps_for_division(tf.float32) > 0.0
        True
    """
    return 10.0 * float(np.finfo(tf.as_dtype(dtype).as_numpy_dtype).tiny)


def eps_for_addition(dtype) -> float:
    """2 * the machine epsilon of `dtype`: the smallest addend that changes 1.0.

    Example:
        >>> eps_for_addition(tf.float32) < 1e-6
        True
    """
    return 2.0 * float(np.finfo(tf.as_dtype(dtype).as_numpy_dtype).eps)


def nonzero_sign(x) -> tf.Tensor:
    """sign(x) with sign(0) = +1, so that it can multiply a denominator safely.

    Example:
        >>> nonzero_sign([-2.0, 0.0, 3.0]).numpy().tolist()
        [-1.0, 1.0, 1.0]
    """
    x = tf.convert_to_tensor(x, dtype_hint=tf.float32)
    return tf.where(x < 0.0, -tf.ones_like(x), tf.ones_like(x))


def safe_signed_div(a, b, eps: float | None = None) -> tf.Tensor:
    """a / (b + sign(b) * eps): finite for b = 0, same sign as a / b.

    Args:
        a: numerator.
        b: denominator, broadcast-compatible with `a`.
        eps: the offset, by default `eps_for_division(b.dtype)`.

    Returns:
        The quotient, shape broadcast(a, b).

    Example:
        >>> float(safe_signed_div(3.0, 2.0))
        1.5
    """
    b = tf.convert_to_tensor(b, dtype_hint=tf.float32)
    a = tf.convert_to_tensor(a, dtype=b.dtype)
    eps = eps_for_division(b.dtype) if eps is None else eps
    return a / (b + nonzero_sign(b) * eps)


def safe_unsigned_div(a, b, eps: float | None = None) -> tf.Tensor:
    """a / (b + eps) for a non-negative denominator b.

    Example:
        >>> float(safe_unsigned_div(1.0, 4.0))
        0.25
    """
    b = tf.convert_to_tensor(b, dtype_hint=tf.float32)
    a = tf.convert_to_tensor(a, dtype=b.dtype)
    eps = eps_for_division(b.dtype) if eps is None else eps
    return a / (b + eps)
