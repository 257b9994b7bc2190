"""Finite-width corrections and criticality of deep MLP priors (docs/finite_width.md Secs. 1-5).

Conventions of PDLT: z^(1) = b + W x, z^(l+1) = b + W s(z^(l)), Var W = C_W / n_{l-1}, Var b = C_b; layer l = 1 is
the first preactivation (exactly Gaussian) and the recursions start from K^(1).

Everything follows from Gaussian moments M_pq(g) = E[s(z1)^p s(z2)^q], z ~ N(0, [[g11, g12], [g12, g22]]), in
float64 JAX so that jax.jacfwd / jax.hessian give the Jacobian J = dF/dg and Hessian H of the kernel map
F(g) = C_b + C_W (M_20, M_11, M_02) (Sec. 3, implementation form):

    V^(l+1) = C_W^2 Cov_K(S) + J V^(l) J^T,     K^{1}(l+1) = J K^{1}(l) + 1/2 sum_ab H_ab V^(l)_ab,

with S = (s1^2, s1 s2, s2^2), V^(1) = 0, K^{1}(1) = 0; the single-input recursion is the same with g = K.
Moments: the scale-invariant class s(z) = a_+ z (z > 0), a_- z (z < 0) (ReLU, leaky ReLU, identity) exactly, by
polar coordinates (radial integral in closed form, angular Gauss-Legendre on the pieces between kinks); smooth
activations by tensor Gauss-Hermite (kinks would make Gauss-Hermite converge only algebraically).
"""

from __future__ import annotations

import math
from functools import lru_cache, partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from scipy import optimize, special

from .. import activations

GH_ORDER = 160  # Sec. 1: tanh errors < 1e-15 for K <= 0.5, 6e-9 at K = 3
GL_ORDER = 48  # angular Gauss-Legendre nodes per smooth piece (the integrand is a trig polynomial there)


def slopes(act: activations.Activation) -> tuple[float, float] | None:
    """(a_+, a_-) of a scale-invariant activation, None for the others."""
    return act.slopes


@lru_cache(maxsize=4)
def _gl(order: int):
    return np.polynomial.legendre.leggauss(order)


def _abs_moment(p: int) -> float:
    """E|xi|^p for a standard normal xi."""
    return 2 ** (p / 2) * special.gamma((p + 1) / 2) / math.sqrt(math.pi)


def moment1(act: activations.Activation, p: int, k):
    """E[s(z)^p], z ~ N(0, k) (differentiable in k)."""
    a = slopes(act)
    if a is not None:
        return (a[0] ** p + (-a[1]) ** p) / 2 * _abs_moment(p) * k ** (p / 2)
    x, w = activations.gauss_hermite(GH_ORDER)
    return jnp.sum(w * act.jax_fn(jnp.sqrt(k) * x) ** p)


def moment2(act: activations.Activation, p: int, q: int, g):
    """E[s(z1)^p s(z2)^q] for z ~ N(0, [[g0, g1], [g1, g2]]) with |g1| < sqrt(g0 g2) (differentiable in g)."""
    g0, g1, g2 = g[0], g[1], g[2]
    a = slopes(act)
    if a is None:
        x, w = activations.gauss_hermite(GH_ORDER)
        z1 = jnp.sqrt(g0) * x[:, None]
        z2 = (g1 / jnp.sqrt(g0)) * x[:, None] + jnp.sqrt(g2 - g1**2 / g0) * x[None, :]
        return jnp.sum(w[:, None] * w[None, :] * act.jax_fn(z1) ** p * act.jax_fn(z2) ** q)
    # z = r (sqrt(g0) cos phi, sqrt(g2) cos(phi - theta)), cos theta = g1 / sqrt(g0 g2); s(r u) = r s(u)
    ap, am = a
    m = p + q
    theta = jnp.arccos(g1 / jnp.sqrt(g0 * g2))
    kinks = jnp.sort(jnp.mod(jnp.array([[0.5, 1.5]]) * jnp.pi + jnp.array([[0.0], [1.0]]) * theta, 2 * jnp.pi).ravel())
    edges = jnp.concatenate([jnp.zeros(1), kinks, jnp.full(1, 2 * jnp.pi)])
    x, w = _gl(GL_ORDER)
    lo, hi = edges[:-1, None], edges[1:, None]
    phi = (lo + hi) / 2 + (hi - lo) / 2 * x[None, :]
    weight = (hi - lo) / 2 * w[None, :]

    def s(u):
        return jnp.where(u > 0, ap * u, am * u)

    integrand = s(jnp.sqrt(g0) * jnp.cos(phi)) ** p * s(jnp.sqrt(g2) * jnp.cos(phi - theta)) ** q
    radial = 2 ** (m / 2) * special.gamma(m / 2 + 1) / (2 * math.pi)
    return radial * jnp.sum(weight * integrand)


