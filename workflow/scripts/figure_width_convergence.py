"""Rule figure_width_convergence: the gap between network ensembles and exact GP as the width grows."""

import sys
from typing import TYPE_CHECKING

import xarray as xr

from nnft import plots, store

if TYPE_CHECKING:
    from snakemake.script import snakemake

sys.stderr = open(snakemake.log[0], "w", buffering=1)
train = xr.concat([store.read(p) for p in snakemake.input.train], dim="width")
n = int(train.n_train.values[0])
title = f"{snakemake.wildcards.experiment}: networks vs exact GP at n = {n} as the width grows"
fig = plots.width_convergence_figure(store.read(snakemake.input.data), store.read(snakemake.input.gp), train, title)
fig.savefig(snakemake.output.png, dpi=150)
fig.savefig(snakemake.output.pdf)
