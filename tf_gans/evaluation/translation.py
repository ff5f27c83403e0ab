"""How an unpaired translation model is measured (CycleGAN, DiscoGAN).

On the held-out split: cycle errors always; on data with a known ground truth
(digits_recolour) also the error to the true translation and label preservation, read by
a classifier of the digits' shapes (:class:`tf_gans.metrics.ShapeClassifier`).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from tf_gans.evaluation.conditional import CLASSIFIER_FOLDER


def shape_classifier(train_source: Any, model_dir: str | None) -> Any:
  """The shape classifier of a translation task's real training images (both domains),
  cached in MODEL_DIR/eval_classifier."""
  from tf_gans import metrics
  from tf_gans.data.translation import evaluation_images
  data = evaluation_images(train_source)
  images = np.concatenate([data["a"], data["b"]])
  labels = np.concatenate([data["label_a"], data["label_b"]])
  cache = os.path.join(model_dir, CLASSIFIER_FOLDER) if model_dir else None
  return metrics.load_or_train_classifier(images, labels, int(labels.max()) + 1,
                                          cache_dir=cache, kind="shape")


def evaluate_translation(gan: Any, config: Any, source: Any, *,
                         num_samples: int = 2500, seed: int = 0, model_dir: str | None = None,
                         **_: Any) -> dict[str, Any]:
  """Measures a translation model on the held-out (test) split.

  Always: the cycle errors ``mean|F(G(a)) - a|`` and ``mean|G(F(b)) - b|`` on a [0, 1]
  scale. On data with a known ground truth (digits_recolour): the mean absolute error
  of G(a) and F(b) to the true translations ([0, 1] scale), and label preservation: the
  share of translated digits a classifier of real digits' shapes (trained on both
  domains, cached in MODEL_DIR/eval_classifier) still reads as the source digit, next to
  its accuracy on real test digits (the ceiling).

  Returns:
    A flat dict of floats (and the number of test examples).
  """
  del seed
  from tf_gans import data as data_lib
  from tf_gans.data.translation import evaluation_images
  try:
    test = data_lib.make_source(config.dataset, config.data_dir, config.image_size, split="test",
                                **config.data_options())
    split = "test"
  except ValueError:
    test, split = source, "train"  # no testA/testB: measure on training images
  data = evaluation_images(test, num_samples)
  a, b = data["a"], data["b"]
  ab = gan.translate_numpy(a, "a_to_b")
  ba = gan.translate_numpy(b, "b_to_a")
  aba = gan.translate_numpy(ab, "b_to_a")
  bab = gan.translate_numpy(ba, "a_to_b")
  # Images live in [-1, 1]; halving an absolute difference puts it on a [0, 1] scale.
  out: dict[str, Any] = {"split": split, "examples_a": int(len(a)), "examples_b": int(len(b))}
  truth_ab, truth_ba = test.info.get("true_a_to_b"), test.info.get("true_b_to_a")
  if truth_ab is not None and truth_ba is not None:
    out["error_to_truth_a_to_b"] = float(np.mean(np.abs(ab - truth_ab(a)))) / 2
    out["error_to_truth_b_to_a"] = float(np.mean(np.abs(ba - truth_ba(b)))) / 2
    out["error_to_truth"] = (out["error_to_truth_a_to_b"] + out["error_to_truth_b_to_a"]) / 2
  out["cycle_error_a"] = float(np.mean(np.abs(aba - a))) / 2
  out["cycle_error_b"] = float(np.mean(np.abs(bab - b))) / 2
  out["cycle_error"] = (out["cycle_error_a"] + out["cycle_error_b"]) / 2
  if "label_a" in data and "label_b" in data:
    classifier = shape_classifier(source, model_dir)
    out["classifier_accuracy_real"] = (classifier.accuracy(a, data["label_a"]) +
                                       classifier.accuracy(b, data["label_b"])) / 2
    out["label_preservation_a_to_b"] = classifier.accuracy(ab, data["label_a"])
    out["label_preservation_b_to_a"] = classifier.accuracy(ba, data["label_b"])
    out["label_preservation"] = (out["label_preservation_a_to_b"] +
                                 out["label_preservation_b_to_a"]) / 2
  return out
