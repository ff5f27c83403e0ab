"""Hostile requests to every signature of every registered model family's export.

The exports are made from the registry (a new model family is covered by adding its tiny
config to tests/_tiny_gans.py, which the first test demands); the requests are made by
tests/helpers/hostile_requests.py from each signature's own inputs, in a process that
does not import tf_gans and calls the signatures as TF Serving does, without shape
checks on the way in.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT
from tf_gans import export
from tf_gans.models import registry

sys.path.insert(0, os.path.dirname(__file__))
from _tiny_gans import TINY_CONFIGS, make_gan  # noqa: E402


def test_every_registered_model_has_a_tiny_config_and_an_exporter():
  assert sorted(TINY_CONFIGS) == registry.names()
  assert set(registry.names()) <= set(export.exporter_names())


@pytest.fixture(scope="module")
def answers(tmp_path_factory):
  base = tmp_path_factory.mktemp("exports")
  paths = {}
  for model in registry.names():
    gan, config = make_gan(model)
    paths[model] = export.export_gan(gan, config, str(base), model_name=model,
                                     warmup=False).path
  env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
  env["TF_CPP_MIN_LOG_LEVEL"] = "2"
  proc = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "helpers",
                                                      "hostile_requests.py"), *paths.values()],
                        cwd=str(base), env=env, capture_output=True, text=True, timeout=900)
  assert proc.returncode == 0, proc.stderr[-3000:]  # no crash, whatever was sent
  report = json.loads(proc.stdout.strip().splitlines()[-1])
  return {model: {**report[path], "tf_gans_modules": report["tf_gans_modules"]}
          for model, path in paths.items()}


@pytest.mark.parametrize("model", registry.names())
def test_a_hostile_request_gets_a_correct_answer_or_one_clear_invalid_argument(answers, model):
  result = answers[model]
  assert result["tf_gans_modules"] == []
  cases = result["cases"]
  assert len(cases) >= 10
  for case in cases:
    what = f"{case['signature']} / {case['input']} / {case['case']}: {case['outcome']} " \
           f"{case['message']}"
    if case["expect_ok"]:
      assert case["outcome"] == "ok", what
      continue
    assert case["outcome"] == "InvalidArgumentError", what
    if case["case"] == "wrong dtype":
      # Refused by the runtime against the signature before the graph runs (TF Serving
      # checks dtypes itself).
      assert "expected to be a" in case["message"], what
    else:
      assert case["message"].startswith("assertion failed: [") and case["input"] in \
          case["message"], what


@pytest.mark.parametrize("model", registry.names())
def test_what_is_answered_is_what_was_asked(answers, model):
  for case in answers[model]["cases"]:
    if case["outcome"] != "ok":
      continue
    shapes = case["shapes"]
    if case["case"] in ("empty batch", "zero"):
      assert all(shape[0] == 0 for key, shape in shapes.items() if key != "decoded"), case
    if "decoded" in shapes:
      # Encoded outputs have the size of their input: a 1x1 image stays 1x1, an animated
      # GIF its first frame's size, a WebP of another size its own.
      assert [shape[:2] for shape in shapes["decoded"]] == case["sent_image_sizes"], case


def test_the_limits_are_set_at_export_and_recorded(tmp_path):
  gan, config = make_gan("cgan")
  limits = export.RequestLimits(max_batch=3, max_image_pixels=100, max_request_pixels=200)
  result = export.export_gan(gan, config, str(tmp_path), model_name="m", warmup=False,
                             limits=limits)
  assert result.metadata["info"]["request_limits"] == {
      "max_batch": 3, "max_image_pixels": 100, "max_request_pixels": 200}
  import tensorflow as tf
  loaded = tf.saved_model.load(result.path)
  out = loaded.signatures["sample"](label=tf.constant([1, 2, 3]), seed=tf.constant(0, tf.int64))
  assert out["images"].shape[0] == 3
  with pytest.raises(tf.errors.InvalidArgumentError, match=r"label: 4 items; from 0 to 3"):
    loaded.signatures["sample"](label=tf.constant([1, 2, 3, 4]), seed=tf.constant(0, tf.int64))
  with pytest.raises(ValueError, match="max_batch must be an integer >= 0"):
    export.RequestLimits(max_batch=-1)
