"""Preemption: a SIGTERM to any worker checkpoints every worker at one step, then stops.

Cloud spot VMs, Kubernetes and cluster schedulers stop a worker with SIGTERM and kill it
a grace period later. Under a multi-worker strategy one worker's signal concerns all of
them: the others cannot train on without it, and a checkpoint needs every worker
(saving runs collective operations). TensorFlow's
``tf.distribute.experimental.PreemptionCheckpointHandler`` does exactly that: each
worker's handler catches its own SIGTERM, the worker that got it picks the next step
and publishes it through the cluster's coordination service, and every worker saves
after that step and exits. In one process (``default``/``mirrored`` strategies) the same
handler works without a cluster.

:class:`PreemptionWatch` sets the handler up for a run: it saves through the run's
``CheckpointManager`` (so the checkpoint is ``ckpt-<step>`` beside the periodic ones),
and its exit raises :class:`Preempted` instead of ending the process, so the drivers
return normally and ``tools/train.py`` exits with :data:`PREEMPTED_EXIT_CODE` ("saved,
not finished: run me again"). A worker that dies without SIGTERM (``kill -9``, a lost
machine) cannot save: the others fail in their next collective operation, which
:func:`is_peer_failure` recognises, and the run resumes from the last checkpoint.
"""

from __future__ import annotations

import re
import signal
import threading
from typing import Any

import tensorflow as tf
from absl import logging

# Exit status of a run stopped by SIGTERM after writing a checkpoint: "not finished,
# run the same command again". TensorFlow's handler exits with the same code.
PREEMPTED_EXIT_CODE = 42
# Exit status of a worker whose peer vanished without a checkpoint (kill -9, a lost
# machine): restart every worker; the run resumes from the last periodic checkpoint.
# 75 is EX_TEMPFAIL of sysexits.h, "try again later".
PEER_LOST_EXIT_CODE = 75


class Preempted(Exception):
  """Raised by the drivers' preemption check after the checkpoint was written."""

  def __init__(self, step: int):
    super().__init__(f"stopped by SIGTERM at step {step} after writing its checkpoint")
    self.step = step


class PeerLostError(RuntimeError):
  """Another worker of the run stopped without a checkpoint."""


# Parts of the messages TensorFlow gives when a collective operation or the coordination
# service loses a peer (seen with two localhost workers and kill -9 of either one).
_PEER_FAILURE_MARKERS = (
    "connection reset by peer", "socket closed", "failed to connect", "connection refused",
    "stopped sending heartbeats", "unhealthy", "task has been restarted",
    "collective ops is aborted")


def is_peer_failure(error: BaseException, strategy: tf.distribute.Strategy) -> bool:
  """Whether `error` is a multi-worker run losing one of its workers."""
  resolver = getattr(strategy, "cluster_resolver", None)
  if resolver is None or not resolver.cluster_spec().jobs:
    return False
  if isinstance(error, (tf.errors.UnavailableError, tf.errors.AbortedError,
                        tf.errors.CancelledError, tf.errors.DeadlineExceededError)):
    return True
  if isinstance(error, tf.errors.OpError):
    text = str(error).lower()
    return any(marker in text for marker in _PEER_FAILURE_MARKERS)
  return False


def short_reason(error: BaseException) -> str:
  """What an error says in a few words: which tasks went silent, else its first line."""
  text = str(error)
  if "heartbeat" in text.lower():
    tasks = sorted(set(re.findall(r"/job:(\w+)/replica:\d+/task:(\d+)", text)))
    if tasks:
      return ", ".join(f"{job} {task}" for job, task in tasks) + " stopped sending heartbeats"
  lines = [l.strip() for l in text.splitlines() if l.strip()]
  line = lines[0] if lines else type(error).__name__
  return line.split("}}")[-1].strip()[:200]


_WATCHER_THREAD_PREFIX = "PeerTerminationWatcher"


