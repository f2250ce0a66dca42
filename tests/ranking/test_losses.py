"""Tests of cuttingedge.trainers.ranking losses against TF-Ranking 0.5.5 and closed forms."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from cuttingedge.trainers.ranking import losses, losses_impl, metrics

GOLDEN_LOSSES = ["softmax", "pairwise_logistic", "pairwise_hinge", "sigmoid_cross_entropy",
                 "mean_squared", "approx_ndcg"]
LISTWISE = {"softmax", "list_mle", "approx_ndcg"}
IMPL = {
    "softmax": losses_impl.softmax_loss,
    "pairwise_logistic": losses_impl.pairwise_logistic_loss,
    "pairwise_hinge": losses_impl.pairwise_hinge_loss,
    "sigmoid_cross_entropy": losses_impl.sigmoid_cross_entropy_loss,
    "mean_squared": losses_impl.mean_squared_loss,
    "approx_ndcg": losses_impl.approx_ndcg_loss,
    "list_mle": losses_impl.list_mle_loss,
}


def _lse(*xs):
    return math.log(sum(math.exp(x) for x in xs))


# --- TF-Ranking reference values -------------------------------------------------------

@pytest.mark.parametrize("name", GOLDEN_LOSSES)
def test_every_golden_case_matches_tf_ranking(name, golden_cases, assert_reference):
    want = [case["losses"][name] for case in golden_cases]
    keras_loss = losses.get(name)()
    got_keras = [float(keras_loss(c["labels"], c["scores"])) for c in golden_cases]
    got_impl = [float(IMPL[name](c["labels"], c["scores"])) for c in golden_cases]
    assert_reference(got_keras, want, f"{name} (Keras)")
    assert_reference(got_impl, want, f"{name} (losses_impl)")


# Values printed in TF-Ranking 0.5.5's docstrings (tfr.keras.losses), for y_true [[1, 0]]
# and y_pred [[0.6, 0.8]], and for the ragged lists [[1, 0], [0, 1, 0]] with scores
# [[0.6, 0.8], [0.5, 0.8, 0.4]], which TF-Ranking pads to [[1, 0, -1], [0, 1, 0]].
TF_RANKING_DOC = {
    "softmax": (0.7981389, 0.83911896),
    "pairwise_logistic": (0.39906943, 0.3109182),
    "pairwise_hinge": (0.6, 0.41666666),
    "sigmoid_cross_entropy": (0.8042943, 0.64446354),
    "mean_squared": (0.4, 0.20833336),
    "approx_ndcg": (-0.655107, -0.80536866),
}


@pytest.mark.parametrize("name", sorted(TF_RANKING_DOC))
def test_tf_ranking_docstring_values_including_padded_lists(name, assert_reference):
    dense, ragged = TF_RANKING_DOC[name]
    loss = losses.get(name)()
    assert_reference(loss([[1.0, 0.0]], [[0.6, 0.8]]), dense, name)
    padded = loss([[1.0, 0.0, -1.0], [0.0, 1.0, 0.0]], [[0.6, 0.8, 0.0], [0.5, 0.8, 0.4]])
    assert_reference(padded, ragged, f"{name} with padding")


# --- ListMLE (not in the golden file) ----------------------------------------------------

def test_list_mle_is_plackett_luce_nll_of_the_label_order(assert_reference):
    # Labels [2, 1, 0] put the items in order 0, 1, 2; scores are 1, 3, 2.
    want = (_lse(1.0, 3.0, 2.0) - 1.0) + (_lse(3.0, 2.0) - 3.0) + 0.0
    assert_reference(losses.ListMLELoss()([[2.0, 1.0, 0.0]], [[1.0, 3.0, 2.0]]), want, "mle")
    # The label order, not the list order, counts: [0, 2, 1] means items 1, 2, 0.
    want = (_lse(3.0, 2.0, 1.0) - 3.0) + (_lse(2.0, 1.0) - 2.0)
    assert_reference(losses.ListMLELoss()([[0.0, 2.0, 1.0]], [[1.0, 3.0, 2.0]]), want, "mle")


def test_list_mle_temperature_weights_and_batch_mean(assert_reference):
    one = (_lse(0.5, 1.5) - 0.5)  # labels [1, 0], scores [1, 3] / temperature 2
    loss = losses.ListMLELoss(temperature=2.0)
    assert_reference(loss([[1.0, 0.0]], [[1.0, 3.0]]), one, "temperature")
    two = _lse(1.5, 0.5) - 1.5  # labels [0, 1], scores [1, 3] / 2 -> order 1, 0
    batch = loss([[1.0, 0.0], [0.0, 1.0]], [[1.0, 3.0], [1.0, 3.0]], sample_weight=[3.0, 1.0])
    assert_reference(batch, (3.0 * one + 1.0 * two) / 2.0, "per-list weights")


def test_list_mle_ignores_padded_slots_exactly(assert_reference):
    want = (_lse(1.0, 3.0, 2.0) - 1.0) + (_lse(3.0, 2.0) - 3.0)
    padded = losses.ListMLELoss()([[2.0, -1.0, 1.0, -1.0, 0.0]], [[1.0, 50.0, 3.0, -9.0, 2.0]])
    assert_reference(padded, want, "padded ListMLE")


def test_list_mle_ties_in_labels_stable_or_shuffled(assert_reference):
    labels, scores = [[1.0, 1.0, 0.0]], [[1.0, 2.0, 0.0]]
    first_then_second = (_lse(1.0, 2.0, 0.0) - 1.0) + (_lse(2.0, 0.0) - 2.0)
    second_then_first = (_lse(2.0, 1.0, 0.0) - 2.0) + (_lse(1.0, 0.0) - 1.0)
    stable = losses.ListMLELoss(shuffle_ties=False)(labels, scores)
    assert_reference(stable, first_then_second, "stable ties")
    shuffled = {round(float(losses.ListMLELoss()(labels, scores)), 5) for _ in range(30)}
    assert shuffled == {round(first_then_second, 5), round(second_then_first, 5)}


def test_list_mle_reproduces_tf_ranking_docstring_with_stable_ties(assert_reference):
    # TF-Ranking documents 1.1613163 (tf.random.set_seed(42)); its shuffle put the two tied
    # 0-labels of the second list in list order, which shuffle_ties=False does always.
    loss = losses.ListMLELoss(shuffle_ties=False)
    value = loss([[1.0, 0.0, -1.0], [0.0, 1.0, 0.0]], [[0.6, 0.8, 0.0], [0.5, 0.8, 0.4]])
    assert_reference(value, 1.1613163, "ListMLE docstring")


# --- Padding, empty lists, weights -------------------------------------------------------

BASE_LABELS = [[2.0, 1.0, 0.0], [1.0, 3.0, 0.0]]  # no tied labels: ListMLE is deterministic
BASE_SCORES = [[0.3, -0.2, 0.9], [0.1, 0.4, -0.5]]


@pytest.mark.parametrize("name", sorted(losses.LOSSES))
def test_padded_slots_do_not_change_the_loss(name, assert_reference):
    loss = losses.get(name)()
    base = float(loss(BASE_LABELS, BASE_SCORES))
    for pad_label, pad_score in [(-1.0, 50.0), (-3.0, -40.0)]:
        labels = [[row[0], pad_label, *row[1:]] for row in BASE_LABELS]
        scores = [[row[0], pad_score, *row[1:]] for row in BASE_SCORES]
        # TF-Ranking divides pointwise and pairwise sums by all B * L slots, padded included.
        scale = 1.0 if name in LISTWISE else 3.0 / 4.0
        assert_reference(loss(labels, scores), base * scale, f"{name} with a padded slot")


@pytest.mark.parametrize("name", sorted(losses.LOSSES))
def test_all_padded_or_irrelevant_lists_give_finite_values_and_gradients(name):
    loss = losses.get(name)()
    assert float(loss([[-1.0, -1.0, -1.0]], [[0.2, 0.1, 0.3]])) == 0.0
    labels = tf.constant([[-1.0, -1.0, -1.0], [0.0, 0.0, -1.0], [2.0, 0.0, -1.0]])
    scores = tf.Variable([[0.2, 0.1, 0.3], [1e4, -1e4, 0.0], [0.5, 0.4, -1e4]])
    with tf.GradientTape() as tape:
        value = loss(labels, scores)
    gradient = tape.gradient(value, scores)
    assert np.isfinite(float(value))
    assert np.isfinite(gradient.numpy()).all()
    assert (gradient.numpy()[:, 2] == 0.0).all() and (gradient.numpy()[0] == 0.0).all()


@pytest.mark.parametrize("name", ["softmax", "approx_ndcg"])
def test_lists_without_relevant_items_add_zero_to_listwise_losses(name, assert_reference):
    loss = losses.get(name)()
    alone = float(loss([[1.0, 0.0]], [[0.6, 0.8]]))
    with_empty = loss([[1.0, 0.0], [0.0, 0.0]], [[0.6, 0.8], [0.3, 0.1]])
    assert_reference(with_empty, alone / 2.0, f"{name} with an irrelevant list")


def test_weight_conventions_of_each_family(assert_reference):
    mse = losses.MeanSquaredLoss()([[1.0, 0.0]], [[0.5, 0.5]], sample_weight=[[2.0, 1.0]])
    assert_reference(mse, (2.0 * 0.25 + 1.0 * 0.25) / 2.0, "per-item pointwise")
    hinge = losses.PairwiseHingeLoss()([[1.0, 0.0]], [[0.6, 0.8]], sample_weight=[[3.0, 1.0]])
    assert_reference(hinge, 3.0 * 1.2 / 2.0, "pair (i, j) weighted by w_i")
    softmax = losses.SoftmaxLoss()([[1.0, 1.0]], [[0.0, 1.0]], sample_weight=[[2.0, 1.0]])
    log_z = _lse(0.0, 1.0)
    want = 3.0 * -(2.0 / 3.0 * (0.0 - log_z) + 1.0 / 3.0 * (1.0 - log_z))
    assert_reference(softmax, want, "softmax weights multiply labels")
    approx = losses.ApproxNDCGLoss()
    one, two = float(approx([[1.0, 0.0]], [[0.6, 0.8]])), float(approx([[0.0, 1.0]], [[0.6, 0.8]]))
    both = approx([[1.0, 0.0], [0.0, 1.0]], [[0.6, 0.8], [0.6, 0.8]], sample_weight=[[2.0], [1.0]])
    assert_reference(both, (2.0 * one + two) / 2.0, "per-list listwise weights")


def test_temperature_divides_logits(assert_reference):
    for name in ["softmax", "sigmoid_cross_entropy", "pairwise_logistic", "approx_ndcg"]:
        hot = losses.get(name)(temperature=0.5)([[1.0, 0.0]], [[0.6, 0.8]])
        cold = losses.get(name)(temperature=1.0)([[1.0, 0.0]], [[1.2, 1.6]])
        assert_reference(hot, float(cold), f"{name} temperature")


# --- Factory, serialisation, Keras training ----------------------------------------------

def test_get_accepts_short_and_tf_ranking_names():
    assert losses.get("softmax") is losses.SoftmaxLoss
    assert losses.get("pairwise_logistic_loss") is losses.PairwiseLogisticLoss
    assert set(losses.LOSSES) == {"softmax", "pairwise_logistic", "pairwise_hinge",
                                  "sigmoid_cross_entropy", "mean_squared", "approx_ndcg",
                                  "list_mle"}


def test_get_unknown_name_lists_the_choices():
    with pytest.raises(ValueError, match=r"Unknown ranking loss 'lambda'\. Expected one of "
                                         r"\['approx_ndcg', 'list_mle', "):
        losses.get("lambda")


def test_bad_shapes_are_reported():
    with pytest.raises(ValueError, match=r"must have shape \[batch_size, list_size\]\. "
                                         r"Received: labels.shape=\(3,\)"):
        losses.SoftmaxLoss()([1.0, 0.0, 0.0], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="must have the same shape"):
        losses.SoftmaxLoss()([[1.0, 0.0]], [[0.1, 0.2, 0.3]])


@pytest.mark.parametrize("name", sorted(losses.LOSSES))
def test_serialisation_round_trip(name, assert_reference):
    kwargs = {} if name == "mean_squared" else {"temperature": 0.7}
    if name == "list_mle":
        kwargs.update(shuffle_ties=False, seed=3)
    loss = losses.get(name)(name=f"my_{name}", **kwargs)
    config = keras.saving.serialize_keras_object(loss)
    assert config["registered_name"] == f"cuttingedge.ranking>{type(loss).__name__}"
    restored = keras.saving.deserialize_keras_object(config)
    assert type(restored) is type(loss) and restored.get_config() == loss.get_config()
    assert restored.get_config()["name"] == f"my_{name}"
    assert_reference(restored(BASE_LABELS, BASE_SCORES), float(loss(BASE_LABELS, BASE_SCORES)),
                     f"{name} after round trip")


def _tiny_ranking_data(batch=8, list_size=5, features=3):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, list_size, features)).astype("float32")
    labels = rng.integers(0, 3, size=(batch, list_size)).astype("float32")
    labels[:, -1] = -1.0  # one padded slot per list
    labels[0] = -1.0  # one all-padded list
    labels[1, :-1] = 0.0  # one list without relevant items
    return x, labels


@pytest.mark.parametrize("name", sorted(losses.LOSSES))
def test_tiny_model_trains_one_step_with_each_loss(name):
    x, labels = _tiny_ranking_data()
    inputs = keras.Input(shape=x.shape[1:])
    scores = keras.layers.Reshape((x.shape[1],))(keras.layers.Dense(1)(inputs))
    model = keras.Model(inputs, scores)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=losses.get(name)(),
                  metrics=[metrics.NDCGMetric(topn=3)])
    history = model.fit(x, labels, batch_size=8, epochs=1, verbose=0,
                        validation_data=(x, labels))
    assert np.isfinite(history.history["loss"]).all()
    assert np.isfinite(history.history["val_ndcg_3"]).all()
    assert 0.0 <= history.history["ndcg_3"][0] <= 1.0
    assert all(np.isfinite(w).all() for w in model.get_weights())
