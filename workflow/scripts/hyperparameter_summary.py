"""Rule hyperparameter_summary: predicted, exact-GP and network test MSE at the validation points, rank correlations,
optimum checks and cost -> results/hyperparameters/{name}/{validation.zarr,validation.csv,summary.csv}."""

import sys
from typing import TYPE_CHECKING

from nnft import store
from nnft.experiments import hyperparameters

if TYPE_CHECKING:
    from snakemake.script import snakemake

sys.stderr = open(snakemake.log[0], "w", buffering=1)
scan = store.read(snakemake.input.scan)
trained = [store.read(path) for path in snakemake.input.train]
out = hyperparameters.validation_summary(scan, *hyperparameters.network_errors(trained))
out.attrs["width"] = int(trained[0].attrs["width"])
points, summary = hyperparameters.summary_tables(out)
print(points.to_string(), summary.to_string(), sep="\n", file=sys.stderr)
points.to_csv(snakemake.output.points)
summary.to_csv(snakemake.output.summary)
store.write(out, snakemake.output.store, store.provenance({"points": out.sizes["point"]}))
