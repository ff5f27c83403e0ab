"""CycleGAN: unpaired image-to-image translation with cycle consistency.

Zhu, Park, Isola & Efros 2017, "Unpaired Image-to-Image Translation using
Cycle-Consistent Adversarial Networks" (ICCV). Learn G: A → B so that G(A) is
indistinguishable from B, coupled with F: B → A and the cycle-consistency loss
F(G(a)) ≈ a, G(F(b)) ≈ b:

    L = L_GAN(G, D_B) + L_GAN(F, D_A) + λ L_cyc(G, F) + λ_id L_identity(G, F)

with L_cyc = E|F(G(a)) − a|₁ + E|G(F(b)) − b|₁ (eq. 2 of the paper) and the identity
loss E|G(b) − b|₁ + E|F(a) − a|₁ (section 5.2, after Taigman et al. 2017), which keeps
colours when they need not change.

Defaults are those of the authors' code (junyanz/pytorch-CycleGAN-and-pix2pix) so
results compare: least-squares GAN loss (Mao et al. 2017), λ = 10, identity weight
0.5·λ, discriminator loss halved, a 50-image pool of generated images for the
discriminators, Adam 2e-4 with β1 = 0.5, constant for the first half of training and
then linearly decayed to 0, N(0, 0.02) weights, batch 1; a ResNet generator with 9
residual blocks at 256 px (6 up to 128 px) and the 70×70 PatchGAN. Updates: both
generators, then both discriminators, every step.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import keras

from tf_gans import evaluation, losses
from tf_gans.config import batch_size_option, model_option, option
from tf_gans.models import registry
from tf_gans.models.translation import (TranslationConfig, TwoDomainGAN, build_two_domain,
                                        check_unet_and_patchgan, translation_optimizers)
from tf_gans.networks.patchgan import patchgan_discriminator
from tf_gans.networks.resnet import default_num_blocks, resnet_generator
from tf_gans.networks.unet import unet_generator

GENERATORS = ("resnet", "unet")


@keras.saving.register_keras_serializable(package="tf_gans")
class CycleGAN(TwoDomainGAN):
  """Two generators and two discriminators trained with cycle consistency.

  Args:
    generator_ab, generator_ba, discriminator_a, discriminator_b, image_shape,
    gan_loss, pool_size, seed: see :class:`~tf_gans.models.translation.TwoDomainGAN`.
    cycle_weight: λ, the weight of the cycle-consistency loss (10).
    identity_weight: Weight of the identity loss relative to λ (0.5, i.e. 5 in absolute
      terms); 0 turns the identity loss off and saves two generator passes per step.
  """

  progress_metrics = (("g_loss", "generator_loss"), ("cycle", "cycle_loss"))

  def __init__(self, generator_ab: keras.Model, generator_ba: keras.Model,
               discriminator_a: keras.Model, discriminator_b: keras.Model, *,
               image_shape: tuple[int, int, int], gan_loss: str = "least_squares",
               cycle_weight: float = 10.0, identity_weight: float = 0.5, pool_size: int = 50,
               seed: int = 0, **kwargs: Any):
    if cycle_weight < 0 or identity_weight < 0:
      raise ValueError(f"cycle_weight and identity_weight must be >= 0, got {cycle_weight} "
                       f"and {identity_weight}")
    super().__init__(generator_ab, generator_ba, discriminator_a, discriminator_b,
                     image_shape=image_shape, gan_loss=gan_loss, pool_size=pool_size, seed=seed,
                     **kwargs)
    self.cycle_weight, self.identity_weight = float(cycle_weight), float(identity_weight)

  def get_config(self) -> dict[str, Any]:
    return {**super().get_config(), "cycle_weight": self.cycle_weight,
            "identity_weight": self.identity_weight}

  def consistency_metric_names(self) -> tuple[str, ...]:
    return ("cycle_loss",)

  def consistency_loss(self, source, target, fake_target, forward, backward):
    # This direction's half of the lecture's L_cyc, e.g. ‖F(G(x)) − x‖₁ for G = forward.
    cycle = losses.reconstruction_loss(source, backward(fake_target, training=True), "l1")
    return self.cycle_weight * cycle, {"cycle_loss": cycle}

  def independent_metric_names(self) -> tuple[str, ...]:
    return ("identity_loss",) if self.identity_weight else ()

  def independent_loss(self, source, target, forward, backward):
    # A generator given an image already in its target domain should leave it alone.
    identity = losses.identity_loss(target, forward(target, training=True))
    return self.identity_weight * self.cycle_weight * identity, {"identity_loss": identity}


@dataclasses.dataclass
class CycleGANConfig(TranslationConfig):
  """Settings of a CycleGAN run; defaults are the authors' code's."""

  model: str = model_option("cyclegan")
  batch_size: int = batch_size_option(1, "Global batch (1 in the paper).")
  generator: str = option("resnet", "Generator architecture: resnet (the paper) | unet.",
                          choices=GENERATORS)
  num_res_blocks: int | None = option(None, "Residual blocks of the ResNet generator; default "
                                      "6 up to 128 px, 9 above.", ge=0)
  unet_downs: int | None = option(None, "Halvings of the U-Net generator; default log2(size) "
                                  "(a 1×1 bottleneck: 8 at 256 px).", ge=1)
  discriminator_layers: int = option(3, "Stride-2 layers of the PatchGAN (3: 70×70 patches; "
                                     "needs images of at least 32 px).", ge=1)
  cycle_weight: float = option(10.0, "λ, weight of the cycle-consistency loss (0: none).",
                               ge=0.0)
  identity_weight: float = option(0.5, "Identity loss weight relative to λ (0 turns it off).",
                                  ge=0.0)

  def resolve(self) -> "CycleGANConfig":
    super().resolve()
    if self.num_res_blocks is None:
      self.num_res_blocks = default_num_blocks(self.image_size)
    if self.generator == "resnet" and self.image_size % 4:
      raise ValueError(f"the ResNet generator halves the image twice: image_size must be a "
                       f"multiple of 4, got {self.image_size}")
    check_unet_and_patchgan(self)
    return self


def build_cyclegan(config: CycleGANConfig, source: Any) -> CycleGAN:
  """The networks for the source's images, then the GAN (not compiled)."""
  def generator(channels, name):
    if config.generator == "unet":
      return unet_generator(channels, config.generator_filters, config.unet_downs, config.norm,
                            name=name, memory_saving=config.memory_saving_layers)
    return resnet_generator(channels, config.generator_filters, config.num_res_blocks,
                            config.norm, name=name, memory_saving=config.memory_saving_layers)

  def discriminator(channels, name):
    return patchgan_discriminator(channels, config.discriminator_filters,
                                  config.discriminator_layers, config.norm, name=name,
                                  memory_saving=config.memory_saving_layers)

  return build_two_domain(CycleGAN, config, source, generator, discriminator,
                          cycle_weight=config.cycle_weight,
                          identity_weight=config.identity_weight)


registry.register(registry.ModelSpec(
    name="cyclegan", config_cls=CycleGANConfig, build=build_cyclegan,
    optimizers=translation_optimizers,
    description="CycleGAN: unpaired image-to-image translation with cycle consistency.",
    evaluate=evaluation.evaluate_translation))
