"""Rule ntk_training (F8c): relative change of the NTK of networks trained by gradient descent against width and
depth -> results/finite_width/{name}/ntk_training.zarr."""

import sys
from typing import TYPE_CHECKING

import jax

from nnft import store
from nnft.experiments import finite_width

if TYPE_CHECKING:
    from snakemake.script import snakemake

sys.stderr = open(snakemake.log[0], "w", buffering=1)
p = snakemake.params.fw
t = p["ntk_training"]
ds = finite_width.ntk_training_dataset(
    jax.random.fold_in(jax.random.key(p["seed"]), 6),
    p["seed"],
    t["activation"],
    t["sigma_b2"],
    t["widths"],
    t["depths"],
    t["dim"],
    t["n_train"],
    t["steps"],
    t["learning_rate"],
    t["seeds"],
    t["degree"],
    t["directions"],
    progress=lambda m: print(m, file=sys.stderr),
)
store.write(ds, snakemake.output[0], store.provenance(p, seed=p["seed"]))
