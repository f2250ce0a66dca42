"""Resolving the files a user named, with errors that say what to do."""

from __future__ import annotations


def match_files(patterns: str) -> list[str]:
    """Expands comma-separated paths or glob patterns into a sorted list of files.

    Raises:
      FileNotFoundError: naming each pattern that matched nothing.

    Example:
      >>> match_files("data/*.parquet")  # doctest: +SKIP
      ['data/part-00000-of-00002.parquet', 'data/part-00001-of-00002.parquet']
    """
    import tensorflow as tf

    files, empty = [], []
    for pattern in (p.strip() for p in patterns.split(",") if p.strip()):
        found = [f for f in tf.io.gfile.glob(pattern) if not tf.io.gfile.isdir(f)]
        if not found and tf.io.gfile.isdir(pattern):
            found = sorted(f"{pattern.rstrip('/')}/{name}" for name in tf.io.gfile.listdir(pattern)
                           if not name.endswith((".query", "/")) and not name.startswith("."))
        (files.extend(sorted(found)) if found else empty.append(pattern))
    if empty or not files:
        raise FileNotFoundError(
            f"No input files match {empty or patterns!r}. Check the path, or quote a glob "
            "such as 'logs/*.parquet' so that the shell does not expand it.")
    return sorted(dict.fromkeys(files))
