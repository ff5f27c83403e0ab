"""The stand-in TF Serving (tests/helpers/fake_serving.py) held to TF Serving's documented REST
rules (https://www.tensorflow.org/tfx/serving/api_rest), one test per rule, on a tiny
SavedModel with one-output, two-output and bytes signatures.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import urllib.error
import urllib.request

import pytest
import tensorflow as tf

sys.path.insert(0, os.path.dirname(__file__))
from helpers.fake_serving import FakeRestServing, Models  # noqa: E402


class _Tiny(tf.Module):
  @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="x")])
  def double(self, x):
    return {"y": 2.0 * x}

  @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="x")])
  def two(self, x):
    return {"y": 2.0 * x, "z": tf.reduce_sum(x, axis=1)}

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="data")])
  def echo(self, data):
    return {"echo_bytes": data, "length": tf.strings.length(data)}


@pytest.fixture(scope="module")
def rest(tmp_path_factory):
  module = _Tiny()
  paths = {}
  for version in (1, 2):
    path = str(tmp_path_factory.mktemp(f"v{version}"))
    tf.saved_model.save(module, path, signatures={
        "serving_default": module.double, "two": module.two, "echo": module.echo})
    paths[version] = path
  with FakeRestServing(Models({"tiny": paths})) as server:
    yield server.url


def _call(url: str, body: dict | None = None) -> tuple[int, dict]:
  data = None if body is None else json.dumps(body).encode()
  try:
    with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=30) as r:
      return r.status, json.loads(r.read())
  except urllib.error.HTTPError as e:
    return e.code, json.loads(e.read())


def test_row_format_with_one_output_omits_its_name(rest):
  status, answer = _call(f"{rest}/v1/models/tiny:predict", {"instances": [[1, 2], [3, 4]]})
  assert status == 200
  assert answer == {"predictions": [[2.0, 4.0], [6.0, 8.0]]}


def test_row_format_with_several_outputs_is_a_list_of_objects(rest):
  status, answer = _call(f"{rest}/v1/models/tiny:predict",
                         {"signature_name": "two", "instances": [{"x": [1, 2]}, {"x": [3, 4]}]})
  assert status == 200
  assert answer == {"predictions": [{"y": [2.0, 4.0], "z": 3.0}, {"y": [6.0, 8.0], "z": 7.0}]}


def test_columnar_format_answers_outputs_named_or_not(rest):
  assert _call(f"{rest}/v1/models/tiny:predict", {"inputs": [[1, 2]]}) == (
      200, {"outputs": [[2.0, 4.0]]})
  assert _call(f"{rest}/v1/models/tiny:predict",
               {"signature_name": "two", "inputs": {"x": [[1, 2]]}}) == (
      200, {"outputs": {"y": [[2.0, 4.0]], "z": [3.0]}})


def test_binary_values_travel_as_b64_objects_and_bytes_outputs_come_back_so(rest):
  raw = b"\x89PNG\x00\xff"
  status, answer = _call(f"{rest}/v1/models/tiny:predict", {
      "signature_name": "echo",
      "instances": [{"data": {"b64": base64.b64encode(raw).decode()}}]})
  assert status == 200
  (prediction,) = answer["predictions"]
  assert base64.b64decode(prediction["echo_bytes"]["b64"]) == raw
  assert prediction["length"] == len(raw)


def test_errors_are_one_json_object_with_an_error_key(rest):
  for url, body, code in [
      (f"{rest}/v1/models/absent:predict", {"instances": [[1, 2]]}, 404),
      (f"{rest}/v1/models/tiny/versions/9:predict", {"instances": [[1, 2]]}, 404),
      (f"{rest}/v1/models/tiny:predict", {"signature_name": "nope", "instances": [[1, 2]]}, 400),
      (f"{rest}/v1/models/tiny:predict", {"instances": [[1, 2]], "inputs": [[1, 2]]}, 400),
      (f"{rest}/v1/models/tiny:predict", {"instances": [["a", "b"]]}, 400),
      (f"{rest}/v1/models/tiny:predict", {"signature_name": "echo",
                                          "instances": [{"data": {"b64": "!"}}]}, 400)]:
    status, answer = _call(url, body)
    assert status == code, (url, body, answer)
    assert set(answer) == {"error"} and isinstance(answer["error"], str) and answer["error"]


def test_model_status_lists_every_version_unless_one_is_named(rest):
  def versions(answer):
    return [(s["version"], s["state"], s["status"]["error_code"])
            for s in answer["model_version_status"]]
  status, answer = _call(f"{rest}/v1/models/tiny")
  assert status == 200 and versions(answer) == [("1", "AVAILABLE", "OK"), ("2", "AVAILABLE", "OK")]
  status, answer = _call(f"{rest}/v1/models/tiny/versions/1")
  assert status == 200 and versions(answer) == [("1", "AVAILABLE", "OK")]


def test_a_named_version_answers_and_the_latest_answers_by_default(rest):
  for path in ("/v1/models/tiny/versions/1:predict", "/v1/models/tiny/versions/2:predict",
               "/v1/models/tiny:predict"):
    assert _call(rest + path, {"instances": [[1, 1]]}) == (200, {"predictions": [[2.0, 2.0]]})
