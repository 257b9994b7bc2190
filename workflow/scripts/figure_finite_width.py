"""Rule figure_finite_width: F1-F6 (kernel flow, kurtosis, kernel shift, two-input correlation,
phase diagram, depth scales) as PNG and PDF."""

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from nnft import store
from nnft.plots.finite_width import (
    correlation_figure,
    depth_scales_figure,
    kernel_flow_figure,
    kernel_shift_figure,
    kurtosis_figure,
    phase_diagram_figure,
)

if TYPE_CHECKING:
    from snakemake.script import snakemake

sys.stderr = open(snakemake.log[0], "w", buffering=1)
flow, fw = store.read(snakemake.input.flow), store.read(snakemake.input.fw)
figures = {
    "kernel_flow": kernel_flow_figure(flow),
    "kurtosis": kurtosis_figure(fw),
    "kernel_shift": kernel_shift_figure(fw),
    "correlation": correlation_figure(fw),
    "phase_diagram": phase_diagram_figure(store.read(snakemake.input.phase)),
    "depth_scales": depth_scales_figure(store.read(snakemake.input.depth_scales)),
}
for name, fig in figures.items():
    png = Path(snakemake.output[name])
    fig.savefig(png, dpi=150)
    fig.savefig(png.with_suffix(".pdf"))
