"""Rule figure_diagnostics: loss and probe traces and effective sample sizes of every training job of an
experiment, so a reader can judge whether each network point is equilibrated."""

import sys
from typing import TYPE_CHECKING

from nnft import store
from nnft.plots.learning_curves import diagnostics_figure

if TYPE_CHECKING:
    from snakemake.script import snakemake

sys.stderr = open(snakemake.log[0], "w", buffering=1)
trains = sorted((store.read(p) for p in snakemake.input.train), key=lambda t: (int(t.n_train[0]), int(t.width[0])))
title = f"{snakemake.wildcards.experiment}: Langevin equilibration of every training job"
# the mean data loss over chains at every record, (record,)
trains = [t.assign(loss_chain_mean=("record", t.loss.values.reshape(-1, t.sizes["record"]).mean(0))) for t in trains]
fig = diagnostics_figure(trains, title)
fig.savefig(snakemake.output.png, dpi=150)
fig.savefig(snakemake.output.pdf)
