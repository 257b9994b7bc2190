"""Survey figure F9: double descent, lazy training, depth efficiency."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import xarray as xr  # noqa: E402


def survey_figure(dd: xr.Dataset, lazy: xr.Dataset, depth: xr.Dataset):
    """F9: (a) isotropic linear double descent, theory and Monte Carlo; (b) ReLU random features on the sphere with
    the infinite-feature kernel limit; (c) the lazy regime against width; (d) depth vs width for x^2."""
    fig, axes = plt.subplots(2, 2, figsize=(12, 9.5), constrained_layout=True)
    (ax, bx), (cx, dx) = axes
    n = dd.attrs["linear_n_train"]
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
                label=f"ReLU random features, mean of {dd.attrs['n_draws']} datasets (2 s.e.)")  # fmt: skip
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
    layers = {2: "two-layer", 3: "three-layer"}.get(lazy.attrs["depth"], f"depth-{lazy.attrs['depth']}")
    act = {"relu": "ReLU", "gelu": "GELU"}.get(lazy.attrs["activation"], lazy.attrs["activation"])
    cx.set_title(f"(c) lazy training: {layers} {act}, NTK parametrisation, GD to train MSE "
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
