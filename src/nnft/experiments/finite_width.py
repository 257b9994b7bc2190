"""Figure data for the finite-width and criticality experiments (docs/finite_width.md Sec. 6, F1-F8):
each builder runs the theory of `finite_width` beside measurements on random networks and returns one labelled
xarray Dataset. The library functions they call know nothing of figures; these know nothing of Snakemake."""

from __future__ import annotations

import math

import jax
import numpy as np
import xarray as xr

from .. import activations, model
from ..sampling.ensembles import (
    empirical_chi_1,
    ensemble_correlation,
    full_weight_ensemble,
    gram_sampler,
    kurtosis_estimate,
    measure_depth_scales,
)
from ..theory.finite_width import (
    chi_1,
    correlation,
    correlation_deviation,
    correlation_fixed_point,
    critical_sigma_w2,
    decay_length,
    depth_scale_starts,
    depth_scales,
    flow_pair,
    flow_single,
    kurtosis_product_form,
    ntk_flow_single,
)
from .trainability import (
    NTKModel,
    ntk_by_layer,
    ntk_change,
    power_law_fit,
    relative_variance,
    sphere_sign_data,
    trainability_grid,
)


def _fields(models, *keys) -> list[tuple]:
    """Each model mapping (the config's {activation, sigma_w2, ...}) as the tuple (activation, *keys), numbers as
    floats (a config's 2 and 2.0 give the same dataset)."""
    return [(m["activation"], *(float(m[k]) for k in keys)) for m in models]


def _net(activation: str, sigma_w2: float, sigma_b2: float, width: int, depth: int) -> model.FCN:
    """The networks of these figures: PDLT's conventions (standard parametrisation, Var W^(1) = C_W / n_0, i.e.
    input_scaling "unit"), input width n_0 = hidden width."""
    return model.FCN(dim=width, depth=depth, activation=activation, sigma_w2=sigma_w2, sigma_b2=sigma_b2, width=width,
                     input_scaling="unit", parametrization="standard")  # fmt: skip


def kernel_flow_dataset(key, models, depth: int, width: int, n_networks: int, progress=None):
    """F1: K^(l) for `models` (mappings {activation, sigma_w2}; C_b = 0, K^(1) = 1) by recursion, and the ensemble
    mean and s.e. of G-hat^(l) over full-weight networks."""
    models = _fields(models, "sigma_w2")
    theory, mean, se = [], [], []
    for i, (name, w2) in enumerate(models):
        net = _net(name, w2, 0.0, width, depth)
        theory.append(flow_single(net, 1.0).K)
        g = full_weight_ensemble(jax.random.fold_in(key, i), net, 1.0, n_networks)[..., 0, 0]
        mean.append(g.mean(0))
        se.append(g.std(0, ddof=1) / math.sqrt(n_networks))
        if progress:
            progress(f"kernel flow {name} sigma_w2={w2:.4g}")
    dims = ("model", "layer")
    return xr.Dataset(
        {"K": (dims, np.array(theory)), "G_mc": (dims, np.array(mean)), "G_mc_se": (dims, np.array(se))},
        coords={
            "model": [f"{n} sigma_w2={c:.4g}" for n, c in models],
            "activation": ("model", [n for n, _ in models]),
            "sigma_w2": ("model", [c for _, c in models]),
            "layer": np.arange(1, depth + 1),
        },
        attrs={"width": width, "n_networks": n_networks, "sampler": "full weight matrices"},
    )


