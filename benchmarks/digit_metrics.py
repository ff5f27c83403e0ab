#!/usr/bin/env python
"""Which feature space lets precision/recall see a generator that drops styles, and KID at 359 samples.

  python benchmarks/digit_metrics.py --output=benchmarks/results/digit_metrics.json

No GAN is trained. On the embedded 8×8 digits, "generators" are sets of real training
digits (never the reference set's) with a style removed, asked for the labels of the
359 held-out digits as tools/evaluate.py asks a conditional generator:

* ``all styles``: random pool digits of each class (a perfect generator; real vs real);
* ``thin half`` / ``thick half``: only digits with less / more ink than their class's
  median;
* ``one slant``: only digits leaning one way (below their class's median slant);
* ``thin, one slant``: both (a quarter of each class);
* ``3 per class``: three digits per class, each drawn with faint pixel noise (σ = 0.1
  on [−1, 1]): one-style-per-class mode dropping.

Each set is measured as :func:`tf_gans.metrics.conditional_report` does (k = 3, reference
= training digits with the held-out class counts) in several feature spaces: the
evaluation classifier's features, raw pixels, the real training digits' principal
components (several shares of variance) and a small autoencoder's code. Draw seeds
vary the reference set and the pool draws; mean and standard deviation are reported.

KID, in the classifier's space and in the principal components at 95 %: each set against
the held-out digits (the held-out digits against the reference: the report's
real-vs-real value), pooled over classes and class by class (the mean of the class-wise
estimates).
"""

from __future__ import annotations

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags, logging  # noqa: E402
import numpy as np  # noqa: E402
from _machine import cpu_name  # noqa: E402

flags.DEFINE_list("draw_seeds", ["0", "1", "2", "3", "4"], "Seeds of the reference and pool draws.")
flags.DEFINE_list("variances", ["0.8", "0.9", "0.95"], "PCA variance shares to compare.")
flags.DEFINE_integer("autoencoder_code", 16, "Autoencoder bottleneck size (0: skip it).")
flags.DEFINE_string("output", "", "JSON file for the results.")
FLAGS = flags.FLAGS

PAIR_RADIUS = 3  # k of the k-NN balls
KID_STYLE_SPACE = "pca0.95"


def ink(images):
  return ((images + 1) / 2).reshape(len(images), -1).mean(axis=1)


def slant(images):
  """Column shift per row of the ink's centre of mass (second moments): > 0 leans right."""
  w = (images[..., 0] + 1) / 2
  h, v = np.meshgrid(np.arange(w.shape[1]), np.arange(w.shape[2]), indexing="ij")
  total = w.sum(axis=(1, 2)) + 1e-9
  r_mean = (w * h).sum(axis=(1, 2)) / total
  c_mean = (w * v).sum(axis=(1, 2)) / total
  cov = (w * (h - r_mean[:, None, None]) * (v - c_mean[:, None, None])).sum(axis=(1, 2)) / total
  var = (w * (h - r_mean[:, None, None]) ** 2).sum(axis=(1, 2)) / total
  return -cov / (var + 1e-9)


def class_filter(images, labels, score, below):
  keep = np.zeros(len(labels), bool)
  for c in np.unique(labels):
    idx = labels == c
    median = np.median(score[idx])
    keep[idx] = (score[idx] <= median) if below else (score[idx] > median)
  return keep


def draw(pool_labels, allowed, wanted, rng):
  """Pool indices with the class counts of `wanted`, from allowed pool digits."""
  picked = np.empty(len(wanted), int)
  for c in np.unique(wanted):
    slots = np.flatnonzero(wanted == c)
    candidates = np.flatnonzero(allowed & (pool_labels == c))
    picked[slots] = rng.choice(candidates, len(slots), replace=len(candidates) < len(slots))
  return picked


def autoencoder_features(train_x, code, seed):
  import keras
  keras.utils.set_random_seed(seed)
  flat = train_x.reshape(len(train_x), -1)
  inputs = keras.Input((flat.shape[1],))
  h = keras.layers.Dense(128, activation="relu")(inputs)
  z = keras.layers.Dense(code, name="code")(h)
  h = keras.layers.Dense(128, activation="relu")(z)
  out = keras.layers.Dense(flat.shape[1], activation="tanh")(h)
  model = keras.Model(inputs, out)
  model.compile(keras.optimizers.Adam(1e-3), "mse")
  model.fit(flat, flat, batch_size=64, epochs=200, verbose=0)
  encoder = keras.Model(inputs, z)
  mse = float(model.evaluate(flat, flat, verbose=0))
  return (lambda x: np.asarray(encoder(x.reshape(len(x), -1).astype(np.float32)))), mse


