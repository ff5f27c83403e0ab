"""What the tools share: flags generated from the model configs, and one-line errors."""

from __future__ import annotations

import ctypes
import dataclasses
import os
import re
import sys
import types
import typing
from typing import Any, Callable

# Whether the user chose TensorFlow's C++ log level: then they see all it prints.
_USER_LOG_LEVEL = "TF_CPP_MIN_LOG_LEVEL" in os.environ
# Quiet TensorFlow's C++ start-up chatter before it is imported anywhere.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Lines TensorFlow's C++ start-up prints whatever TF_CPP_MIN_LOG_LEVEL says, which a user
# can do nothing about: CUDA stubs on a machine without a GPU, absl's note that it logs
# before being initialised, the CPU instruction notice.
_STARTUP_NOISE = (
    "All log messages before absl::InitializeLog() is called",
    "Could not find cuda drivers", "cudart_stub.cc", "failed call to cuInit",
    "cuda_platform.cc", "cpu_feature_guard.cc",
    "This TensorFlow binary is optimized to use available CPU instructions",
    "To enable the following instructions", "Unable to register cuDNN factory",
    "Unable to register cuFFT factory", "Unable to register cuBLAS factory",
    "computation placer already registered", "TF-TRT Warning",
    "oneDNN custom operations are on")


def start_tensorflow() -> None:
  """Imports TensorFlow with its start-up noise left out of the terminal.

  TensorFlow's C++ side writes those lines to file descriptor 2 while it loads and
  looks for devices, before any log level applies. They go to a temporary file here and
  every other line is written on, so a real problem still shows. Set
  TF_CPP_MIN_LOG_LEVEL yourself (0 shows everything) to see TensorFlow's output
  unfiltered.
  """
  if _USER_LOG_LEVEL or "tensorflow" in sys.modules:
    import tensorflow  # noqa: F401
    return
  import tempfile
  sys.stderr.flush()
  saved = os.dup(2)
  with tempfile.TemporaryFile() as captured:
    os.dup2(captured.fileno(), 2)
    try:
      import tensorflow as tf
      tf.config.list_physical_devices()  # where CUDA is probed
    finally:
      sys.stderr.flush()
      os.dup2(saved, 2)
      os.close(saved)
      captured.seek(0)
      text = captured.read().decode("utf-8", "replace")
      kept = [line for line in text.splitlines()
              if line.strip() and not any(noise in line for noise in _STARTUP_NOISE)]
      if kept:  # anything else is shown, also when the import failed
        print("\n".join(kept), file=sys.stderr)


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


# Flag name -> the metadata of its accepted values (bounds, choices, check), one entry per
# model config that declares it: what --help shows and what is checked when the command
# line is read. Tool flags declared with define_checked() are here too.
FLAG_RANGES: dict[str, list[dict[str, Any]]] = {}
# Flags whose value is free text or a path (checked where it is used, not by range).
FREE_FLAGS: set[str] = set()


def _register_range(name: str, metadatas: list[dict[str, Any]],
                    models: list[str] | None = None) -> str:
  """Registers a validator for `name` from its declared ranges; returns the help suffix.

  Args:
    name: The flag.
    metadatas: The field metadata of each declaration (one per model that has the flag).
    models: The model of each declaration, to say which range is whose in --help.
  """
  from tf_gans.config import describe_range, range_error
  ranged = [m for m in metadatas if "bounds" in m or "choices" in m or "check" in m]
  if not ranged:
    FREE_FLAGS.add(name)
    return ""
  FLAG_RANGES[name] = ranged

  def checker(value: Any) -> bool:
    if value is None:
      return True
    problems = [range_error(value, m) for m in ranged]
    if all(problems):  # valid for no model that has the flag
      raise flags.ValidationError(problems[0])
    return True

  flags.register_validator(name, checker)
  # One text per distinct range, with the models it belongs to when they differ.
  owners: dict[str, list[str]] = {}
  for i, metadata in enumerate(metadatas):
    if "check" in metadata and "bounds" not in metadata and "choices" not in metadata:
      continue
    text = describe_range(metadata)
    if text.startswith("one of: "):
      text = "one of: " + ", ".join(sorted(text[len("one of: "):].split(", ")))
    owners.setdefault(text, []).append(models[i] if models else "")
  if not owners:
    return ""
  if len(owners) == 1:
    return f" [{next(iter(owners))}]"
  return " [" + "; ".join(f"{', '.join(sorted(set(m)))}: {t}" for t, m in owners.items()) + "]"


