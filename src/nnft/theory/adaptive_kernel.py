"""Adaptive-kernel (mean-field) theory of finite-width Bayesian networks (docs/finite_width_bayes.md Sec. 8).

The first-order theory (finite_width_bayes.first_order) expands the posterior around the NNGP; where the data
move the kernel by O(1) it over-predicts the networks' gain, as the exactly solvable linear network shows
(bayes_linear). This module resums the part of the expansion that makes the kernel *adapt*: every hidden unit is
an independent draw from its prior tilted by the evidence gradient of the layer above, and the layer kernels are
solved self-consistently (Seroussi, Naveh & Ringel 2023; the kernel-level saddle point of the exact posterior).

Exact posterior in the kernel picture: with G^(l+1) = sigma_w2[l] / n sum_i s(z_i) s(z_i)^T + sigma_b2[l] the
empirical kernel of hidden layer l (n units, z_i ~ N(0, G^(l)) given the layer below) and f | G^(L) ~ N(0, G^(L)),

    p(z | D) ∝ prod_l prod_i N(z_i^(l); 0, G^(l)) * N(y; 0, G^(L) + T).

Introduce each G^(l) as an order parameter with a conjugate Gamma^(l) (train x train). The units of a layer then
decouple, and the saddle point of the resulting action (exact as n -> infinity with P / n fixed, up to the loop
terms below) is

    Gamma^(L)   = dl/dG^(L) = 1/2 (alpha alpha^T - A),   A = (G^(L) + T)^{-1},  alpha = A y,
    G^(l+1)     = sigma_w2[l] E_l[s s^T] + sigma_b2[l],
                  E_l: z ~ N(0, G^(l)) tilted by exp(sigma_w2[l] / n s^T Gamma^(l+1) s),
    Gamma^(l)   = J_l^T Gamma^(l+1)  (the kernel map's vector-Jacobian product at the adapted G^(l)),

and the predictor is GP regression with the adapted last kernel G^(L). The first hidden layer is sampled in weight
space (z = sqrt(sigma_w2 g) X w + sqrt(sigma_b2) b, w in R^d), so its tilt is exact and non-Gaussian: the units
can grow along the teacher's directions. Deeper layers are sampled as z = chol(G^(l)) xi with fixed xi (common
random numbers make the fixed-point iteration deterministic). Every tilted average is an importance-weighted
average over prior samples, used as a control variate: G^(l+1) = F(G^(l)) + sigma_w2 sum_i (omega_i - 1/M) s_i s_i^T
with F the closed-form kernel map, so the Monte Carlo noise is that of the adaptation only.

Expanded to first order, the saddle gives exactly the tilt term E m'[Delta] l'[Delta] of the first-order theory
(finite_width_bayes.first_order); it leaves out the loop, m'[mu] + 1/2 m''[C]. The back-propagation
Gamma^(l) = J^T Gamma^(l+1) keeps the Gaussian part of the single-unit log partition function; its non-Gaussian
remainder changes the predictor at O(1/n^2).

The saddle point alone over-predicts the networks' gain (for a linear network, whose exact mean predictor is a pure
rescaling, at every width): its directional adaptation is cancelled in the exact posterior by the fluctuations of
the kernel around it. The loop at the saddle point (_loop, option loop_samples) adds them back as Gaussian
fluctuations of the top kernel with the evidence's curvature as feedback (random phase approximation),

    <f*> = m(G^(L)) + m'[mu] + 1/2 m''[C_RPA],    C_RPA = (C^{-1} - l'')^{-1} = C (I - l'' C)^{-1},

C the tilted units' kernel covariance / n carried to the top kernel; to first order this is first_order's loop.
"""

from __future__ import annotations

import dataclasses
import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg
import xarray as xr

from .. import model
from .finite_width_bayes import check_problem, evidence_gradients, first_layer_preactivation
from .kernels import first_layer_kernel, full_kernel_map, kernel_map
from .learning_curves import gp_solve

# Memory the loop correction may hold on to between its two passes over the units (bytes; see _loop).
LOOP_CACHE_BYTES = 2**31


def _weights(s_train, gamma, c):
    """Normalised importance weights exp(c s^T Gamma s) of prior samples s (M, P)."""
    return jax.nn.softmax(c * jnp.einsum("mi,ij,mj->m", s_train, gamma, s_train))


