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
