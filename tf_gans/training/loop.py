"""The custom training driver: ``strategy.run(gan.train_step)`` in a ``tf.function``.

Kept apart from the step (as in tensorflow/models' orbit): the step knows losses and
optimizers; this loop knows the outer things — several steps per call, checkpoints and
resumption, summaries, progress, a NaN guard and preemption (SIGTERM).
"""

from __future__ import annotations

import math
import os
import time
from typing import Any

import keras
import tensorflow as tf
from absl import logging

from tf_gans import visualize
from tf_gans.data.pipeline import Source, make_dataset
from tf_gans.models.base import GANModel
from tf_gans.training.checkpoints import (RunCheckpoints, checkpoint_dir, make_checkpoint,
                                          open_run_checkpoints)
from tf_gans.training.preemption import Preempted, PreemptionWatch
from tf_gans.training.strategy import is_chief, task_id

__all__ = ["NonFiniteLossError", "train_loop", "train_fit", "make_step_runner",
           "open_checkpoints", "checkpoint_dir", "make_checkpoint"]


class NonFiniteLossError(RuntimeError):
  """A loss became NaN or infinite; the last good checkpoint is kept."""


def _non_finite(name: str, value: float, step: int, latest: str | None) -> NonFiniteLossError:
  precision = keras.mixed_precision.dtype_policy().name
  advice = "lower the learning rate"
  if precision == "mixed_float16":
    advice += " or train in --precision=mixed_bfloat16 or float32 (float16 overflows)"
  elif precision == "mixed_bfloat16":
    advice += " or train in --precision=float32"
  return NonFiniteLossError(
      f"{name} became {value} by step {step}; stopped without saving. The last good "
      f"checkpoint ({latest or 'none'}) is intact; {advice}")


def _learning_rates(gan: GANModel) -> dict[str, float]:
  out = {}
  for name, optimizer in gan.group_optimizers.items():
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    out[f"learning_rate/{name}"] = float(keras.ops.convert_to_numpy(inner.learning_rate))
  return out


def _format(values: dict[str, float]) -> str:
  return " ".join(f"{k}={v:.4g}" for k, v in values.items())


def _weights_finite(gan: GANModel) -> bool:
  return all(bool(tf.reduce_all(tf.math.is_finite(w))) for w in gan.trainable_weights)


def open_checkpoints(gan: GANModel, strategy: tf.distribute.Strategy, model_dir: str,
                     keep: int) -> RunCheckpoints:
  """Restores the run's newest readable checkpoint and opens its checkpoints for `strategy`."""
  return open_run_checkpoints(gan, model_dir, keep, chief=is_chief(strategy),
                              worker=task_id(strategy))


def make_step_runner(gan: GANModel, strategy: tf.distribute.Strategy,
                     jit_compile: bool = False) -> Any:
  """``run_steps(iterator, num_steps)``: a ``tf.function`` running several train steps.

  The steps run in a ``tf.range`` loop inside one graph call, so Python and the host are
  involved once per call, not once per step.

  Raises:
    ValueError: for jit_compile with several replicas (an XLA cluster cannot hold the
      replicas' synchronisation).
  """
  step_fn = gan.train_step
  if jit_compile:
    replicas = strategy.num_replicas_in_sync
    if replicas > 1:
      raise ValueError(f"jit_compile works with one replica, not {replicas}; pass --nojit_compile")
    step_fn = tf.function(gan.train_step, jit_compile=True)

  @tf.function
  def run_steps(iterator, num_steps):
    for _ in tf.range(num_steps):
      strategy.run(step_fn, args=(next(iterator),))

  return run_steps


def _distributed_dataset(source: Source, strategy: tf.distribute.Strategy, *,
                         batch_size: int, seed: int, chunks: int, start_step: int) -> Any:
  """The run's data from `start_step` on, each input pipeline making its replicas' part.

  Under a multi-worker strategy every worker reads only the examples of its replicas.
  """
  replicas = strategy.num_replicas_in_sync
  if batch_size % replicas:
    raise ValueError(f"batch size {batch_size} is not divisible by the {replicas} replicas; "
                     "use a multiple of the replica count")
  return strategy.distribute_datasets_from_function(
      lambda ctx: make_dataset(source, global_batch=batch_size, seed=seed, num_replicas=replicas,
                               chunks=chunks, start_step=start_step, input_context=ctx))


