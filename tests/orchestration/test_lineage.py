"""`cuttingedge lineage`: a real (tiny) anomaly run, then its pushed model traced back through
ML Metadata to the run, the detector's execution, the Examples, the Schema and the blessings."""

import importlib.resources
import json
import os
import subprocess
import sys

import pytest

from cuttingedge.pipelines import anomaly, cli
from cuttingedge.pipelines.layout import RunLayout
from cuttingedge.pipelines.outputs import _store, latest_artifacts
from cuttingedge.pipelines.runner import run_pipeline

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
ROWS = 2400


@pytest.fixture(scope="module")
def pushed(tmp_path_factory):
    """(layout, pushed version folder, newest artifacts by type, run id) of one anomaly run."""
    root = tmp_path_factory.mktemp("lineage")
    source = importlib.resources.files("cuttingedge.sample_data").joinpath(
        "nab", "realKnownCause", "machine_temperature_system_failure.csv")
    (root / "data").mkdir()
    (root / "data" / "machine.csv").write_text(
        "\n".join(source.read_text().splitlines()[:ROWS + 1]) + "\n")
    layout = RunLayout(str(root / "runs"))
    config = anomaly.AnomalyConfig(input_pattern=str(root / "data" / "*.csv"), layout=layout,
                                   window=32, epochs=5)
    run_pipeline(anomaly.create_pipeline(config))
    base = layout.serving(anomaly.NAME)
    (version,) = [v for v in os.listdir(base) if v.isdigit()]
    (run,) = _store(layout.metadata_path).get_contexts_by_type("pipeline_run")
    return layout, os.path.join(base, version), latest_artifacts(layout.metadata_path,
                                                                 anomaly.NAME), run.name


def _cli(capsys, *args):
    code = cli.main(["lineage", *args])
    out, err = capsys.readouterr()
    return code, out, err


def _run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "cuttingedge.pipelines.cli", *args],
                          capture_output=True, text=True, cwd=cwd, timeout=300)


def test_the_command_prints_run_examples_schema_and_blessings(pushed):
    layout, model_dir, found, run = pushed
    result = _run("lineage", model_dir)
    assert result.returncode == 0, result.stderr[-2000:]
    text = result.stdout
    assert f"Pushed model  {model_dir} (version {os.path.basename(model_dir)}, pushed=1)" in text
    assert f"Run           {run}" in text
    assert f"Pipeline      {anomaly.NAME}" in text
    (examples,) = found["Examples"]
    (schema,) = found["Schema"]
    (model,) = found["Model"]
    assert f"Examples      {examples.uri} splits train,eval,test" in text
    assert f"Schema        {schema.uri}  from CuratedSchemaGen" in text
    assert f"Model         {model.uri}  from DetectAnomalies" in text
    assert "ModelBlessing blessed=1" in text and "InfraBlessing blessed=1" in text
    lines = text.splitlines()
    assert any(line.split() == ["window", "32"] for line in lines)  # the detector's exec props
    assert any(line.split() == ["epochs", "5"] for line in lines)
    assert "<- SensorExampleGen" in text  # the provenance tree reaches the data


def test_json_has_the_same_lineage(pushed, capsys):
    layout, model_dir, found, run = pushed
    code, out, err = _cli(capsys, model_dir, "--json")
    assert code == 0, err
    lineage = json.loads(out)
    assert lineage["run"] == run and lineage["pipeline"] == anomaly.NAME
    assert lineage["metadata"] == layout.metadata_path
    assert lineage["artifact"]["type"] == "PushedModel"
    assert lineage["artifact"]["properties"]["pushed_destination"] == model_dir
    assert lineage["produced_by"]["component"] == "PushAtomically"
    (model,) = lineage["models"]
    assert model["uri"] == found["Model"][0].uri
    producer = next(e for e in lineage["executions"] if e["id"] == model["producer"])
    assert producer["component"] == "DetectAnomalies" and producer["run"] == run
    assert producer["properties"]["window"] == 32 and producer["properties"]["step"] == \
        "auto"  # the pipeline's default: a model chosen per series
    assert model["hyperparameters"] is None  # tune_trials=0: nothing tuned
    assert [e["uri"] for e in lineage["examples"]] == [found["Examples"][0].uri]
    assert lineage["examples"][0]["properties"]["split_names"] == ["train", "eval", "test"]
    assert [s["uri"] for s in lineage["schemas"]] == [found["Schema"][0].uri]
    blessings = {b["type"]: b["properties"]["blessed"] for b in lineage["blessings"]}
    assert blessings == {"ModelBlessing": 1, "InfraBlessing": 1}


