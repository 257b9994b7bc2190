"""Rule figure_mode_errors: learned fraction per target degree vs n (PNG + PDF)."""

import sys
from typing import TYPE_CHECKING

from nnft import store
from nnft.plots.learning_curves import mode_errors_figure
from nnft.theory import learning_curves

if TYPE_CHECKING:
    from snakemake.script import snakemake

sys.stderr = open(snakemake.log[0], "w", buffering=1)
data = store.read(snakemake.input.data)
summary = learning_curves.gp_summary(store.read(snakemake.input.gp), data.target_power.values)
fig = mode_errors_figure(data, store.read(snakemake.input.theory), summary, snakemake.wildcards.experiment)
fig.savefig(snakemake.output.png, dpi=150)
fig.savefig(snakemake.output.pdf)
