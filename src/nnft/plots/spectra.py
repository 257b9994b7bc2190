"""Spectra figure: share of prior variance per spherical-harmonic degree."""

from __future__ import annotations

import json

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402


def spectra_figure(table: xr.Dataset):
    """Share of prior variance per degree, N(d, l) lambda_l / K(1), for each model (column), NNGP and NTK (rows),
    one line per depth: the bias of deep networks toward low-degree polynomials."""
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