def _tilted_layer(s, s_train, gamma, c, base, w2):
    """G = base + w2 sum_i (omega_i - 1/M) s_i s_i^T with omega the normalised tilt exp(c s^T Gamma s) of the
    train entries (the closed-form map as control variate), and the effective sample fraction."""
    omega = _weights(s_train, gamma, c)
    m = s.shape[0]
    shift = w2 * (s.T * (omega - 1.0 / m)[None, :]) @ s
    return base + 0.5 * (shift + shift.T), 1.0 / (m * jnp.sum(omega**2))


@partial(jax.jit, static_argnames=("net",))
def _iterate(net, s1, xi, k_train, g_layers, y, ridge, damping):
    """One damped fixed-point step of the saddle-point equations on the train points (module docstring; the tilts
    only see the train points, so the iteration never needs the test points). g_layers: G^(2..L), train blocks.
    Returns the new kernels, each hidden layer's effective sample fraction and the Gammas."""
    variances, n = net.layer_variances(), net.width
    gammas = evidence_gradients(net, g_layers, y, ridge)
    new, ess = [], []
    for l in range(1, net.depth):  # hidden layer l produces G^(l+1) through weight layer l (0-based)
        w2, b2 = variances[l]
        if l == 1:
            s, base = s1, k_train[1]
        else:
            g_in = g_layers[l - 2]
            chol = jnp.linalg.cholesky(g_in + 1e-10 * jnp.mean(jnp.diag(g_in)) * jnp.eye(g_in.shape[0]))
            s, base = net.act.jax_fn(xi[l - 2] @ chol.T), full_kernel_map(net.act, w2, b2, g_in)
        g_new, e = _tilted_layer(s, s, gammas[l + 1], w2 / n, base, w2)
        new.append((1 - damping) * g_layers[l - 1] + damping * g_new)
        ess.append(e)
    return new, jnp.stack(ess), gammas


@partial(jax.jit, static_argnames=("net", "p"))
def _complete(net, p, s1, xi, xi_test, k_full, gammas):
    """The converged kernels over train + test points: the same tilted units (their train entries are the
    iteration's samples), with the test entries drawn from the Gaussian conditional on the train entries."""
    variances, n = net.layer_variances(), net.width
    g_full = []
    for l in range(1, net.depth):
        w2, b2 = variances[l]
        if l == 1:
            s, base = s1, k_full[1]
        else:
            g_in = g_full[-1]
            jitter = 1e-10 * jnp.mean(jnp.diag(g_in))
            g_tt = g_in[:p, :p] + jitter * jnp.eye(p)
            chol = jnp.linalg.cholesky(g_tt)
            z_train = xi[l - 2] @ chol.T
            reg = jax.scipy.linalg.cho_solve((chol, True), g_in[:p, p:])  # (P, Q): G_tt^{-1} G_t*
            schur = g_in[p:, p:] - g_in[p:, :p] @ reg
            chol_s = jnp.linalg.cholesky(schur + jitter * jnp.eye(schur.shape[0]))
            z = jnp.concatenate([z_train, z_train @ reg + xi_test[l - 2] @ chol_s.T], axis=1)
            s, base = net.act.jax_fn(z), full_kernel_map(net.act, w2, b2, g_in)
        g_full.append(_tilted_layer(s, s[:, :p], gammas[l + 1], w2 / n, base, w2)[0])
    return g_full


def _unit_samples(net, l, key, m, x_all, g_in, gamma, p):
    """m fresh prior draws of one unit of hidden layer l at the saddle point: s over train + test points and the
    normalised tilt weights exp(sigma_w2[l] / n s^T Gamma^(l+1) s) of their train entries."""
    w2 = net.layer_variances()[l][0]
    if l == 1:
        kw, kb = jax.random.split(key)
        w = jax.random.normal(kw, (m, net.dim), jnp.float64)
        b = jax.random.normal(kb, (m,), jnp.float64)
        z = first_layer_preactivation(net, w, b, x_all)
    else:
        chol = jnp.linalg.cholesky(g_in + 1e-10 * jnp.mean(jnp.diag(g_in)) * jnp.eye(g_in.shape[0]))
        z = jax.random.normal(key, (m, g_in.shape[0]), jnp.float64) @ chol.T
    s = net.act.jax_fn(z)
    return s, _weights(s[:, :p], gamma, w2 / net.width)


