"""Tests of tf_gans.losses against hand-computed values."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_gans import losses

# The worked example: real and fake scores of four examples.
REAL = [-5.0, 1.4, 12.5, 2.7]
FAKE = [10.0, 4.4, -5.5, 3.6]


def _softplus(v: float) -> float:
  return math.log1p(math.exp(v))


def _value(t: tf.Tensor) -> float:
  assert t.dtype == tf.float32
  assert t.shape == ()
  return float(t.numpy())


# ---------------------------------------------------------------------------------------
# Adversarial losses on the worked example.
# ---------------------------------------------------------------------------------------


def test_wasserstein_worked_example():
  # mean(fake) = 12.5 / 4 = 3.125; mean(real) = 11.6 / 4 = 2.9.
  assert _value(losses.wasserstein_critic_loss(REAL, FAKE)) == pytest.approx(0.225, abs=1e-6)
  assert _value(losses.wasserstein_generator_loss(FAKE)) == pytest.approx(-3.125, abs=1e-6)


def test_hinge_worked_example():
  # relu(1 - real) = [6, 0, 0, 0] -> 1.5; relu(1 + fake) = [11, 5.4, 0, 4.6] -> 5.25.
  assert _value(losses.hinge_discriminator_loss(REAL, FAKE)) == pytest.approx(6.75, abs=1e-6)
  # -mean(fake) = -3.125.
  assert _value(losses.hinge_generator_loss(FAKE)) == pytest.approx(-3.125, abs=1e-6)


def test_nonsaturating_generator_worked_example():
  expected = sum(_softplus(-f) for f in FAKE) / 4
  assert expected == pytest.approx(1.38582, abs=1e-5)
  assert _value(losses.nonsaturating_generator_loss(FAKE)) == pytest.approx(expected, rel=1e-6)


def test_minimax_worked_example():
  # -log sigmoid(r) = softplus(-r); -log(1 - sigmoid(f)) = softplus(f).
  expected_d = (sum(_softplus(-r) for r in REAL) / 4 + sum(_softplus(f) for f in FAKE) / 4)
  # softplus(5) + softplus(-1.4) + softplus(-12.5) + softplus(-2.7) ~ 5.0067 + 0.2204 + 0 +
  # 0.0650; softplus(10) + softplus(4.4) + softplus(-5.5) + softplus(3.6) ~ 10.0000 +
  # 4.4122 + 0.0041 + 3.6270.
  assert expected_d == pytest.approx((5.2922 + 18.0433) / 4, abs=1e-3)
  assert _value(losses.minimax_discriminator_loss(REAL, FAKE)) == pytest.approx(
      expected_d, rel=1e-6)
  # The saturating generator loss E[log(1 - D(G(z)))] = -mean(softplus(fake)).
  expected_g = -sum(_softplus(f) for f in FAKE) / 4
  assert _value(losses.minimax_generator_loss(FAKE)) == pytest.approx(expected_g, rel=1e-6)


def test_minimax_equals_log_sigmoid_form():
  real, fake = [0.3, -1.2], [2.0, -0.7]
  sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
  expected_d = (-(math.log(sig(0.3)) + math.log(sig(-1.2))) / 2
                - (math.log(1 - sig(2.0)) + math.log(1 - sig(-0.7))) / 2)
  assert _value(losses.minimax_discriminator_loss(real, fake)) == pytest.approx(
      expected_d, rel=1e-6)
  expected_g = (math.log(1 - sig(2.0)) + math.log(1 - sig(-0.7))) / 2
  assert _value(losses.minimax_generator_loss(fake)) == pytest.approx(expected_g, rel=1e-6)


def test_minimax_stable_for_saturated_logits():
  # sigmoid(+-100) rounds to exactly 1/0 in float32: a log(sigmoid) implementation gives
  # inf or nan here. softplus gives the exact answers.
  assert _value(losses.minimax_discriminator_loss([100.0], [-100.0])) == pytest.approx(
      0.0, abs=1e-30)
  assert _value(losses.minimax_discriminator_loss([-100.0], [100.0])) == pytest.approx(
      200.0, rel=1e-6)
  assert _value(losses.nonsaturating_generator_loss([-100.0])) == pytest.approx(100.0, rel=1e-6)
  assert _value(losses.minimax_generator_loss([100.0])) == pytest.approx(-100.0, rel=1e-6)


def test_least_squares_worked_example():
  # (real - 1)^2 = [36, 0.16, 132.25, 2.89] -> 42.825; fake^2 = [100, 19.36, 30.25, 12.96]
  # -> 40.6425; 0.5 * (42.825 + 40.6425) = 41.73375.
  assert _value(losses.least_squares_discriminator_loss(REAL, FAKE)) == pytest.approx(
      41.73375, rel=1e-6)
  # (fake - 1)^2 = [81, 11.56, 42.25, 6.76] -> 141.57 / 4 = 35.3925.
  assert _value(losses.least_squares_generator_loss(FAKE)) == pytest.approx(35.3925, rel=1e-6)


# Plain NumPy references for the shape/dtype tests (independent of the code under test).
def _np_softplus(v):
  return np.logaddexp(0.0, v)


NUMPY_REFERENCES = {
    "minimax": (
        lambda r, f: np.mean(_np_softplus(-r)) + np.mean(_np_softplus(f)),
        lambda f: -np.mean(_np_softplus(f))),
    "nonsaturating": (
        lambda r, f: np.mean(_np_softplus(-r)) + np.mean(_np_softplus(f)),
        lambda f: np.mean(_np_softplus(-f))),
    "least_squares": (
        lambda r, f: 0.5 * (np.mean((r - 1) ** 2) + np.mean(f ** 2)),
        lambda f: np.mean((f - 1) ** 2)),
    "hinge": (
        lambda r, f: np.mean(np.maximum(1 - r, 0)) + np.mean(np.maximum(1 + f, 0)),
        lambda f: -np.mean(f)),
    "wasserstein": (
        lambda r, f: np.mean(f) - np.mean(r),
        lambda f: -np.mean(f)),
}


@pytest.mark.parametrize("name", sorted(NUMPY_REFERENCES))
def test_patchgan_maps_equal_flattened(name):
  rng = np.random.default_rng(0)
  real = rng.normal(size=(2, 3, 3, 1)).astype(np.float32) * 2
  fake = rng.normal(size=(2, 3, 3, 1)).astype(np.float32) * 2
  d_loss, g_loss = losses.get_gan_loss(name)
  d_ref, g_ref = NUMPY_REFERENCES[name]
  r64, f64 = real.astype(np.float64), fake.astype(np.float64)

  d_patch, d_flat = _value(d_loss(real, fake)), _value(d_loss(real.ravel(), fake.ravel()))
  assert d_patch == pytest.approx(d_flat, rel=1e-6, abs=1e-6)
  assert d_patch == pytest.approx(d_ref(r64, f64), rel=1e-5, abs=1e-6)

  g_patch, g_flat = _value(g_loss(fake)), _value(g_loss(fake.ravel()))
  assert g_patch == pytest.approx(g_flat, rel=1e-6, abs=1e-6)
  assert g_patch == pytest.approx(g_ref(f64), rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("dtype", [tf.float16, tf.bfloat16, tf.float64])
@pytest.mark.parametrize("name", sorted(NUMPY_REFERENCES))
def test_low_precision_inputs_give_float32_scalars(name, dtype):
  real = tf.cast(tf.constant(REAL), dtype)
  fake = tf.cast(tf.constant(FAKE), dtype)
  # The reference uses the values as rounded to `dtype`, then exact arithmetic.
  r64 = tf.cast(real, tf.float64).numpy()
  f64 = tf.cast(fake, tf.float64).numpy()
  d_loss, g_loss = losses.get_gan_loss(name)
  d_ref, g_ref = NUMPY_REFERENCES[name]
  assert _value(d_loss(real, fake)) == pytest.approx(d_ref(r64, f64), rel=1e-5, abs=1e-6)
  assert _value(g_loss(fake)) == pytest.approx(g_ref(f64), rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("dtype", [tf.float16, tf.bfloat16])
def test_other_losses_low_precision_give_float32(dtype):
  x = tf.cast(tf.constant([[0.0, 1.0], [2.0, 3.0]]), dtype)
  xr = tf.cast(tf.constant([[0.5, 1.0], [4.0, 3.0]]), dtype)
  # |diff| = [0.5, 0, 2, 0] (exact in both dtypes).
  assert _value(losses.identity_loss(x, xr)) == pytest.approx(0.625)
  assert _value(losses.cycle_consistency_loss(x, xr, xr, x)) == pytest.approx(1.25)
  assert _value(losses.reconstruction_loss(x, xr, kind="l2")) == pytest.approx(1.0625)
  assert _value(losses.huber_loss(x, xr)) == pytest.approx(0.40625)


def test_registry_and_lookup():
  assert set(losses.GAN_LOSSES) == {
      "minimax", "nonsaturating", "least_squares", "hinge", "wasserstein"}
  assert losses.get_gan_loss("minimax") == (
      losses.minimax_discriminator_loss, losses.minimax_generator_loss)
  assert losses.get_gan_loss("nonsaturating") == (
      losses.minimax_discriminator_loss, losses.nonsaturating_generator_loss)
  assert losses.get_gan_loss("least_squares") == (
      losses.least_squares_discriminator_loss, losses.least_squares_generator_loss)
  assert losses.get_gan_loss("hinge") == (
      losses.hinge_discriminator_loss, losses.hinge_generator_loss)
  assert losses.get_gan_loss("wasserstein") == (
      losses.wasserstein_critic_loss, losses.wasserstein_generator_loss)


def test_get_gan_loss_unknown_name():
  with pytest.raises(ValueError) as info:
    losses.get_gan_loss("vanilla")
  message = str(info.value)
  assert "vanilla" in message
  for name in ("minimax", "nonsaturating", "least_squares", "hinge", "wasserstein"):
    assert name in message


# ---------------------------------------------------------------------------------------
# Gradient penalty.
# ---------------------------------------------------------------------------------------


def _linear_critic(w):
  w = tf.constant(w, dtype=tf.float32)

  def critic(x):
    flat = tf.reshape(x, [tf.shape(x)[0], -1])
    return tf.linalg.matvec(flat, w)[:, None]  # [N, 1]

  return critic


def _pair(shape, seed=0):
  rng = np.random.default_rng(seed)
  return (rng.normal(size=shape).astype(np.float32),
          rng.normal(size=shape).astype(np.float32))


def test_gradient_penalty_linear_critic_norm_five():
  real, fake = _pair((6, 2))
  penalty, norms = losses.gradient_penalty(
      _linear_critic([3.0, 4.0]), real, fake, return_norms=True)
  # ||w|| = 5 whatever the interpolate: (5 - 1)^2 = 16.
  assert _value(penalty) == pytest.approx(16.0, rel=1e-6)
  assert norms.dtype == tf.float32
  np.testing.assert_allclose(norms.numpy(), np.full(6, 5.0), rtol=1e-6)


def test_gradient_penalty_unit_norm_is_zero():
  real, fake = _pair((5, 2))
  penalty = losses.gradient_penalty(_linear_critic([0.6, 0.8]), real, fake, seed=1)
  assert _value(penalty) == pytest.approx(0.0, abs=1e-10)


def test_gradient_penalty_one_sided():
  real, fake = _pair((5, 2))
  # ||w|| = 0.5: two-sided (0.5 - 1)^2 = 0.25, one-sided 0.
  small = _linear_critic([0.3, 0.4])
  assert _value(losses.gradient_penalty(small, real, fake)) == pytest.approx(0.25, rel=1e-5)
  assert _value(losses.gradient_penalty(small, real, fake, one_sided=True)) == 0.0
  # ||w|| = 5: the one-sided penalty is the same as the two-sided one.
  big = _linear_critic([3.0, 4.0])
  assert _value(losses.gradient_penalty(big, real, fake, one_sided=True)) == pytest.approx(
      16.0, rel=1e-6)


def test_gradient_penalty_image_shaped_linear_critic():
  real, fake = _pair((4, 5, 5, 3))
  w = np.random.default_rng(3).normal(size=75).astype(np.float32)
  norm = float(np.sqrt(np.sum(w.astype(np.float64) ** 2)))
  penalty, norms = losses.gradient_penalty(
      _linear_critic(w), real, fake, seed=5, return_norms=True)
  assert _value(penalty) == pytest.approx((norm - 1.0) ** 2, rel=1e-5)
  np.testing.assert_allclose(norms.numpy(), np.full(4, norm), rtol=1e-5)


def test_gradient_penalty_patchgan_critic():
  # A 1x1-conv "PatchGAN" critic: each of the 3x3 patches scores v . x[h, w]. The
  # gradient of the sum of all patch scores is v at every pixel: norm = sqrt(9) ||v|| = 3.
  v = tf.constant([0.6, 0.8])

  def critic(x):
    return tf.tensordot(x, v, axes=[[3], [0]])[..., None]  # [N, 3, 3, 1]

  real, fake = _pair((2, 3, 3, 2))
  penalty, norms = losses.gradient_penalty(critic, real, fake, return_norms=True)
  assert _value(penalty) == pytest.approx(4.0, rel=1e-6)
  np.testing.assert_allclose(norms.numpy(), [3.0, 3.0], rtol=1e-6)


def test_gradient_penalty_uses_given_alpha():
  # f(x) = sum x^2 has gradient 2 x_hat, so the result depends on alpha.
  critic = lambda x: tf.reduce_sum(tf.square(x), axis=1)  # noqa: E731
  real = [[1.0, 0.0], [0.0, 0.0]]
  fake = [[3.0, 0.0], [0.0, 2.0]]
  # x_hat = [[2, 0], [0, 0.5]], gradient [[4, 0], [0, 1]]: norms [4, 1], penalty 9 / 2.
  penalty, norms = losses.gradient_penalty(
      critic, real, fake, alpha=[0.5, 0.25], return_norms=True)
  assert _value(penalty) == pytest.approx(4.5, rel=1e-6)
  np.testing.assert_allclose(norms.numpy(), [4.0, 1.0], rtol=1e-6)
  # Broadcastable [N, 1] alpha gives the same.
  same = losses.gradient_penalty(critic, real, fake, alpha=[[0.5], [0.25]])
  assert _value(same) == pytest.approx(4.5, rel=1e-6)


def test_gradient_penalty_seeded_alpha_is_per_example_uniform_and_reproducible():
  # f(x) = 1/2 ||x||^2 has gradient x_hat = alpha * (1, 1, 1, 1) from real 0, fake 1:
  # the norm is 2 alpha, which exposes the drawn alpha of each example.
  critic = lambda x: 0.5 * tf.reduce_sum(tf.square(x), axis=[1, 2])  # noqa: E731
  real, fake = np.zeros((32, 2, 2), np.float32), np.ones((32, 2, 2), np.float32)
  _, norms_a = losses.gradient_penalty(critic, real, fake, seed=7, return_norms=True)
  _, norms_b = losses.gradient_penalty(critic, real, fake, seed=7, return_norms=True)
  _, norms_c = losses.gradient_penalty(critic, real, fake, seed=8, return_norms=True)
  _, norms_d = losses.gradient_penalty(critic, real, fake, return_norms=True)
  np.testing.assert_array_equal(norms_a.numpy(), norms_b.numpy())
  assert not np.allclose(norms_a.numpy(), norms_c.numpy())
  for norms in (norms_a, norms_c, norms_d):
    alphas = norms.numpy() / 2.0
    assert alphas.shape == (32,)
    assert np.all((alphas >= 0.0) & (alphas <= 1.0))
    assert np.std(alphas) > 0.1  # one weight per example, not one per batch


def test_gradient_penalty_passes_critic_kwargs():
  table = tf.constant([[3.0, 4.0], [0.6, 0.8]])

  def conditional_critic(x, labels):
    return tf.reduce_sum(x * tf.gather(table, labels), axis=1)

  real, fake = _pair((4, 2))
  penalty, norms = losses.gradient_penalty(
      conditional_critic, real, fake, return_norms=True,
      critic_kwargs={"labels": tf.constant([0, 1, 0, 1])})
  np.testing.assert_allclose(norms.numpy(), [5.0, 1.0, 5.0, 1.0], rtol=1e-6)
  assert _value(penalty) == pytest.approx((16 + 0 + 16 + 0) / 4, rel=1e-6)


def test_gradient_penalty_constant_critic():
  # No dependence on the input: zero gradient, norm sqrt(epsilon), penalty ~1.
  real, fake = _pair((3, 2))
  penalty, norms = losses.gradient_penalty(
      lambda x: tf.ones([3, 1]), real, fake, return_norms=True)
  np.testing.assert_allclose(norms.numpy(), np.full(3, 1e-5), rtol=1e-3)
  assert _value(penalty) == pytest.approx(1.0, abs=1e-4)


def test_gradient_penalty_second_order_gradient():
  # penalty(w) = (||w|| - 1)^2, so d penalty / dw = 2 (||w|| - 1) w / ||w||
  # = 2 * 4 * [0.6, 0.8] = [4.8, 6.4] at w = [3, 4].
  w = tf.Variable([3.0, 4.0])
  real, fake = _pair((4, 2))
  critic = lambda x: tf.linalg.matvec(x, w)  # noqa: E731

  @tf.function
  def graph_grad(real, fake):
    with tf.GradientTape() as tape:
      penalty = losses.gradient_penalty(critic, real, fake, seed=0)
    return penalty, tape.gradient(penalty, w)

  for fn in (graph_grad, graph_grad.python_function):
    penalty, grad = fn(tf.constant(real), tf.constant(fake))
    assert float(penalty) == pytest.approx(16.0, rel=1e-6)
    np.testing.assert_allclose(grad.numpy(), [4.8, 6.4], rtol=1e-5)


def test_gradient_penalty_shape_mismatch():
  with pytest.raises(ValueError) as info:
    losses.gradient_penalty(
        _linear_critic([3.0, 4.0]), np.zeros((4, 2), np.float32), np.zeros((3, 2), np.float32))
  assert "(4, 2)" in str(info.value) and "(3, 2)" in str(info.value)


@pytest.fixture
def mixed_float16():
  keras.mixed_precision.set_dtype_policy("mixed_float16")
  try:
    yield
  finally:
    keras.mixed_precision.set_dtype_policy("float32")


def test_gradient_penalty_mixed_float16_dense(mixed_float16):
  critic = keras.layers.Dense(1)
  critic.build((None, 2))
  critic.kernel.assign([[3.0], [4.0]])
  real, fake = _pair((64, 2))
  # Large inputs: each score is O(1e4) and a float16 sum of 64 of them would overflow.
  real, fake = real * 1000.0, fake * 1000.0
  assert critic(real).dtype == tf.float16  # the policy is really in effect
  penalty, norms = losses.gradient_penalty(critic, real, fake, seed=3, return_norms=True)
  assert penalty.dtype == tf.float32 and norms.dtype == tf.float32
  assert np.isfinite(_value(penalty))
  assert _value(penalty) == pytest.approx(16.0, rel=1e-3)
  np.testing.assert_allclose(norms.numpy(), np.full(64, 5.0), rtol=1e-3)


def test_gradient_penalty_mixed_float16_nonlinear_matches_float32_math(mixed_float16):
  # Two-layer tanh critic f(x) = w2 . tanh(W1^T x + b1), whose input gradient is
  # W1 @ ((1 - tanh^2(W1^T x + b1)) * w2): computed below in float64 NumPy.
  rng = np.random.default_rng(11)
  w1 = rng.normal(scale=0.5, size=(3, 8)).astype(np.float32)
  b1 = rng.normal(scale=0.1, size=8).astype(np.float32)
  w2 = rng.normal(scale=0.5, size=(8, 1)).astype(np.float32)
  hidden = keras.layers.Dense(8, activation="tanh")
  out = keras.layers.Dense(1, use_bias=False)
  hidden.build((None, 3))
  out.build((None, 8))
  hidden.kernel.assign(w1)
  hidden.bias.assign(b1)
  out.kernel.assign(w2)
  critic = lambda x: out(hidden(x))  # noqa: E731

  real, fake = _pair((16, 3), seed=2)
  alpha = rng.uniform(size=16).astype(np.float32)
  penalty, norms = losses.gradient_penalty(
      critic, real, fake, alpha=alpha, return_norms=True)

  x_hat = real.astype(np.float64) + alpha[:, None] * (fake - real).astype(np.float64)
  pre = x_hat @ w1 + b1
  grads = ((1 - np.tanh(pre) ** 2) * w2[:, 0]) @ w1.T
  expected_norms = np.sqrt(np.sum(grads ** 2, axis=1))
  expected_penalty = np.mean((expected_norms - 1) ** 2)
  assert np.all(np.isfinite(norms.numpy()))
  np.testing.assert_allclose(norms.numpy(), expected_norms, rtol=5e-3, atol=1e-3)
  assert _value(penalty) == pytest.approx(expected_penalty, rel=1e-2, abs=1e-3)


def test_policy_restored_after_mixed_precision_tests():
  assert keras.mixed_precision.dtype_policy().name == "float32"


# ---------------------------------------------------------------------------------------
# Cycle, identity, Huber and reconstruction losses.
# ---------------------------------------------------------------------------------------


def test_cycle_consistency_loss():
  x = [[1.0, 2.0], [3.0, 4.0]]
  x_rec = [[1.5, 2.0], [2.0, 4.0]]  # |diff| = [0.5, 0, 1, 0] -> 0.375
  y = [0.0, 0.0, 0.0]
  y_rec = [0.3, -0.3, 0.6]  # |diff| = [0.3, 0.3, 0.6] -> 0.4
  assert _value(losses.cycle_consistency_loss(x, x_rec, y, y_rec)) == pytest.approx(
      0.775, rel=1e-6)


def test_cycle_consistency_shape_mismatch():
  with pytest.raises(ValueError) as info:
    losses.cycle_consistency_loss(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 4)),
                                  np.zeros((2, 5)))
  assert "(2, 4)" in str(info.value) and "(2, 5)" in str(info.value)


def test_identity_loss():
  # |g_x - x| = [0.5, 0, 1, 0.5] -> 2 / 4.
  assert _value(losses.identity_loss([1.0, -1.0, 2.0, 0.0], [1.5, -1.0, 1.0, 0.5])) == (
      pytest.approx(0.5, rel=1e-6))
  with pytest.raises(ValueError, match=r"\(4,\).*\(1, 4\)"):
    losses.identity_loss(np.zeros(4), np.zeros((1, 4)))


def test_huber_quadratic_branch():
  # 1/2 * 0.5^2 = 0.125, 1/2 * 0.3^2 = 0.045 -> mean 0.085.
  assert _value(losses.huber_loss([0.0, 0.0], [0.5, -0.3])) == pytest.approx(0.085, rel=1e-6)


def test_huber_linear_branch():
  # delta = 1, |d| = 3: 3 - 0.5 = 2.5.   delta = 2, |d| = 5: 2 * 5 - 2 = 8.
  assert _value(losses.huber_loss([0.0], [3.0])) == pytest.approx(2.5, rel=1e-6)
  assert _value(losses.huber_loss([1.0], [-4.0], delta=2.0)) == pytest.approx(8.0, rel=1e-6)


def test_huber_mixed_branches_average():
  # delta = 1.5: |d| = 1 -> 0.5; |d| = 4 -> 1.5 * 4 - 1.125 = 4.875; mean 2.6875.
  assert _value(losses.huber_loss([[0.0, 0.0]], [[1.0, -4.0]], delta=1.5)) == pytest.approx(
      2.6875, rel=1e-6)


def test_huber_boundary_value_and_gradient_continuous():
  delta, eps = 1.5, 1e-3
  # At |d| = delta both branches give 1/2 delta^2 = 1.125.
  assert _value(losses.huber_loss([0.0], [delta], delta=delta)) == pytest.approx(1.125, rel=1e-6)
  below = _value(losses.huber_loss([0.0], [delta - eps], delta=delta))
  above = _value(losses.huber_loss([0.0], [delta + eps], delta=delta))
  assert below == pytest.approx(0.5 * (delta - eps) ** 2, rel=1e-5)
  assert above == pytest.approx(delta * (delta + eps) - 0.5 * delta ** 2, rel=1e-5)
  assert abs(above - below) < 2 * delta * eps + 1e-5

  def grad_at(f_value):
    f = tf.Variable([f_value])
    with tf.GradientTape() as tape:
      loss = losses.huber_loss([0.0], f, delta=delta)
    return float(tape.gradient(loss, f).numpy()[0])

  # Quadratic side: d/df 1/2 f^2 = f = delta - eps; linear side: delta.
  assert grad_at(delta - eps) == pytest.approx(delta - eps, rel=1e-5)
  assert grad_at(delta + eps) == pytest.approx(delta, rel=1e-6)
  assert abs(grad_at(delta + eps) - grad_at(delta - eps)) <= eps + 1e-5
  # And the sign flips for negative differences (the loss is symmetric).
  assert grad_at(-(delta + eps)) == pytest.approx(-delta, rel=1e-6)


@pytest.mark.parametrize("delta", [0.0, -1.0, float("nan")])
def test_huber_rejects_non_positive_delta(delta):
  with pytest.raises(ValueError) as info:
    losses.huber_loss([0.0], [1.0], delta=delta)
  assert repr(delta) in str(info.value)


def test_huber_shape_mismatch_names_shapes():
  with pytest.raises(ValueError) as info:
    losses.huber_loss(np.zeros((2, 3)), np.zeros((3, 2)))
  assert "(2, 3)" in str(info.value) and "(3, 2)" in str(info.value)


def test_shape_mismatch_checked_at_run_time_in_graph_mode():
  fn = tf.function(
      lambda a, b: losses.huber_loss(a, b),
      input_signature=[tf.TensorSpec([None]), tf.TensorSpec([None])])
  assert float(fn(tf.zeros([2]), tf.fill([2], 3.0))) == pytest.approx(2.5)
  with pytest.raises(tf.errors.InvalidArgumentError):
    fn(tf.zeros([2]), tf.zeros([3]))


RECON_X = [0.0, 1.0, 2.0, 3.0]
RECON_XR = [0.5, 1.0, 4.0, 3.0]  # diff = [0.5, 0, 2, 0]


@pytest.mark.parametrize("kind, expected", [
    ("l1", 2.5 / 4),                   # |d|: 0.5 + 2
    ("l2", (0.25 + 4.0) / 4),          # d^2: 0.25 + 4
    ("huber", (0.125 + 1.5) / 4),      # 1/2 0.5^2 and 1 * 2 - 1/2
    ("L1", 2.5 / 4),
])
def test_reconstruction_loss_kinds(kind, expected):
  assert _value(losses.reconstruction_loss(RECON_X, RECON_XR, kind=kind)) == pytest.approx(
      expected, rel=1e-6)


def test_reconstruction_loss_default_is_l2_and_huber_uses_delta():
  assert _value(losses.reconstruction_loss(RECON_X, RECON_XR)) == pytest.approx(1.0625)
  # delta = 0.25: 0.25 * 0.5 - 0.03125 = 0.09375; 0.25 * 2 - 0.03125 = 0.46875.
  assert _value(losses.reconstruction_loss(
      RECON_X, RECON_XR, kind="huber", delta=0.25)) == pytest.approx((0.09375 + 0.46875) / 4)


def test_reconstruction_loss_bad_kind():
  with pytest.raises(ValueError) as info:
    losses.reconstruction_loss(RECON_X, RECON_XR, kind="bogus")
  message = str(info.value)
  assert "bogus" in message
  for kind in ("l1", "l2", "huber"):
    assert kind in message


@pytest.mark.parametrize("kind", ["l1", "l2", "huber"])
def test_reconstruction_loss_shape_mismatch(kind):
  with pytest.raises(ValueError) as info:
    losses.reconstruction_loss(np.zeros((2, 2)), np.zeros((2, 2, 1)), kind=kind)
  assert "(2, 2)" in str(info.value) and "(2, 2, 1)" in str(info.value)
