"""A tiny SavedModel with every kind of signature the serving tests need.

    serving_default  x float32 [None, 3]        -> y = x . W + B               [None]
    examples         examples string [None]      -> y (tf.Example feature "x"), y_bytes
    checked          x float32 [None, 3]        -> y, but raises when any x > 100
    log              x float32 [None, 3]        -> y = log(x0): NaN for x0 < 0
"""

import shutil
import types

import numpy as np
import pytest
import tensorflow as tf

W = np.array([1.0, 2.0, 3.0], np.float32)
B = np.float32(0.5)
X = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]], np.float32)


def expected_y(x: np.ndarray) -> np.ndarray:
    """y = x . W + B, the closed form of serving_default."""
    return x @ W + B


def example(x_row) -> bytes:
    """A serialised tf.Example with float feature "x" of length 3."""
    features = {"x": tf.train.Feature(float_list=tf.train.FloatList(value=list(x_row)))}
    return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()


class _Tiny(tf.Module):
    def __init__(self):
        super().__init__()
        self.w, self.b = tf.Variable(W), tf.Variable(B)

    def _y(self, x):
        return tf.linalg.matvec(x, self.w) + self.b

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x")])
    def serve(self, x):
        return {"y": self._y(x)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def examples(self, examples):
        x = tf.io.parse_example(examples, {"x": tf.io.FixedLenFeature([3], tf.float32)})["x"]
        y = self._y(x)
        return {"y": y, "y_bytes": tf.strings.as_string(y, precision=1)}

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x")])
    def checked(self, x):
        with tf.control_dependencies([tf.debugging.assert_less_equal(
                x, 100.0, message="x must be at most 100")]):
            return {"y": self._y(x)}

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x")])
    def log(self, x):
        return {"y": tf.math.log(x[:, 0])}


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> types.SimpleNamespace:
    """The tiny model saved once (`template`), its inputs X and closed forms."""
    path = tmp_path_factory.mktemp("tiny") / "model"
    module = _Tiny()
    tf.saved_model.save(module, str(path), signatures={
        "serving_default": module.serve, "examples": module.examples,
        "checked": module.checked, "log": module.log})
    return types.SimpleNamespace(template=path, x=X, expected_y=expected_y, example=example)


@pytest.fixture
def tiny_model(tiny, tmp_path):
    """A private copy of the tiny SavedModel (tests write warmup files into it)."""
    return shutil.copytree(tiny.template, tmp_path / "model" / "Format-Serving")
