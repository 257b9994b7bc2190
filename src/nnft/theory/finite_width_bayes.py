"""The Bayesian posterior of finite-width networks to first order in 1/width (docs/finite_width_bayes.md Sec. 3).

Kernel picture. The readout layer's weights are Gaussian, so given the hidden layers the output is exactly a GP,
f | G ~ N(0, G), with G the last hidden layer's empirical kernel (times sigma_w2, plus sigma_b2). Hence, for any
depth and activation, the exact posterior mean at temperature T (= ridge) is an evidence-weighted average of GP
predictors over the random kernel G:

    <f*> = E_{p(G | D)}[m(G)],   p(G | D) ∝ p(G) N(y; 0, G + T),   m(G) = G_{*,train} (G + T)^{-1} y.

At width n the prior of G concentrates: E G = K + mu / n, Cov G = C / n + O(1/n^2), higher cumulants O(1/n^2).
Expanding m and l(G) = log N(y; 0, G + T) to second order around the NNGP K,

    <f*> = m(K) + (1/n) [ m'[mu] + 1/2 m''[C] + E(m'[Delta] l'[Delta]) ] + O(1/n^2),          (Delta ~ C)

which only depends on the prior's connected four-point function (the symmetrisation of C) and the kernel shift mu:
it is PDLT's first-order posterior mean, and for a one-hidden-layer linear network it is the second-order Taylor
term of the scale mixture over u (bayes_linear.first_order). The derivatives are explicit (A = (K + T)^{-1},
alpha = A y, B = K_{*,train} A; D, d* the train-train and test-train blocks of Delta):

    m'[Delta] = d* alpha - B D alpha,     1/2 m''[Delta] = -d* A D alpha + B D A D alpha,
    l'[Delta] = 1/2 alpha^T D alpha - 1/2 tr(A D),

so each term costs O(P^2 + Q P) for P train and Q test points: the n^4 tensor is never formed.

C and mu are averaged by Monte Carlo over exact single-unit fluctuations, layer by layer (the Gram-sampler
picture of sampling.ensembles.gram_sampler, linearised): with F_l(G) = sigma_w2 E_{z ~ N(0, G)}[s(z) s(z)^T] + sigma_b2,
a hidden layer of n units adds eta_l / sqrt(n) with eta_l = sigma_w2 s(z) s(z)^T + sigma_b2 - K^(l+1),
z ~ N(0, K^(l)) one unit; earlier fluctuations propagate through the Jacobian J_l and, at second order, the Hessian
H_l of F_l (forward-mode derivatives of the activation's closed-form Gaussian expectations, traced in JAX:
Activation.jax_pair):

    Delta^(l+1) = J_l Delta^(l) + eta_l,      mu^(l+1) = J_l mu^(l) + 1/2 H_l[Delta^(l), Delta^(l)].

Every sample gives an unbiased estimate of the bracket, so the result carries a Monte Carlo standard error. The
first layer's preactivations are exactly Gaussian (z = sqrt(sigma_w2 g) x.w + sqrt(sigma_b2) b), so its rank
deficiency (rank <= d + 1) needs no Cholesky factor.
"""

from __future__ import annotations

import math
from dataclasses import replace
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from .. import model
from .kernels import first_layer_kernel, first_layer_variance, full_kernel_map, kernel_map
from .learning_curves import gp_solve


def _check_net(net: model.FCN) -> None:
    act = net.act
    if not act.closed_form:
        raise ValueError(
            f"net: the first-order theory needs a closed-form activation (ReLU family, identity, erf); got {act.name!r}"
        )
    if net.depth < 2:
        raise ValueError(f"net: depth must be >= 2 (a hidden layer) for finite-width effects (got {net.depth})")


def check_problem(net: model.FCN, x_train, y_train, x_test, ridge: float):
    """The inputs every finite-width theory here takes, as float64 arrays (x_train, y_train, x_test); raises
    ValueError naming the bad argument."""
    _check_net(net)
    x_train, x_test = np.asarray(x_train, np.float64), np.asarray(x_test, np.float64)
    y = np.asarray(y_train, np.float64)
    if x_train.ndim != 2 or x_test.ndim != 2 or x_train.shape[1] != net.dim or x_test.shape[1] != net.dim:
        raise ValueError(f"x_train, x_test: need (points, {net.dim}) arrays (got {x_train.shape}, {x_test.shape})")
    if y.shape != (x_train.shape[0],):
        raise ValueError(f"y_train: need shape ({x_train.shape[0]},) (got {y.shape})")
    if not ridge > 0:
        raise ValueError(f"ridge must be > 0 (got {ridge})")
    return x_train, y, x_test


