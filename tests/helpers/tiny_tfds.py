"""A tiny labelled image dataset built locally with TFDS, in the ArrayRecord format.

Nothing is downloaded: the examples are generated in code, so tests and benchmarks can
exercise TFDS's real random-access reader (not a mock) offline.

  from tests.helpers.tiny_tfds import prepare
  prepare(data_dir, num_train=40)  # then --dataset=tiny_tfds_digits --data_dir=data_dir
"""

from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds
from etils import epath

NAME = "tiny_tfds_digits"


class TinyTfdsDigits(tfds.core.GeneratorBasedBuilder):
  """Random images (16x16 grey by default) with a bright square whose quadrant is the label."""

  VERSION = tfds.core.Version("1.0.0")

  # TFDS finds a builder's file through importlib_resources when the builder lives in a
  # package, a module tensorflow-datasets 4.9 does not install; this file is the answer.
  @tfds.core.utils.classproperty
  @classmethod
  def code_path(cls) -> epath.Path:
    return epath.Path(__file__)

  def __init__(self, *, num_train: int = 40, side: int = 16, channels: int = 1, **kwargs):
    self._num_train, self._shape = num_train, (side, side, channels)
    super().__init__(**kwargs)

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self,
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Image(shape=self._shape),
            "label": tfds.features.ClassLabel(num_classes=4)}),
        supervised_keys=("image", "label"))

  def _split_generators(self, dl_manager):
    del dl_manager
    return {"train": self._generate_examples(self._num_train, 0),
            "test": self._generate_examples(max(8, self._num_train // 10), 1)}

  def _generate_examples(self, n: int, seed: int):
    rng = np.random.default_rng(seed)
    half = self._shape[0] // 2
    for i in range(n):
      label = i % 4
      image = rng.integers(0, 60, self._shape, dtype=np.uint8)
      row, col = divmod(label, 2)
      image[row * half + 2:row * half + 6, col * half + 2:col * half + 6] = 250
      yield i, {"image": image, "label": label}


def prepare(data_dir: str, num_train: int = 40, side: int = 16, channels: int = 1) -> str:
  """Builds the dataset into data_dir in the ArrayRecord format; returns its name."""
  builder = TinyTfdsDigits(data_dir=data_dir, num_train=num_train, side=side, channels=channels,
                           file_format="array_record")
  builder.download_and_prepare(
      download_config=tfds.download.DownloadConfig(verify_ssl=False))
  return NAME
