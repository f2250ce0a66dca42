"""Joint anomaly detector for a machine with several sensors: one forecast of all of them.

A detector per sensor, alarming where any sensor alarms, pays every sensor's false alarms and
misses what only the sensors together show (pressure up while flow is down, each within its
recent range). `fit_joint_detector(values, config)` on an array [rows, sensors]:

1. Training part = the first `train_fraction` rows; its last `validation_fraction` is held
   out from fitting, for early stopping and calibration.
2. Each sensor is standardised by its training part's mean and stddev (floored as in
   `detector.standardisation`); then each window and its target by the window's own
   per-sensor mean and stddev (floored at `window_floor`), as `detector.model_inputs` does
   for one series.
3. The model (Keras 3 on `tfp.distributions`) reads the window of every sensor and returns a
   `MultivariateNormalTriL` over the next value of every sensor: means, scales and their
   correlations. Its output layer starts at N(0, I), the joint trailing z-score (each
   sensor's trailing z-score, independent), and the fit (negative log-likelihood, early
   stopped on the held-out rows) moves it only where the data say the z-score is wrong.
4. Score: the joint tail surprise -log P(chi2_d >= m^2), m^2 the squared Mahalanobis
   distance of the observed values under the predictive distribution (d sensors). For a
   calibrated model it is Exp(1) on normal points, like the univariate tail surprise, so
   `alarms` smooths it, sets its label-free threshold, adapts it and applies the refractory
   period exactly as for one series.
5. `alarm_gate="none"` (default): the joint surprise alone decides. `"zscore"` also needs the
   joint trailing z-score (the same score under N(0, I)) above its own threshold, calibrated
   on the training part, as the single-series detector's default gate does; but a gate on
   the recent range would silence exactly the alarms that only the sensors together raise.

`joint_zscore(values, config)` is that joint trailing z-score alone, scored and thresholded
the same way: the baseline that differs from the detector only in its predictive distribution.

Where a fault drives a few sensors far out, per-sensor thresholds do better: the
chi-squared score adds the quiet sensors' noise, and one threshold follows the heaviest-tailed
sensor (on SKAB's pump runs this finds 9 of 29 faults against 19 for per-sensor detectors,
`benchmarks/skab_evaluation.py --joint`). This detector is for sensors that move together and
fail by parting.

Values must be finite: fill or drop gaps first (`ValueError` names the first bad row and
sensor); nothing is dropped here.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> walk = np.cumsum(rng.normal(size=1200))
    >>> values = np.stack([walk, walk + 0.1 * rng.normal(size=1200)], axis=1)
    >>> values[1000, 1] += 3.0  # sensor 1 leaves sensor 0, both within their recent range
    >>> config = JointConfig(window=16, train_fraction=0.5, epochs=20)
    >>> scored = fit_joint_detector(values, config).score(values)
    >>> bool(scored.is_anomaly[1000]), scored.mean.shape
    (True, (1200, 2))
"""

from __future__ import annotations

import dataclasses
import math

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from scipy import special, stats

from cuttingedge.trainers.anomaly import alarms
from cuttingedge.trainers.anomaly.detector import check_settings
from cuttingedge.trainers.anomaly.series import SeriesTooShortError

tfd = tfp.distributions
ALARM_GATES = ("zscore", "none")


