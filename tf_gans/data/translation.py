"""Two unpaired image domains for translation models (CycleGAN, DiscoGAN).

A translation source has ``kind="image_pairs"`` and two groups, "a" and "b", each
shuffled on its own: a batch is a dict ``{"a": [N, H, W, C], "b": [N, H, W, C]}`` of
float32 images in [-1, 1] (plus "label_a"/"label_b" where the data has labels), and
the a and b of one position have nothing to do with each other (unpaired).

Three sources:

* ``unpaired_folder``: the layout the CycleGAN reference code uses, ``DATA/trainA``,
  ``trainB``, ``testA``, ``testB`` folders of JPEG/PNG files. Training images are
  resized to ``load_size`` (bicubic), randomly cropped to ``image_size`` and randomly
  flipped (286 → 256 in the paper); the augmentation is a pure function of the example
  number, so a resumed run sees the same crops. Every file is decoded once before
  training, so every corrupt one is reported by path instead of stopping the run later.
* ``cycle_gan/<name>``: the same data from TensorFlow Datasets (horse2zebra,
  monet2photo, ...), when it has been prepared in ``--data_dir``.
* ``digits_recolour``: an offline task with a **known ground truth**, made from the 8×8
  digits bundled with scikit-learn, upscaled. Domain A is white digits on black; domain
  B is digits drawn in blue ink on cream paper, a fixed per-pixel colour map of A's
  intensity. The two domains are built from disjoint halves of the training digits, so
  no B image is the counterpart of any A image; the held-out digits and the exact map
  (both directions) let evaluation measure the error to the true translation and
  whether the digit survives it, not only look at pictures.
"""

from __future__ import annotations

import os
from typing import Callable

import numpy as np
import tensorflow as tf

from tf_gans.data.images import (check_image_files, decode_image, digits_arrays,
                                  encoded_example_reader, list_images, tfds_random_access)
from tf_gans.data.pipeline import Group, Source

KIND = "image_pairs"
SPLITS = ("train", "test")

# The digits_recolour colour map: intensity t in [0, 1] (0 = background, 1 = stroke)
# becomes PAPER * (1 - t) + INK * t in [0, 1] RGB.
PAPER = np.array([0.96, 0.90, 0.75], np.float32)
INK = np.array([0.10, 0.20, 0.55], np.float32)

# The TFDS cycle_gan configurations (tensorflow_datasets/image/cycle_gan.py).
CYCLE_GAN_TFDS = ("apple2orange", "summer2winter_yosemite", "horse2zebra", "monet2photo",
                  "cezanne2photo", "ukiyoe2photo", "vangogh2photo", "maps", "cityscapes",
                  "facades", "iphone2dslr_flower")


def _check_split(split: str) -> None:
  if split not in SPLITS:
    raise ValueError(f"split {split!r} is not one of: {', '.join(SPLITS)}")


def default_load_size(image_size: int) -> int:
  """The reference code's resize-before-crop size: 286 for 256 (the same 286/256 ratio)."""
  return int(round(image_size * 286 / 256))


# ---------------------------------------------------------------------------------------
# The ground-truth task.
# ---------------------------------------------------------------------------------------


def intensity_to_a(t: np.ndarray) -> np.ndarray:
  """Domain A: grey level t in [0, 1] -> white-on-black RGB in [-1, 1]."""
  t = np.asarray(t, np.float32)
  return np.repeat(t[..., None] * 2.0 - 1.0, 3, axis=-1).astype(np.float32)


def intensity_to_b(t: np.ndarray) -> np.ndarray:
  """Domain B: intensity t in [0, 1] -> ink on paper, RGB in [-1, 1]."""
  t = np.asarray(t, np.float32)[..., None]
  rgb = PAPER * (1.0 - t) + INK * t
  return (rgb * 2.0 - 1.0).astype(np.float32)


def true_a_to_b(images_a: np.ndarray) -> np.ndarray:
  """The exact translation of domain-A images into domain B."""
  t = np.clip((np.asarray(images_a, np.float32).mean(axis=-1) + 1.0) / 2.0, 0.0, 1.0)
  return intensity_to_b(t)


def true_b_to_a(images_b: np.ndarray) -> np.ndarray:
  """The exact translation of domain-B images into domain A (projection on the ink axis)."""
  rgb = (np.asarray(images_b, np.float32) + 1.0) / 2.0
  axis = INK - PAPER
  t = np.clip(((rgb - PAPER) @ axis) / float(axis @ axis), 0.0, 1.0)
  return intensity_to_a(t)


def _upscaled_intensity(images: np.ndarray, image_size: int) -> np.ndarray:
  """[-1, 1] 8×8 digits -> [N, size, size] intensities in [0, 1] (bilinear upscaling)."""
  t = (images[..., :1] + 1.0) / 2.0
  if image_size != t.shape[1]:
    t = tf.image.resize(t, [image_size, image_size], method="bilinear").numpy()
  return np.clip(t[..., 0], 0.0, 1.0).astype(np.float32)


