"""Rule spectrum: NNGP / NTK eigenvalues on the sphere -> spectrum.zarr."""

import sys
from typing import TYPE_CHECKING

from nnft import model, store
from nnft.theory import kernels

if TYPE_CHECKING:
    from snakemake.script import snakemake

sys.stderr = open(snakemake.log[0], "w", buffering=1)
p = snakemake.params.kernel
net = model.FCN(dim=p["dim"], **p["model"])
ds = kernels.spectrum(net, p["max_degree"], p["quadrature_nodes"])
store.write(ds, snakemake.output[0], store.provenance(p))
