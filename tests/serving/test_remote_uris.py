"""Artifacts and serving folders on a non-POSIX file system.

TensorFlow's in-memory `ram://` file system stands in for gs:// and s3://: Python's `open`,
`os` and `shutil` cannot see it, only `tf.io.gfile` can, as with an object store.
"""

import doctest
import itertools
import os

import pytest
import tensorflow as tf
from tfx import v1 as tfx

from cuttingedge.components import fileio
from cuttingedge.components.serving import push
from cuttingedge.components.serving.components import PushAtomically
from cuttingedge.components.serving.warmup import write_warmup_requests

standard = tfx.types.standard_artifacts
_fresh = itertools.count()


@pytest.fixture
def ram():
    """A fresh ram:// folder per test."""
    return f"ram://remote-test-{os.getpid()}-{next(_fresh)}"


def test_fileio_docstring_examples_run():
    import cuttingedge.components.fileio as module

    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_json_text_and_files_round_trip_on_a_remote_uri(ram, tmp_path):
    fileio.write_json(fileio.join(ram, "report", "summary.json"), {"alarms": 3})
    fileio.write_text(fileio.join(ram, "report", "notes.txt"), "é ok")
    tf.io.gfile.makedirs(fileio.join(ram, "report", "sub"))
    assert fileio.read_json(fileio.join(ram, "report", "summary.json")) == {"alarms": 3}
    copied = fileio.copy_files(fileio.join(ram, "report"), str(tmp_path / "local"))
    assert copied == ["notes.txt", "summary.json"]  # files only, not the sub-folder
    assert (tmp_path / "local" / "notes.txt").read_text() == "é ok"
    with pytest.raises(tf.errors.NotFoundError):
        fileio.copy_files(fileio.join(ram, "report"), str(tmp_path / "x"), ["missing.json"])


def test_staged_writes_locally_then_lands_remotely_and_only_on_success(ram):
    with fileio.staged(fileio.join(ram, "ok")) as folder:
        assert os.path.isdir(folder)
        with open(os.path.join(folder, "plot.png"), "wb") as handle:
            handle.write(b"\x89PNG")
    assert tf.io.gfile.listdir(fileio.join(ram, "ok")) == ["plot.png"]
    with pytest.raises(RuntimeError):
        with fileio.staged(fileio.join(ram, "failed")) as folder:
            open(os.path.join(folder, "half.csv"), "w").close()
            raise RuntimeError("writer failed")
    assert not fileio.exists(fileio.join(ram, "failed", "half.csv"))
    assert not os.path.exists(folder)  # the local staging folder is removed either way


def test_push_to_a_remote_serving_base_copies_saved_model_pb_last(tiny_model, ram, monkeypatch):
    order = []
    copy = tf.io.gfile.copy

    def recording(source, target, overwrite=False):
        order.append(fileio.basename(target))
        return copy(source, target, overwrite=overwrite)

    monkeypatch.setattr(tf.io.gfile, "copy", recording)
    base = fileio.join(ram, "serving", "tiny")
    with push.serving_lock(base):  # no flock on object stores: a no-op there
        first = push.push_atomically(tiny_model, base, version=3)
    assert first == f"{base}/3"
    assert order[-1] == "saved_model.pb" and len(order) > 1
    second = push.push_atomically(tiny_model, base)
    assert push.versions(base) == [3, int(fileio.basename(second))]
    with pytest.raises(FileExistsError):
        push.push_atomically(tiny_model, base, version=3)
    monkeypatch.setattr(tf.io.gfile, "copy", copy)
    loaded = tf.saved_model.load(first)  # TF Serving reads gs:// through the same layer
    assert "serving_default" in loaded.signatures


def test_push_component_with_remote_artifacts_and_serving_base(tiny_model, tiny, ram, tmp_path):
    write_warmup_requests(tiny_model, [{"x": tiny.x}], model_name="tiny")

    def artifact(kind, uri, **ints):
        made = kind()
        made.uri = str(uri)
        for key, value in ints.items():
            made.set_int_custom_property(key, value)
        return made

    pushed = artifact(standard.PushedModel, fileio.join(ram, "pipeline", "pushed"))
    base = fileio.join(ram, "serving", "tiny")
    PushAtomically.test_call(
        model=artifact(standard.Model, tiny_model.parent),
        model_blessing=artifact(standard.ModelBlessing, tmp_path / "mb", blessed=1),
        infra_blessing=artifact(standard.InfraBlessing, tmp_path / "ib", blessed=1),
        pushed_model=pushed, serving_base=base)
    [version] = push.versions(base)
    assert pushed.get_string_custom_property("pushed_destination") == f"{base}/{version}"
    for folder in (f"{base}/{version}", pushed.uri):
        assert fileio.exists(fileio.join(folder, "saved_model.pb"))
        assert fileio.exists(fileio.join(folder, "assets.extra", "tf_serving_warmup_requests"))