def domain_indices(labels: np.ndarray, split: str) -> tuple[np.ndarray, np.ndarray]:
  """(A indices, B indices) of an unpaired digits task.

  "train": the examples of each class alternate between the domains, so both domains get
  every class in the same proportions and no digit appears in both. "test": every digit
  in both domains, for evaluation.
  """
  if split != "train":
    return np.arange(len(labels)), np.arange(len(labels))
  in_a = np.zeros(len(labels), bool)
  for c in np.unique(labels):
    in_a[np.flatnonzero(labels == c)[::2]] = True
  return np.flatnonzero(in_a), np.flatnonzero(~in_a)


def digits_recolour_source(split: str = "train", image_size: int = 32) -> Source:
  """The embedded ground-truth translation task (see the module docstring).

  Args:
    split: "train" (A and B from disjoint halves of each class of the training digits)
      or "test" (every held-out digit in both domains, for evaluation).
    image_size: Side length the 8×8 digits are upscaled to.

  Returns:
    A Source of kind "image_pairs" with features a, label_a, b, label_b. Its info holds
    the true maps ("true_a_to_b", "true_b_to_a") and "num_classes".

  Raises:
    ValueError: for a bad split or image size.
  """
  _check_split(split)
  if image_size < 8:
    raise ValueError(f"digits_recolour needs image_size >= 8, got {image_size}")
  images, labels = digits_arrays(split)
  t = _upscaled_intensity(images, image_size)
  a_index, b_index = domain_indices(labels, split)
  groups = {
      "a": Group(size=len(a_index), arrays={"a": intensity_to_a(t[a_index]),
                                            "label_a": labels[a_index]}),
      "b": Group(size=len(b_index), arrays={"b": intensity_to_b(t[b_index]),
                                            "label_b": labels[b_index]}),
  }
  return Source(name="digits_recolour", kind=KIND, groups=groups,
                info={"image_shape": (image_size, image_size, 3), "num_classes": 10,
                      "class_names": [str(i) for i in range(10)],
                      "domains": ("white digits on black", "blue-ink digits on paper"),
                      "true_a_to_b": true_a_to_b, "true_b_to_a": true_b_to_a,
                      "split": split})


# ---------------------------------------------------------------------------------------
# Image files: the folder layout and TFDS.
# ---------------------------------------------------------------------------------------


def _augment(image: tf.Tensor, number: tf.Tensor, salt: int, image_size: int,
             load_size: int, flip: bool) -> tf.Tensor:
  """Resize to load_size (bicubic), random crop to image_size, random horizontal flip.

  Randomness is stateless from (example number, salt): the same example number always
  gets the same crop and flip, which keeps resumed and distributed runs identical.
  """
  channels = image.shape[-1]
  image = tf.image.resize(image, [load_size, load_size], method="bicubic", antialias=True)
  image = tf.clip_by_value(image, -1.0, 1.0)  # bicubic overshoots at sharp edges
  seed = tf.stack([tf.cast(number, tf.int64), tf.constant(salt, tf.int64)])
  if load_size != image_size:
    image = tf.image.stateless_random_crop(image, [image_size, image_size, channels], seed)
  if flip:
    image = tf.image.stateless_random_flip_left_right(image, seed + tf.constant([0, 1], tf.int64))
  return image


def _resize(image: tf.Tensor, image_size: int) -> tf.Tensor:
  image = tf.image.resize(image, [image_size, image_size], method="bicubic", antialias=True)
  return tf.clip_by_value(image, -1.0, 1.0)


def _image_group(key: str, salt: int, size: int, image_of: Callable[[tf.Tensor], tf.Tensor],
                 split: str, image_size: int, load_size: int, flip: bool) -> Group:
  def load(index, number):
    image = image_of(index)
    if split == "train":
      image = _augment(image, number, salt, image_size, load_size, flip)
    else:  # evaluation and translation see the whole image, unflipped
      image = _resize(image, image_size)
    return {key: tf.ensure_shape(image, [image_size, image_size, 3])}
  return Group(size=size, load=load,
               spec={key: tf.TensorSpec([image_size, image_size, 3], tf.float32)})


def _check_sizes(image_size: int, load_size: int) -> int:
  if image_size < 1:
    raise ValueError(f"image_size must be positive, got {image_size}")
  load_size = load_size or default_load_size(image_size)
  if load_size < image_size:
    raise ValueError(f"load_size {load_size} is smaller than the crop size image_size "
                     f"{image_size}; it must be at least as large")
  return load_size


