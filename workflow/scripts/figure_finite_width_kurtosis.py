"""Rule figure_finite_width_kurtosis: F2, the finite-width kurtosis (PNG + PDF)."""

import sys
from typing import TYPE_CHECKING

from nnft import store
from nnft.plots.finite_width import kurtosis_figure
from nnft.theory.finite_width import kurtosis_leading

if TYPE_CHECKING:
    from snakemake.script import snakemake

sys.stderr = open(snakemake.log[0], "w", buffering=1)
fw = store.read(snakemake.input[0])
fig = kurtosis_figure(fw.assign(kurtosis_leading_n=kurtosis_leading(fw, 1)))  # n x kurtosis, leading order in 1/n
fig.savefig(snakemake.output.png, dpi=150)
fig.savefig(snakemake.output.pdf)