class Flow(NamedTuple):
    """Layer-by-layer results, index 0 = layer 1. Single input: arrays (L,); pairs: K, K1 (L, 3), V (L, 3, 3)."""

    K: np.ndarray  # infinite-width kernel K^(l)
    V: np.ndarray  # four-point vertex V^(l) (Cov of G-hat is V / n_{l-1})
    K1: np.ndarray  # 1/n kernel shift K^{1}(l): E[G-hat^(l)] = K^(l) + K^{1}(l) / n + O(1/n^2)
    chi_parallel: np.ndarray  # dF/dK at K^(l) (single input) or the Jacobian J (pairs)
    chi_perp: np.ndarray  # C_W <s'_a s'_b> at K^(l): single input C_W <s'^2>; pairs (11, 12, 22)


def _single_map(act, c_w, c_b, k):
    return c_b + c_w * moment1(act, 2, k)


def _single_cov(act, c_w, k):
    return c_w**2 * (moment1(act, 4, k) - moment1(act, 2, k) ** 2)


def _pair_map(act, c_w, c_b, g):
    return c_b + c_w * jnp.stack([moment2(act, 2, 0, g), moment2(act, 1, 1, g), moment2(act, 0, 2, g)])


def _pair_cov_s(act, c_w, g):
    """C_W^2 Cov(S), S = (s1^2, s1 s2, s2^2): fourth moments minus products of second moments."""
    powers = [(2, 0), (1, 1), (0, 2)]
    mean = jnp.stack([moment2(act, p, q, g) for p, q in powers])
    second = jnp.stack([jnp.stack([moment2(act, p + r, q + s, g) for r, s in powers]) for p, q in powers])
    return c_w**2 * (second - jnp.outer(mean, mean))


# Compiled once per activation (static; C_W, C_b and the kernel are traced), not once per call of a flow.
_single_step = jax.jit(_single_map, static_argnums=0)
_single_jac = jax.jit(jax.grad(_single_map, argnums=3), static_argnums=0)
_single_hess = jax.jit(jax.grad(jax.grad(_single_map, argnums=3), argnums=3), static_argnums=0)
_single_cov_jit = jax.jit(_single_cov, static_argnums=0)
_pair_step = jax.jit(_pair_map, static_argnums=0)
_pair_jac = jax.jit(jax.jacfwd(_pair_map, argnums=3), static_argnums=0)
_pair_hess = jax.jit(jax.hessian(_pair_map, argnums=3), static_argnums=0)
_pair_cov_jit = jax.jit(_pair_cov_s, static_argnums=0)


def flow_single(act: activations.Activation, c_w: float, c_b: float, k1: float, depth: int) -> Flow:
    """K^(l), V^(l), K^{1}(l), chi_parallel(K^(l)) and chi_perp(K^(l)) for one input, l = 1..depth (equal hidden
    widths)."""
    if k1 <= 0 or c_w <= 0 or c_b < 0 or depth < 1:
        raise ValueError(f"need K^(1) > 0, C_W > 0, C_b >= 0, depth >= 1 (got {k1}, {c_w}, {c_b}, {depth})")
    with jax.enable_x64(True):
        cw, cb = jnp.float64(c_w), jnp.float64(c_b)
        k, v, k_1 = jnp.float64(k1), 0.0, 0.0
        out = []
        for _ in range(depth):
            j = _single_jac(act, cw, cb, k)
            out.append((float(k), float(v), float(k_1), float(j)))
            k, v, k_1 = (_single_step(act, cw, cb, k), _single_cov_jit(act, cw, k) + j**2 * v,
                         j * k_1 + 0.5 * _single_hess(act, cw, cb, k) * v)  # fmt: skip
    kernel, vertex, shift, chi_par = (np.array(col) for col in zip(*out, strict=True))
    return Flow(kernel, vertex, shift, chi_par, c_w * np.asarray(act.pair_deriv(kernel, kernel, kernel)))


