"""Rule figure_finite_width_phase_diagram: F5, the order-to-chaos phase diagram (PNG + PDF)."""

import sys
from typing import TYPE_CHECKING

from nnft import store
from nnft.plots.finite_width import phase_diagram_figure

if TYPE_CHECKING:
    from snakemake.script import snakemake

sys.stderr = open(snakemake.log[0], "w", buffering=1)
fig = phase_diagram_figure(store.read(snakemake.input[0]))
fig.savefig(snakemake.output.png, dpi=150)
fig.savefig(snakemake.output.pdf)
