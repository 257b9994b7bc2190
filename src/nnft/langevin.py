"""Ensembles of finite fully connected networks sampled with Langevin dynamics (JAX).

Parametrisation: every weight and bias is a standard-normal variable theta and the forward pass applies the
variances (NTK parametrisation), with the same FCN description the kernel theory uses:

    z^(1) = sqrt(sigma_w2 * input_gain2) x . W^(1) + sqrt(sigma_b2) b^(1)
    z^(l) = sqrt(sigma_w2 / width) relu(z^(l-1)) . W^(l) + sqrt(sigma_b2) b^(l),      f = z^(depth)

The energy U = 1/2 sum_mu (f(x_mu) - y_mu)^2 + T/2 |theta|^2 has Gibbs measure exp(-U/T) = N(0, I) prior x
Gaussian likelihood of variance T: the Bayesian posterior whose infinite-width limit is GP regression with the
NNGP and ridge = T (science/learning_curves.md Sec. 1c). It is the same function-space posterior as Sec. 1c's
standard parametrisation with weight decay T n_{l-1} / sigma_w2; only the time scales of the dynamics differ.

Integrators, both with that equilibrium:
- "overdamped" (Sec. 1c, Euler-Maruyama): theta <- theta - h grad U + sqrt(2 T h) xi.
- "underdamped" (BAOAB splitting, Leimkuhler & Matthews 2013), unit mass, friction gamma = 2 sqrt(T).
The curvature of U spans [T, mu_max + T], mu_max the top eigenvalue of the NTK Gram matrix of the train set;
overdamped steps need ~ mu_max / T steps per relaxation time, underdamped ~ sqrt(mu_max / T).
Networks start from the prior, so directions the data do not constrain start in equilibrium.
"""

from __future__ import annotations

import math
import time
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from . import kernels
from .networks import apply, init_params

INTEGRATORS = ("overdamped", "underdamped")


class ChainState(NamedTuple):
    params: list
    momentum: list
    grad: list
    key: jax.Array


def _loss_and_grad(net, temperature, params, x, y):
    def data_loss(p):
        r = apply(net, p, x) - y
        return 0.5 * jnp.sum(r**2)

    loss, g = jax.value_and_grad(data_loss)(params)
    return loss, jax.tree.map(lambda gi, pi: gi + temperature * pi, g, params)


def _step(net, integrator, temperature, h, gamma, state: ChainState, x, y) -> tuple[ChainState, jax.Array]:
    key, k_noise = jax.random.split(state.key)
    noise = _normal_like(k_noise, state.params)
    if integrator == "overdamped":
        params = jax.tree.map(
            lambda p, g, xi: p - h * g + jnp.sqrt(2 * temperature * h) * xi, state.params, state.grad, noise
        )
        loss, grad = _loss_and_grad(net, temperature, params, x, y)
        return ChainState(params, state.momentum, grad, key), loss
    c1 = jnp.exp(-gamma * h)
    c2 = jnp.sqrt(temperature * (1 - c1**2))
    p = jax.tree.map(lambda m, g: m - 0.5 * h * g, state.momentum, state.grad)  # B
    params = jax.tree.map(lambda q, m: q + 0.5 * h * m, state.params, p)  # A
    p = jax.tree.map(lambda m, xi: c1 * m + c2 * xi, p, noise)  # O
    params = jax.tree.map(lambda q, m: q + 0.5 * h * m, params, p)  # A
    loss, grad = _loss_and_grad(net, temperature, params, x, y)
    p = jax.tree.map(lambda m, g: m - 0.5 * h * g, p, grad)  # B
    return ChainState(params, p, grad, key), loss


def _normal_like(key, tree):
    leaves, treedef = jax.tree.flatten(tree)
    keys = jax.random.split(key, len(leaves))
    return jax.tree.unflatten(
        treedef, [jax.random.normal(k, a.shape, a.dtype) for k, a in zip(keys, leaves, strict=True)]
    )


