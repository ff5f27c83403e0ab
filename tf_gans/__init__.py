"""tf_gans: generative adversarial networks for TensorFlow 2 / Keras 3.

Public API:
  tf_gans.losses     adversarial, gradient-penalty, cycle, identity and reconstruction losses
  tf_gans.distances  TV, KL, JS and earth-mover distances; the parallel-lines example
  tf_gans.models     GANModel (one train_step), WassersteinGAN, ... and the registry
  tf_gans.data       deterministic, resumable input pipelines and datasets
  tf_gans.training   the custom tf.function loop, Model.fit driver, strategies, precision
  tf_gans.export     SavedModels for TF Serving
  tf_gans.serving    a REST / gRPC client of TF Serving (standard library + numpy for REST)

Submodules are imported on first use, so ``import tf_gans.config`` (what command-line
tools read first) does not start TensorFlow.
"""

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBMODULES = ("config", "distances", "losses", "data", "models", "training", "export",
               "serving", "metrics", "networks", "layers", "visualize")
_FROM_MODELS = ("GANModel", "UpdateGroup", "WassersteinGAN")


def __getattr__(name: str) -> Any:
  if name in _SUBMODULES:
    return importlib.import_module(f"tf_gans.{name}")
  if name in _FROM_MODELS:
    return getattr(importlib.import_module("tf_gans.models"), name)
  raise AttributeError(f"module 'tf_gans' has no attribute {name!r}")


def __dir__() -> list[str]:
  return sorted([*globals(), *_SUBMODULES, *_FROM_MODELS])
