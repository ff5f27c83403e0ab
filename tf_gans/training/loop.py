"""The custom training driver: ``strategy.run(gan.train_step)`` in a ``tf.function``.

Kept apart from the step (as in tensorflow/models' orbit): the step knows losses and
optimizers; this loop knows the outer things — several steps per call, checkpoints and
resumption, summaries, progress, a NaN guard and preemption (SIGTERM).
"""

from __future__ import annotations

import math
import os
import shutil
import signal
import threading
import time
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from tf_gans import visualize
from tf_gans.data.pipeline import Source, make_dataset
from tf_gans.models.base import GANModel
from tf_gans.training.strategy import is_chief, task_id


class NonFiniteLossError(RuntimeError):
  """A loss became NaN or infinite; the last good checkpoint is kept."""


def _non_finite(name: str, value: float, step: int, latest: str | None) -> NonFiniteLossError:
  return NonFiniteLossError(
      f"{name} became {value} by step {step}; stopped without saving. The last good "
      f"checkpoint ({latest or 'none'}) is intact; lower the learning rate or use "
      "--precision=float32 / mixed_bfloat16")


class _Preemption:
  """Turns SIGTERM into a flag the loop checks between step calls."""

  def __init__(self):
    self.requested = False
    self._previous = None

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      self._previous = signal.signal(signal.SIGTERM, self._handle)
    return self

  def _handle(self, signum, frame):  # pylint: disable=unused-argument
    self.requested = True

  def __exit__(self, *exc):
    if self._previous is not None:
      signal.signal(signal.SIGTERM, self._previous)


def make_checkpoint(gan: GANModel) -> tf.train.Checkpoint:
  """What a checkpoint holds: the model (networks, step counter) and its optimizers."""
  objects: dict[str, Any] = {"model": gan}
  for name, optimizer in gan.group_optimizers.items():
    objects[f"{name}_optimizer"] = optimizer
  # Keras 3 layers kept in Python lists are not tf.train.Checkpoint dependencies: a
  # variable only they reach and no optimizer holds (the moving statistics of a batch
  # norm in a list of blocks) would be silently left out. List every variable.
  objects["variables"] = list(gan.weights)
  return tf.train.Checkpoint(**objects)


def checkpoint_dir(model_dir: str) -> str:
  return os.path.join(model_dir, "checkpoints")


def restore_latest(gan: GANModel, model_dir: str, checkpoint: str | None = None) -> str | None:
  """Restores the latest (or the given) checkpoint into a compiled GAN.

  Returns:
    The path restored, or None when model_dir has no checkpoint.
  """
  path = checkpoint or tf.train.latest_checkpoint(checkpoint_dir(model_dir))
  if path is None:
    return None
  make_checkpoint(gan).restore(path).expect_partial()
  return path


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


def _checkpoint_manager(gan: GANModel, strategy: tf.distribute.Strategy, model_dir: str,
                        keep: int) -> tuple[tf.train.CheckpointManager, str, bool]:
  """The run's checkpoint manager, after restoring the latest checkpoint.

  Every worker must save (saving runs collective ops), but only the chief's copy is kept:
  the others write into a scratch folder that is removed at the end.

  Returns:
    (manager, its directory, whether this worker is the chief).
  """
  chief = is_chief(strategy)
  directory = checkpoint_dir(model_dir)
  if not chief:
    directory = os.path.join(model_dir, f".worker_{task_id(strategy)}_checkpoints")
  manager = tf.train.CheckpointManager(make_checkpoint(gan), directory, keep)
  latest = manager.latest_checkpoint
  if latest is None and not chief:
    latest = tf.train.latest_checkpoint(checkpoint_dir(model_dir))
  if latest:
    make_checkpoint(gan).restore(latest).assert_existing_objects_matched()
    logging.info("resumed from %s at step %d", latest, int(gan.train_counter.numpy()))
  return manager, directory, chief


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


