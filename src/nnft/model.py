"""The model: one description of a deep fully connected network (`FCN`) and its finite-width realisation in JAX.

`FCN` is read by every part of the project: the infinite-width kernels and spectra (theory.kernels), the
learning-curve theories, the finite-width Bayesian theory, and the trained ensembles (sampling). This module also
holds the finite networks themselves. Every weight and bias is a standard-normal variable and the forward pass
applies the variances (NTK parametrisation), so a draw from `init_params` is a draw from the prior whose
infinite-width limit is the NNGP (docs/learning_curves.md Secs. 2-3):

    z^(1) = sqrt(sigma_w2[0] * input_gain2) x . W^(1) + sqrt(sigma_b2[0]) b^(1)
    z^(l) = sqrt(sigma_w2[l] / width) s(z^(l-1)) . W^(l) + sqrt(sigma_b2[l]) b^(l),      f = z^(depth)

`empirical_ntk` is one network's NTK J(x).J(y); `empirical_kernels` averages f f' and it over random networks: the
empirical NNGP and NTK. The last section holds the same networks as deep stacks for lax.scan (`apply_stack`,
`stack_ntk`): the finite-width experiments' form.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from . import activations

INPUT_SCALINGS = ("unit", "sqrt_d")


@dataclass(frozen=True)
class FCN:
    """One description of a fully connected network, shared by the kernel theory and the trained ensembles.

    sigma_w2 / sigma_b2: a number for every layer, or a tuple with one entry per weight layer.
    activation: a name understood by activations.parse, or an activations.Activation.
    """

    dim: int
    depth: int
    activation: str | activations.Activation = "relu"
    sigma_w2: float | Sequence[float] = 2.0
    sigma_b2: float | Sequence[float] = 0.0
    input_scaling: str = "sqrt_d"
    width: int = 128
    parametrization: str = "ntk"  # of the finite networks only: "ntk" or "standard" (same prior over functions)

    def __post_init__(self):
        for name in ("dim", "depth", "width"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1 (got {value!r})")
        if self.parametrization not in ("ntk", "standard"):
            raise ValueError(f"parametrization must be 'ntk' or 'standard' (got {self.parametrization!r})")
        for name in ("sigma_w2", "sigma_b2"):
            value = getattr(self, name)
            if isinstance(value, Sequence):
                object.__setattr__(self, name, tuple(float(v) for v in value))
                if len(value) != self.depth:
                    raise ValueError(f"{name} needs one value per weight layer ({self.depth}), got {len(value)}")
        activations.resolve(self.activation)  # raises on unknown names and on other types
        if self.input_scaling not in INPUT_SCALINGS:
            raise ValueError(f"input_scaling must be one of {INPUT_SCALINGS} (got {self.input_scaling!r})")
        w2, b2 = zip(*self.layer_variances(), strict=True)
        if not (np.all(np.isfinite(w2)) and min(w2) > 0):
            raise ValueError(f"sigma_w2 must be finite and > 0 (got {self.sigma_w2})")
        if not (np.all(np.isfinite(b2)) and min(b2) >= 0):
            raise ValueError(f"sigma_b2 must be finite and >= 0 (got {self.sigma_b2})")

    @property
    def act(self) -> activations.Activation:
        return activations.resolve(self.activation)

    def layer_variances(self) -> list[tuple[float, float]]:
        """(sigma_w2, sigma_b2) of each weight layer."""

        def per_layer(v):
            return list(v) if isinstance(v, tuple) else [float(v)] * self.depth

        return list(zip(per_layer(self.sigma_w2), per_layer(self.sigma_b2), strict=True))

    @property
    def input_gain2(self) -> float:
        """Variance multiplier of x.x' in the first layer: Sigma^(1) = sigma_w2 * input_gain2 * t + sigma_b2."""
        return 1.0 / self.dim if self.input_scaling == "unit" else 1.0


def prior_std(net: FCN) -> list[dict]:
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


def init_params(key: jax.Array, net: FCN, dtype=jnp.float32) -> list[dict]:
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


def _layer(net: FCN, i: int, layer: dict, h: jax.Array) -> jax.Array:
    """Preactivations of weight layer i from its inputs h (both parametrisations, see apply)."""
    w2, b2 = net.layer_variances()[i]
    b = layer["b"].reshape((1,) * (h.ndim - 1) + layer["b"].shape)  # broadcast over the rows of h explicitly
    if net.parametrization == "standard":
        return h @ layer["w"] + b
    gain = math.sqrt(w2 * net.input_gain2) if i == 0 else math.sqrt(w2 / net.width)
    return gain * (h @ layer["w"]) + math.sqrt(b2) * b


def features(net: FCN, params: list[dict], x: jax.Array) -> jax.Array:
    """The readout layer's inputs at the rows of x: the last hidden layer's activations (x itself at depth 1)."""
    h = x
    for i, layer in enumerate(params[:-1]):
        h = net.act.jax_fn(_layer(net, i, layer, h))
    return h


