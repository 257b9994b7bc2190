"""Rule figure_finite_width_ntk: F8, the NTK of random and trained networks (PNG + PDF)."""

import sys
from typing import TYPE_CHECKING

from nnft import store
from nnft.plots.finite_width import ntk_figure

if TYPE_CHECKING:
    from snakemake.script import snakemake

sys.stderr = open(snakemake.log[0], "w", buffering=1)
fig = ntk_figure(store.read(snakemake.input.ntk), store.read(snakemake.input.ntk_training))
fig.savefig(snakemake.output.png, dpi=150)
fig.savefig(snakemake.output.pdf)