def layer_kernels(net: model.FCN, x_all: np.ndarray, n_train: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Infinite-width kernels K^(l), l = 1..depth, in block form (diag over all rows, cross against the first
    n_train rows) for unit-norm rows x_all."""
    _check_net(net)
    act = net.act
    x_all = np.asarray(x_all, np.float64)
    _, *rest = net.layer_variances()
    out = [(first_layer_variance(net, x_all), first_layer_kernel(net, x_all, x_all[:n_train]))]
    with jax.enable_x64(True):
        for w2, b2 in rest:
            d, c = kernel_map(act, w2, b2, jnp.asarray(out[-1][0]), jnp.asarray(out[-1][1]), n_train)
            out.append((np.asarray(d), np.asarray(c)))
    return out


@partial(jax.jit, static_argnames=("act", "variances", "n_train", "gain2"))
def _fluctuation_samples(keys, x_all, chol, kdiag, kcross, act, variances, n_train, gain2):
    """Per key: each hidden layer's single-unit fluctuation propagated to the output kernel (parts: (L - 1, P + Q,
    P), block form) and the kernel shift mu^(L), by forward-mode Jacobians and Hessians of the kernel maps."""
    depth = len(variances)
    phi = act.jax_fn

    def one(key):
        ks = jax.random.split(key, depth)
        parts, total, mu = [], None, None  # parts: each hidden layer's own fluctuation, propagated to the top
        for l in range(1, depth):  # hidden layer l (1-based) feeds weight layer l + 1
            w2_next, b2_next = variances[l]
            if l == 1:
                w2, b2 = variances[0]
                kw, kb = jax.random.split(ks[0])
                z = math.sqrt(w2 * gain2) * x_all @ jax.random.normal(kw, (x_all.shape[1],), x_all.dtype)
                z = z + math.sqrt(b2) * jax.random.normal(kb, (), x_all.dtype)
            else:
                z = chol[l - 1] @ jax.random.normal(ks[l - 1], (x_all.shape[0],), x_all.dtype)
            s = phi(z)
            eta = (w2_next * s**2 + b2_next - kdiag[l], w2_next * s[:, None] * s[None, :n_train] + b2_next - kcross[l])
            if total is None:
                parts, total, mu = [eta], eta, (jnp.zeros_like(eta[0]), jnp.zeros_like(eta[1]))
                continue

            def fmap(d, c, w2=w2_next, b2=b2_next):
                return kernel_map(act, w2, b2, d, c, n_train)

            base = (kdiag[l - 1], kcross[l - 1])

            def along(t, base=base, delta=total, fmap=fmap):  # J at K + t Delta, applied to Delta
                return jax.jvp(fmap, (base[0] + t * delta[0], base[1] + t * delta[1]), delta)[1]

            _, h_total = jax.jvp(along, (jnp.zeros((), x_all.dtype),), (jnp.ones((), x_all.dtype),))
            parts = [jax.jvp(fmap, base, part)[1] for part in parts] + [eta]
            mu = jax.jvp(fmap, base, mu)[1]
            mu = (mu[0] + 0.5 * h_total[0], mu[1] + 0.5 * h_total[1])
            total = (sum(q[0] for q in parts), sum(q[1] for q in parts))
        return jnp.stack([q[1] for q in parts]), mu[1]

    return jax.vmap(one)(keys)


def _cholesky_all(x_all, net):
    """Full (P + Q)^2 Cholesky factors of K^(l) for l >= 2 (the hidden layers sampled by z = chol xi)."""
    act = net.act
    out = [np.zeros((1, 1))]
    # Layer 2 onwards needs the full kernel over all points: recompute it with the test-test block.
    _, *rest = net.layer_variances()
    full = first_layer_kernel(net, x_all, x_all)
    with jax.enable_x64(True):
        for w2, b2 in rest[:-1]:
            d, c = kernel_map(act, w2, b2, jnp.diag(full), jnp.asarray(full), full.shape[0])
            full = np.asarray(c)
            jitter = 1e-10 * np.mean(np.diag(full))
            out.append(np.linalg.cholesky(full + jitter * np.eye(full.shape[0])))
    return out


def first_order(
    net: model.FCN,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    ridge: float,
    key: jax.Array,
    n_samples: int = 4096,
    chunk: int = 64,
    g_test: np.ndarray | None = None,
) -> xr.Dataset:
    """The posterior mean of width-n networks to first order, <f*> = m_GP + correction / n (module docstring).

    Returns gp_mean (test_sample) and correction (test_sample) with its Monte Carlo standard error; with g_test
    also the GP test MSE and the first-order coefficient of the test MSE, mse(n) = mse_gp + mse_coefficient / n
    + O(1/n^2) (strictly first order: 2 mean((m_GP - g) correction)), with its standard error. All hidden layers
    have width net.width; the result's 1/n coefficients do not depend on it. `loop` (and mse_loop_coefficient) is
    the part m'[mu] + 1/2 m''[C] that the adaptive-kernel saddle point leaves out (adaptive_kernel.py); the rest,
    E m'[Delta] l'[Delta], is the saddle point's own first order.
    """
    x_train, y, x_test = check_problem(net, x_train, y_train, x_test, ridge)
    if n_samples < 2 or chunk < 1:
        raise ValueError(f"n_samples must be >= 2 and chunk >= 1 (got {n_samples}, {chunk})")
    p = x_train.shape[0]
    x_all = np.concatenate([x_train, x_test])
    # memory: a chunk holds (depth - 1) fluctuation blocks of (P + Q) x P and their derivatives; cap it near 0.4 GB
    chunk = max(1, min(chunk, 50_000_000 // (x_all.shape[0] * p * net.depth)))
    blocks = layer_kernels(net, x_all, p)
    chol = _cholesky_all(x_all, net)
    k_out = blocks[-1][1]
    a = np.linalg.inv(k_out[:p] + ridge * np.eye(p))
    a = 0.5 * (a + a.T)
    alpha = a @ y
    b = k_out[p:] @ a
    m0 = k_out[p:] @ alpha
    resid = None if g_test is None else m0 - np.asarray(g_test, np.float64)
    act = net.act
    variances = tuple((float(w2), float(b2)) for w2, b2 in net.layer_variances())
    stats = []
    with jax.enable_x64(True):
        kdiag = [jnp.asarray(d) for d, _ in blocks]
        kcross = [jnp.asarray(c) for _, c in blocks]
        chol_j = [jnp.asarray(c) for c in chol]
        aj, alj, bj = jnp.asarray(a), jnp.asarray(alpha), jnp.asarray(b)
        rj = None if resid is None else jnp.asarray(resid)
        keys = jax.random.split(key, n_samples)
        for start in range(0, n_samples, chunk):
            cross, mu = _fluctuation_samples(
                keys[start : start + chunk], jnp.asarray(x_all), chol_j, kdiag, kcross,
                act, variances, p, float(net.input_gain2),
            )  # fmt: skip
            stats.append(np.asarray(_bracket(cross, mu, aj, alj, bj, p, rj)))
    per_sample = np.concatenate(stats)  # (samples, Q [+ 1])
    q = x_test.shape[0]
    corr, loop = per_sample[:, :q], per_sample[:, :q] - per_sample[:, q : 2 * q]
    out = xr.Dataset(
        {
            "gp_mean": (("test_sample",), m0),
            "correction": (("test_sample",), corr.mean(0)),
            "correction_se": (("test_sample",), corr.std(0, ddof=1) / math.sqrt(n_samples)),
            "loop": (("test_sample",), loop.mean(0)),
            "loop_se": (("test_sample",), loop.std(0, ddof=1) / math.sqrt(n_samples)),
        },
        attrs={"ridge": float(ridge), "n_samples": int(n_samples),
               "description": "posterior mean = gp_mean + correction / width + O(1/width^2)"},
    )  # fmt: skip
    if resid is not None:
        coef, loop_coef = 2 * per_sample[:, 2 * q], 2 * (per_sample[:, 2 * q] - per_sample[:, 2 * q + 1])
        out["gp_mse"] = float(np.mean(resid**2))
        out["mse_coefficient"] = float(coef.mean())
        out["mse_coefficient_se"] = float(coef.std(ddof=1) / math.sqrt(n_samples))
        out["mse_loop_coefficient"] = float(loop_coef.mean())
        out["mse_loop_coefficient_se"] = float(loop_coef.std(ddof=1) / math.sqrt(n_samples))
    return out


@partial(jax.jit, static_argnames=("p",))
def _bracket(cross, mu, a, alpha, b, p, resid):
    """Per sample: m'[mu] + 1/2 m''[Delta] + m'[Delta] l'[Delta] on the test points, then its tilt part
    m'[Delta] l'[Delta] alone (and, with resid, both projected: mean(resid * .))."""

    def one(parts, m):
        # E Q(sum_l Delta_l) = sum_l E Q(Delta_l) for independent zero-mean parts and a quadratic Q: the cross
        # terms only add noise, so each hidden layer's fluctuation enters on its own.
        m_tt, m_st = m[:p], m[p:]
        total = m_st @ alpha - b @ (m_tt @ alpha)  # m'[mu]
        tilt = jnp.zeros_like(total)
        for c in parts:
            d_tt, d_st = c[:p], c[p:]
            d_alpha = d_tt @ alpha
            m1 = d_st @ alpha - b @ d_alpha
            ad_alpha = a @ d_alpha
            m2 = -d_st @ ad_alpha + b @ (d_tt @ ad_alpha)
            l1 = 0.5 * alpha @ d_alpha - 0.5 * jnp.sum(a * d_tt)
            total = total + m2 + m1 * l1
            tilt = tilt + m1 * l1
        if resid is None:
            return jnp.concatenate([total, tilt])
        return jnp.concatenate([total, tilt, jnp.mean(resid * total)[None], jnp.mean(resid * tilt)[None]])

    return jax.vmap(one)(cross, mu)


def first_order_mse(
    net: model.FCN,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    g_test: np.ndarray,
    ridge: float,
    key: jax.Array,
    n_samples: int = 8192,
    chunk: int = 256,
) -> xr.Dataset:
    """Per dataset draw (x_train (draw, n, d), y_train (draw, n)): the exact GP test MSE and the first-order
    coefficient of the networks' posterior-mean test MSE, mse(width) = gp_mse + mse_coefficient / width."""
    x_train, y_train = np.asarray(x_train), np.asarray(y_train)
    if x_train.ndim != 3 or y_train.shape != x_train.shape[:2]:
        raise ValueError(f"x_train, y_train: need (draw, n, d) and (draw, n) (got {x_train.shape}, {y_train.shape})")
    rows = [
        first_order(net, x, y, x_test, ridge, k, n_samples, chunk, g_test=g_test)
        for x, y, k in zip(x_train, y_train, jax.random.split(key, len(x_train)), strict=True)
    ]
    names = ("gp_mse", "mse_coefficient", "mse_coefficient_se", "mse_loop_coefficient", "mse_loop_coefficient_se")
    return xr.Dataset(
        {name: (("draw",), np.array([float(r[name]) for r in rows])) for name in names},
        coords={"draw": np.arange(len(rows))},
        attrs={"n_train": int(x_train.shape[1]), "ridge": float(ridge), "n_samples": int(n_samples),
               "test_points": int(len(x_test)),
               "description": "networks' posterior-mean test MSE = gp_mse + mse_coefficient / width + O(1/width^2)"},
    )  # fmt: skip


