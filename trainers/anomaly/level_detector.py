"""The local level model as a detector of several series, scored and exported like the ladder's.

    fit_level_detector(values, LevelConfig(), splits=None) -> LevelDetector
    LevelDetector.score(values, name) -> ScoredSeries
    export_level_detector(detector, path) -> a SavedModel with serving_default and detect

Each series gets its own local level model (`local_level`), fitted by maximum likelihood on
its training part: the first `train_fraction` of its rows, or its train and eval rows when
`splits` gives them (SensorExampleGen's splits). Its thresholds are calibrated there,
label-free: `threshold` for the smoothed score over a whole series, `point_threshold` for one
point's own surprise (what a serving request can score). Alarms re-arm after a quiet
refractory period (`LevelConfig.rearm`): one per episode. `baselines.local_level_baseline` is
this detector on one series.

The SavedModel's signatures mirror the ladder detector's (`export`):

    serving_default(values float32 [None, window + 1], series string [None])
        Recent raw values of one series, oldest first; the last one is scored. The filter
        starts where the training part left the series: at its last filtered level, with the
        filter's steady-state variance; it reads the first `window` values (skipping NaN or
        infinite ones) and forecasts the last. So a sensor that holds its level is judged
        against the healthy level it was trained on, and a drifting sensor's filter catches
        up within the window. Returns "mean", "stddev", "aleatoric_stddev",
        "epistemic_stddev", "score" (the last value's tail surprise) and "is_anomaly" (score
        above the series' point threshold; never for a NaN or infinite last value).
    detect(examples string [None])
        SensorExampleGen's tf.Examples with window = `window` values (features `series`,
        `<col>_window`, `<col>`, optional `<col>_missing` and `history`); the same outputs,
        no alarm for missing values or records with history < window.

An unknown series fails with InvalidArgument naming it, unless the detector has one series.

Example:
    >>> import numpy as np, tempfile, tensorflow as tf
    >>> values = 5.0 + np.random.default_rng(0).normal(size=600)
    >>> detector = fit_level_detector(values, LevelConfig(window=20, train_fraction=0.5))
    >>> path = export_level_detector(detector, tempfile.mkdtemp())
    >>> serve = tf.saved_model.load(path).signatures["serving_default"]
    >>> row = np.r_[values[400:420], 12.0].astype(np.float32)  # a value 7 noise units off
    >>> bool(serve(values=tf.constant([row]), series=tf.constant([""]))["is_anomaly"][0])
    True
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping

import numpy as np

from cuttingedge.trainers.anomaly import alarms, local_level
from cuttingedge.trainers.anomaly.detector import (DEFAULT_SERIES, ScoredSeries, _alarms,
                                                   check_settings)
from cuttingedge.trainers.anomaly.series import Series, from_arrays

STEP = "local_level"
BURN_IN = 10  # first innovations left out of the noise check: the filter is still settling
MIN_INNOVATIONS = 30  # fewer than this cannot tell Gaussian noise from heavy tails


@dataclasses.dataclass(frozen=True)
class LevelConfig:
    """Settings of `fit_level_detector`.

    Args:
        window: values a serving request reads before the scored one (SensorExampleGen's
            window); the batch score reads the whole past.
        train_fraction: share of each series that fits and calibrates (without `splits`).
        false_alarm_rate, smoothing, refractory, refractory_fraction, tail_fraction,
            adaptive: as in `DetectorConfig`.
        rearm: one alarm per episode (`alarms.suppress_repeats`).
    """

    window: int = 100
    train_fraction: float = 0.15
    false_alarm_rate: float = 1e-4
    smoothing: int = 4
    refractory: int = 0
    refractory_fraction: float = 0.02
    tail_fraction: float = 0.1
    adaptive: bool = True
    rearm: bool = True

    def __post_init__(self):
        check_settings(self, ("window", "smoothing"), (),
                       fractions=("train_fraction", "false_alarm_rate", "tail_fraction"))


@dataclasses.dataclass(frozen=True)
class LevelScale:
    """One series' fitted model, thresholds and serving start state (module docstring)."""

    mean: float
    std: float
    noise_scale: float
    drift_scale: float
    threshold: float
    point_threshold: float
    train_rows: int
    level: float  # the filtered level after the training part, standardised
    steady_variance: float  # the filter's steady-state prior variance, standardised
    period: int = 0  # no seasonal gate: kept for the report's summary
    innovation_kurtosis: float = math.nan  # of the training part's standardised innovations

    @property
    def drift_ratio(self) -> float:
        """drift_scale / noise_scale: below 1, the sensor holds its level between points."""
        return self.drift_scale / self.noise_scale

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def model(self) -> local_level.LocalLevel:
        return local_level.LocalLevel(self.noise_scale, self.drift_scale, self.mean, self.std,
                                      math.nan)


