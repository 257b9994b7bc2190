"""hyperparameters.py: the scan against independent recomputation (theory_curves and exact_gp_learning_curve per grid
point), the choice of validation points, and the summary's statistics on constructed inputs."""

import numpy as np
import pytest
from scipy import stats

from nnft import config, data, model
from nnft.experiments import hyperparameters
from nnft.theory import kernels, learning_curves

GRID = {"depth": [2, 4], "activation": ["relu", "erf"], "sigma_w2": [1.0, 2.0], "sigma_b2": [0.0, 0.2],
        "ridge": [0.03, 0.3]}  # fmt: skip


@pytest.fixture(scope="module")
def dataset():
    return data.make_dataset(3, 6, [1, 2], [0.6, 0.4], n_max=40, n_test=10, n_draws=12, noise=0.3)


@pytest.fixture(scope="module")
def scanned(dataset):
    return hyperparameters.scan(dataset, 40, GRID, max_degree=12, quadrature_nodes=200)


def test_gp_population_mse_is_the_exact_gp_learning_curve(dataset):
    net = model.FCN(dim=6, depth=3, activation="erf", sigma_w2=1.5, sigma_b2=0.1)
    lam = kernels.spectrum(net, 12, 200).eigenvalue_nngp.values
    several = learning_curves.gp_population_mse(net, dataset, 30, [0.05, 0.5], lam)  # eigh, all ridges at once
    for k, ridge in enumerate([0.05, 0.5]):
        one = learning_curves.exact_gp_learning_curve(net, dataset, [30], ridge, lam)  # Cholesky, one ridge
        np.testing.assert_allclose(several[:, k], one.mse_population.values[:, 0], rtol=1e-10)
    # both take a size or a list of sizes alike; sizes come back as integers
    listed = learning_curves.gp_population_mse(net, dataset, [20, 30], [0.05, 0.5], lam)
    assert listed.shape == (dataset.sizes["draw"], 2, 2)
    np.testing.assert_array_equal(listed[:, 1], several)
    by_int = learning_curves.exact_gp_learning_curve(net, dataset, 30, 0.05, lam)
    assert by_int.n_train.dtype == np.int64 and list(by_int.n_train.values) == [30]
    for bad in (0, [30.5], [10**6]):
        with pytest.raises(ValueError, match="n_train"):
            learning_curves.gp_population_mse(net, dataset, bad, [0.05], lam)


def test_scan_agrees_with_each_point_recomputed(scanned, dataset):
    assert scanned.predicted_mse.dims == hyperparameters.AXES and scanned.attrs["grid_points"] == 32
    point = {"depth": 4, "activation": "erf", "sigma_w2": 2.0, "sigma_b2": 0.2, "ridge": 0.3}
    net = model.FCN(dim=6, depth=4, activation="erf", sigma_w2=2.0, sigma_b2=0.2)
    spectrum = kernels.spectrum(net, 12, 200)
    theory = learning_curves.theory_curves(spectrum, [1, 2], [0.6, 0.4], 0.3, 0.3, [40])
    assert float(scanned.predicted_mse.sel(point)) == pytest.approx(float(theory.sc.values[0]), rel=1e-12)
    gp = learning_curves.exact_gp_learning_curve(net, dataset, [40], 0.3, spectrum.eigenvalue_nngp.values)
    mse = gp.mse_population.values[:, 0]
    assert float(scanned.gp_mse.sel(point)) == pytest.approx(mse.mean(), rel=1e-10)
    assert float(scanned.gp_mse_se.sel(point)) == pytest.approx(mse.std(ddof=1) / np.sqrt(mse.size), rel=1e-8)


def test_theory_ranks_the_grid_like_the_exact_gp(scanned):
    """The premise of the selection: over a grid whose errors differ, the self-consistent prediction orders the points
    as exact GP regression does, and its optimum is within one GP standard error of the GP's optimum."""
    pred, gp, se = (scanned[v].values.ravel() for v in ("predicted_mse", "gp_mse", "gp_mse_se"))
    assert stats.spearmanr(pred, gp).statistic > 0.9
    assert gp[np.argmin(pred)] - gp.min() <= se[np.argmin(gp)]
    assert np.all(scanned.attrs["theory_seconds"] > 0) and scanned.attrs["gp_seconds"] > 0


