"""Finite-width corrections and criticality of deep MLP priors (docs/finite_width.md Secs. 1-5).

The network is a `model.FCN`: its activation, its variances sigma_w2 and sigma_b2 (PDLT's C_W and C_b; the same in
every layer here), its hidden width n and its depth L. Conventions of PDLT: z^(1) = b + W x, z^(l+1) = b + W s(z^(l)),
Var W = sigma_w2 / n_{l-1}, Var b = sigma_b2; layer l = 1 is the first preactivation (exactly Gaussian), the
recursions start from its kernel K^(1) (an argument: it fixes the inputs) and run to l = L, the output.

Everything follows from Gaussian moments M_pq(g) = E[s(z1)^p s(z2)^q], z ~ N(0, [[g11, g12], [g12, g22]]), in
float64 JAX so that jax.jacfwd / jax.hessian give the Jacobian J = dF/dg and Hessian H of the kernel map
F(g) = C_b + C_W (M_20, M_11, M_02) (Sec. 3, implementation form):

    V^(l+1) = C_W^2 Cov_K(S) + J V^(l) J^T,     K^{1}(l+1) = J K^{1}(l) + 1/2 sum_ab H_ab V^(l)_ab,

with S = (s1^2, s1 s2, s2^2), V^(1) = 0, K^{1}(1) = 0; the single-input recursion is the same with g = K.
Moments (activations.moment, activations.pair_moment): exact for the scale-invariant class s(z) = a_+ z (z > 0),
a_- z (z < 0) (ReLU, leaky ReLU, identity) by polar coordinates; smooth activations by the project's one Gaussian
quadrature rule (activations.gaussian_nodes).

The mean-field maps (Sec. 5: q*, chi_1, the critical line, c*, depth scales) are properties of the activation and
the two variances alone; they take `activation` (a name or an Activation) and arrays sigma_w2, sigma_b2.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from scipy import optimize

from .. import activations, model
from ..activations import moment, pair_moment


def uniform_variances(net: model.FCN) -> tuple[float, float]:
    """(sigma_w2, sigma_b2) of a network whose layers share their variances (the recursions' setting; ValueError
    naming `net` otherwise)."""
    if not isinstance(net, model.FCN):
        raise ValueError(f"net must be a model.FCN (got {type(net).__name__})")
    (w2, b2), *rest = net.layer_variances()
    if any(v != (w2, b2) for v in rest):
        raise ValueError(f"net: the finite-width recursions need one sigma_w2 and one sigma_b2 for every layer "
                         f"(got {net.sigma_w2}, {net.sigma_b2})")  # fmt: skip
    return w2, b2


def _layers(net: model.FCN) -> tuple[activations.Activation, float, float]:
    w2, b2 = uniform_variances(net)
    return net.act, w2, b2


class Flow(NamedTuple):
    """Layer-by-layer results, index 0 = layer 1. Single input: arrays (L,); pairs: K, K1 (L, 3), V (L, 3, 3)."""

    K: np.ndarray  # infinite-width kernel K^(l)
    V: np.ndarray  # four-point vertex V^(l) (Cov of G-hat is V / n_{l-1})
    K1: np.ndarray  # 1/n kernel shift K^{1}(l): E[G-hat^(l)] = K^(l) + K^{1}(l) / n + O(1/n^2)
    chi_parallel: np.ndarray  # dF/dK at K^(l) (single input) or the Jacobian J (pairs)
    chi_perp: np.ndarray  # C_W <s'_a s'_b> at K^(l): single input C_W <s'^2>; pairs (11, 12, 22)


def _single_map(act, sigma_w2, sigma_b2, k):
    return sigma_b2 + sigma_w2 * moment(act, 2, k)


def _single_cov(act, sigma_w2, k):
    return sigma_w2**2 * (moment(act, 4, k) - moment(act, 2, k) ** 2)


def _pair_map(act, sigma_w2, sigma_b2, g):
    """kernels.kernel_map on one pair of inputs, g = (K11, K12, K22), through activations.pair_moment: the flows
    need the fourth moments of the same expectations (_pair_cov_s) and activations without closed forms (tanh)."""
    return sigma_b2 + sigma_w2 * jnp.stack([pair_moment(act, p, q, g) for p, q in ((2, 0), (1, 1), (0, 2))])


def _pair_cov_s(act, sigma_w2, g):
    """C_W^2 Cov(S), S = (s1^2, s1 s2, s2^2): fourth moments minus products of second moments."""
    powers = [(2, 0), (1, 1), (0, 2)]
    mean = jnp.stack([pair_moment(act, p, q, g) for p, q in powers])
    second = jnp.stack([jnp.stack([pair_moment(act, p + r, q + s, g) for r, s in powers]) for p, q in powers])
    return sigma_w2**2 * (second - jnp.outer(mean, mean))


# Compiled once per activation (static; C_W, C_b and the kernel are traced), not once per call of a flow.
_single_step = jax.jit(_single_map, static_argnums=0)
_single_jac = jax.jit(jax.grad(_single_map, argnums=3), static_argnums=0)
_single_hess = jax.jit(jax.grad(jax.grad(_single_map, argnums=3), argnums=3), static_argnums=0)
_single_cov_jit = jax.jit(_single_cov, static_argnums=0)
_pair_step = jax.jit(_pair_map, static_argnums=0)
_pair_jac = jax.jit(jax.jacfwd(_pair_map, argnums=3), static_argnums=0)
_pair_hess = jax.jit(jax.hessian(_pair_map, argnums=3), static_argnums=0)
_pair_cov_jit = jax.jit(_pair_cov_s, static_argnums=0)


def flow_single(net: model.FCN, k1: float) -> Flow:
    """K^(l), V^(l), K^{1}(l), chi_parallel(K^(l)) and chi_perp(K^(l)) for one input, l = 1..net.depth (equal hidden
    widths), from the first layer's kernel K^(1) = k1."""
    act, sigma_w2, sigma_b2 = _layers(net)
    if not k1 > 0:
        raise ValueError(f"k1 = K^(1) must be > 0 (got {k1})")
    depth = net.depth
    with jax.enable_x64(True):
        w2, b2 = jnp.float64(sigma_w2), jnp.float64(sigma_b2)
        k, v, k_1 = jnp.float64(k1), 0.0, 0.0
        out = []
        for _ in range(depth):
            j = _single_jac(act, w2, b2, k)
            out.append((float(k), float(v), float(k_1), float(j)))
            k, v, k_1 = (_single_step(act, w2, b2, k), _single_cov_jit(act, w2, k) + j**2 * v,
                         j * k_1 + 0.5 * _single_hess(act, w2, b2, k) * v)  # fmt: skip
    kernel, vertex, shift, chi_par = (np.array(col) for col in zip(*out, strict=True))
    return Flow(kernel, vertex, shift, chi_par, sigma_w2 * np.asarray(act.pair_deriv(kernel, kernel, kernel)))


