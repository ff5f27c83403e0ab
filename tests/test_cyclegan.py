"""Tests of CycleGAN: architecture against the paper, losses, image pool, training drivers."""

from __future__ import annotations

import dataclasses
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
from tf_gans.layers import InstanceNormalization
from tf_gans.models.cyclegan import CycleGAN, CycleGANConfig, build_cyclegan
from tf_gans.models.translation import translation_optimizers
from tf_gans.networks.patchgan import patchgan_discriminator, receptive_field
from tf_gans.networks.resnet import resnet_generator
from tf_gans.networks.unet import unet_generator
from tf_gans.training.image_pool import ImagePool
from tf_gans.training.schedules import LinearDecay

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = dict(image_size=16, generator_filters=4, discriminator_filters=4, num_res_blocks=1,
            discriminator_layers=2, batch_size=2)


def _tiny_gan(**overrides) -> tuple[CycleGAN, object, CycleGANConfig]:
  config = CycleGANConfig(model_dir="unused", **{**TINY, **overrides}).resolve()
  source = data_lib.make_source(config.dataset, image_size=config.image_size)
  gan = build_cyclegan(config, source)
  gan.compile(**translation_optimizers(config))
  return gan, source, config


def _batch(source, n=2, seed=0):
  return {k: tf.constant(v) for k, v in source.take(n, seed=seed).items()}


# ---------------------------------------------------------------------------------------
# Architecture against the paper and the reference code.
# ---------------------------------------------------------------------------------------


def test_parameter_counts_and_shapes_at_256px_equal_the_reference_code():
  generator = resnet_generator(3, 64, 9)
  discriminator = patchgan_discriminator(3, 64, 3)
  assert generator.count_params() == 11_378_179
  assert discriminator.count_params() == 2_764_737
  assert generator.compute_output_shape((1, 256, 256, 3)) == (1, 256, 256, 3)
  assert discriminator.compute_output_shape((1, 256, 256, 3)) == (1, 30, 30, 1)
  # The paper's layer widths: c7s1-64, d128, d256, R256 x 9, u128, u64, c7s1-3.
  convs = [layer for layer in generator.layers
           if isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose))]
  assert [c.filters for c in convs[:3]] == [64, 128, 256]
  assert [c.filters for c in convs[-3:]] == [128, 64, 3]
  assert sum(1 for c in convs if c.name.startswith("r")) == 18
  assert all(c.use_bias for c in convs)
  # No affine parameters in the instance norms.
  norms = [layer for layer in generator.layers if isinstance(layer, InstanceNormalization)]
  assert len(norms) == 23 and all(not n.weights for n in norms)


def test_patchgan_receptive_field_from_the_layer_stack_is_70():
  size, jump, offset = receptive_field(patchgan_discriminator(3, 64, 3))
  assert (size, jump, offset) == (70, 8, 23)


def test_patchgan_output_pixel_sees_exactly_a_70x70_window():
  # Without normalisation (whose statistics mix all positions) the gradient of one
  # output score is non-zero exactly on the input window it sees.
  discriminator = patchgan_discriminator(1, 2, 3, norm="none")
  image = tf.random.stateless_normal([1, 128, 128, 1], [1, 2])
  with tf.GradientTape() as tape:
    tape.watch(image)
    scores = discriminator(image)
    score = scores[0, 7, 7, 0]
  assert scores.shape == (1, 14, 14, 1)
  grad = np.abs(tape.gradient(score, image).numpy()[0, :, :, 0])
  rows, cols = np.nonzero(grad)
  # Output pixel 7 sees input rows 8*7 - 23 = 33 to 33 + 70 - 1 = 102.
  assert (rows.min(), rows.max(), cols.min(), cols.max()) == (33, 102, 33, 102)
  assert np.count_nonzero(grad) == 70 * 70


def test_resnet_generator_is_fully_convolutional_with_tanh_range():
  generator = resnet_generator(3, 4, 1)
  out = generator(tf.random.stateless_uniform([2, 20, 28, 3], [0, 1], minval=-30, maxval=30))
  assert out.shape == (2, 20, 28, 3) and out.dtype == tf.float32
  assert float(tf.reduce_max(tf.abs(out))) <= 1.0


def test_unet_generator_shapes():
  generator = unet_generator(3, 4, 5)
  assert generator(tf.zeros([1, 32, 32, 3])).shape == (1, 32, 32, 3)


