"""Pushing a SavedModel into a TF Serving model folder: `<serving_base>/<version>/`, atomically.

TF Serving polls the model folder and loads the highest numeric version folder it finds. A
version folder must therefore appear complete or not at all: the model is copied into a hidden
`.tmp-<version>-<pid>` folder beside the versions, then renamed in one step (same file system).
TF Serving ignores non-numeric names, so neither a temporary folder nor the `.lock` file is ever
mistaken for a version. Versions are immutable; earlier ones are kept for rollback.

Several writers (concurrent pipeline runs) push under `serving_lock`, an flock on
`<serving_base>/.lock`, so two pushes never pick the same version.

Object stores (`gs://`, `s3://`) have neither rename of folders nor flock. There the model is
copied straight into its version folder with `saved_model.pb` written last, so TF Serving,
which loads a version only once saved_model.pb exists, never loads a partial copy; and
`serving_lock` cannot lock: keep one writer per model (one scheduled pipeline), which the
pipeline's own run lock on its metadata store gives.

Example:
    >>> import os, tempfile
    >>> model, base = tempfile.mkdtemp(), tempfile.mkdtemp()
    >>> open(os.path.join(model, "saved_model.pb"), "wb").close()
    >>> with serving_lock(base):
    ...     first = push_atomically(model, base, version=7)
    ...     second = push_atomically(model, base)
    >>> os.path.basename(first), int(os.path.basename(second)) > 7
    ('7', True)
    >>> versions(base) == [7, int(os.path.basename(second))]
    True
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import time
from collections.abc import Iterator

import tensorflow as tf

from cuttingedge.components import fileio

LOCK_FILE = ".lock"
SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")
_POLL_S = 0.05


class ServingLockTimeout(TimeoutError):
    """Another run holds the serving folder's lock: retry later, do not push concurrently."""


def versions(serving_base) -> list[int]:
    """The version numbers under `serving_base`, oldest first (temporary folders excluded)."""
    base = os.fspath(serving_base)
    if not fileio.isdir(base):
        return []
    names = [name.rstrip("/") for name in tf.io.gfile.listdir(base)]
    return sorted(int(name) for name in names
                  if name.isdigit() and fileio.isdir(fileio.join(base, name)))


def _check_version(version) -> int:
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise ValueError(f"version must be a non-negative int (TF Serving version folders are "
                         f"numbers). Received: version={version!r}.")
    return version


def _fsync_tree(path: str) -> None:
    """Flushes every file and folder under `path` to disk, so a rename publishes data, not
    holes, even across a power loss."""
    for folder, _, files in os.walk(path):
        for name in files:
            with open(os.path.join(folder, name), "rb") as handle:
                os.fsync(handle.fileno())
        _fsync_dir(folder)


def _fsync_dir(path: str) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def push_atomically(model_dir, serving_base, version: int | None = None) -> str:
    """Copies the SavedModel in `model_dir` to `<serving_base>/<version>/`; returns that path.

    Call it under `serving_lock(serving_base)` when other runs may push to the same folder.

    Args:
        model_dir: a SavedModel folder (with saved_model.pb or saved_model.pbtxt).
        serving_base: the TF Serving model folder (created if missing).
        version: the version number; None for int(time.time()), raised to one more than the
            newest existing version if needed, so the push is always the newest.

    Raises:
        ValueError: `model_dir` is not a SavedModel, or `version` is not a non-negative int.
        FileExistsError: version `version` already exists (versions are never overwritten).
        OSError: the copy failed; no version folder was created and the temporary one is gone.
    """
    source, base = os.fspath(model_dir), os.fspath(serving_base)
    if not any(fileio.exists(fileio.join(source, name)) for name in SAVED_MODEL_FILES):
        raise ValueError(f"{source} is not a SavedModel: saved_model.pb is missing. Expected the "
                         f"SavedModel folder itself (e.g. <model artifact>/Format-Serving).")
    fileio.makedirs(base)
    existing = versions(base)
    if version is None:
        version = max([int(time.time())] + [v + 1 for v in existing[-1:]])
    final = fileio.join(base, str(_check_version(version)))
    if fileio.exists(final):
        raise FileExistsError(f"Version {version} already exists at {final}; versions are never "
                              f"overwritten. Push with another version, or version=None for "
                              f"the next free one.")
    if fileio.is_remote(base) or fileio.is_remote(source):
        fileio.copy_tree(source, final, last=SAVED_MODEL_FILES)
        return final
    temporary = os.path.join(base, f".tmp-{version}-{os.getpid()}")
    shutil.rmtree(temporary, ignore_errors=True)  # left by a killed process with our pid
    try:
        shutil.copytree(source, temporary)
        _fsync_tree(temporary)
        os.rename(temporary, final)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    _fsync_dir(base)
    return final


def _holder(path: str) -> str:
    try:
        with open(path) as handle:
            pid = handle.read().strip()
    except OSError:
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""


@contextlib.contextmanager
def serving_lock(serving_base, timeout_s: float = 600) -> Iterator[str]:
    """Holds an exclusive flock on `<serving_base>/.lock` (created if missing); yields its path.

    The lock is released when the block exits or the holding process dies, so a crashed run
    never leaves the folder locked. Threads must each enter their own `serving_lock`.

    Raises:
        ServingLockTimeout: another run still held the lock after `timeout_s` seconds.
    """
    base = os.fspath(serving_base)
    if fileio.is_remote(base):  # object stores cannot lock (module docstring)
        yield base
        return
    os.makedirs(base, exist_ok=True)
    path = os.path.join(base, LOCK_FILE)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as error:
                if error.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    raise ServingLockTimeout(
                        f"Timed out after {timeout_s}s waiting for {path}: another run holds "
                        f"{path}{_holder(path)}. Wait for it to finish, or raise timeout_s."
                    ) from error
                time.sleep(_POLL_S)
        os.ftruncate(descriptor, 0)
        os.write(descriptor, str(os.getpid()).encode())
        yield path
    finally:
        os.close(descriptor)  # closing the descriptor releases the flock
