"""Blend weight selection: the one-standard-error rule on per-list NDCG."""

import numpy as np
import pytest

from cuttingedge.trainers.ranking import evaluate
from cuttingedge.trainers.ranking.data import RankingLists


def _lists(labels):
    labels = np.asarray(labels, np.float32)
    shape = labels.shape
    return RankingLists(numeric=np.zeros(shape + (1,), np.float32), label=labels,
                        position=np.zeros(shape, np.int64),
                        query_text=np.array([b""] * shape[0], object),
                        doc_text=np.full(shape, b"", object), true_relevance=labels)


def test_per_list_ndcg_matches_the_keras_metric():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, size=(20, 6)).astype(np.float32)
    labels[0] = 0.0  # a list with no relevant document scores 0 and counts
    labels[1, 4:] = -1.0  # padding
    scores = rng.normal(size=labels.shape).astype(np.float32)
    values, weights = evaluate.per_list_ndcg(labels, scores, topn=5)
    mean = (values * weights).sum() / weights.sum()
    assert values[0] == 0.0 and weights[0] > 0
    np.testing.assert_allclose(mean, evaluate.ranking_metrics_of(labels, scores)["ndcg_5"],
                               rtol=1e-5)


def test_a_clearly_better_model_keeps_most_of_the_weight():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, size=(300, 8)).astype(np.float32)
    perfect = labels + 0.01 * rng.normal(size=labels.shape)
    noise = rng.normal(size=labels.shape)
    weight, search = evaluate.choose_weight(perfect, noise, _lists(labels))
    assert search["0.0"] > search["1.0"] + 0.2
    # Only weights that cost nothing measurable against the best qualify.
    assert weight < 0.5 and search[str(weight)] >= search["0.0"] - 0.01
    mirrored, _ = evaluate.choose_weight(noise, perfect, _lists(labels))
    assert mirrored == 1.0 - weight


def test_two_equally_good_models_get_a_blend_near_even():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 3, size=(300, 8)).astype(np.float32)
    first = labels + rng.normal(size=labels.shape)
    second = labels + rng.normal(size=labels.shape)
    weight, search = evaluate.choose_weight(first, second, _lists(labels))
    assert 0.3 <= weight <= 0.7
    # Two independent noisy views average to a better ranking than either.
    assert search[str(weight)] > max(search["0.0"], search["1.0"]) + 0.01


def test_custom_config_options_refuse_unknown_keys_by_name():
    import doctest

    import cuttingedge.trainers.options as module
    from cuttingedge.trainers.logos.trainer import LogoOptions
    from cuttingedge.trainers.ranking.trainer import TrainOptions

    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
    assert TrainOptions.from_custom_config({"epochs": 2}).epochs == 2
    for options in (TrainOptions, LogoOptions):
        with pytest.raises(ValueError, match=r"Unknown custom_config keys \['epoch'\]"):
            options.from_custom_config({"epoch": 2})


def test_inverse_propensity_weights_follow_display_positions():
    lists = _lists([[1.0, 0.0, 1.0, -1.0]])
    lists.position = np.array([[1, 2, 5, 0]])
    weights = evaluate.inverse_propensity_weights(lists, [1.0, 0.5, 0.25])
    # Position 5 is past the propensities' end (uses the last), 0 is padding (weight 1).
    np.testing.assert_allclose(weights, [[1.0, 2.0, 4.0, 1.0]])
    assert evaluate.inverse_propensity_weights(lists, None) is None
    assert evaluate.inverse_propensity_weights(_lists([[1.0, 0.0]]), [1.0, 0.5]) is None


def test_inverse_propensity_weighting_stops_clicks_favouring_the_logged_order():
    """Clicks follow P(click) = (1 / display position) * relevance. A model that copies the
    logged order looks best on raw clicks; weighting clicks by inverse propensity restores
    the model that is better on the true relevance, and the blend chosen with it is better."""
    rng = np.random.default_rng(0)
    n, size = 600, 10
    relevance = (rng.uniform(size=(n, size)) < 0.3).astype(np.float32)
    order = np.argsort(-(relevance + rng.normal(size=relevance.shape)), axis=1)
    position = np.empty_like(order)
    np.put_along_axis(position, order, np.tile(np.arange(1, size + 1), (n, 1)), axis=1)
    theta = 1.0 / np.arange(1, size + 1)
    clicks = (rng.uniform(size=relevance.shape) < theta[position - 1] * relevance)
    lists = _lists(clicks.astype(np.float32))
    lists.position = position
    copier = -position + 0.01 * rng.normal(size=relevance.shape)
    better = relevance + 0.5 * rng.normal(size=relevance.shape)
    ips = evaluate.inverse_propensity_weights(lists, list(theta))
    by_clicks, clicks_search = evaluate.choose_weight(better, copier, lists)
    by_ips, ips_search = evaluate.choose_weight(better, copier, lists, item_weights=ips)
    assert clicks_search["1.0"] > clicks_search["0.0"] + 0.05  # raw clicks favour the copier
    assert ips_search["0.0"] > ips_search["1.0"] + 0.03        # IPS favours the better model
    assert by_ips < by_clicks

    def truth(weight):
        return evaluate.ranking_metrics_of(
            relevance, evaluate.blend(better, copier, lists.mask, weight))["ndcg_10"]

    assert truth(by_ips) > truth(by_clicks) + 0.03