def test_a_relative_path_and_an_artifact_uri_work_too(pushed, capsys, monkeypatch):
    layout, model_dir, found, run = pushed
    monkeypatch.chdir(layout.output)
    code, out, err = _cli(capsys, os.path.relpath(model_dir) + "/")
    assert code == 0, err
    assert f"Run           {run}" in out
    code, out, err = _cli(capsys, found["Model"][0].uri)
    assert code == 0, err
    assert out.startswith(f"Artifact      Model {found['Model'][0].uri}")
    assert f"Examples      {found['Examples'][0].uri}" in out


def test_tuned_hyperparameters_beside_the_model_are_shown(pushed, capsys):
    # DetectAnomalies (tune_trials > 0) writes keras_tuner's HyperParameters.get_config() there.
    layout, model_dir, found, _ = pushed
    path = os.path.join(found["Model"][0].uri, "best_hyperparameters.json")
    with open(path, "w") as handle:
        json.dump({"space": [], "values": {"step": "bayesian", "hidden_units": 24}}, handle)
    try:
        code, out, err = _cli(capsys, model_dir, "--json")
        assert code == 0, err
        (model,) = json.loads(out)["models"]
        assert model["hyperparameters"] == {"step": "bayesian", "hidden_units": 24}
        assert model["hyperparameters_file"] == path
        code, out, err = _cli(capsys, model_dir)
        assert '{"hidden_units": 24, "step": "bayesian"}' in out and f"(from {path})" in out
    finally:
        os.remove(path)


def test_explicit_metadata_path(pushed, capsys):
    layout, model_dir, _, run = pushed
    code, out, err = _cli(capsys, model_dir, "--metadata", layout.metadata_path, "--json")
    assert code == 0, err
    assert json.loads(out)["run"] == run


def test_a_folder_that_is_not_a_pushed_model_gets_one_line(pushed, capsys):
    layout, model_dir, _, _ = pushed
    code, out, err = _cli(capsys, layout.serving(anomaly.NAME))  # the base, not a version
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert "is not a pushed model" in err
    assert "expected a folder <output>/serving/<model>/<version>/" in err
    assert model_dir in err  # names the pushed models it does know


def test_no_metadata_above_the_folder_gets_one_line(tmp_path, capsys):
    code, out, err = _cli(capsys, str(tmp_path))
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert "No ML Metadata (metadata.sqlite)" in err and "--metadata PATH" in err


def test_a_metadata_file_that_is_not_ml_metadata_gets_one_line(tmp_path, capsys):
    bad = tmp_path / "metadata.sqlite"
    bad.write_text("not a database\n" * 100)
    code, out, err = _cli(capsys, str(tmp_path / "serving" / "m" / "1"))
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert "is not an ML Metadata database" in err
    code, out, err = _cli(capsys, "x", "--metadata", str(tmp_path / "missing.sqlite"))
    assert code == 2 and "does not exist" in err


def test_help_explains_the_argument():
    result = _run("lineage", "--help")
    assert result.returncode == 0
    for text in ("MODEL_DIR", "--metadata", "--json", "serving/<model>/<version>/",
                 "metadata.sqlite"):
        assert text in result.stdout
    listing = _run("--help")
    assert "lineage" in listing.stdout
