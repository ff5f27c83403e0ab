"""Typed run configurations.

Every model has one flat dataclass that extends :class:`TrainConfig` with its own
hyperparameters. A field whose default is ``None`` means "the paper's default for the
variant you chose" and is filled in by the config's ``resolve()``; the resolved config is
what gets written next to the checkpoints and checked on resume.

Library code receives these objects; only ``tools/`` reads command-line flags.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from typing import Any, Callable, Mapping

STRATEGIES = ("default", "mirrored", "multi_worker")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
APIS = ("loop", "fit")

# Fields that may differ between a run and its resumption: they steer the run, not
# what is being trained.
RUN_CONTROL_FIELDS = frozenset({
    "model_dir", "train_steps", "strategy", "api", "steps_per_loop", "log_every",
    "checkpoint_every", "image_every", "keep_checkpoints", "data_dir", "jit_compile",
    "precision",  # but not to or from mixed_float16: see check_resume_compatible
    "lr_decay_steps",  # only when given explicitly: tools/train.py keeps the saved value
    "memory_saving_layers",  # the same weights either way
})


def option(default: Any, help: str, *, gt: float | None = None,  # pylint: disable=redefined-builtin
           ge: float | None = None, lt: float | None = None, le: float | None = None,
           choices: tuple[Any, ...] | Callable[[], tuple[Any, ...]] | None = None,
           check: Callable[[Any], str | None] | None = None, **metadata: Any) -> Any:
  """A dataclass field with its help text and the values it accepts.

  The one declaration of a setting: tools/train.py makes it a flag whose --help shows the
  accepted range and whose value is checked when the command line is read, and
  :meth:`TrainConfig.resolve` checks it again for configs made in Python or read from a
  config.json.

  Args:
    default: The default (None: the model's default, filled by resolve()).
    help: What the setting does.
    gt, ge, lt, le: Numeric bounds (>, >=, <, <=).
    choices: The accepted values, or a function returning them (a registry).
    check: ``check(value) -> None or what is wrong`` for anything else.
    **metadata: Further field metadata.
  """
  metadata = {"help": help, **metadata}
  bounds = {k: v for k, v in (("gt", gt), ("ge", ge), ("lt", lt), ("le", le)) if v is not None}
  if bounds:
    metadata["bounds"] = bounds
  if choices is not None:
    metadata["choices"] = choices
  if check is not None:
    metadata["check"] = check
  if isinstance(default, (list, dict)):
    return dataclasses.field(default_factory=lambda: type(default)(default), metadata=metadata)
  return dataclasses.field(default=default, metadata=metadata)


_BOUND_TEXT = {"gt": "> {}", "ge": ">= {}", "lt": "< {}", "le": "<= {}"}


def _number(value: float) -> str:
  return f"{value:g}" if isinstance(value, float) else str(value)


def choices_of(metadata: Mapping[str, Any]) -> tuple[Any, ...] | None:
  choices = metadata.get("choices")
  return tuple(choices()) if callable(choices) else choices


def describe_range(metadata: Mapping[str, Any]) -> str:
  """The accepted values of a field as a short phrase: "> 0", "in [0, 1)", "one of: a, b"."""
  bounds = metadata.get("bounds", {})
  choices = choices_of(metadata)
  if choices is not None:
    return "one of: " + ", ".join(str(c) for c in choices)
  low = [(k, v) for k, v in bounds.items() if k in ("gt", "ge")]
  high = [(k, v) for k, v in bounds.items() if k in ("lt", "le")]
  if low and high:
    (lk, lv), (hk, hv) = low[0], high[0]
    return (f"in {'(' if lk == 'gt' else '['}{_number(lv)}, {_number(hv)}"
            f"{')' if hk == 'lt' else ']'}")
  return " and ".join(_BOUND_TEXT[k].format(_number(v)) for k, v in bounds.items())


def range_error(value: Any, metadata: Mapping[str, Any]) -> str | None:
  """What is wrong with `value` for a field with this metadata, or None if nothing."""
  choices = choices_of(metadata)
  if choices is not None and value not in choices:
    return f"must be one of: {', '.join(str(c) for c in choices)}"
  bounds = metadata.get("bounds", {})
  if bounds:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
      return f"must be a number {describe_range(metadata)}"
    if not math.isfinite(value):
      return f"must be a finite number {describe_range(metadata)}"
    ok = all({"gt": value > v, "ge": value >= v, "lt": value < v, "le": value <= v}[k]
             for k, v in bounds.items())
    if not ok:
      return f"must be {describe_range(metadata)}"
  check = metadata.get("check")
  if check is not None:
    return check(value)
  return None


def check_fields(config: Any) -> None:
  """Checks every set field of a config against its declared range.

  Raises:
    ValueError: naming the first field out of range, its value and what it accepts.
  """
  for f in dataclasses.fields(config):
    value = getattr(config, f.name)
    if value is None:
      continue
    problem = range_error(value, f.metadata)
    if problem:
      raise ValueError(f"{f.name} {problem}, got {value!r}")


def lr_decay_steps_option() -> Any:
  """The --lr_decay_steps field every model's config declares (resolve fills it)."""
  return option(None, "Length of the learning-rate schedule in steps; default train_steps. "
                "A resumed run keeps its saved value, so a longer --train_steps does not "
                "restart the decay.", ge=1)


def lr_decay_start_option(default: float | None) -> Any:
  """The --lr_decay_start field every model's config declares."""
  return option(default, "Fraction of the run after which the learning rates decay linearly "
                "to 0 (1: a constant rate).", ge=0.0, le=1.0)


def resolve_lr_decay(config: Any) -> None:
  """Fills --lr_decay_steps (default: the run's length)."""
  if config.lr_decay_steps is None:
    config.lr_decay_steps = config.train_steps


def _check_choice(name: str, value: Any, choices: tuple[Any, ...]) -> None:
  if value not in choices:
    raise ValueError(
        f"{name} {value!r} is not one of: {', '.join(str(c) for c in choices)}")


def _model_names() -> tuple[str, ...]:
  from tf_gans.models import registry  # the registry imports this module
  return tuple(registry.names())


def _dataset_problem(name: str) -> str | None:
  from tf_gans import data  # imports TensorFlow: only when a dataset is checked
  return data.dataset_name_problem(name)


# What a seed may be: numpy's and Keras's global seeds take [0, 2**32).
SEED_RANGE: Mapping[str, int] = {"ge": 0, "lt": 2 ** 32}


def model_option(name: str) -> Any:
  """The --model field of a model's config."""
  return option(name, "Which GAN to train.", choices=_model_names)


def dataset_option(default: str, help: str) -> Any:  # pylint: disable=redefined-builtin
  """The --dataset field of a model's config (a registered dataset or tfds/<name>)."""
  return option(default, help, check=_dataset_problem)


def batch_size_option(default: int | None, help: str) -> Any:  # pylint: disable=redefined-builtin
  """The --batch_size field of a model's config."""
  return option(default, help, ge=1)


@dataclasses.dataclass
class TrainConfig:
  """What every run has: where, how long, on what hardware and in which precision."""

  model: str = model_option("wgan")
  dataset: str = dataset_option("", "Training data; each model lists the datasets it accepts.")
  data_dir: str = option("", "Folder with the data, for folder datasets and a TFDS data_dir.")
  model_dir: str = option("", "Where checkpoints, summaries and config.json go. Required.")
  train_steps: int = option(1000, "Generator updates to train for (the step counter).", ge=1)
  batch_size: int = batch_size_option(64, "Global batch size, split across replicas.")
  strategy: str = option("default", "tf.distribute strategy: default | mirrored | multi_worker "
                         "(multi_worker reads the cluster from TF_CONFIG).", choices=STRATEGIES)
  precision: str = option("float32", "float32 | mixed_float16 | mixed_bfloat16.",
                          choices=PRECISIONS)
  seed: int = option(0, "Seed for weights, noise and the data order.", **SEED_RANGE)
  api: str = option("loop", "Driver: loop (the tf.function loop with checkpoints) or fit "
                    "(keras Model.fit).", choices=APIS)
  steps_per_loop: int = option(100, "Train steps per tf.function call (host sync interval; a "
                               "SIGTERM is acted on within two calls).", ge=1)
  log_every: int = option(100, "Print progress and write scalar summaries every N steps.", ge=1)
  checkpoint_every: int = option(1000, "Write a checkpoint every N steps.", ge=1)
  image_every: int = option(1000, "Write an image summary every N steps (0: never).", ge=0)
  keep_checkpoints: int = option(3, "How many recent checkpoints to keep.", ge=1)
  jit_compile: bool = option(False, "Compile the train step with XLA (one replica only; the "
                             "same seed then draws other noise). On "
                             "a CPU it was measured faster for the 2-D WGAN and the 32 px "
                             "cGAN and 5x slower for CycleGAN (benchmarks/README.md).")

  def resolve(self) -> "TrainConfig":
    """Checks every field against its declared range and returns self.

    Subclasses fill their defaults first, then call this.

    Raises:
      ValueError: naming the first field out of range.
    """
    check_fields(self)
    return self

  def to_dict(self) -> dict[str, Any]:
    return dataclasses.asdict(self)

  def to_json(self) -> str:
    return json.dumps(self.to_dict(), indent=2, sort_keys=True)

def field_help(config_cls: type) -> dict[str, str]:
  return {f.name: f.metadata.get("help", "") for f in dataclasses.fields(config_cls)}


def config_path(model_dir: str) -> str:
  return os.path.join(model_dir, "config.json")


def load_saved_config(model_dir: str) -> dict[str, Any] | None:
  """The resolved config a run wrote into model_dir, or None if there is none.

  Raises:
    ValueError: naming the file when it is not a JSON object (damaged or edited).
  """
  path = config_path(model_dir)
  if not os.path.exists(path):
    return None
  try:
    with open(path, encoding="utf-8") as f:
      saved = json.load(f)
  except (json.JSONDecodeError, UnicodeDecodeError) as e:
    raise ValueError(f"{path} is not readable JSON ({e}); restore it from a copy, or move "
                     "the model_dir away to start afresh") from None
  if not isinstance(saved, dict) or "model" not in saved:
    raise ValueError(f"{path} is not a tf_gans config (no \"model\" entry)")
  return saved


def check_resume_compatible(saved: dict[str, Any], config: TrainConfig) -> None:
  """Raises ValueError if `config` cannot continue the run described by `saved`.

  A run may be resumed with more steps, another strategy or logging interval, but not
  with another model, architecture, dataset or batch: those would either crash on shape
  mismatches deep inside checkpoint restoration or silently train something else.
  """
  if saved.get("model") != config.model:
    raise ValueError(
        f"model_dir {config.model_dir!r} holds a {saved.get('model')!r} run, not "
        f"{config.model!r}; choose another --model_dir or --model={saved.get('model')}")
  current = config.to_dict()
  before, after = saved.get("precision", "float32"), current["precision"]
  if before != after and "mixed_float16" in (before, after):
    # float16 wraps the optimizers in a loss-scaling optimizer, whose checkpoint layout
    # differs; float32 and mixed_bfloat16 checkpoints are interchangeable.
    raise ValueError(
        f"model_dir {config.model_dir!r} was trained with precision {before!r}; it cannot "
        f"continue in {after!r} (only float32 <-> mixed_bfloat16 may switch)")
  diffs = [
      f"{k}: {saved[k]!r} -> {current[k]!r}" for k in sorted(current)
      if k not in RUN_CONTROL_FIELDS and k in saved and saved[k] != current[k]
  ]
  if diffs:
    raise ValueError(
        f"model_dir {config.model_dir!r} holds a run with other settings "
        f"({'; '.join(diffs)}); resume with the saved values or use a new --model_dir")


def write_json(path: str, value: Any) -> None:
  """Writes JSON whole or not at all (temporary file beside it, then rename)."""
  folder = os.path.dirname(os.path.abspath(path))
  os.makedirs(folder, exist_ok=True)
  tmp = os.path.join(folder, f".{os.path.basename(path)}.tmp")
  try:
    with open(tmp, "w", encoding="utf-8") as f:
      f.write(json.dumps(value, indent=2, sort_keys=True, default=str))
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)


def write_config(config: TrainConfig) -> None:
  """Writes config.json atomically (temporary file, then rename)."""
  write_json(config_path(config.model_dir), config.to_dict())
