# Finite-width Bayesian networks: the 1/width theory of the networks' gap to the GP, beside the measured ensembles.


rule finite_width_bayes_theory:
    input:
        data=width_convergence_data,
    output:
        directory("results/{experiment}/finite_width_bayes/theory.zarr"),
    log:
        "logs/{experiment}/finite_width_bayes_theory.log",
    # the longest job after training: start it as soon as the data exist, beside the single-threaded stages
    priority: 10
    conda:
        "../../envs/nnft.yaml"
    threads: 1
    resources:
        runtime=60,
        mem_mb=4000,
    params:
        fwb=finite_width_bayes_params,
        code=code_version("finite_width_bayes_theory"),
    script:
        "../scripts/finite_width_bayes_theory.py"


rule figure_finite_width_bayes:
    input:
        data="results/{experiment}/data.zarr",
        theory="results/{experiment}/finite_width_bayes/theory.zarr",
        train=width_stores,
    output:
        png=report(
            "results/figures/{experiment}_finite_width_bayes.png",
            caption="../report/finite_width_bayes.rst",
            category="Finite-width Bayesian networks",
        ),
        pdf="results/figures/{experiment}_finite_width_bayes.pdf",
    log:
        "logs/{experiment}/figure_finite_width_bayes.log",
    conda:
        "../../envs/nnft.yaml"
    params:
        code=code_version("figure_finite_width_bayes"),
    script:
        "../scripts/figure_finite_width_bayes.py"
