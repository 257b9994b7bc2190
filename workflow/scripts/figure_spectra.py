"""Rule figure_spectra: share of prior variance per degree (PNG + PDF)."""

import sys
from typing import TYPE_CHECKING

from nnft import store
from nnft.plots.spectra import spectra_figure

if TYPE_CHECKING:
    from snakemake.script import snakemake

sys.stderr = open(snakemake.log[0], "w", buffering=1)
fig = spectra_figure(store.read(snakemake.input[0]))
fig.savefig(snakemake.output.png, dpi=150)
fig.savefig(snakemake.output.pdf)
