"""One set of defaults: the pipeline, its component, `detect` and the library agree."""

import inspect

from cuttingedge.trainers.anomaly.detector import DetectorConfig


def test_pipeline_component_and_detect_default_to_the_detectors_settings():
    from cuttingedge.components.anomaly import DetectAnomalies
    from cuttingedge.pipelines.anomaly import AnomalyConfig
    from cuttingedge.trainers.anomaly.cli import detect_file

    from cuttingedge.trainers.anomaly.model_choice import AUTO

    library = DetectorConfig()
    pipeline = AnomalyConfig()
    assert pipeline.step == AUTO  # the model is chosen per series; its ladder step is library's
    names = ("window", "horizon", "epochs", "ensemble", "false_alarm_rate", "train_fraction",
             "validation_fraction", "alarm_gate", "gate_periodic", "ungate_gaussian")
    assert {n: getattr(pipeline, n) for n in names} == {n: getattr(library, n) for n in names}
    component = inspect.signature(DetectAnomalies.test_call).parameters  # the @component body
    assert component["step"].default == AUTO
    for name in ("window", "horizon", "epochs", "ensemble", "false_alarm_rate", "alarm_gate",
                 "gate_periodic", "ungate_gaussian"):
        assert component[name].default == getattr(library, name), name
    from cuttingedge.pipelines import cli

    assert cli.DEFAULT_ALARM_GATE == library.alarm_gate
    assert cli.DEFAULT_ENSEMBLE == library.ensemble
    detect = inspect.signature(detect_file).parameters
    assert (detect["model"].default, detect["train_fraction"].default) == (
        AUTO, library.train_fraction)
    assert cli.AUTO == AUTO
    assert detect["window"].default is None  # the library's, shortened only if it cannot fit
