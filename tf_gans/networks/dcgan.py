"""DCGAN-style convolutional generator and critic for small images (8 to 64 px).

Radford et al. (2016): transposed convolutions with batch norm and ReLU in the
generator, strided convolutions with LeakyReLU(0.2) in the critic, N(0, 0.02) weights.
The critic has no batch norm: the gradient penalty is defined per example, and batch
norm would couple the examples (Gulrajani et al. 2017, section 4).
"""

from __future__ import annotations

from typing import Any

import keras

from tf_gans.layers import ClipConstraint, normal_init


def upsampling_plan(image_size: int) -> tuple[int, int]:
  """Returns (start size, number of ×2 upsamplings) for an image side length.

  Halves the side while the half stays an integer ≥ 4: 8 -> (4, 1), 28 -> (7, 2),
  32 -> (4, 3), 64 -> (4, 4).

  Raises:
    ValueError: if the size is below 4.
  """
  if image_size < 4:
    raise ValueError(f"image size {image_size} is too small; expected at least 4 pixels")
  size, steps = image_size, 0
  while size % 2 == 0 and size // 2 >= 4:
    size //= 2
    steps += 1
  return size, steps


@keras.saving.register_keras_serializable(package="tf_gans")
class DCGANGenerator(keras.Model):
  """z -> dense -> (transposed conv, BN, ReLU) × k -> conv -> tanh image in [-1, 1]."""

  def __init__(self, latent_dim: int = 128, image_shape: tuple[int, int, int] = (32, 32, 3),
               base_channels: int = 64, **kwargs: Any):
    super().__init__(**kwargs)
    self.latent_dim, self.image_shape = int(latent_dim), tuple(int(s) for s in image_shape)
    self.base_channels = int(base_channels)
    start, steps = upsampling_plan(self.image_shape[0])
    self.start_size, self.steps = start, steps
    top = base_channels * 2 ** steps
    # One initializer object per layer: a Keras 3 initializer fixes its seed when
    # created, so a shared one would give every layer the same starting values.
    self.project = keras.layers.Dense(start * start * top, use_bias=False,
                                      kernel_initializer=normal_init(), name="project")
    self.reshape = keras.layers.Reshape((start, start, top))
    # Synchronised across replicas: the statistics are those of the global batch, so
    # several replicas train what one replica trains.
    self.project_norm = keras.layers.BatchNormalization(synchronized=True, name="project_bn")
    self.ups = []
    for i in range(steps):
      ch = base_channels * 2 ** (steps - i - 1)
      self.ups.append((
          keras.layers.Conv2DTranspose(ch, 4, strides=2, padding="same", use_bias=False,
                                       kernel_initializer=normal_init(), name=f"up_{i}"),
          keras.layers.BatchNormalization(synchronized=True, name=f"up_{i}_bn"),
      ))
    self.to_image = keras.layers.Conv2D(self.image_shape[-1], 3, padding="same",
                                        kernel_initializer=normal_init(), name="to_image")
    self.tanh = keras.layers.Activation("tanh", dtype="float32")
    self(keras.ops.zeros((1, self.latent_dim)))

  def call(self, z, training=False):
    h = keras.ops.relu(self.project_norm(self.reshape(self.project(z)), training=training))
    for conv, norm in self.ups:
      h = keras.ops.relu(norm(conv(h), training=training))
    return self.tanh(self.to_image(h))

  def get_config(self):
    return {**super().get_config(), "latent_dim": self.latent_dim,
            "image_shape": self.image_shape, "base_channels": self.base_channels}


@keras.saving.register_keras_serializable(package="tf_gans")
class DCGANCritic(keras.Model):
  """image -> conv 3×3 -> (conv 4×4 stride 2, LeakyReLU 0.2) × k -> dense -> score.

  Args:
    lipschitz: "gp"/"none", "clip" (every weight clipped after each update) or
      "spectral" (spectrally normalised convolutions and dense layer).
  """

  def __init__(self, image_shape: tuple[int, int, int] = (32, 32, 3), base_channels: int = 64,
               lipschitz: str = "gp", clip_value: float = 0.01, **kwargs: Any):
    super().__init__(**kwargs)
    self.image_shape = tuple(int(s) for s in image_shape)
    self.base_channels, self.lipschitz, self.clip_value = int(base_channels), lipschitz, clip_value
    _, steps = upsampling_plan(self.image_shape[0])
    constraint = ClipConstraint(clip_value) if lipschitz == "clip" else None

    def wrap(layer):
      return keras.layers.SpectralNormalization(layer) if lipschitz == "spectral" else layer

    def kw():
      return dict(kernel_initializer=normal_init(), kernel_constraint=constraint,
                  bias_constraint=constraint)

    self.convs = [wrap(keras.layers.Conv2D(base_channels, 3, padding="same", name="conv_in",
                                           **kw()))]
    for i in range(steps):
      self.convs.append(wrap(keras.layers.Conv2D(base_channels * 2 ** (i + 1), 4, strides=2,
                                                 padding="same", name=f"down_{i}", **kw())))
    self.flatten = keras.layers.Flatten()
    self.score = wrap(keras.layers.Dense(1, name="score", **kw()))
    self(keras.ops.zeros((1, *self.image_shape)))

  def _apply(self, layer, h, training):
    if self.lipschitz == "spectral":
      return layer(h, training=training)
    return layer(h)

  def call(self, x, training=False):
    h = x
    for conv in self.convs:
      h = keras.ops.leaky_relu(self._apply(conv, h, training), 0.2)
    out = self._apply(self.score, self.flatten(h), training)
    return keras.ops.cast(out[:, 0], "float32")

  def get_config(self):
    return {**super().get_config(), "image_shape": self.image_shape,
            "base_channels": self.base_channels, "lipschitz": self.lipschitz,
            "clip_value": self.clip_value}