def flow_pair(net: model.FCN, g1) -> Flow:
    """The two-input flow from K^(1) = g1 = (K11, K12, K22), l = 1..net.depth: K (depth, 3), V (depth, 3, 3) in the
    basis (11, 12, 22), K1 (depth, 3), and the Jacobian J (depth, 3, 3) of the kernel map."""
    act, sigma_w2, sigma_b2 = _layers(net)
    depth = net.depth
    g1 = np.asarray(g1, dtype=np.float64)
    if g1.shape != (3,) or g1[0] <= 0 or g1[2] <= 0 or g1[1] ** 2 >= g1[0] * g1[2]:
        raise ValueError(f"g1 = (K11, K12, K22) must be positive definite with |K12| < sqrt(K11 K22) (got {g1})")
    with jax.enable_x64(True):
        w2, b2 = jnp.float64(sigma_w2), jnp.float64(sigma_b2)
        g, v, k_1 = jnp.asarray(g1), jnp.zeros((3, 3)), jnp.zeros(3)
        out = []
        for _ in range(depth):
            j = _pair_jac(act, w2, b2, g)
            out.append((np.asarray(g), np.asarray(v), np.asarray(k_1), np.asarray(j)))
            shift = 0.5 * jnp.einsum("kab,ab->k", _pair_hess(act, w2, b2, g), v)
            g, v, k_1 = _pair_step(act, w2, b2, g), _pair_cov_jit(act, w2, g) + j @ v @ j.T, j @ k_1 + shift
    kernel, vertex, k_shift, jacobian = (np.stack(col) for col in zip(*out, strict=True))
    g11, g12, g22 = kernel.T
    perp = sigma_w2 * np.stack(
        [act.pair_deriv(g11, g11, g11), act.pair_deriv(g11, g12, g22), act.pair_deriv(g22, g22, g22)], -1
    )
    return Flow(kernel, vertex, k_shift, jacobian, perp)


