"""Training data: deterministic resumable pipelines over named sources."""

from __future__ import annotations

from typing import Callable

from tf_gans.data.images import TFDS_IMAGE_DATASETS, digits_source, folder_source, tfds_source
from tf_gans.data.pipeline import Group, Source, make_dataset
from tf_gans.data.toy2d import TOY_DATASETS, toy_source

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
register_dataset("folder", lambda data_dir="", image_size=0, split="train":
                 folder_source(data_dir, image_size or 32))


def dataset_names() -> list[str]:
  return sorted(_DATASETS)


def make_source(name: str, data_dir: str = "", image_size: int = 0, split: str = "train") -> Source:
  """Builds the source --dataset=name.

  Raises:
    ValueError: for an unknown name (listing the known ones) or missing data.
  """
  if name not in _DATASETS:
    raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(dataset_names())}")
  if name == "folder" and not data_dir:
    raise ValueError("--dataset=folder needs --data_dir pointing at a folder of images")
  return _DATASETS[name](data_dir=data_dir, image_size=image_size, split=split)


__all__ = ["Group", "Source", "make_dataset", "make_source", "register_dataset",
           "dataset_names", "toy_source", "digits_source", "folder_source", "tfds_source"]
