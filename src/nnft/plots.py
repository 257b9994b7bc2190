"""Figures: draw labelled results (stores, or summaries the scripts compute with the library); compute nothing."""

from __future__ import annotations

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402


def networks_figure(theory: xr.Dataset, gp: xr.Dataset, summary: xr.Dataset, title: str):
    """Two panels: (a) test MSE vs n (exact GP, EK, self-consistent theory, trained networks);
    (b) network / GP MSE on the same datasets and test points (summary: langevin.network_summary)."""
    fig, (ax, bx) = plt.subplots(
        2, 1, figsize=(6.4, 7.2), sharex=True, gridspec_kw={"height_ratios": [3, 1.3]}, constrained_layout=True
    )
    n_gp = gp.n_train.values
    pop = gp.mse_population
    ax.errorbar(
        n_gp,
        pop.mean("draw"),
        yerr=pop.std("draw", ddof=1) / np.sqrt(pop.sizes["draw"]),
        fmt="o-",
        color="k",
        ms=5,
        capsize=3,
        label=f"exact GP, population MSE (mean ± s.e., {pop.sizes['draw']} datasets)",
    )
    ax.plot(theory.n_train, theory.sc, "-", color="tab:blue", lw=1.5, label="self-consistent theory")
    ax.plot(theory.n_train, theory.ek, "--", color="tab:green", lw=1.5, label="equivalent kernel (EK)")
    n_net = summary.n_train.values
    ax.plot(
        n_net,
        summary.mse_gp_same,
        "s",
        mfc="none",
        color="tab:gray",
        ms=9,
        label=f"exact GP on the trained datasets ({summary.attrs['draws']}), same test set",
    )
    ax.errorbar(
        n_net,
        summary.mse_net,
        yerr=summary.mse_net_se,
        fmt="D",
        color="tab:red",
        ms=5,
        capsize=3,
        label="Langevin networks: posterior-mean MSE (± MC s.e.)",
    )
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_ylabel("MSE vs the clean target: population (GP line, theories);\ntest set (networks, grey squares)")
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=7.5, loc="lower left")
    bx.axhline(1.0, color="k", lw=0.8)
    bx.errorbar(n_net, summary.ratio, yerr=summary.ratio_se, fmt="D", color="tab:red", ms=5, capsize=3)
    for n, r, d in zip(n_net, summary.ratio.values, summary.rel_distance.values, strict=True):
        bx.annotate(f"{d:.0%}", (n, r), textcoords="offset points", xytext=(6, 6), fontsize=7, color="tab:red")
    bx.set_ylabel("network / GP MSE\n(same datasets)")
    bx.set_xlabel(r"training set size $n$")
    bx.grid(True, which="both", alpha=0.25)
    bx.text(
        0.01,
        0.04,
        r"labels: $\|\bar f_{net}-\bar f_{GP}\|/\|\bar f_{GP}\|$ on the test set",
        transform=bx.transAxes,
        fontsize=7,
    )
    return fig


def spectra_figure(table: xr.Dataset):
    """Share of prior variance per degree, N(d, l) lambda_l / K(1), for each model (column), NNGP and NTK (rows),
    one line per depth: the bias of deep networks toward low-degree polynomials."""
    import json

    names = json.loads(table.attrs["models"])
    n_models = table.sizes["model"]
    fig, axes = plt.subplots(
        2, n_models, figsize=(3.2 * n_models, 5.6), sharex=True, sharey="row", constrained_layout=True, squeeze=False
    )
    colors = plt.cm.viridis(np.linspace(0, 0.9, table.sizes["depth"]))
    deg = table.degree.values
    for i in range(n_models):
        for r, which in enumerate(("nngp", "ntk")):
            ax = axes[r, i]
            for color, depth in zip(colors, table.depth.values, strict=True):
                share = table[f"share_{which}"].sel(model=i, depth=depth).values.copy()
                error = table[f"share_error_{which}"].sel(model=i, depth=depth).values
                share[share < 10 * error + 1e-15] = np.nan  # zero within its error (e.g. odd l of a ReLU layer)
                ax.semilogy(deg, share, "o-", ms=3, lw=1.2, color=color, label=f"depth {depth}")
            ax.grid(True, which="major", alpha=0.3)
            if r == 0:
                ax.set_title(names[i], fontsize=9)
            if r == 1:
                ax.set_xlabel("degree $l$")
            ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    axes[0, 0].set_ylabel(r"NNGP: $N(d,l)\,\lambda_l / K(1)$")
    axes[1, 0].set_ylabel(r"NTK: $N(d,l)\,\lambda_l / \Theta(1)$")
    axes[0, -1].legend(fontsize=7, loc="upper right")
    fig.suptitle(
        f"Share of prior variance per spherical-harmonic degree on $S^{{{table.attrs['dim'] - 1}}}$ "
        f"(inputs: {table.attrs['input_scaling']}); missing points are zero within their error estimate",
        fontsize=10,
    )
    return fig