def correlation(g) -> np.ndarray:
    """rho = G12 / sqrt(G11 G22) along the last axis (11, 12, 22)."""
    g = np.asarray(g)
    return g[..., 1] / np.sqrt(g[..., 0] * g[..., 2])


def tanh_kernel_asymptote(layers) -> np.ndarray:
    """The large-l kernel of critical tanh (C_W = 1, C_b = 0; docs/finite_width.md Sec. 4):
    K^(l) = 1 / (2 l) + (5 / 24) ln l / l^2 + O(1 / l^2)."""
    layers = np.asarray(layers, dtype=np.float64)
    if np.any(layers < 1):
        raise ValueError(f"layers must be >= 1 (got min {layers.min()})")
    return 1 / (2 * layers) + 5 / 24 * np.log(layers) / layers**2


def kurtosis_leading(flow: Flow, width: int) -> np.ndarray:
    """Excess kurtosis of a single preactivation over initialisations, 3 V / (n K^2), to leading order in 1/n."""
    return 3 * flow.V / (width * flow.K**2)


def kurtosis_product_form(net: model.FCN) -> np.ndarray:
    """Exact excess kurtosis to all orders in 1/n for the scale-invariant class with sigma_b2 = 0 (Sec. 3):
    3 [(1 + nu / n)^(l - 1) - 1], nu = 3 A4 / A2^2 - 1, l = 1..net.depth, n = net.width."""
    act, _, sigma_b2 = _layers(net)
    width, depth = net.width, net.depth
    a = act.slopes
    if a is None or sigma_b2 != 0:
        raise ValueError(f"net: the product form holds for the scale-invariant class with sigma_b2 = 0 only "
                         f"(got {act.name}, sigma_b2 = {sigma_b2})")  # fmt: skip
    a2, a4 = (a[0] ** 2 + a[1] ** 2) / 2, (a[0] ** 4 + a[1] ** 4) / 2
    nu = 3 * a4 / a2**2 - 1
    return 3 * ((1 + nu / width) ** np.arange(depth) - 1)


# --- Mean-field maps (Poole et al. 2016, Schoenholz et al. 2017; Sec. 5) -----------------------------------------
# One implementation, vectorised: sigma_w2 and sigma_b2 broadcast against each other, numbers in -> numbers out.

BISECTION_STEPS = 200  # enough to reach adjacent floats from any bracket [0, 2^60]


def _out(x):
    return float(x) if np.ndim(x) == 0 else x


def _variances(sigma_w2, sigma_b2) -> tuple[np.ndarray, np.ndarray]:
    w2, b2 = np.broadcast_arrays(np.asarray(sigma_w2, dtype=np.float64), np.asarray(sigma_b2, dtype=np.float64))
    if not np.all(np.isfinite(w2) & (w2 > 0)):
        raise ValueError(f"sigma_w2 must be finite and > 0 (got {sigma_w2})")
    if not np.all(np.isfinite(b2) & (b2 >= 0)):
        raise ValueError(f"sigma_b2 must be finite and >= 0 (got {sigma_b2})")
    return w2, b2


