"""Finite-width and criticality figures F1-F8: kernel flow, kurtosis, kernel shift, two-input correlation,
phase diagram, depth scales, trainability, NTK."""

from __future__ import annotations

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

from . import style  # noqa: E402


def model_title(activation: str, sigma_w2: float, sigma_b2: float | None = None, rho1: float | None = None) -> str:
    """A model's name on a figure, from the store's coordinates (sigma_w2, sigma_b2: PDLT's C_W, C_b)."""
    title = f"{activation}, $\\sigma_w^2$ = {sigma_w2:.6g}"
    if sigma_b2 is not None:
        title += f", $\\sigma_b^2$ = {sigma_b2:g}"
    if rho1 is not None:
        title += f", $\\rho^{{(1)}}$ = {rho1:g}"
    return title


def _per_width_panels(ds: xr.Dataset, models, panel: tuple[float, float]):
    """One panel per model, one colour per width: (fig, axes, colours, layers)."""
    fig, axes = plt.subplots(1, len(models), figsize=(panel[0] * len(models), panel[1]), constrained_layout=True)
    return fig, np.atleast_1d(axes), style.width_colors(list(ds.width.values)), ds.layer.values


def kernel_flow_figure(flow: xr.Dataset, asymptote: np.ndarray):
    """F1: K^(l) vs l (log-log): recursion (lines) against full-weight ensembles (markers, 2 s.e. bars), and the
    critical-tanh asymptote at flow's layers (dotted)."""
    fig, ax = plt.subplots(figsize=(6.4, 4.8), constrained_layout=True)
    layers = flow.layer.values
    marks = np.unique(np.geomspace(1, layers[-1], 14).astype(int)) - 1
    colors = plt.cm.tab10(np.arange(flow.sizes["model"]))
    for i in range(flow.sizes["model"]):
        label = model_title(str(flow.activation.values[i]), float(flow.sigma_w2.values[i]))
        ax.plot(layers, flow.K.values[i], color=colors[i], lw=1.5, label=label)
        mean, err = flow.G_mc.values[i, marks], 2 * flow.G_mc_se.values[i, marks]
        ax.errorbar(
            layers[marks],
            mean,
            yerr=[np.minimum(err, 0.9 * mean), err],
            fmt="o",
            ms=3.5,
            color=colors[i],
            capsize=2,
        )  # log axis: lower bars clipped at 10 % of the mean
    ax.plot(layers[2:], asymptote[2:], "k:", lw=1.2, label=r"tanh asymptote $1/2l + \frac{5}{24}\ln l/l^2$")
    ax.set(xscale="log", yscale="log", xlabel="layer $l$", ylabel=r"$K^{(l)}$  (markers: $\langle\hat G^{(l)}\rangle$)")
    ax.set_title(
        f"Kernel flow from $K^{{(1)}}=1$, $\\sigma_b^2=0$: recursion vs {flow.attrs['n_networks']} networks of width "
        f"{flow.attrs['width']}",
        fontsize=9,
    )
    ax.legend(fontsize=7, ncol=2)
    return fig


def kurtosis_figure(fw: xr.Dataset):
    """F2: n x excess kurtosis vs l; exact product form (scale-invariant) per width, 3 V / K^2 (leading order,
    fw.kurtosis_leading_n from the figure's script: finite_width.kurtosis_leading at n = 1)."""
    models = fw.single_model.values
    fig, axes, colors, layers = _per_width_panels(fw, models, (4.2, 4.2))
    for ax, model in zip(axes, models, strict=True):
        d = fw.sel(single_model=model)
        ax.plot(layers, d.kurtosis_leading_n, "k-", lw=1.5, label=r"leading order $3V/K^2$")
        for n in fw.width.values:
            dn = d.sel(width=n)
            if np.isfinite(dn.kurtosis_exact).all():
                ax.plot(layers, n * dn.kurtosis_exact, "--", color=colors[n], lw=1, label=f"exact product, n={n}")
            style.mc_points(ax, layers[1:], n * dn.kurtosis_mc[1:], n * dn.kurtosis_mc_se[1:], colors[n], n)
        title = model_title(str(d.single_activation.values), float(d.single_sigma_w2))
        ax.set(xlabel="layer $l$", ylabel=r"$n\,\kappa^{(l)}$", title=title)
        ax.legend(fontsize=6.5)
    fig.suptitle(
        f"Finite-width excess kurtosis of a preactivation at criticality ({fw.attrs['n_networks']} networks per width, "
        "exact Gram sampler, Rao-Blackwellised, 2 s.e. bootstrap bars)",
        fontsize=9,
    )
    return fig