def _packed_basis(p: int):
    """The orthonormal basis of symmetric P x P matrices _loop works in: pairs a <= b (np.triu_indices) and their
    weights (1 on the diagonal, sqrt 2 off it): v_k = w_k D_ab."""
    iu, ju = np.triu_indices(p)
    return iu, ju, np.where(iu == ju, 1.0, math.sqrt(2.0))


@partial(jax.jit, static_argnames=("net", "p", "l"))
def _propagated(net, p, l, s, mean_diag, mean_cross, bases):
    """Per unit sample of hidden layer l: its centred kernel fluctuation eta = sigma_w2[l] (s s^T - E s s^T) of
    G^(l+1), carried to the top kernel G^(L) by the Jacobians of the kernel maps at the saddle point's kernels
    (bases: block forms of G^(l+1..L-1)), and the second-order shift 1/2 H[.,.] it adds on the way (block form:
    the (P + Q, P) columns against the train points). Returns the top fluctuation's test columns (m, Q, P), its
    train block in the packed basis (m, K) and the shift (m, P + Q, P)."""
    act, variances = net.act, net.layer_variances()
    w2 = variances[l][0]

    def one(si):
        delta = (w2 * si**2 - mean_diag, w2 * si[:, None] * si[None, :p] - mean_cross)
        mu = (jnp.zeros_like(delta[0]), jnp.zeros_like(delta[1]))
        for k, base in enumerate(bases):  # weight layer l + 1 + k maps G^(l+1+k) to the next kernel
            w2k, b2k = variances[l + 1 + k]

            def fmap(d, c, w2k=w2k, b2k=b2k):
                return kernel_map(act, w2k, b2k, d, c, p)

            def along(t, base=base, delta=delta, fmap=fmap):
                return jax.jvp(fmap, (base[0] + t * delta[0], base[1] + t * delta[1]), delta)[1]

            _, hess = jax.jvp(along, (jnp.zeros(()),), (jnp.ones(()),))
            mu = jax.jvp(fmap, base, mu)[1]
            mu = (mu[0] + 0.5 * hess[0], mu[1] + 0.5 * hess[1])
            delta = jax.jvp(fmap, base, delta)[1]
        return delta[1], mu[1]

    top, mu = jax.vmap(one)(s)
    iu, ju, wgt = _packed_basis(p)
    return top[:, p:], top[:, iu, ju] * wgt[None, :], mu


@jax.jit
def _accumulate(tadpole, cov, wts, mu, flat):
    """One chunk of units into the weighted sums of the kernel shift (tadpole) and of the packed covariance C."""
    return tadpole + jnp.einsum("i,ijk->jk", wts, mu), cov + (flat.T * wts[None, :]) @ flat


@jax.jit
def _test_contraction(wts, top_test, flat, wvs):
    """sum_m w_m d*_m (D_m . wv) for each functional wv of wvs (stacked: r, K, P): the units' test-train fluctuations
    against functionals of their train block, one pass over the test columns for all of them -> (r, Q)."""
    coef = jnp.einsum("mk,rkj->mjr", flat, wvs) * wts[:, None, None]
    # one (Q, P) @ (P, r) product per unit: 3x faster on the CPU than XLA's dot over the (m, j) pair of axes
    zero = jnp.zeros((top_test.shape[1], wvs.shape[0]), top_test.dtype)
    return jax.lax.fori_loop(0, top_test.shape[0], lambda i, acc: acc + top_test[i] @ coef[i], zero).T


@jax.jit
def _evidence_curvature(a, alpha):
    """The evidence's curvature l'' at the top kernel in _loop's packed basis of symmetric P x P matrices (K x K):
    l''[D1, D2] = -(D1 alpha)^T A (D2 alpha) + 1/2 tr(A D1 A D2), entries -A_ac alpha_b alpha_d + 1/2 A_ad A_bc,
    symmetrised in (ab) and (cd), then weighted by the basis (1 on the diagonal, sqrt 2 off it)."""
    iu, ju = np.triu_indices(a.shape[0])
    wgt = jnp.where(iu == ju, 1.0, math.sqrt(2.0))

    def entries(i1, i2, j1, j2):  # l'' entries (i1 i2), (j1 j2) over the packed pairs, as a K x K matrix
        return -a[i1][:, j1] * jnp.outer(alpha[i2], alpha[j2]) + 0.5 * a[i1][:, j2] * a[i2][:, j1]

    h = 0.25 * (entries(iu, ju, iu, ju) + entries(ju, iu, iu, ju) + entries(iu, ju, ju, iu) + entries(ju, iu, ju, iu))
    return h * wgt[:, None] * wgt[None, :]


