"""Rules survey_double_descent, survey_lazy, survey_depth (F9): one stage of the survey results, named by the
config key the rule passes -> results/survey/{name}/<stage>.zarr."""

import sys
from typing import TYPE_CHECKING

from nnft import store
from nnft.experiments import survey

if TYPE_CHECKING:
    from snakemake.script import snakemake

sys.stderr = open(snakemake.log[0], "w", buffering=1)
p = snakemake.params.survey
seed = p["seed"]


def progress(message):
    print(message, file=sys.stderr)


if "double_descent" in p:
    c = p["double_descent"]
    ds = survey.double_descent_dataset(seed, c["dim"], c["target"]["degrees"], c["target"]["power"], c["noise"],
                                       c["n_train"], c["n_test"], c["features"], c["n_draws"], c["max_degree"],
                                       c["linear"], progress=progress)  # fmt: skip
elif "lazy" in p:
    c = p["lazy"]
    ds = survey.lazy_dataset(seed, c["dim"], c["target"]["degrees"], c["target"]["power"], c["n_train"],
                             c["n_test"], c["widths"], c["seeds"], c["tol"], c["model"], progress=progress)  # fmt: skip
else:
    c = p["depth"]
    ds = survey.depth_dataset(c["max_m"], c["shallow_knots"])
store.write(ds, snakemake.output[0], store.provenance(p, seed=seed))
