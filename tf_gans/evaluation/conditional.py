"""How a class-conditional generator is measured (the conditional GAN).

Against held-out real data of each class, in the feature space of a classifier trained
on the real training split: label accuracy, precision/recall overall and per class, and
KID and FID, each beside its value for held-out real data (:func:`tf_gans.metrics.conditional_report`).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

CLASSIFIER_FOLDER = "eval_classifier"


def labelled_arrays(source: Any) -> tuple[np.ndarray, np.ndarray]:
  """Every example of a labelled image source as (images, labels) numpy arrays."""
  group = next(iter(source.groups.values()))
  if group.arrays is not None:
    return np.asarray(group.arrays["x"]), np.asarray(group.arrays["label"])
  data = source.take(group.size, seed=0)  # one epoch: each example exactly once
  return data["x"], data["label"]


def evaluation_splits(config: Any, source: Any, holdout: float = 0.2, seed: int = 1234
                      ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
  """(train, held-out) labelled arrays for evaluating a run on `source`.

  The held-out data is the dataset's test split (digits: ``digits_arrays("test")``;
  TFDS: "test"). A folder has no test split: a fixed share of each class is held out
  from the classifier and the reference set instead (the GAN has seen those images).
  """
  from tf_gans import data as data_lib
  train = labelled_arrays(source)
  if config.dataset != "folder":
    test = data_lib.make_source(config.dataset, config.data_dir, config.image_size, split="test")
    return train, labelled_arrays(test)
  images, labels = train
  rng = np.random.default_rng(seed)
  heldout = np.zeros(len(labels), bool)
  for c in np.unique(labels):
    idx = np.flatnonzero(labels == c)
    heldout[rng.choice(idx, max(1, int(round(len(idx) * holdout))), replace=False)] = True
  return (images[~heldout], labels[~heldout]), (images[heldout], labels[heldout])


def inception_features(inception_weights: str | None) -> Any:
  """InceptionV3 features from the user's weights file, or None without one."""
  if not inception_weights:
    return None
  from tf_gans.metrics.frechet import InceptionFeatures
  return InceptionFeatures(inception_weights)


def evaluate_conditional(gan: Any, config: Any, source: Any, *,
                  num_samples: int = 2500, seed: int = 0, model_dir: str | None = None,
                  inception_weights: str | None = None, **_: Any) -> dict[str, Any]:
  """Label accuracy, precision/recall (overall and per class), KID and FID, with ceilings.

  See :func:`tf_gans.metrics.conditional_report`; the classifier is trained on the
  training split once and cached in MODEL_DIR/eval_classifier. With
  `inception_weights` (a Keras InceptionV3 weights file), FID on Inception features too.
  """
  from tf_gans import metrics
  (train_x, train_y), (test_x, test_y) = evaluation_splits(config, source)
  cache = os.path.join(model_dir, CLASSIFIER_FOLDER) if model_dir else None
  classifier = metrics.load_or_train_classifier(train_x, train_y, gan.num_classes,
                                                cache_dir=cache, seed=seed)
  return metrics.conditional_report(
      lambda labels: gan.generate(len(labels), seed=seed, labels=labels).numpy(),
      classifier, train_x, train_y, test_x, test_y, num_samples=num_samples, seed=seed,
      inception=inception_features(inception_weights))
