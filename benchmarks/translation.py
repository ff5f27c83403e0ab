#!/usr/bin/env python
"""Translation benchmark: quality on the ground-truth digits task, and step speed.

  python benchmarks/translation.py --output=benchmarks/results/translation.json

Quality: CycleGAN (configs/cyclegan_quick.flags) and DiscoGAN (configs/discogan.flags)
with the l2, l1 and huber reconstruction losses, trained from scratch for each seed on
digits_recolour, then measured by tf_gans.models.translation.evaluate_translation on the
held-out digits: mean absolute error of G(a) and F(b) to the true translation ([0, 1]
scale), label preservation (a digit classifier trained on real digits of both domains),
cycle error, and the training time.

Speed: CycleGAN training steps per second with the paper's networks (ResNet-6 at
128 px, ResNet-9 at 256 px; PatchGAN; batch 1) in float32 and mixed_bfloat16, on
synthetic images, after one warm-up step.
"""

from __future__ import annotations

import argparse
import dataclasses
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


def read_flagfile(path: str) -> dict[str, str]:
  """--name=value lines of a flagfile (comments and blank lines skipped)."""
  values = {}
  with open(path, encoding="utf-8") as f:
    for line in f:
      line = line.strip()
      if not line.startswith("--"):
        continue
      name, _, value = line[2:].partition("=")
      if not _:  # a bare boolean flag: --flip / --noflip
        name, value = (name[2:], "false") if name.startswith("no") else (name, "true")
      values[name] = value
  return values


def make_config(config_cls: type, flagfile: str, **overrides: typing.Any):
  """The resolved config a flagfile describes (as tools/train.py would build it)."""
  fields = {f.name: f for f in dataclasses.fields(config_cls)}
  hints = typing.get_type_hints(config_cls)
  values: dict[str, typing.Any] = {}
  for name, raw in read_flagfile(os.path.join(ROOT, flagfile)).items():
    if name not in fields:
      continue
    kind = [t for t in typing.get_args(hints[name]) if t is not type(None)] or [hints[name]]
    kind = kind[0]
    values[name] = (raw.lower() in ("1", "true") if kind is bool else kind(raw))
  values.update(overrides)
  return config_cls(**values).resolve()


VARIANTS = {
    "cyclegan": ("cyclegan", "configs/cyclegan_quick.flags", {}),
    "discogan_l2": ("discogan", "configs/discogan.flags", {"reconstruction_loss": "l2"}),
    "discogan_l1": ("discogan", "configs/discogan.flags", {"reconstruction_loss": "l1"}),
    "discogan_huber": ("discogan", "configs/discogan.flags", {"reconstruction_loss": "huber"}),
}


def quality(variants: list[str], seeds: list[int], work_dir: str,
            train_steps: int | None) -> list[dict[str, typing.Any]]:
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
      shutil.rmtree(model_dir, ignore_errors=True)
      extra = {"train_steps": train_steps} if train_steps else {}
      config = make_config(spec.config_cls, flagfile, model_dir=model_dir, seed=seed,
                           image_every=0, **overrides, **extra)
      start = time.perf_counter()
      training.train(config)
      seconds = time.perf_counter() - start
      gan, config, source = training.load(model_dir)
      metrics = spec.evaluate(gan, config, source, model_dir=model_dir)
      row = {"variant": variant, "seed": seed, "train_steps": config.train_steps,
             "batch_size": config.batch_size, "train_seconds": round(seconds, 1),
             **{k: v for k, v in metrics.items() if isinstance(v, float)}}
      rows.append(row)
      print(json.dumps(row), flush=True)
  return rows


