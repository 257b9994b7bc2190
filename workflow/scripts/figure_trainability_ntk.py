"""Rule figure_trainability_ntk: F7 (trainability) and F8 (NTK) as PNG and PDF."""

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from nnft import store
from nnft.plots.finite_width import ntk_figure, trainability_figure

if TYPE_CHECKING:
    from snakemake.script import snakemake

sys.stderr = open(snakemake.log[0], "w", buffering=1)
figures = {
    "trainability": trainability_figure(store.read(snakemake.input.trainability)),
    "ntk": ntk_figure(store.read(snakemake.input.ntk), store.read(snakemake.input.ntk_training)),
}
for name, fig in figures.items():
    png = Path(snakemake.output[name])
    fig.savefig(png, dpi=150)
    fig.savefig(png.with_suffix(".pdf"))