def kernel_shift_figure(fw: xr.Dataset, activation: str = "tanh", sigma_w2: float = 1.0):
    """F3: n (E[G-hat] - K) / K vs l: the K^{1} recursion and its asymptote -l/3 against Monte Carlo, for the
    single-input model (activation, sigma_w2) of fw (ValueError naming them if fw has no such model)."""
    match = (fw.single_activation.values == activation) & (fw.single_sigma_w2.values == sigma_w2)
    if match.sum() != 1:
        raise ValueError(f"activation, sigma_w2: fw has no single-input model {activation!r} with sigma_w2 = "
                         f"{sigma_w2:g} (models: {list(fw.single_model.values)})")  # fmt: skip
    d = fw.isel(single_model=int(np.argmax(match)))
    fig, (ax,), colors, layers = _per_width_panels(fw, [d.single_model.item()], (6.4, 4.6))
    ax.plot(layers, d.K1 / d.K, "k-", lw=1.5, label=r"theory $K^{\{1\}}/K$")
    ax.plot(layers, -layers / 3, "k:", lw=1, label=r"asymptote $-l/3$")
    for n in fw.width.values:
        dn = d.sel(width=n)
        style.mc_points(ax, layers, n * (dn.G_mc - d.K) / d.K, n * dn.G_mc_se / d.K, colors[n], n)
    ax.set(xlabel="layer $l$", ylabel=r"$n\,(\langle\hat G^{(l)}\rangle - K^{(l)})/K^{(l)}$")
    title = model_title(activation, sigma_w2)
    ax.set_title(f"O(l/n) shift of the two-point function, {title}, $\\sigma_b^2=0$, $K^{{(1)}}=1$", fontsize=9)
    ax.legend(fontsize=7)
    return fig


def correlation_figure(fw: xr.Dataset):
    """F4: ensemble correlation rho^(l) of two inputs: infinite width, + 1/n theory per width, Monte Carlo."""
    models = fw.pair_model.values
    fig, axes, colors, layers = _per_width_panels(fw, models, (5.2, 4.3))
    for ax, model in zip(axes, models, strict=True):
        d = fw.sel(pair_model=model)
        ax.plot(layers, d.rho_inf, "k-", lw=1.5, label="infinite width")
        for n in fw.width.values:
            dn = d.sel(width=n)
            ax.plot(layers, dn.rho_1n, "--", color=colors[n], lw=1, label=f"+ 1/n theory, n={n}")
            style.mc_points(ax, layers, dn.rho_mc, dn.rho_mc_se, colors[n], n, ms=2.5, capsize=1)
        title = model_title(str(d.pair_activation.values), float(d.pair_sigma_w2), float(d.pair_sigma_b2),
                            float(d.pair_rho1))  # fmt: skip
        ax.set(xlabel="layer $l$", ylabel=r"$\rho_{\rm ens}^{(l)} = G_{12}/\sqrt{G_{11}G_{22}}$", title=title)
        ax.legend(fontsize=6.5)
    fig.suptitle(
        f"Two-input correlation flow with its 1/n correction ({fw.attrs['n_networks']} networks per width, exact "
        "Gram sampler, 2 s.e. delta-method bars)",
        fontsize=9,
    )
    return fig


