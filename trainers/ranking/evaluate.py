"""Compare neural, LambdaMART and blended rankers; choose the blend weight; draw the chart.

Metrics follow TF-Ranking's definitions (cuttingedge.trainers.ranking.metrics): NDCG uses
gains 2^label - 1 and discount 1/log2(rank + 1); a list with no relevant document scores 0
and still counts (weight 1) in the mean.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import os

import numpy as np
import tensorflow as tf

from cuttingedge.trainers.ranking import metrics as ranking_metrics
from cuttingedge.trainers.ranking.data import RankingLists
from cuttingedge.trainers.ranking.preprocess import TextConfig, preprocess
from cuttingedge.trainers.ranking.serving import standardize, to_elwc

METRICS = {
    "ndcg_1": lambda: ranking_metrics.NDCGMetric(topn=1),
    "ndcg_5": lambda: ranking_metrics.NDCGMetric(topn=5),
    "ndcg_10": lambda: ranking_metrics.NDCGMetric(topn=10),
    "mrr": ranking_metrics.MRRMetric,
    "map": ranking_metrics.MeanAveragePrecisionMetric,
    "arp": ranking_metrics.ARPMetric,
}
WEIGHTS = tuple(np.round(np.linspace(0, 1, 11), 2))


def ranking_metrics_of(labels: np.ndarray, scores: np.ndarray,
                       item_weights: np.ndarray | None = None) -> dict[str, float]:
    """All METRICS of scores [lists, size] against labels (-1 = padding), with TF-Ranking's
    per-item weights when given (e.g. `inverse_propensity_weights`)."""
    out = {}
    for name, make in METRICS.items():
        metric = make()
        metric.update_state(tf.constant(labels, tf.float32), tf.constant(scores, tf.float32),
                            None if item_weights is None else
                            tf.constant(item_weights, tf.float32))
        out[name] = float(metric.result())
    return out


def inverse_propensity_weights(lists: RankingLists, propensity) -> np.ndarray | None:
    """Per-document weights 1 / theta(display position) for click labels ([lists, size]).

    Clicks at low display positions are rarer because fewer users look there, not because
    the documents are worse; weighting each click by the inverse of its position's
    examination propensity makes click-based metrics unbiased estimates of relevance-based
    ones (Joachims et al., 2017), as TF-Ranking does with per-example weights.

    Args:
        lists: lists with their `position` (1-based display position, 0 = unknown/padding).
        propensity: [theta(1), theta(2), ...], e.g. from the ranker's position tower
            (`model.position_propensities`); positions past its end use its last value.

    Returns:
        The weights, or None when there is no propensity or no list has display positions
        (e.g. LETOR files): then metrics stay unweighted.
    """
    if not propensity or not (lists.position > 0).any():
        return None
    theta = np.clip(np.asarray(propensity, np.float64), 1e-3, None)
    index = np.clip(lists.position.astype(np.int64), 1, len(theta)) - 1
    weights = 1.0 / theta[index]
    return np.where(lists.position > 0, weights, 1.0).astype(np.float32)


def neural_scores(scorer, lists: RankingLists, text: TextConfig, batch: int = 256):
    """Scores of the Keras scorer on in-memory lists ([lists, size])."""
    out = []
    for start in range(0, len(lists), batch):
        part = slice(start, start + batch)
        inputs = preprocess({"query_text": tf.constant(lists.query_text[part]),
                             "doc_text": tf.constant(lists.doc_text[part]),
                             "numeric": tf.constant(lists.numeric[part]),
                             "label": tf.constant(lists.label[part])}, text)
        out.append(scorer(inputs, training=False).numpy())
    return np.concatenate(out)


def forest_scores(forest, lists: RankingLists) -> np.ndarray:
    """Scores of the compiled LambdaMART trees on in-memory lists ([lists, size])."""
    flat = lists.numeric.reshape(-1, lists.numeric.shape[-1])
    return forest.score(tf.constant(flat, tf.float32)).numpy().reshape(lists.label.shape)


def blend(neural: np.ndarray, trees: np.ndarray, mask: np.ndarray, weight: float) -> np.ndarray:
    """(1 - w) * z(neural) + w * z(trees), per-list standardised, as RankingServer does."""
    m = tf.constant(mask, tf.float32)
    neural, trees = (tf.constant(np.asarray(x, np.float32)) for x in (neural, trees))
    return ((1 - weight) * standardize(neural, m) + weight * standardize(trees, m)).numpy()


def per_list_ndcg(labels: np.ndarray, scores: np.ndarray, topn: int = 10,
                  item_weights: np.ndarray | None = None):
    """NDCG@topn of every list and its TF-Ranking list weight (both [lists])."""
    from cuttingedge.trainers.ranking import metrics_impl

    values, weights = metrics_impl.ndcg(*metrics_impl.prepare(labels, scores, item_weights),
                                        topn=topn)
    return values.numpy().reshape(-1), weights.numpy().reshape(-1)


def choose_weight(neural, trees, lists: RankingLists, metric: str = "ndcg_10",
                  item_weights: np.ndarray | None = None):
    """The blend weight by the one-standard-error rule on `lists` (the eval split).

    Both models were early-stopped on the same eval split, so its best weight is noisy and
    biased toward the model that fitted eval more. Among the weights whose mean per-list NDCG
    is within one paired standard error of the best weight's, this takes the one closest to
    an even blend (0.5; ties: the smaller weight). When one model is clearly better on eval,
    only weights near it qualify. With `item_weights` (inverse propensities of click
    labels) the NDCG is TF-Ranking's weighted NDCG, so position-biased clicks do not favour
    the model that copied the logged order.

    Returns:
        (weight, {str(weight): mean `metric` on `lists`}).
    """
    topn = int(metric.rsplit("_", 1)[1])
    per_list = {w: per_list_ndcg(lists.label, blend(neural, trees, lists.mask, w), topn,
                                 item_weights) for w in WEIGHTS}
    weights = per_list[WEIGHTS[0]][1]
    total = max(float(weights.sum()), 1e-12)
    means = {w: float((v * weights).sum() / total) for w, (v, _) in per_list.items()}
    best = max(WEIGHTS, key=lambda w: (means[w], -w))
    n = max(int((weights > 0).sum()), 2)
    eligible = []
    for w in WEIGHTS:
        diff = per_list[best][0] - per_list[w][0]
        mean = float((diff * weights).sum() / total)
        spread = float(np.sqrt(((diff - mean) ** 2 * weights).sum() / total))
        if mean <= spread / np.sqrt(n - 1):
            eligible.append(w)
    chosen = min(eligible, key=lambda w: (abs(w - 0.5), w))
    return float(chosen), {str(w): v for w, v in means.items()}


def pushed_versions(serving_dir: str) -> list[str]:
    """Version folders (integers) under a TF Serving model folder, oldest first."""
    paths = [p for p in glob.glob(os.path.join(serving_dir, "*"))
             if os.path.basename(p).isdigit() and
             os.path.exists(os.path.join(p, "saved_model.pb"))]
    return sorted(paths, key=lambda p: int(os.path.basename(p)))


def elwc_requests(lists: RankingLists, feature_names: list[str], indices) -> list[bytes]:
    """Serialised ELWC requests of the given lists, as a client would send them."""
    def text(value):
        return value.decode() if isinstance(value, bytes) else str(value)

    requests = []
    for i in indices:
        n = int(lists.mask[i].sum())
        docs = [{"doc_text": text(lists.doc_text[i, j]),
                 **dict(zip(feature_names, lists.numeric[i, j].tolist()))} for j in range(n)]
        requests.append(to_elwc(text(lists.query_text[i]), docs))
    return requests


def served_scores(model_dir: str, lists: RankingLists, feature_names: list[str],
                  batch: int = 64) -> np.ndarray:
    """Scores of a SavedModel called through serving_default with ELWC, as TF Serving would."""
    serve = tf.saved_model.load(model_dir).signatures["serving_default"]
    size = lists.label.shape[1]
    out = []
    for start in range(0, len(lists), batch):
        requests = elwc_requests(lists, feature_names, range(start, min(start + batch,
                                                                          len(lists))))
        scores = serve(examples=tf.constant(requests))["scores"].numpy()
        out.append(np.pad(scores, ((0, 0), (0, size - scores.shape[1]))))
    return np.concatenate(out)


@dataclasses.dataclass
class Comparison:
    """What the evaluation decided, with the figures behind it."""

    blend_weight: float
    candidate: str
    eval_ndcg_10: dict[str, float]
    test: dict[str, dict[str, float]]
    weight_search: dict[str, float]
    test_true_relevance: dict[str, dict[str, float]] | None = None
    test_weight_curve: dict[str, float] | None = None  # reported only, never used to choose
    eval_weighting: str = "none"  # how eval clicks were weighted for the choices above
    propensity: list[float] | None = None  # by display position, from the position tower
    blessed: bool = False
    reason: str = ""

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=1, sort_keys=True)


def plot_comparison(test: dict[str, dict[str, float]], path: str, title: str) -> str:
    """A grouped bar chart of every metric for every model, saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(test)
    names = [n for n in METRICS if n != "arp"]
    x = np.arange(len(names))
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 4), gridspec_kw={"width_ratios": [5, 1]})
    for i, model in enumerate(models):
        ax.bar(x + (i - (len(models) - 1) / 2) * 0.8 / len(models),
               [test[model][n] for n in names], 0.8 / len(models), label=model)
        ax2.bar(i, test[model]["arp"], 0.6, label=model)
    ax.set_xticks(x, [n.upper().replace("_", "@") for n in names])
    ax.set_ylabel("test split (higher is better)")
    ax.legend()
    ax2.set_xticks(range(len(models)), models, rotation=30)
    ax2.set_title("ARP (lower is better)")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
