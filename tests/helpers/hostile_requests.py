"""Sends hostile requests to every signature of an exported model, as TF Serving would.

  python tests/helpers/hostile_requests.py EXPORT_DIR [EXPORT_DIR ...]

Runs with tf_gans made unimportable (:func:`block_tf_gans`): only TensorFlow reads the
SavedModel. The
inputs are made from each signature's own input specs and the export's request limits
(its metadata), so a new model family is covered without changes here. Each signature
function is called with the input tensors as they come (``_call_flat``): like TF
Serving, nothing checks their shapes on the way in.

Prints one JSON line: {EXPORT_DIR: {"cases": [{signature, input, case, expect_ok,
outcome, message, shapes}], ...}, "tf_gans_modules": [...]} where outcome is "ok" or the
exception's type name; one process answers every export (TensorFlow starts once). ``normal()`` makes the
ordinary inputs of a signature (tests/helpers/serve_once.py uses it too).
"""

from __future__ import annotations

import io
import json
import struct
import sys
import zlib

import numpy as np
import tensorflow as tf
from PIL import Image

class _NoTfGans:
  """An import hook that makes tf_gans unimportable (it is installed, in editable mode,
  where the tests run): what loads an export here must need TensorFlow alone."""

  def find_spec(self, name, path=None, target=None):
    if name == "tf_gans" or name.startswith("tf_gans."):
      raise ImportError(f"{name} is not importable here, as under TF Serving")
    return None


def block_tf_gans() -> None:
  if not any(isinstance(f, _NoTfGans) for f in sys.meta_path):
    sys.meta_path.insert(0, _NoTfGans())


# Set by main() from the export's metadata (read by the input makers below).
limits: dict = {}
num_classes: int | None = None
image_shape: list | None = None

def image_file(fmt: str, height: int, width: int, **kwargs) -> bytes:
  rng = np.random.default_rng(height * 1000 + width)
  buffer = io.BytesIO()
  Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)).save(
      buffer, fmt, **kwargs)
  return buffer.getvalue()


def png_declaring(width: int, height: int) -> bytes:
  """A valid-looking PNG whose header declares width x height (a decompression bomb)."""
  def chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data +
            struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
  header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
  # A few rows (of at most 16,000 pixels: the header's width need not be true).
  rows = zlib.compress(b"\0" * (1 + 3 * min(width, 16000)) * 4)
  return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) +
          chunk(b"IEND", b""))


def animated_gif(height: int, width: int) -> bytes:
  frames = [Image.fromarray(np.full((height, width, 3), v, np.uint8)) for v in (0, 120, 240)]
  buffer = io.BytesIO()
  frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
  return buffer.getvalue()


def normal(spec: tf.TensorSpec, rows: int = 2) -> np.ndarray:
  dims = [rows if d is None else d for d in spec.shape.as_list()]
  if spec.dtype == tf.string:
    h, w = (image_shape or [8, 8])[:2]
    return np.array([image_file("PNG", h, w)] * dims[0], dtype=object)
  if spec.dtype.is_integer:
    value = np.arange(dims[0]) % 2 if dims else np.array(2)
    return value.astype(spec.dtype.as_numpy_dtype)
  return np.zeros(dims, spec.dtype.as_numpy_dtype)


def file_size(data: bytes) -> list[int]:
  """[height, width] of an image file (its first frame)."""
  with Image.open(io.BytesIO(data)) as image:
    return [image.height, image.width]


