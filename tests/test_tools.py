"""What a user does with the tools: train from a flagfile, resume, sample, evaluate,
stop a run with SIGTERM, and make mistakes."""

from __future__ import annotations

import json
import os

import pytest
import tensorflow as tf
from PIL import Image

from conftest import run_tool
from tf_gans import data, training
from tf_gans.config import check_resume_compatible
from tf_gans.models.wgan import WGANConfig

TINY_FLAGS = ["--hidden_units=16", "--hidden_layers=2", "--batch_size=16", "--log_every=2",
              "--checkpoint_every=2", "--image_every=2", "--steps_per_loop=2"]


def test_train_from_flagfile_resume_sample_and_evaluate(tmp_path):
  model_dir = str(tmp_path / "toy")
  first = run_tool("tools/train.py", "--flagfile=configs/wgan_toy.flags", f"--model_dir={model_dir}",
                   "--train_steps=4", *TINY_FLAGS, env={"TF_CPP_MIN_LOG_LEVEL": None})
  assert "step 4/4" in first.stderr
  # A quiet start: none of TensorFlow's start-up lines, none of its INFO lines, and a
  # progress line that fits 100 columns.
  for noise in ("absl::InitializeLog", "cuda drivers", "cuInit", "Sharding callback",
                "cpu_feature_guard", "INFO:tensorflow"):
    assert noise not in first.stderr, first.stderr
  progress = [l for l in first.stderr.splitlines() if "step " in l and "/4" in l]
  assert progress and all(len(l) <= 100 for l in progress), progress
  # The closing summary says where things are and what to run next, for this model_dir.
  assert "Trained wgan on 8gaussians to step 4" in first.stdout
  for expected in (f"{model_dir}/checkpoints/ckpt-4", f"{model_dir}/config.json",
                   f"{model_dir}/samples.png", f"tensorboard --logdir {model_dir}",
                   f"tools/evaluate.py --model_dir={model_dir}",
                   f"tools/export.py --model_dir={model_dir}"):
    assert expected in first.stdout, first.stdout
  saved = json.load(open(os.path.join(model_dir, "config.json")))
  # Flagfile values, overridden by the command line after it.
  assert saved["dataset"] == "8gaussians" and saved["gp_weight"] == 0.1
  assert saved["hidden_units"] == 16 and saved["train_steps"] == 4
  second = run_tool("tools/train.py", "--flagfile=configs/wgan_toy.flags", f"--model_dir={model_dir}",
                    "--train_steps=6", *TINY_FLAGS)
  assert "resumed from" in second.stderr and "at step 4" in second.stderr
  assert "step 6/6" in second.stderr
  assert tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints")).endswith("ckpt-6")
  assert os.listdir(os.path.join(model_dir, "train"))  # TensorBoard events
  samples = Image.open(os.path.join(model_dir, "samples.png"))
  assert samples.size[0] >= 300 and samples.size[1] >= 300

  out = tmp_path / "s.png"
  run_tool("tools/sample.py", f"--model_dir={model_dir}", f"--output={out}")
  assert Image.open(out).size == samples.size
  report = tmp_path / "m.json"
  proc = run_tool("tools/evaluate.py", f"--model_dir={model_dir}", "--num_samples=500",
                  f"--output={report}")
  metrics = json.load(open(report))
  assert metrics["num_modes"] == 8 and 0 <= metrics["modes_captured"] <= 8
  assert 0.0 <= metrics["high_quality"] <= 1.0
  assert metrics["earth_movers_distance"] > metrics["earth_movers_distance_real_vs_real"]
  assert "modes_captured" in proc.stdout


# -- mistakes -----------------------------------------------------------------------------

def _error_line(proc) -> str:
  assert proc.returncode != 0
  lines = [l for l in proc.stderr.strip().splitlines() if l.startswith("error:")]
  assert len(lines) == 1, proc.stderr[-2000:]
  assert "Traceback" not in proc.stderr
  return lines[0]


@pytest.mark.parametrize("tool,flags", [
    ("sample.py", ["--model_dir", "--checkpoint", "--num", "--output", "--seed"]),
    ("evaluate.py", ["--model_dir", "--num_samples", "--output"]),
    ("export.py", ["--model_dir", "--export_base", "--max_batch", "--max_image_pixels"]),
    ("translate.py", ["--model_dir", "--input", "--output"]),
    ("serve_client.py", ["--server", "--model_name", "--timeout"])])
