"""Export of a fitted detector as a SavedModel with two signatures.

    serving_default(values float32 [None, window + horizon], series string [None])
        A row of recent raw values of one series, oldest first: the first `window` values
        forecast the last one, which is scored. `series` names the series whose constants
        and threshold apply (ignored when the detector knows only one series). Returns
        [None] "mean", "stddev", "aleatoric_stddev", "epistemic_stddev" (the predictive
        distribution of the last value, in the series' units), "score" (its tail surprise,
        see `alarms`) and "is_anomaly" (score > the series' point threshold, and with a
        z-score gate the window's z-score surprise > the gate's point threshold unless
        the series' gate is lifted (a period, or Gaussian forecast residuals: `detector`,
        step 6); never when a value in the row is NaN or infinite).
    detect(examples string [None])
        Serialised tf.Examples as SensorExampleGen writes them with window = window +
        horizon - 1 (features `series`, `<col>_window`, `<col>`, optional `<col>_missing`
        and `history`); the forecast reads the oldest `window` values. Returns the same six
        outputs; "is_anomaly" is never set for missing values or for records with history
        < window + horizon - 1.

The per-series constants and thresholds are baked into the graph; an unknown series fails
with InvalidArgument naming it, unless the detector has only one series.
`assets.extra/detector.json` holds the constants for reference. Smoothing and the
refractory period need the series' past alarms: they are applied by `Detector.score` over a
whole series, not per request.

Example:
    >>> import numpy as np, tempfile, tensorflow as tf
    >>> from cuttingedge.trainers.anomaly.detector import DetectorConfig, fit_detector
    >>> values = np.sin(np.arange(400) / 5.0)
    >>> detector = fit_detector(values, DetectorConfig(window=8, train_fraction=0.5, epochs=2))
    >>> path = export_detector(detector, tempfile.mkdtemp())
    >>> serve = tf.saved_model.load(path).signatures["serving_default"]
    >>> out = serve(values=tf.constant([np.sin(np.arange(9) / 5.0)], tf.float32),
    ...             series=tf.constant([""]))
    >>> sorted(out)
    ['aleatoric_stddev', 'epistemic_stddev', 'is_anomaly', 'mean', 'score', 'stddev']
"""

from __future__ import annotations

import dataclasses
import json
import os

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from cuttingedge.trainers import probabilistic as prob
from cuttingedge.trainers.anomaly.detector import Detector, span_of

DETECT_SIGNATURE = "detect"
CONSTANTS_FILE = "detector.json"
OUTPUTS = ("mean", "stddev", "aleatoric_stddev", "epistemic_stddev")


def tail_surprise_tf(y, mean, stddev):
    """-log(2 * Phi(-|y - mean| / stddev)) in TensorFlow (see `alarms.tail_surprise`)."""
    u = tf.abs(y - mean) / stddev
    log_tail = tfp.distributions.Normal(0.0, 1.0).log_cdf(-u)
    return tf.maximum(-(tf.math.log(2.0) + log_tail), 0.0)


def _framed(windows, config):
    """(framed windows, anchor, spread): `detector.window_frame` in TensorFlow."""
    if getattr(config, "window_standardise", False):
        anchor = tf.reduce_mean(windows, axis=1)
        spread = tf.maximum(tf.math.reduce_std(windows, axis=1), float(config.window_floor))
    else:
        anchor = windows[:, -1] if config.relative else tf.zeros_like(windows[:, 0])
        spread = tf.ones_like(anchor)
    return (windows - anchor[:, None]) / spread[:, None], anchor, spread


def standardised_fn(detector: Detector, samples: int):
    """The forecaster on standardised windows -> standardised moments."""
    forecast = prob.moments_fn(detector.model, samples)

    def serve(windows):
        framed, anchor, spread = _framed(windows, detector.config)
        moments = forecast(framed)
        return {**{k: moments[k] * spread for k in OUTPUTS[1:]},
                "mean": moments["mean"] * spread + anchor}

    return serve


def series_constants(scales, fields) -> tuple[list[str], dict[str, np.ndarray]]:
    """(sorted series names, field -> float32 array over them) of per-series scales."""
    names = sorted(scales)
    return names, {field: np.array([getattr(scales[n], field) for n in names], np.float32)
                   for field in fields}


def parse_sensor_examples(examples, value_column: str, span: int):
    """(window [None, span], value [None], series [None], observed [None]) of serialised
    SensorExampleGen tf.Examples; observed: the value is not missing and its history holds
    a full window."""
    spec = {"series": tf.io.FixedLenFeature([], tf.string, default_value=""),
            f"{value_column}_window": tf.io.FixedLenFeature([span], tf.float32),
            value_column: tf.io.FixedLenFeature([], tf.float32),
            f"{value_column}_missing": tf.io.FixedLenFeature([], tf.int64, default_value=0),
            "history": tf.io.FixedLenFeature([], tf.int64, default_value=span)}
    features = tf.io.parse_example(examples, spec)
    observed = tf.logical_and(features[f"{value_column}_missing"] == 0,
                              features["history"] >= span)
    return (features[f"{value_column}_window"], features[value_column], features["series"],
            observed)


def write_constants(path: str, constants: dict) -> None:
    """Writes `constants` to `assets.extra/detector.json` of the SavedModel at `path`."""
    extra = os.path.join(path, "assets.extra")
    os.makedirs(extra, exist_ok=True)
    with open(os.path.join(extra, CONSTANTS_FILE), "w") as handle:
        json.dump(constants, handle, indent=1, default=float)


