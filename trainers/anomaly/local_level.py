"""Local level state-space model: the level a sensor holds, and how fast that level may move.

    y[t]     = level[t] + noise[t],          noise[t] ~ N(0, noise_scale**2)
    level[t] = level[t-1] + drift[t],        drift[t] ~ N(0, drift_scale**2)

`fit_local_level(values, train_rows)` standardises the series by the mean and stddev of its
first `train_rows` values and fits the two scales there by maximum likelihood (the Kalman
filter's exact log-likelihood; missing values are skipped). `LocalLevel.predictive(values)`
runs the filter over the whole series and returns, for every point, the one-step predictive
Normal given the points before it, N(level forecast, P + noise_scale**2), in the series'
units: P, the variance of the level forecast, is its epistemic part (what the filter does
not know about the level) and noise_scale its aleatoric part.

The ratio of the two scales is learned per series from normal operation, and it decides how
the detector sees a change. A sensor that holds its level while healthy (a pump's flow rate:
drift_scale far below noise_scale) keeps its level, so a fault that moves it, even slowly,
stays surprising until the fault ends, where a trailing z-score's window takes the new level
in as normal within a window's length. A sensor that drifts while healthy (a motor's
temperature) gets a large drift_scale, and its filter follows the drift.

`LocalLevel.state_space_model(n)` is the same model as a TFP distribution
(`tfd.LinearGaussianStateSpaceModel` over n standardised points), whose `log_prob` equals the
filter's log-likelihood.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> values = 30.0 + rng.normal(size=1000)  # a level held with unit noise
    >>> values[600:] -= np.linspace(0.0, 4.0, 400)  # then a slow fall of 4 noise units
    >>> model = fit_local_level(values, train_rows=400)
    >>> bool(model.drift_scale < 0.05 < 0.8 < model.noise_scale < 1.2)
    True
    >>> moments = model.predictive(values)
    >>> bool(moments.mean[999] > 28.0)  # the level fell to 26: the forecast lags far behind
    True
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from cuttingedge.trainers.probabilistic.predictive import PredictiveSummary

SCALE_BOUNDS = (1e-3, 10.0)  # of both scales, in units of the training part's stddev
INITIAL_VARIANCE = 1.0  # of the first level around the first observed value


@dataclasses.dataclass(frozen=True)
class LocalLevel:
    """A fitted local level model (module docstring).

    Attributes:
        noise_scale, drift_scale: the two scales, in units of `std`.
        mean, std: the training part's standardisation.
        log_likelihood: of the standardised training part, at the fitted scales.
    """

    noise_scale: float
    drift_scale: float
    mean: float
    std: float
    log_likelihood: float

    def predictive(self, values) -> PredictiveSummary:
        """One-step predictive moments of every point, in the series' units.

        The first point is predicted by itself with the initial level variance; missing
        values (NaN) get a forecast and leave the level unchanged.
        """
        z = (np.asarray(values, np.float64) - self.mean) / self.std
        mean, level_var = kalman_filter(z, self.noise_scale, self.drift_scale)[:2]
        aleatoric = np.full_like(mean, self.noise_scale)
        epistemic = np.sqrt(level_var)
        stddev = np.sqrt(level_var + self.noise_scale ** 2)
        return PredictiveSummary(mean * self.std + self.mean, stddev * self.std,
                                 aleatoric * self.std, epistemic * self.std)

    def state_space_model(self, num_timesteps: int, first_value: float = 0.0):
        """`tfd.LinearGaussianStateSpaceModel` of `num_timesteps` standardised points.

        Its first level is N(first_value, 1), as the filter's; `log_prob` of a standardised
        series equals `kalman_filter`'s log-likelihood.
        """
        import tensorflow as tf
        import tensorflow_probability as tfp

        tfd = tfp.distributions
        one = tf.ones([1], tf.float64)
        return tfd.LinearGaussianStateSpaceModel(
            num_timesteps=int(num_timesteps),
            transition_matrix=tf.eye(1, dtype=tf.float64),
            transition_noise=tfd.MultivariateNormalDiag(scale_diag=self.drift_scale * one),
            observation_matrix=tf.eye(1, dtype=tf.float64),
            observation_noise=tfd.MultivariateNormalDiag(scale_diag=self.noise_scale * one),
            initial_state_prior=tfd.MultivariateNormalDiag(
                loc=float(first_value) * one,
                scale_diag=math.sqrt(INITIAL_VARIANCE) * one))


def kalman_filter(z, noise_scale: float, drift_scale: float):
    """(forecast mean, level variance, log-likelihood) of a standardised series.

    The first level is N(z[0], INITIAL_VARIANCE) (z[0] the first observed value) and the
    first point's forecast is that prior; the log-likelihood sums the one-step predictive
    log-densities of the observed points.

    Example:
        >>> mean, var, _ = kalman_filter(np.array([0.0, 1.0, np.nan, 1.0]), 1.0, 0.0)
        >>> [round(m, 3) for m in mean], [round(v, 3) for v in var]  # NaN: no update
        ([0.0, 0.0, 0.333, 0.333], [1.0, 0.5, 0.333, 0.333])
    """
    z = np.asarray(z, np.float64)
    observed = np.isfinite(z)
    first = z[observed][0] if observed.any() else 0.0
    noise, drift = noise_scale ** 2, drift_scale ** 2
    mean, level_var = np.empty(len(z)), np.empty(len(z))
    level, variance, log_likelihood = float(first), INITIAL_VARIANCE, 0.0
    for t in range(len(z)):
        if t:
            variance += drift
        mean[t], level_var[t] = level, variance
        if observed[t]:
            total = variance + noise
            residual = z[t] - level
            log_likelihood -= 0.5 * (math.log(2.0 * math.pi * total) + residual * residual / total)
            gain = variance / total
            level += gain * residual
            variance *= 1.0 - gain
    return mean, level_var, log_likelihood


def fit_local_level(values, train_rows: int) -> LocalLevel:
    """Maximum-likelihood local level model of the first `train_rows` values (docstring).

    Raises:
        ValueError: when the training part has fewer than 3 observed values.
    """
    from scipy import optimize

    values = np.asarray(values, np.float64)
    train = values[:int(train_rows)]
    observed = train[np.isfinite(train)]
    if len(observed) < 3:
        raise ValueError(f"Expected at least 3 observed values in the training part to fit a "
                         f"local level model. Received {len(observed)} of {len(train)} rows "
                         f"observed.")
    mean = float(observed.mean())
    std = float(observed.std()) or 1e-3 * max(1.0, abs(mean))
    z = (train - mean) / std

    def negative_log_likelihood(log_scales):
        return -kalman_filter(z, *np.exp(log_scales))[2]

    bounds = [tuple(np.log(SCALE_BOUNDS))] * 2
    starts = ([math.log(0.5), math.log(0.05)], [math.log(0.1), math.log(0.5)])
    best = min((optimize.minimize(negative_log_likelihood, start, method="L-BFGS-B",
                                  bounds=bounds) for start in starts), key=lambda r: r.fun)
    noise_scale, drift_scale = (float(s) for s in np.exp(best.x))
    return LocalLevel(noise_scale, drift_scale, mean, std, float(-best.fun))
