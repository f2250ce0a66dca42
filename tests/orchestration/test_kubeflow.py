"""`cuttingedge compile kubeflow`: each pipeline compiled by TFX's KubeflowV2DagRunner, the
spec checked against the pipeline object it came from (tasks, wiring, image, Beam args), and
the command's help and one-line errors."""

import importlib.resources
import json
import subprocess
import sys

import pytest

from cuttingedge.pipelines import cli, kubeflow

IMAGE = "registry.example/cuttingedge:test"
ROOT = "gs://bucket/root"
BEAM = ("--runner=DataflowRunner", "--project=p", "--region=r", "--temp_location=gs://b/tmp")
SITE = "/opt/venv/lib/python3.10/site-packages"


def _run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "cuttingedge.pipelines.cli", *args],
                          capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.fixture(scope="module", params=kubeflow.PIPELINES)
def compiled(request, tmp_path_factory):
    """(name, pipeline object, parsed spec file) of one pipeline."""
    name = request.param
    output = tmp_path_factory.mktemp("kfp") / f"{name}.json"
    returned = kubeflow.compile_pipeline(name, str(output), image=IMAGE, pipeline_root=ROOT,
                                         beam_args=BEAM, image_site_packages=SITE)
    spec = json.loads(output.read_text())
    assert spec == returned
    # The same pipeline object, built the same way, to compare against.
    pipeline = kubeflow.build_pipeline(name, kubeflow.KubeflowLayout(ROOT, scratch=str(
        tmp_path_factory.mktemp("scratch"))), BEAM, image_site_packages=SITE)
    return name, pipeline, spec


def _tasks(spec):
    return spec["pipelineSpec"]["root"]["dag"]["tasks"]


def _resolvers(pipeline) -> set[str]:
    """Ids of the pipeline's Resolver nodes: KubeflowV2DagRunner compiles each into one
    query task per resolved channel, named '<id>-<channel>-resolver'."""
    from tfx import v1 as tfx

    return {c.id for c in pipeline.components if isinstance(c, tfx.dsl.Resolver)}


def _task_of(task: str, resolvers: set[str]) -> str:
    """The pipeline node a compiled task comes from."""
    return next((r for r in resolvers if task.startswith(f"{r}-") and
                 task.endswith("-resolver")), task)


def test_every_component_is_a_task(compiled):
    _, pipeline, spec = compiled
    ids = {c.id for c in pipeline.components}
    assert len(ids) == len(pipeline.components) >= 8
    resolvers = _resolvers(pipeline)
    assert {_task_of(t, resolvers) for t in _tasks(spec)} == ids


def test_wiring_matches_the_upstream_nodes(compiled):
    _, pipeline, spec = compiled
    tasks = _tasks(spec)
    resolvers = _resolvers(pipeline)
    for component in pipeline.components:
        if component.id in resolvers:
            continue
        task = tasks[component.id]
        upstream = {node.id for node in component.upstream_nodes}
        assert {_task_of(t, resolvers) for t in task.get("dependentTasks", [])} == upstream, \
            component.id
        producers = {_task_of(a["taskOutputArtifact"]["producerTask"], resolvers)
                     for a in task.get("inputs", {}).get("artifacts", {}).values()}
        assert producers <= upstream, component.id
        # Every data edge of the pipeline object is an input artifact of the task.
        for key, channel in component.inputs.items():
            if getattr(channel, "producer_component_id", None):
                found = task["inputs"]["artifacts"][key]["taskOutputArtifact"]
                assert _task_of(found["producerTask"], resolvers) == \
                    channel.producer_component_id, (component.id, key)
                assert found["outputArtifactKey"] == channel.output_key, (component.id, key)
    roots = [c.id for c in pipeline.components if not c.upstream_nodes and
             c.id not in resolvers]  # a Resolver reads metadata: it starts no data flow
    assert len(roots) == 1 and roots[0].endswith("ExampleGen")


def test_every_executor_runs_the_image_with_the_beam_args(compiled):
    _, pipeline, spec = compiled
    executors = spec["pipelineSpec"]["deploymentSpec"]["executors"]
    tasks = _tasks(spec)
    components = spec["pipelineSpec"]["components"]
    used = {components[t["componentRef"]["name"]]["executorLabel"] for t in tasks.values()}
    assert used == set(executors)
    for label, executor in executors.items():
        if "resolver" in executor:  # a metadata query (Resolver node), no container
            assert label.endswith("-resolver_executor"), label
            continue
        container = executor["container"]
        assert container["image"] == IMAGE, label
        assert container["command"] == list(
            ("python", "-m", "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor"))
        args = container["args"]
        assert args[args.index("--executor_class_path") + 1]
        assert args[-len(BEAM):] == list(BEAM), label
    assert pipeline.beam_pipeline_args == list(BEAM)


def test_root_is_the_pipeline_root_and_no_local_metadata(compiled):
    name, _, spec = compiled
    assert spec["runtimeConfig"]["gcsOutputDirectory"] == f"{ROOT}/pipelines/{name}"
    assert spec["pipelineSpec"]["pipelineInfo"]["name"] == name
    text = json.dumps(spec)
    assert "sqlite" not in text.lower() and "cuttingedge-kfp-" not in text
    # Reports and pushed models go under the same root, as in a local run.
    assert f"{ROOT}/serving/{name}" in text and f"{ROOT}/reports/{name}" in text


def test_default_input_is_the_bundled_sample_inside_the_image(compiled):
    name, _, spec = compiled
    text = json.dumps(spec)
    assert f"{SITE}/cuttingedge/sample_data/" in text
    # No path of the compiling machine's installed package leaks into the spec.
    here = str(importlib.resources.files("cuttingedge.sample_data"))
    assert here not in text
    assert kubeflow.image_sample_path(here, SITE) == f"{SITE}/cuttingedge/sample_data"


