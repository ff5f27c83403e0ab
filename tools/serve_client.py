#!/usr/bin/env python
"""Asks a running TF Serving for samples or translations of an exported tf_gans model.

  # samples of an unconditional model (REST), as a PNG grid
  python tools/serve_client.py --server=http://localhost:8501 --model_name=wgan_digits \\
      --num_samples=16 --seed=3 --output=samples.png
  # one sample per label of a conditional model, over gRPC
  python tools/serve_client.py --server=grpc://localhost:8500 --model_name=cgan_digits \\
      --labels=0,1,2,3 --output=digits.png
  # translate image files of any size (CycleGAN / DiscoGAN), writing PNGs into a folder
  python tools/serve_client.py --model_name=horse2zebra --images=a.jpg,b.png \\
      --direction=a_to_b --output=translated/
  # what is being served
  python tools/serve_client.py --model_name=wgan_digits --action=status
  python tools/serve_client.py --model_name=wgan_digits --action=metadata

The client needs no TensorFlow for REST: it loads tf_gans/serving.py on its own (the
package's __init__ would import TensorFlow), so it starts in well under a second.
"""

from __future__ import annotations

import importlib.util
import json
import os

import _common  # noqa: F401  (sets up sys.path)
from _common import (FLAGS, UserError, define_checked, define_path, int_labels, labels_problem,
                     model_name_problem, run_main, writable_target)
from absl import flags


def _server_problem(url: str) -> str | None:
  if url.startswith(("http://", "https://", "grpc://")) and len(url.split("://", 1)[1]) > 0:
    return None
  return "must be http(s)://host:port (REST) or grpc://host:port (gRPC)"


define_checked("string", "server", "http://localhost:8501", "http(s)://host:port for REST or "
               "grpc://host:port for gRPC.", check=_server_problem)
define_checked("string", "model_name", None, "The served model's name.",
               check=model_name_problem)
define_checked("integer", "version", None, "A model version (default: the latest).", ge=1)
define_checked("float", "timeout", 30.0, "Seconds to wait for an answer.", gt=0.0, le=3600.0)
flags.DEFINE_enum("action", None, ["sample", "translate", "metadata", "status"],
                  "What to ask; default translate with --images, else sample.")
define_checked("integer", "num_samples", 16, "Samples to draw (unconditional models; the "
               "server refuses more than its export's limit).", ge=1, le=4096)
define_checked("integer", "seed", 0, "Seed of the server-side noise.", ge=0, lt=2 ** 63)
define_checked("list", "labels", None, "Class labels, one sample each (conditional models).",
               check=labels_problem)
flags.DEFINE_list("images", None, "Image files to translate, separated by commas (any size, "
                  "JPEG/PNG/...).")
_common.FREE_FLAGS.add("images")  # paths, checked when read
flags.DEFINE_enum("direction", "a_to_b", ["a_to_b", "b_to_a"], "Translation direction.")
define_path("output", None, "sample: a .png grid (images) or .npy/.csv (points); translate: a "
            "folder for the PNGs. Default: print a summary only.")


def _serving_module():
  path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                      "tf_gans", "serving.py")
  spec = importlib.util.spec_from_file_location("tf_gans_serving_client", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def _write_sample(result: dict, output: str, serving) -> str:
  if "images_uint8" in result:
    picture = serving.image_grid(result["images_uint8"])
    if picture.shape[-1] == 1:
      picture = picture[..., 0]
    if not output.lower().endswith(".png"):
      raise UserError(f"--output {output!r}: samples of an image model are written as .png")
    from PIL import Image
    Image.fromarray(picture).save(output)
    return f"{output} ({picture.shape[1]}x{picture.shape[0]})"
  import numpy as np
  if output.lower().endswith(".npy"):
    np.save(output, result["samples"])
  elif output.lower().endswith(".csv"):
    np.savetxt(output, result["samples"], delimiter=",")
  else:
    raise UserError(f"--output {output!r}: samples of points are written as .npy or .csv")
  return output


def main(argv):
  if len(argv) > 1:
    raise UserError(f"unexpected arguments {' '.join(argv[1:])!r}")
  if not FLAGS.model_name:
    raise UserError("--model_name is required: the name TF Serving serves the model under")
  serving = _serving_module()
  action = FLAGS.action or ("translate" if FLAGS.images else "sample")
  if FLAGS.output and action == "sample":
    if not FLAGS.output.lower().endswith((".png", ".npy", ".csv")):
      raise UserError(f"--output {FLAGS.output!r}: samples are written as .png (images) or "
                      ".npy / .csv (points)")
    writable_target(FLAGS.output, "output", folder=False)
  if action == "translate":
    writable_target(FLAGS.output or ".", "output", folder=True)
  try:
    client = serving.connect(FLAGS.server, FLAGS.model_name, FLAGS.version, FLAGS.timeout)
    if action == "status":
      print(json.dumps(client.status(), indent=2))
    elif action == "metadata":
      print(json.dumps(client.export_metadata(), indent=2))
    elif action == "sample":
      if FLAGS.labels is not None:
        result = client.sample(labels=int_labels(FLAGS.labels), seed=FLAGS.seed)
      else:
        result = client.sample(FLAGS.num_samples, seed=FLAGS.seed)
      key = "images" if "images" in result else "samples"
      print(f"{key}: shape {list(result[key].shape)}, range [{result[key].min():.3f}, "
            f"{result[key].max():.3f}]")
      if FLAGS.output:
        print(f"wrote {_write_sample(result, FLAGS.output, serving)}")
    else:
      if not FLAGS.images:
        raise UserError("--action=translate needs --images=file1,file2,...")
      files = []
      for path in FLAGS.images:
        if not os.path.isfile(path):
          raise UserError(f"--images: {path!r} is not a file")
        with open(path, "rb") as f:
          files.append(f.read())
      pngs = client.translate_files(files, FLAGS.direction)
      out_dir = FLAGS.output or "."
      os.makedirs(out_dir, exist_ok=True)
      for path, png in zip(FLAGS.images, pngs):
        target = os.path.join(out_dir, os.path.splitext(os.path.basename(path))[0] +
                              f"_{FLAGS.direction}.png")
        with open(target, "wb") as f:
          f.write(png)
        print(f"wrote {target}")
  except serving.ServingError as e:
    # One line, whatever the server answered; exit 2 as the other tools for what the
    # user can act on (a server that is down, a model that is not served, a refusal).
    raise UserError(" ".join(str(e).split())) from None
  return 0


if __name__ == "__main__":
  run_main(main, tensorflow=False)
