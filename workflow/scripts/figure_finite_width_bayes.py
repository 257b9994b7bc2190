"""Rule figure_finite_width_bayes: measured network / GP MSE ratio against width beside the finite-width theories
and weighted fits a + b / width and 1 + b / width + c / width^2 (experiments.finite_width_bayes_summary computes
every curve; the figure draws)."""

import sys
from typing import TYPE_CHECKING

import xarray as xr

from nnft import store
from nnft.experiments import finite_width_bayes_summary as summaries
from nnft.plots.finite_width_bayes import finite_width_bayes_figure

if TYPE_CHECKING:
    from snakemake.script import snakemake

sys.stderr = open(snakemake.log[0], "w", buffering=1)
theory = store.read(snakemake.input.theory)
# the theory's datasets: a store the learning curve shares may hold more (common.smk train_params)
train = xr.concat([store.read(p).isel(draw=slice(0, theory.sizes["draw"])) for p in snakemake.input.train], dim="width")
data = store.read(snakemake.input.data)
per_draw, summary = summaries.measured_ratios(train, data, theory)
print(summary.to_dataframe(), file=sys.stderr)
fit = summaries.ratio_fit(summary, int(theory.attrs["n_train"]))
gp_fit = summaries.gp_limit_fit(summary, theory)
print(f"fit: {fit}\nfit with the GP as the limit: {gp_fit}", file=sys.stderr)
weights = summaries.measured_weight_moments(train, theory)
predictions = summaries.predicted_curves(theory, summary.width.values, fit, weights, gp_fit)
title = f"{snakemake.wildcards.experiment}: finite-width networks vs exact GP at n = {theory.attrs['n_train']}"
fig = finite_width_bayes_figure(summary, theory, predictions, fit, title, per_draw, weights, gp_fit)
fig.savefig(snakemake.output.png, dpi=150)
fig.savefig(snakemake.output.pdf)
