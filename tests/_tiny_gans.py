"""Tiny real GANs of every registered model, for the export and serving tests."""

from __future__ import annotations

from typing import Any

import keras

# model name -> config fields of a tiny model on data it has offline.
TINY_CONFIGS: dict[str, dict[str, Any]] = {
    "wgan": dict(dataset="digits", base_channels=4, latent_dim=8, batch_size=8, n_critic=1),
    "cgan": dict(dataset="digits", base_channels=4, latent_dim=8, batch_size=8,
                 embedding_dim=4, feature_units=8),
    "cyclegan": dict(dataset="digits_recolour", image_size=16, generator_filters=4,
                     discriminator_filters=4, num_res_blocks=1, discriminator_layers=1,
                     batch_size=2),
    "discogan": dict(dataset="digits_recolour", image_size=16, generator_filters=4,
                     discriminator_filters=4, batch_size=2),
    "pix2pix": dict(dataset="digits_thicken_paired", image_size=32, generator_filters=4,
                    discriminator_filters=4, discriminator_layers=1, batch_size=2),
    "cut": dict(dataset="digits_thicken", image_size=16, generator_filters=4,
                discriminator_filters=4, num_res_blocks=1, discriminator_layers=1,
                batch_size=2, num_patches=8, projection_units=8),
}


def make_gan(model: str, precision: str = "float32", model_dir: str = "",
             **overrides: Any) -> tuple[Any, dict]:
  """A tiny, untrained GAN of `model` and its resolved config dict, built under `precision`.

  Args:
    model: The model name.
    precision: The dtype policy it is built under (left set: the caller restores it).
    model_dir: The config's model_dir.
    **overrides: Config fields replacing TINY_CONFIGS's.
  """
  from tf_gans import training
  from tf_gans.models import registry
  keras.mixed_precision.set_dtype_policy(precision)
  keras.utils.set_random_seed(0)
  spec = registry.get(model)
  config = spec.config_cls(model=model, precision=precision, model_dir=model_dir,
                           **{**TINY_CONFIGS[model], **overrides}).resolve()
  gan, _ = training.build(config)
  return gan, config.to_dict()
