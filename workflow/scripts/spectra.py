"""Rule spectra: a table of NNGP / NTK eigenvalues for several activations and depths -> results/spectra/{name}.zarr."""

import sys
from typing import TYPE_CHECKING

from nnft import store
from nnft.theory import kernels

if TYPE_CHECKING:
    from snakemake.script import snakemake

sys.stderr = open(snakemake.log[0], "w", buffering=1)
p = snakemake.params.spectra
ds = kernels.spectra_table(
    p["dim"], p["max_degree"], p["quadrature_nodes"], p["depths"], p["models"], p["input_scaling"]
)
store.write(ds, snakemake.output[0], store.provenance(p))
