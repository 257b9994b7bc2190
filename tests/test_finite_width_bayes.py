"""finite_width_bayes.py: the first-order 1/width posterior mean, checked against independent computations:
the closed-form scale-mixture expansion of a linear network (docs/finite_width_bayes.md Sec. 3), the four-point
vertex V and kernel shift K^{1} of finite_width.flow_pair (science/finite_width_criticality.md Sec. 3), and the
exact finite-width posterior of a deep ReLU network by importance sampling over exact Gram-sampler kernels."""

import math
from dataclasses import replace

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr

from nnft import model, sphere
from nnft.sampling import ensembles
from nnft.theory import finite_width, finite_width_bayes, kernels


def test_linear_network_matches_the_scale_mixture_expansion():
    # One hidden linear layer: G = u K0 in the readout picture, (1/N)[m''(1) + 2 m'(1) l'(1)] (Sec. 3); the module
    # uses per-unit fluctuations of the hidden layer instead (another Cov(G), the same symmetrised four-point
    # function), so agreement checks the whole expansion and its Monte Carlo.
    rng = np.random.default_rng(1)
    d, p, q, t = 8, 12, 5, 0.05
    net = model.FCN(dim=d, depth=2, activation="identity", sigma_w2=(1.0, 1.5), sigma_b2=0.0, width=100)
    x, xt = sphere.sample_sphere(rng, p, d), sphere.sample_sphere(rng, q, d)
    y = x @ (2 * rng.standard_normal(d))
    k0, ks = 1.5 * x @ x.T, 1.5 * xt @ x.T

    def m(u):
        return u * ks @ np.linalg.solve(u * k0 + t * np.eye(p), y)

    def ell(u):
        c = u * k0 + t * np.eye(p)
        return -0.5 * y @ np.linalg.solve(c, y) - 0.5 * np.linalg.slogdet(c)[1]

    h = 1e-4
    m1, m2 = (m(1 + h) - m(1 - h)) / (2 * h), (m(1 + h) - 2 * m(1) + m(1 - h)) / h**2
    expected = m2 + 2 * m1 * (ell(1 + h) - ell(1 - h)) / (2 * h)
    out = finite_width_bayes.first_order(net, x, y, xt, t, jax.random.key(0), n_samples=100_000, chunk=5000)
    np.testing.assert_allclose(out.gp_mean, m(1.0), rtol=1e-10)
    z = (out.correction.values - expected) / out.correction_se.values
    assert np.abs(z).max() < 4.5, z
    assert np.abs(expected / out.correction_se.values).max() > 10  # the correction is resolved: the test has power


@pytest.fixture(scope="module")
def relu_pair():
    rng = np.random.default_rng(0)
    net = model.FCN(dim=8, depth=3, activation="relu", sigma_w2=2.0, sigma_b2=0.1, width=256)
    return net, sphere.sample_sphere(rng, 2, 8)


def test_kernel_fluctuations_match_the_vertex_recursion(relu_pair):
    # The sampled output-kernel fluctuation Delta (per unit: Cov = V) and shift mu (mean = K^{1}) against the exact
    # two-input recursions of finite_width.flow_pair, in the basis (11, 12, 22).
    net, x = relu_pair
    blocks = finite_width_bayes.layer_kernels(net, x, 2)
    np.testing.assert_allclose(blocks[-1][1], kernels.gram(net, x), rtol=1e-12)
    chol = finite_width_bayes._cholesky_all(x, net)
    with jax.enable_x64(True):
        parts, mu = finite_width_bayes._fluctuation_samples(
            jax.random.split(jax.random.key(1), 100_000), jnp.asarray(x), [jnp.asarray(c) for c in chol],
            [jnp.asarray(b[0]) for b in blocks], [jnp.asarray(b[1]) for b in blocks],
            net.act, ((2.0, 0.1),) * 3, 2, 1.0,
        )  # fmt: skip
    delta = np.asarray(parts).sum(1)
    delta = np.stack([delta[:, 0, 0], delta[:, 0, 1], delta[:, 1, 1]], 1)
    mu = np.asarray(mu)
    mu = np.stack([mu[:, 0, 0], mu[:, 0, 1], mu[:, 1, 1]], 1)
    k1 = blocks[0][1]
    flow = finite_width.flow_pair(net, [k1[0, 0], k1[0, 1], k1[1, 1]])  # the same model, depth 3
    products = delta[:, :, None] * delta[:, None, :]
    z_v = (products.mean(0) - flow.V[2]) / (products.std(0) / np.sqrt(len(products)))
    assert np.abs(z_v).max() < 4.5, z_v
    z_k1 = (mu.mean(0) - flow.K1[2])[1] / (mu[:, 1].std() / np.sqrt(len(mu)))
    assert abs(z_k1) < 4.5 and abs(flow.K1[2][1]) > 0.3, (z_k1, flow.K1[2])


