"""The samplers' public transitions, step(key, state, batch), in the style of BlackJAX and optax: each is a pure
function of its inputs (the same key, state and batch give the same result; another key another one), the ensemble
drivers are loops over it (run_steps reproduces a hand-written loop of make_step), and each step leaves its
posterior invariant in the simplest check there is: a linear model's exact Gaussian posterior, whose mean the
drivers' tests (test_langevin, test_metropolis, test_bayes_linear) check to Monte Carlo error."""

import blackjax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nnft import model
from nnft.sampling import gibbs, langevin, metropolis


def _data(leaf):
    return jax.random.key_data(leaf) if jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key) else leaf


def _tree_equal(a, b):
    return all(np.array_equal(_data(u), _data(v)) for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True))


@pytest.mark.parametrize("integrator", langevin.INTEGRATORS)
def test_langevin_step_is_pure_and_run_steps_is_its_loop(linear_problem, integrator):
    net, x, y, *_ = linear_problem
    if integrator == "collapsed_readout":  # it moves the hidden layers only: give it one
        net = model.FCN(dim=net.dim, depth=2, width=6, activation="tanh")
    x, y = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)
    ridge, h, gamma = jnp.float32(0.3), jnp.float32(0.05), jnp.float32(1.1)
    state = langevin.init_chain(jax.random.key(0), net, 0.3, x, y, integrator=integrator)
    step = langevin.make_step(net, ridge, h, gamma, integrator)
    k1, k2 = jax.random.split(jax.random.key(1))
    a, b, c = step(k1, state, (x, y)), step(k1, state, (x, y)), step(k2, state, (x, y))
    assert _tree_equal(a, b) and not _tree_equal(a[0].params, c[0].params)
    assert _tree_equal(a[0].key, state.key)  # the step never touches the chain's own key

    def loop(s, _):
        key, k_noise = jax.random.split(s.key)
        s, _ = step(k_noise, s, (x, y))
        return s._replace(key=key), None

    by_hand = jax.jit(lambda s: jax.lax.scan(loop, s, None, length=25)[0])(state)
    batched = jax.tree.map(lambda v: v[None], state)
    driven = langevin.run_steps(net, integrator, ridge, h, gamma, batched, x[None], y[None], n_steps=25)
    for u, v in zip(jax.tree.leaves(by_hand.params), jax.tree.leaves(driven.params), strict=True):
        np.testing.assert_allclose(u, v[0], rtol=1e-5, atol=1e-6)


def test_langevin_make_step_refuses_an_unknown_integrator(linear_problem):
    with pytest.raises(ValueError, match="integrator"):
        langevin.make_step(linear_problem[0], 0.3, 0.05, 1.0, "leapfrog")


def test_hmc_step_is_pure_and_keeps_the_density(linear_problem):
    net, x, y, *_ = linear_problem
    x, y = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)
    logdensity = metropolis.log_density(net, 0.3, x, y)
    position = metropolis._position(net, model.init_params(jax.random.key(2), net))
    state = blackjax.hmc.init(position, logdensity)
    step = metropolis.make_step(net, 0.3, "leapfrog", jnp.float32(0.05), jnp.float32(10), jnp.float32(0.5))
    new, info = step(jax.random.key(3), state, (x, y))
    again, _ = step(jax.random.key(3), state, (x, y))
    assert _tree_equal(new, again)
    assert 0.0 <= float(info.acceptance_rate) <= 1.0 and 1 <= int(info.num_integration_steps) <= 10
    assert float(new.logdensity) == pytest.approx(float(logdensity(new.position)), rel=1e-5)
    with pytest.raises(ValueError, match="integrator"):
        metropolis.make_step(net, 0.3, "euler", 0.05, 10, 0.5)


def test_gibbs_step_is_pure():
    net = model.FCN(dim=4, depth=2, activation="identity", sigma_w2=1.0, sigma_b2=0.0, width=6)
    rng = np.random.default_rng(0)
    x, y = jnp.asarray(rng.standard_normal((5, 4))), jnp.asarray(rng.standard_normal(5))
    state = (jnp.asarray(rng.standard_normal((4, 6))), jnp.asarray(rng.standard_normal(6)))
    step = gibbs.make_step(net, 0.2)
    a, b = step(jax.random.key(4), state, (x, y)), step(jax.random.key(4), state, (x, y))
    c = step(jax.random.key(5), state, (x, y))
    assert _tree_equal(a, b) and not _tree_equal(a, c)
    assert a[0].shape == (4, 6) and a[1].shape == (6,)


@pytest.mark.parametrize("parametrization", ["ntk", "standard"])
def test_draw_readout_is_the_conditional_posterior(parametrization):
    # Given the hidden layer, the readout (w, b) of a depth-2 ReLU network is Bayesian linear regression on the
    # features phi = s(z1) with prior N(0, S) and noise variance T: the draws' mean and covariance of (w, b) match the
    # closed form A^-1 Phi^T y / T, A^-1 (A = Phi^T Phi / T + S^-1, float64) within Monte Carlo error.
    net = model.FCN(dim=4, depth=2, width=5, sigma_w2=2.0, sigma_b2=0.3, parametrization=parametrization)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((7, 4))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y = rng.standard_normal(7)
    ridge = 0.2
    params = model.init_params(jax.random.key(0), net)
    h = model.features(net, params, jnp.asarray(x, jnp.float32))
    draws = jax.jit(jax.vmap(lambda k: langevin.draw_readout(k, net, ridge, params, h, jnp.asarray(y, jnp.float32))))(
        jax.random.split(jax.random.key(1), 40_000)
    )
    theta = np.c_[np.asarray(draws["w"])[:, :, 0], np.asarray(draws["b"])]  # (draw, width + 1)
    std = model.prior_std(net)[-1]
    w2, b2 = net.layer_variances()[-1]
    scale = (np.sqrt(w2 / net.width), np.sqrt(b2)) if parametrization == "ntk" else (1.0, 1.0)
    phi = np.c_[scale[0] * np.asarray(h, np.float64), scale[1] * np.ones(len(x))]
    prior_var = np.r_[np.full(net.width, std["w"] ** 2), std["b"] ** 2]
    cov = np.linalg.inv(phi.T @ phi / ridge + np.diag(1 / prior_var))
    mean = cov @ phi.T @ y / ridge
    z = (theta.mean(0) - mean) / np.sqrt(np.diag(cov) / len(theta))
    assert np.abs(z).max() < 4.5, z
    emp = np.cov(theta.T)
    se = np.sqrt((cov**2 + np.outer(np.diag(cov), np.diag(cov))) / len(theta))  # s.e. of a Gaussian sample covariance
    assert np.abs((emp - cov) / se).max() < 4.5
    # power: the prior (the draw's starting point) is far off
    assert np.abs((theta.mean(0) - 0) / np.sqrt(np.diag(cov) / len(theta))).max() > 50
