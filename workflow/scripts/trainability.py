"""Rule trainability (F7): train accuracy of deep networks trained by SGD over sigma_w2 x depth, beside the depth
scale xi_c -> results/finite_width/{name}/trainability.zarr."""

import sys
from typing import TYPE_CHECKING

import jax

from nnft import store
from nnft.experiments import finite_width

if TYPE_CHECKING:
    from snakemake.script import snakemake

sys.stderr = open(snakemake.log[0], "w", buffering=1)
p = snakemake.params.fw
t = p["trainability"]
ds = finite_width.trainability_dataset(
    jax.random.fold_in(jax.random.key(p["seed"]), 4),
    p["seed"],
    t["activation"],
    t["sigma_b2"],
    t["sigma_w2_range"],
    t["points"],
    t["depths"],
    t["width"],
    t["dim"],
    t["n_train"],
    t["steps"],
    t["batch"],
    t["momentum"],
    t["learning_rate"],
    t["seeds"],
    t["degree"],
    t["directions"],
    t["theory_points"],
    progress=lambda m: print(m, file=sys.stderr),
)
store.write(ds, snakemake.output[0], store.provenance(p, seed=p["seed"]))
