"""Reads ML Metadata to find what a pipeline run produced."""

from __future__ import annotations

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2


def _store(metadata_path: str) -> mlmd.MetadataStore:
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = metadata_path
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    return mlmd.MetadataStore(config)


def latest_artifacts(metadata_path: str, pipeline: str) -> dict[str, list]:
    """Returns {artifact type name: [artifacts]} of the newest run of `pipeline`.

    Cached components count: their outputs are attributed to the run that reused them.
    """
    store = _store(metadata_path)
    runs = [c for c in store.get_contexts_by_type("pipeline_run")
            if c.name.startswith(pipeline) or
            any(p.name == pipeline for p in store.get_parent_contexts_by_context(c.id))]
    if not runs:
        return {}
    newest = max(runs, key=lambda c: c.create_time_since_epoch)
    types = {t.id: t.name for t in store.get_artifact_types()}
    found: dict[str, list] = {}
    for artifact in store.get_artifacts_by_context(newest.id):
        found.setdefault(types[artifact.type_id], []).append(artifact)
    return found