def test_resnet_upsampling_matches_pytorch_transposed_convolution_alignment():
  # PyTorch's ConvTranspose2d(k=3, s=2, padding=1, output_padding=1) maps input pixel i
  # to output pixels 2i-1, 2i, 2i+1 (kernel taps 0, 1, 2). Check the layer pair the
  # generator uses with a one-hot input and a kernel whose taps are 1, 2, 3.
  generator = resnet_generator(1, 1, 0, norm="none")
  up = generator.get_layer("u1")
  crop = generator.get_layer("u1_crop")
  kernel = np.zeros(up.kernel.shape, np.float32)
  kernel[:, :, 0, 0] = np.outer([1, 2, 3], [1, 1, 1])
  up.kernel.assign(kernel)
  up.bias.assign(np.zeros(up.bias.shape, np.float32))
  x = np.zeros([1, 4, 4, up.kernel.shape[-1]], np.float32)
  x[0, 2, 1, 0] = 1.0  # input row 2
  rows = crop(up(x)).numpy()[0, :, 2, 0]
  assert rows.shape == (8,)
  np.testing.assert_allclose(rows, [0, 0, 0, 1, 2, 3, 0, 0])  # output rows 3, 4, 5


# ---------------------------------------------------------------------------------------
# The image pool.
# ---------------------------------------------------------------------------------------


def test_image_pool_first_50_pass_through_then_half_are_swapped():
  pool = ImagePool((1, 1, 1), size=50)
  query = tf.function(pool.query)
  images = np.arange(1, 61, dtype=np.float32).reshape(60, 1, 1, 1)
  # The first 50 images (in batches of 5) come back unchanged and fill the pool.
  for start in range(0, 50, 5):
    out = query(images[start:start + 5], tf.fill([5], 0.9), tf.zeros([5]))
    np.testing.assert_array_equal(out, images[start:start + 5])
  assert int(pool.count.numpy()) == 50
  np.testing.assert_array_equal(pool.images.numpy().ravel(), np.arange(1, 51))
  # Full: draw > 0.5 swaps with slot floor(50 * slot_draw), otherwise passes through.
  swap = tf.constant([0.9, 0.1, 0.7, 0.5, 0.99])
  slot = tf.constant([0.0, 0.3, 0.5, 0.7, 0.5])
  out = query(images[50:55], swap, slot).numpy().ravel()
  # 51 -> slot 0 (holds 1); 52 passes; 53 -> slot 25 (holds 26); 54 passes (0.5 is not
  # > 0.5); 55 -> slot 25 again, which now holds 53.
  np.testing.assert_array_equal(out, [1, 52, 26, 54, 53])
  stored = pool.images.numpy().ravel()
  assert stored[0] == 51 and stored[25] == 55 and stored[35] == 36
  assert int(pool.count.numpy()) == 50


def test_image_pool_swaps_about_half_with_uniform_draws():
  pool = ImagePool((1, 1, 1), size=50)
  query = tf.function(pool.query)
  query(tf.zeros([50, 1, 1, 1]), tf.zeros([50]), tf.zeros([50]))  # fill with zeros
  images = tf.reshape(tf.range(1, 401, dtype=tf.float32), [400, 1, 1, 1])
  draws = tf.random.stateless_uniform([2, 400], [4, 2])
  out = query(images, draws[0], draws[1]).numpy().ravel()
  # Every image is distinct, so a returned image differs from its input exactly when
  # it was swapped for an older one: with probability 1/2.
  swapped = out != images.numpy().ravel()
  np.testing.assert_array_equal(swapped, draws[0].numpy() > 0.5)
  assert 160 <= swapped.sum() <= 240
  # Swapped-out images are older ones: zeros from the start or earlier inputs.
  assert np.all(out[swapped] < np.arange(1, 401)[swapped])


# ---------------------------------------------------------------------------------------
# Losses.
# ---------------------------------------------------------------------------------------


def test_generator_loss_is_adversarial_plus_weighted_cycle_and_identity():
  gan, source, _ = _tiny_gan()
  batch = _batch(source)
  generator_group = gan.update_groups()[0]
  loss, metrics = generator_group.loss_fn(batch, 0)
  a, b = batch["a"], batch["b"]
  fake_b, fake_a = gan.generator_ab(a, training=True), gan.generator_ba(b, training=True)
  adversarial = (tf.reduce_mean(tf.square(gan.discriminator_b(fake_b) - 1)) +
                 tf.reduce_mean(tf.square(gan.discriminator_a(fake_a) - 1)))
  cycle = (tf.reduce_mean(tf.abs(gan.generator_ba(fake_b) - a)) +
           tf.reduce_mean(tf.abs(gan.generator_ab(fake_a) - b)))
  identity = (tf.reduce_mean(tf.abs(gan.generator_ab(b) - b)) +
              tf.reduce_mean(tf.abs(gan.generator_ba(a) - a)))
  np.testing.assert_allclose(metrics["adversarial_loss"], adversarial, rtol=1e-5)
  np.testing.assert_allclose(metrics["cycle_loss"], cycle, rtol=1e-5)
  np.testing.assert_allclose(metrics["identity_loss"], identity, rtol=1e-5)
  np.testing.assert_allclose(loss, adversarial + 10 * cycle + 5 * identity, rtol=1e-5)


