"""Tests of the conditional GAN: networks, the GAN class on the engine, data, tools."""

from __future__ import annotations

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tf_gans import data as data_lib
from tf_gans.data.pipeline import Group, Source, make_dataset
from tf_gans.models import registry
from tf_gans.models.cgan import CGANConfig, ConditionalGAN, build_cgan
from tf_gans.networks.conditional import ConditionalDiscriminator, ConditionalGenerator
from tf_gans.training import loop
from tf_gans.training.strategy import set_precision

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_optimizers = registry.get("cgan").optimizers
TINY = dict(base_channels=8, feature_units=16, embedding_dim=4, latent_dim=8, batch_size=8)


def _source(size: int = 8, channels: int = 1, num_classes: int = 3, n: int = 24) -> Source:
  rng = np.random.default_rng(0)
  images = rng.uniform(-1, 1, (n, size, size, channels)).astype(np.float32)
  labels = (np.arange(n) % num_classes).astype(np.int32)
  return Source(name="tiny", kind="images",
                groups={"x": Group(size=n, arrays={"x": images, "label": labels})},
                info={"image_shape": images.shape[1:], "num_classes": num_classes})


def _gan(source: Source, **overrides) -> tuple[ConditionalGAN, CGANConfig]:
  config = CGANConfig(model_dir="unused", **{**TINY, **overrides}).resolve()
  gan = build_cgan(config, source)
  gan.compile(**_optimizers(config))
  return gan, config


def _fit(gan: ConditionalGAN, source: Source, config: CGANConfig, steps: int) -> dict:
  ds = make_dataset(source, global_batch=config.batch_size, seed=0,
                    chunks=gan.real_batches_per_step, for_fit=True)
  history = gan.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0)
  return {k: v[-1] for k, v in history.history.items()}


@pytest.fixture
def restore_policy():
  yield
  set_precision("float32")


# ---------------------------------------------------------------------------------------
# Networks.
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("conditioning", ["concat", "projection"])
@pytest.mark.parametrize("shape", [(8, 8, 1), (28, 28, 1), (32, 32, 3)])
def test_network_shapes(conditioning, shape):
  generator = ConditionalGenerator(8, 5, shape, 8, conditioning, 4)
  discriminator = ConditionalDiscriminator(5, shape, 8, conditioning, 4, 16)
  z = tf.random.normal([3, 8])
  labels = tf.constant([0, 4, 2], tf.int32)
  images = generator(z, labels, training=False)
  assert images.shape == (3, *shape) and images.dtype == tf.float32
  assert float(tf.reduce_max(tf.abs(images))) <= 1.0
  scores = discriminator(images, labels, training=False)
  assert scores.shape == (3,) and scores.dtype == tf.float32


def test_networks_reject_bad_arguments():
  with pytest.raises(ValueError, match="conditioning 'film' is not one of"):
    ConditionalGenerator(8, 5, (8, 8, 1), conditioning="film")
  with pytest.raises(ValueError, match="not square"):
    ConditionalDiscriminator(5, (8, 16, 1))


@pytest.mark.parametrize("minibatch_std", [False, True])
def test_minibatch_std_makes_a_score_depend_on_the_rest_of_the_batch(minibatch_std):
  keras.utils.set_random_seed(3)
  discriminator = ConditionalDiscriminator(3, (8, 8, 1), 8, "concat", 4, 16,
                                           minibatch_std=minibatch_std)
  x = tf.random.stateless_normal([4, 8, 8, 1], [1, 2])
  labels = tf.constant([0, 1, 2, 0])
  alone = float(discriminator(x, labels)[0])
  others_changed = float(discriminator(tf.concat([x[:1], 3.0 * x[1:]], 0), labels)[0])
  # The first example's score (small at initialisation) moves by a visible fraction
  # with minibatch std, and not at all without.
  assert (abs(alone - others_changed) > 1e-3 * abs(alone)) == minibatch_std


def test_concat_generator_output_depends_on_the_label():
  generator = ConditionalGenerator(8, 10, (8, 8, 1), 8, "concat", 4)
  z = tf.tile(tf.random.normal([1, 8]), [10, 1])
  images = generator(z, tf.range(10), training=False).numpy()
  differences = np.abs(images[1:] - images[:1]).reshape(9, -1).max(axis=1)
  # At initialisation (N(0, 0.02) weights) all outputs are small, but the same z and
  # weights give bit-identical images unless the label enters.
  assert np.all(differences > 1e-3 * np.abs(images).max())