def finite_width_dataset(key, kurtosis_models, correlation_models, depth: int, widths, n_networks: int,
                         bootstrap_seed: int, progress=None):  # fmt: skip
    """F2-F4: single-input kurtosis and kernel shift (`kurtosis_models`, mappings {activation, sigma_w2}; C_b = 0,
    K^(1) = 1) and two-input ensemble correlations (`correlation_models`, {activation, sigma_w2, sigma_b2, rho1}
    with K^(1) = [[1, rho1], [rho1, 1]]) from the exact Gram sampler at several widths, beside the recursions (V,
    K^{1}, product form). Monte Carlo errors: bootstrap (kurtosis; `bootstrap_seed`), standard errors (means),
    delta method (correlation)."""
    kurtosis_models = _fields(kurtosis_models, "sigma_w2")
    correlation_models = _fields(correlation_models, "sigma_w2", "sigma_b2", "rho1")
    widths = list(widths)
    rng = np.random.default_rng(bootstrap_seed)
    n_k, n_c, n_w = len(kurtosis_models), len(correlation_models), len(widths)
    out = {
        name: np.full(shape, np.nan)
        for name, shape in {
            "K": (n_k, depth),
            "V": (n_k, depth),
            "K1": (n_k, depth),
            "kurtosis_exact": (n_k, n_w, depth),
            "kurtosis_mc": (n_k, n_w, depth),
            "kurtosis_mc_se": (n_k, n_w, depth),
            "G_mc": (n_k, n_w, depth),
            "G_mc_se": (n_k, n_w, depth),
            "rho_inf": (n_c, depth),
            "rho_1n": (n_c, n_w, depth),
            "rho_mc": (n_c, n_w, depth),
            "rho_mc_se": (n_c, n_w, depth),
        }.items()
    }
    for i, (name, w2) in enumerate(kurtosis_models):
        flow = flow_single(_net(name, w2, 0.0, min(widths), depth), 1.0)
        out["K"][i], out["V"][i], out["K1"][i] = flow.K, flow.V, flow.K1
        for j, n in enumerate(widths):
            net = _net(name, w2, 0.0, n, depth)
            if net.act.slopes is not None:
                out["kurtosis_exact"][i, j] = kurtosis_product_form(net)
            g = gram_sampler(jax.random.fold_in(key, 100 * i + j), net, 1.0, n_networks)
            g = g[..., 0, 0]
            out["G_mc"][i, j] = g.mean(0)
            out["G_mc_se"][i, j] = g.std(0, ddof=1) / math.sqrt(n_networks)
            for layer in range(1, depth):
                out["kurtosis_mc"][i, j, layer], out["kurtosis_mc_se"][i, j, layer] = kurtosis_estimate(
                    g[:, layer], rng, n_boot=100
                )
            out["kurtosis_mc"][i, j, 0] = out["kurtosis_mc_se"][i, j, 0] = 0.0
            if progress:
                progress(f"single input {name} n={n}")
    for i, (name, w2, b2, rho1) in enumerate(correlation_models):
        flow = flow_pair(_net(name, w2, b2, min(widths), depth), [1.0, rho1, 1.0])
        out["rho_inf"][i] = correlation(flow.K)
        for j, n in enumerate(widths):
            out["rho_1n"][i, j] = correlation(flow.K + flow.K1 / n)
            k1 = np.array([[1.0, rho1], [rho1, 1.0]])
            g = gram_sampler(jax.random.fold_in(key, 1000 + 100 * i + j), _net(name, w2, b2, n, depth), k1,
                             n_networks)  # fmt: skip
            out["rho_mc"][i, j], out["rho_mc_se"][i, j] = ensemble_correlation(g)
            if progress:
                progress(f"two inputs {name} n={n}")
    single, pair = ("single_model", "layer"), ("pair_model", "layer")
    dims = {k: single if k in ("K", "V", "K1") else ("pair_model", "width", "layer") if k.startswith("rho") else
            ("single_model", "width", "layer") for k in out}  # fmt: skip
    dims["rho_inf"] = pair
    return xr.Dataset(
        {k: (dims[k], v) for k, v in out.items()},
        coords={
            "single_model": [f"{n} sigma_w2={c:.4g}" for n, c in kurtosis_models],
            "single_activation": ("single_model", [n for n, _ in kurtosis_models]),
            "single_sigma_w2": ("single_model", [c for _, c in kurtosis_models]),
            "pair_model": [f"{n} sigma_w2={c:.6g} sigma_b2={b:g} rho1={r:g}" for n, c, b, r in correlation_models],
            "pair_activation": ("pair_model", [m[0] for m in correlation_models]),
            "pair_sigma_w2": ("pair_model", [m[1] for m in correlation_models]),
            "pair_sigma_b2": ("pair_model", [m[2] for m in correlation_models]),
            "pair_rho1": ("pair_model", [m[3] for m in correlation_models]),
            "width": widths,
            "layer": np.arange(1, depth + 1),
        },
        attrs={"n_networks": n_networks, "sampler": "exact Gram sampler (Sec. 1)", "K1_input": 1.0},
    )