@dataclasses.dataclass(frozen=True)
class JointConfig:
    """Settings of `fit_joint_detector` (module docstring); alarm settings as `DetectorConfig`.

    Args:
        window: past rows per forecast.
        hidden_units: hidden layer sizes of the forecaster.
        train_fraction: share of the rows used for training.
        validation_fraction: share of the training part held out from fitting.
        false_alarm_rate: target alarms per normal point (before post-processing).
        epochs, batch_size, learning_rate, patience: the fit (early stopping on held-out NLL).
        smoothing: points averaged into the score (1 = the point's own surprise).
        refractory, refractory_fraction: points after an alarm in which no new one starts
            (the larger of `refractory` and `refractory_fraction` of the rows).
        window_floor: floor of a window's stddev, in units of the training part's stddev.
        scale_floor: relative floor of the training part's stddev (constant sensors).
        min_scale: added to the diagonal of the predictive scale, in standardised units.
        tail_fraction: share of the calibration scores that fits the threshold's tail.
        adaptive: after the training part, raise the threshold as the score tail demands.
        alarm_gate: "none" or "zscore" (module docstring, step 5).
        seed: seeds Keras and the shuffling.
    """

    window: int = 50
    hidden_units: tuple[int, ...] = (32,)
    train_fraction: float = 0.15
    validation_fraction: float = 0.5
    false_alarm_rate: float = 1e-4
    epochs: int = 40
    batch_size: int = 64
    learning_rate: float = 3e-3
    patience: int = 5
    smoothing: int = 4
    refractory: int = 0
    refractory_fraction: float = 0.02
    window_floor: float = 0.05
    scale_floor: float = 1e-3
    min_scale: float = 1e-2
    tail_fraction: float = 0.1
    adaptive: bool = True
    alarm_gate: str = "none"
    seed: int = 0

    def __post_init__(self):
        object.__setattr__(self, "hidden_units", tuple(self.hidden_units))
        check_settings(self, ("window", "epochs", "batch_size", "patience", "smoothing"),
                       ("learning_rate", "window_floor", "scale_floor", "min_scale"))
        for i, units in enumerate(self.hidden_units):
            if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
                raise ValueError(f"Expected hidden_units[{i}] to be a positive integer. "
                                 f"Received: hidden_units={self.hidden_units!r}.")
        if self.alarm_gate not in ALARM_GATES:
            raise ValueError(f"Expected alarm_gate in {list(ALARM_GATES)}. Received: "
                             f"alarm_gate={self.alarm_gate!r}.")


def check_values(values, config: JointConfig) -> np.ndarray:
    """`values` as float64 [rows, sensors]; a clear error for NaN, a wrong shape, too few rows.

    Example:
        >>> check_values([[1.0, float("nan")]], JointConfig())
        Traceback (most recent call last):
        ...
        ValueError: Expected finite values. Received: row 0, sensor 1 is nan. Fill or drop \
gaps before joint scoring (every row must have every sensor).
    """
    array = np.asarray(values, np.float64)
    if array.ndim != 2 or array.shape[1] < 1:
        raise ValueError(f"Expected values of shape [rows, sensors]. Received: shape "
                         f"{array.shape}.")
    bad = np.argwhere(~np.isfinite(array))
    if len(bad):
        row, sensor = (int(i) for i in bad[0])
        raise ValueError(f"Expected finite values. Received: row {row}, sensor {sensor} is "
                         f"{array[row, sensor]}. Fill or drop gaps before joint scoring "
                         f"(every row must have every sensor).")
    if _splits(len(array), config)[1] <= config.window:
        need = next(rows for rows in range(config.window + 2, 10 ** 9)
                    if _splits(rows, config)[1] > config.window)
        raise SeriesTooShortError(
            f"Expected at least {need} rows with window={config.window} and train_fraction="
            f"{config.train_fraction} (the training part must fit window + 1 rows and keep "
            f"held-out rows). Received: {len(array)} rows. Pass more rows, a larger "
            f"train_fraction or a smaller window.")
    return array


def _splits(rows: int, config: JointConfig) -> tuple[int, int]:
    """(training rows, fitting rows): the training part minus its held-out rows is fitted."""
    train = int(math.floor(rows * config.train_fraction))
    return train, train - max(1, int(round(train * config.validation_fraction)))


