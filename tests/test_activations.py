"""activations.py: closed forms against independent quadrature (scipy dblquad), the quadrature route against
closed forms for smooth activations, and the kernel-flow numbers of science/finite_width_criticality.md Sec. 2."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, special

from nnft import activations, model
from nnft.theory import kernels


def dblquad_pair(f, q1, c, q2):
    """E[f(u) f(v)] by adaptive 2-D quadrature of the bivariate normal density (independent of Gauss-Hermite)."""
    det = q1 * q2 - c * c

    def integrand(v, u):
        e = (q2 * u * u - 2 * c * u * v + q1 * v * v) / (2 * det)
        return f(u) * f(v) * math.exp(-e) / (2 * math.pi * math.sqrt(det))

    lim = 10 * math.sqrt(max(q1, q2))
    return integrate.dblquad(integrand, -lim, lim, -lim, lim, epsabs=1e-11, epsrel=1e-11)[0]


@pytest.mark.parametrize("a", [0.0, 0.1, 0.5])
@pytest.mark.parametrize("q1, c, q2", [(0.7, 0.3, 1.3), (1.0, -0.6, 2.0), (0.5, 0.49, 0.5)])
def test_leaky_relu_closed_form(a, q1, c, q2):
    act = activations.leaky_relu(a)
    assert act.pair(q1, c, q2) == pytest.approx(dblquad_pair(act.np_fn, q1, c, q2), abs=1e-8)
    # the derivative is a step function: integrate over quadrants exactly instead
    p_same = 0.5 + math.asin(c / math.sqrt(q1 * q2)) / math.pi  # P(sign u = sign v)
    expected = (1 + a * a) * p_same / 2 + a * (1 - p_same)
    assert act.pair_deriv(q1, c, q2) == pytest.approx(expected, abs=1e-14)


@pytest.mark.parametrize("q1, c, q2", [(0.7, 0.3, 1.3), (2.0, -1.2, 1.5)])
def test_erf_closed_form_against_both_quadratures(q1, c, q2):
    act = activations.erf()
    gh, gh_deriv = act.pair_quadrature(q1, c, q2)
    assert act.pair(q1, c, q2) == pytest.approx(gh, abs=1e-13)
    assert act.pair_deriv(q1, c, q2) == pytest.approx(gh_deriv, abs=1e-13)
    assert act.pair(q1, c, q2) == pytest.approx(dblquad_pair(act.np_fn, q1, c, q2), abs=1e-8)


@pytest.mark.parametrize("name", ["relu", "leaky_relu(0.1)", "leaky_relu(0.5)", "identity", "erf"])
def test_jax_closed_forms_are_the_numpy_ones_with_finite_gradients(name):
    # One formula per activation (activations.scale_invariant_pair, erf_pair, ...): the JAX route equals the numpy
    # route to rounding, E[s^2] is the pair at c = q, and the derivatives the finite-width theories take stay finite
    # at rho = +-1 (RHO_MARGIN) and on the diagonal.
    act = activations.parse(name)
    q1, q2 = np.array([0.7, 1.0, 2.0, 0.5, 1.3]), np.array([1.3, 1.0, 1.5, 0.5, 1.3])
    c = np.array([0.3, -0.6, 1.2, 0.5, 1.3])  # the last two at rho = 1
    with jax.enable_x64(True):
        jax_pair = act.jax_pair(*map(jnp.asarray, (q1, c, q2)))
        np.testing.assert_allclose(jax_pair[:3], act.pair(q1, c, q2)[:3], rtol=1e-14)
        np.testing.assert_allclose(jax_pair, act.pair(q1, c, q2), rtol=2 * activations.RHO_MARGIN)  # kappa_1' <= 1
        np.testing.assert_allclose(act.jax_mean_square(jnp.asarray(q1)), act.pair(q1, q1, q1), rtol=1e-14)
        pair = jax.grad(lambda g: act.jax_pair(g[0], g[1], g[2]))
        grads = [pair(jnp.array(g)) for g in zip(q1, c, q2, strict=True)]
        hess = jax.hessian(lambda g: act.jax_pair(g[0], g[1], g[2]))(jnp.array([1.0, -1.0, 1.0]))
        assert np.all(np.isfinite(grads)) and np.all(np.isfinite(hess))
        # d E[s s] / dc = E[s' s'] off the diagonal
        for a, b, d in zip(q1[:3], c[:3], q2[:3], strict=True):
            dc = jax.grad(act.jax_pair, argnums=1)(jnp.asarray(a), jnp.asarray(b), jnp.asarray(d))
            assert float(dc) == pytest.approx(float(act.pair_deriv(a, b, d)), rel=1e-12)


def test_jax_closed_forms_refuse_activations_without_them():
    with pytest.raises(ValueError, match="closed-form"):
        activations.tanh().jax_pair(1.0, 0.5, 1.0)


def test_tanh_quadrature_against_dblquad():
    act = activations.tanh()
    assert act.pair(0.8, 0.5, 1.1) == pytest.approx(dblquad_pair(np.tanh, 0.8, 0.5, 1.1), abs=1e-9)


def _adaptive_expect(f, q):
    """E[f(sqrt(q) z)], z ~ N(0, 1), by adaptive quadrature on pieces (independent of the trapezoidal rule)."""

    def g(z):
        return f(math.sqrt(q) * z) * math.exp(-z * z / 2) / math.sqrt(2 * math.pi)

    edges = (-40.0, -6.0, -2.0, 0.0, 2.0, 6.0, 40.0)
    pieces = zip(edges[:-1], edges[1:], strict=True)
    return sum(integrate.quad(g, a, b, epsabs=0.0, epsrel=1e-13, limit=400)[0] for a, b in pieces)


def _gelu(u):
    return u * special.ndtr(u)


def _gelu_prime(u):
    return special.ndtr(u) + u * np.exp(-(u**2) / 2) / math.sqrt(2 * math.pi)


MOMENTS = {
    "tanh^2": lambda u: np.tanh(u) ** 2,
    "tanh^4": lambda u: np.tanh(u) ** 4,
    "sech^4": lambda u: np.cosh(u) ** -4.0,
    "gelu^2": lambda u: _gelu(u) ** 2,
    "gelu^4": lambda u: _gelu(u) ** 4,
    "gelu'^2": lambda u: _gelu_prime(u) ** 2,
}


@pytest.mark.parametrize("name", MOMENTS)
@pytest.mark.parametrize("q, tolerance", [(0.01, 1e-12), (0.57, 1e-12), (3.0, 1e-12), (4.8, 1e-12), (10.0, 1e-12),
                                          (20.0, 1e-8)])  # fmt: skip
def test_quadrature_policy_meets_its_stated_accuracy(name, q, tolerance):
    """The one Gaussian rule (activations.gaussian_nodes) against adaptive quadrature, relative error as documented
    (docs/finite_width.md Sec. 1): 1e-12 up to q = 10, 1e-8 at q = 20. Gauss-Hermite with 120 nodes fails the first
    at q = 10 for tanh (sech^4: 1e-2)."""
    f = MOMENTS[name]
    assert activations.gauss_expect(f, q) == pytest.approx(_adaptive_expect(f, q), rel=tolerance, abs=0)


def test_pair_rule_reduces_to_the_single_rule_and_is_symmetric():
    """The 2-D tensor rule at c = q (identical inputs) equals the 1-D rule of s^2, and E[s(u) s(v)] is symmetric in
    (q1, q2); tanh at q = 10, where the rule matters most."""
    act = activations.tanh()
    assert act.pair(10.0, 10.0, 10.0) == pytest.approx(activations.gauss_expect(MOMENTS["tanh^2"], 10.0), rel=1e-13)
    assert act.pair(2.0, 0.7, 5.0) == pytest.approx(act.pair(5.0, 0.7, 2.0), rel=1e-13)


def test_user_function_matches_builtin():
    custom = activations.from_function(jnp.tanh, "my_tanh")
    builtin = activations.tanh()
    q = np.array([0.3, 1.0, 2.5])
    np.testing.assert_allclose(custom.pair(q, 0.5 * q, q), builtin.pair(q, 0.5 * q, q), atol=1e-14)
    np.testing.assert_allclose(custom.pair_deriv(q, 0.2 * q, q), builtin.pair_deriv(q, 0.2 * q, q), atol=1e-14)
    assert custom == activations.from_function(jnp.tanh, "my_tanh")  # same function: same kernel caches
    assert custom != activations.from_function(jnp.sin, "my_tanh")  # a different function never aliases


def single_input_flow(net, k1: float, depth: int) -> np.ndarray:
    """K^(l) = sigma_b2 + sigma_w2 E[s(z)^2]_{z ~ N(0, K^(l-1))}, l = 1..depth, from K^(1) = k1, by the numpy pair
    expectations of activations.py (an independent route to finite_width.flow_single's JAX moments)."""
    (w2, b2), *_ = net.layer_variances()
    ks = [float(k1)]
    for _ in range(1, depth):
        ks.append(float(w2 * net.act.pair(ks[-1], ks[-1], ks[-1]) + b2))
    return np.array(ks)


def test_tanh_kernel_flow_numbers():
    # finite_width_criticality.md Sec. 2 / Sec. 7 #4: tanh at criticality C_W = 1, C_b = 0, K^(1) = 1.
    net = model.FCN(dim=3, depth=2, activation="tanh", sigma_w2=1.0, sigma_b2=0.0)
    k = single_input_flow(net, 1.0, 1000)
    assert k[9] == pytest.approx(0.058012, abs=5e-7)
    assert k[99] == pytest.approx(0.005121, abs=5e-7)
    assert k[999] == pytest.approx(0.000502, abs=5e-7)
    # asymptote 1/K - 2l + (5/6) ln l -> const (Sec. 2, [D; N]: -> -0.89)
    l = np.array([300, 1000])
    const = 1 / k[l - 1] - 2 * l + 5 / 6 * np.log(l)
    assert abs(const[1] - const[0]) < 0.02 and const[1] == pytest.approx(-0.89, abs=0.02)


def test_erf_kernel_flow_numbers():
    net = model.FCN(dim=3, depth=2, activation="erf", sigma_w2=math.pi / 4, sigma_b2=0.0)
    k = single_input_flow(net, 1.0, 1000)
    np.testing.assert_allclose([10 * k[9], 100 * k[99], 1000 * k[999]], [0.5505, 0.5066, 0.5008], atol=5e-5)


@pytest.mark.parametrize("name", ["tanh", "gelu"])
def test_chebyshev_interpolation_matches_recursion(name):
    net = model.FCN(dim=8, depth=4, activation=name, sigma_w2=1.5, sigma_b2=0.1)
    t = np.random.default_rng(0).uniform(-1, 1, 600)
    t[:2] = [-1.0, 1.0]
    direct = kernels.recursion(net, t)
    interp = kernels.nngp_ntk(net, t)
    np.testing.assert_allclose(interp[0], direct[0], atol=1e-11)
    np.testing.assert_allclose(interp[1], direct[1], atol=1e-11)


def test_identity_network_is_linear_kernel():
    # depth-3 identity network: NNGP = w^3 t + b (w^2 + w + 1) with per-layer variances, NTK = sum of layer terms.
    net = model.FCN(dim=5, depth=3, activation="identity", sigma_w2=(2.0, 0.5, 3.0), sigma_b2=(0.1, 0.2, 0.3))
    t = np.linspace(-1, 1, 7)
    s1 = 2.0 * t + 0.1
    s2 = 0.5 * s1 + 0.2
    s3 = 3.0 * s2 + 0.3
    nngp, ntk = kernels.nngp_ntk(net, t)
    np.testing.assert_allclose(nngp, s3, rtol=1e-14)
    np.testing.assert_allclose(ntk, (s1 * 0.5 + s2) * 3.0 + s3, rtol=1e-14)


def test_unknown_activation():
    with pytest.raises(ValueError, match="allowed"):
        activations.parse("swish")
    with pytest.raises(ValueError, match="slope"):
        activations.parse("leaky_relu(1.5)")
    with pytest.raises(ValueError, match="one value per weight layer"):
        model.FCN(dim=4, depth=3, sigma_w2=(1.0, 2.0))


@pytest.mark.parametrize("name", ["relu", "leaky_relu(0.3)", "erf", "identity"])
def test_pair_on_sphere_is_pair_and_pair_deriv_bit_for_bit(name):
    act = activations.parse(name)
    q = 1.3000000000000003
    c = q * np.concatenate([np.linspace(-1, 1, 101), [1 + 1e-15, -1 - 1e-15, np.nextafter(1.0, 0.0)]])
    pair, deriv = act.pair_on_sphere(q, c)
    np.testing.assert_array_equal(pair, act.pair(q, c, q))
    np.testing.assert_array_equal(deriv, act.pair_deriv(q, c, q))
    only, none = act.pair_on_sphere(q, c, deriv=False)
    assert none is None
    np.testing.assert_array_equal(only, pair)
