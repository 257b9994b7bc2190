# nnft: learning curves and finite-width results of deep networks, regenerated from a config.
# The DAG per experiment: data -> spectrum -> theory / gp ; data -> train (one job per n) -> figure.
import os

# The embedded default, unless a config was given (--configfile / --config): Snakemake would otherwise merge the
# two and run the default experiments too.
if not config:

    configfile: "config/config.yaml"


# Every job keeps the XLA programs it compiles on disk (JAX's persistent compilation cache), shared by the jobs of
# this working directory, SLURM's included, and by later runs: a job that compiles a program another job or run
# compiled loads it instead (the same program, bitwise the same results; the tiny test DAG runs in 103 s instead of
# 247 s the second time). Set JAX_COMPILATION_CACHE_DIR to keep it elsewhere.
os.environ.setdefault(
    "JAX_COMPILATION_CACHE_DIR", os.path.abspath(".snakemake/jax_cache")
)
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")


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
