"""Resilience of a whole pipeline run (the anomaly pipeline: the quickest that trains and pushes).

* A run killed in the middle of training and started again reuses every finished component
  from ML Metadata's cache, trains into fresh artifact folders and completes.
* A model that fails its blessing is not pushed; the previous version stays and still loads.
* A second run on the same output root while one runs is refused, naming the holder; a killed
  holder leaves no stale lock.
"""

import importlib.resources
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

from cuttingedge.pipelines import anomaly
from cuttingedge.pipelines.layout import RunLayout
from cuttingedge.pipelines.runner import PipelineBusyError, metadata_lock, run_pipeline

pytestmark = pytest.mark.e2e
ROWS = 2400
SPIKE = 2000

RUN = textwrap.dedent("""
    import os, sys
    os.environ["TF_USE_LEGACY_KERAS"] = "0"
    from cuttingedge.pipelines import anomaly
    from cuttingedge.pipelines.layout import RunLayout
    from cuttingedge.pipelines.runner import run_pipeline
    config = anomaly.AnomalyConfig(input_pattern=sys.argv[1], layout=RunLayout(sys.argv[2]),
                                   window=32, epochs=int(sys.argv[3]))
    run_pipeline(anomaly.create_pipeline(config))
""")


def _series(folder):
    source = importlib.resources.files("cuttingedge.sample_data").joinpath(
        "nab", "realKnownCause", "machine_temperature_system_failure.csv")
    lines = source.read_text().splitlines()[:ROWS + 1]
    for row in range(SPIKE, SPIKE + 6):
        stamp, value = lines[row + 1].split(",")
        lines[row + 1] = f"{stamp},{float(value) + 60.0}"
    folder.mkdir()
    (folder / "machine.csv").write_text("\n".join(lines) + "\n")
    return str(folder / "*.csv")


def _store(layout):
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = layout.metadata_path
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    return metadata_store.MetadataStore(config)


def _executions(layout):
    """{component id: [last_known_state names, oldest first]}."""
    store = _store(layout)
    found = {}
    for execution in sorted(store.get_executions(), key=lambda e: e.id):
        node = execution.properties.get("component_id") or \
            execution.custom_properties.get("component_id")
        name = node.string_value if node else execution.type
        found.setdefault(name.split(".")[-1], []).append(
            metadata_store_pb2.Execution.State.Name(execution.last_known_state))
    return found


def _versions(layout):
    base = layout.serving(anomaly.NAME)
    return sorted(v for v in os.listdir(base) if v.isdigit()) if os.path.isdir(base) else []


