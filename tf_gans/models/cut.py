"""Contrastive unpaired translation: CUT and FastCUT.

Park, Efros, Zhang & Zhu 2020, "Contrastive Learning for Unpaired Image-to-Image
Translation" (ECCV). One generator G: A → B and one discriminator D on B; no inverse
generator and no cycle loss. Content is kept by a *patchwise contrastive* loss instead:
features of a patch of the output G(a), taken from G's own encoder and a small MLP
head, must match the features of the input patch at the same place better than those
of the other patches of the image (:func:`tf_gans.losses.patch_nce_loss`, summed over
several encoder layers):

    L = L_GAN(G, D) + λ_X L_PatchNCE(G, H, X) + λ_Y L_PatchNCE(G, H, Y)

The second term, on b and G(b), acts like CycleGAN's identity loss. No second generator
has to invert G, so the cycle loss's hiding place is gone: the failure Chu et al. 2017
("CycleGAN, a Master of Steganography") show, which ``tools/evaluate.py`` measures for
two-way models. (A large NCE weight can still find a shortcut of the kind inside G's own
encoder: on the embedded digits λ = 4 keeps 4 % of the digits, benchmarks/README.md.)

Defaults are the authors' code's (taesungp/contrastive-unpaired-translation,
``--CUT_mode CUT``): least-squares GAN loss, λ_X = λ_Y = 1 (the two NCE terms
averaged), features of five generator layers, 256 patches per layer and image,
τ = 0.07, an MLP head of 256 units, the ResNet-9 generator and 70×70 PatchGAN with
instance norm, no image pool, Adam 2e-4 with β = (0.5, 0.999), batch 1, 400 epochs of
which the last 200 decay linearly. ``--cut_mode=fastcut`` is FastCUT: no identity NCE,
λ_X = 10, flip-equivariance (the input is mirrored on a coin flip and the output's
features are mirrored back before the loss), 150 + 50 epochs. The step updates D
first, then G and the head together (one optimizer group: Adam is per-parameter, so it
equals the reference's two Adams of the same settings); both groups compute G(a) with
the same weights and the same flip, so D learns on the image G is judged by.

Difference from the reference: tf_gans's ResNet generator samples with strided and
transposed convolutions (the reference's ``--no_antialias --no_antialias_up``); the
reference's default blurs before subsampling. The NCE layers are the ones the default
picks by position: the padded input image, the two downsampling convolutions (before
their norms) and the outputs of residual blocks 1 and 5 — the first downsampling
convolution's features are at half resolution here, at full resolution there.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import keras
import numpy as np
import tensorflow as tf

from tf_gans import evaluation, losses
from tf_gans.config import batch_size_option, dataset_option, model_option, option
from tf_gans.models import registry
from tf_gans.models.base import GANModel, UpdateGroup
from tf_gans.models.translation import (ImageTranslator, TranslationConfig, _Translators,
                                        check_patchgan, check_translation_source,
                                        halved_discriminator_loss, translation_optimizers)
from tf_gans.networks.patchgan import patchgan_discriminator
from tf_gans.networks.projector import patch_projector
from tf_gans.networks.resnet import resnet_generator

# Salts of the step's random draws: the flip coin, then one patch draw per feature layer
# for the A → B term and one for the identity term.
_SALT_FLIP, _SALT_PATCHES, _SALT_PATCHES_IDENTITY = 0, 1 << 8, 2 << 8
MODES = ("cut", "fastcut")
# cut_mode -> (nce_weight, nce_identity, flip_equivariance, lr_decay_start), from the
# reference's --CUT_mode presets (FastCUT: 150 epochs + 50 decaying).
_MODE_DEFAULTS = {"cut": (1.0, True, False, 0.5), "fastcut": (10.0, False, True, 0.75)}


class _Encoder:
  """G's encoder features as a model sharing G's layers. A plain object, which Keras and
  TensorFlow do not track: its variables are G's, saved and exported once, with G."""

  def __init__(self, model: keras.Model):
    self.model = model


def default_nce_layers(generator_filters: int, num_res_blocks: int) -> tuple[str, ...]:
  """The layers of tf_gans's ResNet generator at the reference's default positions
  (``--nce_layers 0,4,8,12,16``): the padded input, both downsampling convolutions and
  residual blocks 1 and 5 (the last block when there are fewer)."""
  names = ["c7s1_pad", f"d{2 * generator_filters}", f"d{4 * generator_filters}"]
  if num_res_blocks:
    names += [f"r{min(b, num_res_blocks - 1)}_add" for b in (0, 4)]
  return tuple(dict.fromkeys(names))


