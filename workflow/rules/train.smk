rule train:
    input:
        data="results/{experiment}/data/n{n}.zarr",
    output:
        directory("results/{experiment}/train/n{n}_w{width}.zarr"),
    log:
        "logs/{experiment}/train_n{n}_w{width}.log",
    wildcard_constraints:
        n=r"\d+",
        width=r"\d+",
    cache: "omit-software"
    conda:
        "../../envs/nnft.yaml"
    # XLA uses every core whatever the count; 1 lets a job start beside the long single-rule theory job on 2 cores
    threads: 1
    resources:
        runtime=60,
        mem_mb=4000,
    params:
        train=train_params,
        code=code_version("train"),
    script:
        "../scripts/train.py"
