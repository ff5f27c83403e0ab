#!/usr/bin/env python
"""Translates an image file or a folder of images with a trained CycleGAN, DiscoGAN, pix2pix
or CUT.

  python tools/translate.py --model_dir=runs/horse2zebra --input=photos/ --output=zebras/
  python tools/translate.py --model_dir=runs/horse2zebra --input=zebra.jpg \\
      --output=horse.png --direction=b_to_a --side_by_side

Images are resized to the size the model was trained at (or, with --keep_size,
translated at their own size, trimmed to what the generator's downsampling divides
evenly: the generators are fully convolutional). Outputs are PNG files named after
the inputs; --side_by_side puts each input to the left of its translation.
"""

from __future__ import annotations

import os

import _common  # noqa: F401  (sets up sys.path and the TF log level)
from _common import FLAGS, UserError, define_path, run_main, writable_target
from absl import flags

define_path("model_dir", None, "A model_dir written by tools/train.py (cyclegan, discogan, "
            "pix2pix or cut).")
define_path("checkpoint", None, "A checkpoint path (default: the newest readable one).")
define_path("input", None, "An image file or a folder of images.")
define_path("output", None, "Output folder (or a .png file when --input is a file).")
flags.DEFINE_enum("direction", None, ["a_to_b", "b_to_a"],
                  "a_to_b uses generator_ab (trainA -> trainB style), b_to_a generator_ba; "
                  "default a_to_b (pix2pix: the direction it was trained in, the only one "
                  "it translates; cut: a_to_b only).")
flags.DEFINE_bool("side_by_side", False, "Write input and translation next to each other.")
flags.DEFINE_bool("keep_size", False, "Translate at each image's own size instead of the "
                  "training size.")


def _inputs(path: str) -> list[str]:
  from tf_gans.data.images import IMAGE_EXTENSIONS, list_images
  if os.path.isdir(path):
    return list_images(path)
  if not os.path.isfile(path):
    raise UserError(f"--input {path!r} does not exist")
  if not path.lower().endswith(IMAGE_EXTENSIONS):
    raise UserError(f"--input {path!r} is not an image file (expected one of "
                    f"{', '.join(IMAGE_EXTENSIONS)})")
  return [path]


def _output_paths(inputs: list[str], output: str, single_file: bool) -> list[str]:
  """Where the translations go; checked to be writable, nothing created yet."""
  if single_file and output.lower().endswith(".png"):
    writable_target(output, "output", folder=False)
    return [output]
  if os.path.isfile(output):
    raise UserError(f"--output {output!r} is a file; expected a folder (or a .png file for a "
                    "single input)")
  writable_target(output, "output", folder=True)
  names = [os.path.splitext(os.path.basename(p))[0] + ".png" for p in inputs]
  if len(set(names)) != len(names):
    raise UserError("two inputs would write the same output name (e.g. x.jpg and x.png); "
                    "translate them into separate folders")
  return [os.path.join(output, n) for n in names]


def _load(path: str, channels: int, size: tuple[int, int] | None, multiple: int):
  import numpy as np
  from PIL import Image
  with Image.open(path) as im:
    im = im.convert("L" if channels == 1 else "RGB")
    if size is None:  # own size, trimmed to a multiple the generator divides
      width = max(multiple, im.width // multiple * multiple)
      height = max(multiple, im.height // multiple * multiple)
      size = (height, width)
    if (im.height, im.width) != size:
      im = im.resize((size[1], size[0]), Image.BICUBIC)
    array = np.asarray(im, np.float32).reshape(size[0], size[1], channels)
  return array / 127.5 - 1.0


def main(argv):
  if len(argv) > 1:
    raise UserError(f"unexpected arguments {' '.join(argv[1:])!r}")
  for name in ("model_dir", "input", "output"):
    if not getattr(FLAGS, name):
      raise UserError(f"--{name} is required")
  inputs = _inputs(FLAGS.input)
  from tf_gans import training, visualize
  from tf_gans.data.images import check_image_files
  check_image_files(inputs)
  outputs = _output_paths(inputs, FLAGS.output, single_file=not os.path.isdir(FLAGS.input))
  gan, config, _ = training.load(FLAGS.model_dir, FLAGS.checkpoint)
  if not hasattr(gan, "translate"):
    raise UserError(f"model {config.model!r} in {FLAGS.model_dir} does not translate images; "
                    "use tools/sample.py")
  directions = list(gan.direction_networks())
  direction = FLAGS.direction or directions[0]
  if direction not in directions:
    raise UserError(f"{config.model} in {FLAGS.model_dir} translates only "
                    f"{', '.join(directions)}; drop --direction={direction}")
  import numpy as np
  height, width, channels = gan.image_shape
  size = None if FLAGS.keep_size else (height, width)
  for source, target in zip(inputs, outputs):
    image = _load(source, channels, size, gan.size_multiple)
    translated = gan.translate(image[None], direction).numpy()[0]
    picture = np.concatenate([image, translated], axis=1) if FLAGS.side_by_side else translated
    picture = visualize.to_uint8(picture)
    if channels == 1:
      picture = picture[..., 0]
    visualize.save_png(picture, target)
  print(f"translated {len(inputs)} image(s) {direction} with {config.model} step "
        f"{int(gan.train_counter.numpy())} into {FLAGS.output}")


if __name__ == "__main__":
  run_main(main)
