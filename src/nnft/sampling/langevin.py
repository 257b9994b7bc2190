"""Ensembles of finite fully connected networks sampled with Langevin dynamics (JAX).

The networks are those of model.py: every parameter theta is standard normal under the prior and the forward
pass applies the variances (NTK parametrisation) of the same FCN description the kernel theory uses. The energy
U = 1/2 sum_mu (f(x_mu) - y_mu)^2 + T/2 |theta|^2 has Gibbs measure exp(-U/T) = N(0, I) prior x
Gaussian likelihood of variance T: the Bayesian posterior whose infinite-width limit is GP regression with the
NNGP and ridge = T (docs/learning_curves.md Sec. 11). It is the same function-space posterior as Sec. 11's
standard parametrisation with weight decay T n_{l-1} / sigma_w2; only the time scales of the dynamics differ.

Integrators, all with that equilibrium:
- "overdamped" (Sec. 11, Euler-Maruyama): theta <- theta - h grad U + sqrt(2 T h) xi.
- "underdamped" (BAOAB splitting, Leimkuhler & Matthews 2013), unit mass, friction gamma = 2 sqrt(T).
- "gibbs_readout": given the hidden layers the readout layer is a Bayesian linear model with a Gaussian prior, so
  every step takes one BAOAB step of the hidden layers with the readout fixed, then draws the readout exactly from
  its conditional posterior (`draw_readout`). Both moves leave the posterior invariant (BAOAB up to its usual
  discretisation error); the readout's directions, whose curvature is the readout's kernel (the NNGP part of the
  NTK), no longer limit the step, and its directions the data do not constrain (curvature T: the slowest of BAOAB)
  are redrawn every step.
- "collapsed_readout": the readout integrated out. Given the hidden layers the readout's posterior is Gaussian, so
  the hidden layers' own posterior is known in closed form, exp(-U_c / T) with U_c = `collapsed_potential` (the
  Gaussian-process evidence of the last hidden layer's empirical kernel); BAOAB moves the hidden layers on U_c, and
  at every evaluation the readout is drawn exactly from its conditional posterior (`draw_readout`), so that the
  recorded f are draws of the joint posterior. Integrating the readout out removes the stiffness its fluctuations
  put on the hidden layers: measured at posterior states, U_c's top curvature is 66-300x below the hidden layers'
  part of the NTK (docs/finite_width_bayes.md), and it is measured (`collapsed_curvature`) rather than known in
  closed form: at the prior draws for the burn-in, and again after it for the sampling (run_ensemble).
The curvature of U spans [T, mu_max + T], mu_max the top eigenvalue of the NTK Gram matrix of the train set
(gibbs_readout: of the hidden layers' part of the NTK, NTK - NNGP, `top_curvature`); overdamped steps need
~ mu_max / T steps per relaxation time, underdamped ~ sqrt(mu_max / T).
Networks start from the prior, so directions the data do not constrain start in equilibrium.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
import warnings
from functools import partial
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr
from threadpoolctl import threadpool_limits

from .. import model
from ..model import apply, features, init_params, prior_std, readout, readout_kernel, readout_weight_variance
from ..theory import kernels

INTEGRATORS = ("overdamped", "underdamped", "gibbs_readout", "collapsed_readout")


class ChainState(NamedTuple):
    params: list
    momentum: list
    grad: list
    key: jax.Array


def _decay_and_precond(net, frozen: tuple[int, ...] = ()):
    """Per-leaf weight decay gamma = T / prior variance (Sec. 11: T n_{l-1} / sigma_w2 for standard weights) as a
    multiplier of T, and the preconditioner P = prior variance (diagonal inverse mass). With P the dynamics in the
    standard parametrisation are those of the NTK parametrisation in other coordinates; a leaf of zero prior
    variance (sigma_b2 = 0 biases) and every leaf of a `frozen` layer (random features) has P = 0 and never moves."""
    std = prior_std(net)
    decay = jax.tree.map(lambda s: 0.0 if s == 0 else 1.0 / s**2, std)
    precond = [jax.tree.map(lambda s, i=i: 0.0 if i in frozen else s**2, layer) for i, layer in enumerate(std)]
    return decay, precond


def _loss_and_grad(net, ridge, params, x, y):
    """Data loss SSE / 2 and the gradient of U = SSE / 2 + sum_leaves (T gamma / 2) |theta|^2."""

    def data_loss(p):
        r = apply(net, p, x) - y
        return 0.5 * jnp.sum(r**2)

    loss, g = jax.value_and_grad(data_loss)(params)
    decay, _ = _decay_and_precond(net)
    return loss, jax.tree.map(lambda gi, pi, c: gi + ridge * c * pi, g, params, decay)


def potential(net: model.FCN, ridge, params: list[dict], x, y) -> jax.Array:
    """The energy the samplers equilibrate, U = SSE / 2 + sum_leaves (T gamma / 2) |theta|^2, with the decay gamma of
    _decay_and_precond (1 / prior variance; 0 for zero-variance leaves): exp(-U / T) is the prior times the Gaussian
    likelihood of noise variance T, i.e. the Bayesian posterior (docs/finite_width_bayes.md). Its gradient is the
    one _loss_and_grad returns; Metropolis-adjusted samplers (metropolis.py) use log p = -U / T."""
    r = apply(net, params, x) - y
    return 0.5 * jnp.sum(r**2) + 0.5 * ridge * _prior_sum(net, params)


def collapsed_potential(net: model.FCN, ridge, params: list[dict], x, y) -> jax.Array:
    """The hidden layers' energy with the readout layer integrated out, in the units of `potential`:
    U_c = T [y^T (G + T)^-1 y / 2 + log det(G + T) / 2] + sum_hidden leaves (T gamma / 2) |theta|^2, G the readout's
    empirical kernel of the train features (model.readout_kernel). exp(-U_c / T) is, up to a constant, the integral
    of exp(-U / T) over the readout (a Gaussian integral: the readout is a linear model with a Gaussian prior given
    the layers below it), i.e. the marginal posterior of the hidden layers. params[-1] (the readout) is ignored."""
    return _collapsed_terms(net, ridge, params[:-1], x, y)[0]


def _collapsed_terms(net, ridge, hidden, x, y):
    """collapsed_potential of the hidden layers, and the train features it computed them from."""
    h = features(net, hidden + [None], x)
    chol = readout_factor(net, ridge, h)
    alpha = jax.scipy.linalg.cho_solve((chol, True), y)
    return ridge * (0.5 * y @ alpha + jnp.sum(jnp.log(jnp.diag(chol)))) + 0.5 * ridge * _prior_sum(net, hidden), h


def _prior_sum(net, params):
    """sum_leaves gamma |theta|^2 over the leading layers `params` (all of them, or the hidden ones), gamma the decay
    of _decay_and_precond: U's prior term is T / 2 times it."""
    decay, _ = _decay_and_precond(net)
    decay = decay[: len(params)]
    return sum(c * jnp.sum(p**2) for c, p in zip(jax.tree.leaves(decay), jax.tree.leaves(params), strict=True))


