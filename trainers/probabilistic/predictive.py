"""Predictive distributions of ladder models: Monte Carlo over weight samples, moment matched.

A Bayesian model draws new weights on every call, so its predictive distribution is the
mixture of the S Normals of S forward passes. With per-pass parameters loc_s, scale_s and
the optional closed-form epistemic stddev e_s (see `distribution`), the law of total
variance splits the predictive variance into

    aleatoric**2 = mean_s(scale_s**2 - e_s**2)          (noise the model expects in y)
    epistemic**2 = var_s(loc_s) + mean_s(e_s**2)         (uncertainty about the function)
    stddev**2    = aleatoric**2 + epistemic**2,   mean = mean_s(loc_s).

`PredictiveSummary.to_normal()` is the moment-matched Normal (quantiles in closed form);
`predictive_mixture` is the exact mixture (log_prob, cdf, mean, stddev). Deterministic
models are called once whatever `samples` is.

Example:
    >>> import keras, numpy as np
    >>> from cuttingedge.trainers.probabilistic.layers import NormalParams
    >>> inputs = keras.Input([1])
    >>> model = keras.Model(inputs, NormalParams(scale=2.0)(keras.layers.Dense(1)(inputs)))
    >>> summary = predict_distribution(model, np.zeros([3, 1], np.float32), samples=10)
    >>> summary.stddev.tolist(), summary.epistemic_stddev.tolist()
    ([2.0, 2.0, 2.0], [0.0, 0.0, 0.0])
"""

from __future__ import annotations

import dataclasses
import weakref

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from cuttingedge.trainers.probabilistic import distribution

tfd = tfp.distributions


@dataclasses.dataclass(frozen=True)
class PredictiveSummary:
    """Moments of a predictive distribution, one value per example (arrays of shape [batch]).

    Attributes:
        mean: predictive mean.
        stddev: predictive stddev, sqrt(aleatoric_stddev**2 + epistemic_stddev**2).
        aleatoric_stddev: the noise part.
        epistemic_stddev: the model-uncertainty part.

    Example:
        >>> s = PredictiveSummary(np.zeros(1), np.ones(1), np.ones(1), np.zeros(1))
        >>> round(float(s.to_normal().quantile(0.975)[0]), 3)
        1.96
    """

    mean: np.ndarray
    stddev: np.ndarray
    aleatoric_stddev: np.ndarray
    epistemic_stddev: np.ndarray

    def __post_init__(self):
        shapes = {f.name: np.shape(getattr(self, f.name)) for f in dataclasses.fields(self)}
        if len(set(shapes.values())) != 1:
            raise ValueError(f"Expected all fields of PredictiveSummary to have one shape. "
                             f"Received shapes {shapes}.")

    def to_normal(self, validate_args: bool = False) -> tfd.Normal:
        """Returns the moment-matched Normal(mean, stddev) (mean, stddev, quantile, log_prob)."""
        return tfd.Normal(np.asarray(self.mean, np.float32),
                          np.asarray(self.stddev, np.float32), validate_args=validate_args)


def is_stochastic(model: keras.Model) -> bool:
    """True when a layer of `model` samples on every call (attribute `is_stochastic`).

    Example:
        >>> is_stochastic(keras.Sequential([keras.Input([1]), keras.layers.Dense(1)]))
        False
    """
    return any(getattr(layer, "is_stochastic", False) for layer in model._flatten_layers())


def check_samples(samples) -> None:
    """Raises ValueError unless `samples` is a positive integer."""
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ValueError(f"Expected samples to be a positive integer. "
                         f"Received: samples={samples!r}.")


def sample_params(model: keras.Model, x, samples: int) -> tf.Tensor:
    """Calls `model` S times (once if it is deterministic) and stacks the parameters.

    Works eagerly and inside `tf.function` (a `tf.map_fn` loop). Eager callers with many
    samples should prefer `predict_distribution`, which runs the loop as a cached graph.

    Args:
        model: a ladder model whose output is Normal parameters [batch, 2|3].
        x: input windows [batch, window].
        samples: number S of forward passes for stochastic models, a positive integer.

    Returns:
        float32 `tf.Tensor` [S, batch, 2|3] (S = 1 for deterministic models).

    Example:
        >>> from cuttingedge.trainers.probabilistic.ladder import build_model
        >>> model = build_model("bayesian", window=2, num_train_examples=10)
        >>> sample_params(model, np.zeros([5, 2], np.float32), samples=7).shape
        TensorShape([7, 5, 2])
    """
    check_samples(samples)
    return _map_passes(model, tf.convert_to_tensor(x, tf.float32),
                       samples if is_stochastic(model) else 1)


def _map_passes(model, x, passes):
    return tf.map_fn(lambda _: distribution.check_params(model(x, training=False)),
                     tf.range(passes), fn_output_signature=tf.float32)


class _Passes:
    """Callable `(x, passes) -> [passes, batch, P]` for one model, held by weak reference.

    An object rather than a closure: TensorFlow counts retracing per code object, so
    closures over many models would trigger its frequent-retracing warning.
    """

    def __init__(self, model: keras.Model):
        self._model = weakref.ref(model)  # the cached graph must not keep its key alive

    def __call__(self, x, passes):
        return _map_passes(self._model(), x, passes)