THEORY_STYLES = {
    "ek": dict(color="tab:green", ls="--"),
    "ek_renorm_spectral": dict(color="tab:orange", ls=":"),
    "ek_renorm_taylor": dict(color="tab:brown", ls=":"),
    "ek_1n_renorm_spectral": dict(color="tab:purple", ls="-."),
    "ek_1n_renorm_taylor": dict(color="tab:pink", ls="-."),
    "sc": dict(color="tab:blue", ls="-"),
    "sc_mean_predictor": dict(color="tab:blue", ls="--", alpha=0.7),
}


def _describe(data: xr.Dataset, theory: xr.Dataset, experiment: str) -> str:
    return (
        f"{experiment}: depth-{theory.attrs.get('depth')} {theory.attrs.get('activation')} "
        f"{theory.attrs.get('kernel', 'nngp').upper()} on "
        f"$S^{{{data.sizes['dim'] - 1}}}$ ({theory.attrs.get('input_scaling')}), ridge {theory.attrs['ridge']:g}, "
        f"noise {theory.attrs['noise']:g}\ntarget degrees {data.target_degree.values.tolist()}, "
        f"powers {np.round(data.target_power.values, 4).tolist()}; {data.sizes['draw']} datasets"
    )


OUT_OF_RANGE = 0.5  # the EK family is drawn grey where its expansion parameter C / sigma^2 exceeds this


def _expansion_parameter(theory: xr.Dataset, name: str):
    """C / sigma^2 of the expansion behind an EK-family curve (None for the self-consistent theory)."""
    if not name.startswith("ek"):
        return None
    return theory[_ratio_key(name)].values


def _ratio_key(name: str) -> str:
    variant = name.rsplit("_", 1)[-1]
    return f"perturbative_ratio_{variant}" if variant in ("spectral", "taylor") else "perturbative_ratio"


def learning_curves_figure(
    data: xr.Dataset,
    theory: xr.Dataset,
    comparison: xr.Dataset,
    experiment: str,
    labels: dict[str, str],
    networks: xr.Dataset | None = None,
):
    """(a) exact GP (points) against every theory (lines), log-log, with the trained networks (network_summary) as
    markers; (b) relative error of each theory vs the GP observable it predicts (dataset-averaged MSE, or MSE of
    the dataset-averaged predictor). `labels`: every theory's legend label in the order of
    learning_curves.THEORIES (drawn if the store has it)."""
    fig, (ax, bx) = plt.subplots(
        2, 1, figsize=(7.0, 8.0), sharex=True, gridspec_kw={"height_ratios": [3, 1.6]}, constrained_layout=True
    )
    n = comparison.n_train.values
    ax.errorbar(
        n,
        comparison.gp_mse,
        comparison.gp_mse_se,
        fmt="o",
        color="k",
        ms=5,
        capsize=3,
        zorder=5,
        label="exact GP: dataset-averaged MSE",
    )
    ax.errorbar(
        n,
        comparison.gp_mse_mean_predictor,
        comparison.gp_mse_mean_predictor_se,
        fmt="o",
        mfc="white",
        color="k",
        ms=5,
        capsize=3,
        zorder=5,
        label="exact GP: MSE of the dataset-averaged predictor",
    )
    if networks is not None:
        ax.errorbar(
            networks.n_train,
            networks.mse_net,
            networks.mse_net_se,
            fmt="D",
            color="tab:red",
            ms=5,
            capsize=3,
            zorder=6,
            label=networks.attrs.get("label", "Langevin networks"),
        )
    for name, label in labels.items():
        if name in theory:
            y = theory[name].values
            ratio = _expansion_parameter(theory, name)
            if ratio is None:
                ax.plot(theory.n_train, y, lw=1.5, label=label, **THEORY_STYLES[name])
            else:  # the EK family where its expansion parameter C / sigma^2 exceeds 0.5: grey, out of range
                ok = ratio <= OUT_OF_RANGE
                ax.plot(theory.n_train, np.where(ok, y, np.nan), lw=1.5, label=label, **THEORY_STYLES[name])
                grey = {**THEORY_STYLES[name], "color": "0.75"}
                ax.plot(theory.n_train, np.where(ok, np.nan, y), lw=1.0, **grey)
            x = n * (1 + 0.03 * (list(labels).index(name) - 3))
            rel, rel_se = comparison[f"rel_{name}"].values, comparison[f"rel_se_{name}"].values
            style = {k: v for k, v in THEORY_STYLES[name].items() if k != "ls"}
            bx.errorbar(x, rel, rel_se, fmt="o-", ms=3.5, lw=1, capsize=2, **style)
            if ratio is not None:  # out-of-range points hollow
                out = theory.sel(n_train=n.astype(float))[_ratio_key(name)].values > OUT_OF_RANGE
                bx.plot(x[out], rel[out], "o", ms=3.5, mfc="white", mec=style["color"], zorder=3)
    ax.plot(
        [],
        [],
        "-",
        color="0.75",
        label=f"EK family where $C/\\sigma^2 > {OUT_OF_RANGE:g}$ (out of range; hollow below)",
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylabel(
        "population MSE (exact, spectral; clean target)"
        + ("\nnetworks: test-set MSE of the posterior mean" if networks is not None else "")
    )
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=7.5, loc="lower left")
    ax.set_title(_describe(data, theory, experiment), fontsize=8.5)
    cut = theory.cutoff.sel(n_train=n.astype(float)).values
    ax.text(
        0.99,
        0.98,
        "renormalisation cut-off r(n): " + ", ".join(f"{int(c)}" for c in cut),
        ha="right",
        va="top",
        transform=ax.transAxes,
        fontsize=7,
    )
    bx.axhline(0, color="k", lw=0.8)
    bx.set_ylim(-1.0, 1.0)
    bx.set_ylabel("theory / GP - 1\n(error bars: GP s.e.)")
    bx.set_xlabel(r"training set size $n$")
    bx.grid(True, which="both", alpha=0.25)
    return fig