def test_deep_relu_matches_the_exact_finite_width_posterior():
    # Exact posterior mean of width-N depth-3 ReLU networks: the readout is Gaussian, so <f*> = E[w m(G)] / E[w]
    # over exact prior samples of the output kernel G (ensembles.gram_sampler) with w = N(y; 0, G + T).
    # N (exact - GP) must equal the first-order coefficient up to O(1/N) and both Monte Carlo errors.
    rng = np.random.default_rng(2)
    d, p, q, t, width = 8, 3, 2, 0.05, 100
    x, xt = sphere.sample_sphere(rng, p, d), sphere.sample_sphere(rng, q, d)
    y = np.array([1.5, -0.75, 1.2])
    net = model.FCN(dim=d, depth=3, activation="relu", sigma_w2=2.0, sigma_b2=0.1, width=width)
    theory = finite_width_bayes.first_order(net, x, y, xt, t, jax.random.key(0), n_samples=30_000, chunk=3000)
    xa = np.concatenate([x, xt])
    g = ensembles.gram_sampler(jax.random.key(7), net, 2.0 * xa @ xa.T + 0.1, 200_000)[:, 2]  # K^(1) of net
    a = g[:, :p, :p] + t * np.eye(p)
    sol = np.linalg.solve(a, np.broadcast_to(y, (len(g), p))[..., None])[..., 0]
    dm = np.einsum("sqp,sp->sq", g[:, p:, :p], sol) - theory.gp_mean.values
    logw = -0.5 * sol @ y - 0.5 * np.linalg.slogdet(a)[1]
    w = np.exp(logw - logw.max())
    w /= w.sum()
    exact = width * (w @ dm)
    exact_se = width * np.sqrt(((w[:, None] * (dm - w @ dm)) ** 2).sum(0))
    se = np.hypot(exact_se, theory.correction_se.values)
    z = (exact - theory.correction.values) / se
    assert np.abs(z).max() < 4, (exact, theory.correction.values, se)
    assert np.abs(exact / exact_se).max() > 5  # the finite-width shift itself is resolved


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"activation": "tanh"}, "net"),
        ({"depth": 1}, "net"),
    ],
)
def test_refuses_what_it_cannot_compute(kwargs, match):
    net = model.FCN(**{"dim": 4, "depth": 3, "activation": "relu", **kwargs})
    x = np.eye(4)[:3]
    with pytest.raises(ValueError, match=match):
        finite_width_bayes.first_order(net, x, np.ones(3), x, 0.1, jax.random.key(0), n_samples=8)


def test_refuses_bad_shapes_and_ridge():
    net = model.FCN(dim=4, depth=2)
    x = np.eye(4)[:3]
    for args, match in [
        ((x, np.ones(2), x, 0.1), "y_train"),
        ((x[:, :3], np.ones(3), x, 0.1), "x_train"),
        ((x, np.ones(3), x, 0.0), "ridge"),
    ]:
        with pytest.raises(ValueError, match=match):
            finite_width_bayes.first_order(net, *args, jax.random.key(0), n_samples=8)


