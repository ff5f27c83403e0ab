"""Signatures of a two-way image translator (CycleGAN, DiscoGAN)."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import tensorflow as tf

from tf_gans.export import module as serving
from tf_gans.export.module import DEFAULT_SIGNATURE, ServingModule
from tf_gans.export.registry import register_exporter


def export_translation(gan: Any, config: Mapping[str, Any]) -> ServingModule:
  """Signatures of a two-way image translator (CycleGAN, DiscoGAN).

  For each direction ``a_to_b`` (also ``serving_default``) and ``b_to_a``:

  * ``<direction>``: ``images`` float32 [N, H, W, C] in [-1, 1] at the model's size ->
    ``images`` float32 in [-1, 1] and ``images_uint8``;
  * ``<direction>_encoded``: ``images_bytes`` string [N] of JPEG/PNG/GIF/BMP files of
    any size -> ``images_bytes`` string [N] of PNG files of the same sizes. Each image
    is resized to the model's size, translated and resized back. Over REST the bytes
    travel as ``{"b64": ...}``; TF Serving base64-encodes outputs whose name ends in
    ``_bytes``.
  """
  del config
  height, width, channels = (int(d) for d in gan.image_shape)
  networks = {"generator_ab": gan.generator_ab, "generator_ba": gan.generator_ba}
  image_spec = tf.TensorSpec([None, height, width, channels], tf.float32)
  module = ServingModule(networks, info={"image_shape": [height, width, channels],
                                         "directions": ["a_to_b", "b_to_a"]},
                         keras_inputs={k: [image_spec] for k in networks})
  gray = np.full((height, width, channels), 128, np.uint8)
  png = tf.io.encode_png(gray).numpy()
  for direction, network in (("a_to_b", networks["generator_ab"]),
                             ("b_to_a", networks["generator_ba"])):

    def translate(images, network=network):
      return serving.image_outputs(network(images, training=False))

    def translate_encoded(images_bytes, network=network):
      def decode(data):
        image = tf.io.decode_image(data, channels=channels, dtype=tf.uint8,
                                   expand_animations=False)
        size = tf.shape(image)[:2]
        # Antialiasing keeps a large photo's downscale from aliasing.
        image = tf.image.resize(tf.cast(image, tf.float32), [height, width],
                                method="bilinear", antialias=True)
        return image / 127.5 - 1.0, size

      images, sizes = tf.map_fn(
          decode, images_bytes,
          fn_output_signature=(tf.TensorSpec([height, width, channels], tf.float32),
                               tf.TensorSpec([2], tf.int32)))
      # One batched generator call; only decoding and resizing are per image.
      translated = tf.cast(network(images, training=False), tf.float32)

      def encode(args):
        image, size = args
        image = tf.image.resize(image, size, method="bilinear", antialias=True)
        return tf.io.encode_png(serving.to_uint8(image))

      return {"images_bytes": tf.map_fn(encode, (translated, sizes),
                                        fn_output_signature=tf.TensorSpec([], tf.string))}

    module.add_signature(direction, translate, {"images": image_spec},
                         warmup={"images": np.zeros((1, height, width, channels), np.float32)},
                         aliases=(DEFAULT_SIGNATURE,) if direction == "a_to_b" else ())
    module.add_signature(f"{direction}_encoded", translate_encoded,
                         {"images_bytes": tf.TensorSpec([None], tf.string)},
                         warmup={"images_bytes": np.array([png], dtype=object)})
  return module


register_exporter("cyclegan", export_translation)
register_exporter("discogan", export_translation)
