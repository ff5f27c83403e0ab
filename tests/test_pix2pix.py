"""pix2pix: its losses, its noise, its networks against the reference, paired data, tools."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tf_gans import data, layers
from tf_gans.data import paired
from tf_gans.data.translation import true_b_to_a
from tf_gans.models.pix2pix import Pix2Pix, Pix2PixConfig
from tf_gans.networks.patchgan import patchgan_discriminator
from tf_gans.networks.unet import unet_generator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def softplus(x):
  return np.log1p(np.exp(x))


def hand_made_gan(direction="a_to_b", gan_loss="nonsaturating", l1_weight=100.0):
  """G(x) = x / 2; D scores each pixel with the mean of the pair's six channels."""
  generator = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Rescaling(0.5)])
  discriminator = keras.Sequential([
      keras.Input((None, None, 6)),
      keras.layers.Conv2D(1, 1, kernel_initializer=keras.initializers.Constant(1 / 6),
                          bias_initializer="zeros")])
  return Pix2Pix(generator, discriminator, image_shape=(4, 4, 3), direction=direction,
                 gan_loss=gan_loss, l1_weight=l1_weight)


@pytest.mark.parametrize("direction", ["a_to_b", "b_to_a"])
def test_losses_equal_the_papers_formulas_on_hand_made_inputs(direction):
  rng = np.random.default_rng(0)
  a = rng.uniform(-1, 1, (2, 4, 4, 3)).astype(np.float32)
  b = rng.uniform(-1, 1, (2, 4, 4, 3)).astype(np.float32)
  x, y = (a, b) if direction == "a_to_b" else (b, a)
  gan = hand_made_gan(direction)
  batch = {"a": tf.constant(a), "b": tf.constant(b)}
  fake = x / 2
  real_scores = (x.sum(-1) + y.sum(-1)) / 6
  fake_scores = (x.sum(-1) + fake.sum(-1)) / 6
  # G: the vanilla GAN loss in its non-saturating form plus λ · mean |y − G(x)|.
  g_loss, g_metrics = gan._generator_loss(batch, 0)
  l1 = np.abs(y - fake).mean()
  assert float(g_metrics["l1_loss"]) == pytest.approx(l1, rel=1e-5)
  assert float(g_metrics["adversarial_loss"]) == pytest.approx(softplus(-fake_scores).mean(),
                                                               rel=1e-5)
  assert float(g_loss) == pytest.approx(softplus(-fake_scores).mean() + 100 * l1, rel=1e-5)
  # D: half of the binary cross-entropy on real pairs (label 1) and fake pairs (label 0).
  d_loss, _ = gan._discriminator_loss(batch, 0)
  expected = 0.5 * (softplus(-real_scores).mean() + softplus(fake_scores).mean())
  assert float(d_loss) == pytest.approx(expected, rel=1e-5)


def test_least_squares_loss_is_not_halved_twice_and_l1_weight_scales():
  rng = np.random.default_rng(1)
  a = rng.uniform(-1, 1, (1, 4, 4, 3)).astype(np.float32)
  b = rng.uniform(-1, 1, (1, 4, 4, 3)).astype(np.float32)
  gan = hand_made_gan(gan_loss="least_squares", l1_weight=3.0)
  batch = {"a": tf.constant(a), "b": tf.constant(b)}
  real_scores = (a.sum(-1) + b.sum(-1)) / 6
  fake_scores = (a.sum(-1) + (a / 2).sum(-1)) / 6
  d_loss, _ = gan._discriminator_loss(batch, 0)
  assert float(d_loss) == pytest.approx(
      0.5 * (((real_scores - 1) ** 2).mean() + (fake_scores ** 2).mean()), rel=1e-5)
  g_loss, _ = gan._generator_loss(batch, 0)
  # The generator's least-squares term is the reference code's MSE, without a ½.
  assert float(g_loss) == pytest.approx(
      ((fake_scores - 1) ** 2).mean() + 3.0 * np.abs(b - a / 2).mean(), rel=1e-5)


