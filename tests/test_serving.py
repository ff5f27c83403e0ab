"""Tests of the TF Serving client (tf_gans.serving, tools/serve_client.py).

The client talks to a stand-in TF Serving on 127.0.0.1 (tests/helpers/fake_serving.py) that
answers from real exports in TF Serving's documented REST and gRPC formats. A test
against a real TF Serving runs when TF_SERVING_URL is set.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import pathlib
import socket
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tf_gans import export, serving

sys.path.insert(0, os.path.dirname(__file__))
from helpers.fake_serving import FakeGrpcServing, FakeRestServing, Models  # noqa: E402
from _tiny_gans import make_gan  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
needs_serving_api = pytest.mark.skipif(
    importlib.util.find_spec("tensorflow_serving") is None,
    reason="the gRPC client needs tensorflow-serving-api: pip install 'tf_gans[serving]'")


def to_uint8(x: np.ndarray) -> np.ndarray:
  return np.clip(np.round((np.asarray(x, np.float32) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def png(array: np.ndarray) -> bytes:
  buffer = io.BytesIO()
  Image.fromarray(array).save(buffer, format="PNG")
  return buffer.getvalue()


TEST_IMAGE = np.arange(16 * 16 * 3, dtype=np.uint8).reshape(16, 16, 3)


def closed_port() -> int:
  """A port on 127.0.0.1 nothing listens on."""
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
  """Exports of a tiny WGAN (two versions), conditional GAN and CycleGAN."""
  base = tmp_path_factory.mktemp("served")
  gan, config = make_gan("wgan", "float32")
  v1 = export.export_gan(gan, config, str(base), model_name="wgan_digits", warmup=False)
  want_v1 = gan.generate(4, seed=3).numpy()
  # Version 2 differs from version 1, so routing by version is visible in the answers.
  bias = gan.generator.to_image.bias
  bias.assign(bias + 0.25)
  v2 = export.export_gan(gan, config, str(base), model_name="wgan_digits", warmup=False)
  cgan, cgan_config = make_gan("cgan")
  cgan_export = export.export_gan(cgan, cgan_config, str(base), model_name="cgan", warmup=False)
  translator, t_config = make_gan("cyclegan")
  t_export = export.export_gan(translator, t_config, str(base), model_name="translator",
                               warmup=False)
  keras.mixed_precision.set_dtype_policy("float32")
  # What the translator's encoded-image signature answers when called directly: the
  # client must hand back exactly these bytes.
  loaded = tf.saved_model.load(t_export.path)
  want_png = loaded.signatures["a_to_b_encoded"](
      images_bytes=tf.constant([png(TEST_IMAGE)]))["images_bytes"][0].numpy()
  models = Models({"wgan_digits": {1: v1.path, 2: v2.path}, "cgan": {1: cgan_export.path},
                   "translator": {1: t_export.path}})
  return {"gan": gan, "want_v1": want_v1, "cgan": cgan, "translator": translator,
          "want_png": want_png, "models": models}


@pytest.fixture(scope="module")
def rest(served):
  with FakeRestServing(served["models"]) as server:
    yield server


@pytest.fixture(scope="module")
def grpc_server(served):
  with FakeGrpcServing(served["models"]) as server:
    yield server


# -- request and answer formats ------------------------------------------------------------

# The Predict API page's example, a request with two instances of three named inputs
# (https://www.tensorflow.org/tfx/serving/api_rest, "Specifying input tensors in row
# format" and its columnar counterpart).
DOC_INPUTS = {"tag": ["foo", "bar"], "signal": np.array([[1, 2, 3, 4, 5], [3, 4, 1, 2, 5]]),
              "sensor": np.array([[[1, 2], [3, 4]], [[4, 5], [6, 8]]])}
DOC_ROW = {"instances": [{"tag": "foo", "signal": [1, 2, 3, 4, 5], "sensor": [[1, 2], [3, 4]]},
                         {"tag": "bar", "signal": [3, 4, 1, 2, 5], "sensor": [[4, 5], [6, 8]]}]}
DOC_COLUMNAR = {"inputs": {"tag": ["foo", "bar"], "signal": [[1, 2, 3, 4, 5], [3, 4, 1, 2, 5]],
                           "sensor": [[[1, 2], [3, 4]], [[4, 5], [6, 8]]]}}


def test_request_bodies_are_the_documented_json(rest):
  assert serving.encode_request(DOC_INPUTS, fmt="row") == DOC_ROW
  assert serving.encode_request(DOC_INPUTS) == DOC_COLUMNAR
  # One unnamed input: the value itself (the half_plus_three example).
  assert serving.encode_request(np.array([1.0, 2.0, 5.0]), fmt="row") == {
      "instances": [1.0, 2.0, 5.0]}
  # Binary values, as in the "Encoding binary values" example.
  assert serving.encode_request({"image": [b"image bytes", b"awesome image bytes"]},
                                "classify_objects", fmt="row") == {
      "signature_name": "classify_objects",
      "instances": [{"image": {"b64": "aW1hZ2UgYnl0ZXM="}},
                    {"image": {"b64": "YXdlc29tZSBpbWFnZSBieXRlcw=="}}]}
  # What goes over the wire is exactly that body, to the documented URL.
  client = serving.RestClient(rest.url, "half_plus_three", version=123)
  with pytest.raises(serving.ModelNotFoundError):
    client.predict(DOC_INPUTS, fmt="row")
  assert rest.requests[-1] == ("POST", "/v1/models/half_plus_three/versions/123:predict", DOC_ROW)
  with pytest.raises(serving.ModelNotFoundError):
    serving.RestClient(rest.url, "half_plus_three").predict(DOC_INPUTS)
  assert rest.requests[-1] == ("POST", "/v1/models/half_plus_three:predict", DOC_COLUMNAR)


def test_row_format_refuses_inputs_without_one_batch_size():
  with pytest.raises(ValueError, match="one batch size"):
    serving.encode_request({"a": [1, 2], "b": [1]}, fmt="row")
  with pytest.raises(ValueError, match="columnar"):
    serving.encode_request({"num_samples": 4, "seed": 0}, "sample", fmt="row")
  with pytest.raises(ValueError, match="format 'rows' is not one of"):
    serving.encode_request({"a": [1]}, fmt="rows")


def test_answers_in_the_documented_formats_are_parsed():
  # One unnamed output, row format (the half_plus_three example's answer).
  out = serving.decode_response({"predictions": [3.5, 4.0, 5.5]}, output_name="y")
  np.testing.assert_array_equal(out["y"], [3.5, 4.0, 5.5])
  # Several named outputs: a list of objects (row) or an object (columnar).
  rows = serving.decode_response({"predictions": [{"a": 1, "b": [1.5, 2.0]},
                                                  {"a": 2, "b": [3.0, 4.0]}]})
  cols = serving.decode_response({"outputs": {"a": [1, 2], "b": [[1.5, 2.0], [3.0, 4.0]]}})
  for out in (rows, cols):
    np.testing.assert_array_equal(out["a"], [1, 2])
    np.testing.assert_array_equal(out["b"], [[1.5, 2.0], [3.0, 4.0]])
  # Outputs named *_bytes come base64-encoded.
  out = serving.decode_response({"outputs": [{"b64": "aW1hZ2UgYnl0ZXM="}]}, "images_bytes")
  assert list(out["images_bytes"]) == [b"image bytes"]
  # TF Serving writes NaN and Infinity literals.
  out = serving.decode_response(json.loads('{"outputs": [NaN, Infinity, -Infinity]}'))
  assert np.isnan(out["output"][0]) and list(out["output"][1:]) == [np.inf, -np.inf]
  with pytest.raises(serving.ServingError, match="neither 'predictions' nor 'outputs'"):
    serving.decode_response({"result": [1]})


# -- REST against the fake server ------------------------------------------------------


def test_rest_sample_and_generate_match_the_generator(served, rest):
  client = serving.RestClient(rest.url, "wgan_digits", version=1)
  out = client.sample(4, seed=3)
  assert rest.requests[-1][2] == {"signature_name": "sample",
                                  "inputs": {"num_samples": 4, "seed": 3}}
  assert out["images"].dtype == np.float32 and out["images"].shape == (4, 8, 8, 1)
  np.testing.assert_allclose(out["images"], served["want_v1"], atol=1e-6)
  np.testing.assert_array_equal(out["images_uint8"], to_uint8(out["images"]))
  # The latest version (2) answers when no version is named.
  latest = serving.RestClient(rest.url, "wgan_digits").sample(4, seed=3)
  np.testing.assert_allclose(latest["images"], served["gan"].generate(4, seed=3).numpy(),
                             atol=1e-6)
  assert np.abs(latest["images"] - out["images"]).max() > 0.01
  # serving_default with the client's own noise, in both formats.
  z = np.random.default_rng(0).normal(size=(3, 8)).astype(np.float32)
  want = served["gan"].generator(z, training=False).numpy()
  latest_client = serving.RestClient(rest.url, "wgan_digits")
  np.testing.assert_allclose(latest_client.generate(z)["images"], want, atol=1e-6)
  row = latest_client.predict({"z": z}, fmt="row")
  np.testing.assert_allclose(row["images"], want, atol=1e-6)
  assert rest.requests[-1][2] == {"instances": [{"z": list(map(float, r))} for r in z]}


def test_rest_conditional_sample_and_status(served, rest):
  client = serving.RestClient(rest.url, "cgan")
  out = client.sample(labels=[2, 0], seed=5)
  gan = served["cgan"]
  noise = tf.random.stateless_normal([2, gan.latent_dim], [5, 0])
  np.testing.assert_allclose(out["images"], gan.generator(noise, np.array([2, 0], np.int32)),
                             atol=1e-6)
  n = gan.num_classes
  with pytest.raises(serving.RequestRejectedError, match=rf"label must be in \[0, {n}\)"):
    client.sample(labels=[n], seed=0)
  status = serving.RestClient(rest.url, "wgan_digits").status()
  assert [s["version"] for s in status["model_version_status"]] == ["1", "2"]
  assert rest.requests[-1][:2] == ("GET", "/v1/models/wgan_digits")


def test_rest_translates_encoded_images_as_base64(served, rest):
  client = serving.RestClient(rest.url, "translator")
  (back,) = client.translate_files([png(TEST_IMAGE)], "a_to_b")
  body = rest.requests[-1][2]
  assert body["signature_name"] == "a_to_b_encoded"
  assert list(body["inputs"]) == ["images_bytes"] and set(body["inputs"]["images_bytes"][0]) == {"b64"}
  assert back == served["want_png"]
  assert np.asarray(Image.open(io.BytesIO(back))).shape == TEST_IMAGE.shape


def test_rest_metadata_says_what_is_served(rest):
  meta = serving.RestClient(rest.url, "wgan_digits", version=1).export_metadata()
  assert meta["model"] == "wgan" and meta["version"] == 1
  assert meta["config"]["latent_dim"] == 8
  assert rest.requests[-1][2] == {"signature_name": "metadata", "inputs": {"unused": 0}}


def test_rest_errors_are_clear(rest):
  with pytest.raises(serving.ModelNotFoundError, match="does not serve model 'nope'.*Latest"):
    serving.RestClient(rest.url, "nope").sample(2)
  with pytest.raises(serving.ModelNotFoundError, match="version 9.*Specific"):
    serving.RestClient(rest.url, "wgan_digits", version=9).sample(2)
  with pytest.raises(serving.ServerFailedError, match="HTTP 500.*the model crashed") as e:
    serving.RestClient(rest.url, "broken").sample(2)
  assert e.value.status == 500
  with pytest.raises(serving.RequestRejectedError, match="HTTP 400.*not found in signature def"):
    serving.RestClient(rest.url, "wgan_digits").predict({"z": [[0.0] * 8]}, "decode")
  with pytest.raises(serving.ServingTimeoutError, match="did not answer within 0.3 s"):
    serving.RestClient(rest.url, "slow", timeout=0.3).sample(2)
  port = closed_port()
  with pytest.raises(serving.ServingConnectionError, match="connection refused by "
                     f"http://127.0.0.1:{port}: no TF Serving listens there"):
    serving.RestClient(f"http://127.0.0.1:{port}", "wgan_digits", timeout=5).sample(2)
  with pytest.raises(ValueError, match="not http"):
    serving.RestClient("localhost:8501", "wgan_digits")
  with pytest.raises(ValueError, match="must start with http"):
    serving.connect("tcp://localhost:8500", "wgan_digits")


# -- gRPC against the fake server ------------------------------------------------------


@needs_serving_api
def test_grpc_sample_translate_and_status(served, grpc_server):
  with serving.GrpcClient(grpc_server.target, "wgan_digits", version=1) as client:
    out = client.sample(4, seed=3)
    np.testing.assert_allclose(out["images"], served["want_v1"], atol=1e-6)
    assert out["images_uint8"].dtype == np.uint8
    meta = client.export_metadata()
    assert meta["model"] == "wgan" and meta["version"] == 1
  with serving.connect(f"grpc://{grpc_server.target}", "translator") as client:
    (back,) = client.translate_files([png(TEST_IMAGE)], "a_to_b")
    assert back == served["want_png"]
    x = np.random.default_rng(1).uniform(-1, 1, (2, 16, 16, 3)).astype(np.float32)
    want = served["translator"].generator_ab(x, training=False).numpy()
    np.testing.assert_allclose(client.translate(x, "a_to_b")["images"], want, atol=1e-5)
  with serving.GrpcClient(grpc_server.target, "wgan_digits") as client:
    status = client.status()
  assert [s["version"] for s in status["model_version_status"]] == ["1", "2"]


@needs_serving_api
def test_grpc_errors_are_clear(grpc_server):
  with pytest.raises(serving.ModelNotFoundError, match="does not serve model 'nope'"):
    serving.GrpcClient(grpc_server.target, "nope").sample(2)
  with pytest.raises(serving.RequestRejectedError, match="INVALID_ARGUMENT.*float64"):
    serving.GrpcClient(grpc_server.target, "wgan_digits").predict({"z": np.zeros((1, 8))})
  with pytest.raises(serving.ServerFailedError, match="INTERNAL.*crashed"):
    serving.GrpcClient(grpc_server.target, "broken").sample(2)
  with pytest.raises(serving.ServingTimeoutError, match="within 0.3 s"):
    serving.GrpcClient(grpc_server.target, "slow", timeout=0.3).sample(2)
  with pytest.raises(serving.ServingConnectionError, match="no TF Serving answers at"):
    serving.GrpcClient(f"127.0.0.1:{closed_port()}", "wgan_digits", timeout=5).sample(2)


# -- tools/serve_client.py -----------------------------------------------------------------


def test_serve_client_tool_writes_samples_and_reports_errors(served, rest, tmp_path):
  tool = str(REPO / "tools" / "serve_client.py")
  out = subprocess.run([sys.executable, tool, f"--server={rest.url}", "--model_name=wgan_digits",
                        "--version=1", "--num_samples=4", "--seed=3",
                        f"--output={tmp_path / 's.png'}"],
                       capture_output=True, text=True, timeout=120)
  assert out.returncode == 0, out.stderr
  assert "images: shape [4, 8, 8, 1]" in out.stdout
  picture = np.asarray(Image.open(tmp_path / "s.png"))
  np.testing.assert_array_equal(picture, serving.image_grid(to_uint8(served["want_v1"]))[..., 0])
  out = subprocess.run([sys.executable, tool, f"--server=http://127.0.0.1:{closed_port()}",
                        "--model_name=wgan_digits"], capture_output=True, text=True, timeout=120)
  assert out.returncode == 2
  assert out.stderr.strip().startswith("error: connection refused by http://127.0.0.1:")
  assert len(out.stderr.strip().splitlines()) == 1


# -- a real TF Serving ---------------------------------------------------------------------


@pytest.mark.skipif(not os.environ.get("TF_SERVING_URL"),
                    reason="no real TF Serving: set TF_SERVING_URL=http://host:8501 (and "
                           "TF_SERVING_MODEL, default 'wgan') to test against one")
def test_live_tf_serving():
  client = serving.RestClient(os.environ["TF_SERVING_URL"],
                              os.environ.get("TF_SERVING_MODEL", "wgan"))
  status = client.status()
  assert any(s["state"] == "AVAILABLE" for s in status["model_version_status"])
  meta = client.export_metadata()
  assert meta["format_version"] == export.EXPORT_FORMAT_VERSION
  if meta["model"] == "wgan":
    first, again = client.sample(3, seed=1), client.sample(3, seed=1)
    key = "images" if "images" in first else "samples"
    assert first[key].shape[0] == 3
    np.testing.assert_array_equal(first[key], again[key])  # same seed, same samples
    if key == "images":
      assert -1.0 <= first[key].min() and first[key].max() <= 1.0
  elif meta["model"] == "cgan":
    assert client.sample(labels=[0, 1], seed=1)["images"].shape[0] == 2
  else:
    h, w, c = meta["info"]["image_shape"]
    (back,) = client.translate_files([png(np.zeros((h + 3, w + 5, 3), np.uint8))])
    assert np.asarray(Image.open(io.BytesIO(back))).shape[:2] == (h + 3, w + 5)


def test_serve_client_prints_the_servers_refusal_in_one_line(served, rest):
  tool = str(REPO / "tools" / "serve_client.py")
  out = subprocess.run([sys.executable, tool, f"--server={rest.url}", "--model_name=cgan",
                        "--labels=0,99"], capture_output=True, text=True, timeout=120)
  assert out.returncode == 2, out.stderr
  lines = out.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith("error: TF Serving rejected the request")
  assert "label must be in [0, 10); got values from 0 to 99" in lines[0]
  assert "{{node" not in lines[0]