def init_chain(key: jax.Array, net: kernels.FCN, temperature: float, x, y) -> ChainState:
    k_param, k_mom, k_chain = jax.random.split(key, 3)
    params = init_params(k_param, net)
    momentum = jax.tree.map(lambda a: math.sqrt(temperature) * a, _normal_like(k_mom, params))
    _, grad = _loss_and_grad(net, temperature, params, x, y)
    return ChainState(params, momentum, grad, k_chain)


@partial(jax.jit, static_argnames=("net", "integrator", "n_steps"))
def run_steps(net, integrator, temperature, h, gamma, states, x, y, n_steps: int):
    """Advance a batch of chains (leading axis) n_steps; x, y carry the same leading axis."""

    def one(state, xc, yc):
        def body(s, _):
            return _step(net, integrator, temperature, h, gamma, s, xc, yc)[0], None

        return jax.lax.scan(body, state, None, length=n_steps)[0]

    return jax.vmap(one)(states, x, y)


@partial(jax.jit, static_argnames=("net", "integrator", "steps_per_eval", "n_evals"))
def sample_block(net, integrator, temperature, h, gamma, states, x, y, x_test, steps_per_eval: int, n_evals: int):
    """n_evals rounds of (steps_per_eval steps, evaluate f on x_test); returns sums of f and f^2 and the loss."""

    def one(state, xc, yc):
        def round_(s, _):
            def body(s2, _):
                return _step(net, integrator, temperature, h, gamma, s2, xc, yc)

            s, losses = jax.lax.scan(body, s, None, length=steps_per_eval)
            f = apply(net, s.params, x_test)
            return s, (f, losses[-1])

        state, (f, loss) = jax.lax.scan(round_, state, None, length=n_evals)
        return state, f.sum(0), (f**2).sum(0), loss

    return jax.vmap(one)(states, x, y)


class Schedule(NamedTuple):
    step_size: float
    friction: float
    steps_per_relaxation: float
    burn_in_steps: int
    steps_per_eval: int
    n_evals: int


def schedule(
    mu_max: float,
    temperature: float,
    integrator: str,
    step_factor: float,
    burn_in: float,
    sample: float,
    n_samples: int,
) -> Schedule:
    """Step size, friction and step counts; burn_in and sample are in units of the slowest relaxation time."""
    if integrator not in INTEGRATORS:
        raise ValueError(f"integrator must be one of {INTEGRATORS} (got {integrator!r})")
    if temperature <= 0:
        raise ValueError(f"Langevin sampling needs ridge = temperature > 0 (got {temperature})")
    if not 0 < step_factor < 2:
        raise ValueError(f"step_factor must lie in (0, 2), the stability range (got {step_factor})")
    if integrator == "overdamped":
        h, gamma = step_factor / (mu_max + temperature), 0.0
        per_relax = 1.0 / (h * temperature)
    else:
        h, gamma = step_factor / math.sqrt(mu_max + temperature), 2.0 * math.sqrt(temperature)
        per_relax = 1.0 / (h * math.sqrt(temperature))
    sample_steps = sample * per_relax
    steps_per_eval = max(1, round(sample_steps / n_samples))
    return Schedule(h, gamma, per_relax, math.ceil(burn_in * per_relax), steps_per_eval, n_samples)