def flow_pair(act: activations.Activation, c_w: float, c_b: float, g1, depth: int) -> Flow:
    """The two-input flow from K^(1) = g1 = (K11, K12, K22), l = 1..depth: K (depth, 3), V (depth, 3, 3) in the
    basis (11, 12, 22), K1 (depth, 3), and the Jacobian J (depth, 3, 3) of the kernel map."""
    g1 = np.asarray(g1, dtype=np.float64)
    if g1.shape != (3,) or g1[0] <= 0 or g1[2] <= 0 or g1[1] ** 2 >= g1[0] * g1[2]:
        raise ValueError(f"g1 = (K11, K12, K22) must be positive definite with |K12| < sqrt(K11 K22) (got {g1})")
    with jax.enable_x64(True):
        cw, cb = jnp.float64(c_w), jnp.float64(c_b)
        g, v, k_1 = jnp.asarray(g1), jnp.zeros((3, 3)), jnp.zeros(3)
        out = []
        for _ in range(depth):
            j = _pair_jac(act, cw, cb, g)
            out.append((np.asarray(g), np.asarray(v), np.asarray(k_1), np.asarray(j)))
            shift = 0.5 * jnp.einsum("kab,ab->k", _pair_hess(act, cw, cb, g), v)
            g, v, k_1 = _pair_step(act, cw, cb, g), _pair_cov_jit(act, cw, g) + j @ v @ j.T, j @ k_1 + shift
    kernel, vertex, k_shift, jacobian = (np.stack(col) for col in zip(*out, strict=True))
    g11, g12, g22 = kernel.T
    perp = c_w * np.stack(
        [act.pair_deriv(g11, g11, g11), act.pair_deriv(g11, g12, g22), act.pair_deriv(g22, g22, g22)], -1
    )
    return Flow(kernel, vertex, k_shift, jacobian, perp)


def correlation(g) -> np.ndarray:
    """rho = G12 / sqrt(G11 G22) along the last axis (11, 12, 22)."""
    g = np.asarray(g)
    return g[..., 1] / np.sqrt(g[..., 0] * g[..., 2])


def kurtosis_leading(flow: Flow, width: int) -> np.ndarray:
    """Excess kurtosis of a single preactivation over initialisations, 3 V / (n K^2), to leading order in 1/n."""
    return 3 * flow.V / (width * flow.K**2)


def kurtosis_product_form(act: activations.Activation, width: int, depth: int) -> np.ndarray:
    """Exact excess kurtosis to all orders in 1/n for the scale-invariant class with C_b = 0 (Sec. 3):
    3 [(1 + nu / n)^(l - 1) - 1], nu = 3 A4 / A2^2 - 1, l = 1..depth."""
    a = slopes(act)
    if a is None:
        raise ValueError(f"the product form holds for the scale-invariant class only (got {act.name})")
    a2, a4 = (a[0] ** 2 + a[1] ** 2) / 2, (a[0] ** 4 + a[1] ** 4) / 2
    nu = 3 * a4 / a2**2 - 1
    return 3 * ((1 + nu / width) ** np.arange(depth) - 1)


# --- Mean-field maps (Poole et al. 2016, Schoenholz et al. 2017; Sec. 5) -----------------------------------------


def q_star(act: activations.Activation, sigma_w2: float, sigma_b2: float, q0: float = 1.0, tol: float = 1e-13) -> float:
    """Fixed point of the length map q -> sigma_b2 + sigma_w2 E[s(sqrt(q) z)^2] by iteration (it is attracting)."""
    with jax.enable_x64(True):
        q = q0
        for _ in range(100_000):
            new = float(_single_step(act, jnp.float64(sigma_w2), jnp.float64(sigma_b2), jnp.float64(q)))
            if abs(new - q) <= tol * max(1.0, abs(q)):
                return new
            q = new
    raise RuntimeError(f"the length map did not converge (sigma_w2 {sigma_w2}, sigma_b2 {sigma_b2})")


def chi_1(act: activations.Activation, sigma_w2: float, sigma_b2: float) -> float:
    """chi_1 = sigma_w2 E[s'(sqrt(q*) z)^2]: < 1 ordered, > 1 chaotic."""
    q = q_star(act, sigma_w2, sigma_b2)
    return float(sigma_w2 * act.pair_deriv(q, q, q))


def critical_sigma_w2(act: activations.Activation, sigma_b2: float, bracket=(0.5, 5.0)) -> tuple[float, float]:
    """The order-to-chaos boundary: sigma_w2 with chi_1 = 1 at this sigma_b2 (Brent's method), and its q*."""
    w2 = optimize.brentq(lambda s: chi_1(act, s, sigma_b2) - 1, *bracket, xtol=1e-14, rtol=1e-14)
    return w2, q_star(act, w2, sigma_b2)


