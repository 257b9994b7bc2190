"""Rule compare: every theory against exact GP per n -> comparison.zarr and comparison.csv."""

import sys
from typing import TYPE_CHECKING

from nnft import store
from nnft.theory import learning_curves

if TYPE_CHECKING:
    from snakemake.script import snakemake

sys.stderr = open(snakemake.log[0], "w", buffering=1)
data = store.read(snakemake.input.data)
summary = learning_curves.gp_summary(store.read(snakemake.input.gp), data.target_power.values)
out = learning_curves.compare(store.read(snakemake.input.theory), summary)
store.write(out, snakemake.output.store, store.provenance({}))
cols = [v for v in out.data_vars if not v.startswith("rel_se_")]
out[cols].to_dataframe().to_csv(snakemake.output.table, float_format="%.6g")
