"""Fixtures of the tuning tests: tiny logo-like images, tiny CNN hypermodels, one CPU thread."""

import os
import time
import types

os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

import keras  # noqa: E402
import keras_tuner  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)


@pytest.fixture(scope="session")
def data():
    """48 random 8x8 RGB "logos" in 2 classes, split 32 train / 16 validation."""
    rng = np.random.default_rng(0)
    x = rng.random((48, 8, 8, 3), dtype=np.float32)
    y = rng.integers(0, 2, 48)
    return {"x": x[:32], "y": y[:32], "validation_data": (x[32:], y[32:])}


def cnn_param_count(filters: int) -> int:
    """Parameters of `build_cnn`: 3x3x3 conv with bias, then a 2-way dense layer with bias."""
    return (3 * 3 * 3 * filters + filters) + (filters * 2 + 2)


def build_cnn(filters: int, learning_rate: float = 1e-2) -> keras.Model:
    model = keras.Sequential([
        keras.Input((8, 8, 3)),
        keras.layers.Conv2D(filters, 3, activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(2, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  run_eagerly=True)  # eager: faster than tracing for 2 batches
    return model


class LogoHyperModel(keras_tuner.HyperModel):
    """A tiny CNN; `fail` maps a `filters` value to the exception its build raises."""

    def __init__(self, choices=(2, 3, 4, 5), fail=None, fit_error=None):
        super().__init__()
        self.choices, self.fail, self.fit_error = list(choices), dict(fail or {}), fit_error
        self.initial_weights = {}  # filters -> weights of the last model built

    def build(self, hp):
        filters = hp.Choice("filters", self.choices)
        if filters in self.fail:
            raise self.fail[filters]
        model = build_cnn(filters)
        self.initial_weights[filters] = model.get_weights()
        return model

    def fit(self, hp, model, *args, **kwargs):
        if self.fit_error is not None:
            raise self.fit_error
        return model.fit(*args, **kwargs)


class SlowBatches(keras.callbacks.Callback):
    """Sleeps after every batch: a slow trial that costs no CPU."""

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = seconds

    def on_train_batch_end(self, batch, logs=None):
        time.sleep(self.seconds)


@pytest.fixture
def hypermodel():
    return LogoHyperModel()


@pytest.fixture
def make_hypermodel():
    return LogoHyperModel


@pytest.fixture(scope="session")
def failed_search(tmp_path_factory, data):
    """A 4-trial random search over filters in {2, 3, 4, 5} where 3 and 4 fail to build."""
    from cuttingedge.trainers.tuning.search import make_tuner, search
    from cuttingedge.trainers.tuning import SearchBudget

    keras.utils.set_random_seed(0)
    hypermodel = LogoHyperModel(fail={
        3: keras_tuner.errors.FailedTrialError("filters=3 is not supported"),
        4: ValueError("no 4-filter logos"),
    })
    tuner = make_tuner("random", hypermodel, directory=tmp_path_factory.mktemp("failed"),
                       project_name="logo", budget=SearchBudget(max_trials=4), seed=7)
    result = search(tuner, data["x"], data["y"], validation_data=data["validation_data"],
                    epochs=1, batch_size=16, verbose=0)
    return types.SimpleNamespace(result=result, hypermodel=hypermodel, tuner=tuner)


@pytest.fixture
def param_count():
    return cnn_param_count


@pytest.fixture
def slow_batches():
    return SlowBatches
