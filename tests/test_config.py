"""Property-based tests (hypothesis) of the config checks: the JSON schema plus nnft.config.check_experiment accept
exactly the experiments the library accepts, errors name the offending key, and experiment names cannot leave
results/. The one model definition ($defs/model) is FCN's fields and refuses a bad model in every section."""

import copy
import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from nnft import data, model
from nnft.config import check_experiment, check_finite_width, check_hyperparameters, schema_problems
from nnft.sampling import langevin

REPO = Path(__file__).resolve().parents[1]
SCHEMA = str(REPO / "workflow/schemas/config.schema.yaml")
SCHEMA_DICT = yaml.safe_load(Path(SCHEMA).read_text())
TINY = yaml.safe_load((REPO / "tests/config/tiny.yaml").read_text())
ACTIVATIONS = ["relu", "erf", "tanh", "gelu", "identity", "leaky_relu(0)", "leaky_relu(0.2)", "leaky_relu(1)"]
# derandomize: CI runs the same examples every time (a random draw of max_degree = 0, refused by the schema but not
# a library check, once failed a fresh-clone run; the strategy now draws max_degree >= 1)
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


def accepted(config) -> bool:
    """Both workflow checks, as the Snakefile runs them before any job."""
    if schema_problems(config, SCHEMA_DICT):
        return False
    try:
        validate(config, SCHEMA)
        for name, exp in config["experiments"].items():
            check_experiment(name, exp)
    except (WorkflowError, ValueError):
        return False
    return True


def library_accepts(exp) -> bool:
    """The library's own argument checks on what the jobs would pass it."""
    try:
        model.FCN(dim=exp["dim"], **exp["model"])
        data.check_target(exp["dim"], exp["target"]["degrees"], exp["target"]["power"])
        t = exp.get("train")  # an experiment without trained networks (a paper experiment) has none
        if t is not None:
            langevin.schedule(1.0, exp["ridge"], langevin.Plan.from_config(t))
    except ValueError:
        return False
    return True


variance = st.floats(0.0, 4.0)


@st.composite
def experiments(draw):
    depth = draw(st.integers(1, 5))
    degrees = draw(st.lists(st.integers(0, 8), min_size=1, max_size=4, unique=True))
    n_train = draw(st.lists(st.integers(1, 600), min_size=1, max_size=5, unique=True))
    n_draws = draw(st.integers(1, 4))

    def per_layer(s):
        return draw(st.one_of(s, st.lists(s, min_size=depth, max_size=depth)))

    return {
        "dim": draw(st.integers(3, 40)),
        "target": {
            "degrees": degrees,
            "power": draw(st.lists(st.floats(0, 2), min_size=len(degrees), max_size=len(degrees))),
        },
        "noise": draw(st.floats(0, 1)),
        "model": {
            "depth": depth,
            "width": draw(st.integers(1, 512)),
            "activation": draw(st.sampled_from(ACTIVATIONS)),
            "sigma_w2": per_layer(variance),
            "sigma_b2": per_layer(variance),
            "input_scaling": draw(st.sampled_from(["unit", "sqrt_d"])),
            "parametrization": draw(st.sampled_from(["ntk", "standard"])),
        },
        "ridge": draw(st.floats(1e-4, 2)),
        "n_train": n_train,
        "n_test": draw(st.integers(1, 100)),
        "n_draws": n_draws,
        "seed": draw(st.integers(0, 2**31)),
        # the spectrum needs degree >= 1 (schema: max_degree >= 1), a key library_accepts does not exercise
        "theory": {
            "max_degree": draw(st.integers(max(1, *degrees), 20)),
            "quadrature_nodes": draw(st.integers(16, 200)),
        },
        "train": {
            "n_train": draw(st.lists(st.sampled_from(n_train), min_size=1, unique=True)),
            "draws": draw(st.integers(1, n_draws)),
            "members": draw(st.integers(3, 16)),
            "integrator": draw(st.sampled_from(["underdamped", "overdamped"])),
            "step_factor": draw(st.floats(0.01, 1.99)),
            "burn_in": draw(st.floats(0, 10)),
            "sample": draw(st.floats(0.1, 50)),
            "n_samples": draw(st.integers(1, 500)),
        },
    }


@SETTINGS
@given(experiments())
def test_workflow_checks_accept_exactly_what_the_library_accepts(exp):
    # Variances of 0 are drawn often: a zero weight variance must be refused up front, not in a job.
    assert accepted({"experiments": {"e": exp}}) == library_accepts(exp)


