"""metropolis.py: HMC on langevin.potential reproduces exact posteriors (docs/finite_width_bayes.md) with no
step-size bias: the Gaussian posterior of a linear model in both parametrisations, and the non-Gaussian posterior
of a width-2 tanh network computed independently by integrating out its readout analytically."""

import jax
import numpy as np
import pytest

from nnft import model, sphere
from nnft.sampling import langevin, metropolis
from nnft.theory import kernels
from tests.chains import total_variance


def _linear_weight_moment(net, x, y, ridge):
    """Exact posterior E[w w^T] of the depth-1 model's weights in prior units (standard-normal coordinates):
    features phi = [sqrt(sigma_w2 g) x, sqrt(sigma_b2)], precision I + phi^T phi / T, mean Sigma phi^T y / T."""
    ((w2, b2),) = net.layer_variances()
    phi = np.c_[np.sqrt(w2 * net.input_gain2) * x, np.full(len(x), np.sqrt(b2))]
    cov = np.linalg.inv(np.eye(phi.shape[1]) + phi.T @ phi / ridge)
    mu = cov @ phi.T @ y / ridge
    return (cov + np.outer(mu, mu))[: net.dim, : net.dim]


@pytest.fixture(scope="module")
def linear_run(linear_problem):
    """HMC runs of the linear problem, cached per (parametrisation, integrator)."""
    net, x, y, xt, ridge, *_ = linear_problem
    cache = {}

    def get(parametrization="ntk", integrator="leapfrog"):
        if (parametrization, integrator) not in cache:
            net_p = model.FCN(**{**net.__dict__, "parametrization": parametrization})
            cache[parametrization, integrator] = metropolis.run_hmc_ensemble(
                net_p,
                x[None],
                y[None],
                xt,
                ridge,
                jax.random.key(3),
                members=32,
                plan=metropolis.Plan(warmup_iterations=40, n_samples=200, integrator=integrator),
            )
        return cache[parametrization, integrator]

    return get


def _mean_and_total_variance(out):
    """Across-chain mean of f and the total variance (mean within-chain + between-chain variance of the time
    averages), with standard errors: independent chains for the mean, delete-one jackknife for the variance."""
    fm, fv = out.f_mean.values[0], out.f_var.values[0]
    return fm.mean(0), fm.std(0, ddof=1) / np.sqrt(fm.shape[0]), *total_variance(fm, fv)


@pytest.mark.parametrize(
    "parametrization, integrator", [("ntk", "leapfrog"), ("standard", "leapfrog"), ("ntk", "mclachlan")]
)
def test_linear_model_posterior(linear_problem, linear_run, parametrization, integrator):
    # Mean and variance of the test outputs against the exact GP posterior; in standard parametrisation the
    # inverse mass (prior variance) makes HMC the NTK-parametrisation sampler in other coordinates.
    *_, mean, var, wrong = linear_problem
    out = linear_run(parametrization, integrator)
    est, se, total, se_var = _mean_and_total_variance(out)
    assert np.abs((est - mean) / se).max() < 4.5, (est, mean, se)
    assert np.abs((total - var) / se_var).max() < 4.5, (total, var, se_var)
    # power: the posterior mean at temperature 2T is rejected by a wide margin
    assert np.abs((est - wrong) / se).max() > 10
    # the first-layer moment W1 W1^T (prior units, the same in both parametrisations) against the exact posterior
    net, x, y, _, ridge, *_ = linear_problem
    m = out.first_layer_moment.values[0]
    se_m = m.std(0, ddof=1) / np.sqrt(m.shape[0])
    assert np.abs((m.mean(0) - _linear_weight_moment(net, x, y, ridge)) / se_m).max() < 4.5


def test_standard_parametrisation_is_ntk_in_other_coordinates(linear_run):
    # With inverse mass = prior variance, the same key gives the same chains in both parametrisations (the same
    # prior draws, momenta and accept decisions), up to float32 rounding; an identity mass would not.
    ntk, std = linear_run("ntk"), linear_run("standard")
    np.testing.assert_allclose(std.step_size.values, ntk.step_size.values, rtol=1e-3)
    np.testing.assert_allclose(std.f_mean.values, ntk.f_mean.values, rtol=1e-3, atol=1e-3)