def test_seeded_dropout_is_a_function_of_the_seed():
  layer = layers.SeededDropout(0.5, salt=3)
  x = tf.ones([4, 8, 8, 16])
  np.testing.assert_array_equal(layer(x, training=False), x)
  seed = tf.constant([7, 11], tf.int64)
  with layers.dropout_seed(seed):
    first, again = layer(x, training=True).numpy(), layer(x, training=True).numpy()
    other_salt = layers.SeededDropout(0.5, salt=4)(x, training=True).numpy()
  with layers.dropout_seed(seed + 1):
    other_seed = layer(x, training=True).numpy()
  np.testing.assert_array_equal(first, again)
  assert set(np.unique(first)) == {0.0, 2.0}  # kept units scaled by 1 / (1 - rate)
  assert 0.4 < (first == 0).mean() < 0.6
  assert (first != other_salt).any() and (first != other_seed).any()
  # Outside a seed context training still drops (TensorFlow's global stream).
  assert (layer(x, training=True).numpy() == 0).any()
  with pytest.raises(ValueError, match="dropout rate"):
    layers.SeededDropout(1.0)


def test_networks_at_256px_have_the_reference_codes_parameter_counts():
  # The reference code's unet_256 and basic PatchGAN with batch norm (convolutions
  # before a batch norm have no bias): the per-layer sizes its torchsummary prints
  # (junyanz/pytorch-CycleGAN-and-pix2pix#1614) add up to these, which it reports as
  # "54.414 M" and "2.769 M".
  generator = unet_generator(3, 64, 8, "batch", dropout=0.5)
  discriminator = patchgan_discriminator(6, 64, 3, "batch")
  assert sum(int(np.prod(v.shape)) for v in generator.trainable_weights) == 54_413_955
  assert sum(int(np.prod(v.shape)) for v in discriminator.trainable_weights) == 2_768_705
  assert discriminator.compute_output_shape((1, 256, 256, 6)) == (1, 30, 30, 1)
  dropouts = [l for l in generator.layers if isinstance(l, layers.SeededDropout)]
  # Dropout after the three 512-filter decoder layers next to the bottleneck.
  assert [l.name for l in dropouts] == ["up6_dropout", "up5_dropout", "up4_dropout"]
  assert all(l.rate == 0.5 for l in dropouts)


def test_config_defaults_are_the_reference_codes():
  config = Pix2PixConfig(model_dir="unused").resolve()
  assert (config.gan_loss, config.l1_weight, config.learning_rate, config.beta_1,
          config.batch_size, config.norm, config.pool_size, config.dropout,
          config.lr_decay_start, config.direction) == (
              "nonsaturating", 100.0, 2e-4, 0.5, 1, "batch", 0, 0.5, 0.5, "AtoB")
  files = Pix2PixConfig(model_dir="unused", dataset="paired_folder", data_dir="x").resolve()
  assert (files.image_size, files.unet_downs) == (256, 8)
  with pytest.raises(ValueError, match="no pool"):
    Pix2PixConfig(model_dir="unused", pool_size=50).resolve()
  with pytest.raises(ValueError, match="--data_dir"):
    Pix2PixConfig(model_dir="unused", dataset="paired_folder").resolve()


def test_unpaired_data_is_refused_with_the_way_out():
  from tf_gans import training
  config = Pix2PixConfig(model_dir="unused", dataset="digits_recolour").resolve()
  with pytest.raises(ValueError, match="aligned image pairs.*digits_thicken_paired"):
    training.build(config)


# ---------------------------------------------------------------------------------------
# The embedded task and paired files.
# ---------------------------------------------------------------------------------------


def test_thickening_task_pairs_each_digit_with_its_exact_translation():
  source = paired.digits_thicken_paired_source("test", 32)
  batch = source.take(16, seed=3)
  np.testing.assert_allclose(paired.true_thicken_a_to_b(batch["a"]), batch["b"], atol=1e-6)
  np.testing.assert_array_equal(batch["label_a"], batch["label_b"])
  ink_a = (batch["a"].mean(-1) > 0).mean()
  ink_b = (true_b_to_a(batch["b"]).mean(-1) > 0).mean()  # B's ink read back as intensity
  assert ink_b > 1.4 * ink_a  # strokes got thicker (0.30 -> 0.46 here), not just recoloured
  unpaired = data.make_source("digits_thicken")
  assert unpaired.kind == "image_pairs" and set(unpaired.groups) == {"a", "b"}


def _png(path, array):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  Image.fromarray(array).save(path)


def _gradient(height, width, shift=0):
  y, x = np.mgrid[0:height, 0:width]
  return np.stack([(x * 7 + shift) % 256, (y * 5) % 256, np.full_like(x, 99)],
                  -1).astype(np.uint8)


