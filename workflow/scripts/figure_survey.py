"""Rule figure_survey (F9): double descent, lazy training, depth efficiency -> PNG and PDF."""

import sys
from typing import TYPE_CHECKING

from nnft import store
from nnft.plots.survey import survey_figure

if TYPE_CHECKING:
    from snakemake.script import snakemake

sys.stderr = open(snakemake.log[0], "w", buffering=1)
i = snakemake.input
fig = survey_figure(store.read(i.double_descent), store.read(i.lazy), store.read(i.depth))
fig.savefig(snakemake.output.png, dpi=150)
fig.savefig(snakemake.output.pdf)
