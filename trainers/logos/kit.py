"""The brand kit: one clean icon per brand, as alpha masks, plus brand colours and photos."""

from __future__ import annotations

import csv
import dataclasses
import glob
import os

import numpy as np
import tensorflow as tf


@dataclasses.dataclass
class BrandKit:
    """masks [brands, S, S] in [0, 1], colours [brands, 3], and the brand slugs by label."""

    masks: np.ndarray
    colours: np.ndarray
    brands: list[str]


def _mask_of(encoded: bytes, size: int) -> np.ndarray:
    image = tf.io.decode_image(encoded, channels=4, expand_animations=False)
    image = tf.image.resize(tf.cast(image, tf.float32) / 255.0, [size, size], antialias=True)
    alpha, rgb = image[..., 3], image[..., :3]
    if float(tf.reduce_min(alpha)) > 0.99:  # no transparency: the dark pixels are the logo
        alpha = 1.0 - tf.reduce_mean(rgb, axis=-1)
    return np.clip(alpha.numpy(), 0.0, 1.0)


def brand_colours(brands: list[str], colours_csv: str | None) -> np.ndarray:
    """[brands, 3] RGB in [0, 1] of each brand from a slug,hex CSV; black when unknown."""
    hex_of = {}
    if colours_csv and tf.io.gfile.exists(colours_csv):
        with tf.io.gfile.GFile(colours_csv) as handle:
            hex_of = {row["slug"]: row["hex"] for row in csv.DictReader(handle)}
    return np.array([[int(h[i:i + 2], 16) / 255.0 for i in (0, 2, 4)]
                     if len(h := hex_of.get(b, "")) == 6 else [0.0, 0.0, 0.0]
                     for b in brands], np.float32)


def kit_from_examples(files: list[str], size: int = 96,
                      colours_csv: str | None = None) -> BrandKit:
    """Reads ImageExampleGen records (image_raw, label, label_name) into a BrandKit."""
    spec = {"image_raw": tf.io.FixedLenFeature([], tf.string),
            "label": tf.io.FixedLenFeature([], tf.int64),
            "label_name": tf.io.FixedLenFeature([], tf.string)}
    found = {}
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
        example = tf.io.parse_single_example(record, spec)
        found[int(example["label"])] = (example["label_name"].numpy().decode(),
                                        _mask_of(example["image_raw"].numpy(), size))
    if not found:
        raise ValueError(f"No images in {files}.")
    labels = sorted(found)
    if labels != list(range(len(labels))):
        raise ValueError(f"Brand labels must be 0..{len(labels) - 1} with one image each; "
                         f"missing {sorted(set(range(max(labels) + 1)) - set(labels))[:10]}.")
    brands = [found[i][0] for i in labels]
    colours = brand_colours(brands, colours_csv)
    return BrandKit(np.stack([found[i][1] for i in labels]).astype(np.float32), colours, brands)


def kit_from_files(location: str, size: int = 96, colours_csv: str | None = None,
                   svg_size: int = 128) -> BrandKit:
    """A BrandKit straight from icon files (class folders or a path,label manifest), decoded
    as ImageExampleGen decodes them; labels are the sorted class names, as there."""
    from cuttingedge.components.images.ingest import decode_image, list_images

    pairs = list_images(location)
    brands = sorted({name for _, name in pairs})
    masks = {}
    for path, name in pairs:
        with tf.io.gfile.GFile(path, "rb") as handle:
            masks.setdefault(name, _mask_of(decode_image(path, handle.read(), svg_size)[0], size))
    colours = brand_colours(brands, colours_csv)
    return BrandKit(np.stack([masks[b] for b in brands]).astype(np.float32), colours, brands)


def load_backgrounds(folder: str, size: int = 160) -> np.ndarray:
    """Photos of `folder` (JPEG/PNG) as float RGB [n, size, size, 3] center crops."""
    paths = sorted(p for p in glob.glob(os.path.join(folder, "*"))
                   if p.lower().endswith((".jpg", ".jpeg", ".png")))
    if not paths:
        raise FileNotFoundError(f"No background photos (.jpg/.png) in {folder!r}.")
    photos = []
    for path in paths:
        image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
        image = tf.image.resize_with_crop_or_pad(
            tf.image.resize(tf.cast(image, tf.float32) / 255.0, [size, size],
                            preserve_aspect_ratio=False), size, size)
        photos.append(image.numpy())
    return np.stack(photos)
