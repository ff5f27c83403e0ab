"""Learning-rate schedules."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tf_gans")
class LinearDecay(keras.optimizers.schedules.LearningRateSchedule):
  """Constant, then linearly down to zero.

  CycleGAN's ``--lr_policy linear`` (Zhu et al. 2017) keeps the rate for the first half of
  training and decays it to zero over the second; WGAN-GP's code decays linearly over the
  whole run. Both are ``decay_start`` fractions of the run here, so a short run keeps the
  shape of a long one.

  Args:
    initial_learning_rate: The constant rate.
    total_updates: Optimizer updates in the whole run (steps × updates per step).
    decay_start: Fraction of the run after which the rate decays (0: from the start).
  """

  def __init__(self, initial_learning_rate: float, total_updates: int, decay_start: float = 0.5):
    if not 0.0 <= decay_start <= 1.0:
      raise ValueError(f"decay_start must be in [0, 1], got {decay_start}")
    if total_updates <= 0:
      raise ValueError(f"total_updates must be positive, got {total_updates}")
    self.initial_learning_rate = float(initial_learning_rate)
    self.total_updates = int(total_updates)
    self.decay_start = float(decay_start)

  def __call__(self, step: Any):
    step = ops.cast(step, "float32")
    start = self.decay_start * self.total_updates
    span = max(self.total_updates - start, 1.0)
    fraction = ops.clip((step - start) / span, 0.0, 1.0)
    return self.initial_learning_rate * (1.0 - fraction)

  def get_config(self) -> dict[str, Any]:
    return {"initial_learning_rate": self.initial_learning_rate,
            "total_updates": self.total_updates, "decay_start": self.decay_start}


def decaying_rate(initial_learning_rate: float, decay_start: float, decay_steps: int,
                  updates_per_step: int = 1) -> float | LinearDecay:
  """The rate of an optimizer updated `updates_per_step` times per train step.

  The constant rate itself when `decay_start` is 1 (no decay), else a
  :class:`LinearDecay` over `decay_steps` train steps; schedules count optimizer
  updates, hence the factor.
  """
  if decay_start >= 1.0:
    return initial_learning_rate
  return LinearDecay(initial_learning_rate, decay_steps * updates_per_step, decay_start)