# (path inside an experiment, a wrong value): each must be refused before any job, naming the key
CORRUPTIONS = [
    (("dim",), st.integers(-5, 2)),
    (("dim",), st.just(8.5)),
    (("noise",), st.floats(-5, -1e-6)),
    (("ridge",), st.floats(-1, 0)),
    (("n_test",), st.integers(-3, 0)),
    (("model", "depth"), st.integers(-3, 0)),
    (("model", "width"), st.integers(-3, 0)),
    (("model", "activation"), st.text(min_size=1, max_size=8).filter(lambda s: s not in ACTIVATIONS)),
    (("model", "sigma_w2"), st.floats(-3, -1e-6)),
    (("model", "input_scaling"), st.sampled_from(["sqrt", "none", ""])),
    (("target", "power"), st.lists(st.floats(-2, -0.01), min_size=2, max_size=2)),
    (("train", "members"), st.integers(-2, 2)),  # 2 chains give no Monte Carlo error bar
    (("train", "step_factor"), st.one_of(st.floats(2, 10), st.floats(-1, 0))),
    (("train", "draws"), st.integers(TINY["experiments"]["a"]["n_draws"] + 1, 10)),  # more datasets than there are
    (("train", "width_convergence", "draws"), st.integers(TINY["experiments"]["a"]["n_draws"] + 1, 10)),
    (("train", "n_train"), st.just([4, 5])),
    (("theory", "max_degree"), st.integers(0, 1)),
]


@SETTINGS
@given(st.data())
def test_each_bad_value_is_refused_and_named(data_):
    path, bad = data_.draw(st.sampled_from(CORRUPTIONS))
    cfg = copy.deepcopy(TINY)
    section = cfg["experiments"]["a"]
    for key in path[:-1]:
        section = section[key]
    section[path[-1]] = data_.draw(bad)
    with pytest.raises((WorkflowError, ValueError)) as err:
        validate(cfg, SCHEMA)
        check_experiment("a", cfg["experiments"]["a"])
    text = str(err.value) + "".join(str(a) for a in getattr(err.value, "args", ()))
    dotted, indexed = ".".join(path), "".join(f"['{p}']" for p in path)
    assert dotted in text or indexed in text or path[-1] in text, text


@SETTINGS
@given(st.text(min_size=1, max_size=12))
def test_experiment_names_stay_inside_results(name):
    cfg = copy.deepcopy(TINY)
    cfg["experiments"] = {name: cfg["experiments"]["a"]}
    ok = accepted(cfg)
    assert ok == bool(re.fullmatch(r"[A-Za-z0-9_-]+", name))
    if ok:
        results = (REPO / "results").resolve()
        for path in (results / name, results / "figures" / f"{name}_networks.png"):
            assert path.resolve().is_relative_to(results)


def test_the_tiny_config_is_accepted():
    assert accepted(copy.deepcopy(TINY)) and all(library_accepts(e) for e in TINY["experiments"].values())
    assert np.isfinite(TINY["experiments"]["a"]["ridge"])


HYPERPARAMETER_CORRUPTIONS = [
    (("grid", "ridge"), [0.0, 0.1]),
    (("grid", "sigma_w2"), [-1.0]),
    (("grid", "depth"), []),
    (("grid", "activation"), ["swish"]),
    (("validate", "points"), 1),
    (("validate", "members"), 2),
    (("n_draws",), 1),
]


@pytest.mark.parametrize("path, bad", HYPERPARAMETER_CORRUPTIONS)
def test_bad_hyperparameter_blocks_are_refused_and_named(path, bad):
    cfg = copy.deepcopy(TINY)
    section = cfg["hyperparameters"]["h"]
    for key in path[:-1]:
        section = section[key]
    section[path[-1]] = bad
    with pytest.raises(WorkflowError) as err:
        validate(cfg, SCHEMA)
    assert path[-1] in str(err.value), str(err.value)


def all_checks(cfg):
    """The schema and every cross-key check, as workflow/rules/common.smk runs them."""
    if problems := schema_problems(cfg, SCHEMA_DICT):
        raise ValueError("\n".join(problems))
    validate(cfg, SCHEMA)
    for name, exp in cfg["experiments"].items():
        check_experiment(name, exp)
    for name, block in cfg.get("hyperparameters", {}).items():
        check_hyperparameters(name, block)
    for name, block in cfg.get("finite_width", {}).items():
        check_finite_width(name, block)


@pytest.mark.parametrize("path", ["config/config.yaml", "config/paper.yaml", "tests/config/tiny.yaml"])
def test_the_shipped_configs_are_accepted(path):
    all_checks(yaml.safe_load((REPO / path).read_text()))


def test_the_model_definition_is_fcns_fields_each_described():
    schema = yaml.safe_load(Path(SCHEMA).read_text())
    fields = schema["$defs"]["model"]["properties"]
    assert set(fields) == {f.name for f in dataclasses.fields(model.FCN)} - {"dim"}  # dim is the data's
    assert all(f.get("description") for f in fields.values())
    assert not any("default" in f for f in fields.values())  # validate would write it into every section