def test_projection_generator_learns_to_use_the_label():
  # Class-conditional batch norm starts as a plain batch norm (gamma 1, beta 0), so the
  # label acts only once a training step has moved the per-class parameters.
  source = _source()
  gan, config = _gan(source, conditioning="projection")
  z = tf.tile(tf.random.normal([1, config.latent_dim]), [3, 1])
  before = gan.generate(3, labels=[0, 1, 2], z=z).numpy()
  np.testing.assert_allclose(before[1], before[0], atol=1e-6)
  _fit(gan, source, config, steps=1)
  after = gan.generate(3, labels=[0, 1, 2], z=z).numpy()
  assert np.abs(after[1] - after[0]).max() > 1e-5
  assert np.abs(after[2] - after[0]).max() > 1e-5


# ---------------------------------------------------------------------------------------
# The GAN class on the engine.
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("gan_loss", ["minimax", "nonsaturating", "hinge", "least_squares",
                                      "wasserstein"])
def test_one_fit_step_for_every_loss(gan_loss):
  source = _source()
  # Two critic updates instead of wasserstein's default five: the same code path, traced
  # in less time.
  extra = {"n_critic": 2} if gan_loss == "wasserstein" else {}
  gan, config = _gan(source, gan_loss=gan_loss, conditioning="projection", **extra)
  before = [w.numpy().copy() for w in gan.generator.trainable_weights]
  metrics = _fit(gan, source, config, steps=1)
  assert int(gan.train_counter.numpy()) == 1
  # n_critic discriminator updates, each on its own real chunk; one generator update.
  assert int(gan.discriminator_optimizer.iterations.numpy()) == config.n_critic == len(extra) + 1
  assert int(gan.generator_optimizer.iterations.numpy()) == 1
  assert all(np.isfinite(v) for v in metrics.values())
  if gan_loss == "wasserstein":
    assert gan.real_batches_per_step == 2
    assert metrics["gradient_penalty"] > 0
  after = gan.generator.trainable_weights
  assert any(np.abs(a.numpy() - b).max() > 0 for a, b in zip(after, before))


def test_loop_resume_equals_uninterrupted(tmp_path):
  source = data_lib.make_source("digits")
  run = dict(strategy=tf.distribute.get_strategy(), batch_size=8, seed=3, steps_per_loop=2,
             log_every=2, checkpoint_every=2, image_every=0)

  def trained(model_dir, stops):
    for steps in stops:  # a fresh process per stop: rebuild and resume from model_dir
      gan, _ = _gan(source, seed=3, conditioning="concat")
      loop.train_loop(gan, source, model_dir=str(model_dir), train_steps=steps, **run)
    return gan

  whole = trained(tmp_path / "whole", [4])
  resumed = trained(tmp_path / "resumed", [2, 4])
  assert int(resumed.train_counter.numpy()) == 4
  for a, b in zip(whole.generator.weights + whole.discriminator.weights,
                  resumed.generator.weights + resumed.discriminator.weights):
    np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6, err_msg=a.path)


@pytest.mark.parametrize("precision,gan_loss", [("mixed_float16", "wasserstein"),
                                                ("mixed_bfloat16", "hinge")])
def test_mixed_precision_steps_stay_finite(precision, gan_loss, restore_policy):
  set_precision(precision)
  source = _source()
  gan, config = _gan(source, gan_loss=gan_loss, conditioning="projection", precision=precision,
                     n_critic=1)
  metrics = _fit(gan, source, config, steps=3)
  assert all(np.isfinite(v) for v in metrics.values()), metrics
  images = gan.generate(4, labels=[0, 1, 2, 0])
  assert images.dtype == tf.float32 and np.all(np.isfinite(images.numpy()))