def unpaired_folder_source(data_dir: str, split: str = "train", image_size: int = 256,
                           load_size: int = 0, flip: bool = True,
                           known_good: dict[str, list[int]] | None = None) -> Source:
  """Two folders of images, ``DATA/<split>A`` and ``DATA/<split>B``.

  Args:
    data_dir: The folder holding trainA/, trainB/ (and testA/, testB/).
    split: "train" (augmented) or "test" (resized to image_size, no augmentation).
    image_size: Training crop size (256 in the paper).
    load_size: Size images are resized to before cropping; 0: 286/256 × image_size.
    flip: Random horizontal flips (training only).
    known_good: Files decoded by an earlier check ({path: [size, mtime_ns]}): not
      decoded again when unchanged.

  Returns:
    A Source of kind "image_pairs" with features a and b; info["paths_a"/"paths_b"] and
    info["checked_files"] (the next check's `known_good`).

  Raises:
    ValueError: for a missing folder, a folder without images, or corrupt images
      (named by path).
  """
  _check_split(split)
  load_size = _check_sizes(image_size, load_size)
  if not data_dir:
    raise ValueError("the unpaired_folder dataset needs --data_dir: a folder with trainA/ "
                     "and trainB/ (and testA/, testB/) folders of images")
  if not os.path.isdir(data_dir):
    raise ValueError(f"data_dir {data_dir!r} does not exist; expected a folder with trainA/ "
                     "and trainB/ folders of images")
  paths = {}
  for domain in ("A", "B"):
    folder = os.path.join(data_dir, f"{split}{domain}")
    if not os.path.isdir(folder):
      raise ValueError(f"{folder!r} does not exist; {data_dir!r} should hold {split}A/ and "
                       f"{split}B/ folders of images")
    paths[domain] = list_images(folder)
  checked = check_image_files(paths["A"] + paths["B"], known_good)
  groups = {}
  for salt, (domain, key) in enumerate((("A", "a"), ("B", "b"))):
    table = tf.constant(paths[domain])
    groups[key] = _image_group(
        key, salt, len(paths[domain]), lambda index, t=table: decode_image(t[index], 3),
        split, image_size, load_size, flip)
  return Source(name="unpaired_folder", kind=KIND, groups=groups,
                info={"image_shape": (image_size, image_size, 3), "paths_a": paths["A"],
                      "paths_b": paths["B"], "domains": ("A", "B"), "split": split,
                      "data_dir": data_dir, "checked_files": checked})


def cycle_gan_tfds_source(config: str, split: str = "train", data_dir: str = "",
                          image_size: int = 256, load_size: int = 0,
                          flip: bool = True) -> Source:
  """``cycle_gan/<config>`` from TensorFlow Datasets, split trainA/trainB or testA/testB.

  Read by index from the ArrayRecord files (:func:`~tf_gans.data.images.tfds_random_access`):
  nothing is held in memory; each image is read, decoded and augmented as the folder
  layout's are when the pipeline reaches it.

  Raises:
    ValueError: for an unknown configuration or data that is not prepared in data_dir.
  """
  _check_split(split)
  load_size = _check_sizes(image_size, load_size)
  if config not in CYCLE_GAN_TFDS:
    raise ValueError(f"cycle_gan/{config} is not a TFDS cycle_gan configuration; known: "
                     f"{', '.join(CYCLE_GAN_TFDS)}")
  name = f"cycle_gan/{config}"
  hint = ("use the folder layout (--dataset=unpaired_folder --data_dir=DATA with trainA/ and "
          "trainB/)")
  groups = {}
  sizes = {}
  for salt, key in enumerate(("a", "b")):
    examples, _ = tfds_random_access(name, f"{split}{key.upper()}", data_dir, hint)
    sizes[key] = len(examples)
    read = encoded_example_reader(examples, ("image",))

    def image_of(index, read=read):
      image = tf.io.decode_image(read(index)[0], channels=3, expand_animations=False)
      return tf.cast(image, tf.float32) / 127.5 - 1.0

    groups[key] = _image_group(key, salt, len(examples), image_of, split, image_size,
                               load_size, flip)
  return Source(name=name, kind=KIND, groups=groups,
                info={"image_shape": (image_size, image_size, 3), "split": split,
                      "domains": tuple(config.split("2")) if "2" in config else ("A", "B"),
                      "sizes": sizes})


def evaluation_images(source: Source, num: int | None = None) -> dict[str, np.ndarray]:
  """The examples of a (test) translation source in their stored order, as numpy.

  In-memory groups are returned as they are (the first `num`); file groups are loaded
  one by one. Order is the groups' own, not shuffled, so metrics are reproducible.
  """
  out: dict[str, np.ndarray] = {}
  for name, group in source.groups.items():
    n = group.size if num is None else min(num, group.size)
    if group.arrays is not None:
      out.update({k: v[:n] for k, v in group.arrays.items()})
      continue
    ds = tf.data.Dataset.range(n).map(lambda i, g=group: g.load(i, i),
                                      num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    batches = list(ds.batch(64).as_numpy_iterator())
    out.update({k: np.concatenate([b[k] for b in batches]) for k in batches[0]})
  return out
