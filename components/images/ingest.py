"""Labelled images (PNG, JPEG, GIF, SVG) to tf.Example records, in Beam.

Input: a folder with one sub-folder per class, or a CSV manifest with `path,label` columns
(paths relative to the manifest). Every image is decoded (SVG is rasterised with cairosvg);
what cannot be decoded is rejected with the file name and reason, never dropped.

Record features:
  image_raw   PNG or JPEG bytes (the original bytes for PNG/JPEG; GIF and SVG re-encoded as PNG)
  label       int64 class id (position of the class name in the sorted class list)
  label_name  the class name
  width, height, channels  int64, of the decoded image
  source      the file path
"""

from __future__ import annotations

import csv
import dataclasses
import io
import os

import apache_beam as beam

from cuttingedge.components import deadletter
from cuttingedge.components.split import SplitConfig
from cuttingedge.components.write_examples import WriteSplitExamples

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".svg")


@dataclasses.dataclass(frozen=True)
class ImageIngestConfig:
    """How to ingest labelled images.

    Args:
      splits: split names and weights, assigned by hashing the file path.
      svg_size: pixel size of the longer side when rasterising SVG.
      max_rejected_fraction: the run fails above this fraction of rejected images.
    """

    splits: SplitConfig = SplitConfig((("train", 8), ("eval", 2)))
    svg_size: int = 128
    max_rejected_fraction: float = 0.01

    def __post_init__(self):
        if not 8 <= self.svg_size <= 4096:
            raise ValueError(f"svg_size must be in [8, 4096]. Received: {self.svg_size}")


def list_images(location: str) -> list[tuple[str, str]]:
    """Returns (path, class name) pairs from a class-per-folder tree or a CSV manifest.

    Raises:
      FileNotFoundError: when `location` does not exist.
      ValueError: when it holds no images, or the manifest lacks `path`/`label` columns.
    """
    import tensorflow as tf

    if not tf.io.gfile.exists(location):
        raise FileNotFoundError(f"Image input {location!r} does not exist. Pass a folder with "
                                "one sub-folder per class, or a CSV manifest (path,label).")
    if not tf.io.gfile.isdir(location):
        return _manifest_images(location)
    pairs = []
    for name in sorted(tf.io.gfile.listdir(location)):
        folder = os.path.join(location, name.rstrip("/"))
        if not tf.io.gfile.isdir(folder):
            continue
        for file in sorted(tf.io.gfile.listdir(folder)):
            if file.lower().endswith(IMAGE_EXTENSIONS):
                pairs.append((os.path.join(folder, file), name.rstrip("/")))
    if not pairs:
        raise ValueError(f"No images ({', '.join(IMAGE_EXTENSIONS)}) found in class "
                         f"sub-folders of {location!r}.")
    return pairs


def _manifest_images(manifest: str) -> list[tuple[str, str]]:
    import tensorflow as tf

    with tf.io.gfile.GFile(manifest) as handle:
        reader = csv.DictReader(handle)
        missing = {"path", "label"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"Manifest {manifest!r} lacks column(s) {sorted(missing)}; "
                             f"it has {reader.fieldnames}. Expected a header 'path,label'.")
        base = os.path.dirname(manifest)
        pairs = [(os.path.join(base, row["path"]), row["label"]) for row in reader]
    if not pairs:
        raise ValueError(f"Manifest {manifest!r} lists no images.")
    return pairs


def decode_image(path: str, data: bytes, svg_size: int = 128) -> tuple[bytes, int, int, int]:
    """Decodes image bytes; returns (encoded bytes, width, height, channels).

    PNG and JPEG keep their bytes; GIF (first frame) and SVG become PNG.

    Raises:
      ValueError: saying why the bytes are not a usable image.
    """
    from PIL import Image, UnidentifiedImageError

    if path.lower().endswith(".svg"):
        import cairosvg

        try:
            data = cairosvg.svg2png(bytestring=data, output_width=svg_size,
                                    output_height=svg_size)
        except Exception as err:  # cairosvg raises many types for malformed XML/SVG
            raise ValueError(f"cannot rasterise SVG: {type(err).__name__}: {err}") from None
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            fmt, width, height = image.format, image.width, image.height
            channels = len(image.getbands())
            if fmt not in ("PNG", "JPEG"):
                out = io.BytesIO()
                image.convert("RGBA" if "A" in image.getbands() or fmt == "GIF" else "RGB"
                              ).save(out, format="PNG")
                data, channels = out.getvalue(), 4 if fmt == "GIF" else channels
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise ValueError(f"not a decodable image: {err}") from None
    if width < 1 or height < 1:
        raise ValueError(f"image has no pixels ({width}x{height})")
    return data, width, height, channels


