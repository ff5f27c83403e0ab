"""Training data: deterministic resumable pipelines over named sources."""

from __future__ import annotations

import inspect
from typing import Any, Callable

from tf_gans.data.images import TFDS_IMAGE_DATASETS, digits_source, folder_source, tfds_source
from tf_gans.data.pipeline import Group, Source, make_dataset
from tf_gans.data.toy2d import TOY_DATASETS, toy_source
from tf_gans.data import paired, translation

# --dataset value -> builder(data_dir, image_size) -> Source. Models say which kinds they accept.
_DATASETS: dict[str, Callable[..., Source]] = {}


def register_dataset(name: str, builder: Callable[..., Source]) -> None:
  if name in _DATASETS:
    raise ValueError(f"dataset {name!r} is registered twice")
  _DATASETS[name] = builder


for _name in TOY_DATASETS:
  register_dataset(_name, lambda data_dir="", image_size=0, split="train", _n=_name: toy_source(_n))
register_dataset("digits", lambda data_dir="", image_size=0, split="train": digits_source(split))
for _name in TFDS_IMAGE_DATASETS:
  register_dataset(_name, lambda data_dir="", image_size=0, split="train", _n=_name:
                   tfds_source(_n, split, data_dir or None))
register_dataset("folder", lambda data_dir="", image_size=0, split="train", known_good=None:
                 folder_source(data_dir, image_size or 32, known_good=known_good))
# Two unpaired domains (image-to-image translation).
register_dataset("digits_recolour", lambda data_dir="", image_size=0, split="train":
                 translation.digits_recolour_source(split, image_size or 32))
register_dataset("unpaired_folder", lambda data_dir="", image_size=0, split="train", load_size=0,
                 flip=True, known_good=None: translation.unpaired_folder_source(
                     data_dir, split, image_size or 256, load_size, flip, known_good))
for _name in translation.CYCLE_GAN_TFDS:
  register_dataset(f"cycle_gan/{_name}", lambda data_dir="", image_size=0, split="train",
                   load_size=0, flip=True, _n=_name: translation.cycle_gan_tfds_source(
                       _n, split, data_dir, image_size or 256, load_size, flip))
register_dataset("digits_thicken", lambda data_dir="", image_size=0, split="train":
                 paired.digits_thicken_source(split, image_size or 32))
# Aligned pairs (paired translation).
register_dataset("digits_thicken_paired", lambda data_dir="", image_size=0, split="train":
                 paired.digits_thicken_paired_source(split, image_size or 32))
register_dataset("paired_folder", lambda data_dir="", image_size=0, split="train", load_size=0,
                 flip=True, known_good=None: paired.paired_folder_source(
                     data_dir, split, image_size or 256, load_size, flip, known_good))


# Any other TFDS image dataset prepared in the ArrayRecord format: --dataset=tfds/<name>.
TFDS_PREFIX = "tfds/"


def dataset_names() -> list[str]:
  return sorted(_DATASETS) + [TFDS_PREFIX + "<name>"]


def dataset_name_problem(name: str) -> str | None:
  """What is wrong with a --dataset value, or None for a known name or tfds/<name>."""
  if name in _DATASETS or (name.startswith(TFDS_PREFIX) and len(name) > len(TFDS_PREFIX)):
    return None
  return f"must be one of: {', '.join(dataset_names())}"


def make_source(name: str, data_dir: str = "", image_size: int = 0, split: str = "train",
                **options: Any) -> Source:
  """Builds the source --dataset=name.

  Args:
    name: The --dataset value.
    data_dir: Folder with the data (folder datasets, TFDS data_dir).
    image_size: Side length, for datasets that resize.
    split: "train" or "test".
    **options: Further data settings (e.g. load_size, flip); each dataset takes those
      its builder accepts and ignores the others.

  Raises:
    ValueError: for an unknown name (listing the known ones) or missing data.
  """
  if name.startswith(TFDS_PREFIX) and len(name) > len(TFDS_PREFIX):
    return tfds_source(name[len(TFDS_PREFIX):], split, data_dir or None, image_size)
  if name not in _DATASETS:
    raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(dataset_names())}")
  if name == "folder" and not data_dir:
    raise ValueError("--dataset=folder needs --data_dir pointing at a folder of images")
  builder = _DATASETS[name]
  accepted = inspect.signature(builder).parameters
  options = {k: v for k, v in options.items() if k in accepted}
  return builder(data_dir=data_dir, image_size=image_size, split=split, **options)


__all__ = ["Group", "Source", "make_dataset", "make_source", "register_dataset",
           "dataset_names", "toy_source", "digits_source", "folder_source", "tfds_source"]
