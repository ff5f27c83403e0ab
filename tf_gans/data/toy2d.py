"""2-D mixtures, generated in code (no files, no downloads).

Two families, as their papers set them up:

* the WGAN-GP reference toy sets (Gulrajani et al. 2017, ``gan_toy.py``):
  ``8gaussians`` (8 modes on a circle of radius 2, std 0.02, all scaled by 1/1.414),
  ``25gaussians`` (grid {-4,-2,0,2,4}², std 0.05, scaled by 1/2.828) and ``swissroll``
  (noise 0.25, scaled by 1/7.5);
* the mode-coverage benchmarks of PacGAN (Lin et al. 2018) and VEEGAN (Srivastava et al.
  2017): ``ring`` (8 modes on the unit circle, std 0.01) and ``grid`` (means {-4,...,4}²
  step 2, std 0.05).
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from tf_gans.data.pipeline import Source


def _circle(n: int, radius: float) -> np.ndarray:
  angles = 2 * np.pi * np.arange(n) / n
  return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def _grid() -> np.ndarray:
  values = np.arange(-4, 5, 2, dtype=np.float64)
  return np.array([(x, y) for x in values for y in values])


# name -> (modes, std, scale). The modes and std given here are after scaling.
MIXTURES = {
    "8gaussians": (_circle(8, 2.0) / 1.414, 0.02 / 1.414),
    "25gaussians": (_grid() / 2.828, 0.05 / 2.828),
    "ring": (_circle(8, 1.0), 0.01),
    "grid": (_grid(), 0.05),
}
TOY_DATASETS = (*MIXTURES, "swissroll")


def _mixture_generator(modes: np.ndarray, std: float):
  means = tf.constant(modes, tf.float32)

  def generate(seed: tf.Tensor, n: int) -> dict[str, tf.Tensor]:
    seeds = tf.random.experimental.stateless_split(seed, 2)
    which = tf.random.stateless_uniform([n], seeds[0], 0, len(modes), dtype=tf.int32)
    noise = tf.random.stateless_normal([n, 2], seeds[1], stddev=std)
    return {"x": tf.gather(means, which) + noise}

  return generate


def _swissroll(seed: tf.Tensor, n: int) -> dict[str, tf.Tensor]:
  # sklearn.datasets.make_swiss_roll(noise=0.25) keeps (x, z): t ~ U[1.5π, 4.5π].
  seeds = tf.random.experimental.stateless_split(seed, 2)
  t = 1.5 * math.pi * (1 + 2 * tf.random.stateless_uniform([n], seeds[0]))
  points = tf.stack([t * tf.cos(t), t * tf.sin(t)], axis=1)
  points += tf.random.stateless_normal([n, 2], seeds[1], stddev=0.25)
  return {"x": points / 7.5}


def toy_source(name: str) -> Source:
  """The 2-D dataset `name` (one of TOY_DATASETS)."""
  if name == "swissroll":
    return Source(name=name, kind="points", generate=_swissroll,
                  spec={"x": tf.TensorSpec([2], tf.float32)}, info={"dim": 2})
  if name not in MIXTURES:
    raise ValueError(f"unknown toy dataset {name!r}; expected one of: {', '.join(TOY_DATASETS)}")
  modes, std = MIXTURES[name]
  return Source(name=name, kind="points", generate=_mixture_generator(modes, std),
                spec={"x": tf.TensorSpec([2], tf.float32)},
                info={"dim": 2, "modes": modes.astype(np.float32), "mode_std": float(std)})