def mode_errors_figure(data: xr.Dataset, theory: xr.Dataset, gp_summary: xr.Dataset, experiment: str):
    """Learned fraction of each target degree vs n: exact GP points, SC (solid) and EK (dashed) learnabilities."""
    fig, ax = plt.subplots(figsize=(6.4, 4.6), constrained_layout=True)
    colors = plt.cm.tab10(np.arange(data.sizes["target_degree"]))
    for color, l in zip(colors, data.target_degree.values, strict=True):
        ax.plot(theory.n_train, theory.learnability_sc.sel(degree=l), "-", color=color, lw=1.5)
        ax.plot(theory.n_train, theory.learnability_ek.sel(degree=l), "--", color=color, lw=1, alpha=0.7)
        ax.errorbar(
            gp_summary.n_train,
            gp_summary.learned_fraction.sel(target_degree=l),
            gp_summary.learned_fraction_se.sel(target_degree=l),
            fmt="o",
            color=color,
            ms=5,
            capsize=3,
            label=f"degree {l}",
        )
    ax.plot([], [], "k-", label="self-consistent")
    ax.plot([], [], "k--", label="equivalent kernel")
    ax.set_xscale("log")
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel(r"training set size $n$")
    ax.set_ylabel(r"learned fraction $\langle f, g_l\rangle / \|g_l\|^2$")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title(_describe(data, theory, experiment), fontsize=8)
    return fig


def width_convergence_figure(summary: xr.Dataset, title: str):
    """Network ensemble vs exact GP on the same datasets at one n as the width grows: MSE ratio - 1 and the
    relative distance of the posterior means, against 1/width (summary: langevin.network_summary per width, one n)."""
    widths = summary.width.values
    ratio = summary.ratio.values
    ratio_se = summary.ratio_se.values
    dist = summary.rel_distance.values
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(9.6, 4.0), constrained_layout=True)
    ax.axhline(0, color="k", lw=0.8)
    ax.errorbar(1 / widths, ratio - 1, ratio_se, fmt="D-", color="tab:red", capsize=3)
    for i, (w, r) in enumerate(zip(widths, ratio - 1, strict=True)):
        ax.annotate(f"width {w}", (1 / w, r), textcoords="offset points", xytext=(5, -14 if i % 2 else 8), fontsize=7)
    ax.set_xlim(0, 1.15 / widths.min())
    ax.set_xlabel("1 / width  (infinite width at 0)")
    ax.set_ylabel("network / GP MSE - 1 (same datasets)")
    ax.grid(True, which="both", alpha=0.3)
    bx.plot(1 / widths, dist, "o-", color="tab:purple")
    bx.set_xlim(0, 1.15 / widths.min())
    bx.set_ylim(0, 1.1 * dist.max())
    bx.set_xlabel("1 / width  (infinite width at 0)")
    bx.set_ylabel(r"$\|\bar f_{net} - \bar f_{GP}\| / \|\bar f_{GP}\|$ (incl. MC noise)")
    bx.grid(True, which="both", alpha=0.3)
    fig.suptitle(title, fontsize=9)
    return fig


def _width_colors(widths):
    return dict(zip(widths, plt.cm.viridis(np.linspace(0.1, 0.85, len(widths))), strict=True))


def _per_width_panels(ds: xr.Dataset, models, panel: tuple[float, float]):
    """One panel per model, one colour per width: (fig, axes, colours, layers)."""
    fig, axes = plt.subplots(1, len(models), figsize=(panel[0] * len(models), panel[1]), constrained_layout=True)
    return fig, np.atleast_1d(axes), _width_colors(list(ds.width.values)), ds.layer.values


