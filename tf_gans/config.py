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
import os
from typing import Any

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
})


def option(default: Any, help: str, **metadata: Any) -> Any:  # pylint: disable=redefined-builtin
  """A dataclass field carrying the help text that tools/train.py shows in --help."""
  if isinstance(default, (list, dict)):
    return dataclasses.field(default_factory=lambda: type(default)(default),
                             metadata={"help": help, **metadata})
  return dataclasses.field(default=default, metadata={"help": help, **metadata})


def lr_decay_steps_option() -> Any:
  """The --lr_decay_steps field every model's config declares (resolve fills it)."""
  return option(None, "Length of the learning-rate schedule in steps; default train_steps. "
                "A resumed run keeps its saved value, so a longer --train_steps does not "
                "restart the decay.")


def resolve_lr_decay(config: Any) -> None:
  """Checks --lr_decay_start and fills --lr_decay_steps (default: the run's length)."""
  if not 0.0 <= config.lr_decay_start <= 1.0:
    raise ValueError(f"lr_decay_start must be a fraction in [0, 1], got {config.lr_decay_start}")
  if config.lr_decay_steps is None:
    config.lr_decay_steps = config.train_steps


def _check_choice(name: str, value: Any, choices: tuple[Any, ...]) -> None:
  if value not in choices:
    raise ValueError(
        f"{name} {value!r} is not one of: {', '.join(str(c) for c in choices)}")


@dataclasses.dataclass
class TrainConfig:
  """What every run has: where, how long, on what hardware and in which precision."""

  model: str = option("wgan", "Which GAN to train (see --help for the list).")
  dataset: str = option("", "Training data; each model lists the datasets it accepts.")
  data_dir: str = option("", "Folder with the data, for folder datasets and a TFDS data_dir.")
  model_dir: str = option("", "Where checkpoints, summaries and config.json go. Required.")
  train_steps: int = option(1000, "Generator updates to train for (the step counter).")
  batch_size: int = option(64, "Global batch size, split across replicas.")
  strategy: str = option("default", "tf.distribute strategy: default | mirrored | multi_worker "
                         "(multi_worker reads the cluster from TF_CONFIG).")
  precision: str = option("float32", "float32 | mixed_float16 | mixed_bfloat16.")
  seed: int = option(0, "Seed for weights, noise and the data order.")
  api: str = option("loop", "Driver: loop (the tf.function loop with checkpoints) or fit "
                    "(keras Model.fit).")
  steps_per_loop: int = option(100, "Train steps per tf.function call (host sync interval).")
  log_every: int = option(100, "Print progress and write scalar summaries every N steps.")
  checkpoint_every: int = option(1000, "Write a checkpoint every N steps.")
  image_every: int = option(1000, "Write an image summary every N steps (0: never).")
  keep_checkpoints: int = option(3, "How many recent checkpoints to keep.")
  jit_compile: bool = option(False, "Compile the train step with XLA (one replica only; the "
                             "same seed then draws other noise). On "
                             "a CPU it was measured faster for the 2-D WGAN and the 32 px "
                             "cGAN and 5x slower for CycleGAN (benchmarks/README.md).")

  def resolve(self) -> "TrainConfig":
    """Validates the run-control fields and returns self. Subclasses fill defaults."""
    _check_choice("strategy", self.strategy, STRATEGIES)
    _check_choice("precision", self.precision, PRECISIONS)
    _check_choice("api", self.api, APIS)
    for name in ("train_steps", "batch_size", "steps_per_loop", "log_every",
                 "checkpoint_every", "keep_checkpoints"):
      if getattr(self, name) <= 0:
        raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
    if self.image_every < 0:
      raise ValueError(f"image_every must be >= 0, got {self.image_every}")
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
  """The resolved config a run wrote into model_dir, or None if there is none."""
  path = config_path(model_dir)
  if not os.path.exists(path):
    return None
  with open(path, encoding="utf-8") as f:
    return json.load(f)


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


def write_config(config: TrainConfig) -> None:
  """Writes config.json atomically (temporary file, then rename)."""
  os.makedirs(config.model_dir, exist_ok=True)
  path = config_path(config.model_dir)
  tmp = path + ".tmp"
  with open(tmp, "w", encoding="utf-8") as f:
    f.write(config.to_json())
  os.replace(tmp, path)