def readout_factor(net: model.FCN, ridge, h) -> jax.Array:
    """The lower Cholesky factor of G + T, G = model.readout_kernel(net, h, h) of the train features h: the one
    factorisation behind the readout's conditional posterior (draw_readout, readout_marginal_mean) and the collapsed
    potential."""
    g = readout_kernel(net, h, h)
    return jnp.linalg.cholesky(g + ridge * jnp.eye(g.shape[0], dtype=g.dtype))


def _collapsed_loss_and_grad(net, ridge, params, x, y, moving):
    """The data loss SSE / 2 at params (readout as it is) and the gradient of collapsed_potential for every leaf (0
    for the readout and for leaves that do not move), from one forward and one backward pass of the hidden layers.

    The gradient is written out rather than differentiated through the Cholesky factorisation (whose adjoint costs
    several n x n triangular solves): with K = G + T, alpha = K^-1 y and G = c h h^T + sigma_b2 (c =
    model.readout_weight_variance), the data part T [y^T K^-1 y + log det K] / 2 has dU_c / dG = T [K^-1 - alpha
    alpha^T] / 2, so dU_c / dh = T c [K^-1 h - alpha (alpha^T h)], pulled back through the hidden layers
    (docs/finite_width_bayes.md Sec. 5b)."""
    hidden = params[:-1]
    h, pullback = jax.vjp(lambda p: features(net, p + [None], x), hidden)
    chol = readout_factor(net, ridge, h)
    alpha = jax.scipy.linalg.cho_solve((chol, True), y)
    k_inv_h = jax.scipy.linalg.cho_solve((chol, True), h)
    (g,) = pullback(ridge * readout_weight_variance(net) * (k_inv_h - jnp.outer(alpha, alpha @ h)))
    decay, _ = _decay_and_precond(net)
    g = jax.tree.map(lambda gi, q, c: gi + ridge * c * q, g, hidden, decay[:-1])
    g = g + [jax.tree.map(jnp.zeros_like, params[-1])]
    loss = 0.5 * jnp.sum((readout(net, params, h) - y) ** 2)
    return loss, jax.tree.map(lambda gi, c: gi * (c > 0), g, moving)


def make_step(net: model.FCN, ridge, step_size, friction, integrator: str = "underdamped", frozen=()):
    """The sampler's transition as a pure function, in the style of BlackJAX and optax:
    step(key, state, batch) -> (state, data loss), batch = (x, y), the key the step's noise (state.key is left to
    the driver, run_steps). One step, preconditioned by the prior variance P (identity in NTK parametrisation);
    momentum is stored as the velocity v = P p, so frozen leaves (P = 0) never move. "overdamped": Euler-Maruyama
    (friction unused); "underdamped": BAOAB with the given friction; "gibbs_readout": see _gibbs_readout_step;
    "collapsed_readout": BAOAB of the hidden layers on collapsed_potential (the readout is left as it is: it is drawn
    where f is evaluated, `evaluate`; state.grad must be collapsed_potential's, as init_chain gives it)."""
    if integrator not in INTEGRATORS:
        raise ValueError(f"integrator must be one of {INTEGRATORS} (got {integrator!r})")
    if integrator == "gibbs_readout":
        return _gibbs_readout_step(net, ridge, step_size, friction, frozen)
    h, gamma = step_size, friction
    if integrator == "collapsed_readout":
        _check_readout_moves(net, frozen, integrator)
        frozen = tuple(frozen) + (net.depth - 1,)
    _, pre = _decay_and_precond(net, frozen)

    def step(key: jax.Array, state: ChainState, batch) -> tuple[ChainState, jax.Array]:
        x, y = batch
        noise = _normal_like(key, state.params)
        if integrator == "overdamped":
            params = jax.tree.map(
                lambda q, g, xi, c: q - h * c * g + jnp.sqrt(2 * ridge * h * c) * xi,
                state.params,
                state.grad,
                noise,
                pre,
            )
            loss, grad = _loss_and_grad(net, ridge, params, x, y)
            return ChainState(params, state.momentum, grad, state.key), loss
        c1 = jnp.exp(-gamma * h)
        c2 = jnp.sqrt(ridge * (1 - c1**2))
        v = jax.tree.map(lambda m, g, c: m - 0.5 * h * c * g, state.momentum, state.grad, pre)  # B
        params = jax.tree.map(lambda q, m: q + 0.5 * h * m, state.params, v)  # A
        v = jax.tree.map(lambda m, xi, c: c1 * m + c2 * math.sqrt(c) * xi, v, noise, pre)  # O
        params = jax.tree.map(lambda q, m: q + 0.5 * h * m, params, v)  # A
        if integrator == "collapsed_readout":
            loss, grad = _collapsed_loss_and_grad(net, ridge, params, x, y, pre)
        else:
            loss, grad = _loss_and_grad(net, ridge, params, x, y)
        v = jax.tree.map(lambda m, g, c: m - 0.5 * h * c * g, v, grad, pre)  # B
        return ChainState(params, v, grad, state.key), loss

    return step


def _check_readout_moves(net: model.FCN, frozen, integrator: str) -> None:
    if net.depth - 1 in tuple(frozen):
        raise ValueError(f"frozen: the {integrator} integrator draws the readout layer {net.depth - 1}; it cannot be "
                         f"frozen (got {tuple(frozen)})")  # fmt: skip


