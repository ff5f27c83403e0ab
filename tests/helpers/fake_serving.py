"""Test infrastructure, not part of tf_gans: a stand-in TF Serving on 127.0.0.1 for the
client tests (tests/test_serving.py), REST and gRPC, so that those tests run where the
tensorflow_model_server binary is not installed (test_live_tf_serving uses the real one
when it is).

It answers from real SavedModels loaded in the test process and speaks TF Serving's
documented formats (https://www.tensorflow.org/tfx/serving/api_rest): row ("instances"
-> "predictions") and columnar ("inputs" -> "outputs") JSON, single outputs unnamed,
``{"b64": ...}`` for binary inputs and for outputs named ``*_bytes``, errors as
``{"error": ...}`` with 400 / 404 / 500; over gRPC, PredictionService.Predict and
ModelService.GetModelStatus with NOT_FOUND / INVALID_ARGUMENT status codes.

Model names with a special behaviour: "broken" answers 500 (REST) or INTERNAL (gRPC);
"slow" sleeps 2 s before answering (for timeouts).

tests/test_fake_serving.py holds it to the REST page's documented rules, one test per rule,
so that a client test passing here means the client speaks what the real server documents.
"""

from __future__ import annotations

import base64
import binascii
import http.server
import json
import re
import threading
import time
from concurrent import futures
from typing import Any

import numpy as np
import tensorflow as tf

_PREDICT = re.compile(r"^/v1/models/([^/:]+)(?:/versions/(\d+))?:predict$")
_STATUS = re.compile(r"^/v1/models/([^/:]+)(?:/versions/(\d+))?$")


class _Error(Exception):
  def __init__(self, status: int, message: str):
    super().__init__(message)
    self.status = status


class Models:
  """name -> {version: loaded SavedModel}; the latest version answers by default."""

  def __init__(self, models: dict[str, dict[int, str]]):
    self.loaded = {name: {v: tf.saved_model.load(path) for v, path in versions.items()}
                   for name, versions in models.items()}

  def find(self, name: str, version: int | None) -> Any:
    if name not in self.loaded:
      raise _Error(404, f"Servable not found for request: Latest({name})")
    versions = self.loaded[name]
    if version is None:
      return versions[max(versions)]
    if version not in versions:
      raise _Error(404, f"Servable not found for request: Specific({name}, {version})")
    return versions[version]

  @staticmethod
  def signature(model: Any, name: str | None) -> Any:
    name = name or "serving_default"
    if name not in model.signatures:
      raise _Error(400, f'Serving signature name: "{name}" not found in signature def')
    return model.signatures[name]


def _message(error: Exception) -> str:
  """The op's own message, as TF Serving reports it (Python adds a preamble)."""
  text = " ".join(str(error).split())
  return text.split("Graph execution error: ", 1)[-1][:2000]


def _decode(value: Any) -> Any:
  if isinstance(value, dict) and set(value) == {"b64"}:
    return base64.b64decode(value["b64"], validate=True)
  if isinstance(value, list):
    return [_decode(v) for v in value]
  return value


def _tensor(value: Any, spec: tf.TensorSpec) -> tf.Tensor:
  value = _decode(value)
  if spec.dtype == tf.string:
    return tf.constant(np.asarray(value, dtype=object), tf.string)
  return tf.constant(np.asarray(value, dtype=spec.dtype.as_numpy_dtype))


def _json(name: str, value: np.ndarray) -> Any:
  if value.dtype == object:
    if name.endswith("_bytes"):
      encode = lambda b: {"b64": base64.b64encode(b).decode("ascii")}
    else:
      encode = lambda b: b.decode("utf-8")
    return np.vectorize(encode, otypes=[object])(value).tolist() if value.ndim else encode(value.item())
  return value.tolist()


def rest_predict(models: Models, name: str, version: int | None, body: dict) -> dict:
  """What TF Serving answers to a predict body (raises _Error like its HTTP errors)."""
  model = models.find(name, version)
  signature = models.signature(model, body.get("signature_name"))
  specs = signature.structured_input_signature[1]
  if ("instances" in body) == ("inputs" in body):
    raise _Error(400, "JSON Value: ... Missing 'instances' or 'inputs' key, or both given")
  row = "instances" in body
  if row:
    instances = body["instances"]
    if all(isinstance(i, dict) and set(i) != {"b64"} for i in instances):
      raw = {k: [i[k] for i in instances] for k in specs}
    elif len(specs) == 1:
      raw = {next(iter(specs)): instances}
    else:
      raise _Error(400, "instances must be objects when the signature has several inputs")
  else:
    inputs = body["inputs"]
    raw = inputs if isinstance(inputs, dict) and set(inputs) != {"b64"} else \
        {next(iter(specs)): inputs}
  missing = set(specs) - set(raw)
  if missing:
    raise _Error(400, f"Missing input: {sorted(missing)}")
  try:  # a value of the wrong type is the request's fault (400), as is a failing op
    outputs = signature(**{k: _tensor(raw[k], specs[k]) for k in specs})
  except (tf.errors.InvalidArgumentError, ValueError, TypeError, binascii.Error) as e:
    raise _Error(400, _message(e)) from None
  outputs = {k: np.asarray(v.numpy(), dtype=object if v.dtype == tf.string else None)
             for k, v in outputs.items()}
  if not row:
    if len(outputs) == 1:
      (key, value), = outputs.items()
      return {"outputs": _json(key, value)}
    return {"outputs": {k: _json(k, v) for k, v in outputs.items()}}
  batch = {v.shape[0] if v.ndim else None for v in outputs.values()}
  if len(batch) != 1 or None in batch:
    raise _Error(400, "Tensor outputs do not share one batch size: use the columnar format")
  if len(outputs) == 1:
    (key, value), = outputs.items()
    return {"predictions": _json(key, value)}
  n = batch.pop()
  return {"predictions": [{k: _json(k, np.asarray(v[i], dtype=v.dtype)) for k, v in outputs.items()}
                          for i in range(n)]}


