"""langevin.py: the sampler reproduces the analytic Gaussian posteriors of a linear model and of a random-feature
model (docs/learning_curves.md Sec. 11), the posterior-mean estimator is unbiased, divergence is reported."""

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr

from nnft import model, sphere
from nnft.sampling import langevin
from nnft.theory import kernels


@pytest.mark.parametrize(
    "integrator, step_factor",
    [("underdamped", 0.5), ("overdamped", 0.2), ("gibbs_readout", 0.5), ("collapsed_readout", 1.0)],
)
def test_linear_model_posterior_mean(linear_problem, integrator, step_factor):
    net, x, y, xt, ridge, mean, _, wrong = linear_problem
    members = 64
    out = langevin.run_ensemble(
        net,
        x[None],
        y[None],
        xt,
        ridge,
        jax.random.key(3),
        members=members,
        plan=langevin.Plan(integrator, step_factor, burn_in=5, sample=100, n_samples=100),
    )
    f = out.f_mean.values[0]  # (member, test): independent chains' time averages
    se = f.std(0, ddof=1) / np.sqrt(members)
    z = (f.mean(0) - mean) / se
    assert np.abs(z).max() < 4.5, z
    # The test has power: the posterior mean at temperature 2T is rejected by a wide margin.
    assert np.abs((f.mean(0) - wrong) / se).max() > 10
    # The recorded data loss SSE / 2 (for collapsed_readout: with the readout drawn at the evaluation) has the
    # posterior expectation |m - y|^2 / 2 + tr(C) / 2, m and C the posterior mean and covariance of the train outputs:
    # with K = sum_i lam_i u_i u_i^T, tr(C) = sum_i T lam_i / (lam_i + T). BAOAB samples this harmonic potential's
    # configurations exactly. Euler-Maruyama does not: its chain theta' = theta - h (A theta - b) + sqrt(2 T h) xi,
    # A = J^T J + T I the Hessian, has the exact mean and the covariance T (A - h A^2 / 2)^-1, so along u_i the output
    # variance is T lam_i / (a_i - h a_i^2 / 2), a_i = lam_i + T (docs/finite_width_bayes.md Sec. 5).
    lam, u = np.linalg.eigh(kernels.gram(net, x))
    a = lam + ridge
    m = u @ (lam / a * (u.T @ y))
    h = out.attrs["step_size"] if integrator == "overdamped" else 0.0
    expected = 0.5 * (np.sum((m - y) ** 2) + np.sum(ridge * lam / (a - 0.5 * h * a**2)))
    loss = out.loss.values[0].mean(-1)
    se_loss = loss.std(ddof=1) / np.sqrt(members)
    z_loss = (loss.mean() - expected) / se_loss
    assert abs(z_loss) < 4.5, z_loss
    if integrator == "overdamped":  # the test sees the O(h) excess (predicted 5.0 s.e.; h = 0 rejected at 5.9)
        unbiased = 0.5 * (np.sum((m - y) ** 2) + np.sum(ridge * lam / a))
        assert (loss.mean() - unbiased) / se_loss > 3, (loss.mean() - unbiased) / se_loss


def test_linear_model_posterior_variance(linear_problem):
    # Total variance = mean within-chain variance + between-chain variance of the time averages; BAOAB samples a
    # harmonic potential's configurations exactly, so no step-size bias. Error bar: jackknife over chains.
    net, x, y, xt, ridge, _, var, _ = linear_problem
    out = langevin.run_ensemble(
        net,
        x[None],
        y[None],
        xt,
        ridge,
        jax.random.key(4),
        members=32,
        plan=langevin.Plan(burn_in=5, sample=40, n_samples=200),
    )
    fm, fv = out.f_mean.values[0], out.f_var.values[0]

    def total(idx):
        return fv[idx].mean(0) + fm[idx].var(0)

    m = fm.shape[0]
    est = total(np.arange(m))
    loo = np.stack([total(np.delete(np.arange(m), i)) for i in range(m)])
    se = np.sqrt((m - 1) / m * ((loo - loo.mean(0)) ** 2).sum(0))
    z = (est - var) / se
    assert np.abs(z).max() < 4.5, (est, var, se)


