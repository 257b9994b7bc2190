rule kernel_flow:
    output:
        directory("results/finite_width/{name}/kernel_flow.zarr"),
    log:
        "logs/finite_width/{name}_kernel_flow.log",
    conda:
        "../../envs/nnft.yaml"
    params:
        fw=finite_width_params("flow"),
        code=code_version("kernel_flow"),
    script:
        "../scripts/kernel_flow.py"


rule finite_width:
    output:
        directory("results/finite_width/{name}/ensembles.zarr"),
    log:
        "logs/finite_width/{name}.log",
    conda:
        "../../envs/nnft.yaml"
    params:
        fw=finite_width_params(
            "depth",
            "widths",
            "networks",
            "kurtosis_models",
            "correlation_models",
            "bootstrap_seed",
        ),
        code=code_version("finite_width"),
    script:
        "../scripts/finite_width.py"


rule phase_diagram:
    output:
        directory("results/finite_width/{name}/phase_diagram.zarr"),
    log:
        "logs/finite_width/{name}_phase_diagram.log",
    conda:
        "../../envs/nnft.yaml"
    params:
        fw=finite_width_params("phase"),
        code=code_version("phase_diagram"),
    script:
        "../scripts/phase_diagram.py"


rule depth_scales:
    output:
        directory("results/finite_width/{name}/depth_scales.zarr"),
    log:
        "logs/finite_width/{name}_depth_scales.log",
    conda:
        "../../envs/nnft.yaml"
    params:
        fw=finite_width_params("depth_scales"),
        code=code_version("depth_scales"),
    script:
        "../scripts/depth_scales.py"


rule trainability:
    output:
        directory("results/finite_width/{name}/trainability.zarr"),
    log:
        "logs/finite_width/{name}_trainability.log",
    conda:
        "../../envs/nnft.yaml"
    params:
        fw=finite_width_params("trainability"),
        code=code_version("trainability"),
    script:
        "../scripts/trainability.py"


rule ntk:
    output:
        directory("results/finite_width/{name}/ntk.zarr"),
    log:
        "logs/finite_width/{name}_ntk.log",
    conda:
        "../../envs/nnft.yaml"
    params:
        fw=finite_width_params("ntk"),
        code=code_version("ntk"),
    script:
        "../scripts/ntk.py"


rule ntk_training:
    output:
        directory("results/finite_width/{name}/ntk_training.zarr"),
    log:
        "logs/finite_width/{name}_ntk_training.log",
    conda:
        "../../envs/nnft.yaml"
    params:
        fw=finite_width_params("ntk_training"),
        code=code_version("ntk_training"),
    script:
        "../scripts/ntk_training.py"


# One rule per figure: a change to one store or one script redraws that figure alone.
rule figure_finite_width_kernel_flow:
    input:
        "results/finite_width/{name}/kernel_flow.zarr",
    output:
        png=report(
            "results/figures/finite_width_{name}_kernel_flow.png",
            caption="../report/kernel_flow.rst",
            category=PDLT_SECTION,
        ),
        pdf="results/figures/finite_width_{name}_kernel_flow.pdf",
    log:
        "logs/finite_width/{name}_figure_kernel_flow.log",
    conda:
        "../../envs/nnft.yaml"
    params:
        code=code_version("figure_finite_width_kernel_flow"),
    script:
        "../scripts/figure_finite_width_kernel_flow.py"


rule figure_finite_width_kurtosis:
    input:
        "results/finite_width/{name}/ensembles.zarr",
    output:
        png=report(
            "results/figures/finite_width_{name}_kurtosis.png",
            caption="../report/kurtosis.rst",
            category=PDLT_SECTION,
        ),
        pdf="results/figures/finite_width_{name}_kurtosis.pdf",
    log:
        "logs/finite_width/{name}_figure_kurtosis.log",
    conda:
        "../../envs/nnft.yaml"
    params:
        code=code_version("figure_finite_width_kurtosis"),
    script:
        "../scripts/figure_finite_width_kurtosis.py"


