rule data:
    output:
        directory("results/{experiment}/data.zarr"),
    params:
        dataset=data_params,
        code=code_version("data", "sphere"),
    log:
        "logs/{experiment}/data.log",
    conda:
        "../../envs/nnft.yaml"
    script:
        "../scripts/data.py"