def _mc_points(ax, x, y, se, color, n, ms=3.0, capsize=1.5):
    """Monte Carlo estimates at width n with 2 s.e. bars."""
    ax.errorbar(x, y, yerr=2 * se, fmt="o", ms=ms, color=color, capsize=capsize, label=f"MC n={n}")


def kernel_flow_figure(flow: xr.Dataset):
    """F1: K^(l) vs l (log-log): recursion (lines) against full-weight ensembles (markers, 2 s.e. bars)."""
    fig, ax = plt.subplots(figsize=(6.4, 4.8), constrained_layout=True)
    layers = flow.layer.values
    marks = np.unique(np.geomspace(1, layers[-1], 14).astype(int)) - 1
    colors = plt.cm.tab10(np.arange(flow.sizes["model"]))
    for i, model in enumerate(flow.model.values):
        ax.plot(layers, flow.K.values[i], color=colors[i], lw=1.5, label=model)
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
    asym = 1 / (2 * layers) + 5 / 24 * np.log(layers) / layers**2
    ax.plot(layers[2:], asym[2:], "k:", lw=1.2, label=r"tanh asymptote $1/2l + \frac{5}{24}\ln l/l^2$")
    ax.set(xscale="log", yscale="log", xlabel="layer $l$", ylabel=r"$K^{(l)}$  (markers: $\langle\hat G^{(l)}\rangle$)")
    ax.set_title(
        f"Kernel flow from $K^{{(1)}}=1$, $C_b=0$: recursion vs {flow.attrs['n_networks']} networks of width "
        f"{flow.attrs['width']}",
        fontsize=9,
    )
    ax.legend(fontsize=7, ncol=2)
    return fig


def kurtosis_figure(fw: xr.Dataset):
    """F2: n x excess kurtosis vs l; exact product form (scale-invariant) per width, 3 V / K^2 (leading order)."""
    models = fw.single_model.values
    fig, axes, colors, layers = _per_width_panels(fw, models, (4.2, 4.2))
    for ax, model in zip(axes, models, strict=True):
        d = fw.sel(single_model=model)
        ax.plot(layers, 3 * d.V / d.K**2, "k-", lw=1.5, label=r"leading order $3V/K^2$")
        for n in fw.width.values:
            dn = d.sel(width=n)
            if np.isfinite(dn.kurtosis_exact).all():
                ax.plot(layers, n * dn.kurtosis_exact, "--", color=colors[n], lw=1, label=f"exact product, n={n}")
            _mc_points(ax, layers[1:], n * dn.kurtosis_mc[1:], n * dn.kurtosis_mc_se[1:], colors[n], n)
        ax.set(xlabel="layer $l$", ylabel=r"$n\,\kappa^{(l)}$", title=str(model))
        ax.legend(fontsize=6.5)
    fig.suptitle(
        f"Finite-width excess kurtosis of a preactivation at criticality ({fw.attrs['n_networks']} networks per width, "
        "exact Gram sampler, Rao-Blackwellised, 2 s.e. bootstrap bars)",
        fontsize=9,
    )
    return fig


def kernel_shift_figure(fw: xr.Dataset, model: str = "tanh C_W=1"):
    """F3: n (E[G-hat] - K) / K vs l: the K^{1} recursion and its asymptote -l/3 against Monte Carlo."""
    d = fw.sel(single_model=model)
    fig, (ax,), colors, layers = _per_width_panels(fw, [model], (6.4, 4.6))
    ax.plot(layers, d.K1 / d.K, "k-", lw=1.5, label=r"theory $K^{\{1\}}/K$")
    ax.plot(layers, -layers / 3, "k:", lw=1, label=r"asymptote $-l/3$")
    for n in fw.width.values:
        dn = d.sel(width=n)
        _mc_points(ax, layers, n * (dn.G_mc - d.K) / d.K, n * dn.G_mc_se / d.K, colors[n], n)
    ax.set(xlabel="layer $l$", ylabel=r"$n\,(\langle\hat G^{(l)}\rangle - K^{(l)})/K^{(l)}$")
    ax.set_title(f"O(l/n) shift of the two-point function, {model}, $C_b=0$, $K^{{(1)}}=1$", fontsize=9)
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
            _mc_points(ax, layers, dn.rho_mc, dn.rho_mc_se, colors[n], n, ms=2.5, capsize=1)
        ax.set(xlabel="layer $l$", ylabel=r"$\rho_{\rm ens}^{(l)} = G_{12}/\sqrt{G_{11}G_{22}}$", title=str(model))
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


