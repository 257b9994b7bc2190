"""The public API refuses what it cannot compute (property-based, hypothesis): valid random inputs give finite
results, invalid ones raise ValueError naming the argument, and names and objects are accepted alike."""

import math

import jax
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnft import activations, model, sphere
from nnft.theory import finite_width, kernels, learning_curves

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NAMES = ["relu", "erf", "tanh", "gelu", "identity", "leaky_relu(0.2)"]
positive = st.floats(0.05, 5.0)
bad_numbers = st.sampled_from([0.0, -1.0, math.nan, math.inf, -math.inf])


@SETTINGS
@given(
    name=st.sampled_from(NAMES),
    depth=st.integers(1, 6),
    dim=st.integers(3, 12),
    sigma_w2=positive,
    sigma_b2=st.floats(0.0, 2.0),
    scaling=st.sampled_from(["unit", "sqrt_d"]),
    seed=st.integers(0, 2**16),
)
def test_kernels_of_valid_networks_are_finite_and_positive_semidefinite(name, depth, dim, sigma_w2, sigma_b2,
                                                                        scaling, seed):  # fmt: skip
    by_name = model.FCN(dim=dim, depth=depth, activation=name, sigma_w2=sigma_w2, sigma_b2=sigma_b2,
                        input_scaling=scaling)  # fmt: skip
    by_object = model.FCN(dim=dim, depth=depth, activation=activations.parse(name), sigma_w2=sigma_w2,
                          sigma_b2=sigma_b2, input_scaling=scaling)  # fmt: skip
    x = sphere.sample_sphere(np.random.default_rng(seed), 6, dim)
    for kind in ("nngp", "ntk"):
        k = kernels.gram(by_name, x, kind=kind)
        assert np.all(np.isfinite(k)) and np.allclose(k, k.T)
        assert np.linalg.eigvalsh(k).min() > -1e-9 * np.abs(k).max()
        np.testing.assert_array_equal(k, kernels.gram(by_object, x, kind=kind))


@SETTINGS
@given(field=st.sampled_from(["dim", "depth", "width"]), value=st.sampled_from([0, -3, 2.5, True, "4"]))
def test_fcn_refuses_bad_sizes_naming_them(field, value):
    with pytest.raises(ValueError, match=field):
        model.FCN(**{"dim": 4, "depth": 2, field: value})


@SETTINGS
@given(field=st.sampled_from(["sigma_w2", "sigma_b2"]), value=bad_numbers)
def test_fcn_refuses_bad_variances_naming_them(field, value):
    if field == "sigma_b2" and value == 0.0:
        return  # sigma_b2 = 0 is valid (no biases)
    with pytest.raises(ValueError, match=field):
        model.FCN(dim=4, depth=2, **{field: value})


@SETTINGS
@given(radius=st.floats(0.5, 2.0).filter(lambda r: abs(r - 1) > 1e-3), seed=st.integers(0, 2**16))
def test_gram_refuses_rows_off_the_sphere_and_of_the_wrong_dimension(radius, seed):
    net = model.FCN(dim=5, depth=3, activation="erf")
    x = sphere.sample_sphere(np.random.default_rng(seed), 4, 5)
    with pytest.raises(ValueError, match="x"):
        kernels.gram(net, radius * x)
    with pytest.raises(ValueError, match="y"):
        kernels.gram(net, x, radius * x)
    with pytest.raises(ValueError, match="x"):
        kernels.gram(net, sphere.sample_sphere(np.random.default_rng(seed), 4, 6))


@SETTINGS
@given(
    name=st.sampled_from(["erf", "tanh", "gelu", "relu", "leaky_relu(0.5)"]),
    sigma_w2=st.floats(0.1, 1.5),
    sigma_b2=st.floats(0.0, 1.0),
)
def test_mean_field_maps_are_finite_on_valid_input(name, sigma_w2, sigma_b2):
    q = finite_width.q_star(name, sigma_w2, sigma_b2)
    chi = finite_width.chi_1(activations.parse(name), sigma_w2, sigma_b2)
    assert np.isfinite(q) and q >= 0 and np.isfinite(chi) and chi > 0
    # the fixed point is one: F(q*) = q*
    with jax.enable_x64(True):
        second = float(activations.moment(activations.parse(name), 2, q))
    assert sigma_b2 + sigma_w2 * second == pytest.approx(q, rel=1e-9, abs=1e-12)


