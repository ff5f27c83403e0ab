#!/usr/bin/env python
"""Training speed of every GAN: step time, throughput, FLOP utilisation, loop overhead,
input pipeline, replicas and memory.

  python benchmarks/speed.py                          # the standard table
  python benchmarks/speed.py --rows=cyclegan_256 --precisions=mixed_bfloat16 --jit=false

Each measurement runs in its own process (clean memory peak, its own precision policy,
CPU split into logical devices for the 2-replica rows). For every row:

* step time: median over --repeats calls of the training loop's step runner, each call
  running --steps steps (after a warm-up call that traces and compiles);
* images/s = global batch / step time (examples/s for 2-D data);
* MFU: FLOPs of one step (counted by the TensorFlow profiler on the traced step graph)
  / step time / the machine's matmul peak for the compute dtype, measured in the same run;
* overhead (--compare): the loop's step time against a bare ``tf.function(train_step)``
  called on a fixed batch (no input pipeline, no loop) and against ``Model.fit``, the
  three drivers timed in turn on the same model in one process (--repeats rounds), so
  drift between processes does not enter the comparison;
* input: the input pipeline alone (examples/s), for data read from image folders;
* peak RSS of the process, read before anything else (the FLOP count) is traced; and
  the peak RSS of a whole CycleGAN 256 px ``tools/train.py`` run (--run_memory).
The data is synthetic (random images of the row's size), so no download is needed; the
pipeline rows read and decode real PNG/JPEG files written to a temporary folder.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

from _machine import cpu_name  # noqa: E402
from _synthetic import synthetic_source  # noqa: E402

# name -> (model, config overrides, kind, image size, batch)
ROWS = {
    "wgan_gp_toy": ("wgan", dict(dataset="8gaussians", hidden_units=512, hidden_layers=3), "points", 0, 256),
    "wgan_gp_64px": ("wgan", dict(dataset="digits", base_channels=64), "images", 64, 64),
    "cgan_32px": ("cgan", dict(dataset="digits"), "labelled", 32, 64),
    "cyclegan_128_b1": ("cyclegan", dict(dataset="digits_recolour"), "pairs", 128, 1),
    "cyclegan_128_b4": ("cyclegan", dict(dataset="digits_recolour"), "pairs", 128, 4),
    "cyclegan_256_b1": ("cyclegan", dict(dataset="digits_recolour"), "pairs", 256, 1),
    "cyclegan_256_b4": ("cyclegan", dict(dataset="digits_recolour"), "pairs", 256, 4),
    "pix2pix_256_b1": ("pix2pix", dict(dataset="digits_thicken_paired"), "aligned", 256, 1),
    "cut_256_b1": ("cut", dict(dataset="digits_thicken"), "pairs", 256, 1),
}

flags.DEFINE_list("rows", list(ROWS), "Rows to measure.")
flags.DEFINE_list("precisions", ["float32", "mixed_bfloat16", "mixed_float16"], "Precisions.")
flags.DEFINE_list("jit", ["false", "true"], "jit_compile settings.")
flags.DEFINE_integer("steps", 0, "Steps per timed call (0: by row: 50 toy, 2 images).")
flags.DEFINE_integer("repeats", 3, "Timed calls; the median is reported.")
flags.DEFINE_bool("compare", True, "Also measure loop, bare step and fit() in turn in one process, "
                  "and 2 replicas (float32, no jit).")
flags.DEFINE_bool("run_memory", True, "Also measure the peak RSS of a 2-step tools/train.py "
                  "run of configs/cyclegan.flags on generated JPEG folders.")
flags.DEFINE_string("output", "", "Write all measurements as JSON here.")
flags.DEFINE_string("one", "", "Internal: run one measurement given as JSON and print JSON.")
FLAGS = flags.FLAGS


# -- measurements inside one process ---------------------------------------------------------

def matmul_peak(dtype_name: str, n: int = 4096, repeats: int = 5) -> float:
  """GFLOP/s of an n×n matmul in dtype (float32 or bfloat16)."""
  import tensorflow as tf
  dtype = tf.as_dtype(dtype_name)
  a = tf.random.normal([n, n], dtype=tf.float32)
  a = tf.cast(a, dtype)
  f = tf.function(lambda x: tf.matmul(x, x))
  f(a).numpy()
  times = []
  for _ in range(repeats):
    t = time.perf_counter()
    f(a).numpy()
    times.append(time.perf_counter() - t)
  return 2 * n ** 3 / sorted(times)[len(times) // 2] / 1e9


def count_flops(concrete) -> float:
  """FLOPs of one call of a traced function, by the TensorFlow profiler."""
  from tensorflow.python.profiler import model_analyzer, option_builder
  options = option_builder.ProfileOptionBuilder.float_operation()
  options["output"] = "none"
  stats = model_analyzer.profile(concrete.graph, options=options)
  return float(stats.total_float_ops)


def measure(spec: dict) -> list[dict]:
  """One row × precision × jit × mode in this process (mode "drivers": loop, bare and fit)."""
  import numpy as np
  import tensorflow as tf
  from tf_gans import data, training
  from tf_gans.models import registry
  from tf_gans.training.loop import make_step_runner

  if spec.get("replicas", 1) > 1:
    training.split_cpu(spec["replicas"])
  model, overrides, kind, size, batch = ROWS[spec["row"]]
  training.set_precision(spec["precision"])
  cfg_cls = registry.get(model).config_cls
  fields = cfg_cls.__dataclass_fields__
  values = dict(overrides, model_dir="unused", batch_size=batch, train_steps=10 ** 6,
                precision=spec["precision"], jit_compile=spec["jit"],
                steps_per_loop=spec["steps"])
  if size and "image_size" in fields:
    values["image_size"] = size
  config = cfg_cls(**{k: v for k, v in values.items() if k in fields}).resolve()
  strategy = (tf.distribute.MirroredStrategy([d.name for d in tf.config.list_logical_devices("CPU")])
              if spec.get("replicas", 1) > 1 else tf.distribute.get_strategy())
  source = synthetic_source(kind, size)
  gan, source = training.build(config, strategy, source=source)
  replicas = strategy.num_replicas_in_sync
  steps, repeats = spec["steps"], spec["repeats"]

  def loop_driver():
    dataset = strategy.distribute_datasets_from_function(
        lambda ctx: data.make_dataset(source, global_batch=batch, seed=0, num_replicas=replicas,
                                      chunks=gan.real_batches_per_step, input_context=ctx))
    iterator = iter(dataset)
    run_steps = make_step_runner(gan, strategy, spec["jit"])
    n = tf.constant(steps, tf.int32)
    return lambda: run_steps(iterator, n) or gan.train_counter.numpy()

  def fixed_batch():
    return next(iter(data.make_dataset(source, global_batch=batch, seed=0,
                                       chunks=gan.real_batches_per_step)))

  def bare_driver():
    batch_data = fixed_batch()
    step = tf.function(gan.train_step)

    def bare():
      for _ in range(steps):
        step(batch_data)
      gan.train_counter.numpy()
    return bare

  def fit_driver():
    dataset = data.make_dataset(source, global_batch=batch, seed=0, num_replicas=replicas,
                                chunks=gan.real_batches_per_step, for_fit=True)
    epochs = iter(range(1, 10 ** 6))

    def fit():
      e = next(epochs)
      gan.fit(dataset, steps_per_epoch=steps, epochs=e, initial_epoch=e - 1, verbose=0)
    return fit

  makers = {"loop": loop_driver, "bare": bare_driver, "fit": fit_driver}
  modes = list(makers) if spec["mode"] == "drivers" else [spec["mode"]]
  drivers = {mode: makers[mode]() for mode in modes}
  for run in drivers.values():
    run()  # warm-up: trace, compile
  times = {mode: [] for mode in modes}
  for _ in range(repeats):  # in turn, so slow drift of the machine hits every driver alike
    for mode, run in drivers.items():
      t = time.perf_counter()
      run()
      times[mode].append(time.perf_counter() - t)
  import resource
  peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
  results = []
  for mode in modes:
    step_seconds = float(np.median(times[mode])) / steps
    results.append({**spec, "mode": mode, "batch": batch, "step_seconds": step_seconds,
                    "examples_per_second": batch / step_seconds, "peak_rss_mib": peak_rss_mib,
                    "interleaved": len(modes) > 1})
  if spec["mode"] == "loop" and replicas == 1 and not spec["jit"]:
    step = tf.function(gan.train_step)
    results[0]["flops_per_step"] = count_flops(step.get_concrete_function(fixed_batch()))
  return results


def image_folders(size: int, num_files: int = 64) -> str:
  """A temporary folder with trainA/ and trainB/ of random JPEGs of size × size."""
  import numpy as np
  from PIL import Image
  folder = tempfile.mkdtemp()
  rng = np.random.default_rng(0)
  for domain in ("trainA", "trainB"):
    os.makedirs(os.path.join(folder, domain))
    for i in range(num_files):
      Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(
          os.path.join(folder, domain, f"{i}.jpg"), quality=90)
  return folder


def pipeline_rate(size: int, num_files: int = 64, batches: int = 30) -> dict:
  """Examples/s of the folder input pipeline (decode, resize, crop, flip) alone."""
  from tf_gans import data
  folder = image_folders(size, num_files)
  source = data.make_source("unpaired_folder", folder, size)
  ds = iter(data.make_dataset(source, global_batch=4, seed=0))
  next(ds)
  t = time.perf_counter()
  for _ in range(batches):
    next(ds)
  return {"image_size": size, "examples_per_second": 4 * batches / (time.perf_counter() - t),
          "source": source.name}


def training_run_memory(steps: int = 2) -> dict:
  """Peak RSS of a whole ``tools/train.py`` run of configs/cyclegan.flags (256 px, batch
  1) on JPEG folders: building, training, checkpoints and the final samples picture."""
  import resource
  folder = image_folders(256)
  command = [sys.executable, os.path.join("tools", "train.py"), "--flagfile=configs/cyclegan.flags",
             f"--data_dir={folder}", f"--model_dir={tempfile.mkdtemp()}/run",
             f"--train_steps={steps}", "--steps_per_loop=1", "--log_every=1", "--image_every=0"]
  start = time.perf_counter()
  proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=3600)
  if proc.returncode != 0:
    raise RuntimeError((proc.stderr.strip().splitlines() or ["?"])[-1])
  return {"run": "tools/train.py --flagfile=configs/cyclegan.flags", "train_steps": steps,
          "seconds": time.perf_counter() - start,
          "peak_rss_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


# -- the driver ------------------------------------------------------------------------------

def run_one(spec: dict) -> dict:
  proc = subprocess.run([sys.executable, __file__, f"--one={json.dumps(spec)}"], cwd=ROOT,
                        capture_output=True, text=True, timeout=3600)
  if proc.returncode != 0:
    return {**spec, "error": (proc.stderr.strip().splitlines() or ["?"])[-1]}
  return json.loads(proc.stdout.strip().splitlines()[-1])


def run_measurement(spec: dict) -> list[dict]:
  result = run_one(spec)
  return result if isinstance(result, list) else [result]


def default_steps(row: str) -> int:
  # About 10-40 s per timed call on a 2-core CPU.
  return FLAGS.steps or (50 if "toy" in row else 2)


def main(argv):
  del argv
  if FLAGS.one:
    spec = json.loads(FLAGS.one)
    if spec["mode"] == "peak":
      print(json.dumps({"float32": matmul_peak("float32"), "bfloat16": matmul_peak("bfloat16")}))
    elif spec["mode"] == "pipeline":
      print(json.dumps(pipeline_rate(spec["size"])))
    elif spec["mode"] == "run_memory":
      print(json.dumps(training_run_memory()))
    else:
      print(json.dumps(measure(spec)))
    return
  peak = run_one({"mode": "peak"})
  print(f"matmul peak: {peak['float32']:.0f} GFLOP/s float32, {peak['bfloat16']:.0f} GFLOP/s bfloat16")
  results = []

  def record(spec: dict) -> None:
    for result in run_measurement(spec):
      results.append(result)
      print(json.dumps(result), flush=True)
    if FLAGS.output:  # after every measurement, so an interrupted run keeps what it measured
      save(FLAGS.output, peak, results, [])

  for row in FLAGS.rows:
    base = {"row": row, "steps": default_steps(row), "repeats": FLAGS.repeats, "replicas": 1}
    for precision in FLAGS.precisions:
      for jit in FLAGS.jit:
        record({**base, "mode": "loop", "precision": precision, "jit": jit == "true"})
    if FLAGS.compare:
      for extra in ({"mode": "drivers"}, {"mode": "loop", "replicas": 2}):
        record({**base, "precision": "float32", "jit": False, **extra})
  pipelines = [run_one({"mode": "pipeline", "size": s}) for s in (128, 256)]
  run_memory = run_one({"mode": "run_memory"}) if FLAGS.run_memory else None

  flops = {r["row"]: r["flops_per_step"] for r in results if "flops_per_step" in r}
  print("\n| row | precision | jit | mode | replicas | step (s) | examples/s | GFLOP/step | MFU | peak RSS (MiB) |")
  print("|---|---|---|---|---|---|---|---|---|---|")
  for r in results:
    if "error" in r:
      print(f"| {r['row']} | {r.get('precision')} | {r.get('jit')} | {r['mode']} | "
            f"{r.get('replicas', 1)} | error: {r['error'][:80]} | | | | |")
      continue
    f = flops.get(r["row"])
    dtype = "bfloat16" if "bfloat16" in r["precision"] else "float32"
    mfu = f"{100 * f / r['step_seconds'] / (peak[dtype] * 1e9):.0f} %" if f else "–"
    mode = f"{r['mode']} (in turn)" if r.get("interleaved") else r["mode"]
    print(f"| {r['row']} | {r['precision']} | {r['jit']} | {mode} | {r['replicas']} | "
          f"{r['step_seconds']:.4f} | {r['examples_per_second']:.1f} | "
          f"{(f or 0) / 1e9:.2f} | {mfu} | {r['peak_rss_mib']:.0f} |")
  for p in pipelines:
    if "error" not in p:
      print(f"input pipeline ({p['source']}, {p['image_size']} px): {p['examples_per_second']:.1f} examples/s")
  if run_memory and "error" not in run_memory:
    print(f"peak RSS of a CycleGAN 256 px training run ({run_memory['train_steps']} steps): "
          f"{run_memory['peak_rss_mib']:.0f} MiB")
  if FLAGS.output:
    save(FLAGS.output, peak, results, pipelines, run_memory)


def save(path: str, peak: dict, results: list, pipelines: list,
         run_memory: dict | None = None) -> None:
  with open(path, "w", encoding="utf-8") as f:
    json.dump({"command": " ".join(sys.argv),
               "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                           "processor": cpu_name()},
               "peak_gflops": peak, "results": results, "pipelines": pipelines,
               "training_run_memory": run_memory}, f, indent=2)



if __name__ == "__main__":
  app.run(main)
