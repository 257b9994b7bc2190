"""Ensembles of random finite networks for the finite-width results (docs/finite_width.md Secs. 1, 4, 5): the exact
Gram sampler of the forward metric, networks with full weight matrices (the metric, the NTK), the empirical chi_1 of
the phase diagram, and the estimators that turn the samples into the figures' numbers. Every network is a
`model.FCN`; the infinite-width and 1/n theory these are compared with is theory.finite_width.
"""

from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from .. import activations, model
from ..theory.finite_width import (
    correlation,
    correlation_deviation,
    correlation_fixed_point,
    decay_length,
    depth_scale_starts,
    per_layer_rates,
    uniform_variances,
)


def gram_sampler(key: jax.Array, net: model.FCN, k1, n_networks: int) -> np.ndarray:
    """Exact samples of the stochastic metric G-hat^(l)_{ab} = C_b + C_W / n sum_j s(z_j;a) s(z_j;b) of n_networks
    random networks `net` (width n, depth L) for k inputs with K^(1) = k1 (k x k), layers l = 1..L: array
    (n_networks, L, k, k).

    The rows of W^(l+1) are i.i.d., so given layer l the neurons' preactivations are i.i.d. N(0, G-hat^(l)):
    sampling z = chol(G-hat) xi reproduces the joint law of every forward preactivation exactly (Sec. 1) at cost
    O(M n k^2 L). It does not apply to NTK or other backward quantities. float64 on the CPU."""
    (sigma_w2, sigma_b2), act = uniform_variances(net), net.act  # uniform_variances refuses non-models
    width, depth = net.width, net.depth
    k1 = np.atleast_2d(np.asarray(k1, dtype=np.float64))
    with jax.enable_x64(True):
        g0 = jnp.broadcast_to(jnp.asarray(k1), (n_networks, *k1.shape))
        gs = _gram_scan(act, width, jnp.float64(sigma_w2), jnp.float64(sigma_b2), g0, jax.random.split(key, depth))
        return np.asarray(jnp.moveaxis(gs, 0, 1))


@partial(jax.jit, static_argnums=(0, 1))
def _gram_scan(act, width, sigma_w2, sigma_b2, g0, keys):
    """The Gram sampler's layers (compiled once per activation, width and shapes; C_W and C_b traced)."""

    def layer(g, key):
        chol = jnp.linalg.cholesky(g + 1e-300 * jnp.eye(g.shape[-1])[None])
        xi = jax.random.normal(key, (*g.shape[:-2], width, g.shape[-1]), jnp.float64)
        s = act.jax_fn(jnp.einsum("...ab,...jb->...ja", chol, xi))
        g_next = sigma_b2 + sigma_w2 / width * jnp.einsum("...ja,...jb->...ab", s, s)
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


def measure_depth_scales(key: jax.Array, activation, sigma_w2: float, sigma_b2: float, width: int,
                         n_networks: int, depth_c: int, depth_q: int, delta: float, rng: np.random.Generator,
                         n_boot: int = 100) -> dict[str, float]:  # fmt: skip
    """xi_c and xi_q measured on random networks of the given width (exact Gram sampler; each start uses the same
    random numbers, so the networks of the +- runs are coupled and their difference has little noise), with
    bootstrap standard errors (resampling networks). Also the finite-width fixed point c*_n
    (`correlation_fixed_point`). The fit uses the layers where the
    deviation exceeds 5 bootstrap standard errors."""
    starts = depth_scale_starts(activation, sigma_w2, sigma_b2, delta)
    kc, kq = jax.random.split(key)

    def net(depth):
        return model.FCN(dim=width, depth=depth, activation=activation, sigma_w2=sigma_w2, sigma_b2=sigma_b2,
                         width=width, parametrization="standard")  # fmt: skip

    gc = [gram_sampler(kc, net(depth_c), k1, n_networks) for k1 in starts["c_starts"]]
    gq = [gram_sampler(kq, net(depth_q), k1, n_networks)[..., 0, 0] for k1 in starts["q_starts"]]

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


def kurtosis_estimate(g_hat: np.ndarray, rng: np.random.Generator, n_boot: int = 200) -> tuple[float, float]:
    """Rao-Blackwellised excess kurtosis 3 Var(G-hat) / E[G-hat]^2 of z | G-hat ~ N(0, G-hat) over networks, with a
    bootstrap standard error (resampling networks)."""
    g_hat = np.asarray(g_hat, dtype=np.float64)

    def est(g):
        return 3 * g.var() / g.mean() ** 2

    boots = [est(g_hat[rng.integers(0, g_hat.size, g_hat.size)]) for _ in range(n_boot)]
    return float(est(g_hat)), float(np.std(boots, ddof=1))


def full_weight_ensemble(
    key: jax.Array, net: model.FCN, k1, n_networks: int, chunk: int = 500, dtype=jnp.float64
) -> np.ndarray:
    """The same G-hat^(l) as `gram_sampler`, measured on networks `net` with actual weight matrices: layer 1 exactly
    N(0, K^(1)) per neuron, then z^(l+1) = b + W s(z^(l)) with W ~ N(0, C_W / n), b ~ N(0, C_b)
    (model.hidden_layer; vmap over networks, scan over layers drawing each layer's weights inside the scan, chunks of
    `chunk` networks). Returns (n_networks, L, k, k) in float64."""
    (sigma_w2, sigma_b2), act = uniform_variances(net), net.act  # uniform_variances refuses non-models
    width, depth = net.width, net.depth
    k1 = np.atleast_2d(np.asarray(k1, dtype=np.float64))
    with jax.enable_x64(dtype == jnp.float64):
        keys = jax.random.split(key, n_networks)
        w2, b2, kin = jnp.asarray(sigma_w2, dtype), jnp.asarray(sigma_b2, dtype), jnp.asarray(k1, dtype)
        out = [np.asarray(_full_weight_run(act, width, depth, dtype, w2, b2, kin, keys[i : i + chunk]), np.float64)
               for i in range(0, n_networks, chunk)]  # fmt: skip
    return np.concatenate(out)


