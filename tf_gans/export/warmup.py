"""Warm-up requests: TF Serving replays them when it loads a version, so the first real
request does not pay for TensorFlow's lazy initialisation."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import tensorflow as tf
from absl import logging

WARMUP_ASSET = "tf_serving_warmup_requests"
# TF Serving reads at most 1000 warm-up records.
_MAX_WARMUP_RECORDS = 1000


def warmup_modules(warmup: bool | None) -> Any:
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
  model_pb2, predict_pb2, prediction_log_pb2 = warmup_modules(True)
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
