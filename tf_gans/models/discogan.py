"""DiscoGAN: cross-domain relations from unpaired images with a reconstruction loss.

Kim, Cha, Kim, Lee & Kim 2017, "Learning to Discover Cross-Domain Relations with
Generative Adversarial Networks" (ICML). Two GANs coupled in both directions: G_AB
maps A to B, G_BA maps B to A, and each image must come back from the round trip,

    L_G = L_GAN_B + L_GAN_A + w · (d(G_BA(G_AB(x_A)), x_A) + d(G_AB(G_BA(x_B)), x_B))

(eqs. 1-5 of the paper, there with w = 1). The distance d "could be any distance
function": the paper uses the mean squared error; here ``--reconstruction_loss``
chooses l2 (MSE), l1 or huber: the Huber loss L_δ (``--huber_delta``), quadratic for
small errors and linear for large ones, divided by δ. L_δ's linear part has slope δ, so
on images in [−1, 1] (errors up to 2) δ = 1 makes L_δ ½ d² for almost every pixel, half
the l2 loss: the coupling is weaker and on the digits task two seeds in five kept ~10 % of
the digits. Divided by δ, the linear part has l1's slope 1 whatever δ, and δ only says
where the loss turns quadratic (errors below δ are pulled in gently, as by l2). δ = 0.1
(a twentieth of the range) is the default, chosen on the ground-truth task over
δ = 0.25 and the undivided δ = 0.1 (benchmarks/README.md). At δ = 1 the division
changes nothing. The architectures are an encoder-decoder
generator through a 4×4 bottleneck and a convolutional discriminator with batch norm
(:mod:`tf_gans.networks.encoder_decoder`); the GAN loss is the sigmoid cross-entropy
(non-saturating for the generators), Adam 2e-4 with β = (0.5, 0.999), batch 64,
64 px images.

Not reproduced from the authors' code (SKTBrain/DiscoGAN): its feature-matching term
in the generator loss, its curriculum of reconstruction weights (0.01 for the first
10k iterations, then 0.5, with the GAN terms weighted 1 − w), its discriminator update
on every third iteration only and its 1e-5 weight decay; here both groups update every
step, as in CycleGAN, which is what the paper's equations describe.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import keras

from tf_gans import evaluation, losses
from tf_gans.config import _check_choice, batch_size_option, model_option, option
from tf_gans.models import registry
from tf_gans.models.translation import (TranslationConfig, TwoDomainGAN, build_two_domain,
                                        translation_optimizers)
from tf_gans.networks.encoder_decoder import (conv_discriminator, default_num_downs,
                                              encoder_decoder_generator)


@keras.saving.register_keras_serializable(package="tf_gans")
class DiscoGAN(TwoDomainGAN):
  """Two GANs coupled by a reconstruction loss in both directions.

  Args:
    generator_ab, generator_ba, discriminator_a, discriminator_b, image_shape,
    gan_loss, pool_size, seed: see :class:`~tf_gans.models.translation.TwoDomainGAN`.
    reconstruction_loss: "l2" (the paper), "l1" or "huber" (L_δ / δ).
    huber_delta: δ of the Huber loss.
    reconstruction_weight: w, the weight of the reconstruction terms (1 in the paper's
      equations).
  """

  progress_metrics = (("g_loss", "generator_loss"), ("reconstruction", "reconstruction_loss"))

  def __init__(self, generator_ab: keras.Model, generator_ba: keras.Model,
               discriminator_a: keras.Model, discriminator_b: keras.Model, *,
               image_shape: tuple[int, int, int], gan_loss: str = "nonsaturating",
               reconstruction_loss: str = "l2", huber_delta: float = 0.1,
               reconstruction_weight: float = 1.0, pool_size: int = 0, seed: int = 0,
               **kwargs: Any):
    _check_choice("reconstruction_loss", reconstruction_loss, losses.RECONSTRUCTION_KINDS)
    if not huber_delta > 0:
      raise ValueError(f"huber_delta must be > 0, got {huber_delta}")
    if reconstruction_weight < 0:
      raise ValueError(f"reconstruction_weight must be >= 0, got {reconstruction_weight}")
    super().__init__(generator_ab, generator_ba, discriminator_a, discriminator_b,
                     image_shape=image_shape, gan_loss=gan_loss, pool_size=pool_size, seed=seed,
                     **kwargs)
    self.reconstruction_loss = reconstruction_loss
    self.huber_delta = float(huber_delta)
    self.reconstruction_weight = float(reconstruction_weight)

  def get_config(self) -> dict[str, Any]:
    return {**super().get_config(), "reconstruction_loss": self.reconstruction_loss,
            "huber_delta": self.huber_delta, "reconstruction_weight": self.reconstruction_weight}

  def consistency_metric_names(self) -> tuple[str, ...]:
    return ("reconstruction_loss",)

  def consistency_loss(self, source, target, fake_target, forward, backward):
    del target, forward
    reconstruction = losses.reconstruction_loss(
        source, backward(fake_target, training=True), self.reconstruction_loss, self.huber_delta)
    if self.reconstruction_loss == "huber":
      reconstruction = reconstruction / self.huber_delta  # slope 1 above δ, as l1
    return self.reconstruction_weight * reconstruction, {"reconstruction_loss": reconstruction}


@dataclasses.dataclass
class DiscoGANConfig(TranslationConfig):
  """Settings of a DiscoGAN run; defaults are the paper's."""

  model: str = model_option("discogan")
  batch_size: int = batch_size_option(64, "Global batch (64 in the paper).")
  reconstruction_loss: str = option("l2", "DiscoGAN reconstruction distance: l2 (the paper) | "
                                    "l1 | huber.", choices=losses.RECONSTRUCTION_KINDS)
  huber_delta: float = option(0.1, "δ of the Huber reconstruction loss, used as L_δ/δ: "
                              "½d²/δ below δ, |d| − δ/2 above (l1's slope). 0.1 on images in "
                              "[-1, 1]: at δ = 1, L_δ is half the l2 loss there.", gt=0.0)
  reconstruction_weight: float = option(1.0, "Weight of the reconstruction terms (0: none).",
                                        ge=0.0)
  num_downs: int | None = option(None, "Halvings in the DiscoGAN networks; default down to a "
                                 "4×4 map (4 at 64 px).", ge=1)

  _defaults = {**TranslationConfig._defaults, "gan_loss": "nonsaturating", "lr_decay_start": 1.0,
               "pool_size": 0, "norm": "batch", "file_image_size": 64}

  def resolve(self) -> "DiscoGANConfig":
    super().resolve()
    if self.num_downs is None:
      self.num_downs = default_num_downs(self.image_size)
    if self.image_size % (2 ** self.num_downs):
      raise ValueError(f"num_downs {self.num_downs} does not fit image_size {self.image_size}: "
                       f"2**num_downs must divide the image size")
    return self


def build_discogan(config: DiscoGANConfig, source: Any) -> DiscoGAN:
  """The networks for the source's images, then the GAN (not compiled)."""
  def generator(channels, name):
    return encoder_decoder_generator(channels, config.generator_filters, config.num_downs,
                                     config.norm, name=name,
                                     memory_saving=config.memory_saving_layers)

  def discriminator(channels, name):
    return conv_discriminator(channels, config.discriminator_filters, config.num_downs,
                              config.norm, name=name, memory_saving=config.memory_saving_layers)

  return build_two_domain(DiscoGAN, config, source, generator, discriminator,
                          reconstruction_loss=config.reconstruction_loss,
                          huber_delta=config.huber_delta,
                          reconstruction_weight=config.reconstruction_weight)


registry.register(registry.ModelSpec(
    name="discogan", config_cls=DiscoGANConfig, build=build_discogan,
    optimizers=translation_optimizers,
    description="DiscoGAN: unpaired translation with a reconstruction (l2, l1, huber) loss.",
    evaluate=evaluation.evaluate_translation))
