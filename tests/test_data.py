"""data.py: the teacher's per-degree power is exact; train sets are nested."""

import numpy as np
import pytest
import xarray as xr

from nnft import data, sphere


@pytest.mark.parametrize("directions", [1, 3])
def test_target_power_is_the_exact_population_power(directions):
    # Monte Carlo over 200k uniform points: the power in each degree is its weight, degrees are orthogonal,
    # within 5 standard errors (each degree may be a sum of several zonal harmonics).
    rng = np.random.default_rng(3)
    d, degrees, power = 6, [0, 1, 2, 3], [0.2, 0.5, 1.5, 0.7]
    target = data.make_target(rng, d, degrees, power, directions)
    x = sphere.sample_sphere(rng, 200_000, d)
    terms = data.target_terms(x, target["degree"], target["coefficient"], target["direction"])
    g = np.stack([terms[target["degree"] == l].sum(0) for l in degrees])
    prod = g[:, None, :] * g[None, :, :]
    mean, se = prod.mean(-1), prod.std(-1) / np.sqrt(x.shape[0])
    assert np.all(np.abs(mean - np.diag(power)) < 5 * se + 1e-12), (mean, se)


def test_target_norm_exact_by_quadrature():
    # Independent of Monte Carlo: for a degree-2 sum of 4 zonal harmonics on S^2, integrate g^2 over the sphere
    # with a product Gauss-Legendre x trapezoid rule (exact for these polynomials).
    target = data.make_target(np.random.default_rng(9), 3, [2], [0.8], directions=4)
    ct, wt = np.polynomial.legendre.leggauss(20)
    phi = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    st = np.sqrt(1 - ct**2)
    x = np.stack([np.outer(st, np.cos(phi)), np.outer(st, np.sin(phi)), np.outer(ct, np.ones_like(phi))], -1)
    g = data.target_terms(x, target["degree"], target["coefficient"], target["direction"]).sum(0)
    integral = (wt[:, None] * g**2).sum() * (2 * np.pi / 40) / (4 * np.pi)
    assert integral == pytest.approx(0.8, rel=1e-12)


def test_nested_train_sets_and_sphere():
    small = data.make_dataset(7, 5, [1, 2], [0.5, 0.5], n_max=20, n_test=10, n_draws=3)
    big = data.make_dataset(7, 5, [1, 2], [0.5, 0.5], n_max=50, n_test=10, n_draws=3)
    np.testing.assert_array_equal(small.x_train.values, big.x_train.values[:, :20])
    np.testing.assert_array_equal(small.x_test.values, big.x_test.values)
    np.testing.assert_allclose(np.linalg.norm(big.x_train.values, axis=-1), 1.0)
    np.testing.assert_array_equal(big.y_train.values, big.g_train.values)  # noise = 0: labels are the target
    assert not np.allclose(big.x_train.values[0], big.x_train.values[1])  # draws are independent


def test_noisy_datasets_are_nested_in_size_and_draws():
    # With label noise, the dataset drawn at n_max = n (and fewer draws) is the first n rows (and first draws) of a
    # larger one, labels included: a training job of size n sees the same data whatever the largest size is.
    small = data.make_dataset(7, 5, [1, 2], [0.5, 0.5], n_max=20, n_test=10, n_draws=2, noise=0.3)
    big = data.make_dataset(7, 5, [1, 2], [0.5, 0.5], n_max=50, n_test=10, n_draws=3, noise=0.3)
    for name in ("x_train", "y_train", "g_train"):
        np.testing.assert_array_equal(small[name].values, big[name].values[:2, :20])
    for name in ("x_test", "g_test", "term_coefficient", "term_direction"):
        np.testing.assert_array_equal(small[name].values, big[name].values)
    assert np.all(big.y_train.values != big.g_train.values)
    # the layout of single-size datasets (survey, hyper-parameter selection): noise after the inputs in one stream,
    # so its first labels depend on n_max; same inputs, and the same dataset without noise
    legacy = data.make_dataset(7, 5, [1, 2], [0.5, 0.5], n_max=50, n_test=10, n_draws=3, noise=0.3, nested=False)
    rng = np.random.default_rng(np.random.SeedSequence(7).spawn(5)[2])
    x = rng.standard_normal((50, 5))
    np.testing.assert_array_equal(legacy.y_train.values[0], legacy.g_train.values[0] + 0.3 * rng.standard_normal(50))
    np.testing.assert_array_equal(legacy.x_train.values[0], x / np.linalg.norm(x, axis=1, keepdims=True))
    np.testing.assert_array_equal(legacy.x_train.values, big.x_train.values)
    assert not np.array_equal(legacy.y_train.values, big.y_train.values)
    noiseless = [data.make_dataset(7, 5, [1], [1.0], n_max=9, n_test=3, n_draws=2, nested=b) for b in (True, False)]
    xr.testing.assert_identical(*noiseless)


def test_label_noise_variance():
    ds = data.make_dataset(1, 4, [1], [1.0], n_max=4000, n_test=5, n_draws=5, noise=0.3)
    resid = (ds.y_train - ds.g_train).values.ravel()
    # Var = 0.09; the s.e. of the sample variance is 0.09 sqrt(2 / 20000) = 9e-4.
    assert resid.var() == pytest.approx(0.09, abs=5 * 9e-4)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"degrees": [1, 1], "power": [0.5, 0.5]}, "distinct"),
        ({"degrees": [1], "power": [-1.0]}, "power"),
        ({"degrees": [1, 2], "power": [1.0]}, "equal-length"),
    ],
)
def test_bad_targets(kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.make_dataset(0, 5, n_max=4, n_test=4, n_draws=1, **kwargs)
