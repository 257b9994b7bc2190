rule figure_learning_curve:
    input:
        data="results/{experiment}/data.zarr",
        theory="results/{experiment}/theory.zarr",
        gp="results/{experiment}/gp.zarr",
        train=train_stores,
    output:
        png=report(
            "results/figures/{experiment}_learning_curve.png",
            caption="../report/learning_curve.rst",
            category="Learning curves",
        ),
        pdf="results/figures/{experiment}_learning_curve.pdf",
    log:
        "logs/{experiment}/figure_learning_curve.log",
    conda:
        "../../envs/nnft.yaml"
    params:
        code=code_version("plots", "langevin"),
    script:
        "../scripts/figure_learning_curve.py"


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
        code=code_version("plots"),
    script:
        "../scripts/figure_spectra.py"
