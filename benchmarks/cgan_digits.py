#!/usr/bin/env python
"""Conditional GAN on the embedded 8×8 digits: label accuracy, precision, recall, KID.

  python benchmarks/cgan_digits.py --work_dir=/tmp/cgan_bench

Trains ``configs/cgan.flags`` (with each --conditioning and seed) through the same
``tf_gans.training.train`` that tools/train.py runs, then measures every run as
tools/evaluate.py does, with one classifier shared by all runs: label accuracy and
Kynkäänniemi et al.'s precision and recall (k = 3) in the classifier's feature space,
precision, recall and class-wise KID in the real digits' principal components (the
style-keeping space), beside the same numbers for held-out real digits (the ceiling).
With --reuse, runs already trained in --work_dir are measured again without training. Prints a
markdown table per run and the mean ± standard deviation per conditioning. Results
are recorded in benchmarks/README.md.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402
from absl import app, flags, logging  # noqa: E402

from _flagfiles import make_config  # noqa: E402

flags.DEFINE_string("work_dir", "/tmp/cgan_digits_benchmark", "Where the runs go.")
flags.DEFINE_list("conditionings", ["concat", "projection"], "Conditionings to compare.")
flags.DEFINE_list("seeds", ["0", "1", "2", "3", "4"], "Run seeds.")
flags.DEFINE_string("flagfile_path", os.path.join(ROOT, "configs", "cgan.flags"),
                    "The run settings (a tools/train.py flagfile).")
flags.DEFINE_integer("train_steps", None, "Override the flagfile's --train_steps.")
flags.DEFINE_list("overrides", [], "More settings as name=value, e.g. gan_loss=hinge.")
flags.DEFINE_string("output", None, "Also write all results as JSON here (and after "
                    "every run to OUTPUT.partial).")
flags.DEFINE_bool("reuse", False, "Measure runs already trained in --work_dir without "
                  "training them again.")
FLAGS = flags.FLAGS

COLUMNS = ("label_accuracy", "precision", "recall", "style_precision", "style_recall", "kid")


def main(argv):
  del argv
  from tf_gans import metrics, training
  from tf_gans.evaluation import evaluation_splits
  from tf_gans.models.cgan import CGANConfig

  raw = dict(item.split("=", 1) for item in FLAGS.overrides)
  steps = {"train_steps": FLAGS.train_steps} if FLAGS.train_steps else {}
  settings = make_config(CGANConfig, FLAGS.flagfile_path, raw, model_dir="unused", **steps)
  quiet = dict(log_every=settings.train_steps, image_every=0,
               checkpoint_every=settings.train_steps, **steps)
  results = []
  classifier = None
  for conditioning in FLAGS.conditionings:
    for seed in (int(s) for s in FLAGS.seeds):
      model_dir = os.path.join(FLAGS.work_dir, f"{conditioning}_seed{seed}")
      config = make_config(CGANConfig, FLAGS.flagfile_path, raw, conditioning=conditioning,
                           seed=seed, model_dir=model_dir, **quiet)
      if not FLAGS.reuse:
        shutil.rmtree(model_dir, ignore_errors=True)
      trained_before = os.path.isdir(os.path.join(model_dir, "checkpoints"))
      start = time.perf_counter()
      training.train(config)  # resumes a run of model_dir (--reuse): nothing left to train
      seconds = None if trained_before else time.perf_counter() - start
      gan, config, source = training.load(model_dir)
      (train_x, train_y), (test_x, test_y) = evaluation_splits(config, source)
      if classifier is None:  # one classifier for every run: the same yardstick
        classifier = metrics.load_or_train_classifier(
            train_x, train_y, gan.num_classes, cache_dir=os.path.join(FLAGS.work_dir,
                                                                      "classifier"))
      report = metrics.conditional_report(
          lambda labels: gan.generate(len(labels), seed=0, labels=labels).numpy(),
          classifier, train_x, train_y, test_x, test_y, seed=0)
      report.update(conditioning=conditioning, seed=seed, train_seconds=seconds,
                    train_steps=config.train_steps)
      results.append(report)
      logging.info("%s seed %d: %s", conditioning, seed,
                   {k: round(report[k], 4) for k in COLUMNS})
      if FLAGS.output:
        with open(FLAGS.output + ".partial", "w", encoding="utf-8") as f:
          json.dump(results, f, indent=2)
  print(table(results))
  if FLAGS.output:
    with open(FLAGS.output, "w", encoding="utf-8") as f:
      json.dump({"settings": settings.to_dict(), "results": results}, f, indent=2)


def seconds_cell(seconds: float | None) -> str:
  return "–" if seconds is None else f"{seconds:.0f}"


def table(results: list[dict]) -> str:
  """Markdown: one row per run, the mean ± std per conditioning, the real-data ceiling."""
  head = ("| conditioning | seed | label accuracy | precision | recall | style precision | "
          "style recall | class-wise KID (style) | train time (s) |\n"
          "|---|---|---|---|---|---|---|---|---|")
  rows = [head]
  for r in results:
    rows.append(f"| {r['conditioning']} | {r['seed']} | " + " | ".join(
        f"{r[c]:.3f}" for c in COLUMNS) + f" | {seconds_cell(r['train_seconds'])} |")
  for conditioning in dict.fromkeys(r["conditioning"] for r in results):
    group = [r for r in results if r["conditioning"] == conditioning]
    cells = [f"{np.mean([r[c] for r in group]):.3f} ± {np.std([r[c] for r in group]):.3f}"
             for c in COLUMNS]
    timed = [r["train_seconds"] for r in group if r["train_seconds"] is not None]
    rows.append(f"| **{conditioning}** | mean ± std | " + " | ".join(cells) +
                f" | {seconds_cell(np.mean(timed) if timed else None)} |")
  ceiling = results[0]
  rows.append("| held-out real digits (ceiling) | | " + " | ".join(
      f"{ceiling[c + '_real_vs_real']:.3f}" for c in COLUMNS) + " | |")
  return "\n".join(rows)


if __name__ == "__main__":
  app.run(main)
