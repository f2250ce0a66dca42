"""From predictive Normals to alarms: the score, its label-free threshold, and post-processing.

The score of a point y under the predictive Normal N(mean, stddev) is its two-sided tail
surprise, in nats:

    u = |y - mean| / stddev,    p = 2 * Phi(-u),    score = -log(p)

For a calibrated forecaster p is uniform on normal points, so the score is Exp(1): a point
scores above -log(a) with probability a. A causal moving average over the last k scores
(`smooth`) accumulates evidence of slow anomalies; the mean of k Exp(1) scores is
Gamma(k, 1/k).

The threshold is set without labels (`calibrate_threshold`), on held-out normal data, for a
target false-alarm rate a per point: peaks over threshold (Siffer et al., KDD 2017) with an
exponential tail. Above the empirical (1 - q) quantile u_q of the held-out scores, excesses
are modelled as Exp(beta) with beta their mean, so

    threshold = u_q + beta * log(q / a)          (a < q)

which extrapolates past the few hundred held-out points. It never goes below the score a
calibrated model would exceed with probability 10 * a (`floor_threshold`), so a held-out
slice that happens to be very quiet (e.g. a constant series) does not make every tiny
deviation an alarm.

Post-processing (`suppress_repeats`): after an alarm, no new alarm starts for `refractory`
points (with `rearm`, for `refractory` points after the last flagged point: one alarm per
episode). NAB charges every flagged point outside a window and credits only the first one in a
window, and event-level metrics count each run of flags outside a window as one false
positive, so repeated alarms for one event only cost.

Example:
    >>> import numpy as np
    >>> round(float(tail_surprise(np.array([1.96]), np.zeros(1), np.ones(1))[0]), 3)  # -log(0.05)
    2.996
    >>> suppress_repeats(np.array([1, 1, 0, 1, 0, 0, 1], bool), refractory=3).astype(int).tolist()
    [1, 0, 0, 0, 0, 0, 1]
"""

from __future__ import annotations

import numpy as np
from scipy import special, stats

FLOOR_FACTOR = 10.0


def tail_surprise(y, mean, stddev) -> np.ndarray:
    """-log(2 * Phi(-|y - mean| / stddev)), computed stably in the far tail (module docstring).

    Example:
        >>> tail_surprise(np.array([0.0]), np.array([0.0]), np.array([1.0])).tolist()
        [0.0]
    """
    u = np.abs(np.asarray(y, np.float64) - mean) / np.asarray(stddev, np.float64)
    return np.maximum(-(np.log(2.0) + special.log_ndtr(-u)), 0.0)


def trailing_moments(values, window: int, floor: float, lag: int = 1):
    """(mean, stddev) of the `window` values that end `lag` points before each point.

    The trailing z-score's predictive Normal: population stddev (ddof 0), floored at
    `floor`; the first points, with fewer than two values before them, take the first
    full estimate (back-filled). Missing values (NaN) are skipped.

    Example:
        >>> mean, std = trailing_moments(np.array([0.0, 2.0, 4.0, 6.0]), 2, floor=0.1)
        >>> mean.tolist(), std.tolist()
        ([1.0, 1.0, 1.0, 3.0], [1.0, 1.0, 1.0, 1.0])
    """
    import pandas as pd

    previous = pd.Series(np.asarray(values, np.float64)).shift(lag).rolling(window,
                                                                           min_periods=2)
    mean = previous.mean().bfill().to_numpy()
    std = np.maximum(previous.std(ddof=0).bfill().fillna(floor).to_numpy(), floor)
    return mean, std


