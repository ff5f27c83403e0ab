"""SavedModels of trained generators for TF Serving.

TF Serving is a C++ server: it loads a SavedModel's signatures and nothing of this
package. So the export *is* the serving contract, and it is written to be exact:

* every signature has explicit names, dtypes and a free batch dimension; inputs are
  float32, int32/int64 or string whatever precision the model was trained in (a
  ``mixed_bfloat16`` model is cast at the signature's edge, not exported as bfloat16),
  and outputs are float32 (plus uint8 images and PNG bytes where they help a client);
* a ``metadata`` signature and ``assets.extra/tf_gans_config.json`` say what the model
  is: the resolved training configuration, the step, the signatures;
* TF Serving's layout: ``EXPORT_BASE/<model_name>/<version>/saved_model.pb``, integer
  versions that increase, each written into a dot-named temporary folder (TF Serving
  only loads folders whose name is a number) and renamed into place, so a server that
  polls the folder never loads a half-written version;
* optional warm-up requests (``assets.extra/tf_serving_warmup_requests``) so the first
  real request does not pay for TensorFlow's lazy initialisation.

Which signatures a GAN gets depends on its kind, looked up by the ``model`` name of its
config in a small registry (:func:`register_exporter`). An exporter receives the GAN and
its config and returns a :class:`ServingModule` with the networks and the serving
functions. The exporters here follow the models' public attributes only:

======================  =============================================================
model                   what the exporter uses
======================  =============================================================
wgan                    ``gan.generator(z, training=False)``, ``gan.latent_dim``;
                        images [N, H, W, C] in [-1, 1] or 2-D points [N, D]
cgan                    ``gan.generator(z, labels, training=False)`` with int32 labels,
                        ``gan.latent_dim``, ``gan.num_classes``
cyclegan, discogan      ``gan.generator_ab(x, training=False)``, ``gan.generator_ba``,
                        ``gan.image_shape`` = (H, W, C); images in [-1, 1]
======================  =============================================================
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
from typing import Any, Callable, Iterable, Mapping, Sequence

import keras
import numpy as np
import tensorflow as tf
from absl import logging

CONFIG_ASSET = "tf_gans_config.json"
WARMUP_ASSET = "tf_serving_warmup_requests"
ASSETS_EXTRA = "assets.extra"
METADATA_SIGNATURE = "metadata"
DEFAULT_SIGNATURE = "serving_default"
# Bumped when the signatures change incompatibly, so clients can check what they talk to.
EXPORT_FORMAT_VERSION = 1
# The most samples one "sample" request may ask for: a typo in num_samples must not
# make the server allocate gigabytes.
MAX_SAMPLES_PER_REQUEST = 4096
# TF Serving reads at most 1000 warm-up records.
_MAX_WARMUP_RECORDS = 1000
# A model name is a folder name under the export base and a URL path component.
_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


# -- the serving module ------------------------------------------------------------------


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


def _image_outputs(images: tf.Tensor) -> dict[str, tf.Tensor]:
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


def _checked(value: tf.Tensor, checks: list) -> tf.Tensor:
  """value, usable only after the checks ran: their message, not a later op's error,
  reaches the client (nothing else orders the assertions before the ops using value)."""
  with tf.control_dependencies([c for c in checks if c is not None]):
    return tf.identity(value)


def _check_num_samples(num_samples: tf.Tensor) -> tf.Tensor:
  return _checked(num_samples, [
      tf.debugging.assert_non_negative(num_samples, message="num_samples must be >= 0"),
      tf.debugging.assert_less_equal(
          num_samples, tf.constant(MAX_SAMPLES_PER_REQUEST, num_samples.dtype),
          message=f"num_samples must be at most {MAX_SAMPLES_PER_REQUEST} per request")])


def _check_labels(label: tf.Tensor, num_classes: int) -> tf.Tensor:
  # An out-of-range label would silently give a one-hot of zeros (or crash an
  # embedding): refuse it with a message the client sees.
  message = f"label must be in [0, {num_classes})"
  return _checked(label, [
      tf.debugging.assert_non_negative(label, message=message),
      tf.debugging.assert_less(label, tf.constant(num_classes, label.dtype), message=message)])


def _metadata_signature(module: ServingModule, model: str, metadata_json: str) -> None:
  def metadata(unused):  # pylint: disable=unused-argument
    return {"model": tf.constant(model), "config_json": tf.constant(metadata_json)}
  # TF Serving refuses a signature without inputs ("Failed to get input map"), hence
  # the ignored scalar input.
  module.add_signature(METADATA_SIGNATURE, metadata, {"unused": tf.TensorSpec([], tf.int32)},
                       warmup={"unused": 0})


# -- exporters -----------------------------------------------------------------------------

Exporter = Callable[[Any, Mapping[str, Any]], ServingModule]
_EXPORTERS: dict[str, Exporter] = {}


def register_exporter(model_name: str, fn: Exporter) -> Exporter:
  """Registers ``fn(gan, config_dict) -> ServingModule`` for ``config.model == model_name``."""
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


def export_unconditional(gan: Any, config: Mapping[str, Any]) -> ServingModule:
  """Signatures of a generator of z (the WGAN).

  * ``serving_default``: ``z`` float32 [N, latent_dim] -> ``images`` float32
    [N, H, W, C] in [-1, 1] and ``images_uint8`` uint8, or ``samples`` float32 [N, D]
    for a generator of points (2-D toy data);
  * ``sample``: ``num_samples`` int32 [] and ``seed`` int64 [] -> the same outputs for
    noise drawn on the server (:func:`serving_noise`), so a client needs no noise.
  """
  del config
  latent = int(gan.latent_dim)
  generator = gan.generator
  probe = generator(tf.zeros([1, latent]), training=False)
  if probe.shape.rank == 4:
    outputs, kind = _image_outputs, "images"
  elif probe.shape.rank == 2:
    outputs, kind = (lambda x: {"samples": tf.cast(x, tf.float32)}), "points"
  else:
    raise ValueError(f"the generator returns shape {tuple(probe.shape)}; expected images "
                     "[N, H, W, C] or points [N, D]")
  module = ServingModule({"generator": generator},
                         info={"latent_dim": latent, "output": kind,
                               "sample_shape": [int(d) for d in probe.shape[1:]]},
                         keras_inputs={"generator": [tf.TensorSpec([None, latent], tf.float32)]})

  def from_z(z):
    return outputs(generator(z, training=False))

  def sample(num_samples, seed):
    num_samples = _check_num_samples(num_samples)
    return from_z(serving_noise(num_samples, latent, seed))

  module.add_signature("sample", sample, {"num_samples": tf.TensorSpec([], tf.int32),
                                          "seed": tf.TensorSpec([], tf.int64)},
                       warmup={"num_samples": 1, "seed": 0})
  module.add_signature(DEFAULT_SIGNATURE, from_z,
                       {"z": tf.TensorSpec([None, latent], tf.float32)},
                       warmup={"z": np.zeros((1, latent), np.float32)})
  return module


def export_conditional(gan: Any, config: Mapping[str, Any]) -> ServingModule:
  """Signatures of a class-conditional generator (the conditional GAN).

  * ``serving_default``: ``z`` float32 [N, latent_dim] and ``label`` int32 [N] ->
    ``images`` float32 [N, H, W, C] in [-1, 1] and ``images_uint8``;
  * ``sample``: ``label`` int32 [N] and ``seed`` int64 [] -> one image per label, noise
    drawn on the server.

  Labels outside [0, num_classes) are refused with an error.
  """
  del config
  latent, num_classes = int(gan.latent_dim), int(gan.num_classes)
  generator = gan.generator
  probe = generator(tf.zeros([1, latent]), tf.zeros([1], tf.int32), training=False)
  if probe.shape.rank != 4:
    raise ValueError(f"the conditional generator returns shape {tuple(probe.shape)}; "
                     "expected images [N, H, W, C]")
  module = ServingModule({"generator": generator},
                         info={"latent_dim": latent, "num_classes": num_classes,
                               "output": "images",
                               "sample_shape": [int(d) for d in probe.shape[1:]]},
                         keras_inputs={"generator": [tf.TensorSpec([None, latent], tf.float32),
                                                     tf.TensorSpec([None], tf.int32)]})

  def from_z(z, label):
    label = _check_labels(label, num_classes)
    return _image_outputs(generator(z, label, training=False))

  def sample(label, seed):
    return from_z(serving_noise(tf.shape(label)[0], latent, seed), label)

  module.add_signature("sample", sample, {"label": tf.TensorSpec([None], tf.int32),
                                          "seed": tf.TensorSpec([], tf.int64)},
                       warmup={"label": [0], "seed": 0})
  module.add_signature(DEFAULT_SIGNATURE, from_z,
                       {"z": tf.TensorSpec([None, latent], tf.float32),
                        "label": tf.TensorSpec([None], tf.int32)},
                       warmup={"z": np.zeros((1, latent), np.float32), "label": [0]})
  return module


def export_translation(gan: Any, config: Mapping[str, Any]) -> ServingModule:
  """Signatures of a two-way image translator (CycleGAN, DiscoGAN).

  For each direction ``a_to_b`` (also ``serving_default``) and ``b_to_a``:

  * ``<direction>``: ``images`` float32 [N, H, W, C] in [-1, 1] at the model's size ->
    ``images`` float32 in [-1, 1] and ``images_uint8``;
  * ``<direction>_encoded``: ``images_bytes`` string [N] of JPEG/PNG/GIF/BMP files of
    any size -> ``images_bytes`` string [N] of PNG files of the same sizes. Each image
    is resized to the model's size, translated and resized back. Over REST the bytes
    travel as ``{"b64": ...}``; TF Serving base64-encodes outputs whose name ends in
    ``_bytes``.
  """
  del config
  height, width, channels = (int(d) for d in gan.image_shape)
  networks = {"generator_ab": gan.generator_ab, "generator_ba": gan.generator_ba}
  image_spec = tf.TensorSpec([None, height, width, channels], tf.float32)
  module = ServingModule(networks, info={"image_shape": [height, width, channels],
                                         "directions": ["a_to_b", "b_to_a"]},
                         keras_inputs={k: [image_spec] for k in networks})
  gray = np.full((height, width, channels), 128, np.uint8)
  png = tf.io.encode_png(gray).numpy()
  for direction, network in (("a_to_b", networks["generator_ab"]),
                             ("b_to_a", networks["generator_ba"])):

    def translate(images, network=network):
      return _image_outputs(network(images, training=False))

    def translate_encoded(images_bytes, network=network):
      def decode(data):
        image = tf.io.decode_image(data, channels=channels, dtype=tf.uint8,
                                   expand_animations=False)
        size = tf.shape(image)[:2]
        # Antialiasing keeps a large photo's downscale from aliasing.
        image = tf.image.resize(tf.cast(image, tf.float32), [height, width],
                                method="bilinear", antialias=True)
        return image / 127.5 - 1.0, size

      images, sizes = tf.map_fn(
          decode, images_bytes,
          fn_output_signature=(tf.TensorSpec([height, width, channels], tf.float32),
                               tf.TensorSpec([2], tf.int32)))
      # One batched generator call; only decoding and resizing are per image.
      translated = tf.cast(network(images, training=False), tf.float32)

      def encode(args):
        image, size = args
        image = tf.image.resize(image, size, method="bilinear", antialias=True)
        return tf.io.encode_png(to_uint8(image))

      return {"images_bytes": tf.map_fn(encode, (translated, sizes),
                                        fn_output_signature=tf.TensorSpec([], tf.string))}

    module.add_signature(direction, translate, {"images": image_spec},
                         warmup={"images": np.zeros((1, height, width, channels), np.float32)},
                         aliases=(DEFAULT_SIGNATURE,) if direction == "a_to_b" else ())
    module.add_signature(f"{direction}_encoded", translate_encoded,
                         {"images_bytes": tf.TensorSpec([None], tf.string)},
                         warmup={"images_bytes": np.array([png], dtype=object)})
  return module


register_exporter("wgan", export_unconditional)
register_exporter("cgan", export_conditional)
register_exporter("cyclegan", export_translation)
register_exporter("discogan", export_translation)


# -- writing -------------------------------------------------------------------------------


def config_dict(config: Any) -> dict[str, Any]:
  """A TrainConfig (or a dict) as a JSON-able dict."""
  if isinstance(config, Mapping):
    return dict(config)
  if dataclasses.is_dataclass(config):
    return dataclasses.asdict(config)
  raise ValueError(f"config must be a TrainConfig or a dict, got {type(config).__name__}")


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


def build_serving_module(gan: Any, config: Any) -> ServingModule:
  """The exporter registered for ``config.model``, applied to `gan`."""
  return get_exporter(config_dict(config)["model"])(gan, config_dict(config))


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
                  warmup: bool | None = None) -> dict[str, Any]:
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
  warmup_protos = _warmup_modules(warmup)
  module = build_serving_module(gan, config)
  metadata = _metadata(module, gan, config, model_name=model_name, version=version,
                       checkpoint=checkpoint)
  metadata_json = json.dumps(metadata, indent=2, sort_keys=True, default=str)
  _metadata_signature(module, config["model"], metadata_json)
  module.track_variables()
  tf.saved_model.save(module, export_dir, signatures=module.signatures)
  extra = os.path.join(export_dir, ASSETS_EXTRA)
  os.makedirs(extra, exist_ok=True)
  with open(os.path.join(extra, CONFIG_ASSET), "w", encoding="utf-8") as f:
    f.write(metadata_json)
  if warmup_protos is not None:
    write_warmup_requests(os.path.join(extra, WARMUP_ASSET), model_name,
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
               warmup: bool | None = None) -> ExportResult:
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
                             checkpoint=checkpoint, warmup=warmup)
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
                     warmup: bool | None = None) -> ExportResult:
  """Exports the latest (or given) checkpoint of a tools/train.py model_dir.

  The GAN is rebuilt from ``model_dir/config.json`` with :func:`tf_gans.training.load`
  (which also sets the precision policy the model was trained with).

  Args:
    model_dir: A model_dir written by tools/train.py.
    export_base: The folder of served models.
    model_name: Served name; default the model_dir's folder name.
    checkpoint: A checkpoint path; default the latest.
    version: Version number; default the next one.
    warmup: See :func:`export_gan`.

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
                    checkpoint=gan.restored_from, warmup=warmup)


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


