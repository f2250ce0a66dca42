"""Probabilistic one-step-ahead forecasters: the TFP model ladder on Keras 3.

Every model maps windows [batch, window] to Normal parameters [batch, 2|3] (loc, scale[,
epistemic stddev]); `to_distribution` turns one forward pass into a `tfd.Normal`,
`predict_distribution` averages Monte Carlo passes of Bayesian models, and
`export_forecaster` writes a SavedModel that returns the predictive moments.

Example:
    >>> import numpy as np
    >>> from cuttingedge.trainers import probabilistic as prob
    >>> model = prob.build_model("learned_scale", window=3, hidden_units=(8,))
    >>> prob.predict_distribution(model, np.zeros([2, 3], np.float32)).mean.shape
    (2,)
"""

from cuttingedge.trainers.probabilistic.distribution import (expected_negative_log_likelihood,
                                                             negative_log_likelihood,
                                                             squared_error_with_scale,
                                                             to_distribution)
from cuttingedge.trainers.probabilistic.ensemble import MomentMatch, ensemble_model
from cuttingedge.trainers.probabilistic.export import export_forecaster, moments_fn
from cuttingedge.trainers.probabilistic.gaussian_process import GaussianProcess
from cuttingedge.trainers.probabilistic.ladder import (LADDER, TUNER_OBJECTIVE, LadderConfig,
                                                       LadderStep, SearchSpace,
                                                       build_from_config, build_hypermodel,
                                                       build_model, calibrate_residual_scale,
                                                       tuner_objective)
from cuttingedge.trainers.probabilistic.layers import DenseVariational, NormalParams
from cuttingedge.trainers.probabilistic.losses import (ExpectedNegativeLogLikelihood,
                                                       NegativeLogLikelihood,
                                                       SquaredErrorWithScale, nll_metric)
from cuttingedge.trainers.probabilistic.predictive import (PredictiveSummary, is_stochastic,
                                                           mixture, predict_distribution,
                                                           predictive_mixture, sample_params,
                                                           summarize)

__all__ = [
    "LADDER", "TUNER_OBJECTIVE", "DenseVariational", "ExpectedNegativeLogLikelihood",
    "GaussianProcess", "LadderConfig", "LadderStep", "MomentMatch", "NegativeLogLikelihood",
    "NormalParams",
    "PredictiveSummary", "SearchSpace", "SquaredErrorWithScale", "build_from_config",
    "build_hypermodel", "build_model", "calibrate_residual_scale", "ensemble_model",
    "expected_negative_log_likelihood", "export_forecaster", "is_stochastic", "mixture",
    "moments_fn", "negative_log_likelihood", "nll_metric", "predict_distribution",
    "predictive_mixture", "sample_params", "squared_error_with_scale", "summarize",
    "to_distribution", "tuner_objective",
]
