"""Export of a ladder model as a SavedModel that answers with predictive moments.

The SavedModel's `serving_default` signature takes `windows` [batch, window] float32 and
returns [batch] tensors "mean", "stddev", "aleatoric_stddev" and "epistemic_stddev"
(`predictive.summarize` over S Monte Carlo passes for Bayesian models), so TF Serving and
Beam can score windows without Keras, TFP or this package.

The file is written by `keras.export.ExportArchive`, which wraps the forecast function in a
`tf.function` on a `tf.Module` and tracks every variable it uses (weights and the random
seed states of Bayesian layers) for `tf.saved_model.save`.

Example:
    >>> import tempfile, numpy as np, tensorflow as tf
    >>> from cuttingedge.trainers.probabilistic.ladder import build_model
    >>> model = build_model("fixed_scale", window=2, fixed_scale=0.5)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = export_forecaster(model, tmp, samples=1)
    ...     serve = tf.saved_model.load(path).signatures["serving_default"]
    ...     serve(windows=tf.zeros([3, 2]))["stddev"].numpy().tolist()
    [0.5, 0.5, 0.5]
"""

from __future__ import annotations

import os

import keras
import tensorflow as tf

from cuttingedge.trainers.probabilistic import predictive

SIGNATURE_INPUT = "windows"
SIGNATURE_OUTPUTS = ("mean", "stddev", "aleatoric_stddev", "epistemic_stddev")


def moments_fn(model: keras.Model, samples: int):
    """Returns `forecast(windows) -> dict of [batch] moments` for `model` (graph-safe).

    Args:
        model: a ladder model with input [batch, window].
        samples: Monte Carlo passes for Bayesian models, a positive integer.

    Example:
        >>> from cuttingedge.trainers.probabilistic.ladder import build_model
        >>> forecast = moments_fn(build_model("learned_scale", window=2), samples=1)
        >>> sorted(forecast(tf.zeros([1, 2])))
        ['aleatoric_stddev', 'epistemic_stddev', 'mean', 'stddev']
    """
    predictive.check_samples(samples)

    def forecast(windows):
        return predictive.summarize(predictive.sample_params(model, windows, samples))

    return forecast


def export_forecaster(model: keras.Model, path, samples: int = 100) -> str:
    """Saves `model` as a SavedModel with a moments-returning `serving_default` signature.

    Args:
        model: a ladder model (see `ladder.build_model`).
        path: the SavedModel directory to write.
        samples: Monte Carlo passes for Bayesian models (ignored by deterministic ones).

    Returns:
        The SavedModel path, as a string.

    Raises:
        ValueError: for a non-positive `samples` or a model without a known window length.

    Example:
        >>> import os, tempfile
        >>> from cuttingedge.trainers.probabilistic.ladder import build_model
        >>> model = build_model("bayesian", window=2, num_train_examples=10)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     sorted(os.listdir(export_forecaster(model, tmp, samples=5)))
        ['assets', 'fingerprint.pb', 'saved_model.pb', 'variables']
    """
    window = model.input_shape[-1]
    if window is None:
        raise ValueError(f"Expected a model with a known window length. Received: "
                         f"input_shape={model.input_shape}.")
    archive = keras.export.ExportArchive()
    archive.track(model)  # tracks its weights and the seed generators' states
    spec = tf.TensorSpec([None, window], tf.float32, name=SIGNATURE_INPUT)
    archive.add_endpoint("serving_default", moments_fn(model, samples), input_signature=[spec])
    path = os.fspath(path)
    archive.write_out(path, verbose=False)
    return path