def define_config_flags(specs: list[Any], skip: tuple[str, ...] = ()) -> None:
  """One flag per config field across all registered models, default None.

  None means "the model's own default", so one flag (say --batch_size) can default to 1
  for CycleGAN and 64 for WGAN. Help texts and accepted values come from the fields'
  metadata (tf_gans.config.option); a value is checked when the command line is read,
  against the declarations of every model that has the flag, and again for the chosen
  model when its config is resolved.
  """
  seen: dict[str, tuple[type, str, list[str], list[dict[str, Any]]]] = {}
  for spec in sorted(specs, key=lambda s: s.name):
    for f in dataclasses.fields(spec.config_cls):
      if f.name in skip:
        continue
      if f.name in seen:
        seen[f.name][2].append(spec.name)
        seen[f.name][3].append(dict(f.metadata))
        continue
      seen[f.name] = (_base_type(f.type), f.metadata.get("help", ""), [spec.name],
                      [dict(f.metadata)])
  all_models = {s.name for s in specs}
  for name, (kind, help_text, models, metadatas) in sorted(seen.items()):
    if set(models) != all_models:
      help_text = f"[{', '.join(models)}] {help_text}"
    define = {bool: flags.DEFINE_bool, int: flags.DEFINE_integer,
              float: flags.DEFINE_float}.get(kind, flags.DEFINE_string)
    define(name, None, help_text)
    if kind is not bool:
      FLAGS[name].help += _register_range(name, metadatas, models)
    _CONFIG_FLAGS.add(name)


def _tool_module() -> str:
  """The module that called the define_* function calling this: its flags are the ones
  `--help` lists (absl names the main module by its script path)."""
  name = sys._getframe(2).f_globals.get("__name__", "")  # pylint: disable=protected-access
  return sys.argv[0] if name == "__main__" else name


def define_checked(kind: str, name: str, default: Any, help: str,  # pylint: disable=redefined-builtin
                   **accepted: Any) -> None:
  """Defines a tool flag with its accepted values, declared as config fields declare them.

  Args:
    kind: "integer", "float", "string" or "list" (comma-separated; `check` sees the list).
    name, default, help: As for absl's DEFINE_*.
    **accepted: gt / ge / lt / le bounds, choices, or check (see tf_gans.config.option).
  """
  define = {"integer": flags.DEFINE_integer, "float": flags.DEFINE_float,
            "string": flags.DEFINE_string, "list": flags.DEFINE_list}[kind]
  define(name, default, help, module_name=_tool_module())
  metadata = {}
  bounds = {k: accepted.pop(k) for k in ("gt", "ge", "lt", "le") if k in accepted}
  if bounds:
    metadata["bounds"] = bounds
  metadata.update(accepted)
  FLAGS[name].help += _register_range(name, [metadata])


def define_path(name: str, default: Any, help: str) -> None:  # pylint: disable=redefined-builtin
  """Defines a flag naming a file or folder (checked where the tool uses it)."""
  flags.DEFINE_string(name, default, help, module_name=_tool_module())
  FREE_FLAGS.add(name)


# Seeds: numpy's and Keras's global seeds take [0, 2**32).
from tf_gans.config import SEED_RANGE  # noqa: E402,F401  (tools use it; the run's --seed takes the same)
_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def model_name_problem(name: str) -> str | None:
  """What keeps `name` from being a TF Serving model name (a folder and URL part)."""
  if _MODEL_NAME.match(name):
    return None
  return "must be letters, digits, '_', '-' and '.', starting with a letter or digit"


def labels_problem(values: list[str]) -> str | None:
  """What is wrong with a --labels list (class numbers >= 0), or None."""
  for value in values:
    if not value.strip().isdigit():
      return f"must be class numbers >= 0 separated by commas ({value!r} is not)"
  return None


def int_labels(values: list[str] | None) -> list[int] | None:
  return None if values is None else [int(v) for v in values]


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


def _is_user_error(e: BaseException) -> bool:
  """Errors a user causes or must act on: shown as one line, not a traceback.

  tf_gans raises ValueError for a bad setting, file or dataset; of TensorFlow's op errors
  only those about files (missing, unreadable, damaged) and memory are the user's. Any
  other op error is a bug and keeps its traceback; --verbosity=1 shows the traceback of
  every error.
  """
  if isinstance(e, (UserError, ValueError, FileNotFoundError)):
    return True
  if "tensorflow" in sys.modules:  # never import TensorFlow just to classify an error
    import tensorflow as tf
    from tf_gans.training.loop import NonFiniteLossError
    return isinstance(e, (NonFiniteLossError, tf.errors.NotFoundError,
                          tf.errors.PermissionDeniedError, tf.errors.DataLossError,
                          tf.errors.ResourceExhaustedError))
  return False


