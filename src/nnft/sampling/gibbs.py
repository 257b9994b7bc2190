"""Exact block Gibbs sampler of one-hidden-layer linear networks (docs/finite_width_bayes.md Sec. 1): the reference
chain for theory.bayes_linear's exact posterior and for the Langevin sampler, in the parameters of model.py.

A | W is Gaussian (f_train = gain X W A); W | A is Gaussian along W A/|A| and a fresh prior draw across it. Chains are
vmapped, sweeps scanned (float64 JAX).
"""

from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from .. import model
from ..theory.bayes_linear import check_model, spectrum
from . import langevin


def _linear_gaussian_draw(key, h, y, ridge):
    """A draw of z | y for y = h z + e, z ~ N(0, I_n), e ~ N(0, T I_p): mean Lambda^-1 h^T y / T and covariance
    Lambda^-1, Lambda = I + h^T h / T (Cholesky of Lambda when n <= p; otherwise Matheron's rule with the p x p
    system, z = z0 + h^T (h h^T + T I)^-1 (y - h z0 - e) with (z0, e) a prior draw: the same law, cheaper)."""
    p, n = h.shape
    k1, k2 = jax.random.split(key)
    if n <= p:
        chol = jnp.linalg.cholesky(jnp.eye(n) + h.T @ h / ridge)
        mean = jax.scipy.linalg.cho_solve((chol, True), h.T @ y / ridge)
        return mean + jax.scipy.linalg.solve_triangular(chol.T, jax.random.normal(k1, (n,), h.dtype), lower=False)
    z0 = jax.random.normal(k1, (n,), h.dtype)
    e = jnp.sqrt(ridge) * jax.random.normal(k2, (p,), h.dtype)
    chol = jnp.linalg.cholesky(h @ h.T + ridge * jnp.eye(p))
    return z0 + h.T @ jax.scipy.linalg.cho_solve((chol, True), y - h @ z0 - e)


def make_step(net: model.FCN, ridge):
    """The Gibbs sweep as a pure function, in the style of BlackJAX: step(key, state, batch) -> state for a depth-2
    linear network `net`, state = (W, A) in NTK coordinates and batch = (x, y) (`_gibbs_sweep`)."""
    (w2, _), (a2, _) = net.layer_variances()
    gain = math.sqrt(a2 * w2 * net.input_gain2 / net.width)

    def step(key: jax.Array, state, batch):
        x, y = batch
        return _gibbs_sweep(gain, ridge, x, y, state, key)

    return step


def _gibbs_sweep(gain, ridge, x, y, state, key):
    """One sweep in NTK coordinates (W (d, N), A (N,) standard normal a priori; f(x) = gain x W A, Sec. 1):
    A | W: f_train = H A with H = gain X W, so A ~ N(Lambda^-1 H^T y / T, Lambda^-1), Lambda = I + H^T H / T;
    W | A: f = gain |A| X v with v = W A^ ~ N(0, I_d) a priori, Lambda_v = I + gain^2 |A|^2 X^T X / T, mean
    Lambda_v^-1 gain |A| X^T y / T; the rest of W is a fresh prior draw: W = G (I - A^ A^T) + v A^T."""
    w, a = state
    k_a, k_v, k_g = jax.random.split(key, 3)
    a = _linear_gaussian_draw(k_a, gain * (x @ w), y, ridge)
    norm = jnp.linalg.norm(a)
    a_hat = a / norm
    v = _linear_gaussian_draw(k_v, gain * norm * x, y, ridge)
    g = jax.random.normal(k_g, w.shape, w.dtype)
    w = g - jnp.outer(g @ a_hat, a_hat) + jnp.outer(v, a_hat)
    return w, a


def _as_params(net: model.FCN, w, a) -> list[dict]:
    """NTK-coordinate (W, A) as model.py parameters of net (scaled by prior_std in standard parametrisation)."""
    std = model.prior_std(net)
    n = net.width
    return [
        {"w": std[0]["w"] * w, "b": jnp.zeros(n, w.dtype)},
        {"w": std[1]["w"] * a[:, None], "b": jnp.zeros(1, w.dtype)},
    ]