def _gibbs_readout_step(net: model.FCN, ridge, step_size, friction, frozen=()):
    """make_step's "gibbs_readout" transition: a BAOAB step of the hidden layers with the readout r fixed, then an
    exact draw r' of the readout given the hidden layers (draw_readout). The draw acts at the BAOAB step's boundary,
    where the velocities are BAOAB's own (within O(h^2) of N(0, T P), independent of r): drawing r' mid-step, between
    the last two half-kicks, would leave in the velocities a first-order kick by the difference of the forces of r
    and r' (measured: a 7-20 s.e. bias of the posterior variance of a linear network).

    The closing half-kick with r and the next step's opening half-kick with r' are one kick by the sum of the two
    forces, one backward pass (the backward map is linear in the output cotangent), so the state's momentum is the
    velocity after that opening half-kick (a chain's first step treats its prior momentum as such) and every step
    costs one forward and one backward pass, as a BAOAB step, plus the draw; state.grad holds the mean of the two
    forces. The readout never moves by the Langevin part (its velocity is 0)."""
    _check_readout_moves(net, frozen, "gibbs_readout")
    h, gamma = step_size, friction
    decay, pre = _decay_and_precond(net, tuple(frozen) + (net.depth - 1,))

    def step(key: jax.Array, state: ChainState, batch) -> tuple[ChainState, jax.Array]:
        x, y = batch
        k_noise, k_readout = jax.random.split(key)
        noise = _normal_like(k_noise, state.params)
        c1 = jnp.exp(-gamma * h)
        c2 = jnp.sqrt(ridge * (1 - c1**2))
        v = jax.tree.map(lambda m, c: m if c else jnp.zeros_like(m), state.momentum, pre)  # the readout's: 0
        params = jax.tree.map(lambda q, m: q + 0.5 * h * m, state.params, v)  # A
        v = jax.tree.map(lambda m, xi, c: c1 * m + c2 * math.sqrt(c) * xi, v, noise, pre)  # O
        params = jax.tree.map(lambda q, m: q + 0.5 * h * m, params, v)  # A
        hidden, old = params[:-1], params[-1]
        feats, feature_pullback = jax.vjp(lambda p: features(net, p + [None], x), hidden)
        new = draw_readout(k_readout, net, ridge, params, feats, y)  # at the boundary of the BAOAB step: G

        def cotangent(r):  # d(SSE / 2) / d features, and SSE / 2, for readout r
            f, pullback = jax.vjp(lambda a: readout(net, hidden + [r], a), feats)
            return pullback(f - y)[0], 0.5 * jnp.sum((f - y) ** 2)

        (c_old, _), (c_new, loss) = cotangent(old), cotangent(new)
        (data_force,) = feature_pullback(c_old + c_new)  # B (closing, readout r) + B (opening, readout r')
        grad = jax.tree.map(lambda g, q, c: 0.5 * g + ridge * c * q, data_force, hidden, decay[:-1])
        grad = grad + [jax.tree.map(jnp.zeros_like, new)]
        v = jax.tree.map(lambda m, g, c: m - h * c * g, v, grad, pre)
        return ChainState(hidden + [new], v, grad, state.key), loss

    return step


def draw_readout(key: jax.Array, net: model.FCN, ridge, params: list[dict], h, y, chol=None) -> dict:
    """An exact draw of the readout layer (params[-1]) from its posterior given the layers below it, from the train
    features h = model.features(net, params, x) and labels y: the readout is a linear model f = Phi theta with prior
    N(0, S), S the prior variance (identity in NTK parametrisation), and Gaussian likelihood of variance T, so
    theta = theta0 + S Phi^T (G + T)^-1 (y - Phi theta0 - sqrt(T) eps) with theta0 a prior draw, eps ~ N(0, I) and
    G = Phi S Phi^T the readout's kernel (model.readout_kernel) is distributed as the posterior (Matheron's rule; an
    n x n Cholesky factorisation, readout_factor, which `chol` passes in where it is at hand). Zero-variance leaves
    stay 0."""
    k_prior, k_eps = jax.random.split(key)
    std = prior_std(net)[-1]
    r0 = jax.tree.map(lambda s, z: s * z, std, _normal_like(k_prior, params[-1]))
    f0, pullback = jax.vjp(lambda r: readout(net, params[:-1] + [r], h), r0)
    chol = readout_factor(net, ridge, h) if chol is None else chol
    eps = jax.random.normal(k_eps, y.shape, y.dtype)
    alpha = jax.scipy.linalg.cho_solve((chol, True), y - f0 - jnp.sqrt(ridge) * eps)
    (phi_t_alpha,) = pullback(alpha)
    return jax.tree.map(lambda r, s, u: r + s**2 * u, r0, std, phi_t_alpha)


def _advance(step, state: ChainState, batch) -> tuple[ChainState, jax.Array]:
    """One step of a chain that carries its own key (split here: the chain's next key and the step's noise)."""
    key, k_noise = jax.random.split(state.key)
    state, loss = step(k_noise, state, batch)
    return state._replace(key=key), loss


def _normal_like(key, tree):
    leaves, treedef = jax.tree.flatten(tree)
    keys = jax.random.split(key, len(leaves))
    return jax.tree.unflatten(
        treedef, [jax.random.normal(k, a.shape, a.dtype) for k, a in zip(keys, leaves, strict=True)]
    )


def init_chain(
    key: jax.Array, net: model.FCN, ridge: float, x, y, frozen=(), shared=None, integrator: str = "underdamped"
) -> ChainState:
    """A chain of `integrator` started from the prior; the layers listed in `frozen` are taken from `shared` (the
    same random features for every chain) and never move. For "collapsed_readout" the readout's velocity is 0 and
    the gradient is collapsed_potential's (the readout is drawn, not moved)."""
    if integrator not in INTEGRATORS:
        raise ValueError(f"integrator must be one of {INTEGRATORS} (got {integrator!r})")
    k_param, k_mom, k_chain = jax.random.split(key, 3)
    params = init_params(k_param, net)
    if frozen:
        params = [shared[i] if i in frozen else layer for i, layer in enumerate(params)]
    still = tuple(frozen) + ((net.depth - 1,) if integrator == "collapsed_readout" else ())
    _, pre = _decay_and_precond(net, still)
    momentum = jax.tree.map(lambda a, c: math.sqrt(ridge * c) * a, _normal_like(k_mom, params), pre)
    if integrator == "collapsed_readout":
        _, grad = _collapsed_loss_and_grad(net, ridge, params, x, y, pre)
    else:
        _, grad = _loss_and_grad(net, ridge, params, x, y)
    return ChainState(params, momentum, grad, k_chain)