def test_posterior_mean_mse_is_unbiased():
    # Synthetic chains f_m = mu + noise: the corrected estimator averages to ||mu - g||^2, the raw one does not,
    # and the jackknife standard error matches the spread of the estimates.
    rng = np.random.default_rng(0)
    mu, g = rng.standard_normal(50), rng.standard_normal(50)
    truth = np.mean((mu - g) ** 2)
    f = mu + 0.8 * rng.standard_normal((4000, 4, 50))
    est, se = langevin.posterior_mean_mse(f, g)
    raw = np.mean((f.mean(1) - g) ** 2, axis=-1)
    err = est.std() / np.sqrt(est.size)
    assert abs(est.mean() - truth) < 4 * err
    assert raw.mean() - truth > 20 * err  # the bias 0.64 / 4 = 0.16 is removed
    assert 0.8 < np.sqrt(np.mean(se**2)) / est.std() < 1.25


def test_divergence_is_reported(monkeypatch, linear_problem):
    net, x, y, xt, ridge, _, _, _ = linear_problem
    blown = langevin.Schedule(50.0, 0.1, 1.0, 400, 1, 2)
    monkeypatch.setattr(langevin, "schedule", lambda *a, **k: blown)
    with pytest.raises(FloatingPointError, match="step_factor"):
        langevin.run_ensemble(net, x[None], y[None], xt, ridge, jax.random.key(0), members=2)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"plan": langevin.Plan(step_factor=2.5)}, "step_factor"),
        ({"plan": langevin.Plan("leapfrog")}, "integrator"),
        ({"plan": langevin.Plan(n_samples=0)}, "n_samples"),
        ({"plan": {"integrator": "underdamped"}}, "plan"),
        ({"checkpoint": 60}, "checkpoint"),
        ({"members": 1}, "members"),
        ({"plan": langevin.Plan("gibbs_readout"), "frozen": (0,)}, "frozen"),  # depth 1: layer 0 is the readout
    ],
)
def test_bad_arguments(linear_problem, kwargs, match):
    net, x, y, xt, ridge, _, _, _ = linear_problem
    with pytest.raises(ValueError, match=match):
        langevin.run_ensemble(net, x[None], y[None], xt, ridge, jax.random.key(0), **{"members": 2, **kwargs})


class Killed(Exception):
    pass


def test_checkpoint_resume_is_identical(linear_problem, tmp_path):
    # A job killed mid-sampling and rerun resumes from its checkpoint and returns exactly the uninterrupted result.
    net, x, y, xt, ridge, *_ = linear_problem
    kwargs = dict(members=4, plan=langevin.Plan(burn_in=1, sample=4, n_samples=60, evals_per_block=10))
    ckpt = tmp_path / "ckpt.npz"

    def run(seed, **extra):
        return langevin.run_ensemble(net, x[None], y[None], xt, ridge, jax.random.key(seed), **kwargs, **extra)

    def die_after_three_blocks(done, total, loss, step):
        if done >= 30:
            raise Killed

    reference = run(7)
    with pytest.raises(Killed):
        run(7, checkpoint=ckpt, progress=die_after_three_blocks)
    assert ckpt.exists()
    resumed = run(7, checkpoint=ckpt)
    assert resumed.attrs["resumed_from_checkpoint"] == 1 and not ckpt.exists()
    for name in ("f_mean", "f_var", "loss", "probe_trace"):
        np.testing.assert_array_equal(resumed[name].values, reference[name].values)
    # a checkpoint from another run (different seed) is ignored, not resumed
    with pytest.raises(Killed):
        run(8, checkpoint=ckpt, progress=die_after_three_blocks)
    fresh = run(7, checkpoint=ckpt)
    assert fresh.attrs["resumed_from_checkpoint"] == 0
    np.testing.assert_array_equal(fresh.f_mean.values, reference.f_mean.values)


