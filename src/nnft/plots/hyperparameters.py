"""Hyper-parameter selection figure: predicted against exact-GP and trained-network errors."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402


def _setting_label(ds: xr.Dataset, i: int) -> str:
    return (f"L={int(ds.point_depth.values[i])} {ds.point_activation.values[i]} "
            f"$\\sigma_w^2$={ds.point_sigma_w2.values[i]:g} $\\sigma_b^2$={ds.point_sigma_b2.values[i]:g} "
            f"ridge={ds.point_ridge.values[i]:g}")  # fmt: skip


def hyperparameter_figure(ds: xr.Dataset):
    """Predicted (self-consistent theory) vs exact-GP test MSE over the whole grid, and vs trained networks at the
    validation points; both optima marked; rank correlations and cost in the text."""
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(13.5, 5.6), constrained_layout=True)
    pred, gp = ds.predicted_mse.stack(g=ds.predicted_mse.dims), ds.gp_mse.stack(g=ds.gp_mse.dims)
    depths = ds.depth.values
    colors = plt.cm.viridis(np.linspace(0, 0.9, depths.size))
    markers = dict(zip(ds.activation.values, "os^vDP", strict=False))
    for act, marker in markers.items():
        for depth, color in zip(depths, colors, strict=True):
            sel = (pred.activation == act) & (pred.depth == depth)
            ax.scatter(pred.values[sel], gp.values[sel], s=14, marker=marker, color=color, alpha=0.75,
                       label=f"{act}, L={depth}")  # fmt: skip
    lo, hi = np.nanmin([pred.min(), gp.min()]) * 0.95, np.nanmax([pred.max(), gp.max()]) * 1.05
    ax.plot([lo, hi], [lo, hi], "k--", lw=1)
    i_pred, i_gp = int(np.nanargmin(pred.values)), int(np.nanargmin(gp.values))
    ax.plot(pred.values[i_pred], gp.values[i_pred], "*", ms=18, mfc="none", mec="C3", mew=2, label="theory's optimum")
    ax.plot(pred.values[i_gp], gp.values[i_gp], "D", ms=12, mfc="none", mec="k", mew=1.5, label="exact GP's optimum")
    ax.set(xscale="log", yscale="log", xlabel="predicted population MSE (self-consistent theory)",
           ylabel=f"exact GP population MSE (mean of {ds.attrs['n_draws']} datasets)")  # fmt: skip
    ax.set_title(f"whole grid: {ds.attrs['grid_points']} points, n = {ds.attrs['n_train']}, "
                 f"Spearman {ds.attrs['spearman_gp_grid']:.3f}", fontsize=10)  # fmt: skip
    ax.legend(fontsize=6.5, ncol=2, loc="upper left")

    p, net, se = ds.point_predicted_mse.values, ds.point_network_mse.values, ds.point_network_mse_se.values
    bx.errorbar(p, net, yerr=2 * se, fmt="o", color="C0", ms=6, capsize=3, label="trained networks (2 s.e.)")
    bx.errorbar(p, ds.point_gp_mse.values, yerr=2 * ds.point_gp_mse_se.values, fmt="s", mfc="none", color="C1",
                ms=6, capsize=2, label=f"exact GP, all {ds.attrs['n_draws']} datasets (2 s.e.)")  # fmt: skip
    bx.plot(p, ds.point_gp_mse_same_draws.values, "x", color="C2", ms=8, mew=2,
            label="exact GP on the networks' datasets")  # fmt: skip
    lo, hi = min(p.min(), net.min()) * 0.9, max(p.max(), net.max()) * 1.1
    bx.plot([lo, hi], [lo, hi], "k--", lw=1)
    opt, best = int(ds.attrs["predicted_optimum_point"]), int(ds.attrs["best_measured_point"])
    bx.plot(p[opt], net[opt], "*", ms=20, mfc="none", mec="C3", mew=2, label="theory's optimum")
    bx.plot(p[best], net[best], "s", ms=16, mfc="none", mec="k", mew=1.5, label="best measured")
    for i in range(p.size):
        bx.annotate(f"{i}", (p[i], net[i]), textcoords="offset points", xytext=(7, -10), fontsize=8)
    bx.set(xscale="log", yscale="log", xlabel="predicted population MSE (self-consistent)",
           ylabel="measured test-set MSE (networks: posterior mean; GP)")  # fmt: skip
    bx.set_title(f"validation: {p.size} points along the predicted ranking, width {ds.attrs.get('width', '?')}, "
                 f"Spearman {ds.attrs['spearman_networks']:.3f}", fontsize=10)  # fmt: skip
    text = "\n".join(
        [f"{i}: {_setting_label(ds, i)}" for i in range(p.size)]
        + [
            f"theory for the grid: {ds.attrs['theory_seconds']:.1f} s; exact GP: {ds.attrs['gp_seconds']:.1f} s",
            f"training it replaces: {ds.attrs['training_seconds_replaced'] / 60:.0f} min "
            f"({ds.attrs['speedup']:.0f}x the theory)",
            f"theory's optimum vs best measured: gap {ds.attrs['network_gap']:.3g}, "
            f"s.e. {ds.attrs['network_gap_allowed']:.3g}",
        ]
    )
    bx.text(0.02, 0.98, text, transform=bx.transAxes, fontsize=7, va="top", family="monospace",
            bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "0.7"})  # fmt: skip
    bx.legend(fontsize=8, loc="lower right")
    return fig
