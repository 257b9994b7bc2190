# nnft: learning curves and finite-width results of deep networks, regenerated from a config.
# The DAG per experiment: data -> spectrum -> theory / gp ; data -> train (one job per n) -> figure.


# The embedded default, unless a config was given (--configfile / --config): Snakemake would otherwise merge the
# two and run the default experiments too.
if not config:

    configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/signals.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/theory.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/finite_width.smk"
include: "workflow/rules/hyperparameters.smk"
include: "workflow/rules/survey.smk"
include: "workflow/rules/finite_width_bayes.smk"


rule all:
    default_target: True
    input:
        all_targets(),


rule paper:
    input:
        paper_targets(),
