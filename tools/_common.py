"""What the tools share: flags generated from the model configs, and one-line errors."""

from __future__ import annotations

import ctypes
import dataclasses
import os
import sys
import types
import typing
from typing import Any, Callable

# Quiet TensorFlow's C++ start-up chatter before it is imported anywhere.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _limit_malloc_arenas(arenas: int = 2) -> None:
  """Caps glibc's malloc arenas, as MALLOC_ARENA_MAX does, unless that is set.

  glibc gives threads that contend for malloc arenas of their own (up to 8 per core) and
  keeps memory freed there for reuse. With two arenas a 256 px CycleGAN training run
  peaked at 2.51 GiB of RSS instead of 2.78, at the same step time (benchmarks/README.md).
  It must run before any thread starts, so before TensorFlow is imported. A no-op off
  glibc.
  """
  if "MALLOC_ARENA_MAX" in os.environ or not sys.platform.startswith("linux"):
    return
  try:
    ctypes.CDLL("libc.so.6").mallopt(-8, arenas)  # -8: M_ARENA_MAX
  except (OSError, AttributeError):
    pass


_limit_malloc_arenas()
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags, logging  # noqa: E402

FLAGS = flags.FLAGS
_CONFIG_FLAGS: set[str] = set()  # names defined by define_config_flags


class UserError(Exception):
  """An error the user caused; printed as one line."""


def _base_type(annotation: Any) -> type:
  if isinstance(annotation, str):
    annotation = eval(annotation, {"typing": typing})  # dataclass annotations are strings
  args = [a for a in typing.get_args(annotation) if a is not type(None)]
  if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
    return args[0]
  return annotation


def define_config_flags(specs: list[Any], skip: tuple[str, ...] = ()) -> None:
  """One flag per config field across all registered models, default None.

  None means "the model's own default", so one flag (say --batch_size) can default to 1
  for CycleGAN and 64 for WGAN. Help texts come from the fields' metadata.
  """
  seen: dict[str, tuple[type, str, list[str]]] = {}
  for spec in specs:
    for f in dataclasses.fields(spec.config_cls):
      if f.name in skip:
        continue
      kind = _base_type(f.type)
      help_text = f.metadata.get("help", "")
      if f.name in seen:
        seen[f.name][2].append(spec.name)
        continue
      seen[f.name] = (kind, help_text, [spec.name])
  all_models = {s.name for s in specs}
  for name, (kind, help_text, models) in sorted(seen.items()):
    if set(models) != all_models:
      help_text = f"[{', '.join(models)}] {help_text}"
    define = {bool: flags.DEFINE_bool, int: flags.DEFINE_integer,
              float: flags.DEFINE_float}.get(kind, flags.DEFINE_string)
    define(name, None, help_text)
    _CONFIG_FLAGS.add(name)


def config_from_flags(spec: Any, extra: dict[str, Any] | None = None,
                      base: dict[str, Any] | None = None) -> Any:
  """The resolved config of `spec` from the flags the user set.

  Flags the user did not set take their value from `base` (a resumed run's saved
  config), else the model's default.

  Raises:
    UserError: for a flag that the chosen model does not have, or a bad value.
  """
  fields = {f.name for f in dataclasses.fields(spec.config_cls)}
  values = {k: v for k, v in (base or {}).items() if k in fields}
  values.update(extra or {})
  for name in FLAGS:
    flag = FLAGS[name]
    if flag.value is None or name in (extra or {}):
      continue
    if name in fields:
      values[name] = flag.value
    elif flag.present and name in _CONFIG_FLAGS:
      raise UserError(f"--{name} does not apply to model {spec.name!r}")
  try:
    return spec.config_cls(**values).resolve()
  except (ValueError, TypeError) as e:
    raise UserError(str(e)) from None


def _is_user_error(e: Exception) -> bool:
  """Errors a user causes or must act on: shown as one line, not a traceback."""
  import tensorflow as tf
  from tf_gans.training.loop import NonFiniteLossError
  return isinstance(e, (UserError, ValueError, FileNotFoundError, NonFiniteLossError,
                        tf.errors.OpError))


def run_main(main: Callable[[list[str]], Any]) -> None:
  """absl's app.run, with user errors as one line on stderr and exit status 2.

  A multi-worker run that lost a worker exits with 75 ("restart every worker").
  """
  def wrapped(argv):
    try:
      return main(argv)
    except Exception as e:  # pylint: disable=broad-except
      from tf_gans.training.preemption import PEER_LOST_EXIT_CODE, PeerLostError
      if isinstance(e, PeerLostError):
        print(f"error: {e}", file=sys.stderr)
        sys.exit(PEER_LOST_EXIT_CODE)
      if not _is_user_error(e):
        raise
      message = str(e).splitlines()[0] if str(e) else type(e).__name__
      print(f"error: {message}", file=sys.stderr)
      sys.exit(2)
  app.run(wrapped)