def test_aligned_layout_splits_each_file_and_crops_both_halves_alike(tmp_path):
  for i in range(3):
    half = _gradient(40, 40, shift=i)
    _png(str(tmp_path / "train" / f"{i}.png"), np.concatenate([half, half], axis=1))
  _png(str(tmp_path / "val" / "0.png"), np.concatenate([_gradient(40, 40), 255 - _gradient(40, 40)], 1))
  source = data.make_source("paired_folder", str(tmp_path), 32, load_size=36)
  assert source.kind == "aligned_pairs" and source.info["layout"] == "aligned"
  batch = source.take(6, seed=1)
  # A and B are the same picture here: the same resize, crop and flip keep them equal.
  np.testing.assert_allclose(batch["a"], batch["b"], atol=1e-6)
  test = data.make_source("paired_folder", str(tmp_path), 32, split="test")  # val/ stands in
  t = test.take(1)
  np.testing.assert_allclose(t["a"], -t["b"], atol=0.02)  # B is A's negative


def test_parallel_folders_pair_files_by_name(tmp_path):
  for name, shift in (("x", 0), ("y", 50)):
    _png(str(tmp_path / "trainA" / f"{name}.png"), _gradient(32, 32, shift))
    _png(str(tmp_path / "trainB" / f"{name}.bmp"), 255 - _gradient(32, 32, shift))
  source = data.make_source("paired_folder", str(tmp_path), 32, load_size=32, flip=False)
  assert source.info["layout"] == "parallel"
  batch = source.take(4, seed=0)
  np.testing.assert_allclose(batch["a"], -batch["b"], atol=1e-5)


