"""Tests of tf_gans.distances against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tf_gans import distances

LOG2 = math.log(2.0)
P = [0.5, 0.5]
Q = [0.9, 0.1]


# ---------------------------------------------------------------------------------------
# TV, KL, JS.
# ---------------------------------------------------------------------------------------


def test_total_variation_by_hand():
  # 1/2 (|0.5 - 0.9| + |0.5 - 0.1|) = 0.4 = P(A) - Q(A) for A = {second atom}.
  assert distances.total_variation(P, Q) == pytest.approx(0.4, abs=1e-12)
  assert distances.total_variation([1.0, 0.0, 0.0], [0.0, 0.5, 0.5]) == pytest.approx(1.0)
  assert distances.total_variation(Q, Q) == 0.0
  assert isinstance(distances.total_variation(P, Q), float)


def test_kl_divergence_by_hand():
  expected_pq = 0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1)
  expected_qp = 0.9 * math.log(0.9 / 0.5) + 0.1 * math.log(0.1 / 0.5)
  assert expected_pq == pytest.approx(0.510826, abs=1e-6)
  assert distances.kl_divergence(P, Q) == pytest.approx(expected_pq, rel=1e-12)
  assert distances.kl_divergence(Q, P) == pytest.approx(expected_qp, rel=1e-12)
  assert distances.kl_divergence(P, P) == 0.0


def test_kl_zero_mass_conventions():
  # Atoms where p = 0 contribute nothing: KL([0, 1] || [0.5, 0.5]) = log(1 / 0.5).
  assert distances.kl_divergence([0.0, 1.0], [0.5, 0.5]) == pytest.approx(LOG2, rel=1e-12)
  # p has mass where q has none: infinite.
  assert distances.kl_divergence([0.5, 0.5], [0.0, 1.0]) == math.inf
  assert distances.kl_divergence([1.0, 0.0], [0.0, 1.0]) == math.inf


def test_js_divergence_by_hand():
  m = [0.7, 0.3]
  expected = (0.5 * (0.5 * math.log(0.5 / m[0]) + 0.5 * math.log(0.5 / m[1]))
              + 0.5 * (0.9 * math.log(0.9 / m[0]) + 0.1 * math.log(0.1 / m[1])))
  assert distances.js_divergence(P, Q) == pytest.approx(expected, rel=1e-12)
  assert distances.js_divergence(Q, P) == pytest.approx(expected, rel=1e-12)


def test_js_symmetric_bounded_and_log2_for_disjoint_supports():
  rng = np.random.default_rng(0)
  for _ in range(20):
    p = rng.dirichlet(np.full(6, 0.3))
    q = rng.dirichlet(np.full(6, 0.3))
    js = distances.js_divergence(p, q)
    assert js == pytest.approx(distances.js_divergence(q, p), rel=1e-12, abs=1e-15)
    assert 0.0 <= js <= LOG2
  assert distances.js_divergence([0.5, 0.5, 0.0], [0.0, 0.0, 1.0]) == pytest.approx(
      LOG2, rel=1e-12)
  assert distances.js_divergence([0.5, 0.5, 0.0], [0.0, 0.0, 1.0]) <= LOG2


@pytest.mark.parametrize("fn", [
    distances.total_variation, distances.kl_divergence, distances.js_divergence])
def test_invalid_probability_vectors(fn):
  with pytest.raises(ValueError, match=r"p has negative entries: min -0\.1"):
    fn([1.1, -0.1], Q)
  with pytest.raises(ValueError, match=r"q sums to 1\.3, expected 1"):
    fn(P, [0.9, 0.4])
  with pytest.raises(ValueError, match=r"\(2,\).*\(3,\)"):
    fn(P, [0.2, 0.3, 0.5])
  with pytest.raises(ValueError, match=r"1-D"):
    fn([[0.5, 0.5]], [[0.5, 0.5]])
  # Within the 1e-6 tolerance is accepted.
  assert fn([0.5, 0.5 + 5e-7], P) >= 0.0


# ---------------------------------------------------------------------------------------
# Earth mover's distance.
# ---------------------------------------------------------------------------------------


def test_emd_1d_known_cases():
  # Shift by 5.
  assert distances.earth_movers_distance([0.0, 1.0, 3.0], [5.0, 6.0, 8.0]) == pytest.approx(5.0)
  # Sorted matching 0-0, 1-3: (0 + 2) / 2.
  assert distances.earth_movers_distance([1.0, 0.0], [0.0, 3.0]) == pytest.approx(1.0)
  # Unequal sizes: half the mass of 0 goes to 1, half to 3.
  assert distances.earth_movers_distance([0.0], [1.0, 3.0]) == pytest.approx(2.0)
  # [n, 1] is the same as [n].
  assert distances.earth_movers_distance([[0.0], [1.0]], [[0.0], [3.0]]) == pytest.approx(1.0)


def test_emd_2d_shifted_point_set_is_the_shift():
  rng = np.random.default_rng(1)
  x = rng.normal(size=(60, 2))
  y = x + np.array([3.0, 4.0])
  assert distances.earth_movers_distance(x, y) == pytest.approx(5.0, rel=1e-12)
  # Order of the samples does not matter.
  assert distances.earth_movers_distance(x, y[rng.permutation(60)]) == pytest.approx(
      5.0, rel=1e-12)


def test_emd_2d_assignment_small_case():
  # x = {(0, 0), (10, 0)}, y = {(0, 1), (10, 2)}: best plan (0,0)->(0,1), (10,0)->(10,2):
  # (1 + 2) / 2 = 1.5 (the crossed plan costs (sqrt(101) + sqrt(104)) / 2).
  assert distances.earth_movers_distance([[0, 0], [10, 0]], [[10, 2], [0, 1]]) == (
      pytest.approx(1.5, rel=1e-12))


def test_emd_unequal_sizes_exact_lp():
  # Half of (0, 0)'s mass to (1, 0), half to (0, 2): 0.5 * 1 + 0.5 * 2.
  assert distances.earth_movers_distance([[0.0, 0.0]], [[1.0, 0.0], [0.0, 2.0]]) == (
      pytest.approx(1.5, rel=1e-9))
  # Collinear points: the 2-D LP must agree with the 1-D formula. CDFs of {0, 2} and
  # {0, 1, 2} differ by 1/6 on [0, 1) and on [1, 2): W1 = 1/3.
  x2 = [[0.0, 0.0], [2.0, 0.0]]
  y2 = [[0.0, 0.0], [2.0, 0.0], [1.0, 0.0]]
  assert distances.earth_movers_distance(x2, y2) == pytest.approx(1 / 3, rel=1e-9)
  assert distances.earth_movers_distance([0.0, 2.0], [0.0, 2.0, 1.0]) == pytest.approx(
      1 / 3, rel=1e-12)


def test_emd_unequal_sizes_too_large_points_to_sliced():
  with pytest.raises(ValueError, match="sliced_earth_movers_distance"):
    distances.earth_movers_distance(np.zeros((600, 2)), np.zeros((500, 2)))


def test_emd_invalid_inputs():
  with pytest.raises(ValueError, match="same dimension"):
    distances.earth_movers_distance(np.zeros((3, 2)), np.zeros((3, 3)))
  with pytest.raises(ValueError, match="non-empty"):
    distances.earth_movers_distance(np.zeros((0, 2)), np.zeros((3, 2)))
  with pytest.raises(ValueError, match="non-finite"):
    distances.earth_movers_distance([0.0, np.nan], [0.0, 1.0])


def test_sliced_equals_exact_in_1d():
  rng = np.random.default_rng(2)
  x, y = rng.normal(size=40), rng.exponential(size=40)
  exact = distances.earth_movers_distance(x, y)
  assert distances.sliced_earth_movers_distance(x, y, num_projections=8) == pytest.approx(
      exact, rel=1e-12)
  # Unequal sizes take the per-projection scipy path; still exact in 1-D.
  exact_unequal = distances.earth_movers_distance(x, y[:25])
  assert distances.sliced_earth_movers_distance(x, y[:25], num_projections=4) == (
      pytest.approx(exact_unequal, rel=1e-12))


def test_sliced_2d_translation_and_lower_bound():
  rng = np.random.default_rng(3)
  x = rng.normal(size=(200, 2))
  y = x + np.array([3.0, 4.0])
  # Exact: 5. Sliced: E|<u, s>| over unit u in 2-D = (2 / pi) * 5 ~ 3.183.
  sliced = distances.sliced_earth_movers_distance(x, y, num_projections=4096, seed=0)
  assert sliced == pytest.approx(2 / math.pi * 5.0, rel=0.02)
  assert sliced <= distances.earth_movers_distance(x, y)
  # Deterministic given the seed.
  assert distances.sliced_earth_movers_distance(x, y, seed=4) == (
      distances.sliced_earth_movers_distance(x, y, seed=4))


def test_sliced_is_a_lower_bound_on_exact_for_random_clouds():
  rng = np.random.default_rng(4)
  for scale in (0.5, 2.0):
    x = rng.normal(size=(150, 3))
    y = rng.normal(scale=scale, size=(150, 3)) + 0.5
    exact = distances.earth_movers_distance(x, y)
    sliced = distances.sliced_earth_movers_distance(x, y, num_projections=256)
    assert 0.0 < sliced <= exact + 1e-12
    # Same ordering of magnitude: the bound is not vacuous.
    assert sliced > 0.3 * exact


def test_sliced_rejects_bad_num_projections():
  with pytest.raises(ValueError, match="num_projections"):
    distances.sliced_earth_movers_distance([0.0], [1.0], num_projections=0)


# ---------------------------------------------------------------------------------------
# Parallel lines (WGAN example 1).
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("theta", [1.0, -0.5, 0.1, -0.01])
def test_parallel_lines_theta_nonzero(theta):
  result = distances.parallel_lines(theta)
  assert result["total_variation"] == pytest.approx(1.0, rel=1e-12)
  assert result["kl_divergence"] == math.inf
  assert result["js_divergence"] == pytest.approx(LOG2, rel=1e-12)
  assert result["earth_movers"] == pytest.approx(abs(theta), rel=1e-9)
  # Attribute access agrees with mapping access.
  assert result.earth_movers == result["earth_movers"]
  assert result.theta == theta


def test_parallel_lines_theta_zero():
  result = distances.parallel_lines(0.0)
  assert dict(result) == {
      "total_variation": 0.0, "kl_divergence": 0.0, "js_divergence": 0.0,
      "earth_movers": 0.0}


def test_parallel_lines_only_em_is_continuous():
  for theta in (1e-3, 1e-6):
    result = distances.parallel_lines(theta, num_samples=200)
    assert result.earth_movers == pytest.approx(theta, rel=1e-9)
    assert result.js_divergence == pytest.approx(LOG2, rel=1e-12)
    assert result.total_variation == pytest.approx(1.0, rel=1e-12)
    assert result.kl_divergence == math.inf


def test_parallel_lines_discretisation_does_not_change_divergences():
  for num_bins in (1, 7, 50):
    result = distances.parallel_lines(0.3, num_samples=10, num_bins=num_bins)
    assert (result.total_variation, result.kl_divergence) == (pytest.approx(1.0), math.inf)
    assert result.js_divergence == pytest.approx(LOG2, rel=1e-12)


def test_parallel_lines_table_and_main(capsys):
  thetas = [-1.0, -0.1, 0.0, 0.01, 0.5]
  rows = distances.parallel_lines_table(thetas, num_samples=100)
  assert len(rows) == len(thetas)
  assert distances.PARALLEL_LINES_COLUMNS == (
      "theta", "total_variation", "kl_divergence", "js_divergence", "earth_movers")
  for row, theta in zip(rows, thetas):
    assert row[0] == theta
    assert row[4] == pytest.approx(abs(theta), rel=1e-9)
    if theta == 0.0:
      assert row[1:4] == (0.0, 0.0, 0.0)
    else:
      assert row[1] == pytest.approx(1.0) and row[2] == math.inf
      assert row[3] == pytest.approx(LOG2)

  distances.main()
  out = capsys.readouterr().out
  lines = out.splitlines()
  # Title, header, one row per default theta, footer.
  assert len(lines) == 3 + len(distances.DEFAULT_THETAS)
  assert lines[2].split() == ["-1", "1", "inf", "0.693147", "1"]
  assert lines[6].split() == ["0", "0", "0", "0", "0"]
  assert lines[7].split() == ["0.01", "1", "inf", "0.693147", "0.01"]