def _edges(centres, log: bool = False):
    """Cell edges midway between centres (geometric midpoints on a log axis) for pcolormesh."""
    c = np.log(centres) if log else np.asarray(centres, dtype=float)
    mid = (c[1:] + c[:-1]) / 2
    if c.size == 1:
        edges = c + np.array([-0.5, 0.5])
    else:
        edges = np.concatenate([[2 * c[0] - mid[0]], mid, [2 * c[-1] - mid[-1]]])
    return np.exp(edges) if log else edges


def _log_ticks(axis, values):
    """Plain tick labels at `values` on a log axis spanning about a decade (instead of 2 x 10^0), no minor labels."""
    axis.set_ticks(values, [f"{v:g}" for v in values])
    axis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def trainability_figure(ds: xr.Dataset):
    """F7: train accuracy after a fixed SGD budget over (sigma_w2, depth) with the mean-field xi_c and 6 xi_c, and
    the same accuracies against depth / xi_c."""
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(14, 5.2), constrained_layout=True)
    w2, depth = ds.sigma_w2.values, ds.depth.values
    acc = ds.accuracy.mean("seed").values  # (depth, sigma_w2); NaN = diverged
    crit, seeds = ds.attrs["critical_sigma_w2"], ds.sizes["seed"]
    mesh = ax.pcolormesh(_edges(w2), _edges(depth, log=True), acc, cmap="viridis", vmin=0.5, vmax=1.0)
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
           xlim=_edges(w2)[[0, -1]], ylim=_edges(depth, log=True)[[0, -1]])  # fmt: skip
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
    colors = _width_colors(list(widths))
    markers = {"relu": "o", "tanh": "s"}
    for m in range(ntk.sizes["model"]):
        act = str(ntk.activation.values[m])
        ax.plot(layers, ntk.theta_theory.values[m], color="k", ls="-" if act == "relu" else "--", lw=1.4, zorder=3,
                label=f"{act} ($C_W$ = {ntk.c_w.values[m]:g}, $\\lambda_b$ = {ntk.lambda_b.values[m]}, "
                      "$\\lambda_W$ = 1): recursion, width $\\infty$")  # fmt: skip
        for j, n in enumerate(widths):
            ax.errorbar(layers, ntk.theta_mc.values[m, j], yerr=2 * ntk.theta_mc_se.values[m, j], fmt=markers[act],
                        ms=3, color=colors[n], capsize=1.2, label=f"{act}, n = {n}")  # fmt: skip
    ax.set(xscale="log", yscale="log", xlabel="layer l (output of the depth-l network)",
           ylabel=r"$E[\hat\Theta^{(l)}]$ (one input, $K^{(1)} = 1$)")  # fmt: skip
    ax.set_title(f"(a) mean NTK at criticality: {ntk.attrs['n_networks']} networks per width (2 s.e.)", fontsize=9)
    _log_ticks(ax.xaxis, [v for v in (1, 2, 5, 10, 20, 50, 100, 200, 500) if v <= layers.max()])
    lo, hi = np.nanmin(ntk.theta_theory.values), np.nanmax(ntk.theta_mc.values)
    _log_ticks(ax.yaxis, [v for v in (0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200) if lo / 1.5 <= v <= hi * 1.5])
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
    _log_ticks(cx.xaxis, list(tw))
    return fig


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


