"""Rules data, train_data and hyperparameter_data: inputs on the sphere and a fixed polynomial teacher ->
data.zarr (every size and draw), data/n{n}.zarr (what the training jobs of size n read)."""

import sys
from typing import TYPE_CHECKING

from nnft import data, store

if TYPE_CHECKING:
    from snakemake.script import snakemake

sys.stderr = open(snakemake.log[0], "w", buffering=1)
p = snakemake.params.dataset
ds = data.make_dataset(
    seed=p["seed"],
    dim=p["dim"],
    degrees=p["target"]["degrees"],
    power=p["target"]["power"],
    n_max=p["n_max"],
    n_test=p["n_test"],
    n_draws=p["n_draws"],
    noise=p["noise"],
    directions=p["target"].get("directions", 1),
    nested=p["nested"],
)
store.write(ds, snakemake.output[0], store.provenance(p, seed=p["seed"]))
