"""Checkpoints of a run: what they hold, where they live, and which one a run can read.

A checkpoint is written by ``tf.train.CheckpointManager`` (one ``ckpt-<step>`` per save,
the last ``keep_checkpoints`` kept). TensorFlow writes the data and index files first
and the ``checkpoint`` state file that names the newest one last, so ``kill -9`` at any
moment leaves the newest *listed* checkpoint complete. What it cannot promise is that
the files reached the disk: a machine that loses power, or a network file system that
fails mid-write, can leave the newest checkpoint torn (a data file cut short, a flipped
bit, a missing index). Restoring it then fails deep inside TensorFlow ("Read less bytes
than requested", "Checksum does not match").

:func:`restore_newest_readable` turns that into one warning naming the file and a
restore of the checkpoint before it. A run that continues from there moves the torn
files into ``checkpoints/unreadable/`` (:func:`set_aside`), where they are kept for
inspection and never chosen again. Tools that only read a run (sampling, evaluation,
export) change nothing in the model_dir.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from typing import Any

import tensorflow as tf
from absl import logging

UNREADABLE_FOLDER = "unreadable"


class UnreadableCheckpointError(ValueError):
  """No checkpoint of a run can be read (each one's reason is in the message)."""


def make_checkpoint(gan: Any) -> tf.train.Checkpoint:
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


def _name(path: str) -> str:
  return os.path.basename(path)


def _number(path: str) -> int:
  tail = _name(path).rsplit("-", 1)[-1]
  return int(tail) if tail.isdigit() else -1


def listed_checkpoints(directory: str) -> list[str]:
  """The checkpoints the state file of `directory` lists, newest first.

  Paths are as ``tf.train.get_checkpoint_state`` gives them (joined to `directory`).
  Checkpoints set aside as unreadable (:func:`set_aside`) are no longer listed.
  """
  state = tf.train.get_checkpoint_state(directory)
  if state is None:
    return []
  paths = list(state.all_model_checkpoint_paths)
  if state.model_checkpoint_path and state.model_checkpoint_path not in paths:
    paths.append(state.model_checkpoint_path)
  # Numbered by step: the highest number is the newest, whatever order the list has.
  return sorted(paths, key=_number, reverse=True)


def _reason(error: BaseException) -> str:
  text = str(error).strip().splitlines()
  # TensorFlow's messages start with op and function names; the cause is at the end.
  message = text[-1] if text else type(error).__name__
  for marker in ("Checksum does not match", "Read less bytes than requested",
                 "Failed to find any matching files", "file is too short", "corrupted"):
    if marker.lower() in str(error).lower():
      message = marker
      break
  return message


def restore_newest_readable(checkpoint: tf.train.Checkpoint, directory: str, *,
                            exact: bool = True) -> tuple[str | None, list[str]]:
  """Restores the newest checkpoint of `directory` that can be read.

  Each newer one that cannot be read is reported in one warning line naming it and
  the reason; an older one is tried next. A failed restore may have assigned some
  variables already: the next restore assigns every one of them again.

  Args:
    checkpoint: What to restore into (built: every variable exists).
    directory: The folder of a CheckpointManager.
    exact: Require every object of `checkpoint` to be in the file (training); False
      lets inference restore without optimizer state.

  Returns:
    (the restored path or None when the folder holds no checkpoint, the unreadable
    paths newer than it).

  Raises:
    UnreadableCheckpointError: when checkpoints are listed but none can be read.
    AssertionError: for a readable checkpoint that does not fit `checkpoint` (another
      architecture): that is not damage, so no older checkpoint is tried.
  """
  unreadable: list[str] = []
  reasons: list[str] = []
  for path in listed_checkpoints(directory):
    try:
      status = checkpoint.restore(path)
    except (tf.errors.OpError, IndexError, ValueError) as e:
      reasons.append(f"{_name(path)}: {_reason(e)}")
      logging.warning("checkpoint %s cannot be read (%s); using the one before it", path,
                      _reason(e))
      unreadable.append(path)
      continue
    if exact:
      status.assert_existing_objects_matched()
    else:
      status.expect_partial()
    return path, unreadable
  if unreadable:
    raise UnreadableCheckpointError(
        f"no checkpoint in {directory} can be read ({'; '.join(reasons)}); move that folder "
        "away to start the run afresh")
  return None, []


def restore_path(checkpoint: tf.train.Checkpoint, path: str, *, exact: bool = True) -> str:
  """Restores one given checkpoint path.

  Raises:
    ValueError: naming the path when it does not exist or cannot be read.
  """
  if not tf.io.gfile.glob(path + ".index"):
    raise ValueError(f"checkpoint {path!r} does not exist (expected {path}.index)")
  try:
    status = checkpoint.restore(path)
  except (tf.errors.OpError, IndexError) as e:
    raise ValueError(f"checkpoint {path!r} cannot be read ({_reason(e)})") from None
  if exact:
    status.assert_existing_objects_matched()
  else:
    status.expect_partial()
  return path


def _unused_name(path: str) -> str:
  """`path`, or `path` with ``.1``, ``.2``... before its extension if it exists already."""
  if not os.path.exists(path):
    return path
  stem, dot, extension = os.path.basename(path).partition(".")
  for n in range(1, 10_000):
    candidate = os.path.join(os.path.dirname(path), f"{stem}.{n}{dot}{extension}")
    if not os.path.exists(candidate):
      return candidate
  raise FileExistsError(path)


def _forget(directory: str, names: set[str]) -> None:
  """Rewrites the state file of `directory` without the checkpoints called `names`.

  The state file is replaced whole (written aside, then renamed), as TensorFlow writes
  it. A checkpoint written later under one of those names (the run reaching that step
  again) is listed again. Hand-written because TensorFlow 2 has no call that takes one
  entry off the list (``CheckpointManager`` only appends and prunes its own); the proto
  is TensorFlow's own ``CheckpointState``, read with ``tf.train.get_checkpoint_state``.
  """
  from google.protobuf import text_format
  state = tf.train.get_checkpoint_state(directory)
  if state is None:
    return
  kept = type(state)()
  stamps = list(state.all_model_checkpoint_timestamps)
  for i, path in enumerate(state.all_model_checkpoint_paths):
    if _name(path) in names:
      continue
    kept.all_model_checkpoint_paths.append(_name(path))
    if len(stamps) == len(state.all_model_checkpoint_paths):
      kept.all_model_checkpoint_timestamps.append(stamps[i])
  remaining = sorted(kept.all_model_checkpoint_paths, key=_number)
  if _name(state.model_checkpoint_path) not in names:
    kept.model_checkpoint_path = _name(state.model_checkpoint_path)
  elif remaining:
    kept.model_checkpoint_path = remaining[-1]
  kept.last_preserved_timestamp = state.last_preserved_timestamp
  target = os.path.join(directory, "checkpoint")
  staging = target + ".tmp"
  with open(staging, "w", encoding="utf-8") as f:
    f.write(text_format.MessageToString(kept))
  os.replace(staging, target)


def set_aside(paths: list[str]) -> None:
  """Moves the files of unreadable checkpoints into ``<their folder>/unreadable/``.

  Kept for inspection (a name already there gets a ``.1``, ``.2``... suffix) and taken
  off the folder's state file, so no tool tries them again. Call it only after a
  restore from an older checkpoint succeeded.
  """
  by_folder: dict[str, set[str]] = {}
  for path in paths:
    folder = os.path.join(os.path.dirname(path), UNREADABLE_FOLDER)
    os.makedirs(folder, exist_ok=True)
    for file in tf.io.gfile.glob(path + ".*"):
      shutil.move(file, _unused_name(os.path.join(folder, os.path.basename(file))))
    by_folder.setdefault(os.path.dirname(path), set()).add(_name(path))
    logging.warning("moved the unreadable checkpoint %s into %s", _name(path), folder)
  for directory, names in by_folder.items():
    _forget(directory, names)


class RunCheckpointManager(tf.train.CheckpointManager):
  """A ``tf.train.CheckpointManager`` whose ``restore_or_initialize()`` restores nothing.

  TensorFlow's ``PreemptionCheckpointHandler`` calls ``restore_or_initialize()`` on the
  manager it is given when it starts. A run here has restored before that, with the
  fallback of :func:`restore_newest_readable`; the handler's own restore would read the
  same files a second time or, on a torn newest checkpoint, fail.

  Args:
    checkpoint, directory, max_to_keep: As for ``tf.train.CheckpointManager``.
    restored: The path the run restored (returned by ``restore_or_initialize``).
  """

  def __init__(self, checkpoint: tf.train.Checkpoint, directory: str, max_to_keep: int,
               restored: str | None = None):
    super().__init__(checkpoint, directory, max_to_keep)
    self.restored = restored

  def restore_or_initialize(self) -> str | None:
    return self.restored


@dataclasses.dataclass
class RunCheckpoints:
  """The checkpoints of one training run, as one worker sees them.

  Every worker restores from (and the chief saves into) ``MODEL_DIR/checkpoints``.
  Saving under a multi-worker strategy runs collective operations, so every worker
  saves; the others write into a scratch folder of their own that :meth:`close`
  removes.

  Attributes:
    manager: The worker's CheckpointManager.
    shared: ``MODEL_DIR/checkpoints``.
    chief: Whether this worker's checkpoints are the run's.
    restored: The checkpoint the run resumed from, or None.
    latest: The newest good checkpoint of the run (in ``shared``), or None.
  """

  manager: RunCheckpointManager
  shared: str
  chief: bool
  restored: str | None
  latest: str | None

  def save(self, step: int) -> str:
    self.manager.save(checkpoint_number=step)
    self.latest = os.path.join(self.shared, f"ckpt-{step}")
    return self.latest

  def close(self) -> None:
    if not self.chief:
      shutil.rmtree(self.manager.directory, ignore_errors=True)


def open_run_checkpoints(gan: Any, model_dir: str, keep: int, *, chief: bool = True,
                         worker: int = 0) -> RunCheckpoints:
  """Restores a run's newest readable checkpoint into `gan` and opens its manager.

  Unreadable newer checkpoints are set aside by the chief once the restore succeeded.

  Args:
    gan: A compiled GANModel (optimizers built).
    model_dir: The run's folder.
    keep: Checkpoints to keep.
    chief: Whether this worker writes the run's checkpoints.
    worker: This worker's task index (names its scratch folder).

  Raises:
    UnreadableCheckpointError: when checkpoints exist but none can be read.
  """
  checkpoint = make_checkpoint(gan)
  shared = checkpoint_dir(model_dir)
  restored, unreadable = restore_newest_readable(checkpoint, shared)
  if restored:
    logging.info("resumed from %s at step %d", restored, int(gan.train_counter.numpy()))
  if unreadable and chief:
    set_aside(unreadable)
  directory = shared if chief else os.path.join(model_dir, f".worker_{worker}_checkpoints")
  manager = RunCheckpointManager(checkpoint, directory, keep, restored)
  return RunCheckpoints(manager, shared, chief, restored, restored)