def predicted_ratio(theory: xr.Dataset, widths) -> tuple[np.ndarray, np.ndarray]:
    """First-order network / GP MSE ratio (ratio of draw sums, as measured) at each width, with its s.e."""
    widths = np.asarray(widths, dtype=np.float64)
    gp = float(theory.gp_mse.sum())
    coef = float(theory.mse_coefficient.sum()) / gp
    se = float(np.sqrt((theory.mse_coefficient_se**2).sum())) / gp
    return 1 + coef / widths, se / widths


def inverse_width_fit(widths, values, se, gp_limit: bool = False) -> dict:
    """Weighted least squares in 1 / width. By default values = a + b / width, a and b free. gp_limit: values =
    1 + b / width + c / width^2, the GP imposed as the infinite-width limit and the next order free, so that the
    measured slope b can be set beside the first-order theory's (docs/finite_width_bayes.md Sec. 7). Returns a, b, c
    (a = 1 imposed under gp_limit, c = 0 without it), the two fitted coefficients "coef" ((a, b), or (b, c) under
    gp_limit) and their covariance "cov", chi^2, the degrees of freedom and gp_limit."""
    widths, values, se = (np.asarray(v, dtype=np.float64) for v in (widths, values, se))
    if widths.shape != values.shape or widths.shape != se.shape or widths.size < 3:
        raise ValueError(f"widths, values, se: need equal shapes with >= 3 points (got {widths.shape}, {values.shape})")
    if np.any(se <= 0) or np.any(widths <= 0):
        raise ValueError("se and widths must be > 0")
    basis, offset = _fit_basis(widths, gp_limit)
    design = basis / se[:, None]
    coef, *_ = np.linalg.lstsq(design, (values - offset) / se, rcond=None)
    cov = np.linalg.inv(design.T @ design)
    chi2 = float(np.sum(((values - offset - basis @ coef) / se) ** 2))
    a, b, c = (1.0, coef[0], coef[1]) if gp_limit else (coef[0], coef[1], 0.0)
    return {"a": float(a), "b": float(b), "c": float(c), "coef": coef, "cov": cov, "chi2": chi2,
            "dof": int(widths.size - 2), "gp_limit": gp_limit}  # fmt: skip


