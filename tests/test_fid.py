"""FID: the Fréchet distance, its matrix square root, and where tools report it."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from tf_gans.metrics import frechet as fid_lib


def random_covariance(rng, d, rank=None):
  a = rng.normal(size=(d, rank or d))
  return a @ a.T / (rank or d)


@pytest.mark.parametrize("d,rank", [(3, None), (8, None), (8, 3)])
def test_trace_of_the_product_root_matches_scipy_sqrtm(d, rank):
  rng = np.random.default_rng(d + (rank or 0))
  s1, s2 = random_covariance(rng, d), random_covariance(rng, d, rank)
  expected = np.trace(scipy.linalg.sqrtm(s1 @ s2)).real
  assert fid_lib.trace_sqrt_product(s1, s2) == pytest.approx(expected, rel=1e-6, abs=1e-8)
  root = fid_lib.sqrtm_psd(s1)
  np.testing.assert_allclose(root @ root, s1, atol=1e-10)
  np.testing.assert_allclose(root, scipy.linalg.sqrtm(s1).real, atol=1e-8)


def test_diagonal_covariances_give_the_closed_form():
  mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.5])
  v1, v2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
  # ‖μ1 − μ2‖² + Σ (σ1 − σ2)² for standard deviations σ: 1 + 0 + 6.25 + 4 + 1 + 0.
  expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(v1) - np.sqrt(v2)) ** 2)
  assert expected == pytest.approx(12.25)
  value = fid_lib.frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2))
  assert value == pytest.approx(expected, rel=1e-12)


def test_identical_gaussians_are_at_distance_zero_and_a_shift_adds_its_square():
  rng = np.random.default_rng(0)
  s = random_covariance(rng, 5)
  mu = rng.normal(size=5)
  assert fid_lib.frechet_distance(mu, s, mu, s) == pytest.approx(0.0, abs=1e-9)
  assert fid_lib.frechet_distance(mu, s, mu + 2.0, s) == pytest.approx(5 * 4.0, rel=1e-9)


def test_sample_fid_is_biased_upwards_and_falls_with_more_samples():
  # Two samples of the same distribution: FID > 0, smaller for bigger samples (the bias
  # the module docstring states).
  rng = np.random.default_rng(1)
  small = [fid_lib.fid(rng.normal(size=(100, 16)), rng.normal(size=(100, 16))) for _ in range(3)]
  large = [fid_lib.fid(rng.normal(size=(2000, 16)), rng.normal(size=(2000, 16)))
           for _ in range(3)]
  assert min(small) > 0 and max(large) < min(small) / 5


def test_bad_shapes_are_refused():
  with pytest.raises(ValueError, match="feature matrices"):
    fid_lib.fid(np.zeros((5, 3)), np.zeros((5, 4)))
  with pytest.raises(ValueError, match="at least 2 samples"):
    fid_lib.fid(np.zeros((1, 3)), np.zeros((5, 3)))
  with pytest.raises(ValueError, match="one d"):
    fid_lib.frechet_distance(np.zeros(2), np.eye(3), np.zeros(2), np.eye(2))


def test_inception_weights_file_is_checked(tmp_path):
  with pytest.raises(ValueError, match="is not a file"):
    fid_lib.InceptionFeatures(str(tmp_path / "missing.h5"))
  bad = tmp_path / "bad.weights.h5"
  bad.write_bytes(b"not weights")
  with pytest.raises(ValueError, match="cannot be loaded into InceptionV3"):
    fid_lib.InceptionFeatures(str(bad))


def test_inception_features_from_a_weights_file():
  import keras
  # Random weights saved as a user's file would be: the features are 2,048-d pool
  # outputs of the loaded network, grey images included.
  model = keras.applications.InceptionV3(include_top=False, weights=None, pooling="avg",
                                         input_shape=(299, 299, 3))
  import tempfile, os
  with tempfile.TemporaryDirectory() as folder:
    path = os.path.join(folder, "inception_notop.weights.h5")
    model.save_weights(path)
    features = fid_lib.InceptionFeatures(path, batch_size=2)
  images = np.random.default_rng(0).uniform(-1, 1, size=(3, 32, 32, 1)).astype(np.float32)
  out = features(images)
  assert out.shape == (3, 2048) and np.all(np.isfinite(out))
  import tensorflow as tf
  resized = tf.image.resize(np.repeat(images, 3, axis=-1), [299, 299])
  np.testing.assert_allclose(out, model(resized, training=False).numpy(), rtol=1e-4, atol=1e-5)
