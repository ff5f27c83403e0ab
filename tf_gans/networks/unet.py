"""The U-Net generator of pix2pix, CycleGAN's alternative generator (``--generator=unet``).

Isola et al. 2017, "Image-to-Image Translation with Conditional Adversarial Networks"
(CVPR), section 3.2.1 and appendix 6.1.1, after Ronneberger et al. 2015: an
encoder-decoder whose mirror layers are joined by skip connections, so low-level
information (edges, positions) can cross the bottleneck directly. Encoder
``C64-C128-C256-C512-C512-C512-C512-C512`` at 256 px (one 4×4 stride-2 convolution per
halving, down to 1×1; LeakyReLU 0.2; no norm on the first and innermost layers); the
decoder mirrors it with 4×4 stride-2 transposed convolutions, ReLU and norm, each taking
the concatenation of the previous decoder output and the mirrored encoder output; tanh
at the end. As in the reference code the innermost layer has no norm (its map is 1×1,
where instance norm would zero it). Dropout (``dropout > 0``, pix2pix's only noise source)
follows the decoder layers of the levels between the four outermost and the innermost
one, as the reference code's ``use_dropout`` places it: three layers at 256 px (levels
4–6 of 8), none below 64 px; CycleGAN runs without it (``--no_dropout``).
"""

from __future__ import annotations

import math

import keras

from tf_gans.layers import SeededDropout, normal_init
from tf_gans.networks.common import apply_norm, check_sizes, norm_layer, uses_bias


def default_num_downs(image_size: int) -> int:
  """Halvings down to a 1×1 bottleneck: 8 at 256 px (unet_256), 7 at 128 px."""
  return max(1, int(math.log2(image_size)))


def unet_generator(channels: int = 3, filters: int = 64, num_downs: int = 8,
                   norm: str = "instance", output_channels: int | None = None,
                   name: str = "unet_generator", memory_saving: bool = True,
                   dropout: float = 0.0) -> keras.Model:
  """Builds the U-Net generator as a functional Keras model.

  Args:
    channels: Channels of the input images.
    filters: Filters of the outermost layer; doubled per level, at most 8×.
    num_downs: Stride-2 levels; images must be divisible by ``2 ** num_downs``.
    norm: "instance" (CycleGAN), "batch" (pix2pix) or "none".
    output_channels: Channels of the output; default `channels`.
    name: Model name.
    memory_saving: Instance norms as the memory-saving layer (:mod:`tf_gans.lean_layers`)
      or Keras's; the same weights.
    dropout: Rate of the decoder's dropout (0: none; 0.5 in pix2pix), drawn by
      :class:`tf_gans.layers.SeededDropout` layers.

  Returns:
    A model mapping [N, H, W, channels] images in [-1, 1] to float32 images in [-1, 1].

  Raises:
    ValueError: for a bad norm or num_downs < 1.
  """
  check_sizes("unet_generator", norm, num_downs=num_downs, filters=filters)
  output_channels = output_channels or channels
  bias = uses_bias(norm)
  widths = [filters * min(2 ** i, 8) for i in range(num_downs)]

  inputs = keras.Input((None, None, channels), name="images")
  h = inputs
  skips = []
  for i, units in enumerate(widths):
    if i > 0:
      h = keras.layers.LeakyReLU(0.2)(h)
    outermost, innermost = i == 0, i == num_downs - 1
    # Keras's "same" padding is symmetric for a 4×4 stride-2 kernel on even sizes, which
    # is PyTorch's padding=1.
    h = keras.layers.Conv2D(units, 4, strides=2, padding="same", use_bias=bias,
                            kernel_initializer=normal_init(), name=f"down{i}")(h)
    if not (outermost or innermost):
      h = apply_norm(h, norm_layer(norm, f"down{i}_norm", memory_saving))
    skips.append(h)
  for i in reversed(range(num_downs)):
    if i < num_downs - 1:
      h = keras.layers.Concatenate(name=f"skip{i}")([skips[i], h])
    h = keras.layers.ReLU()(h)
    if i == 0:
      h = keras.layers.Conv2DTranspose(output_channels, 4, strides=2, padding="same",
                                       kernel_initializer=normal_init(), name="up0")(h)
    else:
      h = keras.layers.Conv2DTranspose(widths[i - 1], 4, strides=2, padding="same",
                                       use_bias=bias, kernel_initializer=normal_init(),
                                       name=f"up{i}")(h)
      h = apply_norm(h, norm_layer(norm, f"up{i}_norm", memory_saving))
      if dropout and 4 <= i <= num_downs - 2:
        h = SeededDropout(dropout, salt=i, name=f"up{i}_dropout")(h)
  outputs = keras.layers.Activation("tanh", dtype="float32", name="tanh")(h)
  return keras.Model(inputs, outputs, name=name)
