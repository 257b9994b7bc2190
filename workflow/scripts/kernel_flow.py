"""Rule kernel_flow (F1): K^(l), recursion vs full-weight ensembles -> results/finite_width/{name}/kernel_flow.zarr."""

import sys
from typing import TYPE_CHECKING

import jax

from nnft import store
from nnft.experiments import finite_width

if TYPE_CHECKING:
    from snakemake.script import snakemake

sys.stderr = open(snakemake.log[0], "w", buffering=1)
p = snakemake.params.fw
f = p["flow"]
ds = finite_width.kernel_flow_dataset(
    jax.random.key(p["seed"]),
    f["models"],
    f["depth"],
    f["width"],
    f["networks"],
    progress=lambda m: print(m, file=sys.stderr),
)
store.write(ds, snakemake.output[0], store.provenance(p, seed=p["seed"]))