def run_ensemble(
    net: kernels.FCN,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    ridge: float,
    key: jax.Array,
    members: int,
    integrator: str = "underdamped",
    step_factor: float = 0.5,
    burn_in: float = 5.0,
    sample: float = 20.0,
    n_samples: int = 200,
    evals_per_block: int = 20,
    progress=None,
) -> xr.Dataset:
    """Sample `members` independent chains per dataset draw; x_train (draw, n, d), y_train (draw, n).

    Returns the time average f_mean and time variance f_var of each chain's outputs on x_test
    (dims draw, member, test_sample) and the data loss trace (draw, member, record). Raises FloatingPointError
    if any chain diverges.
    """
    n_draws, n, _ = x_train.shape
    if members < 2:
        raise ValueError(f"members must be >= 2 to estimate the sampling error (got {members})")
    mu_max = max(np.linalg.eigvalsh(kernels.gram(net, xb, kind="ntk"))[-1] for xb in x_train)
    sch = schedule(mu_max, ridge, integrator, step_factor, burn_in, sample, n_samples)
    n_chains = n_draws * members
    xc = jnp.asarray(np.repeat(x_train, members, axis=0), jnp.float32)
    yc = jnp.asarray(np.repeat(y_train, members, axis=0), jnp.float32)
    xt = jnp.asarray(x_test, jnp.float32)
    keys = jax.random.split(key, n_chains)
    states = jax.vmap(lambda k, a, b: init_chain(k, net, ridge, a, b))(keys, xc, yc)
    args = (net, integrator, jnp.float32(ridge), jnp.float32(sch.step_size), jnp.float32(sch.friction))
    t0 = time.perf_counter()
    states = run_steps(*args, states, xc, yc, n_steps=sch.burn_in_steps)
    _check_finite(states.params, "burn-in")
    f_sum = np.zeros((n_chains, len(x_test)))
    f2_sum = np.zeros_like(f_sum)
    trace = []
    done = 0
    while done < sch.n_evals:
        k = min(evals_per_block, sch.n_evals - done)
        states, fs, f2s, loss = sample_block(*args, states, xc, yc, xt, steps_per_eval=sch.steps_per_eval, n_evals=k)
        fs, f2s, loss = np.asarray(fs, np.float64), np.asarray(f2s, np.float64), np.asarray(loss, np.float64)
        _check_finite(loss, f"sampling, evaluation {done}")
        f_sum += fs
        f2_sum += f2s
        trace.append(loss)
        done += k
        if progress is not None:
            progress(done, sch.n_evals)
    wall = time.perf_counter() - t0
    f_mean = f_sum / sch.n_evals
    f_var = np.maximum(f2_sum / sch.n_evals - f_mean**2, 0.0)
    shape = (n_draws, members)
    return xr.Dataset(
        {
            "f_mean": (("draw", "member", "test_sample"), f_mean.reshape(*shape, -1)),
            "f_var": (("draw", "member", "test_sample"), f_var.reshape(*shape, -1)),
            "loss": (("draw", "member", "record"), np.concatenate(trace, axis=1).reshape(*shape, -1)),
        },
        coords={"member": np.arange(members), "record": np.arange(sch.n_evals)},
        attrs={
            "integrator": integrator,
            "temperature": float(ridge),
            "ntk_mu_max": float(mu_max),
            "step_size": sch.step_size,
            "friction": sch.friction,
            "steps_per_relaxation": sch.steps_per_relaxation,
            "burn_in_steps": sch.burn_in_steps,
            "steps_per_eval": sch.steps_per_eval,
            "n_evals": sch.n_evals,
            "total_steps": sch.burn_in_steps + sch.steps_per_eval * sch.n_evals,
            "wall_seconds": wall,
            "device": str(jax.devices()[0]),
        },
    )


def _check_finite(tree, where: str) -> None:
    if not all(bool(np.all(np.isfinite(np.asarray(a)))) for a in jax.tree.leaves(tree)):
        raise FloatingPointError(
            f"Langevin dynamics diverged (NaN/inf) during {where}; lower train.step_factor. Nothing was stored."
        )


def posterior_mean_mse(f_mean: np.ndarray, g_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Test MSE of the posterior mean estimated from independent chains, with its Monte Carlo standard error.

    f_mean (..., member, test_sample) are per-chain time averages. The member average fbar has
    E||fbar - g||^2 = ||mu - g||^2 + mean_x Var(fbar), so the unbiased estimate subtracts mean_x s^2 / M
    (s^2 the across-member sample variance). The standard error is the delete-one jackknife over members.
    """

    def estimate(f):
        m = f.shape[-2]
        fbar = f.mean(-2)
        s2 = f.var(-2, ddof=1)
        return ((fbar - g_test) ** 2).mean(-1) - s2.mean(-1) / m

    m = f_mean.shape[-2]
    full = estimate(f_mean)
    loo = np.stack([estimate(np.delete(f_mean, i, axis=-2)) for i in range(m)], axis=-1)
    se = np.sqrt((m - 1) / m * ((loo - loo.mean(-1, keepdims=True)) ** 2).sum(-1))
    return full, se
