"""Probabilistic anomaly detection on univariate series with the TFP model ladder.

    series       NAB-layout CSV -> `Series` (every row kept, in input order, oddities flagged)
    detector     `DetectorConfig`, `fit_detector` -> `Detector.score` -> `ScoredSeries`
    alarms       tail-surprise score, label-free threshold (peaks over threshold), refractory
    evaluate     NAB windows, event-level precision/recall/F1, the NAB standard score
    baselines    trailing z-score, `tfp.sts.detect_anomalies` and the local level model,
                 thresholded the same way
    local_level  Kalman local level model fitted by maximum likelihood (sensors that hold a
                 level while healthy)
    level_detector  local level models of several series, scored and exported like the
                 ladder detector (`run anomaly --model local_level`)
    report       scores CSV/Parquet, merged windows JSON, PNG plot
    export       SavedModel: serving_default (forecaster) and detect (tf.Examples)
    scoring      `ScoreSeries`, a Beam PTransform over the SavedModel
    search       Keras Tuner search over the ladder
    cli          `detect_file`, what `cuttingedge detect` does

Importing this package imports only `series` and `evaluate` (no TensorFlow).

Example:
    >>> from cuttingedge.trainers import anomaly
    >>> anomaly.minimum_length(window=32)
    33
"""

from cuttingedge.trainers.anomaly.evaluate import (EventCounts, NabResult, event_counts,
                                                   load_windows, nab_score, window_indices)
from cuttingedge.trainers.anomaly.series import (Series, SeriesError, SeriesTooShortError,
                                                 minimum_length, read_series)

__all__ = ["EventCounts", "NabResult", "Series", "SeriesError", "SeriesTooShortError",
           "event_counts", "load_windows", "minimum_length", "nab_score", "read_series",
           "window_indices"]
