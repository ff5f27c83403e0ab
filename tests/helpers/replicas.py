"""Trains one WGAN step on 1 device and on 2 logical CPU devices; prints the max weight gap.

Run as a script: the CPU must be split before TensorFlow initialises its devices, which
an in-process test cannot do once TensorFlow is imported.
  python tests/helpers/replicas.py clip|gp [steps]
"""

import json
import sys

import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

from tf_gans import data, training  # noqa: E402
from tf_gans.models.wgan import WGANConfig  # noqa: E402


def run(strategy, lipschitz, steps):
  config = WGANConfig(dataset="8gaussians", lipschitz=lipschitz, hidden_units=32,
                      hidden_layers=2, batch_size=16, seed=3, learning_rate=1e-2,
                      model_dir="unused").resolve()
  gan, source = training.build(config, strategy)
  dist = strategy.distribute_datasets_from_function(
      lambda ctx: data.make_dataset(source, global_batch=16, seed=3,
                                    num_replicas=strategy.num_replicas_in_sync,
                                    chunks=gan.real_batches_per_step, input_context=ctx))
  it = iter(dist)
  initial = [v.numpy() for v in gan.trainable_weights]

  @tf.function
  def step():
    strategy.run(gan.train_step, args=(next(it),))

  for _ in range(steps):
    step()
  change = max(float(np.max(np.abs(a - v.numpy())))
               for a, v in zip(initial, gan.trainable_weights))
  return [v.numpy() for v in gan.weights], gan.metric_values(), change


lipschitz = sys.argv[1]
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 1
one, m1, change = run(tf.distribute.OneDeviceStrategy("/cpu:0"), lipschitz, steps)
two, m2, _ = run(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]), lipschitz, steps)
gap = max(float(np.max(np.abs(a - b))) for a, b in zip(one, two))
print(json.dumps({"max_weight_gap": gap, "num_weights": len(one), "metrics_1": m1,
                  "metrics_2": m2, "max_change_from_init": change}))