# (path of a model in TINY, field, a bad value): every section that describes a model refuses it, naming the field
BAD_MODELS = [
    (("experiments", "a", "model"), "sigma_w2", 0.0),
    (("experiments", "a", "model"), "activation", "swish"),
    (("experiments", "a", "model"), "width", 0),
    (("experiments", "a", "model"), "input_scaling", "sqrt"),
    (("spectra", "s", "models", 0), "sigma_w2", -1.0),
    (("spectra", "s", "models", 0), "activation", "swish"),
    (("spectra", "s", "models", 0), "sigma_b2", [0.0, 0.1]),  # one number for every depth
    (("spectra", "s"), "input_scaling", "sqrt"),
    (("spectra", "s"), "depths", [0, 2]),
    (("hyperparameters", "h", "grid"), "sigma_w2", [1.0, 0.0]),
    (("hyperparameters", "h", "grid"), "activation", ["swish"]),
    (("hyperparameters", "h", "grid"), "depth", [0]),
    (("hyperparameters", "h"), "input_scaling", "sqrt"),
    (("hyperparameters", "h", "validate"), "width", 0),
    (("finite_width", "f", "kurtosis_models", 0), "sigma_w2", 0.0),
    (("finite_width", "f", "kurtosis_models", 0), "activation", "swish"),
    (("finite_width", "f", "correlation_models", 1), "sigma_w2", -1.76),
    (("finite_width", "f", "correlation_models", 1), "sigma_b2", -0.05),
    (("finite_width", "f", "correlation_models", 1), "rho1", 1.0),
    (("finite_width", "f", "flow", "models", 0), "sigma_w2", 0.0),
    (("finite_width", "f", "flow", "models", 0), "activation", "swish"),
    (("finite_width", "f", "ntk", "models", 0), "sigma_w2", 0.0),
    (("finite_width", "f", "ntk", "models", 0), "activation", "erf"),  # the figure draws relu and tanh
    (("finite_width", "f", "ntk", "models", 0), "lambda_b", "1/k"),
    (("finite_width", "f", "phase"), "activation", "swish"),
    (("finite_width", "f", "phase"), "sigma_w2_range", [0.0, 4.0]),
    (("finite_width", "f", "phase"), "sigma_b2_range", [-0.5, 1.0]),
    (("finite_width", "f", "depth_scales"), "sigma_b2", 0.0),
    (("finite_width", "f", "depth_scales"), "sigma_w2_range", [1.0]),
    (("finite_width", "f", "trainability"), "width", 0),
    (("finite_width", "f", "trainability"), "depths", [0, 3]),
    (("finite_width", "f", "ntk_training"), "activation", "relu"),
    (("finite_width", "f", "ntk_training"), "widths", [0, 16]),
    (("survey", "v", "lazy"), "widths", [0, 16]),
]


def _at(cfg, path):
    for key in path:
        cfg = cfg[key]
    return cfg


def _indexed(path) -> str:
    return "".join(f"[{p!r}]" for p in path)


@pytest.mark.parametrize("path, field, bad", BAD_MODELS)
def test_a_bad_model_is_refused_in_every_section_naming_the_field(path, field, bad):
    cfg = copy.deepcopy(TINY)
    _at(cfg, path)[field] = bad
    with pytest.raises(WorkflowError) as err:
        validate(cfg, SCHEMA)
    assert _indexed((*path, field)) in str(err.value), str(err.value)


# (path of a model in TINY, a field its section does not read)
UNREAD_FIELDS = [
    (("experiments", "a", "model"), "sigma"),
    (("spectra", "s", "models", 0), "depth"),  # the block's depths
    (("finite_width", "f", "kurtosis_models", 0), "sigma_b2"),  # drawn at sigma_b2 = 0
    (("finite_width", "f", "flow", "models", 0), "sigma_b2"),
    (("finite_width", "f", "correlation_models", 0), "width"),
    (("finite_width", "f", "ntk", "models", 0), "depth"),  # ntk.depth
]


@pytest.mark.parametrize("path, field", UNREAD_FIELDS)
def test_a_model_field_its_section_does_not_read_is_refused_and_named(path, field):
    cfg = copy.deepcopy(TINY)
    _at(cfg, path)[field] = 1.0
    with pytest.raises(WorkflowError) as err:
        validate(cfg, SCHEMA)
    assert f"'{field}' is not one of" in str(err.value) and _indexed(path) in str(err.value), str(err.value)


