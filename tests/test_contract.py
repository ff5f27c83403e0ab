"""One contract every registered model passes, whatever its family.

Built from its tiny config (tests/_tiny_gans.py), each model trains two steps through
the custom loop, checkpoints, resumes under ``Model.fit`` for two more, is rebuilt from
its model_dir for inference, draws its picture, is measured by its family's evaluation,
saves and loads as a ``.keras`` file, and is exported and answered by a fresh process
that does not import tf_gans. A new model gets all of this by registering itself and
adding a tiny config; a registered model without one fails here.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from conftest import ROOT
from tf_gans import export, training, visualize
from tf_gans.models import registry

sys.path.insert(0, os.path.dirname(__file__))
from _tiny_gans import TINY_CONFIGS  # noqa: E402

RUN = dict(train_steps=2, log_every=1, checkpoint_every=1, steps_per_loop=1, image_every=0)


def _outputs(gan, source):
  """What the model makes of fixed inputs: samples, or translations of fixed images."""
  if hasattr(gan, "translate"):
    images = source.take(2, seed=0)["a"]
    return gan.translate(images, "a_to_b").numpy()
  return np.asarray(gan.generate(3, seed=0))


@pytest.fixture(scope="module")
def contract(tmp_path_factory):
  base = tmp_path_factory.mktemp("contract")
  results = {}
  for model in registry.names():
    spec = registry.get(model)
    run = str(base / model)
    config = spec.config_cls(model=model, model_dir=run, **{**TINY_CONFIGS[model], **RUN})
    config = config.resolve()
    result = {"loop": training.train(config)}
    keras.backend.clear_session()
    config.api, config.train_steps = "fit", 4
    result["fit"] = training.train(config)
    keras.backend.clear_session()
    gan, saved, source = training.load(run)
    result["restored_step"] = int(gan.train_counter.numpy())
    result["picture"] = visualize.preview(gan, source, num=4, seed=0)
    # Models on the same data share one evaluation classifier (cached where model_dir says).
    shared = str(base / f"classifier_{saved.dataset}")
    result["metrics"] = spec.evaluate(gan, saved, source, num_samples=64, seed=0,
                                      model_dir=shared)
    keras_file = str(base / f"{model}.keras")
    gan.save(keras_file)
    reloaded = keras.models.load_model(keras_file)
    result["outputs"] = (_outputs(gan, source), _outputs(reloaded, source))
    result["export"] = export.export_gan(gan, saved, str(base / "exports"), model_name=model,
                                         warmup=False)
    results[model] = result
    keras.backend.clear_session()
  env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
  proc = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "helpers", "serve_once.py"),
                         *[r["export"].path for r in results.values()]], cwd=str(base),
                        env={**env, "TF_CPP_MIN_LOG_LEVEL": "2"}, capture_output=True,
                        text=True, timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  served = json.loads(proc.stdout.strip().splitlines()[-1])
  for result in results.values():
    result["served"] = served[result["export"].path]
    result["served_without_tf_gans"] = served["tf_gans_modules"] == []
  return results


def test_every_registered_model_has_a_tiny_config():
  assert sorted(TINY_CONFIGS) == registry.names()


@pytest.mark.parametrize("model", registry.names())
def test_trains_through_the_loop_and_fit_and_resumes(contract, model):
  result = contract[model]
  assert result["loop"]["step"] == 2 and result["fit"]["step"] == 4
  assert result["loop"]["checkpoint"].endswith("ckpt-2")
  assert result["fit"]["checkpoint"].endswith("ckpt-4")
  for run in ("loop", "fit"):
    assert result[run]["metrics"] and all(math.isfinite(v)
                                          for v in result[run]["metrics"].values())
  assert result["restored_step"] == 4


@pytest.mark.parametrize("model", registry.names())
def test_draws_its_picture_and_is_measured(contract, model):
  picture = contract[model]["picture"]
  assert picture.dtype == np.uint8 and picture.ndim == 3 and picture.shape[-1] == 3
  assert picture.std() > 0
  metrics = contract[model]["metrics"]
  numbers = {k: v for k, v in metrics.items() if isinstance(v, float)}
  assert numbers and all(math.isfinite(v) for v in numbers.values()), metrics


@pytest.mark.parametrize("model", registry.names())
def test_a_keras_file_gives_back_the_same_model(contract, model):
  original, reloaded = contract[model]["outputs"]
  np.testing.assert_allclose(original, reloaded, atol=1e-6)


@pytest.mark.parametrize("model", registry.names())
def test_its_export_answers_in_a_fresh_process_without_tf_gans(contract, model):
  result = contract[model]
  assert result["served_without_tf_gans"]
  served = result["served"]
  assert set(served) == set(result["export"].metadata["signatures"])
  for signature, outputs in served.items():
    for name, (shape, finite) in outputs.items():
      assert finite, (signature, name)
      if signature != "metadata":
        assert shape[0] == 2, (signature, name, shape)  # the request's two items