def _bisect(above, lo, hi) -> np.ndarray:
    """The point of [lo, hi] where the elementwise predicate `above` turns from True to False."""
    for _ in range(BISECTION_STEPS):
        mid = (lo + hi) / 2
        up = above(mid)
        lo, hi = np.where(up, mid, lo), np.where(up, hi, mid)
        if np.all(hi - lo <= 2 * np.finfo(np.float64).eps * np.abs(hi)):
            break
    return (lo + hi) / 2


def q_star(activation, sigma_w2, sigma_b2):
    """q*, the stable fixed point of the length map F(q) = sigma_b2 + sigma_w2 E[s(sqrt(q) z)^2] (the largest
    crossing of F(q) = q; q* = 0 in the ordered phase at sigma_b2 = 0), by bisection of F(q) - q on [0, q_max], q_max
    doubled until F(q_max) <= q_max. ValueError where no finite fixed point exists (e.g. ReLU with sigma_w2 >= 2)."""
    act = activations.resolve(activation)
    w2, b2 = _variances(sigma_w2, sigma_b2)
    if act.slopes is not None:  # F(q) = sigma_b2 + sigma_w2 m q with m = (a_+^2 + a_-^2) / 2: a line
        gain = w2 * (act.slopes[0] ** 2 + act.slopes[1] ** 2) / 2
        if np.any(gain >= 1):
            raise ValueError(f"sigma_w2: the length map of {act.name} has no finite stable fixed point where "
                             f"sigma_w2 (a_+^2 + a_-^2) / 2 >= 1 (got sigma_w2 = {w2[gain >= 1]})")  # fmt: skip
        return _out(b2 / (1 - gain))

    def length_map(q):
        return b2 + w2 * act.mean_square(q)

    hi = np.maximum(1.0, b2 + w2)
    for _ in range(60):
        grow = length_map(hi) > hi
        if not np.any(grow):
            break
        hi = np.where(grow, 2 * hi, hi)
    else:
        raise ValueError(f"sigma_w2: the length map of {act.name} has no finite fixed point at sigma_w2 = "
                         f"{w2[grow]}, sigma_b2 = {b2[grow]}")  # fmt: skip
    return _out(_bisect(lambda q: length_map(q) > q, np.zeros_like(hi), hi))


def chi_1(activation, sigma_w2, sigma_b2):
    """chi_1 = sigma_w2 E[s'(sqrt(q*) z)^2]: < 1 ordered, > 1 chaotic (independent of q* for the scale-invariant
    class, where it is sigma_w2 (a_+^2 + a_-^2) / 2)."""
    act = activations.resolve(activation)
    w2, b2 = _variances(sigma_w2, sigma_b2)
    a = act.slopes
    if a is not None:
        return _out(w2 * (a[0] ** 2 + a[1] ** 2) / 2 + 0 * b2)
    return _out(w2 * act.mean_square_deriv(np.asarray(q_star(act, w2, b2))))


def critical_sigma_w2(activation, sigma_b2, bracket=None):
    """The order-to-chaos boundary: sigma_w2 with chi_1 = 1 at each sigma_b2 (bisection; chi_1 grows with sigma_w2),
    and its q*: (sigma_w2*, q*), numbers or arrays of sigma_b2's shape. bracket: (lo, hi) that must contain the root
    (ValueError naming it otherwise); None searches outward from (0.5, 5). q* is nan for the scale-invariant class,
    whose length map has no isolated fixed point on its critical line."""
    act = activations.resolve(activation)
    b2 = _variances(1.0, sigma_b2)[1]

    def chaotic(w2):
        return np.asarray(chi_1(act, w2, b2)) > 1

    if bracket is None:
        lo, hi = np.full(b2.shape, 0.5), np.full(b2.shape, 5.0)
        for _ in range(60):
            low, high = chaotic(lo), ~chaotic(hi)
            if not (np.any(low) or np.any(high)):
                break
            lo, hi = np.where(low, lo / 2, lo), np.where(high, hi * 2, hi)
        else:
            raise ValueError(f"sigma_b2: no order-to-chaos transition of {act.name} found at sigma_b2 = {sigma_b2}")
    else:
        if len(bracket) != 2 or not 0 < bracket[0] < bracket[1]:
            raise ValueError(f"bracket must be (lo, hi) with 0 < lo < hi (got {bracket})")
        lo, hi = np.full(b2.shape, float(bracket[0])), np.full(b2.shape, float(bracket[1]))
        outside = chaotic(lo) | ~chaotic(hi)
        if np.any(outside):
            raise ValueError(f"bracket {tuple(bracket)} does not contain the critical sigma_w2 of {act.name} at "
                             f"sigma_b2 = {b2[outside]}")  # fmt: skip
    w2 = _bisect(lambda w: ~chaotic(w), lo, hi)
    q = q_star(act, w2, b2) if act.slopes is None else _out(np.full(b2.shape, np.nan))
    return _out(w2), q


