#!/usr/bin/env python
"""Measures a trained model_dir with its model's evaluation and prints the numbers.

  python tools/evaluate.py --model_dir=runs/wgan_toy

WGAN on 2-D mixtures: modes captured and share of high-quality samples as VEEGAN and
PacGAN define them, and the earth-mover distance to real samples. WGAN on images:
precision/recall, KID and FID in a digit classifier's feature space. The conditional GAN:
label accuracy, precision/recall, KID and FID in that space. CycleGAN, DiscoGAN, pix2pix
and CUT: error to the ground-truth map (and, for pix2pix, to the paired target), labels
kept, FID, and for the two-way models the cycle error, also after faint noise and a JPEG
round trip of the translations, with the gain by which the backward generator amplifies
them (a gain well above 1: the reconstruction reads signal a person cannot see, the
cycle loss's steganography). With --inception_weights, FID on
InceptionV3 features too. Each family's
measurement lives in tf_gans.evaluation. A metric measured on real data too (its ceiling) is printed
beside it. --output writes them as JSON too.
"""

from __future__ import annotations


import _common  # noqa: F401
from _common import (FLAGS, SEED_RANGE, UserError, define_checked, define_path, run_main,
                     writable_target)

define_path("model_dir", None, "A model_dir written by tools/train.py.")
define_path("checkpoint", None, "A checkpoint path (default: the newest readable one).")
define_checked("integer", "num_samples", 2500, "Generated samples to measure (2,500 in the "
               "VEEGAN/PacGAN tables).", ge=10, le=1_000_000)
define_checked("integer", "seed", 0, "Seed of the noise.", **SEED_RANGE)
define_path("output", None, "Also write the metrics as JSON here.")
define_path("inception_weights", None, "Keras InceptionV3 weights without the top "
            "(inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5): also report FID on "
            "Inception features, the published tables' space (they cannot be downloaded here).")


def main(argv):
  if len(argv) > 1:
    raise UserError(f"unexpected arguments {' '.join(argv[1:])!r}")
  if not FLAGS.model_dir:
    raise UserError("--model_dir is required")
  if FLAGS.output:
    writable_target(FLAGS.output, "output", folder=False)
  from tf_gans import training
  from tf_gans.models import registry
  gan, config, source = training.load(FLAGS.model_dir, FLAGS.checkpoint)
  spec = registry.get(config.model)
  if spec.evaluate is None:
    raise UserError(f"model {config.model!r} has no evaluation")
  if FLAGS.inception_weights:
    from tf_gans.metrics.frechet import InceptionFeatures
    InceptionFeatures(FLAGS.inception_weights)  # a bad file stops here, before any work
  metrics = spec.evaluate(gan, config, source, num_samples=FLAGS.num_samples, seed=FLAGS.seed,
                          model_dir=FLAGS.model_dir, inception_weights=FLAGS.inception_weights)
  # A metric's real-data ceiling (key + "_real_vs_real") is printed beside it.
  suffix = "_real_vs_real"
  def shown(value):
    return f"{value:.4f}" if isinstance(value, float) else str(value)
  names = [k for k in metrics if not (k.endswith(suffix) and k[:-len(suffix)] in metrics)]
  width = max(len(k) for k in names)
  for name in names:
    line = f"{name:<{width}}  {shown(metrics[name]):>8}"
    if name + suffix in metrics:
      line += f"   real vs real {shown(metrics[name + suffix]):>8}"
    print(line)
  if FLAGS.output:
    from tf_gans.config import write_json
    write_json(FLAGS.output, metrics)


if __name__ == "__main__":
  run_main(main)