@SETTINGS
@given(which=st.sampled_from(["sigma_w2", "sigma_b2"]), value=st.sampled_from([-1.0, math.nan, math.inf]))
def test_mean_field_maps_refuse_bad_variances_naming_them(which, value):
    args = {"sigma_w2": 1.0, "sigma_b2": 0.1, which: value}
    for fn in (finite_width.q_star, finite_width.chi_1):
        with pytest.raises(ValueError, match=which):
            fn("tanh", **args)


def test_q_star_refuses_a_length_map_without_fixed_point():
    # ReLU at sigma_w2 >= 2: F(q) = sigma_b2 + q sigma_w2 / 2 >= q + sigma_b2 has no finite fixed point (it used to
    # return 1.1e15, where 0.1 + q == q in floating point)
    with pytest.raises(ValueError, match="sigma_w2"):
        finite_width.q_star("relu", 2.0, 0.1)
    assert finite_width.q_star("relu", 1.5, 0.1) == pytest.approx(0.1 / (1 - 0.75), rel=1e-15)


levels = st.integers(1, 8)


@SETTINGS
@given(
    n_levels=levels,
    ridge=st.floats(1e-4, 1.0),
    sizes=st.lists(st.integers(1, 10_000), min_size=1, max_size=5, unique=True),
    seed=st.integers(0, 2**16),
)
def test_learning_curve_theories_are_finite_and_keep_integer_sizes(n_levels, ridge, sizes, seed):
    rng = np.random.default_rng(seed)
    lam = np.sort(rng.uniform(1e-4, 1.0, n_levels))[::-1]
    deg = rng.integers(1, 50, n_levels)
    power = rng.uniform(0, 1, n_levels)
    sc = learning_curves.sc_theory(lam, deg, power, ridge, sizes)
    assert sc.n_train.dtype == np.int64 and list(sc.n_train.values) == sizes
    for name in ("sc", "sc_mean_predictor", "kappa", "e0", "learnability_sc"):
        assert np.all(np.isfinite(sc[name].values)), name
    assert np.all(sc.sc.values >= -1e-12)
    ek = learning_curves.ek_mse(lam, deg, power, ridge, sizes)
    assert np.all(np.isfinite(ek)) and ek.shape == (len(sizes),)


@SETTINGS
@given(bad=st.sampled_from([[-5], [0], [math.nan], [], [[1, 2]], "ten"]))
def test_learning_curve_theories_refuse_bad_sizes_naming_n_train(bad):
    lam, deg, power = [1.0, 0.1], [1, 3], [0.5, 0.5]
    for fn in (learning_curves.sc_theory, learning_curves.ek_mse, learning_curves.ek_one_over_n):
        with pytest.raises(ValueError, match="n_train"):
            fn(lam, deg, power, 0.1, bad)


@SETTINGS
@given(ridge=st.sampled_from([-0.1, math.nan, math.inf]))
def test_learning_curve_theories_refuse_bad_ridges_naming_them(ridge):
    for fn in (learning_curves.sc_theory, learning_curves.ek_mse, learning_curves.ek_one_over_n):
        with pytest.raises(ValueError, match="ridge"):
            fn([1.0], [1], [1.0], ridge, [10])


@SETTINGS
@given(
    degrees=st.lists(st.integers(0, 10), min_size=1, max_size=4),
    power=st.lists(st.floats(0, 1), min_size=1, max_size=4),
)
def test_power_per_degree_refuses_mismatched_terms_naming_power(degrees, power):
    if len(degrees) == len(power):
        per_degree = learning_curves.power_per_degree(degrees, power, 10)
        assert per_degree.sum() == pytest.approx(sum(power))
    else:
        with pytest.raises(ValueError, match="power"):
            learning_curves.power_per_degree(degrees, power, 10)
