#!/usr/bin/env python
"""Trains a GAN. Flags come from the command line and/or a flagfile.

  python tools/train.py --flagfile=configs/wgan_toy.flags --model_dir=runs/toy
  python tools/train.py --flagfile=configs/wgan_gp.flags --model_dir=runs/gp --train_steps=200

Later flags override earlier ones, so put --flagfile first. Every model flag defaults to
that model's paper setting; the resolved settings are written to MODEL_DIR/config.json.
Training the same model_dir again resumes the run with its saved settings; flags given
then override them where a run may change (steps, intervals, strategy), and anything that
would change what is trained is refused:

  python tools/train.py --model_dir=runs/toy --train_steps=4000   # continue to step 4000

Exit status: 0 the run finished; 2 a bad flag, file or setting (one line on stderr,
nothing written; --verbosity=1 adds the traceback), or a run stopped on a non-finite
loss (its last good checkpoint kept); 42 stopped by SIGTERM after writing a checkpoint (preemption): run the
same command again to continue; 75 another worker of a multi-worker run stopped without
a checkpoint (kill -9, a lost machine): restart every worker, the run resumes from its
last checkpoint; 1 an unexpected error (a bug: the traceback is printed).
"""

from __future__ import annotations

import json
import os
import signal
import time


def _remember_sigterm(signum, frame):  # pylint: disable=unused-argument
  """Until training starts, a SIGTERM is only noted; the run then saves and exits 42
  after its first train call (tf_gans.training.preemption.PreemptionWatch)."""
  _remember_sigterm.received = True


_remember_sigterm.received = False
signal.signal(signal.SIGTERM, _remember_sigterm)

import _common  # noqa: E402  (sets up sys.path and the TF log level)

_common.start_tensorflow()  # before tf_gans imports it
from _common import (FLAGS, UserError, config_from_flags, define_checked,  # noqa: E402
                     define_config_flags, define_path, run_main, writable_target)
from absl import flags, logging  # noqa: E402

from tf_gans.models import registry  # noqa: E402

define_config_flags(registry.all_specs())
flags.adopt_module_key_flags(_common)
define_checked("integer", "cpu_devices", 0, "Split the CPU into this many logical devices "
               "(replicas for --strategy=mirrored on a machine without GPUs; 0: no split).",
               ge=0, le=256)
define_path("sample_path", "", "Write a picture of samples here after training (default "
            "MODEL_DIR/samples.png).")
flags.FLAGS["model"].help = ("Which GAN: " + "; ".join(
    f"{s.name}: {s.description.rstrip('.')}" for s in registry.all_specs()))


def main(argv):
  if len(argv) > 1:
    raise UserError(f"unexpected arguments {' '.join(argv[1:])!r}; flags look like --name=value")
  from tf_gans import training, visualize
  from tf_gans.config import load_saved_config
  # Resuming: flags left unset keep the values the run was started with.
  saved = load_saved_config(FLAGS.model_dir) if FLAGS.model_dir else None
  model = FLAGS.model or (saved or {}).get("model") or "wgan"
  spec = registry.get(model)
  config = config_from_flags(spec, base=saved if saved and saved.get("model") == model else None)
  if config.model_dir:
    writable_target(config.model_dir, "model_dir", folder=True)
  if FLAGS.sample_path:
    writable_target(FLAGS.sample_path, "sample_path", folder=False)
  training.split_cpu(FLAGS.cpu_devices)
  if config.strategy == "mirrored" and FLAGS.cpu_devices <= 1 and not training.has_gpu():
    logging.warning("no GPU found: --strategy=mirrored trains on the CPU as one replica "
                    "(--cpu_devices=N splits it into N)")
  started = time.perf_counter()
  result = training.train(config)
  logging.debug("finished at step %d: %s", result["step"],
                json.dumps({k: round(v, 5) for k, v in result["metrics"].items()}))
  if result["preempted"]:
    print(f"step {result['step']}: stopped by SIGTERM, checkpoint {result['checkpoint']}; run "
          f"the same command again to continue (exit status {training.PREEMPTED_EXIT_CODE})")
    return training.PREEMPTED_EXIT_CODE
  if not result["chief"]:
    return 0  # the chief writes the picture
  gan, _, source = training.load(config.model_dir)
  path = FLAGS.sample_path or os.path.join(config.model_dir, "samples.png")
  visualize.save_png(visualize.preview(gan, source, seed=config.seed,
                                       title=f"{config.model} step {result['step']}"), path)
  print(_summary(config, result, path, time.perf_counter() - started))
  return 0


def _summary(config, result, picture: str, seconds: float) -> str:
  """What a finished run left where, and the commands that come next."""
  from tf_gans.config import config_path
  model_dir = config.model_dir
  minutes, secs = divmod(int(round(seconds)), 60)
  lines = [
      f"Trained {config.model} on {config.dataset} to step {result['step']} in "
      f"{minutes}m{secs:02d}s.",
      f"  checkpoint  {result['checkpoint']}",
      f"  settings    {config_path(model_dir)}",
      f"  samples     {picture}",
      "Next:",
      f"  tensorboard --logdir {model_dir}                 # losses and pictures over time",
      f"  python tools/evaluate.py --model_dir={model_dir}   # how good it is",
      f"  python tools/sample.py --model_dir={model_dir} --seed=1 --output=more.png",
      f"  python tools/export.py --model_dir={model_dir} --export_base=exports  # to serve it",
      f"  python tools/train.py --model_dir={model_dir} --train_steps={2 * config.train_steps}"
      "  # train on",
  ]
  return "\n".join(lines)


if __name__ == "__main__":
  run_main(main)
