"""Adversarial, cycle, identity and reconstruction losses for the GANs in ``tf_gans``.

Every loss here:

* accepts logits or scores of any shape, including PatchGAN maps ``[N, H, W, 1]``, and
  reduces by the mean over *all* elements, so a PatchGAN map gives the same value as
  its flattened version (each patch is one more "example" for the discriminator);
* casts its inputs to float32 before doing any arithmetic, because under a Keras
  mixed-precision policy the networks emit float16/bfloat16 and a mean of squares or a
  softplus in those dtypes loses precision or overflows;
* returns a float32 scalar whatever the input dtype.

The adversarial losses come in (discriminator_loss, generator_loss) pairs, collected in
:data:`GAN_LOSSES` and looked up by name with :func:`get_gan_loss`.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import tensorflow as tf

TensorLike = tf.types.experimental.TensorLike

DiscriminatorLossFn = Callable[[TensorLike, TensorLike], tf.Tensor]
GeneratorLossFn = Callable[[TensorLike], tf.Tensor]


# ---------------------------------------------------------------------------------------
# Helpers.
# ---------------------------------------------------------------------------------------


def _as_float32(x: TensorLike) -> tf.Tensor:
  """Converts ``x`` to a float32 tensor (no-op for float32 tensors)."""
  x = tf.convert_to_tensor(x)
  if x.dtype != tf.float32:
    x = tf.cast(x, tf.float32)
  return x


def _check_same_shape(a: tf.Tensor, b: tf.Tensor, a_name: str, b_name: str) -> None:
  """Raises ValueError if two paired tensors do not have the same shape.

  Paired inputs (an image and its reconstruction, a target and a prediction) must
  match element for element; silently broadcasting a ``[1, ...]`` tensor against an
  ``[N, ...]`` one would compute a meaningless loss, so broadcasting is refused.

  Static shapes are checked when they are known (always in eager mode). When a
  ``tf.function`` traces with unknown dimensions, a runtime assertion is added instead;
  ``tf.function``'s automatic control dependencies make sure it runs.

  Raises:
    ValueError: If the static shapes are known to differ.
  """
  if not a.shape.is_compatible_with(b.shape):
    raise ValueError(
        f"{a_name} and {b_name} must have the same shape, got {a_name} shape "
        f"{a.shape} and {b_name} shape {b.shape}")
  if (a.shape.is_fully_defined() and b.shape.is_fully_defined()) or a.shape.rank is None:
    return
  if b.shape.rank is None:
    return
  tf.debugging.assert_equal(
      tf.shape(a), tf.shape(b),
      message=f"{a_name} and {b_name} must have the same shape")


def _mean(x: tf.Tensor) -> tf.Tensor:
  """Mean over all elements (a float32 scalar)."""
  return tf.reduce_mean(x)


# ---------------------------------------------------------------------------------------
# Adversarial losses.
# ---------------------------------------------------------------------------------------


def minimax_discriminator_loss(real_logits: TensorLike, fake_logits: TensorLike) -> tf.Tensor:
  """Discriminator loss of the original minimax GAN.

  Goodfellow et al. 2014, "Generative Adversarial Nets" (NeurIPS), eq. 1. With
  ``D = sigmoid(logits)`` the discriminator maximises ``E log D(x) + E log(1 - D(G(z)))``;
  as a loss to minimise that is

      -E[log D(x)] - E[log(1 - D(G(z)))] = E[softplus(-real)] + E[softplus(fake)],

  using ``log sigmoid(l) = -softplus(-l)`` and ``log(1 - sigmoid(l)) = -softplus(l)``.
  Computing it through softplus rather than ``log(sigmoid(.))`` stays finite for
  saturated logits (``sigmoid`` rounds to exactly 0 or 1 in float32 beyond |l| ~ 17 or
  ~ 88, and ``log(0) = -inf``).

  Args:
    real_logits: Discriminator logits on real data, any shape (e.g. ``[N]``, ``[N, 1]``
      or a PatchGAN map ``[N, H, W, 1]``).
    fake_logits: Discriminator logits on generated data, any shape.

  Returns:
    A float32 scalar: the mean over all real elements plus the mean over all fake ones.
  """
  real_logits = _as_float32(real_logits)
  fake_logits = _as_float32(fake_logits)
  return _mean(tf.math.softplus(-real_logits)) + _mean(tf.math.softplus(fake_logits))


def minimax_generator_loss(fake_logits: TensorLike) -> tf.Tensor:
  """Generator loss of the original (saturating) minimax GAN.

  Goodfellow et al. 2014, "Generative Adversarial Nets" (NeurIPS), eq. 1: the generator
  minimises ``E[log(1 - D(G(z)))] = -E[softplus(fake)]``. This loss *saturates*: when the
  discriminator confidently rejects the samples (very negative logits) its gradient
  vanishes, which is why the paper itself recommends the non-saturating form
  (:func:`nonsaturating_generator_loss`) in practice. It is provided for completeness
  and for reproducing that observation.

  Args:
    fake_logits: Discriminator logits on generated data, any shape.

  Returns:
    A float32 scalar, ``-mean(softplus(fake_logits))`` (always <= 0).
  """
  fake_logits = _as_float32(fake_logits)
  return -_mean(tf.math.softplus(fake_logits))


def nonsaturating_generator_loss(fake_logits: TensorLike) -> tf.Tensor:
  """Non-saturating generator loss.

  Goodfellow et al. 2014, "Generative Adversarial Nets" (NeurIPS), section 3: instead of
  minimising ``log(1 - D(G(z)))`` the generator maximises ``log D(G(z))``, which has the
  same fixed point but strong gradients early in training. As a loss:
  ``-E[log D(G(z))] = E[softplus(-fake)]``.

  Args:
    fake_logits: Discriminator logits on generated data, any shape.

  Returns:
    A float32 scalar, ``mean(softplus(-fake_logits))``.
  """
  fake_logits = _as_float32(fake_logits)
  return _mean(tf.math.softplus(-fake_logits))


def least_squares_discriminator_loss(real: TensorLike, fake: TensorLike) -> tf.Tensor:
  """Least-squares (LSGAN) discriminator loss with targets 1 (real) and 0 (fake).

  Mao et al. 2017, "Least Squares Generative Adversarial Networks" (ICCV), eq. 9 with
  ``a = 0, b = 1``: ``1/2 E[(D(x) - 1)^2] + 1/2 E[D(G(z))^2]``. The scores are the
  discriminator's raw (linear) outputs, not probabilities.

  CycleGAN's reference code (Zhu et al. 2017) uses exactly this: an MSE to 1 for real
  and to 0 for fake, with the discriminator loss halved "to slow down the rate at which
  D learns relative to G" -- that halving is the 0.5 factor here.

  Args:
    real: Discriminator scores on real data, any shape.
    fake: Discriminator scores on generated data, any shape.

  Returns:
    A float32 scalar, ``0.5 * (mean((real - 1)^2) + mean(fake^2))``.
  """
  real = _as_float32(real)
  fake = _as_float32(fake)
  return 0.5 * (_mean(tf.square(real - 1.0)) + _mean(tf.square(fake)))


def least_squares_generator_loss(fake: TensorLike) -> tf.Tensor:
  """Least-squares (LSGAN) generator loss with target 1.

  Mao et al. 2017, "Least Squares Generative Adversarial Networks" (ICCV), eq. 9 with
  ``c = 1``. The paper writes a 1/2 in front; it is dropped here (as in CycleGAN's
  reference code, which uses a plain MSE to 1) because a constant factor only rescales
  the generator's learning rate.

  Args:
    fake: Discriminator scores on generated data, any shape.

  Returns:
    A float32 scalar, ``mean((fake - 1)^2)``.
  """
  fake = _as_float32(fake)
  return _mean(tf.square(fake - 1.0))


def hinge_discriminator_loss(real: TensorLike, fake: TensorLike) -> tf.Tensor:
  """Hinge discriminator loss.

  Lim & Ye 2017, "Geometric GAN" (arXiv:1705.02894); Miyato et al. 2018, "Spectral
  Normalization for Generative Adversarial Networks" (ICLR), eq. 16:
  ``E[relu(1 - D(x))] + E[relu(1 + D(G(z)))]``. Unlike the Wasserstein critic loss the
  margin stops pushing scores that are already on the right side by 1.

  Args:
    real: Discriminator scores on real data, any shape.
    fake: Discriminator scores on generated data, any shape.

  Returns:
    A float32 scalar, ``mean(relu(1 - real)) + mean(relu(1 + fake))``.
  """
  real = _as_float32(real)
  fake = _as_float32(fake)
  return _mean(tf.nn.relu(1.0 - real)) + _mean(tf.nn.relu(1.0 + fake))


def hinge_generator_loss(fake: TensorLike) -> tf.Tensor:
  """Hinge-GAN generator loss.

  Lim & Ye 2017, "Geometric GAN" (arXiv:1705.02894); Miyato et al. 2018, "Spectral
  Normalization for Generative Adversarial Networks" (ICLR), eq. 17: ``-E[D(G(z))]``
  (no margin on the generator side).

  Args:
    fake: Discriminator scores on generated data, any shape.

  Returns:
    A float32 scalar, ``-mean(fake)``.
  """
  fake = _as_float32(fake)
  return -_mean(fake)


def wasserstein_critic_loss(real_scores: TensorLike, fake_scores: TensorLike) -> tf.Tensor:
  """Wasserstein-GAN critic loss.

  Arjovsky et al. 2017, "Wasserstein Generative Adversarial Networks" (ICML), eq. 3 and
  algorithm 1. By Kantorovich-Rubinstein duality ``W(P_r, P_g) = sup_{|f|_L <= 1}
  E_{P_r}[f] - E_{P_g}[f]``; the critic maximises that difference, i.e. minimises
  ``E[f(G(z))] - E[f(x)]``. The Lipschitz constraint is *not* part of this loss: add
  :func:`gradient_penalty` (WGAN-GP) or clip the weights (the original WGAN).

  Args:
    real_scores: Critic scores on real data, any shape.
    fake_scores: Critic scores on generated data, any shape.

  Returns:
    A float32 scalar, ``mean(fake_scores) - mean(real_scores)``; its negative estimates
    the Wasserstein-1 distance once the critic is (near) optimal and 1-Lipschitz.
  """
  real_scores = _as_float32(real_scores)
  fake_scores = _as_float32(fake_scores)
  return _mean(fake_scores) - _mean(real_scores)


def wasserstein_generator_loss(fake_scores: TensorLike) -> tf.Tensor:
  """Wasserstein-GAN generator loss.

  Arjovsky et al. 2017, "Wasserstein Generative Adversarial Networks" (ICML),
  algorithm 1: the generator minimises ``-E[f(G(z))]`` (the ``E[f(x)]`` term of the
  critic objective does not depend on the generator).

  Args:
    fake_scores: Critic scores on generated data, any shape.

  Returns:
    A float32 scalar, ``-mean(fake_scores)``.
  """
  fake_scores = _as_float32(fake_scores)
  return -_mean(fake_scores)


# ---------------------------------------------------------------------------------------
# Gradient penalty (WGAN-GP).
# ---------------------------------------------------------------------------------------


def _interpolation_weights(
    real: tf.Tensor,
    alpha: TensorLike | None,
    seed: int | Sequence[int] | TensorLike | None,
) -> tf.Tensor:
  """Per-example interpolation weights, shaped ``[N, 1, ..., 1]`` to broadcast."""
  rank = real.shape.rank
  batch = tf.shape(real)[0]
  broadcast_shape = tf.concat(
      [tf.reshape(batch, [1]), tf.ones([rank - 1], dtype=tf.int32)], axis=0)
  if alpha is not None:
    alpha = _as_float32(alpha)
    # A per-example vector [N] is the common case (the engine draws one weight per
    # example); reshape it so it broadcasts over the example's other axes. Scalars and
    # already-broadcastable tensors (e.g. [N, 1, 1, 1]) are used as given.
    if alpha.shape.rank == 1 and rank > 1:
      alpha = tf.reshape(alpha, broadcast_shape)
    return alpha
  if seed is not None:
    # stateless_uniform needs a shape-[2] integer seed; an int seed is widened to
    # [seed, 0] so callers can pass a plain Python int.
    if isinstance(seed, int):
      seed = [seed, 0]
    seed = tf.cast(tf.convert_to_tensor(seed), tf.int64)
    return tf.random.stateless_uniform(broadcast_shape, seed=seed, dtype=tf.float32)
  return tf.random.uniform(broadcast_shape, dtype=tf.float32)


def gradient_penalty(
    critic: Callable[..., TensorLike],
    real: TensorLike,
    fake: TensorLike,
    *,
    alpha: TensorLike | None = None,
    one_sided: bool = False,
    epsilon: float = 1e-10,
    seed: int | Sequence[int] | TensorLike | None = None,
    return_norms: bool = False,
    critic_kwargs: Mapping[str, Any] | None = None,
) -> tf.Tensor | tuple[tf.Tensor, tf.Tensor]:
  """WGAN-GP gradient penalty on random interpolates between real and fake examples.

  Gulrajani et al. 2017, "Improved Training of Wasserstein GANs" (NeurIPS), eq. 3 and
  algorithm 1: with ``x_hat = real + alpha * (fake - real)``, ``alpha ~ U[0, 1]`` drawn
  once per example,

      penalty = E[(||grad_x f(x_hat)||_2 - 1)^2].

  With ``one_sided=True`` only norms above 1 are penalised,
  ``E[relu(||grad f(x_hat)|| - 1)^2]`` -- the "Lipschitz penalty" of Petzka et al. 2018,
  "On the regularization of Wasserstein GANs" (ICLR), which enforces ``|f|_L <= 1``
  rather than ``= 1``.

  The penalty weight (lambda = 10 in the paper) is applied by the caller.

  Call this inside the caller's ``tf.GradientTape`` that differentiates the critic loss
  with respect to the critic's weights: the input gradient is taken with a nested tape,
  and the outer tape differentiates through it (a second-order gradient).

  The critic is differentiated through the sum of *all* its outputs. Examples are
  independent (no batch normalisation in a WGAN-GP critic -- the paper replaces it by
  layer norm precisely so this holds), so the gradient of the sum with respect to
  example ``i`` is the gradient of example ``i``'s own (summed) scores. For a PatchGAN
  critic that is the gradient of the sum of the example's patch scores.

  Mixed precision: the interpolation is done in float32 (``real``/``fake`` are cast
  first) and the critic's output is cast to float32 before it is summed, so a large
  batch of large scores cannot overflow float16 in the sum. The input gradient itself
  is *not* loss-scaled. A fixed scale would guard against float16 underflow, but the
  penalty drives the gradient norm towards 1, so its components are of order
  ``1/sqrt(D)`` for a ``D``-element example -- well inside float16's normal range
  (>= 6.1e-5) for any realistic image size -- whereas a fixed scale such as 2**10 would
  overflow (inf, then NaN) whenever a far-from-Lipschitz critic, typical early in
  training, has gradient components above 65504 / 2**10 = 64. Underflow can only affect
  components that are negligible next to a unit norm, so it cannot change the penalty
  materially. Loss scaling of the *outer* (weight) gradient is the optimizer's job
  (``keras.optimizers.LossScaleOptimizer``).

  Args:
    critic: Callable mapping a float32 batch ``[N, ...]`` (plus ``**critic_kwargs``) to
      scores of shape ``[N]``, ``[N, 1]`` or a per-example map such as ``[N, H, W, 1]``.
      It may compute in float16/bfloat16 (e.g. a Keras model under a mixed-precision
      policy); its output is cast to float32.
    real: Real examples ``[N, ...]`` (rank >= 1).
    fake: Generated examples, same shape as ``real``.
    alpha: Interpolation weights to use instead of drawing them: shape ``[N]`` (reshaped
      to broadcast over each example), a broadcastable ``[N, 1, ..., 1]`` tensor, or a
      scalar. The training engine passes its own deterministic (stateless) weights.
    one_sided: Penalise only norms above 1 (Petzka et al. 2018) instead of any
      deviation from 1.
    epsilon: Added under the square root of the squared norm so the norm's own gradient
      stays finite where the input gradient is exactly zero.
    seed: If given (and ``alpha`` is not), the weights are drawn with
      ``tf.random.stateless_uniform`` from this seed (an int, or a shape-[2] integer
      seed), making the penalty reproducible. Otherwise ``tf.random.uniform`` is used.
    return_norms: Also return the per-example gradient norms (for logging).
    critic_kwargs: Extra keyword arguments passed to ``critic`` unchanged, e.g. the
      labels of a conditional critic.

  Returns:
    The float32 scalar penalty, or ``(penalty, norms)`` with float32 ``norms`` of shape
    ``[N]`` when ``return_norms`` is True.

  Raises:
    ValueError: If ``real`` and ``fake`` do not have the same shape, are scalars, or
      ``epsilon`` is negative.
  """
  real = _as_float32(real)
  fake = _as_float32(fake)
  _check_same_shape(real, fake, "real", "fake")
  if real.shape.rank is None or real.shape.rank < 1:
    raise ValueError(
        f"gradient_penalty needs batched inputs of rank >= 1, got shape {real.shape}")
  if epsilon < 0:
    raise ValueError(f"epsilon must be >= 0, got {epsilon}")
  critic_kwargs = dict(critic_kwargs or {})

  weights = _interpolation_weights(real, alpha, seed)
  interpolates = real + weights * (fake - real)

  with tf.GradientTape() as tape:
    tape.watch(interpolates)
    scores = critic(interpolates, **critic_kwargs)
    # Cast before summing: under a float16 policy the sum of a whole batch of (PatchGAN)
    # scores can overflow float16 even when every score is finite. Only its gradient is
    # used (all ones, whatever the value), but an inf on the tape is a trap for anyone
    # who later reuses or inspects it.
    total = tf.reduce_sum(tf.cast(scores, tf.float32))
  # Outside the inner tape's context (so it does not record its own gradient), but
  # inside any outer tape of the caller, which records it for the second-order gradient.
  # A critic that ignores its input has a zero gradient, not "no" gradient.
  # The gradient with respect to the float32 interpolates is float32 even when the
  # critic computed in float16: the gradient of its input cast casts back.
  grads = tape.gradient(
      total, interpolates, unconnected_gradients=tf.UnconnectedGradients.ZERO)

  reduce_axes = list(range(1, real.shape.rank))
  squared = tf.square(grads)
  if reduce_axes:
    squared = tf.reduce_sum(squared, axis=reduce_axes)
  norms = tf.sqrt(squared + epsilon)

  deviation = norms - 1.0
  if one_sided:
    deviation = tf.nn.relu(deviation)
  penalty = tf.reduce_mean(tf.square(deviation))
  if return_norms:
    return penalty, norms
  return penalty


# ---------------------------------------------------------------------------------------
# Cycle, identity and reconstruction losses.
# ---------------------------------------------------------------------------------------


def _mean_absolute_error(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
  return _mean(tf.abs(a - b))


def _mean_squared_error(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
  return _mean(tf.square(a - b))


def cycle_consistency_loss(
    x: TensorLike,
    x_reconstructed: TensorLike,
    y: TensorLike,
    y_reconstructed: TensorLike,
) -> tf.Tensor:
  """CycleGAN cycle-consistency loss (without its weight lambda).

  Zhu et al. 2017, "Unpaired Image-to-Image Translation using Cycle-Consistent
  Adversarial Networks" (ICCV), eq. 2:
  ``L_cyc = E||F(G(x)) - x||_1 + E||G(F(y)) - y||_1``. As in the reference code
  (``torch.nn.L1Loss``) each direction is the mean absolute error over *all* elements,
  so the value does not depend on image size; the two directions are summed. The
  weight (lambda = 10 in the paper) is applied by the caller.

  Args:
    x: Images from domain X.
    x_reconstructed: ``F(G(x))``, same shape as ``x``.
    y: Images from domain Y.
    y_reconstructed: ``G(F(y))``, same shape as ``y``.

  Returns:
    A float32 scalar, ``mean|x_reconstructed - x| + mean|y_reconstructed - y|``.

  Raises:
    ValueError: If a reconstruction's shape differs from its input's.
  """
  x, x_reconstructed = _as_float32(x), _as_float32(x_reconstructed)
  y, y_reconstructed = _as_float32(y), _as_float32(y_reconstructed)
  _check_same_shape(x, x_reconstructed, "x", "x_reconstructed")
  _check_same_shape(y, y_reconstructed, "y", "y_reconstructed")
  return _mean_absolute_error(x_reconstructed, x) + _mean_absolute_error(y_reconstructed, y)


def identity_loss(x: TensorLike, g_x: TensorLike) -> tf.Tensor:
  """CycleGAN identity-mapping loss (without its weight).

  Taigman et al. 2017, "Unsupervised Cross-Domain Image Generation" (ICLR); used by
  Zhu et al. 2017 (CycleGAN, section 5.2) as ``E||G(y) - y||_1`` to make a generator
  that is given an image already in its target domain leave it (and its colours)
  unchanged. Mean absolute error over all elements; the weight (0.5 * lambda in the
  CycleGAN reference code) is applied by the caller.

  Args:
    x: Images already in the generator's target domain.
    g_x: The generator applied to them, same shape as ``x``.

  Returns:
    A float32 scalar, ``mean|g_x - x|``.

  Raises:
    ValueError: If the shapes differ.
  """
  x, g_x = _as_float32(x), _as_float32(g_x)
  _check_same_shape(x, g_x, "x", "g_x")
  return _mean_absolute_error(g_x, x)


def _validate_delta(delta: float | TensorLike) -> float | tf.Tensor:
  """Returns delta as a Python float after checking it is finite and > 0.

  A symbolic tensor (inside ``tf.function``) cannot be checked at trace time; it gets a
  runtime assertion instead.
  """
  if isinstance(delta, tf.Tensor) and not tf.executing_eagerly():
    delta = _as_float32(delta)
    tf.debugging.assert_positive(delta, message="huber delta must be > 0")
    return delta
  try:
    value = float(delta)
  except (TypeError, ValueError) as err:
    raise ValueError(f"huber delta must be a positive number, got {delta!r}") from err
  # `not value > 0` also rejects NaN. An infinite delta would make the linear branch
  # compute inf * 0 = NaN; use the squared error instead.
  if not value > 0 or value == float("inf"):
    raise ValueError(f"huber delta must be a finite number > 0, got {delta!r}")
  return value


def huber_loss(y: TensorLike, f_x: TensorLike, delta: float = 1.0) -> tf.Tensor:
  """Huber loss, averaged over all elements.

  Huber 1964, "Robust Estimation of a Location Parameter" (Annals of Mathematical
  Statistics):

      L_delta(y, f(x)) = 1/2 (y - f(x))^2                 if |y - f(x)| <= delta,
                         delta |y - f(x)| - 1/2 delta^2   otherwise.

  Quadratic near zero (like L2, smooth at 0) and linear in the tails (like L1, robust to
  outliers); value and first derivative are continuous at ``|y - f(x)| = delta``.
  DiscoGAN (Kim et al. 2017) lists it among its reconstruction distances.

  It is computed as ``1/2 q^2 + delta (|d| - q)`` with ``q = min(|d|, delta)``, which
  equals the two branches above but needs no ``tf.where`` (whose unselected branch can
  leak NaN/inf into gradients).

  Args:
    y: Targets.
    f_x: Predictions, same shape as ``y``.
    delta: The threshold between the quadratic and linear regimes; must be > 0.

  Returns:
    A float32 scalar, the mean of ``L_delta`` over all elements.

  Raises:
    ValueError: If ``delta`` is not a finite number > 0, or the shapes differ.
  """
  delta = _validate_delta(delta)
  y, f_x = _as_float32(y), _as_float32(f_x)
  _check_same_shape(y, f_x, "y", "f_x")
  abs_error = tf.abs(y - f_x)
  quadratic = tf.minimum(abs_error, delta)
  linear = abs_error - quadratic
  return _mean(0.5 * tf.square(quadratic) + delta * linear)


RECONSTRUCTION_KINDS: tuple[str, ...] = ("l1", "l2", "huber")


def reconstruction_loss(
    x: TensorLike,
    x_reconstructed: TensorLike,
    kind: str = "l2",
    delta: float = 1.0,
) -> tf.Tensor:
  """DiscoGAN reconstruction loss ``d(G_BA(G_AB(x_A)), x_A)``.

  Kim et al. 2017, "Learning to Discover Cross-Domain Relations with Generative
  Adversarial Networks" (ICML), eq. 1-2: the reconstruction distance "could be any
  distance function, such as MSE, cosine distance, and hinge-loss"; the paper's
  experiments use MSE, which is the default here.

  Args:
    x: Original examples.
    x_reconstructed: Their reconstructions, same shape as ``x``.
    kind: ``"l2"`` (mean squared error), ``"l1"`` (mean absolute error) or ``"huber"``
      (:func:`huber_loss` with ``delta``). Case-insensitive.
    delta: Huber threshold, used only when ``kind="huber"``.

  Returns:
    A float32 scalar, averaged over all elements.

  Raises:
    ValueError: If ``kind`` is not one of the accepted kinds, the shapes differ, or
      (for ``"huber"``) ``delta`` is not > 0.
  """
  normalised = kind.lower() if isinstance(kind, str) else kind
  if normalised not in RECONSTRUCTION_KINDS:
    raise ValueError(
        f"reconstruction loss kind {kind!r} is not one of: {', '.join(RECONSTRUCTION_KINDS)}")
  if normalised == "huber":
    return huber_loss(x, x_reconstructed, delta=delta)
  x, x_reconstructed = _as_float32(x), _as_float32(x_reconstructed)
  _check_same_shape(x, x_reconstructed, "x", "x_reconstructed")
  if normalised == "l1":
    return _mean_absolute_error(x_reconstructed, x)
  return _mean_squared_error(x_reconstructed, x)


def patch_nce_loss(query: TensorLike, key: TensorLike, temperature: float = 0.07) -> tf.Tensor:
  """Patchwise InfoNCE loss of contrastive unpaired translation (CUT).

  Park, Efros, Zhang & Zhu 2020, "Contrastive Learning for Unpaired Image-to-Image
  Translation" (ECCV), eq. 2-3: each output patch (the query) must pick out the input
  patch at the same place (its positive key) among the other patches of the same image
  (the negatives), a (P + 1)-way classification with logits ``q·k / τ``:

      ℓ(q, k⁺, k⁻) = −log( exp(q·k⁺/τ) / (exp(q·k⁺/τ) + Σ_n exp(q·k⁻_n/τ)) )

  averaged over the P patches of every image. As in the authors' code
  (taesungp/contrastive-unpaired-translation, ``PatchNCELoss`` with its default
  ``nce_includes_all_negatives_from_minibatch=False``), negatives come only from the
  query's own image, a patch's own key is masked out of its negatives with the logit
  −10 (before the division by τ), and no gradient flows into the keys.

  Args:
    query: [N, P, C] features of P patches of each output image (L2-normalised in CUT).
    key: [N, P, C] features of the same P places of each input image.
    temperature: τ (0.07 in the paper).

  Returns:
    A float32 scalar, the mean over N × P patches.

  Raises:
    ValueError: If the shapes differ, are not rank 3, or τ is not > 0.
  """
  if temperature <= 0:
    raise ValueError(f"temperature must be > 0, got {temperature}")
  query, key = _as_float32(query), tf.stop_gradient(_as_float32(key))
  _check_same_shape(query, key, "query", "key")
  if query.shape.rank is not None and query.shape.rank != 3:
    raise ValueError(f"query and key must be [N, P, C], got shape {query.shape}")
  positive = tf.reduce_sum(query * key, axis=-1, keepdims=True)  # [N, P, 1]
  negative = tf.matmul(query, key, transpose_b=True)  # [N, P, P]
  patches = tf.shape(query)[1]
  own = tf.eye(patches, dtype=tf.bool)[tf.newaxis]
  negative = tf.where(own, tf.constant(-10.0), negative)
  logits = tf.concat([positive, negative], axis=-1) / temperature
  # The positive is class 0: the loss is logsumexp(logits) − logits[0].
  return _mean(tf.reduce_logsumexp(logits, axis=-1) - logits[..., 0])


# ---------------------------------------------------------------------------------------
# Registry.
# ---------------------------------------------------------------------------------------

GAN_LOSSES: dict[str, tuple[DiscriminatorLossFn, GeneratorLossFn]] = {
    "minimax": (minimax_discriminator_loss, minimax_generator_loss),
    # Same discriminator as the minimax game; only the generator's objective changes.
    "nonsaturating": (minimax_discriminator_loss, nonsaturating_generator_loss),
    "least_squares": (least_squares_discriminator_loss, least_squares_generator_loss),
    "hinge": (hinge_discriminator_loss, hinge_generator_loss),
    "wasserstein": (wasserstein_critic_loss, wasserstein_generator_loss),
}


def get_gan_loss(name: str) -> tuple[DiscriminatorLossFn, GeneratorLossFn]:
  """Returns the ``(discriminator_loss_fn, generator_loss_fn)`` pair called ``name``.

  Args:
    name: One of the keys of :data:`GAN_LOSSES`: "minimax", "nonsaturating",
      "least_squares", "hinge", "wasserstein".

  Returns:
    The pair of loss functions.

  Raises:
    ValueError: If ``name`` is not a known loss.
  """
  try:
    return GAN_LOSSES[name]
  except (KeyError, TypeError):
    raise ValueError(
        f"unknown GAN loss {name!r}; expected one of: {', '.join(GAN_LOSSES)}") from None