def phase_diagram_dataset(key, activation: str, sigma_w2_range, sigma_b2_range, theory_points: int,
                          empirical_points: int, width: int, n_networks: int, transient: int = 30,
                          measure: int = 10):  # fmt: skip
    """F5: ln chi_1 over sigma_b2 x sigma_w2 in the [low, high] ranges (theory grid), the order-to-chaos line
    sigma_w2*(sigma_b2) (bisection of chi_1 = 1), and empirical chi_1 on a coarser grid of the same ranges."""
    act = activations.parse(activation)
    b2, w2 = np.linspace(*sigma_b2_range, theory_points), np.linspace(*sigma_w2_range, theory_points)
    chi = chi_1(act, w2[:, None], b2[None, :])
    eb2, ew2 = np.linspace(*sigma_b2_range, empirical_points), np.linspace(*sigma_w2_range, empirical_points)
    emp, emp_se = empirical_chi_1(key, act, ew2[:, None] + 0 * eb2[None, :], eb2[None, :] + 0 * ew2[:, None], width,
                                  n_networks, transient, measure)  # fmt: skip
    return xr.Dataset(
        {
            "log_chi_1": (("sigma_w2", "sigma_b2"), np.log(chi)),
            "critical_sigma_w2": ("sigma_b2", critical_sigma_w2(act, b2)[0]),
            "chi_1_empirical": (("emp_sigma_w2", "emp_sigma_b2"), emp),
            "chi_1_empirical_se": (("emp_sigma_w2", "emp_sigma_b2"), emp_se),
            "chi_1_theory_at_empirical": (
                ("emp_sigma_w2", "emp_sigma_b2"),
                chi_1(act, ew2[:, None], eb2[None, :]),
            ),
        },
        coords={"sigma_w2": w2, "sigma_b2": b2, "emp_sigma_w2": ew2, "emp_sigma_b2": eb2},
        attrs={
            "activation": activation,
            "width": width,
            "n_networks": n_networks,
            "transient": transient,
            "measure": measure,
        },  # fmt: skip
    )


