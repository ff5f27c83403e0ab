#!/usr/bin/env python
"""Translation benchmark: quality on the ground-truth digits task.

  python benchmarks/translation.py --output=benchmarks/results/translation.json

CycleGAN (configs/cyclegan_quick.flags) and DiscoGAN (configs/discogan.flags) with the
l2, l1 and huber reconstruction losses, trained from scratch for each seed on
digits_recolour; and on the stroke-thickening task pix2pix (configs/pix2pix_quick.flags,
aligned pairs) beside CycleGAN on the same two domains unpaired
(--variants=pix2pix_thicken,cyclegan_thicken), and CUT / FastCUT (configs/cut_quick.flags)
beside CycleGAN trained as long (cyclegan_thicken_long). Each run is then measured by
tf_gans.evaluation.evaluate_translation on the
held-out digits: mean absolute error of G(a) and F(b) to the true translation ([0, 1]
scale), label preservation (a digit classifier trained on real digits of both domains),
cycle error, and the training time. CycleGAN's step speed at 128 and 256 px is measured
by benchmarks/speed.py (rows cyclegan_128_* and cyclegan_256_*).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import typing

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

from _flagfiles import make_config  # noqa: E402


VARIANTS = {
    "cyclegan": ("cyclegan", "configs/cyclegan_quick.flags", {}),
    "discogan_l2": ("discogan", "configs/discogan.flags", {"reconstruction_loss": "l2"}),
    "discogan_l1": ("discogan", "configs/discogan.flags", {"reconstruction_loss": "l1"}),
    "discogan_huber": ("discogan", "configs/discogan.flags", {"reconstruction_loss": "huber"}),
    # Huber's δ on images in [-1, 1] (DiscoGAN uses L_δ/δ): the previous default δ = 1
    # (½d² almost everywhere: half of l2), δ = 0.25, and δ = 0.1 undivided (L_δ itself,
    # whose linear part has slope 0.1: the weight times δ).
    "discogan_huber_d1": ("discogan", "configs/discogan.flags",
                          {"reconstruction_loss": "huber", "huber_delta": 1.0}),
    "discogan_huber_d0.25": ("discogan", "configs/discogan.flags",
                             {"reconstruction_loss": "huber", "huber_delta": 0.25}),
    "discogan_huber_d0.1_undivided": ("discogan", "configs/discogan.flags",
                                      {"reconstruction_loss": "huber", "huber_delta": 0.1,
                                       "reconstruction_weight": 1.0}),
    # The stroke-thickening task: pix2pix on the aligned pairs, CycleGAN on the same
    # two domains unpaired.
    "pix2pix_thicken": ("pix2pix", "configs/pix2pix_quick.flags", {}),
    "cyclegan_thicken": ("cyclegan", "configs/cyclegan_quick.flags", {"dataset": "digits_thicken"}),
    # The same unpaired task with the content-preserving models.
    "cyclegan_thicken_long": ("cyclegan", "configs/cyclegan_quick.flags",
                              {"dataset": "digits_thicken", "train_steps": 1200}),
    "cut_thicken": ("cut", "configs/cut_quick.flags", {}),
    "fastcut_thicken": ("cut", "configs/cut_quick.flags", {"cut_mode": "fastcut"}),
    # CUT settings tried on seed 0: a stronger NCE weight; no NCE on the raw pixels.
    "cut_nce4": ("cut", "configs/cut_quick.flags", {"nce_weight": 4.0}),
    "cut_deep": ("cut", "configs/cut_quick.flags", {"nce_layers": "d32,d64,r0_add,r4_add"}),
}


def quality(variants: list[str], seeds: list[int], work_dir: str,
            train_steps: int | None, reuse: bool = False) -> list[dict[str, typing.Any]]:
  from absl import logging
  from tf_gans import training
  from tf_gans.models import registry
  logging.set_verbosity(logging.WARNING)
  rows = []
  for variant in variants:
    model, flagfile, overrides = VARIANTS[variant]
    spec = registry.get(model)
    for seed in seeds:
      model_dir = os.path.join(work_dir, f"{variant}_seed{seed}")
      if not reuse:
        shutil.rmtree(model_dir, ignore_errors=True)
      extra = {"train_steps": train_steps} if train_steps else {}
      config = make_config(spec.config_cls, flagfile, model_dir=model_dir, seed=seed,
                           image_every=0, **overrides, **extra)
      trained_before = os.path.isdir(os.path.join(model_dir, "checkpoints"))
      start = time.perf_counter()
      training.train(config)  # resumes a run of model_dir (--reuse): nothing left to train
      seconds = None if trained_before else time.perf_counter() - start
      gan, config, source = training.load(model_dir)
      metrics = spec.evaluate(gan, config, source, model_dir=model_dir)
      row = {"variant": variant, "seed": seed, "train_steps": config.train_steps,
             "batch_size": config.batch_size, "train_seconds": seconds and round(seconds, 1),
             **{k: v for k, v in metrics.items() if isinstance(v, float)}}
      rows.append(row)
      print(json.dumps(row), flush=True)
  return rows


def summarise(rows: list[dict[str, typing.Any]]) -> list[str]:
  """Markdown table lines: mean ± std over seeds per variant."""
  keys = ("error_to_truth", "error_to_truth_a_to_b", "label_preservation",
          "label_preservation_a_to_b", "cycle_error", "gain_noise", "gain_jpeg",
          "train_seconds")
  lines = ["| variant | seeds | " + " | ".join(keys) + " |", "|---" * (len(keys) + 2) + "|"]
  for variant in dict.fromkeys(r["variant"] for r in rows):
    group = [r for r in rows if r["variant"] == variant]
    cells = []
    for key in keys:
      if any(key not in r for r in group):
        cells.append("–")  # not measured for this model or task
        continue
      values = np.array([r[key] for r in group], float)
      cells.append(f"{values.mean():.4g} ± {values.std():.2g} (min {values.min():.4g}, "
                   f"max {values.max():.4g})")
    lines.append(f"| {variant} | {len(group)} | " + " | ".join(cells) + " |")
  return lines


def thicken_picture(work_dir: str, path: str, variants: list[str], seed: int = 0,
                    num: int = 10) -> None:
  """Held-out digits A, each variant's translation of them and the true B, as rows of one
  PNG."""
  from tf_gans import training, visualize
  from tf_gans.data import paired
  test = paired.digits_thicken_paired_source("test", 32)
  a = test.groups["pairs"].arrays["a"][:num]
  rows = [a]
  for variant in variants:
    gan, _, _ = training.load(os.path.join(work_dir, f"{variant}_seed{seed}"))
    rows.append(gan.translate_numpy(a, "a_to_b"))
  rows.append(paired.true_thicken_a_to_b(a))
  grid = visualize.image_grid(np.concatenate(rows), rows=len(rows))
  visualize.save_png(visualize.upscale(grid, 2), path)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--variants", default="cyclegan,discogan_l2,discogan_l1,discogan_huber",
                      help=f"Comma-separated, of: {', '.join(VARIANTS)}.")
  parser.add_argument("--seeds", default="0,1,2,3,4")
  parser.add_argument("--train_steps", type=int, default=None,
                      help="Override the flagfiles' train_steps (default: theirs).")
  parser.add_argument("--work_dir", default=None)
  parser.add_argument("--reuse", action="store_true", help="Measure runs already trained in "
                      "--work_dir by an earlier run of this benchmark (same settings) instead "
                      "of training them again; their train_seconds are then null.")
  parser.add_argument("--output", default=None, help="Write all results as JSON here.")
  parser.add_argument("--picture", default=None, help="With thickening variants: write "
                      "rows A, each variant's translation of A (in --variants order), true B "
                      "of the first seed's runs to this PNG.")
  args = parser.parse_args()
  work_dir = args.work_dir or tempfile.mkdtemp(prefix="translation_bench_")
  start = time.perf_counter()
  results: dict[str, typing.Any] = {"command": " ".join(sys.argv)}
  results["quality"] = quality(args.variants.split(","), [int(s) for s in args.seeds.split(",")],
                               work_dir, args.train_steps, args.reuse)
  results["total_seconds"] = round(time.perf_counter() - start, 1)
  print("\n".join(summarise(results["quality"])))
  if args.picture:
    thicken_picture(work_dir, args.picture, args.variants.split(","),
                    seed=int(args.seeds.split(",")[0]))
  print(f"total {results['total_seconds']:.0f} s")
  if args.output:
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as f:
      json.dump(results, f, indent=2)


if __name__ == "__main__":
  main()
