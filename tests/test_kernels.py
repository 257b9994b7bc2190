"""kernels.py: ReLU NNGP / NTK against closed forms (learning_curves.md Sec. 5, F3, F4) and random networks."""

import math

import numpy as np
import pytest
from scipy import special

from nnft import model, sphere
from nnft.theory import kernels


def lam_kappa1(d, m):
    """Closed form lambda_{2m}[kappa_1] (Sec. 5, depth-2 ReLU)."""
    return math.exp(
        special.gammaln(d / 2)
        + special.gammaln(d / 2 + 1)
        + 2 * special.gammaln(m - 0.5)
        - 2 * special.gammaln(m + (d + 1) / 2)
    ) / (4 * math.pi**2)


def lam_t_kappa0(d, m):
    """Closed form lambda_{2m}[t kappa_0] (Sec. 5)."""
    return (
        math.exp(2 * special.gammaln(d / 2) + 2 * special.gammaln(m - 0.5) - 2 * special.gammaln(m + (d + 1) / 2))
        * (m**2 + m * (d - 2) / 2 + 0.25)
        / (2 * math.pi**2)
    )


def test_relu_funk_hecke_eigenvalues_in_closed_form():
    lam = sphere.funk_hecke(kernels.arccos_kappa1, 3, 4, 400)
    np.testing.assert_allclose(lam, [3 / 8, 1 / 6, 3 / 128, 0, 1 / 1536], atol=1e-12)
    lam10 = sphere.funk_hecke(kernels.arccos_kappa1, 10, 2, 400)
    assert lam10[0] == pytest.approx(0.3346024, rel=1e-6)
    assert lam10[2] == pytest.approx(2.765309e-3, rel=1e-6)
    lam10t = sphere.funk_hecke(lambda t: t * kernels.arccos_kappa0(t), 10, 2, 400)
    assert lam10t[0] == pytest.approx(0.03346024, rel=1e-6)
    assert lam10t[2] == pytest.approx(5.807149e-3, rel=1e-6)


