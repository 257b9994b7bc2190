rule train:
    input:
        data="results/{experiment}/data.zarr",
    output:
        directory("results/{experiment}/train/n{n}.zarr"),
    params:
        train=train_params,
        code=code_version("langevin", "kernels"),
    wildcard_constraints:
        n=r"\d+",
    threads: 2
    resources:
        runtime=60,
        mem_mb=4000,
    cache: "omit-software"
    log:
        "logs/{experiment}/train_n{n}.log",
    conda:
        "../../envs/nnft.yaml"
    script:
        "../scripts/train.py"