def _fit_basis(widths: np.ndarray, gp_limit: bool) -> tuple[np.ndarray, float]:
    """The fitted functions of inverse_width_fit at `widths` (columns) and the fixed offset."""
    if gp_limit:
        return np.stack([1 / widths, 1 / widths**2], 1), 1.0
    return np.stack([np.ones_like(widths), 1 / widths], 1), 0.0


def fit_band(fit: dict, widths) -> tuple[np.ndarray, np.ndarray]:
    """The fitted curve of inverse_width_fit and its standard error at the given widths."""
    basis, offset = _fit_basis(np.asarray(widths, dtype=np.float64), fit["gp_limit"])
    return offset + basis @ fit["coef"], np.sqrt(np.einsum("wi,ij,wj->w", basis, fit["cov"], basis))


def predicted_weight_moment(theory: xr.Dataset, widths) -> np.ndarray:
    """First-order mean over units of (u.w)^2 of the first-layer weights (prior: 1) along each direction u of the
    store, averaged over the datasets, at each width: (width, direction)."""
    widths = np.asarray(widths, dtype=np.float64)
    coefs = [float(theory.weight_coefficient.isel(direction=k).mean()) for k in range(theory.sizes["direction"])]
    return np.stack([1 + c / widths for c in coefs], axis=1)