def test_validation_points_follow_the_predicted_ranking():
    predicted = np.array([[0.5, np.nan, 0.2], [0.9, 0.3, 0.7]])
    flat = hyperparameters.validation_points(predicted, 3)
    assert list(flat) == [2, 0, 3]  # optimum 0.2, middle 0.5, worst 0.9; the NaN is never chosen
    assert list(hyperparameters.validation_points(predicted, 5)) == [2, 4, 0, 5, 3]
    for k in (1, 6):
        with pytest.raises(ValueError, match="validation points"):
            hyperparameters.validation_points(predicted, k)


def test_validation_summary_statistics(scanned):
    ds = hyperparameters.with_validation(scanned, 4)
    assert ds.point_predicted_mse.values[0] == np.nanmin(scanned.predicted_mse.values)
    optimum = {a: ds.attrs[f"optimum_{a}"] for a in hyperparameters.AXES}
    assert float(scanned.predicted_mse.sel(optimum)) == ds.attrs["optimum_predicted_mse"]
    assert np.all(np.diff(ds.point_predicted_mse.values) > 0)
    settings = hyperparameters.point_settings(scanned, int(ds.point_index.values[2]))
    assert float(scanned.predicted_mse.sel(settings)) == ds.point_predicted_mse.values[2]
    pred = ds.point_predicted_mse.values
    # networks that rank like the theory, best at the optimum
    good = hyperparameters.validation_summary(ds, pred * 1.1, np.full(4, 0.01), np.full(4, 10.0), pred)
    assert good.attrs["spearman_networks"] == pytest.approx(1.0) and good.attrs["optimum_within_network_se"]
    assert good.attrs["training_seconds_replaced"] == pytest.approx(320.0)
    assert good.attrs["speedup"] == pytest.approx(320.0 / scanned.attrs["theory_seconds"])
    # the best measured point is point 2, better than the optimum by more than its s.e.: the check fails
    measured = pred.copy()
    measured[2] = pred[0] - 0.05
    bad = hyperparameters.validation_summary(ds, measured, np.full(4, 0.01), np.full(4, 10.0))
    assert bad.attrs["best_measured_point"] == 2 and not bad.attrs["optimum_within_network_se"]
    assert bad.attrs["network_gap"] == pytest.approx(0.05) and bad.attrs["network_gap_allowed"] == 0.01
    points, summary = hyperparameters.summary_tables(bad)
    assert list(points.index) == [0, 1, 2, 3] and summary.loc["optimum_within_network_se", "value"] is False


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda b: b["validate"].update(draws=50), "validate.draws"),
        (lambda b: b["validate"].update(points=33), "validate.points"),
        (lambda b: b["target"].update(degrees=[1, 20], power=[0.5, 0.5]), "theory.max_degree"),
        (lambda b: b["target"].update(power=[1.0]), "equal length"),
    ],
)
def test_cross_key_checks(edit, message):
    block = {"target": {"degrees": [1, 2], "power": [0.5, 0.5]}, "theory": {"max_degree": 12}, "n_draws": 12,
             "grid": GRID, "validate": {"draws": 4, "points": 6}}  # fmt: skip
    config.check_hyperparameters("h", block)
    edit(block)
    with pytest.raises(ValueError, match=message):
        config.check_hyperparameters("h", block)


def test_bad_grid_is_refused(dataset):
    with pytest.raises(ValueError, match="ridge"):
        hyperparameters.scan(dataset, 20, GRID | {"ridge": [0.0, 0.1]}, 12, 200)
    with pytest.raises(ValueError, match="missing"):
        hyperparameters.scan(dataset, 20, {k: v for k, v in GRID.items() if k != "depth"}, 12, 200)
    with pytest.raises(ValueError, match="exceeds"):
        hyperparameters.scan(dataset, 41, GRID, 12, 200)
