"""Writing exports: TF Serving's versioned folder layout, metadata, Keras exports.

``EXPORT_BASE/<model_name>/<version>/saved_model.pb``: integer versions that increase,
each written into a dot-named staging folder (TF Serving only loads folders whose name
is a number) and renamed into place, so a server that polls the folder never loads a
half-written version; a staging folder left by a killed export is removed by the next
export of that model.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import re
import shutil
import socket
import time
import uuid
from typing import Any, Mapping

import tensorflow as tf
from absl import logging

from tf_gans.export import warmup as warmup_lib
from tf_gans.export.module import (DEFAULT_SIGNATURE, METADATA_SIGNATURE, ServingModule,
                                   metadata_signature)
from tf_gans.export.registry import build_serving_module, config_dict
from tf_gans.export.requests import RequestLimits

CONFIG_ASSET = "tf_gans_config.json"
ASSETS_EXTRA = "assets.extra"
# Bumped when the signatures change incompatibly, so clients can check what they talk to.
EXPORT_FORMAT_VERSION = 1
# A model name is a folder name under the export base and a URL path component.
_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def check_model_name(name: str) -> str:
  """Returns `name` if TF Serving can serve a model of that name from a folder.

  Raises:
    ValueError: for an empty name or one with characters other than letters, digits,
      '_', '-' and '.', or one starting with '.' / '_' / '-'.
  """
  if not isinstance(name, str) or not _MODEL_NAME.match(name):
    raise ValueError(f"model name {name!r} is not usable as a TF Serving model folder; "
                     "use letters, digits, '_', '-' and '.', starting with a letter or digit")
  return name


def _metadata(module: ServingModule, gan: Any, config: Mapping[str, Any], *, model_name: str,
              version: int | None, checkpoint: str | None) -> dict[str, Any]:
  from tf_gans import __version__
  signatures = module.describe()
  signatures[METADATA_SIGNATURE] = {
      "inputs": {"unused": {"dtype": "int32", "shape": []}},
      "outputs": {"model": {"dtype": "string", "shape": []},
                  "config_json": {"dtype": "string", "shape": []}}}
  counter = getattr(gan, "train_counter", None)
  return {
      "format_version": EXPORT_FORMAT_VERSION,
      "tf_gans_version": __version__,
      "model": config["model"],
      "model_name": model_name,
      "version": version,
      "step": None if counter is None else int(counter.numpy()),
      "checkpoint": checkpoint,
      "precision": config.get("precision", "float32"),
      "exported_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
      "info": module.info,
      "signatures": signatures,
      "default_signature": DEFAULT_SIGNATURE,
      "config": config,
  }


def save_servable(gan: Any, config: Any, export_dir: str, *, model_name: str | None = None,
                  version: int | None = None, checkpoint: str | None = None,
                  warmup: bool | None = None, limits: RequestLimits | None = None
                  ) -> dict[str, Any]:
  """Writes one SavedModel of `gan`'s serving signatures into `export_dir` (not versioned).

  Prefer :func:`export_gan`, which puts it into TF Serving's versioned layout safely.

  Args:
    gan: The trained GAN.
    config: Its resolved config (``config.model`` picks the exporter).
    export_dir: A folder that must not exist yet.
    model_name: The name TF Serving will serve it under (written to the metadata and
      the warm-up requests); default ``config.model``.
    version: The version written to the metadata.
    checkpoint: The checkpoint path, for the metadata.
    warmup: Write warm-up requests: True (required), False, or None (when
      tensorflow-serving-api is installed).
    limits: What one request may ask (tf_gans.export.requests); None: the defaults.

  Returns:
    The metadata dict written to ``assets.extra/tf_gans_config.json``.

  Raises:
    ValueError: if export_dir exists, the model has no exporter, or warmup=True without
      tensorflow-serving-api.
  """
  config = config_dict(config)
  model_name = check_model_name(config["model"] if model_name is None else model_name)
  if os.path.exists(export_dir):
    raise ValueError(f"export folder {export_dir!r} exists already; exports never overwrite")
  warmup_protos = warmup_lib.warmup_modules(warmup)
  module = build_serving_module(gan, config, limits)
  metadata = _metadata(module, gan, config, model_name=model_name, version=version,
                       checkpoint=checkpoint)
  metadata_json = json.dumps(metadata, indent=2, sort_keys=True, default=str)
  metadata_signature(module, config["model"], metadata_json)
  module.track_variables()
  tf.saved_model.save(module, export_dir, signatures=module.signatures)
  extra = os.path.join(export_dir, ASSETS_EXTRA)
  os.makedirs(extra, exist_ok=True)
  with open(os.path.join(extra, CONFIG_ASSET), "w", encoding="utf-8") as f:
    f.write(metadata_json)
  if warmup_protos is not None:
    warmup_lib.write_warmup_requests(os.path.join(extra, warmup_lib.WARMUP_ASSET), model_name,
                          module.warmup_requests(), version=version)
  return metadata


@dataclasses.dataclass(frozen=True)
class ExportResult:
  """Where an export went.

  Attributes:
    path: The version folder, ``<export_base>/<model_name>/<version>``.
    model_name: The served model name.
    version: The version number.
    metadata: What ``assets.extra/tf_gans_config.json`` holds.
  """

  path: str
  model_name: str
  version: int
  metadata: dict[str, Any]


def list_versions(model_base: str) -> list[int]:
  """The versions TF Serving sees in `model_base`: sub-folders named by a number."""
  if not os.path.isdir(model_base):
    return []
  return sorted(int(n) for n in os.listdir(model_base)
                if n.isdigit() and os.path.isdir(os.path.join(model_base, n)))


def next_version(model_base: str) -> int:
  """One more than the highest version in `model_base`, or 1."""
  versions = list_versions(model_base)
  return versions[-1] + 1 if versions else 1


def export_gan(gan: Any, config: Any, export_base: str, *, model_name: str | None = None,
               version: int | None = None, checkpoint: str | None = None,
               warmup: bool | None = None, limits: RequestLimits | None = None
               ) -> ExportResult:
  """Exports `gan` as a new version of ``<export_base>/<model_name>`` for TF Serving.

  The version is written into a temporary folder ``.<version>.tmp-<random>`` beside the
  versions (TF Serving only loads folders named by a number, and the dot hides it from
  most tools) and renamed into place when complete. A rename within one filesystem is
  atomic, so a server polling the folder sees either no new version or a whole one; an
  export that fails midway removes its temporary folder.

  Args:
    gan: The trained GAN.
    config: Its resolved config (``config.model`` picks the exporter).
    export_base: The folder of served models (TF Serving's /models).
    model_name: Served name; default ``config.model``.
    version: Version number; default one more than the highest one present.
    checkpoint: The checkpoint the GAN came from, for the metadata.
    warmup: Warm-up requests: True, False or None (when tensorflow-serving-api is
      installed).
    limits: What one request may ask (tf_gans.export.requests); None: the defaults.

  Returns:
    An :class:`ExportResult`.

  Raises:
    ValueError: for a bad model name or version, or a version that exists already.
  """
  config = config_dict(config)
  model_name = check_model_name(config["model"] if model_name is None else model_name)
  if os.path.exists(export_base) and not os.path.isdir(export_base):
    raise ValueError(f"export base {export_base!r} is a file, expected a folder")
  model_base = os.path.join(export_base, model_name)
  if version is None:
    version = next_version(model_base)
  elif not isinstance(version, int) or isinstance(version, bool) or version < 1:
    raise ValueError(f"version must be a positive integer, got {version!r}")
  final = os.path.join(model_base, str(version))
  if os.path.exists(final):
    raise ValueError(f"version {version} of {model_name!r} exists already at {final!r}; "
                     f"versions never change once written (next free: {next_version(model_base)})")
  os.makedirs(model_base, exist_ok=True)
  remove_stale_staging(model_base)
  staging = os.path.join(model_base, f".{version}.tmp-{_STAGING_OWNER}-{uuid.uuid4().hex[:8]}")
  try:
    metadata = save_servable(gan, config, staging, model_name=model_name, version=version,
                             checkpoint=checkpoint, warmup=warmup, limits=limits)
    try:
      os.rename(staging, final)
    except OSError as e:
      # Another export took the same number meanwhile (the rename refuses a non-empty
      # target); the version it wrote stays untouched.
      raise ValueError(f"version {version} of {model_name!r} appeared while exporting "
                       f"({e.strerror}); export again to get the next version") from None
  finally:
    if os.path.exists(staging):
      shutil.rmtree(staging, ignore_errors=True)
  logging.info("exported %s version %d to %s", model_name, version, final)
  return ExportResult(final, model_name, version, metadata)


# Who writes a staging folder: host and process, so a later export can tell a folder left
# by a killed export (its process is gone) from one another export is writing now.
_STAGING_OWNER = f"{socket.gethostname().replace('-', '_')}-{os.getpid()}"
_STAGING = re.compile(r"^\.\d+\.tmp-(?:(?P<host>[^-]+)-(?P<pid>\d+)-)?[0-9a-f]+$")
# A staging folder of another machine (a shared export base) counts as left over after
# this long: no export takes a day.
_FOREIGN_STAGING_AGE = 24 * 3600


def _process_alive(pid: int) -> bool:
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:
    return True  # someone else's process
  return True


def remove_stale_staging(model_base: str) -> list[str]:
  """Removes the temporary folders of exports that were killed while writing.

  A folder is left over when the process that wrote it (on this machine) no longer
  runs, or, written on another machine, when it is a day old.

  Returns:
    The folders removed.
  """
  if not os.path.isdir(model_base):
    return []
  removed = []
  host = socket.gethostname().replace("-", "_")
  for name in os.listdir(model_base):
    match = _STAGING.match(name)
    path = os.path.join(model_base, name)
    if not match or not os.path.isdir(path):
      continue
    if match.group("host") == host:
      stale = not _process_alive(int(match.group("pid")))
    else:
      stale = time.time() - os.path.getmtime(path) > _FOREIGN_STAGING_AGE
    if stale:
      shutil.rmtree(path, ignore_errors=True)
      removed.append(path)
      logging.info("removed %s, left by an export that did not finish", path)
  return removed


def export_model_dir(model_dir: str, export_base: str, *, model_name: str | None = None,
                     checkpoint: str | None = None, version: int | None = None,
                     warmup: bool | None = None, limits: RequestLimits | None = None
                     ) -> ExportResult:
  """Exports the latest (or given) checkpoint of a tools/train.py model_dir.

  The GAN is rebuilt from ``model_dir/config.json`` with :func:`tf_gans.training.load`
  (which also sets the precision policy the model was trained with).

  Args:
    model_dir: A model_dir written by tools/train.py.
    export_base: The folder of served models.
    model_name: Served name; default the model_dir's folder name.
    checkpoint: A checkpoint path; default the latest.
    version: Version number; default the next one.
    warmup, limits: See :func:`export_gan`.

  Returns:
    An :class:`ExportResult`.

  Raises:
    ValueError: if model_dir holds no run or no checkpoint, or as :func:`export_gan`.
  """
  from tf_gans import training
  if model_name is None:
    model_name = os.path.basename(os.path.normpath(os.path.abspath(model_dir)))
  # Cheap checks first: rebuilding the GAN takes a while.
  check_model_name(model_name)
  if version is not None and os.path.exists(os.path.join(export_base, model_name, str(version))):
    raise ValueError(f"version {version} of {model_name!r} exists already under {export_base!r}")
  gan, config, _ = training.load(model_dir, checkpoint)
  return export_gan(gan, config, export_base, model_name=model_name, version=version,
                    checkpoint=gan.restored_from, warmup=warmup, limits=limits)


def export_keras_generators(gan: Any, config: Any, directory: str) -> dict[str, str]:
  """Writes each generator with Keras's ``Model.export`` to ``directory/<network>``.

  The input signature is given explicitly as float32 (and int32 labels): a model built
  under a mixed policy would otherwise be exported with bfloat16/float16 inputs. The
  endpoint is Keras's ``serve``, taking the generator's positional inputs.

  Returns:
    Network name -> folder written.

  Raises:
    ValueError: if a target folder exists.
  """
  module = build_serving_module(gan, config)
  paths = {}
  for name, network in module.networks.items():
    path = os.path.join(directory, name)
    if os.path.exists(path):
      raise ValueError(f"export folder {path!r} exists already")
    network.export(path, format="tf_saved_model", input_signature=module.keras_inputs[name],
                   verbose=False)
    paths[name] = path
  return paths
