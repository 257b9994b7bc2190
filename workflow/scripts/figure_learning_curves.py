"""Rule figure_learning_curves: exact GP against every theory (PNG + PDF)."""

import sys
from typing import TYPE_CHECKING

from nnft import store
from nnft.plots.learning_curves import learning_curves_figure
from nnft.sampling import langevin
from nnft.theory import learning_curves

if TYPE_CHECKING:
    from snakemake.script import snakemake

sys.stderr = open(snakemake.log[0], "w", buffering=1)
theory = store.read(snakemake.input.theory)
data = store.read(snakemake.input.data)
networks = None
if snakemake.input.train:  # an experiment without trained networks draws the GP and the theories only
    trains = [store.read(p).squeeze("width", drop=True) for p in snakemake.input.train]  # chain counts may differ
    networks = langevin.network_summary(data, store.read(snakemake.input.gp), trains)
    networks.attrs["label"] = (
        f"Langevin networks, width {store.read(snakemake.input.train[0]).width.item()} "
        f"({trains[0].sizes['draw']} datasets, test set)"
    )
labels = {name: label for name, (label, _) in learning_curves.THEORIES.items()}
comparison = store.read(snakemake.input.comparison)
fig = learning_curves_figure(data, theory, comparison, snakemake.wildcards.experiment, labels, networks=networks)
fig.savefig(snakemake.output.png, dpi=150)
fig.savefig(snakemake.output.pdf)
