"""Survey results on the hypersphere (docs/survey.md; Berner et al., The Modern
Mathematics of Deep Learning): double descent of min-norm regression, the lazy (NTK) regime of wide two-layer
networks, and the depth efficiency of ReLU networks (Yarotsky's sawtooth construction of x^2).

Pure functions with explicit seeds and sizes; the figure-data builders at the end return labelled Datasets.
"""

from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from .. import data, model
from ..theory import kernels, learning_curves

# --- Double descent -----------------------------------------------------------------------------------------------


def linear_min_norm_risk(p, n: int, noise_var: float, signal2: float) -> np.ndarray:
    """Excess risk E|beta-hat - beta|^2 of min-norm least squares, isotropic x ~ N(0, I_p), |beta|^2 = signal2:
    noise_var p / (n - p - 1) for p < n - 1, signal2 (1 - n / p) + noise_var n / (p - n - 1) for p > n + 1 (Sec. 1,
    Belkin-Hsu-Xu / Hastie et al.); infinite in between."""
    p = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        under = noise_var * p / (n - p - 1)
        over = signal2 * (1 - n / p) + noise_var * n / (p - n - 1)
    return np.where(p < n - 1, under, np.where(p > n + 1, over, np.inf))


def linear_min_norm_mc(rng: np.random.Generator, p: int, n: int, noise_var: float, signal2: float,
                       trials: int) -> tuple[float, float]:  # fmt: skip
    """Monte Carlo of linear_min_norm_risk: mean and standard error over trials (beta uniform on the sphere of
    radius sqrt(signal2), Gaussian noise), min-norm solution by pinv."""
    risks = np.empty(trials)
    for t in range(trials):
        beta = rng.standard_normal(p)
        beta *= math.sqrt(signal2) / np.linalg.norm(beta)
        x = rng.standard_normal((n, p))
        y = x @ beta + math.sqrt(noise_var) * rng.standard_normal(n)
        risks[t] = np.sum((np.linalg.pinv(x) @ y - beta) ** 2)
    return float(risks.mean()), float(risks.std(ddof=1) / math.sqrt(trials))


def random_feature_test_mse(rng: np.random.Generator, x_train, y_train, x_test, g_test, features) -> np.ndarray:
    """Test MSE (against the clean target g_test) of min-norm least squares on ReLU random features relu(W x),
    W ~ N(0, I / d), for each number of features (nested: the first N rows of one W)."""
    d = x_train.shape[-1]
    w = rng.standard_normal((max(features), d)) / math.sqrt(d)
    phi_train, phi_test = np.maximum(x_train @ w.T, 0), np.maximum(x_test @ w.T, 0)
    out = np.empty(len(features))
    for k, n_features in enumerate(features):
        a = np.linalg.lstsq(phi_train[:, :n_features], y_train, rcond=None)[0]  # min-norm when N > n
        out[k] = np.mean((phi_test[:, :n_features] @ a - g_test) ** 2)
    return out


def random_feature_kernel(dim: int) -> model.FCN:
    """The N -> infinity kernel of the random features: E_w[relu(w.x) relu(w.x')], w ~ N(0, I / d), which is the NNGP
    of a one-hidden-layer ReLU network with sigma_w2 = 1, sigma_b2 = 0 and unit input scaling."""
    return model.FCN(dim=dim, depth=2, activation="relu", sigma_w2=1.0, sigma_b2=0.0, input_scaling="unit")


