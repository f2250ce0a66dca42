"""Conversions between per-query padded arrays (TF-Ranking layout) and LightGBM's flat rows.

Padded layout: features [n_lists, list_size, n_features], labels [n_lists, list_size] with -1
on padding slots. Flat layout: the real rows only, list after list, plus rows per list.
"""

from __future__ import annotations

import dataclasses

import numpy as np

PADDING_LABEL = -1


@dataclasses.dataclass(frozen=True, eq=False)
class FlatLists:
    """Real rows of padded lists, in LightGBM's layout.

    Attributes:
      features: [n_rows, n_features] float32, the rows whose label is not -1, list by list.
      labels: [n_rows] labels of those rows.
      group_sizes: [n_nonempty_lists] rows per list; lists with no real row are left out,
        since LightGBM needs every query to hold at least one row.
      mask: [n_lists, list_size] bool, True on real rows; `flat_to_padded` needs it.
    """

    features: np.ndarray
    labels: np.ndarray
    group_sizes: np.ndarray
    mask: np.ndarray


def padded_to_flat(features: np.ndarray, labels: np.ndarray) -> FlatLists:
    """Drops padding slots (label -1) and flattens lists into LightGBM rows and group sizes.

    Args:
      features: [n_lists, list_size, n_features] numeric array.
      labels: [n_lists, list_size] labels, -1 on padding slots.

    Returns:
      A `FlatLists` holding flat features, labels, group sizes and the padding mask.

    Raises:
      ValueError: on mismatched shapes or labels below -1.

    Example:
      >>> x = np.arange(12, dtype=np.float32).reshape(2, 3, 2)
      >>> flat = padded_to_flat(x, np.array([[2, 0, -1], [1, -1, -1]]))
      >>> flat.group_sizes.tolist(), flat.features[:, 0].tolist()
      ([2, 1], [0.0, 2.0, 6.0])
    """
    features, labels = np.asarray(features), np.asarray(labels)
    if features.ndim != 3 or labels.shape != features.shape[:2]:
        raise ValueError(
            f"Expected features [n_lists, list_size, n_features] and labels "
            f"[n_lists, list_size]. Received: features.shape={features.shape}, "
            f"labels.shape={labels.shape}.")
    if labels.size and labels.min() < PADDING_LABEL:
        raise ValueError(
            f"Labels must be >= 0 on real rows and {PADDING_LABEL} on padding. Received: "
            f"min label {labels.min()}.")
    mask = labels != PADDING_LABEL
    sizes = mask.sum(axis=1)
    return FlatLists(
        features=features[mask].astype(np.float32, copy=False),
        labels=labels[mask],
        group_sizes=sizes[sizes > 0].astype(np.int32),
        mask=mask,
    )


def flat_to_padded(flat_scores: np.ndarray, mask: np.ndarray,
                   pad_value: float = 0.0) -> np.ndarray:
    """Puts flat per-row scores back into the padded [n_lists, list_size] layout.

    Args:
      flat_scores: [n_rows] scores in the row order of `padded_to_flat`.
      mask: [n_lists, list_size] bool, `FlatLists.mask`.
      pad_value: Score written on padding slots.

    Returns:
      [n_lists, list_size] float array, `pad_value` where `mask` is False.

    Raises:
      ValueError: if the number of scores differs from the number of True entries in `mask`.

    Example:
      >>> mask = np.array([[True, True, False], [True, False, False]])
      >>> flat_to_padded(np.array([0.5, 0.1, 0.9]), mask, pad_value=-1.0).tolist()
      [[0.5, 0.1, -1.0], [0.9, -1.0, -1.0]]
    """
    flat_scores, mask = np.asarray(flat_scores), np.asarray(mask, dtype=bool)
    if flat_scores.shape != (int(mask.sum()),):
        raise ValueError(
            f"flat_scores must have shape [n_rows] = [{int(mask.sum())}], one score per real "
            f"row of the mask. Received: shape={flat_scores.shape}.")
    dtype = np.result_type(flat_scores.dtype, np.float32)
    padded = np.full(mask.shape, pad_value, dtype=dtype)
    padded[mask] = flat_scores
    return padded
