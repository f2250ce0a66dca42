"""Where a run writes: everything under one output root.

    <output>/pipelines/<pipeline>/     TFX pipeline root (artifacts of every component)
    <output>/metadata.sqlite           ML Metadata (SQLite), shared by all pipelines
    <output>/reports/<pipeline>/       copies of the human-readable reports
    <output>/serving/<model>/<version>/  pushed SavedModels in TF Serving layout
"""

from __future__ import annotations

import dataclasses
import os


@dataclasses.dataclass(frozen=True)
class RunLayout:
    """The output root of a run and the paths derived from it."""

    output: str = "runs"

    def __post_init__(self):
        if not self.output or not str(self.output).strip():
            raise ValueError("The output root must be a non-empty path. Received: ''")
        object.__setattr__(self, "output", os.path.abspath(self.output))

    def pipeline_root(self, pipeline: str) -> str:
        return os.path.join(self.output, "pipelines", pipeline)

    @property
    def metadata_path(self) -> str:
        return os.path.join(self.output, "metadata.sqlite")

    def reports(self, pipeline: str) -> str:
        return os.path.join(self.output, "reports", pipeline)

    def serving(self, model: str) -> str:
        return os.path.join(self.output, "serving", model)
