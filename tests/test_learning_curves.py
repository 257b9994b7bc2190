"""learning_curves.py: exact GP against direct solves and Monte Carlo; theories against science/ tables."""

import numpy as np
import pytest

from nnft import data, kernels, learning_curves, sphere


@pytest.fixture(scope="module")
def setup():
    net = kernels.FCN(dim=5, depth=3, sigma_w2=2.0, sigma_b2=0.1)
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
    net = kernels.FCN(dim=50, depth=4, sigma_w2=1.0, sigma_b2=1.0, input_scaling="unit")
    spec = kernels.spectrum(net, 4, 500)
    power = learning_curves.power_per_degree([1, 2], [0.5, 0.5], 4)
    sc = learning_curves.sc_mse(
        spec.eigenvalue_ntk.values, spec.degeneracy.values, power, spec.tail_ntk, [100, 400, 1600, 3500]
    )
    np.testing.assert_allclose(sc.mse.values, [0.7024, 0.4972, 0.3021, 0.1672], atol=5e-5)
    np.testing.assert_allclose(sc.mse_mean_predictor.values, [0.5571, 0.4381, 0.2766, 0.1520], atol=5e-5)


def test_sc_tends_to_ek_at_large_n():
    # kappa -> ridge / n and E_0 -> 1 as n grows, so SC -> EK (Sec. 7, relation 1).
    lam = np.array([1.0, 0.1, 0.01, 1e-3])
    deg = np.array([1, 5, 15, 35])
    power = np.array([0.0, 0.5, 0.5, 0.0])
    n = np.array([1e6, 1e8])
    sc = learning_curves.sc_mse(lam, deg, power, 0.1, n)
    ek = learning_curves.ek_mse(lam, deg, power, 0.1, n)
    # Both deviations are O(number of modes / n) = O(56 / n).
    assert np.all(np.abs(sc.kappa.values * n / 0.1 - 1) < 112 / n)
    assert np.all(np.abs(sc.mse.values / ek - 1) < 4 * 56 / n)
    assert np.abs(sc.mse.values / ek - 1)[1] < np.abs(sc.mse.values / ek - 1)[0]


def test_sc_matches_exact_gp_average():
    # The exact GP learning curve averaged over 30 datasets agrees with the self-consistent theory within a few
    # standard errors plus its known O(1/n) accuracy (F5: within 0.5 %); d = 5, n = 30.
    net = kernels.FCN(dim=5, depth=2, sigma_w2=2.0, sigma_b2=0.0)
    spec = kernels.spectrum(net, 40, 800)
    ds = data.make_dataset(5, 5, [1, 2], [0.5, 0.5], n_max=30, n_test=1, n_draws=30)
    out = learning_curves.exact_gp_learning_curve(net, ds, [30], 0.02, spec.eigenvalue_nngp.values)
    sim = out.mse_population.values[:, 0]
    power = learning_curves.power_per_degree([1, 2], [0.5, 0.5], 40)
    sc = learning_curves.sc_mse(spec.eigenvalue_nngp.values, spec.degeneracy.values, power, 0.02, [30]).mse.item()
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


def test_degree_beyond_spectrum_is_an_error():
    with pytest.raises(ValueError, match="max_degree"):
        learning_curves.power_per_degree([5], [1.0], 3)


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