def approximation_summary(theory: xr.Dataset) -> xr.Dataset:
    """What a theory store holds beyond first order, summarised over the datasets as the networks are measured:
    the network / GP test-MSE ratio (ratio of draw sums) of kernel renormalisation (kr_ratio, over kr_width) and of
    the adaptive-kernel saddle point (ak_ratio, over ak_width; NaN where a dataset has no saddle); at the measured
    widths the mean and s.e. over independent Monte Carlo replicas of the saddle point alone (ak_replica_ratio,
    ak_replica_ratio_se) and with its loop (ak_replica_loop_ratio, ..._se), NaN where a replica has none; and the
    saddle point's first-layer weight moment per direction, averaged over the datasets that have one
    (ak_weight_moment, (ak_width, direction)). Only what the store has."""
    out = {}
    if "kr_mse" in theory:
        out["kr_ratio"] = theory.kr_mse.sum("draw") / theory.gp_mse.sum()
    gp_sum = float(theory.gp_mse.sum())
    if "ak_mse" in theory:
        ok = np.all(np.isfinite(theory.ak_mse.values), axis=0)
        out["ak_ratio"] = ("ak_width", np.where(ok, theory.ak_mse.sum("draw").values / gp_sum, np.nan))
    for name in ("ak_replica", "ak_replica_loop"):
        if f"{name}_mse" in theory:
            per_replica = theory[f"{name}_mse"].values.sum(1) / gp_sum  # (replica, measured width)
            out[f"{name}_ratio"] = ("measured_width", per_replica.mean(0))
            out[f"{name}_ratio_se"] = ("measured_width", per_replica.std(0, ddof=1) / np.sqrt(per_replica.shape[0]))
    if "ak_weight_moment" in theory:
        moments = [
            theory.ak_weight_moment.isel(direction=k).mean("draw").values for k in range(theory.sizes["direction"])
        ]
        out["ak_weight_moment"] = (("ak_width", "direction"), np.stack(moments, axis=1))
    summary = xr.Dataset(out)
    return summary.assign_coords({d: theory[d].values for d in summary.dims if d in theory.coords})


