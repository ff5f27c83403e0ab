"""The training engine on the Wasserstein GAN: both drivers, replicas, precision, resume."""

from __future__ import annotations

import json
import math
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import TINY_WGAN, run_tool
from tf_gans import data, training
from tf_gans.models.wgan import WGANConfig
from tf_gans.training.loop import NonFiniteLossError


def tiny_config(tmp_path, **overrides) -> WGANConfig:
  values = dict(dataset="8gaussians", model_dir=str(tmp_path / "run"), train_steps=4,
                **TINY_WGAN)
  values.update(overrides)
  return WGANConfig(**values).resolve()


def checkpoint_weights(model_dir: str) -> dict[str, np.ndarray]:
  """Every saved variable of the latest checkpoint, by checkpoint key."""
  reader = tf.train.load_checkpoint(os.path.join(model_dir, "checkpoints"))
  return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
          if "OBJECT_GRAPH" not in k and not k.startswith("save_counter")}


# -- replicas --------------------------------------------------------------------------

@pytest.mark.parametrize("lipschitz", ["clip", "gp"])
def test_two_replicas_train_exactly_what_one_replica_trains(lipschitz):
  proc = run_tool("tests/helpers/replicas.py", lipschitz, "2")
  result = json.loads(proc.stdout.strip().splitlines()[-1])
  assert result["max_change_from_init"] > 1e-3, "the steps must actually train"
  assert result["max_weight_gap"] < 1e-5
  for name in ("discriminator_loss", "generator_loss", "wasserstein_estimate"):
    assert result["metrics_1"][name] == pytest.approx(result["metrics_2"][name], abs=1e-5)



# -- precision ---------------------------------------------------------------------------

