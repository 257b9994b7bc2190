# Survey results (docs/survey.md, F9): three independent stages and one figure.


rule survey_double_descent:
    output:
        directory("results/survey/{name}/double_descent.zarr"),
    log:
        "logs/survey/{name}_double_descent.log",
    conda:
        "../../envs/nnft.yaml"
    params:
        survey=survey_params("double_descent"),
        code=code_version("survey"),
    script:
        "../scripts/survey.py"


rule survey_lazy:
    output:
        directory("results/survey/{name}/lazy.zarr"),
    log:
        "logs/survey/{name}_lazy.log",
    conda:
        "../../envs/nnft.yaml"
    params:
        survey=survey_params("lazy"),
        code=code_version("survey"),
    script:
        "../scripts/survey.py"


rule survey_depth:
    output:
        directory("results/survey/{name}/depth.zarr"),
    log:
        "logs/survey/{name}_depth.log",
    conda:
        "../../envs/nnft.yaml"
    params:
        survey=survey_params("depth"),
        code=code_version("survey"),
    script:
        "../scripts/survey.py"


rule figure_survey:
    input:
        double_descent="results/survey/{name}/double_descent.zarr",
        lazy="results/survey/{name}/lazy.zarr",
        depth="results/survey/{name}/depth.zarr",
    output:
        png=report(
            "results/figures/survey_{name}.png",
            caption="../report/survey.rst",
            category=SURVEY_SECTION,
        ),
        pdf="results/figures/survey_{name}.pdf",
    log:
        "logs/survey/{name}_figure.log",
    conda:
        "../../envs/nnft.yaml"
    params:
        code=code_version("figure_survey"),
    script:
        "../scripts/figure_survey.py"