def phase_diagram_figure(pd: xr.Dataset):
    """F5: ln chi_1 (theory heat map), the order-to-chaos line, and chi_1 measured on random networks (markers)."""
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11.5, 5.0), constrained_layout=True, width_ratios=[1.3, 1])
    values = pd.log_chi_1.values
    norm = matplotlib.colors.TwoSlopeNorm(vmin=min(values.min(), -1e-3), vcenter=0.0, vmax=max(values.max(), 1e-3))
    mesh = ax.pcolormesh(pd.sigma_b2, pd.sigma_w2, pd.log_chi_1, cmap="RdBu_r", norm=norm, shading="auto")
    fig.colorbar(mesh, ax=ax, label=r"$\ln\chi_1$ (theory); markers: measured")
    ax.plot(pd.sigma_b2, pd.critical_sigma_w2, "k-", lw=2, label=r"critical line $\chi_1 = 1$")
    b2, w2 = np.meshgrid(pd.emp_sigma_b2, pd.emp_sigma_w2)
    ax.scatter(
        b2.ravel(), w2.ravel(), c=np.log(pd.chi_1_empirical.values).ravel(), cmap="RdBu_r", norm=norm, s=70,
        edgecolors="k",
        label=f"random nets (n={pd.attrs['width']}, {pd.attrs['n_networks']} per point)",
    )  # fmt: skip
    ax.text(0.05, 0.9, "chaotic", transform=ax.transAxes, fontsize=11, weight="bold")
    ax.text(0.7, 0.08, "ordered", transform=ax.transAxes, fontsize=11, weight="bold")
    ax.set(xlabel=r"$\sigma_b^2$", ylabel=r"$\sigma_w^2$")
    ax.set_title(f"Order-to-chaos phase diagram, {pd.attrs['activation']} (Poole et al. 2016)", fontsize=10)
    ax.legend(loc="lower right", fontsize=7, bbox_to_anchor=(1.0, 0.15))
    theory = pd.chi_1_theory_at_empirical.values.ravel()
    bx.errorbar(
        theory, pd.chi_1_empirical.values.ravel(), yerr=2 * pd.chi_1_empirical_se.values.ravel(), fmt="o", ms=4,
        color="C3", capsize=2, label="random networks (2 s.e.)",
    )  # fmt: skip
    line = np.array([theory.min(), theory.max()])
    bx.plot(line, line, "k--", lw=1, label="theory")
    bx.axhline(1, color="0.6", lw=0.8)
    bx.axvline(1, color="0.6", lw=0.8)
    bx.set(xlabel=r"$\chi_1$ mean-field theory", ylabel=r"$\chi_1$ measured $|J_l v|^2/|v|^2$")
    bx.set_title("markers of the left panel, measured against theory", fontsize=9)
    bx.legend(fontsize=8)
    return fig


