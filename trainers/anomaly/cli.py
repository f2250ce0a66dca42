"""What `cuttingedge detect --input SERIES.csv --output SCORES.csv` does, as a library function.

    detect_file(input_csv, output_csv, model="auto", train_fraction=0.15)

reads a NAB-layout file (`timestamp,value`, see `series` for how odd rows are kept), trains
a model unsupervised on the first `train_fraction` of the rows, calibrates the threshold on
that part, scores every row and writes `timestamp,value,score,is_anomaly` for every input
row, in input order (`extra_columns=True` adds the predictive mean, stddev and its parts;
`report_dir` writes the full report with the plot).

`model="auto"` (the default) chooses the model from the training part, label-free
(`model_choice`): the local level model when the series holds a level with Gaussian noise,
else the ladder's default step, `bayesian_learned_scale`, with its z-score alarm gate. The
summary says which and why. A ladder step name fits that step.

`model="local_level"` fits the local level state-space model (`local_level` through
`level_detector`, one alarm per episode): for machines whose sensors hold
a level while healthy (a pump's flow rate, vibration, current), where a slow fault would
become a trailing window's new normal. It has no window, no epochs and no z-score gate (the
pipeline, `run anomaly --model local_level`, exports it: `level_detector`).

Without an explicit `window`, the detector's default window (100 values) is shortened on a
series whose training part is too short for it: to the longest window that leaves the
forecaster at least one window to fit per value of the window (46 for a 1,243-row series at
the default 15%, whose training part fits on 93 rows), else to the longest that fits at all,
down to `detector.SMALLEST_FITTED_WINDOW`; the summary says so. An explicit window that does
not fit is an error naming the minimum length. The summary warns when the forecaster has
fewer windows to fit than the window has values (`few_windows_note`). On a long series
whose training part repeats with a period longer than the default window (a daily cycle of
10-minute values: 144 a day), the window is widened to that period
(`detector.widen_to_period`), and the summary says so; an explicit `window` is kept as it
is.

Example:
    >>> import os, tempfile, numpy as np
    >>> folder = tempfile.mkdtemp()
    >>> rows = [f"2024-01-01 00:{i // 60:02d}:{i % 60:02d},{np.sin(i / 5):.4f}"
    ...         for i in range(400)]
    >>> _ = open(os.path.join(folder, "in.csv"), "w").write("timestamp,value\\n" +
    ...                                                      "\\n".join(rows))
    >>> summary = detect_file(os.path.join(folder, "in.csv"), os.path.join(folder, "out.csv"),
    ...                       train_fraction=0.5, window=8, epochs=2)
    >>> summary.rows, open(os.path.join(folder, "out.csv")).readline().strip()
    (400, 'timestamp,value,score,is_anomaly')
"""

from __future__ import annotations

import dataclasses
import time

from cuttingedge.trainers.anomaly import level_detector, model_choice, report
from cuttingedge.trainers.anomaly.detector import (DetectorConfig, fit_detector,
                                                   fitting_window, span_of, split_sizes)
from cuttingedge.trainers.anomaly.series import SeriesNotes, read_series

LOCAL_LEVEL = level_detector.STEP
AUTO = model_choice.AUTO
# The LevelConfig fields `detect_file` passes through **options (it sets the others itself).
LOCAL_LEVEL_OPTIONS = tuple(field.name for field in dataclasses.fields(level_detector.LevelConfig)
                            if field.name not in ("window", "train_fraction", "false_alarm_rate"))
# Accepted and not applied: the local level model is ungated.
UNGATED = ("alarm_gate", "gate_periodic", "ungate_gaussian")