def c_star(act: activations.Activation, sigma_w2: float, sigma_b2: float) -> tuple[float, float]:
    """(q*, c*): the correlation map's stable fixed point (c* = 1 in the ordered phase)."""
    q = q_star(act, sigma_w2, sigma_b2)
    if chi_1(act, sigma_w2, sigma_b2) <= 1:
        return q, 1.0

    def cmap(c):  # c^l = q12 / sqrt(q11 q22), both by the same quadrature so that cmap(1) = 1 to rounding
        return (sigma_b2 + sigma_w2 * act.pair(q, c * q, q)) / (sigma_b2 + sigma_w2 * act.pair(q, q, q))

    c = optimize.brentq(lambda c: cmap(c) - c, -1 + 1e-12, 1 - 1e-9, xtol=1e-15)
    return q, float(c)


def depth_scales(act: activations.Activation, sigma_w2: float, sigma_b2: float) -> dict[str, float]:
    """xi_q and xi_c (Sec. 5): |q^l - q*| ~ exp(-l / xi_q), |c^l - c*| ~ exp(-l / xi_c), xi_c = -1 / ln chi_c with
    chi_c = sigma_w2 E[s'(u1*) s'(u2*)] at (q*, c*); xi_q = -1 / ln dF/dq at q* (chi_1 + sigma_w2 E[s'' s])."""
    q, c = c_star(act, sigma_w2, sigma_b2)
    chi_c = float(sigma_w2 * act.pair_deriv(q, c * q, q))
    with jax.enable_x64(True):
        chi_q = float(_single_jac(act, jnp.float64(sigma_w2), jnp.float64(sigma_b2), jnp.float64(q)))
    return {"q_star": q, "c_star": c, "chi_c": chi_c, "xi_c": -1 / math.log(chi_c), "xi_q": -1 / math.log(chi_q)}


# --- Measurements on random networks ------------------------------------------------------------------------------


def gram_sampler(
    key: jax.Array, act: activations.Activation, c_w: float, c_b: float, k1, width: int, depth: int, n_networks: int
) -> np.ndarray:
    """Exact samples of the stochastic metric G-hat^(l)_{ab} = C_b + C_W / n sum_j s(z_j;a) s(z_j;b) of n_networks
    random networks for k inputs with K^(1) = k1 (k x k), layers l = 1..depth: array (n_networks, depth, k, k).

    The rows of W^(l+1) are i.i.d., so given layer l the neurons' preactivations are i.i.d. N(0, G-hat^(l)):
    sampling z = chol(G-hat) xi reproduces the joint law of every forward preactivation exactly (Sec. 1) at cost
    O(M n k^2 L). It does not apply to NTK or other backward quantities. float64 on the CPU."""
    k1 = np.atleast_2d(np.asarray(k1, dtype=np.float64))
    with jax.enable_x64(True):
        g0 = jnp.broadcast_to(jnp.asarray(k1), (n_networks, *k1.shape))
        gs = _gram_scan(act, width, jnp.float64(c_w), jnp.float64(c_b), g0, jax.random.split(key, depth))
        return np.asarray(jnp.moveaxis(gs, 0, 1))


@partial(jax.jit, static_argnums=(0, 1))
def _gram_scan(act, width, c_w, c_b, g0, keys):
    """The Gram sampler's layers (compiled once per activation, width and shapes; C_W and C_b traced)."""

    def layer(g, key):
        chol = jnp.linalg.cholesky(g + 1e-300 * jnp.eye(g.shape[-1])[None])
        xi = jax.random.normal(key, (*g.shape[:-2], width, g.shape[-1]), jnp.float64)
        s = act.jax_fn(jnp.einsum("...ab,...jb->...ja", chol, xi))
        g_next = c_b + c_w / width * jnp.einsum("...ja,...jb->...ab", s, s)
        return g_next, g

    return jax.lax.scan(layer, g0, keys)[1]