# -- warm-up requests ----------------------------------------------------------------------


def _warmup_modules(warmup: bool | None) -> Any:
  if warmup is False:
    return None
  try:
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2
  except ImportError:
    if warmup:
      raise ValueError("warm-up requests need tensorflow-serving-api: "
                       "pip install 'tf_gans[serving]'") from None
    logging.warning("tensorflow-serving-api is not installed: exporting without warm-up "
                    "requests")
    return None
  return model_pb2, predict_pb2, prediction_log_pb2


def warmup_records(model_name: str, requests: Iterable[tuple[str, Mapping[str, Any]]],
                   version: int | None = None) -> list[bytes]:
  """Serialised PredictionLog records of Predict requests, TF Serving's warm-up format.

  Args:
    model_name: The served model name.
    requests: (signature name, input name -> array of the signature's dtype) pairs.
    version: The version to name in the requests, or None.

  Raises:
    ValueError: without tensorflow-serving-api, or for more than 1000 requests.
  """
  model_pb2, predict_pb2, prediction_log_pb2 = _warmup_modules(True)
  records = []
  for signature, inputs in requests:
    request = predict_pb2.PredictRequest(
        model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature))
    if version is not None:
      request.model_spec.version.value = version
    for key, value in inputs.items():
      request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
    log = prediction_log_pb2.PredictionLog(
        predict_log=prediction_log_pb2.PredictLog(request=request))
    records.append(log.SerializeToString())
  if len(records) > _MAX_WARMUP_RECORDS:
    raise ValueError(f"{len(records)} warm-up requests; TF Serving reads at most "
                     f"{_MAX_WARMUP_RECORDS}")
  return records


def write_warmup_requests(path: str, model_name: str,
                          requests: Iterable[tuple[str, Mapping[str, Any]]],
                          version: int | None = None) -> int:
  """Writes warm-up requests as a TFRecord file; returns how many."""
  records = warmup_records(model_name, requests, version)
  with tf.io.TFRecordWriter(path) as writer:
    for record in records:
      writer.write(record)
  return len(records)


# -- models.config -------------------------------------------------------------------------


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