@pytest.fixture(scope="module")
def killed_then_resumed(tmp_path_factory):
    root = tmp_path_factory.mktemp("resilience")
    pattern, layout = _series(root / "data"), RunLayout(str(root / "runs"))
    script = root / "run.py"
    script.write_text(RUN)
    # Many epochs (early stopping may end sooner): long enough to be killed while training.
    process = subprocess.Popen([sys.executable, str(script), pattern, layout.output, "400"],
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 300
    seen = []
    for line in process.stderr:
        seen.append(line)
        if "DetectAnomalies ..." in line or time.monotonic() > deadline:
            break
    time.sleep(2.0)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    before = _executions(layout)
    start = time.monotonic()
    run_pipeline(anomaly.create_pipeline(anomaly.AnomalyConfig(
        input_pattern=pattern, layout=layout, window=32, epochs=5)))
    return layout, pattern, "".join(seen), before, _executions(layout), time.monotonic() - start


def test_a_run_killed_while_training_resumes_from_the_cache(killed_then_resumed):
    layout, _, seen, before, after, _ = killed_then_resumed
    assert "DetectAnomalies ..." in seen, seen[-3000:]
    # Killed mid-training: ingestion and validation finished, the detector did not.
    assert before["SensorExampleGen"] == ["COMPLETE"], before
    assert "COMPLETE" not in before.get("DetectAnomalies", []), before
    # Started again: the finished components come from the cache, the detector trains anew.
    for name in ("SensorExampleGen", "StatisticsGen", "CuratedSchemaGen"):
        assert after[name] == ["COMPLETE", "CACHED"], (name, after)
    assert after["DetectAnomalies"][-1] == "COMPLETE"
    assert after["PushAtomically"] == ["COMPLETE"]
    assert len(_versions(layout)) == 1


def test_the_resumed_run_never_reads_the_half_written_model(killed_then_resumed):
    layout, *_ = killed_then_resumed
    store = _store(layout)
    models = [a for a in store.get_artifacts_by_type("Model")]
    live = [m for m in models if m.state == metadata_store_pb2.Artifact.LIVE]
    assert len(live) == 1  # the killed run's output was never published
    pushed = store.get_artifacts_by_type("PushedModel")[-1]
    assert pushed.custom_properties["pushed"].int_value == 1
    assert os.path.dirname(live[0].uri) != os.path.dirname(pushed.uri)
    assert all(m.uri != live[0].uri for m in models if m.state != metadata_store_pb2.Artifact.LIVE)


LOAD = "import sys, tensorflow as tf; tf.saved_model.load(sys.argv[1]); print('LOADED')"


def test_an_unblessed_model_is_not_pushed_and_the_previous_version_stays(killed_then_resumed):
    layout, pattern, *_ = killed_then_resumed
    before = _versions(layout)
    # No alarm at all allowed after calibration: the injected failure makes the gate say no.
    run_pipeline(anomaly.create_pipeline(anomaly.AnomalyConfig(
        input_pattern=pattern, layout=layout, window=32, epochs=6, max_alarm_fraction=0.0)))
    assert _versions(layout) == before
    store = _store(layout)
    blessing = sorted(store.get_artifacts_by_type("ModelBlessing"), key=lambda a: a.id)[-1]
    assert blessing.custom_properties["blessed"].int_value == 0
    pushed = sorted(store.get_artifacts_by_type("PushedModel"), key=lambda a: a.id)[-1]
    assert pushed.custom_properties["pushed"].int_value == 0
    served = os.path.join(layout.serving(anomaly.NAME), before[-1])
    done = subprocess.run([sys.executable, "-c", LOAD, served], capture_output=True, text=True,
                          timeout=180)
    assert "LOADED" in done.stdout, done.stderr[-2000:]


def test_a_second_run_on_the_same_output_root_is_refused(killed_then_resumed, tmp_path):
    layout, pattern, *_ = killed_then_resumed
    with metadata_lock(layout.metadata_path, "anomaly"):
        with pytest.raises(PipelineBusyError, match=r"Another run is using the ML Metadata"):
            run_pipeline(anomaly.create_pipeline(anomaly.AnomalyConfig(
                input_pattern=pattern, layout=layout, window=32, epochs=1)))
        done = subprocess.run([sys.executable, "-m", "cuttingedge.pipelines.cli", "run",
                               "anomaly", "--input", pattern, "--output", layout.output],
                              capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert "Another run is using" in done.stderr and f'"pid": {os.getpid()}' in done.stderr
    assert "Traceback" not in done.stderr


HOLD = textwrap.dedent("""
    import sys, time
    from cuttingedge.pipelines.runner import metadata_lock
    with metadata_lock(sys.argv[1], "holder"):
        print("HELD", flush=True)
        time.sleep(600)
""")


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    path = str(tmp_path / "metadata.sqlite")
    holder = subprocess.Popen([sys.executable, "-c", HOLD, path], stdout=subprocess.PIPE,
                              text=True)
    assert holder.stdout.readline().strip() == "HELD"
    with pytest.raises(PipelineBusyError, match="holder"):
        with metadata_lock(path, "second"):
            pass
    holder.kill()
    holder.wait(timeout=30)
    with metadata_lock(path, "third"):
        pass
