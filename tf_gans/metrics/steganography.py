"""How much a two-way translator's reconstruction hides in invisible signal.

Chu, Zhmoginov & Sandler 2017, "CycleGAN, a Master of Steganography": the cycle loss
only asks that F(G(a)) ≈ a, so G may encode what F needs to rebuild a as a faint,
high-frequency pattern in G(a) instead of in its visible content. Then G(a) can show
another digit or object and the cycle error still looks perfect. Such a pattern does
not survive small changes to G(a) that leave it looking the same; visible content does.

:func:`hidden_signal` measures this: it perturbs the translations with faint Gaussian
noise and with a JPEG round trip, translates them back, and reports the cycle error
before and after, and the *gain*: how many times the perturbation of G(a) grows in
F's output, ``mean|F(G(a) + δ) − F(G(a))| / mean|δ|``. A backward generator that reads
what is visible changes its output about as much as its input changed (a gain near 1
or below); a gain well above that, with a cycle error that grows by more than the
perturbation, means the reconstruction relies on signal a person cannot see.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import tensorflow as tf

# σ of the noise on the [-1, 1] image scale: 2 of 255 grey levels, below what a person
# notices on a photograph.
NOISE_STDDEV = 4.0 / 255.0
# A common quality for photos on the web (TensorFlow's encode_jpeg defaults to 95).
JPEG_QUALITY = 75


def add_noise(images: np.ndarray, stddev: float = NOISE_STDDEV, seed: int = 0) -> np.ndarray:
  """Images in [-1, 1] plus N(0, stddev²) noise, clipped back to [-1, 1]."""
  noise = np.random.default_rng(seed).normal(0.0, stddev, images.shape)
  return np.clip(images + noise, -1.0, 1.0).astype(np.float32)


def jpeg_round_trip(images: np.ndarray, quality: int = JPEG_QUALITY) -> np.ndarray:
  """Images in [-1, 1] saved as 8-bit JPEG files of `quality` and decoded again."""
  if not 1 <= quality <= 100:
    raise ValueError(f"JPEG quality must be in [1, 100], got {quality}")
  pixels = tf.cast(tf.round((tf.clip_by_value(images, -1.0, 1.0) + 1.0) * 127.5), tf.uint8)
  out = [tf.io.decode_jpeg(tf.io.encode_jpeg(p, quality=quality), channels=p.shape[-1])
         for p in pixels]
  return (tf.cast(tf.stack(out), tf.float32).numpy() / 127.5 - 1.0).astype(np.float32)


def hidden_signal(source: np.ndarray, translated: np.ndarray,
                  translate_back: Callable[[np.ndarray], np.ndarray],
                  seed: int = 0) -> dict[str, float]:
  """Cycle errors of `source` → `translated` → back, with and without perturbations.

  Args:
    source: Images a [N, H, W, C] in [-1, 1].
    translated: G(a), same shape.
    translate_back: F, numpy images to numpy images.
    seed: Seed of the noise.

  Returns:
    On a [0, 1] scale: ``cycle_error`` mean|F(G(a)) − a|; for each perturbation p in
    ("noise", "jpeg"): ``perturbation_p`` mean|δ|, ``cycle_error_p``
    mean|F(G(a) + δ) − a| and ``gain_p`` mean|F(G(a) + δ) − F(G(a))| / mean|δ|.
  """
  if source.shape != translated.shape:
    raise ValueError(f"source and translated images differ in shape: {source.shape} and "
                     f"{translated.shape}")
  back = translate_back(translated)
  out = {"cycle_error": float(np.mean(np.abs(back - source))) / 2}
  for name, perturbed in (("noise", add_noise(translated, seed=seed)),
                          ("jpeg", jpeg_round_trip(translated))):
    change = float(np.mean(np.abs(perturbed - translated)))
    back_perturbed = translate_back(perturbed)
    out[f"perturbation_{name}"] = change / 2
    out[f"cycle_error_{name}"] = float(np.mean(np.abs(back_perturbed - source))) / 2
    out[f"gain_{name}"] = float(np.mean(np.abs(back_perturbed - back))) / max(change, 1e-12)
  return out