def test_sharded_over_two_devices_matches_one(linear_problem, monkeypatch):
    # conftest gives JAX two CPU devices; 4 chains are split over both and give the single-device result.
    assert jax.device_count() == 2
    net, x, y, xt, ridge, *_ = linear_problem
    kwargs = dict(members=4, plan=langevin.Plan(burn_in=1, sample=2, n_samples=20))
    sharded = langevin.run_ensemble(net, x[None], y[None], xt, ridge, jax.random.key(2), **kwargs)
    assert sharded.attrs["devices"] == 2
    monkeypatch.setattr(langevin, "_shard", lambda s, a, b, c: (s, a, b, c, 1))
    single = langevin.run_ensemble(net, x[None], y[None], xt, ridge, jax.random.key(2), **kwargs)
    np.testing.assert_allclose(sharded.f_mean.values, single.f_mean.values, rtol=1e-5, atol=1e-6)


def test_effective_sample_size_of_ar1():
    # AR(1) with coefficient rho has tau_int = (1 + rho) / (1 - rho); ESS = n / tau within ~10 %.
    rng = np.random.default_rng(0)
    rho, n = 0.8, 200_000
    x = np.zeros(n)
    noise = rng.standard_normal(n)
    for i in range(1, n):
        x[i] = rho * x[i - 1] + noise[i]
    assert langevin.effective_sample_size(x) == pytest.approx(n * (1 - rho) / (1 + rho), rel=0.1)
    assert langevin.effective_sample_size(rng.standard_normal(5000)) == pytest.approx(5000, rel=0.15)


def test_divergence_names_step_and_parameter(monkeypatch, linear_problem):
    net, x, y, xt, ridge, *_ = linear_problem
    monkeypatch.setattr(langevin, "schedule", lambda *a, **k: langevin.Schedule(50.0, 0.1, 1.0, 400, 1, 2))
    with pytest.raises(FloatingPointError, match=r"burn-in \(steps 1\.\.400\): parameter \[0\]\['[wb]'\]"):
        langevin.run_ensemble(net, x[None], y[None], xt, ridge, jax.random.key(0), members=2)


def test_standard_parametrisation_weight_decay_mapping():
    # Sec. 1c: in standard parametrisation the weights of a layer with fan-in n get decay T n / sigma_w2, biases
    # T / sigma_b2; the preconditioner is the prior variance, and sigma_b2 = 0 biases are frozen.
    net = model.FCN(
        dim=8,
        depth=3,
        width=64,
        sigma_w2=(1.5, 2.0, 2.5),
        sigma_b2=(0.1, 0.0, 0.2),
        input_scaling="unit",
        parametrization="standard",
    )
    decay, precond = langevin._decay_and_precond(net)
    assert decay[0]["w"] == pytest.approx(8 / 1.5) and decay[1]["w"] == pytest.approx(64 / 2.0)
    assert decay[2]["w"] == pytest.approx(64 / 2.5) and decay[0]["b"] == pytest.approx(1 / 0.1)
    assert decay[1]["b"] == 0.0 and precond[1]["b"] == 0.0
    ntk = model.FCN(**{**net.__dict__, "parametrization": "ntk"})
    x = sphere.sample_sphere(np.random.default_rng(0), 5, 8)
    k = jax.random.key(3)
    # the same key gives the same network in both parametrisations
    np.testing.assert_allclose(
        model.apply(net, model.init_params(k, net), x),
        model.apply(ntk, model.init_params(k, ntk), x),
        rtol=1e-5,
        atol=1e-6,
    )
    assert np.all(np.asarray(model.init_params(k, net)[1]["b"]) == 0)


