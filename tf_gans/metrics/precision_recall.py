"""Improved precision and recall of a generated set against a real one.

Kynkäänniemi et al. (2019), "Improved Precision and Recall Metric for Assessing
Generative Models" (NeurIPS): each set's manifold is estimated as the union of balls
around its points, each ball's radius the distance to the point's k-th nearest
neighbour within its own set (k = 3 in the paper). Then

* precision = share of generated samples inside the real manifold (are the samples
  realistic?);
* recall = share of real samples inside the generated manifold (does the generator
  cover the data?).

A generator that returns one image per class has precision near 1 and recall near 0;
uniform noise has both near 0. The paper measures in a classifier's feature space (VGG-16
on ImageNet-like data); here any feature vectors will do.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

_CHUNK = 1024  # rows per block of the distance matrix (bounds memory at N x 1024)


def _as_features(x: np.ndarray, name: str) -> np.ndarray:
  x = np.asarray(x, np.float64)
  if x.ndim != 2:
    raise ValueError(f"{name} must be feature vectors [N, D], got shape {x.shape}")
  return x


def _distance_blocks(a: np.ndarray, b: np.ndarray) -> Iterator[tuple[slice, np.ndarray]]:
  """Euclidean distances between the rows of a and b, a block of a's rows at a time."""
  b_sq = np.sum(b * b, axis=1)
  for start in range(0, len(a), _CHUNK):
    rows = slice(start, start + _CHUNK)
    block = a[rows]
    sq = np.sum(block * block, axis=1)[:, None] + b_sq[None, :] - 2.0 * block @ b.T
    # Cancellation can leave tiny negatives where the true distance is 0.
    yield rows, np.sqrt(np.maximum(sq, 0.0))


def knn_radii(features: np.ndarray, k: int = 3) -> np.ndarray:
  """Distance from each point to its k-th nearest other point of the same set.

  Args:
    features: [N, D] feature vectors.
    k: Which neighbour (1 = the nearest other point).

  Returns:
    float64 [N] radii.

  Raises:
    ValueError: if k < 1 or the set has k points or fewer (no k-th other point).
  """
  features = _as_features(features, "features")
  if k < 1:
    raise ValueError(f"k must be at least 1, got {k}")
  if len(features) <= k:
    raise ValueError(f"the k-NN radius with k={k} needs more than {k} points, got "
                     f"{len(features)}")
  radii = np.empty(len(features))
  for rows, d in _distance_blocks(features, features):
    # Column k of the sorted row: column 0 is the point itself (distance 0).
    radii[rows] = np.partition(d, k, axis=1)[:, k]
  return radii


def _coverage(points: np.ndarray, centres: np.ndarray, radii: np.ndarray) -> float:
  """Share of points inside at least one ball (centre, radius)."""
  inside = np.zeros(len(points), bool)
  for rows, d in _distance_blocks(points, centres):
    inside[rows] = np.any(d <= radii[None, :], axis=1)
  return float(inside.mean())


def improved_precision_recall(real: np.ndarray, generated: np.ndarray, k: int = 3
                              ) -> dict[str, float]:
  """Kynkäänniemi et al.'s precision and recall of `generated` against `real`.

  Args:
    real: Real feature vectors [N, D].
    generated: Generated feature vectors [M, D] (the paper uses M = N).
    k: Neighbour defining each ball's radius (3 in the paper).

  Returns:
    {"precision": share of generated points in the real manifold,
     "recall": share of real points in the generated manifold}.

  Raises:
    ValueError: for non-matrix inputs, differing feature sizes or sets of k points or
      fewer.
  """
  real = _as_features(real, "real")
  generated = _as_features(generated, "generated")
  if real.shape[1] != generated.shape[1]:
    raise ValueError(f"real features have {real.shape[1]} dimensions, generated "
                     f"{generated.shape[1]}")
  return {"precision": _coverage(generated, real, knn_radii(real, k)),
          "recall": _coverage(real, generated, knn_radii(generated, k))}


def per_class_precision_recall(real: np.ndarray, real_labels: np.ndarray,
                               generated: np.ndarray, generated_labels: np.ndarray,
                               k: int = 3) -> dict[int, dict[str, float]]:
  """Precision and recall within each class: generated samples of class c against real
  samples of class c.

  Args:
    real, generated: Feature vectors [N, D] and [M, D].
    real_labels, generated_labels: Their class labels [N] and [M] (for generated
      samples, the label they were conditioned on).
    k: As in :func:`improved_precision_recall`.

  Returns:
    {class: {"precision": ..., "recall": ...}} for every class present in both sets
    with more than k samples in each.
  """
  real_labels, generated_labels = np.asarray(real_labels), np.asarray(generated_labels)
  out = {}
  for c in np.intersect1d(np.unique(real_labels), np.unique(generated_labels)):
    r, g = real[real_labels == c], generated[generated_labels == c]
    if len(r) > k and len(g) > k:
      out[int(c)] = improved_precision_recall(r, g, k)
  return out
