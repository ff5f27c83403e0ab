"""How a generator of 2-D points is measured (the WGAN on the toy mixtures)."""

from __future__ import annotations

from typing import Any


def evaluate_points(gan: Any, config: Any, source: Any, *,
                  num_samples: int = 2500, seed: int = 0, **_: Any) -> dict[str, Any]:
  """Mode coverage (mixtures) and earth-mover distance to real samples (2-D data).

  Mode coverage as VEEGAN and PacGAN measure it (:func:`tf_gans.metrics.mode_coverage`);
  the earth-mover distance beside the distance between two real samples of the same
  size (its floor).
  """
  if source.kind != "points":
    raise ValueError(f"wgan evaluation measures 2-D data; dataset {source.name!r} holds images")
  from tf_gans import distances
  from tf_gans.metrics import mode_coverage
  generated = gan.generate(num_samples, seed=seed).numpy()
  real = source.take(num_samples, seed=seed + 1)["x"]
  out: dict[str, Any] = {}
  if "modes" in source.info:
    out.update(mode_coverage(generated, source.info["modes"], source.info["mode_std"]))
  out["earth_movers_distance"] = distances.earth_movers_distance(generated, real)
  out["earth_movers_distance_real_vs_real"] = distances.earth_movers_distance(
      source.take(num_samples, seed=seed + 2)["x"], real)
  return out
