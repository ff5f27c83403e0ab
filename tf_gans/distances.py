"""The probability distances compared in the Wasserstein GAN paper, as analysis tools.

Arjovsky, Chintala & Bottou 2017, "Wasserstein Generative Adversarial Networks" (ICML),
section 2, compare four ways of measuring how far a model distribution is from the data
distribution: total variation, Kullback-Leibler, Jensen-Shannon and the Earth-Mover
(Wasserstein-1) distance. Their example 1 -- two uniform distributions on parallel line
segments a distance ``theta`` apart -- shows that only the Earth-Mover distance varies
continuously with ``theta``: the other three jump as soon as the supports stop
overlapping, so they give no gradient telling a generator which way to move.

These functions work on NumPy arrays and return Python floats; they are meant for
analysis and teaching, not for use inside a training graph. Run

    python -m tf_gans.distances

to print the parallel-lines table.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import numpy.typing as npt
from scipy import optimize, sparse, spatial, stats

ArrayLike = npt.ArrayLike

# How far a probability vector's total may be from 1 before it is rejected.
_NORMALISATION_TOLERANCE = 1e-6

# Beyond this many transport-plan variables (n * m) the exact LP for unequal sample sizes
# becomes too slow/memory hungry to be a sensible default; the sliced version is the
# scalable alternative.
_MAX_LP_VARIABLES = 250_000


# ---------------------------------------------------------------------------------------
# Distances between discrete distributions.
# ---------------------------------------------------------------------------------------


def _probability_vector(values: ArrayLike, name: str) -> np.ndarray:
  """Validates and returns a 1-D float64 probability vector.

  Raises:
    ValueError: If ``values`` is not 1-D and non-empty, has non-finite or negative
      entries, or does not sum to 1 within ``_NORMALISATION_TOLERANCE``.
  """
  array = np.asarray(values, dtype=np.float64)
  if array.ndim != 1 or array.size == 0:
    raise ValueError(
        f"{name} must be a non-empty 1-D probability vector, got shape {array.shape}")
  if not np.all(np.isfinite(array)):
    raise ValueError(f"{name} has non-finite entries: {array[~np.isfinite(array)]}")
  if np.any(array < 0):
    raise ValueError(f"{name} has negative entries: min {array.min():g}")
  total = float(array.sum())
  if abs(total - 1.0) > _NORMALISATION_TOLERANCE:
    raise ValueError(f"{name} sums to {total:g}, expected 1")
  return array


def _probability_pair(p: ArrayLike, q: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
  p_array = _probability_vector(p, "p")
  q_array = _probability_vector(q, "q")
  if p_array.shape != q_array.shape:
    raise ValueError(
        f"p and q must have the same shape, got p shape {p_array.shape} and q shape "
        f"{q_array.shape}")
  return p_array, q_array


def total_variation(p: ArrayLike, q: ArrayLike) -> float:
  """Total variation distance between two discrete distributions.

  Arjovsky et al. 2017, "Wasserstein GAN", section 2:
  ``delta(P, Q) = sup_A |P(A) - Q(A)|``. For discrete distributions the supremum is
  attained by ``A = {i : p_i > q_i}``, which gives ``1/2 sum_i |p_i - q_i|``. It lies in
  [0, 1] and is 1 exactly when the supports are disjoint.

  Args:
    p: 1-D probability vector (non-negative, sums to 1).
    q: 1-D probability vector over the same atoms.

  Returns:
    The distance as a Python float.

  Raises:
    ValueError: If either input is not a valid probability vector or the shapes differ.
  """
  p, q = _probability_pair(p, q)
  return 0.5 * float(np.abs(p - q).sum())


def _kl(p: np.ndarray, q: np.ndarray) -> float:
  # Terms with p_i = 0 contribute 0 (the limit of t log t as t -> 0); mass of p where q
  # has none makes the divergence infinite.
  support = p > 0
  if np.any(q[support] == 0):
    return math.inf
  value = float(np.sum(p[support] * np.log(p[support] / q[support])))
  # Gibbs' inequality says KL >= 0; rounding can leave a tiny negative number for
  # p ~ q, which would look like a bug to a reader of the table.
  return max(value, 0.0)


def kl_divergence(p: ArrayLike, q: ArrayLike) -> float:
  """Kullback-Leibler divergence ``KL(P || Q) = sum_i p_i log(p_i / q_i)``, in nats.

  Arjovsky et al. 2017, "Wasserstein GAN", section 2. Asymmetric, and infinite when P
  puts mass where Q has none -- which is what happens between a data distribution and a
  model supported on a low-dimensional manifold that misses it.

  Args:
    p: 1-D probability vector (non-negative, sums to 1).
    q: 1-D probability vector over the same atoms.

  Returns:
    The divergence as a Python float (``math.inf`` if some ``p_i > 0`` has ``q_i = 0``).

  Raises:
    ValueError: If either input is not a valid probability vector or the shapes differ.
  """
  p, q = _probability_pair(p, q)
  return _kl(p, q)


def js_divergence(p: ArrayLike, q: ArrayLike) -> float:
  """Jensen-Shannon divergence, in nats.

  Arjovsky et al. 2017, "Wasserstein GAN", section 2:
  ``JS(P, Q) = 1/2 KL(P || M) + 1/2 KL(Q || M)`` with ``M = (P + Q) / 2``. Symmetric and
  always finite (``M`` has mass wherever P or Q does); it is at most ``log 2``, reached
  exactly when the supports are disjoint. It is the divergence the original minimax GAN
  minimises (up to constants) when its discriminator is optimal.

  Args:
    p: 1-D probability vector (non-negative, sums to 1).
    q: 1-D probability vector over the same atoms.

  Returns:
    The divergence as a Python float in [0, log 2].

  Raises:
    ValueError: If either input is not a valid probability vector or the shapes differ.
  """
  p, q = _probability_pair(p, q)
  m = 0.5 * (p + q)
  value = 0.5 * _kl(p, m) + 0.5 * _kl(q, m)
  # log 2 is a theorem (reached for disjoint supports); rounding in the two logs can
  # overshoot it by an ulp, which would read as "more than disjoint".
  return min(value, math.log(2.0))


# ---------------------------------------------------------------------------------------
# Earth-Mover (Wasserstein-1) distance between empirical samples.
# ---------------------------------------------------------------------------------------


def _samples(values: ArrayLike, name: str) -> np.ndarray:
  """Returns samples as a float64 ``[n, d]`` array (1-D input means d = 1)."""
  array = np.asarray(values, dtype=np.float64)
  if array.ndim == 1:
    array = array[:, None]
  if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
    raise ValueError(
        f"{name} must be a non-empty sample array of shape [n] or [n, d], got shape "
        f"{np.shape(values)}")
  if not np.all(np.isfinite(array)):
    raise ValueError(f"{name} has non-finite entries")
  return array


def _sample_pair(x: ArrayLike, y: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
  x_array = _samples(x, "x")
  y_array = _samples(y, "y")
  if x_array.shape[1] != y_array.shape[1]:
    raise ValueError(
        f"x and y must have the same dimension d, got x shape {np.shape(x)} and y shape "
        f"{np.shape(y)}")
  return x_array, y_array


def _transport_lp(cost: np.ndarray) -> float:
  """Exact optimal transport between uniform weights on the rows and the columns."""
  n, m = cost.shape
  # Variables: the plan T (n x m, row-major), T >= 0. Constraints: row sums 1/n (all of
  # x's mass leaves), column sums 1/m (all of y's mass arrives). One constraint is
  # redundant (both sets sum to 1); HiGHS copes with that.
  row_sums = sparse.kron(sparse.identity(n), np.ones((1, m)))
  column_sums = sparse.kron(np.ones((1, n)), sparse.identity(m))
  a_eq = sparse.vstack([row_sums, column_sums]).tocsr()
  b_eq = np.concatenate([np.full(n, 1.0 / n), np.full(m, 1.0 / m)])
  result = optimize.linprog(
      cost.ravel(), A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
  if result.status != 0:
    raise RuntimeError(f"optimal transport LP failed: {result.message}")
  return float(result.fun)


def earth_movers_distance(x: ArrayLike, y: ArrayLike) -> float:
  """Earth-Mover (Wasserstein-1) distance between two empirical samples.

  Arjovsky et al. 2017, "Wasserstein GAN", section 2:
  ``W(P, Q) = inf_{gamma in Pi(P, Q)} E_{(u, v) ~ gamma} ||u - v||``, here between the
  uniform empirical distributions on the rows of ``x`` and of ``y`` with the Euclidean
  ground metric. All three cases below are *exact* for the empirical distributions:

  * d = 1: the sorted-sample (quantile) formula via ``scipy.stats.wasserstein_distance``,
    O((n + m) log(n + m)), any sizes.
  * d > 1, n = m: an optimal plan between two uniform measures on n points can be taken
    to be a permutation (Birkhoff-von Neumann), so W1 is the optimal assignment cost
    divided by n, found with ``scipy.optimize.linear_sum_assignment``. That is O(n^3)
    time and O(n^2) memory: fine for a few thousand points; beyond that use
    :func:`sliced_earth_movers_distance`.
  * d > 1, n != m: the transport linear programme (n * m variables) solved exactly with
    ``scipy.optimize.linprog`` (HiGHS). Only for small samples: if n * m exceeds
    250,000 a ValueError points to the sliced version (or subsample to equal sizes).

  Args:
    x: Samples ``[n, d]`` (or ``[n]`` for d = 1).
    y: Samples ``[m, d]`` (or ``[m]``), same d.

  Returns:
    The distance as a Python float.

  Raises:
    ValueError: If the inputs are empty, non-finite, of different dimensions, or
      (d > 1, n != m) too large for the exact LP.
  """
  x, y = _sample_pair(x, y)
  if x.shape[1] == 1:
    return float(stats.wasserstein_distance(x[:, 0], y[:, 0]))
  n, m = x.shape[0], y.shape[0]
  if n != m and n * m > _MAX_LP_VARIABLES:
    raise ValueError(
        f"exact earth mover's distance for unequal sample sizes ({n} vs {m}) solves a "
        f"linear programme with {n * m} variables, more than {_MAX_LP_VARIABLES}; use "
        "sliced_earth_movers_distance, or draw equal-size samples (exact assignment)")
  cost = spatial.distance.cdist(x, y, metric="euclidean")
  if n == m:
    rows, columns = optimize.linear_sum_assignment(cost)
    return float(cost[rows, columns].mean())
  return _transport_lp(cost)


def sliced_earth_movers_distance(
    x: ArrayLike,
    y: ArrayLike,
    num_projections: int = 128,
    seed: int | None = 0,
) -> float:
  """Sliced Earth-Mover distance: the mean 1-D W1 over random projections.

  Rabin et al. 2011, "Wasserstein Barycenter and its Application to Texture Mixing"
  (SSVM); Bonneel et al. 2015, "Sliced and Radon Wasserstein Barycenters of Measures".
  Both samples are projected on ``num_projections`` random unit directions (uniform on
  the sphere) and the exact 1-D distances (sorted-sample formula) are averaged: cost
  O(num_projections * (n + m) log(n + m)), so it scales to large samples.

  It is *not* W1 itself. Each projection is 1-Lipschitz, so every 1-D distance is at
  most W1 and so is their mean: it is a lower bound, in general strictly smaller. For a
  pure translation by ``s`` in d dimensions it is ``||s|| E|u_1|`` (``2/pi ||s||`` in 2-D,
  roughly ``sqrt(2 / (pi d)) ||s||`` in high d). Use it to compare or track distances
  (it is zero iff the distributions are equal, and continuous like W1), not as a
  drop-in value for W1. For d = 1 it equals the exact distance.

  Args:
    x: Samples ``[n, d]`` (or ``[n]`` for d = 1).
    y: Samples ``[m, d]`` (or ``[m]``), same d.
    num_projections: Number of random directions (>= 1); the Monte Carlo error of the
      average shrinks like ``1/sqrt(num_projections)``.
    seed: Seed of the NumPy generator drawing the directions (deterministic by default).

  Returns:
    The sliced distance as a Python float.

  Raises:
    ValueError: If the inputs are invalid (see :func:`earth_movers_distance`) or
      ``num_projections < 1``.
  """
  if isinstance(num_projections, bool) or not isinstance(num_projections, (int, np.integer)) \
      or num_projections < 1:
    raise ValueError(f"num_projections must be a positive integer, got {num_projections!r}")
  x, y = _sample_pair(x, y)
  rng = np.random.default_rng(seed)
  # Normalised Gaussian vectors are uniform on the unit sphere.
  directions = rng.standard_normal((int(num_projections), x.shape[1]))
  directions /= np.linalg.norm(directions, axis=1, keepdims=True)
  x_projected = x @ directions.T  # [n, P]
  y_projected = y @ directions.T  # [m, P]
  if x.shape[0] == y.shape[0]:
    # Equal sizes: the 1-D optimal plan matches order statistics, so each projection's
    # W1 is the mean absolute difference of the sorted projections; vectorised over P.
    distances = np.abs(np.sort(x_projected, axis=0) - np.sort(y_projected, axis=0)).mean(0)
  else:
    distances = np.array([
        stats.wasserstein_distance(x_projected[:, k], y_projected[:, k])
        for k in range(x_projected.shape[1])
    ])
  return float(distances.mean())


# ---------------------------------------------------------------------------------------
# Example 1 of the WGAN paper: parallel lines.
# ---------------------------------------------------------------------------------------

DISTANCE_NAMES: tuple[str, ...] = (
    "total_variation", "kl_divergence", "js_divergence", "earth_movers")


@dataclasses.dataclass(frozen=True)
class ParallelLinesDistances(Mapping[str, float]):
  """The four distances between P_0 and P_theta of the parallel-lines example.

  Accessible as attributes (``result.earth_movers``) or as a read-only mapping over the
  four distance names (``result["earth_movers"]``, ``dict(result)``); ``theta`` is an
  attribute only.
  """

  theta: float
  total_variation: float
  kl_divergence: float
  js_divergence: float
  earth_movers: float

  def __getitem__(self, key: str) -> float:
    if key not in DISTANCE_NAMES:
      raise KeyError(key)
    return getattr(self, key)

  def __iter__(self) -> Iterator[str]:
    return iter(DISTANCE_NAMES)

  def __len__(self) -> int:
    return len(DISTANCE_NAMES)


def _line_atom_masses(num_bins: int) -> np.ndarray:
  """Masses of Z ~ U[0, 1] in ``num_bins`` equal bins, from its CDF F(z) = z."""
  edges = np.linspace(0.0, 1.0, num_bins + 1)
  # F is the identity on [0, 1], so each bin's mass F(b) - F(a) is its width.
  return np.diff(edges)


def parallel_lines(
    theta: float,
    num_samples: int = 1000,
    seed: int | None = 0,
    num_bins: int = 100,
) -> ParallelLinesDistances:
  """The four distances between P_0 and P_theta in the WGAN paper's example 1.

  Arjovsky et al. 2017, "Wasserstein GAN", example 1: with ``Z ~ U[0, 1]``, ``P_0`` is
  the distribution of ``(0, Z)`` and ``P_theta`` that of ``(theta, Z)`` -- uniform on two
  parallel vertical segments. The paper shows

  * ``W(P_0, P_theta) = |theta|``,
  * ``JS = log 2``, ``KL = +inf``, ``TV = 1`` for ``theta != 0``, and all 0 at ``theta = 0``,

  so only the Earth-Mover distance is continuous in ``theta`` and can guide a generator
  ``theta`` towards 0 by gradient descent.

  How the values are obtained (nothing is hard-coded):

  * TV, KL, JS: both distributions are discretised as probability vectors over a common
    set of atoms ``(line position, z-bin)``: ``z`` is cut into ``num_bins`` equal bins
    on each distinct line (one line if ``theta == 0``, two otherwise), each bin getting
    its exact mass under ``U[0, 1]``. Then :func:`total_variation`, :func:`kl_divergence`
    and :func:`js_divergence` are applied. The discretisation is exact for these
    divergences here: within a line both distributions have the same (uniform) density,
    so refining the bins changes nothing.
  * EM: :func:`earth_movers_distance` between ``num_samples`` points ``(0, z_i)`` and
    ``(theta, z_i)`` drawn with the *same* ``z_i``. Every pair costs
    ``sqrt(theta^2 + (z_i - z_j)^2) >= |theta|`` with equality for ``i = j``, so the
    optimal assignment is the straight move and the result is exactly ``|theta|`` -- the
    population value. Independent ``z`` for the two samples would add the sampling
    error between two empirical uniforms (of order ``num_samples**-0.5``), which would
    swamp ``|theta|`` for small ``theta`` and hide the continuity being demonstrated.

  Args:
    theta: Horizontal position of the second line.
    num_samples: Number of points per sample for the Earth-Mover distance (>= 1;
      the exact assignment costs O(num_samples^3)).
    seed: Seed of the NumPy generator drawing the ``z_i``.
    num_bins: Number of ``z``-bins per line for TV/KL/JS (>= 1).

  Returns:
    A :class:`ParallelLinesDistances` (attribute and mapping access) with keys
    "total_variation", "kl_divergence", "js_divergence", "earth_movers".

  Raises:
    ValueError: If ``theta`` is not finite or ``num_samples``/``num_bins`` < 1.
  """
  theta = float(theta)
  if not math.isfinite(theta):
    raise ValueError(f"theta must be finite, got {theta}")
  if num_samples < 1:
    raise ValueError(f"num_samples must be >= 1, got {num_samples}")
  if num_bins < 1:
    raise ValueError(f"num_bins must be >= 1, got {num_bins}")

  # Atoms: (line, bin) for each distinct line position. When theta == 0 the two lines
  # coincide, so the distributions share all their atoms.
  lines = sorted({0.0, theta})
  masses = _line_atom_masses(num_bins)

  def on_line(position: float) -> np.ndarray:
    vector = np.zeros(len(lines) * num_bins)
    start = lines.index(position) * num_bins
    vector[start:start + num_bins] = masses
    return vector

  p0, p_theta = on_line(0.0), on_line(theta)

  rng = np.random.default_rng(seed)
  z = rng.uniform(0.0, 1.0, size=num_samples)
  sample_0 = np.stack([np.zeros_like(z), z], axis=1)
  sample_theta = np.stack([np.full_like(z, theta), z], axis=1)

  return ParallelLinesDistances(
      theta=theta,
      total_variation=total_variation(p0, p_theta),
      kl_divergence=kl_divergence(p0, p_theta),
      js_divergence=js_divergence(p0, p_theta),
      earth_movers=earth_movers_distance(sample_0, sample_theta),
  )


PARALLEL_LINES_COLUMNS: tuple[str, ...] = ("theta",) + DISTANCE_NAMES

DEFAULT_THETAS: tuple[float, ...] = (-1.0, -0.5, -0.1, -0.01, 0.0, 0.01, 0.1, 0.5, 1.0)


def parallel_lines_table(
    thetas: Sequence[float] = DEFAULT_THETAS,
    num_samples: int = 1000,
    seed: int | None = 0,
) -> list[tuple[float, float, float, float, float]]:
  """Rows ``(theta, TV, KL, JS, EM)`` of :func:`parallel_lines` for several ``theta``.

  Args:
    thetas: The line positions to evaluate.
    num_samples: Passed to :func:`parallel_lines`.
    seed: Passed to :func:`parallel_lines`.

  Returns:
    One tuple per theta, in the order of :data:`PARALLEL_LINES_COLUMNS`.
  """
  rows = []
  for theta in thetas:
    result = parallel_lines(theta, num_samples=num_samples, seed=seed)
    rows.append((result.theta,) + tuple(result[name] for name in DISTANCE_NAMES))
  return rows


def format_parallel_lines_table(rows: Sequence[Sequence[float]]) -> str:
  """Formats :func:`parallel_lines_table` rows as a fixed-width text table.

  Args:
    rows: Rows as returned by :func:`parallel_lines_table`.

  Returns:
    The table, header first, one line per row.
  """
  headers = ("theta", "TV", "KL", "JS", "EM (W1)")
  lines = ["".join(f"{h:>12}" for h in headers)]
  for row in rows:
    lines.append("".join(f"{value:>12.6g}" for value in row))
  return "\n".join(lines)


def main() -> None:
  """Prints the parallel-lines table of the WGAN paper's example 1."""
  print("WGAN example 1: P_0 = (0, Z), P_theta = (theta, Z), Z ~ U[0, 1]")
  print(format_parallel_lines_table(parallel_lines_table(DEFAULT_THETAS)))
  print(
      f"Only EM (= |theta|) goes to 0 continuously as theta -> 0; TV, KL and JS stay at "
      f"1, inf and log 2 = {math.log(2):.6f} until theta is exactly 0.")


if __name__ == "__main__":
  main()
