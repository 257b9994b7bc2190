"""survey.py against science/finite_width_criticality.md Sec. 6: the isotropic linear double-descent numbers (closed
form and Monte Carlo), the random-feature kernel, the lazy regime's width scaling, and Yarotsky's exact error."""

import math

import jax
import numpy as np
import pytest

from nnft import data, model
from nnft.experiments import survey
from nnft.theory import kernels


def test_linear_min_norm_risk_numbers():
    # Sec. 6 checks, n = 40, sigma^2 = 0.25, r^2 = 1: theory 0.263 / 0.833 / 0.756 / 0.863
    risk = survey.linear_min_norm_risk([20, 30, 80, 200], 40, 0.25, 1.0)
    np.testing.assert_allclose(risk, [5 / 19, 5 / 6, 0.5 + 10 / 39, 0.8 + 10 / 159], rtol=1e-12)
    np.testing.assert_allclose(risk, [0.263, 0.833, 0.756, 0.863], atol=5e-4)
    assert np.isinf(survey.linear_min_norm_risk([39, 40, 41], 40, 0.25, 1.0)).all()


@pytest.mark.parametrize("p", [20, 80, 200])
def test_linear_min_norm_monte_carlo(p):
    mean, se = survey.linear_min_norm_mc(np.random.default_rng(p), p, 40, 0.25, 1.0, 400)
    assert abs(mean - float(survey.linear_min_norm_risk(p, 40, 0.25, 1.0))) < 3 * se


def test_random_feature_kernel_is_the_one_hidden_layer_nngp():
    """(1/N) relu(W x) . relu(W x') with W ~ N(0, I/d) against the FCN's NNGP (arc-cosine closed form), N = 2e5."""
    rng = np.random.default_rng(0)
    x = data.sphere.sample_sphere(rng, 5, 6)
    w = rng.standard_normal((200_000, 6)) / math.sqrt(6)
    phi = np.maximum(x @ w.T, 0)
    empirical = phi @ phi.T / w.shape[0]
    exact = kernels.gram(survey.random_feature_kernel(6), x)
    np.testing.assert_allclose(empirical, exact, atol=6 * exact.max() / math.sqrt(w.shape[0]) * 2)


def test_random_feature_double_descent_peaks_at_interpolation():
    features = [8, 20, 36, 40, 44, 80, 320]
    linear = {"n_train": 20, "noise_var": 0.25, "signal2": 1.0, "trials": 50, "p": [5, 40]}
    ds = survey.double_descent_dataset(1, 8, [1, 2], [0.5, 0.5], 0.3, 40, 500, features, 8, 12, linear)
    mse = ds.rf_mse.values
    assert features[int(np.argmax(mse))] == 40 and mse[3] > 10 * max(mse[0], mse[-1])
    assert np.all(np.diff(mse[3:]) < 0)  # past the threshold more features help
    assert ds.attrs["kernel_mse"] < mse[-1]  # N = 8 n has not yet reached its infinite-feature limit


def test_lazy_regime_weights_move_as_one_over_sqrt_width():
    ds = data.make_dataset(0, 8, [1, 2], [0.5, 0.5], n_max=60, n_test=100, n_draws=1)
    out = {}
    for m in (64, 1024):
        net = model.FCN(dim=8, depth=2, activation="relu", sigma_w2=2.0, sigma_b2=0.0, width=m)
        out[m] = survey.lazy_training(jax.random.key(1), net, ds.x_train.values[0], ds.y_train.values[0],
                                      ds.x_test.values)  # fmt: skip
        assert out[m]["train_mse"] <= 1e-4
    slope = math.log(out[1024]["weight_change"] / out[64]["weight_change"]) / math.log(16)
    assert -0.65 < slope < -0.4, slope
    assert out[1024]["kernel_gap"] < 0.5 * out[64]["kernel_gap"]
    assert out[1024]["ntk_change"] < 0.25 * out[64]["ntk_change"]


def test_lazy_dataset_trains_the_configured_model_and_refuses_width_in_it():
    """The default model is the documented two-layer ReLU; another model (tanh, depth 3, biases) is the one trained
    (its train MSE reaches tol and the store names it); dim / width inside model_fields are refused."""
    args = dict(seed=0, dim=4, degrees=[1], power=[1.0], n_train=10, n_test=20, widths=[16, 64], seeds=2, tol=1e-3)
    assert survey.lazy_dataset(**args).attrs["activation"] == "relu"
    fields = {"activation": "tanh", "depth": 3, "sigma_w2": 1.5, "sigma_b2": 0.1}
    out = survey.lazy_dataset(**args, model_fields=fields)
    assert (out.attrs["activation"], out.attrs["depth"], out.attrs["sigma_b2"]) == ("tanh", 3, 0.1)
    assert (out.train_mse <= 1e-3).all()
    with pytest.raises(ValueError, match="model_fields"):
        survey.lazy_dataset(**args, model_fields={**fields, "width": 8})


def _sawtooth_direct(x, m):
    """f_m(x) = x - sum_s g_s(x) / 4^s with g = 2 min(x, 1 - x), composed directly (no network)."""
    g, out = np.array(x, dtype=np.float64), np.array(x, dtype=np.float64)
    for s in range(1, m + 1):
        g = 2 * np.minimum(g, 1 - g)
        out -= g / 4**s
    return out


@pytest.mark.parametrize("m", range(1, 8))
def test_yarotsky_sawtooth_error_is_exactly_2_to_minus_2m_minus_2(m):
    x = np.linspace(0, 1, 2 ** (m + 3) + 1)  # contains the midpoints (2k + 1) / 2^(m+1) where the error peaks
    net = survey.sawtooth_square(m)
    f = survey.relu_network(net, x[:, None])[:, 0]
    np.testing.assert_allclose(f, _sawtooth_direct(x, m), atol=1e-14)
    assert np.max(np.abs(f - x**2)) == pytest.approx(2.0 ** (-2 * m - 2), rel=1e-12)
    assert len(net) == m + 1 and max(w.shape[1] for w, _ in net) == 3


def test_depth_beats_width_at_equal_parameters():
    ds = survey.depth_dataset(8, [2, 4, 8, 16, 32, 64], grid_points=4097)
    shallow = ds.shallow_error.values
    np.testing.assert_allclose(shallow[:-1] / shallow[1:], 4.0, rtol=0.1)  # polynomial: error ~ knots^-2
    deep = ds.deep_error.values
    np.testing.assert_allclose(deep[:-1] / deep[1:], 4.0, rtol=1e-9)  # exponential in depth, linear params
    # the interpolant's bound: no shallow fit with k uniform knots beats the minimax error h^2 / 8, h = 1 / k
    assert np.all(shallow >= 1 / (8 * ds.knots.values**2))
    # equal parameter budgets: ~50 (deep m = 4: 46, shallow 16 knots: 49) are about even; doubling the budget
    # (m = 8: 94, 32 knots: 97) gains a factor 4^4 in depth but only 2^2 in width
    p_deep, p_shallow = ds.deep_parameters.values, ds.shallow_parameters.values
    assert p_deep[3] <= p_shallow[3] and p_deep[7] <= p_shallow[4]
    assert 0.5 < shallow[3] / deep[3] < 2 and shallow[4] / deep[7] > 30 * shallow[3] / deep[3]
