"""Pictures a person can look at: image grids and 2-D scatter plots."""

from __future__ import annotations

import io
import os
from typing import Any

import numpy as np


def to_uint8(images: Any) -> np.ndarray:
  """[-1, 1] floats -> uint8 in [0, 255]."""
  images = np.asarray(images, dtype=np.float32)
  return np.clip(np.round((images + 1.0) * 127.5), 0, 255).astype(np.uint8)


def image_grid(images: Any, rows: int | None = None, pad: int = 1) -> np.ndarray:
  """Tiles [N, H, W, C] images in [-1, 1] into one uint8 [H', W', 3] picture.

  Args:
    images: The images, row-major.
    rows: Number of rows; default a near-square grid.
    pad: Pixels of white between tiles.
  """
  images = to_uint8(images)
  if images.shape[-1] == 1:
    images = np.repeat(images, 3, axis=-1)
  n, h, w, c = images.shape
  rows = rows or int(np.ceil(np.sqrt(n)))
  cols = int(np.ceil(n / rows))
  grid = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), 255, np.uint8)
  for i in range(n):
    r, k = divmod(i, cols)
    grid[pad + r * (h + pad):pad + r * (h + pad) + h, pad + k * (w + pad):pad + k * (w + pad) + w] = images[i]
  return grid


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
  """Nearest-neighbour enlargement, so 8×8 digits are visible."""
  return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1) if factor > 1 else image


def scatter_plot(generated: np.ndarray, real: np.ndarray, title: str = "",
                 modes: np.ndarray | None = None) -> np.ndarray:
  """Generated 2-D points over real ones (and mode centres), as a uint8 RGB image."""
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
  ax.scatter(real[:, 0], real[:, 1], s=3, c="tab:blue", alpha=0.3, label="real")
  ax.scatter(generated[:, 0], generated[:, 1], s=3, c="tab:orange", alpha=0.5, label="generated")
  if modes is not None:
    ax.scatter(modes[:, 0], modes[:, 1], s=30, marker="x", c="black", label="modes")
  lim = float(np.max(np.abs(real))) * 1.3 + 1e-3
  ax.set_xlim(-lim, lim)
  ax.set_ylim(-lim, lim)
  ax.set_aspect("equal")
  # Markers in the legend at the plot's own sizes (opaque, so the small dots show).
  legend = ax.legend(loc="upper right", fontsize=8, markerscale=1)
  for handle in legend.legend_handles:
    handle.set_alpha(1.0)
  if title:
    ax.set_title(title)
  fig.tight_layout()
  buf = io.BytesIO()
  fig.savefig(buf, format="png")
  plt.close(fig)
  from PIL import Image
  return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def save_png(image: np.ndarray, path: str) -> None:
  """Writes a uint8 picture as PNG, whole or not at all (temporary file, then rename)."""
  import uuid
  from PIL import Image
  folder = os.path.dirname(os.path.abspath(path))
  os.makedirs(folder, exist_ok=True)
  tmp = os.path.join(folder, f".{os.path.basename(path)}.tmp-{uuid.uuid4().hex[:8]}")
  try:
    Image.fromarray(image).save(tmp, format="PNG")
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)


def preview(gan: Any, source: Any, num: int = 64, seed: int = 0, title: str = "") -> np.ndarray:
  """A picture of what the GAN generates now: its own ``preview`` if it has one, else a
  scatter over the real data (2-D points) or an image grid."""
  if hasattr(gan, "preview"):
    return gan.preview(source, num=num, seed=seed)
  if source.kind == "points":
    n = max(num, 1000)
    generated = np.asarray(gan.generate(n, seed=seed))
    real = source.take(n, seed=seed + 1)["x"]
    return scatter_plot(generated, real, title, source.info.get("modes"))
  images = np.asarray(gan.generate(num, seed=seed))
  grid = image_grid(images)
  return upscale(grid, max(1, 256 // grid.shape[0]))
