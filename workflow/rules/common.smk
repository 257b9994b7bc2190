# Shared helpers: config validation, per-rule config slices, code versions, paths.
import ast
import atexit
import functools
import hashlib
import json
import os
import re
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

import yaml

from nnft.config import (
    check_experiment,
    check_finite_width,
    check_hyperparameters,
    first_order_supported,
    schema_problems,
)

# YAML 1.2 reads a number in exponent form without a decimal point (1e-4, 2E3) as a float; PyYAML (YAML 1.1) reads
# it as a string. Such a string is no valid spelling of anything else in the config: read it as YAML 1.2 does.
YAML12_FLOAT = re.compile(r"[-+]?[0-9]+[eE][-+]?[0-9]+")


def canonical(value):
    """The canonical form of a config value or a rule's params: plain dicts with their keys sorted, lists, and
    numbers as YAML 1.2 reads them, recursively. Snakemake compares a job's params by their repr, so two configs
    that differ only in key order, in the spelling of a number (1e-4, 1.0e-4, 0.0001) or in writing out a key that
    has a schema default give every job the same params and rerun nothing. Types are kept: 2 (an int) and 2.0 (a
    float) are different values to the scripts."""
    if isinstance(value, Mapping):
        return {str(k): canonical(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if isinstance(value, str) and YAML12_FLOAT.fullmatch(value):
        return float(value)
    return value


def canonical_params(function):
    """A params function whose result is in canonical form."""

    @functools.wraps(function)
    def params(wildcards):
        return canonical(function(wildcards))

    return params


def _canonicalise_config():
    """Put the config in canonical form in place (the scripts read it too), keeping the object Snakemake holds."""
    canon = canonical(config)
    config.clear()
    config.update(canon)


def _refuse(problems):
    """Stop before any job, listing every problem of the config, one line each."""
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise WorkflowError(
            f"the config has {len(problems)} problem(s); nothing was run:\n{lines}"
        )


_canonicalise_config()
_refuse(
    schema_problems(
        config,
        yaml.safe_load(
            (Path(workflow.basedir) / "workflow/schemas/config.schema.yaml").read_text()
        ),
    )
)
validate(
    config, "../schemas/config.schema.yaml"
)  # the config is valid: this fills in the schema's defaults
_canonicalise_config()  # the schema's defaults are inserted after the keys the file gave


# The schema's name pattern: an experiment or block name is one path component, so that e.g.
# results/hyperparameters/<name>/data.zarr is never read as experiment "hyperparameters/<name>".
wildcard_constraints:
    experiment=r"[A-Za-z0-9_-]+",
    name=r"[A-Za-z0-9_-]+",


LIBRARY = Path(workflow.basedir) / "src" / "nnft"
MIN_FREE_MB = 50


def _cross_key_problems():
    """Every cross-key problem of every block (nnft.config's checks)."""
    checks = [(check_experiment, config["experiments"])]
    checks += [(check_hyperparameters, config.get("hyperparameters", {}))]
    checks += [(check_finite_width, config.get("finite_width", {}))]
    problems = []
    for check, blocks in checks:
        for name, block in blocks.items():
            try:
                check(name, block)
            except ValueError as e:
                problems += str(e).splitlines()
    return problems


_refuse(_cross_key_problems())


def _module_file(name):
    """The source file of module `name` ("nnft.theory.kernels") under src/, or None if it is not nnft's."""
    parts = name.split(".")
    if parts[0] != "nnft":
        return None
    base = LIBRARY.parent.joinpath(*parts)
    for f in (base.with_suffix(".py"), base / "__init__.py"):
        if f.is_file():
            return f
    return None


# _parsed's results by file content, kept between Snakefile evaluations (every dry run, every cluster job evaluates
# the Snakefile, and parsing the library is most of that): {sha256 of Python version, package and source: [imports,
# syntax tree]} (ast.dump's text depends on the Python version: a new interpreter parses again).
PARSED_CACHE = Path(workflow.basedir) / ".snakemake" / "nnft_parsed.json"


@functools.cache
def _parsed_cache():
    """The stored parses, and the keys this evaluation uses (written back when the process exits)."""
    try:
        stored = json.loads(PARSED_CACHE.read_text())
    except (OSError, ValueError):
        stored = {}
    stored, used = (stored if isinstance(stored, dict) else {}), set()
    atexit.register(_store_parsed, stored, set(stored), used)
    return stored, used


def _store_parsed(stored, read, used):
    """Write back the parses this evaluation used if they are not those it read (new files, or stale entries of
    edited ones), atomically: concurrent evaluations each leave a whole file; a cache that cannot be written is
    only slower."""
    if read == used:
        return
    tmp = PARSED_CACHE.with_name(f"{PARSED_CACHE.name}.{os.getpid()}.tmp")
    try:
        PARSED_CACHE.parent.mkdir(exist_ok=True)
        tmp.write_text(json.dumps({k: stored[k] for k in sorted(used)}))
        os.replace(tmp, PARSED_CACHE)
    except OSError:
        tmp.unlink(missing_ok=True)


@functools.cache
def _parsed(path, package):
    """A source file's imports (absolute module names; `package`: the file's own package, for relative imports;
    `from m import x` counts x too, in case x is a submodule) and its syntax tree without docstrings (comments never
    reach the tree): read once per Snakefile evaluation, parsed once per content
    (then taken from PARSED_CACHE)."""
    text = path.read_text()
    key = hashlib.sha256(f"{sys.version}\0{package}\0{text}".encode()).hexdigest()
    stored, used = _parsed_cache()
    used.add(key)
    if key not in stored:
        stored[key] = _parse(text, str(path), package)
    return stored[key]


def _parse(text, filename, package):
    tree = ast.parse(text, filename)
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                if node.module:
                    parts.append(node.module)
                mod = ".".join(parts)
            else:
                mod = node.module
            names.append(mod)
            names.extend(f"{mod}.{a.name}" for a in node.names)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return [names, ast.dump(tree)]


@functools.cache
def code_version(script):
    """Hash of the library modules that workflow/scripts/<script>.py runs: its imports of nnft, followed through the
    package's own imports and up to the packages that hold each module (importing nnft.plots.spectra runs
    nnft/__init__.py and nnft/plots/__init__.py), each module's code without comments and docstrings (editing
    documentation reruns nothing). Editing a module's code reruns exactly the stages whose scripts reach it; the
    scripts themselves are tracked by Snakemake's code trigger."""
    path = Path(workflow.basedir) / "workflow" / "scripts" / f"{script}.py"
    todo = list(_parsed(path, "")[0])
    seen = {}
    while todo:
        name = todo.pop()
        f = _module_file(name)
        if f is None or name in seen:
            continue
        package = name if f.name == "__init__.py" else name.rpartition(".")[0]
        seen[name] = _parsed(f, package)
        todo.extend(seen[name][0])
        todo.append(name.rpartition(".")[0])  # the package that holds it
    h = hashlib.sha256()
    for name in sorted(seen):
        h.update(f"{name}\0{seen[name][1]}".encode())
    return h.hexdigest()[:16]


def exp(wildcards):
    return config["experiments"][wildcards.experiment]


@canonical_params
def data_params(wildcards):
    """The datasets of exact GP regression and the theories: n_draws draws of the largest size. They are nested
    (nnft.data.make_dataset): the first n rows of every size are the same whatever the largest size.
    """
    e = exp(wildcards)
    return {
        "dim": e["dim"],
        "target": e["target"],
        "noise": e["noise"],
        "n_max": max(e["n_train"]),
        "n_test": e["n_test"],
        "n_draws": e["n_draws"],
        "seed": e["seed"],
        "nested": True,
    }


@canonical_params
def train_data_params(wildcards):
    """The datasets a training job of size n reads: the first train.draws draws (or width_convergence_draws, if more,
    at the width study's size) of data_params' datasets, n rows
    each (the same numbers, drawn at n_max = n): they do not change when n_train grows or n_draws changes, so
    neither do the training jobs of the sizes already trained."""
    e = exp(wildcards)
    n_draws = e["train"]["draws"]
    wc = e["train"].get("width_convergence")
    if wc and int(wildcards.n) == wc["n_train"]:
        n_draws = max(n_draws, width_convergence_draws(e))
    return {
        **data_params(wildcards),
        "n_max": int(wildcards.n),
        "n_draws": n_draws,
    }


@canonical_params
def kernel_params(wildcards):
    """The infinite-width model: everything of `model` but the width and the networks' parametrization."""
    e = exp(wildcards)
    model = {
        k: v for k, v in e["model"].items() if k not in ("width", "parametrization")
    }
    spectrum_keys = ("max_degree", "quadrature_nodes")
    return {
        "dim": e["dim"],
        "model": model,
        **{k: e["theory"][k] for k in spectrum_keys},
    }


@canonical_params
def theory_params(wildcards):
    e = exp(wildcards)
    return {
        "target": e["target"],
        "noise": e["noise"],
        "ridge": e["ridge"],
        "n_min": min(e["n_train"]),
        "n_max": max(e["n_train"]),
        "n_train": e["n_train"],
        "cutoff": e["theory"].get("cutoff", "auto"),
        "cutoff_tolerance": e["theory"].get("cutoff_tolerance", 0.1),
        "kernel": e["kernel"],
    }


@canonical_params
def gp_params(wildcards):
    e = exp(wildcards)
    return {
        "model": kernel_params(wildcards)["model"],
        "ridge": e["ridge"],
        "jitter": e["jitter"],
        "kernel": e["kernel"],
        "n_train": e["n_train"],
    }


@canonical_params
def cutoff_convergence_params(wildcards):
    e = exp(wildcards)
    return {
        **{k: v for k, v in gp_params(wildcards).items() if k != "n_train"},
        **e["theory"]["cutoff_convergence"],
    }


def paper_experiments():
    """Experiments that regenerate a paper figure (key `reproduces`): built by `snakemake paper` only."""
    return [n for n, e in config["experiments"].items() if e.get("reproduces")]


def experiment_figures(name):
    """The default target's figures of one experiment: those of the trained networks need a train block."""
    if "train" in config["experiments"][name]:
        return FIGURES
    return ("learning_curves", "mode_errors")


def width_convergence_draws(e):
    """Datasets of the width-convergence study (its training jobs and its 1/width theory): width_convergence.draws,
    else train.draws."""
    return e["train"]["width_convergence"].get("draws", e["train"]["draws"])


@canonical_params
def train_params(wildcards):
    """Everything a training job uses; the width comes from the job's wildcard, not the list that fans it out."""
    e = exp(wildcards)
    skip = ("n_train", "width_convergence", "checkpoint_minutes")  # not in the result
    train = {k: v for k, v in e["train"].items() if k not in skip}
    wc = e["train"].get("width_convergence")
    n, width = int(wildcards.n), int(wildcards.width)
    if wc and n == wc["n_train"] and width in wc["widths"]:
        train["members"] = wc.get("members", train["members"])
        on_curve = n in e["train"]["n_train"] and width == e["model"]["width"]
        # a job the learning curve shares trains the datasets of both; the width study reads its first ones
        train["draws"] = max(
            width_convergence_draws(e), train["draws"] if on_curve else 0
        )
    model = {**e["model"], "width": int(wildcards.width)}
    return {"model": model, "ridge": e["ridge"], "seed": e["seed"], "train": train}


def train_stores(wildcards):
    """Training jobs of the learning curve: every train.n_train at the model's width (none without train)."""
    if "train" not in exp(wildcards):
        return []
    return expand(
        "results/{experiment}/train/n{n}_w{width}.zarr",
        experiment=wildcards.experiment,
        n=exp(wildcards)["train"]["n_train"],
        width=exp(wildcards)["model"]["width"],
    )


def width_stores(wildcards):
    """Training jobs of the width-convergence study: one n, several widths."""
    wc = exp(wildcards)["train"]["width_convergence"]
    return expand(
        "results/{experiment}/train/n{n}_w{width}.zarr",
        experiment=wildcards.experiment,
        n=wc["n_train"],
        width=wc["widths"],
    )


def width_convergence_data(wildcards):
    """The datasets of the width-convergence study's training jobs (train_data at width_convergence.n_train)."""
    n = exp(wildcards)["train"]["width_convergence"]["n_train"]
    return f"results/{wildcards.experiment}/data/n{n}.zarr"


@canonical_params
def finite_width_bayes_params(wildcards):
    """The 1/width theory of the width-convergence study: the infinite-width model, the datasets the networks are
    trained on (width_convergence_draws at width_convergence.n_train) and the Monte Carlo settings.
    """
    e = exp(wildcards)
    wc = e["train"]["width_convergence"]
    return {
        "model": kernel_params(wildcards)["model"],
        "ridge": e["ridge"],
        "seed": e["seed"],
        "n_train": wc["n_train"],
        "draws": width_convergence_draws(e),
        "theory_samples": wc["theory_samples"],
        "theory_test_points": wc["theory_test_points"],
        "adaptive_kernel_samples": wc["adaptive_kernel_samples"],
        "adaptive_kernel_loop_samples": wc["adaptive_kernel_loop_samples"],
        "adaptive_kernel_replicas": wc["adaptive_kernel_replicas"],
        "widths": wc["widths"],
    }


def all_train_stores(wildcards):
    """Every training job of an experiment: the learning curve's and the width-convergence study's, once each."""
    stores = train_stores(wildcards)
    if exp(wildcards).get("train", {}).get("width_convergence"):
        stores = stores + [s for s in width_stores(wildcards) if s not in stores]
    return stores


@canonical_params
def spectra_params(wildcards):
    return config["spectra"][wildcards.name]


def finite_width_params(*keys):
    """Params of one finite-width rule: the seed and its own keys only, so editing one figure's block reruns that
    figure's rule and no other."""

    @canonical_params
    def params(wildcards):
        block = config["finite_width"][wildcards.name]
        return {k: block[k] for k in ("seed",) + keys}

    return params


FIGURES = ("networks", "learning_curves", "mode_errors", "diagnostics")
# Report sections: one per source paper for the outputs that regenerate its figures or claims
COHEN_SECTION = "Cohen, Malka & Ringel (v2): Fig. 1 and claims"
PDLT_SECTION = (
    "Roberts, Yaida & Hanin (PDLT); Grosvenor & Jefferson: finite width and criticality"
)
SURVEY_SECTION = "Berner, Grohs, Kutyniok & Petersen: survey results"
FINITE_WIDTH_FIGURES = (
    "kernel_flow",
    "kurtosis",
    "kernel_shift",
    "correlation",
    "phase_diagram",
    "depth_scales",
)
PAPER_FINITE_WIDTH_FIGURES = (
    "trainability",
    "ntk",
)  # F7, F8 (F1-F8 are built by `paper` only)


def hyperparameter_block(wildcards):
    return config["hyperparameters"][wildcards.name]


@canonical_params
def hyperparameter_data_params(wildcards):
    b = hyperparameter_block(wildcards)
    keys = ("dim", "target", "noise", "n_test", "n_draws", "seed")
    # one size: the noise keeps its stream of before nested datasets (nnft.data.make_dataset), the store is unchanged
    return {**{k: b[k] for k in keys}, "n_max": b["n_train"], "nested": False}


@canonical_params
def hyperparameter_scan_params(wildcards):
    b = hyperparameter_block(wildcards)
    keys = ("n_train", "input_scaling", "theory", "grid")
    return {**{k: b[k] for k in keys}, "points": b["validate"]["points"]}


@canonical_params
def hyperparameter_train_params(wildcards):
    """Everything a validation training job uses (not checkpoint_minutes: it does not change the result)."""
    b = hyperparameter_block(wildcards)
    v = {
        k: x
        for k, x in b["validate"].items()
        if k not in ("points", "checkpoint_minutes")
    }
    return {"validate": v, "seed": b["seed"], "input_scaling": b["input_scaling"]}


def hyperparameter_train_stores(wildcards):
    return expand(
        "results/hyperparameters/{name}/train/p{i}.zarr",
        name=wildcards.name,
        i=range(hyperparameter_block(wildcards)["validate"]["points"]),
    )


def survey_params(*keys):
    @canonical_params
    def params(wildcards):
        block = config["survey"][wildcards.name]
        return {k: block[k] for k in ("seed",) + keys}

    return params


def experiment_stores(name):
    """Every store and table an experiment's jobs write (the figures aside): targets themselves, so that a missing
    one is rebuilt even where the figures that read it exist (Snakemake rebuilds a missing intermediate file only if
    something downstream has to run)."""
    e = config["experiments"][name]
    w = SimpleNamespace(experiment=name)
    stages = ["data", "spectrum", "theory", "gp", "comparison"]
    stages += ["cutoff_convergence"] if e.get("reproduces") else []
    out = [f"results/{name}/{s}.zarr" for s in stages] + [
        f"results/{name}/comparison.csv"
    ]
    if "train" in e:
        trained = set(e["train"]["n_train"])
        wc = e["train"].get("width_convergence")
        if wc:
            trained.add(wc["n_train"])
            if first_order_supported(e["model"]["activation"]):
                out.append(f"results/{name}/finite_width_bayes/theory.zarr")
        out += [f"results/{name}/data/n{n}.zarr" for n in sorted(trained)]
        out += all_train_stores(w)
    return out


def block_stores():
    """The stores and tables of the spectra, survey and hyper-parameter blocks (all in the default target)."""
    out = expand("results/spectra/{name}.zarr", name=list(config.get("spectra", {})))
    out += expand(
        "results/survey/{name}/{stage}.zarr",
        name=list(config.get("survey", {})),
        stage=["double_descent", "lazy", "depth"],
    )
    for name in config.get("hyperparameters", {}):
        w = SimpleNamespace(name=name)
        out += [
            f"results/hyperparameters/{name}/{f}"
            for f in ("data.zarr", "scan.zarr", "validation.zarr")
            + ("validation.csv", "summary.csv")
        ]
        out += hyperparameter_train_stores(w)
    return out


def all_targets():
    """The default target (`make figures`): the project's own figures and the survey, and every store and table
    their jobs write; the paper experiments and the finite-width figures F1-F8 are `paper_targets` (together they
    do not fit make figures' 15 minutes on 2 cores).
    """
    default = [n for n in config["experiments"] if n not in paper_experiments()]
    with_widths = [
        n
        for n in default
        if config["experiments"][n].get("train", {}).get("width_convergence")
    ]
    return (
        [
            f"results/figures/{name}_{figure}.{ext}"
            for name in default
            for figure in experiment_figures(name)
            for ext in ("png", "pdf")
        ]
        + [store for name in default for store in experiment_stores(name)]
        + block_stores()
        + expand(
            "results/figures/{experiment}_width_convergence.{ext}",
            experiment=with_widths,
            ext=["png", "pdf"],
        )
        + expand(
            "results/figures/{experiment}_finite_width_bayes.{ext}",
            experiment=[
                n
                for n in with_widths
                if first_order_supported(
                    config["experiments"][n]["model"]["activation"]
                )
            ],
            ext=["png", "pdf"],
        )
        + expand(
            "results/figures/spectra_{name}.{ext}",
            name=list(config.get("spectra", {})),
            ext=["png", "pdf"],
        )
        + expand(
            "results/figures/survey_{name}.{ext}",
            name=list(config.get("survey", {})),
            ext=["png", "pdf"],
        )
        + expand(
            "results/figures/hyperparameters_{name}.{ext}",
            name=list(config.get("hyperparameters", {})),
            ext=["png", "pdf"],
        )
    )


FINITE_WIDTH_STORES = (
    "kernel_flow",
    "ensembles",
    "phase_diagram",
    "depth_scales",
    "trainability",
    "ntk",
    "ntk_training",
)


def paper_targets():
    """Exactly the outputs that regenerate a paper's figure or claim (`snakemake paper`): Fig. 1 and the claim table
    of each experiment with `reproduces`, and the finite-width (F1-F8) and survey (F9) figures, with every store
    and table their jobs write.
    """
    return (
        expand(
            "results/figures/{experiment}_fig1.{ext}",
            experiment=paper_experiments(),
            ext=["png", "pdf"],
        )
        + expand("results/{experiment}/claims.csv", experiment=paper_experiments())
        + [store for name in paper_experiments() for store in experiment_stores(name)]
        + expand(
            "results/finite_width/{name}/{store}.zarr",
            name=list(config.get("finite_width", {})),
            store=FINITE_WIDTH_STORES,
        )
        + expand(
            "results/figures/finite_width_{name}_{figure}.{ext}",
            name=list(config.get("finite_width", {})),
            figure=FINITE_WIDTH_FIGURES + PAPER_FINITE_WIDTH_FIGURES,
            ext=["png", "pdf"],
        )
        + expand(
            "results/survey/{name}/{stage}.zarr",
            name=list(config.get("survey", {})),
            stage=["double_descent", "lazy", "depth"],
        )
        + expand(
            "results/figures/survey_{name}.{ext}",
            name=list(config.get("survey", {})),
            ext=["png", "pdf"],
        )
    )


onstart:
    stop_jobs_with_snakemake()  # SIGTERM or SIGINT to snakemake stops its jobs (signals.smk)
    # A read-only or full results directory fails here, with the reason, before any job runs.
    results = Path("results")
    results.mkdir(exist_ok=True)
    if not os.access(results, os.W_OK):
        raise WorkflowError(
            f"{results.resolve()} is not writable (read-only file system or permissions)"
        )
    free_mb = shutil.disk_usage(results).free / 2**20
    if free_mb < MIN_FREE_MB:
        raise WorkflowError(
            f"only {free_mb:.0f} MiB free on the disk of {results.resolve()}; "
            f"the workflow needs at least {MIN_FREE_MB} MiB"
        )
