"""Keras 3 variational Gaussian process layer (a whitened SVGP), the ladder's last step.

The layer's weights are the inducing points, the whitened variational mean and Cholesky
factor, the ExponentiatedQuadratic kernel's amplitude and length scale, the prior mean
(c + w^T x by default, or the constant c) and the observation noise scale. Its output is
the Normal predictive of y at each input window, in closed form (maths in `svgp`):

    params = (mean_f, sqrt(var_f + noise**2), sqrt(var_f))      [batch, 3]

so that the epistemic part sqrt(var_f) is reported separately. Trained with
`ExpectedNegativeLogLikelihood` on these parameters plus the layer loss
KL / num_train_examples, Keras minimises the classic sparse-GP negative ELBO per example
(Hensman et al. 2013), which estimates the noise (aleatoric) and the function
(epistemic) uncertainty separately. Compiling with `NegativeLogLikelihood` instead gives
the predictive log-likelihood objective (Jankowiak et al. 2020, "Parametric Gaussian
process regressors"): sharper intervals, but the noise is no longer identified.

Example:
    >>> import keras, numpy as np
    >>> inputs = keras.Input([2])
    >>> model = keras.Model(inputs, GaussianProcess(4, num_train_examples=50, seed=0)(inputs))
    >>> model(np.zeros([3, 2], np.float32)).shape, len(model.losses)
    (TensorShape([3, 3]), 1)
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from cuttingedge.trainers.probabilistic import mean_field, svgp
from cuttingedge.trainers.probabilistic.layers import check_positive
from cuttingedge.trainers.probabilistic.losses import PACKAGE

psd_kernels = tfp.math.psd_kernels


@keras.saving.register_keras_serializable(package=PACKAGE)
class GaussianProcess(keras.layers.Layer):
    """Sparse variational GP regression layer with an ExponentiatedQuadratic kernel.

    Args:
        num_inducing_points: number M of inducing points, a positive integer.
        num_train_examples: training set size; the KL term is divided by it.
        initial_amplitude: starting kernel amplitude (stddev of f under the prior).
        initial_length_scale: starting kernel length scale, in input units.
        initial_noise_scale: starting observation noise stddev.
        min_noise_scale: floor on the noise stddev.
        jitter: diagonal jitter of k(Z, Z).
        inducing_range: inducing points start uniform in [-r, r] per input dimension;
            overwrite `inducing_points` with training windows for a better start (`adapt`).
        linear_mean: a prior mean c + w^T x with learned weights w (starting at 0) instead
            of the constant c: the GP then models what a linear forecast (an
            autoregression, for windows of past values) leaves, rather than the whole
            function with one isotropic kernel.
        seed: seed of the inducing points' initialisation, or None.
        **kwargs: `keras.layers.Layer` arguments.

    Raises:
        ValueError: for non-positive sizes or scales.

    Example:
        >>> import numpy as np
        >>> layer = GaussianProcess(3, num_train_examples=10, initial_noise_scale=0.5)
        >>> params = layer(np.zeros([2, 1], np.float32)).numpy()
        >>> bool(np.all(params[:, 1] > params[:, 2]))  # total scale > epistemic stddev
        True
    """

    is_stochastic = False

    def __init__(self, num_inducing_points: int, num_train_examples: int,
                 initial_amplitude: float = 1.0, initial_length_scale: float = 1.0,
                 initial_noise_scale: float = 0.1, min_noise_scale: float = 1e-3,
                 jitter: float = 1e-5, inducing_range: float = 2.0, seed: int | None = None,
                 linear_mean: bool = True, **kwargs):
        super().__init__(**kwargs)
        check_positive("num_inducing_points", num_inducing_points, integer=True)
        check_positive("num_train_examples", num_train_examples, integer=True)
        positive = {"initial_amplitude": initial_amplitude, "jitter": jitter,
                    "initial_length_scale": initial_length_scale,
                    "inducing_range": inducing_range}
        for name, value in positive.items():
            check_positive(name, value)
        if not initial_noise_scale > min_noise_scale >= 0:
            raise ValueError(
                f"Expected initial_noise_scale > min_noise_scale >= 0. Received: "
                f"initial_noise_scale={initial_noise_scale!r}, "
                f"min_noise_scale={min_noise_scale!r}.")
        self.num_inducing_points = num_inducing_points
        self.num_train_examples = num_train_examples
        self.initial_amplitude = float(initial_amplitude)
        self.initial_length_scale = float(initial_length_scale)
        self.initial_noise_scale = float(initial_noise_scale)
        self.min_noise_scale = float(min_noise_scale)
        self.jitter = float(jitter)
        self.inducing_range = float(inducing_range)
        self.seed = seed
        self.linear_mean = bool(linear_mean)

    def _scalar(self, name: str, value: float, min_scale: float = 0.0):
        raw = float(mean_field.inverse_softplus_scale(value, min_scale))
        return self.add_weight(name=name, shape=(),
                               initializer=keras.initializers.Constant(raw))

    def build(self, input_shape):
        features, size = input_shape[-1], self.num_inducing_points
        if features is None:
            raise ValueError(f"GaussianProcess needs a known last input dimension. "
                             f"Received: input_shape={input_shape}.")
        self.inducing_points = self.add_weight(
            name="inducing_points", shape=(size, features),
            initializer=keras.initializers.RandomUniform(
                -self.inducing_range, self.inducing_range, seed=self.seed))
        self.variational_loc = self.add_weight(name="variational_loc", shape=(size,),
                                               initializer="zeros")
        identity = float(mean_field.inverse_softplus_scale(1.0))  # start at the prior
        self.variational_raw_scale_tril = self.add_weight(
            name="variational_raw_scale_tril", shape=(size, size),
            initializer=lambda shape, dtype=None: identity * tf.eye(size, dtype=dtype))
        self.raw_amplitude = self._scalar("raw_amplitude", self.initial_amplitude)
        self.raw_length_scale = self._scalar("raw_length_scale", self.initial_length_scale)
        self.raw_noise_scale = self._scalar("raw_noise_scale", self.initial_noise_scale,
                                            self.min_noise_scale)
        self.mean_constant = self.add_weight(name="mean_constant", shape=(),
                                             initializer="zeros")
        self.mean_weights = self.add_weight(name="mean_weights", shape=(features,),
                                            initializer="zeros") if self.linear_mean else None

    def set_inducing_points(self, points) -> None:
        """Overwrites the inducing points, e.g. with M training windows.

        Args:
            points: array [num_inducing_points, window].

        Raises:
            ValueError: if the shape differs from the layer's inducing points.
        """
        points = np.asarray(points, np.float32)
        if points.shape != tuple(self.inducing_points.shape):
            raise ValueError(
                f"Expected inducing points of shape {tuple(self.inducing_points.shape)}. "
                f"Received: points with shape {points.shape}.")
        self.inducing_points.assign(points)

    def adapt(self, inputs, seed: int | None = None, sample: int = 512) -> float:
        """Starts the layer from training inputs: inducing points and kernel length scale.

        The inducing points become M of the rows (at random, without repeats when there are
        enough), and the length scale the median distance between rows of a random sample
        (the median heuristic). In many input dimensions the default length scale of 1 is
        far below the distance between inputs (about 14 between two standardised windows
        of 100 values), so the kernel starts near zero between any two inputs, its gradient
        with it, and the layer stays at its prior: a constant mean and stddev. Call after
        the layer is built (e.g. after `keras.Model(inputs, layer(inputs))`).

        Args:
            inputs: array [rows, features] of training inputs (rows with NaNs are skipped).
            seed: seed of the random picks.
            sample: most rows whose pairwise distances give the median.

        Returns:
            The length scale set (unchanged, and returned, when all rows coincide).

        Raises:
            ValueError: if no finite row has the layer's number of features.

        Example:
            >>> import keras, numpy as np
            >>> x = np.random.default_rng(0).normal(size=(200, 100)).astype(np.float32)
            >>> layer = GaussianProcess(8, num_train_examples=200)
            >>> inputs = keras.Input([100])
            >>> _ = keras.Model(inputs, layer(inputs))
            >>> round(layer.adapt(x, seed=0))  # sqrt(2 * 100): two independent rows
            14
        """
        inputs = np.asarray(inputs, np.float32)
        features = tuple(self.inducing_points.shape)[1]
        if inputs.ndim != 2 or inputs.shape[1] != features:
            raise ValueError(f"Expected inputs of shape [rows, {features}]. Received: inputs "
                             f"with shape {inputs.shape}.")
        inputs = inputs[np.all(np.isfinite(inputs), axis=1)]
        if not len(inputs):
            raise ValueError("Expected at least one finite input row to adapt to. Received "
                             "none.")
        rng = np.random.default_rng(seed)
        size = self.num_inducing_points
        self.set_inducing_points(inputs[rng.choice(len(inputs), size,
                                                   replace=len(inputs) < size)])
        rows = inputs[rng.choice(len(inputs), min(sample, len(inputs)), replace=False)]
        squared = np.sum(rows ** 2, axis=1)
        distances = squared[:, None] + squared[None, :] - 2.0 * rows @ rows.T
        upper = distances[np.triu_indices(len(rows), 1)]
        length = float(np.sqrt(np.median(np.maximum(upper, 0.0)))) if len(upper) else 0.0
        if not length > 0.0:
            return float(self.kernel.length_scale)
        self.raw_length_scale.assign(float(mean_field.inverse_softplus_scale(length)))
        return length

    @property
    def kernel(self) -> psd_kernels.ExponentiatedQuadratic:
        """The current kernel (amplitude and length scale from the trainable weights)."""
        return psd_kernels.ExponentiatedQuadratic(
            amplitude=mean_field.softplus_scale(self.raw_amplitude),
            length_scale=mean_field.softplus_scale(self.raw_length_scale))

    @property
    def variational_scale_tril(self) -> tf.Tensor:
        """The whitened variational Cholesky factor Lv [M, M]."""
        return svgp.fill_scale_tril(self.variational_raw_scale_tril)

    @property
    def noise_scale(self) -> tf.Tensor:
        """The observation noise stddev."""
        return mean_field.softplus_scale(self.raw_noise_scale, self.min_noise_scale)

    def kl_divergence(self) -> tf.Tensor:
        """Returns KL(q(v) || N(0, I)) (not divided by the examples)."""
        return svgp.whitened_kl(self.variational_loc, self.variational_scale_tril)

    def call(self, inputs):
        mean, variance = svgp.predictive_moments(
            self.kernel, inputs, self.inducing_points, self.variational_loc,
            self.variational_scale_tril, self.mean_constant, self.jitter)
        if self.mean_weights is not None:  # whitened around the prior mean: add it back
            inputs = tf.convert_to_tensor(inputs, tf.float32)
            mean = mean + tf.linalg.matvec(inputs, self.mean_weights)
        self.add_loss(self.kl_divergence() / self.num_train_examples)
        scale = tf.sqrt(variance + tf.square(self.noise_scale))
        return tf.stack([mean, scale, tf.sqrt(variance + 1e-12)], axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (3,)

    def get_config(self):
        return {**super().get_config(), "num_inducing_points": self.num_inducing_points,
                "num_train_examples": self.num_train_examples,
                "initial_amplitude": self.initial_amplitude,
                "initial_length_scale": self.initial_length_scale,
                "initial_noise_scale": self.initial_noise_scale,
                "min_noise_scale": self.min_noise_scale, "jitter": self.jitter,
                "inducing_range": self.inducing_range, "seed": self.seed,
                "linear_mean": self.linear_mean}
