"""ExampleGen-style TFX components: click logs, images and sensor series to Examples.

Each writes the stock `Examples` artifact (Split-<name>/data_tfrecord-*.gz) that StatisticsGen,
Transform and Trainer read, plus an `IngestReport` with the dead letters and summary.json.
A run fails when the rejected fraction exceeds `max_rejected_fraction`.
"""


import logging

import apache_beam as beam
from tfx import v1 as tfx
from tfx.types import artifact_utils

from cuttingedge.components import deadletter
from cuttingedge.components.artifacts import IngestReport
from cuttingedge.components.clicklog.ingest import ClickLogIngestConfig, IngestClickLogs
from cuttingedge.components.clicklog.record import ClickLogColumns
from cuttingedge.components.images.ingest import ImageIngestConfig, IngestImages, list_images
from cuttingedge.components.inputs import match_files
from cuttingedge.components.sensors.ingest import IngestSensorSeries, SensorIngestConfig
from cuttingedge.components.split import SplitConfig

Examples = tfx.types.standard_artifacts.Examples
Parameter = tfx.dsl.components.Parameter
OutputArtifact = tfx.dsl.components.OutputArtifact
BeamPipeline = tfx.dsl.components.BeamComponentParameter[beam.Pipeline]


def _publish(examples, report, split_names, max_rejected_fraction) -> None:
    examples.split_names = artifact_utils.encode_split_names(list(split_names))
    examples.set_string_custom_property("payload_format", "FORMAT_TF_EXAMPLE")
    summary = deadletter.read_summary(report.uri)
    for name, value in summary.counts.items():
        report.set_int_custom_property(name, int(value))
    logging.info("Ingestion: %s", summary.line())
    print(f"[ingest] {summary.line()}", flush=True)
    try:
        deadletter.check_summary(summary, max_rejected_fraction)
    except deadletter.TooManyRejected:
        # TFX deletes a failed execution's outputs: keep the dead letters where users look.
        kept = deadletter.preserve(report.uri, _failed_runs_dir(report.uri))
        deadletter.check_summary(deadletter.read_summary(kept), max_rejected_fraction)


def _failed_runs_dir(uri: str) -> str:
    """<pipeline root>/rejected/<component>-<execution>, from <root>/<component>/<out>/<id>."""
    import os

    head, execution = os.path.split(uri.rstrip("/"))
    component_dir = os.path.dirname(head)
    root, component = os.path.split(component_dir)
    return os.path.join(root, "rejected", f"{component}-{execution}")


@tfx.dsl.components.component(use_beam=True)
def ClickLogExampleGen(
    examples: OutputArtifact[Examples],
    ingest_report: OutputArtifact[IngestReport],
    input_pattern: Parameter[str],
    input_format: Parameter[str] = "auto",
    max_list_size: Parameter[int] = 200,
    cap_strategy: Parameter[str] = "position",
    splits: Parameter[str] = "train:8,eval:1,test:1",
    max_label: Parameter[float] = 4.0,
    seed: Parameter[int] = 0,
    max_rejected_fraction: Parameter[float] = 0.01,
    split_patterns: Parameter[str] = "",
    grouping: Parameter[str] = "shuffle",
    beam_pipeline: BeamPipeline = None,
) -> None:
    """Click logs (Parquet, CSV, TFRecord, LETOR) to one tf.Example per query list.

    Splits are by hashing the query id, unless `split_patterns` ("train=F;eval=G[;test=H]")
    names the files of each split (input_pattern is then ignored). `grouping` "contiguous"
    groups each file while reading it, with no shuffle, for logs whose query lists are
    consecutive in one file (cuttingedge.components.clicklog.ingest).
    """
    split_files, files = _split_files(split_patterns)
    config = ClickLogIngestConfig(
        input_format=input_format, columns=ClickLogColumns(max_label=max_label),
        max_list_size=max_list_size, cap_strategy=cap_strategy,
        splits=SplitConfig.parse(splits), seed=seed,
        max_rejected_fraction=max_rejected_fraction, split_files=split_files,
        grouping=grouping)
    files = files or match_files(input_pattern)
    with beam_pipeline as pipeline:
        _ = pipeline | "IngestClickLogs" >> IngestClickLogs(files, config, examples.uri,
                                                            ingest_report.uri)
    _publish(examples, ingest_report, config.splits.names, max_rejected_fraction)


@tfx.dsl.components.component(use_beam=True)
def ImageExampleGen(
    examples: OutputArtifact[Examples],
    ingest_report: OutputArtifact[IngestReport],
    input_path: Parameter[str],
    splits: Parameter[str] = "train:8,eval:2",
    svg_size: Parameter[int] = 128,
    max_rejected_fraction: Parameter[float] = 0.01,
    beam_pipeline: BeamPipeline = None,
) -> None:
    """Labelled images (class folders or a path,label CSV manifest) to tf.Examples."""
    config = ImageIngestConfig(splits=SplitConfig.parse(splits), svg_size=svg_size,
                               max_rejected_fraction=max_rejected_fraction)
    images = list_images(input_path)
    transform = IngestImages(images, config, examples.uri, ingest_report.uri)
    with beam_pipeline as pipeline:
        _ = pipeline | "IngestImages" >> transform
    import tensorflow as tf

    with tf.io.gfile.GFile(f"{ingest_report.uri}/labels.txt", "w") as handle:
        handle.write("\n".join(transform.classes) + "\n")
    _publish(examples, ingest_report, config.splits.names, max_rejected_fraction)


@tfx.dsl.components.component(use_beam=True)
def SensorExampleGen(
    examples: OutputArtifact[Examples],
    ingest_report: OutputArtifact[IngestReport],
    input_pattern: Parameter[str],
    timestamp_column: Parameter[str] = "timestamp",
    value_columns: Parameter[str] = "",
    window: Parameter[int] = 32,
    splits: Parameter[str] = "train:0.7,eval:0.15,test:0.15",
    max_rejected_fraction: Parameter[float] = 0.01,
    beam_pipeline: BeamPipeline = None,
) -> None:
    """Sensor series (CSV/Parquet, one series per file) to windowed, time-split tf.Examples."""
    config = SensorIngestConfig(
        timestamp_column=timestamp_column,
        value_columns=tuple(c.strip() for c in value_columns.split(",") if c.strip()) or None,
        window=window, splits=parse_fractions(splits),
        max_rejected_fraction=max_rejected_fraction)
    files = match_files(input_pattern)
    with beam_pipeline as pipeline:
        _ = pipeline | "IngestSensorSeries" >> IngestSensorSeries(files, config, examples.uri,
                                                                  ingest_report.uri)
    _publish(examples, ingest_report, config.split_names, max_rejected_fraction)


def _split_files(split_patterns: str):
    """Parses "train=F;eval=G" into ((file, split), ...) and the list of files."""
    pairs = []
    for item in (i.strip() for i in split_patterns.split(";") if i.strip()):
        name, sep, pattern = item.partition("=")
        if not sep:
            raise ValueError(f"split_patterns items must look like 'train=path'. Received: "
                             f"{item!r}")
        pairs.extend((path, name.strip()) for path in match_files(pattern))
    return tuple(pairs), [path for path, _ in pairs]


def parse_fractions(text: str) -> tuple[tuple[str, float], ...]:
    """Parses "train:0.7,eval:0.15,test:0.15"."""
    try:
        return tuple((n.strip(), float(f)) for n, f in (i.split(":") for i in text.split(",")))
    except ValueError:
        raise ValueError(f"Splits must look like 'train:0.7,eval:0.15,test:0.15'. Received: "
                         f"{text!r}") from None
