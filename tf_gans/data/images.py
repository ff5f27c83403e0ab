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


def _not_prepared(name: str, data_dir: str | None, reason: str, offline_hint: str) -> ValueError:
  return ValueError(
      f"TFDS dataset {name!r} is not prepared in {data_dir or 'the default TFDS folder'} "
      f"({reason}); run `tfds build {name} --file_format=array_record` where there is "
      f"internet access and pass its folder as --data_dir, or {offline_hint}")


def tfds_random_access(name: str, split: str, data_dir: str | None, offline_hint: str,
                       image_key: str = "image") -> tuple[Any, Any]:
  """A prepared TFDS split as a random-access sequence of examples, images still encoded.

  TFDS reads datasets stored in the ArrayRecord format by index
  (``tfds.data_source``), which is what the run's stateless index permutation needs:
  nothing is loaded into memory, a resumed run reads the same examples, and each
  worker reads only the examples of its own replicas. Images stay encoded (PNG/JPEG
  bytes) until the input pipeline decodes them, in parallel and as uint8.

  Returns:
    (the sequence, the dataset's ``tfds.core.DatasetInfo``).

  Raises:
    ValueError: for an unknown name, a dataset not prepared in data_dir, or one
      prepared only as TFRecords (the message says how to convert it).
  """
  import tensorflow_datasets as tfds
  where = data_dir or "the default TFDS folder"
  try:
    examples = tfds.data_source(name, split=split, data_dir=data_dir or None, download=False,
                                decoders={image_key: tfds.decode.SkipDecoding()})
  except tfds.core.registered.DatasetNotFoundError as e:
    raise ValueError(f"unknown TFDS dataset {name!r}") from e
  except NotImplementedError:
    # TFDS says this of a prepared dataset without random access and of a missing one.
    if tfds.builder(name, data_dir=data_dir or None).is_prepared():
      base = name.split("/")[0]
      raise ValueError(
          f"TFDS dataset {name!r} in {where} is stored as TFRecords; tf_gans reads TFDS data "
          f"by index, which needs the ArrayRecord format: convert it with `pip install "
          f"apache-beam && tfds convert_format --dataset_dir={os.path.join(data_dir or '~/tensorflow_datasets', base)} "
          f"--out_file_format=array_record` or build it with `tfds build {name} "
          "--file_format=array_record`") from None
    raise _not_prepared(name, data_dir, "no prepared copy found", offline_hint) from None
  except (AssertionError, FileNotFoundError, OSError, ValueError) as e:
    raise _not_prepared(name, data_dir, str(e).splitlines()[0] if str(e) else type(e).__name__,
                        offline_hint) from None
  if len(examples) == 0:
    raise ValueError(f"TFDS dataset {name!r} split {split!r} is empty")
  info = getattr(examples, "dataset_info", None) or tfds.builder(name, data_dir=data_dir or None).info
  return examples, info


def encoded_example_reader(examples: Any, keys: tuple[str, ...]) -> Any:
  """``read(index) -> tensors`` of one example of a random-access sequence.

  The features `keys` of example ``index`` come back as a tuple: encoded images as
  tf.string, integers (labels) as tf.int64. The lookup runs as Python (a
  ``tf.numpy_function``); decoding stays in TensorFlow ops, which run in parallel.
  """
  def fetch(index):
    example = examples[int(index)]
    out = []
    for key in keys:
      value = example[key]
      out.append(np.asarray(value, dtype=object if isinstance(value, bytes) else np.int64))
    return tuple(out)

  def read(index: tf.Tensor) -> tuple[tf.Tensor, ...]:
    sample = examples[0]
    dtypes = tuple(tf.string if isinstance(sample[k], bytes) else tf.int64 for k in keys)
    values = tf.numpy_function(fetch, [index], dtypes, stateful=False)
    return tuple(tf.ensure_shape(v, []) for v in values)

  return read


