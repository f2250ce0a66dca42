"""The model ladder: one-step-ahead forecasters from a window of past values, by step.

    fixed_scale             Normal(mlp(x), fixed scale), NLL                   (baseline NLL)
    learned_scale           Normal(mlp(x)[0], softplus(mlp(x)[1]))            (aleatoric)
    bayesian                mean-field Bayesian MLP, fixed scale, NLL + KL    (epistemic)
    bayesian_learned_scale  mean-field Bayesian MLP with a learned scale       (both)
    gaussian_process        sparse variational GP on the window, ELBO         (both, closed form)
    deterministic           MSE MLP, scale = RMS training residual            (non-probabilistic)

Every model is a Keras 3 model with input [batch, window] and output Normal parameters
[batch, 2|3] (see `distribution`), compiled with its loss and the comparable "nll" metric
(Keras Tuner objective "val_nll", minimised). `build_hypermodel` searches the ladder.

Example:
    >>> import numpy as np
    >>> model = build_model("learned_scale", window=4, hidden_units=(8,))
    >>> model(np.zeros([2, 4], np.float32)).shape
    TensorShape([2, 2])
"""

from __future__ import annotations

import dataclasses
import enum

import keras
import numpy as np

from cuttingedge.trainers.probabilistic import losses
from cuttingedge.trainers.probabilistic.gaussian_process import GaussianProcess
from cuttingedge.trainers.probabilistic.layers import (ESTIMATORS, DenseVariational,
                                                        NormalParams, check_positive)


class LadderStep(str, enum.Enum):
    """The steps of the ladder; the values are the names `build_model` accepts."""

    FIXED_SCALE = "fixed_scale"
    LEARNED_SCALE = "learned_scale"
    BAYESIAN = "bayesian"
    BAYESIAN_LEARNED_SCALE = "bayesian_learned_scale"
    GAUSSIAN_PROCESS = "gaussian_process"
    DETERMINISTIC = "deterministic"


LADDER = tuple(step.value for step in LadderStep)
_NEED_EXAMPLES = (LadderStep.BAYESIAN, LadderStep.BAYESIAN_LEARNED_SCALE,
                  LadderStep.GAUSSIAN_PROCESS)
TUNER_OBJECTIVE = "val_nll"


def parse_step(step) -> LadderStep:
    """Returns the `LadderStep` named `step`.

    Raises:
        ValueError: for an unknown name, listing the choices.

    Example:
        >>> parse_step("bayesian").name
        'BAYESIAN'
    """
    try:
        return LadderStep(step)
    except ValueError:
        raise ValueError(f"Unknown ladder step {step!r}. Expected one of {list(LADDER)}.") \
            from None


def _hidden_units(value) -> tuple[int, ...]:
    """Returns `value` as a tuple of positive ints, or raises a ValueError that shows it."""
    if isinstance(value, (int, np.integer, str)):
        raise ValueError(f"Expected hidden_units to be a sequence of positive integers, one "
                         f"per hidden layer, e.g. (32,). Received: hidden_units={value!r}.")
    units = tuple(value)
    for size in units:
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"Expected every hidden layer size to be a positive integer. "
                             f"Received: hidden_units={value!r}.")
    return tuple(int(size) for size in units)


@dataclasses.dataclass(frozen=True)
class LadderConfig:
    """Validated settings of one ladder model (see `build_model` for the fields).

    Example:
        >>> LadderConfig("gaussian_process", window=3, num_train_examples=100).step.value
        'gaussian_process'
    """

    step: LadderStep
    window: int
    hidden_units: tuple[int, ...] = (32,)
    learning_rate: float = 1e-2
    num_train_examples: int | None = None
    fixed_scale: float = 1.0
    estimator: str = "flipout"
    prior_scale: float = 1.0
    initial_posterior_scale: float = 0.01
    num_inducing_points: int = 16
    min_scale: float = 1e-3
    seed: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "step", parse_step(self.step))
        check_positive("window", self.window, integer=True)
        object.__setattr__(self, "window", int(self.window))
        object.__setattr__(self, "hidden_units", _hidden_units(self.hidden_units))
        for name in ("learning_rate", "fixed_scale", "prior_scale", "initial_posterior_scale"):
            check_positive(name, getattr(self, name))
        if not isinstance(self.min_scale, (int, float)) or self.min_scale < 0:
            raise ValueError(f"Expected min_scale >= 0. Received: min_scale={self.min_scale!r}.")
        if self.estimator not in ESTIMATORS:
            raise ValueError(f"Unknown estimator {self.estimator!r}. Expected one of "
                             f"{list(ESTIMATORS)}.")
        check_positive("num_inducing_points", self.num_inducing_points, integer=True)
        if self.step in _NEED_EXAMPLES or self.num_train_examples is not None:
            if self.num_train_examples is None:
                raise ValueError(f"Step {self.step.value!r} scales its KL term by the training "
                                 f"set size: pass num_train_examples. Received: "
                                 f"num_train_examples=None.")
            check_positive("num_train_examples", self.num_train_examples, integer=True)


