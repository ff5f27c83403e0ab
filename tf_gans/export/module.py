"""The serving module: a GAN's networks and the functions TF Serving calls.

What every family's signatures share: :class:`ServingModule` (explicit input specs, the
variables to save), image outputs as float32 and uint8, the noise of a "sample" request,
and the metadata signature.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Callable, Mapping, Sequence

import keras
import numpy as np
import tensorflow as tf

METADATA_SIGNATURE = "metadata"
DEFAULT_SIGNATURE = "serving_default"


@dataclasses.dataclass
class _Signature:
  function: Any  # a tf.function with an input signature
  inputs: dict[str, tf.TensorSpec]
  warmup: dict[str, Any] | None


class ServingModule(tf.Module):
  """The networks of a GAN and the functions TF Serving calls.

  Each serving function becomes a ``tf.function`` with an explicit input signature, so
  the SavedModel's signatures have exact names, dtypes and shapes. Before saving,
  :meth:`track_variables` makes the module hold the ``tf.Variable`` objects those
  functions read, which is what ``tf.saved_model.save`` writes. The Keras models stay
  out of the saved object graph (as in Keras's own ``ExportArchive``), for two reasons
  seen with Keras 3 on TF 2.21: saving a Keras model as an object traces its default
  signature, which fails for a call with several inputs such as
  ``generator(z, labels)``; and a SavedModel holding Keras ``Variable`` wrappers loads
  in TF 2 but not in the session-based C++ loader TF Serving uses ("Could not find
  variable generator/kernel").

  Args:
    networks: Name -> Keras model (e.g. {"generator": gan.generator}).
    info: Model facts for the metadata (latent size, image shape, ...), JSON-able.
    keras_inputs: Network name -> float32/int input specs of its call, for
      :func:`export_keras_generators` (``Model.export``).
  """

  def __init__(self, networks: Mapping[str, keras.Model], info: Mapping[str, Any] | None = None,
               keras_inputs: Mapping[str, Sequence[tf.TensorSpec]] | None = None):
    super().__init__(name="tf_gans_serving")
    self.captured_variables: list[tf.Variable] = []
    # Plain Python state kept out of TensorFlow's object tracking.
    self.__dict__["networks"] = dict(networks)
    self.__dict__["info"] = dict(info or {})
    self.__dict__["keras_inputs"] = {k: list(v) for k, v in (keras_inputs or {}).items()}
    self.__dict__["_signatures"] = {}

  def add_signature(self, name: str, fn: Callable[..., dict[str, tf.Tensor]],
                    inputs: Mapping[str, tf.TensorSpec], warmup: Mapping[str, Any] | None = None,
                    aliases: Sequence[str] = ()) -> None:
    """Adds a serving function.

    Args:
      name: Signature name (e.g. "sample").
      fn: ``fn(**inputs) -> dict`` of output tensors, keyword arguments named like
        `inputs`.
      inputs: Input name -> spec (the name in the spec is replaced by the key).
      warmup: Example inputs for one warm-up request, or None for none.
      aliases: Further signature names for the same function (e.g. "serving_default").
    """
    if name in self._signatures or any(a in self._signatures for a in aliases):
      raise ValueError(f"signature {name!r} is defined twice")
    names = list(inputs)
    specs = [tf.TensorSpec(inputs[k].shape, inputs[k].dtype, name=k) for k in names]

    def call(*args):
      return fn(**dict(zip(names, args)))

    call.__name__ = f"serve_{re.sub(r'[^A-Za-z0-9_]', '_', name)}"  # names the traced graph

    # No autograph: the functions have no Python control flow on tensors to convert.
    function = tf.function(call, input_signature=specs, autograph=False)
    # An attribute, so the function is saved and reachable after tf.saved_model.load.
    setattr(self, f"fn_{name}", function)
    entry = _Signature(function, {s.name: s for s in specs}, dict(warmup) if warmup else None)
    self._signatures[name] = entry
    for alias in aliases:
      self._signatures[alias] = _Signature(function, entry.inputs, None)

  def track_variables(self) -> None:
    """Traces every signature and holds the tf.Variables they read, to be saved."""
    seen: dict[int, tf.Variable] = {}
    for sig in self._signatures.values():
      for variable in sig.function.get_concrete_function().variables:
        seen.setdefault(id(variable), variable)
    self.captured_variables = list(seen.values())

  @property
  def signatures(self) -> dict[str, Any]:
    return {name: s.function for name, s in self._signatures.items()}

  def signature_inputs(self, name: str) -> dict[str, tf.TensorSpec]:
    return dict(self._signatures[name].inputs)

  def warmup_requests(self) -> list[tuple[str, dict[str, np.ndarray]]]:
    """(signature, inputs with the signature's dtypes) for each warm-up request."""
    out = []
    for name, sig in self._signatures.items():
      if sig.warmup is None:
        continue
      out.append((name, {k: np.asarray(v, dtype=sig.inputs[k].dtype.as_numpy_dtype)
                         for k, v in sig.warmup.items()}))
    return out

  def describe(self) -> dict[str, Any]:
    """Signature name -> {"inputs": {name: {dtype, shape}}, "outputs": {...}}."""
    out = {}
    for name, sig in self._signatures.items():
      concrete = sig.function.get_concrete_function()
      outputs = concrete.structured_outputs
      out[name] = {"inputs": {k: _spec_json(v) for k, v in sig.inputs.items()},
                   "outputs": {k: _spec_json(v) for k, v in outputs.items()}}
    return out


def _spec_json(spec: Any) -> dict[str, Any]:
  shape = spec.shape
  dims = None if shape.rank is None else [d for d in shape.as_list()]
  return {"dtype": spec.dtype.name, "shape": dims}


# -- shared pieces of the exporters --------------------------------------------------------


def to_uint8(images: tf.Tensor) -> tf.Tensor:
  """[-1, 1] floats -> uint8 [0, 255], rounding as ``tf_gans.visualize.to_uint8`` does."""
  images = tf.cast(images, tf.float32)
  return tf.cast(tf.clip_by_value(tf.round((images + 1.0) * 127.5), 0.0, 255.0), tf.uint8)


def image_outputs(images: tf.Tensor) -> dict[str, tf.Tensor]:
  images = tf.cast(images, tf.float32)
  return {"images": images, "images_uint8": to_uint8(images)}


def serving_noise(num_samples: tf.Tensor, latent_dim: int, seed: tf.Tensor) -> tf.Tensor:
  """The latent noise of a "sample" request: N(0, 1) from the stateless seed [seed, 0].

  The same numbers ``gan.generate(num_samples, seed)`` draws on a CPU; the Philox
  algorithm is named so that a GPU server draws them too.
  """
  seed = tf.stack([tf.cast(seed, tf.int64), tf.constant(0, tf.int64)])
  shape = tf.stack([tf.cast(num_samples, tf.int32), tf.constant(latent_dim, tf.int32)])
  return tf.random.stateless_normal(shape, seed, alg="philox")


def metadata_signature(module: ServingModule, model: str, metadata_json: str) -> None:
  def metadata(unused):  # pylint: disable=unused-argument
    return {"model": tf.constant(model), "config_json": tf.constant(metadata_json)}
  # TF Serving refuses a signature without inputs ("Failed to get input map"), hence
  # the ignored scalar input.
  module.add_signature(METADATA_SIGNATURE, metadata, {"unused": tf.TensorSpec([], tf.int32)},
                       warmup={"unused": 0})