def _quiet_watcher_errors() -> None:
  """Makes the handler's peer-watching thread end quietly when a peer vanishes.

  That thread waits on the coordination service; when another worker dies it ends with
  an ``UnavailableError`` that Python prints as a thread traceback, next to the one-line
  error the main thread reports for the same event. Other threads' errors are printed
  as before.
  """
  previous = threading.excepthook
  if getattr(previous, "tf_gans_quiet", False):
    return

  def hook(args):
    if (args.thread is not None and args.thread.name.startswith(_WATCHER_THREAD_PREFIX)
        and isinstance(args.exc_value, tf.errors.OpError)):
      logging.info("preemption watcher stopped: %s", short_reason(args.exc_value))
      return
    previous(args)

  hook.tf_gans_quiet = True
  threading.excepthook = hook


class PreemptionWatch:
  """TensorFlow's PreemptionCheckpointHandler for one training run.

  Create it after the run has restored its checkpoint and call :meth:`check` on every
  worker after each train-function call (the same calls on every worker). A SIGTERM
  that came earlier, while the process started, is acted on too when the SIGTERM
  handler in place has a true ``received`` attribute (tools/train.py installs one
  first thing). Use it as a
  context manager: on leaving, the SIGTERM handler that was installed before is
  restored, so a process that trains twice does not keep a stale handler.

  Args:
    strategy: The run's strategy (its cluster resolver, under multi_worker).
    manager: The CheckpointManager the handler saves with (the run's; a non-chief
      worker's scratch manager).
  """

  def __init__(self, strategy: tf.distribute.Strategy, manager: tf.train.CheckpointManager):
    self.handler = None
    self._previous = None
    if threading.current_thread() is not threading.main_thread():
      # Python delivers signals to the main thread only: there is nothing to watch.
      logging.warning("training outside the main thread: SIGTERM is not handled")
      return
    self._previous = signal.getsignal(signal.SIGTERM)
    resolver = getattr(strategy, "cluster_resolver", None)
    _quiet_watcher_errors()
    config = tf.distribute.experimental.TerminationConfig(exit_fn=self._stop)
    with strategy.scope():
      self.handler = tf.distribute.experimental.PreemptionCheckpointHandler(
          resolver, manager, termination_config=config)
    self._step = 0
    if getattr(self._previous, "received", False):
      # A SIGTERM arrived while the process started (tools/train.py notes it): hand it
      # to the handler, which saves after the first call.
      logging.warning("SIGTERM received while starting: saving after the first steps")
      signal.raise_signal(signal.SIGTERM)

  def _stop(self) -> None:
    raise Preempted(self._step)

  def check(self, step: int) -> None:
    """Saves ``ckpt-<step>`` and raises :class:`Preempted` if a worker got SIGTERM.

    The worker that got the signal asks for a checkpoint after the next call, so a
    SIGTERM is acted on within two train-function calls of it.
    """
    if self.handler is None:
      return
    self._step = step
    self.handler.save_checkpoint_if_preempted(checkpoint_number=step, check_interval=False)

  def __enter__(self) -> "PreemptionWatch":
    return self

  def __exit__(self, exc_type: Any, *exc: Any) -> None:
    lost_peer = exc_type is not None and issubclass(exc_type, tf.errors.OpError)
    if self.handler is not None and not lost_peer:
      # The handler's thread that watches for other workers' signals waits on the
      # coordination service until told to stop; TensorFlow's handler tells it in
      # __del__ only, whenever the handler is garbage collected. By then another worker
      # may have exited, and the call blocks forever (seen: the chief of a finished
      # two-worker run hung there). At the end of a run, or when every worker stops on
      # the same error (a NaN loss), every worker is still here.
      stop = getattr(self.handler, "_stop_cluster_wise_termination_watcher_thread", None)
      if stop is not None:
        stop()
    if self._previous is not None:
      signal.signal(signal.SIGTERM, self._previous)
