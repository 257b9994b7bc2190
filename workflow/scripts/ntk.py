"""Rule ntk (F8a,b): the NTK of random networks layer by layer, mean against the recursion and relative variance
against (L - 1)/n -> results/finite_width/{name}/ntk.zarr."""

import sys
from typing import TYPE_CHECKING

import jax

from nnft import store
from nnft.experiments import finite_width

if TYPE_CHECKING:
    from snakemake.script import snakemake

sys.stderr = open(snakemake.log[0], "w", buffering=1)
p = snakemake.params.fw
n = p["ntk"]
ds = finite_width.ntk_dataset(
    jax.random.fold_in(jax.random.key(p["seed"]), 5),
    n["models"],
    n["depth"],
    n["widths"],
    n["networks"],
    n["fit_max"],
    n["bootstrap_seed"],
    progress=lambda m: print(m, file=sys.stderr),
)
store.write(ds, snakemake.output[0], store.provenance(p, seed=p["seed"]))
