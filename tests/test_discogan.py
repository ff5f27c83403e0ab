"""Tests of DiscoGAN: architecture, the reconstruction losses, training drivers."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_gans import data as data_lib
from tf_gans.data.pipeline import make_dataset
from tf_gans.models.discogan import DiscoGAN, DiscoGANConfig, build_discogan
from tf_gans.evaluation import evaluate_translation
from tf_gans.models.translation import TwoDomainGAN, translation_optimizers
from tf_gans.networks.encoder_decoder import conv_discriminator, encoder_decoder_generator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = dict(image_size=16, generator_filters=4, discriminator_filters=4, batch_size=4)


def _tiny_gan(**overrides) -> tuple[DiscoGAN, object]:
  config = DiscoGANConfig(model_dir="unused", **{**TINY, **overrides}).resolve()
  source = data_lib.make_source(config.dataset, image_size=config.image_size)
  gan = build_discogan(config, source)
  gan.compile(**translation_optimizers(config))
  return gan, source


def _trainable(model: keras.Model) -> int:
  return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def test_networks_at_64px_have_the_reference_layers_and_parameter_counts():
  generator = encoder_decoder_generator(3, 64, 4)
  discriminator = conv_discriminator(3, 64, 4)
  # Reference (SKTBrain/DiscoGAN model.py): bias-free 4x4 convolutions 3-64-128-256-512,
  # transposed 512-256-128-64-3, batch norm (scale and shift) on all but the first
  # encoder and last decoder layers: 5,511,168 + 2 * (128+256+512 + 256+128+64).
  assert _trainable(generator) == 5_511_168 + 2 * 1344
  # Discriminator: the same encoder, then a 4x4 convolution 512 -> 1 without padding.
  assert _trainable(discriminator) == 2_755_584 + 8_192 + 2 * 896
  assert generator.compute_output_shape((2, 64, 64, 3)) == (2, 64, 64, 3)
  assert discriminator.compute_output_shape((2, 64, 64, 3)) == (2, 1, 1, 1)
  convs = [l for l in generator.layers
           if isinstance(l, (keras.layers.Conv2D, keras.layers.Conv2DTranspose))]
  assert [c.filters for c in convs] == [64, 128, 256, 512, 256, 128, 64, 3]
  assert not any(c.use_bias for c in convs)


def test_discogan_shares_the_two_domain_base_and_contract():
  gan, source = _tiny_gan()
  assert isinstance(gan, TwoDomainGAN)
  assert gan.image_shape == (16, 16, 3)
  for name in ("generator_ab", "generator_ba", "discriminator_a", "discriminator_b"):
    assert isinstance(getattr(gan, name), keras.Model)
  images = source.take(2)["a"]
  assert gan.translate(images, "a_to_b").shape == (2, 16, 16, 3)
  assert [g.name for g in gan.update_groups()] == ["generator", "discriminator"]


def _huber(d, delta):
  d = np.abs(d)
  return np.where(d <= delta, 0.5 * d ** 2, delta * d - 0.5 * delta ** 2)


@pytest.mark.parametrize("kind", ["l2", "l1", "huber"])
def test_each_reconstruction_loss(kind):
  delta = 0.3
  gan, source = _tiny_gan(reconstruction_loss=kind, huber_delta=delta, reconstruction_weight=0.7)
  batch = {k: tf.constant(v) for k, v in source.take(4, seed=1).items()}
  loss, metrics = gan.update_groups()[0].loss_fn(batch, 0)
  a, b = batch["a"].numpy(), batch["b"].numpy()
  fake_b = gan.generator_ab(a, training=True)
  fake_a = gan.generator_ba(b, training=True)
  d_a = gan.generator_ba(fake_b, training=True).numpy() - a
  d_b = gan.generator_ab(fake_a, training=True).numpy() - b
  # Huber: L_δ / δ, so its linear part has l1's slope.
  distance = {"l2": np.square, "l1": np.abs, "huber": lambda d: _huber(d, delta) / delta}[kind]
  expected = distance(d_a).mean() + distance(d_b).mean()
  np.testing.assert_allclose(metrics["reconstruction_loss"], expected, rtol=1e-4)
  np.testing.assert_allclose(loss, metrics["adversarial_loss"] + 0.7 * expected, rtol=1e-4)
  if kind == "huber":
    # Errors above delta exist, so the linear branch was exercised.
    assert np.abs(d_a).max() > delta


def test_config_defaults_and_validation():
  config = DiscoGANConfig(model_dir="x").resolve()
  assert (config.batch_size, config.gan_loss, config.norm, config.pool_size) == (
      64, "nonsaturating", "batch", 0)
  assert config.image_size == 32 and config.num_downs == 3
  assert (config.reconstruction_loss, config.huber_delta) == ("l2", 0.1)
  files = DiscoGANConfig(model_dir="x", dataset="cycle_gan/facades").resolve()
  assert (files.image_size, files.num_downs) == (64, 4)
  with pytest.raises(ValueError, match="reconstruction_loss must be one of: l1, l2, huber, got 'l3'"):
    DiscoGANConfig(model_dir="x", reconstruction_loss="l3").resolve()
  with pytest.raises(ValueError, match="huber_delta must be > 0"):
    DiscoGANConfig(model_dir="x", huber_delta=0.0).resolve()
  with pytest.raises(ValueError, match="power-of-two"):
    DiscoGANConfig(model_dir="x", image_size=48).resolve()


def test_fit_step_then_training_lowers_the_reconstruction_loss():
  gan, source = _tiny_gan(reconstruction_loss="l1", reconstruction_weight=10.0,
                          generator_filters=8, discriminator_filters=8)
  dataset = make_dataset(source, global_batch=4, seed=0, for_fit=True)
  gan.fit(dataset, steps_per_epoch=1, epochs=1, verbose=0)
  assert int(gan.train_counter.numpy()) == 1
  first = gan.metric_values()["reconstruction_loss"]
  assert np.isfinite(first)
  gan.reset_metrics()
  gan.fit(dataset, steps_per_epoch=140, epochs=1, verbose=0)
  gan.reset_metrics()
  gan.fit(dataset, steps_per_epoch=10, epochs=1, verbose=0)
  assert int(gan.train_counter.numpy()) == 151
  assert gan.metric_values()["reconstruction_loss"] < 0.8 * first


def test_evaluation_on_the_ground_truth_task(tmp_path):
  gan, source = _tiny_gan()
  config = DiscoGANConfig(model_dir=str(tmp_path), **TINY).resolve()
  metrics = evaluate_translation(gan, config, source, model_dir=str(tmp_path))
  assert metrics["split"] == "test" and metrics["examples_a"] == 359
  for key in ("error_to_truth", "cycle_error", "label_preservation"):
    assert 0.0 <= metrics[key] <= 1.0
  # The classifier reads real digits of both domains well and is cached.
  assert metrics["classifier_accuracy_real"] > 0.95
  assert os.path.exists(tmp_path / "eval_classifier" / "shape_classifier.pkl")
  # An identity "translation" is far from the truth: the error measures colours.
  class Identity:
    def direction_networks(self):
      return {"a_to_b": "unused", "b_to_a": "unused"}

    def translate_numpy(self, images, direction="a_to_b"):
      return images
  identity = evaluate_translation(Identity(), config, source, model_dir=str(tmp_path))
  assert identity["error_to_truth"] > 0.3 and identity["cycle_error"] == 0.0
  # The hidden-signal check runs on both cycles; the identity passes perturbations
  # through unchanged (gain 1).
  assert identity["gain_a_noise"] == pytest.approx(1.0, abs=0.02)
  assert identity["cycle_error_b_jpeg"] == pytest.approx(identity["perturbation_b_jpeg"])
  assert identity["label_preservation"] == identity["classifier_accuracy_real"]


@pytest.mark.slow
def test_loop_under_mirrored_strategy_on_two_devices(tmp_path):
  model_dir = str(tmp_path / "run")
  proc = subprocess.run(
      [sys.executable, os.path.join(ROOT, "tools", "train.py"), "--flagfile=configs/discogan.flags",
       f"--model_dir={model_dir}", "--cpu_devices=2", "--strategy=mirrored", "--train_steps=2",
       "--image_size=16", "--generator_filters=4", "--discriminator_filters=4", "--batch_size=4",
       "--reconstruction_loss=huber", "--log_every=1", "--image_every=0"],
      capture_output=True, text=True, timeout=600, cwd=ROOT)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "2 replicas" in proc.stderr
  assert "Trained discogan on digits_recolour to step 2" in proc.stdout
  saved = json.load(open(os.path.join(model_dir, "config.json")))
  assert saved["model"] == "discogan" and saved["reconstruction_loss"] == "huber"
