"""The patch projection head of contrastive unpaired translation (CUT).

Park et al. 2020, "Contrastive Learning for Unpaired Image-to-Image Translation"
(ECCV), section 3.1: features of sampled patches from several layers of the generator's
encoder each pass through a small two-layer MLP (``H_l``) before the PatchNCE loss. As
in the authors' code (``PatchSampleF`` with ``netF=mlp_sample``): per layer,
Dense(256) → ReLU → Dense(256), weights from N(0, 0.02), zero biases; the L2
normalisation that follows is left to the caller (it runs in float32).
"""

from __future__ import annotations

from typing import Sequence

import keras

from tf_gans.layers import normal_init


def patch_projector(channels: Sequence[int], units: int = 256,
                    name: str = "projector") -> keras.Model:
  """One MLP per feature layer, as a model of as many inputs and outputs.

  Args:
    channels: Channels of each feature layer, in order.
    units: Width of both Dense layers (256 in the paper).
    name: Model name.

  Returns:
    A model mapping a list of [N, P, C_l] patch features to a list of [N, P, units].

  Raises:
    ValueError: for no layers or non-positive sizes.
  """
  if not channels or min(channels) < 1 or units < 1:
    raise ValueError(f"patch_projector needs at least one layer, positive channels and "
                     f"units; got channels={list(channels)}, units={units}")
  inputs, outputs = [], []
  for i, c in enumerate(channels):
    x = keras.Input((None, int(c)), name=f"features_{i}")
    h = keras.layers.Dense(units, activation="relu", kernel_initializer=normal_init(),
                           name=f"mlp{i}_0")(x)
    h = keras.layers.Dense(units, kernel_initializer=normal_init(), name=f"mlp{i}_1")(h)
    inputs.append(x)
    outputs.append(h)
  return keras.Model(inputs, outputs, name=name)
