"""Rule finite_width_bayes_theory: the first-order 1/width theory of the networks' test MSE on the datasets the
width-convergence ensembles are trained on -> finite_width_bayes/theory.zarr."""

import sys
from typing import TYPE_CHECKING

import jax

from nnft import finite_width_bayes, kernels, store

if TYPE_CHECKING:
    from snakemake.script import snakemake

sys.stderr = open(snakemake.log[0], "w", buffering=1)
p = snakemake.params.fwb
ds = store.read(snakemake.input.data)
net = kernels.FCN(dim=ds.sizes["dim"], **p["model"])
n, draws, q = p["n_train"], slice(0, p["draws"]), p["theory_test_points"]
out = finite_width_bayes.first_order_mse(
    net,
    ds.x_train.values[draws, :n],
    ds.y_train.values[draws, :n],
    ds.x_test.values[:q],
    ds.g_test.values[:q],
    temperature=p["ridge"],
    key=jax.random.fold_in(jax.random.key(p["seed"]), n),
    n_samples=p["theory_samples"],
)
out = out.assign_coords(draw=ds.draw.values[draws])
print(out, file=sys.stderr)
store.write(out, snakemake.output[0], store.provenance(p, seed=p["seed"]))
