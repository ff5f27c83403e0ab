"""Conditional GAN: a generator told which class to draw, a discriminator told which
class the image should be.

Mirza & Osindero (2014), "Conditional Generative Adversarial Nets": both players get
the label y, and the game is

    min_G max_D  E_{x,y}[log D(x|y)] + E_{z,y}[log(1 - D(G(z|y)|y))],

so D rejects images that are real-looking but of the wrong class, and G learns to draw
the class it is asked for. The networks (concatenated label embeddings, or Miyato &
Koyama's projection discriminator with class-conditional batch norm in G) live in
:mod:`tf_gans.networks.conditional`; the objective is chosen by ``gan_loss``:

* ``minimax``: the objective above for both players (G's loss saturates early on);
* ``nonsaturating`` (default): D as above, G maximises log D(G(z|y)|y) (Goodfellow et
  al. 2014, section 3);
* ``hinge``: Lim & Ye (2017), the loss of the projection-discriminator paper;
* ``least_squares``: Mao et al. (2017);
* ``wasserstein``: a conditional WGAN-GP (Gulrajani et al. 2017) with the penalty on
  interpolates of the same label, λ = 10 and 5 critic updates, each on a fresh real
  batch, per generator update.

Fakes in the discriminator's update are drawn for the labels of the real batch beside
them, so D sees the same class mix on both sides and cannot score the label alone.

Defaults follow DCGAN (Radford et al. 2016): Adam 2e-4, β1 = 0.5, batch 64, the
settings of most conditional DCGANs (the keras-io example uses Adam 3e-4 with default
betas); the Wasserstein variant uses the WGAN-GP MNIST code's Adam 1e-4, β = (0.5, 0.9).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import keras
import numpy as np
import tensorflow as tf

from tf_gans import evaluation, losses, visualize
from tf_gans.config import (TrainConfig, _check_choice, batch_size_option, check_fields,
                            dataset_option, lr_decay_start_option, lr_decay_steps_option,
                            model_option, option, resolve_lr_decay)
from tf_gans.models import registry
from tf_gans.models.base import GANModel, UpdateGroup
from tf_gans.models.optimizers import gan_optimizers
from tf_gans.networks.conditional import (CONDITIONING, ConditionalDiscriminator,
                                          ConditionalGenerator)

GAN_LOSSES = ("minimax", "nonsaturating", "hinge", "least_squares", "wasserstein")

# Generated images per generator call in generate(): bounds activation memory.
_GENERATE_BATCH = 500


def check_labels(labels: Any, num_classes: int) -> np.ndarray:
  """Labels as an int32 array, checked to lie in [0, num_classes).

  Raises:
    ValueError: naming the first label that is not an integer class of the model.
  """
  array = np.asarray(labels)
  if array.size and array.dtype.kind not in "iu":
    if array.dtype.kind == "f" and np.all(array == np.round(array)):
      array = array.astype(np.int64)
    else:
      raise ValueError(f"labels must be integer classes, got {array.ravel()[:5].tolist()}")
  bad = array[(array < 0) | (array >= num_classes)]
  if bad.size:
    raise ValueError(f"label {int(bad[0])} is outside the model's {num_classes} classes "
                     f"(expected 0 to {num_classes - 1})")
  return array.astype(np.int32)


@keras.saving.register_keras_serializable(package="tf_gans")
class ConditionalGAN(GANModel):
  """Generator G(z|y) and discriminator D(x|y) trained on a conditional GAN loss.

  Args:
    generator: Called as ``generator(z, labels, training=...)`` -> images in [-1, 1].
    discriminator: Called as ``discriminator(x, labels, training=...)`` -> scores [N].
    latent_dim: Size of z.
    num_classes: Number of labels (from the data).
    gan_loss: One of :data:`GAN_LOSSES`.
    gp_weight: λ of the gradient penalty (``gan_loss="wasserstein"`` only).
    n_critic: Discriminator updates per generator update, each on a fresh real batch.
    seed: Seed of all noise.
  """

  network_attributes = ("generator", "discriminator")

  def __init__(self, generator: keras.Model, discriminator: keras.Model, *, latent_dim: int,
               num_classes: int, gan_loss: str = "nonsaturating", gp_weight: float = 10.0,
               n_critic: int = 1, seed: int = 0, **kwargs: Any):
    _check_choice("gan_loss", gan_loss, GAN_LOSSES)
    if n_critic < 1:
      raise ValueError(f"n_critic must be at least 1, got {n_critic}")
    if num_classes < 1:
      raise ValueError(f"num_classes must be at least 1, got {num_classes}")
    super().__init__(seed=seed, real_batches_per_step=n_critic, **kwargs)
    self.generator, self.discriminator = generator, discriminator
    self.latent_dim, self.num_classes = int(latent_dim), int(num_classes)
    self.gan_loss, self.gp_weight, self.n_critic = gan_loss, float(gp_weight), int(n_critic)
    self._d_loss_fn, self._g_loss_fn = losses.get_gan_loss(gan_loss)
    self.build_for_training()

  def get_config(self) -> dict[str, Any]:
    return {**super().get_config(), "latent_dim": self.latent_dim,
            "num_classes": self.num_classes, "gan_loss": self.gan_loss,
            "gp_weight": self.gp_weight, "n_critic": self.n_critic}

  # -- training ----------------------------------------------------------------------

  def update_groups(self) -> list[UpdateGroup]:
    d_metrics = ("real_score", "fake_score")
    if self.gan_loss == "wasserstein":
      d_metrics += ("gradient_penalty", "critic_grad_norm_mean")
    return [
        UpdateGroup("discriminator", self._discriminator_loss,
                    lambda: self.discriminator.trainable_variables, repeats=self.n_critic,
                    metric_names=d_metrics),
        UpdateGroup("generator", self._generator_loss,
                    lambda: self.generator.trainable_variables),
    ]

  def call(self, z, labels, training=False):
    return self.generator(z, labels, training=training)

  def _noise(self, n, salt):
    return self.replica_random(n, [self.latent_dim], salt)

  def _discriminator_loss(self, batch, repeat):
    real, labels = batch["x"], batch["label"]
    n = tf.shape(real)[0]
    fake = self.generator(self._noise(n, 2 * repeat), labels, training=True)
    real_scores = self.discriminator(real, labels, training=True)
    fake_scores = self.discriminator(fake, labels, training=True)
    loss = self._d_loss_fn(real_scores, fake_scores)
    metrics = {"real_score": tf.reduce_mean(tf.cast(real_scores, tf.float32)),
               "fake_score": tf.reduce_mean(tf.cast(fake_scores, tf.float32))}
    if self.gan_loss == "wasserstein":
      alpha = self.replica_random(n, [1] * (len(real.shape) - 1), 2 * repeat + 1, "uniform")
      # Interpolates keep the label of the pair they come from: the penalty holds
      # D(.|y) 1-Lipschitz in x for each class.
      penalty, norms = losses.gradient_penalty(
          lambda x, labels: self.discriminator(x, labels, training=True), real, fake,
          alpha=alpha, return_norms=True, critic_kwargs={"labels": labels})
      loss += self.gp_weight * penalty
      metrics.update(gradient_penalty=penalty, critic_grad_norm_mean=tf.reduce_mean(norms))
    return loss, metrics

  def _generator_loss(self, batch, repeat):
    labels = batch["label"]
    n = tf.shape(labels)[0]
    fake = self.generator(self._noise(n, 2 * self.n_critic + repeat), labels, training=True)
    return self._g_loss_fn(self.discriminator(fake, labels, training=True)), {}

  # -- inference ---------------------------------------------------------------------

  def _labels_for(self, num_samples: int, labels: Any) -> np.ndarray:
    if labels is None:  # every class in turn
      return np.arange(num_samples, dtype=np.int32) % self.num_classes
    labels = check_labels(labels, self.num_classes)
    if labels.ndim == 0:
      return np.full([num_samples], labels, np.int32)
    if labels.shape != (num_samples,):
      raise ValueError(f"got {labels.size} labels for {num_samples} samples; pass one label "
                       "per sample or a single label for all")
    return labels

  def generate(self, num_samples: int, seed: int = 0, labels: Any = None,
               z: tf.Tensor | None = None) -> tf.Tensor:
    """Draws images of chosen classes (inference mode).

    Args:
      num_samples: How many images.
      seed: Seed of the noise (the same seed gives the same z).
      labels: One class per sample, a single class for all, or None for the classes
        in turn (0, 1, ..., num_classes - 1, 0, ...).
      z: Noise [num_samples, latent_dim] to use instead of drawing it.

    Returns:
      float32 images [num_samples, H, W, C] in [-1, 1].

    Raises:
      ValueError: for a label outside [0, num_classes) or a wrong number of labels.
    """
    labels = self._labels_for(num_samples, labels)
    if z is None:
      z = tf.random.stateless_normal([num_samples, self.latent_dim], [seed, 0])
    parts = [self.generator(z[i:i + _GENERATE_BATCH], labels[i:i + _GENERATE_BATCH],
                            training=False)
             for i in range(0, num_samples, _GENERATE_BATCH)]
    return tf.concat(parts, axis=0) if len(parts) != 1 else parts[0]

  def preview(self, source: Any = None, num: int = 10, seed: int = 0,
              labels: Sequence[int] | None = None, **_: Any) -> np.ndarray:
    """A grid with one row per class and `num` columns; each column shares its noise.

    Reading along a row shows the variety within a class; reading down a column shows
    what the label alone changes.

    Args:
      source: Unused (the classes come from the model).
      num: Columns (samples per class).
      seed: Seed of the noise.
      labels: The rows' classes (default every class, in order).

    Returns:
      A uint8 [H', W', 3] picture, small images enlarged to at least 32 px per tile.

    Raises:
      ValueError: for a label outside the model's classes or num < 1.
    """
    del source
    if num < 1:
      raise ValueError(f"num (columns) must be at least 1, got {num}")
    rows = (np.arange(self.num_classes, dtype=np.int32) if labels is None
            else check_labels(list(labels), self.num_classes))
    if rows.size == 0:
      raise ValueError("labels is empty; give at least one class")
    z = tf.random.stateless_normal([num, self.latent_dim], [seed, 0])
    images = self.generate(len(rows) * num, labels=np.repeat(rows, num),
                           z=tf.tile(z, [len(rows), 1]))
    grid = visualize.image_grid(images.numpy(), rows=len(rows))
    return visualize.upscale(grid, max(1, -(-32 // int(images.shape[1]))))


@dataclasses.dataclass
class CGANConfig(TrainConfig):
  """Settings of a conditional GAN run; None means the default for the chosen loss."""

  model: str = model_option("cgan")
  dataset: str = dataset_option("digits", "Labelled images: digits (embedded 8x8), mnist, "
                                "fashion_mnist, cifar10, tfds/<name> (TFDS, ArrayRecord "
                                "format) or folder (one sub-folder per class).")
  batch_size: int | None = batch_size_option(None, "Global batch; default 64 (DCGAN).")
  conditioning: str = option("concat", "How the networks get the label: concat (embedding "
                             "concatenated to z and to D's input and features) | projection "
                             "(projection discriminator, class-conditional batch norm in G).",
                             choices=CONDITIONING)
  gan_loss: str = option("nonsaturating", "minimax | nonsaturating | hinge | least_squares | "
                         "wasserstein (with gradient penalty).", choices=GAN_LOSSES)
  n_critic: int | None = option(None, "Discriminator updates per generator update; "
                                "default 5 with wasserstein, 1 otherwise.", ge=1)
  gp_weight: float | None = option(None, "Gradient penalty λ (wasserstein); default 10 (0: no "
                                   "penalty).", ge=0.0)
  learning_rate: float | None = option(None, "Adam learning rate; default 2e-4 (1e-4 with "
                                       "wasserstein).", gt=0.0)
  beta_1: float | None = option(None, "Adam β1; default 0.5.", ge=0.0, lt=1.0)
  beta_2: float | None = option(None, "Adam β2; default 0.999 (0.9 with wasserstein).", ge=0.0,
                                lt=1.0)
  lr_decay_start: float = lr_decay_start_option(1.0)
  lr_decay_steps: int | None = lr_decay_steps_option()
  latent_dim: int | None = option(None, "Size of z; default 128.", ge=1)
  base_channels: int = option(64, "Channels of the first conv layer (images).", ge=1)
  embedding_dim: int = option(32, "Size of the label embedding (conditioning=concat).", ge=1)
  feature_units: int = option(256, "Width of the discriminator's dense feature layer.", ge=1)
  dropout: float = option(0.0, "Dropout on the discriminator's features.", ge=0.0, lt=1.0)
  minibatch_std: bool = option(False, "Give the discriminator the batch's feature standard "
                               "deviation (Karras et al. 2018); not with wasserstein.")
  image_size: int = option(32, "Side length images from a folder or a tfds/<name> "
                           "dataset are resized to.", ge=4)

  def resolve(self) -> "CGANConfig":
    check_fields(self)
    wasserstein = self.gan_loss == "wasserstein"
    if self.batch_size is None:
      self.batch_size = 64
    if self.n_critic is None:
      self.n_critic = 5 if wasserstein else 1
    if self.gp_weight is None:
      self.gp_weight = 10.0
    if self.learning_rate is None:
      self.learning_rate = 1e-4 if wasserstein else 2e-4
    if self.beta_1 is None:
      self.beta_1 = 0.5
    if self.beta_2 is None:
      self.beta_2 = 0.9 if wasserstein else 0.999
    if self.latent_dim is None:
      self.latent_dim = 128
    resolve_lr_decay(self)
    if self.minibatch_std and wasserstein:
      raise ValueError("minibatch_std couples the examples of a batch, which the gradient "
                       "penalty of gan_loss=wasserstein assumes independent; use one of them")
    super().resolve()
    return self


def _optimizers(config: CGANConfig) -> dict[str, keras.optimizers.Optimizer]:
  return gan_optimizers(config, critic_updates=config.n_critic)


def build_cgan(config: CGANConfig, source: Any) -> ConditionalGAN:
  """Networks for the source's image shape and classes, then the GAN (not compiled).

  Raises:
    ValueError: if the data are not labelled images.
  """
  keras.utils.set_random_seed(config.seed)
  num_classes = int(source.info.get("num_classes") or 0)
  if source.kind != "images" or "label" not in source.spec:
    raise ValueError(f"cgan needs labelled images; dataset {source.name!r} holds "
                     f"{source.kind} without labels")
  if num_classes < 2:
    raise ValueError(f"cgan needs images of at least 2 classes; dataset {source.name!r} has "
                     f"{num_classes} (for --dataset=folder, put each class's images in its "
                     "own sub-folder)")
  shape = tuple(int(s) for s in source.info["image_shape"])
  generator = ConditionalGenerator(config.latent_dim, num_classes, shape, config.base_channels,
                                   config.conditioning, config.embedding_dim, name="generator")
  discriminator = ConditionalDiscriminator(num_classes, shape, config.base_channels,
                                           config.conditioning, config.embedding_dim,
                                           config.feature_units, config.dropout,
                                           config.minibatch_std, name="discriminator")
  return ConditionalGAN(generator, discriminator, latent_dim=config.latent_dim,
                        num_classes=num_classes, gan_loss=config.gan_loss,
                        gp_weight=config.gp_weight, n_critic=config.n_critic, seed=config.seed,
                        name="cgan")


registry.register(registry.ModelSpec(
    name="cgan", config_cls=CGANConfig, build=build_cgan, optimizers=_optimizers,
    description="Conditional GAN (concatenated labels or projection discriminator).",
    evaluate=evaluation.evaluate_conditional))
