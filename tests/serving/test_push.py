"""Atomic, versioned pushes into a TF Serving model folder, and the lock around them."""

import filecmp
import os
import shutil
import subprocess
import sys
import threading
import time

import pytest

from cuttingedge.components.serving import push
from cuttingedge.components.serving.push import (ServingLockTimeout, push_atomically,
                                                 serving_lock, versions)


@pytest.fixture
def model(tmp_path):
    """A fake SavedModel folder: saved_model.pb, variables/, assets.extra/."""
    root = tmp_path / "model"
    (root / "variables").mkdir(parents=True)
    (root / "assets.extra").mkdir()
    (root / "saved_model.pb").write_bytes(b"graph" * 100)
    (root / "variables" / "variables.data-00000-of-00001").write_bytes(os.urandom(4096))
    (root / "variables" / "variables.index").write_bytes(b"index")
    (root / "assets.extra" / "tf_serving_warmup_requests").write_bytes(b"warm")
    return root


def _same_tree(a, b) -> bool:
    compared = filecmp.dircmp(a, b)
    return (not compared.left_only and not compared.right_only and not compared.diff_files
            and all(_same_tree(os.path.join(a, d), os.path.join(b, d))
                    for d in compared.common_dirs))


def _entries(base):
    return sorted(os.listdir(base))


def test_pushes_are_complete_new_versions_and_keep_earlier_ones(model, tmp_path, monkeypatch):
    base = tmp_path / "serving"
    monkeypatch.setattr(push.time, "time", lambda: 1_700_000_000.7)
    first = push_atomically(model, base)
    second = push_atomically(model, base)  # same second: one more than the newest
    assert (first, second) == (str(base / "1700000000"), str(base / "1700000001"))
    assert versions(base) == [1700000000, 1700000001]
    assert _same_tree(model, first) and _same_tree(model, second)
    assert _entries(base) == ["1700000000", "1700000001"]  # no temporary folder left
    assert push_atomically(model, base, version=5) == str(base / "5")  # explicit, kept apart
    assert push_atomically(model, base) == str(base / "1700000002")  # still the newest


def test_existing_versions_are_never_overwritten(model, tmp_path):
    base = tmp_path / "serving"
    push_atomically(model, base, version=3)
    with pytest.raises(FileExistsError, match=r"Version 3 already exists at .*/serving/3; "
                                              r"versions are never overwritten\."):
        push_atomically(model, base, version=3)


@pytest.mark.parametrize("version", [-1, 1.5, "7", True])
def test_version_must_be_a_non_negative_int(model, tmp_path, version):
    with pytest.raises(ValueError, match=r"version must be a non-negative int .* Received: "
                                         rf"version={version!r}\."):
        push_atomically(model, tmp_path / "serving", version=version)


def test_only_savedmodels_are_pushed(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"empty is not a SavedModel: saved_model\.pb is "
                                         r"missing\. Expected the SavedModel folder itself"):
        push_atomically(tmp_path / "empty", tmp_path / "serving")


def test_a_crash_mid_copy_leaves_no_version_and_keeps_the_earlier_ones(model, tmp_path,
                                                                       monkeypatch):
    base = tmp_path / "serving"
    earlier = push_atomically(model, base, version=1)
    seen = []

    def copy_half_then_fail(source, destination, **kwargs):
        os.makedirs(destination)
        shutil.copy(os.path.join(source, "saved_model.pb"), destination)
        seen.append(sorted(os.listdir(base)))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(push.shutil, "copytree", copy_half_then_fail)
    with pytest.raises(OSError, match="No space left on device"):
        push_atomically(model, base, version=2)
    assert seen == [[f".tmp-2-{os.getpid()}", "1"]]  # partial copy was only in a hidden folder
    assert _entries(base) == ["1"] and versions(base) == [1]
    assert _same_tree(model, earlier)


def test_a_killed_push_leaves_only_an_ignored_hidden_folder(model, tmp_path):
    base = tmp_path / "serving"
    push_atomically(model, base, version=1)
    (base / ".tmp-2-999999").mkdir()  # what SIGKILL mid-copy leaves behind
    assert versions(base) == [1]
    assert push_atomically(model, base) != str(base / ".tmp-2-999999")


def test_the_lock_times_out_naming_the_holder(tmp_path):
    base = tmp_path / "serving"
    with serving_lock(base) as path:
        assert path == str(base / ".lock")
        start = time.monotonic()
        with pytest.raises(ServingLockTimeout, match=rf"Timed out after 0\.2s waiting for "
                                                     rf".*: another run holds .*/serving/\.lock "
                                                     rf"\(pid {os.getpid()}\)\. Wait for it"):
            with serving_lock(base, timeout_s=0.2):
                pass
        assert time.monotonic() - start >= 0.2
    with serving_lock(base, timeout_s=0.2):  # released on exit
        pass


def test_concurrent_pushes_from_threads_get_distinct_complete_versions(model, tmp_path,
                                                                       monkeypatch):
    base = tmp_path / "serving"
    monkeypatch.setattr(push.time, "time", lambda: 1_700_000_000.0)  # both pick the same second
    slow_copy = shutil.copytree

    def copy_slowly(*args, **kwargs):
        time.sleep(0.2)  # wide window: without the lock both would claim version 1700000000
        return slow_copy(*args, **kwargs)

    monkeypatch.setattr(push.shutil, "copytree", copy_slowly)
    pushed, errors = [], []

    def run():
        try:
            with serving_lock(base, timeout_s=10):
                pushed.append(push_atomically(model, base))
        except Exception as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(pushed) == [str(base / "1700000000"), str(base / "1700000001")]
    assert all(_same_tree(model, p) for p in pushed)


_PUSHER = """
import sys, time
from cuttingedge.components.serving.push import push_atomically, serving_lock
start = float(sys.argv[3])
time.sleep(max(0.0, start - time.time()))
with serving_lock(sys.argv[2], timeout_s=30):
    print(push_atomically(sys.argv[1], sys.argv[2]))
"""


def test_concurrent_pushes_from_processes_get_distinct_complete_versions(model, tmp_path):
    base = tmp_path / "serving"
    start = str(time.time() + 1.0)  # both start together, after their imports
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    runs = [subprocess.Popen([sys.executable, "-c", _PUSHER, str(model), str(base), start],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            for _ in range(2)]
    outputs = [run.communicate(timeout=60) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    pushed = sorted(out.strip() for out, _ in outputs)
    assert len(set(pushed)) == 2 and versions(base) == sorted(int(os.path.basename(p))
                                                               for p in pushed)
    assert all(_same_tree(model, p) for p in pushed)
    assert _entries(base) == [".lock", *map(os.path.basename, pushed)]
