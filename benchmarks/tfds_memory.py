"""Peak memory of a run on a TFDS dataset as the dataset grows: it must stay flat.

  python benchmarks/tfds_memory.py --sizes=1000,10000,100000 --output=benchmarks/results/tfds_memory.json

Builds a labelled image dataset of each size locally in TFDS's ArrayRecord format (32x32
RGB images generated in code: nothing is downloaded), then trains a small conditional
GAN on it for a few steps with `tools/train.py --dataset=tfds/<name>` and records the
process's peak resident memory (`/usr/bin/time -v`). Beside it: what the same images
would take held in memory as float32, the way TFDS datasets were loaded before they
were read by index.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import cpu_name  # noqa: E402
sys.path.insert(0, os.path.join(ROOT, "tests"))

from helpers import tiny_tfds  # noqa: E402  (the tests' offline TFDS builder)

SIDE, CHANNELS = 32, 3



def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--sizes", default="1000,10000,100000")
  parser.add_argument("--train_steps", type=int, default=30)
  parser.add_argument("--work_dir", default="")
  parser.add_argument("--output", default="")
  args = parser.parse_args()
  work = args.work_dir or tempfile.mkdtemp(prefix="tf_gans_tfds_memory_")
  rows = []
  for size in (int(s) for s in args.sizes.split(",")):
    data_dir = os.path.join(work, f"tfds_{size}")
    started = time.monotonic()
    name = tiny_tfds.prepare(data_dir, num_train=size, side=SIDE, channels=CHANNELS)
    prepared = time.monotonic() - started
    model_dir = os.path.join(work, f"run_{size}")
    command = [sys.executable, os.path.join(ROOT, "tools", "train.py"), "--model=cgan",
               f"--dataset=tfds/{name}", f"--data_dir={data_dir}", f"--image_size={SIDE}",
               f"--model_dir={model_dir}", f"--train_steps={args.train_steps}", "--batch_size=64",
               "--base_channels=32", "--log_every=10", "--checkpoint_every=1000",
               "--image_every=0", "--steps_per_loop=10"]
    started = time.monotonic()
    proc = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}, cwd=ROOT)
    seconds = time.monotonic() - started
    if proc.returncode != 0:
      raise SystemExit(f"training on {size} examples failed:\n{proc.stderr[-3000:]}")
    peak_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
    row = {"examples": size, "peak_rss_mib": round(peak_kib / 1024, 1),
           "float32_in_memory_mib": round(size * SIDE * SIDE * CHANNELS * 4 / 2**20, 1),
           "train_seconds": round(seconds, 1), "prepare_seconds": round(prepared, 1)}
    rows.append(row)
    print(json.dumps(row), flush=True)
  result = {"command": "python benchmarks/tfds_memory.py " + " ".join(sys.argv[1:]),
            "cpu": cpu_name(), "image_shape": [SIDE, SIDE, CHANNELS], "rows": rows}
  if args.output:
    with open(args.output, "w") as f:
      json.dump(result, f, indent=2)


if __name__ == "__main__":
  main()
