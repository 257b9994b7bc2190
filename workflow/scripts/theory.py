"""Rule theory: equivalent-kernel and self-consistent learning curves -> theory.zarr."""

import sys
from typing import TYPE_CHECKING

import numpy as np

from nnft import store
from nnft.theory import learning_curves

if TYPE_CHECKING:
    from snakemake.script import snakemake

sys.stderr = open(snakemake.log[0], "w", buffering=1)
p = snakemake.params.theory
# a smooth grid plus the exact sizes of the experiment, so comparisons with exact GP need no interpolation
n_grid = np.union1d(np.geomspace(p["n_min"] / 2, p["n_max"] * 2, 121), p["n_train"])
cutoff = None if p["cutoff"] == "auto" else int(p["cutoff"])
ds = learning_curves.theory_curves(
    store.read(snakemake.input.spectrum),
    p["target"]["degrees"],
    p["target"]["power"],
    p["ridge"],
    p["noise"],
    n_grid,
    cutoff=cutoff,
    cutoff_tolerance=p["cutoff_tolerance"],
    kind=p["kernel"],
)
store.write(ds, snakemake.output[0], store.provenance(p))
