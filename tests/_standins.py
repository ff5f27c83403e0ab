"""Tiny GANs for the export tests: the real WGAN, and stand-ins for the other models.

The conditional GAN, CycleGAN and DiscoGAN exporters are written against these
contracts:

* cgan: ``gan.generator(z, labels, training=False)`` with z float32 [N, latent_dim] and
  labels int32 [N] -> images [N, H, W, C] in [-1, 1]; ``gan.latent_dim``, ``gan.num_classes``;
* cyclegan / discogan: ``gan.generator_ab(x, training=False)``, ``gan.generator_ba`` on
  images [N, H, W, C] in [-1, 1]; ``gan.image_shape`` = (H, W, C).

The stand-ins below honour them with a few weights each. To test a real model instead,
add a tiny config for it to REAL_MODEL_CONFIGS: :func:`make_gan` then builds the
registered model with ``tf_gans.training.build`` (and the stand-in is no longer used).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

# model name -> tiny config fields of the real model (any dataset it accepts offline).
REAL_MODEL_CONFIGS: dict[str, dict[str, Any]] = {
    "wgan": dict(dataset="digits", base_channels=4, latent_dim=8, batch_size=8, n_critic=1),
    "cgan": dict(dataset="digits", base_channels=4, latent_dim=8, batch_size=8,
                 embedding_dim=4, feature_units=8),
    "cyclegan": dict(dataset="digits_recolour", image_size=16, generator_filters=4,
                     discriminator_filters=4, num_res_blocks=1, discriminator_layers=1,
                     batch_size=2),
    "discogan": dict(dataset="digits_recolour", image_size=16, generator_filters=4,
                     discriminator_filters=4, batch_size=2),
}


class _ConditionalGenerator(keras.Model):
  """(z, labels) -> dense on [z, one_hot(labels)] -> tanh image."""

  def __init__(self, latent_dim: int, num_classes: int, image_shape: tuple[int, int, int]):
    super().__init__(name="generator")
    self.num_classes, self.image_shape = num_classes, tuple(image_shape)
    self.dense = keras.layers.Dense(int(np.prod(image_shape)))
    self.tanh = keras.layers.Activation("tanh", dtype="float32")
    self(tf.zeros([1, latent_dim]), tf.zeros([1], tf.int32))

  def call(self, z, labels, training=False):
    h = keras.ops.concatenate(
        [keras.ops.cast(z, "float32"), keras.ops.one_hot(labels, self.num_classes)], axis=-1)
    return keras.ops.reshape(self.tanh(self.dense(h)), (-1, *self.image_shape))


class StandInConditionalGAN:
  """Honours the conditional-GAN export contract."""

  def __init__(self, latent_dim: int = 4, num_classes: int = 3,
               image_shape: tuple[int, int, int] = (8, 8, 1)):
    self.latent_dim, self.num_classes = latent_dim, num_classes
    self.generator = _ConditionalGenerator(latent_dim, num_classes, image_shape)


class _Negate(keras.Model):
  """x -> -x through a 1×1 convolution (weights the export must carry)."""

  def __init__(self, channels: int):
    super().__init__(name="generator_ab")
    self.conv = keras.layers.Conv2D(channels, 1, dtype="float32",
                                    kernel_initializer=keras.initializers.Constant(
                                        -np.eye(channels).reshape(1, 1, channels, channels)),
                                    bias_initializer="zeros")

  def call(self, x, training=False):
    return self.conv(keras.ops.cast(x, "float32"))


class _ConvTanh(keras.Model):
  """A 3×3 convolution and tanh: a generator of the right shape, nothing more."""

  def __init__(self, channels: int):
    super().__init__(name="generator_ba")
    self.conv = keras.layers.Conv2D(channels, 3, padding="same")
    self.tanh = keras.layers.Activation("tanh", dtype="float32")

  def call(self, x, training=False):
    return self.tanh(self.conv(x))


class StandInTranslationGAN:
  """Honours the CycleGAN / DiscoGAN export contract; A -> B negates the image."""

  def __init__(self, image_shape: tuple[int, int, int] = (16, 16, 3)):
    self.image_shape = tuple(image_shape)
    channels = image_shape[-1]
    self.generator_ab = _Negate(channels)
    self.generator_ba = _ConvTanh(channels)
    for net in (self.generator_ab, self.generator_ba):
      net(tf.zeros([1, *image_shape]))


def make_gan(model: str, precision: str = "float32", model_dir: str = "",
             **overrides: Any) -> tuple[Any, dict]:
  """A tiny GAN of `model` and its config dict, built under `precision`.

  Args:
    model: The model name.
    precision: The dtype policy it is built under (left set: the caller restores it).
    model_dir: The config's model_dir (real models).
    **overrides: Config fields replacing REAL_MODEL_CONFIGS's (real models).
  """
  keras.mixed_precision.set_dtype_policy(precision)
  keras.utils.set_random_seed(0)
  from tf_gans.models import registry
  if model in REAL_MODEL_CONFIGS and model in registry.names():
    from tf_gans import training
    spec = registry.get(model)
    config = spec.config_cls(model=model, precision=precision, model_dir=model_dir,
                             **{**REAL_MODEL_CONFIGS[model], **overrides}).resolve()
    gan, _ = training.build(config)
    return gan, config.to_dict()
  if model == "cgan":
    return StandInConditionalGAN(), {"model": "cgan", "precision": precision}
  if model in ("cyclegan", "discogan"):
    return StandInTranslationGAN(), {"model": model, "precision": precision}
  raise ValueError(f"no tiny GAN for {model!r}")
