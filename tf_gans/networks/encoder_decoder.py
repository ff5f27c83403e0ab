"""DiscoGAN's encoder-decoder generator and convolutional discriminator.

Kim et al. 2017, "Learning to Discover Cross-Domain Relations with Generative
Adversarial Networks" (ICML), section 4 and the authors' code (SKTBrain/DiscoGAN,
``model.py``), for 64 px images:

* generator: an encoder of four 4×4 stride-2 convolutions (64, 128, 256, 512 filters;
  LeakyReLU 0.2; batch norm on all but the first) down to 4×4, and a decoder of four
  4×4 stride-2 transposed convolutions (256, 128, 64, 3 filters; batch norm and ReLU on
  all but the last). No skip connections: everything passes the 4×4 bottleneck, which
  is what lets DiscoGAN change shape, not only texture. Convolutions have no bias
  (batch norm follows them). The authors' last activation is a sigmoid for [0, 1]
  images; here images are in [-1, 1], so it is tanh.
* discriminator: the same encoder (batch norm on all but the first layer), then one 4×4
  convolution without padding to a single logit per 4×4 map (a sigmoid in the loss).

Other sizes use one more or fewer halving per factor of 2 (32 px: three, 128 px:
five), so the bottleneck stays 4×4.
"""

from __future__ import annotations

import math

import keras

from tf_gans.layers import normal_init
from tf_gans.networks.common import apply_norm, check_sizes, norm_layer, uses_bias


def default_num_downs(image_size: int) -> int:
  """Halvings from image_size down to a 4×4 map (4 at the paper's 64 px).

  Raises:
    ValueError: if image_size is not a power of two of at least 8.
  """
  if image_size < 8 or image_size & (image_size - 1):
    raise ValueError(f"DiscoGAN networks need a power-of-two image size >= 8, got {image_size}")
  return int(math.log2(image_size)) - 2


def _widths(filters: int, num_downs: int) -> list[int]:
  return [filters * min(2 ** i, 8) for i in range(num_downs)]


def _encoder(h, filters: int, num_downs: int, norm: str, prefix: str, memory_saving: bool):
  bias = uses_bias(norm)
  for i, units in enumerate(_widths(filters, num_downs)):
    # 4×4 stride-2 "same" padding is PyTorch's symmetric padding=1 on even sizes.
    h = keras.layers.Conv2D(units, 4, strides=2, padding="same", use_bias=bias,
                            kernel_initializer=normal_init(), name=f"{prefix}{i}")(h)
    if i > 0:
      h = apply_norm(h, norm_layer(norm, f"{prefix}{i}_norm", memory_saving))
    h = keras.layers.LeakyReLU(0.2)(h)
  return h


def encoder_decoder_generator(channels: int = 3, filters: int = 64, num_downs: int = 4,
                              norm: str = "batch", output_channels: int | None = None,
                              name: str = "encoder_decoder",
                              memory_saving: bool = True) -> keras.Model:
  """Builds the DiscoGAN generator.

  Args:
    channels: Channels of the input images.
    filters: Filters of the first encoder layer (64); doubled per layer, at most 8×.
    num_downs: Stride-2 layers in the encoder (and transposed ones in the decoder); 4 at
      64 px. Images must be divisible by ``2 ** num_downs``.
    norm: "batch" (the paper), "instance" or "none".
    output_channels: Channels of the output; default `channels`.
    name: Model name.
    memory_saving: Instance norms (norm="instance") as the memory-saving layer or Keras's.

  Returns:
    A model mapping [N, H, W, channels] images in [-1, 1] to float32 images in [-1, 1].

  Raises:
    ValueError: for a bad norm or num_downs < 1.
  """
  check_sizes("encoder_decoder_generator", norm, num_downs=num_downs, filters=filters)
  output_channels = output_channels or channels
  bias = uses_bias(norm)
  widths = _widths(filters, num_downs)
  inputs = keras.Input((None, None, channels), name="images")
  h = _encoder(inputs, filters, num_downs, norm, "enc", memory_saving)
  for i in reversed(range(num_downs)):
    last = i == 0
    h = keras.layers.Conv2DTranspose(output_channels if last else widths[i - 1], 4, strides=2,
                                     padding="same", use_bias=bias and not last,
                                     kernel_initializer=normal_init(), name=f"dec{i}")(h)
    if not last:
      h = apply_norm(h, norm_layer(norm, f"dec{i}_norm", memory_saving))
      h = keras.layers.ReLU()(h)
  outputs = keras.layers.Activation("tanh", dtype="float32", name="tanh")(h)
  return keras.Model(inputs, outputs, name=name)


def conv_discriminator(channels: int = 3, filters: int = 64, num_downs: int = 4,
                       norm: str = "batch", name: str = "conv_discriminator",
                       memory_saving: bool = True) -> keras.Model:
  """Builds the DiscoGAN discriminator.

  Args:
    channels: Channels of the input images.
    filters: Filters of the first layer; doubled per layer, at most 8×.
    num_downs: Stride-2 layers (4 at 64 px, leaving a 4×4 map).
    norm: "batch" (the paper), "instance" or "none".
    name: Model name.
    memory_saving: Instance norms (norm="instance") as the memory-saving layer or Keras's.

  Returns:
    A model mapping [N, H, W, channels] images to float32 logits [N, H', W', 1]
    (1×1 when the image is ``4 * 2 ** num_downs`` pixels wide).

  Raises:
    ValueError: for a bad norm or num_downs < 1.
  """
  check_sizes("conv_discriminator", norm, num_downs=num_downs, filters=filters)
  inputs = keras.Input((None, None, channels), name="images")
  h = _encoder(inputs, filters, num_downs, norm, "conv", memory_saving)
  outputs = keras.layers.Conv2D(1, 4, padding="valid", use_bias=False, dtype="float32",
                                kernel_initializer=normal_init(), name="logit")(h)
  return keras.Model(inputs, outputs, name=name)
