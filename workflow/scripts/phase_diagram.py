"""Rule phase_diagram (F5): ln chi_1 map, order-to-chaos line, chi_1 measured on random networks ->
results/finite_width/{name}/phase_diagram.zarr."""

import sys
from typing import TYPE_CHECKING

import jax

from nnft import store
from nnft.experiments import finite_width

if TYPE_CHECKING:
    from snakemake.script import snakemake

sys.stderr = open(snakemake.log[0], "w", buffering=1)
p = snakemake.params.fw
ph = p["phase"]
ds = finite_width.phase_diagram_dataset(
    jax.random.fold_in(jax.random.key(p["seed"]), 2),
    ph["activation"],
    ph["sigma_w2_range"],
    ph["sigma_b2_range"],
    ph["theory_points"],
    ph["empirical_points"],
    ph["width"],
    ph["networks"],
)
store.write(ds, snakemake.output[0], store.provenance(p, seed=p["seed"]))