@pytest.mark.parametrize("identity_weight", [0.5, 0.0])
def test_generator_update_part_by_part_equals_the_whole_loss_update(identity_weight):
  # The step differentiates the generator loss part after part (each direction, then its
  # identity term) and adds the gradients; one tape over the whole loss must give the
  # same training, step after step.
  trained = []
  for whole in (False, True):
    gan, source, _ = _tiny_gan(identity_weight=identity_weight, pool_size=2)
    groups = gan.update_groups()
    assert len(groups[0].parts) == (4 if identity_weight else 2)
    if whole:
      gan.update_groups = lambda groups=groups: [
          dataclasses.replace(g, parts=()) for g in groups]
    step = tf.function(gan.train_step)
    for seed in range(3):
      step(_batch(source, seed=seed))
    trained.append(gan)
  parts, whole = trained
  assert parts.metric_values().keys() == whole.metric_values().keys()
  for name, value in parts.metric_values().items():
    np.testing.assert_allclose(value, whole.metric_values()[name], rtol=1e-4, err_msg=name)
  # The biases before instance norms have a gradient of zero up to rounding, which Adam
  # turns into full-size steps in either direction; they change no output. Every other
  # weight must agree, and so must the translations.
  start = _tiny_gan()[0]
  for a, b, s in zip(parts.weights, whole.weights, start.weights):
    if a.path.endswith("/kernel"):
      np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5, err_msg=a.path)
      assert np.abs(a.numpy() - s.numpy()).max() > 1e-4, a.path  # the steps trained it
  images = _batch(source, seed=7)["a"]
  for direction in ("a_to_b", "b_to_a"):
    np.testing.assert_allclose(parts.translate(images, direction),
                               whole.translate(images, direction), atol=1e-4)


def test_identity_loss_off_versus_on():
  on, source, _ = _tiny_gan(identity_weight=0.5)
  off, _, _ = _tiny_gan(identity_weight=0.0)  # same seed: the same initial weights
  batch = _batch(source)
  loss_on, metrics_on = on.update_groups()[0].loss_fn(batch, 0)
  loss_off, metrics_off = off.update_groups()[0].loss_fn(batch, 0)
  assert "identity_loss" not in metrics_off
  assert "identity_loss" not in off.update_groups()[0].metric_names
  assert float(metrics_on["identity_loss"]) > 0
  np.testing.assert_allclose(loss_on - loss_off, 0.5 * 10 * metrics_on["identity_loss"],
                             rtol=1e-4)


def test_discriminator_loss_is_halved_for_every_gan_loss():
  for name in ("least_squares", "nonsaturating"):
    gan, source, _ = _tiny_gan(gan_loss=name, pool_size=0)
    batch = _batch(source)
    loss, metrics = gan.update_groups()[1].loss_fn(batch, 0)
    a, b = batch["a"], batch["b"]
    fake_b = gan.generator_ab(a, training=True)
    real, fake = gan.discriminator_b(b), gan.discriminator_b(fake_b)
    if name == "least_squares":
      expected_b = 0.5 * (np.mean((real - 1) ** 2) + np.mean(np.square(fake)))
    else:
      expected_b = 0.5 * (np.mean(np.log1p(np.exp(-real))) + np.mean(np.log1p(np.exp(fake))))
    np.testing.assert_allclose(metrics["discriminator_b_loss"], expected_b, rtol=1e-5)
    np.testing.assert_allclose(loss, metrics["discriminator_a_loss"] +
                               metrics["discriminator_b_loss"], rtol=1e-6)


def test_linear_decay_schedule():
  schedule = LinearDecay(2e-4, total_updates=100, decay_start=0.5)
  values = [float(schedule(s)) for s in (0, 49, 50, 75, 99, 100, 120)]
  np.testing.assert_allclose(values, [2e-4, 2e-4, 2e-4, 1e-4, 4e-6, 0, 0], atol=1e-10)
  np.testing.assert_allclose(float(LinearDecay(1e-3, 10, 1.0)(9)), 1e-3)
  config = CycleGANConfig(model_dir="x", train_steps=40).resolve()
  optimizer = translation_optimizers(config)["generator_optimizer"]
  assert optimizer.learning_rate.numpy() == pytest.approx(2e-4)
  optimizer.iterations.assign(30)  # 10 of the 20 decay steps left
  assert optimizer.learning_rate.numpy() == pytest.approx(1e-4)


