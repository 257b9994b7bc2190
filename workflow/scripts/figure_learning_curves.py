"""Rule figure_learning_curves: exact GP against every theory (PNG + PDF)."""

import sys
from typing import TYPE_CHECKING

from nnft import plots, store

if TYPE_CHECKING:
    from snakemake.script import snakemake

sys.stderr = open(snakemake.log[0], "w", buffering=1)
theory = store.read(snakemake.input.theory)
fig = plots.learning_curves_figure(
    store.read(snakemake.input.data), theory, store.read(snakemake.input.comparison), snakemake.wildcards.experiment
)
fig.savefig(snakemake.output.png, dpi=150)
fig.savefig(snakemake.output.pdf)
