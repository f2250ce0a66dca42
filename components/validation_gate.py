"""TFX components of the validation gate: a curated schema, then a hard stop on anomalies.

    StatisticsGen -> CuratedSchemaGen -> ExampleValidator -> DataContractGate -> (training)
"""



from tfx import v1 as tfx
from tfx.types import artifact_utils

from cuttingedge import schemas
from cuttingedge.components import contract, fileio
from cuttingedge.components.artifacts import Report

standard = tfx.types.standard_artifacts
InputArtifact = tfx.dsl.components.InputArtifact
OutputArtifact = tfx.dsl.components.OutputArtifact
Parameter = tfx.dsl.components.Parameter


@tfx.dsl.components.component
def CuratedSchemaGen(
    statistics: InputArtifact[standard.ExampleStatistics],
    schema: OutputArtifact[standard.Schema],
    kind: Parameter[str],
    infer_unlisted: Parameter[int] = 0,
    train_split: Parameter[str] = "train",
) -> None:
    """Writes the curated schema of `kind`; with infer_unlisted=1, adds the features it lacks
    as inferred from the training split's statistics."""
    import tensorflow_data_validation as tfdv

    stats_path = fileio.join(statistics.uri, f"Split-{train_split}", "FeatureStats.pb")
    inferred = tfdv.infer_schema(tfdv.load_stats_binary(stats_path))
    seeded = contract.seed_schema(schemas.load(kind), inferred, bool(infer_unlisted))
    tfdv.write_schema_text(seeded, fileio.join(schema.uri, "schema.pbtxt"))


@tfx.dsl.components.component
def DataContractGate(
    anomalies: InputArtifact[standard.ExampleAnomalies],
    report: OutputArtifact[Report],
) -> None:
    """Fails the run, naming each feature and the constraint it broke, on any anomaly."""
    splits = artifact_utils.decode_split_names(anomalies.split_names)
    contract.check_anomalies(anomalies.uri, splits)
    fileio.write_json(fileio.join(report.uri, "validation.json"),
                      {"splits_checked": splits, "anomalies": 0}, indent=None)