def main(argv):
  del argv
  from tf_gans.data.images import digits_arrays
  from tf_gans.metrics.kid import class_kid, kid
  from tf_gans.metrics.classifier import train_classifier
  from tf_gans.metrics.conditional import _stratified_reference
  from tf_gans.metrics.precision_recall import improved_precision_recall
  from tf_gans.metrics.style import PixelPCA

  train_x, train_y = digits_arrays("train")
  test_x, test_y = digits_arrays("test")
  start = time.perf_counter()
  classifier = train_classifier(train_x, train_y, 10, seed=0)
  spaces = {"classifier": classifier.features,
            "pixels": lambda x: x.reshape(len(x), -1)}
  pca_sizes = {}
  for v in FLAGS.variances:
    pca = PixelPCA(train_x, variance=float(v))
    spaces[f"pca{v}"] = pca.features
    pca_sizes[f"pca{v}"] = pca.num_components
  ae_mse = None
  if FLAGS.autoencoder_code:
    spaces[f"autoencoder{FLAGS.autoencoder_code}"], ae_mse = autoencoder_features(
        train_x, FLAGS.autoencoder_code, 0)
  logging.info("feature spaces ready in %.0f s: %s", time.perf_counter() - start, pca_sizes)

  thin = class_filter(train_x, train_y, ink(train_x), below=True)
  thick = ~thin
  lean = class_filter(train_x, train_y, slant(train_x), below=True)
  sets = ["all styles", "thin half", "thick half", "one slant", "thin, one slant", "3 per class"]
  results = {space: {name: {"precision": [], "recall": []} for name in ["held-out"] + sets}
             for space in spaces}
  kid_rows = {space: {name: {"pooled": [], "class-wise": []} for name in ["held-out"] + sets}
              for space in ("classifier", KID_STYLE_SPACE)}
  for draw_seed in [int(s) for s in FLAGS.draw_seeds]:
    rng = np.random.default_rng(draw_seed)
    reference = _stratified_reference(train_y, test_y, rng)
    pool = np.setdiff1d(np.arange(len(train_y)), reference)
    pool_x, pool_y = train_x[pool], train_y[pool]
    masks = {"all styles": np.ones(len(pool), bool), "thin half": thin[pool],
             "thick half": thick[pool], "one slant": lean[pool],
             "thin, one slant": thin[pool] & lean[pool]}
    images = {"held-out": test_x}
    for name, mask in masks.items():
      images[name] = pool_x[draw(pool_y, mask, test_y, rng)]
    few = np.zeros(len(pool), bool)
    for c in range(10):
      few[rng.choice(np.flatnonzero(pool_y == c), 3, replace=False)] = True
    noisy = pool_x[draw(pool_y, few, test_y, rng)]
    images["3 per class"] = np.clip(noisy + rng.normal(0, 0.1, noisy.shape), -1, 1).astype(
        np.float32)
    for space, featurize in spaces.items():
      ref_f = featurize(train_x[reference])
      feats = {name: featurize(x) for name, x in images.items()}
      for name, f in feats.items():
        pr = improved_precision_recall(ref_f, f, PAIR_RADIUS)
        for key in ("precision", "recall"):
          results[space][name][key].append(pr[key])
      if space not in kid_rows:
        continue
      # KID of every set against the held-out digits (the held-out digits against the
      # reference: the report's real-vs-real), pooled over classes and class by class.
      for name, f in feats.items():
        other, other_y = ((ref_f, train_y[reference]) if name == "held-out" else (f, test_y))
        kid_rows[space][name]["pooled"].append(kid(other, feats["held-out"]))
        kid_rows[space][name]["class-wise"].append(
            class_kid(other, other_y, feats["held-out"], test_y))

  summary = {}
  print("\n| feature space | set | precision | recall | recall below all-styles (in std) |")
  print("|---|---|---|---|---|")
  for space in spaces:
    summary[space] = {}
    base = np.array(results[space]["all styles"]["recall"])
    for name in ["held-out"] + sets:
      p, r = np.array(results[space][name]["precision"]), np.array(results[space][name]["recall"])
      gap = base.mean() - r.mean()
      spread = np.sqrt((base.std() ** 2 + r.std() ** 2) / 2) + 1e-9
      summary[space][name] = {"precision_mean": p.mean(), "precision_std": p.std(),
                              "recall_mean": r.mean(), "recall_std": r.std(),
                              "recall_drop": gap, "recall_drop_in_std": gap / spread}
      print(f"| {space} | {name} | {p.mean():.3f} ± {p.std():.3f} | {r.mean():.3f} ± "
            f"{r.std():.3f} | {gap:+.3f} ({gap / spread:.1f}) |")
  print("\n| KID feature space | set | pooled over classes | class-wise (mean of classes) |")
  print("|---|---|---|---|")
  for space, by_set in kid_rows.items():
    for name, values in by_set.items():
      pooled, classwise = np.array(values["pooled"]), np.array(values["class-wise"])
      print(f"| {space} | {name} | {pooled.mean():.4f} ± {pooled.std():.4f} | "
            f"{classwise.mean():.4f} ± {classwise.std():.4f} |")
  if FLAGS.output:
    os.makedirs(os.path.dirname(FLAGS.output) or ".", exist_ok=True)
    with open(FLAGS.output, "w", encoding="utf-8") as f:
      json.dump({"cpu": cpu_name(), "draw_seeds": FLAGS.draw_seeds, "pca_components": pca_sizes,
                 "autoencoder_train_mse": ae_mse, "precision_recall": summary,
                 "raw": results, "kid": kid_rows}, f, indent=2, default=float)


if __name__ == "__main__":
  app.run(main)