def first_layer_preactivation(net: model.FCN, w, b, x):
    """z = sqrt(sigma_w2[0] g) x.w + sqrt(sigma_b2[0]) b of first-layer units (rows of w (M, d), b (M,)) at the rows
    of unit-norm x: (M, points). The first layer's preactivations are exactly this (NTK parametrisation)."""
    w2, b2 = net.layer_variances()[0]
    return math.sqrt(w2 * net.input_gain2) * w @ x.T + math.sqrt(b2) * b[:, None]


def evidence_gradients(net: model.FCN, g_layers, y, ridge: float) -> list:
    """Gamma^(L) = dl/dG^(L) = 1/2 (alpha alpha^T - A) on the train points (l = log N(y; 0, G^(L) + T)), pulled down
    through the kernel maps: Gamma^(l) = J_l^T Gamma^(l+1) at the kernels g_layers = G^(2..L) (train blocks).
    Entry l of the result holds Gamma^(l) (entries 0 and 1 are None)."""
    act, variances, depth = net.act, net.layer_variances(), net.depth
    p = y.shape[0]
    a = jnp.linalg.inv(g_layers[-1] + ridge * jnp.eye(p))
    a = 0.5 * (a + a.T)
    alpha = a @ y
    gammas = [None] * (depth + 1)
    gammas[depth] = 0.5 * (jnp.outer(alpha, alpha) - a)
    for l in range(depth - 1, 1, -1):  # Gamma^(l) from Gamma^(l+1) through F_l (weight layer l, 0-based)
        w2, b2 = variances[l]
        _, vjp = jax.vjp(lambda g, w2=w2, b2=b2: full_kernel_map(act, w2, b2, g), g_layers[l - 2])
        (gl,) = vjp(gammas[l + 1])
        gammas[l] = 0.5 * (gl + gl.T)
    return gammas


def _evidence_gradient_on_layer2(net: model.FCN, x_train: np.ndarray, y: np.ndarray, ridge: float):
    """Gamma = dl/dG^(2) on the train points, the layers above at infinite width (evidence_gradients at the NNGP)."""
    x = np.asarray(x_train, np.float64)
    p = len(x)
    with jax.enable_x64(True):
        g_layers = [jnp.asarray(c[:p]) for _, c in layer_kernels(net, x, p)[1:]]
        return np.asarray(evidence_gradients(net, g_layers, jnp.asarray(y), ridge)[2])


