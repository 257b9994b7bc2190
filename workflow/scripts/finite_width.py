"""Rule finite_width (F2-F4): kurtosis, kernel shift and two-input correlations, recursions vs the exact Gram
sampler -> results/finite_width/{name}/ensembles.zarr."""

import sys
from typing import TYPE_CHECKING

import jax

from nnft import store
from nnft.experiments import finite_width

if TYPE_CHECKING:
    from snakemake.script import snakemake

sys.stderr = open(snakemake.log[0], "w", buffering=1)
p = snakemake.params.fw
ds = finite_width.finite_width_dataset(
    jax.random.fold_in(jax.random.key(p["seed"]), 1),
    p["kurtosis_models"],
    p["correlation_models"],
    p["depth"],
    p["widths"],
    p["networks"],
    p["bootstrap_seed"],
    progress=lambda m: print(m, file=sys.stderr),
)
store.write(ds, snakemake.output[0], store.provenance(p, seed=p["seed"]))