@dataclasses.dataclass(frozen=True)
class LevelDetector:
    """Fitted local level models of one or several series (module docstring)."""

    config: LevelConfig
    scales: Mapping[str, LevelScale]
    history: Mapping = dataclasses.field(default_factory=dict)

    def score(self, values, series: str | None = None) -> ScoredSeries:
        """Scores every point of one series under its fitted model and thresholds."""
        name = series or (next(iter(self.scales)) if len(self.scales) == 1 else None)
        if name not in self.scales:
            raise KeyError(f"Unknown series {series!r}; this detector knows "
                           f"{sorted(self.scales)}.")
        data = values if isinstance(values, Series) else from_arrays(np.asarray(values))
        scale = self.scales[name]
        observed = np.where(data.missing, np.nan, data.values)
        moments = scale.model.predictive(observed)
        settings = dataclasses.replace(self.config, window=1)  # every point after the first
        return _alarms(data, moments, scale.threshold, settings,
                       adaptive_start=scale.train_rows if self.config.adaptive else None)


def steady_variance(noise_scale: float, drift_scale: float) -> float:
    """The Kalman filter's steady-state prior variance of the level (standardised units).

    Example:
        >>> steady_variance(1.0, 0.0), round(steady_variance(1.0, 1.0), 4)
        (0.0, 1.618)
    """
    q, r = drift_scale ** 2, noise_scale ** 2
    return 0.5 * (q + math.sqrt(q * q + 4.0 * q * r))


def _fit_one(data: Series, train_rows: int, config: LevelConfig) -> LevelScale:
    observed = np.where(data.missing, np.nan, data.values)
    model = local_level.fit_local_level(observed, train_rows)
    moments = model.predictive(observed)
    point = alarms.tail_surprise(data.values, moments.mean, moments.stddev)
    calibration = point[1:train_rows][~data.missing[1:train_rows]]
    threshold = alarms.calibrate_threshold(
        alarms.smooth(point, config.smoothing)[1:train_rows][~data.missing[1:train_rows]],
        config.false_alarm_rate, config.tail_fraction, config.smoothing)
    point_threshold = alarms.calibrate_threshold(calibration, config.false_alarm_rate,
                                                 config.tail_fraction, 1)
    z = (observed[:train_rows] - model.mean) / model.std
    level_prior, _, _ = local_level.kalman_filter(
        np.r_[z, np.nan], model.noise_scale, model.drift_scale)
    innovations = ((observed - moments.mean) / moments.stddev)[BURN_IN:train_rows]
    return LevelScale(model.mean, model.std, model.noise_scale, model.drift_scale,
                      float(threshold), float(point_threshold), int(train_rows),
                      float(level_prior[-1]), steady_variance(model.noise_scale,
                                                              model.drift_scale),
                      innovation_kurtosis=excess_kurtosis(innovations))


def excess_kurtosis(values) -> float:
    """Excess kurtosis of the finite values (0 for a Normal sample); NaN for fewer than
    `MIN_INNOVATIONS` of them or no spread.

    Example:
        >>> round(excess_kurtosis(np.random.default_rng(0).normal(size=100_000)), 1)
        0.0
        >>> excess_kurtosis([1.0, 2.0])
        nan
    """
    finite = np.asarray(values, np.float64)
    finite = finite[np.isfinite(finite)]
    if len(finite) < MIN_INNOVATIONS or not finite.std() > 0.0:
        return math.nan
    centred = finite - finite.mean()
    return float(np.mean(centred ** 4) / np.mean(centred ** 2) ** 2 - 3.0)