def apply(net: FCN, params: list[dict], x: jax.Array) -> jax.Array:
    """Network output f(x) for rows of x (unit-norm inputs), shape x.shape[:-1].

    NTK parametrisation: z = sqrt(sigma_w2 gain) h.W + sqrt(sigma_b2) b with standard-normal W, b;
    standard parametrisation: z = h.W + b with W ~ N(0, sigma_w2 gain), b ~ N(0, sigma_b2) (PDLT's convention).
    """
    return readout(net, params, features(net, params, x))


def readout(net: FCN, params: list[dict], h: jax.Array) -> jax.Array:
    """The output f from the readout layer's inputs h (features)."""
    return _layer(net, net.depth - 1, params[-1], h)[..., 0]


def readout_weight_variance(net: FCN) -> float:
    """sigma_w2 gain of the readout layer: the prior variance of each readout weight in function units (its
    variance in standard parametrisation), the weight of h1.h2 in readout_kernel."""
    w2, _ = net.layer_variances()[-1]
    return w2 * (net.input_gain2 if net.depth == 1 else 1.0 / net.width)


def readout_kernel(net: FCN, h1: jax.Array, h2: jax.Array) -> jax.Array:
    """The readout's empirical kernel sigma_w2 gain h1.h2 + sigma_b2 between feature rows (features): the prior
    covariance of f given the hidden layers, the same in both parametrisations. Always at full float32 precision (a
    GPU's TF32 default would perturb G by ~5e-4 per entry, as much as the ridge it is factorised with)."""
    _, b2 = net.layer_variances()[-1]
    return readout_weight_variance(net) * jnp.matmul(h1, h2.T, precision=jax.lax.Precision.HIGHEST) + b2


def empirical_ntk(net: FCN, params: list[dict], x: jax.Array, y: jax.Array | None = None, rates=None) -> jax.Array:
    """The NTK of one network, Theta-hat(x, y) = J(x) . Lambda . J(y), J the Jacobian of f with respect to every
    parameter (x, y: rows of inputs; y defaults to x). rates: a learning-rate tensor Lambda, one {"w": ..., "b": ...}
    per layer (PDLT's lambda_W / n_{l-1} and lambda_b), or None for the identity. In NTK parametrisation every
    parameter has unit prior variance, and with Lambda = 1 the ensemble mean is the infinite-width NTK (kernels.ntk);
    in standard parametrisation it is the NTK of gradient descent with step Lambda."""
    scale = None if rates is None else jax.tree.map(lambda r: jnp.sqrt(jnp.asarray(r, x.dtype)), rates)

    def jac(points):
        j = jax.jacrev(lambda p: apply(net, p, points))(params)
        if scale is not None:
            j = jax.tree.map(lambda leaf, s: leaf * s, j, scale)
        return jnp.concatenate([leaf.reshape(points.shape[0], -1) for leaf in jax.tree.leaves(j)], axis=1)

    jx = jac(x)
    return jx @ (jx if y is None else jac(y)).T


def empirical_kernels(net: FCN, x, key: jax.Array, n_networks: int, chunk: int = 100) -> dict[str, np.ndarray]:
    """Per-network f(x_i) f(x_j) and NTK J(x_i).J(x_j) for n_networks random networks (float32 forward, float64
    results): arrays (n_networks, k, k), whose means are the empirical NNGP and NTK and whose spreads give the
    Monte Carlo errors."""
    x = jnp.asarray(x, jnp.float32)

    def one(k):
        params = init_params(k, net)
        f = apply(net, params, x)
        return f[:, None] * f[None, :], empirical_ntk(net, params, x)

    batched = jax.jit(jax.vmap(one))
    keys = jax.random.split(key, n_networks)
    nngp, ntk = [], []
    for start in range(0, n_networks, chunk):
        a, b = batched(keys[start : start + chunk])
        nngp.append(np.asarray(a, np.float64))
        ntk.append(np.asarray(b, np.float64))
    return {"nngp": np.concatenate(nngp), "ntk": np.concatenate(ntk)}


# --- Deep stacks ----------------------------------------------------------------------------------------------------
# The same networks in PDLT's standard parametrisation with the hidden layers stacked on a leading axis, run by
# lax.scan: depths of tens of layers compile once, the standard normals can be kept apart from the variances (one draw
# serves a whole grid of traced, vmapped sigma_w2: common random numbers), and the rank-one weight gradients give the
# empirical NTK in one forward and one backward pass (`stack_ntk`). Weights are (fan_out, fan_in) here. Every deep
# scan of the project (this section, sampling.ensembles, experiments.trainability) applies `hidden_layer`.

Stack = dict  # w_in (width, dim), b_in (width,), w_hidden (depth-2, width, width), b_hidden (depth-2, width),
# w_out (width,), b_out ()