def depth_scales_dataset(key, activation: str, sigma_b2: float, sigma_w2_range, points: int, width: int,
                         n_networks: int, depth_max: int, theory_points: int, bootstrap_seed: int, delta: float = 1e-3,
                         progress=None):  # fmt: skip
    """F6: xi_c, xi_q and c* against sigma_w2 in [low, high] = `sigma_w2_range` at fixed sigma_b2: the mean-field
    formulas on a fine grid, and at `points` values measurements on random networks (`measure_depth_scales`, its
    bootstrap seeded by `bootstrap_seed`) beside the same estimator applied to the deterministic flows at infinite
    width and to first order in 1/width (so that the procedure's own bias and the O(1/n) shift of the depth scales
    are both shown). Depths: 5 xi_c and 8 xi_q of the theory, clipped to [12, depth_max] and [10, depth_max]."""
    act = activations.parse(activation)
    rng = np.random.default_rng(bootstrap_seed)
    grid = np.linspace(*sigma_w2_range, theory_points)
    theory = [depth_scales(act, w2, sigma_b2) for w2 in grid]
    w2s = np.linspace(*sigma_w2_range, points)
    names = ("xi_c", "xi_c_se", "xi_q", "xi_q_se", "c_star_n", "c_star_n_se", "xi_c_layers", "xi_q_layers",
             "xi_c_inf", "xi_c_1n", "xi_q_inf", "xi_q_1n", "c_star_1n", "depth_c", "depth_q", "c_star_inf")  # fmt: skip
    out = {k: np.full(points, np.nan) for k in names}
    for i, w2 in enumerate(w2s):
        scales = depth_scales(act, w2, sigma_b2)
        depth_c = int(np.clip(math.ceil(5 * scales["xi_c"]), 12, depth_max))
        depth_q = int(np.clip(math.ceil(8 * scales["xi_q"]), 10, depth_max))
        m = measure_depth_scales(jax.random.fold_in(key, i), act, w2, sigma_b2, width, n_networks, depth_c, depth_q,
                                 delta, rng)  # fmt: skip
        for k, v in m.items():
            out[k][i] = v
        out["depth_c"][i], out["depth_q"][i], out["c_star_inf"][i] = depth_c, depth_q, scales["c_star"]
        starts = depth_scale_starts(act, w2, sigma_b2, delta)
        pairs = [flow_pair(_net(activation, w2, sigma_b2, width, depth_c), [k[0, 0], k[0, 1], k[1, 1]])
                 for k in starts["c_starts"]]  # fmt: skip
        singles = [flow_single(_net(activation, w2, sigma_b2, width, depth_q), k) for k in starts["q_starts"]]
        end_c = int(m["xi_c_layers"]) if m["xi_c_layers"] >= 3 else depth_c  # the layers the measurement fitted
        end_q = int(m["xi_q_layers"]) if m["xi_q_layers"] >= 3 else depth_q
        for suffix, inv_n in (("inf", 0.0), ("1n", 1 / width)):
            rhos = [correlation(f.K + f.K1 * inv_n) for f in pairs]
            out[f"xi_c_{suffix}"][i] = decay_length(correlation_deviation(rhos)[:end_c])
            qs = [f.K + f.K1 * inv_n for f in singles]
            out[f"xi_q_{suffix}"][i] = decay_length(((qs[0] - qs[1]) / 2)[:end_q])
        out["c_star_1n"][i] = correlation_fixed_point(rhos)  # rhos of the last pass: the 1/n theory
        if progress:
            progress(f"depth scales sigma_w2={w2:.3g}")
    critical, _ = critical_sigma_w2(act, sigma_b2)
    return xr.Dataset(
        {
            "xi_c_theory": ("sigma_w2", [t["xi_c"] for t in theory]),
            "xi_q_theory": ("sigma_w2", [t["xi_q"] for t in theory]),
            "c_star_theory": ("sigma_w2", [t["c_star"] for t in theory]),
            **{k: ("point", v) for k, v in out.items()},
        },
        coords={"sigma_w2": grid, "point_sigma_w2": ("point", w2s)},
        attrs={
            "activation": activation,
            "sigma_b2": sigma_b2,
            "width": width,
            "n_networks": n_networks,
            "depth_max": depth_max,
            "delta": delta,
            "critical_sigma_w2": critical,
            "sampler": "exact Gram sampler (Sec. 1), +- starts with common random numbers",
        },  # fmt: skip
    )


# --- F7, F8: trainability and the NTK (docs/trainability_ntk.md) ----------------------------------------------------