@partial(jax.jit, static_argnames=("net", "n_sweeps", "burn_in", "n_probe"))
def _gibbs_chains(net, ridge, x, y, x_test, keys, n_sweeps: int, burn_in: int, n_probe: int):
    step = make_step(net, ridge)

    def one(key):
        k_init, k_burn, k_run = jax.random.split(key, 3)
        kw, ka = jax.random.split(k_init)
        state = (
            jax.random.normal(kw, (net.dim, net.width), x.dtype),
            jax.random.normal(ka, (net.width,), x.dtype),
        )

        def burn(s, k):
            return step(k, s, (x, y)), None

        state = jax.lax.scan(burn, state, jax.random.split(k_burn, burn_in))[0]

        def sweep(carry, k):
            s, f_sum, f2_sum = carry
            s = step(k, s, (x, y))
            f = model.apply(net, _as_params(net, *s), x_test)
            u = s[1] @ s[1] / net.width
            return (s, f_sum + f, f2_sum + f**2), (u, f[:n_probe])

        zero = jnp.zeros(x_test.shape[0], x.dtype)
        (_, f_sum, f2_sum), (u, probe) = jax.lax.scan(sweep, (state, zero, zero), jax.random.split(k_run, n_sweeps))
        return f_sum / n_sweeps, f2_sum / n_sweeps, u, probe

    return jax.vmap(one)(keys)


def gibbs_ensemble(
    key: jax.Array,
    net: model.FCN,
    x_train,
    y_train,
    x_test,
    ridge: float,
    n_chains: int,
    n_sweeps: int,
    burn_in: int,
    n_probe: int = 8,
) -> xr.Dataset:
    """Independent chains of the exact block Gibbs sampler of Sec. 1 (float64 JAX; vmap over chains, lax.scan over
    sweeps), each started from the prior and run burn_in + n_sweeps sweeps. The parameters are those of model.py
    for net (f evaluated by model.apply), so the output is directly comparable with langevin.run_ensemble.

    Returns per chain the time averages f_mean and variances f_var of f on x_test, the trace of u = |A|^2 / N
    (= |a|^2 / (N sigma_a2) for a readout a of variance sigma_a2), f at the first n_probe test points per sweep, and
    the effective sample sizes (langevin.effective_sample_size) of u and of the probes (mean over probes)."""
    check_model(net)
    if n_chains < 1 or n_sweeps < 1 or burn_in < 0:
        raise ValueError(f"need n_chains, n_sweeps >= 1 and burn_in >= 0 (got {n_chains}, {n_sweeps}, {burn_in})")
    spectrum(net, x_train, y_train)  # validates shapes
    n_probe = min(n_probe, len(x_test))
    with jax.enable_x64(True):
        f64 = partial(jnp.asarray, dtype=jnp.float64)
        f_mean, f2_mean, u, probe = _gibbs_chains(
            net,
            f64(ridge),
            f64(x_train),
            f64(y_train),
            f64(x_test),
            jax.random.split(key, n_chains),
            n_sweeps=n_sweeps,
            burn_in=burn_in,
            n_probe=n_probe,
        )
        f_mean, f2_mean, u, probe = (np.asarray(a, np.float64) for a in (f_mean, f2_mean, u, probe))
    ess_u = np.array([langevin.effective_sample_size(trace) for trace in u])
    ess = np.array([np.mean([langevin.effective_sample_size(p[:, j]) for j in range(n_probe)]) for p in probe])
    return xr.Dataset(
        {
            "f_mean": (("member", "test_sample"), f_mean),
            "f_var": (("member", "test_sample"), np.maximum(f2_mean - f_mean**2, 0.0)),
            "u": (("member", "sweep"), u),
            "probe_trace": (("member", "sweep", "probe"), probe),
            "ess_u": ("member", ess_u),
            "ess": ("member", ess),
        },
        coords={"member": np.arange(n_chains), "sweep": np.arange(n_sweeps), "probe": np.arange(n_probe)},
        attrs={
            "sampler": "block Gibbs (a | W, W | a), docs/finite_width_bayes.md Sec. 1",
            "ridge": float(ridge),
            "burn_in_sweeps": burn_in,
            "n_sweeps": n_sweeps,
            "description": "u = |A|^2 / N (A the standard-normal readout); ess_u: effective sample size of u; ess: of "
            "the probes (Sokal windowed integrated autocorrelation), mean over probes",
        },
    )
