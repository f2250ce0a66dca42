"""Runs a TFX pipeline on the embedded defaults (LocalDagRunner, SQLite ML Metadata) and
shows progress: one line per component as it starts and finishes."""

from __future__ import annotations

import contextlib
import logging
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


def run_pipeline(pipeline: tfx.dsl.Pipeline, stream=None) -> float:
    """Runs `pipeline` with LocalDagRunner, printing progress; returns the seconds it took.

    Component failures propagate as the exception the component raised.
    """
    stream = stream or sys.stderr
    start = time.monotonic()
    print(f"Running pipeline {pipeline.pipeline_info.pipeline_name!r} "
          f"({len(pipeline.components)} components)", file=stream, flush=True)
    with _progress(len(pipeline.components), stream):
        tfx.orchestration.LocalDagRunner().run(pipeline)
    took = time.monotonic() - start
    print(f"Pipeline {pipeline.pipeline_info.pipeline_name!r} finished in {took:.1f}s",
          file=stream, flush=True)
    return took
