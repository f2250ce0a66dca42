import glob
import io
import json
import os

import pytest
import tensorflow as tf
from apache_beam.testing.test_pipeline import TestPipeline
from PIL import Image

from cuttingedge.components import deadletter
from cuttingedge.components.images import ingest

SVG = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24">'
       '<path d="M2 2h20v20H2z"/></svg>')


def _encode(fmt, size=(20, 10), mode="RGB"):
    out = io.BytesIO()
    Image.new(mode, size, (200, 10, 10) if mode == "RGB" else 3).save(out, format=fmt)
    return out.getvalue()


@pytest.mark.parametrize("name, data, width, height", [
    ("a.png", _encode("PNG"), 20, 10),
    ("a.jpg", _encode("JPEG"), 20, 10),
    ("a.gif", _encode("GIF", mode="P"), 20, 10),
    ("a.svg", SVG.encode(), 64, 64),
])
def test_decode_image_handles_every_format(name, data, width, height):
    encoded, w, h, _ = ingest.decode_image(name, data, svg_size=64)
    assert (w, h) == (width, height)
    decoded = tf.io.decode_image(encoded)
    assert decoded.shape[:2] == (height, width)


@pytest.mark.parametrize("name, data, message", [
    ("x.png", b"\x89PNG garbage", "not a decodable image"),
    ("x.svg", b"<svg><unclosed", "cannot rasterise SVG"),
])
def test_decode_image_rejects_corrupt_bytes_with_reason(name, data, message):
    with pytest.raises(ValueError, match=message):
        ingest.decode_image(name, data)


def test_ingest_images_from_class_folders_rejects_corrupt_files(tmp_path):
    for cls in ("acme", "zeta"):
        (tmp_path / "in" / cls).mkdir(parents=True)
        (tmp_path / "in" / cls / "one.png").write_bytes(_encode("PNG"))
    (tmp_path / "in" / "zeta" / "two.svg").write_text(SVG)
    (tmp_path / "in" / "zeta" / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    images = ingest.list_images(str(tmp_path / "in"))
    config = ingest.ImageIngestConfig(splits=ingest.SplitConfig((("train", 1),)))
    out, dead = str(tmp_path / "ex"), str(tmp_path / "dead")
    with TestPipeline() as p:
        _ = p | ingest.IngestImages(images, config, out, dead)
    files = glob.glob(os.path.join(out, "Split-train", "*.gz"))
    examples = [tf.train.Example.FromString(r.numpy())
                for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]
    labels = sorted((e.features.feature["label_name"].bytes_list.value[0],
                     e.features.feature["label"].int64_list.value[0]) for e in examples)
    assert labels == [(b"acme", 0), (b"zeta", 1), (b"zeta", 1)]
    summary = deadletter.read_summary(dead)
    assert (summary.read, summary.rejected) == (4, 1)
    (bad,) = [json.loads(line) for f in glob.glob(f"{dead}/rejected-*") for line in open(f)]
    assert bad["source"].endswith("broken.jpg") and "not a decodable image" in bad["reason"]


def test_manifest_needs_path_and_label_columns(tmp_path):
    (tmp_path / "m.csv").write_text("file,brand\na.png,x\n")
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['label', 'path'\]"):
        ingest.list_images(str(tmp_path / "m.csv"))


def test_missing_image_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ingest.list_images(str(tmp_path / "nope"))


def test_bundled_logo_manifest_lists_150_brands():
    from cuttingedge.pipelines.demo import sample_path

    images = ingest.list_images(sample_path("logos", "manifest.csv"))
    assert len(images) == 150 and len({label for _, label in images}) == 150
