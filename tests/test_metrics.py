"""Tests of the sample-quality metrics: k-NN precision/recall, KID, the classifier and
the conditional report, on hand-computed and known cases."""

from __future__ import annotations

import numpy as np
import pytest

from tf_gans.data.images import digits_arrays
from tf_gans.metrics import (conditional_report, improved_precision_recall, kid, knn_radii,
                             label_accuracy, load_or_train_classifier, mmd2_unbiased,
                             per_class_precision_recall, polynomial_kernel)
from tf_gans.metrics.kid import class_kid
from tf_gans.metrics.style import PixelPCA

# ---------------------------------------------------------------------------------------
# k-NN precision and recall on hand-computed cases.
# ---------------------------------------------------------------------------------------


def test_knn_radii_hand_computed():
  points = np.array([[0.0], [1.0], [3.0], [7.0]])
  # Distances to the others: 0 -> 1, 3, 7; 1 -> 1, 2, 6; 3 -> 3, 2, 4; 7 -> 7, 6, 4.
  np.testing.assert_allclose(knn_radii(points, 1), [1, 1, 2, 4])
  np.testing.assert_allclose(knn_radii(points, 2), [3, 2, 3, 6])
  with pytest.raises(ValueError, match="more than 4 points"):
    knn_radii(points, 4)
  with pytest.raises(ValueError, match="at least 1"):
    knn_radii(points, 0)


def test_precision_recall_hand_computed():
  real = np.array([[0.0], [1.0], [2.0], [3.0]])  # k=1 radii all 1
  generated = np.array([[0.5], [10.0], [10.5]])  # k=1 radii 9.5, 0.5, 0.5
  result = improved_precision_recall(real, generated, k=1)
  # Only 0.5 lies in a real ball; the ball of radius 9.5 around 0.5 holds all of real.
  assert result["precision"] == pytest.approx(1 / 3)
  assert result["recall"] == pytest.approx(1.0)


def test_precision_recall_identical_sets_are_perfect():
  x = np.random.default_rng(0).normal(size=(200, 5))
  assert improved_precision_recall(x, x, k=3) == {"precision": 1.0, "recall": 1.0}


def test_collapsed_generator_has_high_precision_and_no_recall():
  rng = np.random.default_rng(0)
  centres = rng.normal(scale=10.0, size=(10, 8))
  labels = np.repeat(np.arange(10), 50)
  real = centres[labels] + rng.normal(size=(500, 8))
  # One sample per class, repeated: a real point of each class.
  generated = real[[np.flatnonzero(labels == c)[0] for c in labels]]
  result = improved_precision_recall(real, generated, k=3)
  assert result["precision"] == 1.0
  # Duplicates have k-NN radius 0: only the 10 prototypes themselves are covered.
  assert result["recall"] == pytest.approx(10 / 500)
  per_class = per_class_precision_recall(real, labels, generated, labels, k=3)
  assert sorted(per_class) == list(range(10))
  assert all(v["precision"] == 1.0 and v["recall"] == pytest.approx(1 / 50)
             for v in per_class.values())


def test_precision_recall_rejects_mismatched_features():
  with pytest.raises(ValueError, match="dimensions"):
    improved_precision_recall(np.zeros((10, 3)), np.zeros((10, 4)))
  with pytest.raises(ValueError, match=r"\[N, D\]"):
    improved_precision_recall(np.zeros((10, 3, 1)), np.zeros((10, 3)))


# ---------------------------------------------------------------------------------------
# KID.
# ---------------------------------------------------------------------------------------


def test_mmd2_unbiased_hand_computed():
  x, y = np.array([[0.0], [1.0]]), np.array([[1.0], [2.0]])
  # d = 1: k(a, b) = (ab + 1)^3. k_xx off-diagonal: k(0, 1) = 1; k_yy: k(1, 2) = 27;
  # k_xy: k(0,1) = 1, k(0,2) = 1, k(1,1) = 8, k(1,2) = 27 -> mean 9.25.
  assert polynomial_kernel(x, y).tolist() == [[1.0, 1.0], [8.0, 27.0]]
  assert mmd2_unbiased(x, y) == pytest.approx(1 + 27 - 2 * 9.25)
  assert kid(x, y) == pytest.approx(9.5)