def trainability_dataset(key, data_seed: int, activation: str, sigma_b2: float, sigma_w2_range, points: int, depths,
                         width: int, dim: int, n_train: int, steps: int, batch: int, momentum: float,
                         learning_rate: float, seeds: int, degree: int, directions: int, theory_points: int,
                         progress=None):  # fmt: skip
    """F7: train accuracy of networks trained by SGD on the sign of a random degree-`degree` harmonic on
    S^{dim-1} (`trainability.trainability_grid`) over sigma_w2 in [low, high] = `sigma_w2_range` x depths at fixed
    sigma_b2, beside the mean-field depth scale xi_c(sigma_w2) (fine grid and at the measured points)."""
    act = activations.parse(activation)
    x, y, _ = sphere_sign_data(data_seed, dim, n_train, degree, directions)
    w2s = np.linspace(*sigma_w2_range, points)
    grid = trainability_grid(key, act, x, y, w2s, depths, sigma_b2, width, steps, batch, momentum, learning_rate,
                             seeds, progress)  # fmt: skip
    fine = np.linspace(*sigma_w2_range, theory_points)
    critical, _ = critical_sigma_w2(act, sigma_b2)
    cube, plane = ("depth", "sigma_w2", "seed"), ("depth", "sigma_w2")
    return xr.Dataset(
        {
            **{k: (cube, grid[k]) for k in ("accuracy", "accuracy_init", "loss", "loss_init")},
            "eta": (plane, grid["eta"]),
            "xi_c": ("sigma_w2", [depth_scales(act, w2, sigma_b2)["xi_c"] for w2 in w2s]),
            "xi_c_theory": ("theory_sigma_w2", [depth_scales(act, w2, sigma_b2)["xi_c"] for w2 in fine]),
        },
        coords={"depth": list(depths), "sigma_w2": w2s, "seed": np.arange(seeds), "theory_sigma_w2": fine},
        attrs={
            "activation": activation,
            "sigma_b2": sigma_b2,
            "width": width,
            "dim": dim,
            "n_train": n_train,
            "steps": steps,
            "batch": batch,
            "momentum": momentum,
            "learning_rate": learning_rate,
            "degree": degree,
            "directions": directions,
            "label_mean": float(y.mean()),
            "critical_sigma_w2": critical,
            "optimizer": "SGD with heavy-ball momentum, eta = learning_rate / Theta-bar^(depth) (NTK recursion)",
        },
    )


def _relative_variance_fit(x, rv, se, x_max: float) -> tuple[float, float, float]:
    """Weighted least squares rv = a x + b x^2 on the points with 0 < x <= x_max: (a, s.e. of a, b); NaN when
    fewer than three points qualify."""
    keep = (x > 0) & (x <= x_max) & np.isfinite(rv) & (se > 0)
    if keep.sum() < 3:
        return math.nan, math.nan, math.nan
    a = np.stack([x[keep], x[keep] ** 2], -1) / se[keep, None]
    coef, *_ = np.linalg.lstsq(a, rv[keep] / se[keep], rcond=None)
    resid = rv[keep] / se[keep] - a @ coef
    scale = max(1.0, float(resid @ resid) / max(keep.sum() - 2, 1))
    return float(coef[0]), float(np.sqrt(np.linalg.inv(a.T @ a)[0, 0] * scale)), float(coef[1])