def test_first_layer_moment_of_a_linear_network_is_the_exact_large_width_limit():
    # One hidden linear layer in the networks' parametrisation: with the readout norm at its large-width value
    # (u = 1), W = (I - a^ a^T) G + a^ v^T and v is the weight of the linear model f = sqrt(sigma_a2 sigma_w2) v.x
    # (exact Gaussian posterior), so N (E_post mean_i (u.w_i)^2 - 1) -> u^T (Sigma_v + mu_v mu_v^T) u - 1.
    rng = np.random.default_rng(4)
    d, p, t, sw2, sa2 = 6, 10, 0.1, 1.3, 0.8
    net = model.FCN(dim=d, depth=2, activation="identity", sigma_w2=(sw2, sa2), sigma_b2=0.0, width=64)
    x = sphere.sample_sphere(rng, p, d)
    y = x @ (3 * rng.standard_normal(d))  # prior-mismatched teacher: the first layer adapts strongly
    directions = np.concatenate([np.eye(d)[:2], rng.standard_normal((2, d))])
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    precision = np.eye(d) + sa2 * sw2 / t * x.T @ x
    cov = np.linalg.inv(precision)
    mu = cov @ (np.sqrt(sa2 * sw2) * x.T @ y / t)
    exact = np.einsum("ki,ij,kj->k", directions, cov + np.outer(mu, mu), directions) - 1
    out = finite_width_bayes.first_layer_second_moment(net, x, y, t, directions, jax.random.key(3), 400_000)
    z = (out.coefficient.values - exact) / out.coefficient_se.values
    assert np.abs(z).max() < 4.5, (out.coefficient.values, exact)
    assert np.abs(exact).max() > 10 * out.coefficient_se.values.max()


def test_inverse_width_fit_recovers_a_line_and_its_errors():
    # Weighted least squares on exact a + b / w: recovers (a, b) with chi^2 = 0; on noisy data the intercept's
    # spread over repetitions matches its reported standard error.
    widths, se = np.array([64.0, 128, 256, 512]), np.array([0.04, 0.03, 0.02, 0.02])
    fit = finite_width_bayes.inverse_width_fit(widths, 1 - 30 / widths, se)
    assert fit["a"] == pytest.approx(1) and fit["b"] == pytest.approx(-30) and fit["chi2"] < 1e-20
    rng = np.random.default_rng(0)
    a = [finite_width_bayes.inverse_width_fit(widths, 1 - 30 / widths + se * rng.standard_normal(4), se)["a"]
         for _ in range(4000)]  # fmt: skip
    assert np.std(a) == pytest.approx(np.sqrt(fit["cov"][0, 0]), rel=0.05)
    line, line_se = finite_width_bayes.fit_band(fit, widths)
    np.testing.assert_allclose(line, 1 - 30 / widths)
    with pytest.raises(ValueError, match="widths"):
        finite_width_bayes.inverse_width_fit(widths[:2], widths[:2], se[:2])


def test_inverse_width_fit_with_the_gp_as_limit_recovers_slope_and_curvature():
    # 1 + b / w + c / w^2 with a = 1 imposed: exact data give (b, c) and chi^2 = 0, noisy data a spread of b and c
    # over repetitions equal to the reported errors; the band is the curve. A straight line through the same curved
    # data extrapolates below 1 (the bias the fit removes, docs Sec. 7).
    widths, se = np.array([128.0, 256, 512]), np.array([0.016, 0.010, 0.009])
    truth = 1 - 52 / widths + 2000 / widths**2
    fit = finite_width_bayes.inverse_width_fit(widths, truth, se, gp_limit=True)
    assert (fit["a"], fit["gp_limit"], fit["dof"]) == (1.0, True, 1)
    assert fit["b"] == pytest.approx(-52) and fit["c"] == pytest.approx(2000) and fit["chi2"] < 1e-20
    np.testing.assert_allclose(finite_width_bayes.fit_band(fit, widths)[0], truth)
    rng = np.random.default_rng(1)
    noisy = [finite_width_bayes.inverse_width_fit(widths, truth + se * rng.standard_normal(3), se, gp_limit=True)
             for _ in range(4000)]  # fmt: skip
    for k, name in enumerate("bc"):
        assert np.std([f[name] for f in noisy]) == pytest.approx(np.sqrt(fit["cov"][k, k]), rel=0.05)
    chi2 = np.array([f["chi2"] for f in noisy])
    assert chi2.mean() == pytest.approx(1.0, abs=0.1)  # one degree of freedom
    line = finite_width_bayes.inverse_width_fit(widths, truth, se)
    assert line["a"] < 0.98 and line["chi2"] > 0


