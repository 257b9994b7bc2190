"""Geometry of the unit hypersphere S^{d-1} with its uniform probability measure.

Conventions (docs/learning_curves.md Sec. 1): P_l(t) = C_l^{(d-2)/2}(t) / C_l^{(d-2)/2}(1), so P_l(1) = 1;
the addition theorem reads sum_m Y_lm(x) Y_lm(y) = N(d, l) P_l(x.y) with int dmu Y_lm^2 = 1, and a dot-product
kernel K(t) = sum_l N(d, l) lambda_l P_l(t).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
from scipy import special


def check_dim(d: int) -> None:
    if int(d) != d or d < 3:
        raise ValueError(f"dim must be an integer >= 3 (got {d!r}); S^1 has no Gegenbauer alpha > 0")


def sample_sphere(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    """n points uniform on S^{d-1}, shape (n, d), float64."""
    check_dim(d)
    if int(n) != n or n < 0:
        raise ValueError(f"n (the number of points) must be an integer >= 0 (got {n!r})")
    x = rng.standard_normal((n, d))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def log_degeneracy(d: int, degree) -> np.ndarray:
    """log N(d, l), the number of independent degree-l harmonics on S^{d-1} (Sec. 1), without overflow."""
    check_dim(d)
    l = np.asarray(degree, dtype=np.float64)
    # N = (2l+d-2)/(l+d-2) * binom(l+d-2, l);  N(d, 0) = 1.
    out = (
        np.log(2 * l + d - 2)
        - np.log(l + d - 2)
        + special.gammaln(l + d - 1)
        - special.gammaln(l + 1)
        - special.gammaln(d - 1)
    )
    return np.where(l == 0, 0.0, out)


def degeneracy(d: int, degree) -> np.ndarray:
    """N(d, l) as float64 (exact integers while below 2**53)."""
    return np.round(np.exp(log_degeneracy(d, degree)))


def gegenbauer_normalized(d: int, degree: int, t) -> np.ndarray:
    """P_l(t) = C_l^alpha(t) / C_l^alpha(1), alpha = (d-2)/2."""
    check_dim(d)
    alpha = (d - 2) / 2
    log_c1 = special.gammaln(degree + 2 * alpha) - special.gammaln(2 * alpha) - special.gammaln(degree + 1)
    return special.eval_gegenbauer(degree, alpha, np.asarray(t, dtype=np.float64)) / np.exp(log_c1)


def gegenbauer_levels(d: int, max_degree: int, t) -> Iterator[np.ndarray]:
    """P_l(t) for l = 0..max_degree, one array of t's shape at a time, by the three-term recurrence (the project's
    one implementation; it holds two arrays, not the whole table).

    Dividing C_{l+1}^alpha's recurrence by C_{l+1}^alpha(1) gives
    P_{l+1} = (2 (l + alpha) t P_l - l P_{l-1}) / (l + 2 alpha), stable for |t| <= 1.
    """
    check_dim(d)
    if max_degree < 0:
        raise ValueError(f"max_degree must be >= 0 (got {max_degree})")
    alpha = (d - 2) / 2
    t = np.asarray(t, dtype=np.float64)
    p_prev, p = np.ones_like(t), t
    yield p_prev
    if max_degree >= 1:
        yield p
    for l in range(1, max_degree):
        p_prev, p = p, (2 * (l + alpha) * t * p - l * p_prev) / (l + 2 * alpha)
        yield p


def gegenbauer_series(d: int, coef, t) -> np.ndarray:
    """sum_l coef_l P_l(t), level by level (`gegenbauer_levels`: three arrays of t's shape, not the table)."""
    out = 0.0
    for c, p in zip(coef, gegenbauer_levels(d, len(coef) - 1, t), strict=True):
        out = out + c * p
    return out


def gegenbauer_table(d: int, max_degree: int, t) -> np.ndarray:
    """P_l(t) for l = 0..max_degree, shape (max_degree + 1, *t.shape) (`gegenbauer_levels`, stacked)."""
    return np.stack(list(gegenbauer_levels(d, max_degree, t)))


def quadrature(d: int, n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights for the law of t = x.u, x ~ uniform on S^{d-1}, density ~ (1 - t^2)^{(d-3)/2}.

    Gauss-Gegenbauer (alpha = (d-2)/2) where scipy's nodes are finite; for large d and many nodes (scipy's
    Newton iteration overflows, e.g. d = 1000 with 1000 nodes) Gauss-Legendre carrying the weight in log space,
    exact for a density so peaked (width ~ 1/sqrt(d)) that the endpoints do not matter. The weights are
    normalised to sum to one, which fixes the constant Gamma(d/2) / (sqrt(pi) Gamma((d-1)/2)) of Funk-Hecke.
    """
    check_dim(d)
    with np.errstate(all="ignore"):
        nodes, weights = special.roots_gegenbauer(n_nodes, (d - 2) / 2)
    if not (np.all(np.isfinite(nodes)) and np.all(np.isfinite(weights))):
        nodes, legendre = special.roots_legendre(n_nodes)
        logw = np.log(legendre) + (d - 3) / 2 * np.log1p(-(nodes**2))
        weights = np.exp(logw - logw.max())
    return nodes, weights / weights.sum()


def funk_hecke(kernel: Callable[[np.ndarray], np.ndarray], d: int, max_degree: int, n_nodes: int = 2000) -> np.ndarray:
    """Eigenvalues lambda_l, l = 0..max_degree, of the dot-product kernel K(x.y) on S^{d-1} (Sec. 1).

    lambda_l = E_t[K(t) P_l(t)] under the law of t. Kernels with a kink at t = +-1 (ReLU family) converge
    algebraically in n_nodes; smooth kernels converge exponentially.
    """
    t, w = quadrature(d, n_nodes)
    k = kernel(t)
    return gegenbauer_table(d, max_degree, t) @ (w * k)
