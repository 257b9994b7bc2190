"""Rule figure_networks: trained networks against exact GP and theory (PNG + PDF)."""

import json
import sys
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from nnft import store
from nnft.plots.learning_curves import networks_figure
from nnft.sampling import langevin

if TYPE_CHECKING:
    from snakemake.script import snakemake

sys.stderr = open(snakemake.log[0], "w", buffering=1)
data = store.read(snakemake.input.data)
trains = [store.read(p).squeeze("width", drop=True) for p in snakemake.input.train]  # chain counts may differ
cfg = json.loads(trains[0].attrs["config"])
chains = " or ".join(str(c) for c in sorted({t.sizes["member"] for t in trains}))  # the width-convergence size: more
m = cfg["model"]
title = (
    f"{snakemake.wildcards.experiment}: depth-{m['depth']} {m['activation']} FCN on $S^{{{data.sizes['dim'] - 1}}}$, "
    f"$\\sigma_w^2$={m['sigma_w2']}, $\\sigma_b^2$={m['sigma_b2']} ({m['input_scaling']}), ridge $T$={cfg['ridge']}\n"
    f"target degrees {data.target_degree.values.tolist()} with powers {data.target_power.values.tolist()}; "
    f"networks: width {m['width']}, {chains} chains x {trains[0].sizes['draw']} datasets"
)
gp = store.read(snakemake.input.gp)
summary = langevin.network_summary(data, gp, trains)
pop = gp.mse_population
gp_mse = xr.Dataset(
    {"mean": pop.mean("draw"), "se": pop.std("draw", ddof=1) / np.sqrt(pop.sizes["draw"])},
    attrs={"draws": pop.sizes["draw"]},
)
fig = networks_figure(store.read(snakemake.input.theory), gp_mse, summary, title)
print(summary.to_dataframe().to_string(), file=sys.stderr)
fig.savefig(snakemake.output.png, dpi=150)
fig.savefig(snakemake.output.pdf)