def test_training_makes_samples_of_the_asked_class():
  # A nearest-class-mean classifier in pixel space is ~90 % accurate on the digits; an
  # untrained generator is at chance (10 %). A few hundred steps teach the labels.
  source = data_lib.make_source("digits")
  images, labels = source.groups["x"].arrays["x"], source.groups["x"].arrays["label"]
  means = np.stack([images[labels == c].mean(axis=0).ravel() for c in range(10)])

  def accuracy(gan):
    wanted = np.arange(500) % 10
    fake = gan.generate(500, labels=wanted).numpy().reshape(500, -1)
    nearest = np.argmin(((fake[:, None] - means[None]) ** 2).sum(-1), axis=1)
    return float(np.mean(nearest == wanted))

  gan, config = _gan(source, base_channels=16, feature_units=32, latent_dim=16, batch_size=32,
                     learning_rate=1e-3)
  assert accuracy(gan) < 0.3
  _fit(gan, source, config, steps=300)
  assert accuracy(gan) > 0.6


def test_config_defaults_follow_the_loss():
  gp = CGANConfig(gan_loss="wasserstein").resolve()
  assert (gp.n_critic, gp.learning_rate, gp.beta_1, gp.beta_2, gp.gp_weight) == (5, 1e-4, 0.5,
                                                                                  0.9, 10.0)
  ns = CGANConfig().resolve()
  assert (ns.n_critic, ns.learning_rate, ns.beta_1, ns.beta_2, ns.batch_size) == (1, 2e-4, 0.5,
                                                                                  0.999, 64)
  assert registry.get("cgan").config_cls is CGANConfig
  # Learning-rate decay counts each optimizer's own updates: n_critic per step for D.
  decayed = CGANConfig(gan_loss="wasserstein", n_critic=3, train_steps=100,
                       lr_decay_start=0.5).resolve()
  optimizers = _optimizers(decayed)
  assert decayed.lr_decay_steps == 100
  for name, updates in (("generator_optimizer", 100), ("discriminator_optimizer", 300)):
    optimizer = optimizers[name]
    for done, rate in ((updates // 2, 1e-4), (updates * 3 // 4, 0.5e-4), (updates, 0.0)):
      optimizer.iterations.assign(done)
      assert float(optimizer.learning_rate) == pytest.approx(rate, rel=1e-6, abs=1e-12)
  with pytest.raises(ValueError, match="gan_loss must be one of: .*, got 'logistic'"):
    CGANConfig(gan_loss="logistic").resolve()
  with pytest.raises(ValueError, match="conditioning must be one of: concat, projection, got 'film'"):
    CGANConfig(conditioning="film").resolve()
  with pytest.raises(ValueError, match="minibatch_std couples the examples"):
    CGANConfig(gan_loss="wasserstein", minibatch_std=True).resolve()


def test_keras_serialization_round_trip():
  gan, _ = _gan(_source(), conditioning="projection")
  restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(gan))
  assert isinstance(restored, ConditionalGAN)
  assert (restored.num_classes, restored.latent_dim, restored.gan_loss) == (3, 8, "nonsaturating")
  assert restored.generator.get_config() == gan.generator.get_config()


# ---------------------------------------------------------------------------------------
# Generating by label.
# ---------------------------------------------------------------------------------------


def test_generate_by_label_and_out_of_range_labels():
  gan, _ = _gan(_source(num_classes=3))
  images = gan.generate(4, seed=1, labels=[2, 0, 1, 2])
  assert images.shape == (4, 8, 8, 1)
  np.testing.assert_array_equal(images.numpy(), gan.generate(4, seed=1, labels=[2, 0, 1, 2]))
  np.testing.assert_array_equal(gan.generate(3, seed=1, labels=1).numpy(),
                                gan.generate(3, seed=1, labels=[1, 1, 1]).numpy())
  np.testing.assert_array_equal(gan.generate(4, seed=1).numpy(),  # classes in turn
                                gan.generate(4, seed=1, labels=[0, 1, 2, 0]).numpy())
  with pytest.raises(ValueError, match="label 3 is outside the model's 3 classes"):
    gan.generate(2, labels=[0, 3])
  with pytest.raises(ValueError, match="label -1 is outside"):
    gan.preview(num=2, labels=[-1])
  with pytest.raises(ValueError, match="2 labels for 3 samples"):
    gan.generate(3, labels=[0, 1])
  with pytest.raises(ValueError, match="integer classes"):
    gan.generate(2, labels=[0.5, 1.0])


def test_preview_has_one_row_per_label_with_shared_noise_per_column():
  gan, _ = _gan(_source(num_classes=3))
  picture = gan.preview(num=5, seed=0)
  # 3 rows x 5 columns of 8 px tiles with 1 px gaps, enlarged 4x to 32 px tiles.
  assert picture.shape == ((3 * 9 + 1) * 4, (5 * 9 + 1) * 4, 3) and picture.dtype == np.uint8
  rows = gan.preview(num=5, seed=0, labels=[2, 1])
  assert rows.shape == ((2 * 9 + 1) * 4, (5 * 9 + 1) * 4, 3)
  # The row of label 2 is the same in both pictures: each column's noise is fixed.
  np.testing.assert_array_equal(rows[4:40], picture[4 + 2 * 36:40 + 2 * 36])


# ---------------------------------------------------------------------------------------
# Class folders.
# ---------------------------------------------------------------------------------------


def _write_images(folder, count, size=10):
  os.makedirs(folder, exist_ok=True)
  rng = np.random.default_rng(len(str(folder)))
  for i in range(count):
    Image.fromarray(rng.integers(0, 255, (size, size, 3), np.uint8)).save(
        os.path.join(folder, f"{i}.png"))


def test_class_folders_train_and_an_empty_class_folder_is_an_error(tmp_path):
  _write_images(tmp_path / "cats", 3)
  _write_images(tmp_path / "dogs", 5)
  os.makedirs(tmp_path / ".cache")  # hidden: not a class
  source = data_lib.make_source("folder", str(tmp_path), image_size=8)
  assert source.info["num_classes"] == 2 and source.info["class_names"] == ["cats", "dogs"]
  batch = source.take(8)
  assert batch["x"].shape == (8, 8, 8, 3)
  assert sorted(batch["label"].tolist()) == [0, 0, 0, 1, 1, 1, 1, 1]
  gan, config = _gan(source, batch_size=4, image_size=8)
  assert gan.num_classes == 2
  _fit(gan, source, config, steps=1)
  assert int(gan.train_counter.numpy()) == 1

  os.makedirs(tmp_path / "empty")
  with pytest.raises(ValueError, match=r"class folder '.*empty' holds no images"):
    data_lib.make_source("folder", str(tmp_path), image_size=8)


def test_a_folder_without_classes_is_an_error(tmp_path):
  _write_images(tmp_path, 3)
  source = data_lib.make_source("folder", str(tmp_path), image_size=8)
  with pytest.raises(ValueError, match="cgan needs images of at least 2 classes.*has 0.*sub-folder"):
    build_cgan(CGANConfig(**TINY).resolve(), source)


# ---------------------------------------------------------------------------------------
# The tools, end to end.
# ---------------------------------------------------------------------------------------


def _tool(name, *args):
  return subprocess.run([sys.executable, os.path.join(ROOT, "tools", name), *args],
                        capture_output=True, text=True, timeout=600, cwd=ROOT)


@pytest.mark.slow
def test_train_sample_evaluate_from_the_config(tmp_path):
  model_dir = str(tmp_path / "run")
  # Two replicas on the CPU: the config's run under MirroredStrategy.
  result = _tool("train.py", "--flagfile=configs/cgan.flags", f"--model_dir={model_dir}",
                 "--train_steps=20", "--steps_per_loop=10", "--log_every=10",
                 "--checkpoint_every=10", "--image_every=10", "--strategy=mirrored",
                 "--cpu_devices=2")
  assert result.returncode == 0, result.stderr[-3000:]
  assert os.path.exists(os.path.join(model_dir, "samples.png"))

  output = str(tmp_path / "3_and_7.png")
  result = _tool("sample.py", f"--model_dir={model_dir}", "--labels=3,7", "--num=6",
                 f"--output={output}")
  assert result.returncode == 0, result.stderr[-3000:]
  # 2 rows x 6 columns of 8 px digits, 1 px gaps, enlarged 4x.
  assert Image.open(output).size == ((6 * 9 + 1) * 4, (2 * 9 + 1) * 4)

  result = _tool("evaluate.py", f"--model_dir={model_dir}", "--num_samples=100")
  assert result.returncode == 0, result.stderr[-3000:]
  lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
  assert "real vs real" in lines["label_accuracy"] and "real vs real" in lines["recall"]
  assert {"precision", "style_recall", "kid", "precision_class_0", "recall_class_9"} <= set(lines)
  assert "real vs real" in lines["style_recall"] and "real vs real" in lines["kid"]
  assert os.path.exists(os.path.join(model_dir, "eval_classifier", "classifier.keras"))