def survey_figure(dd: xr.Dataset, lazy: xr.Dataset, depth: xr.Dataset):
    """F9: (a) isotropic linear double descent, theory and Monte Carlo; (b) ReLU random features on the sphere with
    the infinite-feature kernel limit; (c) the lazy regime against width; (d) depth vs width for x^2."""
    fig, axes = plt.subplots(2, 2, figsize=(12, 9.5), constrained_layout=True)
    (ax, bx), (cx, dx) = axes
    n = dd.attrs["linear_n"]
    ax.plot(dd.p_fine / n, dd.linear_risk_theory, "k-", lw=1.2, label="min-norm theory")
    ax.errorbar(dd.p / n, dd.linear_risk_mc, yerr=2 * dd.linear_risk_mc_se, fmt="o", color="C3", capsize=2,
                label=f"Monte Carlo, {dd.attrs['linear_trials']} trials (2 s.e.)")  # fmt: skip
    ax.axvline(1, color="0.6", ls="--", lw=0.8)
    ax.set(yscale="log", ylim=(0.05, 50), xlabel="p / n", ylabel=r"excess risk $E|\hat\beta-\beta|^2$")
    ax.set_title(f"(a) isotropic linear model, n = {n}, $\\sigma^2$ = {dd.attrs['linear_noise_var']:g}, "
                 f"$r^2$ = {dd.attrs['linear_signal2']:g}", fontsize=10)  # fmt: skip
    ax.legend(fontsize=8)

    n_rf = dd.attrs["n_train"]
    bx.errorbar(dd.features / n_rf, dd.rf_mse, yerr=2 * dd.rf_mse_se, fmt="o-", ms=4, color="C0", capsize=2,
                label=f"ReLU random features, mean of {dd.attrs['seeds']} seeds (2 s.e.)")  # fmt: skip
    bx.plot(dd.features / n_rf, dd.rf_mse_median, "s", ms=3, color="C0", mfc="none", label="median")
    k, kse = dd.attrs["kernel_mse"], dd.attrs["kernel_mse_se"]
    bx.axhspan(k - 2 * kse, k + 2 * kse, color="C2", alpha=0.25)
    bx.axhline(k, color="C2", lw=1.5, label=r"$N\to\infty$: ridgeless kernel regression (exact, 2 s.e.)")
    bx.axhline(dd.attrs["kernel_sc_theory"], color="k", ls=":", lw=1.5, label="self-consistent theory")
    bx.axvline(1, color="0.6", ls="--", lw=0.8)
    bx.set(xscale="log", yscale="log", xlabel="features N / n", ylabel="test MSE (clean target)")
    bx.set_title(f"(b) min-norm regression on $S^{{{dd.attrs['dim'] - 1}}}$, n = {n_rf}, "
                 f"noise {dd.attrs['noise']:g}", fontsize=10)  # fmt: skip
    bx.legend(fontsize=8, loc="upper left")

    m = lazy.width.values
    for name, color, label in (("weight_change", "C0", r"$|\theta_T-\theta_0|/|\theta_0|$"),
                               ("ntk_change", "C1", r"$|\hat\Theta_T-\hat\Theta_0|_F/|\hat\Theta_0|_F$"),
                               ("kernel_gap", "C2", "gap to NTK kernel regression")):  # fmt: skip
        cx.errorbar(m, lazy[name], yerr=2 * lazy[f"{name}_se"], fmt="o-", color=color, capsize=2,
                    label=f"{label}: slope {lazy.attrs['slope_' + name]:.2f}")  # fmt: skip
    ref = lazy.weight_change.values[0] * (m / m[0]) ** -0.5
    cx.plot(m, ref, "k--", lw=1, label=r"$\propto m^{-1/2}$")
    cx.set(xscale="log", yscale="log", xlabel="width m", ylabel="relative change after training")
    cx.set_title(f"(c) lazy training: two-layer ReLU, NTK parametrisation, GD to train MSE "
                 f"{lazy.attrs['tol']:g}, n = {lazy.attrs['n_train']}", fontsize=10)  # fmt: skip
    cx.legend(fontsize=8)

    dx.plot(depth.deep_parameters, depth.deep_error, "o", color="C3", label="deep: Yarotsky sawtooth, m = 1, 2, ...")
    dx.plot(depth.deep_parameters, depth.deep_error_exact, "k-", lw=1, label=r"$2^{-2m-2}$ (exact)")
    dx.plot(depth.shallow_parameters, depth.shallow_error, "s-", color="C0", ms=4,
            label="shallow: one hidden layer, least squares")  # fmt: skip
    dx.set(xscale="log", yscale="log", xlabel="parameters", ylabel=r"$\sup_{[0,1]}|f - x^2|$")
    dx.set_title("(d) depth efficiency: approximating $x^2$ with ReLU networks", fontsize=10)
    dx.legend(fontsize=8)
    return fig


def finite_width_bayes_figure(summary: xr.Dataset, theory: xr.Dataset, predictions: xr.Dataset, fit: dict | None,
                              title: str, per_draw: xr.Dataset | None = None,
                              weights: xr.Dataset | None = None):  # fmt: skip
    """(a) network / GP test-MSE ratio against 1/width: Langevin ensembles (1 s.e.), the first-order 1/width
    theory on the same datasets (2 s.e. band), the adaptive-kernel saddle point alone and with the first-order loop
    term (where it exists), a weighted a + b / width fit (1 s.e. band), the GP at 1;
    (b) per dataset: measured ratio - 1 against the first-order prediction, one colour per width;
    (c) the linear oracle (if the theory store has it); (d) first-layer weight moments (if `weights`).
    The script computes every curve: `predictions` holds the first-order ratio and its s.e. (first_order,
    first_order_se over grid_width; over oracle_width for panel c), the fit's band (fit, fit_se), the first-order
    weight moments (weight_first_order over weight_width) and finite_width_bayes.approximation_summary; `fit` (a,
    a_se, chi2, dof, min_width) labels the band; per_draw holds the first-order prediction per dataset."""
    widths = summary.width.values
    linear = "linear_width" in theory.dims
    panels = 2 + linear + (weights is not None)
    shape = (2, 2) if panels == 4 else (1, panels)
    fig, axes = plt.subplots(*shape, figsize=(5.2 * shape[1], 4.4 * shape[0]), constrained_layout=True)
    axes = axes.ravel()
    ax, bx = axes[:2]
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
    ax.errorbar(1 / widths, summary.ratio.values, summary.ratio_se.values, fmt="D", color="tab:red", capsize=3,
                label="Langevin ensembles (± 1 MC s.e.)")  # fmt: skip
    for w, r in zip(widths, summary.ratio.values, strict=True):
        ax.annotate(f"{w}", (1 / w, r), textcoords="offset points", xytext=(6, 4), fontsize=7)
    ax.set_xlim(0, 1.12 / widths.min())
    ax.set_ylim(min(0.0, float(np.nanmin(summary.ratio.values)) - 0.1), 1.25)
    ax.set_xlabel("1 / width  (infinite width at 0; labels: width)")
    ax.set_ylabel("test-set MSE of the posterior mean: networks / exact GP")
    ax.legend(fontsize=7, loc="lower left")
    ax.grid(True, alpha=0.3)
    colors = _width_colors(list(widths))
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