def double_descent_dataset(seed: int, dim: int, degrees, power, noise: float, n_train: int, n_test: int,
                           features, n_draws: int, max_degree: int, linear: dict, ridgeless: float = 1e-8,
                           progress=None) -> xr.Dataset:  # fmt: skip
    """F9a: (i) the isotropic linear model: closed form and Monte Carlo of the min-norm excess risk against p/n;
    (ii) ReLU random features on S^{d-1}: test MSE of min-norm regression against N/n over `n_draws` datasets and
    feature draws, with the N -> infinity line: ridgeless kernel regression with the random-feature kernel, exact
    (population MSE, mean over the same datasets) and the self-consistent theory (spectral tail lumped in)."""
    # one size: the label noise keeps its original stream (nested=False), so the survey's stores are unchanged
    ds = data.make_dataset(
        seed, dim, degrees, power, n_max=n_train, n_test=n_test, n_draws=n_draws, noise=noise, nested=False
    )
    rng = np.random.default_rng([seed, 1])
    mse = np.array([
        random_feature_test_mse(rng, ds.x_train.values[s], ds.y_train.values[s], ds.x_test.values, ds.g_test.values,
                                features)
        for s in range(n_draws)
    ])  # fmt: skip
    if progress:
        progress("random features")
    net = random_feature_kernel(dim)
    spectrum = kernels.spectrum(net, max_degree, 1000)
    kernel = learning_curves.gp_population_mse(net, ds, n_train, [ridgeless], spectrum.eigenvalue_nngp.values)[:, 0]
    theory = learning_curves.theory_curves(spectrum, degrees, power, ridgeless, noise, [n_train])
    p = np.asarray(linear["p"])
    lin_rng = np.random.default_rng([seed, 2])
    lin_mc = np.array([linear_min_norm_mc(lin_rng, int(q), linear["n_train"], linear["noise_var"], linear["signal2"],
                                          linear["trials"]) for q in p])  # fmt: skip
    if progress:
        progress("linear model")
    fine = np.linspace(1, max(p) * 1.05, 400)
    n_lin, noise_var, signal2 = linear["n_train"], linear["noise_var"], linear["signal2"]
    return xr.Dataset(
        {
            "rf_mse": ("features", mse.mean(0)),
            "rf_mse_se": ("features", mse.std(0, ddof=1) / math.sqrt(n_draws)),
            "rf_mse_median": ("features", np.median(mse, 0)),
            "linear_risk_theory": (
                "p_fine",
                linear_min_norm_risk(fine, n_lin, noise_var, signal2),
            ),
            "linear_risk_at_p": ("p", linear_min_norm_risk(p, n_lin, noise_var, signal2)),
            "linear_risk_mc": ("p", lin_mc[:, 0]),
            "linear_risk_mc_se": ("p", lin_mc[:, 1]),
        },  # fmt: skip
        coords={"features": np.asarray(features), "p": p, "p_fine": fine},
        attrs={
            "n_train": n_train,
            "dim": dim,
            "noise": noise,
            "n_draws": n_draws,
            "kernel_mse": float(kernel.mean()),
            "kernel_mse_se": float(kernel.std(ddof=1) / math.sqrt(n_draws)),
            "kernel_sc_theory": float(theory.sc.values[0]),
            "ridgeless": ridgeless,
            "linear_n_train": linear["n_train"],
            "linear_noise_var": linear["noise_var"],
            "linear_signal2": linear["signal2"],
            "linear_trials": linear["trials"],
        },  # fmt: skip
    )


# --- Lazy training --------------------------------------------------------------------------------------------------


def _flat(params) -> jax.Array:
    return jnp.concatenate([leaf.ravel() for leaf in jax.tree.leaves(params)])


@partial(jax.jit, static_argnames=("net", "max_steps"))
def _gradient_descent(net: model.FCN, params, x, y, lr, tol, max_steps: int):
    """Full-batch GD on (1/2n) |f - y|^2 until the train MSE is below tol (compiled once per network shape)."""

    def loss(p):
        return 0.5 * jnp.mean((model.apply(net, p, x) - y) ** 2)

    grad = jax.grad(loss)

    def cond(state):
        p, step = state
        return (2 * loss(p) > tol) & (step < max_steps)

    def body(state):
        p, step = state
        return jax.tree.map(lambda a, g: a - lr * g, p, grad(p)), step + 1

    params, steps = jax.lax.while_loop(cond, body, (params, 0))
    return params, steps, 2 * loss(params)


LAZY_MODEL = {"activation": "relu", "depth": 2, "sigma_w2": 2.0, "sigma_b2": 0.0}  # lazy_dataset's default networks


