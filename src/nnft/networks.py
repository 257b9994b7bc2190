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


def prior_std(net: kernels.FCN) -> list[dict]:
    """Prior standard deviation of every parameter, per layer: (sigma_w2 input_gain2)^1/2, (sigma_w2 / width)^1/2
    for weights and sigma_b2^1/2 for biases in standard parametrisation; 1 in NTK parametrisation."""
    out = []
    for i, (w2, b2) in enumerate(net.layer_variances()):
        if net.parametrization == "ntk":
            out.append({"w": 1.0, "b": 1.0})
        else:
            gain2 = net.input_gain2 if i == 0 else 1.0 / net.width
            out.append({"w": math.sqrt(w2 * gain2), "b": math.sqrt(b2)})
    return out


def init_params(key: jax.Array, net: kernels.FCN, dtype=jnp.float32) -> list[dict]:
    """A draw from the prior, one dict per weight layer: standard normals scaled by prior_std (the same normals in
    both parametrisations, so the two give the same network for the same key)."""
    sizes = [net.dim] + [net.width] * (net.depth - 1) + [1]
    params = []
    for k, fan_in, fan_out, std in zip(
        jax.random.split(key, net.depth), sizes[:-1], sizes[1:], prior_std(net), strict=True
    ):
        kw, kb = jax.random.split(k)
        params.append(
            {
                "w": std["w"] * jax.random.normal(kw, (fan_in, fan_out), dtype),
                "b": std["b"] * jax.random.normal(kb, (fan_out,), dtype),
            }
        )
    return params


def _layer(net: kernels.FCN, i: int, layer: dict, h: jax.Array) -> jax.Array:
    """Preactivations of weight layer i from its inputs h (both parametrisations, see apply)."""
    w2, b2 = net.layer_variances()[i]
    if net.parametrization == "standard":
        return h @ layer["w"] + layer["b"]
    gain = math.sqrt(w2 * net.input_gain2) if i == 0 else math.sqrt(w2 / net.width)
    return gain * (h @ layer["w"]) + math.sqrt(b2) * layer["b"]


def features(net: kernels.FCN, params: list[dict], x: jax.Array) -> jax.Array:
    """The readout layer's inputs at the rows of x: the last hidden layer's activations (x itself at depth 1)."""
    h = x
    for i, layer in enumerate(params[:-1]):
        h = net.act.jax_fn(_layer(net, i, layer, h))
    return h


def apply(net: kernels.FCN, params: list[dict], x: jax.Array) -> jax.Array:
    """Network output f(x) for rows of x (unit-norm inputs), shape x.shape[:-1].

    NTK parametrisation: z = sqrt(sigma_w2 gain) h.W + sqrt(sigma_b2) b with standard-normal W, b;
    standard parametrisation: z = h.W + b with W ~ N(0, sigma_w2 gain), b ~ N(0, sigma_b2) (PDLT's convention).
    """
    return readout(net, params, features(net, params, x))


def readout(net: kernels.FCN, params: list[dict], h: jax.Array) -> jax.Array:
    """The output f from the readout layer's inputs h (features)."""
    return _layer(net, net.depth - 1, params[-1], h)[..., 0]


def readout_kernel(net: kernels.FCN, h1: jax.Array, h2: jax.Array) -> jax.Array:
    """The readout's empirical kernel sigma_w2 gain h1.h2 + sigma_b2 between feature rows (features): the prior
    covariance of f given the hidden layers, the same in both parametrisations."""
    w2, b2 = net.layer_variances()[-1]
    gain2 = net.input_gain2 if net.depth == 1 else 1.0 / net.width
    return w2 * gain2 * h1 @ h2.T + b2


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
