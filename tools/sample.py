#!/usr/bin/env python
"""Writes a picture of samples from a trained model_dir's latest (or given) checkpoint.

  python tools/sample.py --model_dir=runs/wgan_toy --output=samples.png

2-D data: generated points over the real density. Images: a grid. Models may draw
their own picture (a row per class for the conditional GAN, x / G(x) / F(G(x)) rows for
translation models).
"""

from __future__ import annotations

import os

import _common  # noqa: F401
from _common import (FLAGS, SEED_RANGE, UserError, define_checked, define_path, int_labels,
                     labels_problem, run_main, writable_target)

define_path("model_dir", None, "A model_dir written by tools/train.py.")
define_path("checkpoint", None, "A checkpoint path (default: the newest readable one).")
define_path("output", None, "PNG to write (default MODEL_DIR/samples.png).")
define_checked("integer", "num", 64, "How many samples (images) or columns (per-class grids).",
               ge=1, le=4096)
define_checked("integer", "seed", 0, "Seed of the noise.", **SEED_RANGE)
define_checked("list", "labels", None, "Conditional models: only these class labels, e.g. 3,7.",
               check=labels_problem)


def main(argv):
  if len(argv) > 1:
    raise UserError(f"unexpected arguments {' '.join(argv[1:])!r}")
  if not FLAGS.model_dir:
    raise UserError("--model_dir is required")
  output = FLAGS.output or os.path.join(FLAGS.model_dir, "samples.png")
  if not output.lower().endswith(".png"):
    raise UserError(f"--output {output!r}: samples are written as a .png file")
  writable_target(output, "output", folder=False)
  from tf_gans import training, visualize
  gan, config, source = training.load(FLAGS.model_dir, FLAGS.checkpoint)
  kwargs = {}
  if FLAGS.labels is not None:
    if not hasattr(gan, "preview") or not hasattr(gan, "num_classes"):
      raise UserError(f"--labels applies to conditional models, not {config.model!r}")
    kwargs["labels"] = int_labels(FLAGS.labels)
  if kwargs:
    picture = gan.preview(source, num=FLAGS.num, seed=FLAGS.seed, **kwargs)
  else:
    picture = visualize.preview(gan, source, num=FLAGS.num, seed=FLAGS.seed,
                                title=f"{config.model} step {int(gan.train_counter.numpy())}")
  visualize.save_png(picture, output)
  print(f"wrote {output} ({picture.shape[1]}x{picture.shape[0]})")


if __name__ == "__main__":
  run_main(main)