def diagnostics_figure(trains: list[xr.Dataset], title: str):
    """Equilibration of every training job of an experiment: (a) data loss SSE/2 against Langevin steps (mean over
    chains, one line per job; the burn-in, which is not recorded, shaded), (b) the first probe output of every chain
    of the last job, (c) effective sample size of the probe outputs per chain against the number of records."""
    fig, (ax, bx, cx) = plt.subplots(1, 3, figsize=(15.0, 4.2), constrained_layout=True)
    colors = plt.cm.viridis(np.linspace(0.1, 0.85, len(trains)))
    burn = max(int(t.attrs["burn_in_steps"]) for t in trains)
    ax.axvspan(0, burn, color="0.85", lw=0, label="burn-in (longest; not recorded)")
    for i, (t, color) in enumerate(zip(trains, colors, strict=True)):
        label = f"n = {int(t.n_train.values[0])}, width {int(t.width.values[0])}"
        steps = t.attrs["burn_in_steps"] + (np.arange(t.sizes["record"]) + 1) * t.attrs["steps_per_eval"]
        loss = t.loss.values.reshape(-1, t.sizes["record"])  # (chain, record)
        ax.plot(steps, loss.mean(0), color=color, lw=1.0, label=label)
        ess = t.ess.values.ravel()
        cx.plot(np.full(ess.size, i) + np.linspace(-0.15, 0.15, ess.size), ess, "o", ms=3, color=color)
        cx.plot([i - 0.3, i + 0.3], [t.sizes["record"]] * 2, "k-", lw=0.8)
    ax.set_yscale("log")
    ax.set_xlabel("Langevin step")
    ax.set_ylabel("data loss SSE / 2 (mean over chains)")
    ax.legend(fontsize=6.5, ncol=2)
    ax.grid(True, which="both", alpha=0.3)
    last = trains[-1]
    probe = last.probe_trace.isel(probe=0).values.reshape(-1, last.sizes["record"])
    steps = last.attrs["burn_in_steps"] + (np.arange(last.sizes["record"]) + 1) * last.attrs["steps_per_eval"]
    for j, trace in enumerate(probe):
        bx.plot(steps, trace, lw=0.7, alpha=0.8, color=plt.cm.tab10(j % 10))
    bx.set_xlabel("Langevin step")
    bx.set_ylabel("f at the first test point (every chain)")
    bx.set_title(f"last job: n = {int(last.n_train.values[0])}, width {int(last.width.values[0])}", fontsize=8)
    bx.grid(True, alpha=0.3)
    cx.set_xticks(range(len(trains)))
    cx.set_xticklabels([f"n{int(t.n_train.values[0])}\nw{int(t.width.values[0])}" for t in trains], fontsize=7)
    cx.set_ylabel("effective sample size per chain (line: records)")
    cx.set_ylim(0, 1.1 * max(t.sizes["record"] for t in trains))
    cx.grid(True, axis="y", alpha=0.3)
    fig.suptitle(title, fontsize=9)
    return fig


