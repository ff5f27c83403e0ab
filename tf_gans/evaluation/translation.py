"""How a translation model is measured (CycleGAN, DiscoGAN, pix2pix, CUT).

On the held-out split: cycle errors for two-way models (also after faint noise and a
JPEG round trip of the translations, which expose reconstruction from hidden signal), the error to the paired target
on aligned pairs; on data with a known ground truth (the embedded digits tasks) also the
error to the true translation and label preservation, read by a classifier of the
digits' shapes (:class:`tf_gans.metrics.ShapeClassifier`).
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


def _domain_key(key: str, domain: str) -> str:
  """cycle_error -> cycle_error_a; gain_noise -> gain_a_noise."""
  for suffix in ("_noise", "_jpeg"):
    if key.endswith(suffix):
      return f"{key[:-len(suffix)]}_{domain}{suffix}"
  return f"{key}_{domain}"


def evaluate_translation(gan: Any, config: Any, source: Any, *,
                         num_samples: int = 2500, seed: int = 0, model_dir: str | None = None,
                         inception_weights: str | None = None, **_: Any) -> dict[str, Any]:
  """Measures a translation model on the held-out (test) split.

  For each direction the model translates (both for CycleGAN and DiscoGAN, the trained
  one for pix2pix and CUT), on a [0, 1] scale: the cycle errors ``mean|F(G(a)) - a|``
  and ``mean|G(F(b)) - b|`` (two-way models; ``cycle_error_a``), and the same after
  faint noise or a JPEG round trip of G(a) (``cycle_error_a_noise``,
  ``cycle_error_a_jpeg``, with the perturbations' size ``perturbation_a_noise`` and
  ``gain_a_noise``: how many times F amplifies them; see
  :mod:`tf_gans.metrics.steganography`); on aligned pairs the mean absolute error to
  the paired target; on data with a known ground truth (the embedded digits tasks) the
  error to the true translation and label preservation: the share of translated digits
  a classifier of real digits' shapes (trained on both domains, cached in
  MODEL_DIR/eval_classifier) still reads as the source digit, next to its accuracy on
  real test digits (the ceiling), and FID between the translations and real test images
  of the target domain in that classifier's feature space (ceiling: real test vs real
  training images), also on InceptionV3 features with `inception_weights`. Un-suffixed
  keys average the directions measured.

  Returns:
    A flat dict of floats (and the number of test examples).
  """
  del seed
  from tf_gans import data as data_lib
  from tf_gans import metrics
  from tf_gans.data.translation import evaluation_images
  try:
    test = data_lib.make_source(config.dataset, config.data_dir, config.image_size, split="test",
                                **config.data_options())
    split = "test"
  except ValueError:
    test, split = source, "train"  # no test split: measure on training images
  data = evaluation_images(test, num_samples)
  a, b = data["a"], data["b"]
  directions = list(gan.direction_networks())
  images = {"a_to_b": (a, b), "b_to_a": (b, a)}  # (source, the other domain's images)
  labels = {"a_to_b": data.get("label_a"), "b_to_a": data.get("label_b")}
  target_labels = {"a_to_b": data.get("label_b"), "b_to_a": data.get("label_a")}
  translated = {d: gan.translate_numpy(images[d][0], d) for d in directions}
  # Images live in [-1, 1]; halving an absolute difference puts it on a [0, 1] scale.
  out: dict[str, Any] = {"split": split, "examples_a": int(len(a)), "examples_b": int(len(b))}

  def record(name, values):
    for direction, value in values.items():
      out[f"{name}_{direction}"] = value
    if values:
      out[name] = float(np.mean(list(values.values())))

  truths = {d: test.info.get(f"true_{d}") for d in directions}
  record("error_to_truth", {d: float(np.mean(np.abs(translated[d] - truths[d](images[d][0]))))
                            / 2 for d in directions if truths[d] is not None})
  if test.kind == "aligned_pairs":
    record("error_to_pair", {d: float(np.mean(np.abs(translated[d] - images[d][1]))) / 2
                             for d in directions})
  if set(directions) == {"a_to_b", "b_to_a"}:
    # Cycle errors, and how they hold when the translations are perturbed invisibly
    # (tf_gans.metrics.steganography).
    cycles = {"a": metrics.hidden_signal(a, translated["a_to_b"],
                                         lambda x: gan.translate_numpy(x, "b_to_a")),
              "b": metrics.hidden_signal(b, translated["b_to_a"],
                                         lambda x: gan.translate_numpy(x, "a_to_b"))}
    for key in cycles["a"]:
      for domain, values in cycles.items():
        out[_domain_key(key, domain)] = values[key]
      out[key] = (cycles["a"][key] + cycles["b"][key]) / 2
  if all(labels[d] is not None and target_labels[d] is not None for d in directions):
    classifier = shape_classifier(source, model_dir)
    # The ceiling: how well the classifier reads real images of the domains translated to.
    out["classifier_accuracy_real"] = float(np.mean([
        classifier.accuracy(images[d][1], target_labels[d]) for d in directions]))
    record("label_preservation", {d: classifier.accuracy(translated[d], labels[d])
                                  for d in directions})
    spaces = [("fid", classifier.features)]
    if inception_weights:
      from tf_gans.evaluation.conditional import inception_features
      spaces.append(("fid_inception", inception_features(inception_weights)))
    train = evaluation_images(source, num_samples)
    train_images = {"a_to_b": train["b"], "b_to_a": train["a"]}  # of the target domain
    for name, features in spaces:
      for d in directions:
        real = features(images[d][1])
        out[f"{name}_{d}"] = metrics.fid(features(translated[d]), real)
        out[f"{name}_{d}_real_vs_real"] = metrics.fid(real, features(train_images[d]))
  return out
