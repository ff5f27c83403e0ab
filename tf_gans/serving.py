"""A client of TF Serving for the SavedModels :mod:`tf_gans.export` writes.

REST (``http://host:8501``) follows TF Serving's documented JSON API
(https://www.tensorflow.org/tfx/serving/api_rest):

* ``POST /v1/models/<name>[/versions/<v>]:predict`` with ``{"signature_name": ...,
  "instances": [...]}`` (row format: every input has the same batch size) or
  ``{"signature_name": ..., "inputs": {...}}`` (columnar format: any shapes, e.g. the
  scalar ``num_samples`` and ``seed`` of the "sample" signature);
* binary strings travel as ``{"b64": "<base64>"}``, in requests and in outputs whose
  name ends in ``_bytes``;
* answers are ``{"predictions": ...}`` (row) or ``{"outputs": ...}`` (columnar), the
  output names omitted when there is only one; errors are ``{"error": "..."}`` with an
  HTTP status.

gRPC (``host:8500``) uses ``PredictionService`` from tensorflow-serving-api
(``pip install 'tf_gans[serving]'``).

The REST part needs only the standard library (urllib) and numpy, and nothing else
of tf_gans: this file can be copied to a machine that has neither TensorFlow nor
tf_gans. Every failure is a :class:`ServingError` with a message that says what to do.
"""

from __future__ import annotations

import base64
import json
import re
import socket
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Mapping, Sequence

import numpy as np

DEFAULT_REST_URL = "http://localhost:8501"
DEFAULT_GRPC_TARGET = "localhost:8500"
# Images answers can be large; gRPC's default limit is 4 MB.
_GRPC_MESSAGE_LIMIT = 512 * 1024 * 1024


# Parts of a TensorFlow error message that locate the failure in the graph, not say it.
_GRAPH_NOISE = re.compile(r"\[\[\{\{node [^}]*\}\}\]\]|\[Op:[^\]]*\]|Graph execution error:|"
                          r"Detected at node \S+ defined at \(most recent call last\):|"
                          r"<stack traces unavailable>")


def server_message(message: str) -> str:
  """A server's error message in one line: what failed, without graph node locations.

  A failed request check reads "assertion failed: [images_bytes[0]: 16000x16000 pixels;
  at most 16777216 per image]".
  """
  text = " ".join(_GRAPH_NOISE.sub(" ", str(message)).split())
  return text or " ".join(str(message).split())


class ServingError(RuntimeError):
  """TF Serving could not answer a request.

  Attributes:
    status: The HTTP status or gRPC status code name, when the server answered.
  """

  def __init__(self, message: str, status: int | str | None = None):
    super().__init__(message)
    self.status = status


class ServingConnectionError(ServingError):
  """No server answered at that address (refused, unknown host, unreachable)."""


class ServingTimeoutError(ServingError):
  """The server did not answer within the timeout."""


class ModelNotFoundError(ServingError):
  """The server does not serve that model (or that version of it)."""


class RequestRejectedError(ServingError):
  """The server refused the request (HTTP 4xx, gRPC INVALID_ARGUMENT, ...)."""


class ServerFailedError(ServingError):
  """The server failed while answering (HTTP 5xx, gRPC INTERNAL, ...)."""


# -- JSON encoding of tensors (REST) -------------------------------------------------------


def _json_value(value: Any) -> Any:
  """A tensor value as TF Serving's JSON: nested lists, bytes as {"b64": ...}."""
  if isinstance(value, (bytes, bytearray)):
    return {"b64": base64.b64encode(bytes(value)).decode("ascii")}
  if isinstance(value, np.ndarray):
    if value.dtype == object or value.dtype.kind == "S":
      return [_json_value(v) for v in value] if value.ndim else _json_value(value.item())
    return value.tolist()
  if isinstance(value, np.generic):
    return value.item()
  if isinstance(value, (list, tuple)):
    return [_json_value(v) for v in value]
  return value


def _num_rows(name: str, value: Any) -> int:
  if isinstance(value, (bytes, bytearray, str)) or np.ndim(value) == 0:
    raise ValueError(f"input {name!r} is a scalar; the row format ('instances') needs a "
                     "batch dimension on every input: use the columnar format ('inputs')")
  return len(value)


