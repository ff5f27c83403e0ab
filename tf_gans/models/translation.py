"""What CycleGAN and DiscoGAN share: two generators, two discriminators, one step.

Both learn a mapping between two image domains A and B from *unpaired* examples:
``generator_ab`` maps A to B and is judged by ``discriminator_b``; ``generator_ba`` maps
B to A and is judged by ``discriminator_a``. What differs is the term that ties the two
generators together (CycleGAN's L1 cycle consistency and optional identity loss,
DiscoGAN's reconstruction loss) and the architectures; :class:`TwoDomainGAN` holds
everything else:

* two update groups, in the reference code's order: "generator" (both generators, on
  the adversarial loss plus the subclass's consistency terms), then "discriminator"
  (both discriminators, on the images the generators made in that same step, passed
  through an optional history pool);
* the discriminator loss halved, as both reference codes do;
* ``translate(images, direction)``, ``preview`` (rows x, G(x), F(G(x))) and the
  evaluation tools/evaluate.py runs.

Contract other code relies on (the export module, tools/translate.py and the evaluation
key on it): ``image_shape`` (H, W, C), ``direction_networks()`` (direction -> the
attribute of its generator) and ``translate(images, direction)``, which
:class:`ImageTranslator` provides to every image-to-image model, pix2pix included; the
two-domain models' attributes are ``generator_ab``, ``generator_ba``,
``discriminator_a`` and ``discriminator_b``. The translation configuration
(:class:`TranslationConfig`) and the optimizers are shared with pix2pix too.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
from typing import Any, Callable

import keras
import numpy as np
import tensorflow as tf

from tf_gans import losses
from tf_gans.config import (TrainConfig, check_fields, dataset_option,
                            lr_decay_start_option, lr_decay_steps_option, option,
                            resolve_lr_decay)
from tf_gans.networks.common import NORMS
from tf_gans.models.base import GANModel, UpdateGroup, sum_metrics
from tf_gans.models.optimizers import gan_optimizers
from tf_gans.training.image_pool import ImagePool

DIRECTIONS = ("a_to_b", "b_to_a")
FILE_DATASETS_HINT = ("unpaired_folder (--data_dir with trainA/ trainB/), cycle_gan/<name> "
                      "(TFDS) or digits_recolour (embedded)")

# Salts of the random draws of one step (image-pool decisions).
_SALT_POOL_A_SWAP, _SALT_POOL_A_SLOT, _SALT_POOL_B_SWAP, _SALT_POOL_B_SLOT = range(4)


class _Translators:
  """Inference functions by direction, made on first use. A plain object, which Keras
  and TensorFlow do not track: the functions belong neither in checkpoints nor in
  exports."""

  def __init__(self):
    self.by_direction: dict[str, Callable[[tf.Tensor], tf.Tensor]] = {}


class _StepScratch(threading.local):
  """Hands the generated images of the generator update to the discriminator update.

  Thread-local because MirroredStrategy runs each replica's step in its own thread:
  a shared attribute would let one replica's discriminator train on another replica's
  images. A plain object, not a Keras-tracked attribute: it holds graph tensors of the
  step being traced, which must not end up in checkpoints or configs.
  """

  fakes: dict[str, tf.Tensor] | None = None

  def keep(self, direction: str, images: tf.Tensor) -> None:
    """Stores the generated images of one direction ("a_to_b" makes B images)."""
    self.fakes = {**(self.fakes or {}), direction: images}

  def take(self) -> tuple[tf.Tensor, tf.Tensor] | None:
    """(fake_a, fake_b) if both belong to the graph being built now (and forgets them)."""
    fakes, self.fakes = self.fakes or {}, None
    if set(fakes) != set(DIRECTIONS):
      return None
    for images in fakes.values():
      graph = getattr(images, "graph", None)  # eager tensors have none
      if (graph is None) != tf.executing_eagerly():
        return None
      if graph is not None and graph is not tf.compat.v1.get_default_graph():
        return None
    return fakes["b_to_a"], fakes["a_to_b"]


def halved_discriminator_loss(gan_loss: str, real_scores: tf.Tensor,
                              fake_scores: tf.Tensor) -> tf.Tensor:
  """The discriminator loss `gan_loss`, halved as the CycleGAN and pix2pix reference codes
  halve it "to slow down the rate at which D learns relative to G". The least-squares
  loss here already carries that ½ (Mao et al.'s eq. 9); the others do not."""
  loss = losses.get_gan_loss(gan_loss)[0](real_scores, fake_scores)
  return loss if gan_loss == "least_squares" else 0.5 * loss


class ImageTranslator:
  """Inference of image-to-image models (mixed into their GANModel subclass).

  A subclass says which directions it translates and with which generator in
  :meth:`direction_networks`, and creates ``self._translators = _Translators()``.
  """

  def direction_networks(self) -> dict[str, str]:
    """Direction ("a_to_b", "b_to_a") -> the attribute holding its generator. The first
    is the model's main direction (``call``, the serving default)."""
    raise NotImplementedError

  def call(self, images, training=False):
    network = getattr(self, next(iter(self.direction_networks().values())))
    return network(images, training=training)

  def translate(self, images: Any, direction: str | None = None) -> tf.Tensor:
    """Translates images (inference mode).

    Args:
      images: [N, H, W, C] float images in [-1, 1] (numpy or tensor). The generators
        are fully convolutional: any size the architecture divides evenly works.
      direction: One of :meth:`direction_networks` ("a_to_b": generator_ab, "b_to_a":
        generator_ba for the two-domain models); None: the model's main direction.

    Returns:
      [N, H, W, C] float32 images in [-1, 1].

    Raises:
      ValueError: for an unknown direction.
    """
    networks = self.direction_networks()
    direction = direction or next(iter(networks))
    if direction not in networks:
      raise ValueError(f"direction {direction!r} is not one of: {', '.join(networks)}")
    translator = self._translators.by_direction.get(direction)
    if translator is None:
      network = getattr(self, networks[direction])
      # In a graph each layer's output is freed once used; an eager Keras call keeps
      # every intermediate tensor until it returns (gigabytes for 8 images at 256 px).
      translator = tf.function(lambda x: tf.cast(network(x, training=False), tf.float32),
                               reduce_retracing=True)
      self._translators.by_direction[direction] = translator
    return translator(tf.convert_to_tensor(images, tf.float32))

  @property
  def size_multiple(self) -> int:
    """Image sides the generators translate must be multiples of: 2 per halving."""
    halvings = 0
    for network in (getattr(self, name) for name in self.direction_networks().values()):
      count = sum(1 for layer in network.layers
                  if isinstance(layer, keras.layers.Conv2D)
                  and not isinstance(layer, keras.layers.Conv2DTranspose)
                  and max(layer.strides) > 1)
      halvings = max(halvings, count)
    return 2 ** halvings

  def translate_numpy(self, images: np.ndarray, direction: str | None = None,
                      batch_size: int = 0) -> np.ndarray:
    """:meth:`translate` over a large array in batches, returning numpy.

    batch_size 0: as many images as make 2^20 pixels (16 at 256 px), at most 64.
    """
    if not batch_size:
      batch_size = min(64, max(1, (1 << 20) // int(np.prod(images.shape[1:3]) or 1)))
    out = [self.translate(images[i:i + batch_size], direction).numpy()
           for i in range(0, len(images), batch_size)]
    return np.concatenate(out) if out else np.zeros((0, *self.image_shape), np.float32)

  def generate(self, num_samples: int, seed: int = 0, **kwargs: Any) -> tf.Tensor:
    raise NotImplementedError(f"{type(self).__name__} translates images; use translate()")

  def preview_grid(self, source: Any, num: int, seed: int,
                   rows_of: Callable[[dict[str, np.ndarray]], list[np.ndarray]]) -> np.ndarray:
    """The models' previews: rows_of(num examples of `source`) as rows of one picture,
    at most 16 columns (8 for images of 128 px or more) so it stays viewable, small images
    upscaled to 64 px.

    Returns:
      uint8 [H', W', 3].
    """
    from tf_gans import visualize
    height = self.image_shape[0]
    num = max(1, min(num, 8 if height >= 128 else 16))
    rows = rows_of(source.take(num, seed=seed))
    grid = visualize.image_grid(np.concatenate(rows), rows=len(rows))
    return visualize.upscale(grid, max(1, 64 // height))


class TwoDomainGAN(ImageTranslator, GANModel):
  """Base class of unpaired two-domain translation GANs.

  Subclasses implement :meth:`consistency_loss` (and list its metrics in
  :meth:`consistency_metric_names`).

  Args:
    generator_ab: Maps domain-A images to domain B.
    generator_ba: Maps domain-B images to domain A.
    discriminator_a: Scores domain-A images (real A vs generator_ba's output); any
      output shape (a PatchGAN map or one logit per image).
    discriminator_b: Scores domain-B images.
    image_shape: (H, W, C) of the training images (both domains).
    gan_loss: Adversarial loss, a name from ``tf_gans.losses.GAN_LOSSES``.
    pool_size: Generated images kept per domain for the discriminators (0: none).
    seed: Seed of all randomness in the step.
  """

  network_attributes = ("generator_ab", "generator_ba", "discriminator_a", "discriminator_b")

  def __init__(self, generator_ab: keras.Model, generator_ba: keras.Model,
               discriminator_a: keras.Model, discriminator_b: keras.Model, *,
               image_shape: tuple[int, int, int], gan_loss: str = "least_squares",
               pool_size: int = 0, seed: int = 0, **kwargs: Any):
    kwargs.pop("real_batches_per_step", None)
    super().__init__(seed=seed, **kwargs)
    self.generator_loss_fn = losses.get_gan_loss(gan_loss)[1]
    self.gan_loss = gan_loss
    self.generator_ab, self.generator_ba = generator_ab, generator_ba
    self.discriminator_a, self.discriminator_b = discriminator_a, discriminator_b
    self.image_shape = tuple(int(s) for s in image_shape)
    self.pool_size = int(pool_size)
    # pool_a keeps generated A images (from generator_ba) for discriminator_a.
    self.pool_a = ImagePool(self.image_shape, self.pool_size, name="pool_a")
    self.pool_b = ImagePool(self.image_shape, self.pool_size, name="pool_b")
    self._scratch = _StepScratch()
    self._translators = _Translators()
    self.build_for_training()

  # -- what subclasses provide -------------------------------------------------------

  def consistency_loss(self, source: tf.Tensor, target: tf.Tensor, fake_target: tf.Tensor,
                       forward: keras.Model, backward: keras.Model,
                       ) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
    """One direction's weighted terms that tie the generators together, and its metrics.

    The generator loss is the sum of this over both directions (A→B and B→A).

    Args:
      source: The batch's images of the direction's source domain.
      target: The batch's images of its target domain (unpaired with source).
      fake_target: ``forward(source)``.
      forward: The direction's generator (source → target domain).
      backward: The other generator (target → source domain).
    """
    raise NotImplementedError

  def consistency_metric_names(self) -> tuple[str, ...]:
    raise NotImplementedError

  def independent_loss(self, source: tf.Tensor, target: tf.Tensor, forward: keras.Model,
                       backward: keras.Model) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
    """One direction's weighted terms that do not involve ``forward(source)`` (CycleGAN's
    identity loss), and their metrics; arguments as in :meth:`consistency_loss`.

    The step differentiates them on their own, so their generator passes' activations
    are never held together with the rest of the direction's. Only called when
    :meth:`independent_metric_names` lists metrics.
    """
    raise NotImplementedError

  def independent_metric_names(self) -> tuple[str, ...]:
    return ()

  # -- configuration -----------------------------------------------------------------

  def get_config(self) -> dict[str, Any]:
    return {**super().get_config(), "image_shape": self.image_shape, "gan_loss": self.gan_loss,
            "pool_size": self.pool_size}

  # -- the step ----------------------------------------------------------------------

  def update_groups(self) -> list[UpdateGroup]:
    return [
        # Differentiated part after part (each direction, then its independent terms):
        # the same gradient as the whole loss. At 256 px the step's peak tensor memory is
        # 936 MiB against 1,163 MiB for one tape over the whole loss, for a step 4 %
        # slower (benchmarks/update_order.py).
        UpdateGroup("generator", self._generator_loss,
                    lambda: [*self.generator_ab.trainable_variables,
                             *self.generator_ba.trainable_variables],
                    metric_names=("adversarial_loss", *self.consistency_metric_names(),
                                  *self.independent_metric_names()),
                    parts=self._generator_loss_parts()),
        UpdateGroup("discriminator", self._discriminator_loss,
                    lambda: [*self.discriminator_a.trainable_variables,
                             *self.discriminator_b.trainable_variables],
                    metric_names=("discriminator_a_loss", "discriminator_b_loss")),
    ]

  def _generator_loss_parts(self):
    parts = []
    for direction in DIRECTIONS:
      parts.append(functools.partial(self._direction_loss, direction=direction))
      if self.independent_metric_names():
        parts.append(functools.partial(self._independent_loss, direction=direction))
    return tuple(parts)

  def _direction_parts(self, batch, direction):
    """(source, target, forward, backward, critic) of one direction."""
    if direction == "a_to_b":
      return batch["a"], batch["b"], self.generator_ab, self.generator_ba, self.discriminator_b
    return batch["b"], batch["a"], self.generator_ba, self.generator_ab, self.discriminator_a

  def _independent_loss(self, batch, repeat, direction):
    del repeat
    source, target, forward, backward, _ = self._direction_parts(batch, direction)
    return self.independent_loss(source, target, forward, backward)

  def _direction_loss(self, batch, repeat, direction):
    del repeat
    source, target, forward, backward, critic = self._direction_parts(batch, direction)
    fake = forward(source, training=True)
    adversarial = self.generator_loss_fn(critic(fake, training=True))
    consistency, metrics = self.consistency_loss(source, target, fake, forward, backward)
    # The discriminators learn from these very images (the reference code's order:
    # forward, generator update, discriminator update on the same fakes).
    self._scratch.keep(direction, tf.stop_gradient(fake))
    return adversarial + consistency, {"adversarial_loss": adversarial, **metrics}

  def _generator_loss(self, batch, repeat):
    total, metrics = 0.0, {}
    for part in self._generator_loss_parts():
      loss, part_metrics = part(batch, repeat)
      total += loss
      metrics = sum_metrics(metrics, part_metrics)
    return total, metrics

  def _discriminator_score_loss(self, real_scores, fake_scores):
    return halved_discriminator_loss(self.gan_loss, real_scores, fake_scores)

  def _discriminator_loss(self, batch, repeat):
    del repeat
    real_a, real_b = batch["a"], batch["b"]
    fakes = self._scratch.take()
    if fakes is not None:
      fake_a, fake_b = fakes
    else:  # the discriminator group used on its own
      fake_a = tf.stop_gradient(self.generator_ba(real_b, training=True))
      fake_b = tf.stop_gradient(self.generator_ab(real_a, training=True))
    if self.pool_size:
      n = tf.shape(real_a)[0]
      draw = lambda salt: self.replica_random(n, [], salt, "uniform")
      fake_a = self.pool_a.query(fake_a, draw(_SALT_POOL_A_SWAP), draw(_SALT_POOL_A_SLOT))
      fake_b = self.pool_b.query(fake_b, draw(_SALT_POOL_B_SWAP), draw(_SALT_POOL_B_SLOT))
    loss_a = self._discriminator_score_loss(self.discriminator_a(real_a, training=True),
                                            self.discriminator_a(fake_a, training=True))
    loss_b = self._discriminator_score_loss(self.discriminator_b(real_b, training=True),
                                            self.discriminator_b(fake_b, training=True))
    return loss_a + loss_b, {"discriminator_a_loss": loss_a, "discriminator_b_loss": loss_b}

  # -- inference ---------------------------------------------------------------------

  def direction_networks(self) -> dict[str, str]:
    return {"a_to_b": "generator_ab", "b_to_a": "generator_ba"}

  def preview(self, source: Any, num: int = 8, seed: int = 0, **kwargs: Any) -> np.ndarray:
    """A picture of six rows: a, G(a), F(G(a)), b, F(b), G(F(b)) (:meth:`preview_grid`)."""
    def rows(data):
      a, b = data["a"], data["b"]
      ab = self.translate_numpy(a, "a_to_b")
      ba = self.translate_numpy(b, "b_to_a")
      return [a, ab, self.translate_numpy(ab, "b_to_a"), b, ba,
              self.translate_numpy(ba, "a_to_b")]
    return self.preview_grid(source, num, seed, rows)


# ---------------------------------------------------------------------------------------
# Configuration shared by translation models.
# ---------------------------------------------------------------------------------------


@dataclasses.dataclass
class TranslationConfig(TrainConfig):
  """Settings every two-domain translation run has; None = the model's default."""

  dataset: str = dataset_option(
      "digits_recolour", "Two unpaired domains: digits_recolour (embedded, known ground "
      "truth), unpaired_folder (--data_dir with trainA/ trainB/ testA/ testB/) or "
      "cycle_gan/<name> (TFDS, e.g. cycle_gan/horse2zebra).")
  image_size: int | None = option(None, "Training crop size; default 256 for image files "
                                  "(CycleGAN; 64 for DiscoGAN), 32 for digits_recolour.", ge=8)
  load_size: int = option(0, "Image files are resized to this before the random crop; 0: "
                          "286/256 × image_size (286 at 256 px).", ge=0)
  flip: bool = option(True, "Random horizontal flips of training images from files.")
  gan_loss: str | None = option(None, "Adversarial loss: least_squares | nonsaturating | "
                                "minimax | hinge | wasserstein.", choices=tuple(losses.GAN_LOSSES))
  learning_rate: float | None = option(None, "Adam learning rate; default 2e-4.", gt=0.0)
  beta_1: float | None = option(None, "Adam β1; default 0.5.", ge=0.0, lt=1.0)
  beta_2: float | None = option(None, "Adam β2; default 0.999.", ge=0.0, lt=1.0)
  lr_decay_start: float | None = lr_decay_start_option(None)
  lr_decay_steps: int | None = lr_decay_steps_option()
  pool_size: int | None = option(None, "Generated images kept per domain and shown to the "
                                 "discriminators (image pool); 0 disables it.", ge=0)
  generator_filters: int = option(64, "Filters of the generators' first layer.", ge=1)
  discriminator_filters: int = option(64, "Filters of the discriminators' first layer.", ge=1)
  norm: str | None = option(None, "Normalisation in the networks: instance | batch | none.",
                            choices=NORMS)
  memory_saving_layers: bool = option(
      True, "Instance norms and the ResNet generator's stride-1 convolutions as layers with "
      "hand-written gradients that need less memory (tf_gans/lean_layers.py: a 256 px "
      "CycleGAN run 2.5 instead of 4.1 GiB on a CPU); the same weights, so it may change "
      "between runs. --nomemory_saving_layers uses Keras's own layers.")

  # Defaults that differ between the models; subclasses override.
  _defaults = {"gan_loss": "least_squares", "learning_rate": 2e-4, "beta_1": 0.5,
               "beta_2": 0.999, "lr_decay_start": 0.5, "pool_size": 50, "norm": "instance",
               "file_image_size": 256, "digits_image_size": 32}

  def data_options(self) -> dict[str, Any]:
    """Data settings passed to the dataset builder (tf_gans.training.build)."""
    return {"load_size": self.load_size, "flip": self.flip}

  def resolve(self) -> "TranslationConfig":
    check_fields(self)
    defaults = self._defaults
    for name in ("gan_loss", "learning_rate", "beta_1", "beta_2", "lr_decay_start", "pool_size",
                 "norm"):
      if getattr(self, name) is None:
        setattr(self, name, defaults[name])
    if self.image_size is None:
      self.image_size = (defaults["digits_image_size"] if self.dataset.startswith("digits_")
                         else defaults["file_image_size"])
    if self.load_size and self.load_size < self.image_size:
      raise ValueError(f"load_size {self.load_size} is smaller than image_size "
                       f"{self.image_size}; it must be at least as large (0: automatic)")
    resolve_lr_decay(self)
    if self.dataset == "paired_folder" and not self.data_dir:
      raise ValueError(
          "no training data: pass --data_dir=DATA where DATA holds train/ (each file A and "
          "B side by side) or trainA/ and trainB/ with matching file names; for an offline "
          "run on embedded data use --dataset=digits_thicken_paired")
    if self.dataset == "unpaired_folder" and not self.data_dir:
      # Stop before anything is built, with the way out.
      raise ValueError(
          "no training data: pass --data_dir=DATA where DATA holds trainA/ and trainB/ "
          "folders of images (or --dataset=cycle_gan/horse2zebra --data_dir=TFDS_DIR); for "
          "an offline run on embedded data use --flagfile=configs/cyclegan_quick.flags or "
          "--dataset=digits_recolour")
    super().resolve()
    return self


def check_unet_and_patchgan(config: Any) -> None:
  """Fills in the U-Net's default halvings (a 1×1 bottleneck) and checks that the image
  size suits the U-Net (when it is the generator) and the PatchGAN.

  Raises:
    ValueError: naming the sizes and the flag to change.
  """
  from tf_gans.networks.unet import default_num_downs
  if config.unet_downs is None:
    config.unet_downs = default_num_downs(config.image_size)
  if getattr(config, "generator", "unet") == "unet" and config.image_size % (2 ** config.unet_downs):
    raise ValueError(f"a U-Net with {config.unet_downs} halvings needs image_size divisible by "
                     f"{2 ** config.unet_downs}, got {config.image_size}")
  check_patchgan(config)


def check_patchgan(config: Any) -> None:
  """Checks that the image size suits the PatchGAN; ValueError naming the flag to change."""
  smallest = 2 ** (config.discriminator_layers + 2)
  if config.image_size < smallest:
    raise ValueError(f"a PatchGAN with {config.discriminator_layers} stride-2 layers needs "
                     f"images of at least {smallest} px; got image_size {config.image_size}; "
                     "lower --discriminator_layers")


def check_translation_source(model: str, source: Any) -> tuple[int, int, int]:
  """The image shape of a two-domain source; ValueError for other data."""
  if source.kind != "image_pairs":
    raise ValueError(f"{model} translates between two image domains; dataset {source.name!r} "
                     f"holds {source.kind}. Use {FILE_DATASETS_HINT}")
  return tuple(int(s) for s in source.info["image_shape"])


def build_two_domain(gan_class: type, config: TranslationConfig, source: Any,
                     generator: Callable[[int, str], keras.Model],
                     discriminator: Callable[[int, str], keras.Model],
                     **settings: Any) -> TwoDomainGAN:
  """A translation GAN for the source's images: two generators, two discriminators.

  Args:
    gan_class: The TwoDomainGAN subclass.
    config: The run's config (its model names the GAN; gan_loss, pool_size, seed).
    source: Two image domains.
    generator, discriminator: ``fn(channels, name) -> keras.Model``.
    **settings: The subclass's own constructor arguments.

  Raises:
    ValueError: for data that are not two image domains.
  """
  shape = check_translation_source(config.model, source)
  keras.utils.set_random_seed(config.seed)
  channels = shape[-1]
  return gan_class(generator(channels, "generator_ab"), generator(channels, "generator_ba"),
                   discriminator(channels, "discriminator_a"),
                   discriminator(channels, "discriminator_b"), image_shape=shape,
                   gan_loss=config.gan_loss, pool_size=config.pool_size, seed=config.seed,
                   name=config.model, **settings)


def translation_optimizers(config: TranslationConfig) -> dict[str, keras.optimizers.Optimizer]:
  """Adam for each group, constant then linearly decayed to 0 (CycleGAN's schedule), with
  PyTorch's Adam epsilon as both reference codes use."""
  return gan_optimizers(config, epsilon=1e-8, always_schedule=True)
