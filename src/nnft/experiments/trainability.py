"""Deep networks trained by gradient descent: trainability against the depth scale xi_c (F7) and the neural tangent
kernel of random and trained networks (F8). Methods and measured numbers: docs/trainability_ntk.md.

Networks follow the convention of `finite_width` (PDLT): z^(1) = b + W x, z^(l+1) = b + W s(z^(l)) with
W ~ N(0, C_W / n_{l-1}), b ~ N(0, C_b) (C_W = sigma_w2, C_b = sigma_b2); `depth` weight layers, the last one a scalar
readout; inputs with x.x / n_0 = 1, so K^(1) = C_b + C_W. Gradient descent uses the learning-rate tensor of the NTK
recursion (docs/trainability_ntk.md Sec. 1): a weight of layer l moves by -eta lambda_W / n_{l-1} dL/dW, a bias by
-eta lambda_b dL/db, so the kernel of a step in function space is the NTK
Theta-hat = sum_l [lambda_b |dz/db^(l)|^2 + lambda_W / n_{l-1} |dz/dW^(l)|^2] whose infinite-width mean is
`finite_width.ntk_flow_single`. Weight gradients are rank one, dz/dW^(l) = delta^(l) s^(l-1)^T with
delta^(l) = dz/dz^(l), which gives every NTK here from one forward and one backward pass.

The model of every network here is a `model.FCN` in PDLT's conventions (parametrization "standard", input_scaling
"unit"; `mean_ntk` and `NTKModel` take one). The trained networks are its deep-stack form (model.stack_normals,
model.apply_stack, model.stack_ntk): lax.scan runs depths up to 60 without unrolling, and one draw of standard normals
serves every sigma_w2 of a grid (common random numbers, vmapped). `layer_ntks` gives the NTK of every depth of one
network in one backward pass (checked against brute-force Jacobians in test_trainability).
"""

from __future__ import annotations

import math
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .. import activations, data, model, sphere
from ..theory import finite_width
from ..theory.finite_width import ntk_flow_single

Params = model.Stack


# --- Data on the sphere ---------------------------------------------------------------------------------------------


def harmonic_target(seed: int, dim: int, degree: int = 3, directions: int = 1) -> dict[str, np.ndarray]:
    """A random spherical harmonic g of one degree on S^{dim-1} with unit power: `directions` zonal terms
    c_j P_degree(x.u_j), random unit u_j, normal c_j (`data.make_target`). Evaluate with `data.target_terms`."""
    if int(degree) != degree or degree < 1:
        raise ValueError(f"degree must be an integer >= 1 (got {degree!r})")
    seq = np.random.SeedSequence([seed, 0])
    return data.make_target(np.random.default_rng(seq), dim, [int(degree)], [1.0], directions)


def sphere_sign_data(seed: int, dim: int, n_points: int, degree: int = 3, directions: int = 1):
    """Binary classification on the sphere (F7): x uniform on S^{dim-1} rescaled to |x|^2 = dim (x.x / n_0 = 1),
    label y = sign g(x) of the random harmonic of `harmonic_target` (same seed). An odd degree makes g(-x) = -g(x),
    so the two classes are balanced in law. Returns x (n_points, dim), y = +-1 (n_points,), g (n_points,); float64."""
    if int(n_points) != n_points or n_points < 1:
        raise ValueError(f"n_points must be an integer >= 1 (got {n_points!r})")
    target = harmonic_target(seed, dim, degree, directions)
    u = sphere.sample_sphere(np.random.default_rng(np.random.SeedSequence([seed, 1])), int(n_points), dim)
    g = data.target_terms(u, target["degree"], target["coefficient"], target["direction"]).sum(0)
    return math.sqrt(dim) * u, np.where(g >= 0, 1.0, -1.0), g


# --- Networks -------------------------------------------------------------------------------------------------------


def _first_layers(normals: Params, depth: int) -> Params:
    """The normals of the network made of the first depth - 1 layers of a deeper draw and its readout."""
    return {**normals, "w_hidden": normals["w_hidden"][..., : depth - 2, :, :],
            "b_hidden": normals["b_hidden"][..., : depth - 2, :]}  # fmt: skip


def learning_rate_tensor(params: Params, lambda_b: float = 1.0, lambda_w: float = 1.0) -> dict[str, float]:
    """Per-array step multipliers: lambda_W / n_{l-1} for weights, lambda_b for biases."""
    fans = model.stack_fan_in(params)
    return {k: (lambda_w / fans[k]) if k in fans else lambda_b for k in params}


