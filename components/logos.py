"""TFX components of the brand-logo pipeline.

    ImageExampleGen -> gate -> TuneLogos (Keras Tuner, budget, records) -> Trainer (run_fn)
                            -> TrainLogoBaseline (ResNet50V2, same budget)
    Trainer + baseline -> EvaluateLogos (held-out renders; bless if it beats the baseline
                          and guessing)
                       -> Pusher

TuneLogos keeps the stock Tuner's contract: its HyperParameters artifact holds exactly one
JSON file of `HyperParameters.get_config()`, so the stock Trainer reads it.
"""

import json
import os
import time

from tfx import v1 as tfx

from cuttingedge.components import fileio
from cuttingedge.components.artifacts import Report

standard = tfx.types.standard_artifacts
InputArtifact = tfx.dsl.components.InputArtifact
OutputArtifact = tfx.dsl.components.OutputArtifact
Parameter = tfx.dsl.components.Parameter


CHANCE_ALPHA = 0.01  # a blessed model's top-1 must be this unlikely under guessing


def blessing_decision(tuned_top1: float, baseline_top1: float, renders: int,
                      brands: int) -> tuple[bool, str]:
    """Blesses the tuned model when it beats the baseline and guessing; returns the reason.

    Guessing gets 1/brands of the held-out renders right. A top-1 that guessing reaches with
    probability CHANCE_ALPHA or more (one-sided binomial) is not served, whatever the
    baseline got: on a tiny budget both models can sit at chance, one render apart.

    Example:
        >>> blessing_decision(0.0067, 0.0050, renders=3000, brands=150)[0]
        False
        >>> blessing_decision(0.62, 0.41, renders=3000, brands=150)[0]
        True
    """
    from scipy.stats import binom

    chance = 1.0 / brands
    correct = int(round(tuned_top1 * renders))
    p_value = float(binom.sf(correct - 1, renders, chance))  # P(guessing gets >= correct)
    beats_chance = p_value < CHANCE_ALPHA
    reason = (f"tuned held-out top-1 {tuned_top1:.4f} vs baseline {baseline_top1:.4f}; "
              f"guessing {chance:.4f} ({brands} brands), p = {p_value:.2g} that it does as well")
    if not beats_chance:
        reason += ": no better than guessing, not served"
    return beats_chance and tuned_top1 > baseline_top1, reason


def _train_files(examples) -> list:
    import tensorflow as tf

    files = sorted(tf.io.gfile.glob(fileio.join(examples.uri, "Split-train", "*")))
    if not files:
        raise FileNotFoundError(f"No training images under {examples.uri}.")
    return files


def _options(custom_config: str):
    from cuttingedge.trainers.logos.trainer import LogoOptions

    return LogoOptions.from_custom_config(json.loads(custom_config or "{}"))


@tfx.dsl.components.component
def TuneLogos(
    examples: InputArtifact[standard.Examples],
    best_hyperparameters: OutputArtifact[standard.HyperParameters],
    tuning: OutputArtifact[Report],
    custom_config: Parameter[str] = "{}",
    algorithm: Parameter[str] = "hyperband",
    architectures: Parameter[str] = "cnn",
    max_trials: Parameter[int] = 10,
    max_seconds: Parameter[float] = 0.0,
    max_dollars: Parameter[float] = 0.0,
    dollars_per_hour: Parameter[float] = 0.0,
    objective: Parameter[str] = "val_accuracy",
    live_dir: Parameter[str] = "",
) -> None:
    """Keras Tuner search over the logo HyperModel within a budget (trials, seconds, dollars:
    whichever ends first); every trial recorded in `tuning` (trials.csv/json, status.json,
    TensorBoard HParams). `live_dir` mirrors the records for `cuttingedge tune status/dashboard`."""
    import keras_tuner

    from cuttingedge.trainers.logos import model as model_lib
    from cuttingedge.trainers.logos import trainer
    from cuttingedge.trainers.tuning.budget import SearchBudget
    from cuttingedge.trainers.tuning.search import make_tuner, search

    options = _options(custom_config)
    budget = SearchBudget(max_trials=max_trials or None, max_seconds=max_seconds or None,
                          max_dollars=max_dollars or None,
                          dollars_per_hour=dollars_per_hour or None)
    data = trainer.prepare(_train_files(examples), options)
    hypermodel = model_lib.LogoHyperModel(options.image_size, len(data.kit.brands),
                                          tuple(a.strip() for a in architectures.split(",")),
                                          precision=options.precision)
    extra = {"max_epochs": options.epochs} if algorithm == "hyperband" else {}
    epochs = {} if algorithm == "hyperband" else {"epochs": options.epochs}
    with fileio.staged(tuning.uri) as tuning_dir:
        records = live_dir or tuning_dir
        tuner = make_tuner(algorithm, hypermodel, objective=objective,
                           directory=os.path.join(tuning_dir, "keras_tuner"),
                           project_name="logos", budget=budget, seed=options.seed,
                           out_dir=records, **extra)
        result = search(tuner, verbose=0, **trainer.fit_kwargs(data, options), **epochs)
        if result.best_hyperparameters is None:
            raise RuntimeError(f"No trial completed ({result.stop_reason}); see {records}.")
    fileio.write_json(fileio.join(best_hyperparameters.uri, "best_hyperparameters.txt"),
                      result.best_hyperparameters.get_config(), indent=None)
    if live_dir:
        fileio.copy_tree(live_dir, tuning.uri)
    tuning.set_string_custom_property("stop_reason", str(result.stop_reason))
    tuning.set_float_custom_property("best_score", float(result.best_score))
    print(f"[tuning] best {objective} {result.best_score:.4f} after {len(result.trials)} "
          f"trials; stopped: {result.stop_reason}")


