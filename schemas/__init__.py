"""Curated TFX schemas (schema.pbtxt) for each data kind, read with importlib.resources.

Example:
  >>> from cuttingedge import schemas
  >>> schemas.load("clicklog").feature[0].name
  'query_id'
"""

from __future__ import annotations

import importlib.resources

KINDS = ("clicklog", "letor", "images", "sensors")


def path(kind: str) -> str:
    """Returns the file path of the curated schema of `kind` (inside the installed package)."""
    if kind not in KINDS:
        raise ValueError(f"Unknown schema kind {kind!r}. Expected one of {list(KINDS)}.")
    return str(importlib.resources.files(__name__).joinpath(f"{kind}.pbtxt"))


def load(kind: str):
    """Returns the curated schema of `kind` as a tensorflow_metadata Schema proto."""
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    text = importlib.resources.files(__name__).joinpath(f"{kind}.pbtxt").read_text()
    return text_format.Parse(text, schema_pb2.Schema())
