"""Airflow DAGs of the three pipelines (ranking, logos, anomaly), built by TFX's AirflowDagRunner.

Put this file in Airflow's DAG folder (Airflow looks for DAG objects at module level of the
files in `$AIRFLOW_HOME/dags`), e.g.

    ln -s "$(python -c 'import cuttingedge.pipelines.airflow_dags as m; print(m.__file__)')" \\
        "$AIRFLOW_HOME/dags/cuttingedge_dags.py"

Each DAG is the same pipeline object that `cuttingedge run` executes (the factories in
`cuttingedge.pipelines`), one Airflow task (a PythonOperator) per TFX component with the
component's id as task id, wired by the components' `upstream_nodes`. Needs the `airflow` extra
(`pip install -c constraints.txt "cuttingedge[airflow]"`, see BUILD.md).

Settings, read when Airflow parses this file (set them in the scheduler's environment):

    CUTTINGEDGE_OUTPUT            output root (default: $AIRFLOW_HOME/cuttingedge, where
                                  AIRFLOW_HOME defaults to ~/airflow); same layout as
                                  `cuttingedge run --output`: <root>/pipelines, reports,
                                  serving, metadata.sqlite
    CUTTINGEDGE_START_DATE        first logical date of every DAG (default 2025-01-01, UTC);
                                  no catch-up runs are made for the time before the DAG is on
    CUTTINGEDGE_RANKING_SCHEDULE  default @daily
    CUTTINGEDGE_LOGOS_SCHEDULE    default @weekly
    CUTTINGEDGE_ANOMALY_SCHEDULE  default @hourly  (a preset, a cron expression, or "none"
                                  for manually triggered runs only)
    CUTTINGEDGE_BEAM_ARGS         Beam options for every component, split like a shell
                                  command line (default --direct_running_mode=in_memory)
    CUTTINGEDGE_RANKING_INPUT     ranking training file (default: bundled Vaswani sample)
    CUTTINGEDGE_LOGOS_INPUT       logo manifest (default: bundled 150 icons)
    CUTTINGEDGE_ANOMALY_INPUT     file or glob of sensor series (default: bundled NAB sample)
    CUTTINGEDGE_ANOMALY_WINDOW    past values per forecast (default 96)
    CUTTINGEDGE_ANOMALY_EPOCHS    training epochs (default 40)

All three pipelines share one SQLite ML Metadata file (`<root>/metadata.sqlite`), which takes
one writer at a time: each DAG runs one run at a time (`max_active_runs=1`), and Airflow's
SQLite-backed default (SequentialExecutor) runs one task at a time anyway. With a parallel
executor, keep the three DAGs from running at the same moment (e.g. an Airflow pool of size 1).
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import shlex

# tensorflow_transform (imported with TFX) switches tf.keras to Keras 2 unless this is set;
# the project's models and TFP need Keras 3 (see BUILD.md). Must precede any TF import.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "0")

from tfx.dsl.components.base.base_driver import BaseDriver  # noqa: E402
from tfx.orchestration.airflow.airflow_dag_runner import (  # noqa: E402
    AirflowDagRunner,
    AirflowPipelineConfig,
)

from cuttingedge.pipelines import anomaly, demo, logos, ranking  # noqa: E402
from cuttingedge.pipelines.layout import RunLayout  # noqa: E402

DEFAULT_SCHEDULES = {"ranking": "@daily", "logos": "@weekly", "anomaly": "@hourly"}
DEFAULT_START_DATE = "2025-01-01"
DEFAULT_BEAM_ARGS = ("--direct_running_mode=in_memory",)


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, "").strip() or default


def _env_int(name: str, default: int) -> int:
    value = _env(name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name} must be an integer. Received: {value!r}") from None


def output_root() -> str:
    """$CUTTINGEDGE_OUTPUT, else $AIRFLOW_HOME/cuttingedge (AIRFLOW_HOME: ~/airflow)."""
    airflow_home = _env("AIRFLOW_HOME", os.path.join(os.path.expanduser("~"), "airflow"))
    return _env("CUTTINGEDGE_OUTPUT", os.path.join(airflow_home, "cuttingedge"))


def schedule(pipeline: str) -> str | None:
    """The schedule of `pipeline`: $CUTTINGEDGE_<PIPELINE>_SCHEDULE or the default; "none"
    means manually triggered runs only."""
    value = _env(f"CUTTINGEDGE_{pipeline.upper()}_SCHEDULE", DEFAULT_SCHEDULES[pipeline])
    return None if value.lower() == "none" else value


def start_date() -> datetime.datetime:
    value = _env("CUTTINGEDGE_START_DATE", DEFAULT_START_DATE)
    try:
        date = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"CUTTINGEDGE_START_DATE must be an ISO date (YYYY-MM-DD). "
                         f"Received: {value!r}") from None
    return date if date.tzinfo else date.replace(tzinfo=datetime.timezone.utc)


def beam_args() -> tuple[str, ...]:
    value = _env("CUTTINGEDGE_BEAM_ARGS")
    return tuple(shlex.split(value)) if value else DEFAULT_BEAM_ARGS


def dag_config(pipeline: str) -> dict:
    """The `airflow.models.DAG` arguments of `pipeline`'s DAG."""
    return {
        "schedule": schedule(pipeline),
        "start_date": start_date(),
        "catchup": False,
        "max_active_runs": 1,
        "tags": ["cuttingedge", "tfx"],
        "default_args": {"owner": "cuttingedge", "retries": 0},
        "doc_md": f"TFX pipeline `{pipeline}` (cuttingedge.pipelines.{pipeline}): one task "
                  f"per component. Output root: `{output_root()}`.",
    }


