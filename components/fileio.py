"""File I/O on artifact URIs, local or remote, through `tf.io.gfile`.

Artifact URIs are local paths with the embedded defaults and object-store URIs (`gs://`,
`s3://`, `hdfs://`) when the pipeline root is remote, as on Kubeflow or Dataflow. Python's
`open`, `os` and `shutil` see only the local disk, so the components write their small
outputs (JSON summaries, copied reports, model folders) through these helpers instead.

Example:
    >>> uri = "ram://fileio-doctest/report"
    >>> write_json(join(uri, "summary.json"), {"blessed": True})
    >>> read_json(join(uri, "summary.json"))
    {'blessed': True}
    >>> copy_files(uri, "ram://fileio-doctest/copy")
    ['summary.json']
"""

from __future__ import annotations

import contextlib
import json
import os
import posixpath
import shutil
import tempfile
from collections.abc import Iterator

import tensorflow as tf


def is_remote(uri) -> bool:
    """True for a URI with a scheme other than file:// (gs://, s3://, hdfs://, ram://)."""
    uri = os.fspath(uri)
    return "://" in uri and not uri.startswith("file://")


def join(uri, *names: str) -> str:
    """`os.path.join` for local paths, "/"-joined for remote URIs."""
    uri = os.fspath(uri)
    return posixpath.join(uri, *names) if is_remote(uri) else os.path.join(uri, *names)


def basename(uri) -> str:
    return os.fspath(uri).rstrip("/").rsplit("/", 1)[-1]


def makedirs(uri) -> None:
    tf.io.gfile.makedirs(os.fspath(uri))


def exists(uri) -> bool:
    return tf.io.gfile.exists(os.fspath(uri))


def isdir(uri) -> bool:
    return tf.io.gfile.isdir(os.fspath(uri))


def write_text(uri, text: str) -> None:
    """Writes `text` to the file `uri`, creating its folder."""
    uri = os.fspath(uri)
    parent = uri.rstrip("/").rsplit("/", 1)[0] if is_remote(uri) else os.path.dirname(uri)
    if parent:
        makedirs(parent)
    with tf.io.gfile.GFile(uri, "w") as handle:
        handle.write(text)


def read_text(uri) -> str:
    with tf.io.gfile.GFile(os.fspath(uri), "r") as handle:
        return handle.read()


def write_json(uri, value, indent: int | None = 1, **dumps_kwargs) -> None:
    """json.dump of `value` into the file `uri` (extra keywords go to json.dumps)."""
    write_text(uri, json.dumps(value, indent=indent, **dumps_kwargs))


def read_json(uri):
    return json.loads(read_text(uri))


def copy_files(source_dir, target_dir, names=None) -> list[str]:
    """Copies the files (not sub-folders) of `source_dir` into `target_dir`, overwriting.

    Args:
        names: only these file names (default: every file). A name that is missing raises.

    Returns:
        The copied names, sorted.
    """
    source_dir, target_dir = os.fspath(source_dir), os.fspath(target_dir)
    if names is None:
        names = [n.rstrip("/") for n in tf.io.gfile.listdir(source_dir)
                 if not tf.io.gfile.isdir(join(source_dir, n.rstrip("/")))]
    makedirs(target_dir)
    for name in names:
        tf.io.gfile.copy(join(source_dir, name), join(target_dir, name), overwrite=True)
    return sorted(names)


def copy_tree(source_dir, target_dir, last: tuple[str, ...] = ()) -> int:
    """Copies the folder `source_dir` into `target_dir` (merged, overwriting); returns the
    number of files copied.

    Files whose base name is in `last` are copied after every other file, so a reader that
    waits for them (TF Serving waits for saved_model.pb) never sees a partial folder.
    """
    source_dir, target_dir = os.fspath(source_dir).rstrip("/"), os.fspath(target_dir)
    pairs = []
    for folder, _, files in tf.io.gfile.walk(source_dir):
        relative = os.fspath(folder)[len(source_dir):].lstrip("/")
        destination = join(target_dir, relative) if relative else target_dir
        makedirs(destination)
        pairs += [(join(folder, name), join(destination, name)) for name in files]
    pairs.sort(key=lambda pair: basename(pair[0]) in last)
    for source, destination in pairs:
        tf.io.gfile.copy(source, destination, overwrite=True)
    return len(pairs)


@contextlib.contextmanager
def staged(uri) -> Iterator[str]:
    """Yields a local folder for writers that need the local disk (pandas, matplotlib, PIL,
    Keras Tuner): `uri` itself when it is local; otherwise a temporary folder whose contents
    are copied to `uri` when the block succeeds (and which is removed either way).

    Example:
        >>> with staged("ram://fileio-doctest/staged") as folder:
        ...     _ = open(os.path.join(folder, "plot.png"), "wb").write(b"png")
        >>> tf.io.gfile.listdir("ram://fileio-doctest/staged")
        ['plot.png']
    """
    if not is_remote(uri):
        makedirs(uri)
        yield os.fspath(uri)
        return
    local = tempfile.mkdtemp(prefix="cuttingedge-staged-")
    try:
        yield local
        copy_tree(local, uri)
    finally:
        shutil.rmtree(local, ignore_errors=True)