def evaluate(net: model.FCN, integrator: str, ridge, state: ChainState, x, y, x_test):
    """What a sampler records of a chain at an evaluation: (state, f(x_test), E[f(x_test) | hidden layers, data] (the
    readout-marginal mean, readout_marginal_mean), the data loss SSE / 2), from one forward pass over the train
    points and one factorisation of G + T (readout_factor). For "collapsed_readout", whose dynamics never move the
    readout, the readout is first replaced by an exact draw from its posterior given the hidden layers
    (draw_readout; its key split off the chain's own), so that f and the loss are those of a joint-posterior draw."""
    h = features(net, state.params, x)
    chol = readout_factor(net, ridge, h)
    if integrator == "collapsed_readout":
        key, k_draw = jax.random.split(state.key)
        readout_draw = draw_readout(k_draw, net, ridge, state.params, h, y, chol)
        state = state._replace(params=state.params[:-1] + [readout_draw], key=key)
    h_test = features(net, state.params, x_test)
    marginal = _marginal_mean(net, h, chol, y, h_test)
    loss = 0.5 * jnp.sum((readout(net, state.params, h) - y) ** 2)
    return state, readout(net, state.params, h_test), marginal, loss


def _power_iteration(hvp, v0, iters: int):
    """The Rayleigh quotient of the last of `iters` power iterations of the linear map hvp (pytrees) from v0: the
    eigenvalue of largest modulus of a symmetric map, approached from below in modulus."""

    def dot(a, b):
        terms = [jnp.sum(u * w) for u, w in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)]
        return sum(terms, jnp.float32(0))

    def body(v, _):
        v = jax.tree.map(lambda a: a / jnp.sqrt(jnp.maximum(dot(v, v), 1e-30)), v)  # 0 where nothing moves
        w = hvp(v)
        return w, dot(v, w)

    return jax.lax.scan(body, v0, None, length=iters)[1][-1]


@partial(jax.jit, static_argnames=("net", "frozen", "iters"))
def collapsed_curvature(net: model.FCN, ridge, params, x, y, key, frozen=(), iters: int = 40) -> jax.Array:
    """|top eigenvalue| of the Hessian of collapsed_potential in the moving hidden leaves at params, by power
    iteration on Hessian-vector products from a random start (key): the mu_max of "collapsed_readout"'s schedule,
    measured (there is no closed form). In the prior-whitened coordinates of the samplers (NTK parametrisation);
    standard-parametrisation leaves are weighted by their preconditioner, as the dynamics see them."""
    _, pre = _decay_and_precond(net, tuple(frozen) + (net.depth - 1,))
    root = jax.tree.map(lambda c: jnp.sqrt(c), pre)  # the step moves theta by P grad: H in coordinates P^-1/2 theta

    def grad(p):
        return _collapsed_loss_and_grad(net, ridge, p, x, y, pre)[1]

    def hvp(v):
        tangent = jax.tree.map(lambda a, r: a * r, v, root)
        return jax.tree.map(lambda a, r: a * r, jax.jvp(grad, (params,), (tangent,))[1], root)

    v0 = jax.tree.map(lambda a, r: r * a, _normal_like(key, params), root)
    return jnp.abs(_power_iteration(hvp, v0, iters))


def chains_curvature(net: model.FCN, ridge, states: ChainState, x, y, key, frozen=()) -> float:
    """The largest collapsed_curvature over a batch of chains (leading axis of states, x, y), every chain's power
    iteration started from the same key: the mu_max of a "collapsed_readout" schedule for these states."""
    measure = partial(collapsed_curvature, net, ridge, key=key, frozen=tuple(frozen))
    return float(jax.vmap(lambda p, a, b: measure(p, a, b))(states.params, x, y).max())


@partial(jax.jit, static_argnames=("net", "integrator", "n_steps", "frozen"))
def run_steps(net, integrator, ridge, h, gamma, states, x, y, n_steps: int, frozen: tuple[int, ...] = ()):
    """Advance a batch of chains (leading axis) n_steps; x, y carry the same leading axis."""

    step = make_step(net, ridge, h, gamma, integrator, frozen)

    def one(state, xc, yc):
        def body(s, _):
            return _advance(step, s, (xc, yc))[0], None

        return jax.lax.scan(body, state, None, length=n_steps)[0]

    return jax.vmap(one)(states, x, y)


def readout_marginal_mean(net: model.FCN, params: list[dict], x, y, h_test, ridge) -> jax.Array:
    """E[f(x_test) | hidden layers, data] from the test points' features h_test (model.features): given every
    layer below it, the readout layer is a Bayesian linear model with a Gaussian prior, so its posterior can be
    integrated out exactly, G_*(G + T)^-1 y with G the readout's empirical kernel (model.readout_kernel;
    docs/finite_width_bayes.md Sec. 2). Its time average estimates the same posterior mean as that of f (a
    Rao-Blackwellisation) with the readout's own noise removed."""
    h_train = features(net, params, x)
    return _marginal_mean(net, h_train, readout_factor(net, ridge, h_train), y, h_test)


def _marginal_mean(net, h_train, chol, y, h_test):
    """G_*(G + T)^-1 y from the train features, the Cholesky factor of G + T (readout_factor) and the test features."""
    return readout_kernel(net, h_test, h_train) @ jax.scipy.linalg.cho_solve((chol, True), y)


@partial(jax.jit, static_argnames=("net", "integrator", "steps_per_eval", "n_evals", "n_probe", "frozen"))
def sample_block(
    net,
    integrator,
    ridge,
    h,
    gamma,
    states,
    x,
    y,
    x_test,
    steps_per_eval: int,
    n_evals: int,
    n_probe: int,
    frozen: tuple[int, ...] = (),
):
    """n_evals rounds of (steps_per_eval steps, evaluate f on x_test); returns sums of f, f^2 and of the
    readout-marginal mean (readout_marginal_mean), the data loss and f at the first n_probe test points at every
    evaluation (for autocorrelation diagnostics), and the sum of W1 W1^T / width."""

    step = make_step(net, ridge, h, gamma, integrator, frozen)

    def one(state, xc, yc):
        def round_(s, _):
            def body(s2, _):
                return _advance(step, s2, (xc, yc))

            s = jax.lax.scan(body, s, None, length=steps_per_eval)[0]
            s, f, marginal, loss = evaluate(net, integrator, ridge, s, xc, yc, x_test)
            w = s.params[0]["w"]  # (dim, fan_out): first-layer weights, one column per unit
            return s, (f, marginal, loss, w @ w.T / w.shape[1])

        state, (f, marginal, loss, m) = jax.lax.scan(round_, state, None, length=n_evals)
        return state, f.sum(0), (f**2).sum(0), marginal.sum(0), loss, f[:, :n_probe], m.sum(0)

    return jax.vmap(one)(states, x, y)


