"""Kernel (Inception) distance: an unbiased squared MMD with a cubic polynomial kernel.

Bińkowski et al. (2018), "Demystifying MMD GANs" (ICLR), section 5: KID is the squared
maximum mean discrepancy between two sets of features under the kernel
``k(x, y) = (x·y / d + 1)^3``, estimated without bias. Unlike the Fréchet distance (FID),
whose estimate is strongly biased upwards at small sample sizes (it fits a d×d
covariance from the samples), the unbiased estimate has expectation equal to the
population value at any size, so a few hundred samples -- all the embedded digits hold
out -- give comparable numbers. It can be slightly negative when the sets come from the
same distribution. The paper computes it on Inception features; any feature space
works, and ``tf_gans`` uses a classifier trained on the data.
"""

from __future__ import annotations

import numpy as np


def feature_sets(metric: str, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """x [m, d] and y [n, d] as float64, checked for a distance between feature sets.

  Raises:
    ValueError: naming `metric`, for non-matrix inputs, differing feature sizes or a set
      of fewer than two samples.
  """
  x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
  if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
    raise ValueError(f"{metric} needs feature matrices [m, d] and [n, d], got {x.shape} and "
                     f"{y.shape}")
  if min(len(x), len(y)) < 2:
    raise ValueError(f"{metric} needs at least 2 samples per set, got {len(x)} and {len(y)}")
  return x, y


def polynomial_kernel(a: np.ndarray, b: np.ndarray, degree: int = 3, coef0: float = 1.0
                      ) -> np.ndarray:
  """``(a b^T / d + coef0) ** degree``, the KID kernel for d-dimensional features."""
  return (a @ b.T / a.shape[1] + coef0) ** degree


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
  """The unbiased estimate of MMD² between samples x [m, d] and y [n, d].

  ``sum_{i≠j} k(x_i, x_j) / (m(m-1)) + sum_{i≠j} k(y_i, y_j) / (n(n-1))
  - 2 sum_{i,j} k(x_i, y_j) / (mn)`` with the cubic polynomial kernel.
  """
  m, n = len(x), len(y)
  k_xx, k_yy, k_xy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
  xx = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
  yy = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
  return float(xx + yy - 2.0 * k_xy.mean())


def kid(x: np.ndarray, y: np.ndarray, subset_size: int = 1000, num_subsets: int = 100,
        seed: int = 0, return_std: bool = False) -> float | tuple[float, float]:
  """Kernel distance between two sets of features.

  Sets no larger than `subset_size` are compared whole (one estimate). Larger sets are
  compared as the paper does: the mean (and standard deviation) of the estimate over
  `num_subsets` random subsets of `subset_size` from each, which keeps the cost at
  O(subset_size²) per subset.

  Args:
    x, y: Feature vectors [m, d] and [n, d].
    subset_size: Size of the subsets (1,000 in the paper).
    num_subsets: Number of subsets (100 in the paper).
    seed: Seed of the subset draws.
    return_std: Also return the standard deviation over subsets (0 when compared whole).

  Returns:
    The KID, or (KID, std).

  Raises:
    ValueError: for non-matrix inputs, differing feature sizes or a set of fewer than
      two samples.
  """
  x, y = feature_sets("KID", x, y)
  if subset_size < 2:
    raise ValueError(f"subset_size must be at least 2, got {subset_size}")
  if max(len(x), len(y)) <= subset_size:
    value, std = mmd2_unbiased(x, y), 0.0
  else:
    rng = np.random.default_rng(seed)
    size = min(subset_size, len(x), len(y))
    values = [mmd2_unbiased(x[rng.choice(len(x), size, replace=False)],
                            y[rng.choice(len(y), size, replace=False)])
              for _ in range(num_subsets)]
    value, std = float(np.mean(values)), float(np.std(values))
  return (value, std) if return_std else value


def class_kid(x: np.ndarray, x_labels: np.ndarray, y: np.ndarray, y_labels: np.ndarray,
              min_per_class: int = 2) -> float:
  """Class-wise KID: the unbiased MMD² between x and y within each class, averaged.

  The conditional report compares sets built with the *same* class counts (the
  generator is asked for the held-out set's labels). Such sets are not independent
  samples of the data distribution, and the pooled estimate is then biased: with n_c
  examples of class c in each set of m, the cross term holds a larger share of
  same-class pairs than the within-set terms (which leave out each point with itself),
  so its expectation is about ``-2 (K_same - K_all) / (m - 1)``, K_same the mean kernel
  value of two examples of one class and K_all that of any two. On the embedded digits'
  classifier features that is -0.39 for real held-out digits against real training
  digits (benchmarks/digit_metrics.py). Within one class both sets are plain samples of
  that class, so each class's estimate is unbiased; their mean weights classes equally,
  as intra-FID (Miyato & Koyama 2018) does.

  Args:
    x, y: Feature vectors [m, d] and [n, d].
    x_labels, y_labels: Their classes [m] and [n].
    min_per_class: Classes with fewer examples in either set are skipped.

  Returns:
    The mean over the classes present in both sets with enough examples.

  Raises:
    ValueError: for bad feature matrices, labels that do not match them, or no class
      with `min_per_class` examples in both sets.
  """
  x, y = feature_sets("class-wise KID", x, y)
  x_labels, y_labels = np.asarray(x_labels), np.asarray(y_labels)
  if x_labels.shape != (len(x),) or y_labels.shape != (len(y),):
    raise ValueError(f"class-wise KID needs one label per feature vector, got {x_labels.shape} "
                     f"for {len(x)} and {y_labels.shape} for {len(y)}")
  values = []
  for c in np.intersect1d(x_labels, y_labels):
    xc, yc = x[x_labels == c], y[y_labels == c]
    if min(len(xc), len(yc)) >= max(min_per_class, 2):
      values.append(mmd2_unbiased(xc, yc))
  if not values:
    raise ValueError(f"no class has {max(min_per_class, 2)} examples in both sets")
  return float(np.mean(values))