@dataclasses.dataclass(frozen=True)
class DetectSummary:
    """What `detect_file` did."""

    input_csv: str
    output_csv: str
    model: str
    rows: int
    train_rows: int
    window: int
    window_note: str
    alarms: int
    threshold: float
    notes: SeriesNotes
    seconds: float
    report: dict
    period: int = 0
    choice: str = ""  # why model="auto" chose `model`
    ensemble: int = 1  # ladder models served as one (`DetectorConfig.ensemble`)
    residual_kurtosis: float | None = None  # set when Gaussian forecast residuals lift the gate

    def line(self) -> str:
        season = (f"; the series repeats every {self.period} rows: not gated by the trailing "
                  f"z-score" if self.period else
                  f"; its forecasts leave Gaussian residuals (excess kurtosis "
                  f"{self.residual_kurtosis:.2f}): not gated by the trailing z-score"
                  if self.residual_kurtosis is not None else "")
        window = f"window {self.window}" if self.window else "no window, no gate"
        chosen = f" (auto: {self.choice})" if self.choice else ""
        members = f", an ensemble of {self.ensemble}" if self.ensemble > 1 else ""
        return (f"{self.rows} rows scored with {self.model}{members}{chosen} (trained on the first "
                f"{self.train_rows}, {window}{self.window_note}); {self.alarms} "
                f"alarms; threshold {self.threshold:.3g}{season}; "
                f"{self.notes.missing_values} missing values, {self.notes.bad_timestamps} "
                f"unparseable timestamps, {self.notes.duplicate_timestamps} duplicate and "
                f"{self.notes.backward_timestamps} backward timestamps kept in input order; "
                f"{self.seconds:.1f}s -> {self.output_csv}")


def few_windows_note(rows: int, config: DetectorConfig) -> str:
    """A warning for the summary when the forecaster has fewer windows to fit than it has inputs.

    The training part's fitting rows hold `fit rows - window - horizon + 1` windows; a series
    just long enough for its window gives the forecaster one example to learn from.

    Example:
        >>> few_windows_note(1243, DetectorConfig(window=92)).split(":")[0]
        '; the forecaster fits on 1 window of 92 values'
        >>> few_windows_note(20000, DetectorConfig())
        ''
    """
    windows = split_sizes(rows, config)[0] - span_of(config)
    if windows >= config.window:
        return ""
    return (f"; the forecaster fits on {windows} window{'s' if windows != 1 else ''} of "
            f"{config.window} values: too few to learn from (a larger --train-fraction or a "
            f"smaller --window gives it more)")


def detect_file(input_csv, output_csv, model: str = AUTO,
                train_fraction: float = 0.15, window: int | None = None,
                false_alarm_rate: float | None = None, epochs: int | None = None,
                seed: int = 0, extra_columns: bool = False, parquet: str | None = None,
                report_dir: str | None = None, **options) -> DetectSummary:
    """Scores every row of a NAB-layout CSV and writes the scores (module docstring).

    Args:
        input_csv: `timestamp,value` CSV.
        output_csv: where to write `timestamp,value,score,is_anomaly` (+ extras).
        model: "auto", a ladder step (`cuttingedge.trainers.probabilistic.LADDER`), or
            "local_level" (module docstring).
        train_fraction: leading share of rows to train and calibrate on.
        window: past values per forecast; None: the detector's default, shortened to fit a
            short series (module docstring).
        false_alarm_rate, epochs: override the `DetectorConfig` defaults.
        seed: random seed.
        extra_columns: also write row, point_score, mean, stddev, ... (see `report`).
        parquet: also write the full table as Parquet there.
        report_dir: also write the full report (CSV, Parquet, windows JSON, PNG) there.
        **options: further `DetectorConfig` fields (smoothing, refractory, ...).

    Returns:
        A `DetectSummary`.

    Raises:
        SeriesError: unreadable file or no numeric value; SeriesTooShortError: too few rows.
        ValueError: an unknown model step (the message lists the steps) or a bad setting.
    """
    start = time.monotonic()
    if model == LOCAL_LEVEL:
        return _detect_local_level(input_csv, output_csv, train_fraction, window,
                                   false_alarm_rate, epochs, extra_columns, parquet,
                                   report_dir, start, options)
    overrides = {k: v for k, v in (("false_alarm_rate", false_alarm_rate),
                                   ("epochs", epochs)) if v is not None}
    if window is not None:
        overrides["window"] = window
    else:  # the window is detect's to choose: widened to a longer period (module docstring)
        options = {"seasonal_window": True, **options}
    step = DetectorConfig.step if model == AUTO else model
    config = DetectorConfig(step=step, train_fraction=train_fraction, seed=seed, **overrides,
                            **options)
    series = read_series(input_csv)
    note = ""
    if window is None:  # the longest window with a window to fit per value, else that fits
        fitted = fitting_window(len(series), config, windows_per_value=1) or \
            fitting_window(len(series), config)
        if fitted is not None and fitted < config.window:
            note = (f", shortened from {config.window}: the training part of "
                    f"{len(series)} rows is too short for it")
            config = dataclasses.replace(config, window=fitted)
    note += few_windows_note(len(series), config)
    if model == AUTO:
        detector = model_choice.fit_auto_detector({series.name: series}, config)
        choice = detector.choices[series.name]
    else:
        detector, choice = fit_detector(series, config), None
    if detector.config.window > config.window:  # widened by `detector.widen_to_period`
        note += (f", widened from {config.window} to hold the period its training part "
                 f"repeats with")
        config = dataclasses.replace(config, window=detector.config.window)
    scored = detector.score(series, series.name)
    _write(series, scored, output_csv, extra_columns, parquet)
    described = f"{choice.model} (auto: {choice.reason})" if choice else config.step
    paths = report.write_report(report_dir, series, scored,
                                model=described) if report_dir else {}
    scale = detector.scales[series.name]
    level = choice is not None and choice.local_level
    return DetectSummary(str(input_csv), str(output_csv), choice.model if choice else config.step,
                         len(series), scale.train_rows, 0 if level else config.window,
                         "" if level else note, int(scored.is_anomaly.sum()), scored.threshold,
                         series.notes, time.monotonic() - start, paths, scale.period,
                         choice.reason if choice else "", 1 if level else config.ensemble,
                         _lifted_by_residuals(scale, config))


