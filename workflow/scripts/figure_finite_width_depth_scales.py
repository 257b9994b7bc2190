"""Rule figure_finite_width_depth_scales: F6, the depth scales (PNG + PDF)."""

import sys
from typing import TYPE_CHECKING

from nnft import store
from nnft.plots.finite_width import depth_scales_figure

if TYPE_CHECKING:
    from snakemake.script import snakemake

sys.stderr = open(snakemake.log[0], "w", buffering=1)
fig = depth_scales_figure(store.read(snakemake.input[0]))
fig.savefig(snakemake.output.png, dpi=150)
fig.savefig(snakemake.output.pdf)
