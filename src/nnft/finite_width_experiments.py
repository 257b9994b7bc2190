"""Figure data for the finite-width and criticality experiments (science/finite_width_criticality.md Sec. 8, F1-F6):
each builder runs the theory of `finite_width` beside measurements on random networks and returns one labelled
xarray Dataset. The library functions they call know nothing of figures; these know nothing of Snakemake."""

from __future__ import annotations

import math

import jax
import numpy as np
import xarray as xr

from . import activations
from .finite_width import (
    chi_1_grid,
    correlation,
    correlation_deviation,
    correlation_fixed_point,
    critical_line,
    critical_sigma_w2,
    decay_length,
    depth_scale_starts,
    depth_scales,
    empirical_chi_1,
    ensemble_correlation,
    flow_pair,
    flow_single,
    full_weight_ensemble,
    gram_sampler,
    kurtosis_estimate,
    kurtosis_product_form,
    measure_depth_scales,
    slopes,
)

FLOW_MODELS = (("tanh", 0.9), ("tanh", 1.0), ("tanh", 1.1), ("erf", math.pi / 4), ("relu", 1.9), ("relu", 2.0),
               ("relu", 2.1))  # fmt: skip
KURTOSIS_MODELS = (("relu", 2.0), ("tanh", 1.0), ("identity", 1.0))  # at criticality, C_b = 0, K^(1) = 1
CORRELATION_MODELS = (("relu", 2.0, 0.0, 0.0), ("tanh", 1.76095, 0.05, 0.5))  # (activation, C_W, C_b, rho^(1))


def kernel_flow_dataset(key, depth: int, width: int, n_networks: int, progress=None):
    """F1: K^(l) for FLOW_MODELS (C_b = 0, K^(1) = 1) by recursion, and the ensemble mean and s.e. of G-hat^(l)
    over full-weight networks."""
    theory, mean, se = [], [], []
    for i, (name, c_w) in enumerate(FLOW_MODELS):
        act = activations.parse(name)
        theory.append(flow_single(act, c_w, 0.0, 1.0, depth).K)
        g = full_weight_ensemble(jax.random.fold_in(key, i), act, c_w, 0.0, 1.0, width, depth, n_networks)[..., 0, 0]
        mean.append(g.mean(0))
        se.append(g.std(0, ddof=1) / math.sqrt(n_networks))
        if progress:
            progress(f"kernel flow {name} C_W={c_w:.4g}")
    dims = ("model", "layer")
    return xr.Dataset(
        {"K": (dims, np.array(theory)), "G_mc": (dims, np.array(mean)), "G_mc_se": (dims, np.array(se))},
        coords={
            "model": [f"{n} C_W={c:.4g}" for n, c in FLOW_MODELS],
            "activation": ("model", [n for n, _ in FLOW_MODELS]),
            "c_w": ("model", [c for _, c in FLOW_MODELS]),
            "layer": np.arange(1, depth + 1),
        },
        attrs={"width": width, "n_networks": n_networks, "sampler": "full weight matrices"},
    )