@pytest.mark.parametrize("name, parameter", [("ranking", "input_pattern"),
                                             ("logos", "input_path"),
                                             ("anomaly", "input_pattern")])
def test_input_goes_to_the_example_gen(tmp_path, name, parameter):
    spec = kubeflow.compile_pipeline(name, str(tmp_path / "p.json"), pipeline_root=ROOT,
                                     input_path="gs://data/in/*", beam_args=BEAM)
    (gen,) = [t for k, t in _tasks(spec).items() if k.endswith("ExampleGen")]
    value = gen["inputs"]["parameters"][parameter]["runtimeValue"]["constantValue"]
    assert value == {"stringValue": "gs://data/in/*"}
    # The ExampleGen's own executor runs the default image (the executors' order in the spec
    # follows node hashing, and a Resolver's executor has no container).
    label = spec["pipelineSpec"]["components"][gen["componentRef"]["name"]]["executorLabel"]
    executor = spec["pipelineSpec"]["deploymentSpec"]["executors"][label]
    assert executor["container"]["image"] == kubeflow.DEFAULT_IMAGE


FLINK = ("--runner=FlinkRunner", "--flink_master=flink-jobmanager:8081", "--parallelism=64",
         "--environment_type=EXTERNAL", "--environment_config=localhost:50000")


def test_a_click_log_ranking_run_compiles_with_its_schema_grouping_and_flink(tmp_path):
    """The 1e9-row worked example (README "Scale-out"): click logs, contiguous grouping,
    position tower on, Beam options for Flink passed through unchanged to every executor."""
    output = tmp_path / "ranking.json"
    result = _run("compile", "kubeflow", "ranking", "--pipeline-root", ROOT, "--output",
                  str(output), "--input", "gs://data/clicks/*.parquet", "--schema", "clicklog",
                  "--grouping", "contiguous", "--", *FLINK, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    spec = json.loads(output.read_text())
    tasks = _tasks(spec)
    (gen,) = [t for k, t in tasks.items() if k.endswith("ExampleGen")]
    parameters = gen["inputs"]["parameters"]
    assert parameters["grouping"]["runtimeValue"]["constantValue"] == {
        "stringValue": "contiguous"}
    assert parameters["input_pattern"]["runtimeValue"]["constantValue"] == {
        "stringValue": "gs://data/clicks/*.parquet"}
    custom = json.loads(tasks["Trainer"]["inputs"]["parameters"]["custom_config"][
        "runtimeValue"]["constantValue"]["stringValue"])
    assert custom["position_bias"] is True
    for executor in spec["pipelineSpec"]["deploymentSpec"]["executors"].values():
        assert executor["container"]["args"][-len(FLINK):] == list(FLINK)


@pytest.mark.parametrize("kwargs, message", [
    (dict(name="nope"), "Unknown pipeline 'nope'"),
    (dict(pipeline_root=""), "pipeline root must be"),
    (dict(pipeline_root="relative/root"), "pipeline root must be"),
    (dict(input_path="data/*.csv"), "input must be a URI or an absolute path"),
])
def test_bad_arguments_raise_value_errors(tmp_path, kwargs, message):
    args = dict(name="anomaly", output_file=str(tmp_path / "p.json"), pipeline_root=ROOT)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        kubeflow.compile_pipeline(**args)
    assert not (tmp_path / "p.json").exists()


def test_cli_defaults_match_the_module():
    parser = cli.build_parser()
    args = parser.parse_args(["compile", "kubeflow", "anomaly", "--output", "x.json",
                              "--pipeline-root", ROOT])
    assert args.image == kubeflow.DEFAULT_IMAGE
    assert args.image_site_packages == kubeflow.DEFAULT_IMAGE_SITE_PACKAGES
    assert args.handler is cli._compile_kubeflow


def test_cli_help():
    result = _run("compile", "kubeflow", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    for needed in ("ranking, logos or anomaly", "--pipeline-root", "--image", "--input",
                   "cuttingedge:latest", "kubeflow extra", "KubeflowV2DagRunner",
                   "beam_pipeline_args", "--output"):
        assert needed in text, needed
    top = _run("--help")
    assert top.returncode == 0 and "compile" in top.stdout


def test_cli_compiles_with_beam_args(tmp_path):
    output = tmp_path / "spec" / "anomaly.json"
    result = _run("compile", "kubeflow", "anomaly", "--pipeline-root", ROOT, "--output",
                  str(output), "--image", IMAGE, "--", *BEAM, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"Wrote {output}" in result.stdout and f"{ROOT}/pipelines/anomaly" in result.stdout
    spec = json.loads(output.read_text())
    for executor in spec["pipelineSpec"]["deploymentSpec"]["executors"].values():
        assert executor["container"]["image"] == IMAGE
        assert executor["container"]["args"][-len(BEAM):] == list(BEAM)


@pytest.mark.parametrize("args, message", [
    (("compile", "kubeflow", "nope", "--pipeline-root", ROOT, "--output", "x.json"),
     "cuttingedge compile: error: Unknown pipeline 'nope'. Expected one of: ranking, logos, "
     "anomaly."),
    (("compile", "kubeflow", "anomaly", "--pipeline-root", "rel", "--output", "x.json"),
     "cuttingedge compile: error: The pipeline root must be"),
])
def test_cli_bad_arguments_one_line(tmp_path, args, message):
    result = _run(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and errors[0].startswith(message), result.stderr
    assert not (tmp_path / "x.json").exists()
