"""Loads exports as TF Serving would and answers each signature's ordinary request once.

  python tests/helpers/serve_once.py EXPORT_DIR [EXPORT_DIR ...]

TensorFlow alone reads the SavedModels (tf_gans is made unimportable). Prints one JSON line:
{export_dir: {signature: {output: [shape, all values finite]}}, "tf_gans_modules": [...]}.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_requests  # noqa: E402  (its normal() makes the ordinary inputs)

hostile_requests.block_tf_gans()

answers = {}
for export_dir in sys.argv[1:]:
  loaded = tf.saved_model.load(export_dir)
  info = json.loads(loaded.signatures["metadata"](unused=tf.constant(0))["config_json"]
                    .numpy().decode())["info"]
  hostile_requests.image_shape = info.get("image_shape")
  answers[export_dir] = {}
  for name, function in loaded.signatures.items():
    specs = function.structured_input_signature[1]
    out = function(**{k: tf.constant(hostile_requests.normal(s)) for k, s in specs.items()})
    answers[export_dir][name] = {
        k: [list(v.shape), bool(v.dtype == tf.string or np.all(np.isfinite(v.numpy())))]
        for k, v in out.items()}
answers["tf_gans_modules"] = sorted(m for m in sys.modules if m.startswith("tf_gans"))
print(json.dumps(answers))