@keras.saving.register_keras_serializable(package="tf_gans")
class CUT(ImageTranslator, GANModel):
  """A generator, a discriminator and a patch projection head trained with PatchNCE.

  Args:
    generator: Maps A images [N, H, W, C] to B images; a functional model holding the
      layers `feature_layers` names.
    discriminator: Scores B images (a PatchGAN map or one logit per image).
    projector: :func:`~tf_gans.networks.projector.patch_projector` for those layers.
    image_shape: (H, W, C) of the training images.
    feature_layers: Names of the generator layers whose outputs the NCE loss compares.
    gan_loss: Adversarial loss, a name from ``tf_gans.losses.GAN_LOSSES``.
    nce_weight: λ_X (and λ_Y), the weight of the PatchNCE loss (1; FastCUT 10).
    nce_identity: Also apply PatchNCE to b and G(b), averaged with the A term (CUT).
    flip_equivariance: Mirror the generator's input on a coin flip per step and the
      output's features back before the NCE loss (FastCUT).
    num_patches: Patches sampled per layer and image (256).
    temperature: τ of the NCE loss (0.07).
    seed: Seed of all randomness in the step (patch positions, flips).
  """

  network_attributes = ("generator", "discriminator", "projector")
  progress_metrics = (("g_loss", "generator_loss"), ("nce", "nce_loss"))

  def __init__(self, generator: keras.Model, discriminator: keras.Model,
               projector: keras.Model, *, image_shape: tuple[int, int, int],
               feature_layers: Sequence[str], gan_loss: str = "least_squares",
               nce_weight: float = 1.0, nce_identity: bool = True,
               flip_equivariance: bool = False, num_patches: int = 256,
               temperature: float = 0.07, seed: int = 0, **kwargs: Any):
    kwargs.pop("real_batches_per_step", None)
    if nce_weight < 0 or num_patches < 1 or temperature <= 0:
      raise ValueError(f"CUT needs nce_weight >= 0, num_patches >= 1 and temperature > 0; "
                       f"got {nce_weight}, {num_patches}, {temperature}")
    known = {layer.name for layer in generator.layers}
    missing = [name for name in feature_layers if name not in known]
    if not feature_layers or missing:
      raise ValueError(f"the generator has no layer {', '.join(missing) or '(none given)'} "
                       f"for the NCE loss; its layers: {', '.join(sorted(known))}")
    super().__init__(seed=seed, **kwargs)
    self.generator_loss_fn = losses.get_gan_loss(gan_loss)[1]
    self.generator, self.discriminator, self.projector = generator, discriminator, projector
    self.image_shape = tuple(int(s) for s in image_shape)
    self.feature_layers = tuple(feature_layers)
    self.gan_loss, self.nce_weight = gan_loss, float(nce_weight)
    self.nce_identity, self.flip_equivariance = bool(nce_identity), bool(flip_equivariance)
    self.num_patches, self.temperature = int(num_patches), float(temperature)
    self._encoder = _Encoder(keras.Model(
        generator.inputs, [generator.get_layer(name).output for name in self.feature_layers],
        name=f"{generator.name}_encoder"))
    self._translators = _Translators()
    self.build_for_training()

  def get_config(self) -> dict[str, Any]:
    return {**super().get_config(), "image_shape": self.image_shape,
            "feature_layers": list(self.feature_layers), "gan_loss": self.gan_loss,
            "nce_weight": self.nce_weight, "nce_identity": self.nce_identity,
            "flip_equivariance": self.flip_equivariance, "num_patches": self.num_patches,
            "temperature": self.temperature}

  def direction_networks(self) -> dict[str, str]:
    return {"a_to_b": "generator"}

  # -- the step ----------------------------------------------------------------------

  def update_groups(self) -> list[UpdateGroup]:
    metrics = ("adversarial_loss", "nce_loss") + (("nce_identity_loss",)
                                                  if self.nce_identity else ())
    return [
        UpdateGroup("discriminator", self._discriminator_loss,
                    lambda: self.discriminator.trainable_variables),
        UpdateGroup("generator", self._generator_loss,
                    lambda: [*self.generator.trainable_variables,
                             *self.projector.trainable_variables],
                    metric_names=metrics),
    ]

  def _flip(self) -> tf.Tensor:
    """This step's coin (False without flip-equivariance); the same in both groups and on
    every replica."""
    if not self.flip_equivariance:
      return tf.constant(False)
    return tf.random.stateless_uniform([], self._seed_for(_SALT_FLIP)) < 0.5

  @staticmethod
  def _mirror(x, flip):
    return tf.cond(flip, lambda: tf.reverse(x, axis=[2]), lambda: x)

  def _translate(self, images, flip):
    return self.generator(self._mirror(images, flip), training=True)

  def _features(self, images) -> list[tf.Tensor]:
    features = self._encoder.model(images, training=True)
    return list(features) if isinstance(features, (list, tuple)) else [features]

  def _project(self, features: list[tf.Tensor]) -> list[tf.Tensor]:
    projected = self.projector(features, training=True)
    projected = list(projected) if isinstance(projected, (list, tuple)) else [projected]
    projected = [tf.cast(p, tf.float32) for p in projected]
    # The reference's Normalize: x / (‖x‖ + 1e-7).
    return [p / (tf.norm(p, axis=-1, keepdims=True) + 1e-7) for p in projected]

  def _patches(self, features: list[tf.Tensor], salt: int) -> list[tf.Tensor]:
    """The positions of num_patches patches per layer (all when there are fewer), one
    draw per layer shared by the batch, as the reference draws them."""
    positions = []
    for i, f in enumerate(features):
      count = tf.shape(f)[1] * tf.shape(f)[2]
      order = tf.argsort(tf.random.stateless_uniform([count], self._seed_for(salt + i)))
      positions.append(order[:self.num_patches])
    return positions

  @staticmethod
  def _gather(features, positions):
    out = []
    for f, p in zip(features, positions):
      flat = tf.reshape(f, [tf.shape(f)[0], -1, f.shape[-1]])
      out.append(tf.gather(flat, p, axis=1))
    return out

  def nce_loss(self, source, output, flip, salt: int = _SALT_PATCHES) -> tf.Tensor:
    """PatchNCE between an input batch and its translation (made from the input
    mirrored when `flip`), averaged over the feature layers."""
    keys = self._features(source)
    queries = [self._mirror(q, flip) for q in self._features(output)]
    positions = self._patches(keys, salt)
    keys = self._project(self._gather(keys, positions))
    queries = self._project(self._gather(queries, positions))
    per_layer = [losses.patch_nce_loss(q, k, self.temperature) for q, k in zip(queries, keys)]
    return tf.add_n(per_layer) / len(per_layer)

  def _discriminator_loss(self, batch, repeat):
    del repeat
    fake = tf.stop_gradient(self._translate(batch["a"], self._flip()))
    real_scores = self.discriminator(batch["b"], training=True)
    fake_scores = self.discriminator(fake, training=True)
    return halved_discriminator_loss(self.gan_loss, real_scores, fake_scores), {}

  def _generator_loss(self, batch, repeat):
    del repeat
    a, b, flip = batch["a"], batch["b"], self._flip()
    fake = self._translate(a, flip)
    adversarial = self.generator_loss_fn(self.discriminator(fake, training=True))
    nce = self.nce_loss(a, fake, flip)
    metrics = {"adversarial_loss": adversarial, "nce_loss": nce}
    if self.nce_identity:
      identity = self.nce_loss(b, self._translate(b, flip), flip, _SALT_PATCHES_IDENTITY)
      metrics["nce_identity_loss"] = identity
      nce = 0.5 * (nce + identity)
    return adversarial + self.nce_weight * nce, metrics

  # -- pictures ----------------------------------------------------------------------

  def preview(self, source: Any, num: int = 8, seed: int = 0, **kwargs: Any) -> np.ndarray:
    """Four rows: a, G(a), b, G(b) (G should leave b alone; :meth:`preview_grid`)."""
    return self.preview_grid(source, num, seed, lambda data: [
        data["a"], self.translate_numpy(data["a"]), data["b"], self.translate_numpy(data["b"])])


