"""tf.distribute strategies and precision policies by name."""

from __future__ import annotations

import json
import os

from absl import logging
import keras
import tensorflow as tf

from tf_gans.config import PRECISIONS, STRATEGIES, _check_choice


def split_cpu(num_devices: int) -> None:
  """Splits the host CPU into `num_devices` logical devices (for replicas on a CPU).

  Must run before TensorFlow initialises its devices; a no-op for num_devices <= 1.
  """
  if num_devices <= 1:
    return
  cpu = tf.config.list_physical_devices("CPU")[0]
  tf.config.set_logical_device_configuration(
      cpu, [tf.config.LogicalDeviceConfiguration()] * num_devices)


def has_gpu() -> bool:
  return bool(tf.config.list_physical_devices("GPU"))


def make_strategy(name: str) -> tf.distribute.Strategy:
  """Returns the strategy `name`: default | mirrored | multi_worker.

  ``mirrored`` uses every local GPU, or every logical CPU device when there is no GPU.
  ``multi_worker`` reads the cluster from the ``TF_CONFIG`` environment variable, the
  standard TensorFlow cluster spec.

  Raises:
    ValueError: for an unknown name or a missing/invalid TF_CONFIG.
  """
  _check_choice("strategy", name, STRATEGIES)
  if name == "default":
    return tf.distribute.get_strategy()
  if name == "mirrored":
    gpus = tf.config.list_logical_devices("GPU")
    devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
    return tf.distribute.MirroredStrategy(devices)
  raw = os.environ.get("TF_CONFIG")
  if not raw:
    raise ValueError("strategy 'multi_worker' needs the TF_CONFIG environment variable "
                     '(e.g. {"cluster": {"worker": ["host1:port", "host2:port"]}, '
                     '"task": {"type": "worker", "index": 0}})')
  try:
    spec = json.loads(raw)
    spec["cluster"], spec["task"]  # pylint: disable=pointless-statement
  except (ValueError, KeyError, TypeError):
    raise ValueError(f"TF_CONFIG is not a cluster spec with 'cluster' and 'task': {raw!r}") from None
  return tf.distribute.MultiWorkerMirroredStrategy()


def free_localhost_ports(n: int) -> list[int]:
  """n TCP ports free on this machine now: for trying a multi-worker run on one host."""
  import socket
  socks = [socket.socket() for _ in range(n)]
  for s in socks:
    s.bind(("localhost", 0))
  ports = [s.getsockname()[1] for s in socks]
  for s in socks:
    s.close()
  return ports


def is_chief(strategy: tf.distribute.Strategy) -> bool:
  """True on the worker that writes checkpoints and summaries."""
  resolver = getattr(strategy, "cluster_resolver", None)
  if resolver is None or not resolver.task_type:
    return True
  if resolver.task_type == "chief":
    return True
  has_chief = "chief" in resolver.cluster_spec().as_dict()
  return not has_chief and resolver.task_type == "worker" and resolver.task_id == 0


def task_id(strategy: tf.distribute.Strategy) -> int:
  resolver = getattr(strategy, "cluster_resolver", None)
  return int(resolver.task_id or 0) if resolver is not None and resolver.task_type else 0


_NATIVE_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_flags(path: str = "/proc/cpuinfo") -> set[str]:
  """The instruction-set flags of this machine's CPU (empty where they cannot be read)."""
  try:
    with open(path, encoding="utf-8") as f:
      for line in f:
        if line.startswith("flags"):
          return set(line.split(":", 1)[1].split())
  except OSError:
    pass
  return set()


def bfloat16_warning(flags: set[str], has_gpu: bool) -> str | None:
  """Why mixed_bfloat16 will be slow here, or None when it is not expected to be."""
  if has_gpu or not flags or any(f in flags for f in _NATIVE_BF16_CPU_FLAGS):
    return None
  return ("mixed_bfloat16 on a CPU without bfloat16 instructions (AVX512-BF16 or AMX) is "
          "emulated and much slower than float32 (about 11x for CycleGAN in "
          "benchmarks/README.md); use --precision=float32 on this machine")


def set_precision(name: str) -> None:
  """Sets Keras's global dtype policy: float32 | mixed_float16 | mixed_bfloat16.

  Logs a warning when bfloat16 would be emulated (a CPU-only machine whose CPU lacks
  bfloat16 instructions).
  """
  _check_choice("precision", name, PRECISIONS)
  keras.mixed_precision.set_dtype_policy(name)
  if name == "mixed_bfloat16":
    warning = bfloat16_warning(cpu_flags(), bool(tf.config.list_physical_devices("GPU")))
    if warning:
      logging.warning(warning)