def hostile(name: str, spec: tf.TensorSpec) -> list[tuple[str, np.ndarray, bool]]:
  """(case, value, whether a correct answer is expected) for one input."""
  shape = spec.shape.as_list()
  cases = []
  wrong_dtype = np.float32 if spec.dtype != tf.float32 else np.int32
  if spec.dtype == tf.string:
    cases.append(("wrong dtype", np.zeros([2], np.float32), False))
  else:
    cases.append(("wrong dtype", normal(spec).astype(wrong_dtype), False))
  if not shape:  # a scalar: num_samples or seed
    cases.append(("rank 1", np.array([normal(spec)]), False))
    if name == "num_samples":
      cases += [("negative", np.array(-1, np.int32), False),
                ("huge", np.array(10 ** 9, np.int32), False),
                ("zero", np.array(0, np.int32), True)]
    return cases
  value = normal(spec)
  cases += [("rank - 1", value[0], False), ("rank + 1", value[..., None], False),
            ("empty batch", normal(spec, rows=0), True)]  # every batch input empty
  if len(shape) > 1:
    cases.append(("other size", normal(tf.TensorSpec([None] + [d * 2 for d in shape[1:]],
                                                       spec.dtype)), False))
  big = limits["max_batch"] + 1
  if spec.dtype == tf.string:
    h, w = (image_shape or [8, 8])[:2]
    png = image_file("PNG", h, w)
    jpeg = image_file("JPEG", h, w)
    cases += [
        ("huge batch", np.array([png] * big, dtype=object), False),
        ("not an image", np.array([b"not an image at all"], dtype=object), False),
        ("empty file", np.array([b""], dtype=object), False),
        ("bomb header", np.array([png_declaring(16000, 16000)], dtype=object), False),
        ("too many pixels in all", np.array([png_declaring(4000, 4000)] * 3, dtype=object),
         False),
        # (2^32 - 1)^2 wraps to a negative int64: it must not cancel the others' pixels.
        ("sides that overflow", np.array([png_declaring(4000, 4000)] * 2 + [
            png_declaring(0xFFFFFFFF, 0xFFFFFFFF)], dtype=object), False),
        ("truncated PNG", np.array([png[:len(png) * 2 // 3]], dtype=object), False),
        ("truncated JPEG", np.array([jpeg[:len(jpeg) * 2 // 3]], dtype=object), False),
        ("animated GIF", np.array([animated_gif(h + 3, w + 5)], dtype=object), True),
        ("1x1 image", np.array([image_file("PNG", 1, 1)], dtype=object), True),
        ("WebP of another size", np.array([image_file("WEBP", h + 7, w + 2)], dtype=object),
         True),
    ]
  elif spec.dtype.is_integer:  # class labels
    cases += [("huge batch", np.zeros([1_000_000], np.int32), False),
              ("label too large", np.array([0, num_classes or 10 ** 6], np.int32), False),
              ("negative label", np.array([-1, 0], np.int32), False)]
  else:
    nan, inf = normal(spec), normal(spec)
    nan.flat[0], inf.flat[-1] = np.nan, -np.inf
    cases += [("huge batch", normal(spec, rows=big), False), ("NaN", nan, False),
              ("infinite", inf, False)]
    if len(shape) == 4:
      cases.append(("outside [-1, 1]", normal(spec) + 255.0, False))
  return cases


def call(function, inputs: dict) -> tuple[str, str, dict]:
  names = [t.name.split(":")[0] for t in function.inputs[:len(inputs)]]
  try:
    out = function._call_flat([tf.constant(inputs[n]) for n in names],  # pylint: disable=protected-access
                              function.captured_inputs)
  except Exception as e:  # pylint: disable=broad-except
    message = getattr(e, "message", str(e))
    lines = [l for l in message.splitlines() if l.strip() and "[[" not in l]
    return type(e).__name__, lines[-1] if lines else message, {}
  shapes = {k: list(v.shape) for k, v in out.items()}
  if "images_bytes" in out:
    shapes["decoded"] = [list(np.asarray(Image.open(io.BytesIO(b))).shape)
                         for b in out["images_bytes"].numpy()]
  return "ok", "", shapes


def main() -> None:
  block_tf_gans()
  out = {path: attack(path) for path in sys.argv[1:]}
  out["tf_gans_modules"] = sorted(m for m in sys.modules if m.startswith("tf_gans"))
  print(json.dumps(out))


def attack(export_dir: str) -> dict:
  """Every hostile case against every signature of one export."""
  global image_shape, limits, num_classes
  loaded = tf.saved_model.load(export_dir)
  info = json.loads(loaded.signatures["metadata"](unused=tf.constant(0))["config_json"]
                    .numpy().decode())["info"]
  limits, num_classes, image_shape = info["request_limits"], info.get("num_classes"), \
      info.get("image_shape")
  results = []
  for signature, function in loaded.signatures.items():
    if signature == "metadata":
      continue
    specs = function.structured_input_signature[1]
    base = {name: normal(spec) for name, spec in specs.items()}
    for name, spec in specs.items():
      for case, value, expect_ok in hostile(name, spec):
        inputs = {**base, name: value}
        if case == "empty batch":
          inputs = {n: normal(s, rows=0) if s.shape.rank else base[n] for n, s in specs.items()}
        outcome, message, shapes = call(function, inputs)
        sizes = ([file_size(b) for b in value] if spec.dtype == tf.string and expect_ok
                 else None)
        results.append({"signature": signature, "input": name, "case": case,
                        "expect_ok": expect_ok, "outcome": outcome, "message": message,
                        "shapes": shapes, "sent_shape": list(np.shape(value)),
                        "sent_image_sizes": sizes})
    if len(specs) > 1 and all(s.shape.rank and s.shape.rank > 0 for s in specs.values()):
      first, second = list(specs)[:2]
      outcome, message, shapes = call(function, {**base, first: normal(specs[first], rows=3)})
      results.append({"signature": signature, "input": first, "case": "mismatched counts",
                      "expect_ok": False, "outcome": outcome, "message": message,
                      "shapes": shapes, "sent_shape": [3]})
  return {"cases": results, "limits": limits}


if __name__ == "__main__":
  main()