def lazy_training(key: jax.Array, net: model.FCN, x_train, y_train, x_test, tol: float = 1e-4,
                  max_steps: int = 200_000) -> dict[str, float]:  # fmt: skip
    """Full-batch gradient descent on the mean squared error (1/2n) |f - y|^2 from a prior draw, learning rate
    n / lambda_max(Theta-hat_0), until the train MSE is below tol. Returns the relative change of the parameters
    |theta_T - theta_0| / |theta_0| and of the empirical NTK on the train set (Frobenius), and the relative gap of
    the trained predictor on x_test to the linearised predictor with the analytic NTK, f_0 + Theta(x, X)
    Theta(X, X)^-1 (y - f_0(X)), measured against its own change from f_0. float64."""
    with jax.enable_x64(True):
        x, y, xt = (jnp.asarray(a, jnp.float64) for a in (x_train, y_train, x_test))
        params0 = model.init_params(key, net, jnp.float64)
        theta0 = model.empirical_ntk(net, params0, x)
        lr = x.shape[0] / float(jnp.linalg.eigvalsh(theta0)[-1])
        params, steps, train_mse = _gradient_descent(net, params0, x, y, lr, tol, max_steps)
        weight_change = float(jnp.linalg.norm(_flat(params) - _flat(params0)) / jnp.linalg.norm(_flat(params0)))
        ntk_change = float(jnp.linalg.norm(model.empirical_ntk(net, params, x) - theta0) / jnp.linalg.norm(theta0))
        f0_train, f0_test = model.apply(net, params0, x), model.apply(net, params0, xt)
        k_train = kernels.gram(net, np.asarray(x), kind="ntk")
        k_test = kernels.gram(net, np.asarray(xt), np.asarray(x), kind="ntk")
        f_lin = np.asarray(f0_test) + k_test @ learning_curves.gp_solve(k_train, np.asarray(y - f0_train), 0.0)
        f_trained = np.asarray(model.apply(net, params, xt))
        gap = np.linalg.norm(f_trained - f_lin) / np.linalg.norm(f_lin - np.asarray(f0_test))
        return {"weight_change": weight_change, "ntk_change": ntk_change, "kernel_gap": float(gap),
                "steps": int(steps), "train_mse": float(train_mse)}  # fmt: skip


def lazy_dataset(seed: int, dim: int, degrees, power, n_train: int, n_test: int, widths, seeds: int,
                 tol: float = 1e-4, model_fields=None, progress=None) -> xr.Dataset:  # fmt: skip
    """F9b: networks model.FCN(dim=dim, width=m, **model_fields) (NTK parametrisation; default: two-layer ReLU,
    sigma_w2 = 2, no biases) trained by full-batch GD on a noiseless target, for each width m of `widths` and `seeds`
    initialisations (one dataset): relative weight and NTK change and the gap to NTK kernel regression, mean and s.e.
    over seeds, with the fitted log-log slopes against the width."""
    fields = dict(LAZY_MODEL if model_fields is None else model_fields)
    if {"dim", "width", "parametrization", "input_scaling"} & fields.keys():
        raise ValueError(f"model_fields: dim and width come from the arguments, the parametrisation is NTK's and the "
                         f"input scaling the default (got {sorted(fields)})")  # fmt: skip
    nets = [model.FCN(dim=dim, width=int(m), **fields) for m in widths]
    ds = data.make_dataset(seed, dim, degrees, power, n_max=n_train, n_test=n_test, n_draws=1)
    names = ("weight_change", "ntk_change", "kernel_gap", "steps", "train_mse")
    out = {k: np.empty((len(widths), seeds)) for k in names}
    for i, (m, net) in enumerate(zip(widths, nets, strict=True)):
        for s in range(seeds):
            r = lazy_training(jax.random.key(1000 * seed + s), net, ds.x_train.values[0], ds.y_train.values[0],
                              ds.x_test.values, tol)  # fmt: skip
            for k in names:
                out[k][i, s] = r[k]
        if progress:
            progress(f"lazy training width {m}")
    log_m = np.log(np.asarray(widths, dtype=np.float64))
    slopes = {f"slope_{k}": float(np.polyfit(log_m, np.log(out[k].mean(1)), 1)[0])
              for k in ("weight_change", "ntk_change", "kernel_gap")}  # fmt: skip
    variables = {}
    for k in names:
        variables[k] = ("width", out[k].mean(1))
        variables[f"{k}_se"] = ("width", out[k].std(1, ddof=1) / math.sqrt(seeds))
    return xr.Dataset(variables, coords={"width": np.asarray(widths)},
                      attrs={"n_train": n_train, "dim": dim, "seeds": seeds, "tol": tol, "activation": nets[0].act.name,
                             "depth": nets[0].depth, "sigma_w2": fields["sigma_w2"], "sigma_b2": fields["sigma_b2"],
                             **slopes})  # fmt: skip


