"""Multilayer perceptrons for 2-D toy distributions.

The WGAN-GP reference toy code (Gulrajani et al. 2017, ``gan_toy.py``) uses a generator
and a critic of three 512-unit ReLU layers on 2-D noise; those are the defaults here.
"""

from __future__ import annotations

from typing import Any

import keras

from tf_gans.layers import ClipConstraint


def _lipschitz_dense(units: int, lipschitz: str, clip_value: float, name: str,
                     activation: str | None = None) -> keras.layers.Layer:
  constraint = ClipConstraint(clip_value) if lipschitz == "clip" else None
  layer = keras.layers.Dense(units, activation=activation, kernel_constraint=constraint,
                             bias_constraint=constraint, name=name)
  if lipschitz == "spectral":
    layer = keras.layers.SpectralNormalization(layer, name=f"{name}_sn")
  return layer


class _MLP(keras.Model):
  """Hidden layers (``self.hidden_layers``) then an output layer (``self.out``); the
  subclasses build them eagerly (``self.build((None, input_width))``)."""

  def build(self, input_shape):
    shape = input_shape
    for layer in self.hidden_layers:
      layer.build(shape)
      shape = (shape[0], self.hidden)
    self.out.build(shape)
    self.built = True


@keras.saving.register_keras_serializable(package="tf_gans")
class MLPGenerator(_MLP):
  """z -> hidden ReLU layers -> a point in R^output_dim."""

  def __init__(self, latent_dim: int = 2, output_dim: int = 2, hidden: int = 512,
               depth: int = 3, **kwargs: Any):
    super().__init__(**kwargs)
    self.latent_dim, self.output_dim = latent_dim, output_dim
    self.hidden, self.depth = hidden, depth
    self.hidden_layers = [keras.layers.Dense(hidden, activation="relu", name=f"dense_{i}")
                          for i in range(depth)]
    self.out = keras.layers.Dense(output_dim, dtype="float32", name="out")
    self.build((None, latent_dim))

  def call(self, z, training=False):
    h = z
    for layer in self.hidden_layers:
      h = layer(h)
    return self.out(h)

  def get_config(self):
    return {**super().get_config(), "latent_dim": self.latent_dim,
            "output_dim": self.output_dim, "hidden": self.hidden, "depth": self.depth}


@keras.saving.register_keras_serializable(package="tf_gans")
class MLPCritic(_MLP):
  """A point -> hidden ReLU layers -> one unbounded score.

  Args:
    lipschitz: "gp" or "none" (plain layers), "clip" (weights clipped to ±clip_value
      after each update) or "spectral" (spectrally normalised layers).
  """

  def __init__(self, input_dim: int = 2, hidden: int = 512, depth: int = 3,
               lipschitz: str = "gp", clip_value: float = 0.01, **kwargs: Any):
    super().__init__(**kwargs)
    self.input_dim, self.hidden, self.depth = input_dim, hidden, depth
    self.lipschitz, self.clip_value = lipschitz, clip_value
    self.hidden_layers = [_lipschitz_dense(hidden, lipschitz, clip_value, f"dense_{i}", "relu")
                          for i in range(depth)]
    self.out = _lipschitz_dense(1, lipschitz, clip_value, "out")
    self.build((None, input_dim))

  def call(self, x, training=False):
    h = x
    for layer in self.hidden_layers:
      h = layer(h, training=training) if self.lipschitz == "spectral" else layer(h)
    out = self.out(h, training=training) if self.lipschitz == "spectral" else self.out(h)
    return keras.ops.cast(out[:, 0], "float32")

  def get_config(self):
    return {**super().get_config(), "input_dim": self.input_dim, "hidden": self.hidden,
            "depth": self.depth, "lipschitz": self.lipschitz, "clip_value": self.clip_value}