def test_kid_is_zero_for_the_same_distribution_and_grows_with_noise():
  rng = np.random.default_rng(0)
  a, b = rng.normal(size=(500, 16)), rng.normal(size=(500, 16))
  scale = kid(a, a + 3.0)
  assert abs(kid(a, a)) < 0.01 * scale
  assert abs(kid(a, b)) < 0.01 * scale
  # Noise added to an independent sample of the same distribution (noise added to `a`
  # itself would pair every sample with its own noisy copy, which the unbiased
  # estimator, built for independent sets, reads as closeness).
  values = [kid(a, b + rng.normal(scale=s, size=b.shape)) for s in (1.0, 2.0, 4.0, 8.0)]
  assert values == sorted(values)
  assert values[0] > 5 * abs(kid(a, b))


def test_kid_subsets_agree_with_the_full_estimate():
  rng = np.random.default_rng(1)
  a, b = rng.normal(size=(1500, 8)), rng.normal(loc=0.3, size=(1200, 8))
  value, std = kid(a, b, subset_size=500, num_subsets=50, return_std=True)
  assert std > 0
  assert value == pytest.approx(mmd2_unbiased(a, b), rel=0.15)


def test_kid_rejects_bad_inputs():
  with pytest.raises(ValueError, match="feature matrices"):
    kid(np.zeros((5, 2)), np.zeros((5, 3)))
  with pytest.raises(ValueError, match="at least 2 samples"):
    kid(np.zeros((1, 2)), np.zeros((5, 2)))


def test_class_kid_is_the_mean_of_the_classes_and_unbiased_for_matched_class_counts():
  rng = np.random.default_rng(2)
  centres = np.array([[3.0, 0, 0, 0], [-3.0, 0, 0, 0]])
  labels = np.repeat([0, 1], 15)

  def draw():  # 15 points of each of two well-separated classes
    return centres[labels] + rng.normal(size=(30, 4))

  x, y = draw(), draw()
  assert class_kid(x, labels, y, labels) == pytest.approx(np.mean(
      [mmd2_unbiased(x[labels == c], y[labels == c]) for c in (0, 1)]))
  # Both sets of one distribution with the same class counts, 400 times: the pooled
  # estimate sits below zero, about -2 (K_same - K_all) / (m - 1); class by class it
  # does not.
  pooled, classwise = [], []
  for _ in range(400):
    x, y = draw(), draw()
    pooled.append(kid(x, y))
    classwise.append(class_kid(x, labels, y, labels))
  k = polynomial_kernel(draw(), draw())
  same = np.equal.outer(labels, labels)
  bias = -2 * (k[same].mean() - k.mean()) / 29
  se_pooled = np.std(pooled) / 20
  se_classwise = np.std(classwise) / 20
  assert np.mean(pooled) < -8 * se_pooled
  assert np.mean(pooled) == pytest.approx(bias, rel=0.3)
  assert abs(np.mean(classwise)) < 3 * se_classwise
  with pytest.raises(ValueError, match="one label per feature"):
    class_kid(x, labels[:-1], y, labels)
  with pytest.raises(ValueError, match="no class has"):
    class_kid(x, labels, y, labels + 5)