def encode_request(inputs: Mapping[str, Any] | Any, signature_name: str | None = None,
                   fmt: str = "columnar") -> dict[str, Any]:
  """The JSON body of a predict request.

  Args:
    inputs: Input name -> value (numpy array, nested list, scalar, bytes, or a list of
      bytes), or one unnamed value for a signature with a single input.
    signature_name: The signature; None for the server's ``serving_default``.
    fmt: "columnar" (``"inputs"``) or "row" (``"instances"``, one object per example).

  Returns:
    A dict ready for ``json.dumps``.

  Raises:
    ValueError: for an unknown format, or row format with inputs of different batch
      sizes or scalar inputs.
  """
  if fmt not in ("columnar", "row"):
    raise ValueError(f"format {fmt!r} is not one of: columnar, row")
  body: dict[str, Any] = {}
  if signature_name:
    body["signature_name"] = signature_name
  if fmt == "columnar":
    if isinstance(inputs, Mapping):
      body["inputs"] = {k: _json_value(v) for k, v in inputs.items()}
    else:
      body["inputs"] = _json_value(inputs)
    return body
  if not isinstance(inputs, Mapping):
    _num_rows("instances", inputs)
    body["instances"] = _json_value(inputs)
    return body
  sizes = {k: _num_rows(k, v) for k, v in inputs.items()}
  if len(set(sizes.values())) > 1:
    raise ValueError(f"the row format needs inputs of one batch size, got {sizes}; use the "
                     "columnar format")
  rows = next(iter(sizes.values()), 0)
  body["instances"] = [{k: _json_value(v[i]) for k, v in inputs.items()} for i in range(rows)]
  return body


def _from_json(value: Any) -> Any:
  if isinstance(value, dict) and set(value) == {"b64"}:
    return base64.b64decode(value["b64"])
  if isinstance(value, list):
    return [_from_json(v) for v in value]
  return value


def _as_array(value: Any) -> np.ndarray:
  value = _from_json(value)
  array = np.asarray(value)
  if array.dtype.kind in ("U", "S"):  # keep strings and bytes as Python objects
    array = np.asarray(value, dtype=object)
  return array


def decode_response(body: Mapping[str, Any], output_name: str = "output") -> dict[str, np.ndarray]:
  """The outputs of a predict answer, in either format, as arrays.

  Args:
    body: The parsed JSON answer.
    output_name: The name to give a single output, which TF Serving leaves unnamed.

  Returns:
    Output name -> array (``{"b64": ...}`` values decoded to bytes objects).

  Raises:
    ServingError: if the answer holds neither "predictions" nor "outputs".
  """
  if "outputs" in body:
    outputs = body["outputs"]
    if isinstance(outputs, dict) and not set(outputs) == {"b64"}:
      return {k: _as_array(v) for k, v in outputs.items()}
    return {output_name: _as_array(outputs)}
  if "predictions" in body:
    rows = body["predictions"]
    if rows and all(isinstance(r, dict) and set(r) != {"b64"} for r in rows):
      return {k: _as_array([r[k] for r in rows]) for k in rows[0]}
    return {output_name: _as_array(rows)}
  raise ServingError(f"the answer has neither 'predictions' nor 'outputs': "
                     f"{json.dumps(body)[:200]}")


# -- what tf_gans exports answer -----------------------------------------------------------

_OUTPUT_DTYPES = {"images": np.float32, "samples": np.float32, "images_uint8": np.uint8}


def _typed(outputs: dict[str, np.ndarray]) -> dict[str, Any]:
  """Outputs of a tf_gans export with their exported dtypes (JSON has only numbers)."""
  out: dict[str, Any] = {}
  for name, value in outputs.items():
    if name in _OUTPUT_DTYPES:
      out[name] = np.asarray(value, dtype=_OUTPUT_DTYPES[name])
    elif name.endswith("_bytes"):
      out[name] = [bytes(v) for v in np.asarray(value, dtype=object).reshape(-1)]
    elif name in ("model", "config_json"):
      item = np.asarray(value, dtype=object).reshape(-1)[0]
      out[name] = item.decode("utf-8") if isinstance(item, bytes) else str(item)
    else:
      out[name] = value
  return out