class Plan(NamedTuple):
    """How run_ensemble samples (the config's train block): the integrator, the step size as a fraction of its
    stability limit, and the run length in units of the slowest relaxation time. Plan() is BAOAB, the baseline every
    ratio of benchmarks/sampler_efficiency.py is taken against; the workflow's default (the config schema's) is
    collapsed_readout at step_factor 1, its fastest sampler that passes the exact references."""

    integrator: str = "underdamped"  # one of INTEGRATORS
    step_factor: float = 0.5  # in (0, 2): h = step_factor / (mu_max + T) overdamped, / sqrt(mu_max + T) otherwise
    burn_in: float = 5.0  # relaxation times discarded
    sample: float = 20.0  # relaxation times averaged over
    n_samples: int = 200  # evaluations of the test outputs, evenly spaced over `sample`
    evals_per_block: int = 20  # evaluations per compiled block (progress, checkpoints and memory, not results)

    @classmethod
    def from_config(cls, block: dict) -> Plan:
        """The plan of a config block (keys it does not name keep their defaults; other keys are ignored)."""
        return cls(**{k: block[k] for k in cls._fields if k in block})


DEFAULT_PLAN = Plan()


class Checkpoint(NamedTuple):
    """Where run_ensemble keeps its resumable state (.npz, no pickle), and how often it rewrites it."""

    path: str | os.PathLike
    seconds: float = 0.0  # at most one write per `seconds` of sampling (0: after every block)


class Schedule(NamedTuple):
    step_size: float
    friction: float
    steps_per_relaxation: float
    burn_in_steps: int
    steps_per_eval: int
    n_evals: int


def top_curvature(net: model.FCN, x, integrator: str = "underdamped") -> float:
    """The mu_max of `schedule` for train inputs x (n, d): the top eigenvalue of the analytic NTK Gram matrix, or for
    "gibbs_readout" (whose Langevin part moves the hidden layers only) of its hidden layers' part, NTK - NNGP (the
    readout layer's own term of the NTK is the NNGP; 0 at depth 1, where there are no hidden layers)."""
    if integrator not in INTEGRATORS:
        raise ValueError(f"integrator must be one of {INTEGRATORS} (got {integrator!r})")
    if integrator == "collapsed_readout":
        raise ValueError("integrator: the collapsed_readout curvature has no closed form; it is measured at a state "
                         "(collapsed_curvature)")  # fmt: skip
    ntk = kernels.gram(net, x, kind="ntk")
    if integrator == "gibbs_readout":
        ntk = ntk - kernels.gram(net, x, kind="nngp")
    return max(float(np.linalg.eigvalsh(ntk)[-1]), 0.0)


def schedule(mu_max: float, ridge: float, plan: Plan) -> Schedule:
    """Step size, friction and step counts of `plan` for NTK top eigenvalue mu_max and ridge T."""
    integrator, step_factor = plan.integrator, plan.step_factor
    if integrator not in INTEGRATORS:
        raise ValueError(f"integrator must be one of {INTEGRATORS} (got {integrator!r})")
    if ridge <= 0:
        raise ValueError(f"Langevin sampling needs ridge = temperature > 0 (got {ridge})")
    if not 0 < step_factor < 2:
        raise ValueError(f"step_factor must lie in (0, 2), the stability range (got {step_factor})")
    if not (plan.burn_in >= 0 and plan.sample > 0):
        raise ValueError(f"plan: need burn_in >= 0 and sample > 0 relaxation times (got {plan.burn_in}, {plan.sample})")
    if int(plan.n_samples) != plan.n_samples or plan.n_samples < 1 or plan.evals_per_block < 1:
        raise ValueError(f"plan: n_samples and evals_per_block must be integers >= 1 (got {plan.n_samples}, "
                         f"{plan.evals_per_block})")  # fmt: skip
    if integrator == "overdamped":
        h, gamma = step_factor / (mu_max + ridge), 0.0
        per_relax = 1.0 / (h * ridge)
    else:
        h, gamma = step_factor / math.sqrt(mu_max + ridge), 2.0 * math.sqrt(ridge)
        per_relax = 1.0 / (h * math.sqrt(ridge))
    sample_steps = plan.sample * per_relax
    steps_per_eval = max(1, round(sample_steps / plan.n_samples))
    return Schedule(h, gamma, per_relax, math.ceil(plan.burn_in * per_relax), steps_per_eval, int(plan.n_samples))


_SERIAL_LAPACK = {"limits": 1, "user_api": "blas"}


def serial_lapack():
    """A context in which OpenBLAS, which runs XLA's CPU LAPACK calls (the Cholesky factorisations and triangular
    solves of collapsed_readout and of the readout-marginal mean, through scipy), uses one thread: with its own
    threads it competes with XLA's for the cores. Measured on 2 cores (depth 6, n = 256, width 256, 8 chains): the
    collapsed gradient 62 -> 33 ms, a collapsed step 88 -> 49 ms. run_ensemble samples inside it."""
    return threadpool_limits(**_SERIAL_LAPACK)