def build_pipeline(name: str, layout: RunLayout, beam: tuple[str, ...]):
    """The TFX pipeline `name` on `layout`, its inputs and sizes from the environment."""
    if name == "ranking":
        config = demo.ranking_sample_config(layout, beam)
        train = _env("CUTTINGEDGE_RANKING_INPUT")
        return ranking.create_pipeline(dataclasses.replace(config, train=train) if train
                                       else config)
    if name == "logos":
        return logos.create_pipeline(demo.logos_config(
            layout, beam, input_path=_env("CUTTINGEDGE_LOGOS_INPUT")))
    if name == "anomaly":
        defaults = anomaly.AnomalyConfig()
        return anomaly.create_pipeline(anomaly.AnomalyConfig(
            input_pattern=_env("CUTTINGEDGE_ANOMALY_INPUT"), layout=layout, beam_args=beam,
            window=_env_int("CUTTINGEDGE_ANOMALY_WINDOW", defaults.window),
            epochs=_env_int("CUTTINGEDGE_ANOMALY_EPOCHS", defaults.epochs)))
    raise ValueError(f"Unknown pipeline {name!r}. Expected one of: "
                     f"{', '.join(DEFAULT_SCHEDULES)}.")


def _unique_artifact_names(driver_class: type[BaseDriver]) -> type[BaseDriver]:
    """`driver_class` naming its output artifacts uniquely in ML Metadata.

    AirflowDagRunner runs TFX's pre-IR launcher, whose driver names every output artifact
    `<output key>:<run id>`, while ML Metadata requires names unique per artifact type. Two
    components with an output of the same key and type in one run (DataContractGate's and
    DetectAnomalies' `report`), or two DAGs on the shared metadata file with the same run id
    (`scheduled__<date>`), then fail with AlreadyExistsError. Downstream inputs are found by
    the producer's execution and output key, not by this name, so only the name changes:
    `<pipeline>:<run id>:<component>:<output key>:<execution id>[:<index>]`.
    """

    class UniqueArtifactNames(driver_class):
        def _prepare_output_artifacts(self, input_artifacts, output_dict, exec_properties,
                                      execution_id, pipeline_info, component_info):
            outputs = super()._prepare_output_artifacts(
                input_artifacts, output_dict, exec_properties, execution_id, pipeline_info,
                component_info)
            for key, artifacts in outputs.items():
                for index, artifact in enumerate(artifacts):
                    artifact.name = ":".join([
                        pipeline_info.pipeline_name, pipeline_info.run_id,
                        component_info.component_id, key, str(execution_id),
                        *([str(index)] if len(artifacts) > 1 else [])])
            return outputs

    UniqueArtifactNames.__name__ = UniqueArtifactNames.__qualname__ = (
        f"UniqueArtifactNames{driver_class.__name__}")
    return UniqueArtifactNames


def create_dag(name: str):
    """The Airflow DAG of pipeline `name` (DAG id = pipeline name)."""
    pipeline = build_pipeline(name, RunLayout(output_root()), beam_args())
    for component in pipeline.components:
        driver_class = getattr(component, "driver_class", None)
        if isinstance(driver_class, type) and issubclass(driver_class, BaseDriver):
            component.driver_class = _unique_artifact_names(driver_class)
    return AirflowDagRunner(AirflowPipelineConfig(airflow_dag_config=dag_config(name))).run(
        pipeline)


# Module-level DAG objects: what Airflow's DagBag collects from this file.
ranking_dag = create_dag("ranking")
logos_dag = create_dag("logos")
anomaly_dag = create_dag("anomaly")