class _TfGansCalls:
  """The signatures of tf_gans exports, on top of a client's ``predict``."""

  def predict(self, inputs: Any, signature_name: str | None = None, **kwargs: Any
              ) -> dict[str, np.ndarray]:
    raise NotImplementedError

  def export_metadata(self) -> dict[str, Any]:
    """The served model's tf_gans metadata (model, config, signatures, step)."""
    out = _typed(self.predict({"unused": np.int32(0)}, "metadata"))
    return json.loads(out["config_json"])

  def sample(self, num_samples: int | None = None, seed: int = 0,
             labels: Sequence[int] | None = None) -> dict[str, Any]:
    """Samples drawn with noise made on the server (the "sample" signature).

    Args:
      num_samples: How many (unconditional models).
      seed: Seed of the noise; the same seed gives the same samples.
      labels: One class label per sample (conditional models; instead of num_samples).

    Returns:
      {"images": float32 [N, H, W, C] in [-1, 1], "images_uint8": uint8} or
      {"samples": float32 [N, D]} for a generator of points.
    """
    if (num_samples is None) == (labels is None):
      raise ValueError("give num_samples (unconditional models) or labels (conditional "
                       "models), not both")
    if labels is None:
      inputs = {"num_samples": np.int32(num_samples), "seed": np.int64(seed)}
    else:
      inputs = {"label": np.asarray(labels, np.int32), "seed": np.int64(seed)}
    # Scalars have no batch dimension: only the columnar format can carry them.
    return _typed(self.predict(inputs, "sample", output_name="samples"))

  def generate(self, z: Any, labels: Sequence[int] | None = None) -> dict[str, Any]:
    """Samples for the given latent vectors z [N, latent_dim] ("serving_default")."""
    inputs = {"z": np.asarray(z, np.float32)}
    if labels is not None:
      inputs["label"] = np.asarray(labels, np.int32)
    return _typed(self.predict(inputs, "serving_default", output_name="samples"))

  def translate(self, images: Any, direction: str = "a_to_b") -> dict[str, Any]:
    """Translates float32 images [N, H, W, C] in [-1, 1] at the model's size."""
    _check_direction(direction)
    return _typed(self.predict({"images": np.asarray(images, np.float32)}, direction))

  def translate_files(self, files: Sequence[bytes], direction: str = "a_to_b") -> list[bytes]:
    """Translates encoded images (JPEG, PNG, ...) of any size; returns PNG bytes."""
    _check_direction(direction)
    out = _typed(self.predict({"images_bytes": np.array(list(files), dtype=object)},
                              f"{direction}_encoded", output_name="images_bytes"))
    return out["images_bytes"]


def _check_direction(direction: str) -> None:
  if direction not in ("a_to_b", "b_to_a"):
    raise ValueError(f"direction {direction!r} is not one of: a_to_b, b_to_a")


# -- REST ----------------------------------------------------------------------------------


