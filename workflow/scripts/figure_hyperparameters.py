"""Rule figure_hyperparameters: predicted vs exact-GP error over the grid, predicted vs trained networks at the
validation points, both optima marked, cost and rank correlations -> PNG and PDF."""

import sys
from typing import TYPE_CHECKING

from nnft import store
from nnft.plots.hyperparameters import hyperparameter_figure

if TYPE_CHECKING:
    from snakemake.script import snakemake

sys.stderr = open(snakemake.log[0], "w", buffering=1)
fig = hyperparameter_figure(store.read(snakemake.input[0]))
fig.savefig(snakemake.output.png, dpi=150)
fig.savefig(snakemake.output.pdf)
