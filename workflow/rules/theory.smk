rule spectrum:
    output:
        directory("results/{experiment}/spectrum.zarr"),
    log:
        "logs/{experiment}/spectrum.log",
    conda:
        "../../envs/nnft.yaml"
    params:
        kernel=kernel_params,
        code=code_version("spectrum"),
    script:
        "../scripts/spectrum.py"


rule theory:
    input:
        spectrum="results/{experiment}/spectrum.zarr",
    output:
        directory("results/{experiment}/theory.zarr"),
    log:
        "logs/{experiment}/theory.log",
    conda:
        "../../envs/nnft.yaml"
    params:
        theory=theory_params,
        code=code_version("theory"),
    script:
        "../scripts/theory.py"


rule gp:
    input:
        data="results/{experiment}/data.zarr",
        spectrum="results/{experiment}/spectrum.zarr",
    output:
        directory("results/{experiment}/gp.zarr"),
    log:
        "logs/{experiment}/gp.log",
    cache: "omit-software"
    conda:
        "../../envs/nnft.yaml"
    params:
        gp=gp_params,
        code=code_version("gp"),
    script:
        "../scripts/gp.py"


rule spectra:
    output:
        directory("results/spectra/{name}.zarr"),
    log:
        "logs/spectra/{name}.log",
    conda:
        "../../envs/nnft.yaml"
    params:
        spectra=spectra_params,
        code=code_version("spectra"),
    script:
        "../scripts/spectra.py"


rule cutoff_convergence:
    input:
        data="results/{experiment}/data.zarr",
        spectrum="results/{experiment}/spectrum.zarr",
    output:
        directory("results/{experiment}/cutoff_convergence.zarr"),
    log:
        "logs/{experiment}/cutoff_convergence.log",
    conda:
        "../../envs/nnft.yaml"
    params:
        convergence=cutoff_convergence_params,
        code=code_version("cutoff_convergence"),
    script:
        "../scripts/cutoff_convergence.py"
