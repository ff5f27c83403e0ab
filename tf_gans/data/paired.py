"""Aligned image pairs for paired translation (pix2pix), and the stroke-thickening task.

A paired source has ``kind="aligned_pairs"`` and one group: a batch is a dict
``{"a": [N, H, W, C], "b": [N, H, W, C]}`` of float32 images in [-1, 1] where ``b[i]``
is the counterpart of ``a[i]`` (plus "label_a"/"label_b", equal, where the data has
labels).

Sources:

* ``paired_folder`` (``--data_dir=DATA``), in either of two layouts:

  - the pix2pix reference code's *aligned* layout: ``DATA/train/``, ``DATA/test/`` (or
    ``DATA/val/``), each file holding A on the left half and B on the right half (as
    the reference code's datasets facades, maps, edges2shoes are distributed);
  - two parallel folders ``DATA/trainA/`` and ``DATA/trainB/`` (``testA/``, ``testB/``)
    whose files pair up by name.

  Every file is decoded once before training; unreadable files, an aligned file whose
  width cannot be split in two equal halves, parallel files of different sizes and a
  name without a partner are all named in one error before anything is built.
  Training images are resized to ``load_size`` and cropped to ``image_size`` at one
  random position, then flipped or not, *the same for both images of a pair* (286 →
  256 in the paper).
* ``digits_thicken_paired``: an offline paired task with a **known ground truth**, made
  from the bundled 8×8 digits: A is a white digit on black, B the same digit with its
  strokes thickened by a morphological dilation and drawn in blue ink on cream paper.
  The map changes shape, not only colour.
* ``digits_thicken``: the same two domains *unpaired* (A and B from disjoint halves of
  the training digits, as ``digits_recolour``), for unpaired models on the same task.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from tf_gans.data.images import check_image_files, decode_image, digits_arrays, list_images
from tf_gans.data.pipeline import Group, Source
from tf_gans.data.translation import (KIND as UNPAIRED_KIND, _augment, _check_sizes,
                                      _check_split, _resize, _upscaled_intensity,
                                      domain_indices, intensity_to_a, intensity_to_b)

KIND = "aligned_pairs"


# ---------------------------------------------------------------------------------------
# The ground-truth task: thicker strokes in another colour.
# ---------------------------------------------------------------------------------------


def thicken_radius(image_size: int) -> int:
  """Radius in pixels of the dilation's disk: 2 at 32 px (the 8×8 digit's strokes, about
  4 px wide there, become about 8 px wide)."""
  return max(1, image_size // 16)


def _disk(radius: int) -> np.ndarray:
  y, x = np.mgrid[-radius:radius + 1, -radius:radius + 1]
  return (x * x + y * y) <= radius * radius


def thicken(t: np.ndarray) -> np.ndarray:
  """Grey-level dilation of intensities [N, H, W] in [0, 1] with a disk of
  :func:`thicken_radius` (each pixel takes the brightest value within the disk)."""
  from scipy import ndimage
  t = np.asarray(t, np.float32)
  footprint = _disk(thicken_radius(t.shape[-1]))[None]
  return ndimage.grey_dilation(t, footprint=footprint, mode="constant", cval=0.0)


def true_thicken_a_to_b(images_a: np.ndarray) -> np.ndarray:
  """The exact translation of domain-A images into domain B (thicken, then recolour)."""
  t = np.clip((np.asarray(images_a, np.float32).mean(axis=-1) + 1.0) / 2.0, 0.0, 1.0)
  return intensity_to_b(thicken(t))


def _thicken_arrays(split: str, image_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  _check_split(split)
  if image_size < 16:
    raise ValueError(f"the digits_thicken tasks need image_size >= 16, got {image_size}")
  images, labels = digits_arrays(split)
  t = _upscaled_intensity(images, image_size)
  return intensity_to_a(t), intensity_to_b(thicken(t)), labels


def _thicken_info(split: str, image_size: int) -> dict:
  return {"image_shape": (image_size, image_size, 3), "num_classes": 10,
          "class_names": [str(i) for i in range(10)],
          "domains": ("white digits on black", "thick blue-ink digits on paper"),
          "true_a_to_b": true_thicken_a_to_b, "split": split}


def digits_thicken_paired_source(split: str = "train", image_size: int = 32) -> Source:
  """The embedded paired task: every digit of the split in both domains, aligned.

  Returns:
    A Source of kind "aligned_pairs" with features a, b, label_a, label_b (one group);
    info["true_a_to_b"] is the exact map.
  """
  a, b, labels = _thicken_arrays(split, image_size)
  group = Group(size=len(labels), arrays={"a": a, "b": b, "label_a": labels,
                                          "label_b": labels})
  return Source(name="digits_thicken_paired", kind=KIND, groups={"pairs": group},
                info=_thicken_info(split, image_size))


def digits_thicken_source(split: str = "train", image_size: int = 32) -> Source:
  """The same task unpaired: A and B from disjoint halves of each class of the training
  digits (every held-out digit in both domains for "test"), shuffled independently.

  There is no exact B → A map (a dilation cannot be undone), so only the A → B error to
  the truth is measured.
  """
  a, b, labels = _thicken_arrays(split, image_size)
  a_index, b_index = domain_indices(labels, split)
  groups = {"a": Group(size=len(a_index), arrays={"a": a[a_index], "label_a": labels[a_index]}),
            "b": Group(size=len(b_index), arrays={"b": b[b_index], "label_b": labels[b_index]})}
  return Source(name="digits_thicken", kind=UNPAIRED_KIND, groups=groups,
                info=_thicken_info(split, image_size))


# ---------------------------------------------------------------------------------------
# Image files.
# ---------------------------------------------------------------------------------------

_LAYOUT_HINT = ("expected DATA/train/ (each file A and B side by side, the pix2pix layout) "
                "or DATA/trainA/ and DATA/trainB/ whose files pair up by name")


def _aligned_folder(data_dir: str, split: str) -> str | None:
  for name in ((split,) if split == "train" else (split, "val")):
    folder = os.path.join(data_dir, name)
    if os.path.isdir(folder):
      return folder
  return None


def _pair_problems(pairs: list[tuple[str, str]], sizes: dict[str, list[int]],
                   aligned: bool) -> list[str]:
  problems = []
  for a, b in pairs:
    if aligned:
      height, width = sizes[a][2:4]
      if width % 2:
        problems.append(f"{a} ({width}x{height}: an odd width cannot be split into A and B "
                        "halves)")
    elif sizes[a][2:4] != sizes[b][2:4]:
      (ha, wa), (hb, wb) = sizes[a][2:4], sizes[b][2:4]
      problems.append(f"{a} is {wa}x{ha} but {b} is {wb}x{hb}")
  return problems


def _fail(what: str, problems: list[str], total: int) -> ValueError:
  named = "; ".join(problems[:50])
  more = f"; and {len(problems) - 50} more" if len(problems) > 50 else ""
  return ValueError(f"{len(problems)} of {total} {what}: {named}{more}")


def paired_folder_source(data_dir: str, split: str = "train", image_size: int = 256,
                         load_size: int = 0, flip: bool = True,
                         known_good: dict[str, list[int]] | None = None) -> Source:
  """Aligned image pairs from files (see the module docstring for the two layouts).

  Args:
    data_dir: The folder holding train/ (and test/ or val/), or trainA/ and trainB/.
    split: "train" (augmented) or "test" (resized to image_size, no augmentation).
    image_size: Training crop size (256 in the paper).
    load_size: Size both images are resized to before the shared crop; 0: 286/256 ×
      image_size.
    flip: Random horizontal flips of both images together (training only).
    known_good: Files decoded by an earlier check: not decoded again when unchanged.

  Returns:
    A Source of kind "aligned_pairs" with features a and b; info["pairs"] (the files of
    each pair; an aligned file appears twice) and info["checked_files"].

  Raises:
    ValueError: for a missing layout, unreadable files, bad pairs or unpaired names,
      each named.
  """
  _check_split(split)
  load_size = _check_sizes(image_size, load_size)
  if not data_dir or not os.path.isdir(data_dir):
    raise ValueError(f"paired_folder needs --data_dir, a folder of image pairs; got "
                     f"{data_dir!r}: {_LAYOUT_HINT}")
  aligned_dir = _aligned_folder(data_dir, split)
  if aligned_dir is not None:
    files = list_images(aligned_dir)
    pairs = [(f, f) for f in files]
    layout = "aligned"
  else:
    folders = [os.path.join(data_dir, f"{split}{d}") for d in "AB"]
    if not all(os.path.isdir(f) for f in folders):
      raise ValueError(f"{data_dir!r} holds no {split} pairs: {_LAYOUT_HINT}")
    by_name = [{os.path.splitext(os.path.basename(p))[0]: p for p in list_images(f)}
               for f in folders]
    alone = ([p for n, p in by_name[0].items() if n not in by_name[1]] +
             [p for n, p in by_name[1].items() if n not in by_name[0]])
    if alone:
      raise _fail(f"files in {folders[0]!r} and {folders[1]!r} have no partner of the same "
                  "name in the other folder", sorted(alone),
                  len(by_name[0]) + len(by_name[1]))
    pairs = [(by_name[0][n], by_name[1][n]) for n in sorted(by_name[0])]
    layout = "parallel"
  checked = check_image_files(sorted({p for pair in pairs for p in pair}), known_good)
  problems = _pair_problems(pairs, checked, layout == "aligned")
  if problems:
    raise _fail("image pairs cannot be used", problems, len(pairs))

  table_a = tf.constant([a for a, _ in pairs])
  table_b = tf.constant([b for _, b in pairs])

  def images_of(index):
    if layout == "aligned":
      both = decode_image(table_a[index], 3)
      half = tf.shape(both)[1] // 2
      return both[:, :half], both[:, half:]
    return decode_image(table_a[index], 3), decode_image(table_b[index], 3)

  def load(index, number):
    a, b = images_of(index)
    if split == "train":
      # One salt for both: the same resize, crop position and flip (stateless in the
      # example number, so a resumed run sees the same crops).
      a = _augment(a, number, 0, image_size, load_size, flip)
      b = _augment(b, number, 0, image_size, load_size, flip)
    else:
      a, b = _resize(a, image_size), _resize(b, image_size)
    shape = [image_size, image_size, 3]
    return {"a": tf.ensure_shape(a, shape), "b": tf.ensure_shape(b, shape)}

  spec = {k: tf.TensorSpec([image_size, image_size, 3], tf.float32) for k in ("a", "b")}
  return Source(name="paired_folder", kind=KIND,
                groups={"pairs": Group(size=len(pairs), load=load, spec=spec)},
                info={"image_shape": (image_size, image_size, 3), "pairs": pairs,
                      "layout": layout, "domains": ("A", "B"), "split": split,
                      "data_dir": data_dir, "checked_files": checked})