@pytest.mark.parametrize(
    "edit, key",
    [
        (lambda b: b["phase"].update(sigma_w2_range=[4.0, 0.5]), "finite_width.f.phase.sigma_w2_range"),
        (lambda b: b["phase"].update(sigma_b2_range=[0.5, 0.5]), "finite_width.f.phase.sigma_b2_range"),
        (lambda b: b["depth_scales"].update(sigma_w2_range=[3.0, 1.0]), "finite_width.f.depth_scales.sigma_w2_range"),
        (lambda b: b["trainability"].update(sigma_w2_range=[2.0, 2.0]), "finite_width.f.trainability.sigma_w2_range"),
        (lambda b: b["kurtosis_models"].pop(1), "finite_width.f.kurtosis_models"),  # F3's tanh at sigma_w2 = 1
    ],
)
def test_finite_width_cross_key_rules_name_the_key(edit, key):
    cfg = copy.deepcopy(TINY)
    edit(cfg["finite_width"]["f"])
    with pytest.raises(ValueError, match=re.escape(key)):
        all_checks(cfg)


def test_finite_width_defaults_are_the_values_the_figures_were_built_with():
    cfg = copy.deepcopy(TINY)
    block = cfg["finite_width"]["f"]
    for section in ("phase", "depth_scales", "trainability", "ntk", "ntk_training"):
        for key in ("sigma_w2_range", "sigma_b2_range", "bootstrap_seed", "fit_max", "degree", "directions"):
            block[section].pop(key, None)
    block.pop("bootstrap_seed", None)
    validate(cfg, SCHEMA)
    assert block["bootstrap_seed"] == block["depth_scales"]["bootstrap_seed"] == block["ntk"]["bootstrap_seed"] == 0
    assert block["phase"]["sigma_w2_range"] == [0.5, 4.0] and block["phase"]["sigma_b2_range"] == [0.0, 1.0]
    assert block["depth_scales"]["sigma_w2_range"] == block["trainability"]["sigma_w2_range"] == [1.0, 4.0]
    assert block["ntk"]["fit_max"] == 0.25
    assert (block["ntk_training"]["degree"], block["ntk_training"]["directions"]) == (3, 1)


def test_every_problem_of_a_config_is_reported_at_once_one_line_each():
    """Five schema problems in three sections give five lines, each naming the dotted key, the value and what is
    allowed (no schema dump); the cross-key checks of a block report all their problems together too."""
    cfg = copy.deepcopy(TINY)
    a = cfg["experiments"]["a"]
    a["train"]["members"] = 2
    a["ridge"] = -1.0
    a["model"]["activation"] = "swish"
    a["noize"] = 0.1
    cfg["hyperparameters"]["h"]["validate"]["points"] = 1000
    lines = schema_problems(cfg, SCHEMA_DICT)
    assert lines == [
        "experiments.a: unknown key 'noize' (allowed: dim, jitter, kernel, model, n_draws, n_test, n_train, noise, "
        "reproduces, ridge, seed, target, theory, train)",
        "experiments.a.model.activation = 'swish': must be relu, leaky_relu(a) with 0 <= a <= 1, erf, tanh, gelu or "
        "identity",
        "experiments.a.ridge = -1.0: must be >= 0",
        "experiments.a.train.members = 2: must be >= 3",
        "hyperparameters.h.validate.points = 1000: must be <= 64",
    ]
    assert schema_problems(copy.deepcopy(TINY), SCHEMA_DICT) == []
    cross = copy.deepcopy(TINY)
    validate(cross, SCHEMA)
    cross["experiments"]["a"]["train"].update(draws=100, n_train=[3])
    cross["experiments"]["a"]["train"]["width_convergence"]["draws"] = 50
    n_draws = cross["experiments"]["a"]["n_draws"]
    with pytest.raises(ValueError) as err:
        check_experiment("a", cross["experiments"]["a"])
    assert str(err.value).splitlines() == [
        "experiments.a.train.n_train: sizes [3] are not in experiments.a.n_train",
        f"experiments.a.train.draws (100) exceeds experiments.a.n_draws ({n_draws})",
        f"experiments.a.train.width_convergence.draws (50) exceeds experiments.a.n_draws ({n_draws})",
    ]


def test_documented_defaults_are_schema_defaults():
    """The keys config/README.md documents with a default can be left out: the schema fills them in."""
    cfg = copy.deepcopy(TINY)
    for block in (cfg["experiments"]["a"]["train"], cfg["hyperparameters"]["h"]["validate"]):
        block.pop("integrator")
        block.pop("checkpoint_minutes", None)
    assert schema_problems(cfg, SCHEMA_DICT) == []
    validate(cfg, SCHEMA)
    for block in (cfg["experiments"]["a"]["train"], cfg["hyperparameters"]["h"]["validate"]):
        assert (block["integrator"], block["checkpoint_minutes"]) == ("collapsed_readout", 5)