def _end_together(strategy: tf.distribute.Strategy) -> None:
  """Under a multi-worker strategy, returns once every worker has reached it.

  A worker that ended its run while another still tore down its input pipeline left
  that one hanging: with the chief (and the cluster's coordination service) gone, the
  distributed iterator's destructor waited forever (seen in the soak benchmark's
  uninterrupted run). Callers drop their iterators first, then meet here.
  """
  if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
    ones = strategy.run(lambda: tf.ones([]))
    strategy.reduce(tf.distribute.ReduceOp.SUM, ones, axis=None).numpy()


def train_loop(gan: GANModel, source: Source, *, strategy: tf.distribute.Strategy,
               model_dir: str, train_steps: int, batch_size: int, seed: int,
               steps_per_loop: int = 100, log_every: int = 100, checkpoint_every: int = 1000,
               image_every: int = 1000, keep_checkpoints: int = 3,
               jit_compile: bool = False,
               checkpoints: RunCheckpoints | None = None) -> dict[str, Any]:
  """Trains `gan` (compiled under `strategy`) up to `train_steps` steps.

  Resumes from the newest readable checkpoint in model_dir: networks, optimizer states
  and the step counter come from the checkpoint, and the input pipeline restarts at that
  step, so the resumed run continues the same run. A SIGTERM to any worker writes a
  checkpoint on every worker at the same step and returns with ``preempted`` set
  (:class:`~tf_gans.training.preemption.PreemptionWatch`).

  Args:
    gan: A compiled GANModel built inside ``strategy.scope()``.
    source: Training data.
    strategy: The tf.distribute strategy.
    model_dir: Checkpoints in model_dir/checkpoints, summaries in model_dir/train.
    train_steps: Total steps (generator updates) of the run.
    batch_size: Global batch.
    seed: Data order seed.
    steps_per_loop: Steps per ``tf.function`` call; the loop only talks to the host
      between calls, so a SIGTERM is acted on within two calls.
    log_every, checkpoint_every, image_every: Intervals in steps (image_every 0: never).
    keep_checkpoints: Checkpoints kept.
    jit_compile: Compile the train step with XLA (one replica only: an XLA cluster
      cannot hold the replicas' synchronisation).
    checkpoints: The run's checkpoints, already restored (:func:`open_checkpoints`);
      default: restore and open them here.

  Returns:
    {"step": final step, "metrics": last logged metrics, "preempted": bool,
     "checkpoint": last checkpoint path, "chief": whether this worker writes the run's
     files}.

  Raises:
    NonFiniteLossError: if a loss became NaN/Inf; the checkpoints written before stay.
  """
  if checkpoints is None:
    checkpoints = open_checkpoints(gan, strategy, model_dir, keep_checkpoints)
  step = int(gan.train_counter.numpy())
  iterator = iter(_distributed_dataset(source, strategy, batch_size=batch_size, seed=seed,
                                       chunks=gan.real_batches_per_step, start_step=step))
  run_steps = make_step_runner(gan, strategy, jit_compile)

  writer = tf.summary.create_file_writer(os.path.join(model_dir, "train")) \
      if checkpoints.chief else tf.summary.create_noop_writer()
  last_metrics: dict[str, float] = {}
  preempted = False
  progress = _Progress(step, train_steps, gan.progress_metrics)
  try:
    with PreemptionWatch(strategy, checkpoints.manager) as preemption, writer.as_default():
      while step < train_steps:
        boundaries = [train_steps, step + steps_per_loop]
        for every in (log_every, checkpoint_every, image_every):
          if every:
            boundaries.append((step // every + 1) * every)
        target = min(boundaries)
        run_steps(iterator, tf.constant(target - step, tf.int32))
        step = target
        metrics = gan.metric_values()
        bad = {k: v for k, v in metrics.items() if not math.isfinite(v)}
        if bad:
          name, value = next(iter(bad.items()))
          raise _non_finite(name, value, step, checkpoints.latest)
        if step < train_steps:
          # Every worker calls this after every call: a SIGTERM anywhere saves here.
          try:
            preemption.check(step)
          except Preempted:
            logging.warning("SIGTERM: checkpoint written at step %d; run the same command "
                            "again to resume", step)
            checkpoints.latest = os.path.join(checkpoints.shared, f"ckpt-{step}")
            preempted = True
            break
        if step % log_every == 0 or step == train_steps:
          rate = progress.log(step, metrics)
          lrs = _learning_rates(gan)
          for name, value in {**metrics, **lrs, "steps_per_second": rate}.items():
            tf.summary.scalar(name, value, step=step)
          last_metrics = metrics
          gan.reset_metrics()
        if image_every and step % image_every == 0 and checkpoints.chief:
          picture = visualize.preview(gan, source, seed=seed, title=f"step {step}")
          tf.summary.image("samples", picture[None], step=step)
        if step % checkpoint_every == 0 or step == train_steps:
          if not _weights_finite(gan):  # the call's last update may have broken them
            raise _non_finite("a weight", float("nan"), step, checkpoints.latest)
          checkpoints.save(step)
    del iterator  # see _end_together
    _end_together(strategy)
  finally:  # also when training stops on an error: the summaries so far, no scratch folder
    writer.flush()
    checkpoints.close()
  return {"step": step, "metrics": last_metrics or gan.metric_values(), "preempted": preempted,
          "checkpoint": checkpoints.latest, "chief": checkpoints.chief}


class _Progress:
  """The progress line both drivers log: step, the model's one or two main losses, speed
  and time left, short enough for a terminal of 100 columns; every metric at
  ``--verbosity=1`` (and in TensorBoard)."""

  def __init__(self, step: int, train_steps: int, shown: tuple[tuple[str, str], ...] = ()):
    self.train_steps, self.shown = train_steps, shown
    self.last_time, self.last_step = time.perf_counter(), step

  def log(self, step: int, metrics: dict[str, float]) -> float:
    """Logs one line; returns the steps per second since the previous one."""
    now = time.perf_counter()
    rate = (step - self.last_step) / max(now - self.last_time, 1e-9)
    self.last_time, self.last_step = now, step
    eta = (self.train_steps - step) / rate if rate > 0 else float("inf")
    losses = "  ".join(f"{label} {metrics[name]:.4g}" for label, name in self.shown
                       if name in metrics)
    logging.info("step %d/%d  %s  %s  ETA %s", step, self.train_steps, losses, _speed(rate),
                 _duration(eta))
    logging.debug("step %d metrics: %s", step, _format(metrics))
    return rate


def _speed(steps_per_second: float) -> str:
  """"12.3 steps/s", or "29.7 s/step" for steps slower than a second."""
  if steps_per_second >= 1 or steps_per_second <= 0:
    return f"{steps_per_second:.1f} steps/s"
  return f"{1 / steps_per_second:.1f} s/step"


def _duration(seconds: float) -> str:
  if not math.isfinite(seconds):
    return "?"
  seconds = int(seconds)
  return f"{seconds // 3600}h{seconds // 60 % 60:02d}m" if seconds >= 3600 else \
      f"{seconds // 60}m{seconds % 60:02d}s"


class CheckpointCallback(keras.callbacks.Callback):
  """The loop's checkpoints, preemption handling and NaN guard for ``Model.fit``.

  Saves every `every` steps into the run's checkpoints (so both drivers share
  model_dirs), lets the run's :class:`PreemptionWatch` save and stop on a SIGTERM, and
  stops training on a non-finite logged loss or weight, saving nothing more, so the last
  good checkpoint stays the newest.
  """

  def __init__(self, checkpoints: RunCheckpoints, every: int, train_steps: int,
               preemption: PreemptionWatch | None = None):
    super().__init__()
    self.checkpoints, self.every, self.train_steps = checkpoints, every, train_steps
    self.preemption = preemption
    self.bad: tuple[str, float, int] | None = None
    self.preempted_at: int | None = None
    self.last_saved = 0

  def _check(self, logs) -> bool:
    """The logged losses of every step; the weights only before a save (as the loop)."""
    step = int(self.model.train_counter.numpy())
    for name, value in (logs or {}).items():
      if not math.isfinite(float(value)):
        self.bad = (name, float(value), step)
    if self.bad is not None:
      self.model.stop_training = True
    return self.bad is None

  def on_train_batch_end(self, batch, logs=None):
    if not self._check(logs):
      return
    step = int(self.model.train_counter.numpy())
    if self.preemption is not None and step < self.train_steps:
      self.preemption.check(step)  # raises Preempted after saving
    # With steps_per_execution > 1 Keras reports every few steps: save when a boundary
    # has been crossed since the last save, not only on an exact multiple.
    if step // self.every > self.last_saved // self.every:
      self.save(step)

  def save(self, step: int) -> None:
    if not _weights_finite(self.model):  # the last update may have broken them
      self.bad = ("a weight", float("nan"), step)
      self.model.stop_training = True
      return
    self.checkpoints.save(step)
    self.last_saved = step


def train_fit(gan: GANModel, source: Source, *, strategy: tf.distribute.Strategy,
              model_dir: str, train_steps: int, batch_size: int, seed: int,
              log_every: int = 100, checkpoint_every: int = 1000, keep_checkpoints: int = 3,
              callbacks: list[keras.callbacks.Callback] | None = None,
              checkpoints: RunCheckpoints | None = None) -> dict[str, Any]:
  """Trains with ``Model.fit`` on the same deterministic data and checkpoints.

  Each ``fit`` call trains up to `log_every` steps (a Keras "epoch") on a dataset that
  starts at the current step, so the run stops at exactly `train_steps` and resumes
  like :func:`train_loop`; a SIGTERM to any worker saves and returns with ``preempted``
  set, as the loop does.
  """
  if checkpoints is None:
    checkpoints = open_checkpoints(gan, strategy, model_dir, keep_checkpoints)
  step = int(gan.train_counter.numpy())
  board = [keras.callbacks.TensorBoard(os.path.join(model_dir, "fit"))] \
      if checkpoints.chief else []
  metrics: dict[str, float] = {}
  preempted = False
  progress = _Progress(step, train_steps, gan.progress_metrics)
  try:
    with PreemptionWatch(strategy, checkpoints.manager) as preemption:
      saver = CheckpointCallback(checkpoints, checkpoint_every, train_steps, preemption)
      saver.last_saved = step
      dataset = None
      while step < train_steps and saver.bad is None:
        steps = min(log_every, train_steps - step)
        dataset = _distributed_dataset(source, strategy, batch_size=batch_size, seed=seed,
                                       chunks=gan.real_batches_per_step, start_step=step)
        epoch = step // log_every
        try:
          history = gan.fit(dataset, epochs=epoch + 1, initial_epoch=epoch,
                            steps_per_epoch=steps, verbose=0, shuffle=False,
                            callbacks=[saver, *board, *(callbacks or [])])
        except Preempted as stop:
          logging.warning("SIGTERM: checkpoint written at step %d; run the same command "
                          "again to resume", stop.step)
          checkpoints.latest = os.path.join(checkpoints.shared, f"ckpt-{stop.step}")
          step, preempted = stop.step, True
          break
        metrics = {k: float(v[-1]) for k, v in history.history.items()}
        step = int(gan.train_counter.numpy())
        if saver.bad is None:
          progress.log(step, metrics)
      if saver.bad is None and not preempted and step != saver.last_saved:
        saver.save(step)  # the end of the run
    if saver.bad is not None:
      name, value, bad_step = saver.bad
      raise _non_finite(name, value, bad_step, checkpoints.latest)
    dataset = None  # see _end_together
    _end_together(strategy)
  finally:  # also when training stops on an error: no scratch folder left behind
    checkpoints.close()
  return {"step": step, "metrics": metrics, "preempted": preempted,
          "checkpoint": checkpoints.latest, "chief": checkpoints.chief}