class FakeRestServing:
  """TF Serving's REST API on 127.0.0.1 (a free port) in a thread."""

  def __init__(self, models: Models):
    self.models = models
    self.requests: list[tuple[str, str, Any]] = []  # (method, path, parsed JSON body)
    owner = self

    class Handler(http.server.BaseHTTPRequestHandler):
      def log_message(self, *args):  # keep the test output clean
        pass

      def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

      def do_GET(self):
        owner.requests.append(("GET", self.path, None))
        match = _STATUS.match(self.path)
        try:
          if not match:
            raise _Error(404, f"Malformed request: GET {self.path}")
          name, version = match.group(1), match.group(2)
          version = int(version) if version else None
          owner.models.find(name, version)
          versions = [version] if version else sorted(owner.models.loaded[name])
          self._answer(200, {"model_version_status": [
              {"version": str(v), "state": "AVAILABLE",
               "status": {"error_code": "OK", "error_message": ""}} for v in versions]})
        except _Error as e:
          self._answer(e.status, {"error": str(e)})

      def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        raw = self.rfile.read(length)
        try:
          body = json.loads(raw)
        except ValueError:
          owner.requests.append(("POST", self.path, raw))
          self._answer(400, {"error": "JSON Parse error: Invalid value"})
          return
        owner.requests.append(("POST", self.path, body))
        match = _PREDICT.match(self.path)
        if not match:
          self._answer(404, {"error": f"Malformed request: POST {self.path}"})
          return
        name, version = match.group(1), match.group(2)
        if name == "broken":
          self._answer(500, {"error": "Internal: the model crashed"})
          return
        if name == "slow":
          time.sleep(2.0)
          name = next(iter(owner.models.loaded))
        try:
          self._answer(200, rest_predict(owner.models, name, int(version) if version else None,
                                         body))
        except _Error as e:
          self._answer(e.status, {"error": str(e)})

    self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    self.server.daemon_threads = True
    self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
    self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

  def __enter__(self) -> "FakeRestServing":
    self.thread.start()
    return self

  def __exit__(self, *exc: Any) -> None:
    self.server.shutdown()
    self.server.server_close()


class FakeGrpcServing:
  """TF Serving's gRPC PredictionService and ModelService on 127.0.0.1."""

  def __init__(self, models: Models):
    import grpc
    from tensorflow_serving.apis import (get_model_status_pb2, model_service_pb2_grpc,
                                         predict_pb2, prediction_service_pb2_grpc)
    self.models = models

    def lookup(spec, context):
      version = spec.version.value if spec.HasField("version") else None
      try:
        return models.find(spec.name, version)
      except _Error as e:
        context.abort(grpc.StatusCode.NOT_FOUND, str(e))

    class Prediction(prediction_service_pb2_grpc.PredictionServiceServicer):
      def Predict(self, request, context):  # noqa: N802 (gRPC's name)
        name = request.model_spec.name
        if name == "broken":
          context.abort(grpc.StatusCode.INTERNAL, "the model crashed")
        if name == "slow":
          time.sleep(2.0)
          context.abort(grpc.StatusCode.INTERNAL, "too late")
        model = lookup(request.model_spec, context)
        try:
          signature = Models.signature(model, request.model_spec.signature_name)
        except _Error as e:
          context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
        specs = signature.structured_input_signature[1]
        inputs = {}
        for key, spec in specs.items():
          if key not in request.inputs:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"Missing input: {key}")
          value = tf.make_ndarray(request.inputs[key])
          if tf.as_dtype(request.inputs[key].dtype) != spec.dtype:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          f"Expects arg[{key}] to be {spec.dtype.name} but "
                          f"{tf.as_dtype(request.inputs[key].dtype).name} is provided")
          inputs[key] = tf.constant(value, spec.dtype)
        try:
          outputs = signature(**inputs)
        except tf.errors.InvalidArgumentError as e:
          context.abort(grpc.StatusCode.INVALID_ARGUMENT, _message(e))
        response = predict_pb2.PredictResponse()
        response.model_spec.CopyFrom(request.model_spec)
        for key, value in outputs.items():
          response.outputs[key].CopyFrom(tf.make_tensor_proto(value.numpy()))
        return response

    class Status(model_service_pb2_grpc.ModelServiceServicer):
      def GetModelStatus(self, request, context):  # noqa: N802
        lookup(request.model_spec, context)
        versions = sorted(models.loaded[request.model_spec.name])
        response = get_model_status_pb2.GetModelStatusResponse()
        for v in versions:
          status = response.model_version_status.add(version=v)
          status.state = get_model_status_pb2.ModelVersionStatus.AVAILABLE
        return response

    self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(Prediction(), self.server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(Status(), self.server)
    port = self.server.add_insecure_port("127.0.0.1:0")
    self.target = f"127.0.0.1:{port}"

  def __enter__(self) -> "FakeGrpcServing":
    self.server.start()
    return self

  def __exit__(self, *exc: Any) -> None:
    self.server.stop(grace=None)