@pytest.mark.parametrize("case,message", [
    ("odd_width", r"1 of 2 image pairs cannot be used: .*bad\.png \(41x20: an odd width"),
    ("no_partner", r"1 of 3 files in .* have no partner .*lonely\.png"),
    ("size_mismatch", r"1 of 1 image pairs cannot be used: .*p\.png is 20x20 but .*p\.png is 24x20"),
    ("unreadable", r"1 of 2 image files cannot be read: .*broken\.png"),
    ("no_layout", r"holds no train pairs: expected DATA/train/"),
])
def test_bad_paired_files_are_named_in_one_error(tmp_path, case, message):
  if case == "odd_width":
    _png(str(tmp_path / "train" / "good.png"), _gradient(20, 40))
    _png(str(tmp_path / "train" / "bad.png"), _gradient(20, 41))
  elif case == "no_partner":
    _png(str(tmp_path / "trainA" / "p.png"), _gradient(20, 20))
    _png(str(tmp_path / "trainB" / "p.png"), _gradient(20, 20))
    _png(str(tmp_path / "trainB" / "lonely.png"), _gradient(20, 20))
  elif case == "size_mismatch":
    _png(str(tmp_path / "trainA" / "p.png"), _gradient(20, 20))
    _png(str(tmp_path / "trainB" / "p.png"), _gradient(20, 24))
  elif case == "unreadable":
    _png(str(tmp_path / "train" / "good.png"), _gradient(20, 40))
    (tmp_path / "train" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
  else:
    os.makedirs(tmp_path / "photos")
  with pytest.raises(ValueError, match=message):
    data.make_source("paired_folder", str(tmp_path), 16)


# ---------------------------------------------------------------------------------------
# What a user runs.
# ---------------------------------------------------------------------------------------


def _tool(name, *args, timeout=600):
  return subprocess.run([sys.executable, os.path.join(ROOT, "tools", name), *args],
                        capture_output=True, text=True, timeout=timeout, cwd=ROOT)


TINY = ["--image_size=32", "--generator_filters=4", "--discriminator_filters=4",
        "--discriminator_layers=1", "--batch_size=2", "--log_every=1", "--image_every=0"]


def test_train_evaluate_and_translate_from_the_flagfile(tmp_path):
  run = str(tmp_path / "run")
  proc = _tool("train.py", "--flagfile=configs/pix2pix_quick.flags", f"--model_dir={run}",
               "--train_steps=2", "--direction=BtoA", *TINY)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "Trained pix2pix on digits_thicken_paired to step 2" in proc.stdout
  metrics_path = str(tmp_path / "metrics.json")
  proc = _tool("evaluate.py", f"--model_dir={run}", "--num_samples=20", f"--output={metrics_path}")
  assert proc.returncode == 0, proc.stderr[-3000:]
  with open(metrics_path) as f:
    metrics = json.load(f)
  # One direction, measured against the truth and the paired target; no cycle.
  assert {"error_to_pair_b_to_a", "label_preservation_b_to_a", "fid_b_to_a",
          "fid_b_to_a_real_vs_real"} <= set(metrics)
  assert not any(k.startswith("cycle") for k in metrics)
  assert "error_to_truth" not in metrics  # thickening has no exact inverse
  image = tmp_path / "in.png"
  _png(str(image), _gradient(40, 40))
  proc = _tool("translate.py", f"--model_dir={run}", f"--input={image}",
               f"--output={tmp_path / 'out.png'}")
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "translated 1 image(s) b_to_a with pix2pix step 2" in proc.stdout
  assert Image.open(tmp_path / "out.png").size == (32, 32)
  proc = _tool("translate.py", f"--model_dir={run}", f"--input={image}",
               f"--output={tmp_path / 'x.png'}", "--direction=a_to_b")
  assert proc.returncode == 2
  assert "pix2pix in" in proc.stderr and "translates only b_to_a" in proc.stderr
  assert not (tmp_path / "x.png").exists()


def test_bad_paired_folder_stops_training_with_one_line_and_nothing_written(tmp_path):
  folder = tmp_path / "pairs"
  _png(str(folder / "train" / "bad.png"), _gradient(20, 41))
  run = tmp_path / "run"
  proc = _tool("train.py", "--model=pix2pix", "--dataset=paired_folder",
               f"--data_dir={folder}", f"--model_dir={run}", "--train_steps=1", *TINY)
  assert proc.returncode == 2
  errors = [l for l in proc.stderr.splitlines() if "odd width" in l]
  assert len(errors) == 1 and "bad.png" in errors[0]
  assert not (run / "checkpoints").exists()


_REPLICA_SCRIPT = r"""
import json, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
from tf_gans import training
training.split_cpu(2)
from tf_gans.models.pix2pix import Pix2PixConfig
# 64 px: the U-Net has a dropout layer. Instance norm: batch norm's statistics would
# differ between one batch of 2 and two batches of 1 by design (batch norm on two
# replicas: DiscoGAN's test_loop_under_mirrored_strategy_on_two_devices).
tiny = dict(image_size=64, generator_filters=4, discriminator_filters=4,
            discriminator_layers=1, batch_size=2, train_steps=3, log_every=1,
            checkpoint_every=3, image_every=0, steps_per_loop=1)
out = {}
probe = None
runs = (("one", "default", "instance", 64), ("two", "mirrored", "instance", 64))
for name, strategy, norm, size in [r for r in runs if r[0] in sys.argv[3].split(",")]:
  model_dir = f"{sys.argv[2]}/{name}"
  config = Pix2PixConfig(model_dir=model_dir, strategy=strategy, norm=norm,
                         **{**tiny, "image_size": size}).resolve()
  result = training.train(config)
  gan, _, source = training.load(model_dir)
  if probe is None:
    probe = source.take(2, seed=9)["a"]
  out[name] = {"step": result["step"],
               "replicas": training.make_strategy(strategy).num_replicas_in_sync,
               "translated": gan.translate(probe).numpy().tolist()}
print("RESULT " + json.dumps(out))
"""


@pytest.mark.slow
def test_two_replicas_train_what_one_replica_trains(tmp_path):
  proc = subprocess.run([sys.executable, "-c", _REPLICA_SCRIPT, ROOT, str(tmp_path), "one,two"],
                        capture_output=True, text=True, timeout=900)
  lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
  assert proc.returncode == 0 and lines, proc.stderr[-3000:]
  out = json.loads(lines[0][len("RESULT "):])
  assert [out[k]["replicas"] for k in ("one", "two")] == [1, 2]
  assert all(out[k]["step"] == 3 for k in out)
  # The same dropout masks and data whatever the replica count: the same weights. (Fit on
  # two replicas runs the same train_step: tests/test_cyclegan.py.) Only one model per
  # process: after a mirrored run of one architecture, a mirrored run of another in the
  # same process fails in TensorFlow's gradient all-reduce ("Shape mismatch in the
  # collective instance"); tools/train.py runs one model per process.
  np.testing.assert_allclose(out["two"]["translated"], out["one"]["translated"], atol=2e-3)
