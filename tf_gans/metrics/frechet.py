"""Fréchet distance between two feature sets (FID), in any feature space.

Heusel et al. (2017), "GANs Trained by a Two Time-Scale Update Rule Converge to a Local
Nash Equilibrium" (NeurIPS): fit a Gaussian to each set of features and report the
Fréchet (2-Wasserstein) distance between the two Gaussians,

    FID = ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁ Σ₂)^{1/2}).

The paper uses the 2,048-d pool features of InceptionV3 (:func:`inception_features`,
with weights the user supplies); ``tools/evaluate.py`` also reports it in the feature
space of its KID and precision/recall (a classifier trained on the data), beside the
value for real data.

**Bias at small sample sizes.** The estimate is biased upwards, and the bias falls
roughly as 1/n (Bińkowski et al. 2018, "Demystifying MMD GANs", appendix D; Chong &
Forsyth 2020): two independent samples of the *same* distribution give FID > 0, and
more so with fewer samples and more feature dimensions, because each covariance is
fitted from the samples. FIDs are comparable only at the same n and feature space: the
published Inception tables use 50,000 generated images against the training set (at
least 10,000; below 2,048 samples the 2,048-d covariance is singular). The embedded
digits hold out 359 images, so their FIDs are compared with the real-vs-real value at
the same n, never with published numbers; KID (:mod:`tf_gans.metrics.kid`) is unbiased
and is the better number at these sizes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tf_gans.metrics.kid import feature_sets


def sqrtm_psd(matrix: np.ndarray) -> np.ndarray:
  """The square root of a symmetric positive semi-definite matrix, by eigendecomposition.

  Eigenvalues that rounding made slightly negative are set to 0, so the result is real
  and symmetric; no iteration, no complex parts to discard.
  """
  matrix = np.asarray(matrix, np.float64)
  values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
  return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def trace_sqrt_product(sigma_1: np.ndarray, sigma_2: np.ndarray) -> float:
  """Tr((Σ₁ Σ₂)^{1/2}) for covariances Σ₁, Σ₂, computed stably.

  Σ₁Σ₂ is not symmetric, and a general matrix square root of it (``scipy.linalg.sqrtm``)
  can return complex values and lose accuracy when it is near singular, as covariances
  of few samples are. (Σ₁Σ₂)^{1/2} is similar to (Σ₁^{1/2} Σ₂ Σ₁^{1/2})^{1/2}, a
  symmetric positive semi-definite matrix, so their traces are equal: the sum of the
  square roots of that matrix's eigenvalues.
  """
  root_1 = sqrtm_psd(sigma_1)
  middle = root_1 @ np.asarray(sigma_2, np.float64) @ root_1
  values = np.linalg.eigvalsh((middle + middle.T) / 2)
  return float(np.sqrt(np.clip(values, 0.0, None)).sum())


def frechet_distance(mu_1: np.ndarray, sigma_1: np.ndarray, mu_2: np.ndarray,
                     sigma_2: np.ndarray) -> float:
  """The Fréchet distance between N(μ₁, Σ₁) and N(μ₂, Σ₂).

  Raises:
    ValueError: for means and covariances of mismatched sizes.
  """
  mu_1, mu_2 = np.atleast_1d(np.asarray(mu_1, np.float64)), np.atleast_1d(np.asarray(mu_2, np.float64))
  sigma_1, sigma_2 = np.atleast_2d(sigma_1), np.atleast_2d(sigma_2)
  d = mu_1.shape[0]
  if mu_2.shape != (d,) or sigma_1.shape != (d, d) or sigma_2.shape != (d, d):
    raise ValueError(f"Fréchet distance needs means [d] and covariances [d, d] of one d; got "
                     f"{mu_1.shape}, {sigma_1.shape}, {mu_2.shape}, {sigma_2.shape}")
  diff = mu_1 - mu_2
  value = (diff @ diff + np.trace(sigma_1) + np.trace(sigma_2)
           - 2.0 * trace_sqrt_product(sigma_1, sigma_2))
  return float(max(value, 0.0))


def fid(x: np.ndarray, y: np.ndarray) -> float:
  """FID between feature sets x [m, d] and y [n, d] (sample means and covariances).

  Raises:
    ValueError: for non-matrix inputs, differing feature sizes or a set of fewer than
      two samples.
  """
  x, y = feature_sets("FID", x, y)
  return frechet_distance(x.mean(0), np.cov(x, rowvar=False), y.mean(0), np.cov(y, rowvar=False))


class InceptionFeatures:
  """InceptionV3's 2,048-d average-pool features, the paper's FID space.

  Weights cannot be downloaded here: `weights_path` is a Keras weights file of
  ``keras.applications.InceptionV3(include_top=False)`` (for example the
  ``inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5`` file Keras itself
  downloads). Images in [-1, 1] (InceptionV3's own input scale) are resized to 299×299
  bilinearly; grey images are repeated to three channels.

  Raises:
    ValueError: for a missing or unloadable weights file (named).
  """

  def __init__(self, weights_path: str, batch_size: int = 32):
    import os

    import keras
    if not os.path.isfile(weights_path):
      raise ValueError(f"--inception_weights {weights_path!r} is not a file; give the Keras "
                       "InceptionV3 weights without the top (…_notop.h5)")
    self.model = keras.applications.InceptionV3(include_top=False, weights=None,
                                                pooling="avg", input_shape=(299, 299, 3))
    try:
      self.model.load_weights(weights_path)
    except Exception as e:  # Keras raises several types for a bad weights file
      raise ValueError(f"--inception_weights {weights_path!r} cannot be loaded into "
                       f"InceptionV3 without its top: {str(e).splitlines()[0]}") from None
    self.batch_size = batch_size

  def __call__(self, images: Any) -> np.ndarray:
    import tensorflow as tf
    images = np.asarray(images, np.float32)
    out = []
    for start in range(0, len(images), self.batch_size):
      batch = tf.convert_to_tensor(images[start:start + self.batch_size])
      if batch.shape[-1] == 1:
        batch = tf.repeat(batch, 3, axis=-1)
      batch = tf.image.resize(batch, [299, 299], method="bilinear")
      out.append(np.asarray(self.model(batch, training=False), np.float64))
    return np.concatenate(out) if out else np.zeros((0, 2048))
