"""Class-conditional generator G(z|y) and discriminator D(x|y) for small images.

Two ways of telling the networks the label, chosen by ``conditioning``:

* ``concat`` -- Mirza & Osindero (2014), "Conditional Generative Adversarial Nets": a
  label embedding is concatenated to z in the generator, and to the discriminator's
  input (as a learnt per-class feature map beside the image's channels; the keras-io
  example concatenates one-hot channels) and again to its features before the last
  layers.
* ``projection`` -- Miyato & Koyama (2018), "cGANs with Projection Discriminator": the
  discriminator is ``D(x, y) = psi(phi(x)) + <embed(y), phi(x)>``, an unconditional
  score plus the inner product of the label's embedding with the features; the
  generator conditions through class-conditional batch normalisation (de Vries et al.
  2017, "Modulating early visual processing by language"; Dumoulin et al. 2017), i.e.
  per-class scales and shifts after a batch norm without its own affine parameters.

The convolutional trunk is the DCGAN one of :mod:`tf_gans.networks.dcgan` (Radford et
al. 2016): transposed convolutions with batch norm and ReLU in G, strided convolutions
with LeakyReLU(0.2) and no batch norm in D (so a per-example gradient penalty stays
per-example), N(0, 0.02) weights. Any square image side that
:func:`~tf_gans.networks.dcgan.upsampling_plan` accepts works: 8 (the embedded digits),
28 (MNIST), 32 (CIFAR-10), 64.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from tf_gans.layers import normal_init
from tf_gans.networks.dcgan import upsampling_plan

CONDITIONING = ("concat", "projection")


def _check_args(conditioning: str, num_classes: int, image_shape: tuple[int, ...]) -> None:
  if conditioning not in CONDITIONING:
    raise ValueError(f"conditioning {conditioning!r} is not one of: {', '.join(CONDITIONING)}")
  if num_classes < 1:
    raise ValueError(f"a conditional network needs at least one class, got {num_classes}")
  if len(image_shape) != 3 or image_shape[0] != image_shape[1]:
    raise ValueError(f"image shape {tuple(image_shape)} is not square HxWxC; the conditional "
                     "networks take square images")


@keras.saving.register_keras_serializable(package="tf_gans")
class ConditionalBatchNorm(keras.layers.Layer):
  """Batch norm whose scale and shift are looked up per class.

  de Vries et al. (2017) and Miyato & Koyama (2018, the generator of the projection
  cGAN): ``y -> gamma_y * BN(h) + beta_y``. The scales start at 1 and the shifts at 0,
  so at initialisation it is a plain batch norm; the label only acts once learnt.

  Call as ``layer(h, labels, training=...)`` with h [N, ..., C] and labels int [N].
  """

  def __init__(self, num_classes: int, momentum: float = 0.99, epsilon: float = 1e-3,
               **kwargs: Any):
    super().__init__(**kwargs)
    self.num_classes, self.momentum, self.epsilon = int(num_classes), momentum, epsilon
    self.norm = keras.layers.BatchNormalization(momentum=momentum, epsilon=epsilon,
                                                center=False, scale=False, name="bn")

  def build(self, h_shape, labels_shape=None):
    channels = int(h_shape[-1])
    self.norm.build(h_shape)
    self.gamma = keras.layers.Embedding(self.num_classes, channels,
                                        embeddings_initializer="ones", name="gamma")
    self.beta = keras.layers.Embedding(self.num_classes, channels,
                                       embeddings_initializer="zeros", name="beta")
    self.gamma.build((None,))
    self.beta.build((None,))
    self.built = True

  def call(self, h, labels, training=False):
    out = self.norm(h, training=training)
    # [N, C] -> [N, 1, 1, C] to broadcast over the spatial axes of a feature map.
    shape = [-1] + [1] * (len(h.shape) - 2) + [h.shape[-1]]
    gamma = ops.reshape(ops.cast(self.gamma(labels), out.dtype), shape)
    beta = ops.reshape(ops.cast(self.beta(labels), out.dtype), shape)
    return out * gamma + beta

  def compute_output_shape(self, h_shape, labels_shape=None):
    return h_shape

  def get_config(self):
    return {**super().get_config(), "num_classes": self.num_classes,
            "momentum": self.momentum, "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="tf_gans")
class ConditionalGenerator(keras.Model):
  """G(z|y): (z, label) -> image in [-1, 1].

  Called as ``generator(z, labels, training=False)`` with z float32 [N, latent_dim] and
  labels int32 [N]; returns float32 [N, H, W, C] whatever the precision policy.

  Args:
    latent_dim: Size of z.
    num_classes: Number of labels.
    image_shape: (H, W, C) of the images, H == W.
    base_channels: Channels of the last (largest) feature map; doubled at each smaller
      scale, as in DCGAN.
    conditioning: "concat" (label embedding concatenated to z) or "projection"
      (class-conditional batch norm after every layer).
    embedding_dim: Size of the label embedding ("concat").
  """

  def __init__(self, latent_dim: int = 128, num_classes: int = 10,
               image_shape: tuple[int, int, int] = (32, 32, 3), base_channels: int = 64,
               conditioning: str = "concat", embedding_dim: int = 32, **kwargs: Any):
    super().__init__(**kwargs)
    image_shape = tuple(int(s) for s in image_shape)
    _check_args(conditioning, num_classes, image_shape)
    self.latent_dim, self.num_classes = int(latent_dim), int(num_classes)
    self.image_shape, self.base_channels = image_shape, int(base_channels)
    self.conditioning, self.embedding_dim = conditioning, int(embedding_dim)
    start, steps = upsampling_plan(image_shape[0])
    top = self.base_channels * 2 ** steps
    init = normal_init()
    self.embed = (keras.layers.Embedding(num_classes, self.embedding_dim, name="embed")
                  if conditioning == "concat" else None)

    def norm(name):
      if conditioning == "projection":
        return ConditionalBatchNorm(num_classes, name=name)
      return keras.layers.BatchNormalization(name=name)

    self.project = keras.layers.Dense(start * start * top, use_bias=False,
                                      kernel_initializer=init, name="project")
    self.reshape = keras.layers.Reshape((start, start, top))
    self.project_norm = norm("project_bn")
    self.ups = []
    for i in range(steps):
      ch = self.base_channels * 2 ** (steps - i - 1)
      self.ups.append((
          keras.layers.Conv2DTranspose(ch, 4, strides=2, padding="same", use_bias=False,
                                       kernel_initializer=init, name=f"up_{i}"),
          norm(f"up_{i}_bn"),
      ))
    self.to_image = keras.layers.Conv2D(image_shape[-1], 3, padding="same",
                                        kernel_initializer=init, name="to_image")
    # The output in float32 under a mixed policy: images leave the network exactly.
    self.tanh = keras.layers.Activation("tanh", dtype="float32")
    self(ops.zeros((1, self.latent_dim)), ops.zeros((1,), "int32"))

  def _norm(self, layer, h, labels, training):
    if isinstance(layer, ConditionalBatchNorm):
      return layer(h, labels, training=training)
    return layer(h, training=training)

  def call(self, z, labels, training=False):
    labels = ops.cast(labels, "int32")
    h = z
    if self.embed is not None:
      h = ops.concatenate([ops.cast(z, "float32"),
                           ops.cast(self.embed(labels), "float32")], axis=-1)
    h = self.reshape(self.project(h))
    h = ops.relu(self._norm(self.project_norm, h, labels, training))
    for conv, norm in self.ups:
      h = ops.relu(self._norm(norm, conv(h), labels, training))
    return self.tanh(self.to_image(h))

  def get_config(self):
    return {**super().get_config(), "latent_dim": self.latent_dim,
            "num_classes": self.num_classes, "image_shape": self.image_shape,
            "base_channels": self.base_channels, "conditioning": self.conditioning,
            "embedding_dim": self.embedding_dim}


@keras.saving.register_keras_serializable(package="tf_gans")
class ConditionalDiscriminator(keras.Model):
  """D(x|y): (image, label) -> one unbounded score (a logit for the log-loss GANs).

  Called as ``discriminator(x, labels, training=False)``; returns float32 [N].

  Args:
    num_classes: Number of labels.
    image_shape: (H, W, C), H == W.
    base_channels: Channels of the first convolution, doubled at each ×2 downsampling.
    conditioning: "concat" (a per-class map as an extra input channel, and an embedding
      concatenated to the features) or "projection" (Miyato & Koyama's inner product with the features).
    embedding_dim: Size of the label embedding ("concat").
    feature_units: Width of the dense feature layer phi(x) before the score.
    dropout: Dropout rate on the dense features (0: none).
    minibatch_std: Append the batch's feature standard deviation as one more feature map
      (Karras et al. 2018, "Progressive Growing of GANs", section 3): a generator whose
      samples vary less than real ones is then visible to D. It couples the examples of
      a batch, so it is not for a gradient penalty (which treats examples one by one).
  """

  def __init__(self, num_classes: int = 10, image_shape: tuple[int, int, int] = (32, 32, 3),
               base_channels: int = 64, conditioning: str = "concat", embedding_dim: int = 32,
               feature_units: int = 256, dropout: float = 0.0, minibatch_std: bool = False,
               **kwargs: Any):
    super().__init__(**kwargs)
    image_shape = tuple(int(s) for s in image_shape)
    _check_args(conditioning, num_classes, image_shape)
    if not 0.0 <= dropout < 1.0:
      raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    self.num_classes, self.image_shape = int(num_classes), image_shape
    self.base_channels, self.conditioning = int(base_channels), conditioning
    self.embedding_dim, self.feature_units = int(embedding_dim), int(feature_units)
    self.dropout_rate, self.minibatch_std = float(dropout), bool(minibatch_std)
    _, steps = upsampling_plan(image_shape[0])
    init = normal_init()
    if conditioning == "concat":
      # One learnt H×W label map per class, an extra input channel (an embedding followed
      # by a dense layer to H×W, folded into one lookup); cheaper than one channel per
      # class or per embedding unit, and the same for any number of classes.
      self.embed_input = keras.layers.Embedding(num_classes, image_shape[0] * image_shape[1],
                                                name="embed_input")
      self.embed_features = keras.layers.Embedding(num_classes, self.embedding_dim,
                                                   name="embed_features")
    else:
      # One vector per class in feature space: <embed(y), phi(x)> is the class term.
      self.embed_projection = keras.layers.Embedding(
          num_classes, self.feature_units, embeddings_initializer=init, name="embed_projection")
    self.convs = [keras.layers.Conv2D(self.base_channels, 3, padding="same",
                                      kernel_initializer=init, name="conv_in")]
    for i in range(steps):
      self.convs.append(keras.layers.Conv2D(self.base_channels * 2 ** (i + 1), 4, strides=2,
                                            padding="same", kernel_initializer=init,
                                            name=f"down_{i}"))
    self.flatten = keras.layers.Flatten()
    self.features = keras.layers.Dense(self.feature_units, kernel_initializer=init,
                                       name="features")
    self.drop = keras.layers.Dropout(self.dropout_rate) if self.dropout_rate else None
    self.score = keras.layers.Dense(1, kernel_initializer=init, name="score")
    self(ops.zeros((1, *image_shape)), ops.zeros((1,), "int32"))

  def call(self, x, labels, training=False):
    labels = ops.cast(labels, "int32")
    h = x
    if self.conditioning == "concat":
      # The label as a feature map beside the image's channels.
      label_map = ops.reshape(ops.cast(self.embed_input(labels), x.dtype),
                              (-1, *self.image_shape[:2], 1))
      h = ops.concatenate([x, label_map], axis=-1)
    for conv in self.convs:
      h = ops.leaky_relu(conv(h), 0.2)
    if self.minibatch_std:
      # One number per batch: the mean over features of the per-feature std across
      # the batch, as a constant extra feature map (computed in float32).
      h32 = ops.cast(h, "float32")
      std = ops.mean(ops.sqrt(ops.var(h32, axis=0) + 1e-8))
      h = ops.concatenate([h, ops.cast(ops.ones_like(h32[..., :1]) * std, h.dtype)], axis=-1)
    h = self.flatten(h)
    if self.conditioning == "concat":
      h = ops.concatenate([h, ops.cast(self.embed_features(labels), h.dtype)], axis=-1)
    phi = ops.leaky_relu(self.features(h), 0.2)
    if self.drop is not None:
      phi = self.drop(phi, training=training)
    out = ops.cast(self.score(phi)[:, 0], "float32")
    if self.conditioning == "projection":
      class_vectors = ops.cast(self.embed_projection(labels), "float32")
      out = out + ops.sum(class_vectors * ops.cast(phi, "float32"), axis=-1)
    return out

  def get_config(self):
    return {**super().get_config(), "num_classes": self.num_classes,
            "image_shape": self.image_shape, "base_channels": self.base_channels,
            "conditioning": self.conditioning, "embedding_dim": self.embedding_dim,
            "feature_units": self.feature_units, "dropout": self.dropout_rate,
            "minibatch_std": self.minibatch_std}
