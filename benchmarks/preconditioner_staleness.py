"""Why a constant Gauss-Newton mass matrix does not speed up the posterior sampler (issue 18, a negative result).

BAOAB's step is limited by the data-fit curvature: the Hessian of U / T is close to the Gauss-Newton matrix
I + J^T J / T in the prior-whitened coordinates (J: the train outputs' Jacobian, n x parameters; J J^T the
empirical NTK Gram matrix), whose top eigenvalue mu_max / T + 1 sets ~sqrt(mu_max / T) steps per relaxation time.
With the constant mass M = I + J0^T J0 / T taken at one state (only n directions: Woodbury), every mode of a model
whose Jacobian stays J0 oscillates at the same frequency, and the step would be limited by nothing but the prior.
What limits it instead is the Jacobian at the states the chain visits: the top squared frequency is bounded by
kappa = 1 + lambda_max(J M^-1 J^T) / T (< 2 at the state M was taken at), and BAOAB with mass M needs ~sqrt(kappa)
steps per relaxation time.

This script measures kappa along the production sampler's own trajectory: chains of the default BAOAB plan, burnt in
(5 relaxation times), give J0 and M; the same chains then move on with BAOAB, and kappa is evaluated at the states
they reach after a fraction of a relaxation time (1 / sqrt(T), the slowest modes', the prior's). The ~P - n weight
directions the data do not constrain diffuse by O(1) prior units per relaxation time, so J's rows rotate in parameter
space even though the NTK Gram matrix J J^T barely changes; kappa approaches mu_max / T + 1 within a small fraction
of a relaxation time, long before the sampler has decorrelated. First it checks the Woodbury mass against the dense
matrix (P^-1 + J^T J / T)^-1.

Usage: .venv/bin/python benchmarks/preconditioner_staleness.py [--chains 4] (~1 min on 2 CPU cores)
"""

from __future__ import annotations

import argparse
import math

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
from sampler_efficiency import DIM, WIDTH, problem

from nnft import model
from nnft.sampling import langevin

FRACTIONS = (0.0, 0.01, 0.03, 0.1, 0.3, 1.0)  # relaxation times 1 / sqrt(T) after the mass is taken


def mass(net, ridge, params, x):
    """(rows, curvature): V^T (a pytree with a leading axis of n: the normalised rows of J P^1/2) and s_k^2 / T for
    the eigenvalues s_k^2 of J P J^T; directions with s_k^2 < 1e-10 max are dropped."""
    _, pre = langevin._decay_and_precond(net)
    jac = jax.jacrev(lambda p: model.apply(net, p, x))(params)  # leaves (n, *leaf)
    white = jax.tree.map(lambda j, c: j * jnp.sqrt(jnp.asarray(c, j.dtype)), jac, pre)
    n = x.shape[0]
    gram = sum(jnp.reshape(j, (n, -1)) @ jnp.reshape(j, (n, -1)).T for j in jax.tree.leaves(white))
    s2, u = jnp.linalg.eigh(gram)
    keep = s2 > 1e-10 * s2[-1]
    inv_s = jnp.where(keep, 1.0 / jnp.sqrt(jnp.where(keep, s2, 1.0)), 0.0)
    rows = jax.tree.map(lambda j: jnp.tensordot(u.T * inv_s[:, None], j, axes=1), white)
    return rows, jnp.where(keep, s2, 0.0) / ridge


def inverse_mass(net, m, g):
    """M^-1 g = P^1/2 (I - V diag(c / (1 + c)) V^T) P^1/2 g (Woodbury on the n directions)."""
    rows, curvature = m
    _, pre = langevin._decay_and_precond(net)
    white = jax.tree.map(lambda t, c: math.sqrt(c) * t, g, pre)
    pairs = zip(jax.tree.leaves(rows), jax.tree.leaves(white), strict=True)
    coef = curvature / (1 + curvature) * sum(jnp.tensordot(r, t, axes=t.ndim) for r, t in pairs)
    out = jax.tree.map(lambda t, r: t - jnp.tensordot(coef, r, axes=1), white, rows)
    return jax.tree.map(lambda t, c: math.sqrt(c) * t, out, pre)


def staleness(net, ridge, params, x, m):
    """kappa = 1 + lambda_max(J M^-1 J^T) / T with J the train Jacobian at params."""
    jac = jax.jacrev(lambda p: model.apply(net, p, x))(params)
    n = x.shape[0]
    flat = jnp.concatenate([jnp.reshape(a, (n, -1)) for a in jax.tree.leaves(jac)], 1)
    minv = jax.vmap(lambda i: inverse_mass(net, m, jax.tree.map(lambda a: a[i], jac)))(jnp.arange(n))
    flat_minv = jnp.concatenate([jnp.reshape(a, (n, -1)) for a in jax.tree.leaves(minv)], 1)
    gram = flat @ flat_minv.T
    return 1.0 + jnp.linalg.eigvalsh(0.5 * (gram + gram.T))[-1] / ridge