def _mlp(config: LadderConfig, inputs, out_units: int, bayesian: bool):
    hidden = inputs
    sizes = config.hidden_units + (out_units,)
    for index, units in enumerate(sizes):
        activation = "relu" if index < len(sizes) - 1 else None
        if bayesian:
            seed = None if config.seed is None else config.seed + index
            hidden = DenseVariational(
                units, config.num_train_examples, activation=activation,
                estimator=config.estimator, prior_scale=config.prior_scale,
                initial_posterior_scale=config.initial_posterior_scale, seed=seed,
                name=f"dense_variational_{index}")(hidden)
        else:
            hidden = keras.layers.Dense(units, activation=activation, name=f"dense_{index}")(hidden)
    return hidden


def _head(config: LadderConfig):
    step = config.step
    if step in (LadderStep.LEARNED_SCALE, LadderStep.BAYESIAN_LEARNED_SCALE):
        return NormalParams("learned", min_scale=config.min_scale, name="normal_params")
    if step == LadderStep.DETERMINISTIC:
        return NormalParams("homoskedastic", min_scale=config.min_scale, name="normal_params")
    return NormalParams(config.fixed_scale, name="normal_params")


def _outputs(config: LadderConfig, inputs):
    if config.step == LadderStep.GAUSSIAN_PROCESS:
        return GaussianProcess(config.num_inducing_points, config.num_train_examples,
                               min_noise_scale=config.min_scale, seed=config.seed,
                               name="gaussian_process")(inputs)
    head = _head(config)
    bayesian = config.step in (LadderStep.BAYESIAN, LadderStep.BAYESIAN_LEARNED_SCALE)
    return head(_mlp(config, inputs, head.input_size, bayesian))


_LOSSES = {LadderStep.DETERMINISTIC: losses.SquaredErrorWithScale,
           LadderStep.GAUSSIAN_PROCESS: losses.ExpectedNegativeLogLikelihood}


def build_from_config(config: LadderConfig) -> keras.Model:
    """Builds and compiles the model of a validated `LadderConfig` (see `build_model`).

    Example:
        >>> build_from_config(LadderConfig("deterministic", window=2)).loss.name
        'squared_error_with_scale'
    """
    inputs = keras.Input([config.window], name="windows")
    model = keras.Model(inputs, _outputs(config, inputs), name=f"ladder_{config.step.value}")
    loss = _LOSSES.get(config.step, losses.NegativeLogLikelihood)()
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss=loss,
                  metrics=[losses.nll_metric()])
    return model


def build_model(step, window: int, hidden_units=(32,), learning_rate: float = 1e-2,
                num_train_examples: int | None = None, **options) -> keras.Model:
    """Builds and compiles a one-step-ahead forecaster of the ladder.

    Args:
        step: a `LadderStep` or its name (module docstring).
        window: number of past values in each input row.
        hidden_units: sizes of the hidden ReLU layers; () for a linear model. The GP step
            ignores them (its capacity is `num_inducing_points`).
        learning_rate: Adam learning rate.
        num_train_examples: training set size, needed by the Bayesian and GP steps to
            scale their KL layer losses.
        **options: further `LadderConfig` fields: fixed_scale (steps fixed_scale and
            bayesian), estimator ("flipout" or "reparameterization"), prior_scale,
            initial_posterior_scale, num_inducing_points, min_scale, seed.

    Returns:
        A compiled `keras.Model` mapping [batch, window] to Normal parameters [batch, 2|3].

    Raises:
        ValueError: for an unknown step, a bad window or hidden_units, or a missing
            num_train_examples.

    Example:
        >>> model = build_model("bayesian", window=3, hidden_units=(4,), num_train_examples=50)
        >>> [layer.name for layer in model.layers]
        ['windows', 'dense_variational_0', 'dense_variational_1', 'normal_params']
    """
    return build_from_config(LadderConfig(step, window, hidden_units,
                                          learning_rate, num_train_examples, **options))


