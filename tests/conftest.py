"""Shared test fixtures: tiny configs, a clean Keras policy, the repository root."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


# Files by how long they take, longest first (a full run's --durations): pytest-xdist hands
# whole files (--dist loadfile) to whichever worker is free, so starting with the longest
# keeps one worker from running a long file alone at the end.
_LONGEST_FIRST = ("test_scale.py", "test_contract.py", "test_export.py", "test_engine.py",
                  "test_cyclegan.py", "test_pix2pix.py", "test_bad_input.py", "test_tools.py",
                  "test_cut.py",
                  "test_cgan.py", "test_hostile_requests.py", "test_discogan.py")


def pytest_collection_modifyitems(items):
  def rank(item):
    name = os.path.basename(str(item.fspath))
    return _LONGEST_FIRST.index(name) if name in _LONGEST_FIRST else len(_LONGEST_FIRST)
  items.sort(key=rank)  # stable: each file keeps its own order


@pytest.fixture(autouse=True)
def _float32_policy():
  """Every test starts and ends with the float32 policy and a fresh Keras state."""
  import keras
  keras.mixed_precision.set_dtype_policy("float32")
  yield
  keras.mixed_precision.set_dtype_policy("float32")
  keras.backend.clear_session()


def run_tool(*args: str, timeout: float = 300, env: dict | None = None,
             check: bool = True) -> subprocess.CompletedProcess:
  """Runs `python <args>` from the repository root, returning the finished process.

  `env` adds variables; a value of None removes one.
  """
  path = os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH", "")) if p)
  full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": path, **(env or {})}
  full_env = {k: v for k, v in full_env.items() if v is not None}  # env={"X": None} unsets X
  proc = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                        timeout=timeout, env=full_env)
  if check and proc.returncode != 0:
    raise AssertionError(f"{' '.join(args)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
  return proc


TINY_WGAN = dict(hidden_units=16, hidden_layers=2, batch_size=8, log_every=2,
                 checkpoint_every=2, image_every=0, steps_per_loop=2)