def test_approximation_summary_is_the_ratio_of_draw_sums_and_the_replica_mean():
    # Two datasets: the adaptive-kernel saddle is missing for dataset 1 at the smallest width, so that width has no
    # ratio (NaN), and a replica without a loop at one measured width leaves no replica mean there; the weight
    # moments average over the datasets that have a saddle, and the first-order moment is 1 + mean coefficient / w.
    nan = np.nan
    theory = xr.Dataset(
        {
            "gp_mse": ("draw", [1.0, 3.0]),
            "kr_mse": (("draw", "kr_width"), [[2.0, 1.0], [2.0, 3.0]]),
            "ak_mse": (("draw", "ak_width"), [[2.0, 1.0], [nan, 3.0]]),
            "ak_replica_loop_mse": (("ak_replica", "draw", "measured_width"), [[[1, 2], [3, 4]], [[2, nan], [2, 4]]]),
            "ak_weight_moment": (("draw", "ak_width", "direction"), [[[1.0, 2.0], [3.0, 4.0]], [[nan, nan], [5, 6]]]),
            "weight_coefficient": (("draw", "direction"), [[10.0, -4.0], [20.0, -8.0]]),
        },
        coords={"kr_width": [8, 16], "ak_width": [8, 16], "measured_width": [32, 64]},
    )
    s = finite_width_bayes.approximation_summary(theory)
    np.testing.assert_allclose(s.kr_ratio, [1.0, 1.0])
    np.testing.assert_allclose(s.ak_ratio, [nan, 1.0])
    np.testing.assert_allclose(s.ak_replica_loop_ratio, [(4 / 4 + 4 / 4) / 2, nan])
    np.testing.assert_allclose(s.ak_replica_loop_ratio_se, [0.0, nan])
    np.testing.assert_allclose(s.ak_weight_moment, [[1.0, 2.0], [4.0, 5.0]])
    assert "ak_replica_ratio" not in s and list(s.measured_width.values) == [32, 64]
    moment = finite_width_bayes.predicted_weight_moment(theory, [5.0, 15.0])
    np.testing.assert_allclose(moment, [[1 + 15 / 5, 1 - 6 / 5], [1 + 15 / 15, 1 - 6 / 15]])


def test_linear_width_sweep_reproduces_the_isotropic_design_table():
    # docs/finite_width_bayes.md Sec. 4, target B (|beta|^2 = 4 d): exact / GP = 0.2655, 0.5017, 0.7681 at N = 30,
    # 120, 480; the first-order expansion over-predicts the gain at N / P = 8 (1.644419e-3 / 2.379536e-3).
    from nnft.theory import bayes_linear

    x, y, beta = bayes_linear.isotropic_design(30, 60, 4.0)
    sweep = bayes_linear.width_sweep(x, y, beta, [30, 120, 480], 0.05)
    np.testing.assert_allclose(sweep.exact_mse / sweep.gp_mse, [0.2655, 0.5017, 0.7681], atol=0.5e-4)
    assert float(sweep.first_order_mse[-1] / sweep.gp_mse[-1]) == pytest.approx(1.644419e-3 / 2.379536e-3, rel=1e-6)