def first_layer_second_moment(
    net: model.FCN,
    x_train: np.ndarray,
    y_train: np.ndarray,
    ridge: float,
    directions: np.ndarray,
    key: jax.Array,
    n_samples: int = 200_000,
) -> xr.Dataset:
    """Posterior second moment of a first-layer unit's weights along unit directions u (NTK parametrisation,
    prior E (u.w)^2 = 1), to first order: E_post (u.w)^2 = 1 + coefficient / width.

    One unit adds sigma_w2[1] / n s(z) s(z)^T to the layer-2 kernel (z = sqrt(sigma_w2[0] g) X w + sqrt(sigma_b2[0])
    b on the train points), so its posterior is the prior tilted by exp(sigma_w2[1] / n s^T Gamma s) with
    Gamma = dL/dG^(2) (the evidence gradient pulled back through the kernel maps above), and to first order
    coefficient = sigma_w2[1] Cov_prior((u.w)^2, s^T Gamma s), by Monte Carlo over the prior of one unit."""
    _check_net(net)
    directions = np.atleast_2d(np.asarray(directions, np.float64))
    if directions.shape[1] != net.dim:
        raise ValueError(f"directions: need (k, {net.dim}) (got {directions.shape})")
    directions = directions / np.linalg.norm(directions, axis=1, keepdims=True)
    x = np.asarray(x_train, np.float64)
    gamma = _evidence_gradient_on_layer2(net, x, np.asarray(y_train, np.float64), ridge)
    (w2_0, b2_0), (w2_1, _), *_ = net.layer_variances()
    act = net.act
    phi = act.jax_fn

    @jax.jit
    def moments(k):
        kw, kb = jax.random.split(k)
        w = jax.random.normal(kw, (n_samples, net.dim), jnp.float64)
        b = jax.random.normal(kb, (n_samples,), jnp.float64)
        s = phi(first_layer_preactivation(net, w, b, x))
        tilt = jnp.einsum("si,ij,sj->s", s, gamma, s)
        proj2 = (w @ directions.T) ** 2
        return w2_1 * (proj2 - 1.0) * (tilt - tilt.mean())[:, None]

    with jax.enable_x64(True):
        terms = np.asarray(moments(key))
    return xr.Dataset(
        {
            "coefficient": (("direction",), terms.mean(0)),
            "coefficient_se": (("direction",), terms.std(0, ddof=1) / math.sqrt(n_samples)),
            "direction_vector": (("direction", "dim"), directions),
        },
        attrs={"description": "E_post (u.w)^2 = 1 + coefficient / width + O(1/width^2), first-layer unit, NTK param."},
    )


@partial(jax.jit, static_argnames=("act", "variances", "gain2", "n_train"))
def _renormalised_kernel(t, x_all, act, variances, gain2, n_train):
    """Output kernel (block form: diag, cross against the train rows) with hidden layer l's post-activation kernel
    scaled by u_l = e^t_l: K^(l+1) = sigma_b2 + sigma_w2 u_l E[s s^T] at K^(l) (the biases are not scaled)."""
    (w2, b2), rest = variances[0], variances[1:]
    diag = w2 * gain2 * jnp.sum(x_all**2, -1) + b2
    cross = w2 * gain2 * x_all @ x_all[:n_train].T + b2
    for l, (w2, b2) in enumerate(rest):
        diag, cross = kernel_map(act, w2 * jnp.exp(t[l]), b2, diag, cross, n_train)
    return diag, cross


def _renormalisation_action(t, width, x_train, y, ridge, act, variances, gain2):
    """S(t) = sum_l (N/2)(t_l - e^t_l) + log N(y; 0, K(e^t) + T), the log posterior density of t_l = log u_l."""
    p = y.shape[0]
    _, k = _renormalised_kernel(t, x_train, act, variances, gain2, p)
    chol = jnp.linalg.cholesky(k + ridge * jnp.eye(p))
    z = jax.scipy.linalg.solve_triangular(chol, y, lower=True)
    evidence = -0.5 * z @ z - jnp.sum(jnp.log(jnp.diag(chol)))
    return 0.5 * width * jnp.sum(t - jnp.exp(t)) + evidence


_action_derivatives = jax.jit(
    jax.value_and_grad(_renormalisation_action), static_argnames=("act", "variances", "gain2")
)
_action_hessian = jax.jit(jax.hessian(_renormalisation_action), static_argnames=("act", "variances", "gain2"))