def test_pixel_pca_keeps_the_asked_variance_and_checks_shapes():
  rng = np.random.default_rng(3)
  # Variance 9, 4 and 1 along three pixels, nothing on the fourth.
  images = (rng.normal(size=(2000, 4)) * [3.0, 2.0, 1.0, 0.0]).reshape(2000, 2, 2, 1)
  assert PixelPCA(images, variance=0.6).num_components == 1  # 9 / 14 = 0.64
  pca = PixelPCA(images, variance=0.9)  # 13 / 14 = 0.93
  assert pca.num_components == 2
  assert pca.explained_variance == pytest.approx(13 / 14, abs=0.02)
  f = pca.features(images)
  assert f.shape == (2000, 2)
  np.testing.assert_allclose(np.var(f, axis=0), [9.0, 4.0], rtol=0.1)
  with pytest.raises(ValueError, match="do not match"):
    pca.features(np.zeros((3, 4, 1, 1)))
  with pytest.raises(ValueError, match="variance"):
    PixelPCA(images, variance=0.0)


# ---------------------------------------------------------------------------------------
# The classifier and the conditional report on the embedded digits.
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
  return digits_arrays("train"), digits_arrays("test")


@pytest.fixture(scope="module")
def classifier_dir(tmp_path_factory):
  return str(tmp_path_factory.mktemp("classifier"))


@pytest.fixture(scope="module")
def classifier(digits, classifier_dir):
  (x, y), _ = digits
  return load_or_train_classifier(x, y, 10, cache_dir=classifier_dir)


def test_classifier_is_accurate_and_cached(digits, classifier, classifier_dir):
  (x, y), (tx, ty) = digits
  assert label_accuracy(classifier, tx, ty) > 0.95
  cached = load_or_train_classifier(x, y, 10, cache_dir=classifier_dir, epochs=1)
  np.testing.assert_allclose(cached.features(tx[:50]), classifier.features(tx[:50]), atol=1e-5)


def _sampler(images, labels, seed=0):
  """A 'generator' that draws real images of each asked-for label without replacement."""
  rng = np.random.default_rng(seed)
  pools = {c: list(rng.permutation(np.flatnonzero(labels == c))) for c in np.unique(labels)}
  return lambda wanted: np.stack([images[pools[int(c)].pop()] for c in wanted])


def test_report_real_heldout_data_scores_near_the_ceiling(digits, classifier):
  (x, y), (tx, ty) = digits
  # Half of the held-out set is evaluated; the other half plays the generator.
  half = np.zeros(len(ty), bool)
  for c in range(10):  # every other example of each class: the sampler never runs short
    half[np.flatnonzero(ty == c)[1::2]] = True
  report = conditional_report(_sampler(tx[~half], ty[~half]), classifier, x, y, tx[half],
                              ty[half], num_samples=150, per_class=False)
  assert report["num_samples"] == 150
  assert report["label_accuracy"] > 0.93
  for name in ("label_accuracy", "precision", "recall", "style_precision", "style_recall"):
    assert report[name] == pytest.approx(report[name + "_real_vs_real"], abs=0.1), name
  assert report["precision"] > 0.75 and report["recall"] > 0.75
  assert report["style_precision"] > 0.75 and report["style_recall"] > 0.75
  # 15 digits per class: the class-wise estimate is unbiased but noisy (uniform noise: 2.7).
  assert abs(report["kid"]) < 0.2 and abs(report["kid_real_vs_real"]) < 0.2


def test_report_uniform_noise_scores_near_chance(digits, classifier):
  (x, y), (tx, ty) = digits
  rng = np.random.default_rng(0)
  report = conditional_report(
      lambda labels: rng.uniform(-1, 1, (len(labels), 8, 8, 1)).astype(np.float32),
      classifier, x, y, tx, ty)
  assert report["label_accuracy"] < 0.25  # chance is 0.1
  assert report["recall"] < 0.1
  assert report["kid"] > 10 * abs(report["kid_real_vs_real"]) + 1.0