def window_inputs(z: np.ndarray, window: int, floor: float):
    """(x [rows, window, sensors], y [rows, sensors], anchor, spread), window-standardised.

    Row i of x holds z[i - window:i] (left-padded with z[0]) minus its per-sensor mean,
    over its per-sensor stddev (floored); y = (z[i] - anchor) / spread in the same frame.

    Example:
        >>> x, y, anchor, spread = window_inputs(np.array([[0.0], [2.0], [4.0]]), 2, 0.1)
        >>> x[2].ravel().tolist(), y.ravel().tolist()
        ([-1.0, 1.0], [0.0, 20.0, 3.0])
    """
    z = np.asarray(z, np.float64)
    padded = np.concatenate([np.repeat(z[:1], window, axis=0), z])
    x = np.lib.stride_tricks.sliding_window_view(padded, window, axis=0)[:len(z)]
    x = np.swapaxes(x, 1, 2)  # [rows, window, sensors]
    anchor = x.mean(axis=1)
    spread = np.maximum(x.std(axis=1), floor)
    return ((x - anchor[:, None]) / spread[:, None]).astype(np.float32), \
        ((z - anchor) / spread).astype(np.float32), anchor, spread


def param_size(sensors: int) -> int:
    """Outputs of the forecaster: d means and the d(d+1)/2 entries of the scale's tril."""
    return sensors + sensors * (sensors + 1) // 2


def to_distribution(params, sensors: int, min_scale: float) -> tfd.MultivariateNormalTriL:
    """The predictive distribution of raw outputs [..., param_size(sensors)]."""
    params = tf.convert_to_tensor(params, tf.float32)
    scale = tfp.bijectors.FillScaleTriL(diag_shift=min_scale)(params[..., sensors:])
    return tfd.MultivariateNormalTriL(loc=params[..., :sensors], scale_tril=scale)


@keras.saving.register_keras_serializable(package="cuttingedge")
class JointNLL(keras.losses.Loss):
    """Negative log-likelihood of the targets under `to_distribution(y_pred)`."""

    def __init__(self, sensors: int, min_scale: float, name: str = "joint_nll", **kwargs):
        super().__init__(name=name, **kwargs)
        self.sensors, self.min_scale = int(sensors), float(min_scale)

    def call(self, y_true, y_pred):
        return -to_distribution(y_pred, self.sensors, self.min_scale).log_prob(
            tf.cast(y_true, tf.float32))

    def get_config(self):
        return {"sensors": self.sensors, "min_scale": self.min_scale, "name": self.name}


def build_forecaster(sensors: int, config: JointConfig) -> keras.Model:
    """MLP from a window [window, sensors] to raw `MultivariateNormalTriL` parameters.

    The output layer starts at N(0, I): zero kernel, zero means and the raw tril whose
    scale is the identity, so the fit starts from the joint trailing z-score.
    """
    keras.utils.set_random_seed(config.seed)
    identity = tfp.bijectors.FillScaleTriL(diag_shift=config.min_scale).inverse(
        tf.eye(sensors)).numpy()
    start = np.concatenate([np.zeros(sensors, np.float32), identity.astype(np.float32)])
    inputs = keras.Input((config.window, sensors), name="window")
    hidden = keras.layers.Flatten()(inputs)
    for units in config.hidden_units:
        hidden = keras.layers.Dense(units, activation="relu")(hidden)
    outputs = keras.layers.Dense(param_size(sensors), kernel_initializer="zeros",
                                 bias_initializer=keras.initializers.Constant(start),
                                 name="mvn_params")(hidden)
    model = keras.Model(inputs, outputs, name="joint_forecaster")
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate),
                  loss=JointNLL(sensors, config.min_scale))
    return model


def joint_surprise(m2, sensors: int) -> np.ndarray:
    """-log P(chi2_sensors >= m2): the tail surprise of a squared Mahalanobis distance.

    Example:
        >>> round(float(joint_surprise(np.array([1.96 ** 2]), 1)[0]), 3)  # -log(0.05)
        2.996
        >>> bool(np.isfinite(joint_surprise(np.array([1e5]), 8)[0]))  # beyond float64's sf
        True
    """
    m2 = np.asarray(m2, np.float64)
    log_tail = stats.chi2.logsf(m2, sensors)
    far = ~np.isfinite(log_tail) & (m2 > 0)
    if far.any():  # sf underflows; log Q(a, x) ~ (a-1) log x - x - lgamma(a) + log(1 + (a-1)/x)
        a, x = sensors / 2.0, m2[far] / 2.0
        log_tail[far] = (a - 1) * np.log(x) - x - special.gammaln(a) + np.log1p((a - 1) / x)
    return np.maximum(-log_tail, 0.0)


