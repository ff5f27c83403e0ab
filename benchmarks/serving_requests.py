"""What one request costs a served model: normal, the largest allowed, and refused ones.

  python benchmarks/serving_requests.py --output=benchmarks/results/serving_requests.json

Exports an (untrained) 32 px CycleGAN and a 32 px conditional GAN with the default
request limits, then sends each request from a fresh process that loads the SavedModel
with TensorFlow alone (as TF Serving would) and answers one small warm-up request first.
For each request: the outcome, its wall time, and the process's peak resident memory
before and after it (``ru_maxrss``), so the growth is what the request itself cost.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import struct
import subprocess
import sys
import tempfile
import zlib

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import cpu_name  # noqa: E402

# One request in a fresh process: argv = export dir, signature, inputs .npz.
_REQUEST = r'''
import sys, time, json
import numpy as np
import tensorflow as tf
def peak_mib():
  # VmHWM: this process's own peak (ru_maxrss would include the parent's, before exec).
  with open("/proc/self/status") as f:
    return next(int(l.split()[1]) for l in f if l.startswith("VmHWM")) / 1024
path, signature, inputs = sys.argv[1], sys.argv[2], sys.argv[3]
loaded = tf.saved_model.load(path)
function = loaded.signatures[signature]
data = dict(np.load(inputs, allow_pickle=True))
request = {k: v for k, v in data.items() if not k.startswith("warm_")}
warm = {k[5:]: v for k, v in data.items() if k.startswith("warm_")}
names = [t.name.split(":")[0] for t in function.inputs[:len(request)]]
def call(values):
  return function._call_flat([tf.constant(values[n]) for n in names], function.captured_inputs)
call(warm)
before = peak_mib()
start = time.perf_counter()
try:
  out = call(request)
  outcome = "ok: " + ", ".join(f"{k} {list(v.shape)}" for k, v in sorted(out.items()))
except tf.errors.InvalidArgumentError as e:
  lines = [l for l in e.message.splitlines() if l.strip() and "[[" not in l]
  outcome = "refused: " + lines[-1]
seconds = time.perf_counter() - start
after = peak_mib()
print(json.dumps({"outcome": outcome, "seconds": seconds, "peak_rss_mib_before": before,
                  "peak_rss_mib_after": after}))
'''


def _png(height: int, width: int, seed: int = 0) -> bytes:
  from PIL import Image
  rng = np.random.default_rng(seed)
  buffer = io.BytesIO()
  Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)).save(buffer, "PNG")
  return buffer.getvalue()


def _png_declaring(width: int, height: int) -> bytes:
  def chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data +
            struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
  # A real 16,000-wide image compressed: its rows of zeros make a few hundred kB.
  rows = zlib.compress(b"\0" * (1 + 3 * width) * 64, 9)
  return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
          + chunk(b"IDAT", rows) + chunk(b"IEND", b""))


def _exports(base: str) -> dict[str, str]:
  sys.path.insert(0, ROOT)
  import keras
  from tf_gans import data, export, training
  from tf_gans.models import registry
  paths = {}
  keras.utils.set_random_seed(0)
  cyclegan = registry.get("cyclegan").config_cls(model_dir=base, image_size=32).resolve()
  gan, _ = training.build(cyclegan)
  paths["cyclegan"] = export.export_gan(gan, cyclegan, base, model_name="cyclegan32",
                                        warmup=False).path
  rng = np.random.default_rng(0)
  images = rng.uniform(-1, 1, (20, 32, 32, 3)).astype(np.float32)
  labelled = data.Source(name="random32", kind="images", groups={"x": data.Group(
      size=20, arrays={"x": images, "label": (np.arange(20) % 10).astype(np.int32)})},
      info={"image_shape": (32, 32, 3), "num_classes": 10})
  cgan = registry.get("cgan").config_cls(model_dir=base, image_size=32).resolve()
  gan, _ = training.build(cgan, source=labelled)
  paths["cgan"] = export.export_gan(gan, cgan, base, model_name="cgan32", warmup=False).path
  return paths


_WARM = {
    ("cyclegan", "a_to_b"): {"images": np.zeros((1, 32, 32, 3), np.float32)},
    ("cgan", "sample"): {"label": np.array([1], np.int32), "seed": np.array(1, np.int64)},
    ("cgan", "serving_default"): {"z": np.zeros((1, 128), np.float32),
                                  "label": np.array([1], np.int32)},
}


def _cases(limits: dict[str, dict[str, int]]) -> list[tuple[str, str, str, dict]]:
  """(model, signature, case, inputs); a warm-up request goes first (warm_* inputs)."""
  cy, cg = limits["cyclegan"]["max_batch"], limits["cgan"]["max_batch"]
  png32 = _png(32, 32)
  seed = np.array(0, np.int64)
  return [
      ("cyclegan", "a_to_b", "normal: 1 image", {"images": np.zeros((1, 32, 32, 3), np.float32)}),
      ("cyclegan", "a_to_b", f"largest allowed: {cy} images",
       {"images": np.zeros((cy, 32, 32, 3), np.float32)}),
      ("cyclegan", "a_to_b", "refused: 64 px images", {"images": np.zeros((1, 64, 64, 3), np.float32)}),
      ("cyclegan", "a_to_b", "refused: NaN", {"images": np.full((1, 32, 32, 3), np.nan, np.float32)}),
      ("cyclegan", "a_to_b", f"refused: {cy + 1} images",
       {"images": np.zeros((cy + 1, 32, 32, 3), np.float32)}),
      ("cyclegan", "a_to_b", "empty batch", {"images": np.zeros((0, 32, 32, 3), np.float32)}),
      ("cyclegan", "a_to_b_encoded", "normal: one 256x256 PNG",
       {"images_bytes": np.array([_png(256, 256)], dtype=object)}),
      ("cyclegan", "a_to_b_encoded", "largest allowed: one 4096x4096 PNG",
       {"images_bytes": np.array([_png(4096, 4096)], dtype=object)}),
      ("cyclegan", "a_to_b_encoded", "refused: PNG declaring 16000x16000",
       {"images_bytes": np.array([_png_declaring(16000, 16000)], dtype=object)}),
      ("cyclegan", "a_to_b_encoded", "refused: truncated PNG",
       {"images_bytes": np.array([png32[:len(png32) // 2]], dtype=object)}),
      ("cgan", "sample", "normal: 1 label", {"label": np.array([3], np.int32), "seed": seed}),
      ("cgan", "sample", f"largest allowed: {cg} labels",
       {"label": np.arange(cg, dtype=np.int32) % 10, "seed": seed}),
      ("cgan", "sample", "refused: 1,000,000 labels",
       {"label": np.zeros(1_000_000, np.int32), "seed": seed}),
      ("cgan", "sample", "refused: label 10 of 10 classes",
       {"label": np.array([10], np.int32), "seed": seed}),
      ("cgan", "serving_default", "refused: 3 labels for 2 noise rows",
       {"z": np.zeros((2, 128), np.float32), "label": np.array([0, 1, 2], np.int32)}),
  ]



def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--output", default="")
  args = parser.parse_args()
  work = tempfile.mkdtemp(prefix="tf_gans_serving_")
  paths = _exports(work)
  limits = {}
  for model, path in paths.items():
    with open(os.path.join(path, "assets.extra", "tf_gans_config.json")) as f:
      limits[model] = json.load(f)["info"]["request_limits"]
  rows = []
  env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
  env["TF_CPP_MIN_LOG_LEVEL"] = "2"
  png32 = np.array([_png(32, 32)], dtype=object)
  for number, (model, signature, case, inputs) in enumerate(_cases(limits)):
    inputs_path = os.path.join(work, f"inputs{number}.npz")
    warm = _WARM.get((model, signature), {"images_bytes": png32})
    np.savez(inputs_path, **inputs, **{f"warm_{k}": v for k, v in warm.items()})
    proc = subprocess.run([sys.executable, "-c", _REQUEST, paths[model], signature, inputs_path],
                          capture_output=True, text=True, cwd=work, env=env, timeout=1800)
    if proc.returncode != 0:
      row = {"outcome": f"process ended with status {proc.returncode}: "
                        f"{proc.stderr.strip().splitlines()[-1:]}"}
    else:
      row = json.loads(proc.stdout.strip().splitlines()[-1])
      row = {**row, "seconds": round(row["seconds"], 3),
             "peak_rss_mib_before": round(row["peak_rss_mib_before"], 1),
             "peak_rss_mib_after": round(row["peak_rss_mib_after"], 1),
             "request_mib": round(row["peak_rss_mib_after"] - row["peak_rss_mib_before"], 1)}
    row = {"model": model, "signature": signature, "case": case,
           "request_bytes": int(sum(np.asarray(v).nbytes if np.asarray(v).dtype != object else
                                    sum(len(b) for b in v) for k, v in inputs.items()
                                    if not k.startswith("warm_"))), **row}
    rows.append(row)
    print(json.dumps(row), flush=True)
  result = {"command": "python benchmarks/serving_requests.py " + " ".join(sys.argv[1:]),
            "cpu": cpu_name(), "limits": limits, "rows": rows}
  if args.output:
    with open(args.output, "w") as f:
      json.dump(result, f, indent=2)


if __name__ == "__main__":
  main()