rule figure_finite_width_kernel_shift:
    input:
        "results/finite_width/{name}/ensembles.zarr",
    output:
        png=report(
            "results/figures/finite_width_{name}_kernel_shift.png",
            caption="../report/kernel_shift.rst",
            category=PDLT_SECTION,
        ),
        pdf="results/figures/finite_width_{name}_kernel_shift.pdf",
    log:
        "logs/finite_width/{name}_figure_kernel_shift.log",
    conda:
        "../../envs/nnft.yaml"
    params:
        code=code_version("figure_finite_width_kernel_shift"),
    script:
        "../scripts/figure_finite_width_kernel_shift.py"


rule figure_finite_width_correlation:
    input:
        "results/finite_width/{name}/ensembles.zarr",
    output:
        png=report(
            "results/figures/finite_width_{name}_correlation.png",
            caption="../report/correlation.rst",
            category=PDLT_SECTION,
        ),
        pdf="results/figures/finite_width_{name}_correlation.pdf",
    log:
        "logs/finite_width/{name}_figure_correlation.log",
    conda:
        "../../envs/nnft.yaml"
    params:
        code=code_version("figure_finite_width_correlation"),
    script:
        "../scripts/figure_finite_width_correlation.py"


rule figure_finite_width_phase_diagram:
    input:
        "results/finite_width/{name}/phase_diagram.zarr",
    output:
        png=report(
            "results/figures/finite_width_{name}_phase_diagram.png",
            caption="../report/phase_diagram.rst",
            category=PDLT_SECTION,
        ),
        pdf="results/figures/finite_width_{name}_phase_diagram.pdf",
    log:
        "logs/finite_width/{name}_figure_phase_diagram.log",
    conda:
        "../../envs/nnft.yaml"
    params:
        code=code_version("figure_finite_width_phase_diagram"),
    script:
        "../scripts/figure_finite_width_phase_diagram.py"


rule figure_finite_width_depth_scales:
    input:
        "results/finite_width/{name}/depth_scales.zarr",
    output:
        png=report(
            "results/figures/finite_width_{name}_depth_scales.png",
            caption="../report/depth_scales.rst",
            category=PDLT_SECTION,
        ),
        pdf="results/figures/finite_width_{name}_depth_scales.pdf",
    log:
        "logs/finite_width/{name}_figure_depth_scales.log",
    conda:
        "../../envs/nnft.yaml"
    params:
        code=code_version("figure_finite_width_depth_scales"),
    script:
        "../scripts/figure_finite_width_depth_scales.py"


# F7 and F8 train networks (like F1-F6, built by the `paper` target only)
rule figure_finite_width_trainability:
    input:
        "results/finite_width/{name}/trainability.zarr",
    output:
        png=report(
            "results/figures/finite_width_{name}_trainability.png",
            caption="../report/trainability.rst",
            category=PDLT_SECTION,
        ),
        pdf="results/figures/finite_width_{name}_trainability.pdf",
    log:
        "logs/finite_width/{name}_figure_trainability.log",
    conda:
        "../../envs/nnft.yaml"
    params:
        code=code_version("figure_finite_width_trainability"),
    script:
        "../scripts/figure_finite_width_trainability.py"


rule figure_finite_width_ntk:
    input:
        ntk="results/finite_width/{name}/ntk.zarr",
        ntk_training="results/finite_width/{name}/ntk_training.zarr",
    output:
        png=report(
            "results/figures/finite_width_{name}_ntk.png",
            caption="../report/ntk.rst",
            category=PDLT_SECTION,
        ),
        pdf="results/figures/finite_width_{name}_ntk.pdf",
    log:
        "logs/finite_width/{name}_figure_ntk.log",
    conda:
        "../../envs/nnft.yaml"
    params:
        code=code_version("figure_finite_width_ntk"),
    script:
        "../scripts/figure_finite_width_ntk.py"