@threadpool_limits.wrap(**_SERIAL_LAPACK)  # run_ensemble samples in serial_lapack
def run_ensemble(
    net: model.FCN,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    ridge: float,
    key: jax.Array,
    members: int,
    plan: Plan = DEFAULT_PLAN,
    *,
    frozen: tuple[int, ...] = (),
    n_probe: int = 8,
    checkpoint: Checkpoint | None = None,
    progress=None,
) -> xr.Dataset:
    """Sample `members` independent chains per dataset draw; x_train (draw, n, d), y_train (draw, n).

    One compiled program advances every chain (vmap over draws x members, lax.scan over steps); the chain axis is
    sharded over all local devices when it divides evenly. Test outputs are accumulated as float64 running sums
    between blocks of `plan.evals_per_block` evaluations, so memory does not grow with the number of steps.
    plan: the integrator, step size and run length (`Plan`).

    checkpoint: a `Checkpoint` (or a path: one with seconds = 0), a file written atomically after burn-in and
    after every block that ends at least `checkpoint.seconds` after the last write; if it exists and matches this run
    (a fingerprint of every input), sampling resumes from it and the result is identical to an uninterrupted run. It
    is removed on success.

    Returns the time average f_mean and time variance f_var of each chain's outputs on x_test
    (dims draw, member, test_sample), the data-loss and probe-output traces, and the effective sample size
    of the probes per chain, and the time-averaged first-layer weight second moment W1 W1^T / width (prior units).
    Raises FloatingPointError (naming the step and the parameter) if a chain diverges.
    progress(done, total, mean_loss, step) is called after every block (samples done of total, the mean data loss
    over chains at the last sample, the number of Langevin steps taken).

    frozen: weight-layer indices (0 = the input layer) that are not trained: every chain shares the same draw
    `shared_params(key, net)` of them, so e.g. frozen=(0,) at depth 2 samples the exact Gaussian posterior of a
    random-feature model.
    """
    n_draws, n, _ = x_train.shape
    if not isinstance(plan, Plan):
        raise ValueError(f"plan must be a langevin.Plan (got {type(plan).__name__}; from a dict: Plan.from_config)")
    if members < 2:
        raise ValueError(f"members must be >= 2 to estimate the sampling error (got {members})")
    integrator, evals_per_block = plan.integrator, plan.evals_per_block
    if isinstance(checkpoint, (str, os.PathLike)):
        checkpoint = Checkpoint(checkpoint)
    if checkpoint is not None and not isinstance(checkpoint, Checkpoint):
        raise ValueError(f"checkpoint must be a path or a langevin.Checkpoint (got {type(checkpoint).__name__})")
    checkpoint, checkpoint_seconds = (None, 0.0) if checkpoint is None else checkpoint
    n_chains = n_draws * members
    n_probe = min(n_probe, len(x_test))
    xc = jnp.asarray(np.repeat(x_train, members, axis=0), jnp.float32)
    yc = jnp.asarray(np.repeat(y_train, members, axis=0), jnp.float32)
    xt = jnp.asarray(x_test, jnp.float32)
    frozen = tuple(sorted(set(frozen)))
    if any(not 0 <= i < net.depth for i in frozen):
        raise ValueError(f"frozen layers must lie in 0..{net.depth - 1} (got {frozen})")
    if integrator in ("gibbs_readout", "collapsed_readout"):
        _check_readout_moves(net, frozen, integrator)
    keys = jax.random.split(key, n_chains)
    shared = shared_params(key, net) if frozen else None
    states = jax.vmap(lambda k, a, b: init_chain(k, net, ridge, a, b, frozen, shared, integrator))(keys, xc, yc)
    if integrator == "collapsed_readout":  # measured at the prior draws for the burn-in, again after it
        _warn_if_deadlocking_jaxlib()
        mu_max = chains_curvature(net, ridge, states, xc, yc, jax.random.fold_in(key, 1), frozen)
    else:
        mu_max = max(top_curvature(net, xb, integrator) for xb in x_train)
    sch = schedule(mu_max, ridge, plan)  # the burn-in's; the sampling's below (the same but for collapsed_readout)
    states, xc, yc, xt, n_devices = _shard(states, xc, yc, xt)
    burn_args = (net, integrator, jnp.float32(ridge), jnp.float32(sch.step_size), jnp.float32(sch.friction))
    fingerprint = _fingerprint(
        net, x_train, y_train, x_test, ridge, key, members, sch, evals_per_block, (n_probe, frozen)
    )

    sums = {
        "f": np.zeros((n_chains, len(x_test))),
        "f2": np.zeros((n_chains, len(x_test))),
        "marginal": np.zeros((n_chains, len(x_test))),
        "w": np.zeros((n_chains, net.dim, net.dim)),
    }
    trace, probes, done, burned = [], [], 0, False
    loaded = None
    if checkpoint is not None and Path(checkpoint).exists():
        loaded = _load_checkpoint(checkpoint, fingerprint, states, sums)
    if loaded is not None:
        states, done, sums, trace, probes, mu_sample = loaded
        states = _shard(states, xc, yc, xt)[0]
        burned = True
    t0 = last_save = time.perf_counter()
    if not burned:
        states = run_steps(*burn_args, states, xc, yc, n_steps=sch.burn_in_steps, frozen=frozen)
        _check_finite(states.params, f"burn-in (steps 1..{sch.burn_in_steps})")
        mu_sample = mu_max
        if integrator == "collapsed_readout":  # the posterior's curvature, 1.6-10x below the prior draws'
            mu_sample = chains_curvature(net, ridge, states, xc, yc, jax.random.fold_in(key, 2), frozen)
        if checkpoint is not None:
            _save_checkpoint(checkpoint, fingerprint, states, done, sums, trace, probes, mu_sample)
    sample = schedule(mu_sample, ridge, plan)
    args = (net, integrator, jnp.float32(ridge), jnp.float32(sample.step_size), jnp.float32(sample.friction))
    while done < sample.n_evals:
        k = min(evals_per_block, sample.n_evals - done)
        states, fs, f2s, ms, loss, probe, ws = sample_block(
            *args, states, xc, yc, xt, steps_per_eval=sample.steps_per_eval, n_evals=k, n_probe=n_probe, frozen=frozen
        )
        loss = np.asarray(loss, np.float64)
        step = sch.burn_in_steps + (done + k) * sample.steps_per_eval
        _check_finite(states.params, f"sampling, by step {step}")
        for name, block in (("f", fs), ("f2", f2s), ("marginal", ms), ("w", ws)):
            sums[name] += np.asarray(block, np.float64)
        trace.append(loss)
        probes.append(np.asarray(probe, np.float64))
        done += k
        due = time.perf_counter() - last_save >= checkpoint_seconds
        if checkpoint is not None and due and done < sample.n_evals:
            last_save = time.perf_counter()
            _save_checkpoint(checkpoint, fingerprint, states, done, sums, trace, probes, mu_sample)
        if progress is not None:
            progress(done, sample.n_evals, float(loss[:, -1].mean()), step)
    out = _result(net, sums, trace, probes, sample, (n_draws, members), n_probe)
    out.attrs.update(
        {
            "integrator": integrator,
            "frozen_layers": list(frozen),
            "ridge": float(ridge),
            "curvature": float(mu_sample),
            "burn_in_curvature": float(mu_max),
            "step_size": sample.step_size,
            "burn_in_step_size": sch.step_size,
            "friction": sample.friction,
            "steps_per_relaxation": sample.steps_per_relaxation,
            "burn_in_steps": sch.burn_in_steps,
            "steps_per_eval": sample.steps_per_eval,
            "n_evals": sample.n_evals,
            "total_steps": sch.burn_in_steps + sample.steps_per_eval * sample.n_evals,
            "wall_seconds": time.perf_counter() - t0,
            "resumed_from_checkpoint": int(loaded is not None),
            "devices": n_devices,
            "device": str(jax.devices()[0]),
            "description": RESULT_DESCRIPTION,
        }
    )
    if net.depth - 1 in frozen:  # a fixed readout is not integrated out by the posterior: no marginal mean
        out = out.drop_vars("f_mean_marginal")
    if checkpoint is not None and Path(checkpoint).exists():
        Path(checkpoint).unlink()
    return out