def tfds_source(name: str, split: str = "train", data_dir: str | None = None,
                image_size: int = 0) -> Source:
  """A TFDS image dataset, read by index (see :func:`tfds_random_access`).

  Images are held nowhere: each one is read and decoded when the pipeline reaches it,
  as uint8, then scaled to [-1, 1] (and resized to image_size × image_size when
  image_size is given and differs from the stored size). Labels come from the
  dataset's "label" feature when it has one (0 for all otherwise).
  """
  examples, info = tfds_random_access(name, split, data_dir, "use the embedded --dataset=digits")
  stored = tuple(info.features["image"].shape)
  channels = int(stored[-1] or 3)
  if image_size and tuple(stored[:2]) != (image_size, image_size):
    shape = (image_size, image_size, channels)
  elif None in stored:
    raise ValueError(f"TFDS dataset {name!r} holds images of varying sizes; give --image_size")
  else:
    shape = tuple(int(d) for d in stored)
  label_feature = info.features["label"] if "label" in info.features else None
  read = encoded_example_reader(examples, ("image", "label") if label_feature else ("image",))

  def load(index, number):
    del number
    values = read(index)
    image = tf.io.decode_image(values[0], channels=channels, expand_animations=False)
    image = tf.cast(image, tf.float32) / 127.5 - 1.0
    if shape != stored:
      image = tf.image.resize(image, shape[:2], antialias=True)
    label = tf.cast(values[1], tf.int32) if label_feature else tf.constant(0, tf.int32)
    return {"x": tf.ensure_shape(image, shape), "label": label}

  class_names = list(getattr(label_feature, "names", None) or [])
  spec = {"x": tf.TensorSpec(shape, tf.float32), "label": tf.TensorSpec([], tf.int32)}
  return Source(name=name, kind="images",
                groups={"x": Group(size=len(examples), load=load, spec=spec)},
                info={"image_shape": shape, "num_classes": len(class_names) or
                      int(getattr(label_feature, "num_classes", 0) or 0),
                      "class_names": class_names})


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


# The most bad files one error names; the count says how many there are.
_MAX_NAMED = 50


def _decode_problem(path: str) -> str:
  """Why TensorFlow cannot decode one image file (for the error message)."""
  try:
    tf.io.decode_image(tf.io.read_file(path), expand_animations=False)
  except tf.errors.OpError as e:
    lines = [l.strip() for l in e.message.splitlines() if l.strip()]
    return lines[0].split("}}")[-1].strip().rstrip(".") if lines else type(e).__name__
  return "unreadable"


def _file_stamp(path: str) -> list[int]:
  stat = os.stat(path)
  return [int(stat.st_size), int(stat.st_mtime_ns)]


def check_image_files(paths: list[str], known_good: dict[str, list[int]] | None = None
                      ) -> dict[str, list[int]]:
  """Decodes every image file once, as training will, so bad ones stop nothing midway.

  TensorFlow's own decoder (the one the input pipeline uses) reads the files in
  parallel through tf.data. A file named in `known_good` with the same size and
  modification time is not decoded again (a resumed run's check of unchanged data).

  Args:
    paths: Image files.
    known_good: {path: [size, mtime_ns, height, width]} of files that decoded before.

  Returns:
    {path: [size, mtime_ns, height, width]} of every file, all good: the next run's
    `known_good` (and the image sizes, which paired data checks).

  Raises:
    ValueError: naming every file that cannot be read or decoded (the first 50 and the
      count) and why, in one line.
  """
  known_good = known_good or {}
  stamps, bad = {}, []
  for path in paths:
    try:
      stamps[path] = _file_stamp(path)
    except OSError as e:
      bad.append((path, (e.strerror or type(e).__name__).lower()))
  unknown = []
  for path, stamp in stamps.items():
    known = known_good.get(path)
    if known is not None and len(known) == 4 and list(known[:2]) == stamp:
      stamps[path] = list(known)
    else:
      unknown.append(path)
  if unknown:
    def decodes(path):
      image = tf.io.decode_image(tf.io.read_file(path), expand_animations=False)
      return path, tf.shape(image)[:2]
    ds = (tf.data.Dataset.from_tensor_slices(tf.constant(unknown, tf.string))
          .map(decodes, num_parallel_calls=tf.data.AUTOTUNE, deterministic=False)
          .ignore_errors())
    shapes = {p.decode(): [int(d) for d in shape] for p, shape in ds.as_numpy_iterator()}
    bad += [(p, _decode_problem(p)) for p in unknown if p not in shapes]
    for path in unknown:
      if path in shapes:
        stamps[path] = stamps[path] + shapes[path]
  if bad:
    bad.sort()
    named = "; ".join(f"{p} ({why})" for p, why in bad[:_MAX_NAMED])
    more = f"; and {len(bad) - _MAX_NAMED} more" if len(bad) > _MAX_NAMED else ""
    raise ValueError(f"{len(bad)} of {len(paths)} image files cannot be read: {named}{more}; "
                     "fix or remove them")
  return stamps


def decode_image(path: tf.Tensor, channels: int) -> tf.Tensor:
  """Reads and decodes one image file to float32 in [-1, 1]."""
  data = tf.io.read_file(path)
  image = tf.io.decode_image(data, channels=channels, expand_animations=False)
  return tf.cast(image, tf.float32) / 127.5 - 1.0


def folder_source(folder: str, image_size: int, channels: int = 3,
                  known_good: dict[str, list[int]] | None = None) -> Source:
  """A folder of images, or of class sub-folders (labels from the sub-folder names).

  Every file is decoded once first (:func:`check_image_files`; `known_good` skips
  unchanged files checked before). Images are resized to image_size × image_size.
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
  checked = check_image_files(paths, known_good)
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
                      "paths": paths, "checked_files": checked})
