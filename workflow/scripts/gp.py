"""Rule gp: exact GP regression with the NNGP or NTK on every dataset draw and size -> gp.zarr."""

import sys
from typing import TYPE_CHECKING

from nnft import model, store
from nnft.theory import learning_curves

if TYPE_CHECKING:
    from snakemake.script import snakemake

sys.stderr = open(snakemake.log[0], "w", buffering=1)
p = snakemake.params.gp
ds = store.read(snakemake.input.data)
spectrum = store.read(snakemake.input.spectrum)
net = model.FCN(dim=ds.sizes["dim"], **p["model"])
kind = p["kernel"]
out = learning_curves.exact_gp_learning_curve(
    net, ds, p["n_train"], p["ridge"], spectrum[f"eigenvalue_{kind}"].values, kind=kind, jitter=p["jitter"]
)
store.write(out, snakemake.output[0], store.provenance(p))
