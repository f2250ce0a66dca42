"""The console command as users call it: help texts and one-line errors, no tracebacks."""

import subprocess
import sys

import pytest


def _run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "cuttingedge.pipelines.cli", *args],
                          capture_output=True, text=True, cwd=cwd, timeout=300)


def test_help_explains_subcommands_and_output_layout():
    result = _run("--help")
    assert result.returncode == 0
    for text in ("generate", "ingest", "demo", "serving/<model>/<version>/", "--runner="):
        assert text in result.stdout


def test_generate_help_explains_the_click_model():
    result = _run("generate", "clicks", "--help")
    assert result.returncode == 0 and "position-based" in result.stdout
    assert "--rows" in result.stdout and "--shards" in result.stdout


@pytest.mark.parametrize("args, message", [
    (("generate", "clicks", "--rows", "-5", "--out", "x"), "argument --rows: must be at least 1"),
    (("generate", "clicks", "--rows", "ten", "--out", "x"), "expected a whole number, got 'ten'"),
    (("ingest", "sensors", "--input", "/no/such/folder/*.csv"), "No input files match"),
    (("ingest", "images", "--input", "/no/such/folder"), "does not exist"),
    (("ingest", "clicks", "--input", "x", "--max-rejected-fraction", "3"), "must be in [0, 1]"),
])
def test_absurd_arguments_get_one_line_errors(tmp_path, args, message):
    result = _run(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_generate_writes_shards(tmp_path):
    result = _run("generate", "clicks", "--rows", "200", "--shards", "2", "--out",
                  str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "part-00000-of-00002.parquet", "part-00001-of-00002.parquet"]
    assert "Wrote 200 rows" in result.stdout


@pytest.mark.parametrize("flag, embeddings", [([], False), (["--text", "overlap"], False),
                                              (["--text", "embeddings"], True)])
def test_run_ranking_text_option_reaches_the_trainer(tmp_path, monkeypatch, flag, embeddings):
    import json

    from cuttingedge.pipelines import cli, runner

    built = []
    monkeypatch.setattr(runner, "run_pipeline", built.append)  # build, do not run
    monkeypatch.setattr(cli, "_print_outputs", lambda *args: None)
    train = tmp_path / "small.train"
    train.write_text("1 qid:1 1:0.5 2:0.1\n0 qid:1 1:0.2 2:0.3\n")
    assert cli.main(["run", "ranking", "--train", str(train), "--output", str(tmp_path / "runs"),
                 *flag]) == 0
    (pipeline,) = built
    trainer = next(c for c in pipeline.components if c.id == "Trainer")
    custom = trainer.exec_properties["custom_config"]
    custom = json.loads(custom) if isinstance(custom, str) else custom
    assert custom["use_text"] is embeddings


def _built_pipelines(monkeypatch, *commands) -> list:
    """The pipelines `cuttingedge COMMAND...` builds, one per command, none of them run."""
    from cuttingedge.pipelines import cli, runner

    built = []
    monkeypatch.setattr(runner, "run_pipeline", built.append)  # build, do not run
    monkeypatch.setattr(cli, "_print_outputs", lambda *args: None)
    for command in commands:
        assert cli.main(command) == 0
    return built


def _custom_configs(pipeline) -> dict:
    """{component id: its custom_config as a dict}, for the components that take one."""
    import json

    configs = {}
    for component in pipeline.components:
        custom = component.exec_properties.get("custom_config")
        if custom is not None:
            configs[component.id] = json.loads(custom) if isinstance(custom, str) else custom
    return configs


def test_run_logos_precision_reaches_the_tuner_trainer_and_baseline(tmp_path, monkeypatch):
    from cuttingedge.trainers.logos import model

    (pipeline,) = _built_pipelines(monkeypatch, ["run", "logos", "--precision",
                                                 "mixed_bfloat16", "--output",
                                                 str(tmp_path / "runs")])
    configs = _custom_configs(pipeline)
    assert {"TuneLogos", "Trainer", "TrainLogoBaseline"} <= set(configs)
    for component, custom in configs.items():
        assert custom["precision"] == "mixed_bfloat16", component
    help_text = _run("run", "logos", "--help").stdout
    assert all(choice in help_text for choice in model.PRECISIONS)


def test_run_logos_test_time_views_reach_the_trainer_baseline_and_evaluation(tmp_path,
                                                                         monkeypatch):
    from cuttingedge.trainers.logos import views

    (pipeline,) = _built_pipelines(monkeypatch, ["run", "logos", "--test-time-views", "7",
                                                 "--output", str(tmp_path / "runs")])
    configs = _custom_configs(pipeline)
    assert [configs[c]["test_time_views"] for c in
            ("Trainer", "TrainLogoBaseline", "EvaluateLogos")] == [7, 7, 7]
    # the choices offered without importing TensorFlow are the views there are
    for count in (0, views.MAX_VIEWS + 1):
        refused = _run("run", "logos", "--test-time-views", str(count), "--output",
                       str(tmp_path / "other"))
        assert refused.returncode == 2 and "--test-time-views" in refused.stderr
    assert "--test-time-views" in _run("run", "logos", "--help").stdout


def test_run_logos_warm_starts_the_trainer_from_the_latest_blessed_model(tmp_path,
                                                                      monkeypatch):
    from tfx import v1 as tfx

    built = _built_pipelines(monkeypatch, *(["run", "logos", *extra, "--output",
                                             str(tmp_path / "runs")]
                                            for extra in ([], ["--from-scratch"])))
    warm, scratch = ({c.id: c for c in pipeline.components} for pipeline in built)
    resolver = warm["latest_blessed_model"]
    assert resolver.exec_properties["resolver_class"] is \
        tfx.dsl.experimental.LatestBlessedModelStrategy
    assert warm["Trainer"].inputs["base_model"].producer_component_id == resolver.id
    assert "latest_blessed_model" not in scratch and "base_model" not in \
        scratch["Trainer"].inputs
    assert "--from-scratch" in _run("run", "logos", "--help").stdout


FLINK = ("--runner=FlinkRunner", "--flink_master=flink-jobmanager:8081", "--parallelism=64",
         "--environment_type=EXTERNAL", "--environment_config=localhost:50000")


def test_ingest_clicks_grouping_and_beam_options_reach_the_pipeline(tmp_path, monkeypatch):
    from cuttingedge.pipelines import cli, runner

    built = []
    monkeypatch.setattr(runner, "run_pipeline", built.append)  # build, do not run
    monkeypatch.setattr(cli, "_print_outputs", lambda *args: None)
    log = tmp_path / "log.csv"
    log.write_text("query_id,position,label\nq,1,1\n")
    assert cli.main(["ingest", "clicks", "--input", str(log), "--grouping", "contiguous",
                     "--output", str(tmp_path / "runs"), "--", *FLINK]) == 0
    (pipeline,) = built
    example_gen = next(c for c in pipeline.components if "ExampleGen" in c.id)
    assert example_gen.exec_properties["grouping"] == "contiguous"
    assert tuple(pipeline.beam_pipeline_args) == FLINK  # passed through unchanged
    with pytest.raises(SystemExit):
        cli.main(["ingest", "clicks", "--input", str(log), "--grouping", "sorted"])


def test_errors_of_every_layer_are_one_line_errors():
    from cuttingedge.components.contract import DataContractError
    from cuttingedge.components.deadletter import TooManyRejected
    from cuttingedge.components.serving.client import PredictError
    from cuttingedge.pipelines import cli
    from cuttingedge.pipelines.runner import PipelineBusyError

    for kind in (DataContractError, TooManyRejected, PredictError, PipelineBusyError):
        assert cli._is_user_error(kind.__new__(kind)), kind
    assert cli._is_user_error(FileNotFoundError("x")) and cli._is_user_error(ValueError("x"))
    assert not cli._is_user_error(RuntimeError("a bug: a traceback, not a one-line error"))


def test_detect_starts_without_the_pipeline_stack(tmp_path):
    """`detect` scores a file without importing Beam or TFX (seconds of start-up)."""
    series = tmp_path / "s.csv"
    series.write_text("timestamp,value\n" + "".join(
        f"2024-01-01 00:{i // 60:02d}:{i % 60:02d},{10 + (i * 7919 % 13) / 13}\n"
        for i in range(400)))
    code = ("import sys; from cuttingedge.pipelines.cli import main; "
            f"status = main(['detect', '--input', {str(series)!r}, '--output', "
            f"{str(tmp_path / 'o.csv')!r}, '--model', 'local_level']); "
            "print('LOADED', sorted(m for m in ('apache_beam', 'tfx') if m in sys.modules)); "
            "sys.exit(status)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "LOADED []" in done.stdout
    assert (tmp_path / "o.csv").read_text().count("\n") == 401