def _loop(net, p, x_all, g_full, gammas, y, ridge, key, m, chunk=256):
    """The fluctuation (loop) correction at the saddle point, m'[mu] + 1/2 m''[C_RPA] on the test points.

    C is the covariance of the top kernel's fluctuation around G^(L): every hidden unit drawn from its tilted law
    adds its centred s s^T / n, carried to the top by the kernel maps' Jacobians (Monte Carlo over m units per
    hidden layer, accumulated as an explicit P^2 x P^2 matrix over the train block). The evidence's curvature l''
    at G^(L) feeds back on these Gaussian fluctuations: C_RPA = (C^{-1} - l'')^{-1} = C (I - l'' C)^{-1} (the random
    phase approximation; no inverse of C is needed). The test-train fluctuations are conditioned on the train
    block, Cov(d*, D) = C_*D (I - l'' C)^{-1}. mu is the kernel shift the fluctuations cause through the maps'
    curvature. Symmetric matrices are handled in an orthonormal packed basis (P (P + 1) / 2 entries). The test
    contractions need (I - l'' C)^{-1}, known only after the pass over the units: their propagated test columns are
    kept from that pass while they fit in LOOP_CACHE_BYTES, recomputed otherwise (the same numbers either way). Returns
    the correction, the same with l'' = 0, the m'[mu] part, and the smallest eigenvalue of I - C^{1/2} l'' C^{1/2}
    (> 0: the fluctuations are stable)."""
    n = net.width
    g_top = g_full[-1]
    a = jnp.linalg.inv(g_top[:p, :p] + ridge * jnp.eye(p))
    a = 0.5 * (a + a.T)
    alpha = a @ y
    bmat = g_top[p:, :p] @ a
    blocks = [(jnp.diag(g), g[:, :p]) for g in g_full]  # G^(2..L) in block form
    units, tadpole = [], jnp.zeros_like(g_top[:, :p])
    # Symmetric P x P matrices in an orthonormal basis: v_k = D_ab (a = b) or sqrt(2) D_ab (a < b).
    iu, ju, wgt = _packed_basis(p)
    packed = np.zeros((p, p), dtype=np.int64)
    packed[iu, ju] = packed[ju, iu] = np.arange(iu.size)
    cov = jnp.zeros((iu.size, iu.size))
    keep = (net.depth - 1) * m * x_all.shape[0] * p * 8 <= LOOP_CACHE_BYTES
    kept = []  # per chunk: weights, propagated test columns, packed train block
    for l, k in zip(range(1, net.depth), jax.random.split(key, net.depth - 1), strict=True):
        g_in = None if l == 1 else g_full[l - 2]
        s, omega = _unit_samples(net, l, k, m, x_all, g_in, gammas[l + 1], p)
        w2 = net.layer_variances()[l][0]
        mean_diag, mean_cross = w2 * omega @ s**2, w2 * (s.T * omega[None, :]) @ s[:, :p]
        bases = tuple(blocks[l - 1 : net.depth - 2])
        s, wts_all = np.asarray(s), np.asarray(omega) / n  # chunks sliced on the host: no compiled slice per offset
        units.append((l, s, wts_all, mean_diag, mean_cross, bases))
        for start in range(0, m, chunk):
            top_test, flat, mu = _propagated(net, p, l, s[start : start + chunk], mean_diag, mean_cross, bases)
            wts = wts_all[start : start + chunk]
            tadpole, cov = _accumulate(tadpole, cov, wts, mu, flat)
            if keep:
                kept.append((wts, top_test, flat))

    h, cov = np.asarray(_evidence_curvature(a, alpha)), np.asarray(cov)
    a, alpha = np.asarray(a), np.asarray(alpha)
    # (I - l'' C)^{-1} as an LU factorisation (scipy's LAPACK: several times faster than jnp.linalg on the CPU at
    # these sizes); C (I - l'' C)^{-1} = ((I - l'' C)^{-T} C)^T since C is symmetric.
    lu = scipy.linalg.lu_factor(np.eye(iu.size) - h @ cov)
    # The functional D -> (A D alpha)_j in the packed basis, one column per j: sum_ab A_ja alpha_b D_ab, with the
    # (a, b) and (b, a) terms of a pair a < b summed (weight 1 / sqrt 2 against v_k) and a diagonal pair once.
    lin = a[:, iu] * alpha[ju][None, :] + a[:, ju] * alpha[iu][None, :]  # (j, K)
    v = (lin * np.where(iu == ju, 0.5, 1 / math.sqrt(2.0))[None, :]).T
    # 1/2 m''[C] = -E[d* A D alpha] + B E[D A D alpha]; train part: E[(D A D alpha)_k] = sum_a E[D_ka (A D alpha)_a]
    # = sum_a (C v)[pair (k, a), a] / w_(k, a), a row of C v per entry D_ka (C v: K x P, no P^4 array).
    own = np.arange(p)[None, :]
    train = []
    for c in (scipy.linalg.lu_solve(lu, cov, trans=1).T, cov):
        c = 0.5 * (c + c.T)
        train.append(bmat @ np.sum((c @ v)[packed, own] / wgt[packed], axis=1))
    weights_test = jnp.asarray(np.stack([scipy.linalg.lu_solve(lu, v), v]))
    if not keep:
        kept = (
            (wts_all[start : start + chunk], top_test, flat)
            for l, s, wts_all, mean_diag, mean_cross, bases in units
            for start in range(0, m, chunk)
            for top_test, flat, _ in [_propagated(net, p, l, s[start : start + chunk], mean_diag, mean_cross, bases)]
        )
    test = sum(_test_contraction(wts, top_test, flat, weights_test) for wts, top_test, flat in kept)
    shift = tadpole[p:] @ alpha - bmat @ (tadpole[:p] @ alpha)  # m'[mu]
    root = np.linalg.cholesky(cov + 1e-12 * np.trace(cov) / iu.size * np.eye(iu.size))
    stability = scipy.linalg.eigh(
        np.eye(iu.size) - root.T @ h @ root, eigvals_only=True, subset_by_index=[0, 0], check_finite=False
    )[0]
    return shift - test[0] + train[0], shift - test[1] + train[1], shift, stability


