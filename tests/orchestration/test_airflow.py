"""Airflow DAGs (`cuttingedge.pipelines.airflow_dags`, TFX's AirflowDagRunner): the installed
module loaded by Airflow's DagBag (no import errors; tasks, wiring and schedules against the
pipeline objects the factories build), then the anomaly DAG run once with `airflow dags test`
on 2,400 rows of one NAB series.

Airflow runs in subprocesses with their own AIRFLOW_HOME (SQLite metadata database made by
`airflow db migrate`), so importing Airflow (its config, logging and database engine) touches
neither this process nor the user's ~/airflow."""

import datetime
import importlib.resources
import importlib.util
import json
import os
import sqlite3
import subprocess
import sys

import pytest

from cuttingedge.pipelines import anomaly, demo, logos, ranking
from cuttingedge.pipelines.layout import RunLayout

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
ROWS = 2400
RUN_DATE = "2025-01-02"
# The schedules the DagBag test sets (logos through the environment) and expects.
SCHEDULES = {"ranking": "@daily", "logos": "0 3 * * 1", "anomaly": "@hourly"}

# Runs inside Airflow's process: the DagBag of the module file, as JSON.
_PROBE = """
import json, sys
from airflow.models import DagBag
bag = DagBag(dag_folder=sys.argv[1], include_examples=False)
print("@@" + json.dumps({
    "import_errors": {str(k): str(v) for k, v in bag.import_errors.items()},
    "dags": {dag_id: {
        "schedule": dag.schedule_interval if isinstance(dag.schedule_interval, str) or
                    dag.schedule_interval is None else str(dag.schedule_interval),
        "catchup": dag.catchup, "max_active_runs": dag.max_active_runs,
        "start_date": dag.start_date.isoformat(), "fileloc": dag.fileloc,
        "tasks": {t.task_id: {"type": type(t).__name__, "upstream": sorted(t.upstream_task_ids),
                              "downstream": sorted(t.downstream_task_ids)}
                  for t in dag.tasks}}
        for dag_id, dag in bag.dags.items()}}))
"""


def _module_file() -> str:
    """The installed (wheel) file of cuttingedge.pipelines.airflow_dags, without importing it
    (importing it imports Airflow)."""
    return importlib.util.find_spec("cuttingedge.pipelines.airflow_dags").origin


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory):
    """Environment of an Airflow with its own home and SQLite database, whose dags folder
    holds a symlink to the module (as BUILD.md tells users to do)."""
    root = tmp_path_factory.mktemp("airflow")
    home = root / "home"
    (home / "dags").mkdir(parents=True)
    os.symlink(_module_file(), home / "dags" / "cuttingedge_dags.py")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AIRFLOW", "CUTTINGEDGE_"))}
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # Parsing imports TensorFlow and TFX: more than Airflow's default 30 s on a busy box.
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "600",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "CUTTINGEDGE_OUTPUT": str(root / "runs"),
    })
    result = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert (home / "airflow.db").is_file()
    return root, env


@pytest.fixture(scope="module")
def dagbag(airflow_env):
    """What Airflow's DagBag found in the module file, with the logos schedule set through
    the environment."""
    root, env = airflow_env
    env = {**env, "CUTTINGEDGE_LOGOS_SCHEDULE": SCHEDULES["logos"]}
    result = subprocess.run([sys.executable, "-c", _PROBE, _module_file()], env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("@@")]
    return json.loads(line[2:])


@pytest.fixture(scope="module")
def pipelines(tmp_path_factory):
    """The three pipeline objects, built by the factories the DAGs use."""
    layout = RunLayout(str(tmp_path_factory.mktemp("expected")))
    beam = ("--direct_running_mode=in_memory",)
    return {
        "ranking": ranking.create_pipeline(demo.ranking_sample_config(layout, beam)),
        "logos": logos.create_pipeline(demo.logos_config(layout, beam)),
        "anomaly": anomaly.create_pipeline(anomaly.AnomalyConfig(layout=layout,
                                                                 beam_args=beam)),
    }


def test_the_dagbag_has_no_import_errors_and_the_three_dags(dagbag):
    assert dagbag["import_errors"] == {}
    assert set(dagbag["dags"]) == {"ranking", "logos", "anomaly"}
    for dag in dagbag["dags"].values():
        assert os.path.realpath(dag["fileloc"]) == os.path.realpath(_module_file())


