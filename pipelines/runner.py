"""Runs a TFX pipeline on the embedded defaults (LocalDagRunner, SQLite ML Metadata) and
shows progress: one line per component as it starts and finishes.

SQLite ML Metadata has one writer at a time, so a run holds an exclusive lock on
`<metadata>.lock` (flock) while it runs: a second `cuttingedge run` on the same output root
is refused at once with the holder named, instead of racing on the database and the pipeline
root. The lock dies with its process, so a killed run never leaves a stale lock.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import logging
import os
import re
import sys
import time

from tfx import v1 as tfx

_EVENT = re.compile(r"Component (\S+) is (running|finished)")


class _ProgressHandler(logging.Handler):
    """Turns TFX's "Component X is running/finished" log records into progress lines."""

    def __init__(self, total: int, stream):
        super().__init__(logging.INFO)
        self._total, self._stream, self._done, self._started = total, stream, 0, {}

    def emit(self, record):
        match = _EVENT.search(record.getMessage())
        if not match:
            return
        name, state = match.groups()
        if state == "running":
            self._started[name] = time.monotonic()
            print(f"  [{self._done + 1}/{self._total}] {name} ...", file=self._stream,
                  flush=True)
        else:
            self._done += 1
            took = time.monotonic() - self._started.get(name, time.monotonic())
            print(f"  [{self._done}/{self._total}] {name} done in {took:.1f}s",
                  file=self._stream, flush=True)


class _DropNoise(logging.Filter):
    """Hides TFX warnings that say nothing actionable to users of these pipelines."""

    NOISE = ("ArtifactQuery.property_predicate is not supported",)

    def filter(self, record):
        return not any(text in record.getMessage() for text in self.NOISE)


@contextlib.contextmanager
def _progress(total: int, stream):
    """Shows progress lines and keeps TFX's INFO chatter off the screen meanwhile."""
    root = logging.getLogger()  # absl and TFX loggers propagate here
    absl = logging.getLogger("absl")  # TF and Keras may raise its level; TFX logs through it
    absl_level = absl.level
    absl.setLevel(logging.INFO)
    handler = _ProgressHandler(total, stream)
    saved_level, saved = root.level, [(h, h.level) for h in root.handlers]
    noise = _DropNoise()
    for other, level in saved:
        other.setLevel(max(level, logging.WARNING))
        other.addFilter(noise)
    logging.getLogger("tensorflow").setLevel(logging.WARNING)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(saved_level)
        absl.setLevel(absl_level)
        for other, level in saved:
            other.setLevel(level)
            other.removeFilter(noise)


class PipelineBusyError(RuntimeError):
    """Another run holds the ML Metadata lock of this output root."""


def _sqlite_path(pipeline: tfx.dsl.Pipeline) -> str | None:
    config = pipeline.metadata_connection_config
    if config is None or not config.HasField("sqlite"):
        return None
    return config.sqlite.filename_uri or None


@contextlib.contextmanager
def metadata_lock(metadata_path: str | None, pipeline_name: str):
    """Holds an exclusive, non-blocking flock on `<metadata_path>.lock` (module docstring).

    Raises:
      PipelineBusyError: naming the run that holds the lock.
    """
    if not metadata_path:
        yield
        return
    os.makedirs(os.path.dirname(os.path.abspath(metadata_path)), exist_ok=True)
    path = metadata_path + ".lock"
    handle = open(path, "a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise PipelineBusyError(
                f"Another run is using the ML Metadata store {metadata_path} ({holder}). Wait "
                f"for it to finish, or run with another --output.") from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pipeline": pipeline_name, "pid": os.getpid(),
                                 "started": datetime.datetime.now().isoformat(
                                     timespec="seconds")}))
        handle.flush()
        yield
    finally:
        handle.close()  # releases the flock


def run_pipeline(pipeline: tfx.dsl.Pipeline, stream=None) -> float:
    """Runs `pipeline` with LocalDagRunner, printing progress; returns the seconds it took.

    Component failures propagate as the exception the component raised.

    Raises:
      PipelineBusyError: another run holds this output root's ML Metadata lock.
    """
    stream = stream or sys.stderr
    start = time.monotonic()
    name = pipeline.pipeline_info.pipeline_name
    with metadata_lock(_sqlite_path(pipeline), name):
        print(f"Running pipeline {name!r} ({len(pipeline.components)} components)",
              file=stream, flush=True)
        with _progress(len(pipeline.components), stream):
            tfx.orchestration.LocalDagRunner().run(pipeline)
    took = time.monotonic() - start
    print(f"Pipeline {pipeline.pipeline_info.pipeline_name!r} finished in {took:.1f}s",
          file=stream, flush=True)
    return took
