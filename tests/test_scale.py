"""Runs at scale and on bad days: preemption of any worker, torn checkpoints, and TFDS
data read by index instead of held in memory."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from conftest import ROOT, run_tool
from tf_gans import data, training
from tf_gans.training.strategy import free_localhost_ports
from tf_gans.models.wgan import WGANConfig

# A tiny WGAN-GP from the toy flagfile; the learning-rate schedule's length is given, so
# runs of different lengths share it (a resumed run keeps its saved one anyway).
TINY = ["--flagfile=configs/wgan_toy.flags", "--nojit_compile", "--hidden_units=16",
        "--hidden_layers=2", "--batch_size=16", "--log_every=1", "--checkpoint_every=1000",
        "--image_every=0", "--steps_per_loop=1", "--lr_decay_steps=1000"]
PREEMPTED = training.PREEMPTED_EXIT_CODE


def _env(**extra) -> dict:
  return {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "2", **extra}



_STARTED: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def _no_leftover_workers():
  """A failed test must not leave training processes behind."""
  yield
  while _STARTED:
    proc = _STARTED.pop()
    if proc.poll() is None:
      proc.kill()
      proc.wait()


def _start(model_dir, flags, workers=1, logs=None):
  """Starts tools/train.py as `workers` localhost workers (1: a plain process)."""
  ports = free_localhost_ports(workers)
  procs = []
  for i in range(workers):
    extra = {}
    if workers > 1:
      extra["TF_CONFIG"] = json.dumps({"cluster": {"worker": [f"localhost:{p}" for p in ports]},
                                       "task": {"type": "worker", "index": i}})
    log = open(logs[i], "w") if logs else subprocess.PIPE
    procs.append(subprocess.Popen(
        [sys.executable, "tools/train.py", f"--model_dir={model_dir}", *flags,
         *(["--strategy=multi_worker"] if workers > 1 else [])],
        cwd=ROOT, env=_env(**extra), stdout=log, stderr=subprocess.STDOUT, text=True))
  _STARTED.extend(procs)
  return procs


def _wait_for_step(procs, log_path, step, timeout=300):
  deadline = time.time() + timeout
  pattern = re.compile(r"step (\d+)/")
  while time.time() < deadline:
    with open(log_path) as f:
      text = f.read()
    if any(int(m.group(1)) >= step for m in pattern.finditer(text)):
      return
    if any(p.poll() is not None for p in procs):
      raise AssertionError(f"a worker exited before step {step}: {text[-3000:]}")
    time.sleep(0.1)
  raise AssertionError(f"no step {step} in {log_path} after {timeout} s")


def _weights(model_dir):
  path = tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints"))
  reader = tf.train.load_checkpoint(path)
  return path, {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
                if "OBJECT_GRAPH" not in k and not k.startswith(("save_counter",
                                                                  "checkpointed_runs"))}


def _assert_same_weights(a_dir, b_dir):
  a_path, a = _weights(a_dir)
  b_path, b = _weights(b_dir)
  assert os.path.basename(a_path) == os.path.basename(b_path)
  assert a.keys() == b.keys() and len(a) > 10
  for key in a:
    np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def _preempt_and_resume(tmp_path, api, workers, target):
  """SIGTERM to worker `target` mid-run; returns the checkpointed step."""
  run = str(tmp_path / "run")
  flags = [*TINY, f"--api={api}", "--train_steps=100000"]
  logs = [str(tmp_path / f"w{i}.log") for i in range(workers)]
  procs = _start(run, flags, workers, logs)
  _wait_for_step(procs, logs[target], 3)
  procs[target].send_signal(signal.SIGTERM)
  sent = time.time()
  codes = [p.wait(timeout=120) for p in procs]
  texts = [open(log).read() for log in logs]
  assert codes == [PREEMPTED] * workers, texts[0][-3000:]
  assert time.time() - sent < 60
  steps = [int(re.search(r"step (\d+): stopped by SIGTERM, checkpoint", t).group(1))
           for t in texts]
  assert len(set(steps)) == 1, steps  # every worker stopped at the same step
  step = steps[0]
  assert tf.train.latest_checkpoint(os.path.join(run, "checkpoints")).endswith(f"ckpt-{step}")
  assert not [d for d in os.listdir(run) if d.startswith(".worker")]
  # Rerun the same command (ending a few steps later); it resumes where it stopped.
  end = step + 3
  procs = _start(run, [*flags[:-1], f"--train_steps={end}"], workers, logs)
  codes = [p.wait(timeout=300) for p in procs]
  assert codes == [0] * workers, open(logs[0]).read()[-3000:]
  assert f"at step {step}" in open(logs[0]).read()
  # An uninterrupted run of the same length ends with the same weights, bit for bit.
  straight = str(tmp_path / "straight")
  saved = json.load(open(os.path.join(run, "config.json")))
  one_process = str(tmp_path / "one_process")
  training.train(WGANConfig(**{**saved, "model_dir": one_process, "train_steps": end,
                               "strategy": "default"}).resolve())
  if workers == 1:  # the same run in this process
    _assert_same_weights(run, one_process)
    return step
  if api == "loop":
    # Bit-equal to a straight two-worker run (the loop's case stands for fit's: both
    # drivers save and restore through the same checkpoint code; fit's run is held to
    # the one-process run below, and bit-equal in the one-process test).
    _assert_same_straight_run(run, straight, flags, end, workers, tmp_path)
  # Two workers train what one process trains on the same global batch (summed in
  # another order: equal up to rounding).
  _, two = _weights(run)
  _, one = _weights(one_process)
  for key in two:
    np.testing.assert_allclose(two[key], one[key], atol=1e-5, err_msg=key)
  return step


def _assert_same_straight_run(run, straight, flags, end, workers, tmp_path):
  procs = _start(straight, [*flags[:-1], f"--train_steps={end}"], workers,
                 [str(tmp_path / f"s{i}.log") for i in range(workers)])
  assert [p.wait(timeout=300) for p in procs] == [0] * workers
  _assert_same_weights(run, straight)


@pytest.mark.parametrize("api", ["loop", "fit"])
def test_sigterm_to_the_non_chief_checkpoints_both_workers_and_the_rerun_equals_a_straight_run(
    tmp_path, api):
  _preempt_and_resume(tmp_path, api, workers=2, target=1)


@pytest.mark.parametrize("api", ["loop", "fit"])
def test_sigterm_to_one_process_checkpoints_exits_42_and_the_rerun_equals_a_straight_run(
    tmp_path, api):
  _preempt_and_resume(tmp_path, api, workers=1, target=0)


def test_fit_saves_at_checkpoint_every_not_at_its_log_interval(tmp_path):
  config = WGANConfig(dataset="8gaussians", model_dir=str(tmp_path / "run"), api="fit",
                      train_steps=9, log_every=2, checkpoint_every=4, steps_per_loop=1,
                      hidden_units=8, hidden_layers=1, batch_size=8, image_every=0,
                      keep_checkpoints=10).resolve()
  training.train(config)
  saved = sorted(int(p.rsplit("-", 1)[1]) for p in
                 tf.train.get_checkpoint_state(os.path.join(config.model_dir,
                                                            "checkpoints")).all_model_checkpoint_paths)
  assert saved == [4, 8, 9]  # every 4 steps and the end; not every log interval (2)


# -- torn checkpoints ---------------------------------------------------------------------

def _tiny_run(model_dir, steps):
  return run_tool("tools/train.py", f"--model_dir={model_dir}", *TINY, "--checkpoint_every=2",
                  f"--train_steps={steps}")


def _tiny_run_here(model_dir, steps, like=None):
  """The run _tiny_run makes, in this process (`like`: a model_dir whose settings to use)."""
  if like is None:
    _tiny_run(model_dir, steps)
    return
  saved = json.load(open(os.path.join(like, "config.json")))
  training.train(WGANConfig(**{**saved, "model_dir": model_dir, "train_steps": steps}).resolve())


def _tear(model_dir, step):
  folder = os.path.join(model_dir, "checkpoints")
  data_file = [f for f in os.listdir(folder) if f.startswith(f"ckpt-{step}.data")][0]
  path = os.path.join(folder, data_file)
  os.truncate(path, os.path.getsize(path) // 2)


def _snapshot(folder):
  return {os.path.relpath(os.path.join(d, f), folder): os.path.getmtime(os.path.join(d, f))
          for d, _, files in os.walk(folder) for f in files}


def test_a_torn_newest_checkpoint_is_named_and_the_run_resumes_from_the_one_before(tmp_path):
  run, straight = str(tmp_path / "run"), str(tmp_path / "straight")
  _tiny_run(run, 4)
  _tiny_run_here(straight, 6, like=run)
  _tear(run, 4)
  config_before = open(os.path.join(run, "config.json")).read()

  # Reading tools warn, use ckpt-2 and change nothing in the model_dir.
  before = _snapshot(run)
  proc = run_tool("tools/sample.py", f"--model_dir={run}", f"--output={tmp_path}/s.png")
  warnings = [l for l in proc.stderr.splitlines() if "cannot be read" in l]
  assert len(warnings) == 1 and "ckpt-4" in warnings[0], proc.stderr[-2000:]
  assert _snapshot(run) == before

  # Training resumes from ckpt-2, sets the torn files aside and finishes the run.
  proc = _tiny_run(run, 6)
  assert "ckpt-4 cannot be read" in proc.stderr and "at step 2" in proc.stderr
  assert sorted(os.listdir(os.path.join(run, "checkpoints", "unreadable"))) == [
      "ckpt-4.data-00000-of-00001", "ckpt-4.index"]
  assert json.loads(open(os.path.join(run, "config.json")).read())["train_steps"] == 6
  assert json.loads(config_before)["train_steps"] == 4
  _assert_same_weights(run, straight)
  # The torn ckpt-4 is off the list; the good ckpt-4 the resumed run wrote is on it.
  from tf_gans.training import checkpoints
  assert [os.path.basename(p) for p in checkpoints.listed_checkpoints(
      os.path.join(run, "checkpoints"))] == ["ckpt-6", "ckpt-4", "ckpt-2"]
  # The next start has nothing to warn about; torn again, ckpt-4 is kept beside the first.
  _tear(run, 6)
  _tear(run, 4)
  proc = _tiny_run(run, 8)
  assert "ckpt-6 cannot be read" in proc.stderr and "ckpt-4 cannot be read" in proc.stderr
  assert "at step 2" in proc.stderr
  assert sorted(os.listdir(os.path.join(run, "checkpoints", "unreadable"))) == [
      "ckpt-4.1.data-00000-of-00001", "ckpt-4.1.index", "ckpt-4.data-00000-of-00001",
      "ckpt-4.index", "ckpt-6.data-00000-of-00001", "ckpt-6.index"]
  assert [os.path.basename(p) for p in checkpoints.listed_checkpoints(
      os.path.join(run, "checkpoints"))][:3] == ["ckpt-8", "ckpt-6", "ckpt-4"]
  proc = run_tool("tools/sample.py", f"--model_dir={run}", f"--output={tmp_path}/s.png")
  assert "cannot be read" not in proc.stderr


def test_no_readable_checkpoint_is_one_error_and_nothing_is_rewritten(tmp_path):
  run = str(tmp_path / "run")
  _tiny_run(run, 2)
  _tear(run, 2)
  before = _snapshot(run)
  config_before = open(os.path.join(run, "config.json")).read()
  proc = run_tool("tools/train.py", f"--model_dir={run}", *TINY, "--train_steps=6",
                  check=False)
  assert proc.returncode == 2, proc.stderr[-2000:]
  errors = [l for l in proc.stderr.splitlines() if l.startswith("error:")]
  assert len(errors) == 1 and "ckpt-2" in errors[0] and "Traceback" not in proc.stderr
  assert open(os.path.join(run, "config.json")).read() == config_before
  assert _snapshot(run) == before


# -- TFDS by index ------------------------------------------------------------------------

class _CountingSource:
  """A random-access sequence that records which indices were read."""

  def __init__(self, inner):
    self.inner, self.read = inner, []

  def __len__(self):
    return len(self.inner)

  def __getitem__(self, index):
    self.read.append(int(index))
    return self.inner[index]

  def __getattr__(self, name):
    return getattr(self.inner, name)


def test_a_tfds_dataset_is_read_by_index_and_each_pipeline_reads_its_own_examples(
    tmp_path, monkeypatch):
  import tensorflow_datasets as tfds
  from helpers import tiny_tfds
  size, batch_size, seed = 200, 8, 5
  name = tiny_tfds.prepare(str(tmp_path / "tfds"), num_train=size)
  sources = []
  real = tfds.data_source

  def counting(*args, **kwargs):
    sources.append(_CountingSource(real(*args, **kwargs)))
    return sources[-1]

  monkeypatch.setattr(tfds, "data_source", counting)
  source = data.make_source(f"tfds/{name}", str(tmp_path / "tfds"))
  group = source.groups["x"]
  assert group.arrays is None and group.size == size  # nothing held in memory
  assert tuple(source.info["image_shape"]) == (16, 16, 1) and source.info["num_classes"] == 4

  # Which examples each of two input pipelines (one per replica) needs in the first epoch,
  # from the same pipeline over an in-memory index.
  index = data.Source(name="index", kind="images", groups={
      "x": data.Group(size=size, arrays={"x": np.arange(size), "label": np.zeros(size, np.int32)})})
  contexts = [tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=p,
                                         num_replicas_in_sync=2) for p in range(2)]
  steps_per_epoch = size // batch_size
  needed = []
  for context in contexts:
    ds = data.make_dataset(index, global_batch=batch_size, seed=seed, num_replicas=2,
                           input_context=context)
    needed.append({int(i) for b in ds.take(steps_per_epoch) for i in b["x"].numpy()})
  assert not needed[0] & needed[1] and len(needed[0] | needed[1]) == size

  batches = []
  for p, context in enumerate(contexts):
    sources[0].read.clear()
    ds = data.make_dataset(source, global_batch=batch_size, seed=seed, num_replicas=2,
                           input_context=context)
    iterator = iter(ds)
    batches.append(next(iterator))
    next(iterator)
    time.sleep(0.5)  # let the prefetching settle
    read = list(sources[0].read)
    if 0 in read and 0 not in needed[p]:
      read.remove(0)  # index 0 is read once to learn the features' types
    assert read and set(read) <= needed[p], (p, sorted(set(read) - needed[p]))
  # The two pipelines' halves make the global batch that one pipeline makes.
  whole = next(iter(data.make_dataset(source, global_batch=batch_size, seed=seed)))
  np.testing.assert_array_equal(np.concatenate([b["x"] for b in batches]), whole["x"])
  np.testing.assert_array_equal(np.concatenate([b["label"] for b in batches]), whole["label"])
  # Decoded from the stored PNGs: the bright square sits where the label says.
  image = (whole["x"].numpy()[0, ..., 0] + 1) * 127.5
  row, col = divmod(int(whole["label"][0]), 2)
  assert image[row * 8 + 2:row * 8 + 6, col * 8 + 2:col * 8 + 6].min() > 200


def test_a_tfds_dataset_trains_with_the_tools(tmp_path):
  from helpers import tiny_tfds
  name = tiny_tfds.prepare(str(tmp_path / "tfds"), num_train=24)
  run = str(tmp_path / "run")
  proc = run_tool("tools/train.py", "--model=cgan", f"--dataset=tfds/{name}",
                  f"--data_dir={tmp_path / 'tfds'}", "--image_size=16", f"--model_dir={run}",
                  "--train_steps=2", "--batch_size=8", "--base_channels=8", "--log_every=1",
                  "--checkpoint_every=2", "--image_every=0", "--steps_per_loop=1",
                  "--feature_units=16")
  assert "step 2/2" in proc.stderr


def test_a_tfds_dataset_stored_as_tfrecords_says_how_to_convert_it(tmp_path):
  from helpers import tiny_tfds
  builder = tiny_tfds.TinyTfdsDigits(data_dir=str(tmp_path), num_train=8, file_format="tfrecord")
  builder.download_and_prepare()
  with pytest.raises(ValueError, match=r"stored as TFRecords.*tfds convert_format.*"
                     r"--out_file_format=array_record"):
    data.make_source(f"tfds/{tiny_tfds.NAME}", str(tmp_path))
