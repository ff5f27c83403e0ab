"""Wasserstein GAN: a critic kept Lipschitz estimates the earth-mover distance.

Arjovsky, Chintala & Bottou (2017), "Wasserstein GAN": the critic maximises
E[f(x)] − E[f(G(z))] over 1-Lipschitz f (Kantorovich–Rubinstein duality), which is the
earth-mover distance between the data and the generator; the generator minimises it.
The Lipschitz constraint is kept by

* ``clip``: clipping every critic weight to [−c, c] (the original paper; RMSProp 5e-5,
  c = 0.01, n_critic = 5, batch 64);
* ``gp``: the gradient penalty λ·E[(‖∇f(x̂)‖ − 1)²] on interpolates (Gulrajani et al. 2017,
  "Improved Training of Wasserstein GANs"; λ = 10, Adam 1e-4, β = (0.5, 0.9), n_critic = 5;
  the toy-data code uses λ = 0.1 and batch 256);
* ``spectral``: spectrally normalised critic layers (Miyato et al. 2018; Adam 2e-4,
  β = (0.5, 0.999)).

Not implemented: the original paper's 100 critic iterations during the first 25
generator iterations and every 500th; an optimizer update inside data-dependent
control flow cannot synchronise replicas, and unrolling 100 updates is not worth it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import keras
import tensorflow as tf

from tf_gans import evaluation, losses
from tf_gans.config import (TrainConfig, _check_choice, batch_size_option, check_fields,
                            dataset_option, lr_decay_start_option, lr_decay_steps_option,
                            model_option, option, resolve_lr_decay)
from tf_gans.models import registry
from tf_gans.models.base import GANModel, UpdateGroup
from tf_gans.models.optimizers import OPTIMIZERS, gan_optimizers
from tf_gans.networks.dcgan import DCGANCritic, DCGANGenerator
from tf_gans.networks.mlp import MLPCritic, MLPGenerator

LIPSCHITZ = ("clip", "gp", "spectral")

# Paper defaults per Lipschitz method: optimizer, learning rate, β1, β2.
_OPTIMIZER_DEFAULTS = {
    "clip": ("rmsprop", 5e-5, 0.5, 0.999),  # betas only matter with --optimizer=adam
    "gp": ("adam", 1e-4, 0.5, 0.9),
    "spectral": ("adam", 2e-4, 0.5, 0.999),
}


@keras.saving.register_keras_serializable(package="tf_gans")
class WassersteinGAN(GANModel):
  """Generator + critic trained on the Wasserstein objective.

  The progress line shows the critic's estimate of the earth-mover distance (it falls as
  the generator learns) and the generator's loss.

  Args:
    generator: Maps z [N, latent_dim] to samples.
    critic: Maps samples to scores [N].
    latent_dim: Size of z.
    lipschitz: "clip", "gp" or "spectral" (clipping and spectral norm live in the
      critic's layers; "gp" adds the penalty to the critic loss).
    gp_weight: λ of the gradient penalty.
    n_critic: Critic updates per generator update, each on a fresh real batch.
    one_sided_penalty: Penalise only norms above 1 (Petzka et al. 2018).
    seed: Seed of all noise.
  """

  progress_metrics = (("wasserstein", "wasserstein_estimate"), ("g_loss", "generator_loss"))
  network_attributes = ("generator", "critic")

  def __init__(self, generator: keras.Model, critic: keras.Model, *, latent_dim: int,
               lipschitz: str = "gp", gp_weight: float = 10.0, n_critic: int = 5,
               one_sided_penalty: bool = False, seed: int = 0, **kwargs: Any):
    _check_choice("lipschitz", lipschitz, LIPSCHITZ)
    if n_critic < 1:
      raise ValueError(f"n_critic must be at least 1, got {n_critic}")
    super().__init__(seed=seed, real_batches_per_step=n_critic, **kwargs)
    self.generator, self.critic = generator, critic
    self.latent_dim, self.lipschitz = int(latent_dim), lipschitz
    self.gp_weight, self.n_critic = float(gp_weight), int(n_critic)
    self.one_sided_penalty = bool(one_sided_penalty)
    self.build_for_training()

  def get_config(self) -> dict[str, Any]:
    return {**super().get_config(), "latent_dim": self.latent_dim, "lipschitz": self.lipschitz,
            "gp_weight": self.gp_weight, "n_critic": self.n_critic,
            "one_sided_penalty": self.one_sided_penalty}

  def update_groups(self) -> list[UpdateGroup]:
    return [
        UpdateGroup("discriminator", self._critic_loss,
                    lambda: self.critic.trainable_variables, repeats=self.n_critic,
                    metric_names=("wasserstein_estimate", "gradient_penalty",
                                  "critic_grad_norm_mean", "critic_grad_norm_max")),
        UpdateGroup("generator", self._generator_loss,
                    lambda: self.generator.trainable_variables),
    ]

  def call(self, z, training=False):
    return self.generator(z, training=training)

  def _noise(self, n, salt):
    return self.replica_random(n, [self.latent_dim], salt)

  def _critic_loss(self, batch, repeat):
    real = batch["x"]
    n = tf.shape(real)[0]
    fake = self.generator(self._noise(n, 2 * repeat), training=True)
    loss = losses.wasserstein_critic_loss(self.critic(real, training=True),
                                          self.critic(fake, training=True))
    metrics = {"wasserstein_estimate": -loss}
    measure = self.lipschitz == "gp" or repeat == self.n_critic - 1
    if measure:
      alpha = self.replica_random(n, [1] * (len(real.shape) - 1), 2 * repeat + 1, "uniform")
      penalty, norms = losses.gradient_penalty(
          lambda x: self.critic(x, training=True), real, fake, alpha=alpha,
          one_sided=self.one_sided_penalty, return_norms=True)
      # The norms on interpolates are the measured Lipschitz behaviour; with clipping
      # or spectral norm they are only watched, not penalised.
      metrics.update(gradient_penalty=penalty, critic_grad_norm_mean=tf.reduce_mean(norms),
                     critic_grad_norm_max=tf.reduce_max(norms))
      if self.lipschitz == "gp":
        loss += self.gp_weight * penalty
    return loss, metrics

  def _generator_loss(self, batch, repeat):
    n = tf.shape(batch["x"])[0]
    fake = self.generator(self._noise(n, 2 * self.n_critic + repeat), training=True)
    return losses.wasserstein_generator_loss(self.critic(fake, training=True)), {}

  def generate(self, num_samples: int, seed: int = 0, z: tf.Tensor | None = None) -> tf.Tensor:
    if z is None:
      z = tf.random.stateless_normal([num_samples, self.latent_dim], [seed, 0])
    return self.generator(z, training=False)


@dataclasses.dataclass
class WGANConfig(TrainConfig):
  """Settings of a Wasserstein GAN run; None means the paper's default for the variant."""

  model: str = model_option("wgan")
  dataset: str = dataset_option(
      "8gaussians", "Toy 2-D sets (8gaussians, 25gaussians, swissroll, ring, grid), digits "
      "(embedded), mnist, fashion_mnist, cifar10, tfds/<name> (TFDS, ArrayRecord format) or "
      "folder.")
  batch_size: int | None = batch_size_option(None, "Global batch; default 256 on 2-D data "
                                             "(WGAN-GP toy code), 64 on images.")
  lipschitz: str = option("gp", "Lipschitz constraint of the critic: clip | gp | spectral.",
                          choices=LIPSCHITZ)
  n_critic: int = option(5, "Critic updates per generator update.", ge=1)
  clip_value: float = option(0.01, "Weight clipping bound c (lipschitz=clip).", gt=0.0)
  gp_weight: float | None = option(None, "Gradient penalty λ; default 10, 0.1 on 2-D data "
                                   "(0: no penalty).", ge=0.0)
  one_sided_penalty: bool = option(False, "Penalise only gradient norms above 1.")
  optimizer: str | None = option(None, "adam | rmsprop; default rmsprop for clip, adam otherwise.",
                                 choices=OPTIMIZERS)
  learning_rate: float | None = option(None, "Default 5e-5 (clip), 1e-4 (gp), 2e-4 (spectral).",
                                       gt=0.0)
  beta_1: float | None = option(None, "Adam β1; default 0.5.", ge=0.0, lt=1.0)
  beta_2: float | None = option(None, "Adam β2; default 0.9 (gp), 0.999 (spectral).", ge=0.0,
                                lt=1.0)
  latent_dim: int | None = option(None, "Size of z; default 2 on 2-D data, 128 on images.", ge=1)
  hidden_units: int = option(512, "Width of the generator's MLP layers (2-D data).", ge=1)
  hidden_layers: int = option(3, "Depth of the generator's MLP (2-D data).", ge=1)
  critic_hidden_units: int | None = option(None, "Width of the critic's MLP layers; default "
                                           "hidden_units.", ge=1)
  critic_hidden_layers: int | None = option(None, "Depth of the critic's MLP; default "
                                            "hidden_layers.", ge=1)
  lr_decay_start: float = lr_decay_start_option(1.0)
  lr_decay_steps: int | None = lr_decay_steps_option()
  generator_ema: float = option(0.0, "Decay of an exponential moving average of the "
                                "generator's weights, used for sampling, evaluation and "
                                "export (0: off; e.g. 0.999).", ge=0.0, lt=1.0)
  base_channels: int = option(64, "Channels of the first conv layer (images).", ge=1)
  image_size: int = option(32, "Side length images from a folder or a tfds/<name> "
                           "dataset are resized to.", ge=4)

  def resolve(self) -> "WGANConfig":
    check_fields(self)
    from tf_gans.data.toy2d import TOY_DATASETS
    toy = self.dataset in TOY_DATASETS
    opt, lr, b1, b2 = _OPTIMIZER_DEFAULTS[self.lipschitz]
    if self.batch_size is None:
      self.batch_size = 256 if toy else 64
    if self.gp_weight is None:
      self.gp_weight = 0.1 if toy else 10.0
    self.optimizer = self.optimizer or opt
    self.learning_rate = lr if self.learning_rate is None else self.learning_rate
    self.beta_1 = b1 if self.beta_1 is None else self.beta_1
    self.beta_2 = b2 if self.beta_2 is None else self.beta_2
    if self.latent_dim is None:
      self.latent_dim = 2 if toy else 128
    resolve_lr_decay(self)
    if self.critic_hidden_units is None:
      self.critic_hidden_units = self.hidden_units
    if self.critic_hidden_layers is None:
      self.critic_hidden_layers = self.hidden_layers
    super().resolve()
    return self


def _optimizers(config: WGANConfig) -> dict[str, keras.optimizers.Optimizer]:
  return gan_optimizers(config, kind=config.optimizer, critic_updates=config.n_critic,
                        generator_ema=config.generator_ema)


def build_wgan(config: WGANConfig, source: Any) -> WassersteinGAN:
  """Networks for the source's kind of data, then the GAN (not compiled)."""
  keras.utils.set_random_seed(config.seed)
  if source.kind == "points":
    dim = int(source.spec["x"].shape[0])
    generator = MLPGenerator(config.latent_dim, dim, config.hidden_units, config.hidden_layers,
                             name="generator")
    critic = MLPCritic(dim, config.critic_hidden_units, config.critic_hidden_layers, config.lipschitz,
                       config.clip_value, name="critic")
  elif source.kind == "images":
    shape = tuple(source.info["image_shape"])
    generator = DCGANGenerator(config.latent_dim, shape, config.base_channels, name="generator")
    critic = DCGANCritic(shape, config.base_channels, config.lipschitz, config.clip_value,
                         name="critic")
  else:
    raise ValueError(f"wgan learns one distribution; dataset {source.name!r} holds "
                     f"{source.kind}, expected 2-D points or images")
  return WassersteinGAN(generator, critic, latent_dim=config.latent_dim,
                        lipschitz=config.lipschitz, gp_weight=config.gp_weight,
                        n_critic=config.n_critic, one_sided_penalty=config.one_sided_penalty,
                        seed=config.seed, name="wgan")


registry.register(registry.ModelSpec(
    name="wgan", config_cls=WGANConfig, build=build_wgan, optimizers=_optimizers,
    description="Wasserstein GAN with weight clipping, gradient penalty or spectral norm.",
    evaluate=evaluation.evaluate_unconditional))
