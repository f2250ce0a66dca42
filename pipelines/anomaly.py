"""The anomaly pipeline: sensor series in, a scored report and a pushed detector out.

    SensorExampleGen (time splits: train | eval | test) -> validation gate
    -> DetectAnomalies (fit on train, calibrate on eval, score all; report; SavedModel)
    -> InfraValidate (fresh process replays the warmup requests) -> PushAtomically

The train and eval splits together are NAB's probationary part (`train_fraction`, 15% by
default); eval is its last `validation_fraction`. Reports are copied to
<output>/reports/anomaly/, the model pushed to <output>/serving/anomaly/<version>/.
"""

from __future__ import annotations

import dataclasses
import importlib.resources

from tfx import v1 as tfx

from cuttingedge.components.anomaly import DetectAnomalies
from cuttingedge.components.example_gen import SensorExampleGen
from cuttingedge.components.serving.components import InfraValidate, PushAtomically
from cuttingedge.pipelines.layout import RunLayout
from cuttingedge.pipelines.validation import add_validation
from cuttingedge.trainers.anomaly.detector import ALARM_GATES
from cuttingedge.trainers.anomaly.level_detector import STEP as LOCAL_LEVEL
from cuttingedge.trainers.anomaly.model_choice import AUTO
from cuttingedge.trainers.probabilistic import LADDER

NAME = "anomaly"


def sample_pattern() -> str:
    """The bundled NAB sample series: sample_data/nab/realKnownCause/*.csv."""
    folder = importlib.resources.files("cuttingedge.sample_data").joinpath("nab",
                                                                           "realKnownCause")
    return f"{folder}/*.csv"


@dataclasses.dataclass(frozen=True)
class AnomalyConfig:
    """One anomaly pipeline.

    Args:
      input_pattern: file(s) or glob of `timestamp,value` series (default: the bundled NAB
        sample); each file is one series.
      layout: the output root.
      window: past values per forecast.
      horizon: steps ahead of the forecast (SensorExampleGen's records then carry
        window + horizon - 1 values).
      step: "auto" (default): per series, chosen on its training part without labels
        (`anomaly.model_choice`): a local level model where the series holds a level with
        Gaussian noise, else the ladder's bayesian_learned_scale forecaster, pooled over
        the series that need it; or a ladder step of the forecaster for every series
        (`cuttingedge.trainers.probabilistic.LADDER`); or "local_level" for every series
        (`anomaly.level_detector`), which has no epochs, tuning or alarm gate.
      tune_trials: Keras Tuner trials over the ladder and layer sizes (0: no search); with
        "auto", over the series that chose the ladder (none: no search).
      epochs: training epochs (early-stopped on the eval split).
      ensemble: ladder models fitted from different seeds and served as one
        (`DetectorConfig.ensemble`); 1: one model.
      train_fraction: share of each series for training and calibration (NAB: 0.15).
      validation_fraction: share of that part used to calibrate (the eval split).
      false_alarm_rate: target alarms per normal point.
      alarm_gate: "zscore" (default): alarms also need the trailing z-score to agree
        (`DetectorConfig.alarm_gate`); "none": the forecast's surprise alone.
      gate_periodic: gate a series that repeats with a period the window holds too (by
        default it is not gated: `DetectorConfig.gate_periodic`).
      ungate_gaussian: do not gate a series whose forecasts leave Gaussian errors on the
        held-out rows (`DetectorConfig.ungate_gaussian`).
      max_alarm_fraction: blessing limit on the share of later points above threshold.
      beam_args: Beam pipeline options.
    """

    input_pattern: str = ""
    layout: RunLayout = RunLayout()
    window: int = 100
    horizon: int = 1
    step: str = AUTO
    tune_trials: int = 0
    epochs: int = 40
    ensemble: int = 1
    train_fraction: float = 0.15
    validation_fraction: float = 0.5
    false_alarm_rate: float = 1e-4
    alarm_gate: str = "zscore"
    gate_periodic: bool = False
    ungate_gaussian: bool = False
    max_alarm_fraction: float = 0.05
    beam_args: tuple[str, ...] = ("--direct_running_mode=in_memory",)

    def __post_init__(self):
        if self.step not in (AUTO, *LADDER, LOCAL_LEVEL):
            raise ValueError(f"Unknown model {self.step!r}. Expected {AUTO!r}, a ladder step "
                             f"({', '.join(LADDER)}), or {LOCAL_LEVEL!r}.")
        if self.step == AUTO and self.horizon != 1:
            raise ValueError(f"step={AUTO!r} chooses between the local level model, which "
                             f"forecasts one step ahead, and the ladder. Received: horizon="
                             f"{self.horizon}; pass a ladder step to forecast further ahead.")
        if self.step == LOCAL_LEVEL and (self.tune_trials or self.horizon != 1
                                         or self.ensemble != 1):
            raise ValueError(f"The local level model has no ladder to tune or ensemble and "
                             f"forecasts one step ahead. Received: tune_trials="
                             f"{self.tune_trials}, ensemble={self.ensemble}, horizon="
                             f"{self.horizon}; leave them at 0, 1 and 1.")
        if (self.window < 1 or self.horizon < 1 or self.epochs < 1 or self.ensemble < 1
                or self.tune_trials < 0):
            raise ValueError(f"Expected window >= 1, horizon >= 1, epochs >= 1, ensemble >= 1 "
                             f"and tune_trials >= 0. Received: window={self.window}, horizon="
                             f"{self.horizon}, epochs={self.epochs}, ensemble={self.ensemble}, "
                             f"tune_trials={self.tune_trials}.")
        if self.alarm_gate not in ALARM_GATES:
            raise ValueError(f"Expected alarm_gate in {list(ALARM_GATES)}. Received: "
                             f"alarm_gate={self.alarm_gate!r}.")
        for name in ("train_fraction", "validation_fraction"):
            if not 0.0 < getattr(self, name) < 1.0:
                raise ValueError(f"Expected {name} in (0, 1). Received: "
                                 f"{name}={getattr(self, name)!r}.")

    @property
    def pattern(self) -> str:
        return self.input_pattern or sample_pattern()

    @property
    def splits(self) -> str:
        """SensorExampleGen's time splits: train | eval | test."""
        evaluation = self.train_fraction * self.validation_fraction
        train = self.train_fraction - evaluation
        return f"train:{train!r},eval:{evaluation!r},test:{1.0 - self.train_fraction!r}"