def fit_level_detector(values, config: LevelConfig = LevelConfig(),
                       splits: Mapping | None = None) -> LevelDetector:
    """Fits one local level model per series (module docstring).

    Args:
        values: one series (array or `Series`) or a mapping name -> series.
        config: the `LevelConfig`.
        splits: optional name -> (train rows, eval rows): the training part is both.
    """
    named = dict(values) if isinstance(values, Mapping) else {DEFAULT_SERIES: values}
    scales = {}
    for name, series in named.items():
        data = series if isinstance(series, Series) else from_arrays(np.asarray(series),
                                                                       name=name)
        if splits and name in splits:
            train_rows = int(sum(splits[name]))
        else:
            train_rows = int(math.floor(len(data) * config.train_fraction))
        try:
            scales[name] = _fit_one(data, train_rows, config)
        except ValueError as error:
            raise ValueError(f"Series {name!r} ({len(data)} rows, training part {train_rows}): "
                             f"{error} Raise the training share (train_fraction, --train-fraction) "
                             f"or give the series more rows.") from error
    return LevelDetector(config, scales)


def scoring_fn(detector: LevelDetector):
    """(past [None, window], point [None], series [None], observed [None]) -> six outputs."""
    import tensorflow as tf

    from cuttingedge.trainers.anomaly.export import (_series_index, series_constants,
                                                     tail_surprise_tf)

    names, columns = series_constants(detector.scales, (
        "mean", "std", "noise_scale", "drift_scale", "point_threshold", "level",
        "steady_variance"))

    def score(past, point, series, observed):
        index = _series_index(series, names)
        of = {field: tf.gather(values, index) for field, values in columns.items()}
        z = (past - of["mean"][:, None]) / of["std"][:, None]
        noise, drift = of["noise_scale"] ** 2, of["drift_scale"] ** 2
        level, variance = of["level"], of["steady_variance"]
        for step in tf.range(tf.shape(z)[1]):
            value = z[:, step]
            seen = tf.math.is_finite(value)
            gain = variance / (variance + noise)
            level = tf.where(seen, level + gain * (tf.where(seen, value, level) - level), level)
            variance = tf.where(seen, variance * (1.0 - gain), variance) + drift
        stddev = tf.sqrt(variance + noise)
        out = {"mean": level * of["std"] + of["mean"], "stddev": stddev * of["std"],
               "aleatoric_stddev": tf.sqrt(noise) * of["std"],
               "epistemic_stddev": tf.sqrt(variance) * of["std"]}
        clean = tf.where(tf.math.is_finite(point), point, out["mean"])
        surprise = tail_surprise_tf(clean, out["mean"], out["stddev"])
        alarm = tf.logical_and(surprise > of["point_threshold"],
                               tf.logical_and(observed, tf.math.is_finite(point)))
        return {**out, "score": surprise, "is_anomaly": alarm}

    return score


def export_level_detector(detector: LevelDetector, path, value_column: str = "value") -> str:
    """Writes the SavedModel (module docstring) to `path`; returns the path."""
    import tensorflow as tf

    from cuttingedge.trainers.anomaly.export import parse_sensor_examples, write_constants

    window = int(detector.config.window)
    score = scoring_fn(detector)

    class Served(tf.Module):
        @tf.function(input_signature=[
            tf.TensorSpec([None, window + 1], tf.float32, name="values"),
            tf.TensorSpec([None], tf.string, name="series")])
        def recent(self, values, series):
            return score(values[:, :window], values[:, -1], series,
                         tf.ones_like(series, tf.bool))

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
        def detect(self, examples):
            return score(*parse_sensor_examples(examples, value_column, window))

    module = Served()
    path = os.fspath(path)
    tf.saved_model.save(module, path, signatures={"serving_default": module.recent,
                                                  "detect": module.detect})
    write_constants(path, {"config": dataclasses.asdict(detector.config),
                           "series": {n: s.as_dict() for n, s in detector.scales.items()}})
    return path