def train_loop(gan: GANModel, source: Source, *, strategy: tf.distribute.Strategy,
               model_dir: str, train_steps: int, batch_size: int, seed: int,
               steps_per_loop: int = 100, log_every: int = 100, checkpoint_every: int = 1000,
               image_every: int = 1000, keep_checkpoints: int = 3,
               jit_compile: bool = False) -> dict[str, Any]:
  """Trains `gan` (compiled under `strategy`) up to `train_steps` steps.

  Resumes from the latest checkpoint in model_dir: networks, optimizer states and the step
  counter come from the checkpoint, and the input pipeline restarts at that step, so the
  resumed run continues the same run.

  Args:
    gan: A compiled GANModel built inside ``strategy.scope()``.
    source: Training data.
    strategy: The tf.distribute strategy.
    model_dir: Checkpoints in model_dir/checkpoints, summaries in model_dir/train.
    train_steps: Total steps (generator updates) of the run.
    batch_size: Global batch.
    seed: Data order seed.
    steps_per_loop: Steps per ``tf.function`` call; the loop only talks to the host
      between calls.
    log_every, checkpoint_every, image_every: Intervals in steps (image_every 0: never).
    keep_checkpoints: Checkpoints kept.
    jit_compile: Compile the train step with XLA (one replica only: an XLA cluster
      cannot hold the replicas' synchronisation).

  Returns:
    {"step": final step, "metrics": last logged metrics, "preempted": bool,
     "checkpoint": last checkpoint path}.

  Raises:
    NonFiniteLossError: if a loss became NaN/Inf; the checkpoints written before stay.
  """
  manager, directory, chief = _checkpoint_manager(gan, strategy, model_dir, keep_checkpoints)
  step = int(gan.train_counter.numpy())

  replicas = strategy.num_replicas_in_sync
  if batch_size % replicas:
    raise ValueError(f"batch size {batch_size} is not divisible by the {replicas} replicas")
  dataset = strategy.distribute_datasets_from_function(
      lambda ctx: make_dataset(source, global_batch=batch_size, seed=seed, num_replicas=replicas,
                               chunks=gan.real_batches_per_step, start_step=step,
                               input_context=ctx))
  iterator = iter(dataset)

  run_steps = make_step_runner(gan, strategy, jit_compile)

  writer = tf.summary.create_file_writer(os.path.join(model_dir, "train")) if chief else \
      tf.summary.create_noop_writer()
  last_metrics: dict[str, float] = {}
  preempted = False
  last_time, last_step = time.perf_counter(), step
  with _Preemption() as preemption, writer.as_default():
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
        raise _non_finite(name, value, step, manager.latest_checkpoint)
      if step % log_every == 0 or step == train_steps or preemption.requested:
        now = time.perf_counter()
        rate = (step - last_step) / max(now - last_time, 1e-9)
        last_time, last_step = now, step
        lrs = _learning_rates(gan)
        for name, value in {**metrics, **lrs, "steps_per_second": rate}.items():
          tf.summary.scalar(name, value, step=step)
        eta = (train_steps - step) / rate if rate > 0 else float("inf")
        logging.info("step %d/%d %s | %s, ETA %s", step, train_steps, _format(metrics),
                     _speed(rate), _duration(eta))
        last_metrics = metrics
        gan.reset_metrics()
      if image_every and step % image_every == 0 and chief:
        picture = visualize.preview(gan, source, seed=seed, title=f"step {step}")
        tf.summary.image("samples", picture[None], step=step)
      if step % checkpoint_every == 0 or step == train_steps or preemption.requested:
        if not _weights_finite(gan):  # the call's last update may have broken them
          raise _non_finite("a weight", float("nan"), step, manager.latest_checkpoint)
        manager.save(checkpoint_number=step)
      if preemption.requested:
        logging.warning("SIGTERM received: checkpoint written at step %d; rerun the same "
                        "command to resume", step)
        preempted = True
        break
  writer.flush()
  if not chief:
    shutil.rmtree(directory, ignore_errors=True)
  return {"step": step, "metrics": last_metrics, "preempted": preempted,
          "checkpoint": manager.latest_checkpoint}


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
  """Writes the loop's checkpoints from ``Model.fit`` so both drivers share model_dirs.

  Also the NaN guard of the fit driver: a non-finite logged loss or weight stops
  training and nothing more is saved, so the last good checkpoint stays the latest.
  """

  def __init__(self, manager: tf.train.CheckpointManager, every: int):
    super().__init__()
    self.manager, self.every = manager, every
    self.bad: tuple[str, float, int] | None = None
    self.last_saved = 0

  def _check(self, logs) -> bool:
    step = int(self.model.train_counter.numpy())
    for name, value in (logs or {}).items():
      if not math.isfinite(float(value)):
        self.bad = (name, float(value), step)
    if self.bad is None and not _weights_finite(self.model):
      self.bad = ("a weight", float("nan"), step)
    if self.bad is not None:
      self.model.stop_training = True
    return self.bad is None

  def on_train_batch_end(self, batch, logs=None):
    if not self._check(logs):
      return
    step = int(self.model.train_counter.numpy())
    # With steps_per_execution > 1 Keras reports every few steps: save when a boundary
    # has been crossed since the last save, not only on an exact multiple.
    if step // self.every > self.last_saved // self.every:
      self.manager.save(checkpoint_number=step)
      self.last_saved = step

  def on_train_end(self, logs=None):
    step = int(self.model.train_counter.numpy())
    if self.bad is None and step != self.last_saved and self._check(logs):
      self.manager.save(checkpoint_number=step)
      self.last_saved = step


def train_fit(gan: GANModel, source: Source, *, strategy: tf.distribute.Strategy,
              model_dir: str, train_steps: int, batch_size: int, seed: int,
              log_every: int = 100, checkpoint_every: int = 1000, keep_checkpoints: int = 3,
              callbacks: list[keras.callbacks.Callback] | None = None) -> dict[str, Any]:
  """Trains with ``Model.fit`` on the same deterministic data and checkpoints.

  Each ``fit`` call trains up to `log_every` steps (a Keras "epoch") on a dataset that
  starts at the current step, so the run stops at exactly `train_steps` and resumes
  like :func:`train_loop`.
  """
  manager, directory, chief = _checkpoint_manager(gan, strategy, model_dir, keep_checkpoints)
  step = int(gan.train_counter.numpy())
  replicas = strategy.num_replicas_in_sync
  saver = CheckpointCallback(manager, checkpoint_every)
  saver.last_saved = step
  board = [keras.callbacks.TensorBoard(os.path.join(model_dir, "fit"))] if chief else []
  metrics: dict[str, float] = {}
  while step < train_steps and saver.bad is None:
    steps = min(log_every, train_steps - step)
    dataset = make_dataset(source, global_batch=batch_size, seed=seed, num_replicas=replicas,
                           chunks=gan.real_batches_per_step, start_step=step, for_fit=True)
    epoch = step // log_every
    history = gan.fit(dataset, epochs=epoch + 1, initial_epoch=epoch, steps_per_epoch=steps,
                      verbose=2, shuffle=False, callbacks=[saver, *board, *(callbacks or [])])
    metrics = {k: float(v[-1]) for k, v in history.history.items()}
    step = int(gan.train_counter.numpy())
  if saver.bad is not None:
    name, value, bad_step = saver.bad
    raise _non_finite(name, value, bad_step, manager.latest_checkpoint)
  if not chief:
    shutil.rmtree(directory, ignore_errors=True)
  return {"step": step, "metrics": metrics, "preempted": False,
          "checkpoint": manager.latest_checkpoint}