def mse(act: activations.Activation, params: Params, x: jax.Array, y: jax.Array) -> jax.Array:
    """1/2 mean (z - y)^2."""
    return 0.5 * jnp.mean((model.apply_stack(act, params, x) - y) ** 2)


def gradient_descent(act: activations.Activation, params: Params, x: jax.Array, y: jax.Array, eta, batches,
                     momentum: float = 0.0, lambda_b: float = 1.0, lambda_w: float = 1.0) -> Params:  # fmt: skip
    """Minimise `mse` by heavy-ball (stochastic) gradient descent with the learning-rate tensor:
    v <- momentum v - eta Lambda grad, params <- params + v. batches: int array (steps, batch) of row indices (SGD),
    or an int number of full-batch steps. Pure: returns the trained parameters."""
    rates = learning_rate_tensor(params, lambda_b, lambda_w)

    def step(carry, idx):
        p, v = carry
        grads = jax.grad(mse, argnums=1)(act, p, x if idx is None else x[idx], y if idx is None else y[idx])
        v = {k: momentum * v[k] - eta * rates[k] * grads[k] for k in p}
        return ({k: p[k] + v[k] for k in p}, v), None

    zeros = {k: jnp.zeros_like(v) for k, v in params.items()}
    if isinstance(batches, int):
        (params, _), _ = jax.lax.scan(lambda c, _: step(c, None), (params, zeros), None, length=batches)
    else:
        (params, _), _ = jax.lax.scan(step, (params, zeros), batches)
    return params


# --- F7: trainability -----------------------------------------------------------------------------------------------


def _check_grid(sigma_w2, depths, sigma_b2, width, steps, batch, n_points, momentum, eta0, seeds):
    if np.any(np.asarray(sigma_w2) <= 0) or sigma_b2 < 0:
        raise ValueError(f"sigma_w2 must be > 0 and sigma_b2 >= 0 (got {sigma_w2}, {sigma_b2})")
    if min(depths) < 2:
        raise ValueError(f"depths must be >= 2 weight layers (got {list(depths)})")
    if width < 1 or steps < 1 or seeds < 1:
        raise ValueError(f"width, steps and seeds must be >= 1 (got {width}, {steps}, {seeds})")
    if not 1 <= batch <= n_points:
        raise ValueError(f"batch must be in [1, n_train = {n_points}] (got {batch})")
    if not 0 <= momentum < 1 or eta0 <= 0:
        raise ValueError(f"momentum must be in [0, 1) and eta0 > 0 (got {momentum}, {eta0})")


def mean_ntk(net: model.FCN) -> np.ndarray:
    """Theta-bar^(l), l = 1..net.depth, of one input with x.x / n_0 = 1 (K^(1) = sigma_b2 + sigma_w2) and
    lambda_b = lambda_W = 1: the infinite-width NTK recursion (`finite_width.ntk_flow_single`)."""
    (w2, b2), *_ = net.layer_variances()
    return ntk_flow_single(net, w2 + b2, 1.0, 1.0)


def _net(dim: int, depth: int, activation, sigma_w2: float, sigma_b2: float, width: int) -> model.FCN:
    """The model of this module's networks (PDLT's standard parametrisation, inputs with x.x / n_0 = 1)."""
    return model.FCN(dim=dim, depth=depth, activation=activation, sigma_w2=float(sigma_w2), sigma_b2=float(sigma_b2),
                     width=width, input_scaling="unit", parametrization="standard")  # fmt: skip


@partial(jax.jit, static_argnums=(0,))
def _train_grid(act, normals, sigma_w2, sigma_b2, eta, momentum, x, y, batches):
    """vmap over sigma_w2 (with its eta) and seeds (normals, batches): accuracy and loss before and after."""

    def one(z, w2, lr, idx):
        p = model.scale_stack(z, w2, sigma_b2)
        out0 = model.apply_stack(act, p, x)
        p = gradient_descent(act, p, x, y, lr, idx, momentum)
        out = model.apply_stack(act, p, x)
        loss = lambda o: 0.5 * jnp.mean((o - y) ** 2)  # noqa: E731
        return loss(out0), loss(out), jnp.mean(jnp.sign(out0) == y), jnp.mean(jnp.sign(out) == y)

    per_seed = jax.vmap(one, in_axes=(0, None, None, 0))
    return jax.vmap(per_seed, in_axes=(None, 0, 0, None))(normals, sigma_w2, eta, batches)


