"""Signatures of a class-conditional generator (the conditional GAN)."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import tensorflow as tf

from tf_gans.export import module as serving
from tf_gans.export.module import DEFAULT_SIGNATURE, ServingModule
from tf_gans.export.registry import register_exporter
from tf_gans.export.requests import Checks, RequestLimits


def export_conditional(gan: Any, config: Mapping[str, Any],
                       limits: RequestLimits | None = None) -> ServingModule:
  """Signatures of a class-conditional generator (the conditional GAN).

  * ``serving_default``: ``z`` float32 [N, latent_dim] and ``label`` int32 [N] ->
    ``images`` float32 [N, H, W, C] in [-1, 1] and ``images_uint8``;
  * ``sample``: ``label`` int32 [N] and ``seed`` int64 [] -> one image per label, noise
    drawn on the server.

  Labels outside [0, num_classes) are refused, as are N above ``limits.max_batch``, a z
  with another number of rows than labels, and non-finite z
  (:mod:`tf_gans.export.requests`).
  """
  del config
  latent, num_classes = int(gan.latent_dim), int(gan.num_classes)
  generator = gan.generator
  probe = generator(tf.zeros([1, latent]), tf.zeros([1], tf.int32), training=False)
  if probe.shape.rank != 4:
    raise ValueError(f"the conditional generator returns shape {tuple(probe.shape)}; "
                     "expected images [N, H, W, C]")
  sample_shape = [int(d) for d in probe.shape[1:]]
  limits = (limits or RequestLimits()).for_model(sample_shape[0] * sample_shape[1])
  module = ServingModule({"generator": generator},
                         info={"latent_dim": latent, "num_classes": num_classes,
                               "output": "images", "sample_shape": sample_shape,
                               "request_limits": limits.to_json()},
                         keras_inputs={"generator": [tf.TensorSpec([None, latent], tf.float32),
                                                     tf.TensorSpec([None], tf.int32)]})

  def checked_labels(checks, label):
    rows = checks.input("label", label, [None], f"class labels in [0, {num_classes})",
                        max_batch=limits.max_batch)
    checks.labels("label", label, num_classes)
    return rows

  def images(z, label):
    return serving.image_outputs(generator(z, label, training=False))

  def empty():
    return serving.image_outputs(tf.zeros([0, *sample_shape]))

  def from_z(z, label):
    checks = Checks()
    rows = checked_labels(checks, label)
    z_rows = checks.input("z", z, [None, latent], f"noise vectors of size {latent}",
                          max_batch=limits.max_batch, finite=True)
    checks.same_rows("z", z_rows, "label", rows)
    return checks.run(rows, lambda: images(z, label), empty)

  def sample(label, seed):
    checks = Checks()
    rows = checked_labels(checks, label)
    seed = checks.scalar("seed", seed)
    return checks.run(rows, lambda: images(
        serving.serving_noise(tf.shape(label)[0], latent, seed), label), empty)

  module.add_signature("sample", sample, {"label": tf.TensorSpec([None], tf.int32),
                                          "seed": tf.TensorSpec([], tf.int64)},
                       warmup={"label": [0], "seed": 0})
  module.add_signature(DEFAULT_SIGNATURE, from_z,
                       {"z": tf.TensorSpec([None, latent], tf.float32),
                        "label": tf.TensorSpec([None], tf.int32)},
                       warmup={"z": np.zeros((1, latent), np.float32), "label": [0]})
  return module


register_exporter("cgan", export_conditional)