@dataclasses.dataclass(frozen=True)
class JointScored:
    """Per-point output of `JointDetector.score` and `joint_zscore` (one row per input row).

    Attributes:
        mean, stddev: [rows, sensors] predictive means and marginal stddevs, sensor units.
        sensor_score: [rows, sensors] each sensor's own marginal tail surprise (which
            sensors a joint alarm comes from).
        point_score: the joint tail surprise of the row alone.
        score: `point_score` averaged over the last `smoothing` rows (what is thresholded).
        scored: False for the first `window` rows (no full window).
        exceeds: score above the bar on scored rows (and through the gate, with one).
        is_anomaly: `exceeds` after the refractory suppression.
        threshold: the calibrated threshold of `score`; bar: the one in force per row.
        gate_open: with a gate, True where the joint z-score lets an alarm through.
    """

    mean: np.ndarray
    stddev: np.ndarray
    sensor_score: np.ndarray
    point_score: np.ndarray
    score: np.ndarray
    scored: np.ndarray
    exceeds: np.ndarray
    is_anomaly: np.ndarray
    threshold: float
    bar: np.ndarray
    gate_open: np.ndarray | None = None


@dataclasses.dataclass(frozen=True)
class _Moments:
    """Predictive moments in window-standardised units, and the frame back to sensor units."""

    loc: np.ndarray
    scale_tril: np.ndarray
    y: np.ndarray
    anchor: np.ndarray
    spread: np.ndarray

    def mahalanobis2(self) -> np.ndarray:
        residual = (self.y - self.loc)[..., None].astype(np.float64)
        solved = np.linalg.solve(self.scale_tril.astype(np.float64), residual)[..., 0]
        return np.sum(solved ** 2, axis=-1)

    def marginal_stddev(self) -> np.ndarray:
        return np.sqrt(np.sum(self.scale_tril.astype(np.float64) ** 2, axis=-1))


def _zscore_moments(z: np.ndarray, config: JointConfig) -> _Moments:
    _, y, anchor, spread = window_inputs(z, config.window, config.window_floor)
    rows, sensors = y.shape
    return _Moments(np.zeros_like(y), np.broadcast_to(np.eye(sensors, dtype=np.float32),
                                                      (rows, sensors, sensors)),
                    y, anchor, spread)


def _standardisation(values: np.ndarray, train: int, floor: float):
    part = values[:train]
    mean = part.mean(axis=0)
    return mean, np.maximum(part.std(axis=0), floor * np.maximum(1.0, np.abs(mean)))


def _alarms(moments: _Moments, threshold: float, config: JointConfig, train: int,
            mean, std, gate_open=None) -> JointScored:
    sensors = moments.y.shape[1]
    point = joint_surprise(moments.mahalanobis2(), sensors)
    score = alarms.smooth(point, config.smoothing)
    scored = np.arange(len(point)) >= config.window
    bar = _bar(score, threshold, config, train)
    exceeds = (score > bar) & scored
    if gate_open is not None:
        exceeds &= gate_open
    stddev = moments.marginal_stddev()
    refractory = max(int(config.refractory), int(round(config.refractory_fraction * len(point))))
    return JointScored(
        mean=(moments.anchor + moments.loc * moments.spread) * std + mean,
        stddev=stddev * moments.spread * std,
        sensor_score=alarms.tail_surprise(moments.y, moments.loc, stddev),
        point_score=point, score=score, scored=scored, exceeds=exceeds,
        is_anomaly=alarms.suppress_repeats(exceeds, refractory), threshold=float(threshold),
        bar=bar, gate_open=gate_open)


def _bar(score, threshold: float, config: JointConfig, train: int) -> np.ndarray:
    if not config.adaptive:
        return np.full(len(score), float(threshold))
    return alarms.adaptive_thresholds(score, train, threshold, config.false_alarm_rate,
                                      config.tail_fraction, config.smoothing)


