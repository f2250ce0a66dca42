"""`cuttingedge demo`: every pipeline on the bundled sample data, small budgets."""

from __future__ import annotations

import importlib.resources
import os
import sys
import time

from cuttingedge.pipelines.layout import RunLayout


def sample_path(*parts: str) -> str:
    """Returns the path of a file or folder of the bundled sample data."""
    return str(importlib.resources.files("cuttingedge.sample_data").joinpath(*parts))


def ranking_sample_config(layout: RunLayout, beam_args: tuple[str, ...], epochs: int = 10):
    """The ranking pipeline on the bundled Vaswani/NPL sample (real query and document text)."""
    from cuttingedge.pipelines.ranking import RankingConfig

    return RankingConfig(train=sample_path("vaswani", "vaswani.parquet"), layout=layout,
                         schema="letor", epochs=epochs, num_trees=200, beam_args=beam_args)


def logos_config(layout: RunLayout, beam_args: tuple[str, ...], budget=None, options=None,
                 algorithm: str = "hyperband", architectures: str = "cnn",
                 input_path: str = "", warm_start: bool = True):
    """The logo pipeline on the 150 bundled brand icons (or `input_path`)."""
    from cuttingedge.pipelines.logos import LogosConfig
    from cuttingedge.trainers.logos.trainer import LogoOptions
    from cuttingedge.trainers.tuning.budget import SearchBudget

    return LogosConfig(input=input_path or sample_path("logos", "manifest.csv"), layout=layout,
                       options=options or LogoOptions(), algorithm=algorithm,
                       architectures=architectures,
                       budget=budget or SearchBudget(max_trials=10), beam_args=beam_args,
                       warm_start=warm_start)


def run_demo(output: str, beam_args: tuple[str, ...]) -> int:
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from cuttingedge.components.clicklog.generate import ClickGeneratorConfig, GenerateClickLogs
    from cuttingedge.pipelines import ingestion
    from cuttingedge.pipelines.cli import _print_outputs
    from cuttingedge.pipelines.runner import run_pipeline

    layout = RunLayout(output)
    start = time.monotonic()
    clicks_dir = os.path.join(layout.output, "data", "clicks")
    print(f"[demo] generating a small click log in {clicks_dir}", file=sys.stderr)
    with beam.Pipeline(options=PipelineOptions(list(beam_args))) as pipeline:
        _ = pipeline | GenerateClickLogs(ClickGeneratorConfig(rows=5000, shards=2), clicks_dir)
    configs = [
        ingestion.IngestionConfig("clicks", os.path.join(clicks_dir, "*.parquet"), layout,
                                  beam_args=beam_args),
        ingestion.IngestionConfig("images", sample_path("logos", "manifest.csv"), layout,
                                  beam_args=beam_args),
        ingestion.IngestionConfig("sensors", sample_path("nab", "realKnownCause", "*.csv"),
                                  layout, beam_args=beam_args),
    ]
    for config in configs:
        run_pipeline(ingestion.create_pipeline(config))
    from cuttingedge.pipelines import ranking

    run_pipeline(ranking.create_pipeline(ranking_sample_config(layout, beam_args, epochs=15)))
    from cuttingedge.pipelines import logos
    from cuttingedge.trainers.logos.trainer import LogoOptions
    from cuttingedge.trainers.tuning.budget import SearchBudget

    demo_logos = LogoOptions(image_size=32, train_renders=1500, validation_renders=300,
                             heldout_renders=600, epochs=2)
    run_pipeline(logos.create_pipeline(logos_config(
        layout, beam_args, budget=SearchBudget(max_trials=2, max_seconds=120),
        options=demo_logos, algorithm="random")))
    from cuttingedge.pipelines import anomaly

    run_pipeline(anomaly.create_pipeline(anomaly.AnomalyConfig(layout=layout, epochs=20,
                                                               beam_args=beam_args)))
    print(f"\n[demo] finished in {time.monotonic() - start:.0f}s. Outputs:")
    _print_outputs(layout, [c.name for c in configs] + [ranking.NAME, logos.NAME, anomaly.NAME])
    print(f"serving models under {os.path.join(layout.output, 'serving')}; reports under "
          f"{os.path.join(layout.output, 'reports')}")
    return 0
