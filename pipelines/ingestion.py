"""Ingestion pipelines: one data kind in, validated Examples out (no training).

They are the first half of every training pipeline and run on their own to check new data.
"""

from __future__ import annotations

import dataclasses

from tfx import v1 as tfx

from cuttingedge.components.example_gen import (ClickLogExampleGen, ImageExampleGen,
                                                SensorExampleGen)
from cuttingedge.pipelines.layout import RunLayout
from cuttingedge.pipelines.validation import add_validation

KINDS = ("clicks", "letor", "images", "sensors")


@dataclasses.dataclass(frozen=True)
class IngestionConfig:
    """One ingestion pipeline.

    Args:
      kind: "clicks" (Parquet/CSV/TFRecord click logs with the generator's columns), "letor"
        (LETOR/SVMlight or any click log whose numeric features are data-set specific),
        "images" or "sensors".
      input: file(s), glob(s) or folder (images: class folders or a path,label manifest).
      layout: the output root.
      max_rejected_fraction: the run fails above this fraction of rejected records.
      max_list_size: click logs only: most documents kept per query.
      grouping: click logs only: "shuffle" (rows of a query anywhere) or "contiguous" (each
        query's rows consecutive in one file: no shuffle, memory flat in the log's size).
      beam_args: Beam pipeline options, passed through unchanged (e.g. --runner=...).
    """

    kind: str
    input: str
    layout: RunLayout = RunLayout()
    max_rejected_fraction: float = 0.01
    max_list_size: int = 200
    grouping: str = "shuffle"
    beam_args: tuple[str, ...] = ("--direct_running_mode=in_memory",)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"Unknown ingestion kind {self.kind!r}. Expected one of "
                             f"{list(KINDS)}.")

    @property
    def name(self) -> str:
        return f"ingest-{self.kind}"


def _example_gen(config: IngestionConfig):
    if config.kind in ("clicks", "letor"):
        return ClickLogExampleGen(input_pattern=config.input,
                                  max_list_size=config.max_list_size,
                                  max_rejected_fraction=config.max_rejected_fraction,
                                  grouping=config.grouping)
    if config.kind == "images":
        return ImageExampleGen(input_path=config.input,
                               max_rejected_fraction=config.max_rejected_fraction)
    return SensorExampleGen(input_pattern=config.input,
                            max_rejected_fraction=config.max_rejected_fraction)


SCHEMA_OF = {"clicks": ("clicklog", False), "letor": ("letor", True),
             "images": ("images", False), "sensors": ("sensors", True)}


def create_pipeline(config: IngestionConfig) -> tfx.dsl.Pipeline:
    """Builds ExampleGen -> StatisticsGen -> CuratedSchemaGen -> ExampleValidator -> gate."""
    example_gen = _example_gen(config)
    kind, infer = SCHEMA_OF[config.kind]
    components = [example_gen, *add_validation(example_gen.outputs["examples"], kind, infer)]
    return tfx.dsl.Pipeline(
        pipeline_name=config.name,
        pipeline_root=config.layout.pipeline_root(config.name),
        metadata_connection_config=tfx.orchestration.metadata
        .sqlite_metadata_connection_config(config.layout.metadata_path),
        components=components,
        enable_cache=True,
        beam_pipeline_args=list(config.beam_args))