def _os_error_line(e: OSError) -> str:
  """An OSError on a path as "'<path>': <reason>" (permission denied, read-only ...)."""
  reason = (e.strerror or type(e).__name__).lower()
  where = f"{e.filename!r}" + (f" -> {e.filename2!r}" if e.filename2 else "")
  return f"{where}: {reason}"


class _ShortFormatter(logging.PythonFormatter):
  """"12:04:05 message" for INFO, "12:04:05 W message" for the other levels: the progress
  line fits a terminal (absl's own prefix takes 50 columns)."""

  def format(self, record):
    import time
    stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
    level = "" if record.levelname == "INFO" else f" {record.levelname[0]}"
    return f"{stamp}{level} {record.getMessage()}"


def _library_info(record) -> bool:
  """False for an INFO (or lower) line logged from inside TensorFlow or Keras."""
  path = record.pathname.replace(os.sep, "/")
  return record.levelno >= 30 or not any(
      part in path for part in ("/tensorflow/", "/keras/", "/tensorflow_datasets/"))


def _set_up_logging() -> None:
  """Short log lines; TensorFlow's own INFO lines only at --verbosity=1 or more."""
  import logging as std_logging
  handler = logging.get_absl_handler()
  if FLAGS.verbosity < 1:
    std_logging.getLogger("tensorflow").setLevel(std_logging.WARNING)
    if handler is not None:
      handler.addFilter(_library_info)
  if handler is not None:
    handler.setFormatter(_ShortFormatter())


def _parse_flags(argv: list[str]) -> list[str]:
  """absl's flag parsing, with a bad flag as one line and exit status 2 (not absl's 1)."""
  try:
    return FLAGS(argv)
  except flags.Error as e:
    print(f"error: {str(e).splitlines()[0]}", file=sys.stderr)
    sys.exit(2)


def run_main(main: Callable[[list[str]], Any], argv: list[str] | None = None,
             tensorflow: bool = True) -> None:
  """absl's app.run, with every error the user can act on as one line on stderr.

  Exit statuses: 2 for a bad flag, value, file or path (one line naming it); 1 for an
  unexpected error (its traceback is printed: that is a bug); 75 when a multi-worker run
  lost a worker ("restart every worker"); what main returns otherwise. With
  `tensorflow`, TensorFlow is started (quietly, :func:`start_tensorflow`) before main.
  """
  def wrapped(argv):
    _set_up_logging()
    try:
      if tensorflow:
        start_tensorflow()
      return main(argv)
    except Exception as e:  # pylint: disable=broad-except
      if type(e).__name__ == "PeerLostError":
        from tf_gans.training.preemption import PEER_LOST_EXIT_CODE
        print(f"error: {e}", file=sys.stderr)
        sys.exit(PEER_LOST_EXIT_CODE)
      if isinstance(e, OSError) and e.filename and not isinstance(e, FileNotFoundError):
        print(f"error: {_os_error_line(e)}", file=sys.stderr)
        sys.exit(2)
      if not _is_user_error(e) or FLAGS.verbosity >= 1:
        raise
      message = str(e).splitlines()[0] if str(e) else type(e).__name__
      print(f"error: {message}", file=sys.stderr)
      sys.exit(2)
  app.run(wrapped, argv=argv, flags_parser=_parse_flags)


def writable_target(path: str, flag: str, folder: bool) -> str:
  """Checks, without creating anything, that a tool can write `path`.

  Args:
    path: A folder (folder=True) or file the tool will create or write into.
    flag: The flag that named it, for the message.
    folder: Whether `path` is a folder.

  Returns:
    `path`.

  Raises:
    UserError: naming the flag, the path and the reason (a file where a folder is
      needed or the reverse, no permission, a read-only file system).
  """
  full = os.path.abspath(os.path.expanduser(path))
  if os.path.exists(full):
    if folder and not os.path.isdir(full):
      raise UserError(f"--{flag} {path!r} is a file, expected a folder")
    if not folder and os.path.isdir(full):
      raise UserError(f"--{flag} {path!r} is a folder, expected a file")
    target, verb = (full if folder else os.path.dirname(full)), "write into"
  else:
    target, verb = os.path.dirname(full), "create"
    while not os.path.exists(target):
      target = os.path.dirname(target)
    if not os.path.isdir(target):
      raise UserError(f"cannot {verb} --{flag} {path!r}: {target!r} is a file")
  if not os.access(target, os.W_OK | os.X_OK):
    try:
      read_only = bool(os.statvfs(target).f_flag & os.ST_RDONLY)
    except OSError:
      read_only = False
    reason = "read-only file system" if read_only else f"no permission to write in {target!r}"
    raise UserError(f"cannot {verb} --{flag} {path!r}: {reason}")
  return path