class _DecodeImage(beam.DoFn):
    REJECTED = "rejected"

    def __init__(self, classes: list[str], svg_size: int):
        self._ids = {name: i for i, name in enumerate(classes)}
        self._svg_size = svg_size

    def process(self, pair):
        import tensorflow as tf

        path, name = pair
        try:
            with tf.io.gfile.GFile(path, "rb") as handle:
                data = handle.read()
            encoded, width, height, channels = decode_image(path, data, self._svg_size)
        except (ValueError, OSError, tf.errors.OpError) as err:
            message = getattr(err, "message", None) or str(err)
            yield beam.pvalue.TaggedOutput(self.REJECTED,
                                           deadletter.Rejected(path, 1, message, name))
            return

        def feature(**kind):
            return tf.train.Feature(**kind)

        example = tf.train.Example(features=tf.train.Features(feature={
            "image_raw": feature(bytes_list=tf.train.BytesList(value=[encoded])),
            "label": feature(int64_list=tf.train.Int64List(value=[self._ids[name]])),
            "label_name": feature(bytes_list=tf.train.BytesList(value=[name.encode()])),
            "width": feature(int64_list=tf.train.Int64List(value=[width])),
            "height": feature(int64_list=tf.train.Int64List(value=[height])),
            "channels": feature(int64_list=tf.train.Int64List(value=[channels])),
            "source": feature(bytes_list=tf.train.BytesList(value=[path.encode()])),
        }))
        yield path, example


class IngestImages(beam.PTransform):
    """Decodes, labels, splits and writes images; rejected files go to the dead letters."""

    def __init__(self, images: list[tuple[str, str]], config: ImageIngestConfig,
                 examples_dir: str, dead_letter_dir: str):
        super().__init__()
        self._images, self._config = images, config
        self._examples_dir, self._dead_letter_dir = examples_dir, dead_letter_dir
        self.classes = sorted({name for _, name in images})

    def expand(self, pbegin):
        splits = self._config.splits
        decoded = (pbegin
                   | "Images" >> beam.Create(self._images)
                   | "Spread" >> beam.Reshuffle()
                   | "Decode" >> beam.ParDo(_DecodeImage(self.classes, self._config.svg_size)
                                            ).with_outputs(_DecodeImage.REJECTED, main="ok"))
        _ = decoded[_DecodeImage.REJECTED] | "DeadLetter" >> deadletter.WriteDeadLetter(
            self._dead_letter_dir)
        keyed = decoded.ok | "AssignSplit" >> beam.MapTuple(
            lambda path, example: (splits.index_of(path), example))
        _ = keyed | "WriteExamples" >> WriteSplitExamples(self._examples_dir, splits.names)
        counts = (
            (decoded.ok | "CountOk" >> beam.Map(lambda _: deadletter.count("read"))),
            (decoded[_DecodeImage.REJECTED]
             | "CountRejected" >> beam.FlatMap(
                 lambda _: [deadletter.count("read"), deadletter.count("rejected")])),
            (keyed | "CountSplits" >> beam.Map(
                lambda pair: deadletter.count(f"images_{splits.names[pair[0]]}"))),
        ) | "AllCounts" >> beam.Flatten()
        defaults = {"read": 0, "rejected": 0, **{f"images_{n}": 0 for n in splits.names}}
        _ = counts | "Summary" >> deadletter.WriteSummary(self._dead_letter_dir, defaults)
        return keyed
