rule data:
    output:
        directory("results/{experiment}/data.zarr"),
    log:
        "logs/{experiment}/data.log",
    conda:
        "../../envs/nnft.yaml"
    params:
        dataset=data_params,
        code=code_version("data"),
    script:
        "../scripts/data.py"


# The training jobs' datasets: the same numbers as the first rows and draws of data.zarr (nested datasets), in a
# store of their own that a change of n_train or n_draws leaves alone, so the training jobs do not rerun.
rule train_data:
    output:
        directory("results/{experiment}/data/n{n}.zarr"),
    log:
        "logs/{experiment}/data_n{n}.log",
    wildcard_constraints:
        n=r"\d+",
    conda:
        "../../envs/nnft.yaml"
    params:
        dataset=train_data_params,
        code=code_version("data"),
    script:
        "../scripts/data.py"
