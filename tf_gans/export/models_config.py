"""TF Serving's ``--model_config_file``: several models served from one export base."""

from __future__ import annotations

import dataclasses
import os
import uuid
from typing import Sequence

from tf_gans.export.layout import _MODEL_NAME, check_model_name, list_versions


@dataclasses.dataclass(frozen=True)
class ServedModel:
  """One entry of TF Serving's ``--model_config_file``.

  Attributes:
    name: The served name (the URL's /v1/models/<name>).
    base_path: The model's folder *as the server sees it* (e.g. /models/<name> inside
      the tensorflow/serving container).
    versions: Serve exactly these versions, or None for TF Serving's default (the
      latest one).
  """

  name: str
  base_path: str
  versions: tuple[int, ...] | None = None


def _text_proto_string(value: str) -> str:
  return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def models_config_text(models: Sequence[ServedModel]) -> str:
  """A ``model_config_list`` text proto (TF Serving's ModelServerConfig) for `models`.

  Raises:
    ValueError: for no models, a repeated or bad name, or a bad version.
  """
  if not models:
    raise ValueError("models.config needs at least one model")
  names = [m.name for m in models]
  if len(set(names)) != len(names):
    raise ValueError(f"model names repeat in {names}")
  lines = ["model_config_list {"]
  for m in models:
    check_model_name(m.name)
    lines += ["  config {", f"    name: {_text_proto_string(m.name)}",
              f"    base_path: {_text_proto_string(m.base_path)}",
              '    model_platform: "tensorflow"']
    if m.versions is not None:
      if not m.versions or any(not isinstance(v, int) or v < 1 for v in m.versions):
        raise ValueError(f"versions of {m.name!r} must be positive integers, got {m.versions}")
      lines += ["    model_version_policy {", "      specific {"]
      lines += [f"        versions: {v}" for v in m.versions]
      lines += ["      }", "    }"]
    lines.append("  }")
  lines.append("}")
  return "\n".join(lines) + "\n"


def served_models(export_base: str, serving_base: str = "/models") -> list[ServedModel]:
  """Every model folder under `export_base` that holds at least one version.

  Args:
    export_base: The local folder of exports.
    serving_base: Where the server sees `export_base` (the container's mount point).
  """
  if not os.path.isdir(export_base):
    raise ValueError(f"export base {export_base!r} is not a folder")
  models = []
  for name in sorted(os.listdir(export_base)):
    if _MODEL_NAME.match(name) and list_versions(os.path.join(export_base, name)):
      models.append(ServedModel(name, serving_base.rstrip("/") + "/" + name))
  return models


def write_models_config(path: str, models: Sequence[ServedModel]) -> str:
  """Writes `models` as a models.config file (atomically); returns the text."""
  text = models_config_text(models)
  tmp = f"{path}.tmp-{uuid.uuid4().hex[:8]}"
  with open(tmp, "w", encoding="utf-8") as f:
    f.write(text)
  os.replace(tmp, path)
  return text
