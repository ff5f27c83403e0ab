#!/usr/bin/env python
"""CycleGAN's generator update: part after part against one tape over the whole loss.

The translation models give their generator update in parts (A→B, A→B's identity term,
B→A, B→A's identity term) which the step differentiates one after the other and whose
gradients it adds (``UpdateGroup.parts``). This compares, on the same model in one
process, three ways of computing the same update (tests/test_cyclegan.py checks that
they are the same): those four parts; two parts, one per direction with its identity
term; and one tape over the whole loss, a graph in which all branches may run at once.
It times the train steps in alternating order for --rounds rounds after a warm-up call
of each and reports the median step time. With --live_memory it runs on TensorFlow's
BFC allocator instead, which reports the peak tensor memory of each call (timings then
belong to that allocator).

  python benchmarks/update_order.py --image_size=256 --rounds=4 --output=benchmarks/results/update_order_256.json
  python benchmarks/update_order.py --image_size=256 --rounds=1 --live_memory --output=benchmarks/results/update_order_256_memory.json
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
flags.DEFINE_bool("live_memory", False, "Report each step's peak tensor memory (BFC allocator).")
flags.DEFINE_string("output", "", "Write the result as JSON here.")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  if FLAGS.live_memory:  # read when TensorFlow creates its CPU allocator
    os.environ["TF_CPU_ALLOCATOR_USE_BFC"] = "true"
  import numpy as np
  import tensorflow as tf
  from tf_gans import data, training
  from tf_gans.models.base import sum_metrics
  from tf_gans.models.cyclegan import CycleGANConfig

  size = FLAGS.image_size
  config = CycleGANConfig(model_dir="unused", image_size=size, batch_size=1,
                          train_steps=10 ** 6).resolve()
  gan, source = training.build(config, tf.distribute.get_strategy(),
                               source=synthetic_source("pairs", size, n=16))
  batch = next(iter(data.make_dataset(source, global_batch=1, seed=0,
                                      chunks=gan.real_batches_per_step)))
  groups = type(gan).update_groups

  def direction_with_identity(direction):
    def loss(batch, repeat):
      main, main_metrics = gan._direction_loss(batch, repeat, direction)
      identity, identity_metrics = gan._independent_loss(batch, repeat, direction)
      return main + identity, sum_metrics(main_metrics, identity_metrics)
    return loss

  variants = {
      "four parts (the model's own)": None,
      "two parts (a direction with its identity term)":
          tuple(direction_with_identity(d) for d in ("a_to_b", "b_to_a")),
      "whole loss at once": (),
  }
  steps = {}
  for name, parts in variants.items():
    if parts is not None:
      gan.update_groups = lambda parts=parts: [
          dataclasses.replace(g, parts=parts) if g.name == "generator" else g for g in groups(gan)]
    steps[name] = tf.function(gan.train_step)
    steps[name].get_concrete_function(batch)  # traced with these update groups

  def call(step):
    step(batch)
    gan.train_counter.numpy()

  peak_mib = {}
  for name, step in steps.items():
    call(step)  # warm-up
    if FLAGS.live_memory:
      before = tf.config.experimental.get_memory_info("CPU:0")["current"]
      tf.config.experimental.reset_memory_stats("CPU:0")
      call(step)
      peak_mib[name] = (tf.config.experimental.get_memory_info("CPU:0")["peak"] - before) / 2 ** 20
  times = {name: [] for name in steps}
  for r in range(FLAGS.rounds):
    order = list(steps.items()) if r % 2 == 0 else list(reversed(steps.items()))
    for name, step in order:
      t = time.perf_counter()
      call(step)
      times[name].append(time.perf_counter() - t)
  result = {"command": " ".join(sys.argv), "image_size": size,
            "step_seconds": {name: float(np.median(v)) for name, v in times.items()},
            "all_seconds": times, "allocator": "bfc" if FLAGS.live_memory else "default",
            "step_peak_tensor_mib": peak_mib,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
  for name, seconds in result["step_seconds"].items():
    memory = f", {peak_mib[name]:.0f} MiB peak tensor memory" if name in peak_mib else ""
    print(f"{name}: {seconds:.2f} s per step (median of {FLAGS.rounds}){memory}")
  if FLAGS.output:
    with open(FLAGS.output, "w", encoding="utf-8") as f:
      json.dump(result, f, indent=2)


if __name__ == "__main__":
  app.run(main)
