"""Dead-letter output and ingestion summary shared by every ingestion job.

Nothing read is dropped silently: every rejected record is written, with its file, row and
reason, as one JSON line under `<dir>/rejected-*.jsonl`, counted in Beam metrics, and totalled
in `<dir>/summary.json`. `check_summary` fails the run only above a rejected fraction.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, NamedTuple

import apache_beam as beam

NAMESPACE = "cuttingedge.ingest"
SUMMARY_FILE = "summary.json"


class Rejected(NamedTuple):
    """A record that broke the data contract, with where it came from and why."""

    source: str
    row: int
    reason: str
    record: str = ""

    def to_json(self) -> str:
        return json.dumps(self._asdict(), sort_keys=True)


class TooManyRejected(RuntimeError):
    """More records were rejected than the configured fraction allows; the run stops."""


class WriteDeadLetter(beam.PTransform):
    """Writes rejected records as JSON lines to `<directory>/rejected-*.jsonl`."""

    def __init__(self, directory: str):
        super().__init__()
        self._directory = directory

    def expand(self, rejected):
        return (rejected
                | "ToJson" >> beam.Map(Rejected.to_json)
                | "Write" >> beam.io.WriteToText(os.path.join(self._directory, "rejected"),
                                                 file_name_suffix=".jsonl"))


class WriteSummary(beam.PTransform):
    """Sums (name, count) pairs into one `summary.json` in `directory`."""

    def __init__(self, directory: str, defaults: dict[str, int]):
        super().__init__()
        self._directory = directory
        self._defaults = dict(defaults)

    def expand(self, counts):
        defaults = self._defaults

        def to_json(pairs):
            totals = dict(defaults)
            totals.update(dict(pairs))
            return json.dumps(totals, sort_keys=True, indent=1)

        return (counts
                | "Sum" >> beam.CombinePerKey(sum)
                | "Collect" >> beam.combiners.ToList()
                | "ToJson" >> beam.Map(to_json)
                | "Write" >> beam.io.WriteToText(os.path.join(self._directory, SUMMARY_FILE),
                                                 shard_name_template=""))


def count(name: str, value: int = 1) -> tuple[str, int]:
    """Increments the Beam counter `name` and returns the pair WriteSummary totals."""
    beam.metrics.Metrics.counter(NAMESPACE, name).inc(value)
    return name, value


@dataclasses.dataclass(frozen=True)
class IngestSummary:
    """What an ingestion run read, kept and rejected."""

    read: int
    rejected: int
    counts: dict[str, int]
    directory: str

    @property
    def rejected_fraction(self) -> float:
        return self.rejected / self.read if self.read else 0.0

    def line(self) -> str:
        extra = ", ".join(f"{k}={v}" for k, v in sorted(self.counts.items())
                          if k not in ("read", "rejected"))
        return (f"read {self.read} records, rejected {self.rejected} "
                f"({100 * self.rejected_fraction:.2f}%); {extra}; dead letters: "
                f"{self.directory}")


def read_summary(directory: str) -> IngestSummary:
    """Loads the summary that WriteSummary wrote in `directory`."""
    import tensorflow as tf

    with tf.io.gfile.GFile(os.path.join(directory, SUMMARY_FILE)) as handle:
        counts = json.load(handle)
    return IngestSummary(read=counts.get("read", 0), rejected=counts.get("rejected", 0),
                         counts=counts, directory=directory)


def first_rejections(directory: str, limit: int = 3) -> list[dict[str, Any]]:
    """Returns up to `limit` rejected records from the dead-letter files, for messages."""
    import tensorflow as tf

    found = []
    for path in sorted(tf.io.gfile.glob(os.path.join(directory, "rejected-*.jsonl"))):
        with tf.io.gfile.GFile(path) as handle:
            for line in handle:
                found.append(json.loads(line))
                if len(found) >= limit:
                    return found
    return found


def preserve(directory: str, destination: str) -> str:
    """Copies the summary and dead-letter files of `directory` to `destination`."""
    import tensorflow as tf

    tf.io.gfile.makedirs(destination)
    for path in tf.io.gfile.glob(os.path.join(directory, "*")):
        tf.io.gfile.copy(path, os.path.join(destination, os.path.basename(path)), overwrite=True)
    return destination


def check_summary(summary: IngestSummary, max_rejected_fraction: float) -> None:
    """Raises TooManyRejected when the rejected fraction is above the limit.

    Raises:
      TooManyRejected: with the counts, the first reasons and where the dead letters are.
    """
    if summary.read == 0:
        raise TooManyRejected(f"No records were read; check the input. Summary: {summary.line()}")
    if summary.rejected_fraction > max_rejected_fraction:
        examples = "; ".join(f"{r['source']} row {r['row']}: {r['reason']}"
                             for r in first_rejections(summary.directory))
        raise TooManyRejected(
            f"{summary.rejected} of {summary.read} records "
            f"({100 * summary.rejected_fraction:.2f}%) were rejected, above the allowed "
            f"{100 * max_rejected_fraction:.2f}%. First reasons: {examples}. Every rejected "
            f"record is in {summary.directory}/rejected-*.jsonl; fix the input or raise "
            "max_rejected_fraction.")