def test_report_one_image_per_class_has_precision_but_no_recall(digits, classifier):
  (x, y), (tx, ty) = digits
  prototypes = {c: x[np.flatnonzero(y == c)[0]] for c in range(10)}
  report = conditional_report(lambda labels: np.stack([prototypes[int(c)] for c in labels]),
                              classifier, x, y, tx, ty)
  assert report["label_accuracy"] > 0.9
  assert report["precision"] > 0.9
  assert report["recall"] < 0.05
  assert report["recall_real_vs_real"] > 0.8
  assert {f"recall_class_{c}" for c in range(10)} <= set(report)
  assert all(report[f"recall_class_{c}"] < 0.1 for c in range(10))


def _ink(images):
  return images.reshape(len(images), -1).mean(axis=1)


def test_style_recall_catches_a_generator_that_draws_only_the_thick_half_of_each_class(
    digits, classifier):
  (x, y), (tx, ty) = digits
  # Reference: every other training digit of each class; the 'generators' draw from the
  # rest, for the held-out digits' labels.
  reference = np.zeros(len(y), bool)
  for c in range(10):
    reference[np.flatnonzero(y == c)[::2]] = True
  pool_x, pool_y = x[~reference], y[~reference]
  thick = np.zeros(len(pool_y), bool)
  for c in range(10):
    idx = np.flatnonzero(pool_y == c)
    thick[idx] = _ink(pool_x[idx]) > np.median(_ink(pool_x[idx]))
  rng = np.random.default_rng(0)

  def drawn(allowed):
    picked = [rng.choice(np.flatnonzero(allowed & (pool_y == c))) for c in ty]
    return pool_x[np.array(picked)]

  every_style, thick_only = drawn(np.ones(len(pool_y), bool)), drawn(thick)
  style = PixelPCA(x)
  recall = {}
  for space, featurize in (("style", style.features), ("classifier", classifier.features)):
    ref = featurize(x[reference])
    recall[space] = [improved_precision_recall(ref, featurize(g))["recall"]
                     for g in (every_style, thick_only)]
  drop = {space: r[0] - r[1] for space, r in recall.items()}
  assert recall["style"][0] > 0.85  # real digits of every style cover the reference
  assert drop["style"] > 0.05  # the thin half of each class is missing
  assert drop["style"] > 1.5 * drop["classifier"]  # which the classifier barely sees


def test_hidden_signal_tells_a_steganographic_cycle_from_an_honest_one():
  from tf_gans.metrics import hidden_signal
  from tf_gans.metrics.steganography import jpeg_round_trip
  rng = np.random.default_rng(0)
  a = rng.uniform(-1, 1, (8, 16, 16, 3)).astype(np.float32)
  # Honest: G(a) = −a shows a's content; F inverts it and passes a perturbation through.
  honest = hidden_signal(a, -a, lambda y: -y)
  assert honest["cycle_error"] == pytest.approx(0.0, abs=1e-7)
  assert honest["gain_noise"] == pytest.approx(1.0, abs=0.02)
  assert honest["cycle_error_noise"] < 1.05 * honest["perturbation_noise"]
  # Steganographic: G(a) looks like one grey picture whatever a is, with a hidden in a
  # faint copy; F reads the faint copy back. The cycle error is as perfect as above.
  grey = np.zeros_like(a)
  hiding = hidden_signal(a, grey + 0.01 * a, lambda y: np.clip((y - grey) / 0.01, -1, 1))
  assert hiding["cycle_error"] == pytest.approx(0.0, abs=1e-5)
  assert hiding["gain_noise"] > 20 and hiding["gain_jpeg"] > 20
  for kind in ("noise", "jpeg"):  # an invisible change makes a visible error
    assert hiding[f"cycle_error_{kind}"] > 10 * hiding[f"perturbation_{kind}"]
  # The JPEG round trip keeps an image close: a perturbation, not a different picture.
  smooth = np.tile(np.linspace(-1, 1, 16, dtype=np.float32)[None, None, :, None], (2, 16, 1, 3))
  assert np.abs(jpeg_round_trip(smooth) - smooth).mean() < 0.03
  with pytest.raises(ValueError, match="differ in shape"):
    hidden_signal(a, a[:2], lambda y: y)
