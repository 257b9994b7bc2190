"""Rule hyperparameter_scan: self-consistent theory and exact GP over the grid, and the validation points ->
results/hyperparameters/{name}/scan.zarr."""

import sys
from typing import TYPE_CHECKING

from nnft import store
from nnft.experiments import hyperparameters

if TYPE_CHECKING:
    from snakemake.script import snakemake

sys.stderr = open(snakemake.log[0], "w", buffering=1)
p = snakemake.params.scan
scan = hyperparameters.scan(
    store.read(snakemake.input.data),
    p["n_train"],
    p["grid"],
    p["theory"]["max_degree"],
    p["theory"]["quadrature_nodes"],
    p["input_scaling"],
    progress=lambda done, total: print(f"architectures {done}/{total}", file=sys.stderr),
)
scan = hyperparameters.with_validation(scan, p["points"])
print(f"theory {scan.attrs['theory_seconds']:.1f} s, exact GP {scan.attrs['gp_seconds']:.1f} s", file=sys.stderr)
store.write(scan, snakemake.output[0], store.provenance(p))
