"""The served logo classifier: encoded image bytes in, brand, score and probabilities out.

`serving_default(image_bytes: tf.string [batch])` decodes PNG, JPEG, GIF (first frame) or BMP
of any size (grey, grey+alpha, RGB or RGBA; transparent pixels are composited over white, as a
mail client shows them), resizes to the model's input, and returns `brand` (tf.string [batch],
the slug of the top class), `score` (its probability) and `probabilities` [batch, brands]. The
brand list is an asset of the SavedModel (`assets/brands.txt`, one slug per line, line = class
id). With `views` > 1 the probabilities are averaged over that many test-time views of each
image (`views.stack`: shifted and zoomed copies), as the pipeline's evaluation scores them.
Bytes that are not an image make the request fail with TensorFlow's decode error.
"""

from __future__ import annotations

import os
import tempfile

import tensorflow as tf

from cuttingedge.trainers.logos import views as views_lib


class LogoServer(tf.Module):
    """A Keras classifier wrapped with decoding and the brand lookup."""

    def __init__(self, model, brands: list[str], image_size: int, views: int = 1):
        super().__init__()
        self.model, self.image_size = model, image_size
        self.views = views_lib.check_count(views)
        folder = tempfile.mkdtemp(prefix="brands-")
        path = os.path.join(folder, "brands.txt")
        with open(path, "w") as handle:
            handle.write("\n".join(brands) + "\n")
        self.brands_file = tf.saved_model.Asset(path)
        self.table = tf.lookup.StaticHashTable(tf.lookup.TextFileInitializer(
            self.brands_file, tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER, tf.string,
            tf.lookup.TextFileIndex.WHOLE_LINE), default_value="")
        self.serve = tf.function(self._serve, input_signature=[
            tf.TensorSpec([None], tf.string, name="image_bytes")])

    def decode(self, image_bytes):
        image = tf.io.decode_image(image_bytes, channels=0, expand_animations=False)
        image = tf.cast(image, tf.float32) / 255.0
        channels = tf.shape(image)[-1]
        colour = image[..., :tf.maximum(channels - 1 + channels % 2, 1)]  # drop alpha
        colour = tf.broadcast_to(colour, tf.concat([tf.shape(image)[:2], [3]], 0))
        alpha = tf.where(channels % 2 == 0, image[..., -1:], tf.ones_like(image[..., :1]))
        image = colour * alpha + (1.0 - alpha)
        image = tf.image.resize(image, [self.image_size, self.image_size], antialias=True)
        return tf.ensure_shape(image, [self.image_size, self.image_size, 3])

    def _serve(self, image_bytes):
        images = tf.map_fn(self.decode, image_bytes, fn_output_signature=tf.TensorSpec(
            [self.image_size, self.image_size, 3], tf.float32))
        if self.views == 1:
            probabilities = self.model(images, training=False)
        else:
            probabilities = views_lib.average(
                self.model(views_lib.stack(images, self.views), training=False), self.views)
        top = tf.argmax(probabilities, axis=-1)
        return {"brand": self.table.lookup(top), "score": tf.reduce_max(probabilities, -1),
                "probabilities": probabilities}


def export(server: LogoServer, path: str) -> str:
    """Saves the server as a SavedModel with the `serving_default` signature."""
    tf.saved_model.save(server, path, signatures={"serving_default": server.serve})
    return path


def predict_files(model_dir: str, paths: list[str], top: int = 3):
    """Returns [(path, [(brand, probability), ...top])] for image files."""
    loaded = tf.saved_model.load(model_dir)
    serve = loaded.signatures["serving_default"]
    with tf.io.gfile.GFile(os.path.join(model_dir, "assets", "brands.txt")) as handle:
        brands = handle.read().split()
    results = []
    for path in paths:
        with tf.io.gfile.GFile(path, "rb") as handle:
            data = handle.read()
        probabilities = serve(image_bytes=tf.constant([data]))["probabilities"].numpy()[0]
        best = probabilities.argsort()[::-1][:top]
        results.append((path, [(brands[i], float(probabilities[i])) for i in best]))
    return results
