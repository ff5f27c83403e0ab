"""Names of the GANs tools/train.py can build.

A model module registers a :class:`ModelSpec` with :func:`register`; the registry then
knows its config class (and so its flags and paper defaults) and how to build it for a
data source. ``tf_gans.models`` imports every model module, so registering is all a new
GAN needs to appear in ``tools/train.py --help``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from tf_gans.config import TrainConfig


@dataclasses.dataclass(frozen=True)
class ModelSpec:
  """How to build one registered GAN.

  Attributes:
    name: The --model value.
    config_cls: Its TrainConfig subclass (fields become flags; defaults are the paper's).
    build: ``build(config, source) -> GANModel``: networks and model, not yet compiled.
    optimizers: ``optimizers(config) -> dict(generator_optimizer=..., ...)``.
    description: One line for --help.
    evaluate: ``evaluate(gan, config, source, **options) -> dict[str, float]`` for
      tools/evaluate.py (options: num_samples, seed, model_dir, ...), or None.
  """

  name: str
  config_cls: type[TrainConfig]
  build: Callable[[Any, Any], Any]
  optimizers: Callable[[Any], dict[str, Any]]
  description: str = ""
  evaluate: Callable[..., dict[str, Any]] | None = None


_REGISTRY: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
  if spec.name in _REGISTRY:
    raise ValueError(f"model name {spec.name!r} is registered twice")
  _REGISTRY[spec.name] = spec
  return spec


def get(name: str) -> ModelSpec:
  """Returns the spec of `name`; ValueError naming the known models otherwise."""
  if name not in _REGISTRY:
    raise ValueError(f"unknown model {name!r}; known models: {', '.join(sorted(_REGISTRY))}")
  return _REGISTRY[name]


def names() -> list[str]:
  return sorted(_REGISTRY)


def all_specs() -> list[ModelSpec]:
  return [_REGISTRY[n] for n in names()]
