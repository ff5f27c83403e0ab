"""From a resolved config to a trained model_dir: what tools/train.py runs."""

from __future__ import annotations

import json
import os
from typing import Any

import tensorflow as tf
from absl import logging

from tf_gans import config as config_lib
from tf_gans import data as data_lib
from tf_gans.models import registry
from tf_gans.models.base import is_multi_worker
from tf_gans.training import checkpoints as checkpoints_lib
from tf_gans.training import loop, preemption
from tf_gans.training.strategy import make_strategy, set_precision


def check_model_dir(config: config_lib.TrainConfig) -> None:
  """Refuses a model_dir that holds another run, before anything is written.

  Raises:
    ValueError: no model_dir, a model_dir that is a file, checkpoints without a
      config.json, or a saved config this config cannot continue.
  """
  if not config.model_dir:
    raise ValueError("--model_dir is required: where checkpoints and summaries go")
  if os.path.exists(config.model_dir) and not os.path.isdir(config.model_dir):
    raise ValueError(f"model_dir {config.model_dir!r} is a file, expected a folder")
  saved = config_lib.load_saved_config(config.model_dir)
  if saved is None:
    if checkpoints_lib.listed_checkpoints(checkpoints_lib.checkpoint_dir(config.model_dir)):
      raise ValueError(f"model_dir {config.model_dir!r} holds checkpoints but no config.json; "
                       "use a new --model_dir")
    return
  config_lib.check_resume_compatible(saved, config)


# Image files a run's data check decoded ({path: [size, mtime_ns]}), so that a resumed
# run does not decode unchanged files again.
CHECKED_FILES = "checked_images.json"


def _checked_files(model_dir: str) -> dict[str, list[int]] | None:
  path = os.path.join(model_dir, CHECKED_FILES) if model_dir else ""
  if not path or not os.path.exists(path):
    return None
  try:
    with open(path, encoding="utf-8") as f:
      return json.load(f)
  except (OSError, ValueError):
    return None  # a damaged cache only costs a full check


def build(config: config_lib.TrainConfig, strategy: tf.distribute.Strategy | None = None,
          source: data_lib.Source | None = None) -> tuple[Any, data_lib.Source]:
  """Builds and compiles the GAN of `config` under `strategy` (no checkpoint restored).

  The model is compiled with ``steps_per_execution=config.steps_per_loop`` and the
  config's ``jit_compile``, which ``Model.fit`` uses. Under a multi-worker strategy
  ``fit`` runs one step per call: Keras's multi-step loop (a ``tf.while_loop`` with a
  ``tf.cond`` around the step) fails there with "You must feed a value for placeholder
  tensor ... cond/Placeholder" (Keras 3.15, TF 2.21).
  """
  spec = registry.get(config.model)
  strategy = strategy or tf.distribute.get_strategy()
  if source is None:
    # A config may name further data settings (crop/resize sizes, flips) in data_options().
    options = config.data_options() if hasattr(config, "data_options") else {}
    options["known_good"] = _checked_files(config.model_dir)
    source = data_lib.make_source(config.dataset, config.data_dir,
                                  getattr(config, "image_size", 0), **options)
  with strategy.scope():
    gan = spec.build(config, source)
    steps = 1 if is_multi_worker(strategy) else config.steps_per_loop
    gan.compile(**spec.optimizers(config), steps_per_execution=steps,
                jit_compile=config.jit_compile)
  return gan, source


