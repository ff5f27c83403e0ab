#!/usr/bin/env python
"""Where a 2-D run's low-quality samples are: too wide around the modes, or in the gaps?

  python benchmarks/mode_gaps.py /tmp/tf_gans_mode_coverage/ring_seed2 \
      /tmp/tf_gans_mode_coverage/ring_seed3 --output=benchmarks/results/mode_gaps_ring.json

Reads model_dirs written by benchmarks/mode_coverage.py and draws the same 2,500 samples
it measures (seed 1000). For each: the high-quality share (within 3 standard deviations
of the nearest mode, as mode_coverage.py counts it), the spread per axis of the samples
near a mode (within 5 standard deviations, root-mean-square distance / √2) beside the
data's standard deviation, and the share of samples more than 10 standard deviations
from every mode (in the gaps).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("model_dirs", nargs="+")
  parser.add_argument("--output", default=None)
  args = parser.parse_args()
  from tf_gans import training
  rows = []
  for model_dir in args.model_dirs:
    gan, config, source = training.load(model_dir)
    modes, std = np.asarray(source.info["modes"]), float(source.info["mode_std"])
    samples = gan.generate(2500, seed=1000).numpy()
    nearest = np.linalg.norm(samples[:, None] - modes[None], axis=-1).min(axis=1)
    near = nearest[nearest <= 5 * std]
    row = {"model_dir": model_dir, "dataset": config.dataset, "seed": config.seed,
           "high_quality": float(np.mean(nearest <= 3 * std)),
           "spread_per_axis_near_modes": float(np.sqrt(np.mean(near ** 2) / 2)),
           "data_std": std, "share_beyond_10_std": float(np.mean(nearest > 10 * std))}
    print(json.dumps(row), flush=True)
    rows.append(row)
  if args.output:
    with open(args.output, "w", encoding="utf-8") as f:
      json.dump({"command": " ".join(sys.argv), "rows": rows}, f, indent=2)


if __name__ == "__main__":
  main()
