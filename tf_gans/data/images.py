"""Image datasets: the embedded digits, TFDS datasets and plain folders of images.

Images are float32 in [-1, 1] (the generators' tanh range), NHWC.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import tensorflow as tf

from tf_gans.data.pipeline import Group, Source

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
TFDS_IMAGE_DATASETS = ("mnist", "fashion_mnist", "cifar10")


def to_unit_range(images: np.ndarray, max_value: float = 255.0) -> np.ndarray:
  """Maps [0, max_value] to [-1, 1] as float32."""
  return (images.astype(np.float32) / (max_value / 2.0) - 1.0).astype(np.float32)


def digits_arrays(split: str = "train", holdout: float = 0.2, seed: int = 1234
                  ) -> tuple[np.ndarray, np.ndarray]:
  """scikit-learn's bundled 8×8 handwritten digits (1,797 images, 10 classes), offline.

  Args:
    split: "train", "test" (a fixed held-out share of each class) or "all".
    holdout: Share of each class kept for "test".
    seed: Seed of the fixed split (not the run seed: the split never changes).

  Returns:
    images [N, 8, 8, 1] float32 in [-1, 1] and labels [N] int32.
  """
  from sklearn.datasets import load_digits  # shipped with scikit-learn, no download
  digits = load_digits()
  images = to_unit_range(digits.images[..., None], 16.0)
  labels = digits.target.astype(np.int32)
  if split == "all":
    return images, labels
  rng = np.random.default_rng(seed)
  test = np.zeros(len(labels), bool)
  for c in np.unique(labels):
    idx = np.flatnonzero(labels == c)
    test[rng.choice(idx, int(round(len(idx) * holdout)), replace=False)] = True
  if split not in ("train", "test"):
    raise ValueError(f"split {split!r} is not one of: train, test, all")
  keep = test if split == "test" else ~test
  return images[keep], labels[keep]


def digits_source(split: str = "train") -> Source:
  images, labels = digits_arrays(split)
  return Source(name="digits", kind="images",
                groups={"x": Group(size=len(images), arrays={"x": images, "label": labels})},
                info={"image_shape": images.shape[1:], "num_classes": 10,
                      "class_names": [str(i) for i in range(10)]})


def load_tfds(name: str, data_dir: str | None, offline_hint: str, **kwargs: Any) -> Any:
  """``tfds.load`` of a prepared dataset (never a download), with one-line errors.

  Args:
    name: The TFDS name, with its split-independent config (e.g. "cycle_gan/horse2zebra").
    data_dir: TFDS's data folder; empty or None for its default.
    offline_hint: What else the user can pass, ending the error of a missing dataset.
    **kwargs: Further ``tfds.load`` arguments (split, as_supervised, ...).

  Raises:
    ValueError: for an unknown name, or a dataset not prepared in data_dir (nothing can
      be downloaded on an offline machine): the message says where TFDS looked.
  """
  import tensorflow_datasets as tfds
  try:
    return tfds.load(name, data_dir=data_dir or None, download=False, **kwargs)
  except tfds.core.registered.DatasetNotFoundError as e:
    raise ValueError(f"unknown TFDS dataset {name!r}") from e
  except (AssertionError, FileNotFoundError, OSError) as e:
    raise ValueError(
        f"TFDS dataset {name!r} is not prepared in {data_dir or 'the default TFDS folder'} "
        f"({str(e).splitlines()[0] if str(e) else type(e).__name__}); run `tfds build {name}` "
        f"where there is internet access and pass its folder as --data_dir, or {offline_hint}"
    ) from None


def tfds_arrays(name: str, split: str = "train", data_dir: str | None = None
                ) -> tuple[np.ndarray, np.ndarray, list[str]]:
  """Loads a TFDS image classification dataset fully into memory.

  Raises:
    ValueError: if the dataset is unknown or not prepared in data_dir.
  """
  import tensorflow_datasets as tfds
  ds, info = load_tfds(name, data_dir, "use the embedded --dataset=digits", split=split,
                       as_supervised=True, with_info=True)
  # Batches of a fixed size, not batch_size=-1: that one whole-split batch aborts the
  # process on generator-backed datasets (tfds.testing.mock_data).
  parts = list(tfds.as_numpy(ds.batch(4096)))
  if not parts:
    raise ValueError(f"TFDS dataset {name!r} split {split!r} is empty")
  images = np.concatenate([p[0] for p in parts])
  labels = np.concatenate([p[1] for p in parts])
  class_names = list(info.features["label"].names) if "label" in info.features else []
  return to_unit_range(images), labels.astype(np.int32), class_names


def tfds_source(name: str, split: str = "train", data_dir: str | None = None) -> Source:
  images, labels, class_names = tfds_arrays(name, split, data_dir)
  return Source(name=name, kind="images",
                groups={"x": Group(size=len(images), arrays={"x": images, "label": labels})},
                info={"image_shape": images.shape[1:], "num_classes": len(class_names) or
                      int(labels.max()) + 1, "class_names": class_names})


def list_images(folder: str) -> list[str]:
  """Image files directly in `folder`, sorted.

  Raises:
    ValueError: if the folder does not exist or holds no image files.
  """
  if not os.path.isdir(folder):
    raise ValueError(f"image folder {folder!r} does not exist")
  files = sorted(os.path.join(folder, f) for f in os.listdir(folder)
                 if f.lower().endswith(IMAGE_EXTENSIONS))
  if not files:
    raise ValueError(f"image folder {folder!r} holds no images "
                     f"(expected files ending in {', '.join(IMAGE_EXTENSIONS)})")
  return files


def check_images(paths: list[str]) -> None:
  """Decodes every file once so a corrupt one is reported by path before training.

  Raises:
    ValueError: naming the first file that is not a readable image.
  """
  from PIL import Image
  for path in paths:
    try:
      with Image.open(path) as im:
        im.verify()
    except Exception as e:  # PIL raises many types for bad files
      raise ValueError(f"{path} is not a readable image ({type(e).__name__}: {e})") from None


def decode_image(path: tf.Tensor, channels: int) -> tf.Tensor:
  """Reads and decodes one image file to float32 in [-1, 1]."""
  data = tf.io.read_file(path)
  image = tf.io.decode_image(data, channels=channels, expand_animations=False)
  return tf.cast(image, tf.float32) / 127.5 - 1.0


def folder_source(folder: str, image_size: int, channels: int = 3) -> Source:
  """A folder of images, or of class sub-folders (labels from the sub-folder names).

  Images are resized to image_size × image_size.
  """
  if not os.path.isdir(folder):
    raise ValueError(f"image folder {folder!r} does not exist")
  # Hidden folders (.git, .ipynb_checkpoints) are not classes.
  subdirs = sorted(d for d in os.listdir(folder)
                   if os.path.isdir(os.path.join(folder, d)) and not d.startswith("."))
  if subdirs:
    paths, labels = [], []
    for label, sub in enumerate(subdirs):
      try:
        files = list_images(os.path.join(folder, sub))
      except ValueError:
        raise ValueError(
            f"class folder {os.path.join(folder, sub)!r} holds no images (expected files "
            f"ending in {', '.join(IMAGE_EXTENSIONS)}); every sub-folder of {folder!r} is "
            "a class: add its images or remove it") from None
      paths += files
      labels += [label] * len(files)
    class_names = subdirs
  else:
    paths, labels, class_names = list_images(folder), [], []
  check_images(paths)
  path_table = tf.constant(paths)
  label_table = tf.constant(labels or [0] * len(paths), tf.int32)

  def load(index, number):
    del number
    image = decode_image(path_table[index], channels)
    image = tf.image.resize(image, [image_size, image_size], antialias=True)
    image = tf.ensure_shape(image, [image_size, image_size, channels])
    return {"x": image, "label": label_table[index]}

  spec = {"x": tf.TensorSpec([image_size, image_size, channels], tf.float32),
          "label": tf.TensorSpec([], tf.int32)}
  return Source(name="folder", kind="images",
                groups={"x": Group(size=len(paths), load=load, spec=spec)},
                info={"image_shape": (image_size, image_size, channels),
                      "num_classes": len(class_names), "class_names": class_names,
                      "paths": paths})
