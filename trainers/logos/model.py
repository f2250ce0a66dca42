"""Logo classifiers: a small tunable CNN family, Keras Tuner's HyperResNet, and the baseline.

Every model takes float RGB images [batch, S, S, 3] in [0, 1] and returns float32 class
probabilities.

`precision="mixed_bfloat16"` computes the small CNN and the ResNet50V2 baseline in bfloat16
with float32 weights and float32 outputs (Keras mixed precision). On CPUs with native bfloat16
(AVX512_BF16 or AMX) a training step is about 1.3 times as fast (`benchmarks/logos.py`,
section `augment`); without them bfloat16 is emulated and may be slower, so float32 stays
the default. HyperResNet always builds in float32.
"""

from __future__ import annotations

import contextlib

import keras
import keras_tuner

ARCHITECTURES = ("cnn", "resnet")
PRECISIONS = ("float32", "mixed_bfloat16")
POOLINGS = ("avg", "max", "avgmax")


def check_precision(precision: str) -> str:
    """`precision` if it is one of `PRECISIONS`, else a ValueError naming them."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {list(PRECISIONS)}. Received: {precision!r}")
    return precision


@contextlib.contextmanager
def _precision(precision: str):
    """Layers built inside use the dtype policy `precision`; the global policy is restored."""
    check_precision(precision)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def small_cnn(hp: keras_tuner.HyperParameters, image_size: int, classes: int,
              precision: str = "float32") -> keras.Model:
    """A tunable CNN: `blocks` conv blocks of `filters` x 2^i channels, BN, pooling, dropout.

    `pooling` is how the last feature map becomes one vector: its mean ("avg"), its maximum
    ("max": a logo's features anywhere in the image, undiluted by the clutter around it), or
    both side by side ("avgmax", the default: 5 points of held-out top-1 over "avg" after 30
    epochs, `benchmarks/README.md`).
    """
    with _precision(precision):
        return _small_cnn(hp, image_size, classes)


def _small_cnn(hp: keras_tuner.HyperParameters, image_size: int, classes: int) -> keras.Model:
    blocks = hp.Int("blocks", 3, 5, default=4)
    filters = hp.Choice("filters", [16, 24, 32, 48], default=32)
    dense = hp.Choice("dense", [128, 256, 512], default=256)
    dropout = hp.Float("dropout", 0.0, 0.5, step=0.1, default=0.2)
    learning_rate = hp.Float("learning_rate", 3e-4, 3e-3, sampling="log", default=1e-3)
    pooling = hp.Choice("pooling", list(POOLINGS), default="avgmax")
    if pooling not in POOLINGS:  # a Fixed value may be anything
        raise ValueError(f"pooling must be one of {list(POOLINGS)}. Received: {pooling!r}")
    inputs = keras.Input((image_size, image_size, 3))
    x = keras.layers.Rescaling(2.0, offset=-1.0)(inputs)
    for i in range(blocks):
        width = filters * 2 ** min(i, 3)
        x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.Activation("relu")(x)
        x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.Activation("relu")(x)
        if i < blocks - 1:
            x = keras.layers.MaxPooling2D()(x)
    if pooling == "avg":
        x = keras.layers.GlobalAveragePooling2D()(x)
    elif pooling == "max":
        x = keras.layers.GlobalMaxPooling2D()(x)
    else:
        x = keras.layers.Concatenate()([keras.layers.GlobalAveragePooling2D()(x),
                                        keras.layers.GlobalMaxPooling2D()(x)])
    x = keras.layers.Dropout(dropout)(x)
    x = keras.layers.Dense(dense, activation="relu")(x)
    outputs = keras.layers.Dense(classes, activation="softmax", dtype="float32")(x)
    model = keras.Model(inputs, outputs, name="logo_cnn")
    _compile(model, learning_rate)
    return model


def _compile(model: keras.Model, learning_rate: float) -> None:
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss="sparse_categorical_crossentropy",
                  metrics=["accuracy", keras.metrics.SparseTopKCategoricalAccuracy(
                      5, name="top5")])


class LogoHyperModel(keras_tuner.HyperModel):
    """The search space: the small CNN family, or Keras Tuner's HyperResNet (`architecture`)."""

    def __init__(self, image_size: int, classes: int, architectures=("cnn",),
                 precision: str = "float32"):
        super().__init__(name="logos")
        unknown = set(architectures) - set(ARCHITECTURES)
        if unknown:
            raise ValueError(f"Unknown architectures {sorted(unknown)}. Expected some of "
                             f"{list(ARCHITECTURES)}.")
        self.image_size, self.classes = image_size, classes
        self.architectures = tuple(architectures)
        self.precision = check_precision(precision)

    def build(self, hp):
        architecture = hp.Choice("architecture", list(self.architectures),
                                 default=self.architectures[0])
        if architecture == "resnet":
            with hp.conditional_scope("architecture", "resnet"):
                resnet = keras_tuner.applications.HyperResNet(
                    input_shape=(self.image_size, self.image_size, 3), classes=self.classes)
                return resnet.build(hp)
        with hp.conditional_scope("architecture", "cnn"):
            return small_cnn(hp, self.image_size, self.classes, self.precision)


def resnet_baseline(image_size: int, classes: int, learning_rate: float = 1e-3,
                    precision: str = "float32") -> keras.Model:
    """ResNet50V2 from scratch (weights=None) at the same input size: the baseline."""
    with _precision(precision):
        base = keras.applications.ResNet50V2(weights=None, classes=classes,
                                             input_shape=(image_size, image_size, 3))
        inputs = keras.Input((image_size, image_size, 3))
        outputs = base(keras.layers.Rescaling(2.0, offset=-1.0)(inputs))
        if precision != "float32":  # float32 probabilities
            outputs = keras.layers.Activation("linear", dtype="float32")(outputs)
        model = keras.Model(inputs, outputs, name="resnet50v2_baseline")
    _compile(model, learning_rate)
    return model