def test_translate_and_contract():
  gan, source, config = _tiny_gan()
  assert gan.image_shape == (16, 16, 3)
  for name in ("generator_ab", "generator_ba", "discriminator_a", "discriminator_b"):
    assert isinstance(getattr(gan, name), keras.Model)
  images = source.take(3)["a"]
  out = gan.translate(images, direction="a_to_b")
  np.testing.assert_allclose(out, gan.generator_ab(images), atol=1e-6)
  np.testing.assert_allclose(gan.translate(images, "b_to_a"), gan.generator_ba(images), atol=1e-6)
  with pytest.raises(ValueError, match="a_to_c"):
    gan.translate(images, direction="a_to_c")
  picture = gan.preview(source, num=5)
  assert picture.dtype == np.uint8 and picture.ndim == 3
  assert gan.size_multiple == 4


def test_config_validation():
  with pytest.raises(ValueError, match="cyclegan_quick.flags"):
    CycleGANConfig(model_dir="x", dataset="unpaired_folder").resolve()
  with pytest.raises(ValueError, match="gan_loss must be one of: .*, got 'squared'"):
    CycleGANConfig(model_dir="x", gan_loss="squared").resolve()
  with pytest.raises(ValueError, match="generator must be one of: resnet, unet, got 'vgg'"):
    CycleGANConfig(model_dir="x", generator="vgg").resolve()
  with pytest.raises(ValueError, match="at least 32 px"):
    CycleGANConfig(model_dir="x", image_size=16).resolve()
  resolved = CycleGANConfig(model_dir="x", dataset="cycle_gan/horse2zebra").resolve()
  assert (resolved.image_size, resolved.num_res_blocks, resolved.pool_size) == (256, 9, 50)
  assert CycleGANConfig(model_dir="x", image_size=128).resolve().num_res_blocks == 6
  source = data_lib.make_source("digits", image_size=8)
  with pytest.raises(ValueError, match="two image domains"):
    build_cyclegan(CycleGANConfig(model_dir="x").resolve(), source)


def test_translation_in_batches_and_at_other_sizes_equals_one_call():
  gan, source, _ = _tiny_gan()
  images = source.take(7)["a"]
  whole = gan.generator_ab(images, training=False).numpy()
  # 7 images in batches of 3 (the last one shorter), and by the pixel budget (all at once).
  np.testing.assert_allclose(gan.translate_numpy(images, "a_to_b", batch_size=3), whole, atol=1e-6)
  np.testing.assert_allclose(gan.translate_numpy(images, "a_to_b"), whole, atol=1e-6)
  # The generators are fully convolutional: other image sizes go through the same function.
  larger = np.repeat(np.repeat(images[:2], 2, axis=1), 2, axis=2)
  np.testing.assert_allclose(gan.translate(larger, "a_to_b"),
                             gan.generator_ab(larger, training=False), atol=1e-5)
  assert gan.translate(images[:1, :8, :8], "b_to_a").shape == (1, 8, 8, 3)


def test_save_and_load_keras_file(tmp_path):
  gan, source, _ = _tiny_gan()
  path = str(tmp_path / "cyclegan.keras")
  gan.save(path)
  loaded = keras.saving.load_model(path, compile=False)
  images = source.take(2)["b"]
  np.testing.assert_allclose(loaded.translate(images, "b_to_a"), gan.translate(images, "b_to_a"),
                             atol=1e-6)
  assert loaded.cycle_weight == 10 and loaded.pool_size == gan.pool_size


# ---------------------------------------------------------------------------------------
# Training drivers.
# ---------------------------------------------------------------------------------------


def test_one_step_through_fit_fills_the_pool_and_training_lowers_the_cycle_loss():
  gan, source, _ = _tiny_gan(pool_size=3)
  dataset = make_dataset(source, global_batch=2, seed=0, for_fit=True)
  gan.fit(dataset, steps_per_epoch=1, epochs=1, verbose=0)
  assert int(gan.train_counter.numpy()) == 1
  values = gan.metric_values()
  assert all(np.isfinite(v) for v in values.values())
  # The step's two generated images went into each pool, which is then full after 2.
  assert int(gan.pool_a.count.numpy()) == 2 and int(gan.pool_b.count.numpy()) == 2
  assert np.abs(gan.pool_b.images.numpy()[:2]).max() > 0
  assert not np.any(gan.pool_b.images.numpy()[2])
  first = values["cycle_loss"]
  gan.reset_metrics()
  gan.fit(dataset, steps_per_epoch=60, epochs=1, verbose=0)
  assert int(gan.pool_a.count.numpy()) == 3
  gan.reset_metrics()
  gan.fit(dataset, steps_per_epoch=10, epochs=1, verbose=0)
  assert gan.metric_values()["cycle_loss"] < 0.7 * first