@dataclasses.dataclass
class CUTConfig(TranslationConfig):
  """Settings of a CUT or FastCUT run; defaults are the authors' code's."""

  model: str = model_option("cut")
  dataset: str = dataset_option(
      "digits_thicken", "Two unpaired domains: digits_thicken or digits_recolour (embedded, "
      "known ground truth), unpaired_folder (--data_dir with trainA/ trainB/ testA/ testB/) "
      "or cycle_gan/<name> (TFDS, e.g. cycle_gan/horse2zebra).")
  batch_size: int = batch_size_option(1, "Global batch (1 in the paper).")
  cut_mode: str = option("cut", "cut: PatchNCE on A and on B (identity), weight 1; fastcut: "
                         "on A only, weight 10, flip-equivariance, 150 + 50 epochs. Sets the "
                         "defaults of the four settings below.", choices=MODES)
  nce_weight: float | None = option(None, "λ, weight of the PatchNCE loss; default 1 (cut), "
                                    "10 (fastcut).", ge=0.0)
  nce_identity: bool | None = option(None, "Also PatchNCE between b and G(b); default on "
                                     "for cut, off for fastcut.")
  flip_equivariance: bool | None = option(None, "Mirror G's input on a coin flip and the "
                                          "output's features back; default on for fastcut.")
  nce_layers: str = option("", "Comma-separated generator layers for PatchNCE; empty: the "
                           "padded input, both downsampling convolutions, residual blocks 1 "
                           "and 5.")
  num_patches: int = option(256, "Patches sampled per layer and image.", ge=1)
  nce_temperature: float = option(0.07, "τ of the PatchNCE loss.", gt=0.0)
  projection_units: int = option(256, "Units of the MLP head's two layers.", ge=1)
  num_res_blocks: int = option(9, "Residual blocks of the ResNet generator (9 in CUT at "
                               "every size).", ge=0)
  discriminator_layers: int = option(3, "Stride-2 layers of the PatchGAN (3: 70×70 patches; "
                                     "needs images of at least 32 px).", ge=1)

  _defaults = {**TranslationConfig._defaults, "pool_size": 0}

  def resolve(self) -> "CUTConfig":
    weight, identity, flip, decay_start = _MODE_DEFAULTS[self.cut_mode]
    for name, value in (("nce_weight", weight), ("nce_identity", identity),
                        ("flip_equivariance", flip), ("lr_decay_start", decay_start)):
      if getattr(self, name) is None:
        setattr(self, name, value)
    super().resolve()
    if self.pool_size:
      raise ValueError("CUT keeps no pool of generated images (the reference code uses "
                       "none); drop --pool_size")
    if self.image_size % 4:
      raise ValueError(f"the ResNet generator halves the image twice: image_size must be a "
                       f"multiple of 4, got {self.image_size}")
    check_patchgan(self)
    if not self.nce_layers:
      self.nce_layers = ",".join(default_nce_layers(self.generator_filters,
                                                    self.num_res_blocks))
    return self