def saddle_point(
    net: model.FCN,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    ridge: float,
    key: jax.Array,
    n_samples: int = 16384,
    directions: np.ndarray | None = None,
    damping: float = 0.5,
    tol: float = 1e-8,
    max_iter: int = 400,
    loop_samples: int = 0,
) -> xr.Dataset:
    """Adaptive-kernel saddle point of width-`net.width` networks (every hidden layer that wide).

    Returns the posterior-mean prediction `mean` on the test points (GP regression with the adapted last kernel),
    `gp_mean` (the NNGP's), each hidden layer's importance-sampling effective fraction `ess_fraction` and, with unit
    `directions` (k, d), the first-layer weights' posterior second moment E (u.w)^2 along each (prior: 1).
    `normalisability_margin` is the largest 2 c s^T Gamma s of a first-layer unit over the sampled directions of
    (w, b) (the tilted law needs < 1; deeper layers are not checked). With loop_samples > 0 (units per hidden layer)
    also the fluctuation correction at the saddle point (_loop): `loop` (add it to `mean`), `loop_without_curvature`,
    `loop_kernel_shift` (its m'[mu] part) and `loop_stability` (> 0 where the Gaussian fluctuations exist).
    Raises ValueError when there is no saddle point: the margin reaches 1 (at small width the tilt outgrows the
    prior), the kernels diverge, or the iteration does not converge."""
    x_train, y, x_test = check_problem(net, x_train, y_train, x_test, ridge)
    if n_samples < 16:
        raise ValueError(f"n_samples must be >= 16 (got {n_samples})")
    if not 0 < damping <= 1:
        raise ValueError(f"damping must be in (0, 1] (got {damping})")
    if loop_samples < 0 or 0 < loop_samples < 16:
        raise ValueError(f"loop_samples must be 0 (no loop) or >= 16 (got {loop_samples})")
    p = x_train.shape[0]
    x_all = np.concatenate([x_train, x_test])
    _, *rest = net.layer_variances()
    with jax.enable_x64(True):
        k_full = [jnp.asarray(first_layer_kernel(net, x_all, x_all))]
        for w2, b2 in rest:
            k_full.append(full_kernel_map(net.act, w2, b2, k_full[-1]))
        k_train = [k[:p, :p] for k in k_full]
        kw, kb, kx, kt = jax.random.split(key, 4)
        w = jax.random.normal(kw, (n_samples, net.dim), jnp.float64)
        b = jax.random.normal(kb, (n_samples,), jnp.float64)
        s1 = net.act.jax_fn(first_layer_preactivation(net, w, b, x_all))
        xi = jax.random.normal(kx, (max(net.depth - 2, 1), n_samples, p), jnp.float64)
        xi_test = jax.random.normal(kt, (max(net.depth - 2, 1), n_samples, len(x_test)), jnp.float64)
        g_layers = list(k_train[1:])
        yj = jnp.asarray(y)
        # A first-layer unit's tilt grows like |(w, b)|^2 along every ray (the ReLU family is homogeneous), against
        # the prior's |(w, b)|^2 / 2: the tilted law is normalisable only while 2 c s^T Gamma s < 1 on the unit
        # sphere of (w, b) (checked on the samples' directions, a lower bound of the supremum).
        radius = jnp.sqrt(jnp.sum(w**2, axis=1) + b**2)[:, None]
        s_dir = net.act.jax_fn(first_layer_preactivation(net, w / radius, b / radius[:, 0], x_train))
        s1_train = s1[:, :p]
        iterations = 0
        while True:
            iterations += 1
            if iterations > max_iter:
                raise ValueError(f"no saddle point at width {net.width}: not converged in {max_iter} iterations")
            new, ess, gammas = _iterate(net, s1_train, xi, k_train, g_layers, yj, float(ridge), float(damping))
            margin = float(2 * rest[0][0] / net.width * jnp.max(jnp.einsum("mi,ij,mj->m", s_dir, gammas[2], s_dir)))
            if margin >= 1:
                raise ValueError(
                    f"no saddle point at width {net.width}: a first-layer unit's tilted law is not normalisable "
                    f"(2 c s^T Gamma s = {margin:.3g} >= 1 on a unit weight vector)"
                )
            change = float(jnp.max(jnp.abs(new[-1] - g_layers[-1])) / jnp.max(jnp.abs(new[-1])))
            g_layers = new
            if not all(bool(jnp.all(jnp.isfinite(g))) for g in g_layers):
                raise ValueError(f"no saddle point at width {net.width}: the kernels diverged (tilt too strong)")
            if change < tol * damping:
                break
        gammas = evidence_gradients(net, g_layers, yj, float(ridge))
        g_full = _complete(net, p, s1, xi, xi_test, k_full, gammas)
        g_top = np.asarray(g_full[-1])
        k_top = np.asarray(k_full[-1])
        omega = np.asarray(_weights(s1_train, gammas[2], rest[0][0] / net.width))
        if loop_samples:
            loop = _loop(net, p, jnp.asarray(x_all), g_full, gammas, yj, float(ridge),
                         jax.random.fold_in(key, 1), int(loop_samples))  # fmt: skip
            loop = [np.asarray(v) for v in loop]
    out = xr.Dataset(
        {
            "mean": (("test_sample",), g_top[p:, :p] @ gp_solve(g_top[:p, :p], y, ridge)),
            "gp_mean": (("test_sample",), k_top[p:, :p] @ gp_solve(k_top[:p, :p], y, ridge)),
            "ess_fraction": (("hidden_layer",), np.asarray(ess)),
            "kernel_scale": float(np.trace(g_top[:p, :p]) / np.trace(k_top[:p, :p])),
            "normalisability_margin": margin,
        },
        coords={"hidden_layer": np.arange(1, net.depth)},
        attrs={
            "width": int(net.width),
            "iterations": iterations,
            "n_samples": int(n_samples),
            "ridge": float(ridge),
        },  # fmt: skip
    )
    if loop_samples:
        out["loop"] = (("test_sample",), loop[0])
        out["loop_without_curvature"] = (("test_sample",), loop[1])
        out["loop_kernel_shift"] = (("test_sample",), loop[2])
        out["loop_stability"] = float(loop[3])
    if directions is not None:
        u = np.atleast_2d(np.asarray(directions, np.float64))
        if u.shape[1] != net.dim:
            raise ValueError(f"directions: need (k, {net.dim}) (got {u.shape})")
        u = u / np.linalg.norm(u, axis=1, keepdims=True)
        proj2 = (np.asarray(w) @ u.T) ** 2
        out["weight_moment"] = (("direction",), omega @ proj2)
        out["direction_vector"] = (("direction", "dim"), u)
    return out