# --- Depth efficiency -------------------------------------------------------------------------------------------------


def relu_network(layers, x) -> np.ndarray:
    """Evaluate a ReLU network given as [(W, b), ...] (ReLU after every layer but the last) on inputs x (k, fan_in)."""
    h = np.asarray(x, dtype=np.float64)
    for i, (w, b) in enumerate(layers):
        h = h @ w + b
        if i < len(layers) - 1:
            h = np.maximum(h, 0)
    return h


def sawtooth_square(m: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Yarotsky's approximation of x^2 on [0, 1], f_m = x - sum_{s=1}^m g_s / 4^s with g_s the s-fold hat function
    g(x) = 2 min(x, 1 - x), as an explicit ReLU network of m + 1 layers, 3 neurons wide. Hidden layer s holds
    relu(g_{s-1}), relu(g_{s-1} - 1/2) and relu(f_{s-1}) (f_{s-1} >= 0 on [0, 1]); the next layer forms
    g_s = 2 relu(g_{s-1}) - 4 relu(g_{s-1} - 1/2) and f_s = f_{s-1} - g_s / 4^s."""
    if m < 1:
        raise ValueError(f"m must be >= 1 (got {m})")
    layers = [(np.array([[1.0, 1.0, 1.0]]), np.array([0.0, -0.5, 0.0]))]  # g_0 = x, f_0 = x
    for s in range(1, m + 1):
        # (relu(g), relu(g - 1/2), relu(f)) -> (g_s, f_s)
        w = np.array([[2.0, -2.0 / 4**s], [-4.0, 4.0 / 4**s], [0.0, 1.0]])
        if s < m:  # and straight into the next hidden layer: (g_s, g_s - 1/2, f_s)
            w = w @ np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
            layers.append((w, np.array([0.0, -0.5, 0.0])))
        else:
            layers.append((w[:, 1:], np.zeros(1)))
    return layers


def shallow_square_fit(knots: int, x_fit) -> list[tuple[np.ndarray, np.ndarray]]:
    """A one-hidden-layer ReLU network for x^2 on [0, 1]: `knots` neurons relu(x - t_j) at t_j = j / knots plus a
    bias, output weights by least squares on x_fit."""
    t = np.arange(knots) / knots
    w1, b1 = np.ones((1, knots)), -t
    features = np.maximum(np.asarray(x_fit)[:, None] - t, 0)
    a, *_ = np.linalg.lstsq(np.column_stack([features, np.ones(len(x_fit))]), np.asarray(x_fit) ** 2, rcond=None)
    return [(w1, b1), (a[:-1, None], a[-1:])]


def parameter_count(layers) -> int:
    return int(sum(w.size + b.size for w, b in layers))


def depth_dataset(max_m: int, shallow_knots, grid_points: int = 2**16 + 1) -> xr.Dataset:
    """F9c: sup-norm error on [0, 1] and parameter count of the deep sawtooth approximations (m = 1..max_m) and of
    shallow least-squares fits with uniform knots, and the exact value 2^(-2m-2)."""
    x = np.linspace(0, 1, grid_points)
    m = np.arange(1, max_m + 1)
    deep = [sawtooth_square(int(k)) for k in m]
    shallow = [shallow_square_fit(int(k), x) for k in shallow_knots]

    def sup_error(layers):
        return float(np.max(np.abs(relu_network(layers, x[:, None])[:, 0] - x**2)))

    return xr.Dataset(
        {
            "deep_error": ("m", [sup_error(net) for net in deep]),
            "deep_error_exact": ("m", 2.0 ** (-2 * m - 2)),
            "deep_parameters": ("m", [parameter_count(net) for net in deep]),
            "deep_layers": ("m", [len(net) for net in deep]),
            "shallow_error": ("knots", [sup_error(net) for net in shallow]),
            "shallow_parameters": ("knots", [parameter_count(net) for net in shallow]),
        },
        coords={"m": m, "knots": np.asarray(shallow_knots)},
        attrs={"grid_points": grid_points},
    )
