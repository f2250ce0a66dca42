"""Test-time views: a classifier's probabilities averaged over shifted and zoomed copies.

A logo in mail is rarely centred or sized as in training, and one look at a 64 px image can
miss a thin logo over a busy photo. `stack(images, count)` makes `count` views of every
image, in this order:

    identity, shifted right, left, down, up (by 3/64 of the side), zoomed in (x1.15, centre
    crop), zoomed out (x0.85; the border is the image mirrored)

and `average(probabilities, count)` averages the classifier's probabilities over them. The
served model (`serving.LogoServer(views=...)`), the pipeline's evaluation and
`benchmarks/logo_quality.py` use the same two functions, so what is measured is what is
served. `count=1` is the image alone; each extra view costs one more forward pass.

    probabilities = views.predict(net, images, count=7)  # [batch, classes], numpy
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

NAMES = ("identity", "right", "left", "down", "up", "zoom_in", "zoom_out")
MAX_VIEWS = len(NAMES)


def check_count(count: int) -> int:
    """`count` if it is a whole number of views from 1 to MAX_VIEWS, else ValueError."""
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or \
            not 1 <= count <= MAX_VIEWS:
        raise ValueError(f"test-time views must be a whole number from 1 (the image alone) to "
                         f"{MAX_VIEWS} ({', '.join(NAMES)}). Received: {count!r}")
    return int(count)


def _shift(images: tf.Tensor, dx: int, dy: int, step: int) -> tf.Tensor:
    size = images.shape[1]
    padded = tf.pad(images, [[0, 0], [step, step], [step, step], [0, 0]], mode="SYMMETRIC")
    return padded[:, step - dy:step - dy + size, step - dx:step - dx + size]


def _zoom_in(images: tf.Tensor) -> tf.Tensor:
    size = images.shape[1]
    crop = int(round(size / 1.15))
    start = (size - crop) // 2
    return tf.image.resize(images[:, start:start + crop, start:start + crop], [size, size],
                           antialias=True)


def _zoom_out(images: tf.Tensor) -> tf.Tensor:
    size = images.shape[1]
    border = max(1, int(round(size * (1 / 0.85 - 1) / 2)))
    padded = tf.pad(images, [[0, 0], [border, border], [border, border], [0, 0]],
                    mode="SYMMETRIC")
    return tf.image.resize(padded, [size, size], antialias=True)


def stack(images, count: int) -> tf.Tensor:
    """[count * batch, size, size, channels]: view k of image i at row k * batch + i.

    `images` are square, [batch, size, size, channels], with a static size.
    """
    count = check_count(count)
    images = tf.convert_to_tensor(images, tf.float32)
    size = images.shape[1]
    if size is None or size != images.shape[2]:
        raise ValueError(f"test-time views need square images of a known size. Received "
                         f"shape {images.shape}")
    step = max(1, int(round(size * 3 / 64)))
    makers = (lambda x: x,
              lambda x: _shift(x, step, 0, step), lambda x: _shift(x, -step, 0, step),
              lambda x: _shift(x, 0, step, step), lambda x: _shift(x, 0, -step, step),
              _zoom_in, _zoom_out)
    return tf.concat([make(images) for make in makers[:count]], axis=0)


def average(probabilities: tf.Tensor, count: int) -> tf.Tensor:
    """[batch, classes]: the mean over the `count` views of `stack`'s layout."""
    probabilities = tf.cast(probabilities, tf.float32)
    classes = tf.shape(probabilities)[-1]
    return tf.reduce_mean(tf.reshape(probabilities, [count, -1, classes]), axis=0)


def predict(net, images: np.ndarray, count: int = 1, batch_size: int = 256) -> np.ndarray:
    """Probabilities [batch, classes] of a Keras classifier, averaged over `count` views."""
    count = check_count(count)
    if count == 1:
        return net.predict(images, batch_size=batch_size, verbose=0)
    chunks = []
    for start in range(0, len(images), batch_size):
        stacked = stack(images[start:start + batch_size], count)
        chunks.append(average(net(stacked, training=False), count).numpy())
    return np.concatenate(chunks, axis=0)
