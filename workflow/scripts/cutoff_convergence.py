"""Rule cutoff_convergence: distance between the Taylor-trimmed and the full GP predictor vs the cut-off r."""

import sys
from typing import TYPE_CHECKING

from nnft import model, store
from nnft.theory import learning_curves

if TYPE_CHECKING:
    from snakemake.script import snakemake

sys.stderr = open(snakemake.log[0], "w", buffering=1)
p = snakemake.params.convergence
ds = store.read(snakemake.input.data).isel(draw=slice(p["draws"]))
spectrum = store.read(snakemake.input.spectrum)
net = model.FCN(dim=ds.sizes["dim"], **p["model"])
kind = p["kernel"]
out = learning_curves.cutoff_convergence(
    net,
    ds,
    p["n_train"],
    p["cutoffs"],
    spectrum[f"eigenvalue_{kind}"].values,
    spectrum[f"taylor_{kind}"].values,
    p["ridge"],
    kind=kind,
    jitter=p["jitter"],
)
store.write(out, snakemake.output[0], store.provenance(p))
