# Theory-driven hyper-parameter selection: data -> scan (theory + exact GP over the grid, validation points chosen
# along the predicted ranking) -> one training job per validation point -> summary table and figure.


rule hyperparameter_data:
    output:
        directory("results/hyperparameters/{name}/data.zarr"),
    log:
        "logs/hyperparameters/{name}_data.log",
    conda:
        "../../envs/nnft.yaml"
    params:
        dataset=hyperparameter_data_params,
        code=code_version("data"),
    script:
        "../scripts/data.py"


rule hyperparameter_scan:
    input:
        data="results/hyperparameters/{name}/data.zarr",
    output:
        directory("results/hyperparameters/{name}/scan.zarr"),
    log:
        "logs/hyperparameters/{name}_scan.log",
    conda:
        "../../envs/nnft.yaml"
    params:
        scan=hyperparameter_scan_params,
        code=code_version("hyperparameter_scan"),
    script:
        "../scripts/hyperparameter_scan.py"


rule hyperparameter_train:
    input:
        data="results/hyperparameters/{name}/data.zarr",
        scan="results/hyperparameters/{name}/scan.zarr",
    output:
        directory("results/hyperparameters/{name}/train/p{i}.zarr"),
    log:
        "logs/hyperparameters/{name}_train_p{i}.log",
    wildcard_constraints:
        i=r"\d+",
    conda:
        "../../envs/nnft.yaml"
    # XLA uses every core whatever the count; 1 lets a job start beside the long single-rule theory job on 2 cores
    threads: 1
    resources:
        runtime=60,
        mem_mb=4000,
    params:
        train=hyperparameter_train_params,
        code=code_version("hyperparameter_train"),
    script:
        "../scripts/hyperparameter_train.py"


rule hyperparameter_summary:
    input:
        scan="results/hyperparameters/{name}/scan.zarr",
        train=hyperparameter_train_stores,
    output:
        store=directory("results/hyperparameters/{name}/validation.zarr"),
        points=report(
            "results/hyperparameters/{name}/validation.csv",
            caption="../report/hyperparameter_points.rst",
            category="Hyper-parameter selection",
        ),
        summary=report(
            "results/hyperparameters/{name}/summary.csv",
            caption="../report/hyperparameter_summary.rst",
            category="Hyper-parameter selection",
        ),
    log:
        "logs/hyperparameters/{name}_summary.log",
    conda:
        "../../envs/nnft.yaml"
    params:
        code=code_version("hyperparameter_summary"),
    script:
        "../scripts/hyperparameter_summary.py"


rule figure_hyperparameters:
    input:
        "results/hyperparameters/{name}/validation.zarr",
    output:
        png=report(
            "results/figures/hyperparameters_{name}.png",
            caption="../report/hyperparameters.rst",
            category="Hyper-parameter selection",
        ),
        pdf="results/figures/hyperparameters_{name}.pdf",
    log:
        "logs/hyperparameters/{name}_figure.log",
    conda:
        "../../envs/nnft.yaml"
    params:
        code=code_version("figure_hyperparameters"),
    script:
        "../scripts/figure_hyperparameters.py"
