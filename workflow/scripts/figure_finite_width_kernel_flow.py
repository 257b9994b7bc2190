"""Rule figure_finite_width_kernel_flow: F1, the kernel flow (PNG + PDF)."""

import sys
from typing import TYPE_CHECKING

from nnft import store
from nnft.plots.finite_width import kernel_flow_figure

if TYPE_CHECKING:
    from snakemake.script import snakemake

sys.stderr = open(snakemake.log[0], "w", buffering=1)
fig = kernel_flow_figure(store.read(snakemake.input[0]))
fig.savefig(snakemake.output.png, dpi=150)
fig.savefig(snakemake.output.pdf)