@pytest.mark.parametrize("name", ["ranking", "logos", "anomaly"])
def test_one_task_per_component(dagbag, pipelines, name):
    tasks = dagbag["dags"][name]["tasks"]
    ids = [component.id for component in pipelines[name].components]
    assert len(ids) == len(set(ids)) >= 8
    assert set(tasks) == set(ids)
    assert {task["type"] for task in tasks.values()} == {"AirflowComponent"}


@pytest.mark.parametrize("name", ["ranking", "logos", "anomaly"])
def test_task_dependencies_are_the_upstream_nodes(dagbag, pipelines, name):
    tasks = dagbag["dags"][name]["tasks"]
    components = pipelines[name].components
    for component in components:
        upstream = sorted(node.id for node in component.upstream_nodes)
        downstream = sorted(other.id for other in components
                            if component.id in {node.id for node in other.upstream_nodes})
        assert tasks[component.id]["upstream"] == upstream, component.id
        assert tasks[component.id]["downstream"] == downstream, component.id
    # Spot checks of the wiring that matters: the data gate and infra validation before the
    # push, which comes last.
    ancestors, todo = set(), ["PushAtomically"]
    while todo:
        for task_id in tasks[todo.pop()]["upstream"]:
            if task_id not in ancestors:
                ancestors.add(task_id)
                todo.append(task_id)
    assert {"DataContractGate", "InfraValidate"} <= ancestors
    assert ancestors == set(tasks) - {"PushAtomically"}
    assert tasks["PushAtomically"]["downstream"] == []


@pytest.mark.parametrize("name", ["ranking", "logos", "anomaly"])
def test_schedule(dagbag, name):
    dag = dagbag["dags"][name]
    assert dag["schedule"] == SCHEDULES[name]
    assert dag["catchup"] is False
    assert dag["max_active_runs"] == 1
    assert datetime.datetime.fromisoformat(dag["start_date"]) == datetime.datetime(
        2025, 1, 1, tzinfo=datetime.timezone.utc)


def test_airflow_dags_test_runs_the_anomaly_dag_and_pushes_a_model(airflow_env, tmp_path):
    root, env = airflow_env
    source = importlib.resources.files("cuttingedge.sample_data").joinpath(
        "nab", "realKnownCause", "machine_temperature_system_failure.csv")
    (tmp_path / "machine.csv").write_text(
        "\n".join(source.read_text().splitlines()[:ROWS + 1]) + "\n")
    output = tmp_path / "runs"
    env = {**env, "CUTTINGEDGE_OUTPUT": str(output),
           "CUTTINGEDGE_ANOMALY_INPUT": str(tmp_path / "*.csv"),
           "CUTTINGEDGE_ANOMALY_WINDOW": "32", "CUTTINGEDGE_ANOMALY_EPOCHS": "5"}
    result = subprocess.run([sys.executable, "-m", "airflow", "dags", "test", "anomaly",
                             RUN_DATE], env=env, capture_output=True, text=True, timeout=900)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-6000:]
    assert "DagRun Finished: dag_id=anomaly" in log and "state=success" in log, log[-6000:]

    # Every task succeeded, as recorded in Airflow's own database.
    with sqlite3.connect(str(root / "home" / "airflow.db")) as db:
        states = dict(db.execute(
            "SELECT task_id, state FROM task_instance WHERE dag_id = 'anomaly' AND run_id = ?",
            (f"manual__{RUN_DATE}T00:00:00+00:00",)).fetchall())
    pipeline = anomaly.create_pipeline(anomaly.AnomalyConfig(
        input_pattern=str(tmp_path / "*.csv"), layout=RunLayout(str(tmp_path / "expected")),
        window=32, epochs=5))
    assert states == {component.id: "success" for component in pipeline.components}

    # The model went where `cuttingedge run anomaly --output <output>` pushes it.
    layout = RunLayout(str(output))
    base = layout.serving(anomaly.NAME)
    (version,) = [v for v in os.listdir(base) if v.isdigit()]
    assert os.path.isfile(os.path.join(base, version, "saved_model.pb"))
    assert os.listdir(layout.reports(anomaly.NAME))
    assert os.path.isfile(layout.metadata_path)