def _threshold(point: np.ndarray, rows: slice, config: JointConfig) -> float:
    return alarms.calibrate_threshold(alarms.smooth(point, config.smoothing)[rows],
                                      config.false_alarm_rate, config.tail_fraction,
                                      config.smoothing)


def joint_zscore(values, config: JointConfig = JointConfig()) -> JointScored:
    """The joint trailing z-score baseline (module docstring), calibrated on the training part."""
    values = check_values(values, config)
    train, _ = _splits(len(values), config)
    mean, std = _standardisation(values, train, config.scale_floor)
    moments = _zscore_moments((values - mean) / std, config)
    point = joint_surprise(moments.mahalanobis2(), values.shape[1])
    threshold = _threshold(point[:train], slice(config.window, train), config)
    return _alarms(moments, threshold, config, train, mean, std)


@dataclasses.dataclass(frozen=True)
class JointDetector:
    """A fitted joint detector: the forecaster, the standardisation and the thresholds."""

    model: keras.Model
    config: JointConfig
    mean: np.ndarray
    std: np.ndarray
    train_rows: int
    threshold: float
    gate_threshold: float
    history: dict

    @property
    def sensors(self) -> int:
        return len(self.mean)

    def check(self, values) -> np.ndarray:
        """`check_values`, and the sensor count of training."""
        values = check_values(values, self.config)
        if values.shape[1] != self.sensors:
            raise ValueError(f"Expected {self.sensors} sensors, as in training. Received: "
                             f"{values.shape[1]}.")
        return values

    def _moments(self, values: np.ndarray) -> _Moments:
        """Predictive moments of checked `values` [rows, sensors]."""
        z = (values - self.mean) / self.std
        x, y, anchor, spread = window_inputs(z, self.config.window, self.config.window_floor)
        params = self.model.predict(x, batch_size=1024, verbose=0)
        dist = to_distribution(params, self.sensors, self.config.min_scale)
        return _Moments(dist.loc.numpy(), dist.scale_tril.numpy(), y, anchor, spread)

    def score(self, values) -> JointScored:
        """Scores every row of `values` [rows, sensors] (module docstring, steps 4-5)."""
        values = self.check(values)
        gate = None
        if self.config.alarm_gate == "zscore":
            z = (values - self.mean) / self.std
            zscore = _zscore_moments(z, self.config)
            smoothed = alarms.smooth(joint_surprise(zscore.mahalanobis2(), self.sensors),
                                     self.config.smoothing)
            gate = smoothed > _bar(smoothed, self.gate_threshold, self.config, self.train_rows)
        return _alarms(self._moments(values), self.threshold, self.config, self.train_rows,
                       self.mean, self.std, gate)


def fit_joint_detector(values, config: JointConfig = JointConfig()) -> JointDetector:
    """Fits the forecaster on the training part and calibrates (module docstring, steps 1-5)."""
    values = check_values(values, config)
    train, fit = _splits(len(values), config)
    mean, std = _standardisation(values, train, config.scale_floor)
    x, y, _, _ = window_inputs((values[:train] - mean) / std, config.window,
                               config.window_floor)
    model = build_forecaster(values.shape[1], config)
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience,
                                         restore_best_weights=True)
    history = model.fit(x[config.window:fit], y[config.window:fit],
                        validation_data=(x[fit:train], y[fit:train]),
                        batch_size=config.batch_size, epochs=config.epochs, shuffle=True,
                        callbacks=[stop], verbose=0).history
    detector = JointDetector(model, config, mean, std, train, math.nan, math.nan, history)
    point = joint_surprise(detector._moments(values[:train]).mahalanobis2(), values.shape[1])
    threshold = _threshold(point, slice(fit, train), config)
    gate = math.nan
    if config.alarm_gate == "zscore":
        zscore = _zscore_moments((values[:train] - mean) / std, config)
        gate = _threshold(joint_surprise(zscore.mahalanobis2(), values.shape[1]),
                          slice(config.window, train), config)
    return dataclasses.replace(detector, threshold=threshold, gate_threshold=gate)