def scoring_fn(detector: Detector, samples: int):
    """(past [None, window], point [None], series [None], observed [None]) -> the six outputs.

    The core both signatures share: the series' constants, the forecast in the series'
    units, the point's score and its alarm (only where `observed`).
    """
    names, columns = series_constants(detector.scales, (
        "mean", "std", "point_threshold", "gate_point_threshold", "gate_floor", "gate_lifted"))
    serve = standardised_fn(detector, samples)
    gated = detector.config.alarm_gate == "zscore"

    def score(past, point, series, observed):
        index = _series_index(series, names)
        of = {field: tf.gather(column, index) for field, column in columns.items()}
        moments = serve((past - of["mean"][:, None]) / of["std"][:, None])
        out = {"mean": moments["mean"] * of["std"] + of["mean"],
               **{k: moments[k] * of["std"] for k in OUTPUTS[1:]}}
        surprise = tail_surprise_tf(point, out["mean"], out["stddev"])
        alarm = tf.logical_and(surprise > of["point_threshold"], observed)
        if gated:  # the trailing z-score over the same window must agree (detector, step 6)
            spread = tf.maximum(tf.math.reduce_std(past, axis=1), of["gate_floor"])
            gate = tail_surprise_tf(point, tf.reduce_mean(past, axis=1), spread)
            gate = tf.logical_or(gate > of["gate_point_threshold"], of["gate_lifted"] > 0)
            alarm = tf.logical_and(alarm, gate)  # a series whose gate is lifted is not gated
        return {**out, "score": surprise, "is_anomaly": alarm}

    return score


def recent_fn(detector: Detector, samples: int):
    """serving_default: rows of recent raw values (+ series) -> the six outputs."""
    window = detector.config.window
    score = scoring_fn(detector, samples)

    def recent(values, series):
        finite = tf.reduce_all(tf.math.is_finite(values), axis=1)
        clean = tf.where(tf.math.is_finite(values), values, tf.zeros_like(values))
        return score(clean[:, :window], clean[:, -1], series, finite)

    return recent


def detect_fn(detector: Detector, samples: int, value_column: str = "value"):
    """detect: serialised tf.Examples -> moments in the series' units, score, is_anomaly."""
    window, span = detector.config.window, span_of(detector.config)
    score = scoring_fn(detector, samples)

    def detect(examples):
        past, point, series, observed = parse_sensor_examples(examples, value_column, span)
        return score(past[:, :window], point, series, observed)  # ends `horizon` steps back

    return detect


def _series_index(series, names: list[str]):
    if len(names) == 1:
        return tf.zeros_like(series, tf.int32)
    match = tf.equal(series[:, None], tf.constant(names)[None, :])
    known = tf.reduce_any(match, axis=1)
    check = tf.debugging.Assert(tf.reduce_all(known), [
        "Unknown series in the request; expected one of", tf.constant(names),
        "received", tf.boolean_mask(series, tf.logical_not(known))], summarize=10)
    with tf.control_dependencies([check]):
        return tf.cast(tf.argmax(tf.cast(match, tf.int32), axis=1), tf.int32)


def constants(detector: Detector) -> dict:
    """The JSON-ready constants of `detector` (config and per-series scales)."""
    return {"config": dataclasses.asdict(detector.config),
            "series": {name: scale.as_dict() for name, scale in detector.scales.items()}}


def export_detector(detector: Detector, path, samples: int | None = None,
                    value_column: str = "value") -> str:
    """Writes the SavedModel (module docstring) to `path`; returns the path.

    Args:
        detector: a fitted `Detector`.
        path: the SavedModel folder.
        samples: Monte Carlo passes of Bayesian steps (default: the detector's).
        value_column: the value column name of the tf.Examples `detect` parses.
    """
    samples = samples or detector.config.samples
    archive = keras.export.ExportArchive()
    archive.track(detector.model)
    archive.add_endpoint("serving_default", recent_fn(detector, samples), input_signature=[
        tf.TensorSpec([None, span_of(detector.config) + 1], tf.float32, name="values"),
        tf.TensorSpec([None], tf.string, name="series")])
    archive.add_endpoint(DETECT_SIGNATURE, detect_fn(detector, samples, value_column),
                         input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    path = os.fspath(path)
    archive.write_out(path, verbose=False)
    write_constants(path, constants(detector))
    return path


def example_of(window_values, value: float, series: str = "", missing: int = 0,
               history: int | None = None, value_column: str = "value") -> bytes:
    """A serialised tf.Example as SensorExampleGen writes it (for requests and tests).

    Example:
        >>> len(example_of([1.0, 2.0], 3.0, "s")) > 0
        True
    """
    window_values = [float(v) for v in window_values]
    feature = {
        "series": tf.train.Feature(bytes_list=tf.train.BytesList(value=[series.encode()])),
        f"{value_column}_window": tf.train.Feature(
            float_list=tf.train.FloatList(value=window_values)),
        value_column: tf.train.Feature(float_list=tf.train.FloatList(value=[float(value)])),
        f"{value_column}_missing": tf.train.Feature(
            int64_list=tf.train.Int64List(value=[int(missing)])),
        "history": tf.train.Feature(int64_list=tf.train.Int64List(
            value=[len(window_values) if history is None else int(history)]))}
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()
