"""learning_curves.py: exact GP against direct solves and Monte Carlo; theories against science/ tables."""

import numpy as np
import pytest

from nnft import data, model, sphere
from nnft.theory import kernels, learning_curves


@pytest.fixture(scope="module")
def setup():
    net = model.FCN(dim=5, depth=3, sigma_w2=2.0, sigma_b2=0.1)
    spec = kernels.spectrum(net, 40, 800)
    ds = data.make_dataset(11, 5, [1, 2], [0.6, 0.4], n_max=40, n_test=20000, n_draws=3, noise=0.1)
    return net, spec, ds


def test_exact_gp_equals_direct_solve(setup):
    net, spec, ds = setup
    ridge, n = 0.07, 25
    out = learning_curves.exact_gp_learning_curve(net, ds, [10, n], ridge, spec.eigenvalue_nngp.values)
    x, y, xt = ds.x_train.values[1, :n], ds.y_train.values[1, :n], ds.x_test.values
    # Direct: K(x, x') by Monte-Carlo-free kernel evaluation and a dense solve of (K + ridge I) a = y.
    k = np.array([[kernels.nngp(net, a @ b) for b in x] for a in x])
    f_direct = kernels.nngp(net, xt @ x.T) @ np.linalg.solve(k + ridge * np.eye(n), y)
    np.testing.assert_allclose(out.f_test.sel(draw=1, n_train=n).values, f_direct, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(
        out.mse_test.sel(draw=1, n_train=n).values, np.mean((f_direct - ds.g_test.values) ** 2), rtol=1e-9
    )


def test_population_mse_matches_large_test_set(setup):
    # The spectral population MSE agrees with the 20000-point test-set estimate within its Monte Carlo error.
    net, spec, ds = setup
    out = learning_curves.exact_gp_learning_curve(net, ds, [8, 40], 0.05, spec.eigenvalue_nngp.values)
    for draw in range(3):
        for n in (8, 40):
            alpha_f = out.f_test.sel(draw=draw, n_train=n).values
            sq = (alpha_f - ds.g_test.values) ** 2
            se = sq.std() / np.sqrt(sq.size)
            assert abs(out.mse_population.sel(draw=draw, n_train=n).item() - sq.mean()) < 4.5 * se


def test_self_consistent_reproduces_f5():
    # science/learning_curves.md Sec. 8 F5, SC columns: v2 kernel (depth-4 ReLU NTK, d = 50, unit inputs),
    # noiseless, exact lambda_{l<=4}, the l >= 5 mass as ridge, target (Y1 + Y2)/sqrt(2). Table quoted to 4 digits.
    net = model.FCN(dim=50, depth=4, sigma_w2=1.0, sigma_b2=1.0, input_scaling="unit")
    spec = kernels.spectrum(net, 4, 500)
    power = learning_curves.power_per_degree([1, 2], [0.5, 0.5], 4)
    sc = learning_curves.sc_theory(
        spec.eigenvalue_ntk.values, spec.degeneracy.values, power, spec.tail_ntk, [100, 400, 1600, 3500]
    )
    np.testing.assert_allclose(sc.sc.values, [0.7024, 0.4972, 0.3021, 0.1672], atol=5e-5)
    np.testing.assert_allclose(sc.sc_mean_predictor.values, [0.5571, 0.4381, 0.2766, 0.1520], atol=5e-5)


def test_sc_tends_to_ek_at_large_n():
    # kappa -> ridge / n and E_0 -> 1 as n grows, so SC -> EK (Sec. 7, relation 1).
    lam = np.array([1.0, 0.1, 0.01, 1e-3])
    deg = np.array([1, 5, 15, 35])
    power = np.array([0.0, 0.5, 0.5, 0.0])
    n = np.array([1e6, 1e8])
    sc = learning_curves.sc_theory(lam, deg, power, 0.1, n)
    ek = learning_curves.ek_mse(lam, deg, power, 0.1, n)
    # Both deviations are O(number of modes / n) = O(56 / n).
    assert np.all(np.abs(sc.kappa.values * n / 0.1 - 1) < 112 / n)
    assert np.all(np.abs(sc.sc.values / ek - 1) < 4 * 56 / n)
    assert np.abs(sc.sc.values / ek - 1)[1] < np.abs(sc.sc.values / ek - 1)[0]


def test_sc_matches_exact_gp_average():
    # The exact GP learning curve averaged over 30 datasets agrees with the self-consistent theory within a few
    # standard errors plus its known O(1/n) accuracy (F5: within 0.5 %); d = 5, n = 30.
    net = model.FCN(dim=5, depth=2, sigma_w2=2.0, sigma_b2=0.0)
    spec = kernels.spectrum(net, 40, 800)
    ds = data.make_dataset(5, 5, [1, 2], [0.5, 0.5], n_max=30, n_test=1, n_draws=30)
    out = learning_curves.exact_gp_learning_curve(net, ds, [30], 0.02, spec.eigenvalue_nngp.values)
    sim = out.mse_population.values[:, 0]
    power = learning_curves.power_per_degree([1, 2], [0.5, 0.5], 40)
    sc = learning_curves.sc_theory(spec.eigenvalue_nngp.values, spec.degeneracy.values, power, 0.02, [30]).sc.item()
    se = sim.std(ddof=1) / np.sqrt(sim.size)
    assert abs(sim.mean() - sc) < 4 * se + 0.02 * sc, (sim.mean(), se, sc)


def test_ek_limits():
    lam, deg = np.array([1.0, 0.1]), np.array([1, 3])
    power = np.array([0.3, 0.7])
    # n -> 0: nothing learned, EK = ||g||^2; huge n: everything learned.
    assert learning_curves.ek_mse(lam, deg, power, 1.0, [1e-9])[0] == pytest.approx(1.0, rel=1e-6)
    assert learning_curves.ek_mse(lam, deg, power, 1.0, [1e12])[0] < 1e-20
    # one level: (kappa0 / (lambda + kappa0))^2 by hand, kappa0 = 0.5
    assert learning_curves.ek_mse([1.0], [1], [1.0], 1.0, [2])[0] == pytest.approx((0.5 / 1.5) ** 2)


def test_power_per_degree_refuses_bad_terms():
    with pytest.raises(ValueError, match="max_degree"):
        learning_curves.power_per_degree([5], [1.0], 3)
    with pytest.raises(ValueError, match="power: one per degree"):
        learning_curves.power_per_degree([1, 3], [0.5], 20)
    with pytest.raises(ValueError, match="degrees"):
        learning_curves.power_per_degree([1.5], [1.0], 20)
    with pytest.raises(ValueError, match="power"):
        learning_curves.power_per_degree([1], [-1.0], 20)


def test_gp_rejects_too_large_n(setup):
    net, spec, ds = setup
    with pytest.raises(ValueError, match="exceeds"):
        learning_curves.exact_gp_learning_curve(net, ds, [41], 0.1, spec.eigenvalue_nngp.values)


def test_gegenbauer_reproducing_property():
    # The identity behind population_mse: int dmu N_l P_l(a.x) N_l P_l(b.x) = N_l P_l(a.b), by Monte Carlo.
    rng = np.random.default_rng(0)
    d, l = 6, 2
    a, b = sphere.sample_sphere(rng, 2, d)
    x = sphere.sample_sphere(rng, 400_000, d)
    n_l = sphere.degeneracy(d, l)
    v = n_l**2 * sphere.gegenbauer_normalized(d, l, x @ a) * sphere.gegenbauer_normalized(d, l, x @ b)
    assert abs(v.mean() - n_l * sphere.gegenbauer_normalized(d, l, a @ b)) < 5 * v.std() / np.sqrt(v.size)


# ---- science/learning_curves.md Sec. 8, F5 and F6, and the identities of Secs. 3b, 4, 7 ----------------------------


@pytest.fixture(scope="module")
def v2_kernel():
    # F3/F5: depth-4 ReLU NTK, sigma_w2 = sigma_b2 = 1, d = 50, "unit" inputs; target (Y1 + Y2) / sqrt(2).
    net = model.FCN(dim=50, depth=4, sigma_w2=1.0, sigma_b2=1.0, input_scaling="unit")
    spec = kernels.spectrum(net, 12, 500)
    power = learning_curves.power_per_degree([1, 2], [0.5, 0.5], 12)
    return net, spec, power


F5_N = [100, 400, 1600, 3500]


def test_cohen_v2_renormalised_theories_table(v2_kernel):
    net, spec, power = v2_kernel
    deg = spec.degeneracy.values
    lam_r, ridge_r = learning_curves.renormalised_taylor(spec.taylor_ntk.values, spec.k1_ntk, 50, 0.0, 3, 12)
    assert ridge_r == pytest.approx(0.01873, abs=5e-6)
    np.testing.assert_allclose(
        learning_curves.ek_mse(lam_r, deg, power, ridge_r, F5_N), [0.4905, 0.3950, 0.2191, 0.1115], rtol=1e-3
    )
    np.testing.assert_allclose(
        learning_curves.ek_one_over_n(lam_r, deg, power, ridge_r, F5_N)[0], [0.5659, 0.4600, 0.2977, 0.1624], rtol=1e-3
    )
    # Sec. 4 spectral variant: sigma_r^2(l > 3) = 0.01813, sigma_r^2(l > 4) = 0.01570
    for r, expected in ((3, 0.01813), (4, 0.01570)):
        _, ridge_s = learning_curves.renormalised_spectral(spec.eigenvalue_ntk.values, deg, spec.k1_ntk, 0.0, r)
        assert ridge_s == pytest.approx(expected, abs=5e-6)
    # The cut-off rule picks r = 3 at d = 50 for the largest n, as v2 did.
    assert learning_curves.cutoff_degree(3500, 50)[0] == 3


def test_cohen_v2_exact_gp_matches_the_papers_simulation(v2_kernel):
    # Exact noiseless NTK GP regression, exact spectral test error, 80 datasets: within 3 combined standard errors
    # of F5's simulation column (its own s.e. in brackets) for the dataset-averaged MSE, and of its
    # mean-predictor column (no s.e. quoted) within 3 of ours.
    net, spec, power = v2_kernel
    ds = data.make_dataset(0, 50, [1, 2], [0.5, 0.5], n_max=400, n_test=1, n_draws=80)
    gp = learning_curves.exact_gp_learning_curve(net, ds, [100, 400], 0.0, spec.eigenvalue_ntk.values, kind="ntk")
    summary = learning_curves.gp_summary(gp, ds.target_power.values)
    for n, sim, sim_se, mean_pred in ((100, 0.7007, 0.0028, 0.557), (400, 0.4975, 0.0014, 0.438)):
        s = summary.sel(n_train=n)
        assert abs(s.mse.item() - sim) < 3 * np.hypot(s.mse_se.item(), sim_se)
        assert abs(s.mse_mean_predictor.item() - mean_pred) < 3 * s.mse_mean_predictor_se.item() + 5e-4


def test_ntk_theory_curves_reproduce_f5(v2_kernel):
    # theory_curves with kind="ntk" and ridge 0 (the workflow's noiseless NTK experiment, fixed cut-off r = 3) gives
    # F5's EK_r and EK + 1/n columns (quoted to 4 digits) and its SC columns up to the tail beyond max_degree 12,
    # which here joins the ridge instead of the l >= 5 mass (their difference is 1e-4 of the MSE).
    _, spec, _ = v2_kernel
    th = learning_curves.theory_curves(spec, [1, 2], [0.5, 0.5], 0.0, 0.0, F5_N, cutoff=3, kind="ntk")
    assert th.attrs["kernel"] == "ntk"
    np.testing.assert_allclose(th.ek_renorm_taylor.values, [0.4905, 0.3950, 0.2191, 0.1115], rtol=1e-3)
    np.testing.assert_allclose(th.ek_1n_renorm_taylor.values, [0.5659, 0.4600, 0.2977, 0.1624], rtol=1e-3)
    np.testing.assert_allclose(th.sc.values, [0.7024, 0.4972, 0.3021, 0.1672], rtol=2e-3)
    np.testing.assert_allclose(th.sc_mean_predictor.values, [0.5571, 0.4381, 0.2766, 0.1520], rtol=2e-3)
    with pytest.raises(ValueError, match="kind"):
        learning_curves.theory_curves(spec, [1, 2], [0.5, 0.5], 0.0, 0.0, F5_N, kind="cntk")


def test_noiseless_gp_does_not_move_when_the_jitter_halves(v2_kernel):
    # The jitter regularises the Cholesky factorisation only: the NTK's own high-degree mass (~0.02 I, Sec. 9)
    # dominates it by six orders, so halving it moves every result by < 1e-6 relative (1e-7 absolute where a value
    # is near zero); a jitter comparable to that
    # mass (1e-2) moves the MSE by up to 2 % (the check can fail).
    net, spec, _ = v2_kernel
    ds = data.make_dataset(4, 50, [1, 2], [0.5, 0.5], n_max=300, n_test=50, n_draws=3)
    lam = spec.eigenvalue_ntk.values

    def run(jitter):
        return learning_curves.exact_gp_learning_curve(net, ds, [100, 300], 0.0, lam, kind="ntk", jitter=jitter)

    a, b, far = run(1e-8), run(5e-9), run(1e-2)
    assert a.attrs["jitter"] == 1e-8 and b.attrs["jitter"] == 5e-9
    for name in ("mse_population", "learned_fraction", "f_test"):
        np.testing.assert_allclose(a[name].values, b[name].values, rtol=1e-6, atol=1e-7)
    assert np.abs(far.mse_population.values / a.mse_population.values - 1).max() > 0.01


def test_gp_refuses_a_singular_kernel_without_jitter():
    # A rank-one kernel matrix at ridge 0 has no Cholesky factor: a ValueError naming the jitter, not a NaN.
    with pytest.raises(ValueError, match="jitter"):
        learning_curves.gp_solve(np.ones((6, 6)), np.arange(6.0), 0.0)
    net = model.FCN(dim=5, depth=2)
    ds = data.make_dataset(0, 5, [1], [1.0], n_max=10, n_test=5, n_draws=2)
    with pytest.raises(ValueError, match="jitter"):
        learning_curves.exact_gp_learning_curve(net, ds, [10], 0.0, np.ones(4), jitter=-1.0)


def test_cutoff_convergence_matches_monte_carlo():
    # The spectral distance int dmu (g*_r - g*_inf)^2 against a Monte Carlo average over 2e5 uniform test points,
    # within 5 standard errors, for every cut-off; it falls with r towards 0 (K_r -> K, sigma_r^2 -> sigma^2).
    d, n = 5, 60
    net = model.FCN(dim=d, depth=3, sigma_w2=1.0, sigma_b2=1.0, input_scaling="unit")
    spec = kernels.spectrum(net, 40, 2000)
    ds = data.make_dataset(0, d, [1, 2], [0.5, 0.5], n_max=n, n_test=5, n_draws=2)
    cutoffs = [0, 1, 2, 4, 8]
    b = spec.taylor_ntk.values
    cc = learning_curves.cutoff_convergence(
        net, ds, [30, n], cutoffs, spec.eigenvalue_ntk.values, b, 0.0, kind="ntk", jitter=1e-10
    )
    np.testing.assert_allclose(cc.ridge_renorm.values, [spec.k1_ntk - b[: r + 1].sum() for r in cutoffs])
    z = sphere.sample_sphere(np.random.default_rng(1), 200_000, d)
    x, y = ds.x_train.values[0, :n], ds.y_train.values[0, :n]
    f_inf = kernels.gram(net, z[None], x, kind="ntk")[0] @ learning_curves.gp_solve(
        kernels.gram(net, x[None], kind="ntk")[0], y, 1e-10
    )
    for k, r in enumerate(cutoffs):
        trimmed = np.polynomial.polynomial.polyval
        c = learning_curves.gp_solve(trimmed(x @ x.T, b[: r + 1]), y, cc.ridge_renorm.values[k] + 1e-10)
        sq = (trimmed(z @ x.T, b[: r + 1]) @ c - f_inf) ** 2
        assert abs(cc.distance2.sel(draw=0, n_train=n).values[k] - sq.mean()) < 5 * sq.std() / np.sqrt(sq.size)
    mean = cc.distance2.mean("draw").values
    assert np.all(np.diff(mean, axis=-1) < 0) and np.all(mean[:, -1] < 1e-3 * mean[:, 0])
    with pytest.raises(ValueError, match="cutoffs"):
        learning_curves.cutoff_convergence(net, ds, [n], [b.size], spec.eigenvalue_ntk.values, b, 0.0, kind="ntk")


# ---- Cohen et al. v2's stated claims, each on its named observable (learning_curves.cohen_v2_claims) -------------


@pytest.fixture(scope="module")
def v2_claims(v2_kernel):
    # The workflow's claims table for experiment cohen_v2 at n = 1000 and 1600, from 16 datasets of its own.
    net, spec, _ = v2_kernel
    n = [1000, 1600]
    ds = data.make_dataset(5, 50, [1, 2], [0.5, 0.5], n_max=1600, n_test=1, n_draws=16)
    gp = learning_curves.exact_gp_learning_curve(net, ds, n, 0.0, spec.eigenvalue_ntk.values, kind="ntk", jitter=1e-8)
    summary = learning_curves.gp_summary(gp, ds.target_power.values)
    theory = learning_curves.theory_curves(spec, [1, 2], [0.5, 0.5], 0.0, 0.0, n, cutoff=3, kind="ntk")
    comparison = learning_curves.compare(theory, summary)
    table = learning_curves.cohen_v2_claims(spec, theory, comparison, summary)
    return table


def _claim(table, start, observable, n=None):
    rows = table[table.claim.str.startswith(start) & (table.observable == observable)]
    return rows if n is None else rows[rows.n_train == n].iloc[0]


def test_claim_eigenvalues_and_renormalised_noise(v2_claims):
    # Observable: theory. lambda_0..3 of the Taylor-trimmed kernel are F3's (3.1937, 7.2739e-4, 5.9820e-6,
    # 1.6204e-7; the text's 7.27e-3 is a typo) and hold to the quoted digits; sigma_r^2 = 0.01873 is quoted as 0.018,
    # truncated (rounding gives 0.019): it holds within one unit of the last quoted digit, 4.1 % off.
    rows = [_claim(v2_claims, f"lambda_{l}", "theory").iloc[0] for l in range(4)]
    np.testing.assert_allclose([r.measured for r in rows], [3.1937, 7.2739e-4, 5.9820e-6, 1.6204e-7], rtol=2e-5)
    assert all(r.holds for r in rows)
    noise = _claim(v2_claims, "sigma_r^2", "theory").iloc[0]
    assert noise.measured == pytest.approx(0.01873, abs=5e-6) and noise.relative == pytest.approx(0.0406, abs=5e-4)
    assert noise.holds


def test_claim_expansion_parameter_51_over_n_fails(v2_kernel, v2_claims):
    # Observable: theory, C / sigma_r^2 of Eq. 10 with the r = 3 kernel. "C sigma^-2 ~ 51 / n" counts only the
    # learned levels 0 and 1; the kept levels 2 and 3 sit below kappa_0 = sigma_r^2 / n and add nearly their whole
    # power N_l lambda_l (0.0076 + 0.0036) / sigma_r^2 ~ 0.5. Independently from F3's eigenvalues: 0.547 at n = 1000,
    # 10.7 times 51 / n, so the parameter is never small in the paper's range (0.99 at n = 100, 0.49 at 1600).
    lam = np.array([3.1937057, 7.2738895e-4, 5.9820170e-6, 1.6203770e-7])
    deg = sphere.degeneracy(50, np.arange(4))
    for n in (1000, 1600):
        kappa0 = 0.01873084 / n
        direct = (deg * lam * kappa0 / (lam + kappa0)).sum() / 0.01873084
        row = _claim(v2_claims, "C / sigma_r^2", "theory", n)
        assert row.measured == pytest.approx(direct, rel=1e-5)
        assert row.stated == pytest.approx(51 / n) and not row.holds
    assert _claim(v2_claims, "C / sigma_r^2", "theory", 1000).measured == pytest.approx(0.5472, abs=1e-4)


def test_claim_degree_two_suppressed_by_about_three(v2_kernel, v2_claims):
    # Observable: gp_learned_fraction, <f, g_2> / ||g_2||^2 of exact GP regression at n = 1000 averaged over 16
    # datasets. It agrees with the self-consistent learnability (0.1712) within 3 standard errors, and the
    # suppression is 1 / 0.17 ~ 5.8, not "about 3" (the leading EK says 1 / 0.242 = 4.1): the claim does not hold.
    _, spec, _ = v2_kernel
    row = _claim(v2_claims, "degree 2", "gp_learned_fraction", 1000)
    sc = learning_curves.theory_curves(spec, [1, 2], [0.5, 0.5], 0.0, 0.0, [1000], kind="ntk")
    assert abs(row.measured - sc.learnability_sc.sel(degree=2).item()) < 3 * row.measured_se
    assert 5.0 < 1 / row.measured < 7.0 and not row.holds


def test_claim_within_three_percent_depends_on_the_observable(v2_claims):
    # "The best estimate is within 3 % of experiment": EK + 1/n (Taylor trim, r = 3) at n = 1600 against
    # gp_mse, the dataset-averaged MSE (F5: -1.8 %), holds; against gp_mse_mean_predictor, the MSE of the
    # dataset-averaged predictor that Eq. 10 describes (F5: +7.2 %), it fails by more than two standard errors.
    averaged = _claim(v2_claims, "EK + 1/n", "gp_mse", 1600)
    assert abs(averaged.relative) < 0.03 and averaged.holds
    mean_predictor = _claim(v2_claims, "EK + 1/n", "gp_mse_mean_predictor", 1600)
    se = mean_predictor.measured_se * mean_predictor.stated / mean_predictor.measured**2
    assert mean_predictor.relative - 0.03 > 2 * se and not mean_predictor.holds
    assert mean_predictor.relative == pytest.approx(0.072, abs=0.02)


def _levels_gp_mse(d, n, lam, deg, power, ridge, shared, draws, seed):
    """Exact GP population MSE on S^{d-1} with the kernel sum_l lam_l N_l P_l(x_i . x_j) truncated at len(lam) - 1,
    averaged over datasets and, exactly, over the target's direction within each degree (rotation symmetry):
    mse_l / G_l = tr(R M R B_l) / N_l - 2 lam_l tr(R B_l) / N_l + 1, R = (K + ridge)^-1, M = sum lam^2 B.
    shared=False evaluates each degree's Gram B_l at its own independent inputs: the same spectrum and the same
    statistics within every degree, but no dependence between degrees."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(draws):
        x_shared = sphere.sample_sphere(rng, n, d)
        blocks = []
        for l in range(lam.size):
            x = x_shared if shared else sphere.sample_sphere(rng, n, d)
            blocks.append(deg[l] * sphere.gegenbauer_normalized(d, l, np.clip(x @ x.T, -1, 1)))
        r = np.linalg.inv(sum(a * b for a, b in zip(lam, blocks, strict=True)) + ridge * np.eye(n))
        rmr = r @ sum(a**2 * b for a, b in zip(lam, blocks, strict=True)) @ r
        out.append(
            sum(
                power[l] * (np.sum(rmr * blocks[l]) - 2 * lam[l] * np.sum(r * blocks[l])) / deg[l] + power[l]
                for l in np.flatnonzero(power)
            )
        )
    return np.mean(out), np.std(out, ddof=1) / np.sqrt(draws)


def test_self_consistent_gap_at_small_d_is_the_coupling_of_degrees():
    # docs/papers.md Sec. 2: on S^7 (the default experiment's kernel, levels <= 6, the rest as ridge) the exact GP is
    # ~8 % above the self-consistent theory at n = 256. Evaluating each degree at its own inputs, which keeps the
    # spectrum and each degree's own statistics, brings it within 2 %: the gap is the dependence between degrees
    # that share the inputs, which the Gaussian-equivalent theory treats as independent. At d = 24 it is < 1 %.
    for d, n, shared_gap, draws in ((8, 256, (-0.12, -0.05), 60), (24, 256, (-0.01, 0.01), 20)):
        net = model.FCN(dim=d, depth=3, sigma_w2=2.0, sigma_b2=0.1, input_scaling="sqrt_d")
        spec = kernels.spectrum(net, 30, 1000)
        lam, deg = spec.eigenvalue_nngp.values[:7], spec.degeneracy.values[:7]
        ridge = 0.05 + spec.k1_nngp - (deg * lam).sum()
        power = learning_curves.power_per_degree([1, 2], [0.5, 0.5], 6)
        sc = learning_curves.sc_theory(lam, deg, power, ridge, [n]).sc.item()
        mse, se = _levels_gp_mse(d, n, lam, deg, power, ridge, True, draws, seed=d)
        assert shared_gap[0] < sc / mse - 1 < shared_gap[1] and se < 0.01 * mse, (d, sc / mse - 1, se / mse)
        if d == 8:
            mse_i, se_i = _levels_gp_mse(d, n, lam, deg, power, ridge, False, draws, seed=d)
            assert abs(sc / mse_i - 1) < 0.02 + 2 * se_i / mse_i, (sc / mse_i - 1, se_i / mse_i)


F6_N = 1600


@pytest.fixture(scope="module")
def f6_kernel():
    # F6: d = 20, depth-4 ReLU NNGP with Sigma1 = 2t + 0.1 (sqrt_d convention), ridge 1e-2, target (Y1+Y2+Y3)/sqrt(3)
    net = model.FCN(dim=20, depth=4, sigma_w2=2.0, sigma_b2=0.1, input_scaling="sqrt_d")
    spec = kernels.spectrum(net, 40, 1000)
    power = learning_curves.power_per_degree([1, 2, 3], [1 / 3] * 3, 40)
    return net, spec, power


def test_leading_ek_is_wrong_without_renormalisation(f6_kernel):
    net, spec, power = f6_kernel
    lam, deg = spec.eigenvalue_nngp.values, spec.degeneracy.values
    assert learning_curves.ek_mse(lam, deg, power, 1e-2, [F6_N])[0] == pytest.approx(0.0051, abs=5e-5)
    lam_r, ridge_r = learning_curves.renormalised_spectral(lam, deg, spec.k1_nngp, 1e-2, 4)
    assert ridge_r == pytest.approx(0.0572, abs=5e-5)
    assert learning_curves.ek_mse(lam_r, deg, power, ridge_r, [F6_N])[0] == pytest.approx(0.067, abs=5e-4)
    assert learning_curves.ek_one_over_n(lam_r, deg, power, ridge_r, [F6_N])[0][0] == pytest.approx(0.185, abs=5e-4)
    sc = learning_curves.sc_theory(lam, deg, power, 1e-2 + spec.tail_nngp, [F6_N])
    assert sc.sc.item() == pytest.approx(0.206, abs=5e-4)
    # Eq. 10 with the bare ridge blows up at small n: 8.3 at n = 25 with levels l <= 8 (as in F6); the value grows
    # with the number of levels kept (9.3 converged), since C / ridge >> 1 there.
    bare = learning_curves.ek_one_over_n(lam[:9], deg[:9], power[:9], 1e-2, [25])[0][0]
    assert bare == pytest.approx(8.3, abs=0.05)
    assert learning_curves.perturbative_ratio(lam, deg, 1e-2, [25])[0] > 10


@pytest.mark.slow
def test_renormalisation_example_exact_gp_at_n_1600(f6_kernel):
    # F6 simulation: 0.207 +- 0.005 at n = 1600 (12 datasets here).
    net, spec, power = f6_kernel
    ds = data.make_dataset(1, 20, [1, 2, 3], [1 / 3] * 3, n_max=F6_N, n_test=1, n_draws=12)
    gp = learning_curves.exact_gp_learning_curve(net, ds, [F6_N], 1e-2, spec.eigenvalue_nngp.values)
    s = learning_curves.gp_summary(gp, ds.target_power.values).sel(n_train=F6_N)
    assert abs(s.mse.item() - 0.207) < 3 * np.hypot(s.mse_se.item(), 0.005)


def test_sc_first_order_is_eq10():
    # Sec. 3b: kappa = kappa0 + C / n + O(n^-2); hence (kappa - kappa0) n -> C, and Eq. 10's a_l is the first-order
    # expansion of kappa / (lambda + kappa): |a_SC - a_Eq10| = O(n^-2).
    lam = np.array([1.0, 0.2, 0.03, 4e-3, 5e-4])
    deg = np.array([1, 6, 20, 50, 105])
    ridge = 0.05
    gaps, diffs = [], []
    for n in (1e4, 1e5, 1e6):
        kappa = learning_curves.self_consistent_kappa(lam, deg, ridge, [n])[0]
        kappa0 = ridge / n
        c = (deg * lam * kappa0 / (lam + kappa0)).sum()
        gaps.append(abs((kappa - kappa0) * n / c - 1))
        a_sc = kappa / (lam + kappa)
        _, a_10 = learning_curves.ek_one_over_n(lam, deg, np.ones(5), ridge, [n])
        diffs.append(np.abs(a_sc - a_10[0]).max())
    assert gaps[2] < gaps[1] < gaps[0] and gaps[2] < 1e-3
    assert diffs[1] / diffs[0] < 0.02 and diffs[2] / diffs[1] < 0.02  # second order: x100 per decade


def test_spectral_tail_as_ridge_converges():
    # SC on levels l <= r with the rest lumped into the ridge converges to SC on the full spectrum as r grows.
    net = model.FCN(dim=8, depth=3, sigma_w2=2.0, sigma_b2=0.1)
    spec = kernels.spectrum(net, 40, 1000)
    lam, deg = spec.eigenvalue_nngp.values, spec.degeneracy.values
    power = learning_curves.power_per_degree([1, 2], [0.5, 0.5], 40)
    full = learning_curves.sc_theory(lam, deg, power, 0.05 + spec.tail_nngp, [200]).sc.item()
    errors = []
    for r in (2, 4, 8, 16):
        lam_r, ridge_r = learning_curves.renormalised_spectral(lam, deg, spec.k1_nngp, 0.05, r)
        errors.append(abs(learning_curves.sc_theory(lam_r, deg, power, ridge_r, [200]).sc.item() / full - 1))
    assert errors[-1] < 1e-3 and all(b < a for a, b in zip(errors, errors[1:], strict=False))


def test_kappa_solver_robust():
    # n from 1 to 1e7 (and a noiseless spectrum): the defining equation holds to 1e-12 relative.
    lam = np.array([2.0, 0.3, 0.02, 1e-3, 1e-5, 1e-8])
    deg = np.array([1, 8, 35, 120, 330, 800])
    n = np.logspace(0, 7, 50)
    for ridge in (1e-2, 1.0):
        kappa = learning_curves.self_consistent_kappa(lam, deg, ridge, n)
        lhs = (deg * lam / (lam + kappa[:, None])).sum(1) + ridge / kappa
        np.testing.assert_allclose(lhs, n, rtol=1e-12)
    n0 = np.array([1.0, 100.0, 1200.0])
    kappa = learning_curves.self_consistent_kappa(lam, deg, 0.0, n0)
    np.testing.assert_allclose((deg * lam / (lam + kappa[:, None])).sum(1), n0, rtol=1e-12)
    with pytest.raises(ValueError, match="number of modes"):
        learning_curves.self_consistent_kappa(lam, deg, 0.0, [1294])


def test_sc_noise_conventions():
    # CBP (clean target) vs Simon (noisy test labels) differ by exactly noise^2; mode errors sum to the bias part.
    lam, deg = np.array([1.0, 0.1, 0.01]), np.array([1, 4, 10])
    power = np.array([0.2, 0.5, 0.3])
    sc = learning_curves.sc_theory(lam, deg, power, 0.1, [5, 50], noise=0.3)
    np.testing.assert_allclose(sc.sc_noisy_test - sc.sc, 0.09)
    np.testing.assert_allclose(sc.mode_error_sc.sum("degree") + 0.09 * (sc.e0 - 1), sc.sc)
    # CBP's explicit E_g with kappa_C = n kappa and gamma = sum n lambda^2 / (n lambda + kappa_C)^2
    n = sc.n_train.values[:, None]
    kc = n * sc.kappa.values[:, None]
    gamma = (deg * n * lam**2 / (n * lam + kc) ** 2).sum(1)
    eg = (power * kc**2 / (n * lam + kc) ** 2).sum(1) / (1 - gamma) + 0.09 * gamma / (1 - gamma)
    np.testing.assert_allclose(sc.sc.values, eg, rtol=1e-12)


@pytest.mark.slow
def test_cohen_v2_exact_gp_matches_the_papers_simulation_at_large_n(v2_kernel):
    # F5's simulation column at n = 1600 and 3500 (16 datasets): within 3 combined standard errors.
    net, spec, power = v2_kernel
    ds = data.make_dataset(2, 50, [1, 2], [0.5, 0.5], n_max=3500, n_test=1, n_draws=16)
    gp = learning_curves.exact_gp_learning_curve(net, ds, [1600, 3500], 0.0, spec.eigenvalue_ntk.values, kind="ntk")
    summary = learning_curves.gp_summary(gp, ds.target_power.values)
    for n, sim, sim_se in ((1600, 0.3031, 0.0015), (3500, 0.1680, 0.0014)):
        s = summary.sel(n_train=n)
        assert abs(s.mse.item() - sim) < 3 * np.hypot(s.mse_se.item(), sim_se), (n, s.mse.item(), s.mse_se.item())
