"""Learning-curve figures: trained networks against the exact GP and theory, every theory against the GP,
learned fraction per degree, width convergence, Langevin diagnostics, and Cohen, Malka & Ringel's Fig. 1."""

from __future__ import annotations

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402


def networks_figure(theory: xr.Dataset, gp_mse: xr.Dataset, summary: xr.Dataset, title: str):
    """Two panels: (a) test MSE vs n (exact GP, EK, self-consistent theory, trained networks);
    (b) network / GP MSE on the same datasets and test points (summary: langevin.network_summary).
    gp_mse: the exact GP's population MSE over datasets, `mean` and `se` per n_train, attrs["draws"]."""
    fig, (ax, bx) = plt.subplots(
        2, 1, figsize=(6.4, 7.2), sharex=True, gridspec_kw={"height_ratios": [3, 1.3]}, constrained_layout=True
    )
    n_gp = gp_mse.n_train.values
    ax.errorbar(
        n_gp,
        gp_mse["mean"],
        yerr=gp_mse["se"],
        fmt="o-",
        color="k",
        ms=5,
        capsize=3,
        label=f"exact GP, population MSE (mean ± s.e., {gp_mse.attrs['draws']} datasets)",
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


def diagnostics_figure(trains: list[xr.Dataset], title: str):
    """Equilibration of every training job of an experiment: (a) data loss SSE/2 against Langevin steps (mean over
    chains, one line per job, `loss_chain_mean` of each train store, computed by the figure's script; the burn-in,
    which is not recorded, shaded), (b) the first probe output of every chain of the last job, (c) effective sample
    size of the probe outputs per chain against the number of records."""
    fig, (ax, bx, cx) = plt.subplots(1, 3, figsize=(15.0, 4.2), constrained_layout=True)
    colors = plt.cm.viridis(np.linspace(0.1, 0.85, len(trains)))
    burn = max(int(t.attrs["burn_in_steps"]) for t in trains)
    ax.axvspan(0, burn, color="0.85", lw=0, label="burn-in (longest; not recorded)")
    for i, (t, color) in enumerate(zip(trains, colors, strict=True)):
        label = f"n = {int(t.n_train.values[0])}, width {int(t.width.values[0])}"
        steps = t.attrs["burn_in_steps"] + (np.arange(t.sizes["record"]) + 1) * t.attrs["steps_per_eval"]
        ax.plot(steps, t.loss_chain_mean.values, color=color, lw=1.0, label=label)
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
    dataset-averaged population distance (g*_r - g*_inf)^2 against the cut-off r at several n (convergence:
    distance2_mean and, with more than one dataset, distance2_se over datasets, computed by the figure's script)."""
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
    for color, nn in zip(colors, convergence.n_train.values, strict=True):
        cx.errorbar(
            r,
            convergence.distance2_mean.sel(n_train=nn),
            convergence.distance2_se.sel(n_train=nn) if "distance2_se" in convergence else None,
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
    cx.legend(fontsize=8, title=f"{convergence.sizes['draw']} datasets", title_fontsize=8)
    cx.set_title("renormalisation: trimmed vs full-kernel predictor", fontsize=9)
    return fig


THEORY_LABELS = {
    "ek_1n_renorm_taylor": "EK + 1/n",
    "sc": "self-consistent",
    "sc_mean_predictor": "self-consistent mean predictor",
}
