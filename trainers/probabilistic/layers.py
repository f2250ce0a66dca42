"""Keras 3 layers of the ladder: a mean-field Bayesian dense layer and the Normal head.

`DenseVariational` keeps a Normal posterior per weight, samples the weights on every call
(training or not: prediction is Monte Carlo over calls) and adds its KL divergence to the
prior, divided by the number of training examples, as a layer loss, so that Keras
minimises the per-example negative ELBO. `NormalParams` turns the last layer's units into
the (loc, scale) parameters of `distribution.to_distribution`. The maths is in `mean_field`.

Example:
    >>> import keras, numpy as np
    >>> inputs = keras.Input([3])
    >>> hidden = DenseVariational(1, num_train_examples=100, seed=1)(inputs)
    >>> model = keras.Model(inputs, NormalParams(scale=0.5)(hidden))
    >>> model(np.ones([4, 3], np.float32)).shape, len(model.losses)
    (TensorShape([4, 2]), 1)
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from cuttingedge.trainers.probabilistic import mean_field
from cuttingedge.trainers.probabilistic.losses import PACKAGE

ESTIMATORS = ("flipout", "reparameterization")
SCALE_MODES = ("learned", "homoskedastic")


def check_positive(name: str, value, integer: bool = False) -> None:
    """Raises ValueError naming `name` and `value` unless `value` is a positive number.

    Args:
        name: the argument's name, for the message.
        value: the value to check (booleans are rejected).
        integer: also require an integer (Python or NumPy).

    Example:
        >>> check_positive("units", 0, integer=True)
        Traceback (most recent call last):
        ...
        ValueError: Expected units to be a positive integer. Received: units=0.
    """
    kind = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    if isinstance(value, bool) or not isinstance(value, kind) or value <= 0:
        expected = "a positive integer" if integer else "a positive number"
        raise ValueError(f"Expected {name} to be {expected}. Received: {name}={value!r}.")


@keras.saving.register_keras_serializable(package=PACKAGE)
class DenseVariational(keras.layers.Layer):
    """Dense layer with mean-field Normal weight posteriors and a N(0, prior_scale) prior.

    Args:
        units: number of output units, a positive integer.
        num_train_examples: size of the training set; the KL term is divided by it so that
            the total loss is the negative ELBO per example.
        activation: Keras activation applied to the output.
        estimator: "flipout" (per-example perturbations, lower-variance gradients) or
            "reparameterization" (one weight sample per batch).
        prior_scale: stddev of the zero-mean Normal prior on every weight.
        initial_posterior_scale: starting stddev of every weight's posterior.
        seed: integer seed of the layer's weight sampling, or None.
        **kwargs: `keras.layers.Layer` arguments (name, dtype, ...).

    Raises:
        ValueError: for a non-positive `units`, `num_train_examples`, `prior_scale` or
            `initial_posterior_scale`, or an unknown `estimator`.

    Example:
        >>> import numpy as np
        >>> layer = DenseVariational(2, num_train_examples=10, estimator="reparameterization")
        >>> layer(np.ones([5, 3], np.float32)).shape, len(layer.losses)
        (TensorShape([5, 2]), 1)
    """

    is_stochastic = True

    def __init__(self, units: int, num_train_examples: int, activation=None,
                 estimator: str = "flipout", prior_scale: float = 1.0,
                 initial_posterior_scale: float = 0.01, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        check_positive("units", units, integer=True)
        check_positive("num_train_examples", num_train_examples, integer=True)
        check_positive("prior_scale", prior_scale)
        check_positive("initial_posterior_scale", initial_posterior_scale)
        if estimator not in ESTIMATORS:
            raise ValueError(f"Unknown estimator {estimator!r}. Expected one of "
                             f"{list(ESTIMATORS)}. Received: estimator={estimator!r}.")
        self.units = units
        self.num_train_examples = num_train_examples
        self.activation = keras.activations.get(activation)
        self.estimator = estimator
        self.prior_scale = float(prior_scale)
        self.initial_posterior_scale = float(initial_posterior_scale)
        self.seed = seed
        self._seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        fan_in = input_shape[-1]
        if fan_in is None:
            raise ValueError(f"DenseVariational needs a known last input dimension. "
                             f"Received: input_shape={input_shape}.")
        raw = keras.initializers.Constant(
            float(mean_field.inverse_softplus_scale(self.initial_posterior_scale)))
        self.kernel_loc = self.add_weight(name="kernel_loc", shape=(fan_in, self.units),
                                          initializer="glorot_uniform")
        self.kernel_raw_scale = self.add_weight(name="kernel_raw_scale",
                                                shape=(fan_in, self.units), initializer=raw)
        self.bias_loc = self.add_weight(name="bias_loc", shape=(self.units,),
                                        initializer="zeros")
        self.bias_raw_scale = self.add_weight(name="bias_raw_scale", shape=(self.units,),
                                              initializer=raw)

    def posterior_scales(self) -> tuple[tf.Tensor, tf.Tensor]:
        """Returns the posterior stddevs (kernel [in, units], bias [units])."""
        return (mean_field.softplus_scale(self.kernel_raw_scale),
                mean_field.softplus_scale(self.bias_raw_scale))

    def kl_divergence(self) -> tf.Tensor:
        """Returns KL(q || p) summed over all weights (not divided by the examples)."""
        kernel_scale, bias_scale = self.posterior_scales()
        return (mean_field.mean_field_kl(self.kernel_loc, kernel_scale, self.prior_scale)
                + mean_field.mean_field_kl(self.bias_loc, bias_scale, self.prior_scale))

    def _normal(self, shape):
        return keras.random.normal(shape, seed=self._seed_generator, dtype=self.compute_dtype)

    def _signs(self, shape):
        uniform = keras.random.uniform(shape, seed=self._seed_generator,
                                       dtype=self.compute_dtype)
        return tf.where(uniform < 0.5, -1.0, 1.0)

    def call(self, inputs):
        kernel_scale, bias_scale = self.posterior_scales()
        kernel_noise = self._normal(tuple(self.kernel_loc.shape))
        bias_noise = self._normal((self.units,))
        if self.estimator == "flipout":
            batch = tf.shape(inputs)[0]
            outputs = mean_field.flipout_dense(
                inputs, self.kernel_loc, kernel_scale, self.bias_loc, bias_scale,
                kernel_noise, bias_noise, self._signs((batch, self.kernel_loc.shape[0])),
                self._signs((batch, self.units)))
        else:
            outputs = mean_field.reparameterized_dense(
                inputs, self.kernel_loc, kernel_scale, self.bias_loc, bias_scale,
                kernel_noise, bias_noise)
        self.add_loss(self.kl_divergence() / self.num_train_examples)
        return self.activation(outputs) if self.activation is not None else outputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "num_train_examples": self.num_train_examples,
                "activation": keras.activations.serialize(self.activation),
                "estimator": self.estimator, "prior_scale": self.prior_scale,
                "initial_posterior_scale": self.initial_posterior_scale, "seed": self.seed}


@keras.saving.register_keras_serializable(package=PACKAGE)
class NormalParams(keras.layers.Layer):
    """Head that maps the last units to Normal parameters [batch, 2] = (loc, scale).

    Modes, by `scale`:
        a positive number:  input [batch, 1] is the loc; scale is that fixed number.
        "learned":          input [batch, 2] is (loc, raw); scale = softplus(raw) + min_scale
                            (heteroskedastic, aleatoric).
        "homoskedastic":    input [batch, 1] is the loc; one trainable scale for all inputs,
                            softplus(w) + min_scale, starting at `initial_scale`.

    Args:
        scale: a positive float, "learned" or "homoskedastic".
        min_scale: floor on a learned scale, >= 0, keeps the likelihood bounded.
        initial_scale: starting value of the homoskedastic scale.
        **kwargs: `keras.layers.Layer` arguments.

    Raises:
        ValueError: for an unknown mode, a non-positive scale, or a wrong input size.

    Example:
        >>> import numpy as np
        >>> NormalParams(scale="learned", min_scale=0.0)(np.zeros([1, 2], np.float32)).numpy()
        array([[0.       , 0.6931472]], dtype=float32)
    """

    def __init__(self, scale="learned", min_scale: float = 1e-3, initial_scale: float = 1.0,
                 **kwargs):
        super().__init__(**kwargs)
        if isinstance(scale, str):
            if scale not in SCALE_MODES:
                raise ValueError(f"Unknown scale mode {scale!r}. Expected a positive number "
                                 f"or one of {list(SCALE_MODES)}. Received: scale={scale!r}.")
        else:
            check_positive("scale", scale)
            scale = float(scale)
        if min_scale < 0:
            raise ValueError(f"Expected min_scale >= 0. Received: min_scale={min_scale!r}.")
        if scale == "homoskedastic" and not initial_scale > min_scale:
            raise ValueError(f"Expected initial_scale > min_scale. Received: "
                             f"initial_scale={initial_scale!r}, min_scale={min_scale!r}.")
        self.scale = scale
        self.min_scale = float(min_scale)
        self.initial_scale = float(initial_scale)

    @property
    def input_size(self) -> int:
        """The number of input units this mode expects: 2 for "learned", else 1."""
        return 2 if self.scale == "learned" else 1

    def build(self, input_shape):
        if input_shape[-1] != self.input_size:
            raise ValueError(
                f"NormalParams(scale={self.scale!r}) expects inputs of shape "
                f"[batch, {self.input_size}]. Received: input_shape={input_shape}. Make the "
                f"layer before it have {self.input_size} unit(s).")
        if self.scale == "homoskedastic":
            raw = float(mean_field.inverse_softplus_scale(self.initial_scale, self.min_scale))
            self.raw_scale = self.add_weight(name="raw_scale", shape=(),
                                             initializer=keras.initializers.Constant(raw))

    def set_scale(self, value: float) -> None:
        """Sets the homoskedastic scale to `value` (e.g. a measured residual RMS).

        Raises:
            ValueError: if the mode is not "homoskedastic" or `value` <= min_scale.
        """
        if self.scale != "homoskedastic" or not value > self.min_scale:
            raise ValueError(
                f"set_scale needs scale='homoskedastic' and a value > min_scale="
                f"{self.min_scale}. Received: scale={self.scale!r}, value={value!r}.")
        self.raw_scale.assign(mean_field.inverse_softplus_scale(value, self.min_scale))

    def call(self, inputs):
        loc = inputs[..., :1]
        if self.scale == "learned":
            scale = mean_field.softplus_scale(inputs[..., 1:2], self.min_scale)
        elif self.scale == "homoskedastic":
            scale = tf.ones_like(loc) * mean_field.softplus_scale(self.raw_scale,
                                                                  self.min_scale)
        else:
            scale = tf.fill(tf.shape(loc), tf.cast(self.scale, loc.dtype))
        return tf.concat([loc, scale], axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (2,)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "min_scale": self.min_scale,
                "initial_scale": self.initial_scale}