def finite_width_dataset(key, depth: int, widths, n_networks: int, progress=None):
    """F2-F4: single-input kurtosis and kernel shift (KURTOSIS_MODELS) and two-input ensemble correlations
    (CORRELATION_MODELS) from the exact Gram sampler at several widths, beside the recursions (V, K^{1}, product
    form). Monte Carlo errors: bootstrap (kurtosis), standard errors (means), delta method (correlation)."""
    widths = list(widths)
    rng = np.random.default_rng(0)
    n_k, n_c, n_w = len(KURTOSIS_MODELS), len(CORRELATION_MODELS), len(widths)
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
    for i, (name, c_w) in enumerate(KURTOSIS_MODELS):
        act = activations.parse(name)
        flow = flow_single(act, c_w, 0.0, 1.0, depth)
        out["K"][i], out["V"][i], out["K1"][i] = flow.K, flow.V, flow.K1
        for j, n in enumerate(widths):
            if slopes(act) is not None:
                out["kurtosis_exact"][i, j] = kurtosis_product_form(act, n, depth)
            g = gram_sampler(jax.random.fold_in(key, 100 * i + j), act, c_w, 0.0, 1.0, n, depth, n_networks)
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
    for i, (name, c_w, c_b, rho1) in enumerate(CORRELATION_MODELS):
        act = activations.parse(name)
        flow = flow_pair(act, c_w, c_b, [1.0, rho1, 1.0], depth)
        out["rho_inf"][i] = correlation(flow.K)
        for j, n in enumerate(widths):
            out["rho_1n"][i, j] = correlation(flow.K + flow.K1 / n)
            k1 = np.array([[1.0, rho1], [rho1, 1.0]])
            g = gram_sampler(jax.random.fold_in(key, 1000 + 100 * i + j), act, c_w, c_b, k1, n, depth, n_networks)
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
            "single_model": [f"{n} C_W={c:.4g}" for n, c in KURTOSIS_MODELS],
            "single_activation": ("single_model", [n for n, _ in KURTOSIS_MODELS]),
            "pair_model": [f"{n} C_W={c:.6g} C_b={b:g} rho1={r:g}" for n, c, b, r in CORRELATION_MODELS],
            "width": widths,
            "layer": np.arange(1, depth + 1),
        },
        attrs={"n_networks": n_networks, "sampler": "exact Gram sampler (Sec. 1)", "K1_input": 1.0},
    )


def phase_diagram_dataset(key, activation: str, theory_points: int, empirical_points: int, width: int,
                          n_networks: int, transient: int = 30, measure: int = 10):  # fmt: skip
    """F5: ln chi_1 over sigma_b2 in [0, 1] x sigma_w2 in [0.5, 4] (theory grid), the order-to-chaos line
    sigma_w2*(sigma_b2) (bisection of chi_1 = 1), and empirical chi_1 on a coarser grid."""
    act = activations.parse(activation)
    b2, w2 = np.linspace(0, 1, theory_points), np.linspace(0.5, 4, theory_points)
    chi = chi_1_grid(act, w2[:, None], b2[None, :])
    eb2, ew2 = np.linspace(0, 1, empirical_points), np.linspace(0.5, 4, empirical_points)
    emp, emp_se = empirical_chi_1(key, act, ew2[:, None] + 0 * eb2[None, :], eb2[None, :] + 0 * ew2[:, None], width,
                                  n_networks, transient, measure)  # fmt: skip
    return xr.Dataset(
        {
            "log_chi_1": (("sigma_w2", "sigma_b2"), np.log(chi)),
            "critical_sigma_w2": ("sigma_b2", critical_line(act, b2)),
            "chi_1_empirical": (("emp_sigma_w2", "emp_sigma_b2"), emp),
            "chi_1_empirical_se": (("emp_sigma_w2", "emp_sigma_b2"), emp_se),
            "chi_1_theory_at_empirical": (
                ("emp_sigma_w2", "emp_sigma_b2"),
                chi_1_grid(act, ew2[:, None], eb2[None, :]),
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


def depth_scales_dataset(key, activation: str, sigma_b2: float, points: int, width: int, n_networks: int,
                         depth_max: int, delta: float = 1e-3, theory_points: int = 241, progress=None):  # fmt: skip
    """F6: xi_c, xi_q and c* against sigma_w2 in [1, 4] at fixed sigma_b2: the mean-field formulas on a fine grid,
    and at `points` values measurements on random networks (`measure_depth_scales`) beside the same estimator
    applied to the deterministic flows at infinite width and to first order in 1/width (so that the procedure's
    own bias and the O(1/n) shift of the depth scales are both shown). Depths: 5 xi_c and 8 xi_q of the theory,
    clipped to [12, depth_max] and [10, depth_max]."""
    act = activations.parse(activation)
    rng = np.random.default_rng(0)
    grid = np.linspace(1.0, 4.0, theory_points)
    theory = [depth_scales(act, w2, sigma_b2) for w2 in grid]
    w2s = np.linspace(1.0, 4.0, points)
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
        pairs = [flow_pair(act, w2, sigma_b2, [k[0, 0], k[0, 1], k[1, 1]], depth_c) for k in starts["c_starts"]]
        singles = [flow_single(act, w2, sigma_b2, k, depth_q) for k in starts["q_starts"]]
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