def trainability_grid(key: jax.Array, activation, x, y, sigma_w2, depths, sigma_b2: float,
                      width: int, steps: int, batch: int, momentum: float = 0.9, eta0: float = 1.0, seeds: int = 1,
                      progress=None) -> dict[str, np.ndarray]:  # fmt: skip
    """F7: networks of every depth and sigma_w2 trained by SGD (minibatches drawn with replacement, heavy-ball
    momentum) on (x, y) for `steps` steps; learning rate eta = eta0 / Theta-bar^(depth)(sigma_w2) from `mean_ntk`,
    so that the step in function space has the same scale in every phase. Common random numbers: all sigma_w2
    share the minibatches of a depth and seed, and every network is the first layers of one draw of the deepest.
    Returns arrays (depth, sigma_w2, seed): accuracy, accuracy_init, loss, loss_init (train set; a diverged run has
    a non-finite loss and accuracy NaN), and eta (depth, sigma_w2). activation: a name or an Activation."""
    act = activations.resolve(activation)
    sigma_w2, depths = np.asarray(sigma_w2, dtype=np.float64), [int(d) for d in depths]
    x, y = np.asarray(x), np.asarray(y)
    _check_grid(sigma_w2, depths, sigma_b2, width, steps, batch, x.shape[0], momentum, eta0, seeds)
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise ValueError(f"x must be (n_train, dim) and y (n_train,) (got {x.shape}, {y.shape})")
    theta = np.stack([mean_ntk(_net(x.shape[1], max(depths), act, w2, sigma_b2, width))
                      for w2 in sigma_w2])  # (sigma_w2, layer)  # fmt: skip
    eta = eta0 / theta[:, np.asarray(depths) - 1].T  # (depth, sigma_w2)
    out = {k: np.empty((len(depths), sigma_w2.size, seeds)) for k in ("loss_init", "loss", "accuracy_init", "accuracy")}
    xs, ys = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)
    k_init, k_batch = jax.random.split(key)
    deepest = jax.vmap(lambda k: model.stack_normals(k, x.shape[1], width, max(depths)))(
        jax.random.split(k_init, seeds)
    )
    for i, depth in enumerate(depths):
        normals = _first_layers(deepest, depth)
        batches = jax.random.randint(jax.random.fold_in(k_batch, depth), (seeds, steps, batch), 0, x.shape[0])
        res = _train_grid(act, normals, jnp.asarray(sigma_w2, jnp.float32), sigma_b2,
                          jnp.asarray(eta[i], jnp.float32), momentum, xs, ys, batches)  # fmt: skip
        for name, r in zip(("loss_init", "loss", "accuracy_init", "accuracy"), res, strict=True):
            out[name][i] = np.asarray(r, np.float64)
        if progress:
            progress(f"trainability depth {depth}")
    diverged = ~np.isfinite(out["loss"])
    out["accuracy"] = np.where(diverged, np.nan, out["accuracy"])
    return {**out, "eta": eta}


# --- F8: the NTK of random networks, layer by layer -----------------------------------------------------------------


def layer_ntks(act: activations.Activation, w: jax.Array, b: jax.Array, x: jax.Array, lambda_b, lambda_w) -> jax.Array:
    """Theta-hat^(t), t = 1..depth, of neuron 0 of every layer of one network with weights w (depth, width, width)
    and biases b (depth, width) at the input x (width,): one forward pass, then one backward pass carrying
    delta_t^(l) = dz_0^(t) / dz^(l) for all t at once, Theta-hat^(t) = sum_{l <= t} |delta_t^(l)|^2
    (lambda_b^(l) + lambda_W^(l) |s^(l-1)|^2 / n_{l-1}), s^(0) = x. Sums in float64 when x64 is enabled."""
    depth, width = b.shape

    def forward(z, wb):
        z_next = model.hidden_layer(act, z, *wb)
        return z_next, (z_next, act.jax_fn(z))

    z1 = w[0] @ x + b[0]
    _, (z_rest, h_rest) = jax.lax.scan(forward, z1, (w[1:], b[1:]))
    z = jnp.concatenate([z1[None], z_rest])  # z^(l), l = 1..depth
    h = jnp.concatenate([x[None], h_rest])  # s^(l-1), s^(0) = x
    factor = lambda_b + lambda_w * jnp.sum(h * h, -1) / h.shape[-1]
    s_prime = jax.vmap(jax.grad(act.jax_fn))(jnp.concatenate([z[:1], z[:-1]]).ravel()).reshape(depth, width)

    def backward(delta, inputs):
        layer, w_l, sp = inputs  # sp = s'(z^(layer - 1)); row 0 is never used
        delta = delta.at[layer, 0].add(1.0)  # the output of the depth-t network, t = layer, starts here
        return (delta @ w_l) * sp[None, :], jnp.sum(delta * delta, -1)  # |delta_t^(layer)|^2, zero for t < layer

    _, contrib = jax.lax.scan(backward, jnp.zeros((depth, width), x.dtype), (jnp.arange(depth), w, s_prime),
                              reverse=True)  # fmt: skip
    acc = jnp.promote_types(x.dtype, jnp.float64)
    return jnp.einsum("lt,l->t", contrib.astype(acc), factor.astype(acc))