def seasonal_lag(values, max_lag: int, min_lag: int = 2, min_peak: float = 0.5,
                 min_rise: float = 0.2, min_smoothness: float = 0.5) -> int:
    """The period, in steps, of a series that repeats itself, or 0 if it does not.

    A period P (min_lag <= P <= max_lag) is the highest local maximum of the sample
    autocorrelation with acf(P) >= `min_peak` that rises at least `min_rise` above the lowest
    autocorrelation at a shorter lag (a daily cycle, not the slow decay of a drifting level).
    A series whose lag-1 autocorrelation is below `min_smoothness` has none: its pattern is
    spiky at the sampling step, and a shift of one step would break a comparison with the
    value one period earlier. Missing values (NaN) are left out.

    Example:
        >>> t = np.arange(960)
        >>> seasonal_lag(np.sin(2 * np.pi * t / 48) + 0.01 * t / 960, 100)
        48
        >>> seasonal_lag(np.cumsum(np.random.default_rng(0).normal(size=960)), 100)
        0
    """
    x = np.asarray(values, np.float64)
    x = x[np.isfinite(x)]
    max_lag = min(int(max_lag), len(x) // 3)
    x = x - x.mean()
    energy = float(np.dot(x, x))
    if max_lag < max(min_lag, 2) + 1 or energy == 0.0:
        return 0
    acf = np.array([1.0] + [float(np.dot(x[:-k], x[k:])) / energy
                            for k in range(1, max_lag + 2)])
    if acf[1] < min_smoothness:
        return 0
    best = 0
    for lag in range(max(min_lag, 2), max_lag + 1):
        peak = acf[lag] >= acf[lag - 1] and acf[lag] >= acf[lag + 1]
        if peak and acf[lag] >= min_peak and acf[lag] - acf[1:lag].min() >= min_rise \
                and (not best or acf[lag] > acf[best]):
            best = lag
    return best


def normal_nll(y, mean, stddev) -> np.ndarray:
    """-log N(y; mean, stddev) per point.

    Example:
        >>> round(float(normal_nll(np.zeros(1), np.zeros(1), np.ones(1))[0]), 5)
        0.91894
    """
    stddev = np.asarray(stddev, np.float64)
    z = (np.asarray(y, np.float64) - mean) / stddev
    return 0.5 * np.log(2.0 * np.pi) + np.log(stddev) + 0.5 * z * z


def smooth(scores, k: int) -> np.ndarray:
    """Causal moving average over the last k scores (fewer at the start); k = 1 is a no-op.

    Example:
        >>> smooth(np.array([3.0, 0.0, 3.0, 0.0]), 2).tolist()
        [3.0, 1.5, 1.5, 1.5]
    """
    scores = np.asarray(scores, np.float64)
    if k <= 1:
        return scores.copy()
    total = np.cumsum(np.concatenate([[0.0], scores]))
    index = np.arange(1, len(scores) + 1)
    start = np.maximum(index - k, 0)
    return (total[index] - total[start]) / (index - start)


def floor_threshold(rate: float, k: int = 1) -> float:
    """The score a calibrated model exceeds with probability min(1, 10 * rate), for k-point means.

    The mean of k Exp(1) surprises is Gamma(k, scale 1/k).

    Example:
        >>> round(floor_threshold(1e-3), 4)  # -log(0.01)
        4.6052
    """
    tail = min(1.0, FLOOR_FACTOR * rate)
    return float(stats.gamma.isf(tail, a=max(int(k), 1), scale=1.0 / max(int(k), 1)))


def calibrate_threshold(scores, rate: float, tail_fraction: float = 0.1, k: int = 1) -> float:
    """Label-free threshold for a false-alarm rate `rate` per point (module docstring).

    Args:
        scores: held-out scores of normal operation (NaNs ignored).
        rate: target false-alarm rate per point, in (0, 1).
        tail_fraction: q, the share of the held-out scores that fits the tail.
        k: points per smoothed score (for the floor).

    Returns:
        The threshold: a point alarms when its score is above it.

    Raises:
        ValueError: for a rate outside (0, 1) or no finite score.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> t = calibrate_threshold(rng.exponential(size=5000), rate=1e-3)
        >>> abs(t - np.log(1000)) < 0.5  # Exp(1) scores: -log(rate)
        True
    """
    if not 0.0 < rate < 1.0:
        raise ValueError(f"Expected a false-alarm rate in (0, 1). Received: rate={rate!r}.")
    scores = np.asarray(scores, np.float64)
    scores = scores[np.isfinite(scores)]
    if not len(scores):
        raise ValueError(f"Expected held-out scores to calibrate the threshold on. Received "
                         f"{len(scores)} finite scores.")
    if rate >= tail_fraction:
        threshold = float(np.quantile(scores, 1.0 - rate))
    else:
        level = float(np.quantile(scores, 1.0 - tail_fraction))
        excess = scores[scores > level] - level
        beta = float(excess.mean()) if len(excess) else 0.0
        threshold = level + beta * float(np.log(tail_fraction / rate))
    return max(threshold, floor_threshold(rate, k))


def suppress_repeats(flags, refractory: int, rearm: bool = False) -> np.ndarray:
    """Keeps an alarm only when no kept alarm is within the `refractory` points before it.

    With `rearm=True` the period counts from the last flagged point instead, kept or not: a
    new alarm needs `refractory` unflagged points before it, so an episode of flags with
    shorter gaps raises one alarm, at its start, however long it lasts (an alerting system
    that fires once and re-arms when the condition has cleared).

    Example:
        >>> suppress_repeats(np.array([1, 1, 1, 1], bool), refractory=0).tolist()
        [True, True, True, True]
        >>> episode = np.array([1, 1, 1, 1, 1, 0, 0, 0, 1], bool)
        >>> suppress_repeats(episode, 2).astype(int).tolist()
        [1, 0, 0, 1, 0, 0, 0, 0, 1]
        >>> suppress_repeats(episode, 2, rearm=True).astype(int).tolist()
        [1, 0, 0, 0, 0, 0, 0, 0, 1]
    """
    flags = np.asarray(flags, bool)
    if refractory <= 0:
        return flags.copy()
    kept = np.zeros_like(flags)
    last = -refractory - 1
    for index in np.flatnonzero(flags):
        if index - last > refractory:
            kept[index] = True
            last = index
        elif rearm:
            last = index
    return kept


def flag_runs(flags) -> list[tuple[int, int]]:
    """(start, end) inclusive index pairs of the runs of consecutive True values.

    Example:
        >>> flag_runs(np.array([0, 1, 1, 0, 1], bool))
        [(1, 2), (4, 4)]
    """
    flags = np.asarray(flags, bool).astype(np.int8)
    edges = np.diff(np.concatenate([[0], flags, [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    return [(int(s), int(e)) for s, e in zip(starts, ends)]


def adaptive_thresholds(scores, start: int, initial: float, rate: float,
                        tail_fraction: float = 0.1, k: int = 1,
                        every: int = 100) -> np.ndarray:
    """Per-point thresholds that re-fit the tail on every score seen so far (streaming POT).

    From row `start` on (the first row after calibration), every `every` rows the threshold
    is recalibrated on all scores before that row (from row 0 of `scores`) that did not
    exceed the threshold in force, and never drops below `initial`. Causal and label-free:
    a series that turns out noisier than its calibration slice raises its own bar (Siffer et
    al.'s SPOT, recalibrated in blocks).

    Example:
        >>> s = np.concatenate([np.random.default_rng(0).exponential(size=1000),
        ...                     3 * np.random.default_rng(1).exponential(size=3000)])
        >>> t = adaptive_thresholds(s, 1000, initial=6.9, rate=1e-3)
        >>> bool(t[0] == 6.9 and t[-1] > 10)
        True
    """
    scores = np.asarray(scores, np.float64)
    thresholds = np.full(len(scores), float(initial))
    current = float(initial)
    for block in range(start, len(scores), every):
        past = scores[:block]
        past = past[np.isfinite(past) & (past <= current)]
        if len(past):
            current = max(float(initial), calibrate_threshold(past, rate, tail_fraction, k))
        thresholds[block:block + every] = current
    return thresholds
