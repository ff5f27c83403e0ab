"""Signatures of an image translator (CycleGAN, DiscoGAN, pix2pix, CUT)."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import tensorflow as tf

from tf_gans.export import module as serving
from tf_gans.export import requests
from tf_gans.export.module import DEFAULT_SIGNATURE, ServingModule
from tf_gans.export.registry import register_exporter
from tf_gans.export.requests import Checks, RequestLimits


def export_translation(gan: Any, config: Mapping[str, Any],
                       limits: RequestLimits | None = None) -> ServingModule:
  """Signatures of an image translator (CycleGAN, DiscoGAN, pix2pix, CUT).

  For each direction the model translates (``gan.direction_networks()``: ``a_to_b`` and
  ``b_to_a`` for the two-domain models, the trained one for pix2pix, ``a_to_b`` for CUT;
  the first is also ``serving_default``):

  * ``<direction>``: ``images`` float32 [N, H, W, C] in [-1, 1] at the model's size ->
    ``images`` float32 in [-1, 1] and ``images_uint8``;
  * ``<direction>_encoded``: ``images_bytes`` string [N] of JPEG/PNG/GIF/BMP/WebP files
    of any size -> ``images_bytes`` string [N] of PNG files of the same sizes. Each
    image is resized to the model's size, translated and resized back. Over REST the
    bytes travel as ``{"b64": ...}``; TF Serving base64-encodes outputs whose name ends
    in ``_bytes``.

  Refused (:mod:`tf_gans.export.requests`): N above ``limits.max_batch``; images of
  another size or channel count, non-finite or outside [-1, 1]; files that are no image
  of those formats, are cut short, or declare more pixels than ``limits`` allow.
  """
  del config
  height, width, channels = (int(d) for d in gan.image_shape)
  limits = (limits or RequestLimits()).for_model(height * width)
  by_direction = gan.direction_networks()
  networks = {name: getattr(gan, name) for name in by_direction.values()}
  image_spec = tf.TensorSpec([None, height, width, channels], tf.float32)
  module = ServingModule(networks, info={"image_shape": [height, width, channels],
                                         "directions": list(by_direction),
                                         "request_limits": limits.to_json()},
                         keras_inputs={k: [image_spec] for k in networks})
  gray = np.full((height, width, channels), 128, np.uint8)
  png = tf.io.encode_png(gray).numpy()
  what = f"{height}x{width} images with {channels} channels, in [-1, 1]"

  def empty_images():
    return tf.zeros([0, height, width, channels])

  main_direction = next(iter(by_direction))
  for direction, name in by_direction.items():
    network = networks[name]

    def translate(images, network=network):
      checks = Checks()
      rows = checks.input("images", images, [None, height, width, channels], what,
                          max_batch=limits.max_batch, finite=True, value_range=(-1.0, 1.0))
      return serving.image_outputs(checks.run(
          rows, lambda: tf.cast(network(images, training=False), tf.float32), empty_images))

    def translate_encoded(images_bytes, network=network):
      checks = Checks()
      rows = checks.input("images_bytes", images_bytes, [None], "encoded image files",
                          max_batch=limits.max_batch)
      requests.check_encoded_images(checks, "images_bytes", images_bytes, limits)

      def decode(data):
        image = tf.io.decode_image(data, channels=channels, dtype=tf.uint8,
                                   expand_animations=False)
        size = tf.shape(image)[:2]
        # Antialiasing keeps a large photo's downscale from aliasing.
        image = tf.image.resize(tf.cast(image, tf.float32), [height, width],
                                method="bilinear", antialias=True)
        return image / 127.5 - 1.0, size

      def encode(args):
        image, size = args
        image = tf.image.resize(image, size, method="bilinear", antialias=True)
        return tf.io.encode_png(serving.to_uint8(image))

      def translate_files():
        images, sizes = tf.map_fn(
            decode, images_bytes,
            fn_output_signature=(tf.TensorSpec([height, width, channels], tf.float32),
                                 tf.TensorSpec([2], tf.int32)))
        # One batched generator call; only decoding and resizing are per image.
        translated = tf.cast(network(images, training=False), tf.float32)
        return tf.map_fn(encode, (translated, sizes),
                         fn_output_signature=tf.TensorSpec([], tf.string))

      return {"images_bytes": checks.run(rows, translate_files,
                                         lambda: tf.zeros([0], tf.string))}

    module.add_signature(direction, translate, {"images": image_spec},
                         warmup={"images": np.zeros((1, height, width, channels), np.float32)},
                         aliases=(DEFAULT_SIGNATURE,) if direction == main_direction else ())
    module.add_signature(f"{direction}_encoded", translate_encoded,
                         {"images_bytes": tf.TensorSpec([None], tf.string)},
                         warmup={"images_bytes": np.array([png], dtype=object)})
  return module


register_exporter("cyclegan", export_translation)
register_exporter("discogan", export_translation)
register_exporter("pix2pix", export_translation)
register_exporter("cut", export_translation)
