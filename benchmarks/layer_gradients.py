#!/usr/bin/env python
"""The ResNet generator's layers with tf_gans's gradients against Keras's, one by one.

tf_gans.layers.ValidConv2D computes a convolution's gradients as forward convolutions;
InstanceNormalization differentiates instance norm by hand. This times a forward and
backward pass of each layer at the shapes of CycleGAN's 256 px ResNet-9 generator
(median of --repeats calls after a warm-up, the two versions in alternating order) and
records the peak memory of the backward pass: the largest amount of tensor memory
TensorFlow's allocator held during the call, beyond what was held before it.

  python benchmarks/layer_gradients.py --output=benchmarks/results/layer_gradients.json
"""

from __future__ import annotations

import json
import os
import sys
import time

# The BFC allocator reports peak tensor memory on the CPU (the default one does not).
os.environ["TF_CPU_ALLOCATOR_USE_BFC"] = "true"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

flags.DEFINE_integer("repeats", 7, "Timed calls of each version.")
flags.DEFINE_string("output", "", "Write the results as JSON here.")
FLAGS = flags.FLAGS

# name, input shape (batch 1), the Keras layer, the tf_gans layer (as builders).
def cases():
  import keras
  from tf_gans.layers import InstanceNormalization, ValidConv2D
  group_norm = lambda: keras.layers.GroupNormalization(groups=-1, center=False, scale=False,
                                                       epsilon=1e-5)
  return [
      ("c7s1-64: 7x7 conv 3->64 at 262 px", (262, 262, 3),
       lambda: keras.layers.Conv2D(64, 7), lambda: ValidConv2D(64, 7)),  # stays Conv2D
      ("residual: 3x3 conv 256->256 at 66 px", (66, 66, 256),
       lambda: keras.layers.Conv2D(256, 3), lambda: ValidConv2D(256, 3)),
      ("c7s1-3: 7x7 conv 64->3 at 262 px", (262, 262, 64),
       lambda: keras.layers.Conv2D(3, 7), lambda: ValidConv2D(3, 7)),
      ("instance norm + ReLU, 64 channels at 256 px", (256, 256, 64),
       lambda: keras.Sequential([group_norm(), keras.layers.ReLU()]),
       lambda: InstanceNormalization(relu=True)),
      ("instance norm, 256 channels at 64 px", (64, 64, 256),
       group_norm, InstanceNormalization),
  ]


def main(argv):
  del argv
  import numpy as np
  import tensorflow as tf

  def prepare(build, shape):
    layer = build()
    x = tf.random.stateless_normal((1, *shape), [1, 2])
    weights = tf.random.stateless_normal(layer(x).shape, [3, 4])

    @tf.function
    def step(x):
      with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(layer(x) * weights)
      return tape.gradient(loss, [x, *layer.trainable_variables])

    return layer, x, step

  rows = []
  for name, shape, keras_layer, ours in cases():
    versions = {"keras": prepare(keras_layer, shape), "tf_gans": prepare(ours, shape)}
    if versions["keras"][0].weights:
      versions["tf_gans"][0].set_weights(versions["keras"][0].get_weights())
    peak, grads = {}, {}
    for version, (_, x, step) in versions.items():
      step(x)  # trace and warm up
      before = tf.config.experimental.get_memory_info("CPU:0")["current"]
      tf.config.experimental.reset_memory_stats("CPU:0")
      grads[version] = [g.numpy() for g in step(x)]
      peak[version] = (tf.config.experimental.get_memory_info("CPU:0")["peak"] - before) / 2 ** 20
    times = {version: [] for version in versions}
    for r in range(FLAGS.repeats):
      for version in (list(versions) if r % 2 == 0 else list(reversed(versions))):
        _, x, step = versions[version]
        t = time.perf_counter()
        step(x)[0].numpy()
        times[version].append(time.perf_counter() - t)
    error = max(float(np.abs(a - b).max() / (np.abs(a).max() or 1))
                for a, b in zip(grads["keras"], grads["tf_gans"]))
    row = {"layer": name, "input": [1, *shape],
           "ms": {v: 1e3 * float(np.median(t)) for v, t in times.items()},
           "backward_peak_mib": peak, "max_relative_gradient_difference": error}
    rows.append(row)
    print(f"{name}: keras {row['ms']['keras']:.0f} ms, {peak['keras']:.0f} MiB | "
          f"tf_gans {row['ms']['tf_gans']:.0f} ms, {peak['tf_gans']:.0f} MiB | "
          f"gradients differ by {error:.1e} (relative)", flush=True)
  if FLAGS.output:
    with open(FLAGS.output, "w", encoding="utf-8") as f:
      json.dump({"command": " ".join(sys.argv), "repeats": FLAGS.repeats, "rows": rows}, f,
                indent=2)


if __name__ == "__main__":
  app.run(main)