RESULT_DESCRIPTION = (
    "curvature: the mu_max of the sampling schedule (step_size = step_factor / sqrt(curvature + T)): the top "
    "eigenvalue of the analytic NTK Gram matrix of the train set (underdamped, overdamped), of its hidden layers' "
    "part (gibbs_readout), or collapsed_readout's measured top Hessian eigenvalue of the collapsed potential after "
    "burn-in (burn_in_curvature, burn_in_step_size: the same at the prior draws, for the burn-in); "
    "f_mean_marginal: time average of E[f | hidden layers, data] (the readout integrated out "
    "exactly; the same posterior mean as f_mean with less noise); "
    "probe_trace: f at the first test points per evaluation; ess: effective sample size of the "
    "probes (Sokal windowed integrated autocorrelation), mean over probes; first_layer_moment: time average of "
    "W1 W1^T / width in units of the prior variance (prior: identity), so u^T M u = mean over first-layer "
    "units of (u.w)^2"
)


def _warn_if_deadlocking_jaxlib() -> None:
    """Warn where XLA:CPU is known to hang in collapsed_curvature: jaxlib 0.10.0-0.10.2 deadlocked (every thread idle,
    forever) in all 29 runs of its power iteration over 56-128 chains at n = 64, width 256; jaxlib 0.9.2, which the
    pinned environment holds, in none of 10 (docs/finite_width_bayes.md Sec. 5b)."""
    import jaxlib

    if jax.default_backend() == "cpu" and jaxlib.__version__.startswith("0.10."):
        warnings.warn(
            f"jaxlib {jaxlib.__version__} on CPU can deadlock in the collapsed_readout curvature with many chains; "
            "use the pinned environment (envs/requirements.lock: jaxlib 0.9.2)",
            RuntimeWarning,
            stacklevel=3,
        )


def _result(net: model.FCN, sums: dict, trace: list, probes: list, sch: Schedule, shape, n_probe: int) -> xr.Dataset:
    """The run's labelled result from the running sums and the per-block traces (run_ensemble's return value,
    before its attrs)."""
    f_mean = sums["f"] / sch.n_evals
    f_var = np.maximum(sums["f2"] / sch.n_evals - f_mean**2, 0.0)
    marginal = sums["marginal"] / sch.n_evals
    probe_trace = np.concatenate(probes, axis=1)  # (chain, record, probe)
    ess = np.array([[effective_sample_size(pt[:, j]) for j in range(n_probe)] for pt in probe_trace]).mean(1)
    members = shape[1]
    return xr.Dataset(
        {
            "f_mean": (("draw", "member", "test_sample"), f_mean.reshape(*shape, -1)),
            "f_var": (("draw", "member", "test_sample"), f_var.reshape(*shape, -1)),
            "f_mean_marginal": (("draw", "member", "test_sample"), marginal.reshape(*shape, -1)),
            "loss": (("draw", "member", "record"), np.concatenate(trace, axis=1).reshape(*shape, -1)),
            "probe_trace": (("draw", "member", "record", "probe"), probe_trace.reshape(*shape, *probe_trace.shape[1:])),
            "ess": (("draw", "member"), ess.reshape(shape)),
            "first_layer_moment": (
                ("draw", "member", "input_i", "input_j"),
                (sums["w"] / sch.n_evals / prior_std(net)[0]["w"] ** 2).reshape(*shape, net.dim, net.dim),
            ),
        },
        coords={"member": np.arange(members), "record": np.arange(sch.n_evals), "probe": np.arange(n_probe)},
    )


def shared_params(key: jax.Array, net: model.FCN) -> list[dict]:
    """The prior draw that frozen layers take in every chain of run_ensemble(key=key)."""
    return init_params(jax.random.fold_in(key, 0x5EED), net)


def effective_sample_size(series: np.ndarray, c: float = 5.0) -> float:
    """n / tau_int with Sokal's automatic window (the smallest W with W >= c tau_int(W))."""
    x = np.asarray(series, dtype=np.float64) - np.mean(series)
    n = x.size
    if n < 4 or not np.any(x):
        return float(n)
    f = np.fft.rfft(x, 2 * n)
    acf = np.fft.irfft(f * np.conj(f))[:n]
    acf /= acf[0]
    tau = 2 * np.cumsum(acf) - 1
    window = np.arange(n) >= c * tau
    w = int(np.argmax(window)) if window.any() else n - 1
    return float(n / max(tau[w], 1.0))


def _shard(states, xc, yc, xt):
    """Shard the chain axis over all local devices when it divides evenly (replicate the test inputs)."""
    devices = jax.devices()
    if len(devices) < 2 or xc.shape[0] % len(devices):
        return states, xc, yc, xt, 1
    mesh = jax.sharding.Mesh(np.array(devices), ("chain",))
    by_chain = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("chain"))
    replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
    states = jax.tree.map(lambda a: jax.device_put(a, by_chain), states)
    xc, yc, xt = jax.device_put(xc, by_chain), jax.device_put(yc, by_chain), jax.device_put(xt, replicated)
    return states, xc, yc, xt, len(devices)


