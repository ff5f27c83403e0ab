"""Layers the networks share, built on Keras 3's own layers (no tensorflow-addons)."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


def instance_norm(epsilon: float = 1e-5, name: str | None = None) -> keras.layers.Layer:
  """Instance normalisation without affine parameters.

  ``GroupNormalization(groups=-1)`` normalises every channel of every example on its own,
  which is instance normalisation; ``center=False, scale=False, epsilon=1e-5`` matches
  PyTorch's ``InstanceNorm2d(affine=False)`` that CycleGAN's reference code uses. Keras
  computes its statistics in float32 under a mixed policy.
  """
  return keras.layers.GroupNormalization(groups=-1, center=False, scale=False,
                                         epsilon=epsilon, name=name)


@keras.saving.register_keras_serializable(package="tf_gans")
class ReflectionPadding2D(keras.layers.Layer):
  """Pads height and width by mirroring the border (CycleGAN's ResNet generator)."""

  def __init__(self, padding: int = 1, **kwargs: Any):
    super().__init__(**kwargs)
    self.padding = int(padding)

  def call(self, x):
    p = self.padding
    return ops.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], mode="reflect")

  def compute_output_shape(self, input_shape):
    n, h, w, c = input_shape
    p = 2 * self.padding
    return (n, None if h is None else h + p, None if w is None else w + p, c)

  def get_config(self):
    return {**super().get_config(), "padding": self.padding}


@keras.saving.register_keras_serializable(package="tf_gans")
class ClipConstraint(keras.constraints.Constraint):
  """Clips every weight to [-c, c] after each update: the original WGAN's Lipschitz bound.

  Arjovsky et al. (2017) clip all critic parameters to [-0.01, 0.01]. As a Keras
  constraint the optimizer applies it right after its update, on every replica.
  """

  def __init__(self, clip_value: float = 0.01):
    if clip_value <= 0:
      raise ValueError(f"clip_value must be positive, got {clip_value}")
    self.clip_value = float(clip_value)

  def __call__(self, w):
    return ops.clip(w, -self.clip_value, self.clip_value)

  def get_config(self):
    return {"clip_value": self.clip_value}


def normal_init(stddev: float = 0.02, seed: int | None = None) -> keras.initializers.Initializer:
  """N(0, stddev) weights, the DCGAN and CycleGAN papers' initialisation."""
  return keras.initializers.RandomNormal(mean=0.0, stddev=stddev, seed=seed)
