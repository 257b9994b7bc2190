"""Rule claims: the stated claims of the paper an experiment reproduces, measured -> claims.csv."""

import sys
from typing import TYPE_CHECKING

from nnft import store
from nnft.theory import learning_curves

if TYPE_CHECKING:
    from snakemake.script import snakemake

sys.stderr = open(snakemake.log[0], "w", buffering=1)
data = store.read(snakemake.input.data)
summary = learning_curves.gp_summary(store.read(snakemake.input.gp), data.target_power.values)
table = learning_curves.cohen_v2_claims(
    store.read(snakemake.input.spectrum),
    store.read(snakemake.input.theory),
    store.read(snakemake.input.comparison),
    summary,
)
table.to_csv(snakemake.output[0], index=False, float_format="%.6g")