def load(model_dir: str, checkpoint: str | None = None) -> tuple[Any, config_lib.TrainConfig,
                                                                 data_lib.Source]:
  """Rebuilds the GAN of a model_dir from its config.json and restores a checkpoint.

  Without `checkpoint`, the newest readable one: a newer one that cannot be read is
  named in a warning and skipped; nothing in model_dir is changed.

  Raises:
    ValueError: if model_dir has no config.json or no (readable) checkpoint.
  """
  saved = config_lib.load_saved_config(model_dir)
  if saved is None:
    raise ValueError(f"{model_dir!r} holds no config.json: not a tf_gans model_dir")
  spec = registry.get(saved["model"])
  names = {f for f in spec.config_cls.__dataclass_fields__}
  config = spec.config_cls(**{k: v for k, v in saved.items() if k in names}).resolve()
  set_precision(config.precision)
  gan, source = build(config)
  restored = restore_latest(gan, model_dir, checkpoint)
  if restored is None:
    raise ValueError(f"{model_dir!r} holds no checkpoint yet")
  gan.restored_from = os.path.abspath(restored)  # for the export's metadata
  # For inference the moving averages (if kept) replace the raw weights they average.
  for group in gan.update_groups():
    optimizer = gan.group_optimizers[group.name]
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)  # under loss scaling
    if getattr(optimizer, "use_ema", False):
      optimizer.finalize_variable_values(list(group.variables()))
  return gan, config, source


def restore_latest(gan: Any, model_dir: str, checkpoint: str | None = None) -> str | None:
  """Restores the newest readable (or the given) checkpoint of a model_dir for inference.

  Returns:
    The path restored, or None when model_dir has no checkpoint.

  Raises:
    ValueError: for a given checkpoint that is missing or unreadable, or when no
      checkpoint of model_dir can be read.
  """
  saved = checkpoints_lib.make_checkpoint(gan)
  if checkpoint:
    return checkpoints_lib.restore_path(saved, checkpoint, exact=False)
  path, _ = checkpoints_lib.restore_newest_readable(
      saved, checkpoints_lib.checkpoint_dir(model_dir), exact=False)
  return path


def train(config: config_lib.TrainConfig, callbacks: list | None = None) -> dict[str, Any]:
  """Trains the run `config` describes, resuming from its model_dir.

  Args:
    config: A resolved config.
    callbacks: Extra Keras callbacks (api="fit" only).

  Returns:
    The driver's result dict (step, metrics, preempted, checkpoint) and "gan", the
    trained model.
  """
  check_model_dir(config)
  set_precision(config.precision)
  strategy = make_strategy(config.strategy)
  replicas = strategy.num_replicas_in_sync
  if config.batch_size % replicas:
    raise ValueError(f"batch size {config.batch_size} is not divisible by the {replicas} "
                     "replicas; use a multiple of the replica count")
  gan, source = build(config, strategy)
  # Restore first: config.json is (re)written only once the run's checkpoint is read.
  checkpoints = loop.open_checkpoints(gan, strategy, config.model_dir, config.keep_checkpoints)
  if checkpoints.chief:
    config_lib.write_config(config)
    if "checked_files" in source.info:
      config_lib.write_json(os.path.join(config.model_dir, CHECKED_FILES),
                            source.info["checked_files"])
  logging.info("training %s on %s: %d replicas, %s, batch %d, up to step %d in %s",
               config.model, source.name, replicas, config.precision, config.batch_size,
               config.train_steps, config.model_dir)
  common = dict(strategy=strategy, model_dir=config.model_dir, train_steps=config.train_steps,
                batch_size=config.batch_size, seed=config.seed, log_every=config.log_every,
                checkpoint_every=config.checkpoint_every,
                keep_checkpoints=config.keep_checkpoints, checkpoints=checkpoints)
  try:
    if config.api == "fit":
      result = loop.train_fit(gan, source, callbacks=callbacks, **common)
    else:
      result = loop.train_loop(gan, source, steps_per_loop=config.steps_per_loop,
                               image_every=config.image_every, jit_compile=config.jit_compile,
                               **common)
  except tf.errors.OpError as e:
    if not preemption.is_peer_failure(e, strategy):
      raise
    raise preemption.PeerLostError(
        f"lost another worker of the run ({preemption.short_reason(e)}); restart every "
        f"worker with the same command: the run resumes from "
        f"{checkpoints.latest or 'its start'}") from e
  return {**result, "gan": gan}
