#!/usr/bin/env python
"""Mode coverage of WGAN-GP on PacGAN's ring and grid, side by side with the published tables.

  python benchmarks/mode_coverage.py --datasets=grid --train_steps=5000 --output=benchmarks/results/mode_coverage_grid.json
  # the quick start's own recipe and data, every seed:
  python benchmarks/mode_coverage.py --flagfile_recipe=configs/wgan_toy.flags \
      --datasets=8gaussians --seeds=0,1,2,3,4,5,6,7,8,9

Each run trains with tools/train.py's code path (tf_gans.training.train) into
--work_dir/<dataset>_seed<k>, then measures 2,500 samples as VEEGAN and PacGAN do: a
sample is high-quality within 3 standard deviations of its nearest mode; a mode is
captured if at least one high-quality sample has it as its nearest mode.
"""

from __future__ import annotations

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags, logging  # noqa: E402
from _machine import cpu_name  # noqa: E402

flags.DEFINE_list("datasets", ["ring", "grid"], "PacGAN's 2-D mixtures.")
flags.DEFINE_list("seeds", [str(i) for i in range(10)], "Run seeds.")
flags.DEFINE_integer("train_steps", 2000, "Generator updates per run.")
flags.DEFINE_integer("batch_size", 256, "Global batch.")
flags.DEFINE_integer("hidden_units", 400, "Generator width (PacGAN: 4 x 400).")
flags.DEFINE_integer("hidden_layers", 4, "Generator depth.")
flags.DEFINE_integer("critic_hidden_units", 200, "Critic width (PacGAN: 3 x 200).")
flags.DEFINE_integer("critic_hidden_layers", 3, "Critic depth.")
flags.DEFINE_float("gp_weight", 0.1, "Gradient penalty weight.")
flags.DEFINE_float("learning_rate", 1e-3, "Adam learning rate.")
flags.DEFINE_float("lr_decay_start", 0.0, "Fraction of the run before the linear decay.")
flags.DEFINE_float("generator_ema", 0.99, "EMA decay of the generator's weights (0: off).")
flags.DEFINE_integer("latent_dim", 2, "Size of z.")
flags.DEFINE_bool("jit_compile", True, "Compile the train step with XLA.")
flags.DEFINE_string("flagfile_recipe", "", "Train with this tools/train.py flagfile's "
                    "settings instead of the flags above (dataset and seed from here).")
flags.DEFINE_string("work_dir", "/tmp/tf_gans_mode_coverage", "Where the runs go.")
flags.DEFINE_string("output", "", "JSON file for the results.")
FLAGS = flags.FLAGS

PUBLISHED = [  # method, ring modes, ring HQ %, grid modes, grid HQ %, source
    ("GAN", 6.3, 98.2, 17.3, 94.8, "PacGAN Table 1"),
    ("PacGAN2", 7.9, 95.6, 23.8, 91.3, "PacGAN Table 1"),
    ("PacGAN4", 7.8, 95.9, 24.8, 93.6, "PacGAN Table 1"),
    ("Unrolled GAN", 7.6, 35.6, 23.6, 16.0, "VEEGAN Table 1"),
    ("VEEGAN", 8, 52.9, 24.6, 40.0, "VEEGAN Table 1"),
]