def kernel_renormalisation(
    net: model.FCN, x_train, y_train, x_test, ridge: float, tol: float = 1e-10, max_iter: int = 100
) -> xr.Dataset:
    """Kernel renormalisation with one scalar per hidden layer (docs/finite_width_bayes.md Sec. 9): each hidden
    layer's empirical post-activation kernel is replaced by u_l times its mean, with the law of a Wishart trace,
    u_l ~ Gamma(N/2, scale 2/N), so K^(l+1) = sigma_b2 + sigma_w2 u_l E[s s^T] at the renormalised K^(l). The saddle
    point maximises S(t) = sum_l (N/2)(t_l - e^t_l) + log N(y; 0, K(u) + T) over t = log u (Newton's method from
    the GP, t = 0), and the predictor is GP regression with K(u*). Exact at its saddle point for deep linear
    networks without biases (Li & Sompolinsky 2021: bayes_linear.kernel_renormalisation); for one hidden layer it is
    the readout-norm renormalisation of Pacelli et al. 2023; for deep nonlinear networks it is the equivalent
    Wishart ansatz of Baglioni et al. 2026. It can only change the kernel's scale (and, through the biases and the
    nonlinearity, its shape along the NNGP's own family), never adapt it to the target's directions.

    Returns mean (test_sample), layer_scale u_l* (layer, 1 = first hidden layer) and action. Raises ValueError when
    Newton's method does not reach a maximum."""
    x_train, y, x_test = check_problem(net, x_train, y_train, x_test, ridge)
    act = net.act
    variances = tuple((float(w2), float(b2)) for w2, b2 in net.layer_variances())
    static = dict(act=act, variances=variances, gain2=float(net.input_gain2))
    p, n_layers = len(x_train), net.depth - 1
    with jax.enable_x64(True):
        args = (float(net.width), jnp.asarray(x_train), jnp.asarray(y), float(ridge))
        t = jnp.zeros(n_layers)
        value, grad = _action_derivatives(t, *args, **static)
        for _ in range(max_iter):
            hess = _action_hessian(t, *args, **static)
            evals, evecs = jnp.linalg.eigh(hess)
            step = -evecs @ ((evecs.T @ grad) / jnp.minimum(evals, -1e-8 * jnp.abs(evals).max()))  # ascent direction
            for _ in range(60):  # backtracking: the first full step that does not decrease S
                new_value, new_grad = _action_derivatives(t + step, *args, **static)
                if jnp.isfinite(new_value) and new_value >= value - 1e-12 * abs(value):
                    break
                step = step / 2
            t, value, grad = t + step, new_value, new_grad
            if float(jnp.abs(grad).max()) < tol * (net.width + 1):
                break
        else:
            raise ValueError(f"no kernel-renormalisation saddle point at width {net.width}: Newton did not converge")
        if float(jnp.linalg.eigvalsh(_action_hessian(t, *args, **static)).max()) >= 0:
            raise ValueError(f"no kernel-renormalisation maximum at width {net.width} (saddle of S(t) only)")
        x_all = jnp.asarray(np.concatenate([x_train, x_test]))
        _, cross = _renormalised_kernel(t, x_all, act, variances, float(net.input_gain2), p)
        k = np.asarray(cross)
        mean = k[p:] @ gp_solve(k[:p], y, ridge)
        return xr.Dataset(
            {"mean": (("test_sample",), mean), "layer_scale": (("layer",), np.exp(np.asarray(t)))},
            coords={"layer": np.arange(1, n_layers + 1)},
            attrs={"action": float(value), "width": int(net.width), "ridge": float(ridge)},
        )


def kernel_renormalisation_mse(net: model.FCN, x_train, y_train, x_test, g_test, ridge: float, widths) -> xr.Dataset:
    """kernel_renormalisation's test MSE against g_test per draw and width: x_train (draw, n, d), y_train (draw, n);
    returns kr_mse (draw, kr_width) and layer_scale (draw, kr_width, layer)."""
    x_train, y_train = np.asarray(x_train, np.float64), np.asarray(y_train, np.float64)
    if x_train.ndim != 3 or y_train.shape != x_train.shape[:2]:
        raise ValueError(f"x_train, y_train: need (draw, n, d) and (draw, n) (got {x_train.shape}, {y_train.shape})")
    widths = np.asarray(widths, dtype=np.int64)
    if widths.ndim != 1 or np.any(widths < 1):
        raise ValueError(f"widths: need a list of positive integers (got {widths})")
    g_test = np.asarray(g_test, np.float64)
    mse = np.zeros((len(x_train), len(widths)))
    scale = np.zeros((len(x_train), len(widths), net.depth - 1))
    for i, (x, y) in enumerate(zip(x_train, y_train, strict=True)):
        for j, width in enumerate(widths):
            out = kernel_renormalisation(replace(net, width=int(width)), x, y, x_test, ridge)
            mse[i, j] = np.mean((out["mean"].values - g_test) ** 2)
            scale[i, j] = out.layer_scale.values
    return xr.Dataset(
        {"kr_mse": (("draw", "kr_width"), mse), "layer_scale": (("draw", "kr_width", "layer"), scale)},
        coords={"kr_width": widths, "layer": np.arange(1, net.depth)},
    )
