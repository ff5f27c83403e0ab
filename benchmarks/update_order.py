#!/usr/bin/env python
"""CycleGAN's generator update: one direction after the other against both at once.

The translation models give their generator update as two parts, A→B and B→A, which
the step differentiates one after the other and whose gradients it adds
(``UpdateGroup.parts``); the alternative is one tape over the whole loss, a graph in
which both directions' independent branches run at the same time. Both compute the same
update (tests/test_cyclegan.py checks it). This times the two train steps on the same
model in one process, in alternating order for --rounds rounds after a warm-up call of
each, and reports the median step time and the peak RSS of the process.

  python benchmarks/update_order.py --image_size=256 --rounds=4 --output=benchmarks/results/update_order_256.json
"""

from __future__ import annotations

import dataclasses
import json
import os
import resource
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from absl import app, flags  # noqa: E402

from _synthetic import synthetic_source  # noqa: E402

flags.DEFINE_integer("image_size", 256, "Image size (ResNet-9 generator above 128 px).")
flags.DEFINE_integer("rounds", 4, "Timed calls of each step.")
flags.DEFINE_string("output", "", "Write the result as JSON here.")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  import numpy as np
  import tensorflow as tf
  from tf_gans import data, training
  from tf_gans.models.cyclegan import CycleGANConfig

  size = FLAGS.image_size
  config = CycleGANConfig(model_dir="unused", image_size=size, batch_size=1,
                          train_steps=10 ** 6).resolve()
  gan, source = training.build(config, tf.distribute.get_strategy(),
                               source=synthetic_source("pairs", size, n=16))
  batch = next(iter(data.make_dataset(source, global_batch=1, seed=0,
                                      chunks=gan.real_batches_per_step)))
  by_direction = tf.function(gan.train_step)
  by_direction.get_concrete_function(batch)  # traced with the model's own update groups
  groups = type(gan).update_groups
  gan.update_groups = lambda: [dataclasses.replace(g, parts=()) for g in groups(gan)]
  whole = tf.function(gan.train_step)
  whole.get_concrete_function(batch)
  steps = {"one direction after the other": by_direction, "whole loss at once": whole}

  def call(step):
    step(batch)
    gan.train_counter.numpy()

  for step in steps.values():
    call(step)  # warm-up
  times = {name: [] for name in steps}
  for r in range(FLAGS.rounds):
    order = list(steps.items()) if r % 2 == 0 else list(reversed(steps.items()))
    for name, step in order:
      t = time.perf_counter()
      call(step)
      times[name].append(time.perf_counter() - t)
  result = {"command": " ".join(sys.argv), "image_size": size,
            "step_seconds": {name: float(np.median(v)) for name, v in times.items()},
            "all_seconds": times,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
  for name, seconds in result["step_seconds"].items():
    print(f"{name}: {seconds:.2f} s per step (median of {FLAGS.rounds})")
  if FLAGS.output:
    with open(FLAGS.output, "w", encoding="utf-8") as f:
      json.dump(result, f, indent=2)


if __name__ == "__main__":
  app.run(main)
