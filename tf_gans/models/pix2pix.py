"""pix2pix: paired image-to-image translation with a conditional GAN.

Isola, Zhu, Zhou & Efros 2017, "Image-to-Image Translation with Conditional Adversarial
Networks" (CVPR). The lecture's conditional GAN with an image as the condition: the
generator G maps a source image x to y' = G(x) (no z: dropout in the decoder is its
only noise, section 3.1), and the discriminator judges *pairs*, D(x, y) against
D(x, G(x)), on the two images concatenated along the channels. The objective (eq. 4)

    G* = arg min_G max_D L_cGAN(G, D) + λ L_L1(G),   L_L1 = E‖y − G(x)‖₁,  λ = 100

keeps the output close to the paired target while the adversarial term makes it sharp.

Defaults are the authors' code's (junyanz/pytorch-CycleGAN-and-pix2pix, ``--model
pix2pix``): the U-Net 256 generator with batch norm and dropout 0.5 in three decoder
layers, the 70×70 PatchGAN on the 6-channel pair, the vanilla GAN loss (the
non-saturating form for G), λ = 100, the discriminator loss halved, Adam 2e-4 with
β1 = 0.5, batch 1, constant learning rate for the first half and linear decay to 0 over
the second, images resized to 286 and randomly cropped to 256 and mirrored, the same
for both images of a pair, N(0, 0.02) weights. The step updates D first, then G, as
the reference code does; both see the same G(x) (the same dropout masks).

One difference: the reference code's test script runs the networks in training mode
by default (batch statistics, dropout on); tf_gans translates, evaluates and serves in
inference mode (batch norm's moving averages, no dropout, the reference's ``--eval``),
so a served image does not depend on the other images of its request and the same
input always gives the same output.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tf_gans import evaluation, layers, losses
from tf_gans.config import batch_size_option, dataset_option, model_option, option
from tf_gans.models import registry
from tf_gans.models.base import GANModel, UpdateGroup
from tf_gans.models.translation import (DIRECTIONS, ImageTranslator, TranslationConfig,
                                        _Translators, check_unet_and_patchgan,
                                        halved_discriminator_loss, translation_optimizers)
from tf_gans.networks.patchgan import patchgan_discriminator
from tf_gans.networks.unet import unet_generator

PAIRED_KIND = "aligned_pairs"
# --direction values (the reference code's spelling) -> the translation direction.
REFERENCE_DIRECTIONS = {"AtoB": "a_to_b", "BtoA": "b_to_a"}
_SALT_DROPOUT = 0


@keras.saving.register_keras_serializable(package="tf_gans")
class Pix2Pix(ImageTranslator, GANModel):
  """A generator and a pair discriminator trained on aligned image pairs.

  Args:
    generator: Maps source images [N, H, W, C] to target images.
    discriminator: Scores [N, H, W, 2C] pairs (source and target concatenated).
    image_shape: (H, W, C) of the training images.
    direction: "a_to_b" (source a, target b) or "b_to_a".
    gan_loss: Adversarial loss, a name from ``tf_gans.losses.GAN_LOSSES``
      ("nonsaturating" is the paper's vanilla GAN loss).
    l1_weight: λ, the weight of the L1 distance to the paired target (100).
    seed: Seed of all randomness in the step (the dropout masks).
  """

  network_attributes = ("generator", "discriminator")
  progress_metrics = (("d_loss", "discriminator_loss"), ("l1", "l1_loss"))

  def __init__(self, generator: keras.Model, discriminator: keras.Model, *,
               image_shape: tuple[int, int, int], direction: str = "a_to_b",
               gan_loss: str = "nonsaturating", l1_weight: float = 100.0, seed: int = 0,
               **kwargs: Any):
    kwargs.pop("real_batches_per_step", None)
    if direction not in DIRECTIONS:
      raise ValueError(f"direction {direction!r} is not one of: {', '.join(DIRECTIONS)}")
    if l1_weight < 0:
      raise ValueError(f"l1_weight must be >= 0, got {l1_weight}")
    super().__init__(seed=seed, **kwargs)
    self.generator_loss_fn = losses.get_gan_loss(gan_loss)[1]
    self.generator, self.discriminator = generator, discriminator
    self.image_shape = tuple(int(s) for s in image_shape)
    self.direction, self.gan_loss, self.l1_weight = direction, gan_loss, float(l1_weight)
    self._translators = _Translators()
    self.build_for_training()

  def get_config(self) -> dict[str, Any]:
    return {**super().get_config(), "image_shape": self.image_shape,
            "direction": self.direction, "gan_loss": self.gan_loss,
            "l1_weight": self.l1_weight}

  def direction_networks(self) -> dict[str, str]:
    return {self.direction: "generator"}

  # -- the step ----------------------------------------------------------------------

  def update_groups(self) -> list[UpdateGroup]:
    return [
        UpdateGroup("discriminator", self._discriminator_loss,
                    lambda: self.discriminator.trainable_variables),
        UpdateGroup("generator", self._generator_loss,
                    lambda: self.generator.trainable_variables,
                    metric_names=("adversarial_loss", "l1_loss")),
    ]

  def _pair(self, batch):
    if self.direction == "a_to_b":
      return batch["a"], batch["b"]
    return batch["b"], batch["a"]

  def _fake(self, source):
    # The same seed in both groups of a step: D and G see the same dropout masks, so the
    # same G(x), as the reference code computes G(x) once per step.
    with layers.dropout_seed(self._seed_for(_SALT_DROPOUT)):
      return self.generator(source, training=True)

  def _scores(self, source, image):
    pair = tf.concat([tf.cast(source, image.dtype), image], axis=-1)
    return self.discriminator(pair, training=True)

  def _discriminator_loss(self, batch, repeat):
    del repeat
    source, target = self._pair(batch)
    fake = tf.stop_gradient(self._fake(source))
    real_scores, fake_scores = self._scores(source, target), self._scores(source, fake)
    return halved_discriminator_loss(self.gan_loss, real_scores, fake_scores), {}

  def _generator_loss(self, batch, repeat):
    del repeat
    source, target = self._pair(batch)
    fake = self._fake(source)
    adversarial = self.generator_loss_fn(self._scores(source, fake))
    l1 = tf.reduce_mean(tf.abs(tf.cast(target, tf.float32) - tf.cast(fake, tf.float32)))
    return adversarial + self.l1_weight * l1, {"adversarial_loss": adversarial, "l1_loss": l1}

  # -- pictures ----------------------------------------------------------------------

  def preview(self, source: Any, num: int = 8, seed: int = 0, **kwargs: Any) -> np.ndarray:
    """Three rows: the source images, their translations and the paired targets
    (:meth:`preview_grid`)."""
    def rows(data):
      x, y = self._pair(data)
      return [x, self.translate_numpy(x), y]
    return self.preview_grid(source, num, seed, rows)


@dataclasses.dataclass
class Pix2PixConfig(TranslationConfig):
  """Settings of a pix2pix run; defaults are the authors' code's."""

  model: str = model_option("pix2pix")
  dataset: str = dataset_option(
      "digits_thicken_paired", "Aligned image pairs: digits_thicken_paired (embedded, known "
      "ground truth) or paired_folder (--data_dir with train/ of A|B side-by-side files, or "
      "trainA/ and trainB/ with matching names).")
  batch_size: int = batch_size_option(1, "Global batch (1 in the paper).")
  direction: str = option("AtoB", "AtoB: learn A -> B (the left half of an aligned file to "
                          "the right half); BtoA: the reverse.",
                          choices=tuple(REFERENCE_DIRECTIONS))
  l1_weight: float = option(100.0, "λ, weight of the L1 distance to the paired target.",
                            ge=0.0)
  dropout: float = option(0.5, "Dropout in the U-Net's decoder, the generator's noise "
                          "(three layers at 256 px, none below 64 px; 0: none).",
                          ge=0.0, lt=1.0)
  unet_downs: int | None = option(None, "Halvings of the U-Net generator; default log2(size) "
                                  "(a 1×1 bottleneck: 8 at 256 px, the reference unet_256).",
                                  ge=1)
  discriminator_layers: int = option(3, "Stride-2 layers of the PatchGAN (3: 70×70 patches; "
                                     "needs images of at least 32 px).", ge=1)

  _defaults = {**TranslationConfig._defaults, "gan_loss": "nonsaturating", "pool_size": 0,
               "norm": "batch"}

  def resolve(self) -> "Pix2PixConfig":
    super().resolve()
    if self.pool_size:
      raise ValueError("pix2pix keeps no pool of generated images (the reference code's "
                       "pool_size 0); drop --pool_size")
    check_unet_and_patchgan(self)
    return self


def build_pix2pix(config: Pix2PixConfig, source: Any) -> Pix2Pix:
  """The networks for the source's image pairs, then the GAN (not compiled).

  Raises:
    ValueError: for data that are not aligned pairs.
  """
  if source.kind != PAIRED_KIND:
    raise ValueError(f"pix2pix trains on aligned image pairs; dataset {source.name!r} holds "
                     f"{source.kind}. Use digits_thicken_paired (embedded) or paired_folder "
                     "(--data_dir)")
  shape = tuple(int(s) for s in source.info["image_shape"])
  keras.utils.set_random_seed(config.seed)
  channels = shape[-1]
  generator = unet_generator(channels, config.generator_filters, config.unet_downs,
                             config.norm, name="generator",
                             memory_saving=config.memory_saving_layers, dropout=config.dropout)
  discriminator = patchgan_discriminator(2 * channels, config.discriminator_filters,
                                         config.discriminator_layers, config.norm,
                                         name="discriminator",
                                         memory_saving=config.memory_saving_layers)
  return Pix2Pix(generator, discriminator, image_shape=shape,
                 direction=REFERENCE_DIRECTIONS[config.direction], gan_loss=config.gan_loss,
                 l1_weight=config.l1_weight, seed=config.seed, name=config.model)


registry.register(registry.ModelSpec(
    name="pix2pix", config_cls=Pix2PixConfig, build=build_pix2pix,
    optimizers=translation_optimizers,
    description="pix2pix: paired image-to-image translation (a conditional GAN on pairs).",
    evaluate=evaluation.evaluate_translation))
