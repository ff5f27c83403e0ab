"""A feature space that keeps how an image is drawn: the real data's principal components.

A classifier's features are trained to ignore everything but the class: two ways of
writing a 7 land close together. Precision and recall measured there see a generator
that drops some of each class's styles only faintly: on the embedded digits, a set that
holds only the thicker half of every class (by ink) loses 0.031 of recall in the
classifier's space and 0.089 here, the thinner half 0.047 against 0.094
(benchmarks/digit_metrics.py, five draws, standard deviation about 0.02). Pixels keep
the style but spread their distances over every pixel's noise; the real training
split's leading principal components keep the directions along which real images vary
(stroke width, slant, size, loops...) and drop the rest.

The projection is fitted once on the real training split and then applied to any set
of images (generated, held-out, reference), so all sets are compared in the same
coordinates.
"""

from __future__ import annotations

import numpy as np

# Share of the real pixels' variance the kept components explain: on the digits, 0.95
# (28 of 64 components) separated three half-style sets from real ones by 4.7, 4.3 and
# 11.5 standard deviations of recall, the best overall of 0.8 (4.9, 3.4, 9.3), 0.9, raw
# pixels and a 16-unit autoencoder's code (benchmarks/digit_metrics.py).
DEFAULT_VARIANCE = 0.95
MAX_FIT_IMAGES = 2000  # the projection is fitted on at most this many images


class PixelPCA:
  """Projection of images onto the principal components of real training images.

  Args:
    images: Real training images [N, H, W, C] (any range; sets compared later must share
      it).
    variance: Keep the fewest leading components that explain this share of the pixel
      variance (in (0, 1]).
    max_components: Upper bound on the number kept.
    max_fit_images: Fit on a fixed random subset of at most this many images (the SVD
      of N × pixels costs N² × pixels).
    seed: Seed of that subset.

  Raises:
    ValueError: for fewer than 2 images or a variance outside (0, 1].
  """

  def __init__(self, images: np.ndarray, variance: float = DEFAULT_VARIANCE,
               max_components: int = 256, max_fit_images: int = MAX_FIT_IMAGES, seed: int = 0):
    x = np.asarray(images)
    if x.ndim < 2 or len(x) < 2:
      raise ValueError(f"PixelPCA needs at least 2 images, got shape {x.shape}")
    if not 0.0 < variance <= 1.0:
      raise ValueError(f"variance must be in (0, 1], got {variance}")
    self.image_shape = tuple(x.shape[1:])
    if len(x) > max_fit_images:
      x = x[np.sort(np.random.default_rng(seed).choice(len(x), max_fit_images, replace=False))]
    x = x.reshape(len(x), -1).astype(np.float64)
    from sklearn.decomposition import PCA
    pca = PCA(svd_solver="full").fit(x)  # every component; the count is chosen below
    explained = np.cumsum(pca.explained_variance_ratio_)
    count = int(np.searchsorted(explained, variance - 1e-12) + 1)
    count = max(1, min(count, max_components, len(explained)))
    self.mean = pca.mean_
    self.components = pca.components_[:count]  # [count, H*W*C], orthonormal rows
    self.explained_variance = float(explained[count - 1])

  @property
  def num_components(self) -> int:
    return int(self.components.shape[0])

  def features(self, images: np.ndarray) -> np.ndarray:
    """Coordinates [N, num_components] of images on the kept components.

    Raises:
      ValueError: if the images' shape differs from the fitted images'.
    """
    x = np.asarray(images, np.float64)
    if tuple(x.shape[1:]) != self.image_shape:
      raise ValueError(f"images of shape {tuple(x.shape[1:])} do not match the "
                       f"{self.image_shape} the projection was fitted on")
    return (x.reshape(len(x), -1) - self.mean) @ self.components.T
