"""Which signatures a GAN gets: an exporter per model name.

An exporter takes the GAN and its config (a dict) and returns a
:class:`~tf_gans.export.module.ServingModule`. The family modules of this package
(unconditional, conditional, translation) register theirs when the package is imported.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping

from tf_gans.export.module import ServingModule

# exporter(gan, config_dict, limits) -> ServingModule; limits: RequestLimits or None.
Exporter = Callable[[Any, Mapping[str, Any], Any], ServingModule]
_EXPORTERS: dict[str, Exporter] = {}


def register_exporter(model_name: str, fn: Exporter) -> Exporter:
  """Registers ``fn(gan, config_dict, limits) -> ServingModule`` for a config.model.

  ``limits`` is a :class:`~tf_gans.export.requests.RequestLimits` (or None: its
  defaults) that every signature must enforce.
  """
  if model_name in _EXPORTERS:
    raise ValueError(f"an exporter for model {model_name!r} is registered twice")
  _EXPORTERS[model_name] = fn
  return fn


def exporter_names() -> list[str]:
  return sorted(_EXPORTERS)


def get_exporter(model_name: str) -> Exporter:
  if model_name not in _EXPORTERS:
    raise ValueError(f"no serving exporter for model {model_name!r}; models with one: "
                     f"{', '.join(exporter_names())}")
  return _EXPORTERS[model_name]


def config_dict(config: Any) -> dict[str, Any]:
  """A TrainConfig (or a dict) as a JSON-able dict."""
  if isinstance(config, Mapping):
    return dict(config)
  if dataclasses.is_dataclass(config):
    return dataclasses.asdict(config)
  raise ValueError(f"config must be a TrainConfig or a dict, got {type(config).__name__}")


def build_serving_module(gan: Any, config: Any, limits: Any = None) -> ServingModule:
  """The exporter registered for ``config.model``, applied to `gan` with `limits`."""
  return get_exporter(config_dict(config)["model"])(gan, config_dict(config), limits)
