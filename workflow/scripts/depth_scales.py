"""Rule depth_scales (F6): xi_c, xi_q and c* against sigma_w2, mean field vs decay lengths fitted on random networks
-> results/finite_width/{name}/depth_scales.zarr."""

import sys
from typing import TYPE_CHECKING

import jax

from nnft import store
from nnft.experiments import finite_width

if TYPE_CHECKING:
    from snakemake.script import snakemake

sys.stderr = open(snakemake.log[0], "w", buffering=1)
p = snakemake.params.fw
d = p["depth_scales"]
ds = finite_width.depth_scales_dataset(
    jax.random.fold_in(jax.random.key(p["seed"]), 3),
    d["activation"],
    d["sigma_b2"],
    d["sigma_w2_range"],
    d["points"],
    d["width"],
    d["networks"],
    d["depth_max"],
    d["theory_points"],
    d["bootstrap_seed"],
    progress=lambda m: print(m, file=sys.stderr),
)
store.write(ds, snakemake.output[0], store.provenance(p, seed=p["seed"]))
