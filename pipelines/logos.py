"""The brand-logo pipeline: a brand kit in, a tuned classifier pushed to serving/logos/.

    ImageExampleGen (SVG/PNG icons) -> validation gate -> TuneLogos -> Trainer (run_fn)
                                                       -> TrainLogoBaseline (ResNet50V2)
    Trainer + baseline -> EvaluateLogos (held-out renders) -> Pusher (only if it beats the
    baseline on held-out top-1)
    latest blessed model (Resolver) -> Trainer's base_model: a warm start when it fits
"""

from __future__ import annotations

import dataclasses
import json

from tfx import v1 as tfx

from cuttingedge.components.example_gen import ImageExampleGen
from cuttingedge.components.logos import EvaluateLogos, TrainLogoBaseline, TuneLogos
from cuttingedge.components.serving.components import InfraValidate, PushAtomically
from cuttingedge.pipelines.layout import RunLayout
from cuttingedge.pipelines.validation import add_validation
from cuttingedge.trainers.logos import trainer as logo_trainer
from cuttingedge.trainers.tuning.budget import SearchBudget

NAME = "logos"


@dataclasses.dataclass(frozen=True)
class LogosConfig:
    """One logo pipeline run.

    Args:
      input: class folders or a path,label manifest of clean brand icons (SVG/PNG).
      options: render counts, epochs, image size (LogoOptions).
      algorithm: "hyperband", "bayesian" or "random".
      architectures: comma-separated subset of "cnn,resnet" (HyperResNet).
      budget: the search stops at the first limit reached.
      warm_start: the Trainer continues the latest model this pipeline blessed (its
        weights, when the tuned architecture and the brands are the same; see
        `trainer.warm_start`), so a scheduled run builds on the last; False: always from
        scratch.
    """

    input: str
    layout: RunLayout = RunLayout()
    options: logo_trainer.LogoOptions = logo_trainer.LogoOptions()
    algorithm: str = "hyperband"
    architectures: str = "cnn"
    budget: SearchBudget = SearchBudget(max_trials=10)
    warm_start: bool = True
    beam_args: tuple[str, ...] = ("--direct_running_mode=in_memory",)

    @property
    def custom_config(self) -> dict:
        return dataclasses.asdict(self.options)


def create_pipeline(config: LogosConfig) -> tfx.dsl.Pipeline:
    """Builds the logo pipeline from `config`."""
    example_gen = ImageExampleGen(input_path=config.input, splits="train:1")
    examples = example_gen.outputs["examples"]
    validation = add_validation(examples, "images", infer_unlisted=False)
    gate = validation[-1]
    custom = json.dumps(config.custom_config, sort_keys=True)
    budget = config.budget
    tuner = TuneLogos(examples=examples, custom_config=custom, algorithm=config.algorithm,
                      architectures=config.architectures, max_trials=budget.max_trials or 0,
                      max_seconds=float(budget.max_seconds or 0),
                      max_dollars=float(budget.max_dollars or 0),
                      dollars_per_hour=float(budget.dollars_per_hour or 0),
                      live_dir=f"{config.layout.reports(NAME)}/tuning")
    tuner.add_upstream_node(gate)
    warm = []
    if config.warm_start:
        warm = [tfx.dsl.Resolver(
            strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
            model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
            model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
        ).with_id("latest_blessed_model")]
    trainer = tfx.components.Trainer(
        run_fn=f"{logo_trainer.run_fn.__module__}.{logo_trainer.run_fn.__qualname__}",
        examples=examples, hyperparameters=tuner.outputs["best_hyperparameters"],
        base_model=warm[0].outputs["model"] if warm else None,
        train_args=tfx.proto.TrainArgs(num_steps=0),
        # The brand kit is one split; evaluation renders are made from it (held out by seed,
        # backgrounds and conditions), so the Trainer's "eval" files are the same kit.
        eval_args=tfx.proto.EvalArgs(splits=["train"], num_steps=0),
        custom_config=config.custom_config)
    baseline = TrainLogoBaseline(examples=examples, custom_config=custom)
    baseline.add_upstream_node(gate)
    evaluator = EvaluateLogos(examples=examples, model=trainer.outputs["model"],
                              baseline=baseline.outputs["model"], custom_config=custom,
                              report_dir=config.layout.reports(NAME))
    infra = InfraValidate(model=trainer.outputs["model"])
    pusher = PushAtomically(model=trainer.outputs["model"],
                            model_blessing=evaluator.outputs["blessing"],
                            infra_blessing=infra.outputs["blessing"],
                            serving_base=config.layout.serving(NAME))
    return tfx.dsl.Pipeline(
        pipeline_name=NAME, pipeline_root=config.layout.pipeline_root(NAME),
        metadata_connection_config=tfx.orchestration.metadata
        .sqlite_metadata_connection_config(config.layout.metadata_path),
        components=[example_gen, *validation, tuner, *warm, trainer, baseline, evaluator,
                    infra, pusher],
        enable_cache=True, beam_pipeline_args=list(config.beam_args))
