"""Bad files and paths: one line naming them, exit status 2, nothing created or changed.

(Every flag's range is walked in tests/test_tools.py.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, run_tool
from tf_gans import config as config_lib
from tf_gans import data, training

TINY_TRAIN = ["--train_steps=1", "--log_every=1", "--checkpoint_every=1", "--image_every=0",
              "--steps_per_loop=1"]


def _one_error(proc) -> str:
  assert proc.returncode == 2, proc.stderr[-3000:]
  assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
  lines = [l for l in proc.stderr.splitlines() if l.startswith("error:")]
  assert len(lines) == 1, proc.stderr[-3000:]
  return lines[0]


def _snapshot(folder):
  return sorted((os.path.relpath(os.path.join(d, f), folder),
                 os.path.getmtime(os.path.join(d, f)))
                for d, _, files in os.walk(folder) for f in files)


def _png(path, value=100, size=12):
  Image.fromarray(np.full((size, size, 3), value, np.uint8)).save(path)


def _truncated_jpeg(path, size=24):
  rng = np.random.default_rng(0)
  Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(path, "JPEG")
  data_bytes = open(path, "rb").read()
  open(path, "wb").write(data_bytes[:len(data_bytes) // 2])


# -- paths that cannot be written ------------------------------------------------------------

def test_paths_under_a_file_are_one_line_naming_the_flag(tmp_path):
  blocker = tmp_path / "a_file"
  blocker.write_text("not a folder")
  line = _one_error(run_tool("tools/train.py", "--model=wgan", f"--model_dir={blocker}/run",
                             *TINY_TRAIN, check=False))
  assert "--model_dir" in line and str(blocker) in line and "is a file" in line
  line = _one_error(run_tool("tools/train.py", "--model=wgan", f"--model_dir={blocker}",
                             *TINY_TRAIN, check=False))
  assert "--model_dir" in line and "expected a folder" in line
  line = _one_error(run_tool("tools/export.py", f"--model_dir={tmp_path}/none",
                             f"--export_base={blocker}/exports", check=False))
  assert "--export_base" in line and "is a file" in line
  line = _one_error(run_tool("tools/sample.py", f"--model_dir={tmp_path}/none",
                             f"--output={blocker}/x.png", check=False))
  assert "--output" in line and "is a file" in line
  assert sorted(os.listdir(tmp_path)) == ["a_file"]


def _without_root_powers() -> list[str]:
  """A command prefix under which file permissions hold, also for root.

  Root passes every permission check; setpriv drops the capabilities that let it.
  """
  if os.geteuid() != 0:
    return []
  setpriv = shutil.which("setpriv")
  if setpriv is None:
    pytest.skip("the tests run as root and setpriv (util-linux) is missing to drop root's "
                "file-permission override")
  return [setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner"]


def _train_into(model_dir: str, prefix: list[str]) -> subprocess.CompletedProcess:
  env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "2"}
  return subprocess.run([*prefix, sys.executable, "tools/train.py", "--model=wgan",
                         f"--model_dir={model_dir}", *TINY_TRAIN], cwd=ROOT, env=env,
                        capture_output=True, text=True, timeout=300)


def test_a_folder_without_write_permission_is_one_line(tmp_path):
  locked = tmp_path / "locked"
  locked.mkdir()
  locked.chmod(0o555)  # readable, not writable
  try:
    line = _one_error(_train_into(str(locked / "run"), _without_root_powers()))
  finally:
    locked.chmod(0o755)
  assert "--model_dir" in line and "no permission to write" in line
  assert os.listdir(locked) == []


def test_a_read_only_file_system_is_one_line(tmp_path):
  unshare = shutil.which("unshare")
  if unshare is None or os.geteuid() != 0:
    pytest.skip("mounting a read-only file system needs root and unshare (util-linux)")
  mount = tmp_path / "ro"
  mount.mkdir()
  probe = subprocess.run([unshare, "--mount", "sh", "-c", f"mount -t tmpfs -o ro tmpfs {mount}"],
                         capture_output=True, text=True)
  if probe.returncode != 0:
    pytest.skip(f"this machine does not let root mount a file system ({probe.stderr.strip()})")
  # The tool runs in its own mount namespace, where `mount` is a read-only tmpfs.
  script = (f"mount -t tmpfs -o ro tmpfs {mount} && exec \"$@\"")
  line = _one_error(_train_into(str(mount / "run"), [unshare, "--mount", "sh", "-c", script, "sh"]))
  assert "--model_dir" in line and "read-only file system" in line


# -- data that cannot be read ----------------------------------------------------------------

def test_every_bad_file_of_a_class_folder_is_named_before_training(tmp_path):
  folder = tmp_path / "classes"
  for name in ("cats", "dogs"):
    (folder / name).mkdir(parents=True)
    for i in range(3):
      _png(folder / name / f"{i}.png", 40 * i)
  _truncated_jpeg(folder / "cats" / "torn.jpg")
  (folder / "dogs" / "empty.png").write_bytes(b"")
  (folder / "dogs" / "text.jpg").write_text("not an image")
  run = tmp_path / "run"
  line = _one_error(run_tool("tools/train.py", "--model=cgan", "--dataset=folder",
                             f"--data_dir={folder}", "--image_size=8", f"--model_dir={run}",
                             "--batch_size=4", *TINY_TRAIN, check=False))
  assert "3 of 9 image files cannot be read" in line
  for name in ("torn.jpg", "empty.png", "text.jpg"):
    assert name in line
  assert not run.exists()


def test_every_bad_file_of_a_translation_folder_is_named_before_training(tmp_path):
  for split in ("trainA", "trainB"):
    (tmp_path / "data" / split).mkdir(parents=True)
    for i in range(2):
      _png(tmp_path / "data" / split / f"{i}.png", 60 * i, size=40)
  _truncated_jpeg(tmp_path / "data" / "trainA" / "cut.jpg", size=40)
  _truncated_jpeg(tmp_path / "data" / "trainB" / "cut_too.jpg", size=40)
  with pytest.raises(ValueError, match=r"2 of 6 image files cannot be read: .*cut\.jpg.*"
                     r"cut_too\.jpg"):
    data.make_source("unpaired_folder", str(tmp_path / "data"), 32)


def test_the_image_check_decodes_only_changed_files_on_resume(tmp_path, monkeypatch):
  from tf_gans.data import images
  paths = []
  for i in range(4):
    paths.append(str(tmp_path / f"{i}.png"))
    _png(paths[-1], 50 * i)
  known = images.check_image_files(paths)
  assert sorted(known) == sorted(paths)
  decoded = []
  real = images.tf.data.Dataset.from_tensor_slices
  monkeypatch.setattr(images.tf.data.Dataset, "from_tensor_slices",
                      lambda x: decoded.append(len(x)) or real(x))
  os.utime(paths[2], ns=(1, 1))  # changed: decoded again
  again = images.check_image_files(paths, known)
  assert sorted(again) == sorted(paths) and decoded == [1]
  images.check_image_files(paths, again)
  assert decoded == [1]  # nothing changed since: nothing decoded


def test_a_one_class_folder_is_refused_for_the_conditional_gan(tmp_path):
  (tmp_path / "only").mkdir()
  for i in range(3):
    _png(tmp_path / "only" / f"{i}.png", 30 * i)
  from tf_gans.models.cgan import CGANConfig
  config = CGANConfig(dataset="folder", data_dir=str(tmp_path), image_size=8,
                      model_dir=str(tmp_path / "run")).resolve()
  with pytest.raises(ValueError, match="at least 2 classes; dataset 'folder' has 1"):
    training.build(config)


def test_a_damaged_config_json_is_named(tmp_path):
  (tmp_path / "config.json").write_text('{"model": "wgan", "train_st')
  with pytest.raises(ValueError, match=r"config\.json is not readable JSON"):
    config_lib.load_saved_config(str(tmp_path))
  line = _one_error(run_tool("tools/sample.py", f"--model_dir={tmp_path}", check=False))
  assert f"{tmp_path}/config.json" in line
  assert sorted(os.listdir(tmp_path)) == ["config.json"]


def test_an_evaluation_that_fails_writes_no_output(tmp_path):
  out = tmp_path / "metrics.json"
  _one_error(run_tool("tools/evaluate.py", f"--model_dir={tmp_path}/none", f"--output={out}",
                      check=False))
  assert not out.exists()
