"""Rule figure_cohen_fig1: Cohen, Malka & Ringel (v2) Fig. 1 in its own setting (PNG + PDF)."""

import sys
from typing import TYPE_CHECKING

import numpy as np

from nnft import store
from nnft.plots.learning_curves import cohen_fig1_figure

if TYPE_CHECKING:
    from snakemake.script import snakemake

sys.stderr = open(snakemake.log[0], "w", buffering=1)
data = store.read(snakemake.input.data)
theory = store.read(snakemake.input.theory)
title = (
    f"{snakemake.wildcards.experiment}: depth-{theory.attrs['depth']} {theory.attrs['activation']} "
    f"{theory.attrs['kernel'].upper()} regression on $S^{{{data.sizes['dim'] - 1}}}$, ridge {theory.attrs['ridge']:g}; "
    f"target degrees {data.target_degree.values.tolist()} at equal power; {data.sizes['draw']} datasets"
)
convergence = store.read(snakemake.input.convergence)
d2, draws = convergence.distance2, convergence.sizes["draw"]
convergence = convergence.assign(distance2_mean=d2.mean("draw"))
if draws > 1:
    convergence = convergence.assign(distance2_se=d2.std("draw", ddof=1) / np.sqrt(draws))
fig = cohen_fig1_figure(data, theory, store.read(snakemake.input.comparison), convergence, title)
fig.savefig(snakemake.output.png, dpi=150)
fig.savefig(snakemake.output.pdf)