@pytest.mark.parametrize("integrator", ["underdamped", "overdamped"])
def test_standard_parametrisation_samples_the_same_posterior(linear_problem, integrator):
    # The preconditioned standard-parametrisation dynamics are the NTK-parametrisation dynamics in other
    # coordinates: same key, same trajectory up to float32 rounding, and the analytic posterior mean.
    net, x, y, xt, ridge, mean, *_ = linear_problem
    std = model.FCN(**{**net.__dict__, "parametrization": "standard"})
    kwargs = dict(members=16, plan=langevin.Plan(integrator, 0.3, burn_in=5, sample=40, n_samples=100))
    a = langevin.run_ensemble(net, x[None], y[None], xt, ridge, jax.random.key(5), **kwargs)
    b = langevin.run_ensemble(std, x[None], y[None], xt, ridge, jax.random.key(5), **kwargs)
    np.testing.assert_allclose(b.f_mean.values, a.f_mean.values, rtol=1e-3, atol=1e-3)
    f = b.f_mean.values[0]
    z = (f.mean(0) - mean) / (f.std(0, ddof=1) / np.sqrt(f.shape[0]))
    assert np.abs(z).max() < 4.5, z


def test_random_feature_model_posterior():
    # Depth 2 with the first layer frozen (frozen=(0,)) is a random-feature model f = phi(x).w + sqrt(sigma_b2) b
    # with phi = sqrt(sigma_w2 / width) s(z1(x)) shared by every chain: its posterior is exactly the GP with the
    # empirical kernel phi phi^T + sigma_b2 and noise variance T. Width 24 keeps that kernel far from the NNGP, so
    # the test also rejects the infinite-width answer.
    rng = np.random.default_rng(11)
    net = model.FCN(dim=8, depth=2, width=24, sigma_w2=2.0, sigma_b2=0.1, input_scaling="sqrt_d")
    x, xt = sphere.sample_sphere(rng, 10, 8), sphere.sample_sphere(rng, 12, 8)
    y, ridge, key = rng.standard_normal(10), 0.1, jax.random.key(7)
    layer = langevin.shared_params(key, net)[0]
    (w2_0, b2_0), (w2_1, b2_1) = net.layer_variances()

    def features(a):
        z1 = np.sqrt(w2_0 * net.input_gain2) * a @ np.asarray(layer["w"], np.float64)
        return np.sqrt(w2_1 / net.width) * np.maximum(z1 + np.sqrt(b2_0) * np.asarray(layer["b"], np.float64), 0)

    phi, phit = features(x), features(xt)
    k, ks, kss = phi @ phi.T + b2_1, phit @ phi.T + b2_1, phit @ phit.T + b2_1
    a = np.linalg.solve(k + ridge * np.eye(len(x)), np.c_[y, ks.T])
    mean, var = ks @ a[:, 0], np.diag(kss - ks @ a[:, 1:])
    nngp_mean = kernels.gram(net, xt, x) @ np.linalg.solve(kernels.gram(net, x) + ridge * np.eye(len(x)), y)

    members = 48
    out = langevin.run_ensemble(
        net,
        x[None],
        y[None],
        xt,
        ridge,
        key,
        members=members,
        plan=langevin.Plan(burn_in=5, sample=40, n_samples=200),
        frozen=(0,),
    )
    assert out.attrs["frozen_layers"] == [0]
    fm, fv = out.f_mean.values[0], out.f_var.values[0]
    se = fm.std(0, ddof=1) / np.sqrt(members)
    assert np.abs((fm.mean(0) - mean) / se).max() < 4.5
    assert np.abs((fm.mean(0) - nngp_mean) / se).max() > 10  # measured ~20

    def total(idx):
        return fv[idx].mean(0) + fm[idx].var(0)

    loo = np.stack([total(np.delete(np.arange(members), i)) for i in range(members)])
    se_var = np.sqrt((members - 1) / members * ((loo - loo.mean(0)) ** 2).sum(0))
    assert np.abs((total(np.arange(members)) - var) / se_var).max() < 4.5


def test_frozen_layer_out_of_range(linear_problem):
    net, x, y, xt, ridge, *_ = linear_problem
    with pytest.raises(ValueError, match="frozen"):
        langevin.run_ensemble(net, x[None], y[None], xt, ridge, jax.random.key(0), members=2, frozen=(1,))


