"""The Wasserstein GAN's parts: networks, schedules, generator EMA, mode coverage."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_gans import data, training
from tf_gans.metrics import mode_coverage
from tf_gans.models.wgan import WGANConfig
from tf_gans.networks.dcgan import DCGANCritic, DCGANGenerator, upsampling_plan
from tf_gans.training.schedules import LinearDecay


@pytest.mark.parametrize("size, plan", [(8, (4, 1)), (28, (7, 2)), (32, (4, 3)), (64, (4, 4))])
def test_dcgan_networks_fit_every_image_size(size, plan):
  assert upsampling_plan(size) == plan
  generator = DCGANGenerator(latent_dim=8, image_shape=(size, size, 3), base_channels=4)
  critic = DCGANCritic((size, size, 3), base_channels=4, lipschitz="spectral")
  images = generator(tf.random.normal([2, 8]))
  assert images.shape == (2, size, size, 3)
  assert float(tf.reduce_max(tf.abs(images))) <= 1.0
  assert critic(images, training=True).shape == (2,)


def test_toy_datasets_have_the_papers_geometry():
  ring = data.toy_source("ring")
  np.testing.assert_allclose(np.linalg.norm(ring.info["modes"], axis=1), 1.0, rtol=1e-6)
  assert ring.info["mode_std"] == 0.01
  grid = data.toy_source("grid")
  assert sorted(set(grid.info["modes"][:, 0].tolist())) == [-4, -2, 0, 2, 4]
  samples = data.toy_source("grid").take(2500, seed=1)["x"]
  # Real data is the ceiling: every mode, and the share of a 2-D Gaussian within
  # 3 standard deviations, 1 - exp(-9/2) = 0.9889.
  real = mode_coverage(samples, grid.info["modes"], grid.info["mode_std"])
  assert real["modes_captured"] == 25
  assert real["high_quality"] == pytest.approx(1 - np.exp(-4.5), abs=0.006)


def test_mode_coverage_counts_by_hand():
  modes = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
  samples = np.array([[0.1, 0.0],    # mode 0, within 3 * 0.1
                      [0.0, 0.29],   # mode 0, within
                      [10.5, 0.0],   # nearest mode 1 but 0.5 away: low quality
                      [5.0, 5.0]])   # far from everything
  result = mode_coverage(samples, modes, std=0.1)
  assert result["modes_captured"] == 1
  assert result["high_quality"] == 0.5
  assert result["samples_per_mode_max"] == 2
  with pytest.raises(ValueError, match="std must be positive"):
    mode_coverage(samples, modes, std=0.0)


def test_linear_decay_is_constant_then_falls_to_zero():
  schedule = LinearDecay(1e-3, total_updates=100, decay_start=0.5)
  values = [float(schedule(s)) for s in (0, 50, 75, 100, 150)]
  np.testing.assert_allclose(values, [1e-3, 1e-3, 5e-4, 0.0, 0.0], atol=1e-9)
  assert LinearDecay.from_config(schedule.get_config()).get_config() == schedule.get_config()
  with pytest.raises(ValueError, match="decay_start"):
    LinearDecay(1e-3, 100, decay_start=1.5)


def test_generator_ema_is_what_a_loaded_model_generates(tmp_path):
  config = WGANConfig(dataset="ring", model_dir=str(tmp_path / "run"), train_steps=4,
                      hidden_units=16, hidden_layers=2, batch_size=8, log_every=2,
                      checkpoint_every=2, image_every=0, steps_per_loop=2,
                      generator_ema=0.5, learning_rate=1e-2).resolve()
  result = training.train(config)
  gan = result["gan"]
  optimizer = gan.generator_optimizer
  averages = [v.numpy() for v in optimizer._model_variables_moving_average]  # pylint: disable=protected-access
  raw = [v.numpy() for v in gan.generator.trainable_variables]
  assert max(np.abs(a - r).max() for a, r in zip(averages, raw)) > 1e-6
  keras.backend.clear_session()
  loaded, _, _ = training.load(config.model_dir)
  for average, variable in zip(averages, loaded.generator.trainable_variables):
    np.testing.assert_allclose(variable.numpy(), average, atol=1e-7)
