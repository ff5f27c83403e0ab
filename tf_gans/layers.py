"""Layers the networks share, built on Keras 3's own layers (no tensorflow-addons).

Two of them have a memory-saving version with hand-written gradients
(:mod:`tf_gans.lean_layers`); :func:`conv2d_valid` and :func:`instance_norm` return it or
the plain Keras layer, as the ``memory_saving`` argument (a run's
``--memory_saving_layers``) says.
"""

from __future__ import annotations

from typing import Any, Callable

import keras
from keras import ops

# The memory-saving layers, importable from here as before.
from tf_gans.lean_layers import InstanceNormalization, ValidConv2D  # noqa: F401


def instance_norm(epsilon: float = 1e-5, name: str | None = None, relu: bool = False,
                  memory_saving: bool = True) -> Callable[[Any], Any]:
  """Instance normalisation without affine parameters (then a ReLU, with `relu`).

  Each channel of each example is normalised over its height and width; epsilon 1e-5
  matches PyTorch's ``InstanceNorm2d(affine=False)`` that CycleGAN's reference code
  uses. `memory_saving`: :class:`~tf_gans.lean_layers.InstanceNormalization`, else
  Keras's ``GroupNormalization(groups=-1, center=False, scale=False)`` (and a ReLU
  layer).

  Returns:
    A callable on a tensor (a layer, or two in a row).
  """
  if memory_saving:
    return InstanceNormalization(epsilon=epsilon, relu=relu, name=name)
  norm = keras.layers.GroupNormalization(groups=-1, center=False, scale=False,
                                         epsilon=epsilon, name=name)
  if not relu:
    return norm
  activation = keras.layers.ReLU(name=None if name is None else f"{name}_relu")
  return lambda x: activation(norm(x))


def conv2d_valid(filters: int, kernel_size: int, memory_saving: bool = True,
                 **kwargs: Any) -> keras.layers.Conv2D:
  """A stride-1 Conv2D with "valid" padding: :class:`~tf_gans.lean_layers.ValidConv2D`
  with `memory_saving`, else Keras's own (the same weights)."""
  layer = ValidConv2D if memory_saving else keras.layers.Conv2D
  return layer(filters, kernel_size, strides=1, padding="valid", **kwargs)


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