def test_posterior_mean_mse_two_chains_has_no_error_bar():
    f = np.random.default_rng(1).standard_normal((3, 2, 5))
    est, se = langevin.posterior_mean_mse(f, np.zeros(5))
    assert np.all(np.isfinite(est)) and np.all(np.isnan(se))
    with pytest.raises(ValueError, match="chains"):
        langevin.posterior_mean_mse(f[:, :1], np.zeros(5))


def test_readout_marginal_mean_is_an_unbiased_quieter_estimator():
    # Depth-3 ReLU network: per chain, the time averages of f and of E[f | hidden layers, data] estimate the same
    # posterior mean, so their chain-averaged difference is zero within its s.e. (paired over chains); the marginal
    # one is quieter (measured: max |z| = 2.8 over 40 test points; chain spread 0.45 of f's). With the readout frozen
    # it is not the posterior's and is not reported.
    rng = np.random.default_rng(4)
    x, x_test = sphere.sample_sphere(rng, 24, 5), sphere.sample_sphere(rng, 40, 5)
    y = x[:, 0] + 1.5 * x[:, 1] * x[:, 2]
    net = model.FCN(dim=5, depth=3, activation="relu", sigma_w2=2.0, sigma_b2=0.1, width=64)
    members = 16
    out = langevin.run_ensemble(net, x[None], y[None], x_test, 0.05, jax.random.key(5), members=members,
                                plan=langevin.Plan(burn_in=3, sample=20, n_samples=100))  # fmt: skip
    f, marginal = out.f_mean.values[0], out.f_mean_marginal.values[0]
    diff = f - marginal
    z = diff.mean(0) / (diff.std(0, ddof=1) / np.sqrt(members))
    assert np.abs(z).max() < 4.5, z
    assert np.median(marginal.std(0) / f.std(0)) < 0.7
    frozen = langevin.run_ensemble(net, x[None], y[None], x_test, 0.05, jax.random.key(5), members=2,
                                   plan=langevin.Plan(burn_in=1, sample=1, n_samples=4), frozen=(2,))  # fmt: skip
    assert "f_mean_marginal" not in frozen


@pytest.mark.parametrize("integrator", ["gibbs_readout", "collapsed_readout"])
def test_readout_samplers_sample_a_nonlinear_posterior(integrator):
    # The tanh network of test_metropolis (width 2, a strongly non-Gaussian posterior) against its exact reference
    # (the readout integrated out analytically, the first layer by importance sampling; float64, no sampler code):
    # the sampler's posterior mean (f and readout-marginal estimators) and total variance of the test outputs.
    # Power: the posterior mean at temperature 2T is rejected.
    from tests.test_metropolis import _readout_marginal_reference

    rng = np.random.default_rng(1)
    net = model.FCN(dim=3, depth=2, width=2, activation="tanh", sigma_w2=(2.0, 1.0), sigma_b2=(0.0, 0.1),
                    input_scaling="sqrt_d", parametrization="standard")  # fmt: skip
    x, xt = sphere.sample_sphere(rng, 5, 3), sphere.sample_sphere(rng, 6, 3)
    y = np.sin(2 * x[:, 0]) + 0.5 * x[:, 1]
    y /= y.std()
    ridge, members = 0.1, 32
    (mean, var, se_ref), (mean_2t, _, _) = _readout_marginal_reference(
        net, x, y, xt, [ridge, 2 * ridge], 200_000, np.random.default_rng(0)
    )
    plan = langevin.Plan(integrator, 0.5 if integrator == "gibbs_readout" else 1.0, burn_in=5, sample=40, n_samples=200)
    out = langevin.run_ensemble(net, x[None], y[None], xt, ridge, jax.random.key(2), members=members, plan=plan)
    for estimate in (out.f_mean.values[0], out.f_mean_marginal.values[0]):
        se = np.hypot(estimate.std(0, ddof=1) / np.sqrt(members), se_ref)
        assert np.abs((estimate.mean(0) - mean) / se).max() < 4.5
    f = out.f_mean.values[0]
    se = np.hypot(f.std(0, ddof=1) / np.sqrt(members), se_ref)
    assert np.abs((f.mean(0) - mean_2t) / se).max() > 10
    fv = out.f_var.values[0]

    def total(idx):
        return fv[idx].mean(0) + f[idx].var(0)

    loo = np.stack([total(np.delete(np.arange(members), i)) for i in range(members)])
    se_var = np.sqrt((members - 1) / members * ((loo - loo.mean(0)) ** 2).sum(0))
    assert np.abs((total(np.arange(members)) - var) / se_var).max() < 4.5


