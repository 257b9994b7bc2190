"""Finite-width Bayesian networks figure: the networks' gap to the exact GP against 1/width beside the
1/width theory, the adaptive kernel and the linear oracle (the script computes every curve)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

from . import style  # noqa: E402


def finite_width_bayes_figure(summary: xr.Dataset, theory: xr.Dataset, predictions: xr.Dataset, fit: dict | None,
                              title: str, per_draw: xr.Dataset | None = None,
                              weights: xr.Dataset | None = None, gp_fit: dict | None = None):  # fmt: skip
    """(a) network / GP test-MSE ratio against 1/width: Langevin ensembles (1 s.e.), the first-order 1/width
    theory on the same datasets (2 s.e. band), the adaptive-kernel saddle point alone and with the first-order loop
    term (where it exists), a weighted a + b / width fit (1 s.e. band) and, with `gp_fit`, the fit 1 + b / width +
    c / width^2 (its b beside the first-order slope), the GP at 1;
    (b) per dataset: measured ratio - 1 against the first-order prediction, one colour per width;
    (c) the linear oracle (if the theory store has it); (d) first-layer weight moments (if `weights`).
    The script computes every curve: `predictions` holds the first-order ratio (first_order, first_order_se over
    grid_width; oracle_first_order over oracle_width for panel c), the fit's band (fit, fit_se over grid_width), the
    first-order weight moments (weight_first_order over weight_width) and finite_width_bayes.approximation_summary;
    `fit` (a, a_se, chi2, dof, min_width) labels the band, `gp_fit` (b, b_se, b_first_order, b_first_order_se,
    chi2, dof, min_width; its curve and 1 s.e. band gp_fit, gp_fit_se in `predictions`) the second; per_draw holds
    the first-order prediction per dataset (first_order, first_order_se: ratio - 1)."""
    widths = summary.width.values
    linear = "linear_width" in theory.dims
    panels = 2 + linear + (weights is not None)
    shape = (2, 2) if panels == 4 else (1, panels)
    fig, axes = plt.subplots(*shape, figsize=(5.2 * shape[1], 4.4 * shape[0]), constrained_layout=True)
    axes = axes.ravel()
    ax, bx = axes[:2]
    _ratio_panel(ax, summary, predictions, fit, gp_fit)
    ax.set_xlim(0, 1.12 / widths.min())
    ax.set_ylim(min(0.0, float(np.nanmin(summary.ratio.values)) - 0.1), 1.25)
    ax.set_xlabel("1 / width  (infinite width at 0; labels: width)")
    ax.set_ylabel("test-set MSE of the posterior mean: networks / exact GP")
    ax.legend(fontsize=7, loc="lower left")
    ax.grid(True, alpha=0.3)
    wide = widths[widths >= 4 * widths.min()]
    ratio, ratio_se = summary.ratio.sel(width=wide).values, summary.ratio_se.sel(width=wide).values
    measured = np.isfinite(ratio) & np.isfinite(ratio_se)
    if 1 / widths.max() < 0.1 / widths.min() and measured.sum() >= 2:  # the widest points crowd at 0: a zoom
        zoom = ax.inset_axes([0.53, 0.6, 0.4, 0.36])  # upper right, above the lines and the points of width < 128
        _ratio_panel(zoom, summary, predictions, fit, gp_fit)
        low, high = (ratio - 2 * ratio_se)[measured].min(), (ratio + 2 * ratio_se)[measured].max()
        zoom.set_xlim(0, 1.15 / wide.min())
        zoom.set_ylim(low - 0.01, max(1.01, high + 0.01))
        zoom.yaxis.tick_right()
        zoom.tick_params(labelsize=6)
        zoom.text(0.97, 0.04, f"zoom: widths ≥ {wide.min()}", transform=zoom.transAxes, fontsize=7, ha="right")
        zoom.grid(True, alpha=0.3)
    colors = style.width_colors(list(widths))
    if per_draw is not None:
        lim = 0.0
        for w in widths:
            d = per_draw.sel(width=w)
            x, xe = d.first_order.values, d.first_order_se.values
            bx.errorbar(x, d.ratio.values - 1, d.ratio_se.values, xerr=xe, fmt="o", ms=4, color=colors[w],
                        capsize=2, label=f"width {w}")  # fmt: skip
            lim = max(lim, np.abs(x).max(), np.abs(d.ratio.values - 1).max())
        lim *= 1.1
        bx.plot([-lim, 0.2 * lim], [-lim, 0.2 * lim], "k:", lw=1, label="measured = first order")
        bx.axhline(-1, color="0.5", lw=0.8)
        bx.set_xlim(-lim, 0.2 * lim)
        bx.set_ylim(-lim, 0.2 * lim)
        bx.set_xlabel("first-order prediction: mse_coefficient / (gp_mse · width)")
        bx.set_ylabel("measured network / GP MSE - 1 (± 1 MC s.e.)")
        bx.set_title("per dataset", fontsize=8)
        bx.legend(fontsize=7)
        bx.grid(True, alpha=0.3)
    if linear:
        cx = axes[2]
        n_lin = theory.attrs["linear_n_train"]
        lw = theory.linear_width.values
        x_lin = n_lin / lw
        gp_lin = theory.linear_gp_mse.values
        cx.axhline(1, color="k", lw=1.0)
        cx.plot(x_lin, theory.linear_exact_mse.values / gp_lin, "ko-", ms=4, label="linear net: exact posterior")
        cx.plot(x_lin, theory.linear_kernel_renormalisation_mse.values / gp_lin, "--", color="tab:green",
                label="linear net: kernel renormalisation")  # fmt: skip
        if "linear_deep_exact_mse" in theory:
            hidden = theory.attrs["linear_deep_depth"] - 1
            gp_deep = theory.linear_deep_gp_mse.values
            cx.plot(x_lin, theory.linear_deep_exact_mse.values / gp_deep, "o-", color="0.55", ms=3, lw=1.0,
                    label=f"deep linear net ({hidden} hidden layers): exact")  # fmt: skip
            cx.plot(x_lin, theory.linear_deep_kernel_renormalisation_mse.values / gp_deep, "--", color="tab:olive",
                    label="deep linear net: one scalar per layer (Li–Sompolinsky)")  # fmt: skip
        cx.plot(x_lin, theory.linear_first_order_mse.values / gp_lin, ":", color="tab:blue", lw=1.5,
                label="linear net: first order in 1/width")  # fmt: skip
        if "linear_adaptive_kernel_mse" in theory:
            cx.plot(x_lin, theory.linear_adaptive_kernel_mse.values / gp_lin, "s-", color="tab:purple", ms=3, lw=1.0,
                    label="linear net: adaptive-kernel saddle (none at small width)")  # fmt: skip
        if "linear_adaptive_kernel_loop_mse" in theory:
            cx.plot(x_lin, theory.linear_adaptive_kernel_loop_mse.values / gp_lin, "s-", color="tab:orange", ms=4,
                    lw=1.0, label="linear net: adaptive kernel + loop (RPA)")  # fmt: skip
        n_deep = theory.attrs["n_train"]
        cx.errorbar(n_deep / widths, summary.ratio.values, summary.ratio_se.values, fmt="D", color="tab:red",
                    capsize=3, label=f"{title.split(':')[0]}: Langevin ensembles")  # fmt: skip
        cx.plot(n_deep / predictions.oracle_width.values, predictions.oracle_first_order.values, "-",
                color="tab:blue", lw=1.0, label=f"{title.split(':')[0]}: first order")  # fmt: skip
        cx.set_xscale("log")
        cx.set_ylim(0, 1.3)
        cx.set_xlabel("n_train / width")
        cx.set_ylabel("test-set MSE / exact GP")
        cx.set_title(f"linear oracle (d = {theory.attrs['linear_dim']}, P = {n_lin}, |β|² = 4d) and this experiment",
                     fontsize=8)  # fmt: skip
        cx.legend(fontsize=6.5, loc="lower left")
        cx.grid(True, which="both", alpha=0.3)
    if weights is not None:
        dx = axes[-1]
        inv_weight = 1 / predictions.weight_width.values
        for k, degree in enumerate(theory.direction_degree.values):
            color = f"C{k}"
            label = f"teacher direction of degree {degree}" if degree >= 0 else "orthogonal to the teacher"
            dx.plot(inv_weight, predictions.weight_first_order.isel(direction=k).values, "-", color=color, lw=1.2)
            if "ak_weight_moment" in predictions:
                akw = predictions.ak_width.values
                m_ak = predictions.ak_weight_moment.isel(direction=k).values
                ok = np.isfinite(m_ak)
                dx.plot(1 / akw[ok], m_ak[ok], "--", color=color, lw=1.0)
            dx.errorbar(1 / weights.width.values, weights.moment.isel(direction=k).values,
                        weights.moment_se.isel(direction=k).values, fmt="o", color=color, capsize=2, ms=4,
                        label=label)  # fmt: skip
        dx.axhline(1, color="k", lw=0.8)
        dx.set_xlim(0, 1.12 / widths.min())
        dx.set_xlabel("1 / width")
        dx.set_ylabel("first-layer weights: mean over units of (u·w)² (prior: 1)")
        dx.set_title("feature learning: networks (markers), first order (lines), adaptive kernel (dashed)", fontsize=8)
        dx.legend(fontsize=7)
        dx.grid(True, alpha=0.3)
    fig.suptitle(title, fontsize=9)
    return fig


def _ratio_panel(ax, summary: xr.Dataset, predictions: xr.Dataset, fit: dict | None, gp_fit: dict | None) -> None:
    """Panel (a)'s curves and points, drawn on `ax` (the panel, and its zoom on the widest networks)."""
    widths = summary.width.values
    inv = 1 / predictions.grid_width.values
    ax.axhline(1, color="k", lw=1.0, label="exact GP (infinite width)")
    pred, pred_se = predictions.first_order.values, predictions.first_order_se.values
    ax.plot(inv, pred, color="tab:blue", lw=1.5, label="first-order 1/width theory (same datasets)")
    ax.fill_between(inv, pred - 2 * pred_se, pred + 2 * pred_se, color="tab:blue", alpha=0.2, lw=0)
    if "kr_ratio" in predictions:
        ax.plot(1 / predictions.kr_width.values, predictions.kr_ratio.values, "-.", color="tab:green", lw=1.2,
                label="kernel renormalisation (one scalar per hidden layer)")  # fmt: skip
    if "ak_ratio" in predictions:  # adaptive-kernel saddle point, where every dataset has one
        akw = predictions.ak_width.values
        ak_ratio = predictions.ak_ratio.values
        ok = np.isfinite(ak_ratio)
        ax.plot(1 / akw[ok], ak_ratio[ok], "s-", color="tab:purple", ms=3, lw=1.2,
                label="adaptive-kernel saddle point (mean field)")  # fmt: skip
        # the measured widths: mean ± s.e. over independent Monte Carlo replicas of the saddle point and its loop
        mw = predictions.measured_width.values
        loop_label = "adaptive kernel + loop (Gaussian fluctuations, RPA; ± 1 MC s.e.)"
        for name, color, label in (("ak_replica_ratio", "tab:purple", None),
                                   ("ak_replica_loop_ratio", "tab:orange", loop_label)):  # fmt: skip
            mean, se = predictions[name].values, predictions[f"{name}_se"].values  # NaN: no saddle or loop
            ok_w = np.isfinite(mean)
            ax.errorbar(1 / mw[ok_w], mean[ok_w], se[ok_w], fmt="s-" if label else "s", color=color,
                        ms=5 if label else 4, lw=1.5, capsize=3, label=label)  # fmt: skip
        if not ok.all():
            w_none = akw[~ok].max()
            ax.axvspan(1 / w_none, 1.2 / widths.min(), color="tab:purple", alpha=0.07, lw=0,
                       label=f"no adaptive-kernel saddle (width ≤ {w_none}: tilted unit not normalisable)")  # fmt: skip
    if fit is not None:
        line, line_se = predictions.fit.values, predictions.fit_se.values
        ax.plot(inv, line, "--", color="tab:red", lw=1.2,
                label=f"fit a + b/width (width ≥ {fit.get('min_width', widths.min())}): a = {fit['a']:.3f} ± "
                      f"{fit['a_se']:.3f} (GP: 1), χ²/dof = {fit['chi2']:.1f}/{fit['dof']}")  # fmt: skip
        ax.fill_between(inv, line - line_se, line + line_se, color="tab:red", alpha=0.15, lw=0)
    if gp_fit is not None:  # drawn over the widths it was fitted to and beyond, not below
        fitted = predictions.grid_width.values >= gp_fit["min_width"]
        line, line_se = predictions.gp_fit.values[fitted], predictions.gp_fit_se.values[fitted]
        ax.fill_between(inv[fitted], line - line_se, line + line_se, color="tab:brown", alpha=0.12, lw=0)
        ax.plot(inv[fitted], line, ":", color="tab:brown", lw=1.8,
                label=f"fit 1 + b/width + c/width² (width ≥ {gp_fit['min_width']}), χ²/dof = {gp_fit['chi2']:.1f}/"
                      f"{gp_fit['dof']}:\nb = {gp_fit['b']:.0f} ± {gp_fit['b_se']:.0f}; first-order theory: "
                      f"b = {gp_fit['b_first_order']:.0f} ± {gp_fit['b_first_order_se']:.0f}")  # fmt: skip
    ax.errorbar(1 / widths, summary.ratio.values, summary.ratio_se.values, fmt="D", color="tab:red", capsize=3,
                label="Langevin ensembles (± 1 MC s.e.)")  # fmt: skip
    for w, r in zip(widths, summary.ratio.values, strict=True):
        ax.annotate(f"{w}", (1 / w, r), textcoords="offset points", xytext=(6, 4), fontsize=7)
