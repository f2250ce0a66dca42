"""The TFX adapters, called through `.test_call` on hand-made artifacts."""

import os

import pytest
from tfx import v1 as tfx

from cuttingedge.components.serving import components, infra_validation
from cuttingedge.components.serving.components import InfraValidate, PushAtomically
from cuttingedge.components.serving.push import versions
from cuttingedge.components.serving.warmup import write_warmup_requests

standard = tfx.types.standard_artifacts


def _artifact(kind, uri, **ints):
    artifact = kind()
    artifact.uri = str(uri)
    os.makedirs(uri, exist_ok=True)
    for key, value in ints.items():
        artifact.set_int_custom_property(key, value)
    return artifact


@pytest.fixture
def model(tiny_model, tiny):
    write_warmup_requests(tiny_model, [{"x": tiny.x}], model_name="tiny")
    return _artifact(standard.Model, tiny_model.parent)


def test_infra_validate_blesses_a_servable_model(model, tmp_path, monkeypatch):
    calls = []

    def validate(path, timeout_s):  # the real one is tested in test_infra_validation
        calls.append((path, timeout_s))
        return infra_validation.ValidationResult(True, requests=1)

    monkeypatch.setattr(components.infra_validation, "validate_in_fresh_process", validate)
    blessing = _artifact(standard.InfraBlessing, tmp_path / "blessing")
    InfraValidate.test_call(model=model, blessing=blessing, timeout_s=120)
    assert calls == [(os.path.join(model.uri, "Format-Serving"), 120)]
    assert blessing.get_int_custom_property("blessed") == 1
    assert os.listdir(blessing.uri) == ["INFRA_BLESSED"]


def test_infra_validate_does_not_bless_and_does_not_raise(model, tmp_path, monkeypatch):
    failed = infra_validation.ValidationResult(False, "RequestError: no such input")
    monkeypatch.setattr(components.infra_validation, "validate_in_fresh_process",
                        lambda path, timeout_s: failed)
    blessing = _artifact(standard.InfraBlessing, tmp_path / "blessing")
    InfraValidate.test_call(model=model, blessing=blessing)
    assert blessing.get_int_custom_property("blessed") == 0
    assert blessing.get_string_custom_property("reason") == "RequestError: no such input"
    assert os.listdir(blessing.uri) == ["INFRA_NOT_BLESSED"]


def _push(model, tmp_path, model_blessed, infra_blessed):
    pushed = _artifact(standard.PushedModel, tmp_path / "pushed")
    PushAtomically.test_call(
        model=model,
        model_blessing=_artifact(standard.ModelBlessing, tmp_path / "mb", blessed=model_blessed),
        infra_blessing=_artifact(standard.InfraBlessing, tmp_path / "ib", blessed=infra_blessed),
        pushed_model=pushed, serving_base=str(tmp_path / "serving"))
    return pushed


def test_push_when_both_blessings_agree(model, tmp_path):
    pushed = _push(model, tmp_path, 1, 1)
    [version] = versions(tmp_path / "serving")
    destination = str(tmp_path / "serving" / str(version))
    assert pushed.get_int_custom_property("pushed") == 1
    assert pushed.get_string_custom_property("pushed_destination") == destination
    assert pushed.get_string_custom_property("pushed_version") == str(version)
    for folder in (destination, pushed.uri):  # served, and archived like the stock Pusher
        assert os.path.isfile(os.path.join(folder, "saved_model.pb"))
        assert os.path.isfile(os.path.join(folder, "assets.extra", "tf_serving_warmup_requests"))


@pytest.mark.parametrize("model_blessed, infra_blessed", [(0, 1), (1, 0), (0, 0)])
def test_no_push_without_both_blessings(model, tmp_path, model_blessed, infra_blessed):
    pushed = _push(model, tmp_path, model_blessed, infra_blessed)
    assert pushed.get_int_custom_property("pushed") == 0
    assert not (tmp_path / "serving").exists()
    assert os.listdir(pushed.uri) == []


def test_components_build_into_a_pipeline_graph(tmp_path):
    importer = tfx.dsl.Importer(source_uri=str(tmp_path), artifact_type=standard.Model)
    infra = InfraValidate(model=importer.outputs["result"], timeout_s=60)
    blessing = tfx.dsl.Importer(source_uri=str(tmp_path),
                                artifact_type=standard.ModelBlessing).with_id("model_blessing")
    pusher = PushAtomically(model=importer.outputs["result"],
                            model_blessing=blessing.outputs["result"],
                            infra_blessing=infra.outputs["blessing"],
                            serving_base=str(tmp_path / "serving"))
    assert set(pusher.outputs) == {"pushed_model"}
    assert pusher.exec_properties["serving_base"] == str(tmp_path / "serving")
    assert infra.exec_properties["timeout_s"] == 60
