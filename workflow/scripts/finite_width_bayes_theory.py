"""Rule finite_width_bayes_theory: the finite-width theories of the networks' test MSE on the datasets the
width-convergence ensembles are trained on -> finite_width_bayes/theory.zarr."""

import sys
from typing import TYPE_CHECKING

from nnft import model, store
from nnft.experiments import finite_width_bayes

if TYPE_CHECKING:
    from snakemake.script import snakemake

sys.stderr = open(snakemake.log[0], "w", buffering=1)
p = snakemake.params.fwb
data = store.read(snakemake.input.data)
out = finite_width_bayes.theory(
    data,
    model.FCN(dim=data.sizes["dim"], **p["model"]),
    n_train=p["n_train"],
    draws=p["draws"],
    test_points=p["theory_test_points"],
    ridge=p["ridge"],
    seed=p["seed"],
    theory_samples=p["theory_samples"],
    widths=p["widths"],
    adaptive_kernel_samples=p["adaptive_kernel_samples"],
    adaptive_kernel_loop_samples=p["adaptive_kernel_loop_samples"],
    adaptive_kernel_replicas=p["adaptive_kernel_replicas"],
    progress=lambda message: print(message, file=sys.stderr),
)
print(out, file=sys.stderr)
store.write(out, snakemake.output[0], store.provenance(p, seed=p["seed"]))
