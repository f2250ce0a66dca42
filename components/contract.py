"""The data contract: curated schemas seeded with inferred features, and anomaly summaries.

Library code (TFDV and protos, no TFX): components/validation_gate.py adapts it to TFX.
"""

from __future__ import annotations

import os

from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2


class DataContractError(RuntimeError):
    """The data broke its schema; the pipeline stops before training."""


def seed_schema(curated: schema_pb2.Schema, inferred: schema_pb2.Schema,
                infer_unlisted: bool) -> schema_pb2.Schema:
    """Returns the curated schema plus, when `infer_unlisted`, the inferred features it lacks.

    Curated features keep every constraint the curator wrote; inferred ones get the inferred
    type and presence, so a data set's own numeric features (LETOR's f1..f46, a sensor's
    value columns) are checked for type and presence without listing them by hand.
    """
    schema = schema_pb2.Schema()
    schema.CopyFrom(curated)
    if infer_unlisted:
        listed = {f.name for f in curated.feature}
        for feature in inferred.feature:
            if feature.name not in listed:
                schema.feature.add().CopyFrom(feature)
    return schema


def describe_anomalies(anomalies: anomalies_pb2.Anomalies, split: str) -> list[str]:
    """Returns one readable line per broken constraint: split, feature, what broke."""
    lines = []
    for feature, info in sorted(anomalies.anomaly_info.items()):
        reasons = "; ".join(f"{r.short_description}: {r.description}" for r in info.reason)
        lines.append(f"split {split!r}, feature {feature!r}: "
                     f"{reasons or info.short_description or info.description}")
    if anomalies.HasField("dataset_anomaly_info"):
        info = anomalies.dataset_anomaly_info
        reasons = "; ".join(f"{r.short_description}: {r.description}" for r in info.reason)
        lines.append(f"split {split!r}, whole data set: {reasons or info.description}")
    return lines


def read_split_anomalies(uri: str, split: str) -> anomalies_pb2.Anomalies:
    """Reads ExampleValidator's `Split-<split>/SchemaDiff.pb`."""
    import tensorflow as tf

    with tf.io.gfile.GFile(os.path.join(uri, f"Split-{split}", "SchemaDiff.pb"), "rb") as f:
        return anomalies_pb2.Anomalies.FromString(f.read())


def check_anomalies(uri: str, splits: list[str]) -> list[str]:
    """Raises DataContractError listing every anomaly in the given splits; else returns []."""
    lines = [line for split in splits
             for line in describe_anomalies(read_split_anomalies(uri, split), split)]
    if lines:
        raise DataContractError(
            f"The data broke its schema in {len(lines)} place(s); the run stops before "
            "training:\n  " + "\n  ".join(lines) + "\nFix the data, or update the curated "
            "schema in cuttingedge/schemas if the change is intended.")
    return lines