def _readout_marginal_reference(net, x, y, xt, ridges, n_mc, rng):
    """Exact posterior of a depth-2 network whose readout layer is linear-Gaussian, by integrating that layer out
    analytically (docs/finite_width_bayes.md: the evidence-weighted average of GP predictors over the hidden-layer
    kernel G): given the first-layer weights W, f | W ~ N(0, G) with G = Phi Phi^T, Phi = [sqrt(sigma_w2 / width)
    tanh(z(x)), sqrt(sigma_b2)], so the posterior mean and variance are E_{W | D}[m(G)] and
    E_{W | D}[v(G) + m(G)^2] - mean^2, with p(W | D) ∝ N(W; 0, I) N(y; 0, G + T). The first layer (no bias) is
    integrated by self-normalised importance sampling from its prior, float64; returns (mean, var, se of mean)
    for each temperature."""
    (w2_0, b2_0), (w2_1, b2_1) = net.layer_variances()
    assert b2_0 == 0
    n = len(x)
    w = rng.standard_normal((n_mc, net.dim, net.width))
    h = np.tanh(np.sqrt(w2_0 * net.input_gain2) * np.einsum("pd,ndw->npw", np.concatenate([x, xt]), w))
    phi = np.concatenate([np.sqrt(w2_1 / net.width) * h, np.full((*h.shape[:2], 1), np.sqrt(b2_1))], -1)
    g = phi @ phi.swapaxes(1, 2)
    out = []
    for t in ridges:
        a = g[:, :n, :n] + t * np.eye(n)
        sol = np.linalg.solve(a, np.concatenate([np.broadcast_to(y[:, None], (n_mc, n, 1)), g[:, :n, n:]], -1))
        log_evidence = -0.5 * sol[:, :, 0] @ y - 0.5 * np.linalg.slogdet(a)[1]
        m = np.einsum("nit,ni->nt", g[:, :n, n:], sol[:, :, 0])
        v = np.diagonal(g[:, n:, n:], axis1=1, axis2=2) - np.einsum("nit,nit->nt", g[:, :n, n:], sol[:, :, 1:])
        p = np.exp(log_evidence - log_evidence.max())
        p /= p.sum()
        mean = p @ m
        out.append((mean, p @ (v + m**2) - mean**2, np.sqrt(p**2 @ (m - mean) ** 2)))
    return out


@pytest.fixture(scope="module")
def tanh_problem():
    # Width 2, d = 3, n = 5, T = 0.1: 9 parameters, a strongly non-Gaussian posterior far from the NNGP one.
    # Standard parametrisation with sigma_b2 = 0 in the first layer: that bias is not an HMC coordinate.
    rng = np.random.default_rng(1)
    net = model.FCN(
        dim=3,
        depth=2,
        width=2,
        activation="tanh",
        sigma_w2=(2.0, 1.0),
        sigma_b2=(0.0, 0.1),
        input_scaling="sqrt_d",
        parametrization="standard",
    )
    x, xt = sphere.sample_sphere(rng, 5, 3), sphere.sample_sphere(rng, 6, 3)
    y = np.sin(2 * x[:, 0]) + 0.5 * x[:, 1]
    y /= y.std()
    ridge = 0.1
    out = metropolis.run_hmc_ensemble(
        net,
        x[None],
        y[None],
        xt,
        ridge,
        jax.random.key(1),
        members=32,
        plan=metropolis.Plan(warmup_iterations=40, n_samples=200),
    )
    return net, x, y, xt, ridge, out


def test_tanh_network_posterior_against_readout_marginalisation(tanh_problem):
    # An independent check: the reference shares no code with the sampler (numpy float64 features, analytic
    # Gaussian integral over the readout, prior importance sampling over the 6 first-layer weights); only the
    # model definition is common. Its Monte Carlo error enters the z-scores. Power: the NNGP (infinite-width)
    # posterior mean and the finite-width posterior mean at temperature 2T are both rejected.
    net, x, y, xt, ridge, out = tanh_problem
    (mean, var, se_ref), (mean_2t, _, _) = _readout_marginal_reference(
        net, x, y, xt, [ridge, 2 * ridge], 200_000, np.random.default_rng(0)
    )
    est, se, total, se_var = _mean_and_total_variance(out)
    assert np.abs((est - mean) / np.hypot(se, se_ref)).max() < 4.5, (est, mean, se, se_ref)
    assert np.abs((total - var) / se_var).max() < 4.5, (total, var, se_var)
    nngp_mean = kernels.gram(net, xt, x) @ np.linalg.solve(kernels.gram(net, x) + ridge * np.eye(len(x)), y)
    assert np.abs((est - nngp_mean) / se).max() > 10
    assert np.abs((est - mean_2t) / np.hypot(se, se_ref)).max() > 10