def _lifted_by_residuals(scale, config) -> float | None:
    """The residual kurtosis when Gaussian forecast residuals lifted the gate, else None."""
    scale = getattr(scale, "scale", scale)  # with "auto", the chosen model's constants
    lifted = getattr(scale, "gate_lifted", 0) and not getattr(scale, "period", 0)
    return float(scale.residual_kurtosis) if lifted and config.alarm_gate == "zscore" else None


def _detect_local_level(input_csv, output_csv, train_fraction, window, false_alarm_rate,
                        epochs, extra_columns, parquet, report_dir, start,
                        options) -> DetectSummary:
    """`detect_file` with the local level model (module docstring)."""
    given = [name for name, value in (("window", window), ("epochs", epochs))
             if value is not None]
    unknown = sorted(set(options) - set(LOCAL_LEVEL_OPTIONS) - set(UNGATED))
    if given or unknown:
        raise ValueError(f"The local level model takes no {' or '.join(given + unknown)}: it "
                         f"reads the whole past through its filter and is fitted by maximum "
                         f"likelihood, not by epochs. Leave {' and '.join(given + unknown)} "
                         f"out (it takes train_fraction, false_alarm_rate and "
                         f"{', '.join(LOCAL_LEVEL_OPTIONS)}).")
    chosen = {name: options[name] for name in LOCAL_LEVEL_OPTIONS if name in options}
    config = level_detector.LevelConfig(
        train_fraction=train_fraction, **chosen,
        **({"false_alarm_rate": false_alarm_rate} if false_alarm_rate is not None else {}))
    series = read_series(input_csv)
    detector = level_detector.fit_level_detector({series.name: series}, config)
    scored = detector.score(series, series.name)
    _write(series, scored, output_csv, extra_columns, parquet)
    paths = report.write_report(report_dir, series, scored) if report_dir else {}
    return DetectSummary(str(input_csv), str(output_csv), LOCAL_LEVEL, len(series),
                         detector.scales[series.name].train_rows, 0, "",
                         int(scored.is_anomaly.sum()), scored.threshold, series.notes,
                         time.monotonic() - start, paths)


def _write(series, scored, output_csv, extra_columns: bool, parquet) -> None:
    frame = report.scores_frame(series, scored)
    columns = list(frame.columns) if extra_columns else list(report.CONTRACT_COLUMNS)
    report.write_scores(frame[columns], csv_path=output_csv)
    if parquet:
        report.write_scores(frame, parquet_path=parquet)