class NTKModel(NamedTuple):
    """One network and learning-rate tensor for `ntk_by_layer` (Sec. 4 conventions of `finite_width`)."""

    net: model.FCN  # one sigma_w2 and sigma_b2 for every layer; input width = net.width
    k1: float  # K^(1): the input has x.x / n_0 = (K^(1) - sigma_b2) / sigma_w2
    lambda_b: float | np.ndarray = 1.0  # a number or one value per layer
    lambda_w: float | np.ndarray = 1.0


@partial(jax.jit, static_argnums=(0, 1, 2))
def _ntk_layers(acts, width, depth, sigma_w2, sigma_b2, x, lambda_b, lambda_w, keys):
    """layer_ntks of random networks, one per key (vmap), for every model on the same standard normals."""

    def network(key):
        kw, kb = jax.random.split(key)
        w = jax.random.normal(kw, (depth, width, width), x.dtype) / math.sqrt(width)
        b = jax.random.normal(kb, (depth, width), x.dtype)
        return jnp.stack([layer_ntks(act, w * jnp.sqrt(sigma_w2[m]), b * jnp.sqrt(sigma_b2[m]), x[m], lambda_b[m],
                                     lambda_w[m]) for m, act in enumerate(acts)])  # fmt: skip

    return jax.vmap(network)(keys)