def calibrate_residual_scale(model: keras.Model, x, y) -> float:
    """Sets a deterministic model's scale to its root-mean-square residual on (x, y).

    Training with `SquaredErrorWithScale` already moves the scale there; this makes it
    exact, e.g. after early stopping.

    Args:
        model: a model with a homoskedastic `NormalParams` layer (step "deterministic").
        x: windows [n, window]; y: targets [n] or [n, 1].

    Returns:
        The RMS residual sqrt(mean((y - loc)**2)) now used as the scale.

    Raises:
        ValueError: if the model has no homoskedastic head.

    Example:
        >>> model = build_model("deterministic", window=1, hidden_units=())
        >>> x = np.array([[0.0], [1.0]], np.float32)
        >>> model.get_layer("dense_0").set_weights([np.ones([1, 1]), np.zeros(1)])
        >>> calibrate_residual_scale(model, x, np.array([1.0, 2.0]))
        1.0
    """
    heads = [layer for layer in model.layers
             if isinstance(layer, NormalParams) and layer.scale == "homoskedastic"]
    if not heads:
        raise ValueError(f"calibrate_residual_scale needs a model built with step "
                         f"'deterministic'. Received: model {model.name!r} without a "
                         f"homoskedastic NormalParams layer.")
    loc = np.asarray(model(np.asarray(x, np.float32), training=False))[:, 0]
    rms = float(np.sqrt(np.mean(np.square(np.reshape(y, [-1]) - loc))))
    heads[0].set_scale(max(rms, 2.0 * heads[0].min_scale))
    return rms


@dataclasses.dataclass(frozen=True)
class SearchSpace:
    """Ranges of the hyperparameter search over the ladder, defined once.

    Example:
        >>> SearchSpace(steps=("fixed_scale", "bayesian")).steps
        ('fixed_scale', 'bayesian')
    """

    steps: tuple[str, ...] = LADDER
    min_units: int = 8
    max_units: int = 64
    units_step: int = 8
    max_layers: int = 2
    min_learning_rate: float = 1e-3
    max_learning_rate: float = 3e-2

    def __post_init__(self):
        object.__setattr__(self, "steps", tuple(parse_step(s).value for s in self.steps))
        if not self.steps:
            raise ValueError(f"Expected at least one step from {list(LADDER)}. Received: "
                             f"steps=().")
        for name in ("min_units", "units_step", "max_layers"):
            check_positive(name, getattr(self, name), integer=True)
        if self.max_units < self.min_units:
            raise ValueError(f"Expected min_units <= max_units. Received: min_units="
                             f"{self.min_units}, max_units={self.max_units}.")
        if not 0 < self.min_learning_rate <= self.max_learning_rate:
            raise ValueError(f"Expected 0 < min_learning_rate <= max_learning_rate. Received: "
                             f"{self.min_learning_rate}, {self.max_learning_rate}.")


def build_hypermodel(hp, *, window: int, num_train_examples: int,
                     space: SearchSpace = SearchSpace(), **options) -> keras.Model:
    """Keras Tuner hypermodel over the ladder: step, units, layers and learning rate.

    Bind the data facts with `functools.partial` and pass the result to a tuner; with a
    fresh `keras_tuner.HyperParameters()` (no tuning) it builds the defaults.

    Args:
        hp: `keras_tuner.HyperParameters`.
        window: input window length.
        num_train_examples: training set size.
        space: the `SearchSpace`.
        **options: fixed `LadderConfig` fields (e.g. seed, estimator).

    Returns:
        A compiled model; tune on `TUNER_OBJECTIVE` ("val_nll", direction "min").

    Example:
        >>> import keras_tuner
        >>> hp = keras_tuner.HyperParameters()
        >>> build_hypermodel(hp, window=3, num_train_examples=10).name, sorted(hp.values)
        ('ladder_fixed_scale', ['layers', 'learning_rate', 'step', 'units'])
    """
    step = hp.Choice("step", list(space.steps))
    units = hp.Int("units", space.min_units, space.max_units, step=space.units_step)
    layers = hp.Int("layers", 1, space.max_layers)
    learning_rate = hp.Float("learning_rate", space.min_learning_rate,
                             space.max_learning_rate, sampling="log")
    return build_model(step, window, (units,) * layers, learning_rate, num_train_examples,
                       **options)


def tuner_objective():
    """Returns `keras_tuner.Objective("val_nll", "min")`, the ladder-wide objective.

    Example:
        >>> tuner_objective().name
        'val_nll'
    """
    import keras_tuner  # only tuning needs it

    return keras_tuner.Objective(TUNER_OBJECTIVE, direction="min")
