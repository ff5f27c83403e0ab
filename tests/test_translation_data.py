"""Tests of the unpaired two-domain data: embedded ground truth, folders, TFDS."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tf_gans import data as data_lib
from tf_gans.data import translation
from tf_gans.data.pipeline import make_dataset


# ---------------------------------------------------------------------------------------
# digits_recolour: the task with a known ground truth.
# ---------------------------------------------------------------------------------------


def test_colour_maps_are_exact_inverses_and_hit_the_anchor_colours():
  t = np.linspace(0.0, 1.0, 11, dtype=np.float32)[None, :]
  a = translation.intensity_to_a(t)
  b = translation.true_a_to_b(a)
  np.testing.assert_allclose(b, translation.intensity_to_b(t), atol=1e-6)
  np.testing.assert_allclose(translation.true_b_to_a(b), a, atol=1e-5)
  # Background is paper, full stroke is ink (both in [-1, 1]).
  np.testing.assert_allclose(b[0, 0], translation.PAPER * 2 - 1, atol=1e-6)
  np.testing.assert_allclose(b[0, -1], translation.INK * 2 - 1, atol=1e-6)
  np.testing.assert_allclose(a[0, 0], [-1, -1, -1])


def test_digits_recolour_train_domains_are_disjoint_halves():
  source = translation.digits_recolour_source("train", image_size=16)
  assert source.kind == "image_pairs"
  assert source.info["image_shape"] == (16, 16, 3)
  a = source.groups["a"].arrays
  b = source.groups["b"].arrays
  assert a["a"].shape[1:] == (16, 16, 3) and b["b"].shape[1:] == (16, 16, 3)
  assert a["a"].min() >= -1 and a["a"].max() <= 1
  # Every class in both domains, in nearly equal numbers.
  counts_a, counts_b = np.bincount(a["label_a"]), np.bincount(b["label_b"])
  assert len(counts_a) == len(counts_b) == 10
  assert np.all(np.abs(counts_a - counts_b) <= 1)
  # No B image is the recoloured counterpart of an A image: translating every A image
  # gives nothing that appears in B.
  translated = translation.true_a_to_b(a["a"]).reshape(len(a["a"]), -1)
  b_flat = b["b"].reshape(len(b["b"]), -1)
  nearest = np.min(np.abs(translated[:, None, :64] - b_flat[None, :, :64]).sum(-1), axis=1)
  candidates = np.flatnonzero(nearest < 1e-4)
  for i in candidates:  # equal in the first pixels: compare whole images
    assert np.min(np.abs(translated[i] - b_flat).max(axis=1)) > 1e-4


def test_digits_recolour_test_split_is_paired_by_the_true_map():
  source = translation.digits_recolour_source("test", image_size=32)
  images = translation.evaluation_images(source)
  np.testing.assert_allclose(translation.true_a_to_b(images["a"]), images["b"], atol=1e-5)
  np.testing.assert_array_equal(images["label_a"], images["label_b"])
  assert len(images["a"]) == 359  # sklearn's held-out share of 1,797 digits


def test_training_batches_pair_independently_shuffled_domains():
  source = data_lib.make_source("digits_recolour", image_size=16)
  batch = next(iter(make_dataset(source, global_batch=64, seed=3)))
  assert set(batch) == {"a", "label_a", "b", "label_b"}
  assert batch["a"].shape == (64, 16, 16, 3) and batch["b"].shape == (64, 16, 16, 3)
  # The two domains come in different orders: the labels of a position rarely agree.
  agree = np.mean(batch["label_a"].numpy() == batch["label_b"].numpy())
  assert agree < 0.4


def test_make_source_passes_only_the_options_a_dataset_takes():
  source = data_lib.make_source("digits", load_size=300, flip=False)  # ignored by digits
  assert source.kind == "images"
  assert translation.default_load_size(256) == 286


# ---------------------------------------------------------------------------------------
# The folder layout.
# ---------------------------------------------------------------------------------------


def _write_png(path, size, seed):
  rng = np.random.default_rng(seed)
  Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path)


@pytest.fixture()
def folders(tmp_path):
  root = tmp_path / "data"
  for split, n in (("train", 5), ("test", 3)):
    for domain in ("A", "B"):
      folder = root / f"{split}{domain}"
      folder.mkdir(parents=True)
      for i in range(n):
        _write_png(folder / f"img{i}.png", (40 + 3 * i, 36 + i), seed=hash((split, domain, i)) % 1000)
  (root / "trainA" / "notes.txt").write_text("not an image, and not named like one")
  return str(root)


def test_folder_layout_training_crops_are_deterministic_per_example(folders):
  source = data_lib.make_source("unpaired_folder", folders, 24, load_size=28, flip=True)
  assert source.kind == "image_pairs" and source.info["image_shape"] == (24, 24, 3)
  assert len(source.info["paths_a"]) == 5  # notes.txt is not listed
  first = source.take(8, seed=1)
  again = source.take(8, seed=1)
  assert first["a"].shape == (8, 24, 24, 3) and first["b"].shape == (8, 24, 24, 3)
  assert first["a"].min() >= -1 and first["a"].max() <= 1
  np.testing.assert_array_equal(first["a"], again["a"])
  np.testing.assert_array_equal(first["b"], again["b"])


def test_folder_augmentation_is_a_function_of_the_example_number(folders):
  group = data_lib.make_source("unpaired_folder", folders, 24, load_size=32).groups["a"]
  same = [group.load(tf.constant(2, tf.int64), tf.constant(7, tf.int64))["a"] for _ in range(2)]
  np.testing.assert_array_equal(same[0], same[1])
  # Other example numbers of the same image: other crops or flips.
  others = {group.load(tf.constant(2, tf.int64), tf.constant(n, tf.int64))["a"].numpy().tobytes()
            for n in range(8)}
  assert len(others) > 4


def test_folder_test_split_is_resized_not_augmented(folders):
  source = data_lib.make_source("unpaired_folder", folders, 16, split="test")
  images = translation.evaluation_images(source)
  assert images["a"].shape == (3, 16, 16, 3)
  path = source.info["paths_a"][0]
  raw = np.asarray(Image.open(path).convert("RGB"), np.float32) / 127.5 - 1
  expected = tf.clip_by_value(tf.image.resize(raw, [16, 16], "bicubic", antialias=True), -1, 1)
  np.testing.assert_allclose(images["a"][0], expected, atol=1e-4)


def test_corrupt_image_is_reported_by_path_before_training(folders):
  bad = os.path.join(folders, "trainB", "broken.png")
  with open(bad, "wb") as f:
    f.write(b"\x89PNG\r\n\x1a\n this is not the rest of a PNG file")
  with pytest.raises(ValueError, match="broken.png"):
    data_lib.make_source("unpaired_folder", folders, 24)


def test_truncated_jpeg_is_reported_by_path(folders):
  path = os.path.join(folders, "trainA", "cut.jpg")
  Image.fromarray(np.full((40, 40, 3), 128, np.uint8)).save(path, quality=90)
  with open(path, "rb") as f:
    content = f.read()
  with open(path, "wb") as f:
    f.write(content[:len(content) // 2])  # PIL's verify() alone accepts this
  with pytest.raises(ValueError, match="cut.jpg"):
    data_lib.make_source("unpaired_folder", folders, 24)


def test_missing_folders_name_the_expected_layout(tmp_path):
  with pytest.raises(ValueError, match="trainA"):
    data_lib.make_source("unpaired_folder", str(tmp_path), 24)
  with pytest.raises(ValueError, match="needs --data_dir"):
    data_lib.make_source("unpaired_folder", "", 24)
  with pytest.raises(ValueError, match="load_size 20 is smaller"):
    translation.unpaired_folder_source(str(tmp_path), image_size=24, load_size=20)


# ---------------------------------------------------------------------------------------
# TFDS cycle_gan/<name>.
# ---------------------------------------------------------------------------------------


def test_tfds_cycle_gan_source_with_mock_data():
  import tensorflow_datasets as tfds
  with tfds.testing.mock_data(num_examples=6, policy=tfds.testing.MockPolicy.USE_CODE):
    source = data_lib.make_source("cycle_gan/horse2zebra", "", 32, load_size=36)
    test = data_lib.make_source("cycle_gan/horse2zebra", "", 32, split="test")
  assert source.kind == "image_pairs" and source.info["image_shape"] == (32, 32, 3)
  assert source.groups["a"].size == 6 and source.groups["b"].size == 6
  batch = source.take(4, seed=0)
  assert batch["a"].shape == (4, 32, 32, 3) and batch["b"].shape == (4, 32, 32, 3)
  assert batch["a"].min() >= -1 and batch["a"].max() <= 1
  assert batch["a"].std() > 0.05  # decoded images, not blank ones
  assert translation.evaluation_images(test)["b"].shape == (6, 32, 32, 3)


def test_tfds_cycle_gan_errors():
  with pytest.raises(ValueError, match="not a TFDS cycle_gan configuration"):
    translation.cycle_gan_tfds_source("horse2unicorn")
  with pytest.raises(ValueError, match="is not prepared"):
    data_lib.make_source("cycle_gan/horse2zebra", "/nonexistent/tfds", 32)
