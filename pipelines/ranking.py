"""The ranking pipeline: click logs or LETOR files in, a pushed ELWC ranking model out.

    ClickLogExampleGen -> validation gate -> [Tuner] -> Trainer (neural, run_fn)
                                          -> TrainLambdaMart
    Trainer + TrainLambdaMart -> EvaluateRankers (blend, compare, bless)
    -> InfraValidate (fresh process replays the warmup requests) -> PushAtomically
"""

from __future__ import annotations

import dataclasses

from tfx import v1 as tfx

from cuttingedge.components.example_gen import ClickLogExampleGen
from cuttingedge.components.ranking import EvaluateRankers, TrainLambdaMart
from cuttingedge.components.serving.components import InfraValidate, PushAtomically
from cuttingedge.pipelines.layout import RunLayout
from cuttingedge.pipelines.validation import add_validation
from cuttingedge.trainers.ranking import trainer as ranking_trainer

NAME = "ranking"


@dataclasses.dataclass(frozen=True)
class RankingConfig:
    """One ranking pipeline.

    Args:
      train, eval, test: files of each split; with only `train`, splits are by hashing the
        query id; with train and eval, one query in ten of train is carved out as test.
      schema: "letor" (data-set specific numeric features, inferred) or "clicklog" (the
        generator's curated columns).
      epochs, batch_size, list_size: neural training budget.
      tune_trials: Keras Tuner trials before training (0 skips the Tuner).
      num_trees: LambdaMART boosting rounds (with early stopping on eval).
      position_bias: learn a position-bias tower during training; None (default) turns it on
        for click logs (schema "clicklog"), whose labels are biased clicks, and off for judged
        relevance (LETOR), where row order is not a display position.
      text_embeddings: learn token embeddings of query and document text (True), or use the
        text only through the query-document overlap feature (False, the default). On the
        generated click logs the overlap ranker beats LambdaMART by +0.037 NDCG@10 and the
        embeddings only tie it: learned from clicks, they fit click noise
        (benchmarks/text_and_trees.py). Embeddings pay off when words carry meaning beyond
        exact matches and the log is large enough to learn it.
      grouping: how ClickLogExampleGen groups a query's rows: "shuffle" (anywhere) or
        "contiguous" (consecutive in one file, as impression logs are written: no shuffle).
    """

    train: str
    eval: str = ""
    test: str = ""
    layout: RunLayout = RunLayout()
    schema: str = "letor"
    epochs: int = 40
    batch_size: int = 32
    list_size: int = 0
    tune_trials: int = 0
    num_trees: int = 300
    position_bias: bool | None = None
    text_embeddings: bool = False
    grouping: str = "shuffle"
    max_list_size: int = 200
    beam_args: tuple[str, ...] = ("--direct_running_mode=in_memory",)

    def __post_init__(self):
        if self.test and not self.eval:
            raise ValueError("Give --eval too when giving --test.")
        if self.epochs < 1 or self.batch_size < 1 or self.tune_trials < 0 or self.num_trees < 1:
            raise ValueError(f"epochs, batch_size and num_trees must be >= 1 and tune_trials "
                             f">= 0. Received: {self}")

    @property
    def split_patterns(self) -> str:
        if not self.eval:
            return ""
        items = [f"train={self.train}", f"eval={self.eval}"]
        return ";".join(items + ([f"test={self.test}"] if self.test else []))


def _fn_path(fn) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


def create_pipeline(config: RankingConfig) -> tfx.dsl.Pipeline:
    """Builds the ranking pipeline from `config`."""
    example_gen = ClickLogExampleGen(input_pattern=config.train,
                                     split_patterns=config.split_patterns,
                                     max_list_size=config.max_list_size,
                                     grouping=config.grouping)
    examples = example_gen.outputs["examples"]
    validation = add_validation(examples, config.schema, infer_unlisted=config.schema == "letor")
    schema = validation[1].outputs["schema"]
    gate = validation[-1]
    position_bias = config.schema == "clicklog" if config.position_bias is None \
        else config.position_bias
    custom = {"epochs": config.epochs, "batch_size": config.batch_size,
              "list_size": config.list_size, "position_bias": position_bias,
              "use_text": config.text_embeddings,
              "max_trials": max(1, config.tune_trials)}
    components = [example_gen, *validation]
    hyperparameters = None
    if config.tune_trials:
        tuner = tfx.components.Tuner(
            tuner_fn=_fn_path(ranking_trainer.tuner_fn), examples=examples, schema=schema,
            train_args=tfx.proto.TrainArgs(num_steps=0), eval_args=tfx.proto.EvalArgs(num_steps=0),
            custom_config=custom)
        tuner.add_upstream_node(gate)
        hyperparameters = tuner.outputs["best_hyperparameters"]
        components.append(tuner)
    trainer = tfx.components.Trainer(
        run_fn=_fn_path(ranking_trainer.run_fn), examples=examples, schema=schema,
        hyperparameters=hyperparameters, train_args=tfx.proto.TrainArgs(num_steps=0),
        eval_args=tfx.proto.EvalArgs(num_steps=0), custom_config=custom)
    trainer.add_upstream_node(gate)
    lambdamart = TrainLambdaMart(examples=examples, schema=schema, num_trees=config.num_trees)
    lambdamart.add_upstream_node(gate)
    evaluator = EvaluateRankers(examples=examples, schema=schema,
                                neural=trainer.outputs["model"],
                                lambdamart=lambdamart.outputs["model"],
                                serving_dir=config.layout.serving(NAME),
                                report_dir=config.layout.reports(NAME))
    infra = InfraValidate(model=evaluator.outputs["model"])
    pusher = PushAtomically(model=evaluator.outputs["model"],
                            model_blessing=evaluator.outputs["blessing"],
                            infra_blessing=infra.outputs["blessing"],
                            serving_base=config.layout.serving(NAME))
    components += [trainer, lambdamart, evaluator, infra, pusher]
    return tfx.dsl.Pipeline(
        pipeline_name=NAME, pipeline_root=config.layout.pipeline_root(NAME),
        metadata_connection_config=tfx.orchestration.metadata
        .sqlite_metadata_connection_config(config.layout.metadata_path),
        components=components, enable_cache=True, beam_pipeline_args=list(config.beam_args))
