"""The PatchGAN discriminator of pix2pix and CycleGAN.

Isola et al. 2017, "Image-to-Image Translation with Conditional Adversarial Networks"
(CVPR), section 3.2.2; Zhu et al. 2017 (CycleGAN), appendix 7.2: rather than one score
per image, the discriminator scores every overlapping 70×70 patch, which needs fewer
parameters, works on any image size and models the high-frequency structure (texture,
style) that the L1 cycle loss cannot. In the paper's notation

    C64 - C128 - C256 - C512 - 1-channel convolution

where ``Ck`` is a 4×4 convolution with k filters, instance norm and LeakyReLU(0.2);
C64 has no norm; C64..C256 have stride 2, C512 and the last layer stride 1, and every
layer pads one pixel (PyTorch's ``padding=1``). At 256 px the output is a 30×30 map of
raw scores (no sigmoid: the loss decides how to read them), 2,764,737 parameters.
"""

from __future__ import annotations

import keras

from tf_gans.layers import normal_init
from tf_gans.networks.common import apply_norm, check_sizes, norm_layer, uses_bias


def patchgan_discriminator(channels: int = 3, filters: int = 64, num_layers: int = 3,
                           norm: str = "instance", name: str = "patchgan",
                           memory_saving: bool = True) -> keras.Model:
  """Builds the PatchGAN discriminator as a functional Keras model.

  Args:
    channels: Channels of the input images.
    filters: Filters of the first layer (64); doubled per layer, at most 8×.
    num_layers: Stride-2 layers (3 gives the 70×70 PatchGAN; the reference code's
      ``--n_layers_D``). Fewer layers suit small images: 3 layers need at least 32 px.
    norm: "instance" (the paper), "batch" or "none".
    name: Model name.
    memory_saving: Instance norms as the memory-saving layer (:mod:`tf_gans.lean_layers`)
      or Keras's; the same weights.

  Returns:
    A model mapping [N, H, W, channels] images to [N, H', W', 1] float32 patch scores.

  Raises:
    ValueError: for a bad norm or num_layers < 1.
  """
  check_sizes("patchgan_discriminator", norm, num_layers=num_layers, filters=filters)
  bias = uses_bias(norm)

  def block(h, units, stride, index, normalise, dtype=None):
    h = keras.layers.ZeroPadding2D(1, name=f"pad{index}")(h)
    h = keras.layers.Conv2D(units, 4, strides=stride, padding="valid",
                            use_bias=bias or not normalise, kernel_initializer=normal_init(),
                            dtype=dtype, name=f"conv{index}")(h)
    return h

  inputs = keras.Input((None, None, channels), name="images")
  h = block(inputs, filters, 2, 0, normalise=False)
  h = keras.layers.LeakyReLU(0.2)(h)
  units = filters
  for i in range(1, num_layers + 1):
    units = filters * min(2 ** i, 8)
    stride = 2 if i < num_layers else 1
    h = block(h, units, stride, i, normalise=True)
    h = keras.layers.LeakyReLU(0.2)(apply_norm(h, norm_layer(norm, f"norm{i}", memory_saving)))
  # The one-channel score map is computed in float32 (it is cheap) so the loss sees
  # full-precision scores under a mixed policy.
  outputs = block(h, 1, 1, num_layers + 1, normalise=False, dtype="float32")
  return keras.Model(inputs, outputs, name=name)


def receptive_field(model: keras.Model) -> tuple[int, int, int]:
  """Receptive field of a fully convolutional model, computed from its layer stack.

  Walks the layers in order and composes their (kernel, stride, padding): the field
  grows by ``(kernel - 1) * jump`` per convolution, where jump is the product of the
  strides before it. Only chains of convolutions, paddings and element-wise layers are
  understood (normalisation statistics, which mix all positions, are ignored as the
  usual definition does).

  Returns:
    (size, jump, offset): an output pixel ``o`` sees input rows ``jump * o - offset``
    up to ``jump * o - offset + size - 1``.

  Raises:
    ValueError: for a layer that changes resolution in a way not understood.
  """
  size, jump, offset = 1, 1, 0
  for layer in model.layers:
    if isinstance(layer, keras.layers.InputLayer):
      continue
    if isinstance(layer, keras.layers.ZeroPadding2D):
      (top, _), _ = layer.padding
      offset += top * jump
    elif isinstance(layer, keras.layers.Conv2D) and not isinstance(
        layer, keras.layers.Conv2DTranspose):
      kernel, stride = layer.kernel_size[0], layer.strides[0]
      if layer.padding != "valid":
        raise ValueError(f"layer {layer.name} pads {layer.padding!r}; receptive_field "
                         "understands explicit padding only")
      size += (kernel - 1) * jump
      jump *= stride
    elif isinstance(layer, (keras.layers.Conv2DTranspose, keras.layers.UpSampling2D,
                            keras.layers.MaxPooling2D, keras.layers.AveragePooling2D,
                            keras.layers.Cropping2D)):
      raise ValueError(f"receptive_field does not handle layer {layer.name} "
                       f"({type(layer).__name__})")
  return size, jump, offset
