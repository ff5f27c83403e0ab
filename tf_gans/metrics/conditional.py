"""The class-conditional report: label accuracy, precision/recall and KID, with ceilings.

Two feature spaces: a classifier's (trained on the real training split; it reads the
class and ignores most of the style) and the real training images' principal
components (:class:`tf_gans.metrics.style.PixelPCA`, which keep how a digit is drawn).
Every number is measured twice in the same space: for generated
samples, and for held-out real samples in their place. The real-data value is the
ceiling a perfect generator would reach with this many samples, which is what makes a
number readable (recall 0.8 is poor if held-out data scores 0.92, and fine if it scores
0.81).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from tf_gans.metrics.classifier import Classifier
from tf_gans.metrics.frechet import fid
from tf_gans.metrics.kid import class_kid, kid
from tf_gans.metrics.precision_recall import (improved_precision_recall,
                                              per_class_precision_recall)
from tf_gans.metrics.style import PixelPCA

CEILING_SUFFIX = "_real_vs_real"


def _stratified_reference(train_labels: np.ndarray, wanted: np.ndarray,
                          rng: np.random.Generator) -> np.ndarray:
  """Indices of training examples with the same number per class as `wanted` holds."""
  picked = []
  for c, count in zip(*np.unique(wanted, return_counts=True)):
    pool = np.flatnonzero(train_labels == c)
    if len(pool) == 0:
      raise ValueError(f"class {c} has held-out examples but none in the training split")
    picked.append(rng.choice(pool, min(count, len(pool)), replace=False))
  return np.sort(np.concatenate(picked))


def _precision_recall_pairs(reference: np.ndarray, generated: np.ndarray, evaluated: np.ndarray,
                            k: int, prefix: str = "") -> dict[str, tuple[float, float]]:
  """{prefix + "precision"/"recall": (generated vs reference, evaluated vs reference)}."""
  gen_pr = improved_precision_recall(reference, generated, k)
  real_pr = improved_precision_recall(reference, evaluated, k)
  return {prefix + name: (gen_pr[name], real_pr[name]) for name in ("precision", "recall")}


def _style_features(train_images: np.ndarray, *sets: np.ndarray) -> list[np.ndarray]:
  """Each set in the principal components of the training images."""
  style = PixelPCA(train_images)
  return [style.features(np.asarray(x)) for x in sets]


def conditional_report(generate: Callable[[np.ndarray], np.ndarray], classifier: Classifier,
                       train_images: np.ndarray, train_labels: np.ndarray,
                       heldout_images: np.ndarray, heldout_labels: np.ndarray, *,
                       num_samples: int | None = None, k: int = 3, seed: int = 0,
                       per_class: bool = True, inception: Any = None) -> dict[str, float]:
  """Measures a conditional generator against real data, beside the real-data ceiling.

  The evaluated set E is `num_samples` held-out examples (all of them by default); the
  generator is asked for exactly E's labels, so generated and held-out sets have the
  same class counts. The real reference R is drawn from the training split with the
  same class counts. Then, in the classifier's feature space:

  * ``label_accuracy``: classifier accuracy on generated samples against the labels they
    were generated for; ceiling: its accuracy on E;
  * ``precision``, ``recall``: Kynkäänniemi et al. (2019) with k-NN radii, generated vs
    R; ceiling: E vs R; also per class (``precision_class_3``, ...);
  * ``style_precision``, ``style_recall``: the same in the principal components of the
    real training images (:class:`tf_gans.metrics.style.PixelPCA`), where a generator
    that draws few of each class's styles loses recall;
  * ``kid``: class-wise kernel distance (:func:`tf_gans.metrics.kid.class_kid`) between
    generated samples and E in the principal components; ceiling: E vs R. (Pooled over
    classes, sets with equal class counts bias the estimate below zero; in the
    classifier's space the classifier's own training images, R, sit apart from E.)
  * ``fid``: Fréchet distance in the classifier's space, generated vs E (biased upwards
    at this size: compare it with its ceiling, :mod:`tf_gans.metrics.frechet`);
    ``fid_inception`` on InceptionV3 features when `inception` is given.

  Each ceiling has the key of its metric plus ``_real_vs_real``.

  Args:
    generate: ``generate(labels [n] int32) -> images [n, H, W, C]`` in [-1, 1].
    classifier: Trained on the training split (see ``load_or_train_classifier``).
    train_images, train_labels: The training split.
    heldout_images, heldout_labels: Real data the classifier and generator never saw.
    num_samples: Size of E (capped at the held-out set's size).
    k: Neighbour of the precision/recall radii (3 in the paper).
    seed: Seed of the subsets (the generator's noise is `generate`'s business).
    per_class: Also report precision and recall per class.
    inception: ``inception(images) -> features`` (:class:`tf_gans.metrics.frechet.InceptionFeatures`),
      or None.

  Returns:
    Metric name -> value (floats), plus "num_samples".

  Raises:
    ValueError: if the generator returns the wrong number of images.
  """
  rng = np.random.default_rng(seed)
  heldout_labels, train_labels = np.asarray(heldout_labels), np.asarray(train_labels)
  n = len(heldout_labels) if num_samples is None else min(num_samples, len(heldout_labels))
  evaluated = np.sort(rng.choice(len(heldout_labels), n, replace=False))
  labels = heldout_labels[evaluated].astype(np.int32)
  reference = _stratified_reference(train_labels, labels, rng)

  generated = np.asarray(generate(labels))
  if len(generated) != n:
    raise ValueError(f"the generator returned {len(generated)} images for {n} labels")
  gen_f, gen_pred = classifier.features_and_predictions(generated)
  real_f, real_pred = classifier.features_and_predictions(np.asarray(heldout_images)[evaluated])
  ref_f = classifier.features(np.asarray(train_images)[reference])
  ref_labels = train_labels[reference]

  out: dict[str, float] = {"num_samples": n}

  def pair(name, generated_value, real_value):
    out[name] = float(generated_value)
    out[name + CEILING_SUFFIX] = float(real_value)

  pair("label_accuracy", np.mean(gen_pred == labels), np.mean(real_pred == labels))
  gen_s, real_s, ref_s = _style_features(train_images, generated,
                                         np.asarray(heldout_images)[evaluated],
                                         np.asarray(train_images)[reference])
  for name, values in {**_precision_recall_pairs(ref_f, gen_f, real_f, k),
                       **_precision_recall_pairs(ref_s, gen_s, real_s, k, "style_")}.items():
    pair(name, *values)
  pair("kid", class_kid(gen_s, labels, real_s, labels), class_kid(real_s, labels, ref_s, ref_labels))
  pair("fid", fid(gen_f, real_f), fid(real_f, ref_f))
  if inception is not None:
    pair("fid_inception", *_inception_fids(
        inception, generated, np.asarray(heldout_images)[evaluated],
        np.asarray(train_images)[reference]))
  if per_class:
    gen_c = per_class_precision_recall(ref_f, ref_labels, gen_f, labels, k)
    real_c = per_class_precision_recall(ref_f, ref_labels, real_f, labels, k)
    for c in sorted(gen_c):
      for name in ("precision", "recall"):
        pair(f"{name}_class_{c}", gen_c[c][name], real_c[c][name])
  return out


def _inception_fids(inception: Any, generated: np.ndarray, evaluated: np.ndarray,
                    reference: np.ndarray) -> tuple[float, float]:
  """(FID of generated vs E, FID of E vs R) on Inception features."""
  real = inception(evaluated)
  return fid(inception(generated), real), fid(real, inception(reference))


def unconditional_report(generated: np.ndarray, classifier: Classifier, train_images: np.ndarray,
                         heldout_images: np.ndarray, *, k: int = 3, seed: int = 0,
                         inception: Any = None) -> dict[str, float]:
  """Measures unconditional samples against real data, beside the real-data ceiling.

  As :func:`conditional_report` without labels: the evaluated real set E is as many
  held-out examples as there are generated ones, the reference R as many training
  examples; in the classifier's feature space, ``precision`` and ``recall`` (generated vs
  R; ceiling E vs R), ``kid`` and ``fid`` (generated vs E; ceiling E vs R), and
  ``fid_inception`` when `inception` is given.

  Args:
    generated: [n, H, W, C] in [-1, 1].
    classifier: Trained on the training split.
    train_images, heldout_images: Real images; at least n of each.
    k: Neighbour of the precision/recall radii.
    seed: Seed of the subsets.
    inception: Inception features for ``fid_inception``, or None.
  """
  rng = np.random.default_rng(seed)
  n = min(len(generated), len(heldout_images), len(train_images))
  evaluated = np.sort(rng.choice(len(heldout_images), n, replace=False))
  reference = np.sort(rng.choice(len(train_images), n, replace=False))
  gen_f = classifier.features(np.asarray(generated)[:n])
  real_f = classifier.features(np.asarray(heldout_images)[evaluated])
  ref_f = classifier.features(np.asarray(train_images)[reference])
  gen_s, real_s, ref_s = _style_features(train_images, np.asarray(generated)[:n],
                                         np.asarray(heldout_images)[evaluated],
                                         np.asarray(train_images)[reference])
  out: dict[str, float] = {"num_samples": n}
  pairs = {**_precision_recall_pairs(ref_f, gen_f, real_f, k),
           **_precision_recall_pairs(ref_s, gen_s, real_s, k, "style_"),
           "kid": (kid(gen_s, real_s, seed=seed), kid(real_s, ref_s, seed=seed)),
           "fid": (fid(gen_f, real_f), fid(real_f, ref_f))}
  for name, (value, ceiling) in pairs.items():
    out[name], out[name + CEILING_SUFFIX] = float(value), float(ceiling)
  if inception is not None:
    value, ceiling = _inception_fids(inception, np.asarray(generated)[:n],
                                     np.asarray(heldout_images)[evaluated],
                                     np.asarray(train_images)[reference])
    out["fid_inception"], out["fid_inception" + CEILING_SUFFIX] = value, ceiling
  return out