def depth_scales_figure(ds: xr.Dataset):
    """F6: xi_c and xi_q against sigma_w2 (mean-field formulas, measured decay lengths, the 1/n theory), the relative
    finite-width shift of xi_c, and the fixed point c*."""
    fig, (ax, bx, cx) = plt.subplots(1, 3, figsize=(15, 4.6), constrained_layout=True)
    w2, p = ds.sigma_w2.values, ds.point_sigma_w2.values
    crit, n, m = ds.attrs["critical_sigma_w2"], ds.attrs["width"], ds.attrs["n_networks"]
    for name, color, label in (("xi_c", "C0", r"$\xi_c$"), ("xi_q", "C1", r"$\xi_q$")):
        ax.plot(w2, ds[f"{name}_theory"], color=color, lw=1.5, label=f"{label} mean field (width $\\infty$)")
        ax.errorbar(p, ds[name], yerr=2 * ds[f"{name}_se"], fmt="o", ms=5, color=color, capsize=2,
                    label=f"{label} fitted on random nets (2 s.e.)")  # fmt: skip
        ax.plot(p, ds[f"{name}_1n"], "x", color="k", ms=6, label="same fit, 1/n theory" if name == "xi_c" else None)
    ax.axvline(crit, color="0.5", ls="--", lw=1, label=rf"critical $\sigma_w^2$ = {crit:.6f}")
    ax.set(yscale="log", xlabel=r"$\sigma_w^2$", ylabel="depth scale (layers)", ylim=(0.5, 2e3))
    ax.set_title(f"Depth scales, {ds.attrs['activation']}, $\\sigma_b^2$ = {ds.attrs['sigma_b2']:g}", fontsize=10)
    ax.legend(fontsize=7, loc="upper right")

    resolved = np.abs(p - crit) > 0.05  # next to the critical point the window is shorter than xi_c
    inf = ds.xi_c_inf.values
    bx.axhline(0, color="0.6", lw=0.8)
    bx.errorbar(p[resolved], (ds.xi_c.values / inf - 1)[resolved], yerr=(2 * ds.xi_c_se.values / inf)[resolved],
                fmt="o", ms=5, color="C0", capsize=2, label=f"random nets, n = {n}, {m} per point")  # fmt: skip
    bx.plot(p[resolved], (ds.xi_c_1n.values / inf - 1)[resolved], "kx", ms=7, label="1/n theory (K + K$^{\\{1\\}}$/n)")
    bx.axvline(crit, color="0.5", ls="--", lw=1)
    bx.set(xlabel=r"$\sigma_w^2$", ylabel=r"$\xi_c(n)\,/\,\xi_c(\infty) - 1$")
    bx.set_title(r"O(1/n) shift of $\xi_c$: measured vs 1/n theory (same fit on both)", fontsize=9)
    bx.legend(fontsize=8)

    chaotic = p > crit
    shift = ds.c_star_n.values - ds.c_star_inf.values
    cx.axhline(0, color="0.6", lw=0.8)
    cx.errorbar(p[chaotic], shift[chaotic], yerr=2 * ds.c_star_n_se.values[chaotic], fmt="o", ms=5, color="C2",
                capsize=2, label=r"$c^*_n$ fitted on random nets (late layers)")  # fmt: skip
    cx.plot(p[chaotic], (ds.c_star_1n.values - ds.c_star_inf.values)[chaotic], "kx", ms=7, label="1/n theory")
    cx.set(xlabel=r"$\sigma_w^2$", ylabel=r"$c^*_n - c^*_\infty$")
    cx.set_title(r"finite width shifts the fixed point $c^*$ by O(1/n) (chaotic phase)", fontsize=9)
    cx.legend(fontsize=8)
    return fig