def build_cut(config: CUTConfig, source: Any) -> CUT:
  """The networks for the source's images, then the GAN (not compiled).

  Raises:
    ValueError: for data that are not two image domains, or unknown NCE layers.
  """
  shape = check_translation_source(config.model, source)
  keras.utils.set_random_seed(config.seed)
  channels = shape[-1]
  generator = resnet_generator(channels, config.generator_filters, config.num_res_blocks,
                               config.norm, name="generator",
                               memory_saving=config.memory_saving_layers)
  discriminator = patchgan_discriminator(channels, config.discriminator_filters,
                                         config.discriminator_layers, config.norm,
                                         name="discriminator",
                                         memory_saving=config.memory_saving_layers)
  layers = [name.strip() for name in config.nce_layers.split(",") if name.strip()]
  known = {layer.name: layer for layer in generator.layers}
  missing = [name for name in layers if name not in known]
  if missing:
    raise ValueError(f"--nce_layers names no layer of the generator: {', '.join(missing)}; "
                     f"e.g. {','.join(default_nce_layers(config.generator_filters, config.num_res_blocks))}")
  projector = patch_projector([known[name].output.shape[-1] for name in layers],
                              config.projection_units, name="projector")
  return CUT(generator, discriminator, projector, image_shape=shape, feature_layers=layers,
             gan_loss=config.gan_loss, nce_weight=config.nce_weight,
             nce_identity=config.nce_identity, flip_equivariance=config.flip_equivariance,
             num_patches=config.num_patches, temperature=config.nce_temperature,
             seed=config.seed, name=config.model)


registry.register(registry.ModelSpec(
    name="cut", config_cls=CUTConfig, build=build_cut, optimizers=translation_optimizers,
    description="CUT / FastCUT: one-sided unpaired translation with a patchwise "
                "contrastive loss.",
    evaluate=evaluation.evaluate_translation))
