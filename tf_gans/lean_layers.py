"""Memory-saving layers: the same outputs as Keras's, with hand-written gradients.

On a CPU, TensorFlow's gradients of a convolution build an im2col buffer per image, and
the backward pass of Keras's instance norm followed by a ReLU keeps two full-size
tensors. For CycleGAN's ResNet generator at 256 px that was most of a training step's
peak memory. These layers compute the same forward pass and gradients (tested against
the Keras layers, outputs and gradients, in float32 and bfloat16) with less memory,
measured with ``benchmarks/layer_gradients.py`` on a 2-core CPU:

* :class:`ValidConv2D` (``Conv2D`` with stride 1, "valid" padding): the 7×7 output layer's
  backward pass at 256 px takes 44 MiB instead of 1,586 MiB and 92 instead of 273 ms; a
  3×3 residual layer's 23 instead of 104 MiB at the same speed;
* :class:`InstanceNormalization` (``GroupNormalization(groups=-1)``, optionally with a
  fused ReLU): keeps only the normalised tensor for the backward pass; level with Keras
  in speed.

Together with the generator update differentiated direction by direction they brought a
whole 256 px CycleGAN training run from 4.06 to 2.51 GiB (``benchmarks/README.md``). Their
weights are the Keras layers' (a checkpoint of one loads into the other), so
``--nomemory_saving_layers`` switches to plain Keras layers at any time, to compare or
where the measured reason does not hold (a GPU's convolution gradients build no
im2col buffer). :func:`tf_gans.layers.conv2d_valid` and :func:`tf_gans.layers.instance_norm`
pick one or the other.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tf_gans")
class InstanceNormalization(keras.layers.Layer):
  """Instance normalisation without affine parameters, with a hand-written gradient.

  The output is ``GroupNormalization(groups=-1, center=False, scale=False)``'s; the
  statistics and the arithmetic are float32 under any policy, the output is in the
  compute dtype. The gradient,

    dx = s · (dy − mean(dy) − y · mean(dy · y)),   y = (x − mean(x)) · s,
    s = 1 / sqrt(var(x) + ε)   (means over height and width),

  needs only the normalised y. With ``relu=True`` the layer outputs max(y, 0) and still
  keeps only y for the backward pass (dy is dout where y > 0), where the Keras layer
  followed by a ReLU layer keeps two full-size tensors: the norm's input and the ReLU's
  output. The ResNet generator uses it so.
  """

  def __init__(self, epsilon: float = 1e-5, relu: bool = False, **kwargs: Any):
    super().__init__(**kwargs)
    self.epsilon = float(epsilon)
    self.relu = bool(relu)

  def call(self, x):
    return _instance_norm(x, self.epsilon, self.relu)

  def compute_output_shape(self, input_shape):
    return input_shape

  def get_config(self):
    return {**super().get_config(), "epsilon": self.epsilon, "relu": self.relu}


def _instance_norm(x, epsilon: float, relu: bool):
  @tf.custom_gradient
  def normalise(x):
    x32 = tf.cast(x, tf.float32)
    mean, variance = tf.nn.moments(x32, axes=[1, 2], keepdims=True)
    scale = tf.math.rsqrt(variance + epsilon)
    y = (x32 - mean) * scale

    def gradient(dout):
      dy = tf.cast(dout, tf.float32)
      if relu:
        dy = tf.where(y > 0, dy, tf.zeros_like(dy))
      dy_mean = tf.reduce_mean(dy, axis=[1, 2], keepdims=True)
      dy_y_mean = tf.reduce_mean(dy * y, axis=[1, 2], keepdims=True)
      return tf.cast(scale * (dy - dy_mean - y * dy_y_mean), x.dtype)

    return tf.cast(tf.nn.relu(y) if relu else y, x.dtype), gradient

  return normalise(x)


@tf.custom_gradient
def _valid_conv_forward_gradients(x, kernel):
  """A stride-1 "valid" 2-D convolution (NHWC) whose two gradients are forward convolutions.

  TensorFlow's CPU gradient kernels (Conv2DBackpropInput / Conv2DBackpropFilter) build
  an im2col buffer of out_pixels × kernel_h × kernel_w × in_channels values per image.
  For the ResNet generator's last layer (7×7, 64 → 3 channels at 256 px) that is two
  buffers of 822 MB each: 1.6 GB for one layer's backward pass, most of a CycleGAN
  step's peak memory. Written as forward convolutions, whose kernels pack patches
  block by block, the same gradients need no such buffer:

    dx = conv(pad(dy, k - 1), flip(kernel) with in/out channels swapped)
    dkernel[i, j, c, o] = Σ_{n,h,w} x[n, h+i, w+j, c] dy[n, h, w, o]
                        = conv(x as [C, H, W, N], dy as [h, w, N, O])  → [C, k_h, k_w, O]
  """
  y = tf.nn.conv2d(x, kernel, strides=1, padding="VALID")

  def gradients(dy):
    kh, kw = kernel.shape[0], kernel.shape[1]
    dy_padded = tf.pad(dy, [[0, 0], [kh - 1, kh - 1], [kw - 1, kw - 1], [0, 0]])
    flipped = tf.transpose(tf.reverse(kernel, axis=[0, 1]), [0, 1, 3, 2])
    dx = tf.nn.conv2d(dy_padded, flipped, strides=1, padding="VALID")
    dkernel = tf.nn.conv2d(tf.transpose(x, [3, 1, 2, 0]), tf.transpose(dy, [1, 2, 0, 3]),
                           strides=1, padding="VALID")
    return dx, tf.transpose(dkernel, [1, 2, 0, 3])

  return y, gradients


@keras.saving.register_keras_serializable(package="tf_gans")
class ValidConv2D(keras.layers.Conv2D):
  """``Conv2D(padding="valid", strides=1)`` with memory-lean gradients.

  The forward pass is Keras's; the backward pass computes the input and kernel
  gradients as forward convolutions (see :func:`_valid_conv_forward_gradients`), which
  on a CPU avoids TensorFlow's per-image im2col buffers. Same weights, same outputs, the
  same gradients up to float rounding; checkpoints of a ``Conv2D`` load into it.
  """

  def __init__(self, filters: int, kernel_size, **kwargs: Any):
    super().__init__(filters, kernel_size, **kwargs)
    for key, wanted in (("strides", (1, 1)), ("padding", "valid"), ("dilation_rate", (1, 1)),
                        ("groups", 1), ("data_format", "channels_last")):
      value = getattr(self, key)
      if (tuple(value) if isinstance(value, (list, tuple)) else value) != wanted:
        raise ValueError(f"ValidConv2D takes only {key}={wanted!r}, got {value!r}")

  def convolution_op(self, inputs, kernel):
    # A tensor, not the variable: the custom gradient returns the kernel's gradient as
    # the gradient of this input, and the tape carries it on to the variable.
    return _valid_conv_forward_gradients(inputs, tf.convert_to_tensor(kernel))