def main(argv):
  del argv
  from tf_gans import training
  from tf_gans.evaluation import evaluate_points
  from tf_gans.models.wgan import WGANConfig
  import keras
  rows = []
  for dataset in FLAGS.datasets:
    for seed in FLAGS.seeds:
      model_dir = os.path.join(FLAGS.work_dir, f"{dataset}_seed{seed}")
      if FLAGS.flagfile_recipe:
        from _flagfiles import make_config
        config = make_config(WGANConfig, FLAGS.flagfile_recipe, dataset=dataset, seed=int(seed),
                             model_dir=model_dir, image_every=0)
      else:
        config = WGANConfig(
            dataset=dataset, model_dir=model_dir, seed=int(seed), train_steps=FLAGS.train_steps,
            batch_size=FLAGS.batch_size, hidden_units=FLAGS.hidden_units,
            hidden_layers=FLAGS.hidden_layers, critic_hidden_units=FLAGS.critic_hidden_units,
            critic_hidden_layers=FLAGS.critic_hidden_layers, gp_weight=FLAGS.gp_weight,
            learning_rate=FLAGS.learning_rate, lr_decay_start=FLAGS.lr_decay_start,
            generator_ema=FLAGS.generator_ema, latent_dim=FLAGS.latent_dim,
            jit_compile=FLAGS.jit_compile, log_every=1000, steps_per_loop=500,
            checkpoint_every=FLAGS.train_steps, image_every=0).resolve()
      start = time.perf_counter()
      training.train(config)
      seconds = time.perf_counter() - start
      keras.backend.clear_session()
      gan, config, source = training.load(model_dir)
      metrics = evaluate_points(gan, config, source, num_samples=2500, seed=1000)
      row = {"dataset": dataset, "seed": int(seed), "seconds": round(seconds, 1), **metrics}
      logging.info("%s", json.dumps(row))
      rows.append(row)
      if FLAGS.output:  # after every run, so a long benchmark leaves partial results
        os.makedirs(os.path.dirname(FLAGS.output) or ".", exist_ok=True)
        with open(FLAGS.output + ".partial", "w", encoding="utf-8") as f:
          json.dump(rows, f, indent=2)
      keras.backend.clear_session()
  summary = {}
  for dataset in FLAGS.datasets:
    mine = [r for r in rows if r["dataset"] == dataset]
    summary[dataset] = {
        "modes_mean": sum(r["modes_captured"] for r in mine) / len(mine),
        "modes_min": min(r["modes_captured"] for r in mine),
        "num_modes": mine[0]["num_modes"],
        "high_quality_mean_pct": 100 * sum(r["high_quality"] for r in mine) / len(mine),
        "high_quality_min_pct": 100 * min(r["high_quality"] for r in mine),
        "seconds_mean": sum(r["seconds"] for r in mine) / len(mine),
    }
  print("\n| method | ring modes | ring HQ % | grid modes | grid HQ % | source |")
  print("|---|---|---|---|---|---|")
  for name, rm, rh, gm, gh, src in PUBLISHED:
    print(f"| {name} | {rm} | {rh} | {gm} | {gh} | {src} |")
  ring, grid = summary.get("ring"), summary.get("grid")
  def cell(s, key, fmt):
    return fmt.format(s[key]) if s else "–"
  print(f"| tf_gans WGAN-GP ({len(FLAGS.seeds)} seeds, mean; min) | "
        f"{cell(ring, 'modes_mean', '{:.1f}')}; {cell(ring, 'modes_min', '{}')} | "
        f"{cell(ring, 'high_quality_mean_pct', '{:.1f}')}; {cell(ring, 'high_quality_min_pct', '{:.1f}')} | "
        f"{cell(grid, 'modes_mean', '{:.1f}')}; {cell(grid, 'modes_min', '{}')} | "
        f"{cell(grid, 'high_quality_mean_pct', '{:.1f}')}; {cell(grid, 'high_quality_min_pct', '{:.1f}')} | "
        "this repository |")
  print("\n| dataset | seed | modes | high-quality % | train seconds |")
  print("|---|---|---|---|---|")
  for r in rows:
    print(f"| {r['dataset']} | {r['seed']} | {r['modes_captured']}/{r['num_modes']} | "
          f"{100 * r['high_quality']:.1f} | {r['seconds']:.0f} |")
  if FLAGS.output:
    os.makedirs(os.path.dirname(FLAGS.output) or ".", exist_ok=True)
    with open(FLAGS.output, "w", encoding="utf-8") as f:
      if FLAGS.flagfile_recipe:
        recipe = {"flagfile_recipe": FLAGS.flagfile_recipe}
      else:
        recipe = {"flags": {k: FLAGS[k].value for k in FLAGS if k in (
            "train_steps", "batch_size", "hidden_units", "hidden_layers", "critic_hidden_units",
            "critic_hidden_layers", "gp_weight", "learning_rate", "lr_decay_start",
            "generator_ema", "latent_dim", "jit_compile")}}
      json.dump({"cpu": cpu_name(), **recipe, "runs": rows, "summary": summary}, f, indent=2)


if __name__ == "__main__":
  app.run(main)