@tfx.dsl.components.component
def TrainLogoBaseline(
    examples: InputArtifact[standard.Examples],
    model: OutputArtifact[standard.Model],
    custom_config: Parameter[str] = "{}",
) -> None:
    """ResNet50V2 from scratch with the same input size, renders and epochs as the tuned model."""
    import keras

    from cuttingedge.trainers.logos import model as model_lib
    from cuttingedge.trainers.logos import trainer

    options = _options(custom_config)
    keras.utils.set_random_seed(options.seed)
    data = trainer.prepare(_train_files(examples), options)
    baseline = model_lib.resnet_baseline(options.image_size, len(data.kit.brands),
                                         precision=options.precision)
    history = trainer.fit(baseline, data, options)
    trainer.save_model(baseline, data.kit.brands, options,
                       fileio.join(model.uri, "Format-Serving"), history)


def _latency_ms(serving_dir: str, image: bytes, calls: int = 30) -> float:
    import numpy as np
    import tensorflow as tf

    serve = tf.saved_model.load(serving_dir).signatures["serving_default"]
    request = tf.constant([image])
    serve(image_bytes=request)
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        serve(image_bytes=request)
        times.append(1000 * (time.perf_counter() - start))
    return float(np.median(times))


@tfx.dsl.components.component
def EvaluateLogos(
    examples: InputArtifact[standard.Examples],
    model: InputArtifact[standard.Model],
    baseline: InputArtifact[standard.Model],
    blessing: OutputArtifact[standard.ModelBlessing],
    evaluation: OutputArtifact[Report],
    custom_config: Parameter[str] = "{}",
    report_dir: Parameter[str] = "",
) -> None:
    """Held-out top-1/top-5, parameters and latency of tuned model and baseline, each scored
    as it is served (averaged over `test_time_views` views); blesses the tuned model only
    when its held-out top-1 beats the baseline's and guessing (`blessing_decision`)."""
    import io

    import keras
    import numpy as np
    from PIL import Image

    from cuttingedge.trainers.logos import kit as kit_lib
    from cuttingedge.trainers.logos import report, trainer, views

    options = _options(custom_config)
    brand_kit = kit_lib.kit_from_examples(_train_files(examples), 96, options.colours_csv)
    images, labels = trainer.heldout_pool(brand_kit, options)
    sample = io.BytesIO()
    Image.fromarray((images[0] * 255).astype(np.uint8)).save(sample, format="PNG")
    figures = {}
    for name, artifact in (("tuned", model), ("baseline", baseline)):
        net = keras.models.load_model(fileio.join(artifact.uri, "model.keras"))
        # as the model is served: averaged over options.test_time_views views
        probabilities = views.predict(net, images, options.test_time_views)
        ranked = np.argsort(-probabilities, axis=1)
        figures[name] = {
            "heldout_top1": float(np.mean(ranked[:, 0] == labels)),
            "heldout_top5": float(np.mean(np.any(ranked[:, :5] == labels[:, None], axis=1))),
            "parameters": int(net.count_params()),
            "latency_ms_batch1": _latency_ms(fileio.join(artifact.uri, "Format-Serving"),
                                             sample.getvalue()),
        }
    blessed, reason = blessing_decision(figures["tuned"]["heldout_top1"],
                                        figures["baseline"]["heldout_top1"], len(labels),
                                        len(brand_kit.brands))
    blessing.set_int_custom_property("blessed", int(blessed))
    blessing.set_string_custom_property("reason", reason)
    # what LatestBlessedModelStrategy matches: the next run's Trainer warm-starts from it
    blessing.set_int_custom_property("current_model_id", model.id)
    blessing.set_string_custom_property("current_model", model.uri)
    summary = {"blessed": blessed, "reason": reason, "models": figures,
               "test_time_views": options.test_time_views,
               "heldout_renders": int(len(labels)), "brands": len(brand_kit.brands)}
    train_images, _ = trainer.render_pool(
        brand_kit, kit_lib.load_backgrounds(options.train_backgrounds), options.seed,
        options.augment, 64)
    with fileio.staged(evaluation.uri) as folder:
        with open(os.path.join(folder, "evaluation.json"), "w") as handle:
            json.dump(summary, handle, indent=1)
        report.save_grid(images[:64], os.path.join(folder, "heldout_samples.png"))
        report.save_grid(train_images, os.path.join(folder, "augmented_samples.png"))
        report.plot_comparison(figures, os.path.join(folder, "evaluation.png"))
    print(f"[logos] {'BLESSED' if blessed else 'NOT blessed'}: {reason}")
    if report_dir:
        fileio.copy_files(evaluation.uri, report_dir)
