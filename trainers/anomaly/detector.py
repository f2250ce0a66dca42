"""Unsupervised anomaly detector: a ladder forecaster, a label-free threshold, alarms.

`fit_detector(values, config)` on one series (or a mapping name -> series, pooled):

1. Training part = the first `train_fraction` of each series (NAB's probationary 15%); its
   last `validation_fraction` is held out from fitting for calibration and early stopping.
2. Standardise each series with the mean and stddev of its training part. A constant part
   (stddev 0) gets the floor `scale_floor * max(1, |mean|)` instead: no division by zero,
   and any later change of a constant signal stands out.
3. Windows: point i is predicted from the `window` values that end `horizon` steps before
   it, left-padded with the first value when i < window (SensorExampleGen's
   `value_window`). With `window_standardise=True` (default) each window and its target
   are standardised by the window's own mean and stddev (stddev floored at
   `window_floor`), and the model predicts the target in those units: a forecast
   Normal(0, 1) is exactly the trailing-window z-score, and the model starts there
   (`nested=True`: the output layer is initialised to mean 0, scale 1), so training can
   only move it where the fitting data's likelihood says the z-score is wrong. Otherwise,
   with `relative=True` windows and targets are centred on the window's last value (a
   level the training part never saw is still a familiar input), with `relative=False`
   they are used as they are. `start` picks the forecast training starts from: "zscore"
   (default, as above), "walk" (centred windows, the model initialised to the random walk
   Normal(last value, stddev of the fitting part's one-step changes): smooth series, whose
   next value is close to the last, are forecast far better from there), or "best": both
   are fitted and the one with the lower held-out negative log-likelihood, in the series'
   own units, is kept (no label is read; `Detector.history["start_val_nll"]`).
   With `seasonal_window=True` (what `cuttingedge detect` does when no window is given),
   a training part that repeats with a period longer than `window` (`alarms.seasonal_lag`:
   a daily cycle of 10-minute values is 144 steps) widens the window to that period, when
   the training part holds at least three cycles and its fitting rows still hold three
   windows per value of the widened window (`widen_to_period`): a window shorter than the
   cycle cannot tell a missing evening peak from an ordinary evening, while one that holds
   it can, and the series then counts as periodic (step 6).
4. Fit the ladder step on the windows of full history (i >= window) of the fitting part,
   early-stopped on the held-out part's NLL.
5. Calibrate the threshold for `false_alarm_rate` per point (`alarms.calibrate_threshold`)
   on the scores of the held-out rows (`calibration="held_out"`, default: scores of points
   the model was not fitted on, so in-sample optimism does not lower the threshold), or of
   every point of the training part with a full window ("training", as the baselines
   do); `point_threshold` is the same for unsmoothed scores (the serving signature scores
   points one by one).
6. With `alarm_gate="zscore"` (the default) an alarm also needs the trailing z-score of the
   same point (the Normal of the mean and stddev of the `window` values the forecast reads)
   to exceed its own threshold, calibrated label-free on the training part like the z-score
   baseline's: a consensus of two detectors. The forecaster knows the series' short-term
   dynamics and is surprised by a value that breaks them; the z-score knows only the recent
   range and is surprised by a value outside it. A value that breaks the dynamics but stays
   within the range the series has just visited (a recurring spike, a level the series
   keeps switching between) then raises no alarm.
   A series whose training part repeats with a period that the window holds
   (`alarms.seasonal_lag`: a daily cycle of half-hourly values, say) is not gated unless
   `gate_periodic=True`: there the forecast has learned the cycle and its surprise is the
   evidence, while the trailing range spans the whole cycle and would veto every value that
   stays in it though out of season (a quiet holiday, a missing evening peak, a late day).
   With `ungate_gaussian=True`, nor is a series whose forecasts leave Gaussian errors on
   the held-out rows (excess kurtosis of y - mean at most `GAUSSIAN_RESIDUALS`, 1): the
   gate is there for series that jump in ways no forecast foresees, whose errors are
   heavy-tailed; where the forecast explains the series down to Gaussian noise, its
   surprise alone is evidence, and the range would veto a change of shape that stays
   inside it (a distorted beat, a changed rhythm). Off by default: on the benchmarks it is
   even (`benchmarks/README.md`, fresh_series.py).

`Detector.score(values)` returns, for every point: the predictive mean and stddev in the
series' units, its aleatoric and epistemic parts, the tail surprise `point_score`, the
smoothed `score`, and `is_anomaly`. The first `window + horizon - 1` points have no full
window: they get left-padded forecasts and scores but are `scored=False` and never alarm;
missing (filled) points never alarm either, as their value was not observed.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> values = np.sin(np.arange(600) / 8.0) + 0.05 * rng.normal(size=600)
    >>> values[500] += 2.0
    >>> config = DetectorConfig(window=16, train_fraction=0.5, epochs=5, hidden_units=(8,))
    >>> scored = fit_detector(values, config).score(values)
    >>> bool(scored.is_anomaly[500]), scored.mean.shape
    (True, (600,))
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import keras
import numpy as np
from scipy import stats

from cuttingedge.trainers import probabilistic as prob
from cuttingedge.trainers.probabilistic import mean_field
from cuttingedge.trainers.anomaly import alarms
from cuttingedge.trainers.anomaly.series import (Series, SeriesTooShortError, check_length,
                                                 from_arrays)

DEFAULT_SERIES = "series"
PREDICT_BATCH = 8192
CALIBRATIONS = ("training", "held_out")
ALARM_GATES = ("none", "zscore")
STARTS = ("zscore", "walk", "best")


@dataclasses.dataclass(frozen=True)
class DetectorConfig:
    """Settings of `fit_detector` (module docstring).

    Args:
        step: ladder step (`cuttingedge.trainers.probabilistic.LADDER`).
        window: past values per forecast.
        horizon: steps ahead: point i is forecast from the `window` values that end at
            i - horizon (1: the values just before it). A longer horizon cannot follow an
            anomaly as it unfolds, so it stays surprised for longer.
        hidden_units: hidden layer sizes of the MLP steps.
        train_fraction: share of each series used for training (NAB: 0.15).
        validation_fraction: share of the training part held out from fitting, for early
            stopping and (`calibration="held_out"`) calibration.
        false_alarm_rate: target alarms per normal point (before post-processing).
        epochs, batch_size, learning_rate, patience: the fit (early stopping on val NLL).
        samples: Monte Carlo passes of Bayesian steps.
        ensemble: ladder models fitted, each from its own seed (seed, seed + 1000, ...),
            and served as one that moment-matches their forecasts
            (`cuttingedge.trainers.probabilistic.ensemble`): alarms that depend less on
            one fit's luck, for `ensemble` times the fitting and scoring cost; 1: one model.
        smoothing: points averaged into the score (1 = the point's own surprise).
        refractory: points after an alarm in which no new alarm starts; at least
            `refractory_fraction` of the scored series' length (NAB sizes its windows as
            10% of a series over the number of windows).
        relative: centre windows and targets on the window's last value (when not
            `window_standardise`).
        window_standardise: standardise each window and its target by the window's own
            mean and stddev: the forecast is in trailing z-score units (module docstring).
        window_floor: floor of a window's stddev, in units of the training part's stddev.
        nested: start the MLP steps' output at Normal(0, 1), i.e. at the z-score (with
            `window_standardise`), or at the random walk (with `start="walk"`).
        start: the forecast the fit starts from (module docstring, step 3): "zscore" (the
            frame `window_standardise` and `relative` say), "walk" (centred windows, nested
            at the random walk; overrides `window_standardise`) or "best" (both fitted, the
            one with the lower held-out NLL kept).
        adaptive: after the training part, raise the threshold as the score tail seen so
            far demands (`alarms.adaptive_thresholds`); never lowers it.
        scale_floor: relative floor of the standardisation stddev (constant series).
        min_scale: floor of the predictive stddev, in standardised units.
        tail_fraction: share of the calibration scores that fits the threshold's tail.
        calibration: the scores the threshold is fitted on: "training", every scored point
            of the training part (fitting and held-out rows, as the baselines do), or
            "held_out", its held-out rows only.
        alarm_gate: "zscore" (default): an alarm also needs the trailing z-score over the
            same window to exceed its own label-free threshold (module docstring, step 6);
            "none": the forecast's surprise alone decides.
        gate_periodic: with the z-score gate, gate a series that repeats with a period the
            window holds too; by default such a series is not gated (module docstring,
            step 6, and `SeriesScale.period`).
        ungate_gaussian: with the z-score gate, do not gate a series whose forecasts leave
            Gaussian errors on the held-out rows (module docstring, step 6, and
            `SeriesScale.residual_kurtosis`); by default every series but a periodic one
            is gated.
        seasonal_window: widen `window` to hold the period of a training part that repeats
            with a period longer than it (`widen_to_period`; module docstring, step 3), so
            that the forecast sees the cycle and the series counts as periodic. Off here,
            where `window` is what was asked for; `cuttingedge detect` turns it on when it
            chooses the window itself.
        seed: seeds Keras, the ladder layers and the shuffling.
    """

    step: str = "bayesian_learned_scale"
    window: int = 100
    horizon: int = 1
    hidden_units: tuple[int, ...] = (32,)
    train_fraction: float = 0.15
    validation_fraction: float = 0.5
    false_alarm_rate: float = 1e-4
    epochs: int = 40
    batch_size: int = 64
    learning_rate: float = 3e-3
    patience: int = 5
    samples: int = 50
    ensemble: int = 1
    smoothing: int = 4
    refractory: int = 0
    refractory_fraction: float = 0.02
    relative: bool = True
    window_standardise: bool = True
    window_floor: float = 0.05
    nested: bool = True
    start: str = "zscore"
    adaptive: bool = True
    scale_floor: float = 1e-3
    min_scale: float = 1e-2
    tail_fraction: float = 0.1
    calibration: str = "held_out"
    alarm_gate: str = "zscore"
    gate_periodic: bool = False
    ungate_gaussian: bool = False
    seasonal_window: bool = False
    seed: int = 0

    def __post_init__(self):
        if self.calibration not in CALIBRATIONS:
            raise ValueError(f"Expected calibration in {list(CALIBRATIONS)}. Received: "
                             f"calibration={self.calibration!r}.")
        if self.start not in STARTS:
            raise ValueError(f"Expected start in {list(STARTS)}. Received: "
                             f"start={self.start!r}.")
        if self.start == "walk" and self.window_standardise:
            object.__setattr__(self, "window_standardise", False)
            object.__setattr__(self, "relative", True)
        if self.alarm_gate not in ALARM_GATES:
            raise ValueError(f"Expected alarm_gate in {list(ALARM_GATES)}. Received: "
                             f"alarm_gate={self.alarm_gate!r}.")
        for flag in ("gate_periodic", "ungate_gaussian", "seasonal_window"):
            if not isinstance(getattr(self, flag), (bool, np.bool_)):
                raise ValueError(f"Expected {flag} to be True or False. Received: "
                                 f"{flag}={getattr(self, flag)!r}.")
        object.__setattr__(self, "step", prob.ladder.parse_step(self.step).value)
        object.__setattr__(self, "hidden_units", tuple(self.hidden_units))
        check_settings(self, ("window", "horizon", "epochs", "batch_size", "samples",
                              "ensemble", "smoothing", "patience"),
                       ("learning_rate", "scale_floor", "min_scale", "window_floor"))


# Largest excess kurtosis of held-out forecast residuals that lifts the z-score gate: that of
# a Student-t with 10 degrees of freedom, the bound `model_choice` puts on innovations.
GAUSSIAN_RESIDUALS = 1.0
FRACTIONS = ("train_fraction", "validation_fraction", "false_alarm_rate", "tail_fraction")
MEMBER_SEED_STEP = 1000  # an ensemble's member i is fitted from seed + 1000 * i


def check_settings(config, positive_integers, positives, fractions=FRACTIONS) -> None:
    """ValueError naming the first absurd setting of a detector config.

    Checks `positive_integers` (>= 1), `positives` (> 0), the `fractions` (by default
    train_fraction, validation_fraction, false_alarm_rate and tail_fraction: in (0, 1)),
    refractory (an integer >= 0) and refractory_fraction (in [0, 1)).
    """
    for name in positive_integers:
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"Expected {name} to be a positive integer. Received: "
                             f"{name}={value!r}.")
    if isinstance(config.refractory, bool) or not isinstance(config.refractory, int) \
            or config.refractory < 0:
        raise ValueError(f"Expected refractory to be an integer >= 0 (points). Received: "
                         f"refractory={config.refractory!r}.")
    if not isinstance(config.refractory_fraction, (int, float)) \
            or not 0.0 <= config.refractory_fraction < 1.0:
        raise ValueError(f"Expected refractory_fraction in [0, 1). Received: "
                         f"refractory_fraction={config.refractory_fraction!r}.")
    for name in fractions:
        value = getattr(config, name)
        if not isinstance(value, (int, float)) or not 0.0 < value < 1.0:
            raise ValueError(f"Expected {name} in (0, 1). Received: {name}={value!r}.")
    for name in positives:
        if not isinstance(getattr(config, name), (int, float)) or getattr(config, name) <= 0:
            raise ValueError(f"Expected {name} > 0. Received: "
                             f"{name}={getattr(config, name)!r}.")


def span_of(config) -> int:
    """Past values one forecast needs: window + horizon - 1 (the record's window length)."""
    return int(config.window) + int(getattr(config, "horizon", 1)) - 1


@dataclasses.dataclass(frozen=True)
class SeriesScale:
    """Per-series constants of a fitted detector (standardisation and thresholds).

    `gate_threshold` and `gate_point_threshold` are the z-score gate's thresholds of its
    smoothed and point scores (NaN without a gate); `gate_floor` floors its stddev.
    `period` is the training part's period in steps when it lifts the gate (0: no period
    the window holds, or `gate_periodic`). `residual_kurtosis` is the excess kurtosis of
    the forecast's errors (y - mean) on the held-out rows; at most
    `GAUSSIAN_RESIDUALS` it lifts the gate when `ungate_gaussian`. `gate_lifted` is 1
    where either lifts it: the series is then not gated.
    """

    mean: float
    std: float
    threshold: float
    point_threshold: float
    train_rows: int
    validation_rows: int
    validation_alarm_rate: float
    gate_threshold: float = math.nan
    gate_point_threshold: float = math.nan
    gate_floor: float = math.nan
    period: int = 0
    residual_kurtosis: float = math.nan
    gate_lifted: int = 0

    def as_dict(self) -> dict:
        """JSON-ready fields: NaN (no gate) becomes None.

        Example:
            >>> SeriesScale(0.0, 1.0, 5.0, 6.0, 100, 50, 0.0).as_dict()["gate_floor"] is None
            True
        """
        return {field: None if isinstance(value, float) and math.isnan(value) else value
                for field, value in dataclasses.asdict(self).items()}


@dataclasses.dataclass(frozen=True)
class ScoredSeries:
    """Per-point output of `Detector.score`; arrays of one entry per input point.

    Attributes:
        mean, stddev: the predictive Normal, in the series' units.
        aleatoric, epistemic: the two parts of stddev (stddev**2 = a**2 + e**2).
        point_score: tail surprise -log(2 * Phi(-|y - mean| / stddev)) of the point alone.
        score: `point_score` averaged over the last `smoothing` points (what is thresholded).
        nll: -log N(y; mean, stddev).
        scored: False for the first window + horizon - 1 points (no full window).
        exceeds: score > threshold on scored, observed points (before post-processing).
        is_anomaly: `exceeds` after the refractory suppression.
        threshold: the calibrated threshold of `score`.
        bar: the threshold in force at each point (>= threshold when adaptive).
        gate_open: with a gate, True where the z-score gate lets an alarm through (its
            smoothed score above its own bar); None without one.
    """

    mean: np.ndarray
    stddev: np.ndarray
    aleatoric: np.ndarray
    epistemic: np.ndarray
    point_score: np.ndarray
    score: np.ndarray
    nll: np.ndarray
    scored: np.ndarray
    exceeds: np.ndarray
    is_anomaly: np.ndarray
    threshold: float
    bar: np.ndarray
    gate_open: np.ndarray | None = None


def _as_series(values, name: str) -> Series:
    return values if isinstance(values, Series) else from_arrays(np.asarray(values), name=name)


def split_sizes(rows: int, config: DetectorConfig) -> tuple[int, int]:
    """(fit rows, validation rows) of a series of `rows` points: the training part's split."""
    train = int(math.floor(rows * config.train_fraction))
    validation = max(1, int(round(train * config.validation_fraction)))
    return train - validation, validation


def minimum_rows(config: DetectorConfig) -> int:
    """Fewest rows whose training part fits at least one full window and validates on one.

    Example:
        >>> minimum_rows(DetectorConfig(window=32))  # training part of 65 rows: 33 fit + 32
        434
    """
    rows = span_of(config) + 1
    while True:
        fit, validation = split_sizes(rows, config)
        if fit > span_of(config) and validation >= 1:
            return rows
        rows += 1


SMALLEST_FITTED_WINDOW = 8
WINDOWS_PER_VALUE = 3  # fitting windows per window value that `widen_to_period` asks for


def fitting_window(rows: int, config: DetectorConfig,
                   smallest: int = SMALLEST_FITTED_WINDOW, windows_per_value: int = 0
                   ) -> int | None:
    """The largest window, at most `config.window`, that a series of `rows` rows can fit.

    With `windows_per_value` > 0, also one whose fitting rows hold at least that many
    windows per value of the window. None when not even `smallest` qualifies. `detect`
    uses it to shorten its default window on short series instead of refusing them.

    Example:
        >>> fitting_window(1340, DetectorConfig()), fitting_window(1243, DetectorConfig())
        (100, 92)
        >>> fitting_window(1243, DetectorConfig(), windows_per_value=1)  # 93 fitting rows
        46
        >>> fitting_window(100, DetectorConfig()) is None
        True
    """
    for window in range(int(config.window), int(smallest) - 1, -1):
        candidate = dataclasses.replace(config, window=window)
        if minimum_rows(candidate) <= rows and split_sizes(rows, candidate)[0] - \
                span_of(candidate) >= windows_per_value * window:
            return window
    return None


def widen_to_period(values, config: DetectorConfig,
                    splits: Mapping | None = None) -> DetectorConfig:
    """`config` with its window widened to hold the period of every series' training part.

    Each series' training part (its first `train_fraction`, or `splits`' fit + validation
    rows) is searched for a period (`alarms.seasonal_lag`, which needs three cycles) up to
    the longest window every series can afford: one whose fitting rows still hold
    `WINDOWS_PER_VALUE` (3) windows per value it has, so that the forecaster has far more
    examples than inputs. The window grows to the longest period found beyond
    it; without one, or with `seasonal_window=False`, `config` comes back unchanged. No
    label is read.

    Example:
        >>> t = np.arange(6000)
        >>> daily = np.sin(2 * np.pi * t / 144) + 0.1 * np.random.default_rng(0).normal(size=6000)
        >>> config = DetectorConfig(window=100, train_fraction=0.5, seasonal_window=True)
        >>> widen_to_period(daily, config).window
        144
        >>> widen_to_period(daily[:2000], config).window  # 1,000 to train on: too few
        100
    """
    if not config.seasonal_window:
        return config
    parts, capacity = [], None
    for name, item in _named(values).items():
        data = _as_series(item, name)
        fit, validation = _split_of(name, len(data), config, splits)
        parts.append(data.values[:fit + validation])
        longest = (fit - int(config.horizon) + 1) // (1 + WINDOWS_PER_VALUE)
        capacity = longest if capacity is None else min(capacity, longest)
    if capacity is None or capacity <= config.window:
        return config
    period = max(alarms.seasonal_lag(part, capacity) for part in parts)
    return dataclasses.replace(config, window=period) if period > config.window else config


def _named(values) -> Mapping:
    """name -> series of `values`: a mapping as it is, else one series under its name."""
    if isinstance(values, Mapping):
        return values
    return {values.name if isinstance(values, Series) else DEFAULT_SERIES: values}


def _split_of(name: str, rows: int, config: DetectorConfig,
              splits: Mapping | None) -> tuple[int, int]:
    """(fit rows, validation rows) of a series: from `splits` if given there, else the fractions."""
    return tuple(splits[name]) if splits and name in splits else split_sizes(rows, config)


def check_rows(rows: int, config: DetectorConfig, name: str = DEFAULT_SERIES) -> None:
    """Raises SeriesTooShortError naming the minimum length for this config."""
    check_length(rows, span_of(config))
    need = minimum_rows(config)
    if rows < need:
        fit, validation = split_sizes(rows, config)
        raise SeriesTooShortError(
            f"Series {name!r} has {rows} rows; with window={config.window}, horizon="
            f"{config.horizon} and train_fraction={config.train_fraction} at least {need} "
            f"rows are needed (the training part must hold window + horizon = "
            f"{span_of(config) + 1} rows to fit plus "
            f"held-out rows to calibrate; it holds {fit} + {validation}). Pass a longer "
            f"series, a larger train_fraction or a smaller window.")


def standardisation(values: np.ndarray, train_rows: int, floor: float) -> tuple[float, float]:
    """(mean, std) of the training part, std floored at floor * max(1, |mean|).

    Example:
        >>> standardisation(np.full(10, 5.0), 10, 1e-3)  # constant: std floor 5e-3
        (5.0, 0.005)
    """
    part = values[:train_rows]
    mean = float(np.mean(part))
    return mean, max(float(np.std(part)), floor * max(1.0, abs(mean)))


def windows_of(z: np.ndarray, window: int) -> np.ndarray:
    """Row i = z[i - window:i], left-padded with z[0]: [len(z), window] float32.

    Example:
        >>> windows_of(np.array([1.0, 2.0, 3.0]), 2).tolist()
        [[1.0, 1.0], [1.0, 1.0], [1.0, 2.0]]
    """
    padded = np.concatenate([np.full(window, z[0]), z])
    return np.lib.stride_tricks.sliding_window_view(padded, window)[:len(z)].astype(np.float32)


def window_frame(x: np.ndarray, config) -> tuple[np.ndarray, np.ndarray]:
    """(anchor, spread) of each window row of x: the model sees (x - anchor) / spread.

    `window_standardise`: the window's mean and stddev (floored at `window_floor`);
    else `relative`: the last value and 1; else 0 and 1.

    Example:
        >>> x = np.array([[0.0, 2.0], [1.0, 1.0]])
        >>> [a.tolist() for a in window_frame(x, DetectorConfig(window=2))]
        [[1.0, 1.0], [1.0, 0.05]]
    """
    x = np.asarray(x, np.float64)
    if getattr(config, "window_standardise", False):
        return x.mean(axis=1), np.maximum(x.std(axis=1), float(config.window_floor))
    anchor = x[:, -1] if config.relative else np.zeros(len(x))
    return anchor, np.ones(len(x))


def model_inputs(z: np.ndarray, config, horizon: int | None = None):
    """(x, y, anchor, spread): model inputs and targets, and the frame they are in.

    Row i of x holds (z[i - window - horizon + 1 : i - horizon + 1] - anchor) / spread
    (left-padded); y = (z - anchor) / spread (see `window_frame`).
    """
    horizon = config.horizon if horizon is None else horizon
    x = windows_of(z, config.window + horizon - 1)[:, :config.window]
    anchor, spread = window_frame(x, config)
    return ((x - anchor[:, None]) / spread[:, None]).astype(np.float32), \
        ((z - anchor) / spread).astype(np.float32), anchor, spread


@dataclasses.dataclass(frozen=True)
class Detector:
    """A fitted detector: the ladder model and each series' constants.

    Attributes:
        config: the `DetectorConfig`.
        model: the Keras forecaster, on standardised (and, if `relative`, centred) windows.
        scales: series name -> `SeriesScale`.
        history: the Keras fit history (loss, val_nll, ... per epoch).
    """

    config: DetectorConfig
    model: keras.Model
    scales: Mapping[str, SeriesScale]
    history: Mapping[str, list]

    def scale_of(self, series: str | None) -> SeriesScale:
        if series is None and len(self.scales) == 1:
            return next(iter(self.scales.values()))
        if series not in self.scales:
            raise KeyError(f"Unknown series {series!r}. This detector was fitted on "
                           f"{sorted(self.scales)}.")
        return self.scales[series]

    def add_series(self, values, name: str, train_rows: int) -> "Detector":
        """This detector, also calibrated for a series its model was not fitted on.

        The first `train_rows` rows of the new series standardise it and set its thresholds
        (and the z-score gate's), label-free, as `fit_detector` sets them on its held-out
        rows: all of them are held out, since the model never saw them. For machines of
        one kind: fit once on a long healthy recording, then calibrate each new run on its
        own first minutes (`benchmarks/skab_evaluation.py --reference`).

        Raises:
            SeriesTooShortError: `train_rows` holds no row with a full window, or the
                series is shorter than `train_rows`.
        """
        data = _as_series(values, name)
        span = span_of(self.config)
        if not span < train_rows <= len(data):
            raise SeriesTooShortError(
                f"Series {name!r} has {len(data)} rows and train_rows={train_rows}; the "
                f"calibration rows must be at most the series' length and more than window + "
                f"horizon - 1 = {span}. Pass more calibration rows or a smaller window.")
        mean, std = standardisation(data.values, train_rows, self.config.scale_floor)
        scale = SeriesScale(mean, std, math.inf, math.inf, train_rows, train_rows - span,
                            math.nan)
        provisional = dataclasses.replace(self, scales={**self.scales, name: scale})
        scale = _calibrate(provisional, data, name, scale, self.config)
        return dataclasses.replace(self, scales={**self.scales, name: scale})

    def forecast(self, values, series: str | None = None) -> prob.PredictiveSummary:
        """Predictive moments for every point of `values`, in the series' units."""
        scale = self.scale_of(series)
        filled = _as_series(values, series or DEFAULT_SERIES).values
        x, _, anchor, spread = model_inputs((filled - scale.mean) / scale.std, self.config)
        parts = [prob.predict_distribution(self.model, x[i:i + PREDICT_BATCH],
                                           self.config.samples)
                 for i in range(0, len(x), PREDICT_BATCH)]
        field = {f: np.concatenate([getattr(p, f) for p in parts]).astype(np.float64)
                 for f in ("mean", "stddev", "aleatoric_stddev", "epistemic_stddev")}
        return prob.PredictiveSummary(
            mean=(field["mean"] * spread + anchor) * scale.std + scale.mean,
            stddev=field["stddev"] * spread * scale.std,
            aleatoric_stddev=field["aleatoric_stddev"] * spread * scale.std,
            epistemic_stddev=field["epistemic_stddev"] * spread * scale.std)

    def score(self, values, series: str | None = None) -> ScoredSeries:
        """Scores every point of `values` (an array, NaN = missing, or a `Series`)."""
        scale = self.scale_of(series)
        data = _as_series(values, series or DEFAULT_SERIES)
        moments = self.forecast(data, series)
        start = scale.train_rows if self.config.adaptive else None
        gate = None
        if self.config.alarm_gate == "zscore" and not scale.gate_lifted:
            gate_score = alarms.smooth(gate_scores(data.values, self.config, scale),
                                       self.config.smoothing)
            gate = gate_score > _bar(gate_score, scale.gate_threshold, self.config, start)
        return _alarms(data, moments, scale.threshold, self.config, adaptive_start=start,
                       gate_open=gate)


def gate_scores(values: np.ndarray, config: DetectorConfig,
                scale: SeriesScale) -> np.ndarray:
    """Tail surprise of every point under the trailing z-score of the forecast's window."""
    mean, std = alarms.trailing_moments(values, config.window, scale.gate_floor,
                                        lag=config.horizon)
    return alarms.tail_surprise(values, mean, std)


def _point_scores(values: np.ndarray, moments: prob.PredictiveSummary):
    return alarms.tail_surprise(values, moments.mean, moments.stddev)


def _alarms(data: Series, moments, threshold: float, config, point=None,
            adaptive_start: int | None = None, gate_open=None) -> ScoredSeries:
    """Scores, thresholds and post-processes (config: window, smoothing, refractory).

    `gate_open`: optional boolean per point; points where it is False never alarm.
    """
    point = _point_scores(data.values, moments) if point is None else point
    score = alarms.smooth(point, config.smoothing)
    scored = np.arange(len(point)) >= span_of(config)
    bar = _bar(score, threshold, config, adaptive_start)
    exceeds = (score > bar) & scored & ~data.missing
    if gate_open is not None:
        exceeds &= gate_open
    return ScoredSeries(
        mean=moments.mean, stddev=moments.stddev, aleatoric=moments.aleatoric_stddev,
        epistemic=moments.epistemic_stddev, point_score=point, score=score,
        nll=alarms.normal_nll(data.values, moments.mean, moments.stddev), scored=scored,
        exceeds=exceeds, is_anomaly=alarms.suppress_repeats(
            exceeds, refractory_of(config, len(point)), getattr(config, "rearm", False)),
        threshold=float(threshold), bar=bar, gate_open=gate_open)


def _bar(score: np.ndarray, threshold: float, config,
         adaptive_start: int | None) -> np.ndarray:
    """The threshold in force at each point: fixed, or adaptive from `adaptive_start` on."""
    if adaptive_start is None:
        return np.full(len(score), float(threshold))
    return alarms.adaptive_thresholds(score, adaptive_start, threshold, config.false_alarm_rate,
                                      config.tail_fraction, config.smoothing)


def refractory_of(config, rows: int) -> int:
    """Points of refractory period for a series of `rows` points (see `DetectorConfig`)."""
    fraction = getattr(config, "refractory_fraction", 0.0)
    return max(int(config.refractory), int(round(fraction * rows)))


@dataclasses.dataclass(frozen=True)
class TrainingData:
    """Windows of every series, split into fitting and held-out parts, and the scales."""

    x_fit: np.ndarray
    y_fit: np.ndarray
    x_validation: np.ndarray
    y_validation: np.ndarray
    stats: Mapping[str, tuple[float, float, int, int]]  # name -> mean, std, fit, validation
    series: Mapping[str, Series]
    validation_log_spread: np.ndarray | None = None  # log of each held-out row's frame scale


def prepare(values, config: DetectorConfig, splits: Mapping | None = None) -> TrainingData:
    """Standardises and windows every series (module docstring, steps 1-3).

    Args:
        values: an array (NaN = missing), a `Series`, or a mapping name -> either.
        config: the `DetectorConfig`.
        splits: optional name -> (fit rows, validation rows), instead of the fractions
            (e.g. the train and eval splits of SensorExampleGen).

    Raises:
        SeriesTooShortError: a series too short for `config` (the message gives the minimum).
    """
    named = _named(values)
    if not named:
        raise ValueError("Expected at least one series to fit on. Received an empty mapping.")
    parts, stats, series = {"xf": [], "yf": [], "xv": [], "yv": [], "sv": []}, {}, {}
    for name, item in named.items():
        data = _as_series(item, name)
        fit, validation = _split_of(name, len(data), config, splits)
        if splits and name in splits:
            if fit <= span_of(config) or validation < 1:
                raise SeriesTooShortError(
                    f"Series {name!r} has {fit} points to fit and {validation} to calibrate "
                    f"on; at least window + horizon = {span_of(config) + 1} and 1 are "
                    f"needed. Give "
                    f"the train and eval splits more points or use a smaller window.")
        else:
            check_rows(len(data), config, name)
        mean, std = standardisation(data.values, fit + validation, config.scale_floor)
        x, y, _, spread = model_inputs((data.values - mean) / std, config)
        parts["xf"].append(x[span_of(config):fit])
        parts["yf"].append(y[span_of(config):fit])
        parts["xv"].append(x[fit:fit + validation])
        parts["yv"].append(y[fit:fit + validation])
        parts["sv"].append(np.log(spread[fit:fit + validation]))
        stats[name], series[name] = (mean, std, fit, validation), data
    joined = {key: np.concatenate(value) for key, value in parts.items()}
    return TrainingData(joined["xf"], joined["yf"], joined["xv"], joined["yv"], stats, series,
                        joined["sv"])


def held_out_nll(model: keras.Model, data: TrainingData, config: DetectorConfig) -> float:
    """Mean NLL of the held-out rows under the model's predictive Normal, in units of the
    series' training stddev (the frame's scale added back), comparable across `start`s."""
    moments = prob.predict_distribution(model, data.x_validation, config.samples)
    nll = alarms.normal_nll(data.y_validation, moments.mean, moments.stddev)
    nll = nll + data.validation_log_spread
    return float(np.mean(nll[np.isfinite(nll)])) if np.isfinite(nll).any() else math.inf


def build_forecaster(config: DetectorConfig, data: TrainingData, hyperparameters=None,
                     space: prob.SearchSpace | None = None):
    """The ladder model of `config` (or of tuned `hyperparameters`); a GP adapted to the data."""
    keras.utils.set_random_seed(config.seed)
    options = {"seed": config.seed, "min_scale": config.min_scale}
    if hyperparameters is not None:
        model = prob.build_hypermodel(hyperparameters, window=config.window,
                                      num_train_examples=len(data.x_fit),
                                      space=space or prob.SearchSpace(), **options)
    else:
        model = prob.build_model(config.step, config.window, config.hidden_units,
                                 config.learning_rate, len(data.x_fit), **options)
    for layer in model.layers:
        if isinstance(layer, prob.GaussianProcess):
            layer.adapt(data.x_fit, seed=config.seed)
    if config.window_standardise and config.nested:
        start_at_baseline(model)
    elif config.start == "walk" and config.nested:
        start_at_baseline(model, scale=walk_scale(data))
    return model


def walk_scale(data: TrainingData) -> float:
    """The random walk's stddev on centred targets: the RMS one-step change of the fit part."""
    y = data.y_fit[np.isfinite(data.y_fit)]
    return float(np.sqrt(np.mean(np.square(y)))) if len(y) else 1.0


def start_at_baseline(model: keras.Model, scale: float = 1.0) -> bool:
    """Sets the output layer of an MLP ladder model so that it predicts Normal(0, scale).

    On window-standardised inputs Normal(0, 1) is the trailing z-score; on windows centred
    on their last value, Normal(0, `walk_scale`) is the random walk; the fit starts there.
    The output kernel is zero and its bias (0, raw scale) for a learned scale; a fixed or
    homoskedastic scale is left as it is (the fixed scale 1 is the z-score's). Bayesian
    layers get the same posterior means. Returns False (and changes nothing) for a model
    without such a layer (the GP step).
    """
    heads = [layer for layer in model.layers if isinstance(layer, prob.NormalParams)]
    dense = [layer for layer in model.layers
             if isinstance(layer, (keras.layers.Dense, prob.DenseVariational))]
    if not heads or not dense:
        return False
    head, last = heads[0], dense[-1]
    bias = np.zeros(head.input_size, np.float32)
    if head.scale == "learned":
        bias[1] = float(mean_field.inverse_softplus_scale(max(scale, 2.0 * head.min_scale),
                                                          head.min_scale))
    if isinstance(last, prob.DenseVariational):
        last.kernel_loc.assign(np.zeros(last.kernel_loc.shape, np.float32))
        last.bias_loc.assign(bias)
    else:
        last.kernel.assign(np.zeros(last.kernel.shape, np.float32))
        last.bias.assign(bias)
    return True


def fit_forecaster(model: keras.Model, data: TrainingData, config: DetectorConfig) -> dict:
    """Fits `model` on the fitting windows, early-stopped on the held-out NLL; returns history."""
    stop = keras.callbacks.EarlyStopping(monitor="val_nll", mode="min", patience=config.patience,
                                         restore_best_weights=True)
    history = model.fit(data.x_fit, data.y_fit, batch_size=config.batch_size,
                        epochs=config.epochs, validation_data=(data.x_validation,
                                                               data.y_validation),
                        callbacks=[stop], shuffle=True, verbose=0)
    if any(getattr(layer, "scale", None) == "homoskedastic" for layer in model.layers):
        prob.calibrate_residual_scale(model, data.x_fit, data.y_fit)
    return {key: [float(v) for v in values] for key, values in history.history.items()}


def member_seeds(config: DetectorConfig) -> list[int]:
    """The seeds of the ensemble's members: seed, seed + 1000, ... (one: the seed)."""
    return [config.seed + MEMBER_SEED_STEP * index for index in range(config.ensemble)]


def fit_members(config: DetectorConfig, data: TrainingData,
                hyperparameters=None) -> tuple[keras.Model, dict]:
    """The fitted forecaster of `config`: one model, or an ensemble of `config.ensemble`.

    Returns the model and its fit history; an ensemble's is its first member's, with
    "member_best_val_nll" listing every member's best held-out NLL.
    """
    members, histories = [], []
    for seed in member_seeds(config):
        member_config = dataclasses.replace(config, seed=seed)
        members.append(build_forecaster(member_config, data, hyperparameters))
        histories.append(fit_forecaster(members[-1], data, member_config))
    if len(members) == 1:
        return members[0], histories[0]
    best = [min(history.get("val_nll", [math.nan])) for history in histories]
    return prob.ensemble_model(members), {**histories[0], "member_best_val_nll": best}


def _fit_frame(values, config: DetectorConfig, hyperparameters, splits):
    """(data, model, history) of one fit in config's frame."""
    data = prepare(values, config, splits)
    model, history = fit_members(config, data, hyperparameters)
    return data, model, history


def fit_detector(values, config: DetectorConfig = DetectorConfig(),
                 hyperparameters=None, splits: Mapping | None = None) -> Detector:
    """Fits a detector on the training part of one series, or of several pooled.

    Args:
        values: an array (NaN = missing), a `Series`, or a mapping name -> either; with a
            mapping one model is fitted on all series, each with its own standardisation
            and thresholds.
        config: the `DetectorConfig`.
        hyperparameters: optional `keras_tuner.HyperParameters` (see `search`), overriding
            config.step, hidden_units and learning_rate.
        splits: optional name -> (fit rows, validation rows) (see `prepare`).

    Returns:
        The fitted `Detector`. Its config holds the window fitted (`widen_to_period`).
        With `config.start="best"` its config is the start kept
        ("zscore" or "walk"), and its history says which ("start") and the held-out NLL
        of both ("start_val_nll").

    Raises:
        SeriesTooShortError: a series is too short for `config`.
    """
    config = widen_to_period(values, config, splits)
    if config.start == "best":
        fits, nll = {}, {}
        for start in ("zscore", "walk"):
            candidate = dataclasses.replace(config, start=start)
            fits[start] = (candidate, *_fit_frame(values, candidate, hyperparameters, splits))
            nll[start] = held_out_nll(fits[start][2], fits[start][1], candidate)
        chosen = min(nll, key=nll.get)
        config, data, model, history = fits[chosen]
        history = {**history, "start": chosen, "start_val_nll": nll}
    else:
        data, model, history = _fit_frame(values, config, hyperparameters, splits)
    scales = {}
    for name, (mean, std, fit, validation) in data.stats.items():
        scales[name] = SeriesScale(mean, std, math.inf, math.inf, fit + validation, validation,
                                   math.nan)
    detector = Detector(config, model, scales, history)
    for name, series in data.series.items():
        scales[name] = _calibrate(detector, series, name, scales[name], config)
    return Detector(config, model, scales, history)


def _calibrate(detector: Detector, series: Series, name: str, scale: SeriesScale,
               config: DetectorConfig) -> SeriesScale:
    """Thresholds from the training part's scores (`calibration`; smoothing context before)."""
    train = scale.train_rows
    head = from_arrays(series.raw[:train], name=name)
    moments = detector.forecast(head, name)
    point = _point_scores(head.values, moments)
    first = train - scale.validation_rows if config.calibration == "held_out" \
        else min(span_of(config), train - scale.validation_rows)
    held_out = slice(first, train)
    threshold, point_threshold = _thresholds(point, held_out, config)
    rate = float(np.mean(alarms.smooth(point, config.smoothing)[held_out] > threshold))
    scale = dataclasses.replace(scale, threshold=threshold, point_threshold=point_threshold,
                                validation_alarm_rate=rate)
    validation = slice(train - scale.validation_rows, train)
    kurtosis = residual_kurtosis(head.raw[validation], moments.mean[validation])
    scale = dataclasses.replace(scale, residual_kurtosis=kurtosis)
    if config.alarm_gate == "zscore":
        scale = _calibrate_gate(head.values, scale, config)
    return scale


def residual_kurtosis(values, mean) -> float:
    """Excess kurtosis of the forecast errors y - mean of the observed (finite) points.

    0 for Gaussian errors; large where the series jumps in ways its forecast cannot foresee
    (spikes, switches between levels). The errors are not divided by the predictive
    stddev, so a scale the model misjudges here and there does not fatten their tails. NaN
    with fewer than 4 observed points or constant errors.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> y = rng.normal(size=4000)
        >>> abs(residual_kurtosis(y, np.zeros(4000))) < 0.2
        True
        >>> y[::50] += 20.0  # a spike every 50 points
        >>> residual_kurtosis(y, np.zeros(4000)) > 10
        True
    """
    residual = np.asarray(values, np.float64) - np.asarray(mean, np.float64)
    residual = residual[np.isfinite(residual)]
    if len(residual) < 4 or not np.ptp(residual) > 0:
        return math.nan
    return float(stats.kurtosis(residual))


def _calibrate_gate(values: np.ndarray, scale: SeriesScale,
                    config: DetectorConfig) -> SeriesScale:
    """The z-score gate's thresholds, on every full-window point of the training part.

    Like the z-score baseline: the z-score has nothing to fit, so all of the training
    part calibrates it. Its stddev floor is `scale_floor` * max(1, |training mean|).
    """
    scale = dataclasses.replace(scale, gate_floor=config.scale_floor * max(1.0,
                                                                            abs(scale.mean)))
    calibration = slice(min(span_of(config), len(values) - 1), len(values))
    threshold, point_threshold = _thresholds(gate_scores(values, config, scale), calibration,
                                             config)
    period = 0 if config.gate_periodic else alarms.seasonal_lag(values, span_of(config))
    gaussian = config.ungate_gaussian and scale.residual_kurtosis <= GAUSSIAN_RESIDUALS
    return dataclasses.replace(scale, gate_threshold=threshold,
                               gate_point_threshold=point_threshold, period=period,
                               gate_lifted=int(bool(period) or gaussian))


def _thresholds(point: np.ndarray, rows: slice, config: DetectorConfig) -> tuple[float, float]:
    """Label-free thresholds of the smoothed and of the point scores, fitted on `rows`.

    The scores are smoothed over the whole array first, so `rows` keep their context.
    """
    smoothed = alarms.smooth(point, config.smoothing)[rows]
    return (alarms.calibrate_threshold(smoothed, config.false_alarm_rate, config.tail_fraction,
                                       config.smoothing),
            alarms.calibrate_threshold(point[rows], config.false_alarm_rate,
                                       config.tail_fraction, 1))