def c_star(activation, sigma_w2: float, sigma_b2: float) -> tuple[float, float]:
    """(q*, c*): the correlation map's stable fixed point (c* = 1 in the ordered phase)."""
    act = activations.resolve(activation)
    q = q_star(act, sigma_w2, sigma_b2)
    if chi_1(act, sigma_w2, sigma_b2) <= 1:
        return q, 1.0

    def cmap(c):  # c^l = q12 / sqrt(q11 q22), both by the same quadrature so that cmap(1) = 1 to rounding
        return (sigma_b2 + sigma_w2 * act.pair(q, c * q, q)) / (sigma_b2 + sigma_w2 * act.pair(q, q, q))

    c = optimize.brentq(lambda c: cmap(c) - c, -1 + 1e-12, 1 - 1e-9, xtol=1e-15)
    return q, float(c)


def depth_scales(activation, sigma_w2: float, sigma_b2: float) -> dict[str, float]:
    """xi_q and xi_c (Sec. 5): |q^l - q*| ~ exp(-l / xi_q), |c^l - c*| ~ exp(-l / xi_c), xi_c = -1 / ln chi_c with
    chi_c = sigma_w2 E[s'(u1*) s'(u2*)] at (q*, c*); xi_q = -1 / ln dF/dq at q* (chi_1 + sigma_w2 E[s'' s])."""
    act = activations.resolve(activation)
    q, c = c_star(act, sigma_w2, sigma_b2)
    chi_c = float(sigma_w2 * act.pair_deriv(q, c * q, q))
    with jax.enable_x64(True):
        chi_q = float(_single_jac(act, jnp.float64(sigma_w2), jnp.float64(sigma_b2), jnp.float64(q)))
    return {"q_star": q, "c_star": c, "chi_c": chi_c, "xi_c": -1 / math.log(chi_c), "xi_q": -1 / math.log(chi_q)}


# --- Depth scales: starts and estimators shared by the flows and the measurements (sampling.ensembles) ----------


def decay_length(d: np.ndarray) -> float:
    """xi of a decaying deviation d_l ~ A exp(-l / xi), l = 1..len(d): least-squares slope of ln d_l against l."""
    d = np.asarray(d, dtype=np.float64)
    if d.size < 2 or np.any(d <= 0):
        raise ValueError(f"d: decay_length needs at least two positive deviations (got {d})")
    slope = np.polyfit(np.arange(1, d.size + 1), np.log(d), 1)[0]
    return float(-1 / slope) if slope < 0 else math.inf


def depth_scale_starts(activation, sigma_w2: float, sigma_b2: float, delta: float) -> dict:
    """Starting metrics K^(1) for measuring xi_c and xi_q, all at the fixed-point length q*.

    xi_c, ordered phase (c* = 1, which identical inputs keep at any width): one pair at correlation 1 - delta,
    deviation 1 - rho^(l). Chaotic phase: two pairs at c* +- delta (delta capped at (1 - c*) / 2), deviation half
    their difference: the finite-width shift of c* and the quadratic part of the map cancel in it. xi_q: single
    inputs at q* (1 +- delta), deviation half the difference of the mean metrics. A small delta keeps the maps in
    their linear regime, where the deviation is one exponential from layer 1 on (Sec. 5)."""
    q, c = c_star(activation, sigma_w2, sigma_b2)
    pair = lambda r: q * np.array([[1.0, r], [r, 1.0]])  # noqa: E731
    if c == 1.0:
        c_starts = (pair(1 - delta),)
    else:
        step = min(delta, (1 - c) / 2)
        c_starts = (pair(c + step), pair(c - step))
    return {"q_star": q, "c_star": c, "c_starts": c_starts, "q_starts": (q * (1 + delta), q * (1 - delta))}