def _add_ingestion(config: AnomalyConfig) -> list:
    example_gen = SensorExampleGen(input_pattern=config.pattern,
                                   window=config.window + config.horizon - 1,
                                   splits=config.splits)
    return [example_gen, *add_validation(example_gen.outputs["examples"], "sensors",
                                         infer_unlisted=True)]


def _add_detection(config: AnomalyConfig, examples, gate) -> list:
    detect = DetectAnomalies(examples=examples, step=config.step, window=config.window,
                             horizon=config.horizon, epochs=config.epochs,
                             ensemble=config.ensemble,
                             false_alarm_rate=config.false_alarm_rate,
                             alarm_gate=config.alarm_gate,
                             gate_periodic=config.gate_periodic,
                             ungate_gaussian=config.ungate_gaussian,
                             tune_trials=config.tune_trials,
                             max_alarm_fraction=config.max_alarm_fraction,
                             report_dir=config.layout.reports(NAME))
    detect.add_upstream_node(gate)
    return [detect]


def _add_serving(config: AnomalyConfig, detect) -> list:
    infra = InfraValidate(model=detect.outputs["model"])
    pusher = PushAtomically(model=detect.outputs["model"],
                            model_blessing=detect.outputs["blessing"],
                            infra_blessing=infra.outputs["blessing"],
                            serving_base=config.layout.serving(NAME))
    return [infra, pusher]


def create_pipeline(config: AnomalyConfig) -> tfx.dsl.Pipeline:
    """Builds the anomaly pipeline from `config`."""
    ingestion = _add_ingestion(config)
    detection = _add_detection(config, ingestion[0].outputs["examples"], ingestion[-1])
    serving = _add_serving(config, detection[0])
    return tfx.dsl.Pipeline(
        pipeline_name=NAME, pipeline_root=config.layout.pipeline_root(NAME),
        metadata_connection_config=tfx.orchestration.metadata
        .sqlite_metadata_connection_config(config.layout.metadata_path),
        components=[*ingestion, *detection, *serving], enable_cache=True,
        beam_pipeline_args=list(config.beam_args))