def test_help_lists_the_tools_own_flags_with_what_they_accept(tool, flags):
  out = run_tool(f"tools/{tool}", "--help", check=False).stdout
  listed = {line.split(":")[0].strip() for line in out.splitlines() if line.startswith("  --")}
  assert set(flags) <= listed, out
  assert "[" in out  # the accepted values, e.g. "[in [1, 4096]]"


def test_unknown_model_is_one_line_and_writes_nothing(tmp_path):
  proc = run_tool("tools/train.py", "--model=wgann", f"--model_dir={tmp_path}/x", check=False)
  line = _error_line(proc)
  assert "--model=wgann" in line and "wgan" in line
  assert not os.path.exists(tmp_path / "x")


def test_model_dir_of_another_run_is_refused_and_left_intact(tmp_path):
  config = WGANConfig(dataset="8gaussians", model_dir=str(tmp_path / "run"), train_steps=2,
                      hidden_units=8, batch_size=8, log_every=2, image_every=0).resolve()
  training.train(config)
  before = {f: os.path.getmtime(os.path.join(dp, f)) for dp, _, fs in os.walk(config.model_dir)
            for f in fs}
  proc = run_tool("tools/train.py", "--dataset=digits", f"--model_dir={config.model_dir}",
                  "--train_steps=4", check=False)
  line = _error_line(proc)
  assert "dataset: '8gaussians' -> 'digits'" in line
  after = {f: os.path.getmtime(os.path.join(dp, f)) for dp, _, fs in os.walk(config.model_dir)
           for f in fs}
  assert before == after


def test_missing_flagfile_is_reported(tmp_path):
  proc = run_tool("tools/train.py", f"--flagfile={tmp_path}/nope.flags", check=False)
  assert proc.returncode != 0 and "nope.flags" in proc.stderr


@pytest.mark.parametrize("call, message", [
    (lambda tmp: training.make_strategy("tpu"), "strategy 'tpu' is not one of: default, mirrored, multi_worker"),
    (lambda tmp: training.set_precision("float8"), "precision 'float8' is not one of: float32, mixed_float16, mixed_bfloat16"),
    (lambda tmp: data.make_source("imagenet"), "unknown dataset 'imagenet'; known datasets:"),
    (lambda tmp: data.make_source("folder", str(tmp / "none")), "does not exist"),
    (lambda tmp: data.make_source("folder", str(tmp)), "holds no images"),
    (lambda tmp: data.make_dataset(data.toy_source("ring"), global_batch=10, seed=0, num_replicas=4),
     "batch size 10 is not divisible by the 4 replicas"),
    (lambda tmp: WGANConfig(lipschitz="l2").resolve(), "lipschitz must be one of: clip, gp, spectral, got 'l2'"),
    (lambda tmp: WGANConfig(train_steps=0).resolve(), "train_steps must be >= 1, got 0"),
    (lambda tmp: check_resume_compatible({"model": "cgan"}, WGANConfig(model_dir="d").resolve()),
     "holds a 'cgan' run, not 'wgan'"),
])
def test_bad_input_names_the_value_and_what_is_accepted(tmp_path, call, message):
  with pytest.raises(ValueError) as info:
    call(tmp_path)
  assert message in str(info.value)


def test_multi_worker_without_tf_config_is_explained(monkeypatch):
  monkeypatch.delenv("TF_CONFIG", raising=False)
  with pytest.raises(ValueError, match="needs the TF_CONFIG environment variable"):
    training.make_strategy("multi_worker")


# -- every flag of every tool ---------------------------------------------------------------

@pytest.mark.parametrize("tool", ["train", "sample", "evaluate", "export", "translate",
                                  "serve_client"])
def test_every_flag_outside_its_declared_range_is_one_line_exit_2_and_writes_nothing(
    tmp_path, tool):
  work = tmp_path / "work"
  proc = run_tool("tests/helpers/bad_flags.py", tool, str(work))
  result = json.loads(proc.stdout.strip().splitlines()[-1])
  # A flag that takes numbers or names must declare which (bools and paths need not).
  assert result["undeclared"] == [], result["undeclared"]
  assert result["cases"], "no flag with a declared range was found"
  for case in result["cases"]:
    assert case["code"] == 2, case
    assert not case["traceback"], case
    assert len(case["errors"]) == 1, case
    line = case["errors"][0].replace("'", "")
    assert f"--{case['flag']}=" in line and case["value"] in line, case
  assert not work.exists() or not any(work.iterdir())