def test_network_summary_of_stores_with_different_chain_counts():
    """The width-convergence size is trained with more chains than the learning curve's other sizes: each store is
    summarised with its own chains (aligning them on `member` padded the smaller stores with NaN, and the network
    points of every other size vanished from the networks and learning-curve figures). Each row equals the summary
    of its store alone, and is the bias-corrected MSE of that store's chains."""
    rng = np.random.default_rng(0)
    n_test, draws = 30, [0, 1]
    g = rng.standard_normal(n_test)
    data = xr.Dataset({"g_test": ("test_sample", g)})
    sizes = [8, 64]
    gp = xr.Dataset(
        {
            "mse_test": (("draw", "n_train"), rng.uniform(0.5, 1.0, (2, 2))),
            "f_test": (("draw", "n_train", "test_sample"), rng.standard_normal((2, 2, n_test))),
        },
        coords={"draw": draws, "n_train": sizes},
    )

    def store_(n, members):
        f = g + 0.3 * rng.standard_normal((1, 2, members, n_test))
        return xr.Dataset({"f_mean": (("n_train", "draw", "member", "test_sample"), f)},
                          coords={"n_train": [n], "draw": draws, "member": np.arange(members)})  # fmt: skip

    stores = [store_(8, 4), store_(64, 8)]
    both = langevin.network_summary(data, gp, stores)
    assert list(both.n_train.values) == sizes and np.all(np.isfinite(both.mse_net.values))
    for s in stores:
        alone = langevin.network_summary(data, gp, s)
        np.testing.assert_array_equal(both.sel(n_train=s.n_train.values).mse_net.values, alone.mse_net.values)
        mse, _ = langevin.posterior_mean_mse(s.f_mean.values[0], g)
        assert alone.mse_net.item() == pytest.approx(mse.mean(), rel=1e-12)
    with pytest.raises(ValueError, match="train"):
        langevin.network_summary(data, gp, [])


def _collapsed_net():
    return model.FCN(dim=3, depth=3, width=5, activation="tanh", sigma_w2=(2.0, 1.5, 1.0), sigma_b2=(0.1, 0.2, 0.3),
                     input_scaling="sqrt_d", parametrization="standard")  # fmt: skip


def test_collapsed_potential_is_the_readout_integral():
    # exp(-U_c / T) is the integral of exp(-U / T) over the readout, up to a constant. The integrand is Gaussian in
    # the readout r (p = width + 1 coordinates, in prior-whitened units), so the integral is exact by Laplace in
    # weight space: -T log of it = min_r U + (T / 2) log det(H_r / T) with H_r = d^2 U / dr^2 = J^T J + T I (J the
    # p-column Jacobian of f in whitened r), a p x p computation against collapsed_potential's n x n one. Their
    # differences between states agree (the constant cancels); float64 numpy from the float32 network's Jacobian.
    net, ridge = _collapsed_net(), 0.2
    rng = np.random.default_rng(0)
    x = sphere.sample_sphere(rng, 7, 3)
    y = rng.standard_normal(7)
    values = []
    for seed in range(4):
        params = model.init_params(jax.random.key(seed), net)
        u_c = float(langevin.collapsed_potential(net, ridge, params, x, y))
        std = model.prior_std(net)[-1]
        whitened = jax.tree.map(lambda a: a * 0, params[-1])
        flat, unflat = jax.flatten_util.ravel_pytree(whitened)
        scale, _ = jax.flatten_util.ravel_pytree(jax.tree.map(lambda v, a: jnp.full(a.shape, v), std, params[-1]))

        def f(z, params=params, unflat=unflat, scale=scale):  # the outputs at readout = scale * z (whitened)
            return model.apply(net, params[:-1] + [unflat(scale * z)], x)

        j = np.asarray(jax.jacfwd(f)(flat), np.float64)  # f is linear in z (no readout offset: f(0) = 0)
        h = j.T @ j + ridge * np.eye(j.shape[1])
        z_star = np.linalg.solve(h, j.T @ y)
        u_min = 0.5 * np.sum((j @ z_star - y) ** 2) + 0.5 * ridge * z_star @ z_star
        hidden_prior = float(langevin.potential(net, ridge, params[:-1] + [whitened], x, 0 * y))
        values.append((u_c, u_min + hidden_prior + 0.5 * ridge * np.linalg.slogdet(h / ridge)[1]))
    values = np.array(values)
    np.testing.assert_allclose(np.diff(values[:, 0]), np.diff(values[:, 1]), rtol=2e-4, atol=2e-5)
    assert np.ptp(values[:, 0]) > 0.1  # the states differ


