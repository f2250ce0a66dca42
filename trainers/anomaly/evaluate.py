"""Scoring alarms against labelled anomaly windows: event-level metrics and the NAB score.

Event level (per series, then summed over series before precision/recall/F1):

    scored points   all but the first floor(probation * n) points (probation = 0.15)
    TP              a labelled window with at least one flagged scored point inside it
    FN              a labelled window with none (windows entirely in the probation are
                    not counted)
    FP              each run of consecutive flagged scored points outside every window

NAB standard profile (Lavin & Ahmad 2015; NAB's `nab/sweeper.py`, reproduced here):

    sigma(x)  = 2 / (1 + exp(5 x)) - 1, and -1 for x >= 3        (scaled sigmoid)
    probation = min(floor(0.15 * n), 0.15 * 5000) rows, never scored
    in window [l, r], at row i:    y = -(r - i + 1) / (r - l + 1),
                                   weight A_TP * sigma(y) / sigma(-1)
    outside, after window [l, r]:  y = |r - i| / (r - l),          weight A_FP * sigma(y)
    outside, before any window:    weight -A_FP
    raw = sum over windows of (weight of its first flagged row, else -A_FN)
          + sum over flagged rows outside windows of their weight

with A_TP = 1, A_FP = 0.11, A_FN = 1. Only the first detection in a window counts (it has
the largest weight); a false positive right after a window costs little, one far from any
window costs A_FP. Normalised over a corpus as NAB does, against the null detector (no
alarm: raw = -A_FN per counted window) and the perfect one (A_TP per labelled window):

    score = 100 * (raw - raw_null) / (A_TP * windows - raw_null)

Example:
    >>> import numpy as np
    >>> flags = np.zeros(100, bool); flags[[50, 90]] = True
    >>> windows = [(45, 60)]
    >>> event_counts(flags, windows, probation=0.15)
    EventCounts(true_positives=1, false_negatives=0, false_positives=1)
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable, Sequence

import numpy as np

from cuttingedge.trainers.anomaly.alarms import flag_runs

PROBATION = 0.15


@dataclasses.dataclass(frozen=True)
class CostMatrix:
    """NAB's application profile weights (standard profile by default)."""

    true_positive: float = 1.0
    false_positive: float = 0.11
    false_negative: float = 1.0


STANDARD = CostMatrix()


@dataclasses.dataclass(frozen=True)
class EventCounts:
    """Detected windows, missed windows, and runs of false alarms."""

    true_positives: int = 0
    false_negatives: int = 0
    false_positives: int = 0

    def __add__(self, other: EventCounts) -> EventCounts:
        return EventCounts(*(a + b for a, b in zip(dataclasses.astuple(self),
                                                  dataclasses.astuple(other))))

    @property
    def precision(self) -> float:
        flagged = self.true_positives + self.false_positives
        return self.true_positives / flagged if flagged else 0.0

    @property
    def recall(self) -> float:
        windows = self.true_positives + self.false_negatives
        return self.true_positives / windows if windows else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict:
        return {**dataclasses.asdict(self), "precision": self.precision,
                "recall": self.recall, "f1": self.f1}


def load_windows(labels_json, key: str) -> list[tuple[np.datetime64, np.datetime64]]:
    """The (start, end) windows of `key` (e.g. "realKnownCause/nyc_taxi.csv") in a NAB
    combined_windows.json; a bare file name matches the key that ends with it.

    Raises:
        KeyError: no entry for `key` (the message lists a few keys).
    """
    with open(labels_json) as handle:
        labels = json.load(handle)
    matches = [k for k in labels if k == key or k.endswith("/" + key)]
    if not matches:
        raise KeyError(f"No windows for {key!r} in {labels_json}. Expected one of "
                       f"{sorted(labels)[:5]}...")
    return [(np.datetime64(start.replace(" ", "T")), np.datetime64(end.replace(" ", "T")))
            for start, end in labels[matches[0]]]


def window_indices(timestamps: np.ndarray, windows) -> list[tuple[int, int]]:
    """(first, last) row of each window: the rows whose timestamp lies in [start, end].

    Windows with no row are dropped. Rows are in input order (NaT rows never match).

    Example:
        >>> t = np.arange(np.datetime64("2024-01-01"), np.datetime64("2024-01-06"))
        >>> window_indices(t, [(t[1], t[3])])
        [(1, 3)]
    """
    timestamps = np.asarray(timestamps, "datetime64[ns]")
    found = []
    for start, end in windows:
        inside = np.flatnonzero((timestamps >= np.datetime64(start, "ns"))
                                & (timestamps <= np.datetime64(end, "ns")))
        if len(inside):
            found.append((int(inside[0]), int(inside[-1])))
    return found


