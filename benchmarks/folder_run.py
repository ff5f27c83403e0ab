#!/usr/bin/env python
"""A paper-size translation run from image folders, as a user runs it: train, export, translate.

  python benchmarks/folder_run.py --flagfile=configs/cut.flags \
      --output=benchmarks/results/cut_256_folder.json

Writes trainA/ trainB/ testA/ of random 256 px JPEGs (no download), then runs the tools
one after another, each in its own process: ``tools/train.py --flagfile=...`` for
--train_steps steps, ``tools/export.py`` and ``tools/translate.py`` on testA/. Records
each command's exit status, wall time, peak RSS and last output line, and the size of the
translated files.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from _machine import cpu_name  # noqa: E402


def random_folders(size: int, num_files: int) -> str:
  import numpy as np
  from PIL import Image
  folder = tempfile.mkdtemp(prefix="folder_run_")
  rng = np.random.default_rng(0)
  for domain in ("trainA", "trainB", "testA"):
    os.makedirs(os.path.join(folder, domain))
    for i in range(num_files):
      Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(
          os.path.join(folder, domain, f"{i}.jpg"), quality=90)
  return folder


def run(command: list[str]) -> dict:
  """Runs one tool; its exit status, seconds, peak RSS (MiB) and last output line."""
  start = time.perf_counter()
  with tempfile.TemporaryFile("w+") as out:
    proc = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    out.seek(0)
    lines = [l for l in out.read().splitlines() if l.strip()]
  return {"command": " ".join(command[1:]), "returncode": proc.returncode,
          "seconds": round(time.perf_counter() - start, 1),
          "peak_rss_mib": round(usage.ru_maxrss / 1024), "last_line": lines[-1] if lines else ""}


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--flagfile", default="configs/cut.flags")
  parser.add_argument("--size", type=int, default=256)
  parser.add_argument("--num_files", type=int, default=8)
  parser.add_argument("--train_steps", type=int, default=2)
  parser.add_argument("--output", default=None)
  args = parser.parse_args()
  folder = random_folders(args.size, args.num_files)
  work = tempfile.mkdtemp(prefix="folder_run_work_")
  model_dir = os.path.join(work, "run")
  python = sys.executable
  steps = [
      [python, "tools/train.py", f"--flagfile={args.flagfile}", f"--data_dir={folder}",
       f"--model_dir={model_dir}", f"--train_steps={args.train_steps}", "--steps_per_loop=1",
       "--log_every=1", "--image_every=0"],
      [python, "tools/export.py", f"--model_dir={model_dir}",
       f"--export_base={os.path.join(work, 'exports')}"],
      [python, "tools/translate.py", f"--model_dir={model_dir}",
       f"--input={os.path.join(folder, 'testA')}", f"--output={os.path.join(work, 'out')}"],
  ]
  results = {"command": " ".join(sys.argv), "cpu": cpu_name(), "runs": []}
  for command in steps:
    result = run(command)
    results["runs"].append(result)
    print(json.dumps(result), flush=True)
    if result["returncode"] != 0:
      break
  out_dir = os.path.join(work, "out")
  if os.path.isdir(out_dir):
    from PIL import Image
    results["translated"] = sorted(
        f"{name}: {Image.open(os.path.join(out_dir, name)).size}" for name in os.listdir(out_dir))
  if args.output:
    with open(args.output, "w", encoding="utf-8") as f:
      json.dump(results, f, indent=2)


if __name__ == "__main__":
  main()
