"""Learning-rate schedules."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tf_gans")
class ConstantThenLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
  """A constant rate, then a straight line down to 0 at the last step.

  Zhu et al. 2017 (CycleGAN), section 4: "keep the same learning rate for the first 100
  epochs and linearly decay the rate to zero over the next 100 epochs" (the reference
  code's ``--lr_policy linear``). Expressed in optimizer steps:

      lr(s) = lr0                                   for s < decay_start
      lr(s) = lr0 * (total - s) / (total - decay_start)   afterwards (0 from s = total)

  Args:
    initial_learning_rate: lr0.
    total_steps: The step at which the rate reaches 0 (the run's length).
    decay_start: The step at which the decay begins (half the run in the paper).
      ``decay_start >= total_steps`` keeps the rate constant.
  """

  def __init__(self, initial_learning_rate: float, total_steps: int, decay_start: int):
    if total_steps < 1 or decay_start < 0:
      raise ValueError(f"ConstantThenLinearDecay needs total_steps >= 1 and decay_start >= 0; "
                       f"got total_steps={total_steps}, decay_start={decay_start}")
    self.initial_learning_rate = float(initial_learning_rate)
    self.total_steps = int(total_steps)
    self.decay_start = int(decay_start)

  def __call__(self, step: Any) -> Any:
    step = ops.cast(step, "float32")
    span = float(max(self.total_steps - self.decay_start, 0))
    if span == 0:
      return ops.convert_to_tensor(self.initial_learning_rate, "float32")
    remaining = (float(self.total_steps) - step) / span
    return self.initial_learning_rate * ops.clip(remaining, 0.0, 1.0)

  def get_config(self) -> dict[str, Any]:
    return {"initial_learning_rate": self.initial_learning_rate,
            "total_steps": self.total_steps, "decay_start": self.decay_start}