def width_sweep(
    net: model.FCN,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    g_test: np.ndarray,
    ridge: float,
    widths,
    key: jax.Array,
    n_samples: int = 8192,
    directions: np.ndarray | None = None,
    loop_samples: int = 0,
    loop_widths=(),
) -> xr.Dataset:
    """The saddle point per dataset draw (x_train (draw, n, d), y_train (draw, n)) and width: test MSE against
    g_test (ak_mse), kernel scale, effective sample fractions, normalisability margin and, with directions, the
    first-layer weight moments; at loop_widths (a subset of widths) also the test MSE with the loop at the saddle
    point (ak_loop_mse, loop_samples units per hidden layer). NaN where the width has no saddle point or no loop
    (dims: draw, ak_width)."""
    x_train, y_train = np.asarray(x_train, np.float64), np.asarray(y_train, np.float64)
    if x_train.ndim != 3 or y_train.shape != x_train.shape[:2]:
        raise ValueError(f"x_train, y_train: need (draw, n, d) and (draw, n) (got {x_train.shape}, {y_train.shape})")
    widths = np.asarray(widths, dtype=np.int64)
    if widths.ndim != 1 or widths.size == 0 or np.any(widths < 1):
        raise ValueError(f"widths: need a list of positive integers (got {widths})")
    g_test = np.asarray(g_test, np.float64)
    n_dir = 0 if directions is None else np.atleast_2d(directions).shape[0]
    shape = (len(x_train), len(widths))
    mse, scale, margin = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, np.nan)
    loop_mse, stability = np.full(shape, np.nan), np.full(shape, np.nan)
    loop_widths = {int(w) for w in loop_widths}
    if not loop_widths <= set(widths.tolist()):
        raise ValueError(f"loop_widths must be a subset of widths (got {sorted(loop_widths)})")
    ess, moment = np.full(shape + (net.depth - 1,), np.nan), np.full(shape + (n_dir,), np.nan)
    keys = jax.random.split(key, len(x_train))
    for i, (x, y) in enumerate(zip(x_train, y_train, strict=True)):
        for j, width in enumerate(widths):
            net_w = dataclasses.replace(net, width=int(width))
            try:
                r = saddle_point(net_w, x, y, x_test, ridge, keys[i], n_samples, directions,
                                 loop_samples=loop_samples if int(width) in loop_widths else 0)  # fmt: skip
            except ValueError as err:
                if "no saddle point" not in str(err):
                    raise
                continue
            mse[i, j] = np.mean((r["mean"].values - g_test) ** 2)
            if "loop" in r and float(r.loop_stability) > 0:
                loop_mse[i, j] = np.mean((r["mean"].values + r.loop.values - g_test) ** 2)
                stability[i, j] = float(r.loop_stability)
            scale[i, j], margin[i, j] = float(r.kernel_scale), float(r.normalisability_margin)
            ess[i, j] = r.ess_fraction.values
            if n_dir:
                moment[i, j] = r.weight_moment.values
    out = xr.Dataset(
        {
            "ak_mse": (("draw", "ak_width"), mse),
            "ak_kernel_scale": (("draw", "ak_width"), scale),
            "ak_margin": (("draw", "ak_width"), margin),
            "ak_loop_mse": (("draw", "ak_width"), loop_mse),
            "ak_loop_stability": (("draw", "ak_width"), stability),
            "ak_ess_fraction": (("draw", "ak_width", "hidden_layer"), ess),
        },
        coords={"draw": np.arange(len(x_train)), "ak_width": widths, "hidden_layer": np.arange(1, net.depth)},
        attrs={"ak_samples": int(n_samples), "ak_loop_samples": int(loop_samples),
               "ak_description": "adaptive-kernel saddle point (docs/finite_width_bayes.md Sec. 8); NaN: no saddle"},
    )  # fmt: skip
    if n_dir:
        out["ak_weight_moment"] = (("draw", "ak_width", "direction"), moment)
    return out
