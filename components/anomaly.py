"""TFX component of the anomaly pipeline: fit, calibrate, score, report, export.

    SensorExampleGen -> validation gate -> DetectAnomalies -> model (Format-Serving) + blessing
                                                           -> InfraValidate -> PushAtomically

DetectAnomalies reads the Examples' splits back into series (`anomaly.records`), fits one
ladder model on the train split of every series (pooled, each series standardised on its
own), calibrates each series' threshold on its eval split, scores every point of every split,
writes the report (per series: scores CSV/Parquet, windows JSON, PNG; summary.json) and exports
the SavedModel (serving_default: recent raw values -> forecast, score, is_anomaly; detect: the
same from tf.Examples) with warmup requests for both signatures. It blesses the model when
every forecast is finite and no series alarms on more than `max_alarm_fraction` of its eval
and test points. With `step="local_level"` each series gets a local level model instead
(`anomaly.level_detector`), fitted on its train and eval splits, with the same report,
signatures and blessing. With `step="auto"` (the default) each series gets the model
`anomaly.model_choice` chooses for it on its train and eval splits, without labels, and the
ladder is fitted (and tuned) on the series that chose it; the SavedModel routes each request
to its series' model, and the summary records every choice and its reason.
"""

import json
import os

from tfx import v1 as tfx

from cuttingedge.components import fileio
from cuttingedge.components.artifacts import Report

standard = tfx.types.standard_artifacts
InputArtifact = tfx.dsl.components.InputArtifact
OutputArtifact = tfx.dsl.components.OutputArtifact
Parameter = tfx.dsl.components.Parameter

SERVING_DIR = "Format-Serving"
MODEL_NAME = "anomaly"


def _warmup(path: str, detector, series_list) -> None:
    """Warmup requests for serving_default and detect (real records), in one file."""
    import numpy as np
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    from cuttingedge.components.serving.request import predict_request
    from cuttingedge.components.serving.warmup import warmup_path

    from cuttingedge.trainers.anomaly.detector import span_of

    first = series_list[0]
    width = span_of(detector.config) + 1
    values = np.nan_to_num(np.asarray(first.values, np.float32))
    rows = np.stack([values[i:i + width] for i in range(2)]) if len(values) > width \
        else np.zeros([2, width], np.float32)
    requests = [("serving_default", {"values": rows, "series": [first.name.encode()] * 2}),
                ("detect", {"examples": list(first.examples)})]
    target = warmup_path(path)
    tf.io.gfile.makedirs(os.path.dirname(target))
    with tf.io.TFRecordWriter(target) as writer:
        for signature, inputs in requests:
            log = prediction_log_pb2.PredictionLog()
            log.predict_log.request.CopyFrom(predict_request(inputs, signature, MODEL_NAME))
            writer.write(log.SerializeToString())


def _report_one(directory, item, detector, config):
    """Scores one series, writes its report files; returns its summary and finiteness."""
    import numpy as np

    from cuttingedge.trainers.anomaly import report
    from cuttingedge.trainers.anomaly.series import from_arrays

    series = from_arrays(item.values, np.array(item.timestamps, "datetime64[s]").astype(str),
                         name=item.name)
    scored = detector.score(series, item.name)
    stem = os.path.splitext(item.name)[0]
    chosen = getattr(detector, "choices", {}).get(item.name)
    paths = report.write_report(directory, series, scored, prefix=f"{stem}_",
                                gap=detector.config.window,
                                model=f"{chosen.model} (auto: {chosen.reason})" if chosen
                                else "")
    start = item.split_sizes.get("train", 0)
    later = scored.exceeds[start + item.split_sizes.get("eval", 0):]
    finite = bool(np.isfinite(scored.mean).all() and np.isfinite(scored.stddev).all())
    return {"rows": len(series), "splits": item.split_sizes,
            "alarms": int(scored.is_anomaly.sum()),
            "alarm_rows": [int(r) for r in item.rows[scored.is_anomaly]],
            "exceed_fraction_after_eval": float(later.mean()) if len(later) else 0.0,
            "threshold": scored.threshold, "finite": finite,
            "files": {k: os.path.basename(v) for k, v in paths.items()},
            "scale": detector.scales[item.name].as_dict()}


