"""Rule figure_finite_width_bayes: measured network / GP MSE ratio against width beside the 1/width theory and a
weighted a + b / width fit."""

import sys
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from nnft import finite_width_bayes, langevin, plots, store

if TYPE_CHECKING:
    from snakemake.script import snakemake

sys.stderr = open(snakemake.log[0], "w", buffering=1)
train = xr.concat([store.read(p) for p in snakemake.input.train], dim="width")
data, gp, theory = (store.read(snakemake.input[k]) for k in ("data", "gp", "theory"))
summary = xr.concat([plots.network_summary(data, gp, train.sel(width=w)) for w in train.width.values], dim="width")
summary = summary.assign_coords(width=train.width.values).squeeze("n_train", drop=True)
n = int(theory.attrs["n_train"])
rows = []
for w in train.width.values:
    t = train.sel(width=w, n_train=n)
    mse, mse_se = langevin.posterior_mean_mse(t.f_mean.values, data.g_test.values)
    gp_same = gp.mse_test.sel(n_train=n, draw=t.draw.values).values
    rows.append(xr.Dataset({"ratio": ("draw", mse / gp_same), "ratio_se": ("draw", mse_se / gp_same)}))
per_draw = xr.concat(rows, dim="width").assign_coords(width=train.width.values, draw=train.draw.values)
# a + b / width needs three widths and finite error bars (members >= 3); otherwise the figure shows no fit
se = summary.ratio_se.values
fit = None
if summary.sizes["width"] >= 3 and np.all(np.isfinite(se)) and np.all(se > 0):
    fit = finite_width_bayes.inverse_width_fit(summary.width.values, summary.ratio.values, se)
print(f"fit: {fit}", file=sys.stderr)
title = f"{snakemake.wildcards.experiment}: finite-width networks vs exact GP at n = {theory.attrs['n_train']}"
fig = plots.finite_width_bayes_figure(summary, theory, fit, title, per_draw)
fig.savefig(snakemake.output.png, dpi=150)
fig.savefig(snakemake.output.pdf)
