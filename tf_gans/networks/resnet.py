"""CycleGAN's ResNet generator.

Zhu et al. 2017, "Unpaired Image-to-Image Translation using Cycle-Consistent
Adversarial Networks" (ICCV), appendix 7.2, after Johnson et al. 2016, "Perceptual
Losses for Real-Time Style Transfer and Super-Resolution": in the paper's notation

    c7s1-64, d128, d256, R256 × n, u128, u64, c7s1-3

with n = 6 residual blocks for 128 px images and 9 for 256 px. ``c7s1-k`` is a 7×7
convolution with k filters after reflection padding, then instance norm and ReLU;
``dk`` a 3×3 stride-2 convolution, instance norm, ReLU; ``Rk`` a residual block of two
reflection-padded 3×3 convolutions (instance norm; ReLU after the first only);
``uk`` a 3×3 stride-½ (transposed) convolution, instance norm, ReLU. The last layer
ends in tanh. As in the authors' code: instance norm without affine parameters, biases
on every convolution, weights from N(0, 0.02); 11,378,179 parameters for n = 9 at
64 filters.

The network is fully convolutional: it is built for any height and width and
translates images of any size divisible by 4.
"""

from __future__ import annotations

import keras

from tf_gans.layers import ReflectionPadding2D, conv2d_valid, normal_init
from tf_gans.networks.common import apply_norm, check_norm, norm_layer, norm_relu, uses_bias


def default_num_blocks(image_size: int) -> int:
  """The paper's residual block count: 6 up to 128 px, 9 above."""
  return 6 if image_size <= 128 else 9


def resnet_generator(channels: int = 3, filters: int = 64, num_blocks: int = 9,
                     norm: str = "instance", output_channels: int | None = None,
                     name: str = "resnet_generator", memory_saving: bool = True) -> keras.Model:
  """Builds the CycleGAN ResNet generator as a functional Keras model.

  Args:
    channels: Channels of the input images.
    filters: Filters of the first layer (64 in the paper); they double with each of
      the two downsamplings.
    num_blocks: Residual blocks at the lowest resolution (6 or 9 in the paper).
    norm: "instance" (the paper), "batch" or "none".
    output_channels: Channels of the output images; default `channels`.
    name: Model name.
    memory_saving: Use the memory-saving layers (:mod:`tf_gans.lean_layers`) for the
      residual and output convolutions and the instance norms; the same weights.

  Returns:
    A model mapping [N, H, W, channels] images in [-1, 1] to [N, H, W,
    output_channels] float32 images in [-1, 1], for H and W divisible by 4.

  Raises:
    ValueError: for a bad norm or non-positive sizes.
  """
  check_norm(norm)
  if filters < 1 or num_blocks < 0 or channels < 1:
    raise ValueError(f"resnet_generator needs filters >= 1, num_blocks >= 0 and channels >= 1; "
                     f"got filters={filters}, num_blocks={num_blocks}, channels={channels}")
  output_channels = output_channels or channels
  bias = uses_bias(norm)

  def conv(units, kernel, stride, layer_name, use_bias=bias, lean=False):
    # lean: gradients as forward convolutions. At 256 px the 7×7 output layer's backward
    # pass then takes 44 MiB instead of 1.5 GiB and a third of the time; the residual
    # layers' 23 instead of 104 MiB in the same time. Not for the first layer, on 3
    # channels, where it is slower (benchmarks/layer_gradients.py).
    if lean:
      return conv2d_valid(units, kernel, memory_saving, use_bias=use_bias,
                          kernel_initializer=normal_init(), name=layer_name)
    return keras.layers.Conv2D(units, kernel, strides=stride, padding="valid",
                               use_bias=use_bias, kernel_initializer=normal_init(),
                               name=layer_name)

  def norm_then_relu(h, layer_name):
    return norm_relu(h, norm, layer_name, memory_saving)

  inputs = keras.Input((None, None, channels), name="images")
  h = ReflectionPadding2D(3, name="c7s1_pad")(inputs)
  h = conv(filters, 7, 1, "c7s1")(h)
  h = norm_then_relu(h, "c7s1_norm")
  units = filters
  for i in range(2):
    units *= 2
    # PyTorch's Conv2d(k=3, s=2, padding=1): one zero pixel on every side.
    h = keras.layers.ZeroPadding2D(1, name=f"d{units}_pad")(h)
    h = conv(units, 3, 2, f"d{units}")(h)
    h = norm_then_relu(h, f"d{units}_norm")
  for i in range(num_blocks):
    skip = h
    for j in range(2):
      h = ReflectionPadding2D(1, name=f"r{i}_pad{j}")(h)
      h = conv(units, 3, 1, f"r{i}_conv{j}", lean=True)(h)
      if j == 0:
        h = norm_then_relu(h, f"r{i}_norm{j}")
      else:
        h = apply_norm(h, norm_layer(norm, f"r{i}_norm{j}", memory_saving))
    h = keras.layers.Add(name=f"r{i}_add")([skip, h])
  for i in range(2):
    units //= 2
    # PyTorch's ConvTranspose2d(k=3, s=2, padding=1, output_padding=1) is the full
    # ("valid") transposed convolution with its first row and column dropped; Keras's
    # "same" would drop the last ones instead and shift the image by a pixel.
    h = keras.layers.Conv2DTranspose(units, 3, strides=2, padding="valid", use_bias=bias,
                                     kernel_initializer=normal_init(), name=f"u{units}")(h)
    h = keras.layers.Cropping2D(((1, 0), (1, 0)), name=f"u{units}_crop")(h)
    h = norm_then_relu(h, f"u{units}_norm")
  h = ReflectionPadding2D(3, name="out_pad")(h)
  h = conv(output_channels, 7, 1, "out", use_bias=True, lean=True)(h)
  # tanh in float32: the output is an image in [-1, 1] whatever the compute policy.
  outputs = keras.layers.Activation("tanh", dtype="float32", name="tanh")(h)
  return keras.Model(inputs, outputs, name=name)
