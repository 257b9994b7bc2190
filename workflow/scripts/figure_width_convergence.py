"""Rule figure_width_convergence: the gap between network ensembles and exact GP as the width grows."""

import sys
from typing import TYPE_CHECKING

import xarray as xr

from nnft import store
from nnft.plots.learning_curves import width_convergence_figure
from nnft.sampling import langevin

if TYPE_CHECKING:
    from snakemake.script import snakemake

sys.stderr = open(snakemake.log[0], "w", buffering=1)
# the study's datasets: a store the learning curve shares may hold more (common.smk train_params)
draws = slice(0, snakemake.params.draws)
train = xr.concat([store.read(p).isel(draw=draws) for p in snakemake.input.train], dim="width")
n = int(train.n_train.values[0])
title = f"{snakemake.wildcards.experiment}: networks vs exact GP at n = {n} as the width grows"
data, gp = store.read(snakemake.input.data), store.read(snakemake.input.gp)
summary = xr.concat([langevin.network_summary(data, gp, train.sel(width=w)) for w in train.width.values], dim="width")
summary = summary.squeeze("n_train").assign_coords(width=train.width.values)  # one n
print(summary.to_dataframe().to_string(), file=sys.stderr)
fig = width_convergence_figure(summary, title)
fig.savefig(snakemake.output.png, dpi=150)
fig.savefig(snakemake.output.pdf)