def trainability_figure(ds: xr.Dataset):
    """F7: train accuracy after a fixed SGD budget over (sigma_w2, depth) with the mean-field xi_c and 6 xi_c, and
    the same accuracies against depth / xi_c (ds.accuracy_seed_mean: the mean over seeds, from the figure's script)."""
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(14, 5.2), constrained_layout=True)
    w2, depth = ds.sigma_w2.values, ds.depth.values
    acc = ds.accuracy_seed_mean.values  # (depth, sigma_w2); NaN = diverged
    crit, seeds = ds.attrs["critical_sigma_w2"], ds.sizes["seed"]
    mesh = ax.pcolormesh(
        style.cell_edges(w2), style.cell_edges(depth, log=True), acc, cmap="viridis", vmin=0.5, vmax=1.0
    )
    fig.colorbar(mesh, ax=ax, label=f"train accuracy after {ds.attrs['steps']} SGD steps" +
                 (f" (mean of {seeds} seeds)" if seeds > 1 else ""))  # fmt: skip
    diverged = np.nonzero(~np.isfinite(acc))
    ax.plot(w2[diverged[1]], depth[diverged[0]], "rx", ms=9, mew=2, label="diverged" if diverged[0].size else None)
    if acc.shape[0] > 1 and acc.shape[1] > 1 and np.nanmin(acc) < 0.75 < np.nanmax(acc):
        ax.contour(w2, depth, acc, levels=[0.75], colors="C3", linewidths=1.5)
        ax.plot([], [], color="C3", lw=1.5, label="measured: accuracy 0.75 contour")
    tw2, xi = ds.theory_sigma_w2.values, ds.xi_c_theory.values
    ax.plot(tw2, 6 * xi, color="w", lw=2.2, label=r"$6\,\xi_c(\sigma_w^2)$ mean field (Schoenholz et al.)")
    ax.plot(tw2, xi, color="w", lw=1.6, ls="--", label=r"$\xi_c(\sigma_w^2)$ mean field")
    ax.axvline(crit, color="0.85", ls=":", lw=1.2, label=rf"critical $\sigma_w^2$ = {crit:.4f}")
    ax.set(yscale="log", xlabel=r"$\sigma_w^2$", ylabel="depth L (weight layers)",
           xlim=style.cell_edges(w2)[[0, -1]], ylim=style.cell_edges(depth, log=True)[[0, -1]])  # fmt: skip
    ax.set_yticks(depth, [str(d) for d in depth])
    ax.yaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    a = ds.attrs
    ax.set_title(f"trainability of {a['activation']} networks, $\\sigma_b^2$ = {a['sigma_b2']:g}, width {a['width']}: "
                 f"{a['n_train']} points on $S^{{{a['dim'] - 1}}}$,\nlabel = sign of a random degree-{a['degree']} "
                 "harmonic (colour floor 0.5 = chance)", fontsize=9)  # fmt: skip
    ax.legend(fontsize=7.5, loc="lower right", framealpha=0.85)

    colors = plt.cm.coolwarm(np.linspace(0, 1, w2.size))
    for j, (w, xi_j) in enumerate(zip(w2, ds.xi_c.values, strict=True)):
        phase, marker = ("ordered", "o") if w < crit else ("chaotic", "s")
        bx.plot(depth / xi_j, acc[:, j], marker + "-", ms=5, color=colors[j], lw=1,
                label=rf"$\sigma_w^2$ = {w:.2f} ({phase}), $\xi_c$ = {xi_j:.1f}")  # fmt: skip
    bx.axvline(6, color="k", ls="--", lw=1, label=r"$L = 6\,\xi_c$")
    bx.axhline(0.5, color="0.5", lw=0.8, ls=":", label="chance (balanced labels)")
    bx.set(xscale="log", xlabel=r"depth in units of the correlation depth scale, $L / \xi_c(\sigma_w^2)$",
           ylabel="train accuracy", ylim=(0.4, 1.02))  # fmt: skip
    bx.set_title(f"the same runs against $L/\\xi_c$ (SGD + momentum {ds.attrs['momentum']:g}, batch "
                 f"{ds.attrs['batch']}, $\\eta = {ds.attrs['learning_rate']:g}/\\bar\\Theta^{{(L)}}$)",
                 fontsize=9)  # fmt: skip
    bx.legend(fontsize=7, loc="lower left", ncol=1)
    return fig


