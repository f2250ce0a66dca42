"""Padded per-query arrays <-> LightGBM flat rows."""

import numpy as np
import pytest

from cuttingedge.trainers.lambdamart.layout import flat_to_padded, padded_to_flat


def test_round_trip_keeps_real_rows_in_order():
    features = np.arange(3 * 4 * 2, dtype=np.float32).reshape(3, 4, 2)
    labels = np.array([[1, 0, 2, -1], [-1, -1, -1, -1], [3, -1, 0, -1]])
    flat = padded_to_flat(features, labels)
    np.testing.assert_array_equal(flat.group_sizes, [3, 2])  # the empty list is dropped
    np.testing.assert_array_equal(flat.labels, [1, 0, 2, 3, 0])
    np.testing.assert_array_equal(flat.features[:, 0], [0, 2, 4, 16, 20])
    padded = flat_to_padded(flat.features[:, 0], flat.mask, pad_value=-9.0)
    expected = np.where(labels >= 0, features[:, :, 0], -9.0)
    np.testing.assert_array_equal(padded, expected)


def test_layout_errors_are_clear():
    with pytest.raises(ValueError, match=r"Received: features.shape=\(2, 3\), "
                                         r"labels.shape=\(2, 3\)"):
        padded_to_flat(np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="Received: min label -2"):
        padded_to_flat(np.zeros((1, 2, 1)), np.array([[0, -2]]))
    with pytest.raises(ValueError, match=r"shape \[n_rows\] = \[2\].*Received: shape=\(3,\)"):
        flat_to_padded(np.zeros(3), np.array([[True, False, True]]))
