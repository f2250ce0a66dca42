"""Artifact types of the project's own components (stock types are used wherever they fit)."""

from tfx.types.artifact import Artifact


class IngestReport(Artifact):
    """An ingestion run's summary.json and dead-letter files (rejected-*.jsonl)."""

    TYPE_NAME = "cuttingedge.IngestReport"


class Report(Artifact):
    """A human-readable report folder: JSON figures and PNG plots."""

    TYPE_NAME = "cuttingedge.Report"
