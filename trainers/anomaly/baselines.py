"""Baselines scored and thresholded exactly like the detector (same score, threshold rule and
post-processing), so that only the predictive distribution differs.

    zscore         N(trailing mean, trailing stddev) of the `window` values before each point
    deterministic  the ladder's "deterministic" step (MSE MLP, RMS-residual scale): use
                   `fit_detector(values, DetectorConfig(step="deterministic"))`
    sts            `tfp.sts.detect_anomalies`: local linear trend + automatic seasonality,
                   Gibbs-sampled, its one-step (filtering) predictive per point of a series
                   averaged into at most `max_points` blocks (a block's score lands on its
                   last row, the first row at which it is known)
    local_level    the maximum-likelihood local level model (`local_level`, through
                   `level_detector`): Kalman one-step predictive per point; a sensor that holds
                   its level while healthy keeps expecting it, so a slow fault stays surprising
                   until it ends

Each baseline's threshold is calibrated on its scores in the training part (the first
`train_fraction` of the series) for the same false-alarm rate, with `alarms.calibrate_threshold`.

Example:
    >>> import numpy as np
    >>> values = np.random.default_rng(0).normal(size=2000); values[1500] = 9.0
    >>> out = zscore_baseline(values, BaselineConfig(window=50))
    >>> bool(out.is_anomaly[1500]), int(out.is_anomaly.sum()) <= 3
    (True, True)
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from cuttingedge.trainers import probabilistic as prob
from cuttingedge.trainers.anomaly import alarms
from cuttingedge.trainers.anomaly.detector import ScoredSeries, _alarms
from cuttingedge.trainers.anomaly.series import Series, from_arrays


@dataclasses.dataclass(frozen=True)
class BaselineConfig:
    """Settings shared by the baselines (see `DetectorConfig` for the alarm settings).

    Args:
        window: trailing points of the z-score.
        train_fraction: share of the series whose scores calibrate the threshold.
        false_alarm_rate, smoothing, refractory, refractory_fraction, tail_fraction,
            adaptive: as in `DetectorConfig` (by default the threshold adapts after the
            training part, as the detector's does).
        rearm: one alarm per episode: a new alarm needs `refractory` unflagged points
            before it (`alarms.suppress_repeats`); by default a long episode alarms again
            every refractory period.
        max_points: most blocks the STS model sees (longer series are block-averaged).
        warmup_steps, samples: Gibbs sampler settings of the STS baseline.
        seed: STS sampler seed.
    """

    window: int = 100
    train_fraction: float = 0.15
    false_alarm_rate: float = 1e-4
    smoothing: int = 4
    refractory: int = 0
    refractory_fraction: float = 0.02
    tail_fraction: float = 0.1
    adaptive: bool = True
    rearm: bool = False
    max_points: int = 1500
    warmup_steps: int = 20
    samples: int = 50
    seed: int = 0

    def __post_init__(self):
        if self.window < 2:
            raise ValueError(f"Expected window >= 2 for a trailing stddev. Received: "
                             f"window={self.window!r}.")
        if not 0.0 < self.train_fraction < 1.0:
            raise ValueError(f"Expected train_fraction in (0, 1). Received: "
                             f"train_fraction={self.train_fraction!r}.")


def _series(values) -> Series:
    return values if isinstance(values, Series) else from_arrays(np.asarray(values))


def _finish(data: Series, moments: prob.PredictiveSummary, config: BaselineConfig,
            first_scored: int, point=None) -> ScoredSeries:
    """Calibrates on the training part's scores, then alarms like the detector."""
    point = alarms.tail_surprise(data.values, moments.mean, moments.stddev) \
        if point is None else point
    train = int(math.floor(len(data) * config.train_fraction))
    smoothed = alarms.smooth(point, config.smoothing)[first_scored:train]
    threshold = alarms.calibrate_threshold(smoothed, config.false_alarm_rate,
                                           config.tail_fraction, config.smoothing)
    settings = _AlarmSettings(first_scored, config.smoothing, config.refractory,
                              config.refractory_fraction, config.false_alarm_rate,
                              config.tail_fraction, config.rearm)
    return _alarms(data, moments, threshold, settings, point,
                   adaptive_start=train if config.adaptive else None)


@dataclasses.dataclass(frozen=True)
class _AlarmSettings:
    window: int
    smoothing: int
    refractory: int
    refractory_fraction: float
    false_alarm_rate: float
    tail_fraction: float
    rearm: bool = False


def zscore_baseline(values, config: BaselineConfig = BaselineConfig()) -> ScoredSeries:
    """Trailing-window z-score: point i under N(mean, std of the `window` points before i)."""
    data = _series(values)
    floor = 1e-3 * max(1.0, float(np.abs(data.values).mean()))
    mean, std = alarms.trailing_moments(data.values, config.window, floor)
    moments = prob.PredictiveSummary(mean, std, std, np.zeros_like(std))
    return _finish(data, moments, config, min(config.window, len(data) - 1))


def local_level_baseline(values, config: BaselineConfig = BaselineConfig()) -> ScoredSeries:
    """The local level model fitted on the training part: its one-step predictive per point.

    Example:
        >>> import numpy as np
        >>> values = 30.0 + np.random.default_rng(1).normal(size=1200)
        >>> values[700:900] -= np.linspace(0.0, 4.0, 200)  # a slow fault, then recovery
        >>> config = BaselineConfig(window=50, train_fraction=0.3, rearm=True)
        >>> level = local_level_baseline(values, config).is_anomaly
        >>> z = zscore_baseline(values, config).is_anomaly
        >>> bool(level[700:900].any()), bool(level[900:].any()), bool(z[700:].any())
        (True, False, False)
    """
    from cuttingedge.trainers.anomaly import level_detector

    data = _series(values)
    shared = [f.name for f in dataclasses.fields(level_detector.LevelConfig) if f.name != "window"]
    settings = level_detector.LevelConfig(**{name: getattr(config, name) for name in shared})
    return level_detector.fit_level_detector({data.name: data}, settings).score(data, data.name)


def _blocks(data: Series, max_points: int) -> tuple[np.ndarray, int]:
    size = max(1, int(math.ceil(len(data) / max_points)))
    return np.arange(len(data)) // size, size


def sts_baseline(values, config: BaselineConfig = BaselineConfig(),
                 step_seconds: float | None = None) -> ScoredSeries:
    """`tfp.sts.detect_anomalies` on the block-averaged series (module docstring).

    Args:
        values: an array or a `Series` (its timestamps give the step when parseable).
        config: the `BaselineConfig`.
        step_seconds: the sampling step; by default the median step of the timestamps
            (one hour when they cannot tell).
    """
    import pandas as pd
    from tensorflow_probability.python.sts import anomaly_detection

    data = _series(values)
    block, size = _blocks(data, config.max_points)
    means = pd.Series(data.values).groupby(block).mean().to_numpy()
    if step_seconds is None:
        steps = np.diff(data.timestamps[~np.isnat(data.timestamps)]).astype("m8[s]")
        positive = steps[steps > np.timedelta64(0, "s")].astype(np.float64)
        step_seconds = float(np.median(positive)) if len(positive) else 3600.0
    index = pd.date_range("2000-01-01", periods=len(means), freq=f"{int(step_seconds * size)}s")
    result = anomaly_detection.detect_anomalies(
        pd.Series(means, index=index), anomaly_threshold=0.01,
        num_warmup_steps=config.warmup_steps, num_samples=config.samples,
        seed=config.seed)
    mean = np.asarray(result.mean, np.float64)
    width = (np.asarray(result.upper_limit) - np.asarray(result.lower_limit)) / 2.0
    std_block = np.maximum(width / 2.5758, 1e-9)  # 99% central interval = +-2.5758 sigma
    offset = len(means) - len(mean)  # detect_anomalies omits the first step
    full_mean = np.concatenate([np.full(offset, means[0]), mean])[block]
    full_std = np.concatenate([np.full(offset, std_block[0]), std_block])[block]
    block_score = alarms.tail_surprise(means, np.concatenate([np.full(offset, means[0]), mean]),
                                       np.concatenate([np.full(offset, std_block[0]),
                                                       std_block]))
    last = np.r_[block[1:] != block[:-1], True]
    point = np.where(last, block_score[block], 0.0)
    moments = prob.PredictiveSummary(full_mean, full_std, full_std, np.zeros_like(full_std))
    return _finish(data, moments, config, size * (offset + 1), point=point)