@pytest.mark.parametrize("d", [3, 5, 10, 50])
def test_depth2_relu_spectrum_closed_forms(d):
    # Depth 2, inputs at radius sqrt(d) with sigma_w2 = 1, no bias: NNGP = kappa_1 / 2, NTK = (t kappa_0 + kappa_1) / 2.
    net = model.FCN(dim=d, depth=2, sigma_w2=1.0, sigma_b2=0.0, input_scaling="sqrt_d")
    spec = kernels.spectrum(net, 12, 4000)
    even = np.arange(0, 13, 2)
    nngp = np.array([lam_kappa1(d, m) for m in even // 2]) / 2
    ntk = np.array([lam_kappa1(d, m) + lam_t_kappa0(d, m) for m in even // 2]) / 2
    # kappa_0 ~ sqrt(1 + t) near t = -1, so Gauss-Gegenbauer converges algebraically (~n^-3, worst at d = 3 where
    # the weight does not damp the endpoint: relative error 3.5e-6 with 600 nodes); rounding sets a floor ~1e-15 K(1).
    np.testing.assert_allclose(spec.eigenvalue_nngp.values[even], nngp, rtol=1e-7, atol=1e-15 * spec.k1_nngp)
    np.testing.assert_allclose(spec.eigenvalue_ntk.values[even], ntk, rtol=1e-7, atol=1e-15 * spec.k1_ntk)
    assert spec.eigenvalue_nngp.values[1] == pytest.approx(1 / (4 * d), rel=1e-10)  # lambda_1 = 1/(2d), halved
    np.testing.assert_allclose(spec.eigenvalue_nngp.values[3::2], 0, atol=1e-13 * spec.k1_nngp)  # odd l >= 3 vanish


def test_trace_identity_deep_relu():
    # sum_l N(d, l) lambda_l = K(1); the truncation tail is positive and shrinks with max_degree.
    net = model.FCN(dim=8, depth=3, sigma_w2=2.0, sigma_b2=0.1)
    tails = [kernels.spectrum(net, lmax, 2000).attrs["tail_nngp"] for lmax in (10, 40, 120)]
    assert 0 < tails[2] < tails[1] < tails[0]
    assert tails[2] / kernels.nngp(net, 1.0) < 2e-5


def test_cohen_v2_ntk_value_and_eigenvalues():
    # F3: depth-4 ReLU NTK, sigma_w2 = sigma_b2 = 1, d = 50, "unit" convention.
    net = model.FCN(dim=50, depth=4, sigma_w2=1.0, sigma_b2=1.0, input_scaling="unit")
    assert kernels.ntk(net, 1.0) == pytest.approx(3.26, abs=1e-12)
    lam = kernels.spectrum(net, 4, 500).eigenvalue_ntk.values
    np.testing.assert_allclose(lam, [3.19371, 7.27579e-4, 6.19913e-6, 1.76142e-7, 8.3387e-9], rtol=2e-5)


def test_bad_model():
    with pytest.raises(ValueError, match="activation"):
        model.FCN(dim=4, depth=2, activation="swish")
    with pytest.raises(ValueError, match="input_scaling"):
        model.FCN(dim=4, depth=2, input_scaling="radius")


def test_cohen_v2_taylor_trimmed_ntk_and_sigma_r2():
    # F3: the v2 kernel trimmed at r = 3 (Taylor route, Eq. 9 with b_q, q <= 3) and sigma_r^2 = K(1) - K_3(1).
    net = model.FCN(dim=50, depth=4, sigma_w2=1.0, sigma_b2=1.0, input_scaling="unit")
    b, b_err = kernels.taylor_coefficients(lambda z: kernels.recursion(net, z)[1], 200)
    assert np.all(b > -b_err)  # Schoenberg: all b_q >= 0
    lam = kernels.eigenvalues_from_taylor(b[:4], 50, 3)
    np.testing.assert_allclose(lam, [3.1937, 7.2739e-4, 5.9820e-6, 1.6204e-7], rtol=5e-5)
    assert kernels.ntk(net, 1.0) - b[:4].sum() == pytest.approx(0.01873, abs=5e-6)


@pytest.mark.parametrize("dim, depth, activation", [(50, 4, "relu"), (20, 3, "erf"), (1000, 10, "leaky_relu(0.2)")])
def test_funk_hecke_and_taylor_routes_agree(dim, depth, activation):
    # Two independent routes agree within their own error estimates; at d = 1000 and l = 20 nothing overflows.
    net = model.FCN(dim=dim, depth=depth, activation=activation, sigma_w2=1.5, sigma_b2=0.2)
    spec = kernels.spectrum(net, 20, 1000)
    for which in ("nngp", "ntk"):
        lam_q = spec[f"eigenvalue_{which}_quadrature"].values
        lam_t = spec[f"eigenvalue_{which}_taylor"].values
        lam = spec[f"eigenvalue_{which}"].values
        err = spec[f"error_{which}"].values
        assert np.all(np.isfinite(lam)) and np.all(lam > 0)
        both = 3 * (spec[f"error_{which}_quadrature"].values + spec[f"error_{which}_taylor"].values)
        assert np.all(np.abs(lam_q - lam_t) <= both), np.abs(lam_q - lam_t) / both
        np.testing.assert_allclose(lam_q[:3], lam_t[:3], rtol=1e-9)
        assert np.all(err < 1e-4 * lam)  # the chosen route's own error estimate, every degree up to 20
    # Tail masses are >= 0 and shrink with the cutoff, within the summed error estimates N_l * error_l.
    more = kernels.spectrum(net, 60, 1000)
    budget = (more.degeneracy * more.error_nngp).values.sum() + 1e-14 * spec.attrs["k1_nngp"]
    assert spec.attrs["tail_nngp"] > -budget
    assert -budget < more.attrs["tail_nngp"] < spec.attrs["tail_nngp"] + budget


def test_gram_refuses_rows_off_the_sphere():
    """The kernels are functions of x.y on the unit sphere: rows at another radius would silently give the kernel of
    the wrong inputs (erf rows at radius sqrt(d) gave 1.6 instead of 0.775; ReLU rows at radius 2 the unit-radius
    diagonal), so gram refuses them, naming the argument; float32 rows on the sphere pass."""
    net = model.FCN(dim=4, depth=2, activation="erf", sigma_w2=1.5, sigma_b2=0.1)
    x = sphere.sample_sphere(np.random.default_rng(0), 5, 4)
    assert kernels.gram(net, x.astype(np.float32)).shape == (5, 5)
    with pytest.raises(ValueError, match="x: rows must lie on the unit sphere"):
        kernels.gram(net, 2.0 * x)
    with pytest.raises(ValueError, match="y: rows must lie on the unit sphere"):
        kernels.gram(net, x, x * math.sqrt(4))
    with pytest.raises(ValueError, match="kind"):
        kernels.gram(net, x, kind="nngp_ntk")
    # a linear network's kernel is a function of x.y for any inputs: sigma_w2^L x.y + biases, off the sphere too
    linear = model.FCN(dim=4, depth=3, activation="identity", sigma_w2=1.5, sigma_b2=0.1)
    k = kernels.gram(linear, 2.0 * x)
    np.testing.assert_allclose(k, 1.5**3 * 4.0 * x @ x.T + 0.1 * (1 + 1.5 + 1.5**2), rtol=1e-12)


@pytest.mark.parametrize("activation", ["relu", "leaky_relu(0.2)", "erf", "identity"])
def test_blockwise_kernels_are_the_recursion_bit_for_bit(activation):
    # Closed forms: the fused, blockwise evaluation (one scalar variance per layer, one arccos per ReLU layer) gives
    # the values of the plain recursion exactly, over several blocks, at t = +-1 and for a strided view of t.
    net = model.FCN(dim=7, depth=4, activation=activation, sigma_w2=1.5, sigma_b2=0.1)
    t = np.random.default_rng(1).uniform(-1, 1, (3, 130, 100))
    t[0, 0, :4] = [-1.0, 1.0, np.nextafter(1.0, 0.0), 1.0 + 2e-16]
    t = t.transpose(0, 2, 1)
    direct = kernels.recursion(net, t)
    assert t.size > kernels.BLOCK
    for got, want in zip(kernels.nngp_ntk(net, t), direct, strict=True):
        assert got.shape == t.shape
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(kernels.nngp(net, t), direct[0])
    np.testing.assert_array_equal(kernels.ntk(net, t), direct[1])
    np.testing.assert_array_equal(kernels.kernels_at(net, t, ("ntk", "nngp"))[0], direct[1])
    scalar = kernels.ntk(net, 0.3)
    assert isinstance(scalar, np.float64) and scalar == kernels.recursion(net, 0.3)[1]


def test_jitted_chebyshev_pass_matches_numpy_chebval():
    # Quadrature activations on large arrays: the jitted Clenshaw pass (padded last block) gives numpy's chebval to
    # rounding and the recursion to the interpolation's accuracy.
    net = model.FCN(dim=8, depth=3, activation="gelu", sigma_w2=1.5, sigma_b2=0.1)
    t = np.random.default_rng(2).uniform(-1, 1, kernels.JAX_MIN + 1000)
    t[:2] = [-1.0, 1.0]
    k_nngp, k_ntk = kernels.nngp_ntk(net, t)
    for got, coef in zip((k_nngp, k_ntk), kernels._chebyshev(net), strict=True):
        want = np.polynomial.chebyshev.chebval(t, coef)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-14 * np.abs(want).max())
    np.testing.assert_array_equal(kernels.ntk(net, t), k_ntk)
    direct = kernels.recursion(net, t[:300])
    np.testing.assert_allclose(k_nngp[:300], direct[0], atol=1e-11)
    np.testing.assert_allclose(k_ntk[:300], direct[1], atol=1e-11)


def test_kernels_at_refuses_unknown_kinds():
    net = model.FCN(dim=4, depth=2)
    for kinds in [(), ("nngp", "ntk_"), "ntk"]:
        with pytest.raises(ValueError, match="kinds"):
            kernels.kernels_at(net, 0.5, kinds)
