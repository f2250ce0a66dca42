"""The validation gate as a list of TFX components, shared by every pipeline.

    examples -> StatisticsGen -> CuratedSchemaGen -> ExampleValidator -> DataContractGate
"""

from __future__ import annotations

from tfx import v1 as tfx

from cuttingedge.components.validation_gate import CuratedSchemaGen, DataContractGate


def add_validation(examples, kind: str, infer_unlisted: bool) -> list:
    """Returns [StatisticsGen, CuratedSchemaGen, ExampleValidator, DataContractGate].

    Args:
      examples: the Examples channel of an ExampleGen.
      kind: curated schema to use (see cuttingedge.schemas.KINDS).
      infer_unlisted: add features the curated schema lacks from the training statistics.
    """
    statistics = tfx.components.StatisticsGen(examples=examples)
    schema = CuratedSchemaGen(statistics=statistics.outputs["statistics"], kind=kind,
                              infer_unlisted=int(infer_unlisted))
    validator = tfx.components.ExampleValidator(statistics=statistics.outputs["statistics"],
                                                schema=schema.outputs["schema"])
    gate = DataContractGate(anomalies=validator.outputs["anomalies"])
    return [statistics, schema, validator, gate]