@pytest.mark.parametrize("precision", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_gradient_penalty_stays_finite(tmp_path, precision):
  config = tiny_config(tmp_path, precision=precision, train_steps=50, log_every=10,
                       checkpoint_every=50, steps_per_loop=10, hidden_units=64,
                       learning_rate=1e-3)
  result = training.train(config)
  gan = result["gan"]
  assert result["step"] == 50
  assert all(math.isfinite(v) for v in result["metrics"].values()), result["metrics"]
  assert gan.generator.hidden_layers[0].compute_dtype == precision.split("_")[1]
  if precision == "mixed_float16":
    assert isinstance(gan.discriminator_optimizer, keras.optimizers.LossScaleOptimizer)
    # Dynamic loss scaling may skip the first few updates, not most of them.
    applied = int(gan.discriminator_optimizer.inner_optimizer.iterations.numpy())
    assert applied > 200, applied
  weights = np.concatenate([np.ravel(w.numpy()) for w in gan.critic.weights])
  assert np.all(np.isfinite(weights))


# -- the custom loop: resume, NaN guard, clipping, the gradient norm ----------------------

def test_resumed_run_equals_uninterrupted_run(tmp_path):
  straight = training.train(tiny_config(tmp_path, model_dir=str(tmp_path / "a"), train_steps=6))
  training.train(tiny_config(tmp_path, model_dir=str(tmp_path / "b"), train_steps=2))
  keras.backend.clear_session()
  resumed = training.train(tiny_config(tmp_path, model_dir=str(tmp_path / "b"), train_steps=6))
  assert straight["step"] == resumed["step"] == 6
  a, b = checkpoint_weights(str(tmp_path / "a")), checkpoint_weights(str(tmp_path / "b"))
  assert a.keys() == b.keys() and len(a) > 10
  for key in a:
    np.testing.assert_allclose(a[key], b[key], rtol=0, atol=1e-6, err_msg=key)


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_last_checkpoint(tmp_path):
  config = tiny_config(tmp_path, train_steps=2)
  training.train(config)
  before = checkpoint_weights(config.model_dir)
  keras.backend.clear_session()
  config.train_steps = 6
  gan, source = training.build(config)
  poisoned = data.Source(name="nan", kind="points", generate=lambda seed, n: {
      "x": tf.fill([n, 2], float("nan"))}, spec=source.spec)
  with pytest.raises(NonFiniteLossError, match=r"became nan by step 4.*ckpt-2"):
    training.train_loop(gan, poisoned, strategy=tf.distribute.get_strategy(),
                        model_dir=config.model_dir, train_steps=6, batch_size=8, seed=0,
                        steps_per_loop=2, log_every=2, checkpoint_every=2, image_every=0)
  assert tf.train.latest_checkpoint(os.path.join(config.model_dir, "checkpoints")).endswith("ckpt-2")
  after = checkpoint_weights(config.model_dir)
  for key in before:
    np.testing.assert_array_equal(before[key], after[key])


def test_weight_clipping_bounds_every_critic_weight_after_every_step(tmp_path):
  config = tiny_config(tmp_path, lipschitz="clip", clip_value=0.01, learning_rate=0.05)
  gan, source = training.build(config)
  batch = next(iter(data.make_dataset(source, global_batch=8, seed=0,
                                      chunks=gan.real_batches_per_step)))
  step = tf.function(gan.train_step)
  initial_max = max(float(np.abs(w.numpy()).max()) for w in gan.critic.trainable_weights)
  assert initial_max > 0.01  # the initial weights are not clipped yet
  for _ in range(3):
    step(batch)
    for w in gan.critic.trainable_weights:
      assert float(np.abs(w.numpy()).max()) <= 0.01 + 1e-7, w.path
  # Clipping must not hold the weights at zero: they sit at the bound.
  assert max(float(np.abs(w.numpy()).max()) for w in gan.critic.trainable_weights) == \
      pytest.approx(0.01)


def test_gradient_penalty_pulls_the_critic_gradient_norm_toward_one(tmp_path):
  config = tiny_config(tmp_path, train_steps=300, hidden_units=64, gp_weight=10.0,
                       batch_size=64, log_every=50, checkpoint_every=300, steps_per_loop=50)
  gan, source = training.build(config)
  first = data.make_dataset(source, global_batch=64, seed=0, chunks=5)
  tf.function(gan.train_step)(next(iter(first)))
  start = gan.metric_values()["critic_grad_norm_mean"]
  result = training.train_loop(gan, source, strategy=tf.distribute.get_strategy(),
                               model_dir=config.model_dir, train_steps=300, batch_size=64,
                               seed=0, steps_per_loop=50, log_every=50, checkpoint_every=300,
                               image_every=0)
  end = result["metrics"]["critic_grad_norm_mean"]
  assert abs(end - 1.0) < 0.5 * abs(start - 1.0), (start, end)


# -- Model.fit ----------------------------------------------------------------------------

def test_fit_trains_the_same_model_and_callbacks_see_the_metrics(tmp_path):
  config = tiny_config(tmp_path, api="fit", train_steps=4)
  seen = []

  class Record(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
      seen.append(dict(logs))

  result = training.train(config, callbacks=[Record()])
  # steps_per_execution = steps_per_loop = 2: Keras reports once per 2 steps.
  assert result["step"] == 4 and len(seen) == 2
  assert {"discriminator_loss", "generator_loss", "critic_grad_norm_mean"} <= set(seen[-1])
  assert all(math.isfinite(float(v)) for v in seen[-1].values())
  # fit writes the loop's checkpoints: the custom loop can continue the run.
  assert tf.train.latest_checkpoint(os.path.join(config.model_dir, "checkpoints")).endswith("ckpt-4")
  keras.backend.clear_session()
  config.api, config.train_steps = "loop", 6
  assert training.train(config)["step"] == 6


def test_fit_stops_at_exactly_train_steps_and_resumes_there(tmp_path):
  config = tiny_config(tmp_path, api="fit", train_steps=3, log_every=2, steps_per_loop=1,
                       checkpoint_every=2)
  assert training.train(config)["step"] == 3
  assert tf.train.latest_checkpoint(os.path.join(config.model_dir, "checkpoints")).endswith("ckpt-3")
  keras.backend.clear_session()
  config.train_steps = 5
  assert training.train(config)["step"] == 5


def test_fit_and_loop_make_the_same_first_steps(tmp_path):
  loop_run = training.train(tiny_config(tmp_path, model_dir=str(tmp_path / "loop")))
  keras.backend.clear_session()
  fit_run = training.train(tiny_config(tmp_path, model_dir=str(tmp_path / "fit"), api="fit"))
  a = checkpoint_weights(str(tmp_path / "loop"))
  b = checkpoint_weights(str(tmp_path / "fit"))
  assert a.keys() == b.keys() and len(a) > 10
  for key in a:
    np.testing.assert_allclose(a[key], b[key], atol=1e-5, err_msg=key)
  assert loop_run["step"] == fit_run["step"] == 4


def test_fit_driver_stops_on_nan_and_keeps_the_last_checkpoint(tmp_path):
  config = tiny_config(tmp_path, api="fit", train_steps=2)
  training.train(config)
  keras.backend.clear_session()
  gan, source = training.build(config)
  poisoned = data.Source(name="nan", kind="points", generate=lambda seed, n: {
      "x": tf.fill([n, 2], float("nan"))}, spec=source.spec)
  with pytest.raises(NonFiniteLossError, match=r"became nan by step 4.*ckpt-2"):
    training.train_fit(gan, poisoned, strategy=tf.distribute.get_strategy(),
                       model_dir=config.model_dir, train_steps=6, batch_size=8, seed=0,
                       log_every=2, checkpoint_every=2)
  assert tf.train.latest_checkpoint(os.path.join(config.model_dir, "checkpoints")).endswith("ckpt-2")


def test_several_steps_per_call_equal_single_steps(tmp_path):
  training.train(tiny_config(tmp_path, model_dir=str(tmp_path / "one"), steps_per_loop=1,
                             log_every=4, checkpoint_every=4))
  keras.backend.clear_session()
  training.train(tiny_config(tmp_path, model_dir=str(tmp_path / "four"), steps_per_loop=4,
                             log_every=4, checkpoint_every=4))
  a, b = checkpoint_weights(str(tmp_path / "one")), checkpoint_weights(str(tmp_path / "four"))
  for key in a:
    np.testing.assert_allclose(a[key], b[key], atol=1e-6, err_msg=key)


def test_xla_compiled_training_is_deterministic_and_trains(tmp_path):
  # Under XLA TensorFlow's stateless generators draw other numbers for the same seed,
  # so an XLA run is not the plain run's trajectory (benchmarks/README.md compares
  # their results); it must still be reproducible, and train.
  runs = {}
  for name in ("first", "second"):
    runs[name] = training.train(tiny_config(
        tmp_path, model_dir=str(tmp_path / name), jit_compile=True, train_steps=6,
        checkpoint_every=6, log_every=6))["metrics"]
    keras.backend.clear_session()
  assert runs["first"] == runs["second"]
  assert all(math.isfinite(v) for v in runs["first"].values())
  first, second = checkpoint_weights(str(tmp_path / "first")), checkpoint_weights(str(tmp_path / "second"))
  for key in first:
    np.testing.assert_array_equal(first[key], second[key], err_msg=key)
  keras.backend.clear_session()
  gan, _ = training.build(tiny_config(tmp_path, model_dir=str(tmp_path / "init")))
  moved = max(float(np.abs(a - b).max()) for a, b in zip(
      [w.numpy() for w in training.load(str(tmp_path / "first"))[0].generator.weights],
      [w.numpy() for w in gan.generator.weights]))
  assert moved > 3e-4  # six Adam steps at 1e-4 changed the generator


def test_bfloat16_training_follows_the_float32_loss_curve(tmp_path):
  curves = {}
  for precision in ("float32", "mixed_bfloat16"):
    config = tiny_config(tmp_path, model_dir=str(tmp_path / precision), precision=precision,
                         train_steps=30, log_every=10, checkpoint_every=30, steps_per_loop=10,
                         hidden_units=32, batch_size=64)
    curves[precision] = training.train(config)["metrics"]
    keras.backend.clear_session()
  for name in ("discriminator_loss", "generator_loss", "critic_grad_norm_mean"):
    f32, bf16 = curves["float32"][name], curves["mixed_bfloat16"][name]
    assert abs(f32 - bf16) <= 0.05 + 0.1 * abs(f32), (name, f32, bf16)


def test_bfloat16_warning_only_where_bfloat16_is_emulated(tmp_path):
  from tf_gans.training import strategy
  cpuinfo = tmp_path / "cpuinfo"
  cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 fma\n\nprocessor\t: 1\n")
  flags = strategy.cpu_flags(str(cpuinfo))
  assert flags == {"fpu", "sse2", "avx2", "fma"}
  assert "emulated" in strategy.bfloat16_warning(flags, has_gpu=False)
  assert strategy.bfloat16_warning(flags | {"avx512_bf16"}, has_gpu=False) is None
  assert strategy.bfloat16_warning(flags | {"amx_bf16"}, has_gpu=False) is None
  assert strategy.bfloat16_warning(flags, has_gpu=True) is None
  assert strategy.cpu_flags(str(tmp_path / "missing")) == set()
  assert strategy.bfloat16_warning(set(), has_gpu=False) is None  # unknown CPU: no guess


def test_progress_shows_seconds_per_step_for_slow_steps():
  from tf_gans.training import loop
  assert loop._speed(12.34) == "12.3 steps/s"
  assert loop._speed(1.0) == "1.0 steps/s"
  assert loop._speed(1 / 29.7) == "29.7 s/step"  # a CycleGAN 256 px step on a CPU