def _fingerprint(net, x_train, y_train, x_test, ridge, key, members, sch, evals_per_block, options) -> str:
    h = hashlib.sha256()
    h.update(repr((net, float(ridge), members, tuple(sch), evals_per_block, options)).encode())
    for a in (x_train, y_train, x_test, np.asarray(jax.random.key_data(key))):
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _save_checkpoint(path, fingerprint, states, done, sums: dict, trace, probes, curvature: float) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    leaves = jax.tree.leaves(states._replace(key=jax.random.key_data(states.key)))
    arrays = {f"leaf{i}": np.asarray(a) for i, a in enumerate(leaves)}
    n_chains = sums["f"].shape[0]
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        np.savez(
            fh,
            fingerprint=np.array(fingerprint),
            done=np.array(done),
            curvature=np.array(curvature),
            **{f"sum_{k}": v for k, v in sums.items()},
            trace=np.concatenate(trace, axis=1) if trace else np.zeros((n_chains, 0)),
            probes=np.concatenate(probes, axis=1) if probes else np.zeros((n_chains, 0, 0)),
            **arrays,
        )
    os.replace(tmp, path)


def _load_checkpoint(path, fingerprint, like_states, like_sums: dict):
    """The saved state if it belongs to this run, else None (a stale checkpoint is ignored)."""
    with np.load(path, allow_pickle=False) as z:
        if str(z["fingerprint"]) != fingerprint or "curvature" not in z or any(f"sum_{k}" not in z for k in like_sums):
            return None
        template = like_states._replace(key=jax.random.key_data(like_states.key))
        treedef = jax.tree.structure(template)
        leaves = [jnp.asarray(z[f"leaf{i}"]) for i in range(treedef.num_leaves)]
        states = jax.tree.unflatten(treedef, leaves)
        states = states._replace(key=jax.random.wrap_key_data(states.key))
        trace = [z["trace"]] if z["trace"].shape[1] else []
        probes = [z["probes"]] if z["probes"].shape[1] else []
        sums = {k: z[f"sum_{k}"].copy() for k in like_sums}
        return states, int(z["done"]), sums, trace, probes, float(z["curvature"])


def _check_finite(tree, where: str) -> None:
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        bad = ~np.isfinite(np.asarray(leaf))
        if bad.any():
            raise FloatingPointError(
                f"Langevin dynamics diverged (NaN/inf) during {where}: parameter {jax.tree_util.keystr(path)} has "
                f"{int(bad.sum())} non-finite entries; lower train.step_factor. Nothing was stored."
            )


def chain_means(run: xr.Dataset) -> np.ndarray:
    """Each chain's estimate of the posterior mean on the test points (draw, member, test_sample): the time average
    of the readout-marginal mean where the run has it (run_ensemble; less noise), else that of f (HMC runs, runs
    with a frozen readout)."""
    return (run.f_mean_marginal if "f_mean_marginal" in run else run.f_mean).values


def posterior_mean_mse(f_mean: np.ndarray, g_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Test MSE of the posterior mean estimated from independent chains, with its Monte Carlo standard error.

    f_mean (..., member, test_sample) are per-chain time averages. The member average fbar has
    E||fbar - g||^2 = ||mu - g||^2 + mean_x Var(fbar), so the unbiased estimate subtracts mean_x s^2 / M
    (s^2 the across-member sample variance). The standard error is the delete-one jackknife over members; it
    needs M >= 3 (NaN for M = 2, where the estimate itself is still unbiased).
    """

    def estimate(f):
        m = f.shape[-2]
        fbar = f.mean(-2)
        s2 = f.var(-2, ddof=1)
        return ((fbar - g_test) ** 2).mean(-1) - s2.mean(-1) / m

    m = f_mean.shape[-2]
    if m < 2:
        raise ValueError(f"f_mean: the posterior-mean MSE needs >= 2 chains per dataset (got {m})")
    full = estimate(f_mean)
    if m == 2:
        return full, np.full_like(full, np.nan)
    loo = np.stack([estimate(np.delete(f_mean, i, axis=-2)) for i in range(m)], axis=-1)
    se = np.sqrt((m - 1) / m * ((loo - loo.mean(-1, keepdims=True)) ** 2).sum(-1))
    return full, se


def network_summary(data: xr.Dataset, gp: xr.Dataset, train) -> xr.Dataset:
    """Per n_train of one width's train stores: the networks' posterior-mean test MSE (bias-corrected,
    posterior_mean_mse, with its MC s.e.), the exact GP's on the same draws and test set, their ratio, and the relative
    distance of the two posterior means (incl. MC noise). train: a Dataset with an n_train dimension, or a sequence of
    them (one per store: their chain counts may differ, e.g. the width-convergence size has more chains, so they are
    summarised one by one, never aligned on `member`)."""
    stores = [train] if isinstance(train, xr.Dataset) else list(train)
    if not stores:
        raise ValueError("train: need at least one train store")
    g = data.g_test.values
    rows, sizes = [], []
    for store_ in stores:
        for n in store_.n_train.values:
            t = store_.sel(n_train=n)
            means = chain_means(t)
            mse, se = posterior_mean_mse(means, g)  # (draw,)
            draws = t.draw.values
            gp_same = gp.mse_test.sel(n_train=n, draw=draws).values
            f_net = means.mean(1)
            f_gp = gp.f_test.sel(n_train=n, draw=draws).values
            rel = np.linalg.norm(f_net - f_gp, axis=-1) / np.linalg.norm(f_gp, axis=-1)
            rows.append(
                {
                    "mse_net": mse.mean(),
                    "mse_net_se": np.sqrt((se**2).sum()) / se.size,
                    "mse_gp_same": gp_same.mean(),
                    "ratio": mse.mean() / gp_same.mean(),
                    "ratio_se": np.sqrt((se**2).sum()) / se.size / gp_same.mean(),
                    "rel_distance": rel.mean(),
                }
            )
            sizes.append(n)
    return xr.Dataset(
        {k: ("n_train", np.array([r[k] for r in rows])) for k in rows[0]},
        coords={"n_train": np.asarray(sizes)},
        attrs={"draws": int(stores[0].sizes["draw"])},
    )