@pytest.mark.parametrize("net", [_collapsed_net(), model.FCN(dim=4, depth=2, width=6, activation="relu")])
def test_collapsed_gradient_is_the_potentials(net):
    # The step's written-out gradient (T c [K^-1 h - alpha alpha^T h] pulled back through the hidden layers) against
    # jax.grad of collapsed_potential (autodiff through the Cholesky factor), at prior draws in both parametrisations,
    # with and without readout bias variance; 0 for the readout, which collapsed_readout draws rather than moves.
    ridge = 0.05
    rng = np.random.default_rng(2)
    x = jnp.asarray(sphere.sample_sphere(rng, 9, net.dim), jnp.float32)
    y = jnp.asarray(rng.standard_normal(9), jnp.float32)
    for seed in range(3):
        state = langevin.init_chain(jax.random.key(seed), net, ridge, x, y, integrator="collapsed_readout")
        expected = jax.grad(lambda p: langevin.collapsed_potential(net, ridge, p, x, y))(state.params)
        for got, want in zip(jax.tree.leaves(state.grad), jax.tree.leaves(expected), strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * float(jnp.abs(want).max()) + 1e-7)
        assert all(not np.any(a) for a in jax.tree.leaves(state.grad[-1]))
        assert float(jnp.abs(state.grad[0]["w"]).max()) > 1e-3  # not trivially zero


def test_collapsed_curvature_is_the_top_hessian_eigenvalue():
    # Power iteration on Hessian-vector products against the dense Hessian of collapsed_potential (jax.hessian) in
    # the whitened moving coordinates: biases of zero prior variance and the readout excluded.
    net, ridge = _collapsed_net(), 0.2
    rng = np.random.default_rng(1)
    x = sphere.sample_sphere(rng, 7, 3)
    y = rng.standard_normal(7)
    params = model.init_params(jax.random.key(3), net)
    hidden, unflat = jax.flatten_util.ravel_pytree(params[:-1])
    std = jax.tree.map(lambda v, a: jnp.full(a.shape, v), model.prior_std(net)[:-1], params[:-1])
    scale, _ = jax.flatten_util.ravel_pytree(std)

    def u(z):  # whitened coordinates: theta = scale * z (standard parametrisation)
        return langevin.collapsed_potential(net, ridge, unflat(scale * z) + [params[-1]], x, y)

    dense = np.linalg.eigvalsh(np.asarray(jax.hessian(u)(hidden / scale), np.float64))
    top = np.abs(dense).max()
    measured = float(langevin.collapsed_curvature(net, ridge, params, jnp.asarray(x), jnp.asarray(y),
                                                  jax.random.key(0), iters=500))  # fmt: skip
    np.testing.assert_allclose(measured, top, rtol=1e-3)
    frozen = float(langevin.collapsed_curvature(net, ridge, params, jnp.asarray(x), jnp.asarray(y),
                                                jax.random.key(0), frozen=(0, 1)))  # fmt: skip
    assert frozen == 0.0  # nothing moves
    with pytest.raises(ValueError, match="collapsed_curvature"):
        langevin.top_curvature(net, x, "collapsed_readout")
