"""Rule figure_finite_width_kernel_flow: F1, the kernel flow (PNG + PDF)."""

import sys
from typing import TYPE_CHECKING

from nnft import store
from nnft.plots.finite_width import kernel_flow_figure
from nnft.theory.finite_width import tanh_kernel_asymptote

if TYPE_CHECKING:
    from snakemake.script import snakemake

sys.stderr = open(snakemake.log[0], "w", buffering=1)
flow = store.read(snakemake.input[0])
fig = kernel_flow_figure(flow, tanh_kernel_asymptote(flow.layer.values))
fig.savefig(snakemake.output.png, dpi=150)
fig.savefig(snakemake.output.pdf)
