"""Rule figure_finite_width_trainability: F7, trainability against the depth scale (PNG + PDF)."""

import sys
from typing import TYPE_CHECKING

from nnft import store
from nnft.plots.finite_width import trainability_figure

if TYPE_CHECKING:
    from snakemake.script import snakemake

sys.stderr = open(snakemake.log[0], "w", buffering=1)
ds = store.read(snakemake.input[0])
fig = trainability_figure(ds.assign(accuracy_seed_mean=ds.accuracy.mean("seed")))  # NaN (diverged) propagates
fig.savefig(snakemake.output.png, dpi=150)
fig.savefig(snakemake.output.pdf)