def ensemble_correlation(g_hat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """rho_ens = G12 / sqrt(G11 G22) of the ensemble-mean metric, G-hat (network, ..., 2, 2), with its delta-method
    standard error over networks."""
    per = np.stack([g_hat[..., 0, 0], g_hat[..., 0, 1], g_hat[..., 1, 1]], axis=-1)
    m = per.shape[0]
    mean = per.mean(0)
    rho = correlation(mean)
    grad = np.stack(
        [-rho / (2 * mean[..., 0]), 1 / np.sqrt(mean[..., 0] * mean[..., 2]), -rho / (2 * mean[..., 2])], -1
    )
    cov = np.einsum("m...a,m...b->...ab", per - mean, per - mean) / (m - 1)
    return rho, np.sqrt(np.einsum("...a,...ab,...b->...", grad, cov, grad) / m)


def decay_length(d: np.ndarray) -> float:
    """xi of a decaying deviation d_l ~ A exp(-l / xi), l = 1..len(d): least-squares slope of ln d_l against l."""
    d = np.asarray(d, dtype=np.float64)
    if d.size < 2 or np.any(d <= 0):
        raise ValueError("decay_length needs at least two positive deviations")
    slope = np.polyfit(np.arange(1, d.size + 1), np.log(d), 1)[0]
    return float(-1 / slope) if slope < 0 else math.inf


def depth_scale_starts(act: activations.Activation, sigma_w2: float, sigma_b2: float, delta: float) -> dict:
    """Starting metrics K^(1) for measuring xi_c and xi_q, all at the fixed-point length q*.

    xi_c, ordered phase (c* = 1, which identical inputs keep at any width): one pair at correlation 1 - delta,
    deviation 1 - rho^(l). Chaotic phase: two pairs at c* +- delta (delta capped at (1 - c*) / 2), deviation half
    their difference: the finite-width shift of c* and the quadratic part of the map cancel in it. xi_q: single
    inputs at q* (1 +- delta), deviation half the difference of the mean metrics. A small delta keeps the maps in
    their linear regime, where the deviation is one exponential from layer 1 on (Sec. 5)."""
    q, c = c_star(act, sigma_w2, sigma_b2)
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


def measure_depth_scales(key: jax.Array, act: activations.Activation, sigma_w2: float, sigma_b2: float, width: int,
                         n_networks: int, depth_c: int, depth_q: int, delta: float, rng: np.random.Generator,
                         n_boot: int = 100) -> dict[str, float]:  # fmt: skip
    """xi_c and xi_q measured on random networks of the given width (exact Gram sampler; each start uses the same
    random numbers, so the networks of the +- runs are coupled and their difference has little noise), with
    bootstrap standard errors (resampling networks). Also the finite-width fixed point c*_n
    (`correlation_fixed_point`). The fit uses the layers where the
    deviation exceeds 5 bootstrap standard errors."""
    starts = depth_scale_starts(act, sigma_w2, sigma_b2, delta)
    kc, kq = jax.random.split(key)
    gc = [gram_sampler(kc, act, sigma_w2, sigma_b2, k1, width, depth_c, n_networks) for k1 in starts["c_starts"]]
    gq = [gram_sampler(kq, act, sigma_w2, sigma_b2, k1, width, depth_q, n_networks)[..., 0, 0]
          for k1 in starts["q_starts"]]  # fmt: skip

    def stats(idx):
        rhos = [ensemble_correlation(g[idx])[0] for g in gc]
        deviation_q = (gq[0][idx].mean(0) - gq[1][idx].mean(0)) / 2
        return correlation_deviation(rhos), deviation_q, correlation_fixed_point(rhos)

    full = stats(np.arange(n_networks))
    boots = [stats(rng.integers(0, n_networks, n_networks)) for _ in range(n_boot)]
    out = {"c_star_n": full[2], "c_star_n_se": float(np.std([b[2] for b in boots], ddof=1))}
    for name, i in (("xi_c", 0), ("xi_q", 1)):
        se = np.std([b[i] for b in boots], axis=0, ddof=1)
        resolved = full[i] > 5 * se
        end = int(np.argmin(resolved)) if not resolved.all() else resolved.size  # layers 1..end are resolved
        if end < 3:
            out[name], out[f"{name}_se"], out[f"{name}_layers"] = math.nan, math.nan, end
            continue
        fits = [decay_length(b[i][:end]) if np.all(b[i][:end] > 0) else math.inf for b in boots]
        out[name], out[f"{name}_se"] = decay_length(full[i][:end]), float(np.std(fits, ddof=1))
        out[f"{name}_layers"] = end
    return out


def kurtosis_estimate(g_hat: np.ndarray, key: np.random.Generator, n_boot: int = 200) -> tuple[float, float]:
    """Rao-Blackwellised excess kurtosis 3 Var(G-hat) / E[G-hat]^2 of z | G-hat ~ N(0, G-hat) over networks, with a
    bootstrap standard error (resampling networks)."""
    g_hat = np.asarray(g_hat, dtype=np.float64)

    def est(g):
        return 3 * g.var() / g.mean() ** 2

    boots = [est(g_hat[key.integers(0, g_hat.size, g_hat.size)]) for _ in range(n_boot)]
    return float(est(g_hat)), float(np.std(boots, ddof=1))


def full_weight_ensemble(
    key: jax.Array,
    act: activations.Activation,
    c_w: float,
    c_b: float,
    k1,
    width: int,
    depth: int,
    n_networks: int,
    chunk: int = 500,
    dtype=jnp.float64,
) -> np.ndarray:
    """The same G-hat^(l) as `gram_sampler`, measured on networks with actual weight matrices: layer 1 exactly
    N(0, K^(1)) per neuron, then z^(l+1) = b + W s(z^(l)) with W ~ N(0, C_W / n), b ~ N(0, C_b) (vmap over networks,
    scan over layers, chunks of `chunk` networks). Returns (n_networks, depth, k, k) in float64."""
    k1 = np.atleast_2d(np.asarray(k1, dtype=np.float64))
    with jax.enable_x64(dtype == jnp.float64):
        keys = jax.random.split(key, n_networks)
        cw, cb, kin = jnp.asarray(c_w, dtype), jnp.asarray(c_b, dtype), jnp.asarray(k1, dtype)
        out = [np.asarray(_full_weight_run(act, width, depth, dtype, cw, cb, kin, keys[i : i + chunk]), np.float64)
               for i in range(0, n_networks, chunk)]  # fmt: skip
    return np.concatenate(out)


@partial(jax.jit, static_argnums=(0, 1, 2, 3))
def _full_weight_run(act, width, depth, dtype, c_w, c_b, k1, keys):
    """full_weight_ensemble's networks (compiled once per activation, width, depth and dtype; C_W, C_b traced)."""

    def network(key):
        k_in, k_layers = jax.random.split(key)
        z = jax.random.normal(k_in, (width, k1.shape[0]), dtype) @ jnp.linalg.cholesky(k1).T

        def layer(z, key):
            s = act.jax_fn(z)
            g = c_b + c_w / width * (s.T @ s)
            kw, kb = jax.random.split(key)
            w = jax.random.normal(kw, (width, width), dtype) * jnp.sqrt(c_w / width)
            b = jax.random.normal(kb, (width, 1), dtype) * jnp.sqrt(c_b)
            return w @ s + b, g

        # G-hat^(1) = K^(1); G-hat^(l+1) from layer l's activations
        _, gs = jax.lax.scan(layer, z, jax.random.split(k_layers, depth - 1))
        return jnp.concatenate([k1[None], gs])

    return jax.vmap(network)(keys)


# --- Labelled results for the figures of Sec. 6 (F1-F4) -----------------------------------------------------------

# --- NTK (Sec. 4) -----------------------------------------------------------------------------------------------------


def _per_layer(rate, depth: int) -> np.ndarray:
    rate = np.broadcast_to(np.asarray(rate, dtype=np.float64), (depth,))
    if np.any(rate < 0):
        raise ValueError("learning rates must be >= 0")
    return rate


def ntk_flow_single(
    act: activations.Activation, c_w: float, c_b: float, k1: float, depth: int, lambda_b, lambda_w
) -> np.ndarray:
    """Mean NTK Theta^(l), l = 1..depth, of a single input at infinite width (Sec. 4); lambda_b, lambda_w are numbers
    or per-layer arrays (index 0 = layer 1): Theta^(1) = lambda_b^(1) + lambda_w^(1) (K^(1) - C_b) / C_W,
    Theta^(l+1) = lambda_b^(l+1) + lambda_w^(l+1) <s^2>_K(l) + chi_perp(K^(l)) Theta^(l)."""
    flow = flow_single(act, c_w, c_b, k1, depth)
    lb, lw = _per_layer(lambda_b, depth), _per_layer(lambda_w, depth)
    ss = np.asarray(act.pair(flow.K, flow.K, flow.K))  # <s^2> at K^(l)
    theta = [lb[0] + lw[0] * (k1 - c_b) / c_w]
    for i in range(1, depth):
        theta.append(lb[i] + lw[i] * ss[i - 1] + flow.chi_perp[i - 1] * theta[-1])
    return np.array(theta)


def ntk_flow_pair(
    act: activations.Activation, c_w: float, c_b: float, g1, depth: int, lambda_b, lambda_w
) -> np.ndarray:
    """Mean NTK of two inputs, (depth, 3) in the basis (11, 12, 22): the recursion of `ntk_flow_single` entrywise,
    Theta_ab^(l+1) = lambda_b + lambda_w <s_a s_b>_K(l) + C_W <s'_a s'_b>_K(l) Theta_ab^(l)."""
    flow = flow_pair(act, c_w, c_b, g1, depth)
    lb, lw = _per_layer(lambda_b, depth), _per_layer(lambda_w, depth)
    g11, g12, g22 = flow.K.T
    ss = np.stack([act.pair(g11, g11, g11), act.pair(g11, g12, g22), act.pair(g22, g22, g22)], -1)
    theta = [lb[0] + lw[0] * (np.asarray(g1, dtype=np.float64) - c_b) / c_w]
    for i in range(1, depth):
        theta.append(lb[i] + lw[i] * ss[i - 1] + flow.chi_perp[i - 1] * theta[-1])
    return np.array(theta)


def ntk_ensemble(
    key: jax.Array,
    act: activations.Activation,
    c_w: float,
    c_b: float,
    k1,
    width: int,
    depth: int,
    n_networks: int,
    lambda_b,
    lambda_w,
    chunk: int = 250,
) -> np.ndarray:
    """Theta-hat_ab = sum_l [lambda_b^(l) dz_a/db^(l) . dz_b/db^(l) + lambda_w^(l) / n_{l-1} dz_a/dW^(l) . dz_b/dW^(l)]
    of the scalar output z^(depth) of random networks with full weight matrices (hidden and input width n), float64.
    k1: a number (one input, x.x / n_0 = (K^(1) - C_b) / C_W; returns (n_networks,)) or a k x k matrix K^(1) (k
    inputs with x_a.x_b / n_0 = (K^(1)_ab - C_b) / C_W; returns (n_networks, k, k)). lambda_b, lambda_w: numbers or
    per-layer arrays. Backward quantity: needs the actual weights, not the Gram sampler."""
    n0 = width
    single = np.ndim(k1) == 0
    gram = (np.atleast_2d(np.asarray(k1, dtype=np.float64)) - c_b) / c_w
    k = gram.shape[0]
    basis = np.random.default_rng(0).standard_normal((n0, k))
    basis[:, 0] = 1.0
    q, _ = np.linalg.qr(basis)
    q *= np.sign(q[0])  # first column exactly +ones / sqrt(n0): one input is x = sqrt(m) (1, ..., 1)
    x = jnp.asarray(np.linalg.cholesky(gram) @ (math.sqrt(n0) * q.T))  # (k, n0), x x^T / n0 = gram
    lb, lw = _per_layer(lambda_b, depth), _per_layer(lambda_w, depth)
    fans = [n0] + [width] * (depth - 1)
    outs = [width] * (depth - 1) + [1]
    with jax.enable_x64(True):

        def network(key):
            keys = jax.random.split(key, 2 * depth)
            params = [
                (
                    jax.random.normal(keys[2 * i], (o, f), jnp.float64) * math.sqrt(c_w / f),
                    jax.random.normal(keys[2 * i + 1], (o,), jnp.float64) * math.sqrt(c_b),
                )
                for i, (f, o) in enumerate(zip(fans, outs, strict=True))
            ]

            def output(params):
                h = x.T
                for w, b in params:
                    z = w @ h + b[:, None]
                    h = act.jax_fn(z)
                return z[0]  # (k,)

            jac = jax.jacrev(output)(params)
            return sum(
                lb[i] * jnp.einsum("ao,bo->ab", gb, gb) + lw[i] / f * jnp.einsum("aof,bof->ab", gw, gw)
                for i, ((gw, gb), f) in enumerate(zip(jac, fans, strict=True))
            )

        run = jax.jit(jax.vmap(network))
        keys = jax.random.split(key, n_networks)
        theta = np.concatenate([np.asarray(run(keys[i : i + chunk])) for i in range(0, n_networks, chunk)])
    return theta[:, 0, 0] if single else theta


# --- Phase diagram (F5) -----------------------------------------------------------------------------------------------


def _gauss1(f, q):
    """E[f(sqrt(q) z)] for arrays q by 1-D Gauss-Hermite (GH_ORDER nodes), numpy."""
    x, w = activations.gauss_hermite(GH_ORDER)
    q = np.asarray(q, dtype=np.float64)
    return f(np.sqrt(q)[..., None] * x) @ w


def _length_map_np(act, sigma_w2, sigma_b2, q):
    """sigma_b2 + sigma_w2 E[s(sqrt(q) z)^2], vectorised over arrays (numpy)."""
    if act.closed_form:
        return sigma_b2 + sigma_w2 * act.pair(q, q, q)
    return sigma_b2 + sigma_w2 * _gauss1(lambda u: act.np_fn(u) ** 2, q)


def q_star_grid(act, sigma_w2, sigma_b2, iterations: int = 80) -> np.ndarray:
    """q* on a grid by bisection of F(q) - q on [0, q_max] (the stable fixed point: for sigma_b2 = 0 and chi_1(0) <= 1
    it is q* = 0). Requires a bounded activation (q_max = sigma_b2 + sigma_w2 sup s^2 with sup s^2 <= 1)."""
    sigma_w2, sigma_b2 = np.broadcast_arrays(np.asarray(sigma_w2, float), np.asarray(sigma_b2, float))
    lo, hi = np.zeros(sigma_w2.shape), sigma_b2 + sigma_w2
    for _ in range(iterations):
        mid = (lo + hi) / 2
        above = _length_map_np(act, sigma_w2, sigma_b2, mid) > mid
        lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
    return (lo + hi) / 2


def chi_1_grid(act, sigma_w2, sigma_b2) -> np.ndarray:
    q = q_star_grid(act, sigma_w2, sigma_b2)
    if act.closed_form:
        return np.asarray(sigma_w2) * act.pair_deriv(q, q, q)
    return np.asarray(sigma_w2) * _gauss1(lambda u: act.np_deriv(u) ** 2, q)


def critical_line(act, sigma_b2, bracket=(0.5, 4.0), iterations: int = 50) -> np.ndarray:
    """The order-to-chaos line sigma_w2*(sigma_b2), chi_1 = 1, by vectorised bisection (chi_1 grows with sigma_w2)."""
    sigma_b2 = np.asarray(sigma_b2, dtype=np.float64)
    lo, hi = np.full(sigma_b2.shape, bracket[0]), np.full(sigma_b2.shape, bracket[1])
    for _ in range(iterations):
        mid = (lo + hi) / 2
        chaotic = chi_1_grid(act, mid, sigma_b2) > 1
        lo, hi = np.where(chaotic, lo, mid), np.where(chaotic, mid, hi)
    return (lo + hi) / 2


def empirical_chi_1(key, act, sigma_w2, sigma_b2, width: int, n_networks: int, transient: int, measure: int):
    """chi_1 measured on random networks: after `transient` layers from q^(1) = 1, the mean of |J_l v|^2 / |v|^2
    (J_l the layer Jacobian W diag s'(z), v random, by jax.jvp) over `measure` layers; returns (mean, s.e. over
    networks) for arrays sigma_w2, sigma_b2 of one shape."""
    shape = np.shape(sigma_w2)
    w2, b2 = (jnp.asarray(np.ravel(a), jnp.float32) for a in np.broadcast_arrays(sigma_w2, sigma_b2))

    def network(key, w2, b2):
        k0, k1 = jax.random.split(key)
        z = jax.random.normal(k0, (width,))

        def layer(z, key):
            kw, kb, kv = jax.random.split(key, 3)
            w = jax.random.normal(kw, (width, width)) * jnp.sqrt(w2 / width)
            b = jax.random.normal(kb, (width,)) * jnp.sqrt(b2)
            v = jax.random.normal(kv, (width,))
            z_next, jv = jax.jvp(lambda u: w @ act.jax_fn(u) + b, (z,), (v,))
            return z_next, jnp.sum(jv**2) / jnp.sum(v**2)

        _, ratios = jax.lax.scan(layer, z, jax.random.split(k1, transient + measure))
        return ratios[transient:].mean()

    per_point = jax.vmap(lambda k, a, b: jax.vmap(lambda kk: network(kk, a, b))(jax.random.split(k, n_networks)))
    keys = jax.random.split(key, w2.size)
    samples = np.asarray(jax.jit(per_point)(keys, w2, b2), np.float64)  # (points, networks)
    mean = samples.mean(1).reshape(shape)
    se = (samples.std(1, ddof=1) / np.sqrt(n_networks)).reshape(shape)
    return mean, se
