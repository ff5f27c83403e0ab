#!/usr/bin/env python
"""Exports a trained model_dir's generators as a SavedModel version for TF Serving.

  python tools/export.py --model_dir=runs/wgan_toy --export_base=exports
  # -> exports/wgan_toy/1/{saved_model.pb, variables/, assets.extra/}

Each run adds the next version (TF Serving serves the highest one). The version is
written into a hidden temporary folder and renamed into place when complete, so a
server polling EXPORT_BASE never sees half a model. --models_config also writes
EXPORT_BASE/models.config listing every model there, for serving several at once.
"""

from __future__ import annotations

import os

import _common  # noqa: F401  (sets up sys.path and the TF log level)
from _common import (FLAGS, UserError, define_checked, define_path, model_name_problem,
                     run_main, writable_target)
from absl import flags

define_path("model_dir", None, "A model_dir written by tools/train.py.")
define_path("checkpoint", None, "A checkpoint path (default: the newest readable one).")
define_path("export_base", None, "Folder of served models; the export goes to "
            "EXPORT_BASE/MODEL_NAME/VERSION.")
define_checked("string", "model_name", None, "Name TF Serving serves the model under "
               "(default: the model_dir's folder name).", check=model_name_problem)
define_checked("integer", "version", None, "Version number (default: one more than the "
               "highest present).", ge=1)
flags.DEFINE_enum("warmup", "auto", ["auto", "always", "never"],
                  "Write warm-up requests into assets.extra: auto = when "
                  "tensorflow-serving-api is installed.")
flags.DEFINE_bool("models_config", False, "Also write EXPORT_BASE/models.config listing every "
                  "model under EXPORT_BASE (TF Serving's --model_config_file).")
define_checked("integer", "max_batch", 0, "Request limit: items per request for every batch "
               "input (noise rows, labels, images, image files, num_samples); 0: as many "
               "as make 2**20 pixels of the model's images, at most 4096.", ge=0,
               le=1_000_000)
define_checked("integer", "max_image_pixels", 4096 * 4096, "Request limit: pixels of one "
               "encoded input image, read from its header before decoding (so a "
               "decompression bomb is refused unread).", ge=1, le=2 ** 31)
define_checked("integer", "max_request_pixels", 2 ** 25, "Request limit: pixels of all "
               "encoded input images of one request together.", ge=1, le=2 ** 40)
define_path("serving_base_path", "/models", "Where the server sees EXPORT_BASE, for "
            "models.config (the tensorflow/serving container's /models).")
define_path("keras_dir", None, "Also write each generator alone with Keras Model.export into "
            "this folder.")


def main(argv):
  if len(argv) > 1:
    raise UserError(f"unexpected arguments {' '.join(argv[1:])!r}")
  if not FLAGS.model_dir:
    raise UserError("--model_dir is required")
  if not FLAGS.export_base:
    raise UserError("--export_base is required: the folder TF Serving serves models from")
  writable_target(FLAGS.export_base, "export_base", folder=True)
  if FLAGS.keras_dir:
    writable_target(FLAGS.keras_dir, "keras_dir", folder=True)
  from tf_gans import export
  warmup = {"auto": None, "always": True, "never": False}[FLAGS.warmup]
  limits = export.RequestLimits(max_batch=FLAGS.max_batch,
                                max_image_pixels=FLAGS.max_image_pixels,
                                max_request_pixels=FLAGS.max_request_pixels)
  result = export.export_model_dir(FLAGS.model_dir, FLAGS.export_base,
                                   model_name=FLAGS.model_name, checkpoint=FLAGS.checkpoint,
                                   version=FLAGS.version, warmup=warmup, limits=limits)
  signatures = ", ".join(sorted(result.metadata["signatures"]))
  print(f"exported {result.model_name} version {result.version} (step "
        f"{result.metadata['step']}) to {result.path}\n  signatures: {signatures}\n"
        f"  request limits: {result.metadata['info']['request_limits']}")
  if FLAGS.keras_dir:
    from tf_gans import training
    gan, config, _ = training.load(FLAGS.model_dir, FLAGS.checkpoint)
    for name, path in export.export_keras_generators(gan, config, FLAGS.keras_dir).items():
      print(f"  keras Model.export of {name}: {path}")
  if FLAGS.models_config:
    path = os.path.join(FLAGS.export_base, "models.config")
    models = export.served_models(FLAGS.export_base, FLAGS.serving_base_path)
    export.write_models_config(path, models)
    print(f"  wrote {path} ({', '.join(m.name for m in models)})")
  base = os.path.abspath(os.path.join(FLAGS.export_base, result.model_name))
  name = result.model_name
  ask = ("--images=photo.jpg --output=translated/" if "a_to_b" in result.metadata["signatures"]
         else "--labels=0,1,2 --output=samples.png" if result.metadata["info"].get("num_classes")
         else "--num_samples=16 --output=samples.png")
  print(f"Next:\n"
        f"  docker run --rm -p 8501:8501 -p 8500:8500 -v {base}:/models/{name} "
        f"-e MODEL_NAME={name} tensorflow/serving   # serve it (REST 8501, gRPC 8500)\n"
        f"  python tools/serve_client.py --model_name={name} {ask}   # ask it\n"
        f"  saved_model_cli show --dir {result.path} --all   # its signatures")


if __name__ == "__main__":
  run_main(main)