def test_kernel_renormalisation_of_one_hidden_layer_is_the_readout_saddle_point():
    # One hidden layer: the one-scalar-per-layer renormalisation is the readout-norm saddle point (Pacelli et al.),
    # u* a root of (N/2)(1 - u) + u l'(u) = 0 for the NNGP's weight part uK (here no readout bias), computed in the
    # kernel's eigenbasis with brentq; for the linear network also bayes_linear's Sec. 2 saddle.
    from scipy import optimize

    from nnft.theory import bayes_linear

    rng = np.random.default_rng(2)
    x, x_test = sphere.sample_sphere(rng, 40, 5), sphere.sample_sphere(rng, 7, 5)
    y = np.sin(2 * x[:, 0]) + x[:, 1] ** 2
    for act in ("relu", "erf"):
        for width in (20, 400):
            net = model.FCN(dim=5, depth=2, activation=act, sigma_w2=(2.0, 1.5), sigma_b2=(0.3, 0.0), width=width)
            lam, vec = np.linalg.eigh(kernels.gram(net, x))
            yt = vec.T @ y

            def ds_dt(t, lam=lam, yt=yt, width=width):
                u = math.exp(t)
                d = u * lam + 0.1
                return width / 2 * (1 - u) + 0.5 * u * np.sum(lam * yt**2 / d**2 - lam / d)

            u = math.exp(optimize.brentq(ds_dt, -10, 10, xtol=1e-14))
            out = finite_width_bayes.kernel_renormalisation(net, x, y, x_test, 0.1)
            assert float(out.layer_scale[0]) == pytest.approx(u, rel=1e-9)
            mean = u * kernels.gram(net, x_test, x) @ (vec @ (yt / (u * lam + 0.1)))
            np.testing.assert_allclose(out["mean"].values, mean, rtol=1e-8)
    x, y, beta = bayes_linear.isotropic_design(30, 60, 4.0)
    net = model.FCN(dim=30, depth=2, activation="identity", sigma_w2=(1.0, 1.0), sigma_b2=0.0, width=30)
    out = finite_width_bayes.kernel_renormalisation_mse(net, x[None], y[None], np.eye(30), beta, 0.05, [30, 480])
    for j, width in enumerate((30, 480)):
        net = model.FCN(dim=30, depth=2, activation="identity", sigma_w2=1.0, sigma_b2=0.0, width=width)
        assert float(out.layer_scale[0, j, 0]) == pytest.approx(bayes_linear.saddle_point(net, x, y, 0.05), rel=1e-9)
        kr = bayes_linear.kernel_renormalisation(net, x, y, 0.05)
        assert float(out.kr_mse[0, j]) == pytest.approx(bayes_linear.test_mse(kr.c_mean, beta), rel=1e-9)


def test_kernel_renormalisation_of_a_deep_relu_network():
    # Depth 3 with biases: at large width the scales go to 1 like 1/N (N (u_l - 1) converges) and the predictor to
    # the GP; the biases are not scaled, so u_l < 1 lowers the kernel's weight part against them.
    rng = np.random.default_rng(3)
    x, x_test = sphere.sample_sphere(rng, 30, 4), sphere.sample_sphere(rng, 5, 4)
    y = 0.5 * x[:, 0] + x[:, 1] * x[:, 2]
    net = model.FCN(dim=4, depth=3, activation="relu", sigma_w2=2.0, sigma_b2=0.1, width=64)
    k = kernels.gram(net, x)
    gp = kernels.gram(net, x_test, x) @ np.linalg.solve(k + 0.05 * np.eye(30), y)
    shifts = []
    for width in (1000, 4000, 16000):
        out = finite_width_bayes.kernel_renormalisation(replace(net, width=width), x, y, x_test, 0.05)
        shifts.append(width * (out.layer_scale.values - 1))
        np.testing.assert_allclose(out["mean"].values, gp, atol=50 / width)
    np.testing.assert_allclose(shifts[-1], shifts[-2], rtol=0.01)
    assert np.all(np.abs(shifts[-1]) > 1)  # a real shift, resolved
    with pytest.raises(ValueError, match="closed-form"):
        finite_width_bayes.kernel_renormalisation(replace(net, activation="tanh"), x, y, x_test, 0.05)
    with pytest.raises(ValueError, match="ridge"):
        finite_width_bayes.kernel_renormalisation(net, x, y, x_test, 0.0)
    with pytest.raises(ValueError, match="widths"):
        finite_width_bayes.kernel_renormalisation_mse(net, x[None], y[None], x_test, y[:5], 0.05, [0])


def test_weight_directions_are_the_teacher_and_one_unit_direction_orthogonal_to_it():
    from nnft.experiments.finite_width_bayes import weight_directions

    teacher = np.linalg.qr(np.random.default_rng(3).standard_normal((8, 2)))[0].T  # two orthonormal rows in R^8
    u = weight_directions(teacher, seed=0)
    assert u.shape == (3, 8)
    np.testing.assert_array_equal(u[:2], teacher)
    assert np.linalg.norm(u[2]) == pytest.approx(1.0, abs=1e-14)
    assert np.max(np.abs(teacher @ u[2])) < 1e-14