def test_acceptance_near_target_and_ess_reported(linear_run, tanh_problem):
    # After warm-up the step is fixed; the sampling-phase acceptance sits near target_accept (the warm-up sees the
    # chains out of equilibrium, so allow 0.1), no transition diverges, and the probes decorrelate within a few
    # iterations (pi/2 trajectories: ESS a sizeable fraction of the iterations).
    for out in (linear_run("ntk"), linear_run("standard"), tanh_problem[-1]):
        target = out.attrs["target_accept"]
        assert abs(float(out.acceptance.mean()) - target) < 0.1, float(out.acceptance.mean())
        assert float(out.acceptance.min()) > 0.5
        assert int(out.divergences.sum()) == 0
        ess = out.ess.values
        assert ess.shape == out.acceptance.shape and np.all(np.isfinite(ess))
        assert ess.mean() > 0.25 * out.attrs["n_evals"], ess.mean()
        assert out.step_size.shape == (1,)
        assert abs(out.n_leapfrog.values[0] - np.pi / 2 / out.step_size.values[0]) <= 1
        assert np.all(out.gradient_evals.values >= out.attrs["n_evals"] * out.n_leapfrog.values[0] / 2)


def test_output_layout_matches_langevin(linear_problem, linear_run):
    # The variables run_ensemble returns have the same dims in the HMC output (a tiny Langevin run for the layout).
    net, x, y, xt, ridge, *_ = linear_problem
    hmc = linear_run("ntk")
    lang = langevin.run_ensemble(
        net,
        x[None],
        y[None],
        xt,
        ridge,
        jax.random.key(0),
        members=2,
        plan=langevin.Plan(burn_in=0.01, sample=0.01, n_samples=2),
    )
    assert set(lang.data_vars) <= set(hmc.data_vars)
    for name in lang.data_vars:
        assert hmc[name].dims == lang[name].dims, name
    assert hmc.f_mean.shape == (1, 32, len(xt)) and hmc.probe_trace.shape == (1, 32, 200, 8)
    assert hmc.acceptance.dims == ("draw", "member") and hmc.step_size.dims == ("draw",)


def test_potential_is_the_langevin_energy():
    # U = SSE / 2 + T/2 sum decay theta^2 has the gradient the Langevin integrators use, and -U / T is the log
    # prior (standard normal / N(0, prior variance) leaves) plus the Gaussian log likelihood of variance T.
    net = model.FCN(
        dim=4, depth=3, width=8, sigma_w2=(1.5, 2.0, 2.5), sigma_b2=(0.1, 0.0, 0.2), parametrization="standard"
    )
    rng = np.random.default_rng(0)
    x, y, ridge = sphere.sample_sphere(rng, 7, 4), rng.standard_normal(7), 0.05
    std = model.prior_std(net)

    @jax.jit
    def energies(params):
        u, grad_u = jax.value_and_grad(lambda p: langevin.potential(net, ridge, p, x, y))(params)
        return u, grad_u, *langevin._loss_and_grad(net, ridge, params, x, y), model.apply(net, params, x)

    for seed in range(3):
        params = model.init_params(jax.random.key(seed), net)
        u, grad_u, loss, grad, f = energies(params)
        u = float(u)
        for a, b in zip(jax.tree.leaves(grad_u), jax.tree.leaves(grad), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
        f = np.asarray(f, np.float64)
        log_lik = -0.5 * np.sum((f - y) ** 2) / ridge
        log_prior = sum(
            -0.5 * np.sum(np.asarray(layer[k], np.float64) ** 2) / s[k] ** 2
            for layer, s in zip(params, std, strict=True)
            for k in ("w", "b")
            if s[k] > 0
        )
        assert -u / ridge == pytest.approx(log_prior + log_lik, rel=1e-5)
        assert u - float(loss) == pytest.approx(-ridge * log_prior, rel=1e-5)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"members": 1}, "members"),
        ({"ridge": 0.0}, "ridge"),
        ({"ridge": -0.1}, "ridge"),
        ({"integrator": "rk4"}, "integrator"),
        ({"target_accept": 1.2}, "target_accept"),
        ({"jitter": 1.0}, "jitter"),
        ({"trajectory_length": 0.0}, "trajectory_length"),
        ({"step_factor": -1.0}, "step_factor"),
        ({"warmup_iterations": 0}, "warmup_iterations"),
        ({"n_samples": 0}, "n_samples"),
        ({"x_test": np.zeros((3, 5))}, "x_test"),
        ({"y_train": np.zeros((1, 5))}, "y_train"),
        ({"plan": {"n_samples": 10}}, "plan"),
    ],
)
def test_bad_arguments(linear_problem, kwargs, match):
    net, x, y, xt, ridge, *_ = linear_problem
    data = {"x_train": x[None], "y_train": y[None], "x_test": xt}
    plan = metropolis.Plan(**{k: v for k, v in kwargs.items() if k in metropolis.Plan._fields})
    rest = {k: v for k, v in kwargs.items() if k not in metropolis.Plan._fields}
    args = {**data, "ridge": ridge, "members": 2, "plan": plan, **rest}
    with pytest.raises(ValueError, match=match):
        metropolis.run_hmc_ensemble(net, key=jax.random.key(0), **args)