def cohen_fig1_figure(
    data: xr.Dataset,
    theory: xr.Dataset,
    comparison: xr.Dataset,
    convergence: xr.Dataset,
    title: str,
    out_of_range: float = 0.5,
):
    """Cohen, Malka & Ringel (v2) Fig. 1 in its own setting. Left: exact GP learning curve (both observables, with
    standard errors over datasets) against leading EK with renormalised noise (dotted), EK + 1/n (dashed) and the
    self-consistent theory (solid); the EK family is drawn grey where its expansion parameter C / sigma_r^2 exceeds
    `out_of_range`. Below: each theory / the GP observable it predicts - 1, with the paper's +-3 % band. Right: the
    dataset-averaged population distance (g*_r - g*_inf)^2 against the cut-off r at several n."""
    fig = plt.figure(figsize=(12.0, 6.8), constrained_layout=True)
    grid = fig.add_gridspec(2, 2, height_ratios=[3, 1.5], width_ratios=[1.35, 1])
    ax, bx = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[1, 0])
    cx = fig.add_subplot(grid[:, 1])
    bx.sharex(ax)
    n = comparison.n_train.values
    for observable, mfc, label in (
        ("mse", "k", "exact GP: dataset-averaged MSE"),
        ("mse_mean_predictor", "white", "exact GP: MSE of the dataset-averaged predictor"),
    ):
        ax.errorbar(
            n,
            comparison[f"gp_{observable}"],
            comparison[f"gp_{observable}_se"],
            fmt="o",
            mfc=mfc,
            color="k",
            ms=5,
            capsize=3,
            zorder=5,
            label=label,
        )
    nt = theory.n_train.values
    valid = theory.perturbative_ratio_taylor.values <= out_of_range
    curves = (
        ("ek_renorm_taylor", ":", "tab:brown", "leading EK, renormalised noise $\\sigma_r^2$ (Taylor trim)"),
        ("ek_1n_renorm_taylor", "--", "tab:red", "EK + 1/n (Eq. 10): predicts the mean predictor"),
        ("sc", "-", "tab:blue", "self-consistent: dataset-averaged MSE"),
        ("sc_mean_predictor", "-", "tab:cyan", "self-consistent: mean predictor"),
    )
    for name, ls, color, label in curves:
        y = theory[name].values
        if name.startswith("ek"):
            ax.plot(nt, np.where(valid, y, np.nan), ls, color=color, lw=1.8, label=label)
            ax.plot(nt, np.where(valid, np.nan, y), ls, color="0.7", lw=1.2)
        else:
            ax.plot(nt, y, ls, color=color, lw=1.5, label=label)
    if not valid.all():
        ax.plot([], [], "-", color="0.7", label=f"EK family where $C/\\sigma_r^2 > {out_of_range:g}$ (out of range)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylabel("population MSE (exact, spectral; clean target)")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=7.5, loc="lower left")
    ax.set_title(title, fontsize=9)
    for k, (name, observable, color, marker) in enumerate(
        (
            ("ek_1n_renorm_taylor", "mse_mean_predictor", "tab:red", "s"),
            ("ek_1n_renorm_taylor", "mse", "tab:red", "o"),
            ("sc", "mse", "tab:blue", "o"),
            ("sc_mean_predictor", "mse_mean_predictor", "tab:cyan", "s"),
        )
    ):
        gp_value, gp_se = comparison[f"gp_{observable}"].values, comparison[f"gp_{observable}_se"].values
        at = theory[name].sel(n_train=n.astype(float)).values
        vs = "mean predictor" if observable == "mse_mean_predictor" else "dataset-averaged MSE"
        bx.errorbar(
            n * (1 + 0.025 * (k - 1.5)),
            at / gp_value - 1,
            at * gp_se / gp_value**2,
            fmt=marker + "-",
            color=color,
            mfc=color if marker == "o" else "white",
            ms=4,
            lw=1,
            capsize=2,
            label=f"{THEORY_LABELS[name]} vs GP {vs}",
        )
    bx.axhspan(-0.03, 0.03, color="tab:green", alpha=0.12, label="$\\pm 3$ % (the paper's claim)")
    bx.axhline(0, color="k", lw=0.8)
    bx.set_ylim(-0.5, 0.15)
    bx.set_xlabel("training set size $n$")
    bx.set_ylabel("theory / GP - 1\n(error bars: GP s.e.)")
    bx.grid(True, which="both", alpha=0.25)
    bx.legend(fontsize=6.5, loc="lower right", ncol=2)
    r = convergence.cutoff.values
    colors = plt.cm.viridis(np.linspace(0, 0.85, convergence.sizes["n_train"]))
    draws = convergence.sizes["draw"]
    for color, nn in zip(colors, convergence.n_train.values, strict=True):
        d2 = convergence.distance2.sel(n_train=nn)
        cx.errorbar(
            r,
            d2.mean("draw"),
            d2.std("draw", ddof=1) / np.sqrt(draws) if draws > 1 else None,
            fmt="o-",
            color=color,
            ms=4,
            capsize=2,
            label=f"n = {nn}",
        )
    cx.set_yscale("log")
    cx.set_xlabel("cut-off $r$ (Taylor trim $K_r$, noise $\\sigma_r^2 = \\sigma^2 + K(1) - K_r(1)$)")
    cx.set_ylabel(r"dataset-averaged $\int d\mu\,(g^\star_r - g^\star_\infty)^2$")
    cx.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    cx.grid(True, which="both", alpha=0.25)
    cx.legend(fontsize=8, title=f"{draws} datasets", title_fontsize=8)
    cx.set_title("renormalisation: trimmed vs full-kernel predictor", fontsize=9)
    return fig


THEORY_LABELS = {
    "ek_1n_renorm_taylor": "EK + 1/n",
    "sc": "self-consistent",
    "sc_mean_predictor": "self-consistent mean predictor",
}
