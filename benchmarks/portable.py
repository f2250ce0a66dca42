"""Paths in benchmark results, written so that they mean the same on every machine.

    portable_config(vars(args)) -> the same dict, with paths under the repository written
    relative to it and paths under the shared data root as `$CUTTINGEDGE_SHARED_DATA/...`.
"""

from __future__ import annotations

import os

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.normpath(os.environ.get("CUTTINGEDGE_SHARED_DATA",
                                         os.path.join(REPO, "..", "shared", "data")))


def portable_path(value):
    """`value` with the shared data root or the repository replaced; other values unchanged."""
    if not isinstance(value, str) or not os.path.isabs(value):
        return value
    path = os.path.normpath(value)
    if path == SHARED or path.startswith(SHARED + os.sep):
        return "$CUTTINGEDGE_SHARED_DATA" + path[len(SHARED):]
    if path == REPO or path.startswith(REPO + os.sep):
        return os.path.relpath(path, REPO)
    return value


def portable_config(config: dict) -> dict:
    return {key: portable_path(value) for key, value in config.items()}
