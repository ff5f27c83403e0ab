"""How an unconditional generator is measured (the WGAN): points or images."""

from __future__ import annotations

import os
from typing import Any


def evaluate_points(gan: Any, config: Any, source: Any, *,
                    num_samples: int = 2500, seed: int = 0, **_: Any) -> dict[str, Any]:
  """Mode coverage (mixtures) and earth-mover distance to real samples (2-D data).

  Mode coverage as VEEGAN and PacGAN measure it (:func:`tf_gans.metrics.mode_coverage`);
  the earth-mover distance beside the distance between two real samples of the same
  size (its floor).
  """
  if source.kind != "points":
    raise ValueError(f"evaluate_points measures 2-D data; dataset {source.name!r} holds "
                     f"{source.kind}")
  from tf_gans import distances
  from tf_gans.metrics import mode_coverage
  generated = gan.generate(num_samples, seed=seed).numpy()
  real = source.take(num_samples, seed=seed + 1)["x"]
  out: dict[str, Any] = {}
  if "modes" in source.info:
    out.update(mode_coverage(generated, source.info["modes"], source.info["mode_std"]))
  out["earth_movers_distance"] = distances.earth_movers_distance(generated, real)
  out["earth_movers_distance_real_vs_real"] = distances.earth_movers_distance(
      source.take(num_samples, seed=seed + 2)["x"], real)
  return out


def evaluate_images(gan: Any, config: Any, source: Any, *, num_samples: int = 2500,
                    seed: int = 0, model_dir: str | None = None,
                    inception_weights: str | None = None, **_: Any) -> dict[str, Any]:
  """Precision/recall, KID and FID of generated images, each beside its real-vs-real value.

  In the feature space of a classifier of the real training split's labels (cached in
  MODEL_DIR/eval_classifier), against its held-out split
  (:func:`tf_gans.metrics.unconditional_report`).

  Raises:
    ValueError: for images without labels to train the classifier on.
  """
  import numpy as np
  from tf_gans import metrics
  from tf_gans.evaluation.conditional import (CLASSIFIER_FOLDER, evaluation_splits,
                                              inception_features)
  num_classes = int(source.info.get("num_classes") or 0)
  if num_classes < 2:
    raise ValueError(f"measuring images needs labelled data to train the feature classifier "
                     f"on; dataset {source.name!r} has {num_classes} classes")
  (train_x, train_y), (test_x, _) = evaluation_splits(config, source)
  cache = os.path.join(model_dir, CLASSIFIER_FOLDER) if model_dir else None
  classifier = metrics.load_or_train_classifier(train_x, train_y, num_classes, cache_dir=cache,
                                                seed=seed)
  n = min(num_samples, len(test_x))
  generated = np.asarray(gan.generate(n, seed=seed))
  return metrics.unconditional_report(generated, classifier, train_x, test_x, seed=seed,
                                      inception=inception_features(inception_weights))


def evaluate_unconditional(gan: Any, config: Any, source: Any, **options: Any) -> dict[str, Any]:
  """:func:`evaluate_points` on 2-D data, :func:`evaluate_images` on images."""
  if source.kind == "points":
    return evaluate_points(gan, config, source, **options)
  return evaluate_images(gan, config, source, **options)