class RestClient(_TfGansCalls):
  """TF Serving's REST API with the standard library.

  Args:
    base_url: The server, e.g. "http://localhost:8501".
    model_name: The served model's name.
    version: A version number, or None for the latest.
    timeout: Seconds to wait for each answer.
  """

  def __init__(self, base_url: str = DEFAULT_REST_URL, model_name: str = "",
               version: int | None = None, timeout: float = 30.0):
    parsed = urllib.parse.urlparse(base_url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
      raise ValueError(f"server URL {base_url!r} is not http(s)://host:port")
    if not model_name:
      raise ValueError("model_name is required: the name the server serves the model under")
    if timeout <= 0:
      raise ValueError(f"timeout must be positive, got {timeout}")
    self.base_url, self.model_name = base_url.rstrip("/"), model_name
    self.version, self.timeout = version, float(timeout)

  @property
  def model_url(self) -> str:
    url = f"{self.base_url}/v1/models/{urllib.parse.quote(self.model_name, safe='')}"
    return url if self.version is None else f"{url}/versions/{int(self.version)}"

  def _describe_model(self) -> str:
    return repr(self.model_name) + ("" if self.version is None else f" version {self.version}")

  def _call(self, url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(url, data=data, method="GET" if data is None else "POST",
                                     headers={"Content-Type": "application/json"})
    try:
      with urllib.request.urlopen(request, timeout=self.timeout) as response:
        raw = response.read()
    except urllib.error.HTTPError as e:
      raise self._http_error(e) from None
    except urllib.error.URLError as e:
      raise self._connection_error(e.reason) from None
    except (TimeoutError, socket.timeout) as e:  # a timeout while reading the answer
      raise self._connection_error(e) from None
    except (ConnectionError, OSError) as e:
      raise self._connection_error(e) from None
    try:
      # TF Serving writes NaN and Infinity literals, which Python's json accepts.
      return json.loads(raw.decode("utf-8"))
    except ValueError:
      raise ServerFailedError(f"{url} answered with something that is not JSON: "
                              f"{raw[:200]!r}") from None

  def _connection_error(self, reason: Any) -> ServingError:
    if isinstance(reason, (TimeoutError, socket.timeout)):
      return ServingTimeoutError(f"TF Serving at {self.base_url} did not answer within "
                                 f"{self.timeout:g} s (model {self._describe_model()}); raise "
                                 "the timeout or ask for fewer samples")
    if isinstance(reason, ConnectionRefusedError):
      return ServingConnectionError(
          f"connection refused by {self.base_url}: no TF Serving listens there. Start it "
          "(e.g. docker run -p 8501:8501 ... tensorflow/serving) or fix --server")
    return ServingConnectionError(f"cannot reach TF Serving at {self.base_url}: {reason}")

  def _http_error(self, error: urllib.error.HTTPError) -> ServingError:
    """The exception for an HTTP error answer, with the server's message in one line."""
    raw = error.read() or b""
    try:
      message = json.loads(raw.decode("utf-8")).get("error", "")
    except (ValueError, AttributeError):
      message = raw.decode("utf-8", "replace")[:300]
    message = server_message(message) or error.reason or "no message"
    code = error.code
    if code == 404:
      return ModelNotFoundError(
          f"TF Serving at {self.base_url} does not serve model {self._describe_model()} "
          f"(HTTP 404: {message}); check the model name and that its folder holds a "
          "numbered version", code)
    if 400 <= code < 500:
      return RequestRejectedError(f"TF Serving rejected the request to model "
                                  f"{self._describe_model()} (HTTP {code}): {message}", code)
    return ServerFailedError(f"TF Serving failed on model {self._describe_model()} "
                             f"(HTTP {code}): {message}", code)

  def predict(self, inputs: Any, signature_name: str | None = None, *, fmt: str = "columnar",
              output_name: str = "output") -> dict[str, np.ndarray]:
    """``POST .../<model>[/versions/<v>]:predict``.

    Args:
      inputs: See :func:`encode_request`.
      signature_name: The signature; None for ``serving_default``.
      fmt: "columnar" or "row".
      output_name: Name of a single (unnamed) output in the answer.

    Returns:
      Output name -> array.
    """
    body = encode_request(inputs, signature_name, fmt)
    return decode_response(self._call(f"{self.model_url}:predict", body), output_name)

  def status(self) -> dict[str, Any]:
    """``GET /v1/models/<model>[/versions/<v>]``: the versions and their states."""
    return self._call(self.model_url)


# -- gRPC ----------------------------------------------------------------------------------


class GrpcClient(_TfGansCalls):
  """TF Serving's gRPC PredictionService (needs tensorflow-serving-api).

  Args:
    target: "host:port" of the gRPC port (8500 by default).
    model_name: The served model's name.
    version: A version number, or None for the latest.
    timeout: Seconds to wait for each answer.
  """

  def __init__(self, target: str = DEFAULT_GRPC_TARGET, model_name: str = "",
               version: int | None = None, timeout: float = 30.0):
    try:
      import grpc
      from tensorflow_serving.apis import (model_service_pb2_grpc,
                                           prediction_service_pb2_grpc)
    except ImportError:
      raise ValueError("the gRPC client needs tensorflow-serving-api: "
                       "pip install 'tf_gans[serving]'") from None
    if not model_name:
      raise ValueError("model_name is required: the name the server serves the model under")
    if timeout <= 0:
      raise ValueError(f"timeout must be positive, got {timeout}")
    self.target, self.model_name = target, model_name
    self.version, self.timeout = version, float(timeout)
    self._grpc = grpc
    self._channel = grpc.insecure_channel(target, options=[
        ("grpc.max_send_message_length", _GRPC_MESSAGE_LIMIT),
        ("grpc.max_receive_message_length", _GRPC_MESSAGE_LIMIT)])
    self._predict = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
    self._models = model_service_pb2_grpc.ModelServiceStub(self._channel)

  def close(self) -> None:
    self._channel.close()

  def __enter__(self) -> "GrpcClient":
    return self

  def __exit__(self, *exc: Any) -> None:
    self.close()

  def _model_spec(self, spec: Any, signature_name: str | None = None) -> None:
    spec.name = self.model_name
    if signature_name:
      spec.signature_name = signature_name
    if self.version is not None:
      spec.version.value = int(self.version)

  def _describe_model(self) -> str:
    return repr(self.model_name) + ("" if self.version is None else f" version {self.version}")

  def _rpc_error(self, error: Any) -> ServingError:
    code = error.code()
    status = self._grpc.StatusCode
    message = server_message(error.details() or "") or code.name
    if code == status.UNAVAILABLE:
      return ServingConnectionError(
          f"no TF Serving answers at {self.target} ({message}). Start it (e.g. docker run "
          "-p 8500:8500 ... tensorflow/serving) or fix the address", code.name)
    if code == status.DEADLINE_EXCEEDED:
      return ServingTimeoutError(f"TF Serving at {self.target} did not answer within "
                                 f"{self.timeout:g} s (model {self._describe_model()})", code.name)
    if code == status.NOT_FOUND:
      return ModelNotFoundError(f"TF Serving at {self.target} does not serve model "
                                f"{self._describe_model()} ({message})", code.name)
    if code in (status.INVALID_ARGUMENT, status.FAILED_PRECONDITION, status.OUT_OF_RANGE,
                status.UNIMPLEMENTED, status.RESOURCE_EXHAUSTED):
      return RequestRejectedError(f"TF Serving rejected the request to model "
                                  f"{self._describe_model()} ({code.name}): {message}", code.name)
    return ServerFailedError(f"TF Serving failed on model {self._describe_model()} "
                             f"({code.name}): {message}", code.name)

  def predict(self, inputs: Mapping[str, Any], signature_name: str | None = None, *,
              output_name: str = "output") -> dict[str, np.ndarray]:
    """``PredictionService.Predict``.

    Args:
      inputs: Input name -> numpy array of the signature's dtype (float32, int32,
        int64, or an object array of bytes for strings).
      signature_name: The signature; None for ``serving_default``.
      output_name: Unused (gRPC names every output); kept for a common interface.

    Returns:
      Output name -> array.
    """
    del output_name
    import tensorflow as tf  # tensorflow-serving-api depends on it anyway
    from tensorflow_serving.apis import predict_pb2
    request = predict_pb2.PredictRequest()
    self._model_spec(request.model_spec, signature_name)
    for key, value in inputs.items():
      request.inputs[key].CopyFrom(tf.make_tensor_proto(_grpc_value(value)))
    try:
      response = self._predict.Predict(request, timeout=self.timeout)
    except self._grpc.RpcError as e:
      raise self._rpc_error(e) from None
    return {k: tf.make_ndarray(v) for k, v in response.outputs.items()}

  def status(self) -> dict[str, Any]:
    """``ModelService.GetModelStatus`` as the same JSON the REST API answers."""
    from google.protobuf import json_format
    from tensorflow_serving.apis import get_model_status_pb2
    request = get_model_status_pb2.GetModelStatusRequest()
    self._model_spec(request.model_spec)
    try:
      response = self._models.GetModelStatus(request, timeout=self.timeout)
    except self._grpc.RpcError as e:
      raise self._rpc_error(e) from None
    return json_format.MessageToDict(response, preserving_proto_field_name=True)


def _grpc_value(value: Any) -> np.ndarray:
  if isinstance(value, (bytes, bytearray)):
    return np.asarray(bytes(value), dtype=object)
  array = np.asarray(value)
  if array.dtype.kind in ("U", "S"):
    array = np.asarray(value, dtype=object)
  return array


def connect(server: str, model_name: str, version: int | None = None,
            timeout: float = 30.0) -> RestClient | GrpcClient:
  """A client for `server`: ``http(s)://host:port`` (REST) or ``grpc://host:port``.

  Raises:
    ValueError: for another scheme.
  """
  if server.startswith(("http://", "https://")):
    return RestClient(server, model_name, version, timeout)
  if server.startswith("grpc://"):
    return GrpcClient(server[len("grpc://"):], model_name, version, timeout)
  raise ValueError(f"server {server!r} must start with http://, https:// (REST, port 8501) "
                   "or grpc:// (gRPC, port 8500)")


def image_grid(images: np.ndarray, columns: int | None = None) -> np.ndarray:
  """Tiles uint8 images [N, H, W, C] into one uint8 picture [rows*H, columns*W, C]."""
  images = np.asarray(images)
  if images.ndim != 4:
    raise ValueError(f"expected images [N, H, W, C], got shape {images.shape}")
  n, h, w, c = images.shape
  columns = columns or int(np.ceil(np.sqrt(max(n, 1))))
  rows = max(1, int(np.ceil(n / columns)))
  grid = np.zeros((rows * h, columns * w, c), images.dtype)
  for i in range(n):
    r, k = divmod(i, columns)
    grid[r * h:(r + 1) * h, k * w:(k + 1) * w] = images[i]
  return grid