def check_woodbury() -> float:
    """Largest relative deviation of inverse_mass from the dense (P^-1 + J^T J / T)^-1 on a small tanh network in
    standard parametrisation (leaves of different prior variance; zero-variance biases never move)."""
    net = model.FCN(dim=3, depth=2, width=4, activation="tanh", sigma_w2=(2.0, 1.0), sigma_b2=(0.0, 0.1),
                    input_scaling="sqrt_d", parametrization="standard")  # fmt: skip
    ridge = 0.05
    with jax.enable_x64(True):
        x = jnp.asarray(np.random.default_rng(0).standard_normal((5, 3)))
        params = model.init_params(jax.random.key(1), net, jnp.float64)
        flat, unravel = jax.flatten_util.ravel_pytree(params)
        j = np.asarray(jax.jacrev(lambda v: model.apply(net, unravel(v), x))(flat))
        _, pre = langevin._decay_and_precond(net)
        p = np.asarray(jax.flatten_util.ravel_pytree(jax.tree.map(lambda a, c: jnp.full(a.shape, c), params, pre))[0])
        on = p > 0
        dense = np.linalg.inv(np.diag(1 / p[on]) + j[:, on].T @ j[:, on] / ridge)
        m = mass(net, ridge, params, x)
        cols = [jax.flatten_util.ravel_pytree(inverse_mass(net, m, unravel(e)))[0] for e in jnp.eye(flat.size)]
        woodbury = np.stack([np.asarray(c) for c in cols], 1)
    return float(np.abs(woodbury[np.ix_(on, on)] - dense).max() / np.abs(dense).max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chains", type=int, default=4)
    options = parser.parse_args()
    print(f"Woodbury mass vs dense (P^-1 + J^T J / T)^-1: max relative deviation {check_woodbury():.1e}")
    net = model.FCN(dim=DIM, depth=3, width=WIDTH, activation="relu", sigma_w2=2.0, sigma_b2=0.0)
    x, y, _ = problem(64)
    chains = options.chains
    xc = jnp.asarray(np.repeat(x[None], chains, 0), jnp.float32)
    yc = jnp.asarray(np.repeat(y[None], chains, 0), jnp.float32)
    mu = langevin.top_curvature(net, x)
    print(f"ReLU depth 3, width {WIDTH}, n = 64 on S^{DIM - 1}; mu_max = {mu:.1f}; {chains} chains; kappa: the top "
          f"squared frequency (units of T) left by the mass taken at t = 0, max over chains")  # fmt: skip
    print(f"{'ridge':>6} {'mu/T + 1':>9}  " + "  ".join(f"t={f:<5g}" for f in FRACTIONS))
    for ridge in (0.05, 0.01):
        row = kappa_row(net, ridge, xc, yc, mu)
        print(f"{ridge:6.2f} {mu / ridge + 1:9.0f}  " + "  ".join(f"{k:7.1f}" for k in row), flush=True)


def kappa_row(net, ridge: float, xc, yc, mu: float) -> list[float]:
    """kappa (max over chains) at each of FRACTIONS relaxation times after the mass is taken, along BAOAB chains of
    the default plan started from the prior and burnt in."""
    sch = langevin.schedule(mu, ridge, langevin.Plan())
    init = jax.vmap(lambda k, a, b: langevin.init_chain(k, net, ridge, a, b))
    states = init(jax.random.split(jax.random.key(0), xc.shape[0]), xc, yc)
    run = (net, "underdamped", jnp.float32(ridge), jnp.float32(sch.step_size), jnp.float32(sch.friction))
    states = langevin.run_steps(*run, states, xc, yc, n_steps=sch.burn_in_steps)
    m = jax.jit(jax.vmap(lambda s, a: mass(net, ridge, s.params, a)))(states, xc)
    kappa = jax.jit(jax.vmap(lambda s, a, mm: staleness(net, ridge, s.params, a, mm)))
    row, done = [], 0
    for fraction in FRACTIONS:
        target = round(fraction * sch.steps_per_relaxation)
        if target > done:
            states = langevin.run_steps(*run, states, xc, yc, n_steps=target - done)
            done = target
        row.append(float(np.max(kappa(states, xc, m))))
    return row


if __name__ == "__main__":
    main()