@tfx.dsl.components.component
def DetectAnomalies(
    examples: InputArtifact[standard.Examples],
    model: OutputArtifact[standard.Model],
    blessing: OutputArtifact[standard.ModelBlessing],
    report: OutputArtifact[Report],
    step: Parameter[str] = "auto",
    window: Parameter[int] = 100,
    horizon: Parameter[int] = 1,
    epochs: Parameter[int] = 40,
    ensemble: Parameter[int] = 1,
    false_alarm_rate: Parameter[float] = 1e-4,
    alarm_gate: Parameter[str] = "zscore",
    gate_periodic: Parameter[bool] = False,
    ungate_gaussian: Parameter[bool] = False,
    tune_trials: Parameter[int] = 0,
    value_column: Parameter[str] = "value",
    max_alarm_fraction: Parameter[float] = 0.05,
    report_dir: Parameter[str] = "",
    seed: Parameter[int] = 0,
) -> None:
    """Fits on train, calibrates on eval, scores all splits; report, SavedModel, blessing.

    `step="local_level"` fits a local level model per series (`anomaly.level_detector`) on
    its train and eval splits instead of a ladder forecaster; `horizon`, `epochs`,
    `ensemble`, `alarm_gate`, `gate_periodic`, `ungate_gaussian` and `tune_trials` do not
    apply to it. `step="auto"` chooses between the two per series (`anomaly.model_choice`).
    """
    from cuttingedge.trainers.anomaly import level_detector, model_choice, records
    from cuttingedge.trainers.anomaly.detector import DetectorConfig, fit_detector
    from cuttingedge.trainers.anomaly.export import export_detector

    found = records.load_split_series(examples.uri, value_column=value_column)
    if not found:
        raise ValueError(f"No sensor records under {examples.uri}. Expected Split-train, "
                         f"Split-eval and Split-test folders from SensorExampleGen.")
    values = {name: item.values for name, item in found.items()}
    splits = {name: (item.split_sizes.get("train", 0), item.split_sizes.get("eval", 0))
              for name, item in found.items()}
    with fileio.staged(report.uri) as report_local, fileio.staged(model.uri) as model_local:
        serving_dir = os.path.join(model_local, SERVING_DIR)
        if step == level_detector.STEP:  # one local level model per series, no forecaster
            config = level_detector.LevelConfig(window=window,
                                                false_alarm_rate=false_alarm_rate)
            detector = level_detector.fit_level_detector(values, config, splits)
            serving = level_detector.export_level_detector(detector, serving_dir,
                                                           value_column=value_column)
            step_name = step
        else:
            auto = step == model_choice.AUTO
            config = DetectorConfig(step=DetectorConfig.step if auto else step, window=window,
                                    horizon=horizon, epochs=epochs, seed=seed,
                                    ensemble=ensemble,
                                    false_alarm_rate=false_alarm_rate,
                                    alarm_gate=alarm_gate, gate_periodic=gate_periodic,
                                    ungate_gaussian=ungate_gaussian)

            def fit_ladder(chosen, chosen_splits):
                hyperparameters = None
                if tune_trials > 0:
                    from cuttingedge.trainers.anomaly import detector as detector_lib
                    from cuttingedge.trainers.anomaly.search import search_hyperparameters

                    data = detector_lib.prepare(chosen, config, chosen_splits)
                    hyperparameters = search_hyperparameters(
                        chosen, config, tune_trials, os.path.join(report_local, "tuning"),
                        data=data)
                    with open(os.path.join(model_local, "best_hyperparameters.json"),
                              "w") as handle:
                        json.dump(hyperparameters.get_config(), handle)
                return fit_detector(chosen, config, hyperparameters, chosen_splits)

            if auto:
                detector = model_choice.fit_auto_detector(values, config, splits,
                                                          fit_ladder=fit_ladder)
                serving = model_choice.export_auto_detector(detector, serving_dir,
                                                            value_column=value_column)
                step_name = step
                for name, choice in sorted(detector.choices.items()):
                    print(f"[anomaly] {name}: {choice.model} ({choice.reason})")
                if tune_trials > 0 and detector.ladder is None:
                    print("[anomaly] nothing tuned: every series chose the local level model, "
                          "which has no ladder to search")
            else:
                detector = fit_ladder(values, splits)
                serving = export_detector(detector, serving_dir, value_column=value_column)
                step_name = detector.model.name
        summary = {name: _report_one(report_local, item, detector, config)
                   for name, item in found.items()}
        _warmup(serving, detector, list(found.values()))
        worst = max(s["exceed_fraction_after_eval"] for s in summary.values())
        finite = all(s["finite"] for s in summary.values())
        blessed = finite and worst <= max_alarm_fraction
        reason = (f"finite forecasts: {finite}; largest exceed fraction after eval "
                  f"{worst:.4f} (limit {max_alarm_fraction})")
        with open(os.path.join(report_local, "summary.json"), "w") as handle:
            json.dump({"blessed": blessed, "reason": reason, "step": step_name,
                       "series": summary, "history": detector.history}, handle, indent=1,
                      default=float)
    blessing.set_int_custom_property("blessed", int(blessed))
    blessing.set_string_custom_property("reason", reason)
    print(f"[anomaly] {'BLESSED' if blessed else 'NOT blessed'}: {reason}; alarms "
          f"{ {n: s['alarms'] for n, s in summary.items()} }")
    if report_dir:
        fileio.copy_files(report.uri, report_dir)
