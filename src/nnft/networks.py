"""Finite fully connected networks in JAX, from the same FCN description as the kernel theory.

Every weight and bias is a standard-normal variable and the forward pass applies the variances (NTK
parametrisation), so a draw from `init_params` is a draw from the prior whose infinite-width limit is the NNGP:

    z^(1) = sqrt(sigma_w2[0] * input_gain2) x . W^(1) + sqrt(sigma_b2[0]) b^(1)
    z^(l) = sqrt(sigma_w2[l] / width) s(z^(l-1)) . W^(l) + sqrt(sigma_b2[l]) b^(l),      f = z^(depth)

`empirical_kernels` measures the NNGP (E f f') and NTK (E J J^T, Jacobian contraction) of random networks.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from . import kernels


def init_params(key: jax.Array, net: kernels.FCN, dtype=jnp.float32) -> list[dict]:
    """Standard-normal weights and biases (a draw from the prior), one dict per weight layer."""
    sizes = [net.dim] + [net.width] * (net.depth - 1) + [1]
    params = []
    for k, fan_in, fan_out in zip(jax.random.split(key, net.depth), sizes[:-1], sizes[1:], strict=True):
        kw, kb = jax.random.split(k)
        params.append(
            {"w": jax.random.normal(kw, (fan_in, fan_out), dtype), "b": jax.random.normal(kb, (fan_out,), dtype)}
        )
    return params


def apply(net: kernels.FCN, params: list[dict], x: jax.Array) -> jax.Array:
    """Network output f(x) for rows of x (unit-norm inputs), shape x.shape[:-1]."""
    h = x
    act = net.act.jax_fn
    for i, (layer, (w2, b2)) in enumerate(zip(params, net.layer_variances(), strict=True)):
        gain = math.sqrt(w2 * net.input_gain2) if i == 0 else math.sqrt(w2 / net.width)
        z = gain * (h @ layer["w"]) + math.sqrt(b2) * layer["b"]
        h = act(z)
    return z[..., 0]


def empirical_kernels(net: kernels.FCN, x, key: jax.Array, n_networks: int, chunk: int = 100) -> dict[str, np.ndarray]:
    """Per-network f(x_i) f(x_j) and NTK J(x_i).J(x_j) for n_networks random networks (float32 forward, float64
    results): arrays (n_networks, k, k), whose means are the empirical NNGP and NTK and whose spreads give the
    Monte Carlo errors."""
    x = jnp.asarray(x, jnp.float32)

    def one(k):
        params = init_params(k, net)
        f = apply(net, params, x)
        jac = jax.jacrev(lambda p: apply(net, p, x))(params)
        leaves = [j.reshape(x.shape[0], -1) for j in jax.tree.leaves(jac)]
        ntk = sum(j @ j.T for j in leaves)
        return f[:, None] * f[None, :], ntk

    batched = jax.jit(jax.vmap(one))
    keys = jax.random.split(key, n_networks)
    nngp, ntk = [], []
    for start in range(0, n_networks, chunk):
        a, b = batched(keys[start : start + chunk])
        nngp.append(np.asarray(a, np.float64))
        ntk.append(np.asarray(b, np.float64))
    return {"nngp": np.concatenate(nngp), "ntk": np.concatenate(ntk)}
