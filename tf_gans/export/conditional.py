"""Signatures of a class-conditional generator (the conditional GAN)."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import tensorflow as tf

from tf_gans.export import module as serving
from tf_gans.export.module import DEFAULT_SIGNATURE, ServingModule
from tf_gans.export.registry import register_exporter


def export_conditional(gan: Any, config: Mapping[str, Any]) -> ServingModule:
  """Signatures of a class-conditional generator (the conditional GAN).

  * ``serving_default``: ``z`` float32 [N, latent_dim] and ``label`` int32 [N] ->
    ``images`` float32 [N, H, W, C] in [-1, 1] and ``images_uint8``;
  * ``sample``: ``label`` int32 [N] and ``seed`` int64 [] -> one image per label, noise
    drawn on the server.

  Labels outside [0, num_classes) are refused with an error.
  """
  del config
  latent, num_classes = int(gan.latent_dim), int(gan.num_classes)
  generator = gan.generator
  probe = generator(tf.zeros([1, latent]), tf.zeros([1], tf.int32), training=False)
  if probe.shape.rank != 4:
    raise ValueError(f"the conditional generator returns shape {tuple(probe.shape)}; "
                     "expected images [N, H, W, C]")
  module = ServingModule({"generator": generator},
                         info={"latent_dim": latent, "num_classes": num_classes,
                               "output": "images",
                               "sample_shape": [int(d) for d in probe.shape[1:]]},
                         keras_inputs={"generator": [tf.TensorSpec([None, latent], tf.float32),
                                                     tf.TensorSpec([None], tf.int32)]})

  def from_z(z, label):
    label = serving.check_labels(label, num_classes)
    return serving.image_outputs(generator(z, label, training=False))

  def sample(label, seed):
    return from_z(serving.serving_noise(tf.shape(label)[0], latent, seed), label)

  module.add_signature("sample", sample, {"label": tf.TensorSpec([None], tf.int32),
                                          "seed": tf.TensorSpec([], tf.int64)},
                       warmup={"label": [0], "seed": 0})
  module.add_signature(DEFAULT_SIGNATURE, from_z,
                       {"z": tf.TensorSpec([None, latent], tf.float32),
                        "label": tf.TensorSpec([None], tf.int32)},
                       warmup={"z": np.zeros((1, latent), np.float32), "label": [0]})
  return module


register_exporter("cgan", export_conditional)