def hidden_layer(act: activations.Activation, z: jax.Array, w: jax.Array, b: jax.Array) -> jax.Array:
    """The next preactivations s(z) W^T + b from preactivations z (..., fan_in); W (fan_out, fan_in), b (fan_out,)
    (standard parametrisation: the variances are in W and b; b is broadcast over the rows of z explicitly)."""
    out = act.jax_fn(z) @ jnp.swapaxes(w, -1, -2)
    return out + jnp.broadcast_to(b, out.shape)


def stack_normals(key: jax.Array, dim: int, width: int, depth: int, dtype=jnp.float32) -> Stack:
    """Standard normals for every parameter of a network with `depth` >= 2 weight layers (`scale_stack` turns them
    into a prior draw)."""
    if depth < 2 or width < 1 or dim < 1:
        raise ValueError(f"need depth >= 2, width >= 1, dim >= 1 (got depth {depth}, width {width}, dim {dim})")
    shapes = {"w_in": (width, dim), "b_in": (width,), "w_hidden": (depth - 2, width, width),
              "b_hidden": (depth - 2, width), "w_out": (width,), "b_out": ()}  # fmt: skip
    keys = jax.random.split(key, len(shapes))
    return {name: jax.random.normal(k, shape, dtype) for k, (name, shape) in zip(keys, shapes.items(), strict=True)}


def stack_fan_in(params: Stack) -> dict[str, int]:
    """n_{l-1} of every weight array (the input width of its layer)."""
    return {"w_in": params["w_in"].shape[-1], "w_hidden": params["w_out"].shape[-1], "w_out": params["w_out"].shape[-1]}


def scale_stack(normals: Stack, sigma_w2, sigma_b2) -> Stack:
    """The prior draw W = sqrt(sigma_w2 / n_{l-1}) xi, b = sqrt(sigma_b2) xi (sigma_w2, sigma_b2 may be traced)."""
    fans = stack_fan_in(normals)
    return {k: v * jnp.sqrt((sigma_w2 / fans[k]) if k in fans else sigma_b2) for k, v in normals.items()}


def apply_stack(act: activations.Activation, params: Stack, x: jax.Array, shifts: Stack | None = None) -> jax.Array:
    """Outputs z^(depth) at the rows of x: the same function as `apply` of the FCN(parametrization="standard") with
    these weights. `shifts` (b_in, b_hidden, b_out shaped) are added to the preactivations: their gradients are
    delta^(l) = dz/dz^(l)."""
    if shifts is None:
        shifts = {k: 0.0 for k in ("b_in", "b_hidden", "b_out")}
    shift_in = shifts["b_in"] if jnp.ndim(shifts["b_in"]) == 0 else shifts["b_in"][None, :]  # over the rows of x
    z = x @ params["w_in"].T + params["b_in"][None, :] + shift_in

    def layer(z, wbs):
        w, b, s = wbs
        return hidden_layer(act, z, w, b + s), None

    z, _ = jax.lax.scan(layer, z, (params["w_hidden"], params["b_hidden"], shifts["b_hidden"] + 0 * params["b_hidden"]))
    return act.jax_fn(z) @ params["w_out"] + params["b_out"] + shifts["b_out"]


def stack_ntk(act: activations.Activation, params: Stack, x: jax.Array, lambda_b: float = 1.0,
              lambda_w: float = 1.0) -> jax.Array:  # fmt: skip
    """The empirical NTK of a stack with PDLT's learning-rate tensor, Theta-hat(x_a, x_b) = sum_params
    lambda dz_a/dtheta dz_b/dtheta on the rows of x, (k, k): `empirical_ntk(rates=...)` computed from the rank-one
    weight gradients, sum_l (delta_a^(l) . delta_b^(l)) (lambda_b + lambda_W s_a^(l-1) . s_b^(l-1) / n_{l-1})."""
    zero = {"b_in": jnp.zeros_like(params["b_in"]), "b_hidden": jnp.zeros_like(params["b_hidden"]),
            "b_out": jnp.zeros_like(params["b_out"])}  # fmt: skip
    deltas = jax.vmap(lambda xa: jax.grad(lambda s: apply_stack(act, params, xa[None], s)[0])(zero))(x)
    h = x @ params["w_in"].T + params["b_in"][None, :]

    def hidden(z, wb):
        return hidden_layer(act, z, *wb), act.jax_fn(z)

    z_top, s_hidden = jax.lax.scan(hidden, h, (params["w_hidden"], params["b_hidden"]))
    s_top = act.jax_fn(z_top)
    n0, n = params["w_in"].shape[-1], params["w_out"].shape[-1]
    theta = (deltas["b_in"] @ deltas["b_in"].T) * (lambda_b + lambda_w * (x @ x.T) / n0)
    theta += jnp.einsum("alj,blj,lab->ab", deltas["b_hidden"], deltas["b_hidden"],
                        lambda_b + lambda_w * jnp.einsum("laj,lbj->lab", s_hidden, s_hidden) / n)  # fmt: skip
    return theta + lambda_b + lambda_w * (s_top @ s_top.T) / n  # readout: delta = 1