@partial(jax.jit, static_argnums=(0, 1, 2, 3))
def _full_weight_run(act, width, depth, dtype, sigma_w2, sigma_b2, k1, keys):
    """full_weight_ensemble's networks (compiled once per activation, width, depth and dtype; C_W, C_b traced)."""

    def network(key):
        k_in, k_layers = jax.random.split(key)
        z = (jax.random.normal(k_in, (width, k1.shape[0]), dtype) @ jnp.linalg.cholesky(k1).T).T  # (input, neuron)

        def layer(z, key):
            s = act.jax_fn(z)
            g = sigma_b2 + sigma_w2 / width * (s @ s.T)
            kw, kb = jax.random.split(key)
            w = jax.random.normal(kw, (width, width), dtype) * jnp.sqrt(sigma_w2 / width)
            b = jax.random.normal(kb, (width,), dtype) * jnp.sqrt(sigma_b2)
            return model.hidden_layer(act, z, w, b), g

        # G-hat^(1) = K^(1); G-hat^(l+1) from layer l's activations
        _, gs = jax.lax.scan(layer, z, jax.random.split(k_layers, depth - 1))
        return jnp.concatenate([k1[None], gs])

    return jax.vmap(network)(keys)


def ntk_ensemble(
    key: jax.Array, net: model.FCN, k1, n_networks: int, lambda_b, lambda_w, chunk: int = 250
) -> np.ndarray:
    """Theta-hat_ab = sum_l [lambda_b^(l) dz_a/db^(l) . dz_b/db^(l) + lambda_w^(l) / n_{l-1} dz_a/dW^(l) . dz_b/dW^(l)]
    of the output of random networks `net` (model.init_params / model.empirical_ntk with that learning-rate tensor;
    PDLT's conventions: standard parametrisation, input_scaling "unit", input width net.dim), float64.
    k1: a number (one input, x.x / n_0 = (K^(1) - C_b) / C_W; returns (n_networks,)) or a k x k matrix K^(1) (k
    inputs with x_a.x_b / n_0 = (K^(1)_ab - C_b) / C_W; returns (n_networks, k, k)). lambda_b, lambda_w: numbers or
    per-layer arrays. Backward quantity: needs the actual weights, not the Gram sampler."""
    sigma_w2, sigma_b2 = uniform_variances(net)
    if net.parametrization != "standard" or net.input_scaling != "unit":
        raise ValueError(f"net: the NTK with a learning-rate tensor is PDLT's: parametrization 'standard' and "
                         f"input_scaling 'unit' (got {net.parametrization!r}, {net.input_scaling!r})")  # fmt: skip
    n0, depth = net.dim, net.depth
    single = np.ndim(k1) == 0
    gram = (np.atleast_2d(np.asarray(k1, dtype=np.float64)) - sigma_b2) / sigma_w2
    k = gram.shape[0]
    if k > n0:
        raise ValueError(f"k1: {k} inputs need net.dim >= {k} (got {n0})")
    basis = np.random.default_rng(0).standard_normal((n0, k))
    basis[:, 0] = 1.0
    q, _ = np.linalg.qr(basis)
    q *= np.sign(q[0])  # first column exactly +ones / sqrt(n0): one input is x = sqrt(m) (1, ..., 1)
    x = np.linalg.cholesky(gram) @ (math.sqrt(n0) * q.T)  # (k, n0), x x^T / n0 = gram
    lb, lw = per_layer_rates(lambda_b, depth), per_layer_rates(lambda_w, depth)
    fans = [n0] + [net.width] * (depth - 1)
    rates = [{"w": lw[i] / fans[i], "b": lb[i]} for i in range(depth)]
    with jax.enable_x64(True):
        xs = jnp.asarray(x, jnp.float64)

        def network(key):
            return model.empirical_ntk(net, model.init_params(key, net, jnp.float64), xs, rates=rates)

        run = jax.jit(jax.vmap(network))
        keys = jax.random.split(key, n_networks)
        theta = np.concatenate([np.asarray(run(keys[i : i + chunk])) for i in range(0, n_networks, chunk)])
    return theta[:, 0, 0] if single else theta


def empirical_chi_1(key, activation, sigma_w2, sigma_b2, width: int, n_networks: int, transient: int, measure: int):
    """chi_1 measured on random networks: after `transient` layers from q^(1) = 1, the mean of |J_l v|^2 / |v|^2
    (J_l the layer Jacobian W diag s'(z), v random, by jax.jvp) over `measure` layers; returns (mean, s.e. over
    networks) for arrays sigma_w2, sigma_b2 of one shape."""
    act = activations.resolve(activation)
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
            z_next, jv = jax.jvp(lambda u: model.hidden_layer(act, u, w, b), (z,), (v,))
            return z_next, jnp.sum(jv**2) / jnp.sum(v**2)

        _, ratios = jax.lax.scan(layer, z, jax.random.split(k1, transient + measure))
        return ratios[transient:].mean()

    per_point = jax.vmap(lambda k, a, b: jax.vmap(lambda kk: network(kk, a, b))(jax.random.split(k, n_networks)))
    keys = jax.random.split(key, w2.size)
    samples = np.asarray(jax.jit(per_point)(keys, w2, b2), np.float64)  # (points, networks)
    mean = samples.mean(1).reshape(shape)
    se = (samples.std(1, ddof=1) / np.sqrt(n_networks)).reshape(shape)
    return mean, se
