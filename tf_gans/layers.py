"""Layers the networks share, built on Keras 3's own layers (no tensorflow-addons).

Two of them have a memory-saving version with hand-written gradients
(:mod:`tf_gans.lean_layers`); :func:`conv2d_valid` and :func:`instance_norm` return it or
the plain Keras layer, as the ``memory_saving`` argument (a run's
``--memory_saving_layers``) says.
"""

from __future__ import annotations

import contextlib
import threading
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


class _DropoutSeeds(threading.local):
  """The seed the :class:`SeededDropout` layers of a network call draw from.

  Thread-local because MirroredStrategy runs each replica's step in its own thread.
  """

  seed = None


_DROPOUT_SEEDS = _DropoutSeeds()


@contextlib.contextmanager
def dropout_seed(seed: Any):
  """Inside, :class:`SeededDropout` layers called with ``training=True`` draw their masks
  from `seed` (an int64 [2] tensor); two calls with the same seed drop the same units.

  The layers of one network call get distinct streams (each layer's `salt`), and each
  replica keeps its slice of a draw made for the whole global batch, so the masks do not
  depend on how many replicas share the batch.
  """
  previous, _DROPOUT_SEEDS.seed = _DROPOUT_SEEDS.seed, seed
  try:
    yield
  finally:
    _DROPOUT_SEEDS.seed = previous


@keras.saving.register_keras_serializable(package="tf_gans")
class SeededDropout(keras.layers.Layer):
  """Dropout whose masks are a pure function of a seed given by :func:`dropout_seed`.

  pix2pix's only noise source is dropout in the U-Net's decoder. Keras's ``Dropout``
  draws from a stateful seed generator, so a resumed run or a run on two replicas would
  drop other units than the original run; here the mask of example ``j`` of the global
  batch at step ``s`` is fixed by the run seed, ``s``, the layer's salt and ``j``. A call
  with ``training=True`` outside :func:`dropout_seed` draws from TensorFlow's global
  random stream instead. Inverted dropout: kept units are scaled by ``1 / (1 - rate)``.

  Args:
    rate: Fraction of units dropped in training (0.5 in pix2pix).
    salt: Tells the layers of one network apart (< 2**16).
  """

  def __init__(self, rate: float = 0.5, salt: int = 0, **kwargs: Any):
    super().__init__(**kwargs)
    if not 0.0 <= rate < 1.0:
      raise ValueError(f"dropout rate must be in [0, 1), got {rate}")
    self.rate, self.salt = float(rate), int(salt)

  def call(self, inputs, training=False):
    if not training or self.rate == 0.0:
      return inputs
    import tensorflow as tf
    seed = _DROPOUT_SEEDS.seed
    ctx = tf.distribute.get_replica_context()
    replica, replicas = ((0, 1) if ctx is None else
                         (ctx.replica_id_in_sync_group, ctx.num_replicas_in_sync))
    local = tf.shape(inputs)[0]
    shape = tf.concat([[local * replicas], tf.shape(inputs)[1:]], axis=0)
    if seed is None:
      keep = tf.random.uniform(shape) >= self.rate
    else:
      # The layer's salt goes in the high bits of the seed's first (run-seed) half.
      seed = tf.cast(seed, tf.int64) + tf.constant([(self.salt + 1) << 32, 0], tf.int64)
      keep = tf.random.stateless_uniform(shape, seed) >= self.rate
    keep = keep[replica * local:(replica + 1) * local]
    scale = tf.cast(1.0 / (1.0 - self.rate), inputs.dtype)
    return tf.where(keep, inputs * scale, tf.zeros_like(inputs))

  def compute_output_shape(self, input_shape):
    return input_shape

  def get_config(self):
    return {**super().get_config(), "rate": self.rate, "salt": self.salt}
