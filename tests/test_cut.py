"""CUT and FastCUT: the PatchNCE loss, the model's loss, its defaults, tools, replicas."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from conftest import run_tool
from tf_gans import losses
from tf_gans.models.cut import CUTConfig, default_nce_layers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def nce_by_hand(query, key, temperature):
  """Eq. 3 of Park et al. written out patch by patch, negatives from the same image."""
  values = []
  for q_image, k_image in zip(query, key):
    for i, q in enumerate(q_image):
      logits = [q @ k_image[i]] + [q @ k if j != i else -10.0 for j, k in enumerate(k_image)]
      logits = np.array(logits) / temperature
      values.append(np.log(np.exp(logits).sum()) - logits[0])
  return np.mean(values)


def test_patch_nce_loss_is_the_papers_formula_on_hand_made_features():
  # Two images, three patches, 2-d unit features.
  query = np.array([[[1, 0], [0, 1], [0.6, 0.8]],
                    [[0.8, 0.6], [-1, 0], [0, -1]]], np.float32)
  key = np.array([[[1, 0], [0.6, 0.8], [0, 1]],
                  [[0, 1], [-0.6, 0.8], [0, -1]]], np.float32)
  for temperature in (1.0, 0.07):
    assert float(losses.patch_nce_loss(query, key, temperature)) == pytest.approx(
        nce_by_hand(query, key, temperature), rel=1e-5)
  # A query that matches its own key far better than the others: loss near 0; a query
  # equally close to every key: log(number of candidates), P + 1 = 4 minus the masked one.
  assert float(losses.patch_nce_loss(query[:1, :2], query[:1, :2], 0.07)) < 1e-5
  same = np.ones((1, 3, 2), np.float32) / np.sqrt(2)
  assert float(losses.patch_nce_loss(same, same, 1.0)) == pytest.approx(np.log(3), rel=1e-4)
  # No gradient flows into the keys (the reference detaches them).
  q, k = tf.Variable(query), tf.Variable(key)
  with tf.GradientTape() as tape:
    loss = losses.patch_nce_loss(q, k, 0.07)
  grad_q, grad_k = tape.gradient(loss, [q, k])
  assert grad_k is None and float(tf.reduce_sum(tf.abs(grad_q))) > 0
  with pytest.raises(ValueError, match="same shape"):
    losses.patch_nce_loss(query, key[:, :2], 0.07)
  with pytest.raises(ValueError, match="temperature"):
    losses.patch_nce_loss(query, key, 0.0)


def test_modes_set_the_reference_codes_defaults():
  cut = CUTConfig(model_dir="unused").resolve()
  assert (cut.gan_loss, cut.nce_weight, cut.nce_identity, cut.flip_equivariance,
          cut.num_patches, cut.nce_temperature, cut.projection_units, cut.num_res_blocks,
          cut.pool_size, cut.batch_size, cut.learning_rate, cut.beta_1, cut.lr_decay_start,
          cut.norm) == ("least_squares", 1.0, True, False, 256, 0.07, 256, 9, 0, 1, 2e-4,
                        0.5, 0.5, "instance")
  assert cut.nce_layers == "c7s1_pad,d128,d256,r0_add,r4_add"
  fast = CUTConfig(model_dir="unused", cut_mode="fastcut").resolve()
  assert (fast.nce_weight, fast.nce_identity, fast.flip_equivariance,
          fast.lr_decay_start) == (10.0, False, True, 0.75)
  # A setting given explicitly wins over the mode's preset.
  mixed = CUTConfig(model_dir="unused", cut_mode="fastcut", nce_identity=True).resolve()
  assert mixed.nce_identity and mixed.nce_weight == 10.0
  assert default_nce_layers(16, 2) == ("c7s1_pad", "d32", "d64", "r0_add", "r1_add")
  assert default_nce_layers(16, 0) == ("c7s1_pad", "d32", "d64")
  with pytest.raises(ValueError, match="no pool"):
    CUTConfig(model_dir="unused", pool_size=50).resolve()
  with pytest.raises(ValueError, match="multiple of 4"):
    CUTConfig(model_dir="unused", image_size=34).resolve()


def _tiny_cut(**overrides):
  from tf_gans import training
  config = CUTConfig(model_dir="unused", image_size=16, generator_filters=4,
                     discriminator_filters=4, num_res_blocks=1, discriminator_layers=1,
                     batch_size=2, num_patches=8, projection_units=8, **overrides).resolve()
  gan, source = training.build(config)
  return gan, source


def test_generator_loss_adds_the_weighted_nce_terms_of_each_mode():
  from tf_gans import data
  batch = data.make_source("digits_thicken").take(2, seed=0)
  batch = {k: tf.constant(batch[k]) for k in ("a", "b")}
  gan, _ = _tiny_cut(nce_weight=3.0)
  total, metrics = gan._generator_loss(batch, 0)
  assert float(total) == pytest.approx(
      float(metrics["adversarial_loss"])
      + 3.0 * 0.5 * (float(metrics["nce_loss"]) + float(metrics["nce_identity_loss"])), rel=1e-5)
  # The A term is PatchNCE between a and G(a), averaged over the five layers.
  no_flip = tf.constant(False)
  expected = gan.nce_loss(batch["a"], gan.generator(batch["a"], training=True), no_flip)
  assert float(metrics["nce_loss"]) == pytest.approx(float(expected), rel=1e-5)

  fast, _ = _tiny_cut(cut_mode="fastcut")
  total, metrics = fast._generator_loss(batch, 0)
  assert "nce_identity_loss" not in metrics
  assert float(total) == pytest.approx(
      float(metrics["adversarial_loss"]) + 10.0 * float(metrics["nce_loss"]), rel=1e-5)
  # One coin per step, the same in both update groups; it lands both ways over steps.
  coins = []
  for step in range(12):
    fast.train_counter.assign(step)
    coins.append(bool(fast._flip()))
    assert bool(fast._flip()) == coins[-1]
  assert len(set(coins)) == 2
  with pytest.raises(ValueError, match="names no layer of the generator: r9_add"):
    _tiny_cut(nce_layers="c7s1_pad,r9_add")


def _png(path, array):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  Image.fromarray(array).save(path)


def test_paper_flagfile_trains_from_a_folder_then_translates(tmp_path):
  rng = np.random.default_rng(0)
  for domain in ("trainA", "trainB", "testA", "testB"):
    for i in range(3):
      _png(str(tmp_path / "data" / domain / f"{i}.png"),
           rng.integers(0, 256, (40, 40, 3), dtype=np.uint8))
  run = str(tmp_path / "run")
  proc = run_tool("tools/train.py", "--flagfile=configs/cut.flags",
                  f"--data_dir={tmp_path / 'data'}", f"--model_dir={run}", "--train_steps=2",
                  "--image_size=32", "--load_size=36", "--generator_filters=4",
                  "--discriminator_filters=4", "--num_res_blocks=1", "--num_patches=16",
                  "--projection_units=8", "--log_every=1", "--image_every=0", timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "Trained cut on unpaired_folder to step 2" in proc.stdout
  with open(os.path.join(run, "config.json")) as f:
    saved = json.load(f)
  assert (saved["nce_identity"], saved["nce_weight"], saved["pool_size"]) == (True, 1.0, 0)
  proc = run_tool("tools/translate.py", f"--model_dir={run}",
                  f"--input={tmp_path / 'data' / 'testA'}", f"--output={tmp_path / 'out'}")
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "translated 3 image(s) a_to_b with cut step 2" in proc.stdout
  assert sorted(os.listdir(tmp_path / "out")) == ["0.png", "1.png", "2.png"]


_REPLICA_SCRIPT = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from tf_gans import training
training.split_cpu(2)
from tf_gans.models.cut import CUTConfig
tiny = dict(image_size=16, generator_filters=4, discriminator_filters=4, num_res_blocks=1,
            discriminator_layers=1, batch_size=2, num_patches=8, projection_units=8,
            cut_mode="fastcut", train_steps=3, log_every=1, checkpoint_every=3,
            image_every=0, steps_per_loop=1)
out, probe = {}, None
for name, strategy in (("one", "default"), ("two", "mirrored")):
  model_dir = f"{sys.argv[2]}/{name}"
  result = training.train(CUTConfig(model_dir=model_dir, strategy=strategy, **tiny).resolve())
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
  proc = run_tool("-c", _REPLICA_SCRIPT, ROOT, str(tmp_path), timeout=900)
  lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
  assert proc.returncode == 0 and lines, proc.stderr[-3000:]
  out = json.loads(lines[0][len("RESULT "):])
  assert [out[k]["replicas"] for k in ("one", "two")] == [1, 2]
  assert all(out[k]["step"] == 3 for k in out)
  # The same patches and flips on every replica and the same data: the same weights.
  np.testing.assert_allclose(out["two"]["translated"], out["one"]["translated"], atol=2e-3)