def ntk_figure(ntk: xr.Dataset, train: xr.Dataset):
    """F8: (a) mean NTK against the infinite-width recursion, layer by layer; (b) its relative variance against
    (L - 1)/n with an empirical fit; (c) the relative change of the train-set NTK during gradient descent against
    the width at several depths, with the fitted exponents and the slopes -1 and -1/2."""
    fig, (ax, bx, cx) = plt.subplots(1, 3, figsize=(17, 5.0), constrained_layout=True)
    widths, layers = ntk.width.values, ntk.layer.values
    colors = style.width_colors(list(widths))
    markers = {"relu": "o", "tanh": "s"}
    for m in range(ntk.sizes["model"]):
        act = str(ntk.activation.values[m])
        ax.plot(layers, ntk.theta_theory.values[m], color="k", ls="-" if act == "relu" else "--", lw=1.4, zorder=3,
                label=f"{act} ($\\sigma_w^2$ = {ntk.sigma_w2.values[m]:g}, $\\lambda_b$ = {ntk.lambda_b.values[m]}, "
                      "$\\lambda_W$ = 1): recursion, width $\\infty$")  # fmt: skip
        for j, n in enumerate(widths):
            ax.errorbar(layers, ntk.theta_mc.values[m, j], yerr=2 * ntk.theta_mc_se.values[m, j], fmt=markers[act],
                        ms=3, color=colors[n], capsize=1.2, label=f"{act}, n = {n}")  # fmt: skip
    ax.set(xscale="log", yscale="log", xlabel="layer l (output of the depth-l network)",
           ylabel=r"$E[\hat\Theta^{(l)}]$ (one input, $K^{(1)} = 1$)")  # fmt: skip
    ax.set_title(f"(a) mean NTK at criticality: {ntk.attrs['n_networks']} networks per width (2 s.e.)", fontsize=9)
    style.log_ticks(ax.xaxis, [v for v in (1, 2, 5, 10, 20, 50, 100, 200, 500) if v <= layers.max()])
    lo, hi = np.nanmin(ntk.theta_theory.values), np.nanmax(ntk.theta_mc.values)
    style.log_ticks(ax.yaxis, [v for v in (0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200) if lo / 1.5 <= v <= hi * 1.5])
    ax.legend(fontsize=6.5, ncol=2, loc="upper left")

    x_fit = np.geomspace(1 / widths.max(), ntk.attrs["fit_max"], 50)  # the fitted range of (L - 1)/n
    for m in range(ntk.sizes["model"]):
        act = str(ntk.activation.values[m])
        for j, n in enumerate(widths):
            x = (layers[1:] - 1) / n
            bx.errorbar(x, ntk.relvar.values[m, j, 1:], yerr=2 * ntk.relvar_se.values[m, j, 1:], fmt=markers[act],
                        ms=3, color=colors[n], capsize=1, label=f"{act}, n = {n}")  # fmt: skip
        a, se, b = (ntk[k].values[m] for k in ("relvar_slope", "relvar_slope_se", "relvar_curvature"))
        if np.isfinite(a):
            bx.plot(x_fit, a * x_fit + b * x_fit**2, color="k", ls="-" if act == "relu" else "--", lw=1.2,
                    label=f"{act}: empirical fit $a x + b x^2$ (no theory), a = {a:.2f} $\\pm$ {se:.2f}")  # fmt: skip
    bx.set(xscale="log", yscale="log", xlabel="(L - 1) / n  (hidden layers / width)",
           ylabel=r"Var $\hat\Theta$ / $E[\hat\Theta]^2$")  # fmt: skip
    bx.set_title(f"(b) relative variance is O(L/n); lines: empirical fit on x $\\leq$ {ntk.attrs['fit_max']:g}",
                 fontsize=9)  # fmt: skip
    bx.legend(fontsize=6.5, ncol=2, loc="upper left")

    tw = train.width.values
    dcolors = plt.cm.plasma(np.linspace(0.05, 0.8, train.sizes["depth"]))
    for i, depth in enumerate(train.depth.values):
        mean, se = train.ntk_change_mean.values[i], train.ntk_change_se.values[i]
        p, p_se, a = (train[k].values[i] for k in ("width_exponent", "width_exponent_se", "width_prefactor"))
        cx.errorbar(tw, mean, yerr=2 * se, fmt="o", ms=5, color=dcolors[i], capsize=2)
        cx.plot(tw, a * tw.astype(float) ** p, color=dcolors[i], lw=1.2,
                label=f"L = {depth}: fit $\\propto n^{{{p:.2f} \\pm {p_se:.2f}}}$")  # fmt: skip
    ref = train.ntk_change_mean.values[-1, 0]
    cx.plot(tw, ref * (tw / tw[0]) ** -1.0, "k--", lw=1, label=r"$\propto n^{-1}$ (lazy regime)")
    cx.plot(tw, ref * (tw / tw[0]) ** -0.5, ":", color="0.4", lw=1, label=r"$\propto n^{-1/2}$")
    cx.set(xscale="log", yscale="log", xlabel="width n",
           ylabel=r"$\|\hat\Theta_T - \hat\Theta_0\|_F / \|\hat\Theta_0\|_F$ (train set)")  # fmt: skip
    cx.set_title(f"(c) NTK change after {train.attrs['steps']} full-batch GD steps on {train.attrs['n_train']} points, "
                 f"{train.attrs['activation']} at criticality\n($\\sigma_w^2$ = {train.attrs['sigma_w2']:.4f}, "
                 f"$\\sigma_b^2$ = {train.attrs['sigma_b2']:g}), {train.sizes['seed']} networks per point (2 s.e.)",
                 fontsize=8.5)  # fmt: skip
    cx.legend(fontsize=7.5)
    style.log_ticks(cx.xaxis, list(tw))
    return fig
