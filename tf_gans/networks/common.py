"""Pieces the image-to-image networks share: normalisation choice and PyTorch-style padding.

The CycleGAN reference code is PyTorch, whose convolutions pad symmetrically
(``padding=1`` adds one pixel on every side). Keras's ``padding="same"`` pads
asymmetrically for even inputs and strides of 2 (nothing before, one pixel after), which
shifts every downsampled feature map by half a pixel and, for the PatchGAN's stride-1
4×4 layers, gives 32×32 instead of 30×30 outputs at 256 px. The networks here pad
explicitly so their geometry (output sizes, receptive fields, which input pixels each
output sees) is the reference's.
"""

from __future__ import annotations

import keras

from tf_gans.layers import instance_norm

NORMS = ("instance", "batch", "none")


def check_norm(norm: str) -> None:
  """Raises ValueError unless norm is one of NORMS."""
  if norm not in NORMS:
    raise ValueError(f"norm {norm!r} is not one of: {', '.join(NORMS)}")


def check_sizes(network: str, norm: str, **sizes: int) -> None:
  """The norm is known and every size is at least 1.

  Raises:
    ValueError: naming the network and each size it got.
  """
  check_norm(norm)
  if any(value < 1 for value in sizes.values()):
    wanted = " and ".join(f"{name} >= 1" for name in sizes)
    got = ", ".join(f"{name}={value}" for name, value in sizes.items())
    raise ValueError(f"{network} needs {wanted}; got {got}")


def norm_layer(norm: str, name: str, memory_saving: bool = True) -> keras.layers.Layer | None:
  """The normalisation layer for `norm`, or None for "none".

  "instance" is instance normalisation without affine parameters (the CycleGAN default,
  PyTorch's ``InstanceNorm2d(affine=False)``; the memory-saving layer or Keras's, as
  `memory_saving` says); "batch" is batch normalisation with PyTorch's momentum (0.1,
  i.e. Keras momentum 0.9) and epsilon (1e-5), the DiscoGAN default.
  """
  check_norm(norm)
  if norm == "instance":
    return instance_norm(name=name, memory_saving=memory_saving)
  if norm == "batch":
    # The reference code initialises batch-norm scales from N(1, 0.02).
    return keras.layers.BatchNormalization(
        momentum=0.9, epsilon=1e-5, name=name,
        gamma_initializer=keras.initializers.RandomNormal(1.0, 0.02))
  return None


def uses_bias(norm: str) -> bool:
  """Convolutions before a batch norm need no bias (its shift replaces it); before an
  instance norm without affine parameters, or no norm, they keep one, as in the
  reference code (``use_bias = norm_layer == nn.InstanceNorm2d``)."""
  return norm != "batch"


def apply_norm(x, layer: keras.layers.Layer | None):
  return x if layer is None else layer(x)


def norm_relu(x, norm: str, name: str, memory_saving: bool = True):
  """`norm` then ReLU; for instance norm with `memory_saving` one layer, whose backward
  pass keeps only the normalised tensor (:class:`tf_gans.lean_layers.InstanceNormalization`)."""
  check_norm(norm)
  if norm == "instance":
    return instance_norm(name=name, relu=True, memory_saving=memory_saving)(x)
  return keras.layers.ReLU()(apply_norm(x, norm_layer(norm, name, memory_saving)))
