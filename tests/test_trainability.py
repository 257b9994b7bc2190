"""trainability.py (F7, F8; docs/trainability_ntk.md) against independent computations: the sphere data (balanced
labels, a degree-3 harmonic by its Laplacian), the rank-one NTK formulas against autodiff Jacobians, the NTK of
random networks against the infinite-width recursion, `ensembles.ntk_ensemble` and the relative variances
measured independently in science/finite_width_criticality.md Sec. 4, gradient descent against the NTK step,
trainability against the depth scale xi_c, and the 1/width change of the NTK during training."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nnft import activations, data, model
from nnft.experiments import trainability as tr
from nnft.sampling import ensembles as ens
from nnft.theory import finite_width as fw

TANH, RELU = activations.parse("tanh"), activations.parse("relu")


def net(activation, sigma_w2, sigma_b2, depth, width=100):
    """The network of a finite-width test (PDLT's conventions: standard parametrisation, input_scaling "unit",
    input width = width)."""
    return model.FCN(dim=width, depth=depth, activation=activation, sigma_w2=sigma_w2, sigma_b2=sigma_b2, width=width,
                     input_scaling="unit", parametrization="standard")  # fmt: skip


def _laplacian(h, v, eps=1e-3):
    """Central second differences summed over the coordinates (exact for a cubic up to rounding)."""
    eye = np.eye(v.size)
    return sum((h(v + eps * e) - 2 * h(v) + h(v - eps * e)) / eps**2 for e in eye)


def test_sphere_data_balanced_labels_of_a_unit_power_degree_3_harmonic():
    x, y, g = tr.sphere_sign_data(3, 32, 20000)
    n = y.size
    np.testing.assert_allclose(np.sum(x**2, 1), 32.0, rtol=1e-12)  # x.x / n_0 = 1
    assert set(np.unique(y)) == {-1.0, 1.0} and np.all(y == np.sign(g))
    assert abs(y.mean()) < 3.5 / math.sqrt(n)  # balanced: binomial s.e. 1 / sqrt(n)
    assert abs(np.mean(g**2) - 1) < 4 * np.std(g**2) / math.sqrt(n)  # unit power E[g^2] = 1

    # g is a degree-3 spherical harmonic: its homogeneous extension h(v) = |v|^3 g(v / |v|) is a harmonic cubic
    t = tr.harmonic_target(3, 32, degree=3, directions=4)
    assert t["degree"].tolist() == [3] * 4

    def h(v):
        r = np.linalg.norm(v)
        return r**3 * data.target_terms(v[None] / r, t["degree"], t["coefficient"], t["direction"]).sum()

    rng = np.random.default_rng(0)
    for v in rng.standard_normal((3, 32)) / math.sqrt(32):
        assert abs(h(-v) + h(v)) < 1e-12  # odd
        d = rng.standard_normal(32)
        fourth = sum(c * h(v + k * 1e-2 * d) for k, c in zip(range(-2, 3), (1, -4, 6, -4, 1), strict=True))
        assert abs(fourth) < 1e-9  # a polynomial of degree <= 3 along every line
        assert abs(_laplacian(h, v)) < 1e-5
    # the check can fail: the non-harmonic cubic (v.u)^3 has Laplacian 6 (v.u)
    u = t["direction"][0]
    v = rng.standard_normal(32) / math.sqrt(32)
    assert _laplacian(lambda w: (w @ u) ** 3, v) == pytest.approx(6 * (v @ u), rel=1e-5)


def test_data_and_networks_refuse_bad_input():
    with pytest.raises(ValueError, match="n_points"):
        tr.sphere_sign_data(0, 32, 0)
    with pytest.raises(ValueError, match="degree"):
        tr.harmonic_target(0, 32, degree=0)
    with pytest.raises(ValueError, match="dim"):
        tr.sphere_sign_data(0, 2, 10)
    with pytest.raises(ValueError, match="depth"):
        model.stack_normals(jax.random.key(0), 4, 8, 1)
    x, y, _ = tr.sphere_sign_data(0, 8, 16)
    with pytest.raises(ValueError, match="batch"):
        tr.trainability_grid(jax.random.key(0), TANH, x, y, [1.0], [3], 0.05, 8, 10, 32)
    with pytest.raises(ValueError, match="momentum"):
        tr.trainability_grid(jax.random.key(0), TANH, x, y, [1.0], [3], 0.05, 8, 10, 8, momentum=1.0)
    with pytest.raises(ValueError, match="models"):
        tr.ntk_by_layer(jax.random.key(0), [tr.NTKModel(net(RELU, 2.0, 0.5, 3, 8), 0.5)], 4)
    with pytest.raises(ValueError, match="width and depth"):
        tr.ntk_by_layer(jax.random.key(0), [tr.NTKModel(net(RELU, 2.0, 0.0, 3, 8), 1.0),
                                            tr.NTKModel(net(RELU, 2.0, 0.0, 4, 8), 1.0)], 4)  # fmt: skip
    with pytest.raises(ValueError, match="seeds"):
        tr.ntk_change(jax.random.key(0), TANH, x, y, 1.5, 0.05, [8, 16], [2], 5, seeds=1)
    with pytest.raises(ValueError, match="two networks"):
        tr.relative_variance(np.ones((1, 3)), np.random.default_rng(0))


@pytest.fixture(scope="module")
def small_network():
    """A depth-4 tanh network (float64) on 6 inputs, and its parameters."""
    with jax.enable_x64(True):
        normals = model.stack_normals(jax.random.key(1), 5, 7, 4, dtype=jnp.float64)
        params = model.scale_stack(normals, 1.7, 0.2)
        x, y, _ = tr.sphere_sign_data(1, 5, 6)
        yield params, jnp.asarray(x), jnp.asarray(y)


def test_empirical_ntk_is_the_jacobian_contraction(small_network):
    # Theta = sum over parameters of lambda dz_a/dtheta dz_b/dtheta, lambda = lambda_W / n_{l-1} or lambda_b (Sec. 4)
    params, x, _ = small_network
    with jax.enable_x64(True):
        for lb, lw in ((1.0, 1.0), (0.3, 2.0)):
            jac = jax.jacrev(lambda p: model.apply_stack(TANH, p, x))(params)
            rates = tr.learning_rate_tensor(params, lb, lw)
            brute = sum(rates[k] * jac[k].reshape(x.shape[0], -1) @ jac[k].reshape(x.shape[0], -1).T for k in jac)
            np.testing.assert_allclose(model.stack_ntk(TANH, params, x, lb, lw), brute, rtol=1e-11, atol=1e-12)


def test_stack_is_the_fcn_in_standard_parametrisation(small_network):
    # The deep-stack form and the list form of model.FCN are one network: same outputs, same NTK (the stack's rank-one
    # NTK against model.empirical_ntk's Jacobians with the same learning-rate tensor).
    params, x, _ = small_network
    net = model.FCN(dim=5, depth=4, activation="tanh", sigma_w2=1.7, sigma_b2=0.2, width=7, input_scaling="unit",
                    parametrization="standard")  # fmt: skip
    layers = [{"w": params["w_in"].T, "b": params["b_in"]}]
    layers += [{"w": w.T, "b": b} for w, b in zip(params["w_hidden"], params["b_hidden"], strict=True)]
    layers += [{"w": params["w_out"][:, None], "b": params["b_out"][None]}]
    with jax.enable_x64(True):
        np.testing.assert_allclose(model.apply(net, layers, x), model.apply_stack(TANH, params, x), rtol=1e-13)
        rates = [{"w": 0.7 / fan, "b": 0.3} for fan in (5, 7, 7, 7)]
        np.testing.assert_allclose(model.empirical_ntk(net, layers, x, rates=rates),
                                   model.stack_ntk(TANH, params, x, 0.3, 0.7), rtol=1e-12)  # fmt: skip


def test_gradient_descent_moves_the_outputs_by_the_ntk(small_network):
    # one full-batch step with the learning-rate tensor: dz = -eta Theta (z - y) / k + O(eta^2)
    params, x, y = small_network
    with jax.enable_x64(True):
        eta = 1e-4
        z0 = model.apply_stack(TANH, params, x)
        z1 = model.apply_stack(TANH, tr.gradient_descent(TANH, params, x, y, eta, 1), x)
        predicted = -eta * model.stack_ntk(TANH, params, x) @ (z0 - y) / x.shape[0]
        np.testing.assert_allclose(z1 - z0, predicted, rtol=1e-3)
        # momentum: two steps move the same as 1 + (1 + momentum) single-step kicks, to first order in eta
        z2 = model.apply_stack(TANH, tr.gradient_descent(TANH, params, x, y, eta, 2, momentum=0.5), x)
        np.testing.assert_allclose(z2 - z0, 2.5 * predicted, rtol=2e-3)


def test_layer_ntks_against_autodiff_of_every_depth():
    # one backward pass for all outputs vs jax.grad of z_0^(t) for t = 1..depth, per-layer rates (Sec. 4)
    with jax.enable_x64(True):
        depth, width = 5, 6
        kw, kb, kx = jax.random.split(jax.random.key(0), 3)
        w = jax.random.normal(kw, (depth, width, width), jnp.float64) * 1.3 / math.sqrt(width)
        b = jax.random.normal(kb, (depth, width), jnp.float64) * 0.3
        x = jax.random.normal(kx, (width,), jnp.float64)
        lb, lw = jnp.array([0.5, 0.3, 0.2, 0.2, 0.1]), jnp.array([1.0, 1.0, 0.8, 0.8, 0.5])
        for act in (TANH, RELU):

            def output(p, t, act=act):
                h = x
                for layer in range(t):
                    z = p[0][layer] @ h + p[1][layer]
                    h = act.jax_fn(z)
                return z[0]

            brute = []
            for t in range(1, depth + 1):
                gw, gb = jax.grad(output)((w, b), t)
                brute.append(sum(lb[i] * jnp.sum(gb[i] ** 2) + lw[i] / width * jnp.sum(gw[i] ** 2)
                                 for i in range(depth)))  # fmt: skip
            np.testing.assert_allclose(tr.layer_ntks(act, w, b, x, lb, lw), brute, rtol=1e-12)


def test_ntk_mean_at_every_layer_against_the_recursion_and_ntk_ensemble():
    """ReLU at criticality, lambda_b = 0, lambda_W = 1: E Theta^(l) = l / 2 (Sec. 7 item 10); tanh at criticality
    with lambda_b = 1 / l (Sec. 4): the recursion. Every layer within 3.5 s.e. (n = 100, l <= 10). The final layer of
    the full-Jacobian `ensembles.ntk_ensemble` (model.empirical_ntk) is l / 2 within 3.5 s.e. too, and the two agree in
    relative variance."""
    depth, n, m = 10, 100, 600
    layers = np.arange(1, depth + 1)
    models = [tr.NTKModel(net(RELU, 2.0, 0.0, depth, n), 1.0, 0.0, 1.0),
              tr.NTKModel(net(TANH, 1.0, 0.0, depth, n), 1.0, 1 / layers, 1.0)]  # fmt: skip
    theta = tr.ntk_by_layer(jax.random.key(11), models, m)
    assert theta.shape == (2, m, depth)
    for t, mo in zip(theta, models, strict=True):
        theory = fw.ntk_flow_single(mo.net, mo.k1, mo.lambda_b, mo.lambda_w)
        se = t.std(0, ddof=1) / math.sqrt(m)
        np.testing.assert_allclose(t[:, 0], theory[0], rtol=1e-6)  # layer 1 is deterministic
        assert np.all(np.abs(t.mean(0) - theory)[1:] < 3.5 * se[1:]), (t.mean(0), theory, se)
    other = ens.ntk_ensemble(jax.random.key(12), net(RELU, 2.0, 0.0, depth, n), 1.0, 400, lambda_b=0.0, lambda_w=1.0)
    ours = theta[0][:, -1]
    # both estimators against the exact l / 2 at the layers' 3.5 s.e. (per-network NTKs are heavy-tailed: a pairwise
    # difference test counts both noises against a mean that is known exactly)
    assert abs(other.mean() - depth / 2) < 3.5 * other.std(ddof=1) / math.sqrt(400), (other.mean(), depth / 2)
    rng = np.random.default_rng(0)
    (rv1,), (se1,) = tr.relative_variance(ours[:, None], rng)
    (rv2,), (se2,) = tr.relative_variance(other[:, None], rng)
    assert abs(rv1 - rv2) < 3 * math.hypot(se1, se2), (rv1, se1, rv2, se2)


def test_ntk_relative_variance_is_linear_in_depth_over_width():
    """ReLU at criticality against the independent Monte Carlo of Sec. 4 (full matrices, numpy backprop): 0.089 +-
    0.002 (n = 200, L = 6) and 0.450 +- 0.022 (n = 100, L = 11). tanh at criticality (lambda_b = 1 / l) is linear in
    (L - 1)/n: doubling L - 1 at n = 100 doubles it, and n = 50, L = 6 equals n = 100, L = 11 (same (L - 1)/n)."""
    layers = np.arange(1, 12)
    rng = np.random.default_rng(1)
    rv = {}
    for n, depth, m in ((50, 6, 1500), (100, 11, 1500), (200, 6, 1000)):
        cut = [tr.NTKModel(net(RELU, 2.0, 0.0, depth, n), 1.0, 0.0, 1.0),
               tr.NTKModel(net(TANH, 1.0, 0.0, depth, n), 1.0, 1 / layers[:depth], 1.0)]  # fmt: skip
        theta = tr.ntk_by_layer(jax.random.key(n), cut, m)
        for name, t in zip(("relu", "tanh"), theta, strict=True):
            v, se = tr.relative_variance(t, rng)
            for layer in (6, 11):
                if layer <= depth:
                    rv[name, n, layer] = (v[layer - 1], se[layer - 1])

    def close(a, b, tol=3.0):
        return abs(a[0] - b[0]) < tol * math.hypot(a[1], b[1])

    assert close(rv["relu", 200, 6], (0.089, 0.002)), rv["relu", 200, 6]
    assert close(rv["relu", 100, 11], (0.450, 0.022)), rv["relu", 100, 11]
    (a, a_se), (b, b_se) = rv["tanh", 100, 11], rv["tanh", 100, 6]
    ratio, ratio_se = a / b, a / b * math.hypot(a_se / a, b_se / b)
    assert abs(ratio - 2) < 3 * ratio_se, (ratio, ratio_se)
    assert close(rv["tanh", 50, 6], rv["tanh", 100, 11]), (rv["tanh", 50, 6], rv["tanh", 100, 11])
    assert 0.5 < rv["tanh", 100, 11][0] / 0.1 < 1.0  # ~0.75 (L - 1)/n: O(L/n), far below ReLU's ~4 (L - 1)/n
    assert rv["relu", 100, 11][0] > 3 * rv["tanh", 100, 11][0]


def test_deep_ordered_networks_fail_and_critical_ones_train():
    """F7 in miniature (tanh, sigma_b2 = 0.05, width 48): at sigma_w2 = 1 (xi_c = 3.6) a depth-40 network (11 xi_c)
    stays at chance and does no better than a constant, while at the critical sigma_w2 (xi_c infinite) the same
    depth trains; at depth 4 both train. Learning rates are eta0 / Theta-bar^(L) of the NTK recursion."""
    x, y, _ = tr.sphere_sign_data(5, 32, 256)
    crit, _ = fw.critical_sigma_w2(TANH, 0.05)
    assert fw.depth_scales(TANH, 1.0, 0.05)["xi_c"] == pytest.approx(3.627, abs=1e-3)
    r = tr.trainability_grid(jax.random.key(2), TANH, x, y, [1.0, crit], [4, 40], 0.05, 48, 200, 32, seeds=2)
    acc = r["accuracy"].mean(-1)
    theta = np.array([[tr.mean_ntk(net(TANH, w, 0.05, 40, 48))[d - 1] for w in (1.0, crit)] for d in (4, 40)])
    np.testing.assert_allclose(r["eta"], 1 / theta, rtol=1e-12)
    assert np.all(acc[0] > 0.75), acc  # depth 4
    # depth 40 = 11 xi_c, ordered: chance accuracy, and no better than the best constant (loss 1/2 Var y): every
    # input reaches the readout as the same vector
    constant = 0.5 * np.var(y)
    assert abs(acc[1, 0] - 0.5) < 0.08 and r["loss"][1, 0].min() > 0.95 * constant, (acc, r["loss"], constant)
    assert acc[1, 1] > 0.7 and r["loss"][1, 1].max() < 0.6 * constant, (acc, r["loss"])  # depth 40 at criticality
    assert np.all(np.abs(r["accuracy_init"] - 0.5) < 0.12)


def test_ntk_change_during_training_scales_like_one_over_width():
    """F8c in miniature: tanh at criticality, depth 2, full-batch GD to ~10 % of the initial loss at every width.
    The relative change of the train-set NTK falls like n^p with p = -1 (lazy regime) within 3 s.e. plus 0.1, and
    clearly steeper than n^(-1/2)."""
    x, y, _ = tr.sphere_sign_data(7, 32, 16)
    crit, _ = fw.critical_sigma_w2(TANH, 0.05)
    widths = [64, 256, 1024, 4096]
    r = tr.ntk_change(jax.random.key(3), TANH, x, y, crit, 0.05, widths, [2], 100, seeds=6)
    change = r["ntk_change"][0]
    assert np.all((r["loss"] / r["loss_init"])[0] < 0.3)  # the networks did train
    p, p_se, _ = tr.power_law_fit(widths, change.mean(-1), change.std(-1, ddof=1) / math.sqrt(change.shape[-1]))
    assert abs(p + 1) < 3 * p_se + 0.1, (p, p_se)
    assert p + 0.5 < -3 * p_se, (p, p_se)


def test_power_law_fit_recovers_a_known_exponent():
    rng = np.random.default_rng(4)
    x = np.array([32.0, 64, 128, 256, 512, 1024])
    se = 0.05 * 3 * x**-0.7
    p, p_se, a = tr.power_law_fit(x, 3 * x**-0.7 + se * rng.standard_normal(x.size), se)
    assert abs(p + 0.7) < 3 * p_se and p_se < 0.05 and a == pytest.approx(3, rel=0.3)
    with pytest.raises(ValueError, match="positive"):
        tr.power_law_fit(x, -x, se)
