"""sphere.py against science/learning_curves.md Sec. 5 and Sec. 8 (F1, F2)."""

import math

import numpy as np
import pytest
from scipy import special

from nnft import sphere


def test_degeneracy_f2():
    # F2: N(50, l) for l = 0..4
    np.testing.assert_array_equal(sphere.degeneracy(50, np.arange(5)), [1, 50, 1274, 22050, 291550])


def test_degeneracy_counts_harmonics_d3():
    # On S^2 there are 2l + 1 harmonics of degree l.
    np.testing.assert_array_equal(sphere.degeneracy(3, np.arange(10)), 2 * np.arange(10) + 1)


def test_log_degeneracy_no_overflow():
    # d = 1000, l = 20: N ~ 1e42 is finite, and the log matches the exact integer formula.
    exact = (2 * 20 + 998) / (20 + 998) * math.comb(20 + 998, 20)
    assert sphere.log_degeneracy(1000, 20) == pytest.approx(math.log(exact), rel=1e-12)


@pytest.mark.parametrize("d", [3, 8, 50, 1000])
def test_gegenbauer_recurrence_matches_scipy(d):
    t = np.linspace(-1, 1, 41)
    table = sphere.gegenbauer_table(d, 20, t)
    for l in range(21):
        np.testing.assert_allclose(table[l], sphere.gegenbauer_normalized(d, l, t), atol=1e-11)
    np.testing.assert_allclose(table[:, -1], 1.0)


def taylor_route(b, d, max_degree):
    """Eq. 9 of Cohen et al.: lambda_l from Taylor coefficients b_n (independent of quadrature)."""
    lam = []
    for l in range(max_degree + 1):
        s = 0.0
        for k in range(0, (len(b) - 1 - l) // 2 + 1):
            n = 2 * k + l
            s += b[n] * math.exp(
                special.gammaln(n + 1)
                - special.gammaln(2 * k + 1)
                + special.gammaln(k + 0.5)
                - special.gammaln(k + l + d / 2)
            )
        lam.append(math.gamma(d / 2) / (math.sqrt(math.pi) * 2**l) * s)
    return np.array(lam)


def test_funk_hecke_exp_kernel_f1():
    # F1: K = exp(t) on S^6, both routes, and the trace identity sum_l N lambda_l = K(1) = e.
    lam = sphere.funk_hecke(np.exp, 7, 30, n_nodes=200)
    # Independent closed form: lambda_l[exp] = Gamma(d/2) 2^nu I_{l+nu}(1), nu = (d-2)/2 (modified Bessel).
    nu = (7 - 2) / 2
    bessel = [math.gamma(3.5) * 2**nu * special.iv(l + nu, 1.0) for l in range(31)]
    np.testing.assert_allclose(lam, bessel, rtol=1e-12, atol=1e-15 * math.e)  # rounding at the scale of K(1)
    # F1's table, to one unit of its last printed digit (its lambda_0 = 1.0734430 is truncated: 1.07344305194).
    table, ulp = np.array([1.0734430, 0.15097636, 0.01660855, 0.00149944]), np.array([1e-7, 1e-8, 1e-8, 1e-8])
    assert np.all(np.abs(lam[:4] - table) <= ulp), lam[:4] - table
    b = [1 / math.factorial(n) for n in range(60)]
    np.testing.assert_allclose(lam[:12], taylor_route(b, 7, 11), rtol=1e-10, atol=1e-15 * math.e)
    assert (sphere.degeneracy(7, np.arange(31)) * lam).sum() == pytest.approx(math.e, rel=1e-12)


def test_quadrature_integrates_gegenbauer_orthogonality():
    # int dmu P_l(x.u) P_m(x.u) = delta_lm / N(d, l) under the law of t (addition theorem).
    d = 9
    t, w = sphere.quadrature(d, 64)
    p = sphere.gegenbauer_table(d, 6, t)
    gram = (p * w) @ p.T
    np.testing.assert_allclose(gram, np.diag(1 / sphere.degeneracy(d, np.arange(7))), atol=1e-13)


def test_sample_sphere_moments():
    rng = np.random.default_rng(0)
    x = sphere.sample_sphere(rng, 20000, 5)
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0)
    # E[x x^T] = I / d; the s.e. of each entry is about sqrt(2 / (d (d + 2) n)) < 0.003.
    np.testing.assert_allclose(x.T @ x / len(x), np.eye(5) / 5, atol=0.012)


def test_bad_dim():
    with pytest.raises(ValueError, match="dim"):
        sphere.degeneracy(2, 1)
