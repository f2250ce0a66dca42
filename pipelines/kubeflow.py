"""`cuttingedge compile kubeflow`: a pipeline compiled to a Kubeflow Pipelines v2 spec.

    cuttingedge compile kubeflow anomaly --pipeline-root gs://bucket/root --output anomaly.json

TFX's `KubeflowV2DagRunner` turns the same pipeline object that `cuttingedge run` executes
locally into a PipelineJob JSON (`pipelineSpec` + `runtimeConfig`); every task runs
`python -m tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor` in `image`,
which must hold this package installed with its `kubeflow` extra (see BUILD.md). Compiling
needs only `kfp.pipeline_spec` (the `kfp-pipeline-spec` distribution), not the `kfp` SDK.

On Kubeflow the output root is `pipeline_root` (storage every pod reaches, e.g. gs://) with
the same layout as a local run: artifacts under <root>/pipelines/<pipeline>/ (the spec's
pipeline root), reports under <root>/reports/<pipeline>/, pushed models under
<root>/serving/<pipeline>/. ML Metadata is KFP's own: the spec carries no metadata connection.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import os
import tempfile

from cuttingedge.pipelines.layout import RunLayout

PIPELINES = ("ranking", "logos", "anomaly")
DEFAULT_IMAGE = "cuttingedge:latest"
# Where `pip install` puts packages in the official python:3.10 images; the bundled samples
# (the default inputs) are read from there inside the pods.
DEFAULT_IMAGE_SITE_PACKAGES = "/usr/local/lib/python3.10/site-packages"


class KubeflowUnavailable(ImportError):
    """kfp-pipeline-spec (the `kubeflow` extra) is not installed."""


@dataclasses.dataclass(frozen=True)
class KubeflowLayout(RunLayout):
    """A RunLayout whose root may be a URI (gs://...), kept as given.

    `metadata_path` points into `scratch`, a local folder: the pipeline factories build a
    SQLite connection config (whose helper creates the folder), and `compile_pipeline` drops
    that config before compiling, so nothing is created on the remote root at compile time.
    """

    scratch: str = ""

    def __post_init__(self):
        if not self.output or not str(self.output).strip():
            raise ValueError("The pipeline root must be a non-empty path or URI. Received: ''")
        if "://" not in self.output:
            object.__setattr__(self, "output", os.path.abspath(self.output))

    @property
    def metadata_path(self) -> str:
        return os.path.join(self.scratch or tempfile.gettempdir(), "metadata.sqlite")


def _is_remote_or_absolute(path: str) -> bool:
    return "://" in path or os.path.isabs(path)


def image_sample_path(local_path: str, image_site_packages: str) -> str:
    """Maps a path inside this installed package to the same file in the image."""
    package = os.path.dirname(str(importlib.resources.files("cuttingedge.sample_data")))
    site = os.path.dirname(package)
    if not os.path.isabs(local_path):
        return local_path
    relative = os.path.relpath(local_path, site)
    if relative.startswith(".."):
        return local_path
    return os.path.join(image_site_packages, relative)


def build_pipeline(name: str, layout: RunLayout, beam_args: tuple[str, ...],
                   input_path: str = "",
                   image_site_packages: str = DEFAULT_IMAGE_SITE_PACKAGES,
                   ranking_schema: str = "letor", grouping: str = "shuffle"):
    """The TFX pipeline `name` on `layout`, reading `input_path` (default: bundled sample).

    `ranking_schema` ("letor" or "clicklog") and `grouping` ("shuffle" or "contiguous")
    apply to the ranking pipeline (pipelines.ranking.RankingConfig).
    """
    if name == "ranking":
        from cuttingedge.pipelines import ranking
        from cuttingedge.pipelines.demo import ranking_sample_config

        config = ranking_sample_config(layout, beam_args)
        train = input_path or image_sample_path(config.train, image_site_packages)
        return ranking.create_pipeline(dataclasses.replace(
            config, train=train, schema=ranking_schema, grouping=grouping))
    if name == "logos":
        from cuttingedge.pipelines import logos
        from cuttingedge.pipelines.demo import logos_config, sample_path

        from cuttingedge.trainers.logos.trainer import LogoOptions

        manifest = input_path or image_sample_path(sample_path("logos", "manifest.csv"),
                                                   image_site_packages)
        # LogoOptions defaults its colours and backgrounds to bundled files: the image's copies.
        defaults = LogoOptions()
        options = dataclasses.replace(defaults, **{
            field.name: image_sample_path(getattr(defaults, field.name), image_site_packages)
            for field in dataclasses.fields(defaults) if field.type in ("str", str)})
        return logos.create_pipeline(logos_config(layout, beam_args, options=options,
                                                  input_path=manifest))
    if name == "anomaly":
        from cuttingedge.pipelines import anomaly

        pattern = input_path or image_sample_path(anomaly.sample_pattern(), image_site_packages)
        return anomaly.create_pipeline(anomaly.AnomalyConfig(
            input_pattern=pattern, layout=layout, beam_args=beam_args))
    raise ValueError(f"Unknown pipeline {name!r}. Expected one of: {', '.join(PIPELINES)}.")


def compile_pipeline(name: str, output_file: str, image: str = DEFAULT_IMAGE,
                     pipeline_root: str = "", beam_args: tuple[str, ...] = (),
                     input_path: str = "",
                     image_site_packages: str = DEFAULT_IMAGE_SITE_PACKAGES,
                     ranking_schema: str = "letor", grouping: str = "shuffle") -> dict:
    """Compiles pipeline `name` into `output_file` and returns the written PipelineJob dict.

    Args:
      name: "ranking", "logos" or "anomaly".
      output_file: where to write; `.json` gets the PipelineJob (pipelineSpec and
        runtimeConfig.gcsOutputDirectory), `.yaml`/`.yml` only the pipelineSpec (TFX's
        runner decides by the extension).
      image: container image of every task: this package installed with its `kubeflow` extra.
      pipeline_root: output root on storage the pods reach (gs://... or an absolute path).
      beam_args: Beam options of every Beam-based executor (beam_pipeline_args).
      input_path: the pipeline's data input (a path the pods read); default: the bundled
        sample, as installed in the image under `image_site_packages`.
      ranking_schema, grouping: the ranking pipeline's schema ("letor" or "clicklog") and
        click-log grouping ("shuffle" or "contiguous"); see `build_pipeline`.
    """
    if name not in PIPELINES:
        raise ValueError(f"Unknown pipeline {name!r}. Expected one of: {', '.join(PIPELINES)}.")
    if not pipeline_root or not _is_remote_or_absolute(pipeline_root):
        raise ValueError(f"The pipeline root must be a URI the pods reach (e.g. gs://bucket/root) "
                         f"or an absolute path. Received: {pipeline_root!r}")
    if input_path and not _is_remote_or_absolute(input_path):
        raise ValueError(f"The input must be a URI or an absolute path the pods can read. "
                         f"Received: {input_path!r}")
    if not image:
        raise ValueError("The image must be non-empty. Received: ''")
    if os.path.isdir(output_file):
        raise ValueError(f"The output must be a file, not a folder. Received: {output_file!r}")
    try:
        from tfx.orchestration.kubeflow.v2.kubeflow_v2_dag_runner import (
            KubeflowV2DagRunner, KubeflowV2DagRunnerConfig)
    except ImportError as err:
        raise KubeflowUnavailable(
            f"Compiling for Kubeflow needs kfp-pipeline-spec ({err}): "
            f"pip install -c constraints.txt 'cuttingedge[kubeflow]'") from None

    with tempfile.TemporaryDirectory(prefix="cuttingedge-kfp-") as scratch:
        layout = KubeflowLayout(pipeline_root, scratch=scratch)
        pipeline = build_pipeline(name, layout, tuple(beam_args), input_path,
                                  image_site_packages, ranking_schema, grouping)
        # KFP provides ML Metadata; the runner ignores this config, and dropping it keeps the
        # local SQLite path out of anything that reads the pipeline object.
        pipeline.metadata_connection_config = None
        output_file = os.path.abspath(output_file)
        runner = KubeflowV2DagRunner(
            config=KubeflowV2DagRunnerConfig(default_image=image),
            output_dir=os.path.dirname(output_file), output_filename=os.path.basename(output_file))
        return runner.run(pipeline)
