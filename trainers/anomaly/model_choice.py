"""The model each series gets, chosen label-free on its training part (`model="auto"`).

    choose(scale: LevelScale, ChoiceConfig()) -> Choice
    fit_auto_detector(values, DetectorConfig(), splits=None) -> AutoDetector
    export_auto_detector(detector, path) -> a SavedModel with serving_default and detect

The local level model (`level_detector`) rests on two assumptions: the sensor holds its level
from one point to the next (its level drifts by less than its noise), and that noise is
Gaussian. Where both hold on a series' training part, the local level model keeps expecting
the healthy level, so a fault that moves the level, even slowly, stays surprising until it
ends. Where either fails, the ladder forecaster with its z-score alarm gate (`detector`) is
used. A series that cycles (a daily demand curve) or wanders (a room temperature) drifts
faster than its noise. A series with heavy-tailed innovations (spiky CPU load, bursty
traffic) has them: a single Gaussian noise scale would flag every burst. The rule, on the
local level model's standardised one-step innovations over the training part (after
`level_detector.BURN_IN` points):

    local level  if  drift_scale <= max_drift_ratio * noise_scale   (default 1)
                 and excess kurtosis <= max_kurtosis                 (default 1)

An excess kurtosis of 1 is that of a Student-t with 10 degrees of freedom: tails a little
heavier than the Normal's, as real sensors have. A series with too few training values to
tell (`level_detector.MIN_INNOVATIONS`) gets the ladder. No label is read: the choice is the
model checking its own assumptions on normal data. One known miss: a sensor reported at a
coarse resolution (a flow read to a dozen distinct values) has innovations piled on a few
steps, whose kurtosis exceeds 1 though its noise is not heavy-tailed; such a sensor goes to
the ladder even when it holds its level, and `--model local_level` is the way to give it the
local level model.

`fit_auto_detector` fits a local level model on every series (cheap: two scales each; a
series whose training part cannot take one, with fewer than 3 observed values, goes to the
ladder, whose own checks then name what is wrong), then fits one pooled ladder forecaster
on the series that need it, if any. `AutoDetector.score`
scores a series with its chosen model. `export_auto_detector` writes the chosen model's
SavedModel when all series chose the same one (`level_detector.export_level_detector` or
`export.export_detector`), and otherwise one SavedModel holding both, which routes each
request row by its `series`. Its signatures and outputs are the same either way:
`serving_default(values [None, window + 1], series [None])` and `detect(examples [None])`.
`assets.extra/detector.json` records every series' choice and the reason for it.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> held = 5.0 + rng.normal(size=800)  # a sensor holding its level
    >>> spiky = rng.standard_t(2, size=800)  # heavy-tailed bursts
    >>> config = DetectorConfig(window=16, train_fraction=0.5, epochs=2, hidden_units=(8,))
    >>> detector = fit_auto_detector({"held": held, "spiky": spiky}, config)
    >>> {name: choice.model for name, choice in sorted(detector.choices.items())}
    {'held': 'local_level', 'spiky': 'bayesian_learned_scale'}
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Mapping

import numpy as np

from cuttingedge.trainers.anomaly import level_detector
from cuttingedge.trainers.anomaly.detector import (DEFAULT_SERIES, Detector, DetectorConfig,
                                                   ScoredSeries, fit_detector)

AUTO = "auto"
LOCAL_LEVEL = level_detector.STEP
# DetectorConfig fields that mean the same in LevelConfig.
SHARED_FIELDS = tuple(f.name for f in dataclasses.fields(level_detector.LevelConfig)
                      if f.name in {g.name for g in dataclasses.fields(DetectorConfig)})


@dataclasses.dataclass(frozen=True)
class ChoiceConfig:
    """Bounds of the local level model's assumptions (module docstring).

    Args:
        max_drift_ratio: largest drift_scale / noise_scale of a sensor that holds a level.
        max_kurtosis: largest excess kurtosis of its standardised innovations.
    """

    max_drift_ratio: float = 1.0
    max_kurtosis: float = 1.0

    def __post_init__(self):
        if not (self.max_drift_ratio > 0.0 and self.max_kurtosis > -2.0):
            raise ValueError(f"Expected max_drift_ratio > 0 and max_kurtosis > -2 (no sample "
                             f"has less). Received: max_drift_ratio={self.max_drift_ratio}, "
                             f"max_kurtosis={self.max_kurtosis}.")


@dataclasses.dataclass(frozen=True)
class Choice:
    """The model of one series and why."""

    model: str
    reason: str
    drift_ratio: float
    innovation_kurtosis: float

    @property
    def local_level(self) -> bool:
        return self.model == LOCAL_LEVEL


def choose(scale: level_detector.LevelScale, ladder_step: str = "bayesian_learned_scale",
           config: ChoiceConfig = ChoiceConfig()) -> Choice:
    """The local level model if its assumptions hold on the training part, else the ladder.

    Example:
        >>> scale = level_detector.LevelScale(0.0, 1.0, noise_scale=1.0, drift_scale=0.1,
        ...     threshold=9.0, point_threshold=9.0, train_rows=400, level=0.0,
        ...     steady_variance=0.1, innovation_kurtosis=0.2)
        >>> choose(scale).model
        'local_level'
        >>> choose(dataclasses.replace(scale, innovation_kurtosis=7.5)).reason
        'heavy-tailed noise: innovation kurtosis 7.5 > 1'
    """
    ratio, kurtosis = scale.drift_ratio, scale.innovation_kurtosis
    if math.isnan(kurtosis):
        reason = (f"no noise to check: fewer than {level_detector.MIN_INNOVATIONS} training "
                  f"innovations with spread (a constant or nearly empty training part)")
    elif ratio > config.max_drift_ratio:
        reason = (f"does not hold a level: drift {ratio:.3g} of the noise > "
                  f"{config.max_drift_ratio:g}")
    elif kurtosis > config.max_kurtosis:
        reason = f"heavy-tailed noise: innovation kurtosis {kurtosis:.3g} > {config.max_kurtosis:g}"
    else:
        return Choice(LOCAL_LEVEL, f"holds a level (drift {ratio:.3g} of the noise) with "
                                   f"Gaussian noise (innovation kurtosis {kurtosis:.3g})",
                      ratio, kurtosis)
    return Choice(ladder_step, reason, ratio, kurtosis)


@dataclasses.dataclass(frozen=True)
class ChosenScale:
    """A series' choice beside the chosen model's constants (for reports)."""

    choice: Choice
    scale: object  # level_detector.LevelScale or detector.SeriesScale

    @property
    def period(self) -> int:
        return int(getattr(self.scale, "period", 0))

    @property
    def train_rows(self) -> int:
        return int(self.scale.train_rows)

    def as_dict(self) -> dict:
        return {"model": self.choice.model, "reason": self.choice.reason,
                **self.scale.as_dict()}


@dataclasses.dataclass(frozen=True)
class AutoDetector:
    """Each series scored by the model chosen for it (module docstring).

    Attributes:
        level: local level models of every series (the choice reads them).
        ladder: the pooled ladder detector of the series that chose it, or None.
        choices: series name -> `Choice`.
    """

    level: level_detector.LevelDetector
    ladder: Detector | None
    choices: Mapping[str, Choice]

    @property
    def config(self):
        """The ladder's config if there is a ladder, else the local level models'."""
        return self.ladder.config if self.ladder is not None else self.level.config

    @property
    def history(self) -> Mapping:
        return self.ladder.history if self.ladder is not None else {}

    @property
    def scales(self) -> dict[str, ChosenScale]:
        return {name: ChosenScale(choice, (self.level if choice.local_level else
                                           self.ladder).scales[name])
                for name, choice in self.choices.items()}

    def score(self, values, series: str | None = None) -> ScoredSeries:
        name = series or (next(iter(self.choices)) if len(self.choices) == 1 else None)
        if name not in self.choices:
            raise KeyError(f"Unknown series {series!r}; this detector knows "
                           f"{sorted(self.choices)}.")
        chosen = self.level if self.choices[name].local_level else self.ladder
        return chosen.score(values, name)


def level_config_of(config: DetectorConfig) -> level_detector.LevelConfig:
    """The local level settings that match a ladder config (window, fractions, alarms)."""
    return level_detector.LevelConfig(**{name: getattr(config, name) for name in SHARED_FIELDS})


def fit_auto_detector(values, config: DetectorConfig = DetectorConfig(),
                      splits: Mapping | None = None,
                      choice: ChoiceConfig = ChoiceConfig(),
                      fit_ladder: Callable[[dict, Mapping | None], Detector] | None = None
                      ) -> AutoDetector:
    """Chooses and fits each series' model (module docstring).

    Args:
        values: one series (array or `Series`) or a mapping name -> series.
        config: the ladder's settings; the local level models share its window,
            train_fraction, false_alarm_rate and alarm settings (`level_config_of`).
        splits: optional name -> (train rows, eval rows), as in `fit_detector`.
        choice: the bounds of the rule.
        fit_ladder: fits the ladder on (values, splits) of the series that need it
            (default: `fit_detector` with `config`; the pipeline passes one that tunes).

    Raises:
        ValueError: `config.horizon` is not 1: the local level model forecasts one step.
    """
    if config.horizon != 1:
        raise ValueError(f"model='auto' chooses between the local level model, which "
                         f"forecasts one step ahead, and the ladder. Received horizon="
                         f"{config.horizon}; pass a ladder step as the model to forecast "
                         f"further ahead.")
    named = dict(values) if isinstance(values, Mapping) else {DEFAULT_SERIES: values}
    level_config, scales, choices = level_config_of(config), {}, {}
    for name, series in named.items():
        try:  # one series at a time: one that cannot take the model still gets the ladder
            fitted = level_detector.fit_level_detector({name: series}, level_config, splits)
        except ValueError as error:
            choices[name] = Choice(config.step, f"no local level model: {error}", math.nan,
                                   math.nan)
            continue
        scales[name] = fitted.scales[name]
        choices[name] = choose(scales[name], config.step, choice)
    level = level_detector.LevelDetector(level_config, scales)
    needing = {name: named[name] for name, c in choices.items() if not c.local_level}
    ladder = None
    if needing:
        if len(needing) < len(named):  # one SavedModel routes both with the level's window
            config = dataclasses.replace(config, seasonal_window=False)
        subset = {name: splits[name] for name in needing} if splits else None
        fit = fit_ladder or (lambda v, s: fit_detector(v, config, None, s))
        ladder = fit(needing, subset)
    return AutoDetector(level, ladder, choices)


def export_auto_detector(detector: AutoDetector, path, value_column: str = "value") -> str:
    """Writes the SavedModel (module docstring) to `path`; returns the path."""
    from cuttingedge.trainers.anomaly import export

    path = os.fspath(path)
    if detector.ladder is None:
        level_detector.export_level_detector(detector.level, path, value_column)
    elif not any(c.local_level for c in detector.choices.values()):
        export.export_detector(detector.ladder, path, value_column=value_column)
    else:
        _export_routed(detector, path, value_column)
    export.write_constants(path, {  # in place of the one model's own constants
        "model": AUTO, "config": dataclasses.asdict(detector.config),
        "series": {name: scale.as_dict() for name, scale in detector.scales.items()},
        "choices": {name: dataclasses.asdict(c) for name, c in detector.choices.items()}})
    return path


def _export_routed(detector: AutoDetector, path: str, value_column: str) -> None:
    """One SavedModel with both models; each row goes to its series' choice."""
    import keras
    import tensorflow as tf

    from cuttingedge.trainers.anomaly import export

    ladder = detector.ladder
    window = int(ladder.config.window)
    level_score = level_detector.scoring_fn(detector.level)
    ladder_score = export.scoring_fn(ladder, ladder.config.samples)
    names = sorted(detector.choices)
    use_level = np.array([detector.choices[n].local_level for n in names])
    on_ladder, on_level = sorted(ladder.scales)[0], sorted(detector.level.scales)[0]

    def routed(past, point, series, observed, finite):
        # Unknown series fail here; each model then sees only names it knows.
        pick = tf.gather(tf.constant(use_level), export._series_index(series, names))
        ladder_series = tf.where(pick, tf.constant(on_ladder), series)
        level_series = tf.where(pick, series, tf.constant(on_level))
        level_out = level_score(past, point, level_series, observed)
        clean = tf.where(tf.math.is_finite(past), past, tf.zeros_like(past))
        ladder_out = ladder_score(clean, tf.where(tf.math.is_finite(point), point, 0.0),
                                  ladder_series, tf.logical_and(observed, finite))
        return {key: tf.where(pick, level_out[key], ladder_out[key]) for key in level_out}

    @tf.function(input_signature=[tf.TensorSpec([None, window + 1], tf.float32, name="values"),
                                  tf.TensorSpec([None], tf.string, name="series")])
    def recent(values, series):
        finite = tf.reduce_all(tf.math.is_finite(values), axis=1)
        return routed(values[:, :window], values[:, -1], series,
                      tf.ones_like(series, tf.bool), finite)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def detect(examples):
        past, point, series, observed = export.parse_sensor_examples(examples, value_column,
                                                                     window)
        return routed(past, point, series, observed, tf.ones_like(observed))

    archive = keras.export.ExportArchive()
    archive.track(ladder.model)
    for name, function in (("serving_default", recent), (export.DETECT_SIGNATURE, detect)):
        function.get_concrete_function()
        archive.add_endpoint(name, function)
    archive.write_out(path, verbose=False)
