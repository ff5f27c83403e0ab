"""The optimizers of a GAN's two update groups, built from its config.

Every model here trains its generator group and its discriminator (critic) group with
Adam or RMSProp at ``config.learning_rate``, constant or decayed linearly to 0 after a
fraction ``config.lr_decay_start`` of ``config.lr_decay_steps`` steps. What differs
between models is declared in the call: the optimizer, how many discriminator updates a
step makes (the schedule counts optimizer updates), a moving average of the generator's
weights, Adam's epsilon.
"""

from __future__ import annotations

from typing import Any

import keras

from tf_gans.training.schedules import LinearDecay, decaying_rate

OPTIMIZERS = ("adam", "rmsprop")


def make_optimizer(kind: str, learning_rate: Any, beta_1: float = 0.9, beta_2: float = 0.999,
                   *, epsilon: float | None = None, ema: float = 0.0
                   ) -> keras.optimizers.Optimizer:
  """Adam or RMSProp; `ema` > 0 keeps Keras's moving average of the weights it trains.

  Args:
    kind: "adam" or "rmsprop" (which takes no betas).
    learning_rate: A rate or a schedule.
    beta_1, beta_2: Adam's betas.
    epsilon: The optimizer's epsilon; None: Keras's default (1e-7).
    ema: Decay of the weights' moving average (0: none).
  """
  extra: dict[str, Any] = dict(use_ema=True, ema_momentum=ema) if ema > 0 else {}
  if epsilon is not None:
    extra["epsilon"] = epsilon
  if kind == "rmsprop":
    return keras.optimizers.RMSprop(learning_rate, **extra)
  if kind != "adam":
    raise ValueError(f"optimizer {kind!r} is not one of: {', '.join(OPTIMIZERS)}")
  return keras.optimizers.Adam(learning_rate, beta_1=beta_1, beta_2=beta_2, **extra)


def gan_optimizers(config: Any, *, kind: str = "adam", critic_updates: int = 1,
                   generator_ema: float = 0.0, epsilon: float | None = None,
                   always_schedule: bool = False) -> dict[str, keras.optimizers.Optimizer]:
  """``{"generator_optimizer": ..., "discriminator_optimizer": ...}`` for ``compile``.

  Args:
    config: Has learning_rate, beta_1, beta_2, lr_decay_start and lr_decay_steps.
    kind: "adam" or "rmsprop".
    critic_updates: Discriminator updates per train step (n_critic).
    generator_ema: Moving average of the generator's weights (0: none).
    epsilon: The optimizers' epsilon; None: Keras's default.
    always_schedule: Give the rate as a schedule even when it is constant (the
      translation models always have: their checkpoints hold no learning-rate variable).
  """
  def rate(updates_per_step: int) -> Any:
    if always_schedule:
      return LinearDecay(config.learning_rate, config.lr_decay_steps * updates_per_step,
                         config.lr_decay_start)
    return decaying_rate(config.learning_rate, config.lr_decay_start, config.lr_decay_steps,
                         updates_per_step)

  def optimizer(updates_per_step: int, ema: float) -> keras.optimizers.Optimizer:
    return make_optimizer(kind, rate(updates_per_step), config.beta_1, config.beta_2,
                          epsilon=epsilon, ema=ema)

  return {"generator_optimizer": optimizer(1, generator_ema),
          "discriminator_optimizer": optimizer(critic_updates, 0.0)}