_GRAPHS = weakref.WeakKeyDictionary()


def _sample_params_graph(model: keras.Model, x, samples: int) -> tf.Tensor:
    """`sample_params` as one `tf.function` per model, traced once for any batch and S."""
    check_samples(samples)
    if model not in _GRAPHS:
        spec = [tf.TensorSpec([None] + list(model.input_shape[1:]), tf.float32),
                tf.TensorSpec([], tf.int32)]
        _GRAPHS[model] = tf.function(_Passes(model), input_signature=spec)
    passes = samples if is_stochastic(model) else 1
    return _GRAPHS[model](tf.convert_to_tensor(x, tf.float32), tf.constant(passes))


def summarize(param_samples) -> dict[str, tf.Tensor]:
    """Pure maths: predictive moments of stacked per-pass parameters (module docstring).

    Args:
        param_samples: [S, batch, 2|3] Normal parameters of S forward passes.

    Returns:
        Dict of [batch] tensors: "mean", "stddev", "aleatoric_stddev", "epistemic_stddev".

    Example:
        >>> p = np.array([[[0.0, 3.0]], [[2.0, 3.0]]], np.float32)  # locs 0, 2; scales 3
        >>> {k: round(float(v[0]), 4) for k, v in summarize(p).items()}  # sqrt(9 + 1)
        {'mean': 1.0, 'stddev': 3.1623, 'aleatoric_stddev': 3.0, 'epistemic_stddev': 1.0}
    """
    params = distribution.check_params(param_samples)
    loc, scale = params[..., distribution.LOC], params[..., distribution.SCALE]
    within = (tf.square(params[..., distribution.EPISTEMIC]) if params.shape[-1] == 3
              else tf.zeros_like(loc))
    aleatoric_var = tf.reduce_mean(tf.square(scale) - within, axis=0)
    epistemic_var = tf.math.reduce_variance(loc, axis=0) + tf.reduce_mean(within, axis=0)
    aleatoric_var, epistemic_var = tf.maximum(aleatoric_var, 0.0), tf.maximum(epistemic_var, 0.0)
    return {"mean": tf.reduce_mean(loc, axis=0),
            "stddev": tf.sqrt(aleatoric_var + epistemic_var),
            "aleatoric_stddev": tf.sqrt(aleatoric_var),
            "epistemic_stddev": tf.sqrt(epistemic_var)}


def mixture(param_samples, validate_args: bool = False) -> tfd.MixtureSameFamily:
    """The equal-weight mixture of the S per-pass Normals, batch shape [batch].

    Args:
        param_samples: [S, batch, 2|3] Normal parameters of S forward passes.
        validate_args: passed to the TFP distributions.

    Returns:
        `tfd.MixtureSameFamily` with `log_prob`, `cdf`, `mean`, `stddev`, `sample`.

    Example:
        >>> p = np.array([[[0.0, 1.0]], [[2.0, 1.0]]], np.float32)
        >>> float(mixture(p).cdf([1.0])[0])  # symmetric about 1
        0.5
    """
    params = tf.transpose(distribution.check_params(param_samples), [1, 0, 2])
    logits = tf.zeros(tf.shape(params)[:-1], params.dtype)
    components = tfd.Normal(params[..., distribution.LOC], params[..., distribution.SCALE],
                            validate_args=validate_args)
    return tfd.MixtureSameFamily(tfd.Categorical(logits=logits, validate_args=validate_args),
                                 components, validate_args=validate_args)


def predict_distribution(model: keras.Model, x, samples: int = 100) -> PredictiveSummary:
    """Predictive mean and stddev, split into aleatoric and epistemic parts, per window.

    Args:
        model: a ladder model (see `ladder.build_model`).
        x: input windows [batch, window].
        samples: forward passes S for Bayesian models (ignored by deterministic ones).

    Returns:
        `PredictiveSummary` of [batch] numpy arrays; `.to_normal()` gives a `tfd.Normal`.

    Example:
        >>> from cuttingedge.trainers.probabilistic.ladder import build_model
        >>> model = build_model("bayesian_learned_scale", window=2, num_train_examples=10)
        >>> s = predict_distribution(model, np.zeros([4, 2], np.float32), samples=20)
        >>> bool(np.all(s.epistemic_stddev > 0)), s.mean.shape
        (True, (4,))
    """
    moments = summarize(_sample_params_graph(model, x, samples))
    return PredictiveSummary(**{name: value.numpy() for name, value in moments.items()})


def predictive_mixture(model: keras.Model, x, samples: int = 100) -> tfd.MixtureSameFamily:
    """The exact Monte Carlo predictive mixture of `model` at windows `x`.

    Example:
        >>> from cuttingedge.trainers.probabilistic.ladder import build_model
        >>> model = build_model("fixed_scale", window=2, fixed_scale=1.0)
        >>> predictive_mixture(model, np.zeros([3, 2], np.float32)).stddev().numpy().tolist()
        [1.0, 1.0, 1.0]
    """
    return mixture(_sample_params_graph(model, x, samples))
