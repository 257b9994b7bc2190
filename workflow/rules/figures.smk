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