def correlation_deviation(rhos) -> np.ndarray:
    """The decaying deviation of the correlation flow(s) from `depth_scale_starts`: 1 - rho (one flow, ordered) or
    (rho_+ - rho_-) / 2 (two flows, chaotic)."""
    return 1 - rhos[0] if len(rhos) == 1 else (rhos[0] - rhos[1]) / 2


def correlation_fixed_point(rhos) -> float:
    """The fixed point the correlation flow(s) from `depth_scale_starts` approach, free (finite width shifts it):
    the mean over the last quarter of layers of rho (one flow) or of (rho_+ + rho_-) / 2 (two flows)."""
    tail = slice(3 * len(rhos[0]) // 4, None)
    return float(np.mean(rhos[0][tail] if len(rhos) == 1 else (rhos[0][tail] + rhos[1][tail]) / 2))


# --- NTK (Sec. 4) -----------------------------------------------------------------------------------------------------


def per_layer_rates(rate, depth: int) -> np.ndarray:
    """A learning rate lambda as one value per layer (a number is broadcast); ValueError if any is negative."""
    rate = np.broadcast_to(np.asarray(rate, dtype=np.float64), (depth,))
    if np.any(rate < 0):
        raise ValueError(f"rate: learning rates must be >= 0 (got {rate})")
    return rate


def ntk_flow_single(net: model.FCN, k1: float, lambda_b, lambda_w) -> np.ndarray:
    """Mean NTK Theta^(l), l = 1..L, of a single input at infinite width (Sec. 4); lambda_b, lambda_w are numbers
    or per-layer arrays (index 0 = layer 1): Theta^(1) = lambda_b^(1) + lambda_w^(1) (K^(1) - C_b) / C_W,
    Theta^(l+1) = lambda_b^(l+1) + lambda_w^(l+1) <s^2>_K(l) + chi_perp(K^(l)) Theta^(l)."""
    act, sigma_w2, sigma_b2 = _layers(net)
    depth = net.depth
    flow = flow_single(net, k1)
    lb, lw = per_layer_rates(lambda_b, depth), per_layer_rates(lambda_w, depth)
    ss = np.asarray(act.pair(flow.K, flow.K, flow.K))  # <s^2> at K^(l)
    theta = [lb[0] + lw[0] * (k1 - sigma_b2) / sigma_w2]
    for i in range(1, depth):
        theta.append(lb[i] + lw[i] * ss[i - 1] + flow.chi_perp[i - 1] * theta[-1])
    return np.array(theta)


def ntk_flow_pair(net: model.FCN, g1, lambda_b, lambda_w) -> np.ndarray:
    """Mean NTK of two inputs, (L, 3) in the basis (11, 12, 22): the recursion of `ntk_flow_single` entrywise,
    Theta_ab^(l+1) = lambda_b + lambda_w <s_a s_b>_K(l) + C_W <s'_a s'_b>_K(l) Theta_ab^(l)."""
    act, sigma_w2, sigma_b2 = _layers(net)
    depth = net.depth
    flow = flow_pair(net, g1)
    lb, lw = per_layer_rates(lambda_b, depth), per_layer_rates(lambda_w, depth)
    g11, g12, g22 = flow.K.T
    ss = np.stack([act.pair(g11, g11, g11), act.pair(g11, g12, g22), act.pair(g22, g22, g22)], -1)
    theta = [lb[0] + lw[0] * (np.asarray(g1, dtype=np.float64) - sigma_b2) / sigma_w2]
    for i in range(1, depth):
        theta.append(lb[i] + lw[i] * ss[i - 1] + flow.chi_perp[i - 1] * theta[-1])
    return np.array(theta)