def in_windows(rows: int, windows: Iterable[tuple[int, int]]) -> np.ndarray:
    """Boolean mask of the rows inside any (first, last) window."""
    mask = np.zeros(rows, bool)
    for first, last in windows:
        mask[first:last + 1] = True
    return mask


def event_counts(flags, windows: Sequence[tuple[int, int]],
                 probation: float = PROBATION) -> EventCounts:
    """Event-level counts of one series (module docstring).

    Args:
        flags: boolean alarms, one per row.
        windows: (first, last) row indices of the labelled windows.
        probation: leading share of rows that is not scored.
    """
    flags = np.asarray(flags, bool)
    start = int(math.floor(probation * len(flags)))
    scored = flags.copy()
    scored[:start] = False
    counted = [(a, b) for a, b in windows if b >= start]
    detected = sum(bool(scored[max(a, start):b + 1].any()) for a, b in counted)
    outside = scored & ~in_windows(len(flags), counted)
    return EventCounts(detected, len(counted) - detected, len(flag_runs(outside)))


def scaled_sigmoid(position: float) -> float:
    """NAB's scaled sigmoid: 2 * sigmoid(-5 x) - 1, and -1 from x = 3 on.

    Example:
        >>> round(scaled_sigmoid(-1.0), 5), scaled_sigmoid(0.0), scaled_sigmoid(3.0)
        (0.98661, 0.0, -1.0)
    """
    if position >= 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


def nab_probation(rows: int, probation: float = PROBATION) -> int:
    """NAB's probationary rows: min(floor(0.15 n), 0.15 * 5000)."""
    return int(min(math.floor(probation * rows), probation * 5000))


def nab_raw_score(flags, windows: Sequence[tuple[int, int]], costs: CostMatrix = STANDARD,
                  probation: float = PROBATION) -> tuple[float, int]:
    """NAB's raw score of one series, and the number of windows it counted (docstring).

    Example:
        >>> flags = np.zeros(20000, bool); flags[5000] = True  # first row of the window
        >>> score, counted = nab_raw_score(flags, [(5000, 5099)])
        >>> round(score, 4), counted  # position -(5099 - 5000 + 1) / 100 = -1: A_TP
        (1.0, 1)
    """
    flags = np.asarray(flags, bool)
    start, max_tp = nab_probation(len(flags), probation), scaled_sigmoid(-1.0)
    best = {}
    total = 0.0
    previous = None
    order = sorted(windows)
    for index, (first, last) in enumerate(order):
        if last >= start:
            best[index] = -costs.false_negative
    cursor = 0
    for row in np.flatnonzero(flags):
        if row < start:
            continue
        while cursor < len(order) and order[cursor][1] < row:
            previous = order[cursor]
            cursor += 1
        if cursor < len(order) and order[cursor][0] <= row:
            first, last = order[cursor]
            weight = scaled_sigmoid(-(last - row + 1) / (last - first + 1))
            best[cursor] = max(best[cursor], weight * costs.true_positive / max_tp)
        elif previous is None:
            total -= costs.false_positive
        else:
            first, last = previous
            width = max(last - first, 1)
            total += scaled_sigmoid(abs(last - row) / width) * costs.false_positive
    return total + sum(best.values()), len(best)


@dataclasses.dataclass(frozen=True)
class NabResult:
    """Raw and normalised NAB score of one series or a corpus."""

    raw: float
    null: float
    perfect: float

    @property
    def normalized(self) -> float:
        span = self.perfect - self.null
        return 100.0 * (self.raw - self.null) / span if span else 0.0

    def __add__(self, other: NabResult) -> NabResult:
        return NabResult(self.raw + other.raw, self.null + other.null,
                         self.perfect + other.perfect)


def nab_score(flags, windows: Sequence[tuple[int, int]], costs: CostMatrix = STANDARD,
              probation: float = PROBATION) -> NabResult:
    """NAB score of one series; add results of several series to normalise a corpus.

    Example:
        >>> flags = np.zeros(1000, bool)
        >>> nab_score(flags, [(500, 599)]).normalized  # the null detector
        0.0
    """
    raw, _ = nab_raw_score(flags, windows, costs, probation)
    null, _ = nab_raw_score(np.zeros(len(flags), bool), windows, costs, probation)
    return NabResult(raw, null, costs.true_positive * len(windows))
