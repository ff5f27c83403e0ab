"""Mode coverage on mixtures of Gaussians, as the VEEGAN and PacGAN tables measure it.

Srivastava et al. (2017, VEEGAN) and Lin et al. (2018, PacGAN): a generated sample is
*high-quality* if it lies within 3 standard deviations of its nearest mode; a mode is
*captured* if at least one high-quality sample has it as its nearest mode. The tables
use 2,500 samples.
"""

from __future__ import annotations

import numpy as np


def mode_coverage(samples: np.ndarray, modes: np.ndarray, std: float,
                  threshold: float = 3.0) -> dict[str, float]:
  """Counts captured modes and the share of high-quality samples.

  Args:
    samples: Generated points [N, d].
    modes: Mode centres [K, d].
    std: Standard deviation of each mixture component.
    threshold: High-quality radius in standard deviations (3 in the papers).

  Returns:
    {"modes_captured": int, "num_modes": int, "high_quality": share in [0, 1],
     "samples_per_mode_min"/"_max": counts of high-quality samples over captured modes}.

  Raises:
    ValueError: if the dimensions of samples and modes differ or std is not positive.
  """
  samples, modes = np.asarray(samples, np.float64), np.asarray(modes, np.float64)
  if samples.ndim != 2 or modes.ndim != 2 or samples.shape[1] != modes.shape[1]:
    raise ValueError(f"samples {samples.shape} and modes {modes.shape} must be [N, d] and [K, d]")
  if std <= 0:
    raise ValueError(f"std must be positive, got {std}")
  distances = np.linalg.norm(samples[:, None, :] - modes[None, :, :], axis=-1)
  nearest = distances.argmin(axis=1)
  good = distances[np.arange(len(samples)), nearest] <= threshold * std
  counts = np.bincount(nearest[good], minlength=len(modes))
  captured = counts > 0
  return {
      "modes_captured": int(captured.sum()),
      "num_modes": int(len(modes)),
      "high_quality": float(good.mean()) if len(samples) else 0.0,
      "samples_per_mode_min": int(counts[captured].min()) if captured.any() else 0,
      "samples_per_mode_max": int(counts.max()),
  }