def speed(sizes: list[int], precisions: list[str], steps: int) -> list[dict[str, typing.Any]]:
  import keras
  import tensorflow as tf
  from tf_gans.data.pipeline import Group, Source
  from tf_gans.models.cyclegan import CycleGANConfig, build_cyclegan
  from tf_gans.models.translation import translation_optimizers
  from tf_gans.training import set_precision
  rows = []
  for size in sizes:
    for precision in precisions:
      set_precision(precision)
      config = CycleGANConfig(model_dir="unused", dataset="cycle_gan/horse2zebra", image_size=size,
                              precision=precision, train_steps=1000).resolve()
      shape = (size, size, 3)
      # Synthetic images: speed does not depend on the pictures.
      source = Source(name="synthetic", kind="image_pairs",
                      groups={"a": Group(size=1, arrays={"a": np.zeros((1, *shape), np.float32)}),
                              "b": Group(size=1, arrays={"b": np.zeros((1, *shape), np.float32)})},
                      info={"image_shape": shape})
      gan = build_cyclegan(config, source)
      gan.compile(**translation_optimizers(config))
      batch = {"a": tf.random.stateless_uniform([1, *shape], [0, 1], -1, 1),
               "b": tf.random.stateless_uniform([1, *shape], [0, 2], -1, 1)}
      step = tf.function(gan.train_step)
      start = time.perf_counter()
      step(batch)["generator_loss"].numpy()  # trace + first step
      first = time.perf_counter() - start
      start = time.perf_counter()
      for _ in range(steps):
        out = step(batch)
      out["generator_loss"].numpy()
      seconds = (time.perf_counter() - start) / steps
      row = {"image_size": size, "precision": precision, "blocks": config.num_res_blocks,
             "seconds_per_step": round(seconds, 3), "steps_per_second": round(1 / seconds, 3),
             "first_step_seconds": round(first, 1), "timed_steps": steps}
      rows.append(row)
      print(json.dumps(row), flush=True)
      del gan, step
      keras.backend.clear_session()
  set_precision("float32")
  return rows


def summarise(rows: list[dict[str, typing.Any]]) -> list[str]:
  """Markdown table lines: mean ± std over seeds per variant."""
  keys = ("error_to_truth", "label_preservation", "cycle_error", "train_seconds")
  lines = ["| variant | seeds | " + " | ".join(keys) + " |", "|---" * (len(keys) + 2) + "|"]
  for variant in dict.fromkeys(r["variant"] for r in rows):
    group = [r for r in rows if r["variant"] == variant]
    cells = []
    for key in keys:
      values = np.array([r[key] for r in group], float)
      cells.append(f"{values.mean():.4g} ± {values.std():.2g}")
    lines.append(f"| {variant} | {len(group)} | " + " | ".join(cells) + " |")
  return lines


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--variants", default=",".join(VARIANTS))
  parser.add_argument("--seeds", default="0,1,2")
  parser.add_argument("--train_steps", type=int, default=None,
                      help="Override the flagfiles' train_steps (default: theirs).")
  parser.add_argument("--speed_sizes", default="128,256")
  parser.add_argument("--speed_precisions", default="float32,mixed_bfloat16")
  parser.add_argument("--speed_steps", type=int, default=3)
  parser.add_argument("--skip_quality", action="store_true")
  parser.add_argument("--skip_speed", action="store_true")
  parser.add_argument("--work_dir", default=None)
  parser.add_argument("--output", default=None, help="Write all results as JSON here.")
  args = parser.parse_args()
  work_dir = args.work_dir or tempfile.mkdtemp(prefix="translation_bench_")
  start = time.perf_counter()
  results: dict[str, typing.Any] = {"command": " ".join(sys.argv)}
  if not args.skip_quality:
    results["quality"] = quality(args.variants.split(","), [int(s) for s in args.seeds.split(",")],
                                 work_dir, args.train_steps)
  if not args.skip_speed:
    results["speed"] = speed([int(s) for s in args.speed_sizes.split(",")],
                             args.speed_precisions.split(","), args.speed_steps)
  results["total_seconds"] = round(time.perf_counter() - start, 1)
  if "quality" in results:
    print("\n".join(summarise(results["quality"])))
  print(f"total {results['total_seconds']:.0f} s")
  if args.output:
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as f:
      json.dump(results, f, indent=2)


if __name__ == "__main__":
  main()