def ntk_by_layer(key: jax.Array, models, n_networks: int, chunk: int = 64, dtype=jnp.float32) -> np.ndarray:
    """Theta-hat^(l), l = 1..depth, of one input for random networks with full weight matrices, for each of
    `models` (NTKModel, all of one width and depth) on the same standard normals: the NTK of neuron 0 of layer l, i.e.
    of the output of the depth-l network, in the convention of `sampling.ensembles.ntk_ensemble` (input width =
    width). One forward and one backward pass per network (`layer_ntks`) instead of one network per depth. Samples in
    `dtype`, sums in float64; returns (model, network, layer)."""
    models = [NTKModel(*m) for m in models]
    if not models:
        raise ValueError("models must name at least one NTKModel")
    if any(not isinstance(m.net, model.FCN) for m in models):
        raise ValueError("models: each NTKModel.net must be a model.FCN")
    width, depth = models[0].net.width, models[0].net.depth
    if any((m.net.width, m.net.depth) != (width, depth) for m in models):
        raise ValueError(f"models must share one width and depth (got {[(m.net.width, m.net.depth) for m in models]})")
    variances = [finite_width.uniform_variances(m.net) for m in models]
    for m, (_, b2) in zip(models, variances, strict=True):
        if m.k1 <= b2:
            raise ValueError(f"models: need k1 > sigma_b2 (got k1 = {m.k1}, sigma_b2 = {b2})")
    if n_networks < 1 or chunk < 1:
        raise ValueError(f"n_networks and chunk must be >= 1 (got {n_networks}, {chunk})")
    rates = [np.broadcast_to(np.asarray(r, dtype=np.float64), (depth,)) for m in models for r in m[2:]]
    if any(np.any(r < 0) for r in rates):
        raise ValueError("models: lambda_b and lambda_w must be >= 0")
    x = np.stack([np.full(width, math.sqrt((m.k1 - b2) / w2)) for m, (w2, b2) in zip(models, variances, strict=True)])
    arrays = [jnp.asarray(a, dtype) for a in ([w2 for w2, _ in variances], [b2 for _, b2 in variances], x,
                                              rates[0::2], rates[1::2])]  # fmt: skip
    acts = tuple(m.net.act for m in models)
    n_chunks = -(-n_networks // chunk)
    size = -(-n_networks // n_chunks)  # equal chunks (one compilation), at most n_chunks - 1 networks discarded
    keys = jax.random.split(key, n_chunks * size)
    with jax.enable_x64(True):
        out = [np.asarray(_ntk_layers(acts, width, depth, *arrays, keys[i * size : (i + 1) * size]))
               for i in range(n_chunks)]  # fmt: skip
    return np.moveaxis(np.concatenate(out)[:n_networks], 1, 0)


def relative_variance(theta: np.ndarray, rng: np.random.Generator, n_boot: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Var Theta-hat / E[Theta-hat]^2 over networks (axis 0) with a bootstrap standard error."""
    theta = np.asarray(theta, dtype=np.float64)
    if theta.shape[0] < 2:
        raise ValueError(f"theta: need at least two networks (got {theta.shape[0]})")

    def est(t):
        return t.var(0, ddof=1) / t.mean(0) ** 2

    boots = np.stack([est(theta[rng.integers(0, theta.shape[0], theta.shape[0])]) for _ in range(n_boot)])
    return est(theta), boots.std(0, ddof=1)


def power_law_fit(x, y, se) -> tuple[float, float, float]:
    """Weighted least squares of ln y = ln a + p ln x (weights from the standard errors of y): (p, s.e. of p, a)."""
    x, y, se = (np.asarray(v, dtype=np.float64) for v in (x, y, se))
    if x.size < 2 or np.any(x <= 0) or np.any(y <= 0) or np.any(se <= 0):
        raise ValueError("x, y, se: power_law_fit needs two or more positive points with positive standard errors")
    w = y / se  # 1 / s.e. of ln y
    a = np.stack([np.ones_like(x), np.log(x)], -1) * w[:, None]
    coef, *_ = np.linalg.lstsq(a, np.log(y) * w, rcond=None)
    cov = np.linalg.inv(a.T @ a)
    resid = np.log(y) * w - a @ coef
    dof = max(x.size - 2, 1)
    scale = max(1.0, float(resid @ resid) / dof)  # inflate by the reduced chi^2 when the scatter exceeds the errors
    return float(coef[1]), float(np.sqrt(cov[1, 1] * scale)), float(np.exp(coef[0]))


# --- F8c: how much the NTK moves during training --------------------------------------------------------------------


@partial(jax.jit, static_argnums=(0, 5))
def _ntk_change(act, normals, sigma_w2, sigma_b2, eta, steps, x, y):
    """vmap over seeds: relative Frobenius change of the train-set NTK, and the loss before and after."""

    def one(z):
        p0 = model.scale_stack(z, sigma_w2, sigma_b2)
        p = gradient_descent(act, p0, x, y, eta, steps)
        t0, t1 = model.stack_ntk(act, p0, x), model.stack_ntk(act, p, x)
        loss0, loss = mse(act, p0, x, y), mse(act, p, x, y)
        return jnp.linalg.norm(t1 - t0) / jnp.linalg.norm(t0), loss0, loss

    return jax.vmap(one)(normals)


def ntk_change(key: jax.Array, activation, x, y, sigma_w2: float, sigma_b2: float, widths, depths,
               steps: int, eta0: float = 1.0, seeds: int = 4, progress=None) -> dict[str, np.ndarray]:  # fmt: skip
    """F8c: networks of every width and depth trained by full-batch gradient descent (learning rate
    eta0 / Theta-bar^(depth), `mean_ntk`) for `steps` steps on (x, y). Returns arrays (depth, width, seed):
    ntk_change = |Theta_T - Theta_0|_F / |Theta_0|_F on the train set, loss_init and loss. At one width and seed the
    networks of every depth are the first layers of one draw (common random numbers). activation: a name or an
    Activation."""
    act = activations.resolve(activation)
    widths, depths = [int(w) for w in widths], [int(d) for d in depths]
    x, y = np.asarray(x), np.asarray(y)
    _check_grid(sigma_w2, depths, sigma_b2, min(widths), steps, x.shape[0], x.shape[0], 0.0, eta0, seeds)
    if seeds < 2:
        raise ValueError(f"seeds must be >= 2 (standard errors over networks; got {seeds})")
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise ValueError(f"x must be (n_train, dim) and y (n_train,) (got {x.shape}, {y.shape})")
    theta = mean_ntk(_net(x.shape[1], max(depths), act, sigma_w2, sigma_b2, min(widths)))
    shape = (len(depths), len(widths), seeds)
    out = {k: np.empty(shape) for k in ("ntk_change", "loss_init", "loss")}
    xs, ys = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)
    for j, width in enumerate(widths):
        keys = jax.random.split(jax.random.fold_in(key, width), seeds)
        deepest = jax.vmap(lambda k: model.stack_normals(k, x.shape[1], width, max(depths)))(keys)  # noqa: B023
        for i, depth in enumerate(depths):
            res = _ntk_change(act, _first_layers(deepest, depth), jnp.float32(sigma_w2), jnp.float32(sigma_b2),
                              jnp.float32(eta0 / theta[depth - 1]), steps, xs, ys)  # fmt: skip
            for name, r in zip(("ntk_change", "loss_init", "loss"), res, strict=True):
                out[name][i, j] = np.asarray(r, np.float64)
            if progress:
                progress(f"ntk change width {width} depth {depth}")
    return out
