rule compare:
    input:
        data="results/{experiment}/data.zarr",
        theory="results/{experiment}/theory.zarr",
        gp="results/{experiment}/gp.zarr",
    output:
        store=directory("results/{experiment}/comparison.zarr"),
        table=report(
            "results/{experiment}/comparison.csv",
            caption="../report/comparison.rst",
            category="Learning curves",
        ),
    log:
        "logs/{experiment}/compare.log",
    conda:
        "../../envs/nnft.yaml"
    params:
        code=code_version("compare"),
    script:
        "../scripts/compare.py"


rule figure_networks:
    input:
        data="results/{experiment}/data.zarr",
        theory="results/{experiment}/theory.zarr",
        gp="results/{experiment}/gp.zarr",
        train=train_stores,
    output:
        png=report(
            "results/figures/{experiment}_networks.png",
            caption="../report/networks.rst",
            category="Learning curves",
        ),
        pdf="results/figures/{experiment}_networks.pdf",
    log:
        "logs/{experiment}/figure_networks.log",
    conda:
        "../../envs/nnft.yaml"
    params:
        code=code_version("figure_networks"),
    script:
        "../scripts/figure_networks.py"


rule figure_learning_curves:
    input:
        data="results/{experiment}/data.zarr",
        theory="results/{experiment}/theory.zarr",
        comparison="results/{experiment}/comparison.zarr",
        gp="results/{experiment}/gp.zarr",
        train=train_stores,
    output:
        png=report(
            "results/figures/{experiment}_learning_curves.png",
            caption="../report/learning_curves.rst",
            category="Learning curves",
        ),
        pdf="results/figures/{experiment}_learning_curves.pdf",
    log:
        "logs/{experiment}/figure_learning_curves.log",
    conda:
        "../../envs/nnft.yaml"
    params:
        code=code_version("figure_learning_curves"),
    script:
        "../scripts/figure_learning_curves.py"


rule figure_mode_errors:
    input:
        data="results/{experiment}/data.zarr",
        theory="results/{experiment}/theory.zarr",
        gp="results/{experiment}/gp.zarr",
    output:
        png=report(
            "results/figures/{experiment}_mode_errors.png",
            caption="../report/mode_errors.rst",
            category="Learning curves",
        ),
        pdf="results/figures/{experiment}_mode_errors.pdf",
    log:
        "logs/{experiment}/figure_mode_errors.log",
    conda:
        "../../envs/nnft.yaml"
    params:
        code=code_version("figure_mode_errors"),
    script:
        "../scripts/figure_mode_errors.py"


rule figure_spectra:
    input:
        "results/spectra/{name}.zarr",
    output:
        png=report(
            "results/figures/spectra_{name}.png",
            caption="../report/spectra.rst",
            category="Spectra",
        ),
        pdf="results/figures/spectra_{name}.pdf",
    log:
        "logs/spectra/figure_{name}.log",
    conda:
        "../../envs/nnft.yaml"
    params:
        code=code_version("figure_spectra"),
    script:
        "../scripts/figure_spectra.py"


rule figure_width_convergence:
    input:
        data="results/{experiment}/data.zarr",
        gp="results/{experiment}/gp.zarr",
        train=width_stores,
    output:
        png=report(
            "results/figures/{experiment}_width_convergence.png",
            caption="../report/width_convergence.rst",
            category="Learning curves",
        ),
        pdf="results/figures/{experiment}_width_convergence.pdf",
    log:
        "logs/{experiment}/figure_width_convergence.log",
    conda:
        "../../envs/nnft.yaml"
    params:
        draws=lambda wildcards: width_convergence_draws(exp(wildcards)),
        code=code_version("figure_width_convergence"),
    script:
        "../scripts/figure_width_convergence.py"


rule figure_diagnostics:
    input:
        train=all_train_stores,
    output:
        png=report(
            "results/figures/{experiment}_diagnostics.png",
            caption="../report/diagnostics.rst",
            category="Learning curves",
        ),
        pdf="results/figures/{experiment}_diagnostics.pdf",
    log:
        "logs/{experiment}/figure_diagnostics.log",
    conda:
        "../../envs/nnft.yaml"
    params:
        code=code_version("figure_diagnostics"),
    script:
        "../scripts/figure_diagnostics.py"


rule claims:
    input:
        spectrum="results/{experiment}/spectrum.zarr",
        theory="results/{experiment}/theory.zarr",
        comparison="results/{experiment}/comparison.zarr",
        data="results/{experiment}/data.zarr",
        gp="results/{experiment}/gp.zarr",
    output:
        report(
            "results/{experiment}/claims.csv",
            caption="../report/claims.rst",
            category=COHEN_SECTION,
        ),
    log:
        "logs/{experiment}/claims.log",
    conda:
        "../../envs/nnft.yaml"
    params:
        code=code_version("claims"),
    script:
        "../scripts/claims.py"


rule figure_cohen_fig1:
    input:
        data="results/{experiment}/data.zarr",
        theory="results/{experiment}/theory.zarr",
        comparison="results/{experiment}/comparison.zarr",
        convergence="results/{experiment}/cutoff_convergence.zarr",
    output:
        png=report(
            "results/figures/{experiment}_fig1.png",
            caption="../report/cohen_fig1.rst",
            category=COHEN_SECTION,
        ),
        pdf="results/figures/{experiment}_fig1.pdf",
    log:
        "logs/{experiment}/figure_cohen_fig1.log",
    conda:
        "../../envs/nnft.yaml"
    params:
        code=code_version("figure_cohen_fig1"),
    script:
        "../scripts/figure_cohen_fig1.py"
