"""Signatures of a generator of z (the WGAN): noise or a seed in, samples out."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import tensorflow as tf

from tf_gans.export import module as serving
from tf_gans.export.module import DEFAULT_SIGNATURE, ServingModule
from tf_gans.export.registry import register_exporter
from tf_gans.export.requests import Checks, RequestLimits


def export_unconditional(gan: Any, config: Mapping[str, Any],
                         limits: RequestLimits | None = None) -> ServingModule:
  """Signatures of a generator of z (the WGAN).

  * ``serving_default``: ``z`` float32 [N, latent_dim] -> ``images`` float32
    [N, H, W, C] in [-1, 1] and ``images_uint8`` uint8, or ``samples`` float32 [N, D]
    for a generator of points (2-D toy data);
  * ``sample``: ``num_samples`` int32 [] and ``seed`` int64 [] -> the same outputs for
    noise drawn on the server (:func:`serving_noise`), so a client needs no noise.

  N is at most ``limits.max_batch``; z must be finite (:mod:`tf_gans.export.requests`).
  """
  del config
  latent = int(gan.latent_dim)
  generator = gan.generator
  probe = generator(tf.zeros([1, latent]), training=False)
  sample_shape = [int(d) for d in probe.shape[1:]]
  if probe.shape.rank == 4:
    outputs, kind = serving.image_outputs, "images"
    limits = (limits or RequestLimits()).for_model(sample_shape[0] * sample_shape[1])
  elif probe.shape.rank == 2:
    outputs, kind = (lambda x: {"samples": tf.cast(x, tf.float32)}), "points"
    limits = (limits or RequestLimits()).for_model(1)
  else:
    raise ValueError(f"the generator returns shape {tuple(probe.shape)}; expected images "
                     "[N, H, W, C] or points [N, D]")
  module = ServingModule({"generator": generator},
                         info={"latent_dim": latent, "output": kind, "sample_shape": sample_shape,
                               "request_limits": limits.to_json()},
                         keras_inputs={"generator": [tf.TensorSpec([None, latent], tf.float32)]})

  def empty():
    return outputs(tf.zeros([0, *sample_shape]))

  def from_z(z):
    checks = Checks()
    rows = checks.input("z", z, [None, latent], f"noise vectors of size {latent}",
                        max_batch=limits.max_batch, finite=True)
    return checks.run(rows, lambda: outputs(generator(z, training=False)), empty)

  def sample(num_samples, seed):
    checks = Checks()
    num_samples = checks.scalar("num_samples", num_samples)
    seed = checks.scalar("seed", seed)
    checks.count("num_samples", num_samples, limits.max_batch)
    return checks.run(tf.cast(num_samples, tf.int64), lambda: outputs(generator(
        serving.serving_noise(num_samples, latent, seed), training=False)), empty)

  module.add_signature("sample", sample, {"num_samples": tf.TensorSpec([], tf.int32),
                                          "seed": tf.TensorSpec([], tf.int64)},
                       warmup={"num_samples": 1, "seed": 0})
  module.add_signature(DEFAULT_SIGNATURE, from_z,
                       {"z": tf.TensorSpec([None, latent], tf.float32)},
                       warmup={"z": np.zeros((1, latent), np.float32)})
  return module


register_exporter("wgan", export_unconditional)
