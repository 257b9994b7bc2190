rule spectrum:
    output:
        directory("results/{experiment}/spectrum.zarr"),
    params:
        kernel=kernel_params,
        code=code_version("kernels", "sphere"),
    log:
        "logs/{experiment}/spectrum.log",
    conda:
        "../../envs/nnft.yaml"
    script:
        "../scripts/spectrum.py"


rule theory:
    input:
        spectrum="results/{experiment}/spectrum.zarr",
    output:
        directory("results/{experiment}/theory.zarr"),
    params:
        theory=theory_params,
        code=code_version("learning_curves"),
    log:
        "logs/{experiment}/theory.log",
    conda:
        "../../envs/nnft.yaml"
    script:
        "../scripts/theory.py"


rule gp:
    input:
        data="results/{experiment}/data.zarr",
        spectrum="results/{experiment}/spectrum.zarr",
    output:
        directory("results/{experiment}/gp.zarr"),
    params:
        gp=gp_params,
        code=code_version("learning_curves", "kernels", "data", "sphere"),
    log:
        "logs/{experiment}/gp.log",
    conda:
        "../../envs/nnft.yaml"
    script:
        "../scripts/gp.py"
