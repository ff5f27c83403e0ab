"""Random data of a benchmark row's shape, so the speed benchmarks need no download."""

from __future__ import annotations


def synthetic_source(kind: str, size: int, n: int = 64):
  """A Source of n random images (with labels for "images"/"labelled", two domains for
  "pairs", aligned pairs for "aligned"), or the 8-Gaussians ring for "points"."""
  import numpy as np
  from tf_gans import data
  rng = np.random.default_rng(0)
  if kind == "points":
    return data.toy_source("8gaussians")
  images = rng.uniform(-1, 1, (n, size, size, 3)).astype("float32")
  if kind in ("images", "labelled"):
    labels = rng.integers(0, 10, n).astype("int32")
    return data.Source(name="synthetic", kind="images",
                       groups={"x": data.Group(size=n, arrays={"x": images, "label": labels})},
                       info={"image_shape": (size, size, 3), "num_classes": 10})
  other = rng.uniform(-1, 1, (n, size, size, 3)).astype("float32")
  if kind == "aligned":
    return data.Source(name="synthetic", kind="aligned_pairs",
                       groups={"pairs": data.Group(size=n, arrays={"a": images, "b": other})},
                       info={"image_shape": (size, size, 3)})
  return data.Source(name="synthetic", kind="image_pairs",
                     groups={"a": data.Group(size=n, arrays={"a": images}),
                             "b": data.Group(size=n, arrays={"b": other})},
                     info={"image_shape": (size, size, 3)})