def test_ratio_fit_recovers_a_line_in_inverse_width_over_widths_from_twice_n():
    from nnft.experiments.finite_width_bayes_summary import ratio_fit

    widths = np.array([64, 128, 256, 512, 1024])
    ratio = 1.0 - 50.0 / widths
    ratio[0] = 0.2  # width = n: outside the 1/width regime, must not enter the fit
    summary = xr.Dataset({"ratio": ("width", ratio), "ratio_se": ("width", np.full(5, 0.01))}, coords={"width": widths})
    fit = ratio_fit(summary, n_train=64)
    assert fit["a"] == pytest.approx(1.0, abs=1e-12) and fit["b"] == pytest.approx(-50.0, abs=1e-9)
    assert fit["min_width"] == 128 and fit["chi2"] == pytest.approx(0.0, abs=1e-18)
    assert ratio_fit(summary.assign(ratio_se=summary.ratio_se.where(summary.width != 256, 0.0)), n_train=64) is None
    assert ratio_fit(summary.isel(width=slice(0, 3)), n_train=64)["min_width"] == 64  # < 3 widths >= 2n: all widths


def test_gp_limit_fit_sets_the_measured_slope_beside_the_first_order_slope():
    from nnft.experiments.finite_width_bayes_summary import gp_limit_fit

    # Two datasets whose first-order coefficients sum to -52 GP-MSE units of the summed GP MSE (0.1 + 0.3).
    theory = xr.Dataset(
        {
            "gp_mse": ("draw", [0.1, 0.3]),
            "mse_coefficient": ("draw", [-4.8, -16.0]),
            "mse_coefficient_se": ("draw", [0.3, 0.4]),
        },
        attrs={"n_train": 64},
    )
    widths = np.array([64, 128, 256, 512])
    ratio = 1 - 52 / widths + 2000 / widths**2
    ratio[0] = 0.3  # width = n: not fitted
    summary = xr.Dataset({"ratio": ("width", ratio), "ratio_se": ("width", [0.03, 0.016, 0.01, 0.009])},
                         coords={"width": widths})  # fmt: skip
    fit = gp_limit_fit(summary, theory)
    assert fit["min_width"] == 128 and fit["b"] == pytest.approx(-52) and fit["c"] == pytest.approx(2000)
    assert fit["b_first_order"] == pytest.approx(-52) and fit["b_first_order_se"] == pytest.approx(0.5 / 0.4)
    assert fit["a_se"] == 0 and fit["b_se"] == pytest.approx(np.sqrt(fit["cov"][0, 0]))


@pytest.mark.parametrize("widths, zoom", [([64, 128, 256, 512], False), ([64, 128, 256, 512, 1024, 2048], True)])
def test_figure_draws_the_gp_limit_fit_and_zooms_on_the_widest_networks(widths, zoom):
    from nnft.experiments import finite_width_bayes_summary as summaries
    from nnft.plots.finite_width_bayes import finite_width_bayes_figure

    # A theory store with only the first-order variables (the figure draws what the store has): slope -52.
    theory = xr.Dataset({"gp_mse": ("draw", [0.1, 0.3]), "mse_coefficient": ("draw", [-4.8, -16.0]),
                         "mse_coefficient_se": ("draw", [0.3, 0.4])}, attrs={"n_train": 64})  # fmt: skip
    widths = np.array(widths)
    ratio = 1 - 52 / widths + 2000 / widths**2
    summary = xr.Dataset({"ratio": ("width", ratio), "ratio_se": ("width", 1.0 / widths)}, coords={"width": widths})
    fit, gp_fit = summaries.ratio_fit(summary, 64), summaries.gp_limit_fit(summary, theory)
    predictions = summaries.predicted_curves(theory, widths, fit, None, gp_fit)
    fig = finite_width_bayes_figure(summary, theory, predictions, fit, "test", gp_fit=gp_fit)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("b = -52 ± " in t and "first-order theory: b = -52 ± 1" in t for t in labels), labels
    assert len(ax.child_axes) == zoom
    if zoom:  # every measured point of width >= 4 x the smallest, with its 2 s.e. bar, lies inside the zoom, also
        # one above the GP
        ratio[-1] = 1.02
        summary["ratio"] = ("width", ratio)
        fig = finite_width_bayes_figure(summary, theory, predictions, fit, "test", gp_fit=gp_fit)
        lo, hi = fig.axes[0].child_axes[0].get_ylim()
        wide = widths >= 256
        assert lo < (ratio - 2 / widths)[wide].min() and hi > (ratio + 2 / widths)[wide].max()
        assert fig.axes[0].child_axes[0].get_xlim()[1] > 1 / 256
