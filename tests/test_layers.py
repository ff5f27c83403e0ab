"""The shared layers with hand-written gradients against the Keras layers they replace."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_gans.layers import InstanceNormalization, ValidConv2D


def _value_and_gradients(layer, x, weights):
  """The layer's output and the gradients of a fixed non-linear loss, in a graph."""

  @tf.function
  def run(x):
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = layer(x)
      loss = tf.reduce_sum(tf.sin(tf.cast(y, tf.float32)) * weights)
    return y, tape.gradient(loss, [x, *layer.trainable_variables])

  return run(x)


@pytest.mark.parametrize("shape,filters,kernel", [((2, 11, 9, 4), 5, 3), ((1, 16, 16, 8), 3, 7)])
def test_valid_conv_equals_keras_conv_with_its_gradients(shape, filters, kernel):
  x = tf.random.stateless_normal(shape, [1, 2])
  ours, keras_conv = ValidConv2D(filters, kernel), keras.layers.Conv2D(filters, kernel)
  ours.build(shape)
  keras_conv.build(shape)
  keras_conv.set_weights([w + 0.1 for w in ours.get_weights()])  # non-zero bias
  ours.set_weights(keras_conv.get_weights())
  out_shape = keras_conv.compute_output_shape(shape)
  weights = tf.random.stateless_normal(out_shape, [3, 4])
  y, grads = _value_and_gradients(ours, x, weights)
  y_ref, grads_ref = _value_and_gradients(keras_conv, x, weights)
  assert y.shape == out_shape
  np.testing.assert_allclose(y, y_ref, atol=1e-5)
  assert len(grads) == 3  # input, kernel, bias
  for g, g_ref in zip(grads, grads_ref):
    np.testing.assert_allclose(g, g_ref, rtol=1e-4, atol=1e-4)
    assert np.abs(g_ref.numpy()).max() > 1e-2


def test_valid_conv_accepts_only_what_it_computes():
  for bad in (dict(strides=2), dict(padding="same"), dict(dilation_rate=2), dict(groups=2)):
    with pytest.raises(ValueError, match="ValidConv2D takes only"):
      ValidConv2D(4, 3, **bad)
  layer = ValidConv2D(4, 3, name="c")
  clone = ValidConv2D.from_config(layer.get_config())
  assert isinstance(clone, ValidConv2D) and clone.kernel_size == (3, 3)


@pytest.mark.parametrize("relu", [False, True])
def test_instance_norm_equals_group_norm_with_its_gradients(relu):
  x = tf.random.stateless_normal([3, 9, 7, 5], [5, 6]) * 3 + 1
  weights = tf.random.stateless_normal([3, 9, 7, 5], [7, 8])
  ours = InstanceNormalization(epsilon=1e-5, relu=relu)
  group = keras.layers.GroupNormalization(groups=-1, center=False, scale=False, epsilon=1e-5)
  reference = keras.Sequential([group, keras.layers.ReLU()]) if relu else group
  y, (dx,) = _value_and_gradients(ours, x, weights)
  y_ref, (dx_ref,) = _value_and_gradients(reference, x, weights)
  np.testing.assert_allclose(y, y_ref, atol=1e-5)
  np.testing.assert_allclose(dx, dx_ref, atol=1e-5)
  assert np.abs(dx_ref.numpy()).max() > 1e-2
  if relu:
    assert float(tf.reduce_min(y)) == 0.0


def test_instance_norm_under_a_mixed_policy_agrees_with_float32():
  keras.mixed_precision.set_global_policy("mixed_bfloat16")
  try:
    layer = InstanceNormalization()
    x = tf.random.stateless_normal([2, 16, 16, 3], [1, 1]) * 4 + 2
    y, (dx,) = _value_and_gradients(layer, x, tf.ones([2, 16, 16, 3]))
  finally:
    keras.mixed_precision.set_global_policy("float32")
  assert y.dtype == tf.bfloat16 and dx.dtype == tf.float32
  # Against float32 on the same (bfloat16-rounded) input: only the output's rounding
  # (8 bits of mantissa, |y| < 4) remains.
  rounded = tf.cast(tf.cast(x, tf.bfloat16), tf.float32)
  reference = keras.layers.GroupNormalization(groups=-1, center=False, scale=False)(rounded)
  np.testing.assert_allclose(tf.cast(y, tf.float32), reference, atol=0.02)
  assert InstanceNormalization.from_config(layer.get_config()).epsilon == layer.epsilon


@pytest.mark.parametrize("build", ["resnet", "patchgan"])
def test_memory_saving_layers_switch_to_keras_layers_with_the_same_weights(build):
  from tf_gans.networks.patchgan import patchgan_discriminator
  from tf_gans.networks.resnet import resnet_generator
  make = {"resnet": lambda m: resnet_generator(3, 4, 2, memory_saving=m),
          "patchgan": lambda m: patchgan_discriminator(3, 4, 2, memory_saving=m)}[build]
  lean, plain = make(True), make(False)
  assert any(isinstance(l, (ValidConv2D, InstanceNormalization)) for l in lean.layers)
  assert not any(isinstance(l, (ValidConv2D, InstanceNormalization)) for l in plain.layers)
  assert [w.shape for w in lean.weights] == [w.shape for w in plain.weights]
  plain.set_weights(lean.get_weights())  # one's weights are the other's
  x = tf.random.stateless_uniform([2, 32, 32, 3], [1, 2], -1, 1)
  with tf.GradientTape(persistent=True) as tape:
    a, b = lean(x, training=True), plain(x, training=True)
    la, lb = tf.reduce_sum(a * a), tf.reduce_sum(b * b)
  np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)
  for ga, gb in zip(tape.gradient(la, lean.trainable_weights),
                    tape.gradient(lb, plain.trainable_weights)):
    # A bias before an instance norm has a gradient of zero up to rounding: compare
    # each gradient on the scale of the largest gradient.
    scale = max(float(np.abs(g.numpy()).max()) for g in tape.gradient(lb, plain.trainable_weights))
    np.testing.assert_allclose(ga.numpy(), gb.numpy(), rtol=1e-3, atol=1e-4 * scale)