_REPLICA_SCRIPT = r"""
import json, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
from tf_gans import training
training.split_cpu(2)
from tf_gans.models.cyclegan import CycleGANConfig
tiny = dict(image_size=16, generator_filters=4, discriminator_filters=4, num_res_blocks=1,
            discriminator_layers=2, batch_size=2, pool_size=3, train_steps=3, log_every=1,
            checkpoint_every=3, image_every=0, steps_per_loop=1)
out = {}
probe = None
for name, strategy, api in (("one", "default", "loop"), ("two", "mirrored", "loop"),
                            ("two_fit", "mirrored", "fit")):
  model_dir = f"{sys.argv[2]}/{name}"
  config = CycleGANConfig(model_dir=model_dir, strategy=strategy, api=api, **tiny).resolve()
  result = training.train(config)
  gan, _, source = training.load(model_dir)
  if probe is None:
    probe = source.take(4, seed=9)["a"]
  out[name] = {"step": result["step"], "replicas": training.make_strategy(strategy).num_replicas_in_sync,
               "translated": gan.translate(probe).numpy().tolist(),
               "pool_count": int(gan.pool_b.count.numpy()),
               "pool": gan.pool_b.images.numpy().tolist()}
print("RESULT " + json.dumps(out))
"""


@pytest.mark.slow
def test_two_replicas_train_what_one_replica_trains(tmp_path):
  # The CPU must be split into two devices before TensorFlow initialises them, which
  # pytest has already done: run in a fresh interpreter.
  proc = subprocess.run([sys.executable, "-c", _REPLICA_SCRIPT, ROOT, str(tmp_path)],
                        capture_output=True, text=True, timeout=600)
  lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
  assert proc.returncode == 0 and lines, proc.stderr[-3000:]
  out = json.loads(lines[0][len("RESULT "):])
  assert [out[k]["replicas"] for k in ("one", "two", "two_fit")] == [1, 2, 2]
  for name in ("two", "two_fit"):
    assert out[name]["step"] == 3
    assert out[name]["pool_count"] == out["one"]["pool_count"] == 3
    # One global pool: the same images were stored whatever the replica count.
    np.testing.assert_allclose(out[name]["pool"], out["one"]["pool"], atol=1e-4)
    np.testing.assert_allclose(out[name]["translated"], out["one"]["translated"], atol=2e-3)


def _tool(name, *args, timeout=600):
  return subprocess.run([sys.executable, os.path.join(ROOT, "tools", name), *args],
                        capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def test_paper_config_without_data_stops_at_once_with_a_hint(tmp_path):
  proc = _tool("train.py", "--flagfile=configs/cyclegan.flags", f"--model_dir={tmp_path}/run")
  assert proc.returncode == 2
  message = proc.stderr.strip().splitlines()[-1]
  assert message.startswith("error: no training data") and "cyclegan_quick.flags" in message
  assert not os.path.exists(tmp_path / "run")


@pytest.mark.slow
def test_quick_config_trains_then_translates_a_folder(tmp_path):
  from PIL import Image
  model_dir = str(tmp_path / "run")
  proc = _tool("train.py", "--flagfile=configs/cyclegan_quick.flags", f"--model_dir={model_dir}",
               "--train_steps=2", "--generator_filters=4", "--discriminator_filters=4",
               "--num_res_blocks=1", "--log_every=1", "--image_every=0")
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert os.path.exists(os.path.join(model_dir, "samples.png"))
  saved = json.load(open(os.path.join(model_dir, "config.json")))
  assert saved["model"] == "cyclegan" and saved["dataset"] == "digits_recolour"
  inputs = tmp_path / "inputs"
  inputs.mkdir()
  for i, size in enumerate([(20, 24), (16, 16), (33, 17)]):
    Image.fromarray(np.full((size[1], size[0], 3), 40 * i, np.uint8)).save(inputs / f"x{i}.png")
  out = tmp_path / "out"
  proc = _tool("translate.py", f"--model_dir={model_dir}", f"--input={inputs}",
               f"--output={out}", "--direction=b_to_a", "--side_by_side")
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "translated 3 image(s) b_to_a" in proc.stdout
  size = saved["image_size"]
  for i in range(3):
    with Image.open(out / f"x{i}.png") as im:
      assert im.size == (2 * size, size)  # input | translation, at the training size