def ntk_dataset(key, models, depth: int, widths, n_networks: int, fit_max: float, bootstrap_seed: int,
                progress=None):  # fmt: skip
    """F8a,b: the NTK Theta-hat^(l) of one input, l = 1..depth, on random networks of several widths
    (`trainability.ntk_by_layer`, every one of `models` on the same normals: mappings {activation, sigma_w2,
    lambda_b}, lambda_b a number or "1/l"; C_b = 0, K^(1) = 1, lambda_W = 1): ensemble mean beside the
    infinite-width recursion (`finite_width.ntk_flow_single`), and the relative variance Var / mean^2 with bootstrap
    errors (`bootstrap_seed`), with an empirical fit a x + b x^2, x = (l - 1) / n <= fit_max (no theory of the
    coefficient is transcribed)."""
    spec = [(m["activation"], float(m["sigma_w2"]), str(m["lambda_b"])) for m in models]
    widths = list(widths)
    layers = np.arange(1, depth + 1)

    def models_of(width):
        return [NTKModel(_net(name, w2, 0.0, width, depth), 1.0, 1 / layers if lb == "1/l" else float(lb), 1.0)
                for name, w2, lb in spec]  # fmt: skip

    theory = np.stack([ntk_flow_single(m.net, m.k1, m.lambda_b, m.lambda_w) for m in models_of(min(widths))])
    rng = np.random.default_rng(bootstrap_seed)
    shape = (len(spec), len(widths), depth)
    out = {k: np.full(shape, np.nan) for k in ("theta_mc", "theta_mc_se", "relvar", "relvar_se")}
    for j, n in enumerate(widths):
        theta = ntk_by_layer(jax.random.fold_in(key, n), models_of(n), n_networks)
        out["theta_mc"][:, j] = theta.mean(1)
        out["theta_mc_se"][:, j] = theta.std(1, ddof=1) / math.sqrt(n_networks)
        for i in range(len(spec)):
            out["relvar"][i, j], out["relvar_se"][i, j] = relative_variance(theta[i], rng, n_boot=100)
        if progress:
            progress(f"ntk ensembles width {n}")
    x = (layers[None, :] - 1) / np.asarray(widths)[:, None]
    fits = [_relative_variance_fit(x.ravel(), out["relvar"][i].ravel(), out["relvar_se"][i].ravel(), fit_max)
            for i in range(len(spec))]  # fmt: skip
    dims = ("model", "width", "layer")
    return xr.Dataset(
        {
            **{k: (dims, v) for k, v in out.items()},
            "theta_theory": (("model", "layer"), theory),
            "relvar_slope": ("model", [f[0] for f in fits]),
            "relvar_slope_se": ("model", [f[1] for f in fits]),
            "relvar_curvature": ("model", [f[2] for f in fits]),
        },
        coords={
            "model": [f"{n} sigma_w2={c:g} lambda_b={lb}" for n, c, lb in spec],
            "activation": ("model", [n for n, _, _ in spec]),
            "sigma_w2": ("model", [c for _, c, _ in spec]),
            "lambda_b": ("model", [lb for _, _, lb in spec]),
            "width": widths,
            "layer": layers,
        },
        attrs={
            "n_networks": n_networks,
            "fit_max": fit_max,
            "K1_input": 1.0,
            "lambda_w": 1.0,
            "sampler": "full weight matrices, one backward pass for all layers",
        },
    )


def ntk_training_dataset(key, data_seed: int, activation: str, sigma_b2: float, widths, depths, dim: int,
                         n_train: int, steps: int, learning_rate: float, seeds: int, degree: int, directions: int,
                         progress=None):  # fmt: skip
    """F8c: the relative change |Theta_T - Theta_0|_F / |Theta_0|_F of the train-set NTK of networks at the critical
    sigma_w2 (fixed sigma_b2) trained by full-batch gradient descent on the sign of a random degree-`degree`
    harmonic on S^{dim-1} (`directions` zonal terms; `trainability.ntk_change`), with a power-law fit against the
    width at every depth."""
    act = activations.parse(activation)
    x, y, _ = sphere_sign_data(data_seed, dim, n_train, degree, directions)
    critical, _ = critical_sigma_w2(act, sigma_b2)
    r = ntk_change(key, act, x, y, critical, sigma_b2, widths, depths, steps, learning_rate, seeds, progress)
    mean, se = r["ntk_change"].mean(-1), r["ntk_change"].std(-1, ddof=1) / math.sqrt(seeds)
    fits = [power_law_fit(widths, mean[i], se[i]) for i in range(len(depths))]
    cube = ("depth", "width", "seed")
    return xr.Dataset(
        {
            **{k: (cube, v) for k, v in r.items()},
            "ntk_change_mean": (("depth", "width"), mean),
            "ntk_change_se": (("depth", "width"), se),
            "width_exponent": ("depth", [f[0] for f in fits]),
            "width_exponent_se": ("depth", [f[1] for f in fits]),
            "width_prefactor": ("depth", [f[2] for f in fits]),
        },
        coords={"depth": list(depths), "width": list(widths), "seed": np.arange(seeds)},
        attrs={
            "activation": activation,
            "sigma_w2": critical,
            "sigma_b2": sigma_b2,
            "dim": dim,
            "n_train": n_train,
            "steps": steps,
            "learning_rate": learning_rate,
            "optimizer": "full-batch gradient descent, eta = learning_rate / Theta-bar^(depth) (NTK recursion)",
        },
    )
