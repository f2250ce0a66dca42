"""Deep ensembles: several ladder models fitted from different seeds, served as one.

One ladder model is fitted from a random start on random batches (and a Bayesian one
samples its weights), so two seeds give two forecasters, and, through the thresholds they
set, different alarms. An ensemble of K members fitted from K seeds is one model whose
every forward pass runs all K and moment-matches their Normals (Lakshminarayanan et al.,
2017): with member parameters loc_k, scale_k and epistemic e_k,

    loc     = mean_k(loc_k)
    scale^2 = mean_k(scale_k^2) + var_k(loc_k)
    e^2     = mean_k(e_k^2) + var_k(loc_k)

so the members' disagreement counts as epistemic uncertainty (`predictive` keeps the
aleatoric part, scale^2 - e^2 = mean_k(scale_k^2 - e_k^2), apart). The output has the
ladder's three-parameter form, so `predict_distribution`, `export_forecaster` and every
caller take an ensemble as they take one model.

Example:
    >>> import numpy as np
    >>> from cuttingedge.trainers.probabilistic.ladder import build_model
    >>> members = [build_model("learned_scale", window=3, hidden_units=(4,), seed=s)
    ...            for s in (0, 1)]
    >>> model = ensemble_model(members)
    >>> model(np.zeros([2, 3], np.float32)).shape
    TensorShape([2, 3])
"""

from __future__ import annotations

from typing import Sequence

import keras
from keras import ops

from cuttingedge.trainers.probabilistic import distribution
from cuttingedge.trainers.probabilistic.losses import PACKAGE


@keras.saving.register_keras_serializable(package=PACKAGE)
class MomentMatch(keras.layers.Layer):
    """Moment-matches a list of [batch, 2|3] Normal parameters into one [batch, 3].

    Example:
        >>> import numpy as np
        >>> a = np.array([[0.0, 1.0]], np.float32)
        >>> b = np.array([[2.0, 1.0]], np.float32)
        >>> np.round(MomentMatch()([a, b]).numpy(), 4).tolist()  # var of locs 1
        [[1.0, 1.4142, 1.0]]
    """

    def call(self, params):
        stacked = ops.stack([distribution.check_params(p) for p in params])  # [K, batch, P]
        loc, scale = stacked[..., distribution.LOC], stacked[..., distribution.SCALE]
        within = (ops.square(stacked[..., distribution.EPISTEMIC])
                  if stacked.shape[-1] == 3 else ops.zeros_like(loc))
        spread = ops.var(loc, axis=0)
        return ops.stack([ops.mean(loc, axis=0),
                          ops.sqrt(ops.mean(ops.square(scale), axis=0) + spread),
                          ops.sqrt(ops.mean(within, axis=0) + spread)], axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0][:-1]) + (3,)


def ensemble_model(members: Sequence[keras.Model], name: str = "ensemble") -> keras.Model:
    """One Keras model whose output moment-matches the members' (module docstring).

    Args:
        members: fitted ladder models with the same input shape (two or more); they are
            renamed member_0, member_1, ... so that the ensemble's layer names are unique.
        name: the ensemble model's name.

    Raises:
        ValueError: fewer than two members, or members with different input shapes.
    """
    if len(members) < 2:
        raise ValueError(f"Expected at least two ensemble members. Received {len(members)}; "
                         f"use the model itself for one.")
    shapes = {tuple(member.input_shape[1:]) for member in members}
    if len(shapes) != 1:
        raise ValueError(f"Expected ensemble members with one input shape. Received "
                         f"{sorted(shapes)}.")
    for index, member in enumerate(members):
        member.name = f"member_{index}"
    inputs = keras.Input(list(shapes.pop()), name="windows")
    return keras.Model(inputs, MomentMatch()([member(inputs) for member in members]),
                       name=name)
